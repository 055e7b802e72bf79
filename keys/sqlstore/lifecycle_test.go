package sqlstore_test

import (
	"bytes"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

// TestLifecycle runs the lifecycle conformance suite on every database,
// tampering with the audit log in plain SQL.
func TestLifecycle(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			base := sqlHarness(b)
			keystest.RunLifecycleTests(t, keystest.LifecycleHarness{
				New:         base.New,
				Reopen:      base.Reopen,
				TamperAudit: tamperAudit,
			})
		})
	}
}

func tamperAudit(t *testing.T, s keystore.Store, op string, seq uint64) {
	t.Helper()
	st := s.(*sqlstore.Store)
	db := sqlstore.DB(st)
	q := func(s string) string { return sqlstore.Rebind(st, s) }
	read := func(seq uint64) (entry, hash []byte) {
		t.Helper()
		if err := db.QueryRow(q(`SELECT entry, hash FROM fieldcrypt_audit_log WHERE seq = ?`), int64(seq)).Scan(&entry, &hash); err != nil {
			t.Fatal(err)
		}
		return entry, hash
	}
	write := func(seq uint64, entry, hash []byte) {
		t.Helper()
		if _, err := db.Exec(q(`UPDATE fieldcrypt_audit_log SET entry = ?, hash = ? WHERE seq = ?`), entry, hash, int64(seq)); err != nil {
			t.Fatal(err)
		}
	}
	switch op {
	case "remove":
		if _, err := db.Exec(q(`DELETE FROM fieldcrypt_audit_log WHERE seq = ?`), int64(seq)); err != nil {
			t.Fatal(err)
		}
	case "swap":
		e1, h1 := read(seq)
		e2, h2 := read(seq + 1)
		write(seq, e2, h2)
		write(seq+1, e1, h1)
	case "edit":
		e, h := read(seq)
		write(seq, bytes.Replace(e, []byte(`"time":"`), []byte(`"time":"1`), 1), h)
	default:
		t.Fatalf("unknown tamper %q", op)
	}
}

// TestMigrateToVersion2 opens a version 1 database, as the previous
// release left it, and finds it migrated.
func TestMigrateToVersion2(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			s := mustOpen(t, open)
			db := sqlstore.DB(s)
			for _, table := range []string{"fieldcrypt_activity", "fieldcrypt_holds", "fieldcrypt_erasure_schedule",
				"fieldcrypt_key_erasures", "fieldcrypt_audit_log"} {
				if _, err := db.Exec(`DROP TABLE ` + table); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Exec(sqlstore.Rebind(s, `UPDATE fieldcrypt_meta SET value = ? WHERE name = 'schema_version'`), []byte("1")); err != nil {
				t.Fatal(err)
			}
			s2 := mustOpen(t, open)
			var v []byte
			if err := sqlstore.DB(s2).QueryRow(`SELECT value FROM fieldcrypt_meta WHERE name = 'schema_version'`).Scan(&v); err != nil || string(v) != "2" {
				t.Fatalf("schema_version = %q, %v; want 2", v, err)
			}
			if _, err := s2.AuditHead(t.Context()); err != nil {
				t.Fatalf("audit log after migration: %v", err)
			}
		})
	}
}
