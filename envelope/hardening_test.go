package envelope_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// TestStringFormHasOneSpelling: every ciphertext has exactly one accepted
// text form. Non-strict base64 accepts other bits in the last character
// and ignores newlines, which would give a deterministic column several
// spellings of one value (breaking equality search and UNIQUE).
func TestStringFormHasOneSpelling(t *testing.T) {
	c := newCipher(t)
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, m := range []struct {
		name string
		enc  func(string) (string, error)
	}{
		{"randomized", func(p string) (string, error) { return c.EncryptString(ctx, "cust-1", p, ad) }},
		{"deterministic", func(p string) (string, error) { return c.EncryptStringDeterministic(ctx, "cust-1", p, ad) }},
	} {
		// Plaintext lengths covering each length mod 3 of the binary form.
		for _, pt := range []string{"a", "ab", "abc"} {
			ct, err := m.enc(pt)
			if err != nil {
				t.Fatal(err)
			}
			variants := []string{ct + "\n", "\n" + ct, ct[:10] + "\r\n" + ct[10:], ct + "=", ct + "==", " " + ct, ct + " "}
			// Same decoded bytes, other unused bits in the last character.
			if raw, _ := base64.RawURLEncoding.DecodeString(ct); len(raw)%3 != 0 {
				last := strings.IndexByte(alphabet, ct[len(ct)-1])
				for d := 1; d < 4; d++ {
					alt := ct[:len(ct)-1] + string(alphabet[last^d])
					if b, err := base64.RawURLEncoding.DecodeString(alt); err == nil && bytes.Equal(b, raw) {
						variants = append(variants, alt)
					}
				}
			}
			for _, v := range variants {
				got, err := c.DecryptString(ctx, v, ad)
				if !errors.Is(err, envelope.ErrMalformed) {
					t.Errorf("%s %q: DecryptString of a second spelling (%q) = %q, %v; want ErrMalformed", m.name, pt, v, got, err)
				}
			}
		}
	}
}

// TestDecryptChecksPurpose: a Cipher decrypts only ciphertexts made under
// keys of its own purpose, even though the ciphertext names its key.
func TestDecryptChecksPurpose(t *testing.T) {
	kr := newKeyring(t, keys.Config{})
	pay, err := envelope.New(kr, envelope.WithPurpose("payment"))
	if err != nil {
		t.Fatal(err)
	}
	mkt, err := envelope.New(kr, envelope.WithPurpose("marketing"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		ct, err := m.encrypt(pay, ctx, "cust-1", []byte("4111111111111111"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := mkt.Decrypt(ctx, ct, nil); !errors.Is(err, envelope.ErrDecrypt) {
			t.Fatalf("%s: a marketing Cipher decrypted a payment ciphertext: %q, %v", m.name, pt, err)
		}
		if _, err := pay.Decrypt(ctx, ct, nil); err != nil {
			t.Fatalf("%s: own purpose: %v", m.name, err)
		}
	}
}
