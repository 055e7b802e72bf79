package tokenize_test

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// fuzzFormats checks that tokenizing arbitrary input under each format
// either fails with ErrInvalidFormat or ErrDomainTooSmall, without echoing
// the input, or gives a token that detokenizes back; and that detokenizing
// arbitrary input is the inverse of tokenizing. Every fuzz target but
// FuzzMask (masking cannot be undone) asserts both round trips.
func fuzzFormats(f *testing.F, formats []tokenize.Format, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	_, tk := newTokenizer(f)
	f.Fuzz(func(t *testing.T, v string) {
		for _, fm := range formats {
			checkFuzz(t, tk, fm, v)
		}
	})
}

func checkFuzz(t *testing.T, tk *tokenize.Tokenizer, fm tokenize.Format, v string) {
	tok, err := tk.Tokenize(ctx, "cust-1", "f", fm, v)
	if err != nil {
		if !errors.Is(err, tokenize.ErrInvalidFormat) && !errors.Is(err, tokenize.ErrDomainTooSmall) {
			t.Fatalf("%s: Tokenize(%q): unexpected error %v", fm.Name(), v, err)
		}
		checkNoEcho(t, err, v)
	} else {
		if back, err := tk.Detokenize(ctx, "cust-1", "f", fm, tok); err != nil || back != v {
			t.Fatalf("%s: Detokenize(Tokenize(%q)) = %q, %v", fm.Name(), v, back, err)
		}
		// Tokens keep the value's length in characters, except dates in
		// layouts with names or unpadded numbers ("January", "2").
		if _, isDate := fm.(tokenize.Date); !isDate && utf8.RuneCountInString(tok) != utf8.RuneCountInString(v) {
			t.Fatalf("%s: token of %q has %d characters", fm.Name(), v, utf8.RuneCountInString(tok))
		}
	}
	plain, err := tk.Detokenize(ctx, "cust-1", "f", fm, v)
	if err != nil {
		if !errors.Is(err, tokenize.ErrInvalidFormat) && !errors.Is(err, tokenize.ErrDomainTooSmall) {
			t.Fatalf("%s: Detokenize(%q): unexpected error %v", fm.Name(), v, err)
		}
		checkNoEcho(t, err, v)
	} else if again, err := tk.Tokenize(ctx, "cust-1", "f", fm, plain); err != nil || again != v {
		t.Fatalf("%s: Tokenize(Detokenize(%q)) = %q, %v", fm.Name(), v, again, err)
	}
}

func FuzzCard(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{
		tokenize.Card{}, tokenize.Card{Luhn: tokenize.LuhnValid}, tokenize.Card{Luhn: tokenize.LuhnAny},
		tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid},
		tokenize.Card{Keep: tokenize.KeepBINAndLast4},
	}, "4111 1111 1111 1111", "6304000000000000000", "4111-1111-1111-1112")
}

func FuzzEmail(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Email{}, tokenize.Email{TokenizeDomain: true}},
		"jan.kowalski@example.com", "Jan.Kowalski+shop@gmail.com", "a@b.c")
}

func FuzzPhone(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Phone{}, tokenize.Phone{DefaultRegion: "PL"}, tokenize.Phone{DefaultRegion: "US", AllowPossible: true},
		tokenize.Phone{DefaultRegion: "ES"}},
		"+48 601 234 567", "+14155552671", "(415) 555-2671", "601-234-567", "+44 (0)20 7946 0958", "601  234 567", "+48 601 234 567-")
}

func FuzzNationalID(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.PESEL{}, tokenize.PESEL{KeepSex: true}, tokenize.PESEL{Version: 2}, tokenize.PESEL{Version: 2, KeepSex: true}, tokenize.NIP{}, tokenize.SSN{}},
		"44051401359", "123-456-32-18", "PL1234563218", "123-45-6789")
}

func FuzzIBAN(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.IBAN{}},
		"PL61 1090 1014 0000 0712 1981 2874", "GB29NWBK60161331926819", "XX1234567890123")
}

func FuzzPostcode(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Postcode{Country: "PL", InsecureSmallDomain: true}, tokenize.Postcode{Country: "US"},
		tokenize.Postcode{Country: "US", InsecureSmallDomain: true}},
		"00-950", "94105-1804", "94105")
}

func FuzzDate(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Date{}, tokenize.Date{Version: 2}, tokenize.Date{Layout: "02.01.2006 15:04 MST"},
		tokenize.Date{Layout: "January 2, 2006", Min: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Max: time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), InsecureSmallDomain: true}},
		"1985-03-14", "14.03.1985 10:30 CET", "0001-01-01", "March 14, 1985")
}

func FuzzText(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Text{}, tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyz"},
		tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyzɐ"}}, // Ɐ, the uppercase ɐ, is a byte longer
		"Zażółć Gęślą-Jaźń", "ul. Świętokrzyska 12/3", "O'Neil")
}

// FuzzTextLetters fuzzes the Text alphabet too: a custom Letters is
// either refused or gives tokens that come back.
func FuzzTextLetters(f *testing.F) {
	f.Add("abcdefghijklmnopqrstuvwxyz", "John Smith")
	f.Add("abcdefghijklmnopqrstuvwxyzɐ", "ⱯⱯⱯⱯ ɐɐɐɐ")
	f.Add("abcdefghijklmnopqrstuvwxyzᾳ", "AAAAAAAA")
	f.Add("αβγδεζηθικλμνξοπρστυφχψω", "Αθήνα")
	_, tk := newTokenizer(f)
	f.Fuzz(func(t *testing.T, letters, v string) {
		checkFuzz(t, tk, tokenize.Text{Letters: letters}, v)
	})
}

func FuzzPattern(f *testing.F) {
	f.Add("AA-9999-99", "KR-2024-07")
	f.Add(`XXXX\9xxxx`, "A1B29c3d4")
	_, tk := newTokenizer(f)
	f.Fuzz(func(t *testing.T, mask, v string) {
		checkFuzz(t, tk, tokenize.Pattern{Mask: mask}, v)
	})
}

func FuzzMask(f *testing.F) {
	f.Add("4111 1111 1111 1111")
	f.Add("jan.kowalski@example.com")
	f.Add("+48 601 234 567")
	// Masking has no inverse; check instead what a mask may show.
	f.Fuzz(func(t *testing.T, v string) {
		for _, m := range []struct {
			f         func(string) string
			maxDigits int
		}{{tokenize.MaskCard, 4}, {tokenize.MaskPhone, 3}, {tokenize.MaskEmail, -1}} {
			out := m.f(v)
			if !utf8.ValidString(out) {
				t.Fatalf("mask of %q is not valid UTF-8: %q", v, out)
			}
			if n := len(onlyDigits(out)); m.maxDigits >= 0 && n > m.maxDigits {
				t.Fatalf("mask of %q shows %d digits: %q", v, n, out)
			}
		}
	})
}
