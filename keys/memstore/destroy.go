package memstore

import (
	"context"
	"errors"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.VersionDestroyer = (*Store)(nil)

// DestroyVersions implements keystore.VersionDestroyer.
func (s *Store) DestroyVersions(ctx context.Context, id keystore.KeyID, below uint32) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.keys[id]
	if len(vs) == 0 {
		return 0, keystore.ErrKeyNotFound
	}
	if below == 0 || below > vs[len(vs)-1].Version {
		return 0, errors.New("memstore: destroy versions: below must be 1 to the latest version")
	}
	s.floors[id] = max(s.floors[id], below)
	now := time.Now().UTC().Truncate(time.Microsecond)
	n := 0
	for i := range vs {
		if vs[i].Version < below && vs[i].Wrapped != nil {
			clear(vs[i].Wrapped)
			vs[i].Wrapped = nil
			vs[i].DestroyedAt = now
			n++
		}
	}
	return n, nil
}
