// Package memstore is an in-memory keystore.Store for tests and short-lived
// programs. Everything it holds is lost when the process exits, so data
// encrypted under its keys becomes unreadable then: do not use it for data
// you keep.
package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Store is an in-memory keystore.Store. It is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	keys       map[keystore.KeyID][]keystore.KeyRecord // versions in ascending order
	tombstones map[keystore.SubjectRef]keystore.Tombstone
	floors     map[keystore.KeyID]uint32 // versions below were destroyed by DestroyVersions
	meta       map[string][]byte
	life       lifeState  // see lifecycle.go
	vault      vaultState // see tokenvault.go
}

var _ keystore.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{
		keys:       make(map[keystore.KeyID][]keystore.KeyRecord),
		tombstones: make(map[keystore.SubjectRef]keystore.Tombstone),
		floors:     make(map[keystore.KeyID]uint32),
		meta:       make(map[string][]byte),
	}
}

func clone(r keystore.KeyRecord) keystore.KeyRecord {
	r.Wrapped = slices.Clone(r.Wrapped)
	return r
}

// CreateKey implements keystore.Store.
func (s *Store) CreateKey(ctx context.Context, rec keystore.KeyRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.tombstones[rec.Subject]; gone {
		return keystore.ErrKeyDestroyed
	}
	if rec.Version < s.floors[rec.ID] {
		return keystore.ErrVersionDestroyed
	}
	vs := s.keys[rec.ID]
	i, found := slices.BinarySearchFunc(vs, rec.Version, func(r keystore.KeyRecord, v uint32) int {
		return int(int64(r.Version) - int64(v))
	})
	if found {
		return keystore.ErrKeyExists
	}
	s.keys[rec.ID] = slices.Insert(vs, i, clone(rec))
	return nil
}

// result returns a copy of r, without material when it is destroyed, its
// subject has a tombstone or its version is below its key's floor (a
// tombstone or a floor wins over any key row). s.mu is held.
func (s *Store) result(r keystore.KeyRecord) (keystore.KeyRecord, error) {
	if _, gone := s.tombstones[r.Subject]; gone {
		r.Wrapped = nil
		return r, keystore.ErrKeyDestroyed
	}
	if r.Version < s.floors[r.ID] {
		r.Wrapped = nil
		return r, keystore.ErrVersionDestroyed
	}
	if r.Wrapped == nil {
		return r, keystore.ErrKeyDestroyed
	}
	return clone(r), nil
}

// live reports whether r holds material a reader may use. s.mu is held.
func (s *Store) live(r keystore.KeyRecord) bool {
	_, gone := s.tombstones[r.Subject]
	return r.Wrapped != nil && !gone && r.Version >= s.floors[r.ID]
}

// LatestKey implements keystore.Store.
func (s *Store) LatestKey(ctx context.Context, id keystore.KeyID) (keystore.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return keystore.KeyRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.keys[id]
	if len(vs) == 0 {
		return keystore.KeyRecord{}, keystore.ErrKeyNotFound
	}
	return s.result(vs[len(vs)-1])
}

// GetKey implements keystore.Store.
func (s *Store) GetKey(ctx context.Context, id keystore.KeyID, version uint32) (keystore.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return keystore.KeyRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.keys[id] {
		if r.Version == version {
			return s.result(r)
		}
	}
	return keystore.KeyRecord{}, keystore.ErrKeyNotFound
}

// Forget implements keystore.Store.
func (s *Store) Forget(ctx context.Context, t keystore.Tombstone) (keystore.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return keystore.Tombstone{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, repeated := s.tombstones[t.Subject]
	n := 0
	for _, vs := range s.keys {
		for i := range vs {
			if vs[i].Subject == t.Subject && vs[i].Wrapped != nil {
				clear(vs[i].Wrapped)
				vs[i].Wrapped = nil
				vs[i].DestroyedAt = t.ForgottenAt
				n++
			}
		}
	}
	if repeated {
		t = old
		t.Destroyed += n
	} else {
		t.Destroyed = n
	}
	t.DestroyedNow = 0
	s.tombstones[t.Subject] = t
	t.DestroyedNow = n
	return t, nil
}

// Tombstone implements keystore.Store.
func (s *Store) Tombstone(ctx context.Context, subject keystore.SubjectRef) (keystore.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return keystore.Tombstone{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tombstones[subject]
	if !ok {
		return keystore.Tombstone{}, keystore.ErrKeyNotFound
	}
	t.DestroyedNow = 0
	return t, nil
}

var _ keystore.ForgottenLister = (*Store)(nil)

// ForgottenAmong implements keystore.ForgottenLister.
func (s *Store) ForgottenAmong(ctx context.Context, refs []keystore.SubjectRef) ([]keystore.SubjectRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keystore.SubjectRef
	seen := map[keystore.SubjectRef]bool{}
	for _, r := range refs {
		if _, ok := s.tombstones[r]; ok && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// InitMeta implements keystore.Store.
func (s *Store) InitMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.meta[name]; ok {
		return slices.Clone(old), nil
	}
	if len(s.keys) > 0 || len(s.tombstones) > 0 {
		return nil, keystore.ErrCheckValueMissing
	}
	s.meta[name] = slices.Clone(value)
	return slices.Clone(value), nil
}
