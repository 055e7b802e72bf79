package tinkkms_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/testing/fakekms"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/tinkkms"
)

// A root key behind a Tink KMS client: aws-kms://, gcp-kms:// or
// hcvault:// with the client of Tink's integration for that KMS. Tink's
// fake KMS stands in for them here. (Not run as a test: Tink's fake KMS is
// local AES-GCM, which cannot run in FIPS 140-only mode; TestConformanceFakeKMS
// runs the same code.)
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
}

// localAEAD is a tink.AEAD on the standard library's AES-256-GCM, standing
// in for a KMS client's AEAD.
type localAEAD struct{ g cipher.AEAD }

func (a localAEAD) Encrypt(pt, ad []byte) ([]byte, error) { return a.g.Seal(nil, nil, pt, ad), nil }
func (a localAEAD) Decrypt(ct, ad []byte) ([]byte, error) { return a.g.Open(nil, nil, ct, ad) }

// Any tink.AEAD — typically the one a Tink KMS client returns for a key
// URI — becomes a root key.
func ExampleNew() {
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCMWithRandomNonce(block)
	root, err := tinkkms.New(localAEAD{g})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	k, err := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println(k.Version(), err)
	// Output: 1 <nil>
}
