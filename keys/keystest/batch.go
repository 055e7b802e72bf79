package keystest

import (
	"context"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// BatchStore is a Store with the BatchGetter capability.
type BatchStore interface {
	keystore.Store
	keystore.BatchGetter
}

// RunBatchGetterTests checks that the stores newStore returns (empty, one
// per call) implement keystore.BatchGetter as documented: LatestKeys
// returns each key's highest version and GetKeys each requested version,
// field for field as CreateKey stored them, over more than one 500-key
// query; unknown keys are left out; a forgotten subject's keys come back
// without material.
func RunBatchGetterTests(t *testing.T, newStore func(t *testing.T) BatchStore) {
	ctx := context.Background()
	s := newStore(t)
	const n = 520
	latest := make(map[keystore.KeyID]keystore.KeyRecord)
	first := make(map[keystore.KeyVersionRef]keystore.KeyRecord)
	var ids []keystore.KeyID
	var refs []keystore.KeyVersionRef
	var forgotten keystore.SubjectRef
	for i := range n {
		subject, id := randomID[keystore.SubjectRef](t), randomID[keystore.KeyID](t)
		versions := uint32(1 + i%3)
		for v := uint32(1); v <= versions; v++ {
			r := record(t, subject, id, v)
			if err := s.CreateKey(ctx, r); err != nil {
				t.Fatal(err)
			}
			latest[id] = r
			if v == 1 {
				first[keystore.KeyVersionRef{ID: id, Version: 1}] = r
			}
		}
		if i == 0 {
			forgotten = subject
		}
		ids = append(ids, id)
		refs = append(refs, keystore.KeyVersionRef{ID: id, Version: 1})
	}
	if _, err := s.Forget(ctx, keystore.Tombstone{Subject: forgotten, ForgottenAt: time.Now().UTC().Truncate(time.Microsecond), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, randomID[keystore.KeyID](t))                                           // unknown
	refs = append(refs, keystore.KeyVersionRef{ID: ids[1], Version: 99})                     // unknown version
	refs = append(refs, keystore.KeyVersionRef{ID: randomID[keystore.KeyID](t), Version: 1}) // unknown key

	check := func(t *testing.T, name string, recs []keystore.KeyRecord, want map[keystore.KeyID]keystore.KeyRecord) {
		t.Helper()
		if len(recs) != len(want) {
			t.Fatalf("%s returned %d records, want %d", name, len(recs), len(want))
		}
		seen := make(map[keystore.KeyID]bool)
		for _, got := range recs {
			w, ok := want[got.ID]
			if !ok || seen[got.ID] {
				t.Fatalf("%s returned key %s unasked or twice", name, got.ID)
			}
			seen[got.ID] = true
			if w.Subject == forgotten {
				if got.Wrapped != nil || got.Version != w.Version {
					t.Fatalf("%s: forgotten subject's key v%d has %d bytes of material, want v%d and none", name, got.Version, len(got.Wrapped), w.Version)
				}
				continue
			}
			sameRecord(t, got, w)
		}
	}
	t.Run("LatestKeys", func(t *testing.T) {
		recs, err := s.LatestKeys(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "LatestKeys", recs, latest)
	})
	t.Run("GetKeys", func(t *testing.T) {
		recs, err := s.GetKeys(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		want := make(map[keystore.KeyID]keystore.KeyRecord)
		for ref, r := range first {
			want[ref.ID] = r
		}
		check(t, "GetKeys", recs, want)
	})
}
