package keys

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Errors callers branch on. They are wrapped with context; match them with
// errors.Is. No error from this package contains key material, plaintext or
// a subject identifier.
//
// ErrKeyDestroyed, ErrVersionDestroyed, ErrKeyNotFound and
// ErrCheckValueMissing are the values of the same names in package
// keys/keystore, whose Stores return them, so
// that errors.Is(err, keys.ErrKeyDestroyed) and errors.Is(err,
// keystore.ErrKeyDestroyed) are one test: users match the names here,
// backends return those of keystore.
var (
	// ErrKeyDestroyed means the subject was forgotten: its key material is
	// gone and will never be re-created.
	ErrKeyDestroyed = keystore.ErrKeyDestroyed
	// ErrKeyNotFound means the keystore holds no such key.
	ErrKeyNotFound = keystore.ErrKeyNotFound
	// ErrInvalidSubject means the subject is empty, too long or not UTF-8.
	ErrInvalidSubject = errors.New("keys: invalid subject")
	// ErrInvalidPurpose means the purpose does not match [a-z0-9][a-z0-9._-]{0,63}.
	ErrInvalidPurpose = errors.New("keys: invalid purpose")
	// ErrRootKeyMismatch means the configured root key is not the one the
	// keystore was created with.
	ErrRootKeyMismatch = errors.New("keys: root key does not match the keystore")
	// ErrRootKeyInvalid means a root key could not be loaded: missing,
	// malformed, wrong length or stored with unsafe permissions.
	ErrRootKeyInvalid = errors.New("keys: invalid root key")
	// ErrCheckValueMissing means the keystore holds keys or tombstones but
	// not the root key check value, which also carries the identifier key
	// every subject reference is derived from: a partial restore, a
	// migration or a cleanup script dropped that one row. Open refuses such
	// a keystore instead of starting a new identifier key, under which every
	// existing key would be unreachable and every Forget a silent no-op.
	// To recover, restore the metadata entry named "id-key.v1"
	// (keys/sqlstore: table fieldcrypt_meta) from a backup of the same
	// keystore; any backup taken since the keystore was created holds it.
	ErrCheckValueMissing = keystore.ErrCheckValueMissing
)

// SubjectRef is the keystore's name for a data subject: a 128-bit keyed
// hash of the subject identifier, so the keystore never holds the
// identifier. [Keyring.SubjectRef] computes it; [Keyring.OnForget] and
// [Keyring.ForgottenRefs] deal in it. Its canonical home is package
// keys/keystore.
type SubjectRef = keystore.SubjectRef

// KeyID names the key of one (subject, purpose) pair; versions share it.
// Ciphertexts carry it. It is derived like [SubjectRef] and safe to log.
// Its canonical home is package keys/keystore.
type KeyID = keystore.KeyID

// Tombstone records that a subject was forgotten: [Keyring.Forget] returns
// it and [Status] holds it. It holds the subject's reference, when it was
// first forgotten (ForgottenAt), the caller's reason (Reason), how many key
// versions were destroyed (Destroyed) and how many of them by the call that
// returned it (DestroyedNow), and no key material. Its canonical home is
// package keys/keystore, where its fields are documented.
type Tombstone = keystore.Tombstone

const (
	// DefaultPurpose is the purpose used when none is given.
	DefaultPurpose = "default"
	// MaxSubjectLen is the longest subject identifier, in bytes.
	MaxSubjectLen = 256
	// MaxPurposeLen is the longest purpose, in bytes.
	MaxPurposeLen = 64
	// MaxVersion is the highest key version.
	MaxVersion = 1<<31 - 1
	// KeySize is the size of every subject key, in bytes.
	KeySize = 32
)

// ValidateSubject reports whether s is a usable subject identifier.
func ValidateSubject(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: subject is empty", ErrInvalidSubject)
	case len(s) > MaxSubjectLen:
		return fmt.Errorf("%w: subject longer than %d bytes", ErrInvalidSubject, MaxSubjectLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: subject is not valid UTF-8", ErrInvalidSubject)
	}
	return nil
}

// ValidatePurpose reports whether p is a well-formed purpose.
func ValidatePurpose(p string) error {
	if p == "" || len(p) > MaxPurposeLen {
		return fmt.Errorf("%w: purpose must be 1 to %d bytes", ErrInvalidPurpose, MaxPurposeLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("%w: purpose must match [a-z0-9][a-z0-9._-]*", ErrInvalidPurpose)
		}
	}
	return nil
}
