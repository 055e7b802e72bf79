package memstore_test

import (
	"context"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func ExampleNew() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	k, _ := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println("version", k.Version())
	// Output:
	// version 1
}
