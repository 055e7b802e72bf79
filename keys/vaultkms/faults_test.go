package vaultkms_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/hashicorp/vault/api"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// These tests put a faulty server in front of a Transit fake of their own
// and check, for each kind of failure, whether it is retried, how often,
// and whether it is reported as keystore.ErrUnwrap (only a refusal of the
// ciphertext) or as an operational error.

// faultyKMS returns a KMS on a fresh key of a fresh fake, reached through a
// server that applies plan to the requests match picks, and a value it
// wrapped under associated data "ad" before any fault.
func faultyKMS(t *testing.T, b vaultkms.Binding, cfg vaultkms.Config, match func(*http.Request) bool, plan ...fault) (*vaultkms.KMS, []byte, *transitFake) {
	t.Helper()
	ctx := context.Background()
	f := newTransitFake()
	direct := serve(t, f)
	good, err := vaultkms.New(vaultkms.Config{Client: fakeClient(t, direct), Key: "root", Binding: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := good.CreateKey(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := good.Wrap(ctx, bytes.Repeat([]byte{7}, 32), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := faulty(t, f, match, plan...)
	cfg.Client, cfg.Key, cfg.Binding = fakeClient(t, addr), "root", b
	if cfg.RetryWait == 0 {
		cfg.RetryWait = time.Millisecond
	}
	k, err := vaultkms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k, w, f
}

func onPath(op string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/"+op+"/") || strings.HasSuffix(r.URL.Path, "/"+op)
	}
}

func TestFaultsRetried(t *testing.T) {
	// Transient failures are retried and the call succeeds.
	ctx := context.Background()
	for name, plan := range map[string][]fault{
		"500":               {{status: 500}},
		"502-503":           {{status: 502}, {status: 503}},
		"429":               {{status: 429}, {status: 429}, {status: 429}},
		"ConnectionReset":   {{reset: true}, {reset: true}},
		"ResetThen503":      {{reset: true}, {status: 503}},
		"SlowButInTime":     {{delay: 20 * time.Millisecond}},
		"ResetAfterDecrypt": {{after: true}}, // decrypt is idempotent: sent again
	} {
		t.Run(name, func(t *testing.T) {
			k, w, _ := faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{}, onPath("decrypt"), plan...)
			got, err := k.Unwrap(ctx, w, []byte("ad"))
			if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{7}, 32)) {
				t.Fatalf("Unwrap through %s: %v", name, err)
			}
		})
	}
}

func TestFaultsClassified(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		plan     []fault
		attempts int64 // requests the plan was applied to
		unwrap   bool  // the error wraps keystore.ErrUnwrap
		want     string
	}{
		{"503Forever", []fault{{status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}}, 4, false, "giving up after 4 attempts"},
		{"ResetForever", []fault{{reset: true}, {reset: true}, {reset: true}, {reset: true}, {reset: true}}, 4, false, "giving up after 4 attempts"},
		{"501NotRetried", []fault{{status: 501}}, 1, false, "HTTP 501"},
		{"403NotRetried", []fault{{status: 403}}, 1, false, "HTTP 403"},
		{"404NotRetried", []fault{{status: 404}}, 1, false, "HTTP 404"},
		{"400IsTheCiphertext", []fault{{status: 400}}, 1, true, "injected Bad Request"},
		{"NotJSON", []fault{{badOK: true}}, 1, false, "not JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newTransitFake()
			addr, n := faulty(t, f, nil, c.plan...)
			k, err := vaultkms.New(vaultkms.Config{Client: fakeClient(t, addr), Key: "root", RetryWait: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.Unwrap(ctx, fakeCiphertext, []byte("ad"))
			if err == nil || errors.Is(err, keystore.ErrUnwrap) != c.unwrap || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Unwrap = %v; want ErrUnwrap %v, mentioning %q", err, c.unwrap, c.want)
			}
			if got := n.Load(); got != c.attempts {
				t.Fatalf("%d attempts, want %d", got, c.attempts)
			}
		})
	}
}

func TestFaultsRefusedCiphertexts(t *testing.T) {
	// What the fake (like Vault) refuses about the ciphertext is ErrUnwrap;
	// a deleted key is also ErrKeyNotFound. None is retried.
	ctx := context.Background()
	k, w, f := faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{}, nil)
	before := f.requests.Load()
	if _, err := k.Unwrap(ctx, w, []byte("other ad")); !errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("wrong associated data: %v", err)
	}
	if n := f.requests.Load() - before; n != 1 {
		t.Fatalf("an authentication failure was sent %d times", n)
	}
	f.mu.Lock()
	f.keys["root"].deletionAllowed = true
	delete(f.keys, "root")
	f.mu.Unlock()
	if _, err := k.Unwrap(ctx, w, []byte("ad")); !errors.Is(err, keystore.ErrUnwrap) || !errors.Is(err, vaultkms.ErrKeyNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestFaultsDeadline(t *testing.T) {
	ctx := context.Background()
	t.Run("ContextDeadline", func(t *testing.T) {
		k, w, _ := faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{}, onPath("decrypt"), fault{delay: time.Minute})
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := k.Unwrap(dctx, w, []byte("ad"))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, keystore.ErrUnwrap) {
			t.Fatalf("Unwrap past the deadline = %v; want DeadlineExceeded, not ErrUnwrap", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Unwrap took %v past a 100 ms deadline", d)
		}
	})
	t.Run("ConfigTimeout", func(t *testing.T) {
		k, w, _ := faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{Timeout: 100 * time.Millisecond},
			onPath("decrypt"), fault{delay: time.Minute})
		_, err := k.Unwrap(ctx, w, []byte("ad"))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, keystore.ErrUnwrap) || !strings.Contains(err.Error(), "Config.Timeout") {
			t.Fatalf("Unwrap past Config.Timeout = %v", err)
		}
	})
}

func TestFaultsWrap(t *testing.T) {
	ctx := context.Background()
	k, _, _ := faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{}, onPath("encrypt"), fault{status: 503}, fault{reset: true})
	if _, err := k.Wrap(ctx, make([]byte, 32), []byte("ad")); err != nil {
		t.Fatalf("Wrap through a 503 and a reset: %v", err)
	}
	k, _, _ = faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{MaxRetries: -1}, onPath("encrypt"), fault{status: 429})
	if _, err := k.Wrap(ctx, make([]byte, 32), []byte("ad")); err == nil || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Wrap with retries off through a 429 = %v; want an operational error", err)
	}
	k, _, _ = faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{}, onPath("encrypt"), fault{badOK: true})
	if _, err := k.Wrap(ctx, make([]byte, 32), []byte("ad")); err == nil || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Wrap with a non-JSON answer = %v", err)
	}
}

func TestFaultsRotateKeySentOnce(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		f       fault
		rotated bool // the fake rotated the key
		ok      bool // RotateKey reports success
	}{
		{"ResetBeforeVault", fault{reset: true}, false, false},
		{"ResetAfterVault", fault{after: true}, true, true},
		{"503", fault{status: 503}, false, false},
		{"400", fault{status: 400}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, _, f := faultyKMS(t, vaultkms.BindAssociatedData, vaultkms.Config{}, onPath("rotate"), c.f)
			err := k.RotateKey(ctx)
			if (err == nil) != c.ok {
				t.Fatalf("RotateKey = %v", err)
			}
			if c.f.after {
				if got := f.rotates.Load(); got != 1 {
					t.Fatalf("the fake saw %d rotations, want 1", got)
				}
			} else if got := f.rotates.Load(); got != 0 {
				t.Fatalf("the fake saw %d rotations, want 0 (the request was answered by the fault)", got)
			}
			latest, lerr := k.LatestVersion(ctx)
			if lerr != nil || (latest == 2) != c.rotated {
				t.Fatalf("LatestVersion = %d, %v", latest, lerr)
			}
			if err != nil && c.f.status != 400 && !strings.Contains(err.Error(), "not retried") {
				t.Fatalf("RotateKey error does not say it was not retried: %v", err)
			}
		})
	}
}

func TestFaultsBatch(t *testing.T) {
	ctx := context.Background()
	for _, b := range []vaultkms.Binding{vaultkms.BindContext, vaultkms.BindAssociatedData} {
		k, w, _ := faultyKMS(t, b, vaultkms.Config{MaxBatch: 2}, nil)
		reqs := []keystore.RewrapRequest{
			{Wrapped: w, AssociatedData: []byte("ad")},
			{Wrapped: w, AssociatedData: []byte("wrong")},
			{Wrapped: []byte("not transit"), AssociatedData: []byte("ad")},
		}
		res, err := k.Rewrap(ctx, reqs)
		if err != nil || len(res) != 3 {
			t.Fatalf("binding %d: Rewrap = %v, %v", b, res, err)
		}
		if res[0].Err != nil || !errors.Is(res[1].Err, keystore.ErrUnwrap) || !errors.Is(res[2].Err, keystore.ErrUnwrap) {
			t.Fatalf("binding %d: results %+v", b, res)
		}
		if v, err := vaultkms.WrappedVersion(res[0].Wrapped); err != nil || v != 1 {
			t.Fatalf("binding %d: re-wrapped under v%d, %v", b, v, err)
		}
		// Every item failing comes as a 400 carrying the results.
		res, err = k.Rewrap(ctx, reqs[1:2])
		if err != nil || len(res) != 1 || !errors.Is(res[0].Err, keystore.ErrUnwrap) {
			t.Fatalf("binding %d: all items failing: %+v, %v", b, res, err)
		}
	}
	// A batch request that fails as a whole is an operational error.
	k, w, _ := faultyKMS(t, vaultkms.BindContext, vaultkms.Config{MaxRetries: -1}, onPath("rewrap"), fault{status: 503})
	if _, err := k.Rewrap(ctx, []keystore.RewrapRequest{{Wrapped: w, AssociatedData: []byte("ad")}}); err == nil || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Rewrap through a 503 = %v", err)
	}
}

// fakeClient is client for an in-process fake at addr: it carries the
// fake's token, also when VAULT_TOKEN names a real Vault's.
func fakeClient(t testing.TB, addr string) *api.Client {
	t.Helper()
	c := client(t, addr)
	c.SetToken(fakeToken)
	return c
}
