package memstore

import (
	"bytes"
	"context"
	"slices"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.RotatableStore = (*Store)(nil)

// LiveKeys implements keystore.RotatableStore. It sorts every key on each call:
// fine for the sizes an in-memory store holds.
func (s *Store) LiveKeys(ctx context.Context, after keystore.KeyCursor, limit int) ([]keystore.KeyRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keystore.KeyRecord
	for _, vs := range s.keys {
		for _, r := range vs {
			if s.live(r) && after.Less(keystore.KeyCursor{ID: r.ID, Version: r.Version}) {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b keystore.KeyRecord) int {
		if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
			return c
		}
		return int(int64(a.Version) - int64(b.Version))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i] = clone(out[i])
	}
	return out, nil
}

// CountLiveKeys implements keystore.RotatableStore.
func (s *Store) CountLiveKeys(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, vs := range s.keys {
		for _, r := range vs {
			if s.live(r) {
				n++
			}
		}
	}
	return n, nil
}

// RewrapKey implements keystore.RotatableStore.
func (s *Store) RewrapKey(ctx context.Context, id keystore.KeyID, version uint32, oldWrapped, newWrapped []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.keys[id]
	for i := range vs {
		if vs[i].Version != version {
			continue
		}
		switch {
		case !s.live(vs[i]):
			return keystore.ErrKeyDestroyed
		case !bytes.Equal(vs[i].Wrapped, oldWrapped):
			return keystore.ErrRewrapConflict
		}
		vs[i].Wrapped = slices.Clone(newWrapped)
		return nil
	}
	return keystore.ErrKeyNotFound
}

// Meta implements keystore.RotatableStore.
func (s *Store) Meta(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.meta[name]
	if !ok {
		return nil, keystore.ErrKeyNotFound
	}
	return slices.Clone(v), nil
}

// RewrapMeta implements keystore.RotatableStore.
func (s *Store) RewrapMeta(ctx context.Context, name string, oldValue, newValue []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.meta[name]
	switch {
	case !ok:
		return keystore.ErrKeyNotFound
	case !bytes.Equal(v, oldValue):
		return keystore.ErrRewrapConflict
	}
	s.meta[name] = slices.Clone(newValue)
	return nil
}
