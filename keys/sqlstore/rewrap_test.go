package sqlstore_test

import (
	"context"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
)

func TestRotatableStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			keystest.RunRotatableStoreTests(t, func(t *testing.T) keystore.RotatableStore { return mustOpen(t, b.fresh(t)) })
		})
	}
}

// TestRotateRootSQL moves a SQL keystore to a new root key and reopens it.
func TestRotateRootSQL(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := mustOpen(t, b.fresh(t))
			oldRoot, _ := localkms.Parse([]byte(localkms.GenerateKey()))
			newRoot, _ := localkms.Parse([]byte(localkms.GenerateKey()))
			kr, err := keys.Open(ctx, keys.Config{KMS: oldRoot, Store: s})
			if err != nil {
				t.Fatal(err)
			}
			const n = 60
			ids := make([]keystore.KeyID, n)
			for i := range n {
				k, err := kr.Current(ctx, "customer-"+string(rune('A'+i)), keys.DefaultPurpose)
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = k.ID()
			}
			st, err := keys.RotateRoot(ctx, s, oldRoot, newRoot, keys.RotateOptions{BatchSize: 16})
			if err != nil || st.Rewrapped != n {
				t.Fatalf("RotateRoot = %+v, %v", st, err)
			}
			kr2, err := keys.Open(ctx, keys.Config{KMS: newRoot, Store: s})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, err := kr2.KeyVersion(ctx, id, 1); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
