package tokenize_test

import (
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// fuzzFormats checks that tokenizing arbitrary input under each format
// either fails with ErrInvalidFormat or ErrDomainTooSmall, without echoing
// the input, or gives a token that detokenizes back; and that detokenizing
// arbitrary input is the inverse of tokenizing.
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
	} else if back, err := tk.Detokenize(ctx, "cust-1", "f", fm, tok); err != nil || back != v {
		t.Fatalf("%s: Detokenize(Tokenize(%q)) = %q, %v", fm.Name(), v, back, err)
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
	}, "4111 1111 1111 1111", "6304000000000000000", "4111-1111-1111-1112")
}

func FuzzEmail(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Email{}, tokenize.Email{TokenizeDomain: true}},
		"jan.kowalski@example.com", "Jan.Kowalski+shop@gmail.com", "a@b.c")
}

func FuzzPhone(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Phone{}, tokenize.Phone{DefaultRegion: "PL"}, tokenize.Phone{DefaultRegion: "US", AllowPossible: true}},
		"+48 601 234 567", "+14155552671", "(415) 555-2671", "601-234-567")
}

func FuzzNationalID(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.PESEL{}, tokenize.PESEL{KeepSex: true}, tokenize.NIP{}, tokenize.SSN{}},
		"44051401359", "123-456-32-18", "PL1234563218", "123-45-6789")
}

func FuzzIBAN(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.IBAN{}},
		"PL61 1090 1014 0000 0712 1981 2874", "GB29NWBK60161331926819", "XX1234567890123")
}

func FuzzPostcode(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Postcode{Country: "PL", InsecureSmallDomain: true}, tokenize.Postcode{Country: "US"}},
		"00-950", "94105-1804", "94105")
}

func FuzzDate(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Date{}, tokenize.Date{Layout: "02.01.2006 15:04 MST"}},
		"1985-03-14", "14.03.1985 10:30 CET", "0001-01-01")
}

func FuzzText(f *testing.F) {
	fuzzFormats(f, []tokenize.Format{tokenize.Text{}, tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyz"}},
		"Zażółć Gęślą-Jaźń", "ul. Świętokrzyska 12/3", "O'Neil")
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
	f.Fuzz(func(t *testing.T, v string) {
		for _, m := range []func(string) string{tokenize.MaskCard, tokenize.MaskEmail, tokenize.MaskPhone} {
			_ = m(v)
		}
	})
}
