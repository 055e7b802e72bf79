package tokenize_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TestIBANSpaceInCountryCode: a space between the letters of the country
// code is a spelling of the same IBAN's characters, so its token keeps the
// country's tweak: it equals the compact value's token with the space put
// back.
func TestIBANSpaceInCountryCode(t *testing.T) {
	_, tk := newTokenizer(t)
	compact, err := tk.Tokenize(ctx, "cust-1", "f", tokenize.IBAN{}, "PL61109010140000071219812874")
	if err != nil {
		t.Fatal(err)
	}
	split, err := tk.Tokenize(ctx, "cust-1", "f", tokenize.IBAN{}, "P L61109010140000071219812874")
	if err != nil {
		t.Fatal(err)
	}
	if split != compact[:1]+" "+compact[1:] {
		t.Fatalf("token of %q is %q, compact token %q", "P L…", split, compact)
	}
}
