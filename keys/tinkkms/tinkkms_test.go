package tinkkms_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/tinkkms"
)

// skipInFIPSOnly skips tests of Tink's own local AEADs (its fake KMS) in
// FIPS 140-only mode: Tink's AES-GCM seals with cipher.NewGCM and nonces of
// its own, which that mode refuses. A cloud KMS client's AEAD runs in the
// KMS and is unaffected, as the hcvault:// tests below show.
func skipInFIPSOnly(t *testing.T) {
	t.Helper()
	if fips140OnlyMode() {
		t.Skip("Tink's local AES-GCM (fake KMS) cannot run in FIPS 140-only mode; the hcvault:// tests cover remote AEADs")
	}
}

func fakeKMS(t *testing.T) *tinkkms.KMS {
	t.Helper()
	skipInFIPSOnly(t)
	uri, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatal(err)
	}
	client, err := fakekms.NewClient("fake-kms://")
	if err != nil {
		t.Fatal(err)
	}
	k, err := tinkkms.FromURI(context.Background(), uri, client)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestConformanceFakeKMS(t *testing.T) {
	k := fakeKMS(t)
	runKMSTests(t, k)
}

func TestConformanceAEAD(t *testing.T) {
	skipInFIPSOnly(t)
	uri, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatal(err)
	}
	a, err := fakekms.NewAEAD(uri)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tinkkms.New(a)
	if err != nil {
		t.Fatal(err)
	}
	runKMSTests(t, k)
}

func TestNewRefusesNil(t *testing.T) {
	// Constructors return errors; none panics on a nil argument, including
	// a nil pointer inside the interface.
	var nilAEAD *nilPointerAEAD
	if k, err := tinkkms.New(nil); err == nil || k != nil {
		t.Fatalf("New(nil) = %v, %v", k, err)
	}
	if k, err := tinkkms.New(nilAEAD); err == nil || k != nil {
		t.Fatalf("New(nil pointer) = %v, %v", k, err)
	}
	if k, err := tinkkms.NewWithContext(nil); err == nil || k != nil {
		t.Fatalf("NewWithContext(nil) = %v, %v", k, err)
	}
	if k, err := tinkkms.New(nilPointerAEAD{}, nil); err == nil || k != nil {
		t.Fatalf("New with a nil Option = %v, %v", k, err)
	}
}

type nilPointerAEAD struct{}

func (nilPointerAEAD) Encrypt(p, ad []byte) ([]byte, error) { return nil, nil }
func (nilPointerAEAD) Decrypt(c, ad []byte) ([]byte, error) { return nil, nil }

func TestFromURIErrors(t *testing.T) {
	ctx := context.Background()
	client, _ := fakekms.NewClient("fake-kms://")
	if _, err := tinkkms.FromURI(ctx, "aws-kms://arn:aws:kms:eu-central-1:1:key/x", client); err == nil {
		t.Fatal("FromURI accepted a URI its client does not support")
	}
	if _, err := tinkkms.FromURI(ctx, "fake-kms://not-a-key", client); err == nil {
		t.Fatal("FromURI accepted a malformed key")
	}
	if _, err := tinkkms.FromURI(ctx, "no-client-registered://x", nil); err == nil {
		t.Fatal("FromURI without a registered client succeeded")
	}
}

func TestWrongRootKey(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	if _, err := keys.Open(ctx, keys.Config{KMS: fakeKMS(t), Store: store}); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, keys.Config{KMS: fakeKMS(t), Store: store}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("Open with another root key = %v, want ErrRootKeyMismatch", err)
	}
}

func TestIsTransitCiphertext(t *testing.T) {
	for in, want := range map[string]bool{
		"vault:v1:AAAA": true, "vault:v12:AAAA": true, "vault:v0:AAAA": false, "vault:v01:AAAA": false,
		"vault:w1:AAAA": false, "vault:v1:AAB=": false, "vault:v1:AAA=": true, "vault:v1:": false, "": false, "vault:v1:AA!A": false,
	} {
		if got := tinkkms.IsTransitCiphertext([]byte(in)); got != want {
			t.Errorf("IsTransitCiphertext(%q) = %v", in, got)
		}
	}
}

// vaultClient returns a client for VAULT_ADDR/VAULT_TOKEN, or skips.
func vaultClient(t *testing.T) *api.Client {
	t.Helper()
	if os.Getenv("VAULT_ADDR") == "" || os.Getenv("VAULT_TOKEN") == "" {
		t.Skip("VAULT_ADDR not set; run internal/vaultharness/start.sh (eval its output) or point VAULT_ADDR/VAULT_TOKEN at a Vault with transit mounted at transit/")
	}
	cfg := api.DefaultConfig()
	cfg.MaxRetries = 0
	cfg.Timeout = 30 * time.Second
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(os.Getenv("VAULT_TOKEN"))
	return c
}

// hcvaultKey creates a Transit key and returns its hcvault:// URI.
func hcvaultKey(t *testing.T, c *api.Client) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "fieldcrypt-tink-" + hex.EncodeToString(b)
	if _, err := c.Logical().Write("transit/keys/"+name, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv("VAULT_ADDR"))
	if err != nil {
		t.Fatal(err)
	}
	return "hcvault://" + u.Host + "/transit/keys/" + name
}

func hcvaultKMS(t *testing.T, c *api.Client, uri string) *tinkkms.KMS {
	t.Helper()
	client, err := hcvault.NewClientWithAEADOptions("hcvault://", c.Logical())
	if err != nil {
		t.Fatal(err)
	}
	k, err := tinkkms.FromURI(context.Background(), uri, client)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestConformanceHCVault(t *testing.T) {
	c := vaultClient(t)
	k := hcvaultKMS(t, c, hcvaultKey(t, c))
	runKMSTests(t, k)
}

func TestHCVaultKeyring(t *testing.T) {
	ctx := context.Background()
	c := vaultClient(t)
	k := hcvaultKMS(t, c, hcvaultKey(t, c))
	kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := ec.EncryptString(ctx, "customer-42", "ada@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	kr.EvictAll()
	if pt, err := ec.DecryptString(ctx, ct, nil); err != nil || pt != "ada@example.com" {
		t.Fatalf("DecryptString = %q, %v", pt, err)
	}
}

func TestHCVaultOperationalErrors(t *testing.T) {
	ctx := context.Background()
	c := vaultClient(t)
	uri := hcvaultKey(t, c)
	w, err := hcvaultKMS(t, c, uri).Wrap(ctx, make([]byte, 32), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}

	bad, _ := c.Clone()
	bad.SetToken("not-the-token")
	if _, err := hcvaultKMS(t, bad, uri).Unwrap(ctx, w, []byte("ad")); err == nil || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Unwrap with a wrong token = %v, want an operational error", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := api.DefaultConfig()
	cfg.Address = "http://" + addr
	cfg.MaxRetries = 0
	down, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	down.SetToken(os.Getenv("VAULT_TOKEN"))
	if _, err := hcvaultKMS(t, down, uri).Unwrap(ctx, w, []byte("ad")); err == nil || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Unwrap with Vault down = %v, want an operational error", err)
	}
}

// runKMSTests runs the KMS conformance suite on k.
func runKMSTests(t *testing.T, k keystore.KMS) {
	t.Helper()
	keystest.RunKMSTests(t, func(*testing.T) keystore.KMS { return k })
}

// fips140OnlyMode reports whether the tests run under GODEBUG=fips140=only
// (crypto/fips140.Enforced is Go 1.26, and the module supports 1.25).
func fips140OnlyMode() bool {
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == "fips140=only" {
			return true
		}
	}
	return false
}

// failingAEAD fails every Decrypt with err, as a KMS client does when the
// service answers with an error.
type failingAEAD struct{ err error }

func (f failingAEAD) Encrypt(pt, ad []byte) ([]byte, error) { return append([]byte("w:"), pt...), nil }
func (f failingAEAD) Decrypt(ct, ad []byte) ([]byte, error) { return nil, f.err }

// TestVaultStatusClassified: Vault's *api.ResponseError is recognised
// without this package importing Vault's client — 400 is a failed unwrap,
// any other status an operational error — also when it is wrapped or
// joined.
func TestVaultStatusClassified(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		operational bool
	}{
		{"503", &api.ResponseError{StatusCode: 503}, true},
		{"429 wrapped", fmt.Errorf("hcvault: %w", &api.ResponseError{StatusCode: 429}), true},
		{"500 joined", errors.Join(errors.New("x"), &api.ResponseError{StatusCode: 500}), true},
		{"400", &api.ResponseError{StatusCode: 400}, false},
		{"plain", errors.New("message authentication failed"), false},
	} {
		k, err := tinkkms.New(failingAEAD{tc.err})
		if err != nil {
			t.Fatal(err)
		}
		_, err = k.Unwrap(context.Background(), []byte("w:x"), []byte("ad"))
		if got := err != nil && !errors.Is(err, keystore.ErrUnwrap); got != tc.operational {
			t.Errorf("%s: err = %v, operational = %v, want %v", tc.name, err, got, tc.operational)
		}
	}
}

// TestNoVaultLinked: a program using this package with AWS or GCP links
// none of Vault's client; only hcvault:// users get it, through
// tink-go-hcvault.
func TestNoVaultLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/fieldcrypt/fieldcrypt/keys/tinkkms").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages", len(deps))
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/hashicorp/") {
			t.Errorf("keys/tinkkms depends on %s", d)
		}
	}
}
