package envelope_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCoreModuleGraph keeps the core module light: the modules a consumer
// of keys, envelope and tokenize gets in `go list -m all` include no ORM,
// SQL driver, Vault client, plotting library or benchmark peer. They live
// in the modules beside the core (keys/sqlstore, gormcrypt, keys/vaultkms,
// bench, internal/conformance).
func TestCoreModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -m all: %v\n%s", err, stderr)
	}
	mods := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(mods) < 3 || !strings.HasPrefix(mods[0], "github.com/fieldcrypt/fieldcrypt") {
		t.Fatalf("go list -m all listed %d modules, starting with %q", len(mods), mods[0])
	}
	forbidden := []string{
		"gorm.io/", "github.com/jackc/", "github.com/go-sql-driver/", "github.com/glebarez/",
		"modernc.org/", "github.com/hashicorp/", "gonum.org/", "github.com/capitalone/",
	}
	for _, m := range mods {
		for _, f := range forbidden {
			if strings.HasPrefix(m, f) {
				t.Errorf("the core module's graph holds %s", m)
			}
		}
	}
}
