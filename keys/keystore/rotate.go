package keystore

import (
	"bytes"
	"context"
	"errors"
)

// ErrRewrapConflict is returned by RotatableStore.RewrapKey and RewrapMeta
// when the stored wrapped value is no longer the one the caller read: another
// rotation got there first. keys.RotateRoot treats it as done by the other
// run.
var ErrRewrapConflict = errors.New("keystore: wrapped value changed concurrently")

// KeyCursor is a position in the keystore's order of key versions: by key
// identifier (bytewise), then version. The zero cursor is before every key.
// keys.RotateOptions resumes a rotation from one (as keys.KeyCursor).
type KeyCursor struct {
	ID      KeyID
	Version uint32
}

// Less reports whether c comes before d.
func (c KeyCursor) Less(d KeyCursor) bool {
	if x := bytes.Compare(c.ID[:], d.ID[:]); x != 0 {
		return x < 0
	}
	return c.Version < d.Version
}

// RotatableStore is the optional Store capability keys.RotateRoot needs:
// listing the live keys in a stable order and replacing a wrapped value by
// compare-and-swap, so that a rotation never loses a key to a race with
// another rotation, a Forget or a crash. keys/memstore and keys/sqlstore
// implement it; keystest.RunRotatableStoreTests checks it.
//
// Most users won't implement it.
type RotatableStore interface {
	Store
	// LiveKeys returns up to limit records that still hold key material,
	// in KeyCursor order, strictly after after.
	LiveKeys(ctx context.Context, after KeyCursor, limit int) ([]KeyRecord, error)
	// CountLiveKeys returns how many records still hold key material.
	CountLiveKeys(ctx context.Context) (int, error)
	// RewrapKey replaces the wrapped material of (id, version) with
	// newWrapped if and only if it is currently oldWrapped. It fails with
	// ErrKeyDestroyed if the key was destroyed meanwhile (a destroyed key
	// is never brought back), ErrKeyNotFound if there is no such key and
	// ErrRewrapConflict if the material is neither oldWrapped nor gone.
	RewrapKey(ctx context.Context, id KeyID, version uint32, oldWrapped, newWrapped []byte) error
	// Meta returns the value stored under name, or ErrKeyNotFound.
	Meta(ctx context.Context, name string) ([]byte, error)
	// RewrapMeta replaces the value of name with newValue if and only if it
	// is currently oldValue, failing with ErrRewrapConflict otherwise.
	RewrapMeta(ctx context.Context, name string, oldValue, newValue []byte) error
}

// RewrapRequest is one wrapped value for KMSRewrapper.Rewrap, with the
// associated data it was wrapped with.
type RewrapRequest struct {
	Wrapped        []byte
	AssociatedData []byte
}

// RewrapResult is the outcome for one RewrapRequest: the value wrapped under
// the KMS's newest root key version, or an error (wrapping ErrUnwrap when
// the value does not authenticate).
type RewrapResult struct {
	Wrapped []byte
	Err     error
}

// KMSRewrapper is an optional KMS capability: re-encrypting wrapped values
// under the newest version of the root key inside the KMS, so that the
// subject keys never leave it (Vault Transit's rewrap endpoint).
// keys.RotateRoot uses it when the source and destination KMS are the
// same.
type KMSRewrapper interface {
	// Rewrap returns one result per request, in order. A non-nil error
	// means the whole call failed (network, permission) and nothing may be
	// assumed about any item.
	Rewrap(ctx context.Context, reqs []RewrapRequest) ([]RewrapResult, error)
}

// RootVersioner is an optional KMS capability: telling, from a wrapped
// value alone, which version of a rotating root key wrapped it (Vault
// Transit's "vault:vN:" prefix). keys.RotateRoot uses it to report
// keys.RotateStats.MinRootVersion, the lowest version a keystore still
// needs. keys/vaultkms implements it; a KMS whose root key has a single
// version (keys/localkms) has nothing to report.
//
// Most users won't implement it.
type RootVersioner interface {
	// WrappedVersion returns the root key version (1 or more) that
	// wrapped w, or an error if w is not a value this KMS wraps.
	WrappedVersion(wrapped []byte) (int, error)
}
