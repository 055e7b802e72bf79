// Package tinkkms makes any Tink AEAD a fieldcrypt root key: a cloud KMS
// key through Tink's KMS clients (AWS KMS, Google Cloud KMS, HashiCorp
// Vault via github.com/tink-crypto/tink-go-hcvault), or any other
// tink.AEAD.
//
//	client, _ := gcpkms.NewClientWithOptions(ctx, "gcp-kms://")       // or hcvault.NewClientWithAEADOptions(...)
//	root, _ := tinkkms.FromURI(ctx, "gcp-kms://projects/…/cryptoKeys/root", client)
//	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: store})
//
// Wrap is the AEAD's Encrypt and Unwrap its Decrypt, with the keyring's
// associated data passed through: the AEAD must authenticate associated
// data and be randomised, as every Tink AEAD is.
//
// # Errors
//
// Tink's AEAD interface reports a failed authentication and a failed
// network call alike, as an error. Unwrap classifies the error: a cancelled
// or expired context, a network error (net.Error, *url.Error) and a Vault
// HTTP answer other than 400 (Vault's *api.ResponseError, from hcvault, found
// by its type name so that this package does not link Vault's client) are
// operational errors; every other Decrypt error wraps keystore.ErrUnwrap. A
// cloud KMS client whose errors are classified differently can be given
// WithOperationalErrors. Operational errors matter: a Keyring reports an
// ErrUnwrap of its check value as a wrong root key.
//
// For hcvault:// URIs FromURI also checks that a wrapped key is a
// canonical Transit ciphertext ("vault:v<N>:" and strict base64) before
// sending it, because Vault reads "vault:v0:" as version 1 and so would
// accept a modified ciphertext. For a Vault root key, keys/vaultkms offers
// more: retries, batch rotation, key versions.
//
// # Limits and concurrency
//
// The limits are the AEAD's: a Tink AES-GCM key or a KMS key should wrap at
// most 2^32 keys. Calls on a plain tink.AEAD cannot be cancelled once
// started; an AEAD that also implements tink.AEADWithContext gets the
// context. A KMS is safe for concurrent use if its AEAD is, as Tink's are.
package tinkkms

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// KMS is a keystore.KMS backed by a Tink AEAD. It is safe for concurrent use
// when the AEAD is.
type KMS struct {
	aead        tink.AEAD
	withCtx     tink.AEADWithContext // nil if aead has no context variant
	check       func(wrapped []byte) bool
	operational func(error) bool
}

var _ keystore.KMS = (*KMS)(nil)

// Option configures a KMS.
type Option func(*KMS)

// WithOperationalErrors adds a classifier: Decrypt errors for which
// isOperational returns true are returned as they are, not as
// keystore.ErrUnwrap. Most users won't need it.
func WithOperationalErrors(isOperational func(error) bool) Option {
	return func(k *KMS) { k.operational = isOperational }
}

// WithCiphertextCheck makes Unwrap refuse, as keystore.ErrUnwrap and without
// calling the AEAD, wrapped keys for which valid returns false.
func WithCiphertextCheck(valid func(wrapped []byte) bool) Option {
	return func(k *KMS) { k.check = valid }
}

// New returns a KMS that wraps keys with a. If a also implements
// tink.AEADWithContext, the contexts of Wrap and Unwrap are passed on.
// A nil a (or a nil option) is an error.
func New(a tink.AEAD, opts ...Option) (*KMS, error) {
	if isNil(a) {
		return nil, errors.New("tinkkms: New needs a tink.AEAD, got nil")
	}
	k := &KMS{aead: a}
	k.withCtx, _ = a.(tink.AEADWithContext)
	return k.apply(opts)
}

// NewWithContext returns a KMS that wraps keys with a context-aware AEAD.
// A nil a (or a nil option) is an error.
func NewWithContext(a tink.AEADWithContext, opts ...Option) (*KMS, error) {
	if isNil(a) {
		return nil, errors.New("tinkkms: NewWithContext needs a tink.AEADWithContext, got nil")
	}
	return (&KMS{withCtx: a}).apply(opts)
}

func (k *KMS) apply(opts []Option) (*KMS, error) {
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("tinkkms: nil Option")
		}
		o(k)
	}
	return k, nil
}

// isNil reports whether v is nil or a nil pointer in an interface, which
// would otherwise panic on first use instead of failing here.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

// FromURI returns a KMS for the key keyURI of client (for example
// "hcvault://vault.example:8200/transit/keys/root" with an hcvault client,
// or "aws-kms://arn:…" with an awskms client). If client is nil, the
// client registered with Tink's registry.RegisterKMSClient for keyURI is
// used. No request is sent: a wrong key shows on first use (keys.Open
// wraps and unwraps a check value at once).
func FromURI(ctx context.Context, keyURI string, client registry.KMSClient, opts ...Option) (*KMS, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if client == nil {
		c, err := registry.GetKMSClient(keyURI)
		if err != nil {
			return nil, fmt.Errorf("tinkkms: no KMS client for %s: %w", redact(keyURI), err)
		}
		client = c
	} else if !client.Supported(keyURI) {
		return nil, fmt.Errorf("tinkkms: the KMS client does not support %s", redact(keyURI))
	}
	a, err := client.GetAEAD(keyURI)
	if err != nil {
		return nil, fmt.Errorf("tinkkms: key %s: %w", redact(keyURI), err)
	}
	if a == nil {
		return nil, fmt.Errorf("tinkkms: key %s: the KMS client returned no AEAD", redact(keyURI))
	}
	if strings.HasPrefix(strings.ToLower(keyURI), "hcvault://") {
		opts = append([]Option{WithCiphertextCheck(IsTransitCiphertext)}, opts...)
	}
	return New(a, opts...)
}

// redact keeps a key URI's scheme and host: the rest may be long or
// sensitive (fake-kms URIs contain the key itself).
func redact(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "a key URI without a scheme"
	}
	host, _, _ := strings.Cut(rest, "/")
	if strings.EqualFold(scheme, "fake-kms") {
		host = "…"
	}
	return scheme + "://" + host + "/…"
}

// IsTransitCiphertext reports whether w is a canonical Vault Transit
// ciphertext: "vault:v<N>:" with N ≥ 1 without leading zeros, then strict
// standard base64.
func IsTransitCiphertext(w []byte) bool {
	rest, ok := bytes.CutPrefix(w, []byte("vault:v"))
	if !ok {
		return false
	}
	num, b64, ok := bytes.Cut(rest, []byte(":"))
	if !ok || len(num) == 0 || len(num) > 9 || num[0] == '0' {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(string(b64))
	return err == nil && len(raw) > 0
}

// Wrap encrypts plaintext with the AEAD, bound to associatedData.
func (k *KMS) Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		w   []byte
		err error
	)
	if k.withCtx != nil {
		w, err = k.withCtx.EncryptWithContext(ctx, plaintext, associatedData)
	} else {
		w, err = k.aead.Encrypt(plaintext, associatedData)
	}
	if err != nil {
		return nil, fmt.Errorf("tinkkms: wrap: %w", err)
	}
	return w, nil
}

// Unwrap decrypts a value Wrap returned. Failures are keystore.ErrUnwrap unless
// they are operational; see the package documentation.
func (k *KMS) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k.check != nil && !k.check(wrapped) {
		return nil, fmt.Errorf("tinkkms: unwrap: %w: malformed ciphertext", keystore.ErrUnwrap)
	}
	var (
		pt  []byte
		err error
	)
	if k.withCtx != nil {
		pt, err = k.withCtx.DecryptWithContext(ctx, wrapped, associatedData)
	} else {
		pt, err = k.aead.Decrypt(wrapped, associatedData)
	}
	if err == nil {
		return pt, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("tinkkms: unwrap: %w", cerr)
	}
	if k.isOperational(err) {
		return nil, fmt.Errorf("tinkkms: unwrap: %w", err)
	}
	// The AEAD's message may quote the ciphertext; it adds nothing a caller
	// can act on.
	return nil, fmt.Errorf("tinkkms: unwrap: %w", keystore.ErrUnwrap)
}

func (k *KMS) isOperational(err error) bool {
	if k.operational != nil && k.operational(err) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return true
	}
	if code, ok := vaultStatus(err); ok {
		return code != http.StatusBadRequest
	}
	return false
}

// vaultStatus finds a HashiCorp Vault *api.ResponseError in err's chain and
// returns its HTTP status. It looks for the type by its import path and
// name instead of importing Vault's client, so that a program using Tink
// with AWS or GCP links none of Vault; hcvault:// users link Vault through
// tink-go-hcvault anyway.
func vaultStatus(err error) (int, bool) {
	for _, e := range errorChain(err) {
		v := reflect.ValueOf(e)
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			continue
		}
		t := v.Elem().Type()
		if t.Name() != "ResponseError" || t.PkgPath() != "github.com/hashicorp/vault/api" {
			continue
		}
		if f := v.Elem().FieldByName("StatusCode"); f.IsValid() && f.CanInt() {
			return int(f.Int()), true
		}
	}
	return 0, false
}

// errorChain lists err and everything it wraps, depth first.
func errorChain(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		for e != nil && len(out) < 64 {
			out = append(out, e)
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return out
}
