// Package vaultkms is a keystore.KMS whose root key is a HashiCorp Vault
// Transit key: subject keys are wrapped by Transit's encrypt endpoint and
// unwrapped by its decrypt endpoint, so the root key never leaves Vault.
//
//	client, _ := api.NewClient(api.DefaultConfig())     // VAULT_ADDR, VAULT_TOKEN
//	root, _ := vaultkms.New(vaultkms.Config{Client: client, Key: "fieldcrypt-root"})
//	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: store})
//
// # Associated data
//
// A wrapped key is bound to its associated data (which key, which version)
// in one of two ways, chosen by Config.Binding when the Transit key is
// created and fixed for its life:
//
//   - BindAssociatedData (the default): Transit's associated_data field,
//     authenticated by AES-GCM. It needs an AEAD key type (aes128-gcm96,
//     aes256-gcm96, chacha20-poly1305) and Vault 1.13 or later. Vault's
//     rewrap endpoint ignores associated_data (checked up to Vault 1.21), so
//     a root rotation decrypts and encrypts again in batches: the subject
//     keys pass through the rotating process's memory.
//   - BindContext: the key is created with derived=true and the associated
//     data, prefixed with "fieldcrypt/vault/v1\x00", is Transit's context,
//     from which Vault derives a per-context key (HKDF): a wrong context
//     derives a wrong key and fails authentication. Rewrap supports
//     context, so a root rotation happens inside Vault and subject keys
//     never leave it. Vault ignores the context of a key that is not
//     derived, so the first call checks (one encrypt, one decrypt that must
//     fail) and refuses such a key.
//
// Either way Unwrap with the wrong associated data fails with
// keystore.ErrUnwrap.
//
// # Errors
//
// Unwrap fails with an error wrapping keystore.ErrUnwrap when Vault refuses the
// ciphertext itself: authentication failure ("cipher: message
// authentication failed"), a malformed ciphertext, a key version below the
// key's min_decryption_version, or a Transit key that no longer exists
// (also ErrKeyNotFound): every HTTP 400 of the decrypt endpoint, whose only
// inputs are the ciphertext, the associated data and the key name.
// Malformed ciphertexts are refused before any request is sent. Everything
// else — 403 (token expired or lacking the policy), 404 (wrong mount),
// 429, 5xx, connection errors, a cancelled context — is an operational
// error that does not wrap keystore.ErrUnwrap, so that a Keyring never mistakes
// an outage for a wrong root key. A KMS error never causes a stored key to
// be deleted or overwritten: this package only talks to Vault.
//
// # Retries and how long a request can take
//
// Encrypt, decrypt, rewrap, reading and configuring the key, and creating
// it (which leaves an existing key alone) are safe to repeat: after 429,
// 5xx (except 501) or a connection error they are retried up to
// Config.MaxRetries times. A rotation is not idempotent and is sent exactly
// once (see RotateKey). The caller's api.Client is not modified; requests
// go through a copy of it whose own retries (vault/api's MaxRetries, 2 by
// default, with 1–1.5 s waits) are off, so that they do not multiply with
// these. Each method sends one request or a few (Rewrap one per MaxBatch
// keys, twice that with BindAssociatedData; RotateKey a read, the rotation
// and perhaps a read), and with the defaults the bounds per request are:
//
//   - at most 4 attempts (1 + DefaultMaxRetries);
//   - waits of 100, 200 and 400 ms between them (RetryWait doubling up
//     to 2 s, each wait drawn between half and all of that): at most
//     0.7 s in all, so a Vault that refuses connections or answers 5xx is
//     reported after 4 attempts, at most 0.7 s of waiting and 4 round
//     trips (measured here: 0.4–0.65 s for refused connections, against
//     15 s when vault/api's own retries ran inside each attempt);
//   - each attempt at most the api.Client's Timeout (60 s by default);
//   - the whole request, attempts and waits included, at most
//     Config.Timeout (DefaultTimeout, 30 s), and never past the context's
//     deadline: no wait is started that would
//     end after the deadline, nor an attempt when the time left is less
//     than the previous attempt took; the last attempt's error is then
//     returned at once.
//
// # Key versions, rotation and shredding backups
//
// Wrapped keys are Transit ciphertexts, "vault:vN:base64", and name the
// Transit key version N that wrapped them. A root rotation is:
//
//	root.RotateKey(ctx)                                   // a new Transit key version
//	st, err := keys.RotateRoot(ctx, store, root, nil, keys.RotateOptions{})
//	root.SetMinDecryptionVersion(ctx, store, st.MinRootVersion)
//
// RotateRoot re-wraps every subject key and the check value under the
// newest version, in batches (batch_input), and reports in
// st.MinRootVersion the oldest version any of them is still under. That
// is the newest version only if the Transit key did not rotate again
// meanwhile — with auto_rotate_period, which Vault recommends, or a second
// operator, it may have, and raising the minimum to LatestVersion would
// make the keys re-wrapped before that unreadable, and the keystore refuse
// to open (keys.ErrRootKeyMismatch). SetMinDecryptionVersion checks the
// keystore and refuses, with ErrKeysBelowVersion, a minimum above what
// any key needs; run RotateRoot again to move them up. Once the minimum
// is raised, a keystore backup taken before the rotation no longer
// unwraps anything, and so the subjects forgotten since then are shredded
// in the backups too. Deleting the Transit key (deletion_allowed) shreds
// every subject key at once.
//
// # Limits and concurrency
//
// One encrypt, decrypt or rewrap request per call (Rewrap: one per up to
// MaxBatch keys). Wrapped keys are about 90 bytes for a 32-byte key. The
// limits on messages per key are Vault's: an aes256-gcm96 key version
// should wrap at most 2^32 keys; Vault's auto_rotate_period can enforce it.
// Token renewal is the caller's: configure it on the api.Client (for
// example with api.LifetimeWatcher); the KMS uses the Client's current
// token and namespace. A KMS is safe for concurrent use, as is the
// api.Client, which it never modifies.
package vaultkms

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Binding selects how associated data is bound to a wrapped key.
type Binding int

const (
	// BindAssociatedData uses Transit's associated_data (AEAD keys).
	BindAssociatedData Binding = iota
	// BindContext uses Transit's context on a derived key, so that
	// rotation can use Vault's rewrap endpoint.
	BindContext
)

// ErrKeyNotFound means the Transit key does not exist (or was deleted).
// Unwrap errors wrapping it also wrap keystore.ErrUnwrap.
var ErrKeyNotFound = errors.New("vault: transit key not found")

// Defaults for Config.
const (
	DefaultMount      = "transit"
	DefaultMaxRetries = 3
	DefaultRetryWait  = 100 * time.Millisecond
	DefaultTimeout    = 30 * time.Second
	DefaultMaxBatch   = 250
)

// maxRetryWait caps the doubling backoff.
const maxRetryWait = 2 * time.Second

// Config configures a KMS. Client and Key are required.
type Config struct {
	// Client talks to Vault, with its address and token. It is not
	// modified: requests go through a copy with vault/api's own retries
	// off (they would multiply with this package's), which follows later
	// changes of Client's token and namespace but not of its other
	// settings. Client's Timeout bounds each attempt.
	Client *api.Client
	// Mount is the path the Transit engine is mounted at; "" means "transit".
	Mount string
	// Key is the Transit key's name.
	Key string
	// Binding is how associated data is bound; see the package documentation.
	Binding Binding
	// MaxRetries bounds the retries of one request after 429, 5xx and
	// connection errors. 0 means DefaultMaxRetries; negative means none.
	// Requests that are not idempotent (RotateKey's) are never retried.
	MaxRetries int
	// RetryWait is the first backoff; it doubles per retry up to 2 s.
	// 0 means DefaultRetryWait (100 ms).
	RetryWait time.Duration
	// Timeout bounds each request to Vault, every attempt and wait
	// included, unless the context's deadline is sooner. 0 means
	// DefaultTimeout (30 s); negative means only the context bounds it.
	Timeout time.Duration
	// MaxBatch bounds the items of one batch request; 0 means DefaultMaxBatch.
	MaxBatch int
}

// KMS wraps keys with a Vault Transit key. It is safe for concurrent use.
type KMS struct {
	mu       sync.Mutex
	verified bool // BindContext: the key was shown to bind the context

	c        *api.Client // the caller's: read, never modified
	snd      atomic.Pointer[sender]
	mount    string
	key      string
	binding  Binding
	retries  int
	wait     time.Duration
	timeout  time.Duration
	maxBatch int
}

var (
	_ keystore.KMS           = (*KMS)(nil)
	_ keystore.KMSRewrapper  = (*KMS)(nil)
	_ keystore.RootVersioner = (*KMS)(nil)
)

// New returns a KMS for cfg. It sends no request: use CreateKey to create
// the Transit key, or let an operator create it.
func New(cfg Config) (*KMS, error) {
	if cfg.Client == nil {
		return nil, errors.New("vault: Config.Client is required")
	}
	if cfg.Key == "" || strings.ContainsAny(cfg.Key, "/?#") {
		return nil, fmt.Errorf("vault: invalid transit key name %q", cfg.Key)
	}
	if cfg.Binding != BindAssociatedData && cfg.Binding != BindContext {
		return nil, fmt.Errorf("vault: unknown binding %d", cfg.Binding)
	}
	k := &KMS{c: cfg.Client, mount: strings.Trim(cfg.Mount, "/"), key: cfg.Key, binding: cfg.Binding,
		retries: cfg.MaxRetries, wait: cfg.RetryWait, timeout: cfg.Timeout, maxBatch: cfg.MaxBatch}
	if k.mount == "" {
		k.mount = DefaultMount
	}
	if k.retries == 0 {
		k.retries = DefaultMaxRetries
	}
	if k.retries < 0 {
		k.retries = 0
	}
	if k.wait <= 0 {
		k.wait = DefaultRetryWait
	}
	if k.timeout == 0 {
		k.timeout = DefaultTimeout
	}
	if k.maxBatch <= 0 {
		k.maxBatch = DefaultMaxBatch
	}
	if err := k.firstSender(); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return k, nil
}

// firstSender makes the first copy of the caller's api.Client. An
// api.Client not made by api.NewClient (a zero &api.Client{}) panics when
// copied; New reports that as an error instead, as constructors here do.
func (k *KMS) firstSender() (err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("Config.Client is not usable: make it with api.NewClient")
		}
	}()
	_, err = k.sender()
	return err
}

// KeyName returns the Transit key's name.
func (k *KMS) KeyName() string { return k.key }

// Mount returns the Transit engine's mount path.
func (k *KMS) Mount() string { return k.mount }

func (k *KMS) path(op string) string { return k.mount + "/" + op + "/" + k.key }

// CreateKey creates the Transit key as this KMS needs it — aes256-gcm96,
// derived for BindContext — if it does not exist. An existing key is left
// as it is. Most deployments create the key once, by an operator; the
// token then needs only "update" on the encrypt, decrypt and rewrap paths,
// which also keeps encrypt from creating a key after a typo.
func (k *KMS) CreateKey(ctx context.Context) error {
	body := map[string]any{"type": "aes256-gcm96"}
	if k.binding == BindContext {
		body["derived"] = true
	}
	_, err := k.do(ctx, http.MethodPost, k.mount+"/keys/"+k.key, body)
	if err != nil {
		return fmt.Errorf("vault: create key %q: %w", k.key, err)
	}
	return nil
}

// RotateKey adds a new version of the Transit key; new wraps use it.
//
// A rotation is not idempotent, so RotateKey sends exactly one rotate
// request and never retries it. It reads latest_version before; when the
// rotate request fails without a definite answer from Vault (5xx, a
// dropped connection, a timeout) it reads latest_version again: if it grew,
// the rotation happened (or another one did meanwhile, which serves as
// well) and RotateKey returns nil; otherwise it returns an error saying
// that the key was not rotated and the request not retried. Call it again
// only after checking LatestVersion, since a request Vault is still
// processing may yet rotate the key.
func (k *KMS) RotateKey(ctx context.Context) error {
	before, err := k.LatestVersion(ctx)
	if err != nil {
		return fmt.Errorf("vault: rotate key %q: nothing sent: %w", k.key, err)
	}
	_, err = k.doOnce(ctx, http.MethodPost, k.mount+"/keys/"+k.key+"/rotate", map[string]any{})
	if err == nil {
		return nil
	}
	var re *responseError
	if errors.As(err, &re) && re.status >= 400 && re.status < 500 {
		return fmt.Errorf("vault: rotate key %q: %w", k.key, err) // Vault refused: nothing happened
	}
	after, rerr := k.LatestVersion(ctx)
	switch {
	case rerr != nil:
		return fmt.Errorf("vault: rotate key %q: not retried, and whether it happened is unknown "+
			"(reading latest_version failed too: %v): %w", k.key, rerr, err)
	case after > before:
		return nil
	}
	return fmt.Errorf("vault: rotate key %q: not rotated (latest_version is still %d) and not retried, "+
		"as a rotation is not idempotent; check LatestVersion before trying again: %w", k.key, after, err)
}

// LatestVersion returns the Transit key's newest version.
func (k *KMS) LatestVersion(ctx context.Context) (int, error) {
	data, err := k.do(ctx, http.MethodGet, k.mount+"/keys/"+k.key, nil)
	if err != nil {
		return 0, fmt.Errorf("vault: read key %q: %w", k.key, err)
	}
	v, err := intField(data, "latest_version")
	if err != nil {
		return 0, fmt.Errorf("vault: read key %q: %w", k.key, err)
	}
	return v, nil
}

// ErrKeysBelowVersion is returned by SetMinDecryptionVersion when the
// keystore still holds keys, or its check value, wrapped under a Transit
// key version below the one asked for: raising the minimum would make them
// unreadable. Run keys.RotateRoot again and raise the minimum to its
// RotateStats.MinRootVersion.
var ErrKeysBelowVersion = errors.New("vault: keys are still wrapped under an older transit key version; run keys.RotateRoot again")

// SetMinDecryptionVersion makes Vault refuse to decrypt with versions of the
// Transit key below v, after checking that none of store's live keys, nor
// its check value, is wrapped under such a version: it fails with an error
// wrapping ErrKeysBelowVersion, saying how many are, if any is, and refuses
// a v above the key's latest_version. The check reads every live key once
// (a LiveKeys pass, 1000 per call) and sends no request per key.
//
// The safe sequence after RotateKey is keys.RotateRoot, then
// SetMinDecryptionVersion(ctx, store, stats.MinRootVersion): not
// LatestVersion, which another rotation during RotateRoot (auto_rotate_period,
// a second operator) moves past what the keys are wrapped under. From then
// on keystore backups taken before the rotation unwrap nothing. Vault can
// undo it (the old versions are kept until trimmed), so it is a barrier
// against stolen backups, not yet destruction; trim the key
// (transit/keys/NAME/trim) for that.
//
// Any v no higher than the version of every key is accepted, including a
// lower minimum that makes keys locked out by an earlier raise readable
// again. The check and the configuration are two steps: a key stored in
// between under an older version — only a process that had it wrapped
// before the rotation and stalled until now could store one — is not seen.
func (k *KMS) SetMinDecryptionVersion(ctx context.Context, store keystore.RotatableStore, v int) error {
	if store == nil {
		return errors.New("vault: SetMinDecryptionVersion needs the keystore to check")
	}
	if v < 1 {
		return fmt.Errorf("vault: min_decryption_version %d for key %q: versions start at 1", v, k.key)
	}
	latest, err := k.LatestVersion(ctx)
	if err != nil {
		return err
	}
	if v > latest {
		return fmt.Errorf("vault: min_decryption_version %d for key %q refused: its latest_version is %d", v, k.key, latest)
	}
	below, meta, lowest, err := countBelow(ctx, store, v)
	if err != nil {
		return fmt.Errorf("vault: min_decryption_version %d for key %q: checking the keystore: %w", v, k.key, err)
	}
	if below > 0 || meta {
		var what []string
		switch {
		case below == 1:
			what = append(what, "1 key")
		case below > 1:
			what = append(what, fmt.Sprintf("%d keys", below))
		}
		if meta {
			what = append(what, "the check value")
		}
		verb := "is"
		if below+btoi(meta) > 1 {
			verb = "are"
		}
		return fmt.Errorf("vault: min_decryption_version %d for key %q refused: %s %s wrapped under older versions "+
			"(the oldest v%d) and would become unreadable: %w", v, k.key, strings.Join(what, " and "), verb, lowest, ErrKeysBelowVersion)
	}
	_, err = k.do(ctx, http.MethodPost, k.mount+"/keys/"+k.key+"/config", map[string]any{"min_decryption_version": v})
	if err != nil {
		return fmt.Errorf("vault: configure key %q: %w", k.key, err)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkValueMeta is the keystore metadata entry in which a keys.Keyring
// keeps the root key check value (wrapped under this KMS like any key).
// It is part of the keystore format, which never changes, so it is spelled
// out here rather than exported by package keys for this one reader;
// TestCheckValueMeta pins it against what keys.Open writes.
const checkValueMeta = "id-key.v1"

// countBelow counts the live keys of store wrapped under a version below
// v, reports whether the check value is, and the lowest such version.
// Values that are not Transit ciphertexts do not count: no version
// unwraps them.
func countBelow(ctx context.Context, store keystore.RotatableStore, v int) (below int, meta bool, lowest int, err error) {
	see := func(w []byte) bool {
		n, _, ok := parseCiphertext(w)
		if !ok || n >= v {
			return false
		}
		if lowest == 0 || n < lowest {
			lowest = n
		}
		return true
	}
	m, err := store.Meta(ctx, checkValueMeta)
	switch {
	case err == nil:
		meta = see(m)
	case !errors.Is(err, keystore.ErrKeyNotFound):
		return 0, false, 0, err
	}
	const page = 1000
	var cursor keystore.KeyCursor
	for {
		recs, err := store.LiveKeys(ctx, cursor, page)
		if err != nil {
			return 0, false, 0, err
		}
		for _, r := range recs {
			if see(r.Wrapped) {
				below++
			}
			cursor = keystore.KeyCursor{ID: r.ID, Version: r.Version}
		}
		if len(recs) < page {
			return below, meta, lowest, nil
		}
	}
}

// WrappedVersion implements keystore.RootVersioner: it returns the Transit key
// version that wrapped w, like the function WrappedVersion.
func (k *KMS) WrappedVersion(w []byte) (int, error) { return WrappedVersion(w) }

// WrappedVersion returns the Transit key version that wrapped w.
func WrappedVersion(w []byte) (int, error) {
	v, _, ok := parseCiphertext(w)
	if !ok {
		return 0, fmt.Errorf("vault: %w: not a transit ciphertext", keystore.ErrUnwrap)
	}
	return v, nil
}

// parseCiphertext checks w is "vault:v<N>:<canonical standard base64>".
func parseCiphertext(w []byte) (version int, body []byte, ok bool) {
	rest, ok := bytes.CutPrefix(w, []byte("vault:v"))
	if !ok {
		return 0, nil, false
	}
	num, b64, ok := bytes.Cut(rest, []byte(":"))
	if !ok || len(num) == 0 || len(num) > 9 || num[0] == '0' {
		return 0, nil, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
	}
	v, _ := strconv.Atoi(string(num))
	raw, err := base64.StdEncoding.Strict().DecodeString(string(b64))
	if err != nil || len(raw) < 12+16 {
		return 0, nil, false
	}
	return v, raw, true
}

func (k *KMS) bind(item map[string]any, ad []byte) {
	if k.binding == BindContext {
		c := append([]byte("fieldcrypt/vault/v1\x00"), ad...)
		item["context"] = base64.StdEncoding.EncodeToString(c)
		return
	}
	if len(ad) > 0 {
		item["associated_data"] = base64.StdEncoding.EncodeToString(ad)
	}
}

// verifyContextBinding checks once, for BindContext, that the Transit key
// is derived: Vault ignores the context of a key that is not, which would
// silently drop the binding to the associated data. It encrypts a random
// value under one context and expects decryption under another to fail.
func (k *KMS) verifyContextBinding(ctx context.Context) error {
	if k.binding != BindContext {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.verified {
		return nil
	}
	probe := make([]byte, 16)
	crand.Read(probe)
	enc := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(probe)}
	k.bind(enc, []byte("fieldcrypt/vault/probe/a"))
	data, err := k.do(ctx, http.MethodPost, k.path("encrypt"), enc)
	if err != nil {
		return fmt.Errorf("vault: checking key %q: %w", k.key, err)
	}
	dec := map[string]any{"ciphertext": data["ciphertext"]}
	k.bind(dec, []byte("fieldcrypt/vault/probe/b"))
	_, err = k.do(ctx, http.MethodPost, k.path("decrypt"), dec)
	var re *responseError
	switch {
	case err == nil:
		return fmt.Errorf("vault: key %q is not derived: with BindContext its context would not bind "+
			"the associated data; create it with derived=true (CreateKey) or use BindAssociatedData", k.key)
	case !errors.As(err, &re) || re.status != http.StatusBadRequest:
		return fmt.Errorf("vault: checking key %q: %w", k.key, err)
	}
	k.verified = true
	return nil
}

// Wrap encrypts plaintext with the Transit key's newest version.
func (k *KMS) Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if err := k.verifyContextBinding(ctx); err != nil {
		return nil, err
	}
	body := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plaintext)}
	k.bind(body, associatedData)
	data, err := k.do(ctx, http.MethodPost, k.path("encrypt"), body)
	if err != nil {
		return nil, fmt.Errorf("vault: wrap with key %q: %w", k.key, err)
	}
	ct, _ := data["ciphertext"].(string)
	if _, _, ok := parseCiphertext([]byte(ct)); !ok {
		return nil, fmt.Errorf("vault: wrap with key %q: unexpected response", k.key)
	}
	return []byte(ct), nil
}

// Unwrap decrypts a value Wrap returned; see the package documentation for
// which failures are keystore.ErrUnwrap.
func (k *KMS) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	if _, _, ok := parseCiphertext(wrapped); !ok {
		return nil, fmt.Errorf("vault: unwrap: %w: malformed transit ciphertext", keystore.ErrUnwrap)
	}
	if err := k.verifyContextBinding(ctx); err != nil {
		return nil, err
	}
	body := map[string]any{"ciphertext": string(wrapped)}
	k.bind(body, associatedData)
	data, err := k.do(ctx, http.MethodPost, k.path("decrypt"), body)
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap with key %q: %w", k.key, unwrapError(err))
	}
	pt, err := decodePlaintext(data["plaintext"])
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap with key %q: %w", k.key, err)
	}
	return pt, nil
}

func decodePlaintext(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("unexpected response: no plaintext")
	}
	pt, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("unexpected response: plaintext is not base64")
	}
	return pt, nil
}

// unwrapError classifies a decrypt failure: a 400 is about the ciphertext,
// associated data or key, everything else is operational.
func unwrapError(err error) error {
	var re *responseError
	if !errors.As(err, &re) || re.status != http.StatusBadRequest {
		return err
	}
	if re.keyNotFound() {
		return fmt.Errorf("%w: %w", keystore.ErrUnwrap, ErrKeyNotFound)
	}
	return fmt.Errorf("%w: %s", keystore.ErrUnwrap, re.message())
}

// Rewrap implements keystore.KMSRewrapper: it re-wraps each value under the
// Transit key's newest version, MaxBatch per request. With BindContext it
// uses Transit's rewrap endpoint and the keys never leave Vault; with
// BindAssociatedData (whose associated data Vault's rewrap ignores) it
// sends a batch decrypt and a batch encrypt and clears the plaintexts.
// Items that do not authenticate get an error wrapping keystore.ErrUnwrap.
func (k *KMS) Rewrap(ctx context.Context, reqs []keystore.RewrapRequest) ([]keystore.RewrapResult, error) {
	if err := k.verifyContextBinding(ctx); err != nil {
		return nil, err
	}
	out := make([]keystore.RewrapResult, 0, len(reqs))
	for len(reqs) > 0 {
		n := min(len(reqs), k.maxBatch)
		res, err := k.rewrapChunk(ctx, reqs[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		reqs = reqs[n:]
	}
	return out, nil
}

func (k *KMS) rewrapChunk(ctx context.Context, reqs []keystore.RewrapRequest) ([]keystore.RewrapResult, error) {
	res := make([]keystore.RewrapResult, len(reqs))
	items := make([]map[string]any, 0, len(reqs))
	idx := make([]int, 0, len(reqs))
	for i, r := range reqs {
		if _, _, ok := parseCiphertext(r.Wrapped); !ok {
			res[i].Err = fmt.Errorf("vault: unwrap: %w: malformed transit ciphertext", keystore.ErrUnwrap)
			continue
		}
		item := map[string]any{"ciphertext": string(r.Wrapped)}
		k.bind(item, r.AssociatedData)
		items = append(items, item)
		idx = append(idx, i)
	}
	if len(items) == 0 {
		return res, nil
	}
	op := "rewrap"
	if k.binding == BindAssociatedData {
		op = "decrypt"
	}
	results, err := k.batch(ctx, op, items)
	if err != nil {
		return nil, fmt.Errorf("vault: %s with key %q: %w", op, k.key, err)
	}
	if k.binding == BindContext {
		for j, r := range results {
			res[idx[j]] = itemResult(r, "ciphertext", func(ct string) ([]byte, error) {
				if _, _, ok := parseCiphertext([]byte(ct)); !ok {
					return nil, errors.New("vault: rewrap: unexpected response")
				}
				return []byte(ct), nil
			})
		}
		return res, nil
	}
	// Decrypted; now encrypt the ones that authenticated.
	enc := make([]map[string]any, 0, len(results))
	encIdx := make([]int, 0, len(results))
	var secrets [][]byte
	defer func() {
		for _, s := range secrets {
			clear(s)
		}
	}()
	for j, r := range results {
		pr := itemResult(r, "plaintext", func(s string) ([]byte, error) { return decodePlaintext(s) })
		if pr.Err != nil {
			res[idx[j]] = pr
			continue
		}
		secrets = append(secrets, pr.Wrapped)
		item := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pr.Wrapped)}
		k.bind(item, reqs[idx[j]].AssociatedData)
		enc = append(enc, item)
		encIdx = append(encIdx, idx[j])
	}
	if len(enc) == 0 {
		return res, nil
	}
	results, err = k.batch(ctx, "encrypt", enc)
	if err != nil {
		return nil, fmt.Errorf("vault: encrypt with key %q: %w", k.key, err)
	}
	for j, r := range results {
		res[encIdx[j]] = itemResult(r, "ciphertext", func(ct string) ([]byte, error) { return []byte(ct), nil })
		if res[encIdx[j]].Err != nil {
			// An encrypt failure is never the ciphertext's fault.
			return nil, fmt.Errorf("vault: encrypt with key %q: %v", k.key, res[encIdx[j]].Err)
		}
	}
	return res, nil
}

func itemResult(r map[string]any, field string, parse func(string) ([]byte, error)) keystore.RewrapResult {
	if e, _ := r["error"].(string); e != "" {
		return keystore.RewrapResult{Err: fmt.Errorf("vault: %w: %s", keystore.ErrUnwrap, e)}
	}
	s, _ := r[field].(string)
	v, err := parse(s)
	return keystore.RewrapResult{Wrapped: v, Err: err}
}

// batch sends one batch_input request and returns its batch_results, in
// order. Per-item errors are left in the items; a 400 whose body holds the
// results (every item failed) is not an error.
func (k *KMS) batch(ctx context.Context, op string, items []map[string]any) ([]map[string]any, error) {
	body := map[string]any{"batch_input": items, "partial_failure_response_code": http.StatusOK}
	data, err := k.do(ctx, http.MethodPost, k.path(op), body)
	var re *responseError
	if errors.As(err, &re) && re.status == http.StatusBadRequest && re.data != nil {
		data, err = re.data, nil
	}
	if err != nil {
		return nil, err
	}
	raw, _ := data["batch_results"].([]any)
	if len(raw) != len(items) {
		return nil, fmt.Errorf("unexpected response: %d results for %d items", len(raw), len(items))
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, errors.New("unexpected response: malformed batch result")
		}
		out[i] = m
	}
	return out, nil
}

// responseError is an HTTP error answer from Vault.
type responseError struct {
	status int
	errs   []string
	data   map[string]any // the response's data, if it had any
}

func (e *responseError) message() string {
	if len(e.errs) == 0 {
		return http.StatusText(e.status)
	}
	return strings.Join(e.errs, "; ")
}

func (e *responseError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.message(), e.status)
}

func (e *responseError) keyNotFound() bool {
	for _, m := range e.errs {
		if strings.Contains(m, "key not found") {
			return true
		}
	}
	return false
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status != http.StatusNotImplemented
}

// sender is the copy of the caller's api.Client that requests go through:
// the same address, HTTP client, headers and token, with vault/api's own
// retries and timeout turned off, so that do alone decides how often and
// how long to try. It is replaced when the caller's token or namespace
// changes, and never modified once made.
type sender struct {
	token, namespace string
	timeout          time.Duration // the caller's Client.Timeout, applied per attempt
	c                *api.Client
}

func (k *KMS) sender() (*sender, error) {
	tok, ns := k.c.Token(), k.c.Namespace()
	if s := k.snd.Load(); s != nil && s.token == tok && s.namespace == ns {
		return s, nil
	}
	c, err := k.c.CloneWithHeaders()
	if err != nil {
		return nil, fmt.Errorf("copying the api.Client: %w", err)
	}
	s := &sender{token: tok, namespace: ns, timeout: k.c.ClientTimeout(), c: c}
	c.SetToken(tok)
	c.SetMaxRetries(0)
	// Without a client timeout Logical().WriteRawWithContext does not
	// cancel its request context when it returns, before the body is read
	// (which truncates large batch responses, vault/api v1.23); once
	// applies the caller's timeout to each attempt instead.
	c.SetClientTimeout(0)
	k.snd.Store(s)
	return s, nil
}

// do sends an idempotent request, retrying 429, 5xx and connection errors
// within the bounds in the package documentation, and returns the
// response's data.
func (k *KMS) do(ctx context.Context, method, path string, body map[string]any) (map[string]any, error) {
	return k.send(ctx, method, path, body, k.retries)
}

// doOnce sends a request that must not be repeated blindly: one attempt.
func (k *KMS) doOnce(ctx context.Context, method, path string, body map[string]any) (map[string]any, error) {
	return k.send(ctx, method, path, body, 0)
}

func (k *KMS) send(ctx context.Context, method, path string, body map[string]any, retries int) (map[string]any, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	s, err := k.sender()
	if err != nil {
		return nil, err
	}
	if k.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, k.timeout, errCallTimeout)
		defer cancel()
	}
	wait := k.wait
	for attempt := 1; ; attempt++ {
		start := time.Now()
		data, err, retry := k.once(ctx, s, method, path, payload)
		took := time.Since(start)
		if err == nil || !retry {
			return data, err
		}
		if attempt > retries {
			if attempt > 1 {
				err = fmt.Errorf("giving up after %s: %w", attempts(attempt), err)
			}
			return nil, err
		}
		d := wait/2 + rand.N(wait/2+1)
		// Neither sleep past the deadline nor start an attempt that it
		// would cut short: one that fails as slowly as the last one did.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+took {
			return nil, fmt.Errorf("giving up after %s, too close to the deadline for another: %w", attempts(attempt), err)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (after %s, the last: %v)", k.ctxErr(ctx), attempts(attempt), err)
		case <-t.C:
		}
		wait = min(2*wait, maxRetryWait)
	}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// errCallTimeout is the cause of a call's context when Config.Timeout ends it.
var errCallTimeout = errors.New("Config.Timeout reached")

// ctxErr is ctx's error, saying so when Config.Timeout rather than the
// caller's context ended the call.
func (k *KMS) ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil && context.Cause(ctx) == errCallTimeout {
		return fmt.Errorf("%w (Config.Timeout, %v, reached)", err, k.timeout)
	}
	return ctx.Err()
}

// once makes one attempt. retry reports whether the failure may be
// transient: 429, 5xx other than 501, or no answer.
func (k *KMS) once(ctx context.Context, s *sender, method, path string, payload []byte) (data map[string]any, err error, retry bool) {
	if ctx.Err() != nil {
		return nil, k.ctxErr(ctx), false
	}
	actx := ctx
	if s.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel() // after the body is read
	}
	// Raw requests return the response of a non-2xx answer too, body
	// intact: a batch whose every item failed comes as a 400 with results.
	var resp *api.Response
	if method == http.MethodGet {
		resp, err = s.c.Logical().ReadRawWithContext(actx, path)
	} else {
		resp, err = s.c.Logical().WriteRawWithContext(actx, path, payload)
	}
	if resp != nil {
		defer resp.Body.Close()
	}
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		if ctx.Err() != nil {
			return nil, k.ctxErr(ctx), false
		}
		return nil, err, true // connection refused, reset, per-attempt timeout
	}
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if rerr != nil {
		if ctx.Err() != nil {
			return nil, k.ctxErr(ctx), false
		}
		return nil, rerr, true
	}
	var parsed struct {
		Data   map[string]any `json:"data"`
		Errors []string       `json:"errors"`
	}
	perr := json.Unmarshal(raw, &parsed)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(raw)) == 0 {
			return map[string]any{}, nil, false
		}
		if perr != nil {
			return nil, errors.New("unexpected response: not JSON"), false
		}
		if parsed.Data == nil {
			parsed.Data = map[string]any{}
		}
		return parsed.Data, nil, false
	}
	re := &responseError{status: resp.StatusCode, errs: parsed.Errors, data: parsed.Data}
	return nil, re, retryable(resp.StatusCode)
}

func intField(data map[string]any, name string) (int, error) {
	switch v := data[name].(type) {
	case float64:
		return int(v), nil
	case json.Number:
		n, err := v.Int64()
		return int(n), err
	}
	return 0, fmt.Errorf("unexpected response: no %s", name)
}
