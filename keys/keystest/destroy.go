package keystest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// RunVersionDestroyerTests checks that the stores newStore returns (empty,
// one per call) implement keystore.VersionDestroyer as documented: the
// versions below the floor lose their material and read as
// ErrVersionDestroyed, newer ones stay untouched, the latest version is
// never destroyed, repeated calls destroy nothing, a version below the
// floor is never created again, and concurrent calls destroy each version
// once.
func RunVersionDestroyerTests(t *testing.T, newStore func(t *testing.T) keystore.VersionDestroyer) {
	ctx := context.Background()
	setup := func(t *testing.T, versions uint32) (keystore.VersionDestroyer, keystore.SubjectRef, keystore.KeyID, []keystore.KeyRecord) {
		s := newStore(t)
		subject, id := randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t)
		var recs []keystore.KeyRecord
		for v := uint32(1); v <= versions; v++ {
			r := record(t, subject, id, v)
			if err := s.CreateKey(ctx, r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		return s, subject, id, recs
	}

	t.Run("DestroysOnlyBelow", func(t *testing.T) {
		s, subject, id, recs := setup(t, 4)
		other := record(t, subject, randomID[keystore.KeyID](t), 1) // another purpose of the subject
		if err := s.CreateKey(ctx, other); err != nil {
			t.Fatal(err)
		}
		n, err := s.DestroyVersions(ctx, id, 3)
		if err != nil || n != 2 {
			t.Fatalf("DestroyVersions(below 3) = %d, %v; want 2", n, err)
		}
		for _, v := range []uint32{1, 2} {
			got, err := s.GetKey(ctx, id, v)
			if !errors.Is(err, keystore.ErrVersionDestroyed) || !errors.Is(err, keystore.ErrKeyDestroyed) || got.Wrapped != nil {
				t.Fatalf("GetKey v%d after DestroyVersions = %d bytes, %v; want ErrVersionDestroyed and no material", v, len(got.Wrapped), err)
			}
		}
		for _, r := range recs[2:] {
			got, err := s.GetKey(ctx, id, r.Version)
			if err != nil {
				t.Fatalf("GetKey v%d, which DestroyVersions(below 3) must keep: %v", r.Version, err)
			}
			sameRecord(t, got, r)
		}
		if got, err := s.LatestKey(ctx, id); err != nil || got.Version != 4 {
			t.Fatalf("LatestKey = v%d, %v; want v4", got.Version, err)
		}
		if got, err := s.GetKey(ctx, other.ID, 1); err != nil || !bytes.Equal(got.Wrapped, other.Wrapped) {
			t.Fatalf("another key of the subject was touched: %v", err)
		}
		if _, err := s.Tombstone(ctx, subject); !errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("DestroyVersions wrote a tombstone: %v", err)
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		s, _, id, _ := setup(t, 3)
		if n, err := s.DestroyVersions(ctx, id, 3); err != nil || n != 2 {
			t.Fatalf("first DestroyVersions = %d, %v; want 2", n, err)
		}
		if n, err := s.DestroyVersions(ctx, id, 3); err != nil || n != 0 {
			t.Fatalf("repeated DestroyVersions = %d, %v; want 0", n, err)
		}
		// A lower bound later never lowers the floor.
		if n, err := s.DestroyVersions(ctx, id, 2); err != nil || n != 0 {
			t.Fatalf("DestroyVersions with a lower bound = %d, %v; want 0", n, err)
		}
		if _, err := s.GetKey(ctx, id, 2); !errors.Is(err, keystore.ErrVersionDestroyed) {
			t.Fatalf("v2 after a lower bound: %v, want ErrVersionDestroyed", err)
		}
	})

	t.Run("RefusesLatestAndZero", func(t *testing.T) {
		s, _, id, recs := setup(t, 2)
		for _, below := range []uint32{0, 3, 1 << 31} {
			if n, err := s.DestroyVersions(ctx, id, below); err == nil {
				t.Fatalf("DestroyVersions(below %d) of a key with 2 versions = %d, nil; want an error", below, n)
			}
		}
		for _, r := range recs {
			if got, err := s.GetKey(ctx, id, r.Version); err != nil {
				t.Fatalf("a refused DestroyVersions destroyed v%d: %v", r.Version, err)
			} else {
				sameRecord(t, got, r)
			}
		}
		if _, err := s.DestroyVersions(ctx, randomID[keystore.KeyID](t), 1); !errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("DestroyVersions of an absent key = %v, want ErrKeyNotFound", err)
		}
	})

	t.Run("NeverRecreated", func(t *testing.T) {
		s, subject, id, _ := setup(t, 2)
		if _, err := s.DestroyVersions(ctx, id, 2); err != nil {
			t.Fatal(err)
		}
		// A new key row in a destroyed version's place, as a bug or a
		// restore script would try to create through the API.
		other := randomID[keystore.KeyID](t)
		if err := s.CreateKey(ctx, record(t, subject, other, 1)); err != nil {
			t.Fatalf("another key of the subject can no longer be created: %v", err)
		}
		if err := s.CreateKey(ctx, record(t, subject, id, 3)); err != nil {
			t.Fatalf("a newer version can no longer be created: %v", err)
		}
		if err := s.CreateKey(ctx, record(t, subject, id, 1)); !errors.Is(err, keystore.ErrKeyDestroyed) && !errors.Is(err, keystore.ErrKeyExists) {
			t.Fatalf("CreateKey of a destroyed version = %v; want ErrKeyDestroyed or ErrKeyExists", err)
		}
		if got, err := s.GetKey(ctx, id, 1); !errors.Is(err, keystore.ErrVersionDestroyed) || got.Wrapped != nil {
			t.Fatalf("v1 = %d bytes, %v; want ErrVersionDestroyed", len(got.Wrapped), err)
		}
	})

	t.Run("TombstoneWins", func(t *testing.T) {
		s, subject, id, _ := setup(t, 2)
		if _, err := s.DestroyVersions(ctx, id, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Forget(ctx, keystore.Tombstone{Subject: subject, ForgottenAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		for _, v := range []uint32{1, 2} {
			if _, err := s.GetKey(ctx, id, v); !errors.Is(err, keystore.ErrKeyDestroyed) || errors.Is(err, keystore.ErrVersionDestroyed) {
				t.Fatalf("GetKey v%d of a forgotten subject = %v; want plain ErrKeyDestroyed", v, err)
			}
		}
	})

	t.Run("LiveKeysSkipDestroyedVersions", func(t *testing.T) {
		s, _, id, _ := setup(t, 3)
		rs, ok := s.(keystore.RotatableStore)
		if !ok {
			t.Skip("not a keystore.RotatableStore")
		}
		if _, err := s.DestroyVersions(ctx, id, 3); err != nil {
			t.Fatal(err)
		}
		live, err := rs.LiveKeys(ctx, keystore.KeyCursor{}, 100)
		if err != nil || len(live) != 1 || live[0].Version != 3 {
			t.Fatalf("LiveKeys after DestroyVersions(below 3) = %d records, %v; want only v3", len(live), err)
		}
		if n, err := rs.CountLiveKeys(ctx); err != nil || n != 1 {
			t.Fatalf("CountLiveKeys = %d, %v; want 1", n, err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s, _, id, _ := setup(t, 6)
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := range 8 {
			wg.Go(func() {
				n, err := s.DestroyVersions(ctx, id, uint32(2+i%5))
				if err != nil {
					t.Errorf("concurrent DestroyVersions: %v", err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != 5 {
			t.Fatalf("concurrent DestroyVersions destroyed %d versions in all, want 5", total)
		}
	})
}
