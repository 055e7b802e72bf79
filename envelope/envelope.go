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
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/fieldcrypt/fieldcrypt/internal/aessiv"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
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
	// FormatVersion is the ciphertext format this package writes. Version 1
	// ciphertexts are still read.
	FormatVersion = 2
	// HeaderSize is the size of a version 2 ciphertext's header in bytes:
	// version, mode, key ID, key version and key commitment.
	HeaderSize = 2 + 16 + 4 + CommitmentSize
	// CommitmentSize is the size of the key commitment a version 2
	// ciphertext carries.
	CommitmentSize = 32

	headerV1Size = 22
	// authenticated is how many header bytes version 2 puts at the start of
	// the AEAD's associated data: all but the commitment, which is checked
	// against the key's own instead.
	authenticated = 22
	nonceSize     = 12
	gcmOverhead   = nonceSize + 16
	sivOverhead   = aessiv.Overhead
	sivKeySize    = 64 // AES-SIV-512: two AES-256 keys

	// Labels of the HKDF-SHA256 derivations from a subject key: one data
	// key per format version and mode, and the version 2 key commitment.
	labelGCMv1   = "fieldcrypt/envelope/v1/aes-256-gcm"
	labelSIVv1   = "fieldcrypt/envelope/v1/aes-siv"
	labelGCM     = "fieldcrypt/envelope/v2/aes-256-gcm"
	labelSIV     = "fieldcrypt/envelope/v2/aes-siv"
	labelCommit  = "fieldcrypt/envelope/v2/key-commitment"
	maxPooledAD  = 4 << 10
	defaultADCap = 256
)

// parsed is a header as Decrypt needs it, without a copy of the commitment.
// The header is not exported: a ciphertext is opaque to users, who need
// only Decrypt, and the wire format stays free of API promises beyond the
// format documented in the package doc (which never changes).
type parsed struct {
	version byte
	mode    Mode
	keyVer  uint32
	keyID   keys.KeyID
}

func parse(ciphertext []byte) (parsed, []byte, error) {
	var h parsed
	if len(ciphertext) == 0 {
		return h, nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	size := HeaderSize
	switch v := ciphertext[0]; {
	case v == 1:
		size = headerV1Size
	case v == FormatVersion:
	case v > FormatVersion:
		return h, nil, fmt.Errorf("%w: format version %d is newer than the supported version %d",
			ErrUnsupportedVersion, v, FormatVersion)
	default:
		return h, nil, fmt.Errorf("%w: unknown format version %d", ErrMalformed, v)
	}
	if len(ciphertext) < size {
		return h, nil, fmt.Errorf("%w: truncated header (%d of %d bytes)", ErrMalformed, len(ciphertext), size)
	}
	h.version = ciphertext[0]
	h.mode = Mode(ciphertext[1])
	copy(h.keyID[:], ciphertext[2:18])
	h.keyVer = binary.BigEndian.Uint32(ciphertext[18:22])
	body := ciphertext[size:]
	switch h.mode {
	case Randomized:
		if len(body) < gcmOverhead {
			return h, nil, fmt.Errorf("%w: truncated (%d bytes after the header, need at least %d)", ErrMalformed, len(body), gcmOverhead)
		}
	case Deterministic:
		if len(body) < sivOverhead {
			return h, nil, fmt.Errorf("%w: truncated (%d bytes after the header, need at least %d)", ErrMalformed, len(body), sivOverhead)
		}
	default:
		return h, nil, fmt.Errorf("%w: unknown mode %d", ErrMalformed, byte(h.mode))
	}
	if h.keyVer == 0 || h.keyVer > keys.MaxVersion {
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
		if o == nil {
			return nil, errors.New("envelope: New: nil Option")
		}
		o(c)
	}
	if err := keys.ValidatePurpose(c.purpose); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return c, nil
}

// The primitives derived once per cached subject key (keys.Derive),
// each with the key's commitment beside it, so that no KDF or key schedule
// runs per message.
type gcmPrimitive struct {
	aead   cipher.AEAD // crypto/cipher's GCM with a random nonce from crypto/rand per Seal
	commit [CommitmentSize]byte
}

type sivPrimitive struct {
	siv    *aessiv.SIV // key schedules, CMAC subkeys and S2V's first state, built once
	commit [CommitmentSize]byte
	// Version 2: the authenticated header bytes this key writes, and the
	// S2V state after them, which every message's associated data starts
	// with.
	header [authenticated]byte
	pre    *aessiv.ADPrefix
}

// dataKey derives the data key of one format version and mode.
func dataKey(secret []byte, label string, size int) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, label, size)
}

func commitment(secret []byte) ([CommitmentSize]byte, error) {
	var c [CommitmentSize]byte
	b, err := hkdf.Key(sha256.New, secret, nil, labelCommit, CommitmentSize)
	copy(c[:], b)
	return c, err
}

func gcmOf(k *keys.Key, label string) (*gcmPrimitive, error) {
	prim, err := keys.Derive(k, insecuresecretaccess.Token{}, label, func(secret []byte) (*gcmPrimitive, error) {
		dk, err := dataKey(secret, label, 32)
		if err != nil {
			return nil, err
		}
		defer clear(dk)
		block, err := aes.NewCipher(dk)
		if err != nil {
			return nil, err
		}
		// The nonce is drawn from the operating system for every message
		// (crypto/rand; getrandom on Linux), never from state in process
		// memory, which a VM snapshot or checkpoint/restore would replay.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, err
		}
		p := &gcmPrimitive{aead: aead}
		if label == labelGCM {
			if p.commit, err = commitment(secret); err != nil {
				return nil, err
			}
		}
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving data key: %w", err)
	}
	return prim, nil
}

func sivOf(k *keys.Key, label string) (*sivPrimitive, error) {
	prim, err := keys.Derive(k, insecuresecretaccess.Token{}, label, func(secret []byte) (*sivPrimitive, error) {
		dk, err := dataKey(secret, label, sivKeySize)
		if err != nil {
			return nil, err
		}
		defer clear(dk) // aessiv.New expands it into its key schedules
		if label == labelSIVv1 {
			// Format 1 handed dk to Tink's AESSIV, which kept the slice,
			// and then cleared it, so every version 1 deterministic
			// ciphertext was CTR-encrypted under an all-zero key: readable
			// by anyone, with or without the subject key. Reading them
			// back needs the same zero half. See the package documentation
			// (# Backwards compatibility).
			clear(dk[32:])
		}
		siv, err := aessiv.New(dk)
		if err != nil {
			return nil, err
		}
		p := &sivPrimitive{siv: siv}
		if label == labelSIV {
			if p.commit, err = commitment(secret); err != nil {
				return nil, err
			}
			putHeader(p.header[:0], Deterministic, k, &p.commit)
			p.pre = siv.NewADPrefix(p.header[:])
		}
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving data key: %w", err)
	}
	return prim, nil
}

// putHeader appends a version 2 header.
func putHeader(dst []byte, mode Mode, k *keys.Key, commit *[CommitmentSize]byte) []byte {
	id := k.ID()
	dst = append(dst, FormatVersion, byte(mode))
	dst = append(dst, id[:]...)
	dst = binary.BigEndian.AppendUint32(dst, k.Version())
	return append(dst, commit[:]...)
}

// adPool holds the buffers in which a version 2 header and the caller's
// associated data are joined into the AEAD's associated data, so that
// small fields need no allocation for it.
var adPool = sync.Pool{New: func() any { b := make([]byte, 0, defaultADCap); return &b }}

// withHeader returns the authenticated header bytes || ad in a pooled
// buffer; release it with releaseAD once the AEAD call returned. They have
// a fixed size, so the join is unambiguous.
func withHeader(header, ad []byte) (*[]byte, []byte) {
	bp := adPool.Get().(*[]byte)
	full := append(append((*bp)[:0], header[:authenticated]...), ad...)
	return bp, full
}

func releaseAD(bp *[]byte, full []byte) {
	if cap(full) > maxPooledAD {
		return
	}
	*bp = full[:0]
	adPool.Put(bp)
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
		c.kr.ObserveOperation(keys.OpEncrypt, c.purpose, err)
		return nil, err
	}
	out, err := appendGCM(make([]byte, 0, HeaderSize+gcmOverhead+len(plaintext)), k, plaintext, associatedData)
	c.kr.ObserveOperation(keys.OpEncrypt, c.purpose, err)
	return out, err
}

// AppendEncrypt is [Cipher.Encrypt] appending the ciphertext to dst, in the
// manner of cipher.AEAD.Seal: it returns dst extended by the ciphertext
// (len(plaintext) + 82 bytes), reusing dst's capacity when it is enough,
// so a caller that keeps one buffer encrypts without allocating once the
// subject's key is cached. The appended bytes must not overlap plaintext:
// encryption is never in place, and it panics if they share memory. On
// error it returns nil.
func (c *Cipher) AppendEncrypt(ctx context.Context, dst []byte, subject string, plaintext, associatedData []byte) ([]byte, error) {
	k, err := c.current(ctx, subject)
	if err != nil {
		c.kr.ObserveOperation(keys.OpEncrypt, c.purpose, err)
		return nil, err
	}
	out, err := appendGCM(dst, k, plaintext, associatedData)
	c.kr.ObserveOperation(keys.OpEncrypt, c.purpose, err)
	return out, err
}

// appendGCM appends a version 2 randomised ciphertext under k to dst.
func appendGCM(dst []byte, k *keys.Key, plaintext, associatedData []byte) ([]byte, error) {
	p, err := gcmOf(k, labelGCM)
	if err != nil {
		return nil, err
	}
	out := slices.Grow(dst, HeaderSize+gcmOverhead+len(plaintext))
	checkOverlap(out[len(dst):len(dst)+HeaderSize+gcmOverhead+len(plaintext)], plaintext)
	out = putHeader(out, Randomized, k, &p.commit)
	bp, ad := withHeader(out[len(dst):], associatedData)
	out = p.aead.Seal(out, nil, plaintext, ad) // appends nonce | ciphertext | tag
	releaseAD(bp, ad)
	return out, nil
}

// EncryptDeterministic encrypts plaintext for subject with AES-SIV: the same
// (subject, purpose, plaintext, associatedData) under the same key version
// always gives the same ciphertext. Use it only where equality lookups are
// needed; it reveals which values are equal.
func (c *Cipher) EncryptDeterministic(ctx context.Context, subject string, plaintext, associatedData []byte) ([]byte, error) {
	k, err := c.current(ctx, subject)
	if err != nil {
		c.kr.ObserveOperation(keys.OpEncryptDeterministic, c.purpose, err)
		return nil, err
	}
	out, err := appendSIV(make([]byte, 0, HeaderSize+sivOverhead+len(plaintext)), k, plaintext, associatedData)
	c.kr.ObserveOperation(keys.OpEncryptDeterministic, c.purpose, err)
	return out, err
}

// AppendEncryptDeterministic is [Cipher.EncryptDeterministic] appending
// the ciphertext (len(plaintext) + 70 bytes) to dst, as [Cipher.AppendEncrypt]
// does. It allocates nothing for a cached key and a dst with room — on
// CPUs without AES-NI and in FIPS 140-3 mode only up to 128-byte
// plaintexts (longer ones cost one small allocation for the CTR
// keystream there).
func (c *Cipher) AppendEncryptDeterministic(ctx context.Context, dst []byte, subject string, plaintext, associatedData []byte) ([]byte, error) {
	k, err := c.current(ctx, subject)
	if err != nil {
		c.kr.ObserveOperation(keys.OpEncryptDeterministic, c.purpose, err)
		return nil, err
	}
	out, err := appendSIV(dst, k, plaintext, associatedData)
	c.kr.ObserveOperation(keys.OpEncryptDeterministic, c.purpose, err)
	return out, err
}

// appendSIV appends a version 2 deterministic ciphertext under k to dst. The
// AES-SIV associated data is the one component header[:22] || ad, absorbed
// without joining the two.
func appendSIV(dst []byte, k *keys.Key, plaintext, associatedData []byte) ([]byte, error) {
	p, err := sivOf(k, labelSIV)
	if err != nil {
		return nil, err
	}
	out := slices.Grow(dst, HeaderSize+sivOverhead+len(plaintext))
	checkOverlap(out[len(dst):len(dst)+HeaderSize+sivOverhead+len(plaintext)], plaintext)
	out = append(append(out, p.header[:]...), p.commit[:]...)
	return p.siv.SealPrefixed(out, plaintext, p.pre, associatedData), nil
}

// EncryptDeterministicAll returns what EncryptDeterministic returns under
// each live key version of subject (keys.Keyring.LiveKeys), newest first:
// the values an equality lookup must match, since rows written before a
// key rotation hold the older versions' ciphertexts. It creates no key: a
// subject without one gives nil, and a forgotten subject fails with
// keys.ErrKeyDestroyed.
//
// Cost: one AES-SIV encryption per live version (the key schedules are
// derived once per cached key), plus what LiveKeys costs.
func (c *Cipher) EncryptDeterministicAll(ctx context.Context, subject string, plaintext, associatedData []byte) ([][]byte, error) {
	out, err := c.encryptDeterministicAll(ctx, subject, plaintext, associatedData)
	c.kr.ObserveOperation(keys.OpEncryptDeterministic, c.purpose, err)
	return out, err
}

func (c *Cipher) encryptDeterministicAll(ctx context.Context, subject string, plaintext, associatedData []byte) ([][]byte, error) {
	ks, err := c.kr.LiveKeys(ctx, subject, c.purpose)
	if err != nil {
		return nil, fmt.Errorf("envelope: encrypt: %w", err)
	}
	if len(ks) == 0 {
		return nil, nil
	}
	out := make([][]byte, 0, len(ks))
	for _, k := range ks {
		ct, err := appendSIV(make([]byte, 0, HeaderSize+sivOverhead+len(plaintext)), k, plaintext, associatedData)
		if err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, nil
}

// Decrypt authenticates and decrypts a ciphertext of either mode and either
// format version, looking up the key it names. associatedData must equal
// the bytes given to Encrypt. The key must serve the Cipher's purpose.
func (c *Cipher) Decrypt(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	pt, err := c.AppendDecrypt(ctx, nil, ciphertext, associatedData)
	if err != nil {
		return nil, err
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// AppendDecrypt is [Cipher.Decrypt] appending the plaintext to dst, in the
// manner of cipher.AEAD.Open: it returns dst extended by the plaintext,
// reusing dst's capacity when it is enough, so that a caller that keeps
// one buffer decrypts without allocating once the key is cached. The
// appended bytes must not overlap ciphertext: decryption is never in
// place, and it panics if they share memory. On
// error it returns nil, and no unauthenticated plaintext is left in dst's
// spare capacity.
func (c *Cipher) AppendDecrypt(ctx context.Context, dst, ciphertext, associatedData []byte) ([]byte, error) {
	out, err := c.appendDecrypt(ctx, dst, ciphertext, associatedData)
	c.kr.ObserveOperation(keys.OpDecrypt, c.purpose, err)
	return out, err
}

func (c *Cipher) appendDecrypt(ctx context.Context, dst, ciphertext, associatedData []byte) ([]byte, error) {
	h, body, err := parse(ciphertext)
	if err != nil {
		return nil, err
	}
	k, err := c.kr.KeyVersion(ctx, h.keyID, h.keyVer)
	switch {
	case errors.Is(err, keys.ErrKeyNotFound):
		return nil, ErrDecrypt
	case err != nil:
		return nil, fmt.Errorf("envelope: decrypt: %w", err)
	}
	if k.Purpose() != c.purpose {
		return nil, fmt.Errorf("%w: the key serves another purpose than this Cipher's", ErrDecrypt)
	}
	ptLen := len(body) - sivOverhead
	if h.mode == Randomized {
		ptLen = len(body) - gcmOverhead
	}
	if cap(dst)-len(dst) >= ptLen { // else the plaintext goes to a new array
		checkOverlap(dst[len(dst):len(dst)+ptLen], ciphertext)
	}
	if h.version == 1 {
		return openV1(dst, k, h.mode, body, associatedData)
	}
	return open(dst, k, h.mode, ciphertext[:HeaderSize], body, associatedData)
}

// checkOverlap panics if out, the bytes an Append method is about to
// write, shares memory with in, the input it reads: the header would
// overwrite plaintext before it is sealed, or plaintext ciphertext before
// it is authenticated, and crypto/cipher does not catch every case.
func checkOverlap(out, in []byte) {
	if len(out) == 0 || len(in) == 0 {
		return
	}
	o, i := uintptr(unsafe.Pointer(unsafe.SliceData(out))), uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	if o < i+uintptr(len(in)) && i < o+uintptr(len(out)) {
		panic("envelope: the destination buffer overlaps the input")
	}
}

// sameCommitment compares a key's commitment with a header's in constant
// time: eight bytes at a time, no branch on the data.
func sameCommitment(key *[CommitmentSize]byte, header []byte) bool {
	_ = header[CommitmentSize-1]
	var x uint64
	for i := 0; i < CommitmentSize; i += 8 {
		x |= binary.LittleEndian.Uint64(key[i:]) ^ binary.LittleEndian.Uint64(header[i:])
	}
	return x == 0
}

// open decrypts a version 2 body, appending the plaintext to dst: the key
// commitment first (in constant time), then the AEAD with the header as the
// start of the associated data.
func open(dst []byte, k *keys.Key, mode Mode, header, body, associatedData []byte) ([]byte, error) {
	if mode == Randomized {
		p, err := gcmOf(k, labelGCM)
		if err != nil {
			return nil, err
		}
		if !sameCommitment(&p.commit, header[22:HeaderSize]) {
			return nil, ErrDecrypt
		}
		bp, ad := withHeader(header, associatedData)
		pt, err := p.aead.Open(dst, nil, body, ad)
		releaseAD(bp, ad)
		if err != nil {
			return nil, ErrDecrypt
		}
		return pt, nil
	}
	p, err := sivOf(k, labelSIV)
	if err != nil {
		return nil, err
	}
	if !sameCommitment(&p.commit, header[22:HeaderSize]) {
		return nil, ErrDecrypt
	}
	var pt []byte
	if string(header[:authenticated]) == string(p.header[:]) {
		// Always so: the key was found by this header's ID and version.
		pt, err = p.siv.OpenPrefixed(dst, body, p.pre, associatedData)
	} else {
		pt, err = p.siv.OpenJoined(dst, body, header[:authenticated], associatedData)
	}
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// openV1 decrypts a version 1 body, appending the plaintext to dst: no
// commitment, the header bound only through the key it selects.
func openV1(dst []byte, k *keys.Key, mode Mode, body, associatedData []byte) ([]byte, error) {
	var pt []byte
	if mode == Randomized {
		p, err := gcmOf(k, labelGCMv1)
		if err != nil {
			return nil, err
		}
		pt, err = p.aead.Open(dst, nil, body, associatedData)
		if err != nil {
			return nil, ErrDecrypt
		}
		return pt, nil
	}
	p, err := sivOf(k, labelSIVv1)
	if err != nil {
		return nil, err
	}
	pt, err = p.siv.Open(dst, body, associatedData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// text is the string form: unpadded URL-safe base64, strict, so that the
// unused bits of the last character must be zero. The decoder still skips
// '\r' and '\n', which DecryptString refuses itself: each ciphertext has
// exactly one accepted spelling.
var text = base64.RawURLEncoding.Strict()

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

// DecryptString decrypts the printable form of a ciphertext. Only the exact
// form EncryptString returns is accepted: padding, white space, line breaks
// or other bits in the last character give ErrMalformed.
func (c *Cipher) DecryptString(ctx context.Context, ciphertext string, associatedData []byte) (string, error) {
	ct, err := text.DecodeString(ciphertext)
	if err != nil || strings.ContainsAny(ciphertext, "\r\n") {
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
