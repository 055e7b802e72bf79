package tokenize_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func TestPhone(t *testing.T) {
	_, tk := newTokenizer(t)
	f := tokenize.Phone{DefaultRegion: "PL"}
	// Random valid numbers: a real prefix of each kind followed by random
	// digits, retried until libphonenumber calls it valid.
	templates := []string{"+48 60# ### ###", "+48 22 ### ## ##", "+48 5## ### ###", "+1 415 ###-####", "+1 (212) ###-####",
		"+44 20 #### ####", "+44 7### ######", "+49 30 ########", "+49 15## #######", "+33 6 ## ## ## ##", "+39 06 #### ####",
		"+420 6## ### ###", "60# ### ###", "(22) ### ## ##", "+14155552###"}
	gen := func(r *rand.Rand) string {
		for {
			tpl := templates[r.IntN(len(templates))]
			s := strings.Map(func(c rune) rune {
				if c == '#' {
					return rune('0' + r.IntN(10))
				}
				return c
			}, tpl)
			n, err := phonenumbers.Parse(s, "PL")
			if err == nil && phonenumbers.IsValidNumber(n) {
				return s
			}
		}
	}
	runFormat(t, tk, formatCase{
		name:  "phone",
		f:     f,
		gen:   gen,
		fixed: []string{"+48 601 234 567", "+14155552671", "+44 20 7946 0958", "601-234-567", "+48 (22) 123-45-67"},
		check: func(t *testing.T, v, tok string) {
			n, err := phonenumbers.Parse(tok, "PL")
			if err != nil || !phonenumbers.IsValidNumber(n) {
				t.Fatalf("token %q of %q is not a valid number: %v", tok, v, err)
			}
			nv, _ := phonenumbers.Parse(v, "PL")
			if n.GetCountryCode() != nv.GetCountryCode() {
				t.Fatalf("country code not kept: %q -> %q", v, tok)
			}
		},
	})
}

func TestPhoneOptions(t *testing.T) {
	_, tk := newTokenizer(t)
	for _, tc := range []struct {
		f tokenize.Phone
		v string
	}{
		{tokenize.Phone{DefaultRegion: "US"}, "(415) 555-2671"},
		{tokenize.Phone{DefaultRegion: "GB"}, "020 7946 0958"},
		{tokenize.Phone{DefaultRegion: "US", AllowPossible: true}, "+1 415 555 2671"},
		{tokenize.Phone{AllowPossible: true}, "+48 601 234 567"},
	} {
		tok, err := tk.Tokenize(ctx, "c", "f", tc.f, tc.v)
		if err != nil {
			t.Fatalf("%+v %q: %v", tc.f, tc.v, err)
		}
		back, err := tk.Detokenize(ctx, "c", "f", tc.f, tok)
		if err != nil || back != tc.v || !sameShape(tc.v, tok) {
			t.Fatalf("%+v %q -> %q -> %q, %v", tc.f, tc.v, tok, back, err)
		}
		n, err := phonenumbers.Parse(tok, tc.f.DefaultRegion)
		if err != nil || !phonenumbers.IsPossibleNumber(n) || !tc.f.AllowPossible && !phonenumbers.IsValidNumber(n) {
			t.Fatalf("token %q of %q is not valid/possible: %v", tok, tc.v, err)
		}
	}
}

func TestPhoneBadInput(t *testing.T) {
	_, tk := newTokenizer(t)
	expectInvalid(t, tk, tokenize.Phone{},
		"", "+", "601 234 567", "+48", "+48 601", "+999 601 234 567", "+48 601 234 567 ext. 12", "+48 601 234 5678",
		"+48 601 ABC 567", "++48601234567", "48+601234567", "+48 601 234 567\n", "+1 800 FLOWERS", "+48 000 000 000",
		"+352 26 12 34", strings.Repeat("1", 70))
	expectInvalid(t, tk, tokenize.Phone{DefaultRegion: "XX"}, "601 234 567")
}
