package localkms_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
)

func ExampleOpenFile() {
	dir, _ := os.MkdirTemp("", "fieldcrypt-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "root.key")

	root, err := localkms.OpenFile(path) // creates the key on first use
	if err != nil {
		panic(err)
	}
	st, _ := os.Stat(path)
	fmt.Printf("key file mode: %#o\n", st.Mode().Perm())

	ctx := context.Background()
	wrapped, _ := root.Wrap(ctx, []byte("a subject key"), []byte("its identity"))
	again, _ := localkms.OpenFile(path) // later runs read the same key
	key, err := again.Unwrap(ctx, wrapped, []byte("its identity"))
	fmt.Println(string(key), err)
	// Output:
	// key file mode: 0600
	// a subject key <nil>
}

func ExampleFromEnv() {
	os.Setenv("EXAMPLE_FIELDCRYPT_ROOT_KEY", localkms.GenerateKey())
	defer os.Unsetenv("EXAMPLE_FIELDCRYPT_ROOT_KEY")
	// WithUnsetEnv keeps the key from child processes started later.
	_, err := localkms.FromEnv("EXAMPLE_FIELDCRYPT_ROOT_KEY", localkms.WithUnsetEnv())
	_, stillSet := os.LookupEnv("EXAMPLE_FIELDCRYPT_ROOT_KEY")
	fmt.Println(err, stillSet)
	// Output:
	// <nil> false
}
