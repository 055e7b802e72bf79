package memstore

import (
	"slices"
	"strings"

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

// TamperAudit changes the audit log as keystest.LifecycleHarness says.
func TamperAudit(s *Store, op string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.life.audit
	i := int(seq - 1)
	switch op {
	case "remove":
		s.life.audit = slices.Delete(a, i, i+1)
	case "swap":
		a[i].Entry, a[i+1].Entry = a[i+1].Entry, a[i].Entry
		a[i].Hash, a[i+1].Hash = a[i+1].Hash, a[i].Hash
	case "edit":
		a[i].Entry = []byte(strings.Replace(string(a[i].Entry), `"time":"`, `"time":"1`, 1))
	}
}
