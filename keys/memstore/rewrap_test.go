package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestRotatableStore(t *testing.T) { testRotatableStore(t, memstore.New()) }

// The same contract is tested in keys/sqlstore/rewrap_test.go; it belongs
// in keys/keystest once that file can take it.
// testRotatableStore checks the keys.RotatableStore contract on an empty
// store.
func testRotatableStore(t *testing.T, s keys.RotatableStore) {
	ctx := context.Background()
	rec := func(subject byte, id byte, version uint32) keys.KeyRecord {
		r := keys.KeyRecord{Version: version, Purpose: "default", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		r.ID[0], r.ID[15], r.Subject[0] = id, id, subject
		r.Wrapped = []byte{id, byte(version), 1, 2, 3}
		return r
	}
	if n, err := s.CountLiveKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountLiveKeys of an empty store = %d, %v", n, err)
	}
	if _, err := s.Meta(ctx, "id-key.v1"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("Meta of an absent name = %v, want ErrKeyNotFound", err)
	}
	// Inserted out of order; 0xff sorts after 0x01 bytewise (a signed
	// comparison would put it first).
	all := []keys.KeyRecord{rec(1, 0xff, 1), rec(1, 0x01, 2), rec(2, 0x80, 1), rec(1, 0x01, 1), rec(3, 0x02, 1)}
	for _, r := range all {
		if err := s.CreateKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Forget(ctx, keys.Tombstone{Subject: all[4].Subject, ForgottenAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	var got []keys.KeyRecord
	var cur keys.KeyCursor
	for {
		page, err := s.LiveKeys(ctx, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		cur = keys.KeyCursor{ID: page[len(page)-1].ID, Version: page[len(page)-1].Version}
	}
	want := []keys.KeyRecord{all[3], all[1], all[2], all[0]}
	if len(got) != len(want) {
		t.Fatalf("LiveKeys returned %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Version != want[i].Version || got[i].Subject != want[i].Subject ||
			!bytes.Equal(got[i].Wrapped, want[i].Wrapped) || got[i].Purpose != "default" {
			t.Fatalf("LiveKeys[%d] = %s v%d, want %s v%d", i, got[i].ID, got[i].Version, want[i].ID, want[i].Version)
		}
	}
	if n, err := s.CountLiveKeys(ctx); err != nil || n != 4 {
		t.Fatalf("CountLiveKeys = %d, %v; want 4", n, err)
	}

	r := all[0]
	if err := s.RewrapKey(ctx, r.ID, r.Version, []byte("stale"), []byte("new")); !errors.Is(err, keys.ErrRewrapConflict) {
		t.Fatalf("RewrapKey with stale material = %v, want ErrRewrapConflict", err)
	}
	if err := s.RewrapKey(ctx, r.ID, r.Version, r.Wrapped, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetKey(ctx, r.ID, r.Version); err != nil || string(g.Wrapped) != "new" || !g.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("after RewrapKey: %q, %v", g.Wrapped, err)
	}
	if err := s.RewrapKey(ctx, r.ID, r.Version, r.Wrapped, []byte("newer")); !errors.Is(err, keys.ErrRewrapConflict) {
		t.Fatalf("second RewrapKey with the old material = %v, want ErrRewrapConflict", err)
	}
	if err := s.RewrapKey(ctx, r.ID, 9, r.Wrapped, []byte("x")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("RewrapKey of an absent version = %v, want ErrKeyNotFound", err)
	}
	gone := all[4]
	if err := s.RewrapKey(ctx, gone.ID, gone.Version, gone.Wrapped, []byte("x")); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("RewrapKey of a destroyed key = %v, want ErrKeyDestroyed", err)
	}
	if _, err := s.GetKey(ctx, gone.ID, gone.Version); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("a destroyed key came back: %v", err)
	}

	if _, err := s.PutMeta(ctx, "id-key.v1", []byte("check-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.RewrapMeta(ctx, "id-key.v1", []byte("other"), []byte("check-2")); !errors.Is(err, keys.ErrRewrapConflict) {
		t.Fatalf("RewrapMeta with a stale value = %v, want ErrRewrapConflict", err)
	}
	if err := s.RewrapMeta(ctx, "id-key.v1", []byte("check-1"), []byte("check-2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Meta(ctx, "id-key.v1"); err != nil || string(v) != "check-2" {
		t.Fatalf("Meta after RewrapMeta = %q, %v", v, err)
	}
	if err := s.RewrapMeta(ctx, "absent", nil, []byte("x")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("RewrapMeta of an absent name = %v, want ErrKeyNotFound", err)
	}

	// Concurrent rotations of one key: exactly one wins.
	r = all[2]
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := range 8 {
		wg.Go(func() {
			err := s.RewrapKey(ctx, r.ID, r.Version, r.Wrapped, []byte{byte(i), 9, 9})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, keys.ErrRewrapConflict):
				t.Errorf("concurrent RewrapKey: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent RewrapKeys of one key won, want 1", wins.Load())
	}
}
