package keystore

import (
	"context"
	"errors"
	"time"
)

// Errors of a TokenVaultStore, matched with errors.Is.
var (
	// ErrTokenNotFound means the vault holds no entry for the token (or
	// lookup) in that field.
	ErrTokenNotFound = errors.New("keystore: token not in the vault")
	// ErrTokenTaken means another value already holds the token in that
	// field: the caller draws another one.
	ErrTokenTaken = errors.New("keystore: token already taken in this field")
)

// Limits of a TokenEntry, enforced by every TokenVaultStore.
const (
	MaxTokenFieldLen  = 255 // bytes of TokenEntry.Field
	MaxTokenLen       = 255 // bytes of TokenEntry.Token
	TokenLookupLen    = 32  // bytes of TokenEntry.Lookup
	MaxTokenSealedLen = 4096
)

// TokenEntry is one entry of a token vault (tokenize.Vault): a random
// token and the value it stands for, sealed under a subject's key, with a
// blind index of the value so that tokenizing it again finds the token.
// Nothing in it is the value in clear.
type TokenEntry struct {
	// Field is the column or domain label the token belongs to: tokens
	// are unique within a field.
	Field string
	// Token is the random token, in clear: it is what the application
	// stores in its own tables.
	Token string
	// Lookup is the blind index of the value (an HMAC under a key derived
	// from the subject's key), unique within a field.
	Lookup []byte
	// Subject is the reference of the subject whose key seals the entry.
	Subject SubjectRef
	// Key is that key; once it is destroyed the entry cannot be opened.
	Key KeyID
	// Sealed is the value, encrypted and authenticated under Key.
	Sealed []byte
	// Created is when the entry was inserted.
	Created time.Time
}

// TokenVaultStore is an optional Store capability: the table of a token
// vault. keys/memstore and keys/sqlstore implement it; tokenize.NewVault
// takes one.
//
// Entries are never updated. A field maps each token to one entry and each
// lookup to one entry, and the store enforces both atomically, across
// processes for a shared database: that is what makes two services
// tokenizing the same new value at once agree on one token.
//
// Most users won't implement it.
type TokenVaultStore interface {
	// PutTokenEntry inserts e unless its field already holds an entry
	// with e.Lookup, and returns the entry the field holds for e.Lookup
	// afterwards: e when it was inserted, the earlier entry when another
	// caller won. It fails with ErrTokenTaken when e.Token is held by an
	// entry with another lookup (nothing is inserted; draw another token).
	PutTokenEntry(ctx context.Context, e TokenEntry) (TokenEntry, error)
	// TokenEntryByToken returns the entry of token in field, or
	// ErrTokenNotFound.
	TokenEntryByToken(ctx context.Context, field, token string) (TokenEntry, error)
	// TokenEntryByLookup returns the entry of lookup in field, or
	// ErrTokenNotFound.
	TokenEntryByLookup(ctx context.Context, field string, lookup []byte) (TokenEntry, error)
}

// CheckTokenEntry reports whether e respects the limits every
// TokenVaultStore enforces; stores call it before inserting.
func CheckTokenEntry(e TokenEntry) error {
	switch {
	case e.Field == "" || len(e.Field) > MaxTokenFieldLen:
		return errors.New("keystore: token vault field must have 1 to 255 bytes")
	case e.Token == "" || len(e.Token) > MaxTokenLen:
		return errors.New("keystore: token must have 1 to 255 bytes")
	case len(e.Lookup) != TokenLookupLen:
		return errors.New("keystore: token lookup must have 32 bytes")
	case len(e.Sealed) == 0 || len(e.Sealed) > MaxTokenSealedLen:
		return errors.New("keystore: sealed token value must have 1 to 4096 bytes")
	}
	return nil
}
