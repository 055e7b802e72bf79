package tokenize

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// ibanMod97Ref is the digit-by-digit ISO 7064 mod 97 that ibanMod97 must
// equal.
func ibanMod97Ref(c []byte) int {
	r := 0
	add := func(ch byte) {
		switch {
		case '0' <= ch && ch <= '9':
			r = (r*10 + int(ch-'0')) % 97
		case 'A' <= ch && ch <= 'Z':
			r = (r*100 + int(ch-'A') + 10) % 97
		case 'a' <= ch && ch <= 'z':
			r = (r*100 + int(ch-'a') + 10) % 97
		}
	}
	for _, ch := range c[4:] {
		add(ch)
	}
	for _, ch := range c[:4] {
		add(ch)
	}
	return r
}

func TestIBANMod97(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz9999zzzz"
	for range 100000 {
		c := make([]byte, 4+r.IntN(31))
		for i := range c {
			c[i] = chars[r.IntN(len(chars))]
		}
		if got, want := ibanMod97(c), ibanMod97Ref(c); got != want {
			t.Fatalf("ibanMod97(%q) = %d, want %d", c, got, want)
		}
	}
	// Mostly digits, as BBANs are: runs of digits read four at a time,
	// then letters.
	const digitsMostly = "01234567899999999999zZ"
	for range 100000 {
		c := make([]byte, 4+r.IntN(31))
		for i := range c {
			c[i] = digitsMostly[r.IntN(len(digitsMostly))]
		}
		if got, want := ibanMod97(c), ibanMod97Ref(c); got != want {
			t.Fatalf("ibanMod97(%q) = %d, want %d", c, got, want)
		}
	}
	// Digits only (most BBANs), every length, read eight at a time.
	for range 20000 {
		c := make([]byte, 4+r.IntN(31))
		for i := range c {
			c[i] = byte('0' + r.IntN(10))
		}
		if got, want := ibanMod97(c), ibanMod97Ref(c); got != want {
			t.Fatalf("ibanMod97(%q) = %d, want %d", c, got, want)
		}
	}
	for _, s := range []string{"PL61109010140000071219812874", "ZZ999999999999999999zzzzzzzzzz", "ZZ99999999999999999999999999zz", "ZZ9999999999999999999999999999999999zz", "GB82WEST12345698765432", "ZZ99zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "0000999999999999999999999999999999"} {
		if got, want := ibanMod97([]byte(s)), ibanMod97Ref([]byte(s)); got != want {
			t.Fatalf("ibanMod97(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestIBANCountryLength: an IBAN whose check digits are right but whose
// length is not its country's is rejected before any key is used, naming
// the country's length.
func TestIBANCountryLength(t *testing.T) {
	withCheck := func(s string) string {
		c := []byte(s)
		c[2], c[3] = '0', '0'
		ck := 98 - ibanMod97Ref(c)
		c[2], c[3] = byte('0'+ck/10), byte('0'+ck%10)
		return string(c)
	}
	for _, tc := range []struct{ v, want string }{
		{withCheck("DE003704004405320130001"), "DE IBANs have 22"},
		{withCheck("DE0037040044053201300"), "DE IBANs have 22"},
		{withCheck("PL0010901014000007121981287"), "PL IBANs have 28"},
		{withCheck("NO00860111179470"), "NO IBANs have 15"},
	} {
		if ibanMod97Ref([]byte(tc.v)) != 1 {
			t.Fatalf("%s: test value has wrong check digits", tc.v)
		}
		// A nil engine: the length check must fail before the cipher.
		_, err := IBAN{}.Transform(nil, tc.v, false)
		if !errors.Is(err, ErrInvalidFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalidFormat naming %q", tc.v, err, tc.want)
		}
	}
}
