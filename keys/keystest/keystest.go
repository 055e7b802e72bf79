// Package keystest is the conformance suite every keystore.Store and
// keystore.KMS implementation must pass. A backend's tests call
// RunStoreTests, RunKMSTests or, for stores that support root rotation,
// RunRotatableStoreTests with a function that returns a fresh, empty
// instance:
//
//	func TestConformance(t *testing.T) {
//		keystest.RunStoreTests(t, func(t *testing.T) keystore.Store { return memstore.New() })
//	}
package keystest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

func randomID[T ~[16]byte](t *testing.T) T {
	t.Helper()
	var v T
	if _, err := rand.Read(v[:]); err != nil {
		t.Fatal(err)
	}
	return v
}

func record(t *testing.T, subject keystore.SubjectRef, id keystore.KeyID, version uint32) keystore.KeyRecord {
	w := make([]byte, 60)
	rand.Read(w)
	return keystore.KeyRecord{
		ID: id, Version: version, Subject: subject, Purpose: "default",
		Wrapped: w, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
}

func sameRecord(t *testing.T, got, want keystore.KeyRecord) {
	t.Helper()
	if got.ID != want.ID || got.Version != want.Version || got.Subject != want.Subject ||
		got.Purpose != want.Purpose || !bytes.Equal(got.Wrapped, want.Wrapped) ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("record mismatch:\n got  %s v%d subject %s purpose %q created %v wrapped %d bytes\n want %s v%d subject %s purpose %q created %v wrapped %d bytes",
			got.ID, got.Version, got.Subject, got.Purpose, got.CreatedAt, len(got.Wrapped),
			want.ID, want.Version, want.Subject, want.Purpose, want.CreatedAt, len(want.Wrapped))
	}
}

// RunStoreTests checks that the Stores newStore returns behave as
// keystore.Store documents. newStore must return an empty store each call.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) keystore.Store) {
	ctx := context.Background()

	t.Run("CreateGetLatest", func(t *testing.T) {
		s := newStore(t)
		subj, id := randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t)
		r1, r3, r2 := record(t, subj, id, 1), record(t, subj, id, 3), record(t, subj, id, 2)
		r2.Purpose = "tokens.card-v2"
		for _, r := range []keystore.KeyRecord{r1, r3, r2} {
			if err := s.CreateKey(ctx, r); err != nil {
				t.Fatalf("CreateKey v%d: %v", r.Version, err)
			}
		}
		got, err := s.LatestKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, got, r3)
		for _, want := range []keystore.KeyRecord{r1, r2, r3} {
			got, err := s.GetKey(ctx, id, want.Version)
			if err != nil {
				t.Fatalf("GetKey v%d: %v", want.Version, err)
			}
			sameRecord(t, got, want)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		id := randomID[keystore.KeyID](t)
		if _, err := s.LatestKey(ctx, id); !errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("LatestKey of unknown key: got %v, want ErrKeyNotFound", err)
		}
		if _, err := s.GetKey(ctx, id, 1); !errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("GetKey of unknown key: got %v, want ErrKeyNotFound", err)
		}
		subj := randomID[keystore.SubjectRef](t)
		if err := s.CreateKey(ctx, record(t, subj, id, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetKey(ctx, id, 2); !errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("GetKey of unknown version: got %v, want ErrKeyNotFound", err)
		}
		if _, err := s.Tombstone(ctx, subj); !errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("Tombstone of live subject: got %v, want ErrKeyNotFound", err)
		}
	})

	t.Run("DuplicateVersion", func(t *testing.T) {
		s := newStore(t)
		subj, id := randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t)
		first := record(t, subj, id, 1)
		if err := s.CreateKey(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, record(t, subj, id, 1)); !errors.Is(err, keystore.ErrKeyExists) {
			t.Fatalf("second CreateKey of v1: got %v, want ErrKeyExists", err)
		}
		got, err := s.GetKey(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, got, first)
	})

	t.Run("CallerBuffersNotAliased", func(t *testing.T) {
		s := newStore(t)
		subj, id := randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t)
		r := record(t, subj, id, 1)
		want := bytes.Clone(r.Wrapped)
		if err := s.CreateKey(ctx, r); err != nil {
			t.Fatal(err)
		}
		clear(r.Wrapped)
		got, err := s.GetKey(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Wrapped, want) {
			t.Fatal("store aliases the caller's Wrapped slice")
		}
		clear(got.Wrapped)
		again, _ := s.GetKey(ctx, id, 1)
		if !bytes.Equal(again.Wrapped, want) {
			t.Fatal("store returns its internal Wrapped slice")
		}
	})

	t.Run("Forget", func(t *testing.T) {
		s := newStore(t)
		subj, other := randomID[keystore.SubjectRef](t), randomID[keystore.SubjectRef](t)
		idA, idB, idOther := randomID[keystore.KeyID](t), randomID[keystore.KeyID](t), randomID[keystore.KeyID](t)
		for _, r := range []keystore.KeyRecord{record(t, subj, idA, 1), record(t, subj, idA, 2), record(t, subj, idB, 1)} {
			if err := s.CreateKey(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		otherRec := record(t, other, idOther, 1)
		if err := s.CreateKey(ctx, otherRec); err != nil {
			t.Fatal(err)
		}
		when := time.Now().UTC().Truncate(time.Microsecond)
		ts, err := s.Forget(ctx, keystore.Tombstone{Subject: subj, ForgottenAt: when, Reason: "ticket-1"})
		if err != nil {
			t.Fatal(err)
		}
		if ts.Destroyed != 3 || ts.DestroyedNow != 3 || ts.Subject != subj || ts.Reason != "ticket-1" || !ts.ForgottenAt.Equal(when) {
			t.Fatalf("tombstone = %+v, want 3 destroyed, reason ticket-1, time %v", ts, when)
		}
		for _, c := range []struct {
			id keystore.KeyID
			v  uint32
		}{{idA, 1}, {idA, 2}, {idB, 1}} {
			rec, err := s.GetKey(ctx, c.id, c.v)
			if !errors.Is(err, keystore.ErrKeyDestroyed) {
				t.Fatalf("GetKey after Forget: got %v, want ErrKeyDestroyed", err)
			}
			if rec.Wrapped != nil {
				t.Fatal("GetKey after Forget returned key material")
			}
		}
		if _, err := s.LatestKey(ctx, idA); !errors.Is(err, keystore.ErrKeyDestroyed) {
			t.Fatalf("LatestKey after Forget: got %v, want ErrKeyDestroyed", err)
		}
		// Never re-created, for a known key and for a purpose not used before.
		for _, r := range []keystore.KeyRecord{record(t, subj, idA, 3), record(t, subj, randomID[keystore.KeyID](t), 1)} {
			if err := s.CreateKey(ctx, r); !errors.Is(err, keystore.ErrKeyDestroyed) {
				t.Fatalf("CreateKey after Forget: got %v, want ErrKeyDestroyed", err)
			}
		}
		// Other subjects are untouched.
		got, err := s.GetKey(ctx, idOther, 1)
		if err != nil {
			t.Fatalf("other subject after Forget: %v", err)
		}
		sameRecord(t, got, otherRec)
		// Idempotent: the first tombstone stays.
		again, err := s.Forget(ctx, keystore.Tombstone{Subject: subj, ForgottenAt: when.Add(time.Hour), Reason: "ticket-2"})
		if err != nil {
			t.Fatal(err)
		}
		if !again.ForgottenAt.Equal(when) || again.Reason != "ticket-1" || again.Destroyed != 3 || again.DestroyedNow != 0 {
			t.Fatalf("second Forget = %+v, want the first tombstone", again)
		}
		stored, err := s.Tombstone(ctx, subj)
		if err != nil {
			t.Fatal(err)
		}
		if !stored.ForgottenAt.Equal(when) || stored.Reason != "ticket-1" || stored.Destroyed != 3 || stored.Subject != subj {
			t.Fatalf("Tombstone = %+v, want the first tombstone", stored)
		}
	})

	t.Run("ForgetUnknownSubject", func(t *testing.T) {
		s := newStore(t)
		subj := randomID[keystore.SubjectRef](t)
		ts, err := s.Forget(ctx, keystore.Tombstone{Subject: subj, ForgottenAt: time.Now().UTC().Truncate(time.Microsecond)})
		if err != nil {
			t.Fatal(err)
		}
		if ts.Destroyed != 0 {
			t.Fatalf("Destroyed = %d, want 0", ts.Destroyed)
		}
		if err := s.CreateKey(ctx, record(t, subj, randomID[keystore.KeyID](t), 1)); !errors.Is(err, keystore.ErrKeyDestroyed) {
			t.Fatalf("CreateKey for a subject forgotten before it had keys: got %v, want ErrKeyDestroyed", err)
		}
	})

	t.Run("ForgottenAmong", func(t *testing.T) {
		s := newStore(t)
		l, ok := s.(keystore.ForgottenLister)
		if !ok {
			t.Skip("the Store does not implement keystore.ForgottenLister")
		}
		gone1, gone2 := randomID[keystore.SubjectRef](t), randomID[keystore.SubjectRef](t)
		live, unknown := randomID[keystore.SubjectRef](t), randomID[keystore.SubjectRef](t)
		if err := s.CreateKey(ctx, record(t, live, randomID[keystore.KeyID](t), 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, record(t, gone1, randomID[keystore.KeyID](t), 1)); err != nil {
			t.Fatal(err)
		}
		for _, r := range []keystore.SubjectRef{gone1, gone2} {
			if _, err := s.Forget(ctx, keystore.Tombstone{Subject: r, ForgottenAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := l.ForgottenAmong(ctx, []keystore.SubjectRef{live, gone2, unknown, gone1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !(got[0] == gone1 && got[1] == gone2 || got[0] == gone2 && got[1] == gone1) {
			t.Fatalf("ForgottenAmong = %v, want %v and %v", got, gone1, gone2)
		}
		if got, err := l.ForgottenAmong(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("ForgottenAmong(nil) = %v, %v", got, err)
		}
		many := make([]keystore.SubjectRef, keystore.ForgottenBatch)
		for i := range many {
			many[i] = randomID[keystore.SubjectRef](t)
		}
		many[len(many)-1] = gone2
		if got, err := l.ForgottenAmong(ctx, many); err != nil || len(got) != 1 || got[0] != gone2 {
			t.Fatalf("ForgottenAmong of %d refs = %v, %v; want [%v]", len(many), got, err, gone2)
		}
	})

	t.Run("InitMeta", func(t *testing.T) {
		s := newStore(t)
		got, err := s.InitMeta(ctx, "check", []byte("first"))
		if err != nil || string(got) != "first" {
			t.Fatalf("InitMeta = %q, %v; want first", got, err)
		}
		got, err = s.InitMeta(ctx, "check", []byte("second"))
		if err != nil || string(got) != "first" {
			t.Fatalf("second InitMeta = %q, %v; want the first value", got, err)
		}
		got, err = s.InitMeta(ctx, "other", []byte{0, 1, 2, 255})
		if err != nil || !bytes.Equal(got, []byte{0, 1, 2, 255}) {
			t.Fatalf("InitMeta of binary value = %x, %v", got, err)
		}
		// Once the keystore holds a key, a missing value is never created.
		if err := s.CreateKey(ctx, record(t, randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t), 1)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.InitMeta(ctx, "late", []byte("x")); !errors.Is(err, keystore.ErrCheckValueMissing) {
			t.Fatalf("InitMeta on a keystore with keys = %q, %v; want ErrCheckValueMissing", got, err)
		}
		if got, err := s.InitMeta(ctx, "check", []byte("third")); err != nil || string(got) != "first" {
			t.Fatalf("InitMeta of an existing name on a keystore with keys = %q, %v; want the first value", got, err)
		}
	})

	t.Run("InitMetaOnTombstonesOnly", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Forget(ctx, keystore.Tombstone{Subject: randomID[keystore.SubjectRef](t), ForgottenAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.InitMeta(ctx, "check", []byte("x")); !errors.Is(err, keystore.ErrCheckValueMissing) {
			t.Fatalf("InitMeta on a keystore with a tombstone = %q, %v; want ErrCheckValueMissing", got, err)
		}
	})

	t.Run("ConcurrentInitMeta", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = s.InitMeta(ctx, "check", []byte{byte(i)}) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("concurrent InitMeta: %v", errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("concurrent InitMeta calls got different values: %x and %x", got[i], got[0])
			}
		}
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		s := newStore(t)
		subj, id := randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t)
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.CreateKey(ctx, record(t, subj, id, 1)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, keystore.ErrKeyExists):
				t.Fatalf("concurrent CreateKey: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent creates of one version succeeded, want exactly 1", ok)
		}
	})

	t.Run("ForgetRacesCreate", func(t *testing.T) {
		s := newStore(t)
		const rounds, creators = 20, 4
		for round := range rounds {
			subj := randomID[keystore.SubjectRef](t)
			ids := make([]keystore.KeyID, creators)
			var wg sync.WaitGroup
			errs := make(chan error, creators+1)
			for i := range creators {
				ids[i] = randomID[keystore.KeyID](t)
				wg.Go(func() {
					err := s.CreateKey(ctx, record(t, subj, ids[i], 1))
					if err != nil && !errors.Is(err, keystore.ErrKeyDestroyed) {
						errs <- fmt.Errorf("create: %w", err)
					}
				})
			}
			wg.Go(func() {
				if _, err := s.Forget(ctx, keystore.Tombstone{Subject: subj, ForgottenAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
					errs <- fmt.Errorf("forget: %w", err)
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("round %d: %v", round, err)
			}
			for _, id := range ids {
				if rec, err := s.LatestKey(ctx, id); err == nil || rec.Wrapped != nil {
					t.Fatalf("round %d: a key created concurrently with Forget survived it", round)
				}
			}
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.LatestKey(cctx, randomID[keystore.KeyID](t)); err == nil || errors.Is(err, keystore.ErrKeyNotFound) {
			t.Fatalf("LatestKey with canceled context: got %v, want a context error", err)
		}
	})
}

// RunKMSTests checks that the KMSs newKMS returns behave as keystore.KMS
// documents. Two calls to newKMS may return the same root key.
func RunKMSTests(t *testing.T, newKMS func(t *testing.T) keystore.KMS) {
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	ad := []byte("fieldcrypt/keystest/ad")

	t.Run("RoundTrip", func(t *testing.T) {
		k := newKMS(t)
		for _, size := range []int{1, 16, 32, 64} {
			pt := key[:min(size, len(key))]
			if size == 64 {
				pt = append(bytes.Clone(key), key...)
			}
			in, inAD := bytes.Clone(pt), bytes.Clone(ad)
			w, err := k.Wrap(ctx, in, inAD)
			if err != nil {
				t.Fatalf("Wrap %d bytes: %v", size, err)
			}
			if !bytes.Equal(in, pt) || !bytes.Equal(inAD, ad) {
				t.Fatal("Wrap modified its input")
			}
			if len(pt) >= 8 && bytes.Contains(w, pt) {
				t.Fatal("wrapped key contains the plaintext key")
			}
			wCopy := bytes.Clone(w)
			got, err := k.Unwrap(ctx, w, ad)
			if err != nil {
				t.Fatalf("Unwrap %d bytes: %v", size, err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatal("Unwrap(Wrap(k)) != k")
			}
			if !bytes.Equal(w, wCopy) {
				t.Fatal("Unwrap modified its input")
			}
		}
	})

	t.Run("Randomised", func(t *testing.T) {
		k := newKMS(t)
		a, err := k.Wrap(ctx, key, ad)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Wrap(ctx, key, ad)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, b) {
			t.Fatal("two wraps of one key are identical: wrapping must be randomised")
		}
	})

	t.Run("WrongAssociatedData", func(t *testing.T) {
		k := newKMS(t)
		w, err := k.Wrap(ctx, key, ad)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range [][]byte{[]byte("fieldcrypt/keystest/ae"), nil, append(bytes.Clone(ad), 0)} {
			if _, err := k.Unwrap(ctx, w, bad); !errors.Is(err, keystore.ErrUnwrap) {
				t.Fatalf("Unwrap with wrong associated data %q: got %v, want ErrUnwrap", bad, err)
			}
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		k := newKMS(t)
		w, err := k.Wrap(ctx, key, ad)
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			bad := bytes.Clone(w)
			bad[i] ^= 0x01
			if _, err := k.Unwrap(ctx, bad, ad); !errors.Is(err, keystore.ErrUnwrap) {
				t.Fatalf("Unwrap with byte %d flipped: got %v, want ErrUnwrap", i, err)
			}
		}
		for _, n := range []int{0, 1, len(w) / 2, len(w) - 1} {
			if _, err := k.Unwrap(ctx, w[:n], ad); !errors.Is(err, keystore.ErrUnwrap) {
				t.Fatalf("Unwrap of %d-byte truncation: got %v, want ErrUnwrap", n, err)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		k := newKMS(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				for range 20 {
					w, err := k.Wrap(ctx, key, ad)
					if err != nil {
						errs <- err
						return
					}
					got, err := k.Unwrap(ctx, w, ad)
					if err != nil || !bytes.Equal(got, key) {
						errs <- fmt.Errorf("concurrent round trip failed: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// RunRotatableStoreTests checks that the stores newStore returns (empty, one
// per call) implement keystore.RotatableStore as documented: LiveKeys pages
// in (ID, version) order and skips destroyed keys, RewrapKey and RewrapMeta
// are compare-and-swap (exactly one of several concurrent rewraps wins), and
// a destroyed key is never brought back.
func RunRotatableStoreTests(t *testing.T, newStore func(t *testing.T) keystore.RotatableStore) {
	ctx := context.Background()
	s := newStore(t)
	rec := func(subject byte, id byte, version uint32) keystore.KeyRecord {
		r := keystore.KeyRecord{Version: version, Purpose: "default", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		r.ID[0], r.ID[15], r.Subject[0] = id, id, subject
		r.Wrapped = []byte{id, byte(version), 1, 2, 3}
		return r
	}
	if n, err := s.CountLiveKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountLiveKeys of an empty store = %d, %v", n, err)
	}
	if _, err := s.Meta(ctx, "id-key.v1"); !errors.Is(err, keystore.ErrKeyNotFound) {
		t.Fatalf("Meta of an absent name = %v, want ErrKeyNotFound", err)
	}
	if _, err := s.InitMeta(ctx, "id-key.v1", []byte("check-1")); err != nil {
		t.Fatal(err)
	}
	// Inserted out of order; 0xff sorts after 0x01 bytewise (a signed
	// comparison would put it first).
	all := []keystore.KeyRecord{rec(1, 0xff, 1), rec(1, 0x01, 2), rec(2, 0x80, 1), rec(1, 0x01, 1), rec(3, 0x02, 1)}
	for _, r := range all {
		if err := s.CreateKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Forget(ctx, keystore.Tombstone{Subject: all[4].Subject, ForgottenAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	var got []keystore.KeyRecord
	var cur keystore.KeyCursor
	for {
		page, err := s.LiveKeys(ctx, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		cur = keystore.KeyCursor{ID: page[len(page)-1].ID, Version: page[len(page)-1].Version}
	}
	want := []keystore.KeyRecord{all[3], all[1], all[2], all[0]}
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
	if err := s.RewrapKey(ctx, r.ID, r.Version, []byte("stale"), []byte("new")); !errors.Is(err, keystore.ErrRewrapConflict) {
		t.Fatalf("RewrapKey with stale material = %v, want ErrRewrapConflict", err)
	}
	if err := s.RewrapKey(ctx, r.ID, r.Version, r.Wrapped, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetKey(ctx, r.ID, r.Version); err != nil || string(g.Wrapped) != "new" || !g.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("after RewrapKey: %q, %v", g.Wrapped, err)
	}
	if err := s.RewrapKey(ctx, r.ID, r.Version, r.Wrapped, []byte("newer")); !errors.Is(err, keystore.ErrRewrapConflict) {
		t.Fatalf("second RewrapKey with the old material = %v, want ErrRewrapConflict", err)
	}
	if err := s.RewrapKey(ctx, r.ID, 9, r.Wrapped, []byte("x")); !errors.Is(err, keystore.ErrKeyNotFound) {
		t.Fatalf("RewrapKey of an absent version = %v, want ErrKeyNotFound", err)
	}
	gone := all[4]
	if err := s.RewrapKey(ctx, gone.ID, gone.Version, gone.Wrapped, []byte("x")); !errors.Is(err, keystore.ErrKeyDestroyed) {
		t.Fatalf("RewrapKey of a destroyed key = %v, want ErrKeyDestroyed", err)
	}
	if _, err := s.GetKey(ctx, gone.ID, gone.Version); !errors.Is(err, keystore.ErrKeyDestroyed) {
		t.Fatalf("a destroyed key came back: %v", err)
	}

	if err := s.RewrapMeta(ctx, "id-key.v1", []byte("other"), []byte("check-2")); !errors.Is(err, keystore.ErrRewrapConflict) {
		t.Fatalf("RewrapMeta with a stale value = %v, want ErrRewrapConflict", err)
	}
	if err := s.RewrapMeta(ctx, "id-key.v1", []byte("check-1"), []byte("check-2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Meta(ctx, "id-key.v1"); err != nil || string(v) != "check-2" {
		t.Fatalf("Meta after RewrapMeta = %q, %v", v, err)
	}
	if err := s.RewrapMeta(ctx, "absent", nil, []byte("x")); !errors.Is(err, keystore.ErrKeyNotFound) {
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
			case !errors.Is(err, keystore.ErrRewrapConflict):
				t.Errorf("concurrent RewrapKey: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent RewrapKeys of one key won, want 1", wins.Load())
	}
}
