package fpe_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// fuzzCheck asserts the string-API contract on arbitrary input: either a
// sentinel error, or a same-length ciphertext that decrypts back.
func fuzzCheck(t *testing.T, c stringCipher, in string, tweak []byte) {
	ct, err := c.Encrypt(in, tweak)
	if err != nil {
		if ct != "" {
			t.Fatal("output returned with an error")
		}
		if !errors.Is(err, fpe.ErrInvalidInput) && !errors.Is(err, fpe.ErrDomainTooSmall) && !errors.Is(err, fpe.ErrInvalidTweak) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		// Decrypt must reject the same input in the same way.
		if _, err2 := c.Decrypt(in, tweak); err2 == nil {
			t.Fatal("Decrypt accepted what Encrypt rejected")
		}
		return
	}
	if utf8.RuneCountInString(ct) != utf8.RuneCountInString(in) {
		t.Fatal("length not preserved")
	}
	pt, err := c.Decrypt(ct, tweak)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if pt != in {
		t.Fatal("round trip mismatch")
	}
}

func FuzzFF1String(f *testing.F) {
	key := []byte("0123456789abcdef")
	dec, _ := fpe.NewFF1(key, digits)
	pol, _ := fpe.NewFF1(key, polish)
	b62, _ := fpe.NewFF1(key, base62)
	f.Add("0123456789", []byte{})
	f.Add("+123456789", []byte("t"))
	f.Add("12345", []byte("tweak"))
	f.Add("żółćgęśląjaźń", []byte{0xff})
	f.Add("\xff\xfe0123456", []byte{})
	f.Add("4111111111111111111111111111111111111111111111111", []byte("long"))
	f.Add("aB3zZ9", []byte{1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, in string, tweak []byte) {
		for _, c := range []*fpe.FF1{dec, pol, b62} {
			fuzzCheck(t, c, in, tweak)
		}
	})
}

func FuzzFF31String(f *testing.F) {
	key := []byte("0123456789abcdef")
	dec, _ := fpe.NewFF31(key, digits)
	pol, _ := fpe.NewFF31(key, polish)
	b62, _ := fpe.NewFF31(key, base62)
	f.Add("0123456789", []byte("1234567"))
	f.Add("+123456789", []byte("1234567"))
	f.Add("0123456789", []byte("12345678"))
	f.Add("żółćgęśląjaźń", []byte("abcdefg"))
	f.Add("12345678901234567890123456789012345678901234567890123456", []byte("1234567"))
	f.Add("123456789012345678901234567890123456789012345678901234567", []byte("1234567"))
	f.Fuzz(func(t *testing.T, in string, tweak []byte) {
		for _, c := range []*fpe.FF31{dec, pol, b62} {
			fuzzCheck(t, c, in, tweak)
		}
	})
}

// FuzzAlphabet checks that NewAlphabet either rejects a candidate alphabet
// or accepts one whose characters round-trip through the numeral API.
func FuzzAlphabet(f *testing.F) {
	f.Add("0123456789", "0123")
	f.Add("aąbc", "ąą")
	f.Add("aa", "a")
	f.Add("\xff0", "0")
	f.Fuzz(func(t *testing.T, chars, in string) {
		a, err := fpe.NewAlphabet(chars)
		if err != nil {
			if !errors.Is(err, fpe.ErrInvalidAlphabet) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		x, err := a.AppendNumerals(nil, in)
		if err != nil {
			if !errors.Is(err, fpe.ErrInvalidInput) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out, err := a.AppendString(nil, x)
		if err != nil || string(out) != in {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
