package localkms_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
)

func TestConformance(t *testing.T) {
	keystest.RunKMSTests(t, func(t *testing.T) keystore.KMS {
		k, err := localkms.OpenFile(filepath.Join(t.TempDir(), "root.key"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	})
}

func TestOpenFileCreatesPrivateFileOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "root.key")
	a, err := localkms.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %#o, want 0600", st.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	b, err := localkms.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Fatal("second OpenFile replaced the key")
	}
	ctx := context.Background()
	w, _ := a.Wrap(ctx, []byte("0123456789abcdef0123456789abcdef"), nil)
	if _, err := b.Unwrap(ctx, w, nil); err != nil {
		t.Fatalf("a reopened key file does not unwrap: %v", err)
	}
}

func TestOpenFileConcurrentCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	const n = 8
	kmss := make([]*localkms.KMS, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := localkms.OpenFile(path)
			if err != nil {
				t.Error(err)
			}
			kmss[i] = k
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ctx := context.Background()
	w, _ := kmss[0].Wrap(ctx, []byte("key"), nil)
	for i, k := range kmss {
		if _, err := k.Unwrap(ctx, w, nil); err != nil {
			t.Fatalf("racing creator %d ended up with a different key", i)
		}
	}
}

func TestBadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		content string
		mode    os.FileMode
	}{
		"empty":          {"", 0o600},
		"not base64":     {"this is not a key!\n", 0o600},
		"short key":      {"AAAAAAAAAAAAAAAAAAAAAA==\n", 0o600},
		"long key":       {localkms.GenerateKey() + "AAAA", 0o600},
		"world-readable": {localkms.GenerateKey() + "\n", 0o644},
		"group-readable": {localkms.GenerateKey() + "\n", 0o640},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(c.content), c.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, c.mode)
			_, err := localkms.OpenFile(path)
			if !errors.Is(err, keys.ErrRootKeyInvalid) {
				t.Fatalf("OpenFile: got %v, want ErrRootKeyInvalid", err)
			}
			if c.content != "" && bytes.Contains([]byte(err.Error()), bytes.TrimSpace([]byte(c.content))) {
				t.Fatal("error message contains the key file's content")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := localkms.OpenFile(dir); !errors.Is(err, keys.ErrRootKeyInvalid) {
			t.Fatalf("OpenFile(dir): got %v, want ErrRootKeyInvalid", err)
		}
	})
}

func TestFromEnv(t *testing.T) {
	key := localkms.GenerateKey()
	t.Setenv("FIELDCRYPT_TEST_ROOT_KEY", key)
	a, err := localkms.FromEnv("FIELDCRYPT_TEST_ROOT_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localkms.FromEnv("FIELDCRYPT_TEST_ROOT_KEY", nil); err == nil {
		t.Fatal("FromEnv with a nil EnvOption succeeded")
	}
	b, _ := localkms.Parse([]byte(key))
	ctx := context.Background()
	w, _ := a.Wrap(ctx, []byte("k"), []byte("ad"))
	if _, err := b.Unwrap(ctx, w, []byte("ad")); err != nil {
		t.Fatal("FromEnv and Parse of the same text disagree")
	}
	if _, err := localkms.FromEnv("FIELDCRYPT_TEST_UNSET_VARIABLE"); !errors.Is(err, keys.ErrRootKeyInvalid) {
		t.Fatalf("unset variable: got %v, want ErrRootKeyInvalid", err)
	}
	t.Setenv("FIELDCRYPT_TEST_ROOT_KEY", "c2hvcnQ=")
	if _, err := localkms.FromEnv("FIELDCRYPT_TEST_ROOT_KEY"); !errors.Is(err, keys.ErrRootKeyInvalid) {
		t.Fatalf("short key: got %v, want ErrRootKeyInvalid", err)
	}
}

func TestDifferentRootKeysDoNotUnwrap(t *testing.T) {
	a, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	b, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	ctx := context.Background()
	w, _ := a.Wrap(ctx, []byte("0123456789abcdef0123456789abcdef"), nil)
	if _, err := b.Unwrap(ctx, w, nil); !errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("unwrap under another root key: got %v, want ErrUnwrap", err)
	}
}

func TestFromEnvUnset(t *testing.T) {
	t.Setenv("FIELDCRYPT_TEST_ROOT_KEY", localkms.GenerateKey())
	if _, err := localkms.FromEnv("FIELDCRYPT_TEST_ROOT_KEY"); err != nil {
		t.Fatal(err)
	}
	if _, ok := os.LookupEnv("FIELDCRYPT_TEST_ROOT_KEY"); !ok {
		t.Fatal("FromEnv without WithUnsetEnv removed the variable")
	}
	if _, err := localkms.FromEnv("FIELDCRYPT_TEST_ROOT_KEY", localkms.WithUnsetEnv()); err != nil {
		t.Fatal(err)
	}
	if _, ok := os.LookupEnv("FIELDCRYPT_TEST_ROOT_KEY"); ok {
		t.Fatal("FromEnv with WithUnsetEnv left the variable set")
	}
	// A child process does not inherit it.
	out, err := exec.Command("sh", "-c", `printf %s "${FIELDCRYPT_TEST_ROOT_KEY-unset}"`).Output()
	if err != nil || string(out) != "unset" {
		t.Fatalf("child process sees %q (%v), want unset", out, err)
	}
	// Unset also when the value does not parse.
	t.Setenv("FIELDCRYPT_TEST_ROOT_KEY", "c2hvcnQ=")
	if _, err := localkms.FromEnv("FIELDCRYPT_TEST_ROOT_KEY", localkms.WithUnsetEnv()); !errors.Is(err, keys.ErrRootKeyInvalid) {
		t.Fatalf("short key: %v", err)
	}
	if _, ok := os.LookupEnv("FIELDCRYPT_TEST_ROOT_KEY"); ok {
		t.Fatal("a malformed key was left in the environment")
	}
}
