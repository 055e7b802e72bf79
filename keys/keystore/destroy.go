package keystore

import (
	"context"
	"fmt"
)

// ErrVersionDestroyed means one version of a key was destroyed by
// VersionDestroyer.DestroyVersions while the subject was not forgotten: its
// material is gone and will never be re-created. It wraps ErrKeyDestroyed,
// so errors.Is(err, ErrKeyDestroyed) holds for it too. It is also
// keys.ErrVersionDestroyed.
var ErrVersionDestroyed = fmt.Errorf("keys: key version destroyed (older versions of the key were destroyed): %w", ErrKeyDestroyed)

// VersionDestroyer is an optional capability of a [Store]: destroying the
// old versions of one key while its newer ones stay live, for
// keys.Keyring.DestroyVersionsBelow. keys/memstore and keys/sqlstore
// implement it; keystest.RunVersionDestroyerTests checks it.
//
// A Store records, per key, the lowest version still allowed to hold
// material (its floor), apart from the key rows, as a tombstone is kept
// apart from them: a key row below the floor is read, listed and re-wrapped
// as destroyed (ErrKeyDestroyed, no material), whatever the row holds, so
// that a row brought back by a restore is never used, and CreateKey fails
// with ErrKeyDestroyed for a version below it.
//
// Most users won't implement it.
type VersionDestroyer interface {
	Store
	// DestroyVersions deletes the material of every version of id lower
	// than below and raises id's floor to below (it never lowers it), in
	// one atomic step, and returns how many versions this call found with
	// material and destroyed (0 when repeated). It fails with
	// ErrKeyNotFound when id has no version, and without destroying
	// anything when below is 0 or higher than id's latest version: the
	// latest version is never destroyed this way (Forget destroys all).
	DestroyVersions(ctx context.Context, id KeyID, below uint32) (n int, err error)
}
