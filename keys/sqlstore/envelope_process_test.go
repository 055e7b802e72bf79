package sqlstore_test

// Envelope encryption across OS processes on the embedded default (a
// SQLite keystore): kept here, beside the keystore, so that the core
// module's tests need no SQL driver.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

var ctx = context.Background()

func openSQLiteCipher(t testing.TB, dir string) (*keys.Keyring, *envelope.Cipher) {
	root, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return kr, c
}

// TestHelperDecryptProcess is not a test: TestSecondProcess runs the test
// binary again with this test selected, as a separate OS process that opens
// the same SQLite keystore.
func TestHelperDecryptProcess(t *testing.T) {
	dir := os.Getenv("FIELDCRYPT_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestSecondProcess; runs only when started by it")
	}
	ct, _ := hex.DecodeString(os.Getenv("FIELDCRYPT_HELPER_CT"))
	_, c := openSQLiteCipher(t, dir)
	pt, err := c.Decrypt(ctx, ct, nil)
	switch {
	case err == nil:
		fmt.Printf("RESULT decrypted %d bytes\n", len(pt))
	case errors.Is(err, keystore.ErrKeyDestroyed):
		fmt.Println("RESULT destroyed")
	default:
		fmt.Println("RESULT error", err)
	}
}

func runHelper(t *testing.T, dir string, ct []byte) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDecryptProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "FIELDCRYPT_HELPER_DIR="+dir, "FIELDCRYPT_HELPER_CT="+hex.EncodeToString(ct))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process failed: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, "RESULT "); ok {
			return r
		}
	}
	t.Fatalf("helper process printed no result:\n%s", out)
	return ""
}

// TestSecondProcess: a second process sharing the SQLite keystore decrypts
// a customer's data, and after the first process forgets the customer, a
// new process cannot.
func TestSecondProcess(t *testing.T) {
	dir := t.TempDir()
	kr, c := openSQLiteCipher(t, dir)
	ct, err := c.Encrypt(ctx, "cust-1", []byte("ada@example.com"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := runHelper(t, dir, ct); got != "decrypted 15 bytes" {
		t.Fatalf("second process before Forget: %s", got)
	}
	if _, err := kr.Forget(ctx, "cust-1", "ticket"); err != nil {
		t.Fatal(err)
	}
	if got := runHelper(t, dir, ct); got != "destroyed" {
		t.Fatalf("second process after Forget: %s, want destroyed", got)
	}
}

// TestWrongRootKeyForKeystore: opening an existing keystore with another
// root key fails loudly instead of creating keys nobody else can read.
func TestWrongRootKeyForKeystore(t *testing.T) {
	dir := t.TempDir()
	openSQLiteCipher(t, dir)
	other, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	store, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := keys.Open(ctx, keys.Config{KMS: other, Store: store}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("got %v, want keys.ErrRootKeyMismatch", err)
	}
	// A corrupt root key file is reported, not replaced.
	if err := os.WriteFile(filepath.Join(dir, "root.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localkms.OpenFile(filepath.Join(dir, "root.key")); !errors.Is(err, keys.ErrRootKeyInvalid) {
		t.Fatalf("corrupt root key file: got %v, want keys.ErrRootKeyInvalid", err)
	}
	if err := os.Remove(filepath.Join(dir, "root.key")); err != nil {
		t.Fatal(err)
	}
	// A missing root key file for an existing keystore: a new key is made,
	// and the keystore refuses it.
	newRoot, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, keys.Config{KMS: newRoot, Store: store}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("lost root key file: got %v, want keys.ErrRootKeyMismatch", err)
	}
}

// BenchmarkEncryptColdSQLite is the first use of a subject on the embedded
// default: key generated, wrapped by the local root key, inserted into the
// SQLite keystore (one transaction, synced WAL), then the value encrypted.
func BenchmarkEncryptColdSQLite(b *testing.B) {
	_, c := openSQLiteCipher(b, b.TempDir())
	pt := bytes.Repeat([]byte("x"), 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Encrypt(ctx, fmt.Sprintf("cold-%d", i), pt, envelopeAD); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptUncachedSQLite reads a known key from the SQLite
// keystore and unwraps it on every call (cache disabled).
func BenchmarkDecryptUncachedSQLite(b *testing.B) {
	dir := b.TempDir()
	_, warm := openSQLiteCipher(b, dir)
	ct, _ := warm.Encrypt(ctx, "cust-1", bytes.Repeat([]byte("x"), 64), envelopeAD)
	root, _ := localkms.OpenFile(filepath.Join(dir, "root.key"))
	store, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, CacheEntries: -1})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := envelope.New(kr)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decrypt(ctx, ct, envelopeAD); err != nil {
			b.Fatal(err)
		}
	}
}

var envelopeAD = envelope.AssociatedData("customers", "email", "cust-1")
