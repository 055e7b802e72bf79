// Package golden holds fieldcrypt's golden-vector fixture: a fixed root key
// and a small keystore snapshot under testdata/golden at the top of the
// repository, against which the envelope and tokenize tests check that
// every ciphertext and token fieldcrypt ever wrote keeps decrypting to the
// same plaintext, forever. What is persisted never changes by accident.
//
// The snapshot is a JSON dump ([Snapshot]) rather than a database file so
// that the core module's tests can load it into keys/memstore without a SQL
// driver; keys/sqlstore's tests load the same dump into each database.
//
// Do not regenerate existing entries: the generator (see the README in
// testdata/golden) only appends what is missing. The root key in the
// fixture is published test data and protects nothing else.
package golden

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// Dir returns the fixture directory, testdata/golden at the repository's
// top, found from this source file so that any package's tests can use it.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "golden")
}

// Path returns the path of a file in the fixture directory.
func Path(name string) string { return filepath.Join(Dir(), name) }

// RootKey returns the fixture's root key.
func RootKey() (*localkms.KMS, error) {
	b, err := os.ReadFile(Path("root-key.txt"))
	if err != nil {
		return nil, err
	}
	return localkms.Parse(b)
}

// KeyRow is one key version of the snapshot. Wrapped is empty for a
// destroyed version.
type KeyRow struct {
	ID          string `json:"id"`      // hex
	Version     uint32 `json:"version"` // 1 …
	Subject     string `json:"subject"` // hex SubjectRef
	Purpose     string `json:"purpose"`
	Wrapped     string `json:"wrapped,omitempty"` // standard base64
	CreatedAt   int64  `json:"created_at_us"`
	DestroyedAt int64  `json:"destroyed_at_us,omitempty"`
}

// TombstoneRow is one tombstone of the snapshot.
type TombstoneRow struct {
	Subject     string `json:"subject"`
	ForgottenAt int64  `json:"forgotten_at_us"`
	Reason      string `json:"reason"`
	Destroyed   int    `json:"destroyed"`
}

// Snapshot is a keystore dump.
type Snapshot struct {
	Meta       map[string]string `json:"meta"` // name → standard base64
	Keys       []KeyRow          `json:"keys"`
	Tombstones []TombstoneRow    `json:"tombstones"`
}

// ReadSnapshot reads testdata/golden/keystore.json.
func ReadSnapshot() (Snapshot, error) {
	var s Snapshot
	b, err := os.ReadFile(Path("keystore.json"))
	if err != nil {
		return s, err
	}
	err = json.Unmarshal(b, &s)
	return s, err
}

func decode16(s string) ([16]byte, error) {
	var v [16]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return v, fmt.Errorf("golden: bad 16-byte hex %q", s)
	}
	copy(v[:], b)
	return v, nil
}

// Records returns the snapshot's key rows as KeyRecords (Wrapped nil for a
// destroyed version) and its tombstones.
func (s Snapshot) Records() ([]keystore.KeyRecord, []keystore.Tombstone, error) {
	var recs []keystore.KeyRecord
	for _, k := range s.Keys {
		id, err := decode16(k.ID)
		if err != nil {
			return nil, nil, err
		}
		subj, err := decode16(k.Subject)
		if err != nil {
			return nil, nil, err
		}
		r := keystore.KeyRecord{ID: id, Version: k.Version, Subject: subj, Purpose: k.Purpose,
			CreatedAt: time.UnixMicro(k.CreatedAt).UTC()}
		if k.Wrapped != "" {
			if r.Wrapped, err = base64.StdEncoding.DecodeString(k.Wrapped); err != nil {
				return nil, nil, err
			}
		}
		if k.DestroyedAt != 0 {
			r.DestroyedAt = time.UnixMicro(k.DestroyedAt).UTC()
		}
		recs = append(recs, r)
	}
	var ts []keystore.Tombstone
	for _, t := range s.Tombstones {
		subj, err := decode16(t.Subject)
		if err != nil {
			return nil, nil, err
		}
		ts = append(ts, keystore.Tombstone{Subject: subj, ForgottenAt: time.UnixMicro(t.ForgottenAt).UTC(),
			Reason: t.Reason, Destroyed: t.Destroyed})
	}
	return recs, ts, nil
}

// Load writes the snapshot into an empty store: the check value, every key
// version, then the tombstones (whose Forget destroys nothing more: the
// snapshot's destroyed versions are stored without material).
func (s Snapshot) Load(ctx context.Context, st keystore.Store) error {
	recs, ts, err := s.Records()
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range s.Meta {
			if !yield(n) {
				return
			}
		}
	}) {
		v, err := base64.StdEncoding.DecodeString(s.Meta[name])
		if err != nil {
			return err
		}
		if _, err := initMeta(ctx, st, name, v); err != nil {
			return fmt.Errorf("golden: loading meta %s: %w", name, err)
		}
	}
	for _, r := range recs {
		if err := st.CreateKey(ctx, r); err != nil {
			return fmt.Errorf("golden: loading key %s v%d: %w", r.ID, r.Version, err)
		}
	}
	for _, t := range ts {
		if _, err := st.Forget(ctx, t); err != nil {
			return fmt.Errorf("golden: loading tombstone: %w", err)
		}
	}
	return nil
}

// Open loads the snapshot into a new memstore and opens a Keyring on it
// with the fixture's root key.
func Open(ctx context.Context) (*keys.Keyring, *Recorder, error) {
	snap, err := ReadSnapshot()
	if err != nil {
		return nil, nil, err
	}
	rec := NewRecorder(memstore.New())
	if err := snap.Load(ctx, rec); err != nil {
		return nil, nil, err
	}
	kms, err := RootKey()
	if err != nil {
		return nil, nil, err
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: kms, Store: rec, CacheEntries: -1})
	if err != nil {
		return nil, nil, err
	}
	return kr, rec, nil
}

// Recorder is a keystore.Store that remembers every record, meta value and
// tombstone written through it, so that the generator can dump the store
// (memstore lists only live keys).
type Recorder struct {
	keystore.Store
	mu    sync.Mutex
	snap  Snapshot
	index map[string]int // id/version → position in snap.Keys
}

// NewRecorder wraps st.
func NewRecorder(st keystore.Store) *Recorder {
	return &Recorder{Store: st, snap: Snapshot{Meta: map[string]string{}}, index: map[string]int{}}
}

// CreateKey implements keystore.Store.
func (r *Recorder) CreateKey(ctx context.Context, rec keystore.KeyRecord) error {
	if err := r.Store.CreateKey(ctx, rec); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	row := KeyRow{ID: hex.EncodeToString(rec.ID[:]), Version: rec.Version, Subject: hex.EncodeToString(rec.Subject[:]),
		Purpose: rec.Purpose, CreatedAt: rec.CreatedAt.UnixMicro()}
	if rec.Wrapped != nil {
		row.Wrapped = base64.StdEncoding.EncodeToString(rec.Wrapped)
	}
	if !rec.DestroyedAt.IsZero() {
		row.DestroyedAt = rec.DestroyedAt.UnixMicro()
	}
	r.index[fmt.Sprintf("%s/%d", row.ID, row.Version)] = len(r.snap.Keys)
	r.snap.Keys = append(r.snap.Keys, row)
	return nil
}

// Forget implements keystore.Store.
func (r *Recorder) Forget(ctx context.Context, t keystore.Tombstone) (keystore.Tombstone, error) {
	out, err := r.Store.Forget(ctx, t)
	if err != nil {
		return out, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	subj := hex.EncodeToString(out.Subject[:])
	for i := range r.snap.Keys {
		if k := &r.snap.Keys[i]; k.Subject == subj && k.Wrapped != "" {
			k.Wrapped, k.DestroyedAt = "", out.ForgottenAt.UnixMicro()
		}
	}
	if !slices.ContainsFunc(r.snap.Tombstones, func(x TombstoneRow) bool { return x.Subject == subj }) {
		// A tombstone loaded from a snapshot destroys nothing now (its
		// keys are stored without material): keep its recorded count.
		r.snap.Tombstones = append(r.snap.Tombstones, TombstoneRow{Subject: subj,
			ForgottenAt: out.ForgottenAt.UnixMicro(), Reason: out.Reason, Destroyed: max(out.Destroyed, t.Destroyed)})
	}
	return out, nil
}

func (r *Recorder) recordMeta(name string, v []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snap.Meta[name] = base64.StdEncoding.EncodeToString(v)
}

// Snapshot returns what was written through r.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.snap
	s.Keys = slices.Clone(s.Keys)
	s.Tombstones = slices.Clone(s.Tombstones)
	return s
}

// WriteJSON writes v to the fixture file name, indented, with a final
// newline.
func WriteJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(Path(name), append(b, '\n'), 0o644)
}

// ReadJSON reads the fixture file name into v.
func ReadJSON(name string, v any) error {
	b, err := os.ReadFile(Path(name))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// InitMeta implements keystore.Store.
func (r *Recorder) InitMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	v, err := r.Store.InitMeta(ctx, name, value)
	if err == nil {
		r.recordMeta(name, v)
	}
	return v, err
}

func initMeta(ctx context.Context, st keystore.Store, name string, v []byte) ([]byte, error) {
	return st.InitMeta(ctx, name, v)
}
