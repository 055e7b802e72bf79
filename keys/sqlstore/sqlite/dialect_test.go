package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

// TestClassify classifies the errors of a real SQLite database.
func TestClassify(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO t VALUES (1, 'a', 'x')`); err != nil {
		t.Fatal(err)
	}
	exec := func(q string) error {
		_, err := db.Exec(q)
		if err == nil {
			t.Fatalf("%s succeeded", q)
		}
		return fmt.Errorf("wrapped: %w", err)
	}
	for _, c := range []struct {
		err  error
		want sqlstore.ErrorKind
	}{
		{exec(`INSERT INTO t VALUES (1, 'b', 'x')`), sqlstore.UniqueViolation}, // primary key
		{exec(`INSERT INTO t VALUES (2, 'a', 'x')`), sqlstore.UniqueViolation}, // unique column
		{exec(`INSERT INTO t VALUES (3, 'c', NULL)`), sqlstore.OtherError},     // NOT NULL
		{exec(`SELECT * FROM missing`), sqlstore.OtherError},
		{errors.New("UNIQUE constraint failed"), sqlstore.OtherError},
		{nil, sqlstore.OtherError},
	} {
		if got := (dialect{}).Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
