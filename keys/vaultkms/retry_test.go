package vaultkms_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// These tests need no Vault: a local server misbehaves in one way each and
// counts what it is sent.

// fakeCiphertext is well-formed enough to be sent to Vault.
var fakeCiphertext = []byte("vault:v1:" + base64.StdEncoding.EncodeToString(make([]byte, 40)))

// defaultClient is an api.Client as most callers make one: vault/api's
// defaults, including its own 2 retries with 1–1.5 s waits.
func defaultClient(t *testing.T, addr string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		t.Fatal(cfg.Error)
	}
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("test-token")
	return c
}

func newTestKMS(t *testing.T, c *api.Client, cfg vaultkms.Config) *vaultkms.KMS {
	t.Helper()
	cfg.Client = c
	if cfg.Key == "" {
		cfg.Key = "k"
	}
	k, err := vaultkms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeTransit serves one Transit key, "k", well enough for RotateKey and
// LatestVersion: GET keys/k reports latest_version; POST keys/k/rotate
// calls rotate, which decides what happens to the rotation and the answer;
// POST keys/k/config is counted and accepted.
type fakeTransit struct {
	latest  atomic.Int64
	rotates atomic.Int64
	reads   atomic.Int64
	configs atomic.Int64
	rotate  func(f *fakeTransit, w http.ResponseWriter)
}

func (f *fakeTransit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/transit/keys/k":
		f.reads.Add(1)
		fmt.Fprintf(w, `{"data":{"latest_version":%d,"min_decryption_version":1}}`, f.latest.Load())
	case r.URL.Path == "/v1/transit/keys/k/config":
		f.configs.Add(1)
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/v1/transit/keys/k/rotate":
		f.rotates.Add(1)
		f.rotate(f, w)
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[]}`))
	}
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRotateKeyNotRetried: a rotation is not idempotent, so whatever the
// failure RotateKey sends exactly one rotate request; after an ambiguous
// failure it reads latest_version to tell whether the rotation happened.
func TestRotateKeyNotRetried(t *testing.T) {
	ctx := context.Background()
	badGateway := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(`{"errors":["upstream timed out"]}`))
	}
	for _, tc := range []struct {
		name    string
		rotate  func(f *fakeTransit, w http.ResponseWriter)
		applied bool
	}{
		{"502AfterApplying", func(f *fakeTransit, w http.ResponseWriter) { f.latest.Add(1); badGateway(w) }, true},
		{"502WithoutApplying", func(f *fakeTransit, w http.ResponseWriter) { badGateway(w) }, false},
		{"ConnectionDroppedAfterApplying", func(f *fakeTransit, w http.ResponseWriter) {
			f.latest.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, true},
		{"503WithoutApplying", func(f *fakeTransit, w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"errors":["Vault is sealed"]}`))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTransit{rotate: tc.rotate}
			f.latest.Store(1)
			k := newTestKMS(t, defaultClient(t, serve(t, f)), vaultkms.Config{RetryWait: time.Millisecond})
			err := k.RotateKey(ctx)
			if n := f.rotates.Load(); n != 1 {
				t.Fatalf("RotateKey sent %d rotate requests, want exactly 1 (err %v)", n, err)
			}
			if got := f.latest.Load(); got != 1+int64(btoi(tc.applied)) {
				t.Fatalf("latest_version %d after one RotateKey", got)
			}
			switch {
			case tc.applied && err != nil:
				t.Fatalf("RotateKey = %v; the rotation happened and latest_version shows it", err)
			case !tc.applied && err == nil:
				t.Fatal("RotateKey succeeded, but Vault did not rotate")
			case !tc.applied && !strings.Contains(err.Error(), "not retried"):
				t.Fatalf("RotateKey = %v; the error should say the rotation was not retried", err)
			}
			t.Logf("RotateKey: %v", err)
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDeadVaultReportsQuickly: a Vault that refuses connections is reported
// within the documented bound (4 attempts, at most 0.7 s of backoff with
// the default RetryWait), however many retries the caller's api.Client has
// configured for itself.
func TestDeadVaultReportsQuickly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	k := newTestKMS(t, defaultClient(t, addr), vaultkms.Config{})
	start := time.Now()
	_, err = k.Unwrap(context.Background(), fakeCiphertext, []byte("ad"))
	elapsed := time.Since(start)
	if err == nil || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Unwrap from a dead Vault = %v, want an operational error", err)
	}
	t.Logf("dead Vault reported after %v: %v", elapsed, err)
	if limit := 700*time.Millisecond + 500*time.Millisecond; elapsed > limit {
		t.Fatalf("a dead Vault took %v to report, want under %v", elapsed, limit)
	}
}

// failing answers every request with status after delay, counting them.
func failing(t *testing.T, status int, delay time.Duration) (string, *atomic.Int64) {
	var n atomic.Int64
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body) // so that the server notices a client that hangs up
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"errors":["Vault is sealed"]}`))
	})), &n
}

// TestRetriesDoNotMultiply: the api.Client's own retries (2 by default)
// do not happen inside each of the package's attempts.
func TestRetriesDoNotMultiply(t *testing.T) {
	addr, n := failing(t, http.StatusServiceUnavailable, 0)
	c := defaultClient(t, addr)
	k := newTestKMS(t, c, vaultkms.Config{RetryWait: time.Millisecond})
	if _, err := k.Unwrap(context.Background(), fakeCiphertext, nil); err == nil {
		t.Fatal("Unwrap succeeded against a sealed Vault")
	}
	if got, want := n.Load(), int64(vaultkms.DefaultMaxRetries+1); got != want {
		t.Fatalf("%d requests, want %d (1 + DefaultMaxRetries)", got, want)
	}
	if c.MaxRetries() != api.DefaultConfig().MaxRetries {
		t.Fatalf("the caller's Client was modified: MaxRetries %d", c.MaxRetries())
	}
}

// TestNoAttemptThatCannotFinish: with a deadline that leaves room for two
// 150 ms attempts but not three, the KMS makes two and returns the last
// error at once instead of starting a third that the deadline would cut.
func TestNoAttemptThatCannotFinish(t *testing.T) {
	addr, n := failing(t, http.StatusServiceUnavailable, 150*time.Millisecond)
	k := newTestKMS(t, defaultClient(t, addr), vaultkms.Config{RetryWait: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := k.Unwrap(ctx, fakeCiphertext, nil)
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, err)
	if got := n.Load(); got != 2 {
		t.Fatalf("%d requests, want 2", got)
	}
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("Unwrap = %v, want the last attempt's 503", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("returned after the deadline (%v)", elapsed)
	}
}

// TestBackoffNeverSleepsPastDeadline: a backoff longer than the time left
// is not slept; the last error comes back at once.
func TestBackoffNeverSleepsPastDeadline(t *testing.T) {
	addr, n := failing(t, http.StatusServiceUnavailable, 0)
	k := newTestKMS(t, defaultClient(t, addr), vaultkms.Config{RetryWait: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := k.Unwrap(ctx, fakeCiphertext, nil)
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, err)
	if elapsed > 500*time.Millisecond || n.Load() != 1 {
		t.Fatalf("returned after %v and %d requests, want at once after 1", elapsed, n.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("Unwrap = %v, want the 503", err)
	}
}

// TestSlowVaultDeadline: a Vault that does not answer is abandoned at the
// context's deadline.
func TestSlowVaultDeadline(t *testing.T) {
	addr, n := failing(t, http.StatusOK, 10*time.Second)
	k := newTestKMS(t, defaultClient(t, addr), vaultkms.Config{RetryWait: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := k.Unwrap(ctx, fakeCiphertext, nil)
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, err)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Unwrap = %v, want context.DeadlineExceeded", err)
	}
	if elapsed > 300*time.Millisecond+200*time.Millisecond || n.Load() != 1 {
		t.Fatalf("returned after %v and %d requests", elapsed, n.Load())
	}
}

// TestCallTimeout: Config.Timeout bounds a call whose context has no deadline.
func TestCallTimeout(t *testing.T) {
	addr, n := failing(t, http.StatusOK, 10*time.Second)
	k := newTestKMS(t, defaultClient(t, addr), vaultkms.Config{Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := k.Unwrap(context.Background(), fakeCiphertext, nil)
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, err)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "Config.Timeout") {
		t.Fatalf("Unwrap = %v, want context.DeadlineExceeded naming Config.Timeout", err)
	}
	if elapsed > 400*time.Millisecond || n.Load() != 1 {
		t.Fatalf("returned after %v and %d requests", elapsed, n.Load())
	}
}

// TestFollowsClientToken: the KMS never modifies the caller's Client but
// uses its current token and namespace, so re-authenticating (SetToken)
// takes effect on the next request.
func TestFollowsClientToken(t *testing.T) {
	var seen atomic.Value
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Vault-Namespace"))
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Vault-Token") != "fresh-token" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":["permission denied"]}`))
			return
		}
		w.Write([]byte(`{"data":{"latest_version":7}}`))
	}))
	c := defaultClient(t, addr)
	c.SetToken("expired-token")
	timeout, retries := c.ClientTimeout(), c.MaxRetries()
	k := newTestKMS(t, c, vaultkms.Config{})
	ctx := context.Background()
	if _, err := k.LatestVersion(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("LatestVersion with the old token = %v, want a 403", err)
	}
	c.SetToken("fresh-token")
	c.SetNamespace("team-a")
	if v, err := k.LatestVersion(ctx); err != nil || v != 7 {
		t.Fatalf("LatestVersion after SetToken = %d, %v", v, err)
	}
	if ns := seen.Load(); ns != "team-a" {
		t.Fatalf("namespace header %q, want team-a", ns)
	}
	if c.ClientTimeout() != timeout || c.MaxRetries() != retries || c.Token() != "fresh-token" {
		t.Fatal("the caller's Client was modified")
	}
}
