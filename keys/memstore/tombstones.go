package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.TombstoneLister = (*Store)(nil)

// TombstonesSince implements keystore.TombstoneLister.
func (s *Store) TombstonesSince(ctx context.Context, since time.Time) ([]keystore.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keystore.Tombstone
	for _, t := range s.tombstones {
		if !t.ForgottenAt.Before(since) {
			t.DestroyedNow = 0
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b keystore.Tombstone) int { return a.ForgottenAt.Compare(b.ForgottenAt) })
	return out, nil
}
