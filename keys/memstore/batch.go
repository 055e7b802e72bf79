package memstore

import (
	"context"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.BatchGetter = (*Store)(nil)

// LatestKeys implements keystore.BatchGetter.
func (s *Store) LatestKeys(ctx context.Context, ids []keystore.KeyID) ([]keystore.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]keystore.KeyRecord, 0, len(ids))
	for _, id := range ids {
		if vs := s.keys[id]; len(vs) > 0 {
			r, _ := s.result(vs[len(vs)-1]) // Wrapped is nil when destroyed
			out = append(out, r)
		}
	}
	return out, nil
}

// GetKeys implements keystore.BatchGetter.
func (s *Store) GetKeys(ctx context.Context, refs []keystore.KeyVersionRef) ([]keystore.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]keystore.KeyRecord, 0, len(refs))
	for _, ref := range refs {
		for _, r := range s.keys[ref.ID] {
			if r.Version == ref.Version {
				r, _ = s.result(r)
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}
