package vaultharness

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestHarness(t *testing.T) {
	s, err := New(context.Background(), "tok", "transit")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	if code, out := call(t, srv, "GET", "/v1/sys/health", "", ""); code != 200 || out["sealed"] != false {
		t.Fatalf("health: %d %v", code, out)
	}
	if code, out := call(t, srv, "POST", "/v1/transit/keys/k", "wrong", `{}`); code != 403 || out["errors"] == nil {
		t.Fatalf("wrong token: %d %v", code, out)
	}
	if code, _ := call(t, srv, "POST", "/v1/transit/keys/k", "tok", `{"type":"aes256-gcm96"}`); code != 200 && code != 204 {
		t.Fatalf("create key: %d", code)
	}
	code, out := call(t, srv, "POST", "/v1/transit/encrypt/k", "tok", `{"plaintext":"aGVsbG8=","associated_data":"YWQ="}`)
	if code != 200 {
		t.Fatalf("encrypt: %d %v", code, out)
	}
	ct := out["data"].(map[string]any)["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("ciphertext %q", ct)
	}
	code, out = call(t, srv, "POST", "/v1/transit/decrypt/k", "tok", `{"ciphertext":"`+ct+`","associated_data":"YWQ="}`)
	if code != 200 || out["data"].(map[string]any)["plaintext"] != "aGVsbG8=" {
		t.Fatalf("decrypt: %d %v", code, out)
	}
	code, out = call(t, srv, "POST", "/v1/transit/decrypt/k", "tok", `{"ciphertext":"`+ct+`","associated_data":"eHg="}`)
	if code != 400 || !strings.Contains(out["errors"].([]any)[0].(string), "message authentication failed") {
		t.Fatalf("decrypt with wrong associated data: %d %v", code, out)
	}
	// Every item of a batch failing: 400 with the per-item results.
	code, out = call(t, srv, "POST", "/v1/transit/decrypt/k", "tok", `{"batch_input":[{"ciphertext":"`+ct+`"}]}`)
	if code != 400 || out["data"] == nil {
		t.Fatalf("failing batch: %d %v", code, out)
	}
	if code, _ := call(t, srv, "GET", "/v1/transit/keys/absent", "tok", ""); code != 404 {
		t.Fatalf("read of an absent key: %d", code)
	}
	if code, _ := call(t, srv, "POST", "/v1/elsewhere/encrypt/k", "tok", `{}`); code != 404 {
		t.Fatalf("unknown mount: %d", code)
	}
	if code, _ := call(t, srv, "POST", "/v1/sys/mounts/elsewhere", "tok", `{"type":"transit"}`); code != 204 {
		t.Fatalf("mount: %d", code)
	}
	if code, out := call(t, srv, "POST", "/v1/elsewhere/encrypt/k2", "tok", `{"plaintext":"aGVsbG8="}`); code != 200 {
		t.Fatalf("encrypt on the new mount (upsert): %d %v", code, out)
	}
	if code, out := call(t, srv, "LIST", "/v1/elsewhere/keys", "tok", ""); code != 200 || len(out["data"].(map[string]any)["keys"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, out)
	}
}
