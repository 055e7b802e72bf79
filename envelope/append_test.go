package envelope_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
)

// TestAppendVariants: the Append methods append exactly what the plain
// methods return (the deterministic one byte for byte, the randomised one
// decrypting alike) after whatever dst holds, in its capacity when it has
// room, and AppendDecrypt reads both modes.
func TestAppendVariants(t *testing.T) {
	c := newCipher(t)
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	prefix := []byte("row 17: ")
	for _, pt := range [][]byte{{}, []byte("a"), []byte("ada@example.com"), bytes.Repeat([]byte("x"), 300)} {
		want, err := c.EncryptDeterministic(ctx, "cust-1", pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(prefix), 1024)
		copy(buf, prefix)
		got, err := c.AppendEncryptDeterministic(ctx, buf, "cust-1", pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("len %d: AppendEncryptDeterministic = %x, want prefix then %x", len(pt), got, want)
		}
		if &got[0] != &buf[0] {
			t.Fatal("AppendEncryptDeterministic did not use dst's capacity")
		}
		rnd, err := c.AppendEncrypt(ctx, bytes.Clone(prefix), "cust-1", pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(rnd, prefix) || len(rnd) != len(prefix)+len(pt)+82 {
			t.Fatalf("len %d: AppendEncrypt gave %d bytes", len(pt), len(rnd))
		}
		for _, ct := range [][]byte{want, rnd[len(prefix):]} {
			dec, err := c.AppendDecrypt(ctx, bytes.Clone(prefix), ct, ad)
			if err != nil || !bytes.Equal(dec, append(bytes.Clone(prefix), pt...)) {
				t.Fatalf("len %d: AppendDecrypt = %q, %v", len(pt), dec, err)
			}
			plain, err := c.Decrypt(ctx, ct, ad)
			if err != nil || !bytes.Equal(plain, pt) {
				t.Fatalf("len %d: Decrypt = %q, %v", len(pt), plain, err)
			}
		}
	}
}

// TestAppendDecryptFailure: a ciphertext that does not authenticate gives
// ErrDecrypt, nil, and leaves no plaintext in dst's spare capacity.
func TestAppendDecryptFailure(t *testing.T) {
	c := newCipher(t)
	pt := []byte("a secret of 24 bytes....")
	for _, enc := range []func() ([]byte, error){
		func() ([]byte, error) { return c.Encrypt(ctx, "cust-1", pt, []byte("ad")) },
		func() ([]byte, error) { return c.EncryptDeterministic(ctx, "cust-1", pt, []byte("ad")) },
	} {
		ct, err := enc()
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 0, 256)
		out, err := c.AppendDecrypt(ctx, dst, ct, []byte("other ad"))
		if !errors.Is(err, envelope.ErrDecrypt) || out != nil {
			t.Fatalf("AppendDecrypt with the wrong associated data: %q, %v", out, err)
		}
		if bytes.Contains(dst[:cap(dst)], pt[:8]) {
			t.Fatal("unauthenticated plaintext left in dst's capacity")
		}
	}
}

// TestAppendAllocations: with a warm key and a buffer with room, the
// Append methods allocate nothing.
func TestAppendAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	c := newCipher(t)
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	pt := bytes.Repeat([]byte("p"), 64)
	ct, _ := c.Encrypt(ctx, "cust-1", pt, ad)
	dct, _ := c.EncryptDeterministic(ctx, "cust-1", pt, ad)
	buf := make([]byte, 0, 512)
	for name, f := range map[string]func() error{
		"AppendEncrypt": func() (err error) { _, err = c.AppendEncrypt(ctx, buf[:0], "cust-1", pt, ad); return },
		"AppendEncryptDeterministic": func() (err error) {
			_, err = c.AppendEncryptDeterministic(ctx, buf[:0], "cust-1", pt, ad)
			return
		},
		"AppendDecrypt/randomized":    func() (err error) { _, err = c.AppendDecrypt(ctx, buf[:0], ct, ad); return },
		"AppendDecrypt/deterministic": func() (err error) { _, err = c.AppendDecrypt(ctx, buf[:0], dct, ad); return },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(200, func() {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

// TestAppendOverlapPanics: encrypting into the plaintext's own storage
// would overwrite it with the header before sealing (a ciphertext of other
// bytes, silently), and decrypting into the ciphertext's would overwrite
// it before it is authenticated: both panic.
func TestAppendOverlapPanics(t *testing.T) {
	c := newCipher(t)
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s did not panic", what)
			}
		}()
		f()
	}
	buf := make([]byte, 512)
	copy(buf[10:], "ada@example.com")
	pt := buf[10:25]
	mustPanic("AppendEncrypt into the plaintext", func() { c.AppendEncrypt(ctx, buf[:0], "cust-1", pt, nil) })
	mustPanic("AppendEncryptDeterministic into the plaintext", func() { c.AppendEncryptDeterministic(ctx, buf[:0], "cust-1", pt, nil) })
	ct, err := c.Encrypt(ctx, "cust-1", []byte("ada@example.com"), nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf[100:], ct)
	mustPanic("AppendDecrypt into the ciphertext", func() { c.AppendDecrypt(ctx, buf[:95], buf[100:100+len(ct)], nil) })
	// Disjoint parts of one buffer are fine.
	out, err := c.AppendDecrypt(ctx, buf[:0], buf[100:100+len(ct)], nil) // 15 bytes before it
	if err != nil || string(out) != "ada@example.com" {
		t.Fatalf("AppendDecrypt into a disjoint part: %q, %v", out, err)
	}
}
