package tokenize_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TestDefaultNames pins the names, and so the tweaks, of the formats with
// their default parameters and of the options that were always named:
// changing one changes every token issued with it.
func TestDefaultNames(t *testing.T) {
	for want, f := range map[string]tokenize.Format{
		"card/last4/luhn-invalid":         tokenize.Card{},
		"card/last4/luhn-valid":           tokenize.Card{Luhn: tokenize.LuhnValid},
		"card/last4/luhn-any":             tokenize.Card{Luhn: tokenize.LuhnAny},
		"card/bin-last4/luhn-invalid":     tokenize.Card{Keep: tokenize.KeepBINAndLast4},
		"card/bin-last4/luhn-valid":       tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid},
		"card/bin-last4/luhn-any":         tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny},
		"email":                           tokenize.Email{},
		"email/domain":                    tokenize.Email{TokenizeDomain: true},
		"phone":                           tokenize.Phone{DefaultRegion: "PL"},
		"phone/possible":                  tokenize.Phone{AllowPossible: true},
		"pesel":                           tokenize.PESEL{},
		"pesel/sex":                       tokenize.PESEL{KeepSex: true},
		"pesel/v2":                        tokenize.PESEL{Version: 2},
		"pesel/v2/sex":                    tokenize.PESEL{Version: 2, KeepSex: true},
		"nip":                             tokenize.NIP{},
		"ssn":                             tokenize.SSN{},
		"iban":                            tokenize.IBAN{},
		"postcode/PL":                     tokenize.Postcode{Country: "PL", InsecureSmallDomain: true},
		"postcode/US":                     tokenize.Postcode{Country: "US"},
		"date":                            tokenize.Date{},
		"text":                            tokenize.Text{},
		"text:abcdefghijklmnopqrstuvwxyz": tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyz"},
		"pattern:AA-9999-99":              tokenize.Pattern{Mask: "AA-9999-99"},
	} {
		if got := f.Name(); got != want {
			t.Errorf("%#v.Name() = %q, want %q", f, got, want)
		}
	}
	// Parameters spelled out at their default values are the defaults.
	for _, f := range []tokenize.Format{
		tokenize.Phone{}, tokenize.Phone{DefaultRegion: "US"},
		tokenize.Date{Layout: time.DateOnly}, tokenize.Date{InsecureSmallDomain: true},
		tokenize.Date{Min: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Max: time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC)},
		tokenize.Text{Letters: tokenize.PolishLetters},
	} {
		if n := f.Name(); n != "phone" && n != "date" && n != "text" {
			t.Errorf("%#v.Name() = %q, want the default name", f, n)
		}
	}
	warsaw := time.FixedZone("CET", 3600)
	for want, f := range map[string]tokenize.Date{
		"date/layout=02.01.2006":                               {Layout: "02.01.2006"},
		"date/window=1920-01-01..9999-12-31":                   {Min: time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC)},
		"date/window=1920-01-01..2020-12-31":                   {Min: time.Date(1920, 1, 1, 23, 30, 0, 0, warsaw), Max: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC)},
		"date/window=0001-01-01..2020-12-31/layout=02.01.2006": {Layout: "02.01.2006", Max: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC)},
		"date":                                  {Version: 1},
		"date/v2":                               {Version: 2},
		"date/v2/layout=02.01.2006":             {Version: 2, Layout: "02.01.2006"},
		"date/v2/window=1920-01-01..9999-12-31": {Version: 2, Min: time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if got := f.Name(); got != want {
			t.Errorf("%#v.Name() = %q, want %q", f, got, want)
		}
	}
}

// differ checks that formats a and b, which differ only in a parameter
// that changes the mapping, give different tokens for each value, and that
// detokenizing the token of one with the other does not give the value
// back (it gives another value or fails).
func differ(t *testing.T, tk *tokenize.Tokenizer, a, b tokenize.Format, values ...string) {
	t.Helper()
	for _, v := range values {
		ta, err := tk.Tokenize(ctx, "cust-1", "params", a, v)
		if err != nil {
			t.Fatalf("%s: Tokenize(%q): %v", a.Name(), v, err)
		}
		tb, err := tk.Tokenize(ctx, "cust-1", "params", b, v)
		if err != nil {
			t.Fatalf("%s: Tokenize(%q): %v", b.Name(), v, err)
		}
		if ta == tb {
			t.Errorf("%s and %s give %q the same token %q", a.Name(), b.Name(), v, ta)
		}
		for _, c := range []struct {
			f   tokenize.Format
			tok string
		}{{b, ta}, {a, tb}} {
			if back, err := tk.Detokenize(ctx, "cust-1", "params", c.f, c.tok); err == nil && back == v {
				t.Errorf("%s detokenized the token of %q under the other format back to it", c.f.Name(), v)
			}
		}
	}
}

// same checks that formats a and b, which differ only in a parameter that
// does not change the mapping, give each value the same token.
func same(t *testing.T, tk *tokenize.Tokenizer, a, b tokenize.Format, values ...string) {
	t.Helper()
	for _, v := range values {
		ta, errA := tk.Tokenize(ctx, "cust-1", "params", a, v)
		tb, errB := tk.Tokenize(ctx, "cust-1", "params", b, v)
		if errA != nil || errB != nil || ta != tb {
			t.Errorf("%#v and %#v: %q gives %q (%v) and %q (%v), want one token", a, b, v, ta, errA, tb, errB)
		}
	}
}

func TestParametersChangeTokens(t *testing.T) {
	_, tk := newTokenizer(t)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	// dates returns n dates of the 20th century in layout, with days of the
	// month from 13 on (so that day and month cannot be swapped, and "_2"
	// and "02" write the day alike).
	dates := func(n int, layout string) []string {
		r := rand.New(rand.NewPCG(3, 4))
		var out []string
		for range n {
			out = append(out, day(1900+r.IntN(100), time.Month(1+r.IntN(12)), 13+r.IntN(16)).Format(layout))
		}
		return out
	}

	t.Run("date window", func(t *testing.T) {
		// Two windows with the same Min whose sizes have the same number
		// of digits: with one name, FF1 and the walk were the same, and
		// every date whose first FF1 result fell in both windows (about a
		// third) got one token under both and came back under either.
		a := tokenize.Date{Max: day(9999, 12, 31)}
		b := tokenize.Date{Max: day(9000, 12, 31)}
		differ(t, tk, a, b, dates(30, time.DateOnly)...)
		differ(t, tk, tokenize.Date{Min: day(1000, 1, 1)}, tokenize.Date{Min: day(1001, 1, 1)}, dates(30, time.DateOnly)...)
		// Windows one day apart: the same FF1 and nearly the same walk.
		lo, hi := day(1900, 1, 1), day(2000, 12, 31)
		differ(t, tk,
			tokenize.Date{Min: lo, Max: hi, InsecureSmallDomain: true},
			tokenize.Date{Min: lo, Max: hi.AddDate(0, 0, 1), InsecureSmallDomain: true}, dates(30, time.DateOnly)...)
	})
	t.Run("date layout", func(t *testing.T) {
		// "_2" and "02" write days from 10 on alike: with one name, a
		// token whose day was from 10 on was the same string under both.
		differ(t, tk, tokenize.Date{}, tokenize.Date{Layout: "2006-01-_2"}, dates(30, time.DateOnly)...)
		// Day and month swapped: the same string is another date.
		us, eu := tokenize.Date{Layout: "01/02/2006"}, tokenize.Date{Layout: "02/01/2006"}
		differ(t, tk, us, eu, "03/04/1985", "12/11/2001", "01/02/1970")
	})
	t.Run("date InsecureSmallDomain", func(t *testing.T) {
		same(t, tk, tokenize.Date{}, tokenize.Date{InsecureSmallDomain: true}, dates(5, time.DateOnly)...)
	})

	t.Run("phone", func(t *testing.T) {
		differ(t, tk, tokenize.Phone{}, tokenize.Phone{AllowPossible: true}, "+48 601 234 567", "+1 415 555 2671")
		// International notation does not depend on DefaultRegion.
		same(t, tk, tokenize.Phone{}, tokenize.Phone{DefaultRegion: "PL"}, "+48 601 234 567", "+1 (415) 555-2671")
		same(t, tk, tokenize.Phone{DefaultRegion: "PL"}, tokenize.Phone{DefaultRegion: "ES"}, "+48 601 234 567", "+34 612 345 678")
		// National notation does: nine digits starting with 6 are a
		// mobile number in Poland and in Spain.
		r := rand.New(rand.NewPCG(5, 6))
		var both []string
		for len(both) < 20 {
			v := "6" + digitString(r, 2) + " " + digitString(r, 3) + " " + digitString(r, 3)
			pl, err1 := phonenumbers.Parse(v, "PL")
			es, err2 := phonenumbers.Parse(v, "ES")
			if err1 == nil && err2 == nil && phonenumbers.IsValidNumber(pl) && phonenumbers.IsValidNumber(es) {
				both = append(both, v)
			}
		}
		differ(t, tk, tokenize.Phone{DefaultRegion: "PL"}, tokenize.Phone{DefaultRegion: "ES"}, both...)
		differ(t, tk, tokenize.Phone{DefaultRegion: "US"}, tokenize.Phone{DefaultRegion: "CA"}, "(415) 555-2671", "212-555-0123")
	})

	t.Run("others", func(t *testing.T) {
		differ(t, tk, tokenize.Card{}, tokenize.Card{Luhn: tokenize.LuhnValid}, "4111 1111 1111 1111", "5500-0000-0000-0004")
		differ(t, tk, tokenize.Card{Luhn: tokenize.LuhnAny}, tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, "4111 1111 1111 1111")
		differ(t, tk, tokenize.Card{}, tokenize.Card{Keep: tokenize.KeepBINAndLast4}, "6304000000000000000")
		differ(t, tk, tokenize.Email{}, tokenize.Email{TokenizeDomain: true}, "jan.kowalski@example.com")
		differ(t, tk, tokenize.PESEL{}, tokenize.PESEL{KeepSex: true}, "44051401359", "02070803628")
		differ(t, tk, tokenize.Text{}, tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyz"}, "John Smith", "Kowalski")
		same(t, tk, tokenize.Text{}, tokenize.Text{Letters: tokenize.PolishLetters}, "Zażółć Gęślą-Jaźń")
		differ(t, tk, tokenize.Pattern{Mask: "AA-9999-99"}, tokenize.Pattern{Mask: "AA-9999-9X"}, "KR-2024-07")
		same(t, tk, tokenize.Postcode{Country: "US"}, tokenize.Postcode{Country: "US", InsecureSmallDomain: true}, "94105-1804")
	})
}

// v0Date is Date under the name every Date had before fieldcrypt named the
// layout and window in it. Embedding keeps Date's Transform.
type v0Date struct{ tokenize.Date }

func (v0Date) Name() string { return "date" }

// Example_earlierDateTokens reads Date tokens issued, before the layout and
// window were part of the name, with a non-default layout or window: wrap
// the Date in a Format that returns the old name, detokenize, and
// tokenize again with the Date itself.
func Example_earlierDateTokens() {
	t := exampleTokenizer()
	f := tokenize.Date{Layout: "02.01.2006", Min: time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC), InsecureSmallDomain: true}
	old, _ := roundTrip(t, v0Date{f}, "14.03.1985") // stands for a token stored earlier

	ctx := context.Background()
	v, err := t.Detokenize(ctx, "customer-42", "customers.col", v0Date{f}, old)
	fmt.Println(v, err)
	tok, _ := t.Tokenize(ctx, "customer-42", "customers.col", f, v)
	back, _ := t.Detokenize(ctx, "customer-42", "customers.col", f, tok)
	fmt.Println(back)
	// Output:
	// 14.03.1985 <nil>
	// 14.03.1985
}
