package keys_test

import (
	"context"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// Moving a keystore to a new root key: every subject key is re-wrapped,
// no data is touched, and afterwards the old root key can be destroyed so
// that old keystore backups become useless.
func ExampleRotateRoot() {
	c := context.Background()
	oldRoot, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	newRoot, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	store := memstore.New()
	kr, _ := keys.Open(c, keys.Config{KMS: oldRoot, Store: store})
	for _, s := range []string{"customer-1", "customer-2", "customer-3"} {
		kr.Current(c, s, keys.DefaultPurpose)
	}

	st, err := keys.RotateRoot(c, store, oldRoot, newRoot, keys.RotateOptions{
		Progress: func(done, total int, _ keys.KeyCursor) { fmt.Printf("%d/%d\n", done, total) },
	})
	if err != nil {
		fmt.Println(err) // run it again with RotateOptions.After = st.Resume
		return
	}
	_, err = keys.Open(c, keys.Config{KMS: newRoot, Store: store})
	fmt.Println("re-wrapped:", st.Rewrapped, "open under the new root key:", err == nil)
	// Output:
	// 3/3
	// re-wrapped: 3 open under the new root key: true
}
