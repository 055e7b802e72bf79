package keys_test

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
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

// ExampleKeyring_OnForget erases data kept outside the keystore — here a
// search index by subject reference — when a subject is forgotten, and
// catches up with ForgottenRefs on what was forgotten before it listened.
func ExampleKeyring_OnForget() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	kr.Forget(ctx, "customer-1", "erasure ticket 1") // before anyone listens

	ref1, _ := kr.SubjectRef("customer-1")
	ref2, _ := kr.SubjectRef("customer-2")
	done := make(chan keys.SubjectRef, 1)
	stop := kr.OnForget(func(ref keys.SubjectRef) { done <- ref })
	defer stop()

	missed, _ := kr.ForgottenRefs(ctx, []keys.SubjectRef{ref1, ref2})
	fmt.Println("forgotten before OnForget:", len(missed) == 1 && missed[0] == ref1)
	kr.Forget(ctx, "customer-2", "erasure ticket 2")
	fmt.Println("reported:", <-done == ref2)
	// Output:
	// forgotten before OnForget: true
	// reported: true
}

// A package that builds its own primitive from a subject key derives it
// once per cached key. The insecuresecretaccess.Token marks the call as one
// that touches raw key material; most users never write one.
func ExampleDerive() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	k, _ := kr.Current(ctx, "customer-42", keys.DefaultPurpose)

	const label = "example.com/search/v1/hmac-sha256" // names algorithm and derivation
	macKey, err := keys.Derive(k, insecuresecretaccess.Token{}, label, func(secret []byte) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, nil, label, 32)
	})
	fmt.Println(len(macKey), err)

	// The same label asked for as another type is an error, not a panic.
	_, err = keys.Derive(k, insecuresecretaccess.Token{}, label, func([]byte) (string, error) { return "", nil })
	fmt.Println(err != nil)
	// Output:
	// 32 <nil>
	// true
}
