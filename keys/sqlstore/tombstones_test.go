package sqlstore_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

func TestTombstonesSince(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.fresh(t))
			base := time.Now().UTC().Truncate(time.Microsecond)
			var refs [3]keystore.SubjectRef
			for i := range refs {
				rand.Read(refs[i][:])
				at := base.Add(time.Duration(i) * time.Millisecond)
				if _, err := s.Forget(t.Context(), keystore.Tombstone{Subject: refs[i], ForgottenAt: at, Reason: "r"}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.TombstonesSince(t.Context(), base.Add(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Subject != refs[1] || got[1].Subject != refs[2] ||
				!got[0].ForgottenAt.Equal(base.Add(time.Millisecond)) || got[0].Reason != "r" {
				t.Fatalf("TombstonesSince = %+v", got)
			}
			if got, err := s.TombstonesSince(t.Context(), base.Add(time.Hour)); err != nil || len(got) != 0 {
				t.Fatalf("TombstonesSince(future) = %v, %v", got, err)
			}
		})
	}
}

func TestTombstoneListerConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			keystest.RunTombstoneListerTests(t, func(t *testing.T) keystest.TombstoneListingStore { return mustOpen(t, b.fresh(t)) })
		})
	}
}
