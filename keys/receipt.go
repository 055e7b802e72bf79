package keys

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrReceiptInvalid means a receipt's signature does not verify under the
// public key, or the receipt is malformed.
var ErrReceiptInvalid = errors.New("keys: erasure receipt does not verify")

// ReceiptFormat is the Format of every receipt this package signs.
const ReceiptFormat = "fieldcrypt-erasure-receipt/v1"

// The metadata entry holding the receipt signing key's seed, wrapped by
// the root key, and the associated data it is wrapped with.
const (
	receiptKeyMetaName = "receipt-key.v1"
	receiptKeyAD       = "fieldcrypt/receipt-signing-key/v1"
)

// Receipt kinds.
const (
	receiptForget    = "forget"    // Erase or Forget
	receiptWithdraw  = "withdraw"  // Withdraw
	receiptExpire    = "expire"    // the sweep, by retention
	receiptScheduled = "scheduled" // the sweep, carrying out a scheduled destruction
)

// Receipt is a signed statement that keys were destroyed (or scheduled
// for destruction): proof for a data subject or an auditor that needs only
// the keystore's public receipt key ([Keyring.ReceiptPublicKey]) to check,
// offline, with [VerifyReceipt]. It names the subject by its keystore
// reference (the keyed hash, never the identifier) and holds no personal
// data and no key material.
//
// Its canonical encoding, which the signature covers, is the JSON object
// of its fields in the order below without Signature, as encoding/json
// writes it (no spaces, empty fields left out); its transport encoding is
// the same with Signature (json.Marshal of the Receipt).
type Receipt struct {
	Format string `json:"format"`
	// Keystore identifies the keystore (a keyed hash, hex).
	Keystore string `json:"keystore"`
	// Subject is the subject's reference (hex).
	Subject string `json:"subject_ref"`
	// Kind is "forget", "withdraw", "expire" or "scheduled" (the sweep
	// carrying out a destruction a "forget" or "withdraw" receipt
	// scheduled).
	Kind string `json:"kind"`
	// Time is when it happened (RFC 3339, UTC).
	Time string `json:"time"`
	// Reason is the caller's reference or, for "expire", the policy.
	Reason    string            `json:"reason,omitempty"`
	Destroyed []ReceiptKey      `json:"destroyed,omitempty"`
	Scheduled []ReceiptSchedule `json:"scheduled,omitempty"`
	// SigningKey is the public key that signed it (base64, standard).
	SigningKey string `json:"signing_key"`
	// Signature is the Ed25519 signature of the canonical encoding
	// (base64, standard).
	Signature string `json:"signature,omitempty"`
}

// ReceiptKey is one key a receipt reports destroyed.
type ReceiptKey struct {
	Purpose      string `json:"purpose"`
	Key          string `json:"key_id"`
	FirstVersion uint32 `json:"first_version"`
	LastVersion  uint32 `json:"last_version"`
	Policy       string `json:"policy,omitempty"`
}

// ReceiptSchedule is one key a receipt reports kept and scheduled.
type ReceiptSchedule struct {
	Purpose string `json:"purpose"`
	Key     string `json:"key_id"`
	Due     string `json:"due"`
	Because string `json:"because"`
}

// Canonical returns the encoding the signature covers.
func (r Receipt) Canonical() []byte {
	r.Signature = ""
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings and integers only
	}
	return b
}

// VerifyReceipt checks r's signature under pub, offline. It fails with
// ErrReceiptInvalid if r was not signed by pub's private key or was
// changed since.
func VerifyReceipt(pub ed25519.PublicKey, r Receipt) error {
	if len(pub) != ed25519.PublicKeySize || r.Format != ReceiptFormat {
		return fmt.Errorf("%w: wrong key size or format", ErrReceiptInvalid)
	}
	if r.SigningKey != base64.StdEncoding.EncodeToString(pub) {
		return fmt.Errorf("%w: signed by another key", ErrReceiptInvalid)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || !ed25519.Verify(pub, r.Canonical(), sig) {
		return ErrReceiptInvalid
	}
	return nil
}

// ParseReceipt decodes a receipt's transport encoding, refusing unknown
// fields (a signature covers only the fields it knows).
func ParseReceipt(data []byte) (Receipt, error) {
	var r Receipt
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return Receipt{}, fmt.Errorf("%w: %w", ErrReceiptInvalid, err)
	}
	return r, nil
}

// ReceiptPublicKey returns the keystore's receipt verification key,
// creating the signing key on first use (wrapped by the root key and kept
// in the keystore, so every process on it signs with the same key).
func (kr *Keyring) ReceiptPublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	priv, err := kr.receiptKey(ctx)
	if err != nil {
		return nil, err
	}
	return priv.Public().(ed25519.PublicKey), nil
}

func (kr *Keyring) receiptKey(ctx context.Context) (ed25519.PrivateKey, error) {
	l := kr.life
	if err := l.need("receipt"); err != nil {
		return nil, err
	}
	l.signMu.Lock()
	defer l.signMu.Unlock()
	if l.signKey != nil {
		return l.signKey, nil
	}
	ad := []byte(receiptKeyAD)
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("keys: generating receipt key: %w", err)
	}
	wrapped, err := kr.kms.Wrap(ctx, seed, ad)
	clear(seed)
	if err != nil {
		return nil, fmt.Errorf("keys: wrapping receipt key: %w", err)
	}
	stored, err := l.store.PutMeta(ctx, receiptKeyMetaName, wrapped)
	if err != nil {
		return nil, fmt.Errorf("keys: storing receipt key: %w", err)
	}
	seed, err = kr.kms.Unwrap(ctx, stored, ad)
	if err != nil {
		return nil, fmt.Errorf("keys: unwrapping receipt key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("keys: receipt key has the wrong length")
	}
	l.signKey = ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return l.signKey, nil
}

// keystoreIdentity names the keystore in receipts: a keyed hash every
// Keyring on it computes alike, which reveals nothing of the key.
func (kr *Keyring) keystoreIdentity() string {
	m := hmac.New(sha256.New, kr.idKey)
	m.Write([]byte("fieldcrypt/keystore-id/v1"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// newReceipt builds an unsigned receipt.
func (kr *Keyring) newReceipt(kind string, ref SubjectRef, at time.Time, reason string, destroyed []DestroyedKey, scheduled []ScheduledKey) Receipt {
	r := Receipt{Format: ReceiptFormat, Keystore: kr.keystoreIdentity(), Subject: ref.String(), Kind: kind,
		Time: formatTime(at), Reason: reason}
	for _, d := range destroyed {
		rk := ReceiptKey{Purpose: d.Purpose, Key: d.Key.String(), FirstVersion: d.FirstVersion, LastVersion: d.LastVersion}
		if p, ok := kr.life.policies[d.Purpose]; ok {
			rk.Policy = p.Name
		}
		r.Destroyed = append(r.Destroyed, rk)
	}
	for _, s := range scheduled {
		r.Scheduled = append(r.Scheduled, ReceiptSchedule{Purpose: s.Purpose, Key: s.Key.String(), Due: formatTime(s.Due), Because: s.Because})
	}
	return r
}

// SignReceipt signs r with priv: what a Keyring does to every receipt.
func SignReceipt(priv ed25519.PrivateKey, r Receipt) Receipt {
	r.SigningKey = base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, r.Canonical()))
	return r
}

// receiptFor returns the signed receipt of a destruction, or the zero
// Receipt when Lifecycle.Receipts is off.
func (kr *Keyring) receiptFor(ctx context.Context, kind string, ref SubjectRef, at time.Time, reason string, destroyed []DestroyedKey, scheduled []ScheduledKey) (Receipt, error) {
	if kr.life == nil || !kr.life.receipts {
		return Receipt{}, nil
	}
	priv, err := kr.receiptKey(ctx)
	if err != nil {
		return Receipt{}, err
	}
	return SignReceipt(priv, kr.newReceipt(kind, ref, at, reason, destroyed, scheduled)), nil
}
