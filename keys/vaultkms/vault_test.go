package vaultkms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// vaultAddr returns VAULT_ADDR and VAULT_TOKEN when both are set: the
// tests then run against a real Vault (internal/vaultharness/start.sh
// starts one with transit mounted at transit/). Otherwise it returns the
// address and token of this process's in-process Transit fake (see
// transitFake), so that `go test ./keys/vaultkms` covers the package
// without a Vault server; real reports whether it is a real Vault.
func vaultAddr() (addr, token string, real bool) {
	if a, tok := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN"); a != "" && tok != "" {
		return a, tok, true
	}
	_, url := fakeServer()
	return url, fakeToken, false
}

// client returns a Vault client for vaultAddr (or addr, if set). Its own
// retries are off so that the tests see exactly what the server says.
func client(t testing.TB, addr string) *api.Client {
	t.Helper()
	vault, token, _ := vaultAddr()
	cfg := api.DefaultConfig()
	cfg.Address = vault
	if addr != "" {
		cfg.Address = addr
	}
	cfg.MaxRetries = 0
	cfg.Timeout = 30 * time.Second
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func randomName(t testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "fieldcrypt-test-" + hex.EncodeToString(b)
}

// newKMS creates a fresh Transit key and a KMS on it.
func newKMS(t testing.TB, b vaultkms.Binding, c *api.Client) *vaultkms.KMS {
	t.Helper()
	if c == nil {
		c = client(t, "")
	}
	k, err := vaultkms.New(vaultkms.Config{Client: c, Key: randomName(t), Binding: b, RetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.CreateKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestConformance(t *testing.T) {
	for _, b := range []struct {
		name string
		b    vaultkms.Binding
	}{{"AssociatedData", vaultkms.BindAssociatedData}, {"Context", vaultkms.BindContext}} {
		t.Run(b.name, func(t *testing.T) {
			k := newKMS(t, b.b, nil)
			runKMSTests(t, k)
		})
	}
}

func TestNewValidates(t *testing.T) {
	c, _ := api.NewClient(api.DefaultConfig())
	for _, cfg := range []vaultkms.Config{{Key: "k"}, {Client: c}, {Client: c, Key: "a/b"}, {Client: c, Key: "k", Binding: 7},
		{Client: &api.Client{}, Key: "k"}} { // a zero api.Client: an error, not a panic
		if _, err := vaultkms.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestOperationalErrors checks that failures which say nothing about the
// ciphertext are not keystore.ErrUnwrap, and that 5xx and connection errors
// are retried a bounded number of times.
func TestOperationalErrors(t *testing.T) {
	ctx := context.Background()
	good := newKMS(t, vaultkms.BindAssociatedData, nil)
	ad := []byte("ad")
	w, err := good.Wrap(ctx, make([]byte, 32), ad)
	if err != nil {
		t.Fatal(err)
	}
	notUnwrap := func(t *testing.T, k *vaultkms.KMS, what string) {
		t.Helper()
		_, err := k.Unwrap(ctx, w, ad)
		if err == nil || errors.Is(err, keystore.ErrUnwrap) {
			t.Fatalf("%s: Unwrap = %v, want an operational error, not ErrUnwrap", what, err)
		}
		t.Logf("%s: %v", what, err)
	}

	t.Run("PermissionDenied", func(t *testing.T) {
		c := client(t, "")
		c.SetToken("not-the-token")
		notUnwrap(t, sameKey(t, good, c, ""), "403")
	})
	t.Run("WrongMount", func(t *testing.T) {
		notUnwrap(t, sameKey(t, good, client(t, ""), "no-such-mount"), "404")
	})
	t.Run("ConnectionRefused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := "http://" + ln.Addr().String()
		ln.Close()
		start := time.Now()
		notUnwrap(t, sameKey(t, good, client(t, addr), ""), "connection refused")
		if time.Since(start) > 10*time.Second {
			t.Fatal("retries are not bounded")
		}
	})
	t.Run("ServerErrorsRetried", func(t *testing.T) {
		proxy, fails := faultyProxy(t, 2)
		k := sameKey(t, good, client(t, proxy), "")
		got, err := k.Unwrap(ctx, w, ad)
		if err != nil || !bytes.Equal(got, make([]byte, 32)) {
			t.Fatalf("Unwrap through two 503s: %v", err)
		}
		if fails.Load() != 2 {
			t.Fatalf("%d requests failed, want 2", fails.Load())
		}
	})
	t.Run("ServerErrorsBounded", func(t *testing.T) {
		proxy, fails := faultyProxy(t, 1000)
		notUnwrap(t, sameKey(t, good, client(t, proxy), ""), "503")
		if got := fails.Load(); got != vaultkms.DefaultMaxRetries+1 {
			t.Fatalf("%d attempts, want %d", got, vaultkms.DefaultMaxRetries+1)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := good.Unwrap(cctx, w, ad); !errors.Is(err, context.Canceled) || errors.Is(err, keystore.ErrUnwrap) {
			t.Fatalf("Unwrap with canceled context = %v", err)
		}
	})
}

// sameKey returns a KMS for good's Transit key through another client or mount.
func sameKey(t *testing.T, good *vaultkms.KMS, c *api.Client, mount string) *vaultkms.KMS {
	k, err := vaultkms.New(vaultkms.Config{Client: c, Key: good.KeyName(), Mount: mount, RetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// faultyProxy forwards to vaultAddr after answering the first n requests
// with 503.
func faultyProxy(t *testing.T, n int64) (string, *atomic.Int64) {
	addr, _, _ := vaultAddr()
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var seen, fails atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			fails.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"errors":["Vault is sealed"]}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &fails
}

// TestDeleteKeyShredsEverything deletes the Transit key: every subject key
// becomes impossible to unwrap, with ErrUnwrap.
func TestDeleteKeyShredsEverything(t *testing.T) {
	ctx := context.Background()
	c := client(t, "")
	k := newKMS(t, vaultkms.BindAssociatedData, c)
	kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	var cts [][]byte
	for i := range 5 {
		ct, err := ec.Encrypt(ctx, fmt.Sprintf("customer-%d", i), []byte("ada@example.com"), nil)
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "transit/keys/"+k.KeyName()+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().DeleteWithContext(ctx, "transit/keys/"+k.KeyName()); err != nil {
		t.Fatal(err)
	}
	kr.EvictAll()
	for _, ct := range cts {
		_, err := ec.Decrypt(ctx, ct, nil)
		if !errors.Is(err, keystore.ErrUnwrap) || !errors.Is(err, vaultkms.ErrKeyNotFound) {
			t.Fatalf("Decrypt after deleting the transit key = %v, want ErrUnwrap and vaultkms.ErrKeyNotFound", err)
		}
	}
}

func TestWrappedVersion(t *testing.T) {
	for in, want := range map[string]int{"vault:v1:" + strings.Repeat("A", 40): 1, "vault:v12:" + strings.Repeat("A", 40): 12} {
		if v, err := vaultkms.WrappedVersion([]byte(in)); err != nil || v != want {
			t.Errorf("WrappedVersion(%q) = %d, %v", in, v, err)
		}
	}
	for _, in := range []string{"", "vault:v0:AAAA", "vault:v1:", "vault:v1:!!!!", "vault:x1:" + strings.Repeat("A", 40), "vault:v01:" + strings.Repeat("A", 40)} {
		if _, err := vaultkms.WrappedVersion([]byte(in)); !errors.Is(err, keystore.ErrUnwrap) {
			t.Errorf("WrappedVersion(%q) = %v, want ErrUnwrap", in, err)
		}
	}
}

// concurrently runs f(i) for i in [0, n) on 8 goroutines.
func concurrently(t testing.TB, n int, f func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// runKMSTests runs the KMS conformance suite on k.
func runKMSTests(t *testing.T, k keystore.KMS) {
	t.Helper()
	keystest.RunKMSTests(t, func(*testing.T) keystore.KMS { return k })
}

// TestContextBindingNeedsDerivedKey: Vault ignores the context of a key that
// is not derived, so BindContext must refuse such a key rather than lose the
// binding to the associated data.
func TestContextBindingNeedsDerivedKey(t *testing.T) {
	ctx := context.Background()
	c := client(t, "")
	plain := newKMS(t, vaultkms.BindAssociatedData, c) // creates a non-derived key
	k, err := vaultkms.New(vaultkms.Config{Client: c, Key: plain.KeyName(), Binding: vaultkms.BindContext})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Wrap(ctx, make([]byte, 32), []byte("ad")); err == nil || !strings.Contains(err.Error(), "not derived") {
		t.Fatalf("Wrap with BindContext on a non-derived key = %v, want a refusal", err)
	}
}

// TestLargeBatchResponse re-wraps 2000 keys in one batch request: a
// response of some 200 kB must be read whole (vault/api's
// WriteRawWithContext cancels its context before the body is read when the
// Client has a timeout, which truncates it).
func TestLargeBatchResponse(t *testing.T) {
	ctx := context.Background()
	c := client(t, "")
	base := newKMS(t, vaultkms.BindContext, c)
	k, err := vaultkms.New(vaultkms.Config{Client: c, Key: base.KeyName(), Binding: vaultkms.BindContext, MaxBatch: 2000})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]keystore.RewrapRequest, 2000)
	concurrently(t, len(reqs), func(i int) error {
		ad := []byte(fmt.Sprint("key-", i))
		w, err := k.Wrap(ctx, make([]byte, 32), ad)
		reqs[i] = keystore.RewrapRequest{Wrapped: w, AssociatedData: ad}
		return err
	})
	res, err := k.Rewrap(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
	}
}
