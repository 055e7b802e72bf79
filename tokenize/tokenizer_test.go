package tokenize_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

var ctx = context.Background()

func newKeyring(t testing.TB) *keys.Keyring {
	t.Helper()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func newTokenizer(t testing.TB) (*keys.Keyring, *tokenize.Tokenizer) {
	kr := newKeyring(t)
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return kr, tk
}

var decimal, _ = fpe.NewAlphabet("0123456789")

// allDigits is a test format: the whole value is decimal digits.
type allDigits struct{}

func (allDigits) Name() string { return "test-digits" }

func (allDigits) Transform(e *tokenize.Engine, v string, decrypt bool) (string, error) {
	return e.String(decimal, "", v, decrypt)
}

func TestTokenizerCore(t *testing.T) {
	kr, tk := newTokenizer(t)
	f := allDigits{}
	tok, err := tk.Tokenize(ctx, "cust-1", "orders.ref", f, "1234567890")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 10 || strings.Trim(tok, "0123456789") != "" || tok == "1234567890" {
		t.Fatalf("token %q is not a different 10-digit string", tok)
	}
	again, _ := tk.Tokenize(ctx, "cust-1", "orders.ref", f, "1234567890")
	if again != tok {
		t.Fatal("tokens are not stable for the same (subject, field, value)")
	}
	back, err := tk.Detokenize(ctx, "cust-1", "orders.ref", f, tok)
	if err != nil || back != "1234567890" {
		t.Fatalf("Detokenize = %q, %v", back, err)
	}
	other, _ := tk.Tokenize(ctx, "cust-2", "orders.ref", f, "1234567890")
	field, _ := tk.Tokenize(ctx, "cust-1", "orders.ref2", f, "1234567890")
	if other == tok || field == tok {
		t.Fatal("tokens must differ across subjects and fields")
	}

	// Rotation does not change tokens: tokenization keys are pinned.
	if _, err := kr.Rotate(ctx, "cust-1", tokenize.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	if after, _ := tk.Tokenize(ctx, "cust-1", "orders.ref", f, "1234567890"); after != tok {
		t.Fatal("rotating the tokens purpose changed a token")
	}

	global, err := tk.TokenizeGlobal(ctx, "orders.ref", f, "1234567890")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Forget(ctx, "cust-1", "ticket"); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Detokenize(ctx, "cust-1", "orders.ref", f, tok); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Detokenize after Forget: got %v, want keys.ErrKeyDestroyed", err)
	}
	if _, err := tk.Tokenize(ctx, "cust-1", "orders.ref", f, "1"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Tokenize after Forget: got %v, want keys.ErrKeyDestroyed", err)
	}
	if back, err := tk.Detokenize(ctx, "cust-2", "orders.ref", f, other); err != nil || back != "1234567890" {
		t.Fatalf("other subject after Forget: %q, %v", back, err)
	}
	if back, err := tk.DetokenizeGlobal(ctx, "orders.ref", f, global); err != nil || back != "1234567890" {
		t.Fatalf("global token after a customer's Forget: %q, %v", back, err)
	}
}

func TestTokenizerBadInput(t *testing.T) {
	_, tk := newTokenizer(t)
	f := allDigits{}
	if _, err := tk.Tokenize(ctx, "cust-1", "f", f, "12345"); !errors.Is(err, tokenize.ErrDomainTooSmall) {
		t.Fatalf("5 digits: got %v, want ErrDomainTooSmall", err)
	}
	for _, v := range []string{"+123456789", "12345 6789", "１２３４５６７", ""} {
		_, err := tk.Tokenize(ctx, "cust-1", "f", f, v)
		if !errors.Is(err, tokenize.ErrInvalidFormat) && !errors.Is(err, tokenize.ErrDomainTooSmall) {
			t.Fatalf("%q: got %v, want ErrInvalidFormat", v, err)
		}
		if v != "" && strings.Contains(fmt.Sprint(err), v) {
			t.Fatalf("error echoes the value: %v", err)
		}
	}
	if _, err := tk.Tokenize(ctx, "", "f", f, "1234567"); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("empty subject: got %v", err)
	}
	if _, err := tk.Tokenize(ctx, "cust-1", "", f, "1234567"); err == nil {
		t.Fatal("empty field accepted")
	}
	if _, err := tk.Tokenize(ctx, "cust-1", "f", nil, "1234567"); err == nil {
		t.Fatal("nil format accepted")
	}
	if _, err := tokenize.New(nil); err == nil {
		t.Fatal("New(nil) accepted")
	}
	if _, err := tokenize.New(newKeyring(t), nil); err == nil {
		t.Fatal("New with a nil Option accepted")
	}
	if _, err := tokenize.New(newKeyring(t), tokenize.WithPurpose("Bad Purpose")); !errors.Is(err, keys.ErrInvalidPurpose) {
		t.Fatalf("bad purpose: got %v", err)
	}
}
