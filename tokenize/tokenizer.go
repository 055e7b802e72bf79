package tokenize

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// Errors callers branch on, matched with errors.Is. A forgotten subject's
// tokens fail with keys.ErrKeyDestroyed instead.
var (
	// ErrInvalidFormat means a value (or token) does not have the format
	// the tokenizer expects. The message names the format and the rule,
	// never the value.
	ErrInvalidFormat = errors.New("tokenize: value does not match the format")
	// ErrDomainTooSmall means the part of a value left to encrypt has fewer
	// than 1,000,000 possible values (NIST SP 800-38G Rev.1), so its token
	// would be guessable; fieldcrypt refuses instead of weakening silently.
	ErrDomainTooSmall = errors.New("tokenize: domain too small")
)

const (
	// DefaultPurpose is the keyring purpose tokenization keys use.
	DefaultPurpose = "tokens"
	// DefaultGlobalSubject is the keyring subject of the global-scope key.
	DefaultGlobalSubject = "fieldcrypt/global-tokens"

	tokenKeyVersion = 1
)

// Format turns values of one shape (a card number, a phone number …) into
// tokens of the same shape and back. Transform finds the secret part of
// value, runs it through e (encrypting, or decrypting when decrypt is set)
// and reassembles the result with the parts the format keeps.
// Implementations must validate value and return errors wrapping
// ErrInvalidFormat that never contain the value.
type Format interface {
	// Name identifies the format; it is part of the tweak, so one value
	// tokenized as two formats gives unrelated tokens.
	Name() string
	Transform(e *Engine, value string, decrypt bool) (string, error)
}

// Tokenizer issues format-preserving tokens bound to one data subject
// (subject scope, the default) or to the whole tenant (global scope). It is
// safe for concurrent use.
type Tokenizer struct {
	kr      *keys.Keyring
	purpose string
	global  string
}

// Option configures a Tokenizer.
type Option func(*Tokenizer)

// WithPurpose selects the keyring purpose of the tokenization keys
// (default DefaultPurpose).
func WithPurpose(p string) Option { return func(t *Tokenizer) { t.purpose = p } }

// WithGlobalSubject names the keyring subject that holds the global-scope
// key (default DefaultGlobalSubject). Forgetting that subject destroys every
// global-scope token.
func WithGlobalSubject(s string) Option { return func(t *Tokenizer) { t.global = s } }

// New returns a Tokenizer whose keys come from kr.
func New(kr *keys.Keyring, opts ...Option) (*Tokenizer, error) {
	if kr == nil {
		return nil, errors.New("tokenize: nil Keyring")
	}
	t := &Tokenizer{kr: kr, purpose: DefaultPurpose, global: DefaultGlobalSubject}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("tokenize: New: nil Option")
		}
		o(t)
	}
	if err := keys.ValidatePurpose(t.purpose); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if err := keys.ValidateSubject(t.global); err != nil {
		return nil, fmt.Errorf("tokenize: global subject: %w", err)
	}
	return t, nil
}

// Tokenize returns the token of value in format f for subject, in the
// column (or caller-chosen domain) field. The same (subject, field, format,
// value) always gives the same token; another subject or field gives an
// unrelated one. It fails with keys.ErrKeyDestroyed once the subject is
// forgotten.
func (t *Tokenizer) Tokenize(ctx context.Context, subject, field string, f Format, value string) (string, error) {
	return t.run(ctx, subject, field, f, value, false)
}

// Detokenize returns the value whose token in format f for subject and
// field is token.
func (t *Tokenizer) Detokenize(ctx context.Context, subject, field string, f Format, token string) (string, error) {
	return t.run(ctx, subject, field, f, token, true)
}

// TokenizeGlobal is Tokenize under the tenant-wide key, for values that
// must join across customers. Such tokens are not destroyed when a
// customer is forgotten: delete or re-tokenize their rows as part of the
// erasure.
func (t *Tokenizer) TokenizeGlobal(ctx context.Context, field string, f Format, value string) (string, error) {
	return t.run(ctx, t.global, field, f, value, false)
}

// DetokenizeGlobal reverses TokenizeGlobal.
func (t *Tokenizer) DetokenizeGlobal(ctx context.Context, field string, f Format, token string) (string, error) {
	return t.run(ctx, t.global, field, f, token, true)
}

func (t *Tokenizer) run(ctx context.Context, subject, field string, f Format, value string, decrypt bool) (string, error) {
	out, err := t.transform(ctx, subject, field, f, value, decrypt)
	op := keys.OpTokenize
	if decrypt {
		op = keys.OpDetokenize
	}
	t.kr.ObserveOperation(op, t.purpose, err)
	return out, err
}

func (t *Tokenizer) transform(ctx context.Context, subject, field string, f Format, value string, decrypt bool) (string, error) {
	if f == nil {
		return "", errors.New("tokenize: nil Format")
	}
	if field == "" {
		return "", errors.New("tokenize: empty field name")
	}
	k, err := t.key(ctx, subject)
	if err != nil {
		return "", err
	}
	// The Engine escapes through the interface call, so it is pooled
	// rather than allocated per call.
	e := enginePool.Get().(*Engine)
	e.key = k
	e.tweak = appendTweak(e.tweakBuf[:0], field, f.Name())
	out, err := f.Transform(e, value, decrypt)
	e.key, e.tweak = nil, nil
	enginePool.Put(e)
	if err != nil {
		return "", err
	}
	return out, nil
}

var enginePool = sync.Pool{New: func() any { return new(Engine) }}

// key returns version 1 of the subject's tokenization key. Tokens carry no
// key version, so tokenization keys are pinned to their first version:
// Rotate on the tokenization purpose does not change tokens.
func (t *Tokenizer) key(ctx context.Context, subject string) (*keys.Key, error) {
	k, err := t.kr.Current(ctx, subject, t.purpose)
	if err == nil && k.Version() != tokenKeyVersion {
		k, err = t.kr.KeyVersion(ctx, k.ID(), tokenKeyVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	return k, nil
}

func appendTweak(dst []byte, field, format string) []byte {
	dst = append(dst, "fieldcrypt/tok/v1"...)
	dst = binary.AppendUvarint(dst, uint64(len(field)))
	dst = append(dst, field...)
	dst = binary.AppendUvarint(dst, uint64(len(format)))
	return append(dst, format...)
}

// Engine is what a Format uses to encrypt the secret part of a value: FF1
// under the subject's tokenization key and the tweak of the (field,
// format). Formats with several secret parts pass a distinct part label for
// each. An Engine is valid only during one Transform call: Formats must
// not keep it.
type Engine struct {
	key      *keys.Key
	local    *localCiphers // instead of key: a Vault's draw key
	tweak    []byte
	tweakBuf [128]byte
	partBuf  [160]byte
}

// cipher returns the FF1 cipher for alphabet under the engine's key,
// derived once per cached key.
func (e *Engine) cipher(a *fpe.Alphabet) (*fpe.FF1, error) {
	if e.local != nil {
		return e.local.cipher(a)
	}
	c, err := keys.Derive(e.key, insecuresecretaccess.Token{}, ff1Label(a), func(secret []byte) (*fpe.FF1, error) {
		k, err := hkdf.Key(sha256.New, secret, nil, "fieldcrypt/tokenize/v1/ff1", 32)
		if err != nil {
			return nil, err
		}
		defer clear(k)
		return fpe.NewFF1WithAlphabet(k, a)
	})
	if err != nil {
		return nil, fmt.Errorf("tokenize: deriving FF1 key: %w", err)
	}
	return c, nil
}

var ff1Labels sync.Map // *fpe.Alphabet -> Derive label

// ff1Label names the FF1 cipher of alphabet a among a key's derived values.
// It is cached so the hot path does not build the string on every call.
func ff1Label(a *fpe.Alphabet) string {
	if l, ok := ff1Labels.Load(a); ok {
		return l.(string)
	}
	l := "fieldcrypt/tokenize/v1/ff1\x00" + a.String()
	ff1Labels.Store(a, l)
	return l
}

func (e *Engine) partTweak(part string) []byte {
	if part == "" {
		return e.tweak
	}
	t := append(e.partBuf[:0], e.tweak...)
	t = binary.AppendUvarint(t, uint64(len(part)))
	return append(t, part...)
}

// Numerals encrypts (or, with decrypt, decrypts) the numerals src of
// alphabet a into dst, under the tweak of this field and format extended
// with part. dst and src may be the same slice. It fails with
// ErrDomainTooSmall when a.Radix()^len(src) < 1,000,000. The FF1 cipher of
// each alphabet is derived once per cached key and remembered by the
// alphabet's address: a should be long-lived, such as a package variable.
func (e *Engine) Numerals(a *fpe.Alphabet, part string, dst, src []uint16, decrypt bool) error {
	c, err := e.cipher(a)
	if err != nil {
		return err
	}
	tw := e.partTweak(part)
	if decrypt {
		err = c.DecryptNumerals(dst, src, tw)
	} else {
		err = c.EncryptNumerals(dst, src, tw)
	}
	return mapErr(err)
}

// String is Numerals for a string over alphabet a.
func (e *Engine) String(a *fpe.Alphabet, part, s string, decrypt bool) (string, error) {
	c, err := e.cipher(a)
	if err != nil {
		return "", err
	}
	tw := e.partTweak(part)
	var out string
	if decrypt {
		out, err = c.Decrypt(s, tw)
	} else {
		out, err = c.Encrypt(s, tw)
	}
	return out, mapErr(err)
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fpe.ErrDomainTooSmall):
		return fmt.Errorf("%w: %w", ErrDomainTooSmall, err)
	case errors.Is(err, fpe.ErrInvalidInput):
		return fmt.Errorf("%w: %w", ErrInvalidFormat, err)
	}
	return fmt.Errorf("tokenize: %w", err)
}
