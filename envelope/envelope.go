package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/daead/subtle"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

// Errors callers branch on, matched with errors.Is. A forgotten subject's
// data fails with keys.ErrKeyDestroyed instead.
var (
	// ErrDecrypt is the one opaque error for a ciphertext that does not
	// authenticate: wrong associated data, tampering, or an unknown key.
	ErrDecrypt = errors.New("envelope: decryption failed")
	// ErrMalformed means the input is not a fieldcrypt ciphertext at all:
	// truncated, unknown mode, or not valid base64 in the string form.
	ErrMalformed = errors.New("envelope: malformed ciphertext")
	// ErrUnsupportedVersion means the ciphertext was written by a newer
	// fieldcrypt format than this version reads.
	ErrUnsupportedVersion = errors.New("envelope: unsupported ciphertext format version")
)

// Mode is how a ciphertext was encrypted.
type Mode byte

// The modes.
const (
	Randomized    Mode = 1 // AES-256-GCM, random nonce
	Deterministic Mode = 2 // AES-SIV
)

func (m Mode) String() string {
	switch m {
	case Randomized:
		return "AES-256-GCM"
	case Deterministic:
		return "AES-SIV"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

const (
	// FormatVersion is the ciphertext format this package writes.
	FormatVersion = 1
	// HeaderSize is the size of a ciphertext's header in bytes.
	HeaderSize = 22

	nonceSize   = 12
	gcmOverhead = nonceSize + 16
	sivOverhead = 16

	labelGCM = "fieldcrypt/envelope/v1/aes-256-gcm"
	labelSIV = "fieldcrypt/envelope/v1/aes-siv"
)

// Header is the parsed, unauthenticated header of a ciphertext.
type Header struct {
	Version int // format version
	Mode    Mode
	KeyID   keys.KeyID
	KeyVer  uint32
}

// ParseHeader parses the header of a binary ciphertext and returns it with
// the rest of the input. It does not authenticate anything. Malformed input
// gives ErrMalformed, a newer format ErrUnsupportedVersion.
func ParseHeader(ciphertext []byte) (Header, []byte, error) {
	var h Header
	if len(ciphertext) == 0 {
		return h, nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if ciphertext[0] != FormatVersion {
		if ciphertext[0] > FormatVersion {
			return h, nil, fmt.Errorf("%w: format version %d is newer than the supported version %d",
				ErrUnsupportedVersion, ciphertext[0], FormatVersion)
		}
		return h, nil, fmt.Errorf("%w: unknown format version %d", ErrMalformed, ciphertext[0])
	}
	if len(ciphertext) < HeaderSize {
		return h, nil, fmt.Errorf("%w: truncated header (%d of %d bytes)", ErrMalformed, len(ciphertext), HeaderSize)
	}
	h.Version = FormatVersion
	h.Mode = Mode(ciphertext[1])
	copy(h.KeyID[:], ciphertext[2:18])
	h.KeyVer = binary.BigEndian.Uint32(ciphertext[18:22])
	body := ciphertext[HeaderSize:]
	switch h.Mode {
	case Randomized:
		if len(body) < gcmOverhead {
			return h, nil, fmt.Errorf("%w: truncated (%d bytes after the header, need at least %d)", ErrMalformed, len(body), gcmOverhead)
		}
	case Deterministic:
		if len(body) < sivOverhead {
			return h, nil, fmt.Errorf("%w: truncated (%d bytes after the header, need at least %d)", ErrMalformed, len(body), sivOverhead)
		}
	default:
		return h, nil, fmt.Errorf("%w: unknown mode %d", ErrMalformed, byte(h.Mode))
	}
	if h.KeyVer == 0 || h.KeyVer > keys.MaxVersion {
		return h, nil, fmt.Errorf("%w: key version out of range", ErrMalformed)
	}
	return h, body, nil
}

// Cipher encrypts and decrypts fields under per-subject keys of one
// purpose. It is safe for concurrent use.
type Cipher struct {
	kr      *keys.Keyring
	purpose string
}

// Option configures a Cipher.
type Option func(*Cipher)

// WithPurpose selects the keys of purpose p (default keys.DefaultPurpose).
// Different purposes give a subject independent keys.
func WithPurpose(p string) Option { return func(c *Cipher) { c.purpose = p } }

// New returns a Cipher over kr.
func New(kr *keys.Keyring, opts ...Option) (*Cipher, error) {
	if kr == nil {
		return nil, errors.New("envelope: nil Keyring")
	}
	c := &Cipher{kr: kr, purpose: keys.DefaultPurpose}
	for _, o := range opts {
		o(c)
	}
	if err := keys.ValidatePurpose(c.purpose); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return c, nil
}

type gcmPrimitive struct{ aead cipher.AEAD }

type sivPrimitive struct{ siv *subtle.AESSIV }

func gcmOf(k *keys.Key) (*gcmPrimitive, error) {
	v, err := k.Derive(labelGCM, func(secret []byte) (any, error) {
		dk, err := hkdf.Key(sha256.New, secret, nil, labelGCM, 32)
		if err != nil {
			return nil, err
		}
		defer clear(dk)
		block, err := aes.NewCipher(dk)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		return &gcmPrimitive{aead}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving data key: %w", err)
	}
	return v.(*gcmPrimitive), nil
}

func sivOf(k *keys.Key) (*sivPrimitive, error) {
	v, err := k.Derive(labelSIV, func(secret []byte) (any, error) {
		dk, err := hkdf.Key(sha256.New, secret, nil, labelSIV, subtle.AESSIVKeySize)
		if err != nil {
			return nil, err
		}
		defer clear(dk)
		siv, err := subtle.NewAESSIV(dk)
		if err != nil {
			return nil, err
		}
		return &sivPrimitive{siv}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving data key: %w", err)
	}
	return v.(*sivPrimitive), nil
}

func putHeader(dst []byte, mode Mode, k *keys.Key) []byte {
	id := k.ID()
	dst = append(dst, FormatVersion, byte(mode))
	dst = append(dst, id[:]...)
	return binary.BigEndian.AppendUint32(dst, k.Version())
}

func (c *Cipher) current(ctx context.Context, subject string) (*keys.Key, error) {
	k, err := c.kr.Current(ctx, subject, c.purpose)
	if err != nil {
		return nil, fmt.Errorf("envelope: encrypt: %w", err)
	}
	return k, nil
}

// Encrypt encrypts plaintext for subject with AES-256-GCM under the
// subject's current key, binding it to associatedData. It creates the
// subject's key on first use and fails with keys.ErrKeyDestroyed if the
// subject was forgotten.
func (c *Cipher) Encrypt(ctx context.Context, subject string, plaintext, associatedData []byte) ([]byte, error) {
	k, err := c.current(ctx, subject)
	if err != nil {
		return nil, err
	}
	p, err := gcmOf(k)
	if err != nil {
		return nil, err
	}
	out := make([]byte, HeaderSize+nonceSize, HeaderSize+gcmOverhead+len(plaintext))
	putHeader(out[:0], Randomized, k)
	nonce := out[HeaderSize:]
	if err := readNonce(nonce); err != nil {
		return nil, err
	}
	return p.aead.Seal(out, nonce, plaintext, associatedData), nil
}

// EncryptDeterministic encrypts plaintext for subject with AES-SIV: the same
// (subject, purpose, plaintext, associatedData) under the same key version
// always gives the same ciphertext. Use it only where equality lookups are
// needed; it reveals which values are equal.
func (c *Cipher) EncryptDeterministic(ctx context.Context, subject string, plaintext, associatedData []byte) ([]byte, error) {
	k, err := c.current(ctx, subject)
	if err != nil {
		return nil, err
	}
	p, err := sivOf(k)
	if err != nil {
		return nil, err
	}
	ct, err := p.siv.EncryptDeterministically(plaintext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("envelope: encrypt: %w", err)
	}
	out := make([]byte, 0, HeaderSize+len(ct))
	out = putHeader(out, Deterministic, k)
	return append(out, ct...), nil
}

// Decrypt authenticates and decrypts a ciphertext of either mode, looking
// up the key it names. associatedData must equal the bytes given to
// Encrypt.
func (c *Cipher) Decrypt(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	h, body, err := ParseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	k, err := c.kr.KeyVersion(ctx, h.KeyID, h.KeyVer)
	switch {
	case errors.Is(err, keys.ErrKeyNotFound):
		return nil, ErrDecrypt
	case err != nil:
		return nil, fmt.Errorf("envelope: decrypt: %w", err)
	}
	var pt []byte
	switch h.Mode {
	case Randomized:
		p, err := gcmOf(k)
		if err != nil {
			return nil, err
		}
		pt, err = p.aead.Open(nil, body[:nonceSize], body[nonceSize:], associatedData)
		if err != nil {
			return nil, ErrDecrypt
		}
	case Deterministic:
		p, err := sivOf(k)
		if err != nil {
			return nil, err
		}
		pt, err = p.siv.DecryptDeterministically(body, associatedData)
		if err != nil {
			return nil, ErrDecrypt
		}
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

var text = base64.RawURLEncoding

// EncryptString is Encrypt for string columns: it returns the ciphertext
// in its printable form (unpadded URL-safe base64).
func (c *Cipher) EncryptString(ctx context.Context, subject, plaintext string, associatedData []byte) (string, error) {
	ct, err := c.Encrypt(ctx, subject, []byte(plaintext), associatedData)
	if err != nil {
		return "", err
	}
	return text.EncodeToString(ct), nil
}

// EncryptStringDeterministic is EncryptDeterministic in printable form.
func (c *Cipher) EncryptStringDeterministic(ctx context.Context, subject, plaintext string, associatedData []byte) (string, error) {
	ct, err := c.EncryptDeterministic(ctx, subject, []byte(plaintext), associatedData)
	if err != nil {
		return "", err
	}
	return text.EncodeToString(ct), nil
}

// DecryptString decrypts the printable form of a ciphertext.
func (c *Cipher) DecryptString(ctx context.Context, ciphertext string, associatedData []byte) (string, error) {
	ct, err := text.DecodeString(ciphertext)
	if err != nil {
		return "", fmt.Errorf("%w: not valid unpadded URL-safe base64", ErrMalformed)
	}
	pt, err := c.Decrypt(ctx, ct, associatedData)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// AssociatedData encodes parts (say table, column, subject) into
// associated data unambiguously: each part is length-prefixed, so
// ("ab", "c") and ("a", "bc") differ.
func AssociatedData(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}
