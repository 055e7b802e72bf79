package vaultkms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// TestUnwrapBatch: a batch unwraps every value under its own associated
// data, in order, across more than one request, and reports a tampered or
// wrongly bound value as ErrUnwrap without failing the others.
func TestUnwrapBatch(t *testing.T) {
	ctx := context.Background()
	for _, b := range []struct {
		name string
		b    vaultkms.Binding
	}{{"AssociatedData", vaultkms.BindAssociatedData}, {"Context", vaultkms.BindContext}} {
		t.Run(b.name, func(t *testing.T) {
			k := newKMS(t, b.b, nil)
			const n = 300 // more than one MaxBatch request
			reqs := make([]keystore.UnwrapRequest, n)
			secrets := make([][]byte, n)
			for i := range reqs {
				secrets[i] = bytes.Repeat([]byte{byte(i)}, 32)
				ad := []byte(fmt.Sprint("ad-", i))
				w, err := k.Wrap(ctx, secrets[i], ad)
				if err != nil {
					t.Fatal(err)
				}
				reqs[i] = keystore.UnwrapRequest{Wrapped: w, AssociatedData: ad}
			}
			reqs[5].AssociatedData = []byte("wrong")
			reqs[6].Wrapped = []byte("not a transit ciphertext")
			res, err := k.UnwrapBatch(ctx, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != n {
				t.Fatalf("%d results for %d requests", len(res), n)
			}
			for i, r := range res {
				if i == 5 || i == 6 {
					if !errors.Is(r.Err, keystore.ErrUnwrap) {
						t.Errorf("item %d: %v, want ErrUnwrap", i, r.Err)
					}
					continue
				}
				if r.Err != nil || !bytes.Equal(r.Plaintext, secrets[i]) {
					t.Errorf("item %d: %v, plaintext matches = %v", i, r.Err, bytes.Equal(r.Plaintext, secrets[i]))
				}
			}
		})
	}
}
