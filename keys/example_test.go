package keys_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func ExampleKeyring_Forget() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})

	k, _ := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println("key version:", k.Version())

	t, _ := kr.Forget(ctx, "customer-42", "erasure ticket 1001")
	fmt.Println("destroyed versions:", t.Destroyed, "reason:", t.Reason)

	_, err := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println("re-created:", !errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// key version: 1
	// destroyed versions: 1 reason: erasure ticket 1001
	// re-created: false
}

func ExampleKeyring_Rotate() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})

	kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	v, _ := kr.Rotate(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println("new version:", v)
	// Output:
	// new version: 2
}
