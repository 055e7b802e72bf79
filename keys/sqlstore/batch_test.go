package sqlstore_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
)

// TestBatchGetter: LatestKeys and GetKeys over more than one 500-key
// query return the latest and the requested versions, leave out unknown
// keys and return a forgotten subject's keys without material; a Keyring
// warmed through them then serves every Current from its cache.
func TestBatchGetter(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := mustOpen(t, b.fresh(t))
			root, err := localkms.Parse([]byte(localkms.GenerateKey()))
			if err != nil {
				t.Fatal(err)
			}
			kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: s, DisableWatch: true})
			if err != nil {
				t.Fatal(err)
			}
			defer kr.Close()
			const n = 620
			subjects := make([]string, n)
			ids := make([]keys.KeyID, n+1)
			refs := make([]keys.KeyVersionRef, n+1)
			for i := range subjects {
				subjects[i] = "customer-" + strconv.Itoa(i)
				k, err := kr.Current(ctx, subjects[i], "default")
				if err != nil {
					t.Fatal(err)
				}
				ids[i], refs[i] = k.ID(), keys.KeyVersionRef{ID: k.ID(), Version: 1}
			}
			ids[n], refs[n] = keys.KeyID{0xff}, keys.KeyVersionRef{ID: keys.KeyID{0xff}, Version: 1} // unknown
			if _, err := kr.Rotate(ctx, subjects[1], "default"); err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Forget(ctx, subjects[2], "test"); err != nil {
				t.Fatal(err)
			}

			latest, err := s.LatestKeys(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.GetKeys(ctx, refs)
			if err != nil {
				t.Fatal(err)
			}
			for name, recs := range map[string][]keystore.KeyRecord{"LatestKeys": latest, "GetKeys": got} {
				if len(recs) != n {
					t.Fatalf("%s: %d records, want %d", name, len(recs), n)
				}
				byID := make(map[keys.KeyID]keystore.KeyRecord)
				for _, r := range recs {
					byID[r.ID] = r
				}
				for i := range n {
					r, ok := byID[ids[i]]
					want := uint32(1)
					if i == 1 && name == "LatestKeys" {
						want = 2
					}
					switch {
					case !ok:
						t.Errorf("%s: key %d missing", name, i)
					case r.Version != want:
						t.Errorf("%s: key %d version %d, want %d", name, i, r.Version, want)
					case (r.Wrapped == nil) != (i == 2):
						t.Errorf("%s: key %d: material present = %v", name, i, r.Wrapped != nil)
					}
				}
			}

			kr.EvictAll()
			if err := kr.Warm(ctx, subjects, "default"); err != nil {
				t.Fatal(err)
			}
			before := kr.CacheStats()
			for i, sub := range subjects {
				_, err := kr.Current(ctx, sub, "default")
				if i == 2 {
					if !errors.Is(err, keys.ErrKeyDestroyed) {
						t.Errorf("forgotten subject: %v", err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if st := kr.CacheStats(); st.Misses-before.Misses != 1 {
				t.Errorf("after Warm, %d of %d Current calls missed, want 1 (the forgotten subject)", st.Misses-before.Misses, n)
			}
		})
	}
}

func TestBatchGetterConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			keystest.RunBatchGetterTests(t, func(t *testing.T) keystest.BatchStore { return mustOpen(t, b.fresh(t)) })
		})
	}
}
