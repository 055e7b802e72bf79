package keystest

import (
	"context"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// TombstoneListingStore is a Store with the keystore.TombstoneLister
// capability, for [RunTombstoneListerTests].
type TombstoneListingStore interface {
	keystore.Store
	keystore.TombstoneLister
}

// RunTombstoneListerTests checks that the stores newStore returns (empty,
// one per call) implement keystore.TombstoneLister as documented: every
// tombstone at or after the time given, oldest first, each once (a
// repeated Forget keeps its first time), and no subject that has only keys.
func RunTombstoneListerTests(t *testing.T, newStore func(t *testing.T) TombstoneListingStore) {
	ctx := context.Background()
	s := newStore(t)
	if got, err := s.TombstonesSince(ctx, time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("empty store: TombstonesSince = %v, %v; want none", got, err)
	}
	live := randomID[keystore.SubjectRef](t)
	if err := s.CreateKey(ctx, record(t, live, randomID[keystore.KeyID](t), 1)); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Minute)
	var refs []keystore.SubjectRef
	for i := range 3 {
		ref := randomID[keystore.SubjectRef](t)
		if err := s.CreateKey(ctx, record(t, ref, randomID[keystore.KeyID](t), 1)); err != nil {
			t.Fatal(err)
		}
		// Forgotten newest first, so that the order is the store's doing.
		at := base.Add(time.Duration(2-i) * time.Second)
		if _, err := s.Forget(ctx, keystore.Tombstone{Subject: ref, ForgottenAt: at, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		refs = append([]keystore.SubjectRef{ref}, refs...) // oldest first
	}
	// A repeated Forget keeps the first time.
	if _, err := s.Forget(ctx, keystore.Tombstone{Subject: refs[0], ForgottenAt: base.Add(time.Hour), Reason: "again"}); err != nil {
		t.Fatal(err)
	}
	check := func(since time.Time, want []keystore.SubjectRef) {
		t.Helper()
		got, err := s.TombstonesSince(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("TombstonesSince(%v): %d tombstones, want %d", since, len(got), len(want))
		}
		for i := range got {
			if got[i].Subject != want[i] {
				t.Fatalf("TombstonesSince(%v)[%d] is not the expected subject (oldest first)", since, i)
			}
			if got[i].ForgottenAt.Before(since) {
				t.Fatalf("TombstonesSince(%v)[%d] forgotten at %v, before since", since, i, got[i].ForgottenAt)
			}
		}
	}
	check(time.Time{}, refs)
	check(base, refs) // at since: included
	check(base.Add(time.Second), refs[1:])
	check(base.Add(2*time.Second+time.Microsecond), nil)
}
