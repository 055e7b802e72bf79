package tokenize

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// Errors of a Vault, matched with errors.Is (besides ErrInvalidFormat and
// keys.ErrKeyDestroyed).
var (
	// ErrUnknownToken means the vault holds no token of that field for
	// that subject: the token was never issued, was issued for another
	// subject or field, or was mistyped. The error does not say which.
	ErrUnknownToken = errors.New("tokenize: token not in the vault")
	// ErrTokenSpaceExhausted means VaultMaxDraws random tokens in a row
	// were already taken in the field: the field holds so many tokens of
	// this shape that its format leaves too few free ones (see Vault).
	ErrTokenSpaceExhausted = errors.New("tokenize: no free token in the field")
)

// VaultMaxDraws is how many random tokens Vault.Tokenize draws for a new
// value before it gives up with ErrTokenSpaceExhausted. A draw fails when
// its token is already taken in the field (or equals the value), so with
// a fraction p of the field's token space taken a new value fails with
// probability p^32: 2^-32 at half full, 10^-32 at 10 %.
const VaultMaxDraws = 32

// Vault issues random tokens (a token vault, as PCI DSS's tokenization
// guidance describes): a token has the shape of a Format's tokens (a
// card's length, kept last four or BIN and Luhn policy, a phone's country
// code …) but is drawn at random rather than computed from the value, so
// no key turns it back into the value. The mapping is kept in a
// keystore.TokenVaultStore — the keystore database itself with
// keys/sqlstore — as an entry holding the token, the value sealed with
// AES-256-GCM under the subject's key, and a blind index of the value
// (HMAC-SHA256 under the same key) that finds the token when the value is
// tokenized again:
//
//	v, _ := tokenize.NewVault(keyring, store)
//	tok, _ := v.Tokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, "4111 1111 1111 1111")
//	pan, _ := v.Detokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, tok)
//
// What it guarantees, in numbers:
//
//   - Tokens are unique within a field, across subjects and processes: the
//     store inserts an entry only if neither its token nor its blind
//     index is taken (a unique constraint each on SQL). A taken token is
//     redrawn, at most VaultMaxDraws times.
//   - The same (subject, field, format, value) always gives the same token;
//     two processes tokenizing a new value at once both get the one token
//     whose entry was inserted first. Values are compared as given: two
//     spellings of one card ("4111 1111 …" and "4111111…") are two values.
//   - A token is uniform over the tokens the format allows for the
//     value's kept parts (drawn with FF1 under a process-local random key
//     and a fresh random tweak; the key never leaves the process). Its
//     entropy is the format's domain: a 16-digit card with KeepLast4 and
//     LuhnInvalid has 10^11 possible tokens (36.5 bits), with
//     KeepBINAndLast4 10^5 … 10^6 (see Card); every format keeps at least
//     10^6 values except as its options say (ErrDomainTooSmall). A token
//     never equals its value.
//   - Forgetting the subject destroys the key that seals and indexes its
//     entries: Tokenize and Detokenize fail with keys.ErrKeyDestroyed, and
//     the entries stay in the store as random strings and ciphertext no one
//     can open. The global scope (TokenizeGlobal) seals under the
//     tenant-wide key instead and survives erasures, as Tokenizer's does.
//   - Each call costs one store query (a lookup by blind index or by token)
//     plus one insert for a new value. Keys are the subject's version-1 key
//     of the tokenizer purpose (WithPurpose, default DefaultPurpose), as
//     for FPE tokens: rotation does not change tokens. Entries are sealed
//     with random 96-bit nonces: up to 2^32 entries per subject key.
//
// In PCI DSS terms, FPE tokens (Tokenizer) are encrypted card data —
// whoever holds the key can compute the number from the token — while a
// vault token is not a function of the number at all: systems that only
// store and pass vault tokens hold no card data; the keystore database
// and the processes that can read both it and the keys remain in scope.
//
// A Vault is safe for concurrent use.
type Vault struct {
	t     *Tokenizer
	store keystore.TokenVaultStore
	draw  localCiphers
	now   func() time.Time
}

// NewVault returns a Vault whose entries are kept in store and sealed
// under keys from kr. Options are those of New (WithPurpose,
// WithGlobalSubject).
func NewVault(kr *keys.Keyring, store keystore.TokenVaultStore, opts ...Option) (*Vault, error) {
	if store == nil {
		return nil, errors.New("tokenize: NewVault: nil TokenVaultStore")
	}
	t, err := New(kr, opts...)
	if err != nil {
		return nil, err
	}
	v := &Vault{t: t, store: store, now: time.Now}
	rand.Read(v.draw.key[:])
	return v, nil
}

// Tokenize returns the vault token of value in format f for subject in
// field: the one issued before, or a new random one.
func (v *Vault) Tokenize(ctx context.Context, subject, field string, f Format, value string) (string, error) {
	tok, err := v.tokenize(ctx, subject, field, f, value)
	v.t.kr.ObserveOperation(keys.OpVaultTokenize, v.t.purpose, err)
	return tok, err
}

// Detokenize returns the value whose vault token for subject in field is
// token. A token of another subject or field, or never issued, fails with
// ErrUnknownToken; a token that does not have f's shape with
// ErrInvalidFormat.
func (v *Vault) Detokenize(ctx context.Context, subject, field string, f Format, token string) (string, error) {
	value, err := v.detokenize(ctx, subject, field, f, token)
	v.t.kr.ObserveOperation(keys.OpVaultDetokenize, v.t.purpose, err)
	return value, err
}

// TokenizeGlobal is Tokenize in the global scope: one token per (field,
// format, value) across all subjects, sealed under the tenant-wide key.
func (v *Vault) TokenizeGlobal(ctx context.Context, field string, f Format, value string) (string, error) {
	tok, err := v.tokenize(ctx, v.t.global, field, f, value)
	v.t.kr.ObserveOperation(keys.OpVaultTokenize, v.t.purpose, err)
	return tok, err
}

// DetokenizeGlobal reverses TokenizeGlobal.
func (v *Vault) DetokenizeGlobal(ctx context.Context, field string, f Format, token string) (string, error) {
	value, err := v.detokenize(ctx, v.t.global, field, f, token)
	v.t.kr.ObserveOperation(keys.OpVaultDetokenize, v.t.purpose, err)
	return value, err
}

// Lookup returns the vault token already issued for value in format f for
// subject in field, or ErrUnknownToken; unlike Tokenize it never issues
// one. It is what a search by value uses (WHERE card = token).
func (v *Vault) Lookup(ctx context.Context, subject, field string, f Format, value string) (string, error) {
	return v.lookupToken(ctx, subject, field, f, value)
}

// LookupGlobal is Lookup in the global scope.
func (v *Vault) LookupGlobal(ctx context.Context, field string, f Format, value string) (string, error) {
	return v.lookupToken(ctx, v.t.global, field, f, value)
}

func (v *Vault) lookupToken(ctx context.Context, subject, field string, f Format, value string) (string, error) {
	if err := checkArgs(field, f); err != nil {
		return "", err
	}
	k, err := v.t.key(ctx, subject)
	if err != nil {
		return "", err
	}
	vk, err := vaultKeysOf(k)
	if err != nil {
		return "", err
	}
	e, err := v.store.TokenEntryByLookup(ctx, field, vk.lookup(field, f.Name(), value))
	switch {
	case errors.Is(err, keystore.ErrTokenNotFound) || err == nil && e.Key != k.ID():
		return "", fmt.Errorf("%w (field %q)", ErrUnknownToken, field)
	case err != nil:
		return "", fmt.Errorf("tokenize: vault lookup: %w", err)
	}
	return e.Token, nil
}

func checkArgs(field string, f Format) error {
	if f == nil {
		return errors.New("tokenize: nil Format")
	}
	if field == "" || len(field) > keystore.MaxTokenFieldLen {
		return errors.New("tokenize: vault field name must have 1 to 255 bytes")
	}
	return nil
}

func (v *Vault) tokenize(ctx context.Context, subject, field string, f Format, value string) (string, error) {
	if err := checkArgs(field, f); err != nil {
		return "", err
	}
	k, err := v.t.key(ctx, subject)
	if err != nil {
		return "", err
	}
	vk, err := vaultKeysOf(k)
	if err != nil {
		return "", err
	}
	format := f.Name()
	lookup := vk.lookup(field, format, value)
	switch e, err := v.store.TokenEntryByLookup(ctx, field, lookup); {
	case err == nil:
		if e.Key != k.ID() {
			return "", fmt.Errorf("tokenize: vault entry of field %q is sealed under another key", field)
		}
		return e.Token, nil
	case !errors.Is(err, keystore.ErrTokenNotFound):
		return "", fmt.Errorf("tokenize: vault lookup: %w", err)
	}
	for range VaultMaxDraws {
		tok, err := v.drawToken(f, value)
		if err != nil {
			return "", err
		}
		if tok == value {
			continue
		}
		if len(tok) > keystore.MaxTokenLen {
			return "", invalid(format, "tokens longer than 255 bytes cannot be kept in a vault")
		}
		e := keystore.TokenEntry{
			Field: field, Token: tok, Lookup: lookup, Subject: k.Subject(), Key: k.ID(),
			Sealed:  vk.seal(k, field, format, tok, value),
			Created: v.now(),
		}
		got, err := v.store.PutTokenEntry(ctx, e)
		switch {
		case err == nil:
			return got.Token, nil
		case errors.Is(err, keystore.ErrTokenTaken):
			continue
		default:
			return "", fmt.Errorf("tokenize: vault insert: %w", err)
		}
	}
	return "", fmt.Errorf("%w: %d draws for field %q were all taken", ErrTokenSpaceExhausted, VaultMaxDraws, field)
}

func (v *Vault) detokenize(ctx context.Context, subject, field string, f Format, token string) (string, error) {
	if err := checkArgs(field, f); err != nil {
		return "", err
	}
	// Refuse what no Tokenize could have issued before asking the store:
	// running the format backwards under the draw key checks the shape
	// (length, kept parts' syntax, Luhn policy, checksums).
	if _, err := v.run(f, token, true); err != nil {
		return "", err
	}
	k, err := v.t.key(ctx, subject)
	if err != nil {
		return "", err
	}
	vk, err := vaultKeysOf(k)
	if err != nil {
		return "", err
	}
	e, err := v.store.TokenEntryByToken(ctx, field, token)
	if errors.Is(err, keystore.ErrTokenNotFound) || err == nil && e.Key != k.ID() {
		return "", fmt.Errorf("%w (field %q)", ErrUnknownToken, field)
	}
	if err != nil {
		return "", fmt.Errorf("tokenize: vault read: %w", err)
	}
	value, err := vk.open(k, field, f.Name(), token, e.Sealed)
	if err != nil {
		// Sealed for this subject's key under another format, or altered in
		// the store.
		return "", fmt.Errorf("%w (field %q): entry does not open for this format", ErrUnknownToken, field)
	}
	return value, nil
}

// drawToken returns a random token of f's shape for value.
func (v *Vault) drawToken(f Format, value string) (string, error) {
	return v.run(f, value, false)
}

// run applies f under the draw key and a fresh random tweak.
func (v *Vault) run(f Format, value string, decrypt bool) (string, error) {
	e := enginePool.Get().(*Engine)
	e.local = &v.draw
	t := append(e.tweakBuf[:0], "fieldcrypt/tokenvault/v1/draw"...)
	var r [16]byte
	rand.Read(r[:])
	e.tweak = append(t, r[:]...)
	out, err := f.Transform(e, value, decrypt)
	e.local, e.tweak = nil, nil
	enginePool.Put(e)
	return out, err
}

// localCiphers are the FF1 ciphers, one per alphabet, under a random key
// that never leaves the process: what a Vault draws tokens with.
type localCiphers struct {
	key [32]byte
	m   sync.Map // *fpe.Alphabet -> *fpe.FF1
}

func (l *localCiphers) cipher(a *fpe.Alphabet) (*fpe.FF1, error) {
	if c, ok := l.m.Load(a); ok {
		return c.(*fpe.FF1), nil
	}
	c, err := fpe.NewFF1WithAlphabet(l.key[:], a)
	if err != nil {
		return nil, fmt.Errorf("tokenize: draw cipher: %w", err)
	}
	got, _ := l.m.LoadOrStore(a, c)
	return got.(*fpe.FF1), nil
}

// vaultKeys are the sealing AEAD and the blind-index key derived from a
// subject's tokenization key.
type vaultKeys struct {
	aead cipher.AEAD
	mac  [32]byte
}

const (
	vaultLabel  = "fieldcrypt/tokenvault/v1"
	vaultSealed = 1 // first byte of TokenEntry.Sealed: the sealing format
)

func vaultKeysOf(k *keys.Key) (*vaultKeys, error) {
	vk, err := keys.Derive(k, insecuresecretaccess.Token{}, vaultLabel+"/aes-256-gcm+hmac-sha256", func(secret []byte) (*vaultKeys, error) {
		ek, err := hkdf.Key(sha256.New, secret, nil, vaultLabel+"/seal", 32)
		if err != nil {
			return nil, err
		}
		defer clear(ek)
		mk, err := hkdf.Key(sha256.New, secret, nil, vaultLabel+"/lookup", 32)
		if err != nil {
			return nil, err
		}
		defer clear(mk)
		b, err := aes.NewCipher(ek)
		if err != nil {
			return nil, err
		}
		// Random nonces drawn by the AEAD itself: the FIPS 140-3 approved
		// form (GODEBUG=fips140=only refuses caller-chosen GCM nonces). Its
		// output, nonce || ciphertext || tag, is what Sealed always held.
		g, err := cipher.NewGCMWithRandomNonce(b)
		if err != nil {
			return nil, err
		}
		vk := &vaultKeys{aead: g}
		copy(vk.mac[:], mk)
		return vk, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokenize: deriving vault keys: %w", err)
	}
	return vk, nil
}

func appendLenPrefixed(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// lookup is the blind index of value in (field, format).
func (vk *vaultKeys) lookup(field, format, value string) []byte {
	m := hmac.New(sha256.New, vk.mac[:])
	var buf [128]byte
	b := append(buf[:0], vaultLabel+"/lookup"...)
	b = appendLenPrefixed(b, field)
	b = appendLenPrefixed(b, format)
	m.Write(b)
	m.Write([]byte(value))
	return m.Sum(nil)
}

// ad binds a sealed value to its subject key, field, format and token.
func vaultAD(k *keys.Key, field, format, token string) []byte {
	id, ref := k.ID(), k.Subject()
	b := make([]byte, 0, len(vaultLabel)+32+len(field)+len(format)+len(token)+8)
	b = append(b, vaultLabel...)
	b = append(b, ref[:]...)
	b = append(b, id[:]...)
	b = appendLenPrefixed(b, field)
	b = appendLenPrefixed(b, format)
	return appendLenPrefixed(b, token)
}

func (vk *vaultKeys) seal(k *keys.Key, field, format, token, value string) []byte {
	out := make([]byte, 1, 1+len(value)+vk.aead.Overhead())
	out[0] = vaultSealed
	return vk.aead.Seal(out, nil, []byte(value), vaultAD(k, field, format, token))
}

func (vk *vaultKeys) open(k *keys.Key, field, format, token string, sealed []byte) (string, error) {
	if len(sealed) < 1+vk.aead.Overhead() || sealed[0] != vaultSealed {
		return "", errors.New("malformed sealed value")
	}
	pt, err := vk.aead.Open(nil, nil, sealed[1:], vaultAD(k, field, format, token))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
