package sqlstore_test

import (
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

// sqlHarness does to a SQL keystore, with plain SQL, what a table-level
// restore, a partial restore or a cleanup script would.
func sqlHarness(b backend) keystest.Harness {
	var mu sync.Mutex
	openers := map[keystore.Store]opener{}
	exec := func(t *testing.T, s keystore.Store, q string, args ...any) {
		t.Helper()
		st := s.(*sqlstore.Store)
		if _, err := sqlstore.DB(st).ExecContext(t.Context(), sqlstore.Rebind(st, q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return keystest.Harness{
		New: func(t *testing.T) keystore.Store {
			open := b.fresh(t)
			s := mustOpen(t, open)
			mu.Lock()
			openers[s] = open
			mu.Unlock()
			return s
		},
		Reopen: func(t *testing.T, s keystore.Store) keystore.Store {
			mu.Lock()
			open := openers[s]
			mu.Unlock()
			return mustOpen(t, open)
		},
		DeleteMeta: func(t *testing.T, s keystore.Store, name string) {
			exec(t, s, `DELETE FROM fieldcrypt_meta WHERE name = ?`, name)
		},
		RestoreMeta: func(t *testing.T, s keystore.Store, name string, v []byte) {
			exec(t, s, `INSERT INTO fieldcrypt_meta (name, value) VALUES (?, ?)`, name, v)
		},
		RestoreKey: func(t *testing.T, s keystore.Store, rec keystore.KeyRecord) {
			exec(t, s, `DELETE FROM fieldcrypt_keys WHERE key_id = ? AND version = ?`, rec.ID[:], int64(rec.Version))
			exec(t, s, `INSERT INTO fieldcrypt_keys (key_id, version, subject_ref, purpose, wrapped, created_at, destroyed_at)
VALUES (?, ?, ?, ?, ?, ?, NULL)`, rec.ID[:], int64(rec.Version), rec.Subject[:], rec.Purpose, rec.Wrapped, rec.CreatedAt.UnixMicro())
		},
		Material: func(t *testing.T, s keystore.Store, id keystore.KeyID, v uint32) ([]byte, bool) {
			t.Helper()
			st := s.(*sqlstore.Store)
			var w []byte
			err := sqlstore.DB(st).QueryRowContext(t.Context(),
				sqlstore.Rebind(st, `SELECT wrapped FROM fieldcrypt_keys WHERE key_id = ? AND version = ?`), id[:], int64(v)).Scan(&w)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			return w, true
		},
	}
}

func TestKeyring(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { keystest.RunKeyringTests(t, sqlHarness(b)) })
	}
}
