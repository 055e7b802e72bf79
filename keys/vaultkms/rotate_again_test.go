package vaultkms_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/internal/testdb"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// rotationStores are the keystores the Vault root rotation is checked on:
// each returns a new, empty one, closed when the test ends.
var rotationStores = []struct {
	name string
	open func(t *testing.T) keystore.RotatableStore
}{
	{"memstore", func(*testing.T) keystore.RotatableStore { return memstore.New() }},
	{"SQLite", func(t *testing.T) keystore.RotatableStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keys.db"))
		return closeLater(t, s, nil, err)
	}},
	{"PostgreSQL", func(t *testing.T) keystore.RotatableStore {
		return sqlStore(t, "pgx", testdb.PostgresDSN(t), postgres.New)
	}},
	{"MariaDB", func(t *testing.T) keystore.RotatableStore {
		return sqlStore(t, "mysql", testdb.MySQLDSN(t), mysql.New)
	}},
}

// sqlStore puts a keystore on a *sql.DB opened here, as an application that
// already has a pool would.
func sqlStore(t *testing.T, driver, dsn string,
	newStore func(context.Context, *sql.DB, ...sqlstore.Option) (*sqlstore.Store, error)) keystore.RotatableStore {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStore(t.Context(), db)
	return closeLater(t, s, db, err)
}

func closeLater(t *testing.T, s *sqlstore.Store, db *sql.DB, err error) keystore.RotatableStore {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the keystore: %v", err)
		}
		if db != nil {
			db.Close()
		}
	})
	return s
}

// TestRotateAgainDuringRotateRoot rotates the Transit key a second time
// while RotateRoot runs, as auto_rotate_period or a second operator would:
// the check value and the first batch stay under the older version, which
// MinRootVersion reports; raising the minimum decryption version to the
// newest is refused, raising it to MinRootVersion locks nobody out, and a
// second RotateRoot lets it go up to the newest.
func TestRotateAgainDuringRotateRoot(t *testing.T) {
	for _, b := range []struct {
		name string
		b    vaultkms.Binding
	}{{"Context", vaultkms.BindContext}, {"AssociatedData", vaultkms.BindAssociatedData}} {
		t.Run(b.name, func(t *testing.T) {
			for _, st := range rotationStores {
				t.Run(st.name, func(t *testing.T) {
					k := newKMS(t, b.b, nil) // Vault, or the in-process fake
					testRotateAgain(t, k, st.open(t))
				})
			}
		})
	}
}

func testRotateAgain(t *testing.T, k *vaultkms.KMS, store keystore.RotatableStore) {
	ctx := context.Background()
	const customers = 6
	kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	cts := make([][]byte, customers)
	for i := range cts {
		if cts[i], err = ec.Encrypt(ctx, fmt.Sprint("customer-", i), []byte(fmt.Sprint("email of ", i)), nil); err != nil {
			t.Fatal(err)
		}
	}

	if err := k.RotateKey(ctx); err != nil { // v2
		t.Fatal(err)
	}
	rotated := false
	st, err := keys.RotateRoot(ctx, store, k, nil, keys.RotateOptions{BatchSize: 2, Progress: func(int, int, keystore.KeyCursor) {
		if !rotated {
			rotated = true
			if err := k.RotateKey(ctx); err != nil { // v3, after the first batch
				t.Error(err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if latest, err := k.LatestVersion(ctx); err != nil || latest != 3 {
		t.Fatalf("LatestVersion = %d, %v; want 3", latest, err)
	}
	if st.MinRootVersion != 2 || st.Rewrapped != customers {
		t.Fatalf("RotateRoot: %+v; want %d re-wrapped and MinRootVersion 2", st, customers)
	}

	// The documented sequence used to raise it to the latest version here.
	err = k.SetMinDecryptionVersion(ctx, store, 3)
	if !errors.Is(err, vaultkms.ErrKeysBelowVersion) || !strings.Contains(err.Error(), "2 keys and the check value") {
		t.Fatalf("SetMinDecryptionVersion(3) = %v; want ErrKeysBelowVersion for 2 keys and the check value", err)
	}
	t.Logf("refused: %v", err)
	if err := k.SetMinDecryptionVersion(ctx, store, 4); err == nil || errors.Is(err, vaultkms.ErrKeysBelowVersion) {
		t.Fatalf("SetMinDecryptionVersion(4), above latest_version = %v; want a refusal", err)
	}
	if err := k.SetMinDecryptionVersion(ctx, store, st.MinRootVersion); err != nil {
		t.Fatal(err)
	}
	checkMinDecryptionVersion(t, k, 2)
	decryptAll(t, k, store, cts)

	// Catch up: every key under v3, then v3 is safe.
	st, err = keys.RotateRoot(ctx, store, k, nil, keys.RotateOptions{BatchSize: 2})
	if err != nil || st.MinRootVersion != 3 {
		t.Fatalf("second RotateRoot: %+v, %v; want MinRootVersion 3", st, err)
	}
	if err := k.SetMinDecryptionVersion(ctx, store, 3); err != nil {
		t.Fatal(err)
	}
	checkMinDecryptionVersion(t, k, 3)
	decryptAll(t, k, store, cts)
}

// checkMinDecryptionVersion reads the Transit key's configuration.
func checkMinDecryptionVersion(t *testing.T, k *vaultkms.KMS, want int) {
	t.Helper()
	s, err := client(t, "").Logical().ReadWithContext(t.Context(), k.Mount()+"/keys/"+k.KeyName())
	if err != nil || s == nil {
		t.Fatalf("reading the transit key: %v", err)
	}
	if got := fmt.Sprint(s.Data["min_decryption_version"]); got != fmt.Sprint(want) {
		t.Fatalf("min_decryption_version %s, want %d", got, want)
	}
}

// decryptAll opens a new Keyring on store, which checks the root key, and
// decrypts every ciphertext with it.
func decryptAll(t *testing.T, k keystore.KMS, store keystore.Store, cts [][]byte) {
	t.Helper()
	ctx := context.Background()
	kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: store})
	if err != nil {
		t.Fatalf("keys.Open: %v", err)
	}
	defer kr.Close()
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	for i, ct := range cts {
		pt, err := ec.Decrypt(ctx, ct, nil)
		if err != nil || string(pt) != fmt.Sprint("email of ", i) {
			t.Errorf("customer %d: %q, %v", i, pt, err)
		}
	}
}

// TestSetMinDecryptionVersionCounts checks the keystore scan without Vault:
// what is counted, what is not, and that nothing is configured when it
// refuses.
func TestSetMinDecryptionVersionCounts(t *testing.T) {
	ctx := context.Background()
	f := &fakeTransit{}
	f.latest.Store(3)
	k := newTestKMS(t, defaultClient(t, serve(t, f)), vaultkms.Config{})
	store := memstore.New() // no check value yet: nothing opened it
	for i, w := range []string{
		"vault:v1:" + strings.Repeat("A", 40),
		"vault:v3:" + strings.Repeat("A", 40),
		"not a transit ciphertext: no version unwraps it",
	} {
		rec := keystore.KeyRecord{Version: 1, Purpose: "default", Wrapped: []byte(w)}
		rec.ID[0], rec.Subject[0] = byte(i), byte(i)
		if err := store.CreateKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []int{2, 3} {
		err := k.SetMinDecryptionVersion(ctx, store, v)
		if !errors.Is(err, vaultkms.ErrKeysBelowVersion) || !strings.Contains(err.Error(), "1 key is wrapped under older versions (the oldest v1)") {
			t.Fatalf("SetMinDecryptionVersion(%d) = %v", v, err)
		}
	}
	for _, v := range []int{0, 4} {
		if err := k.SetMinDecryptionVersion(ctx, store, v); err == nil || errors.Is(err, vaultkms.ErrKeysBelowVersion) {
			t.Fatalf("SetMinDecryptionVersion(%d) = %v, want a refusal", v, err)
		}
	}
	if f.configs.Load() != 0 {
		t.Fatal("configured the key although the check refused")
	}
	if err := k.SetMinDecryptionVersion(ctx, store, 1); err != nil || f.configs.Load() != 1 {
		t.Fatalf("SetMinDecryptionVersion(1) = %v (%d config requests)", err, f.configs.Load())
	}
}
