package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.TokenVaultStore = (*Store)(nil)

type vaultKey struct{ field, key string }

type vaultState struct {
	byToken  map[vaultKey]keystore.TokenEntry
	byLookup map[vaultKey]string // (field, lookup) -> token
}

func cloneEntry(e keystore.TokenEntry) keystore.TokenEntry {
	e.Lookup = slices.Clone(e.Lookup)
	e.Sealed = slices.Clone(e.Sealed)
	return e
}

// PutTokenEntry implements keystore.TokenVaultStore.
func (s *Store) PutTokenEntry(ctx context.Context, e keystore.TokenEntry) (keystore.TokenEntry, error) {
	if err := ctx.Err(); err != nil {
		return keystore.TokenEntry{}, err
	}
	if err := keystore.CheckTokenEntry(e); err != nil {
		return keystore.TokenEntry{}, fmt.Errorf("memstore: put token entry: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &s.vault
	if v.byToken == nil {
		v.byToken = map[vaultKey]keystore.TokenEntry{}
		v.byLookup = map[vaultKey]string{}
	}
	lk := vaultKey{e.Field, string(e.Lookup)}
	if tok, ok := v.byLookup[lk]; ok {
		return cloneEntry(v.byToken[vaultKey{e.Field, tok}]), nil
	}
	tk := vaultKey{e.Field, e.Token}
	if _, ok := v.byToken[tk]; ok {
		return keystore.TokenEntry{}, keystore.ErrTokenTaken
	}
	e = cloneEntry(e)
	v.byToken[tk] = e
	v.byLookup[lk] = e.Token
	return cloneEntry(e), nil
}

// TokenEntryByToken implements keystore.TokenVaultStore.
func (s *Store) TokenEntryByToken(ctx context.Context, field, token string) (keystore.TokenEntry, error) {
	if err := ctx.Err(); err != nil {
		return keystore.TokenEntry{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vault.byToken[vaultKey{field, token}]
	if !ok {
		return keystore.TokenEntry{}, keystore.ErrTokenNotFound
	}
	return cloneEntry(e), nil
}

// TokenEntryByLookup implements keystore.TokenVaultStore.
func (s *Store) TokenEntryByLookup(ctx context.Context, field string, lookup []byte) (keystore.TokenEntry, error) {
	if err := ctx.Err(); err != nil {
		return keystore.TokenEntry{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.vault.byLookup[vaultKey{field, string(lookup)}]
	if !ok {
		return keystore.TokenEntry{}, keystore.ErrTokenNotFound
	}
	return cloneEntry(s.vault.byToken[vaultKey{field, tok}]), nil
}
