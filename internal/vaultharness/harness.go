// Package vaultharness serves HashiCorp Vault's own Transit secrets engine
// over Vault's HTTP API, in one process and without the rest of Vault, so
// that fieldcrypt's keys/vault and keys/tinkkms (hcvault://) tests run
// against the real engine on a machine where no Vault binary can be
// installed.
//
// # What is real and what is harness
//
// Real: every transit operation — key creation and configuration
// (min_decryption_version, deletion_allowed, …), encrypt, decrypt,
// rewrap, rotate, batch_input, associated_data, key deletion, the
// ciphertext format "vault:vN:…" and every validation and error message —
// is executed by github.com/hashicorp/vault/builtin/logical/transit
// (Vault v1.21.4) through its transit.Factory, on a logical.InmemStorage,
// exactly as Vault's core dispatches logical.Requests to it.
//
// Harness: the HTTP router in this package stands in for Vault's core and
// http packages, which do not compile with the sdk version available here.
// It checks X-Vault-Token (or "Authorization: Bearer") against one static
// token with all rights (there are no policies, leases, auth methods,
// namespaces, audit devices or seal), maps HTTP methods to logical
// operations (GET read, PUT/POST update — create when the backend's
// existence check says the item does not exist — DELETE delete, LIST or
// ?list=true list), decodes JSON bodies with json.Number as Vault does,
// and writes Vault's response shapes: {"data":{…},"warnings":…} with 200,
// 204 for an empty response, {"errors":[…]} with the status code
// logical.RespondErrorCommon chooses (400 for invalid requests, 403 for a
// missing or wrong token, 404 for unknown paths, 500 otherwise), and raw
// responses with their own status code (transit's batch partial
// failures). It serves /v1/sys/health and mounts more transit engines on
// POST /v1/sys/mounts/<path> {"type":"transit"}. Storage is in memory:
// everything is lost when the process exits.
//
// Do not use it for anything but tests.
package vaultharness

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/sdk/logical"
)

// VaultVersion is the Vault release whose transit engine is served.
const VaultVersion = "1.21.4"

// maxBody bounds a request body, as Vault's default max_request_size does.
const maxBody = 32 << 20

// Server is an http.Handler that serves transit engines at mount paths.
// It is safe for concurrent use.
type Server struct {
	token  string
	logger hclog.Logger

	mu     sync.RWMutex
	mounts map[string]logical.Backend // mount path without slashes
	stores map[string]logical.Storage
}

// New returns a Server that accepts token and has a transit engine
// mounted at each of mounts.
func New(ctx context.Context, token string, mounts ...string) (*Server, error) {
	if token == "" {
		return nil, errors.New("vaultharness: empty token")
	}
	s := &Server{
		token:  token,
		logger: hclog.New(&hclog.LoggerOptions{Name: "transit", Level: hclog.Warn}),
		mounts: make(map[string]logical.Backend),
		stores: make(map[string]logical.Storage),
	}
	for _, m := range mounts {
		if err := s.Mount(ctx, m); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func cleanMount(m string) string { return strings.Trim(m, "/") }

// Mount enables a new transit engine at path.
func (s *Server) Mount(ctx context.Context, path string) error {
	path = cleanMount(path)
	if path == "" || strings.HasPrefix(path, "sys") {
		return fmt.Errorf("vaultharness: invalid mount path %q", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mounts[path]; ok {
		return fmt.Errorf("path is already in use at %s/", path)
	}
	for m := range s.mounts {
		if strings.HasPrefix(path+"/", m+"/") || strings.HasPrefix(m+"/", path+"/") {
			return fmt.Errorf("path is already in use at %s/", m)
		}
	}
	id, err := uuid.GenerateUUID()
	if err != nil {
		return err
	}
	storage := &logical.InmemStorage{}
	conf := &logical.BackendConfig{
		StorageView: storage,
		Logger:      s.logger.Named(path),
		System: &logical.StaticSystemView{
			DefaultLeaseTTLVal: 768 * time.Hour,
			MaxLeaseTTLVal:     768 * time.Hour,
			VersionString:      VaultVersion,
		},
		Config:      map[string]string{},
		BackendUUID: id,
	}
	b, err := transit.Factory(ctx, conf)
	if err != nil {
		return fmt.Errorf("vaultharness: starting transit: %w", err)
	}
	if err := b.Initialize(ctx, &logical.InitializationRequest{Storage: storage}); err != nil {
		return fmt.Errorf("vaultharness: initializing transit: %w", err)
	}
	s.mounts[path] = b
	s.stores[path] = storage
	return nil
}

// Close cleans up every mounted engine.
func (s *Server) Close(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.mounts {
		b.Cleanup(ctx)
	}
}

func (s *Server) lookup(path string) (mount string, b logical.Backend, st logical.Storage, rest string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	best := ""
	for m := range s.mounts {
		if (path == m || strings.HasPrefix(path, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return "", nil, nil, ""
	}
	return best, s.mounts[best], s.stores[best], strings.TrimPrefix(strings.TrimPrefix(path, best), "/")
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		respondError(w, http.StatusNotFound, errors.New("404 page not found"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	if path == "sys/health" {
		s.health(w, r)
		return
	}
	if !s.authorized(r) {
		respondError(w, http.StatusForbidden, errors.New("permission denied"))
		return
	}
	if strings.HasPrefix(path, "sys/mounts/") {
		s.mount(w, r, strings.TrimPrefix(path, "sys/mounts/"))
		return
	}
	mount, b, storage, rest := s.lookup(path)
	if b == nil {
		respondError(w, http.StatusNotFound, fmt.Errorf("no handler for route %q. route entry not found.", path))
		return
	}
	s.logicalRequest(w, r, mount, b, storage, rest)
}

func (s *Server) authorized(r *http.Request) bool {
	tok := r.Header.Get("X-Vault-Token")
	if tok == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			tok = strings.TrimPrefix(a, "Bearer ")
		}
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	respondJSON(w, http.StatusOK, map[string]any{
		"initialized":     true,
		"sealed":          false,
		"standby":         false,
		"version":         VaultVersion + "+fieldcrypt-harness",
		"server_time_utc": time.Now().Unix(),
		"cluster_name":    "vaultharness",
	})
}

func (s *Server) mount(w http.ResponseWriter, r *http.Request, path string) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		respondError(w, http.StatusMethodNotAllowed, errors.New("unsupported operation"))
		return
	}
	var body struct {
		Type string `json:"type"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&body); err != nil {
		respondError(w, http.StatusBadRequest, fmt.Errorf("failed to parse JSON input: %w", err))
		return
	}
	if body.Type != "transit" {
		respondError(w, http.StatusBadRequest, fmt.Errorf("plugin not found in the catalog: %s (this harness serves transit only)", body.Type))
		return
	}
	if err := s.Mount(r.Context(), path); err != nil {
		respondError(w, http.StatusBadRequest, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) logicalRequest(w http.ResponseWriter, r *http.Request, mount string, b logical.Backend, storage logical.Storage, rest string) {
	var op logical.Operation
	switch r.Method {
	case http.MethodGet:
		op = logical.ReadOperation
		if v := r.URL.Query().Get("list"); v == "true" || v == "1" {
			op = logical.ListOperation
		}
	case http.MethodPost, http.MethodPut:
		op = logical.UpdateOperation
	case http.MethodDelete:
		op = logical.DeleteOperation
	case "LIST":
		op = logical.ListOperation
	default:
		respondError(w, http.StatusMethodNotAllowed, errors.New("unsupported operation"))
		return
	}
	if op == logical.ListOperation && rest != "" && !strings.HasSuffix(rest, "/") {
		rest += "/"
	}
	var data map[string]any
	switch op {
	case logical.UpdateOperation:
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			respondError(w, http.StatusBadRequest, err)
			return
		}
		if len(raw) > maxBody {
			respondError(w, http.StatusRequestEntityTooLarge, errors.New("http: request body too large"))
			return
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&data); err != nil {
				respondError(w, http.StatusBadRequest, fmt.Errorf("failed to parse JSON input: %w", err))
				return
			}
		}
	case logical.ReadOperation:
		q := r.URL.Query()
		if len(q) > 0 {
			data = make(map[string]any, len(q))
			for k, v := range q {
				if len(v) == 1 {
					data[k] = v[0]
				} else {
					data[k] = v
				}
			}
		}
	}
	id, _ := uuid.GenerateUUID()
	req := &logical.Request{
		ID:          id,
		Operation:   op,
		Path:        rest,
		Data:        data,
		Storage:     storage,
		MountPoint:  mount + "/",
		MountType:   "transit",
		ClientToken: s.token,
		Headers:     r.Header,
		Connection:  &logical.Connection{RemoteAddr: r.RemoteAddr},
	}
	ctx := r.Context()
	if op == logical.UpdateOperation {
		checkFound, exists, err := b.HandleExistenceCheck(ctx, req)
		if err != nil {
			respondError(w, http.StatusInternalServerError, err)
			return
		}
		if checkFound && !exists {
			req.Operation = logical.CreateOperation
		}
	}
	resp, err := b.HandleRequest(ctx, req)
	if errors.Is(err, logical.ErrUnsupportedPath) {
		respondError(w, http.StatusNotFound, fmt.Errorf("no handler for route %q. route entry not found.", mount+"/"+rest))
		return
	}
	if code, rerr := logical.RespondErrorCommon(req, resp, err); code != 0 {
		if rerr == nil {
			rerr = errors.New(http.StatusText(code))
			if code == http.StatusNotFound {
				// Vault answers a read of nothing with an empty error list.
				respondJSON(w, code, map[string]any{"errors": []string{}})
				return
			}
		}
		respondError(w, code, rerr)
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if codeRaw, ok := resp.Data[logical.HTTPStatusCode]; ok {
		code, _ := codeRaw.(int)
		if code == 0 {
			code = http.StatusOK
		}
		ct, _ := resp.Data[logical.HTTPContentType].(string)
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(code)
		switch body := resp.Data[logical.HTTPRawBody].(type) {
		case string:
			io.WriteString(w, body)
		case []byte:
			w.Write(body)
		}
		return
	}
	out := logical.LogicalResponseToHTTPResponse(resp)
	out.RequestID = req.ID
	out.MountType = "transit"
	respondJSON(w, http.StatusOK, out)
}

func respondJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func respondError(w http.ResponseWriter, code int, err error) {
	respondJSON(w, code, map[string]any{"errors": []string{err.Error()}})
}
