package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want sqlstore.ErrorKind
	}{
		{&gomysql.MySQLError{Number: 1062}, sqlstore.UniqueViolation},
		{fmt.Errorf("insert: %w", &gomysql.MySQLError{Number: 1062}), sqlstore.UniqueViolation},
		{&gomysql.MySQLError{Number: 1213}, sqlstore.Retryable},
		{&gomysql.MySQLError{Number: 1205}, sqlstore.OtherError}, // lock wait timeout: not a lost race
		{errors.New("1062"), sqlstore.OtherError},
		{nil, sqlstore.OtherError},
	} {
		if got := (dialect{}).Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestOpenErrorHidesPassword: a DSN the driver cannot parse is reported
// without its password.
func TestOpenErrorHidesPassword(t *testing.T) {
	for _, dsn := range []string{
		"fieldcrypt:hunter2@tcp(db:3306)/app?parseTime=maybe",
		"fieldcrypt:hunter2@tcp(db:3306",
	} {
		_, err := Open(t.Context(), dsn)
		if err == nil {
			t.Fatalf("Open(invalid DSN) succeeded")
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.HasPrefix(err.Error(), "mysql: open:") {
			t.Errorf("error = %q, want a mysql: error without the password", err)
		}
	}
}
