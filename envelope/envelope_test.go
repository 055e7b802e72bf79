package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

var ctx = context.Background()

func newKeyring(t testing.TB, cfg keys.Config) *keys.Keyring {
	t.Helper()
	if cfg.KMS == nil {
		k, err := localkms.Parse([]byte(localkms.GenerateKey()))
		if err != nil {
			t.Fatal(err)
		}
		cfg.KMS = k
	}
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	kr, err := keys.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func newCipher(t testing.TB, opts ...envelope.Option) *envelope.Cipher {
	t.Helper()
	c, err := envelope.New(newKeyring(t, keys.Config{}), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type mode struct {
	name    string
	encrypt func(*envelope.Cipher, context.Context, string, []byte, []byte) ([]byte, error)
}

var modes = []mode{
	{"randomized", (*envelope.Cipher).Encrypt},
	{"deterministic", (*envelope.Cipher).EncryptDeterministic},
}

func TestRoundTrip(t *testing.T) {
	c := newCipher(t)
	mib := make([]byte, 1<<20)
	rand.Read(mib)
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	for _, m := range modes {
		for _, pt := range [][]byte{{}, {0x42}, []byte("ada@example.com"), mib} {
			t.Run(fmt.Sprintf("%s/%dB", m.name, len(pt)), func(t *testing.T) {
				in := bytes.Clone(pt)
				ct, err := m.encrypt(c, ctx, "cust-1", in, ad)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(in, pt) {
					t.Fatal("Encrypt modified its input")
				}
				if len(pt) >= 8 && bytes.Contains(ct, pt[:8]) {
					t.Fatal("ciphertext contains plaintext")
				}
				got, err := c.Decrypt(ctx, ct, ad)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, pt) || got == nil {
					t.Fatalf("Decrypt(Encrypt(%d bytes)) mismatch", len(pt))
				}
			})
		}
	}
}

func TestStringForm(t *testing.T) {
	c := newCipher(t)
	ad := envelope.AssociatedData("customers", "address")
	for _, pt := range []string{"", "x", "ul. Żółkiewskiego 7, 00-950 Warszawa"} {
		ct, err := c.EncryptString(ctx, "cust-1", pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(ct, "+/=\n ") {
			t.Fatalf("string form %q is not URL-safe unpadded base64", ct)
		}
		got, err := c.DecryptString(ctx, ct, ad)
		if err != nil || got != pt {
			t.Fatalf("DecryptString = %q, %v; want %q", got, err, pt)
		}
		det, err := c.EncryptStringDeterministic(ctx, "cust-1", pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.DecryptString(ctx, det, ad); err != nil || got != pt {
			t.Fatalf("deterministic DecryptString = %q, %v; want %q", got, err, pt)
		}
	}
	for _, bad := range []string{"", "!!!!", "AAAA=", "a b"} {
		if _, err := c.DecryptString(ctx, bad, ad); !errors.Is(err, envelope.ErrMalformed) {
			t.Fatalf("DecryptString(%q): got %v, want ErrMalformed", bad, err)
		}
	}
}

func TestFormat(t *testing.T) {
	c := newCipher(t)
	ct, err := c.Encrypt(ctx, "cust-1", []byte("0123456789"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != 10+82 || envelope.HeaderSize != 54 {
		t.Fatalf("randomised ciphertext of 10 bytes is %d bytes, want 92 (header %d)", len(ct), envelope.HeaderSize)
	}
	h, _, err := envelope.ParseHeader(ct)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Mode != envelope.Randomized || h.KeyVer != 1 || h.Commitment == [envelope.CommitmentSize]byte{} {
		t.Fatalf("header = %+v", h)
	}
	det, _ := c.EncryptDeterministic(ctx, "cust-1", []byte("0123456789"), nil)
	if len(det) != 10+70 {
		t.Fatalf("deterministic ciphertext of 10 bytes is %d bytes, want 80", len(det))
	}
	dh, _, _ := envelope.ParseHeader(det)
	if dh.Mode != envelope.Deterministic || dh.KeyID != h.KeyID || dh.Commitment != h.Commitment {
		t.Fatalf("deterministic header = %+v, want the same key and commitment as randomised", dh)
	}
	other, _ := c.Encrypt(ctx, "cust-2", []byte("0123456789"), nil)
	if oh, _, _ := envelope.ParseHeader(other); oh.Commitment == h.Commitment {
		t.Fatal("two subject keys have the same commitment")
	}
}

func TestRandomizedDiffers(t *testing.T) {
	c := newCipher(t)
	a, _ := c.Encrypt(ctx, "cust-1", []byte("same"), nil)
	b, _ := c.Encrypt(ctx, "cust-1", []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two randomised encryptions of one value are equal")
	}
}

func TestDeterministic(t *testing.T) {
	kr := newKeyring(t, keys.Config{})
	c, _ := envelope.New(kr)
	other, _ := envelope.New(kr, envelope.WithPurpose("search"))
	enc := func(c *envelope.Cipher, subject, pt, col string) []byte {
		ct, err := c.EncryptDeterministic(ctx, subject, []byte(pt), envelope.AssociatedData(col))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	base := enc(c, "cust-1", "ada@example.com", "email")
	if !bytes.Equal(base, enc(c, "cust-1", "ada@example.com", "email")) {
		t.Fatal("deterministic encryption is not deterministic")
	}
	for name, ct := range map[string][]byte{
		"other value":   enc(c, "cust-1", "bob@example.com", "email"),
		"other subject": enc(c, "cust-2", "ada@example.com", "email"),
		"other column":  enc(c, "cust-1", "ada@example.com", "email2"),
		"other purpose": enc(other, "cust-1", "ada@example.com", "email"),
	} {
		if bytes.Equal(ct, base) {
			t.Errorf("%s gives the same deterministic ciphertext", name)
		}
	}
}

func TestWrongAssociatedData(t *testing.T) {
	c := newCipher(t)
	for _, m := range modes {
		ad := envelope.AssociatedData("customers", "email", "cust-1")
		ct, _ := m.encrypt(c, ctx, "cust-1", []byte("ada@example.com"), ad)
		for _, bad := range [][]byte{
			nil,
			envelope.AssociatedData("customers", "email", "cust-2"),
			envelope.AssociatedData("customers", "phone", "cust-1"),
			envelope.AssociatedData("customers", "emailcust-1"),
		} {
			pt, err := c.Decrypt(ctx, ct, bad)
			if !errors.Is(err, envelope.ErrDecrypt) || pt != nil {
				t.Fatalf("%s: Decrypt with wrong associated data = %q, %v; want ErrDecrypt", m.name, pt, err)
			}
		}
	}
}

// A ciphertext copied from one customer's row to another's must not decrypt
// when the associated data names the row's subject.
func TestSwappedBetweenSubjects(t *testing.T) {
	c := newCipher(t)
	adA := envelope.AssociatedData("customers", "email", "cust-A")
	adB := envelope.AssociatedData("customers", "email", "cust-B")
	ctA, _ := c.Encrypt(ctx, "cust-A", []byte("a@example.com"), adA)
	ctB, _ := c.Encrypt(ctx, "cust-B", []byte("b@example.com"), adB)
	if _, err := c.Decrypt(ctx, ctA, adB); !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("A's ciphertext in B's row: got %v, want ErrDecrypt", err)
	}
	if _, err := c.Decrypt(ctx, ctB, adA); !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("B's ciphertext in A's row: got %v, want ErrDecrypt", err)
	}
}

func TestTamperEveryByte(t *testing.T) {
	c := newCipher(t)
	ad := []byte("ad")
	for _, m := range modes {
		ct, _ := m.encrypt(c, ctx, "cust-1", []byte("4111 1111 1111 1111"), ad)
		for i := range ct {
			for _, flip := range []byte{0x01, 0x80} {
				bad := bytes.Clone(ct)
				bad[i] ^= flip
				pt, err := c.Decrypt(ctx, bad, ad)
				if err == nil || pt != nil {
					t.Fatalf("%s: flipping bit %#x of byte %d: Decrypt succeeded", m.name, flip, i)
				}
				if !errors.Is(err, envelope.ErrDecrypt) && !errors.Is(err, envelope.ErrMalformed) &&
					!errors.Is(err, envelope.ErrUnsupportedVersion) {
					t.Fatalf("%s: flipping byte %d: unexpected error %v", m.name, i, err)
				}
				if strings.Contains(err.Error(), "4111") {
					t.Fatal("error contains plaintext")
				}
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	c := newCipher(t)
	for _, m := range modes {
		ct, _ := m.encrypt(c, ctx, "cust-1", []byte("x"), nil)
		for n := range len(ct) {
			pt, err := c.Decrypt(ctx, ct[:n], nil)
			if err == nil || pt != nil {
				t.Fatalf("%s: %d-byte truncation decrypted", m.name, n)
			}
			// Too short for the header or the mode's overhead: malformed.
			// Long enough but cut: the tag check fails.
			if !errors.Is(err, envelope.ErrMalformed) && !errors.Is(err, envelope.ErrDecrypt) {
				t.Fatalf("%s: %d-byte truncation: got %v", m.name, n, err)
			}
		}
		if _, err := c.Decrypt(ctx, ct[:envelope.HeaderSize+3], nil); !errors.Is(err, envelope.ErrMalformed) {
			t.Fatalf("%s: truncated body: got %v, want ErrMalformed", m.name, err)
		}
	}
}

func TestNewerFormatVersion(t *testing.T) {
	c := newCipher(t)
	ct, _ := c.Encrypt(ctx, "cust-1", []byte("x"), nil)
	ct[0] = 3
	_, err := c.Decrypt(ctx, ct, nil)
	if !errors.Is(err, envelope.ErrUnsupportedVersion) {
		t.Fatalf("format version 3: got %v, want ErrUnsupportedVersion", err)
	}
	if !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("error %q does not name the version", err)
	}
	s := base64.RawURLEncoding.EncodeToString(ct)
	if _, err := c.DecryptString(ctx, s, nil); !errors.Is(err, envelope.ErrUnsupportedVersion) {
		t.Fatalf("string form of format version 3: got %v", err)
	}
}

func TestBadInput(t *testing.T) {
	c := newCipher(t)
	if _, err := c.Encrypt(ctx, "", []byte("x"), nil); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("empty subject: got %v, want keys.ErrInvalidSubject", err)
	}
	if _, err := c.Encrypt(ctx, strings.Repeat("s", 257), []byte("x"), nil); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("long subject: got %v, want keys.ErrInvalidSubject", err)
	}
	if _, err := c.Encrypt(ctx, "\xff", []byte("x"), nil); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("invalid UTF-8 subject: got %v, want keys.ErrInvalidSubject", err)
	}
	kr := newKeyring(t, keys.Config{})
	for _, p := range []string{"", "Upper", "-lead", "has space", "ünï", strings.Repeat("p", 65)} {
		if _, err := envelope.New(kr, envelope.WithPurpose(p)); !errors.Is(err, keys.ErrInvalidPurpose) {
			t.Fatalf("purpose %q: got %v, want keys.ErrInvalidPurpose", p, err)
		}
	}
	if _, err := envelope.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	if _, err := envelope.New(kr, nil); err == nil {
		t.Fatal("New with a nil Option succeeded")
	}
	if _, err := c.Decrypt(ctx, nil, nil); !errors.Is(err, envelope.ErrMalformed) {
		t.Fatalf("nil ciphertext: got %v", err)
	}
}

func TestUnknownKeyIsOpaque(t *testing.T) {
	a, b := newCipher(t), newCipher(t) // separate keystores
	ct, _ := a.Encrypt(ctx, "cust-1", []byte("x"), nil)
	if _, err := b.Decrypt(ctx, ct, nil); !errors.Is(err, envelope.ErrDecrypt) || err.Error() != envelope.ErrDecrypt.Error() {
		t.Fatalf("ciphertext from another keystore: got %v, want the opaque ErrDecrypt", err)
	}
}

func TestRotate(t *testing.T) {
	kr := newKeyring(t, keys.Config{})
	c, _ := envelope.New(kr)
	old, _ := c.Encrypt(ctx, "cust-1", []byte("before"), nil)
	v, err := kr.Rotate(ctx, "cust-1", keys.DefaultPurpose)
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	fresh, _ := c.Encrypt(ctx, "cust-1", []byte("after"), nil)
	if h, _, _ := envelope.ParseHeader(fresh); h.KeyVer != 2 {
		t.Fatalf("after Rotate, Encrypt used key version %d, want 2", h.KeyVer)
	}
	for ct, want := range map[string]string{string(old): "before", string(fresh): "after"} {
		got, err := c.Decrypt(ctx, []byte(ct), nil)
		if err != nil || string(got) != want {
			t.Fatalf("Decrypt after rotation = %q, %v; want %q", got, err, want)
		}
	}
}

func TestForget(t *testing.T) {
	kr := newKeyring(t, keys.Config{})
	c, _ := envelope.New(kr)
	search, _ := envelope.New(kr, envelope.WithPurpose("search"))
	ct, _ := c.Encrypt(ctx, "cust-1", []byte("ada@example.com"), nil)
	det, _ := search.EncryptDeterministic(ctx, "cust-1", []byte("ada@example.com"), nil)
	kept, _ := c.Encrypt(ctx, "cust-2", []byte("bob@example.com"), nil)

	ts, err := kr.Forget(ctx, "cust-1", "ticket-7")
	if err != nil {
		t.Fatal(err)
	}
	if ts.Destroyed != 2 {
		t.Fatalf("Forget destroyed %d key versions, want 2 (two purposes)", ts.Destroyed)
	}
	for name, ct := range map[string][]byte{"randomised": ct, "deterministic": det} {
		pt, err := c.Decrypt(ctx, ct, nil)
		if !errors.Is(err, keys.ErrKeyDestroyed) || pt != nil {
			t.Fatalf("%s Decrypt after Forget = %q, %v; want keys.ErrKeyDestroyed", name, pt, err)
		}
	}
	if _, err := c.Encrypt(ctx, "cust-1", []byte("new"), nil); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Encrypt after Forget: got %v, want keys.ErrKeyDestroyed", err)
	}
	fresh, _ := envelope.New(kr, envelope.WithPurpose("never-used-before"))
	if _, err := fresh.Encrypt(ctx, "cust-1", []byte("new"), nil); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Encrypt under a new purpose after Forget: got %v, want keys.ErrKeyDestroyed", err)
	}
	if got, err := c.Decrypt(ctx, kept, nil); err != nil || string(got) != "bob@example.com" {
		t.Fatalf("other subject after Forget: %q, %v", got, err)
	}
	again, err := kr.Forget(ctx, "cust-1", "ticket-8")
	if err != nil || !again.ForgottenAt.Equal(ts.ForgottenAt) || again.Reason != "ticket-7" {
		t.Fatalf("second Forget = %+v, %v; want the first tombstone", again, err)
	}
	if gone, err := kr.Forgotten(ctx, "cust-1"); err != nil || !gone {
		t.Fatalf("Forgotten(cust-1) = %v, %v", gone, err)
	}
	if gone, err := kr.Forgotten(ctx, "cust-2"); err != nil || gone {
		t.Fatalf("Forgotten(cust-2) = %v, %v", gone, err)
	}
}

// TestForgetUnderLoad hammers one subject from 32 goroutines while it is
// forgotten: no operation that starts after Forget returns may succeed.
func TestForgetUnderLoad(t *testing.T) {
	for round := range 20 {
		kr := newKeyring(t, keys.Config{})
		c, _ := envelope.New(kr)
		subject := fmt.Sprintf("cust-%d", round)
		seed, _ := c.Encrypt(ctx, subject, []byte("seed"), nil)
		var forgotten atomic.Bool
		var violations, okBefore atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 32 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := forgotten.Load()
					var err error
					if g%2 == 0 {
						_, err = c.Encrypt(ctx, subject, []byte("value"), nil)
					} else {
						_, err = c.Decrypt(ctx, seed, nil)
					}
					switch {
					case err == nil && after:
						violations.Add(1)
					case err == nil:
						okBefore.Add(1)
					case !errors.Is(err, keys.ErrKeyDestroyed):
						t.Errorf("unexpected error: %v", err)
						return
					}
				}
			})
		}
		for deadline := time.Now().Add(5 * time.Second); okBefore.Load() < 100; {
			if time.Now().After(deadline) {
				t.Fatal("workers made no progress before Forget")
			}
			runtime.Gosched() // let the workers warm the cache
		}
		if _, err := kr.Forget(ctx, subject, "load test"); err != nil {
			t.Fatal(err)
		}
		forgotten.Store(true)
		for range 200 { // keep hammering for a while after Forget
			if _, err := c.Decrypt(ctx, seed, nil); !errors.Is(err, keys.ErrKeyDestroyed) {
				t.Fatalf("Decrypt after Forget: %v", err)
			}
		}
		close(stop)
		wg.Wait()
		if n := violations.Load(); n > 0 {
			t.Fatalf("round %d: %d operations started after Forget returned succeeded", round, n)
		}
	}
}

// Nonces come from a pooled random buffer: across goroutines no nonce may
// ever repeat.
func TestNoncesUnique(t *testing.T) {
	c := newCipher(t)
	const workers, each = 32, 2000
	nonces := make([][][12]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ct, err := c.Encrypt(ctx, "cust-1", []byte("v"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				nonces[w] = append(nonces[w], [12]byte(ct[envelope.HeaderSize:envelope.HeaderSize+12]))
			}
		})
	}
	wg.Wait()
	seen := make(map[[12]byte]bool, workers*each)
	for _, ns := range nonces {
		for _, n := range ns {
			if seen[n] {
				t.Fatal("nonce reused")
			}
			seen[n] = true
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("%d nonces, want %d", len(seen), workers*each)
	}
}
