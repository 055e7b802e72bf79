// Package memstore is an in-memory keys.Store for tests and short-lived
// programs. Everything it holds is lost when the process exits, so data
// encrypted under its keys becomes unreadable then: do not use it for data
// you keep.
package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

// Store is an in-memory keys.Store. It is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	keys       map[keys.KeyID][]keys.KeyRecord // versions in ascending order
	tombstones map[keys.SubjectRef]keys.Tombstone
	meta       map[string][]byte
}

var _ keys.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{
		keys:       make(map[keys.KeyID][]keys.KeyRecord),
		tombstones: make(map[keys.SubjectRef]keys.Tombstone),
		meta:       make(map[string][]byte),
	}
}

func clone(r keys.KeyRecord) keys.KeyRecord {
	r.Wrapped = slices.Clone(r.Wrapped)
	return r
}

// CreateKey implements keys.Store.
func (s *Store) CreateKey(ctx context.Context, rec keys.KeyRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.tombstones[rec.Subject]; gone {
		return keys.ErrKeyDestroyed
	}
	vs := s.keys[rec.ID]
	i, found := slices.BinarySearchFunc(vs, rec.Version, func(r keys.KeyRecord, v uint32) int {
		return int(int64(r.Version) - int64(v))
	})
	if found {
		return keys.ErrKeyExists
	}
	s.keys[rec.ID] = slices.Insert(vs, i, clone(rec))
	return nil
}

// result returns a copy of r, without material when it is destroyed or its
// subject has a tombstone (a tombstone wins over any key row). s.mu is held.
func (s *Store) result(r keys.KeyRecord) (keys.KeyRecord, error) {
	if _, gone := s.tombstones[r.Subject]; gone || r.Wrapped == nil {
		r.Wrapped = nil
		return r, keys.ErrKeyDestroyed
	}
	return clone(r), nil
}

// live reports whether r holds material a reader may use. s.mu is held.
func (s *Store) live(r keys.KeyRecord) bool {
	_, gone := s.tombstones[r.Subject]
	return r.Wrapped != nil && !gone
}

// LatestKey implements keys.Store.
func (s *Store) LatestKey(ctx context.Context, id keys.KeyID) (keys.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return keys.KeyRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.keys[id]
	if len(vs) == 0 {
		return keys.KeyRecord{}, keys.ErrKeyNotFound
	}
	return s.result(vs[len(vs)-1])
}

// GetKey implements keys.Store.
func (s *Store) GetKey(ctx context.Context, id keys.KeyID, version uint32) (keys.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return keys.KeyRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.keys[id] {
		if r.Version == version {
			return s.result(r)
		}
	}
	return keys.KeyRecord{}, keys.ErrKeyNotFound
}

// Forget implements keys.Store.
func (s *Store) Forget(ctx context.Context, t keys.Tombstone) (keys.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return keys.Tombstone{}, err
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

// Tombstone implements keys.Store.
func (s *Store) Tombstone(ctx context.Context, subject keys.SubjectRef) (keys.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return keys.Tombstone{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tombstones[subject]
	if !ok {
		return keys.Tombstone{}, keys.ErrKeyNotFound
	}
	t.DestroyedNow = 0
	return t, nil
}

var _ keys.ForgottenLister = (*Store)(nil)

// ForgottenAmong implements keys.ForgottenLister.
func (s *Store) ForgottenAmong(ctx context.Context, refs []keys.SubjectRef) ([]keys.SubjectRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keys.SubjectRef
	seen := map[keys.SubjectRef]bool{}
	for _, r := range refs {
		if _, ok := s.tombstones[r]; ok && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// InitMeta implements keys.Store.
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
		return nil, keys.ErrCheckValueMissing
	}
	s.meta[name] = slices.Clone(value)
	return slices.Clone(value), nil
}
