package tokenize_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func randomName(r *rand.Rand) string {
	letters := []rune(tokenize.PolishLetters)
	word := func() string {
		n := 4 + r.IntN(8)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = letters[r.IntN(len(letters))]
		}
		rs[0] = []rune(strings.ToUpper(string(rs[0])))[0]
		return string(rs)
	}
	switch r.IntN(4) {
	case 0:
		return word()
	case 1:
		return word() + " " + word()
	case 2:
		return word() + "-" + word()
	}
	return strings.ToUpper(word()) + ", ul. " + word() + " " + digitString(r, 1+r.IntN(3)) + "/" + digitString(r, 1)
}

func TestText(t *testing.T) {
	_, tk := newTokenizer(t)
	runFormat(t, tk, formatCase{
		name:  "text",
		f:     tokenize.Text{},
		gen:   randomName,
		fixed: []string{"Zażółć Gęślą-Jaźń", "ŁUKASZ Żółkiewski", "Anna Maria O'Neil", "Kowalski", "ul. Świętokrzyska 12/3", "Ewa Łoś"},
	})
	runFormat(t, tk, formatCase{
		name:  "text/latin",
		f:     tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyz"},
		gen:   func(r *rand.Rand) string { return "Order " + digitString(r, 6) + ", Mr. Smith" },
		fixed: []string{"John Smith", "O'Brien-Smythe"},
	})
	if _, err := tk.Tokenize(ctx, "c", "f", tokenize.Text{}, "Jan"); !errors.Is(err, tokenize.ErrDomainTooSmall) {
		t.Errorf("3 letters: got %v, want ErrDomainTooSmall", err)
	}
	expectInvalid(t, tk, tokenize.Text{}, "", "Müller", "Jan\xffKowalski", "Kowal١٢٣ski", "Ǆorđe Balašević", "İstanbul", strings.Repeat("a", 5000), "...", "J. K.")
	expectInvalid(t, tk, tokenize.Text{Letters: "aab"}, "abab")
	expectInvalid(t, tk, tokenize.Text{Letters: "ABC"}, "ABCABC")
	expectInvalid(t, tk, tokenize.Text{Letters: "ß0"}, "ßßßß")
	// ᾳ's uppercase ᾼ is titlecase, not uppercase: with it in the
	// alphabet, the tokens of uppercase letters could not be detokenized.
	expectInvalid(t, tk, tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyzᾳ"}, "AAAAAAAA", "abcdefgh")
}

func TestPattern(t *testing.T) {
	_, tk := newTokenizer(t)
	for _, tc := range []struct {
		mask  string
		fixed []string
	}{
		{"AA-9999-99", []string{"KR-2024-07", "ab-0000-00", "Zz-9999-99"}},
		{"XXXX-xxxx", []string{"A1B2-c3d4", "0000-zzzz"}},
		{`ORD\9-999999`, []string{"ORD9-123456"}},
		{"Nr 9999999 ąę", []string{"Nr 1234567 ąę"}},
	} {
		p := tokenize.Pattern{Mask: tc.mask}
		runFormat(t, tk, formatCase{
			name:         p.Name(),
			f:            p,
			classChanges: strings.ContainsAny(tc.mask, "Xx"),
			fixed:        tc.fixed,
			gen: func(r *rand.Rand) string {
				v := tc.fixed[r.IntN(len(tc.fixed))]
				// Re-randomize the fixed example within the mask.
				out := []rune(v)
				mr := []rune(strings.ReplaceAll(tc.mask, `\9`, "#"))
				for i := range out {
					switch mr[i] {
					case '9':
						out[i] = rune('0' + r.IntN(10))
					case 'A':
						out[i] = rune("aA"[r.IntN(2)] + byte(r.IntN(26)))
					case 'X':
						out[i] = rune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[r.IntN(36)])
					case 'x':
						out[i] = rune("0123456789abcdefghijklmnopqrstuvwxyz"[r.IntN(36)])
					}
				}
				return string(out)
			},
			check: func(t *testing.T, v, tok string) {
				if _, err := tk.Tokenize(ctx, "c", "f", p, tok); err != nil {
					t.Fatalf("token %q does not match mask %q: %v", tok, tc.mask, err)
				}
			},
		})
	}
	if _, err := tk.Tokenize(ctx, "c", "f", tokenize.Pattern{Mask: "AA-99"}, "KR-20"); !errors.Is(err, tokenize.ErrDomainTooSmall) {
		t.Errorf("small mask: got %v, want ErrDomainTooSmall", err)
	}
	expectInvalid(t, tk, tokenize.Pattern{Mask: "AA-9999-99"}, "", "KR-2024-0", "KR-2024-077", "K1-2024-07", "KR_2024-07", "KR-2024-0\xff", "ŁR-2024-07")
	expectInvalid(t, tk, tokenize.Pattern{Mask: "XXXX-xxxx"}, "a1b2-c3d4", "A1B2-C3D4")
	expectInvalid(t, tk, tokenize.Pattern{}, "123456")
	expectInvalid(t, tk, tokenize.Pattern{Mask: `999999\`}, "123456")
}
