package vaultkms_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// transitFake is an in-process stand-in for the few Vault Transit endpoints
// package vaultkms uses, so that its tests run without a Vault server
// (VAULT_ADDR unset). It keeps what the package relies on: versioned
// aes256-gcm96 keys, associated_data authenticated by GCM, derived keys
// whose context selects the key (and a context ignored on keys that are
// not derived, as Vault does), min_decryption_version, batch_input with
// per-item errors and a 400 when every item fails, rotation, deletion only
// after deletion_allowed, a token check (403) and a mount check (404).
//
// It is not Vault: the tests that matter most also run against the real
// transit engine when VAULT_ADDR is set (internal/vaultharness).
type transitFake struct {
	token string

	mu   sync.Mutex
	keys map[string]*fakeKey

	requests atomic.Int64 // every request served
	rotates  atomic.Int64 // POST keys/NAME/rotate
}

type fakeKey struct {
	derived         bool
	deletionAllowed bool
	minDecrypt      int
	versions        [][]byte // versions[i] is version i+1
}

const fakeToken = "fake-root-token"

func newTransitFake() *transitFake {
	return &transitFake{token: fakeToken, keys: map[string]*fakeKey{}}
}

// fakeServer is the process's transit fake, started on first use.
var fakeServer = sync.OnceValues(func() (*transitFake, string) {
	f := newTransitFake()
	srv := httptest.NewServer(f)
	return f, srv.URL // left running until the test binary exits
})

func (f *transitFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Header.Get("X-Vault-Token") != f.token {
		answer(w, http.StatusForbidden, nil, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/transit/")
	if !ok {
		answer(w, http.StatusNotFound, nil, "no handler for route "+strconv.Quote(r.URL.Path)+". route entry not found.")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			answer(w, http.StatusBadRequest, nil, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && parts[0] == "keys":
		f.key(w, r.Method, parts[1], body)
	case len(parts) == 3 && parts[0] == "keys" && parts[2] == "rotate" && r.Method != http.MethodGet:
		f.rotates.Add(1)
		k := f.keys[parts[1]]
		if k == nil {
			answer(w, http.StatusBadRequest, nil, "key not found")
			return
		}
		k.versions = append(k.versions, newAESKey())
		answer(w, http.StatusOK, map[string]any{"latest_version": len(k.versions)})
	case len(parts) == 3 && parts[0] == "keys" && parts[2] == "config" && r.Method != http.MethodGet:
		f.config(w, parts[1], body)
	case len(parts) == 2 && (parts[0] == "encrypt" || parts[0] == "decrypt" || parts[0] == "rewrap") && r.Method != http.MethodGet:
		f.crypt(w, parts[0], parts[1], body)
	default:
		answer(w, http.StatusNotFound, nil, "unsupported path")
	}
}

func (f *transitFake) key(w http.ResponseWriter, method, name string, body map[string]any) {
	k := f.keys[name]
	switch method {
	case http.MethodGet:
		if k == nil {
			answer(w, http.StatusNotFound, nil)
			return
		}
		answer(w, http.StatusOK, map[string]any{"latest_version": len(k.versions), "min_decryption_version": k.minDecrypt,
			"derived": k.derived, "type": "aes256-gcm96", "deletion_allowed": k.deletionAllowed})
	case http.MethodPost, http.MethodPut:
		if k == nil { // an existing key is left alone, as Vault does
			derived, _ := body["derived"].(bool)
			f.keys[name] = &fakeKey{derived: derived, minDecrypt: 1, versions: [][]byte{newAESKey()}}
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		switch {
		case k == nil:
			w.WriteHeader(http.StatusNoContent)
		case !k.deletionAllowed:
			answer(w, http.StatusBadRequest, nil, "deletion is not allowed for this key")
		default:
			delete(f.keys, name)
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		answer(w, http.StatusMethodNotAllowed, nil)
	}
}

func (f *transitFake) config(w http.ResponseWriter, name string, body map[string]any) {
	k := f.keys[name]
	if k == nil {
		answer(w, http.StatusBadRequest, nil, "no existing key named "+name+" could be found")
		return
	}
	if v, ok := body["min_decryption_version"].(float64); ok {
		if int(v) < 1 || int(v) > len(k.versions) {
			answer(w, http.StatusBadRequest, nil, "cannot set min decryption version to a version that does not exist")
			return
		}
		k.minDecrypt = int(v)
	}
	if v, ok := body["deletion_allowed"].(bool); ok {
		k.deletionAllowed = v
	}
	w.WriteHeader(http.StatusNoContent)
}

// crypt serves encrypt, decrypt and rewrap, single or batch_input.
func (f *transitFake) crypt(w http.ResponseWriter, op, name string, body map[string]any) {
	k := f.keys[name]
	if k == nil && op == "encrypt" { // encrypt creates a missing key (upsert)
		k = &fakeKey{minDecrypt: 1, versions: [][]byte{newAESKey()}}
		f.keys[name] = k
	}
	do := func(item map[string]any) (map[string]any, string) {
		if k == nil {
			return nil, "encryption key not found"
		}
		return k.crypt(op, item)
	}
	raw, isBatch := body["batch_input"].([]any)
	if !isBatch {
		res, msg := do(body)
		if msg != "" {
			answer(w, http.StatusBadRequest, nil, msg)
			return
		}
		answer(w, http.StatusOK, res)
		return
	}
	results := make([]any, len(raw))
	failed := 0
	for i, it := range raw {
		item, _ := it.(map[string]any)
		res, msg := do(item)
		if msg != "" {
			failed++
			res = map[string]any{"error": msg}
		}
		results[i] = res
	}
	status := http.StatusOK
	switch {
	case failed == len(raw) && failed > 0:
		status = http.StatusBadRequest
	case failed > 0:
		if c, ok := body["partial_failure_response_code"].(float64); ok {
			status = int(c)
		} else {
			status = http.StatusBadRequest
		}
	}
	answer(w, status, map[string]any{"batch_results": results})
}

// crypt runs one item; a non-empty message is Vault's 400 error for it.
func (k *fakeKey) crypt(op string, item map[string]any) (map[string]any, string) {
	ctxB64, _ := item["context"].(string)
	adB64, _ := item["associated_data"].(string)
	context, err1 := base64.StdEncoding.DecodeString(ctxB64)
	ad, err2 := base64.StdEncoding.DecodeString(adB64)
	if err1 != nil || err2 != nil {
		return nil, "failed to base64-decode context or associated_data"
	}
	if k.derived && len(context) == 0 {
		return nil, "missing 'context' for key derivation; the key was created using a derived key"
	}
	if op == "rewrap" {
		ad = nil // Vault's rewrap ignores associated_data
	}
	switch op {
	case "encrypt":
		pt, err := base64.StdEncoding.DecodeString(str(item["plaintext"]))
		if err != nil {
			return nil, "failed to base64-decode plaintext"
		}
		return map[string]any{"ciphertext": k.seal(len(k.versions), context, pt, ad), "key_version": len(k.versions)}, ""
	case "decrypt", "rewrap":
		pt, msg := k.open(str(item["ciphertext"]), context, ad)
		if msg != "" {
			return nil, msg
		}
		if op == "decrypt" {
			return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}, ""
		}
		return map[string]any{"ciphertext": k.seal(len(k.versions), context, pt, nil), "key_version": len(k.versions)}, ""
	}
	return nil, "unsupported operation"
}

func (k *fakeKey) aead(version int, context []byte) cipher.AEAD {
	key := k.versions[version-1]
	if k.derived {
		key, _ = hkdf.Key(sha256.New, key, nil, string(context), 32)
	}
	block, _ := aes.NewCipher(key)
	// Random nonces from the AEAD itself (nonce || ciphertext || tag, as
	// Transit writes), which FIPS 140-only mode also allows.
	g, _ := cipher.NewGCMWithRandomNonce(block)
	return g
}

func (k *fakeKey) seal(version int, context, pt, ad []byte) string {
	g := k.aead(version, context)
	return fmt.Sprintf("vault:v%d:%s", version, base64.StdEncoding.EncodeToString(g.Seal(nil, nil, pt, ad)))
}

func (k *fakeKey) open(ct string, context, ad []byte) ([]byte, string) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	num, b64, ok2 := strings.Cut(rest, ":")
	v, err := strconv.Atoi(num)
	raw, err2 := base64.StdEncoding.DecodeString(b64)
	switch {
	case !ok || !ok2 || err != nil || err2 != nil || v < 1 || len(raw) < 12+16:
		return nil, "invalid ciphertext: could not decode"
	case v > len(k.versions):
		return nil, "invalid ciphertext: key version out of range"
	case v < k.minDecrypt:
		return nil, "ciphertext or signature version is disallowed by policy (too old)"
	}
	pt, err := k.aead(v, context).Open(nil, nil, raw, ad)
	if err != nil {
		return nil, "cipher: message authentication failed"
	}
	return pt, ""
}

func newAESKey() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func str(v any) string { s, _ := v.(string); return s }

// answer writes Vault's JSON envelope: {"data": ...} or {"errors": [...]}.
func answer(w http.ResponseWriter, status int, data map[string]any, errs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	out := map[string]any{}
	if data != nil {
		out["data"] = data
	}
	if errs != nil || status >= 400 {
		if errs == nil {
			errs = []string{}
		}
		out["errors"] = errs
	}
	json.NewEncoder(w).Encode(out)
}

// A fault is what a faulty server does instead of answering one request.
type fault struct {
	status int           // answer with this status and a Vault error body
	reset  bool          // close the connection without answering
	badOK  bool          // answer 200 with a body that is not JSON
	delay  time.Duration // wait this long (or until the client gives up), then pass the request on
	after  bool          // pass the request on first, then reset the connection (the request took effect)
}

// faulty serves h, but answers the i-th request with plan[i] while the plan
// lasts (the zero fault passes the request on). match, if set, picks the
// requests the plan applies to; others pass. It returns the server's URL
// and a count of the requests the plan was applied to.
func faulty(t *testing.T, h http.Handler, match func(*http.Request) bool, plan ...fault) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match != nil && !match(r) {
			h.ServeHTTP(w, r)
			return
		}
		i := int(n.Add(1)) - 1
		if i >= len(plan) {
			h.ServeHTTP(w, r)
			return
		}
		switch f := plan[i]; {
		case f.status != 0:
			answer(w, f.status, nil, "injected "+http.StatusText(f.status))
		case f.reset, f.after:
			if f.after {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		case f.badOK:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data": not json`))
		case f.delay > 0:
			// Read the body first: only then does the server notice, and
			// cancel r's context, when the client gives up and hangs up.
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}
