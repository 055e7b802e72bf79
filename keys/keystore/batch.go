package keystore

import "context"

// KeyVersionRef names one key version: what a ciphertext header carries.
type KeyVersionRef struct {
	ID      KeyID
	Version uint32
}

// BatchGetter is an optional Store capability: reading many keys in one
// query, so that keys.Keyring.Warm loads a page of subjects with a few
// round trips instead of one per subject. keys/memstore and keys/sqlstore
// implement it.
//
// Both methods return at most one record per requested key, in any order,
// and leave out keys the store does not hold. They follow the tombstone
// rule of Store: a key whose subject has a tombstone, or whose material is
// destroyed, is returned with Wrapped nil. An error means the whole call
// failed. Callers pass at most 500 keys per call.
//
// Most users won't implement it.
type BatchGetter interface {
	// LatestKeys returns the highest version of each id.
	LatestKeys(ctx context.Context, ids []KeyID) ([]KeyRecord, error)
	// GetKeys returns each requested version.
	GetKeys(ctx context.Context, refs []KeyVersionRef) ([]KeyRecord, error)
}

// UnwrapRequest is one wrapped value for KMSBatchUnwrapper.UnwrapBatch,
// with the associated data it was wrapped with.
type UnwrapRequest struct {
	Wrapped        []byte
	AssociatedData []byte
}

// UnwrapResult is the outcome for one UnwrapRequest: the plaintext, or an
// error (wrapping ErrUnwrap when the value does not authenticate).
type UnwrapResult struct {
	Plaintext []byte
	Err       error
}

// KMSBatchUnwrapper is an optional KMS capability: unwrapping many values
// in one call (Vault Transit's batch_input, say), which keys.Keyring.Warm
// uses. keys/localkms and keys/vaultkms implement it.
type KMSBatchUnwrapper interface {
	// UnwrapBatch returns one result per request, in order. A non-nil
	// error means the whole call failed (network, permission) and nothing
	// may be assumed about any item.
	UnwrapBatch(ctx context.Context, reqs []UnwrapRequest) ([]UnwrapResult, error)
}
