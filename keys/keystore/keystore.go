package keystore

import (
	"context"
	"encoding/hex"
	"errors"
	"time"
)

// Errors a Store or KMS returns, wrapped with context as it likes, for
// package keys to branch on with errors.Is. None may carry key material,
// plaintext or a subject identifier.
//
// The three that package keys re-exports keep the "keys:" prefix of their
// messages: users meet them as keys.ErrKeyDestroyed, keys.ErrKeyNotFound
// and keys.ErrCheckValueMissing, and logs and alerts written before this
// package existed match that text.
var (
	// ErrKeyDestroyed means the subject was forgotten: its key material is
	// gone and will never be re-created. It is also keys.ErrKeyDestroyed.
	ErrKeyDestroyed = errors.New("keys: key destroyed (subject forgotten)")
	// ErrKeyNotFound means the keystore holds no such key, tombstone or
	// metadata entry. It is also keys.ErrKeyNotFound.
	ErrKeyNotFound = errors.New("keys: key not found")
	// ErrKeyExists is returned by Store.CreateKey when the version is taken,
	// usually because another process created it first.
	ErrKeyExists = errors.New("keystore: key version already exists")
	// ErrCheckValueMissing is returned by Store.InitMeta when the keystore
	// holds keys or tombstones but not the requested metadata entry: for
	// the root key check value, which also carries the identifier key every
	// subject reference is derived from, a partial restore, a migration or
	// a cleanup script dropped that one row. It is also
	// keys.ErrCheckValueMissing, under which keys.Open refuses such a
	// keystore (see there for the recovery).
	ErrCheckValueMissing = errors.New("keys: keystore holds keys but its root key check value is missing; " +
		"restore the metadata entry id-key.v1 from a backup of this keystore")
	// ErrUnwrap is the single opaque error a KMS returns for a wrapped key
	// that fails authentication (wrong root key, tampering, wrong
	// associated data).
	ErrUnwrap = errors.New("keystore: unwrap failed")
)

// KMS holds the root key. It wraps (encrypts) and unwraps subject keys,
// binding each to associatedData, which must be presented again to unwrap.
// Implementations must be safe for concurrent use, must use randomised
// authenticated encryption, and must return an error wrapping [ErrUnwrap]
// when authentication fails — and only then: an outage or a refused
// request is another error, so that it is never reported as a wrong root
// key. They must pass keystest.RunKMSTests.
type KMS interface {
	Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error)
}

// SubjectRef is the keystore's name for a data subject: a 128-bit keyed hash
// of the subject identifier, so the keystore never holds the identifier.
// Package keys derives it (keys.Keyring.SubjectRef) and names it
// keys.SubjectRef.
type SubjectRef [16]byte

// String returns the reference in hex; it is safe to log.
func (r SubjectRef) String() string { return hex.EncodeToString(r[:]) }

// KeyID names the key of one (subject, purpose) pair; versions share it.
// Ciphertexts carry it. It is derived like [SubjectRef] and safe to log;
// package keys names it keys.KeyID.
type KeyID [16]byte

// String returns the identifier in hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// KeyRecord is one stored key version. Wrapped is nil once destroyed.
// Version is 1 to 2^31-1 (keys.MaxVersion); Purpose passes
// keys.ValidatePurpose, so it is at most 64 bytes (keys.MaxPurposeLen).
type KeyRecord struct {
	ID          KeyID
	Version     uint32
	Subject     SubjectRef
	Purpose     string
	Wrapped     []byte
	CreatedAt   time.Time
	DestroyedAt time.Time // zero while the key is live
}

// Tombstone records that a subject was forgotten. It holds no key material.
// The first Forget of a subject writes it; later ones keep its time and
// reason. keys.Keyring.Forget returns it, as keys.Tombstone.
type Tombstone struct {
	Subject     SubjectRef
	ForgottenAt time.Time
	// Reason is the caller's reference for the erasure (a ticket number, say).
	// It is stored and logged: it must not contain personal data.
	Reason string
	// Destroyed is how many key versions had their material deleted, by
	// the first Forget and every later one together.
	Destroyed int
	// DestroyedNow is how many of them the call that returned this value
	// destroyed; it is not stored. A repeated Forget normally destroys
	// nothing (0); more means key material had come back under the
	// tombstone — a table-level restore, replication lag, a bad migration —
	// and was destroyed again.
	DestroyedNow int
	// Scheduled is how many keys of the subject a retention policy's legal
	// minimum or a hold keeps for now; it is not stored. keys.Keyring.Forget
	// sets it: while it is not 0, ForgottenAt is zero, the subject is not
	// forgotten yet, and the expiry sweep (keys.Keyring.Expire) forgets it
	// once the last of them is destroyed. keys.Keyring.Erase tells which
	// keys and when.
	Scheduled int
}

// Store keeps wrapped keys and tombstones. Implementations must be safe for
// concurrent use, also by several processes where the backend is shared,
// and must pass keystest.RunStoreTests and keystest.RunKeyringTests.
//
// A tombstone wins over every key row: a read of a key whose subject has a
// tombstone fails with ErrKeyDestroyed and returns no material, whatever
// the row holds, so that a key row brought back by a restore is never used.
//
// Most users won't implement a Store: use keys/memstore or keys/sqlstore.
type Store interface {
	// CreateKey stores a new key version. It fails with ErrKeyDestroyed if
	// the subject has a tombstone and with ErrKeyExists if (ID, Version)
	// exists; the tombstone check and the insert are one atomic step.
	CreateKey(ctx context.Context, rec KeyRecord) error
	// LatestKey returns the highest version of id. It fails with
	// ErrKeyNotFound when there is none and ErrKeyDestroyed, with Wrapped
	// nil, when that version's material is gone or the subject has a
	// tombstone.
	LatestKey(ctx context.Context, id KeyID) (KeyRecord, error)
	// GetKey returns one version, failing like LatestKey.
	GetKey(ctx context.Context, id KeyID, version uint32) (KeyRecord, error)
	// Forget deletes the material of every key of t.Subject and records t,
	// atomically, and returns t with Destroyed and DestroyedNow set. If the
	// subject was already forgotten it keeps the first tombstone's time and
	// reason, still deletes any material found under it (adding the count
	// to the stored Destroyed) and returns that tombstone with DestroyedNow
	// set.
	Forget(ctx context.Context, t Tombstone) (Tombstone, error)
	// Tombstone returns the subject's tombstone, or ErrKeyNotFound.
	Tombstone(ctx context.Context, subject SubjectRef) (Tombstone, error)
	// InitMeta returns the value stored under name. If there is none and
	// the keystore is empty — no key, no tombstone — it stores value first,
	// in one atomic step with the emptiness check, so that of several
	// processes initialising one keystore all get the same value. If there
	// is none and the keystore is not empty, it stores nothing and fails
	// with ErrCheckValueMissing. Keyrings keep the root key check value
	// here.
	InitMeta(ctx context.Context, name string, value []byte) ([]byte, error)
}
