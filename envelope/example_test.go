package envelope_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func Example() {
	ctx := context.Background()
	// A root key and an in-memory keystore; real services use
	// localkms.OpenFile (or Vault) and keys/sqlstore.
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	c, _ := envelope.New(kr)

	ad := envelope.AssociatedData("customers", "email", "customer-42")
	ct, _ := c.EncryptString(ctx, "customer-42", "ada@example.com", ad)
	email, _ := c.DecryptString(ctx, ct, ad)
	fmt.Println("decrypted:", email)

	// An erasure request: shred the customer's keys.
	kr.Forget(ctx, "customer-42", "erasure ticket 1001")
	_, err = c.DecryptString(ctx, ct, ad)
	fmt.Println("after Forget:", errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// decrypted: ada@example.com
	// after Forget: true
}

func ExampleCipher_EncryptDeterministic() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	c, _ := envelope.New(kr, envelope.WithPurpose("lookup"))

	ad := envelope.AssociatedData("orders", "coupon")
	a, _ := c.EncryptStringDeterministic(ctx, "customer-42", "WELCOME10", ad)
	b, _ := c.EncryptStringDeterministic(ctx, "customer-42", "WELCOME10", ad)
	fmt.Println("equal values give equal ciphertexts:", a == b)
	// Output:
	// equal values give equal ciphertexts: true
}

func ExampleAssociatedData() {
	fmt.Printf("%q\n", envelope.AssociatedData("customers", "email", "customer-42"))
	// Output:
	// "\tcustomers\x05email\vcustomer-42"
}

// AppendEncrypt and AppendDecrypt reuse the caller's buffers: a loop over
// many fields allocates nothing once the subject's key is cached.
func ExampleCipher_AppendEncrypt() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	c, _ := envelope.New(kr)

	ad := envelope.AssociatedData("customers", "note", "customer-42")
	var ct, pt []byte // grown once, then reused
	for _, note := range []string{"first call", "prefers email", "VIP"} {
		var err error
		if ct, err = c.AppendEncrypt(ctx, ct[:0], "customer-42", []byte(note), ad); err != nil {
			panic(err)
		}
		if pt, err = c.AppendDecrypt(ctx, pt[:0], ct, ad); err != nil {
			panic(err)
		}
		fmt.Printf("%d bytes: %s\n", len(ct), pt)
	}
	// Output:
	// 92 bytes: first call
	// 95 bytes: prefers email
	// 85 bytes: VIP
}
