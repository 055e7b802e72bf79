package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// FuzzParseHeader: any input parses or fails with ErrMalformed or
// ErrUnsupportedVersion, never panics, and what parses re-encodes to the
// same header bytes.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 1})
	f.Add(append([]byte{1, 1}, make([]byte, 48)...))
	f.Add(append([]byte{1, 2}, make([]byte, 36)...))
	f.Add([]byte{2, 1, 0, 0})
	f.Add(append([]byte{2, 1}, make([]byte, 80)...))
	f.Add(append([]byte{2, 2}, make([]byte, 68)...))
	f.Add([]byte{3, 1, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, body, err := envelope.ParseHeader(in)
		if err != nil {
			if !errors.Is(err, envelope.ErrMalformed) && !errors.Is(err, envelope.ErrUnsupportedVersion) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		size := envelope.HeaderSize
		if in[0] == 1 {
			size = 22
		}
		if len(in) < size || !bytes.Equal(body, in[size:]) {
			t.Fatal("body is not the input after the header")
		}
		if h.Version == 2 && !bytes.Equal(in[22:envelope.HeaderSize], h.Commitment[:]) {
			t.Fatal("commitment is not the header's")
		}
		if in[0] != byte(h.Version) || in[1] != byte(h.Mode) || !bytes.Equal(in[2:18], h.KeyID[:]) || h.KeyVer == 0 {
			t.Fatalf("header %+v does not describe the input", h)
		}
	})
}

// FuzzDecrypt mutates real ciphertexts: Decrypt must never panic and must
// only accept the exact ciphertexts that Encrypt produced.
func FuzzDecrypt(f *testing.F) {
	c := newCipher(f)
	valid := map[string]string{}
	for _, pt := range []string{"", "a", "ada@example.com", "4111111111111111"} {
		for _, ct := range [][]byte{
			mustEncrypt(f, c.Encrypt, pt),
			mustEncrypt(f, c.EncryptDeterministic, pt),
		} {
			valid[string(ct)] = pt
			f.Add(ct)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		pt, err := c.Decrypt(ctx, in, []byte("fuzz"))
		if err != nil {
			if pt != nil {
				t.Fatal("Decrypt returned plaintext with an error")
			}
			if !errors.Is(err, envelope.ErrDecrypt) && !errors.Is(err, envelope.ErrMalformed) &&
				!errors.Is(err, envelope.ErrUnsupportedVersion) && !errors.Is(err, keys.ErrKeyNotFound) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		want, ok := valid[string(in)]
		if !ok {
			t.Fatalf("Decrypt accepted a ciphertext Encrypt never produced: %x", in)
		}
		if string(pt) != want {
			t.Fatal("Decrypt returned the wrong plaintext")
		}
	})
}

// FuzzDecryptString: the printable form never panics.
func FuzzDecryptString(f *testing.F) {
	c := newCipher(f)
	s, _ := c.EncryptString(ctx, "cust-1", "ada@example.com", nil)
	f.Add(s)
	f.Add("")
	f.Add("AQ")
	f.Add("====")
	f.Fuzz(func(t *testing.T, in string) {
		pt, err := c.DecryptString(ctx, in, nil)
		if err == nil && (in != s || pt != "ada@example.com") {
			t.Fatalf("DecryptString accepted %q", in)
		}
	})
}

func mustEncrypt(f *testing.F, enc func(context.Context, string, []byte, []byte) ([]byte, error), pt string) []byte {
	ct, err := enc(ctx, "cust-1", []byte(pt), []byte("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	return ct
}
