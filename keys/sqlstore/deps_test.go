package sqlstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Import path prefixes of each database driver and what it brings along.
var (
	pgxDeps    = []string{"github.com/jackc/"}
	mysqlDeps  = []string{"github.com/go-sql-driver/mysql"}
	sqliteDeps = []string{"github.com/glebarez/", "modernc.org/sqlite", "modernc.org/libc"}
)

// TestDriverIsolation runs go list -deps on each driver package and on a
// small program using one of them: a program that keeps its keys in
// PostgreSQL must not link the MySQL driver or SQLite, and so on. The
// neutral package links no driver at all.
func TestDriverIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	const mod = "github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	cases := []struct {
		pkg       string
		forbidden [][]string
	}{
		{mod, [][]string{pgxDeps, mysqlDeps, sqliteDeps}},
		{mod + "/postgres", [][]string{mysqlDeps, sqliteDeps}},
		{mod + "/internal/pgconsumer", [][]string{mysqlDeps, sqliteDeps}},
		{mod + "/mysql", [][]string{pgxDeps, sqliteDeps}},
		{mod + "/sqlite", [][]string{pgxDeps, mysqlDeps}},
		{mod + "/internal/sqliteconsumer", [][]string{pgxDeps, mysqlDeps}},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.pkg, "github.com/fieldcrypt/fieldcrypt/keys/"), func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", c.pkg).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go list -deps %s: %v\n%s", c.pkg, err, stderr)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed %d packages; the check would prove nothing", c.pkg, len(deps))
			}
			for _, dep := range deps {
				for _, prefixes := range c.forbidden {
					for _, p := range prefixes {
						if strings.HasPrefix(dep, p) {
							t.Errorf("%s depends on %s", c.pkg, dep)
						}
					}
				}
			}
		})
	}
}
