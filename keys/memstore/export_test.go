package memstore

import (
	"slices"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Beneath-the-API access for keystest.Harness: what a restore or a cleanup
// script does to a keystore.

func DeleteMeta(s *Store, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.meta, name)
}

func RestoreMeta(s *Store, name string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta[name] = slices.Clone(value)
}

func RestoreKey(s *Store, rec keystore.KeyRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.keys[rec.ID]
	for i := range vs {
		if vs[i].Version == rec.Version {
			vs[i] = clone(rec)
			return
		}
	}
	s.keys[rec.ID] = append(vs, clone(rec))
	slices.SortFunc(s.keys[rec.ID], func(a, b keystore.KeyRecord) int { return int(int64(a.Version) - int64(b.Version)) })
}

func Material(s *Store, id keystore.KeyID, version uint32) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.keys[id] {
		if r.Version == version {
			return slices.Clone(r.Wrapped), true
		}
	}
	return nil, false
}
