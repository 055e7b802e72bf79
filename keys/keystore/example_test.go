package keystore_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// countingKMS is a KMS that delegates to another and counts the unwraps:
// the smallest KMS one can write. A real one talks to an HSM or a cloud
// KMS and must return an error wrapping keystore.ErrUnwrap exactly when a
// value does not authenticate.
type countingKMS struct {
	keystore.KMS
	unwraps atomic.Int64
}

var _ keystore.KMS = (*countingKMS)(nil)

func (k *countingKMS) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	k.unwraps.Add(1)
	return k.KMS.Unwrap(ctx, wrapped, associatedData)
}

// A backend is handed to keys.Open like the packaged ones; users never see
// package keystore.
func Example() {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kms := &countingKMS{KMS: root}
	kr, _ := keys.Open(ctx, keys.Config{KMS: kms, Store: memstore.New()})

	for range 3 {
		kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	}
	// One unwrap for the root key check at Open, one for the subject key,
	// which the Keyring then serves from its cache.
	fmt.Println("unwraps:", kms.unwraps.Load())
	// Output:
	// unwraps: 2
}

func ExampleKeyCursor_Less() {
	a := keystore.KeyCursor{ID: keystore.KeyID{1}, Version: 7}
	b := keystore.KeyCursor{ID: keystore.KeyID{2}, Version: 1}
	fmt.Println(a.Less(b), b.Less(a), keystore.KeyCursor{}.Less(a))
	// Output:
	// true false true
}
