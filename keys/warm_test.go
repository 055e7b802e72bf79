package keys_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// queryCounter is a memstore that counts its key reads, batched or not.
type queryCounter struct {
	*memstore.Store
	queries atomic.Int64
}

func (s *queryCounter) LatestKey(ctx context.Context, id keys.KeyID) (keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.LatestKey(ctx, id)
}

func (s *queryCounter) GetKey(ctx context.Context, id keys.KeyID, v uint32) (keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.GetKey(ctx, id, v)
}

func (s *queryCounter) LatestKeys(ctx context.Context, ids []keys.KeyID) ([]keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.LatestKeys(ctx, ids)
}

func (s *queryCounter) GetKeys(ctx context.Context, refs []keys.KeyVersionRef) ([]keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.GetKeys(ctx, refs)
}

// kmsCounter is a local KMS that counts its unwrap calls, batched or not.
type kmsCounter struct {
	*localkms.KMS
	calls atomic.Int64
}

func (k *kmsCounter) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.KMS.Unwrap(ctx, w, ad)
}

func (k *kmsCounter) UnwrapBatch(ctx context.Context, reqs []keystore.UnwrapRequest) ([]keystore.UnwrapResult, error) {
	k.calls.Add(1)
	return k.KMS.UnwrapBatch(ctx, reqs)
}

// TestWarmBatches: a page of 1000 customers, cold, is warmed with at most
// 3 keystore queries and 3 KMS calls, after which encrypting (Current) or
// decrypting (KeyVersion) each of them reads nothing; forgotten subjects
// stay forgotten.
func TestWarmBatches(t *testing.T) {
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	writer := open(t, keys.Config{KMS: root, Store: mem})
	subjects := make([]string, 1000)
	refs := make([]keys.KeyVersionRef, len(subjects))
	for i := range subjects {
		subjects[i] = fmt.Sprint("customer-", i)
		k, err := writer.Current(ctx, subjects[i], "default")
		if err != nil {
			t.Fatal(err)
		}
		refs[i] = keys.KeyVersionRef{ID: k.ID(), Version: k.Version()}
	}
	if _, err := writer.Forget(ctx, subjects[7], "test"); err != nil {
		t.Fatal(err)
	}

	store := &queryCounter{Store: mem}
	kms := &kmsCounter{KMS: root}
	kr := open(t, keys.Config{KMS: kms, Store: store, DisableWatch: true})
	check := func(what string, f func() error, use func(i int) error) {
		t.Helper()
		q0, k0 := store.queries.Load(), kms.calls.Load()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		q, k := store.queries.Load()-q0, kms.calls.Load()-k0
		t.Logf("%s of %d subjects: %d keystore queries, %d KMS calls", what, len(subjects), q, k)
		if q > 3 || k > 3 {
			t.Errorf("%s: %d keystore queries and %d KMS calls, want at most 3 each", what, q, k)
		}
		q0, k0 = store.queries.Load(), kms.calls.Load()
		for i := range subjects {
			err := use(i)
			if i == 7 {
				if !errors.Is(err, keys.ErrKeyDestroyed) {
					t.Errorf("forgotten subject after %s: %v, want ErrKeyDestroyed", what, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		// The forgotten subject's one read is all.
		if q, k := store.queries.Load()-q0, kms.calls.Load()-k0; q > 1 || k != 0 {
			t.Errorf("after %s, using the keys made %d keystore queries and %d KMS calls", what, q, k)
		}
	}
	check("Warm", func() error { return kr.Warm(ctx, subjects, "default") }, func(i int) error {
		_, err := kr.Current(ctx, subjects[i], "default")
		return err
	})
	kr.EvictAll()
	check("WarmVersions", func() error { return kr.WarmVersions(ctx, refs) }, func(i int) error {
		_, err := kr.KeyVersion(ctx, refs[i].ID, refs[i].Version)
		return err
	})
}
