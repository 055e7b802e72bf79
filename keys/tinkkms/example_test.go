package tinkkms_test

import (
	"context"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/testing/fakekms"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/tinkkms"
)

// A root key behind a Tink KMS client. Tink's fake KMS stands in for
// aws-kms://, gcp-kms:// or hcvault:// here.
func ExampleFromURI() {
	ctx := context.Background()
	uri, _ := fakekms.NewKeyURI()
	client, _ := fakekms.NewClient("fake-kms://")
	root, err := tinkkms.FromURI(ctx, uri, client)
	if err != nil {
		panic(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	k, err := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println(k.Version(), err)
	// Output: 1 <nil>
}
