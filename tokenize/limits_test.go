package tokenize_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// The tests in this file put every format at and just beyond each limit
// FORMATS.md documents. At a limit a value is accepted, its token has the
// value's length in characters, and the token detokenizes back; just
// beyond it both Tokenize and Detokenize refuse the input with the same
// sentinel, so no token can be issued that Detokenize would then refuse.

// atLimit checks that each value is tokenized, that the token has as many
// characters as the value (unless keepsLength is false) and that it
// detokenizes back.
func atLimit(t *testing.T, tk *tokenize.Tokenizer, f tokenize.Format, values ...string) {
	t.Helper()
	for _, v := range values {
		tok, err := tk.Tokenize(ctx, "cust-1", "limits", f, v)
		if err != nil {
			t.Errorf("%s: Tokenize(value of %d characters, %d bytes): %v", f.Name(), utf8.RuneCountInString(v), len(v), err)
			continue
		}
		if n, m := utf8.RuneCountInString(v), utf8.RuneCountInString(tok); n != m {
			t.Errorf("%s: a value of %d characters gave a token of %d", f.Name(), n, m)
		}
		back, err := tk.Detokenize(ctx, "cust-1", "limits", f, tok)
		if err != nil {
			t.Errorf("%s: Detokenize(token of %d characters, %d bytes) of a value of %d bytes: %v",
				f.Name(), utf8.RuneCountInString(tok), len(tok), len(v), err)
			continue
		}
		if back != v {
			t.Errorf("%s: Detokenize(Tokenize(v)) != v for a value of %d characters", f.Name(), utf8.RuneCountInString(v))
		}
	}
}

// beyond checks that Tokenize and Detokenize both refuse each value with
// want, without echoing it.
func beyond(t *testing.T, tk *tokenize.Tokenizer, f tokenize.Format, want error, values ...string) {
	t.Helper()
	for _, v := range values {
		for _, op := range []struct {
			name string
			run  func(string, string, tokenize.Format, string) (string, error)
		}{
			{"Tokenize", func(s, fl string, f tokenize.Format, v string) (string, error) { return tk.Tokenize(ctx, s, fl, f, v) }},
			{"Detokenize", func(s, fl string, f tokenize.Format, v string) (string, error) {
				return tk.Detokenize(ctx, s, fl, f, v)
			}},
		} {
			_, err := op.run("cust-1", "limits", f, v)
			if !errors.Is(err, want) {
				t.Errorf("%s: %s(%q): got %v, want %v", f.Name(), op.name, short(v), err, want)
			}
			checkNoEcho(t, err, v)
		}
	}
}

// short abbreviates long values in failure messages.
func short(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	r := []rune(s)
	return fmt.Sprintf("%s…(%d characters)…%s", string(r[:16]), len(r), string(r[len(r)-8:]))
}

// luhnComplete appends the digit that makes the decimal string d pass the
// Luhn check.
func luhnComplete(d string) string {
	for c := byte('0'); c <= '9'; c++ {
		if luhnOK(d + string(c)) {
			return d + string(c)
		}
	}
	panic("unreachable")
}

func TestLimitsCard(t *testing.T) {
	_, tk := newTokenizer(t)
	pan := func(n int) string { return luhnComplete("4" + strings.Repeat("1", n-2)) }
	// group writes a number in groups of four.
	group := func(s, sep string) string {
		var g []string
		for i := 0; i < len(s); i += 4 {
			g = append(g, s[i:min(len(s), i+4)])
		}
		return strings.Join(g, sep)
	}
	for _, f := range []tokenize.Card{{}, {Luhn: tokenize.LuhnValid}, {Luhn: tokenize.LuhnAny}} {
		// KeepLast4: 13 to 19 digits, with or without separators.
		atLimit(t, tk, f, pan(13), pan(19), group(pan(13), " "), group(pan(19), "-"))
		beyond(t, tk, f, tokenize.ErrInvalidFormat, pan(12), pan(20), group(pan(12), " "), group(pan(20), "-"))
	}
	// The test numbers above must be Luhn-valid at their limit lengths.
	for _, n := range []int{12, 13, 19, 20} {
		if !luhnOK(pan(n)) {
			t.Fatalf("pan(%d) is not Luhn-valid", n)
		}
	}
	// KeepBINAndLast4: 17 digits with a Luhn policy, 16 with LuhnAny.
	for _, f := range []tokenize.Card{{Keep: tokenize.KeepBINAndLast4}, {Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid}} {
		atLimit(t, tk, f, pan(17), pan(19))
		beyond(t, tk, f, tokenize.ErrDomainTooSmall, pan(16))
		beyond(t, tk, f, tokenize.ErrInvalidFormat, pan(20))
	}
	any := tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}
	atLimit(t, tk, any, "4111111111111112", pan(19))
	beyond(t, tk, any, tokenize.ErrDomainTooSmall, "411111111111112")
	beyond(t, tk, any, tokenize.ErrInvalidFormat, "41111111111111111112")
}

func TestLimitsEmail(t *testing.T) {
	_, tk := newTokenizer(t)
	local64 := strings.Repeat("a", 64)
	label63 := strings.Repeat("b", 63)
	// 64 + 1 + 63+1+63+1+57+1+3 = 254 characters.
	max := local64 + "@" + label63 + "." + label63 + "." + strings.Repeat("c", 57) + ".com"
	if len(max) != 254 {
		t.Fatalf("test address has %d characters", len(max))
	}
	for _, f := range []tokenize.Email{{}, {TokenizeDomain: true}} {
		atLimit(t, tk, f, max, local64+"@example.com", "jan.kowalski@"+label63+".pl")
		beyond(t, tk, f, tokenize.ErrInvalidFormat,
			local64+"@"+label63+"."+label63+"."+strings.Repeat("c", 58)+".com", // 255
			local64+"a@example.com",        // local part of 65
			"jan.kowalski@"+label63+"b.pl") // label of 64
	}
	// Minimum: 5 letters, 6 digits, 4 letters and a digit.
	atLimit(t, tk, tokenize.Email{}, "abcde@example.com", "123456@example.com", "abcd1@example.com", "a.b.c.d.e@example.com")
	beyond(t, tk, tokenize.Email{}, tokenize.ErrDomainTooSmall, "abcd@example.com", "12345@example.com", "abc1@example.com")
	// With TokenizeDomain the labels before the TLD have the same minimum.
	atLimit(t, tk, tokenize.Email{TokenizeDomain: true}, "jan.kowalski@abcde.pl", "jan.kowalski@ab.cd.e.pl")
	beyond(t, tk, tokenize.Email{TokenizeDomain: true}, tokenize.ErrDomainTooSmall, "jan.kowalski@abcd.pl", "jan.kowalski@a.b.c.pl")
}

func TestLimitsPhone(t *testing.T) {
	_, tk := newTokenizer(t)
	// Seven encrypted digits is the shortest national number accepted
	// (Estonian and Icelandic landlines); six-digit national numbers
	// (Faroe Islands, Andorra) leave fewer than 10^6 valid tokens.
	atLimit(t, tk, tokenize.Phone{}, "+372 612 3456", "+354 412 3456", "+48 601 234 567")
	beyond(t, tk, tokenize.Phone{}, tokenize.ErrDomainTooSmall, "+298 212345", "+376 712 345")
	// The longest spelling of a valid number: an international call from
	// the US to a German number, in national notation.
	long := tokenize.Phone{DefaultRegion: "US"}
	atLimit(t, tk, long, "011 49 30 123456789", "011 (49) 30-1234-5678-9")
	// Beyond 64 characters every value is refused, even where
	// libphonenumber would find a number in it.
	beyond(t, tk, tokenize.Phone{}, tokenize.ErrInvalidFormat, "+48 601 234 567"+strings.Repeat("0", 50), strings.Repeat("1", 65))
}

func peselWithCheck(s string) string {
	sum := 0
	for i, w := range peselW {
		sum += w * int(s[i]-'0')
	}
	return s + fmt.Sprint((10-sum%10)%10)
}

func TestLimitsNationalID(t *testing.T) {
	_, tk := newTokenizer(t)
	// PESEL: 11 digits; dates 1800-01-01 (month 81) to 2299-12-31 (month 72).
	for _, f := range []tokenize.PESEL{{}, {KeepSex: true}, {Version: 2}, {Version: 2, KeepSex: true}} {
		atLimit(t, tk, f, peselWithCheck("0081010000"), peselWithCheck("9972310001"), peselWithCheck("0022290000"))
		beyond(t, tk, f, tokenize.ErrInvalidFormat,
			peselWithCheck("0080010000"), // month 80: before 1800
			peselWithCheck("9973010000"), // month 73: after 2299
			peselWithCheck("0102290000"), // 1901-02-29
			"4405140135",                 // 10 digits
			"440514013590")               // 12 digits
	}
	// NIP: 10 digits, PL prefix and separators optional.
	atLimit(t, tk, tokenize.NIP{}, "1234563218", "PL1234563218", "123-456-32-18", "PL123-456-32-18")
	beyond(t, tk, tokenize.NIP{}, tokenize.ErrInvalidFormat, "123456321", "12345632181", "PL123456321", "123-456-32-181")
	// SSN: area 001-665, 667-899; group 01-99; serial 0001-9999.
	atLimit(t, tk, tokenize.SSN{}, "001-01-0001", "899-99-9999", "665 01 0001", "667010001")
	beyond(t, tk, tokenize.SSN{}, tokenize.ErrInvalidFormat,
		"000-01-0001", "666-01-0001", "900-01-0001", "001-00-0001", "001-01-0000", "12345678", "1234567890", "123-45-67890")
}

// withCheck returns the IBAN of country and bban (digits and uppercase
// letters) with its ISO 7064 mod-97 check digits, whatever its length.
func withCheck(country, bban string) string {
	r := 0
	for _, c := range bban + country + "00" {
		if c >= 'A' {
			r = (r*100 + int(c-'A') + 10) % 97
		} else {
			r = (r*10 + int(c-'0')) % 97
		}
	}
	return fmt.Sprintf("%s%02d%s", country, 98-r, bban)
}

func TestLimitsIBAN(t *testing.T) {
	_, tk := newTokenizer(t)
	f := tokenize.IBAN{}
	// Countries outside the length table: 15 to 34 characters.
	atLimit(t, tk, f, withCheck("XX", strings.Repeat("1", 11)), withCheck("XX", strings.Repeat("AB12", 7)+"CD"))
	beyond(t, tk, f, tokenize.ErrInvalidFormat, withCheck("XX", strings.Repeat("1", 10)), withCheck("XX", strings.Repeat("AB12", 7)+"CDE"))
	// Countries in the table: exactly their length, spaces not counted.
	pl := withCheck("PL", strings.Repeat("1", 24))
	atLimit(t, tk, f, pl, pl[:4]+" "+pl[4:8]+" "+pl[8:], withCheck("NO", strings.Repeat("1", 11)))
	beyond(t, tk, f, tokenize.ErrInvalidFormat, withCheck("PL", strings.Repeat("1", 23)), withCheck("PL", strings.Repeat("1", 25)),
		withCheck("NO", strings.Repeat("1", 10)))
}

func TestLimitsPostcode(t *testing.T) {
	_, tk := newTokenizer(t)
	us := tokenize.Postcode{Country: "US"}
	atLimit(t, tk, us, "00000-0000", "99999-9999")
	beyond(t, tk, us, tokenize.ErrInvalidFormat, "00000-00000", "0000-0000", "000000-0000")
	beyond(t, tk, us, tokenize.ErrDomainTooSmall, "00000", "99999")
	atLimit(t, tk, tokenize.Postcode{Country: "US", InsecureSmallDomain: true}, "00000", "99999")
	pl := tokenize.Postcode{Country: "PL"}
	beyond(t, tk, pl, tokenize.ErrDomainTooSmall, "00-000", "99-999")
	beyond(t, tk, pl, tokenize.ErrInvalidFormat, "00-0000", "000-000", "0-000")
	atLimit(t, tk, tokenize.Postcode{Country: "PL", InsecureSmallDomain: true}, "00-000", "99-999")
}

func TestLimitsDate(t *testing.T) {
	_, tk := newTokenizer(t)
	// The default window: every date with a four-digit year.
	atLimit(t, tk, tokenize.Date{}, "0001-01-01", "9999-12-31")
	beyond(t, tk, tokenize.Date{}, tokenize.ErrInvalidFormat, "0000-12-31", "10000-01-01")

	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	// A window of exactly 10^6 days needs no InsecureSmallDomain; one day
	// less does.
	lo := day(1000, 1, 1)
	w := tokenize.Date{Min: lo, Max: lo.AddDate(0, 0, 1_000_000-1)}
	last := w.Max.Format(time.DateOnly)
	atLimit(t, tk, w, "1000-01-01", last)
	beyond(t, tk, w, tokenize.ErrInvalidFormat, "0999-12-31", w.Max.AddDate(0, 0, 1).Format(time.DateOnly))
	small := tokenize.Date{Min: lo, Max: lo.AddDate(0, 0, 1_000_000-2)}
	beyond(t, tk, small, tokenize.ErrDomainTooSmall, "1000-01-01")

	// InsecureSmallDomain: the smallest window has two days.
	two := tokenize.Date{Min: day(2000, 1, 1), Max: day(2000, 1, 2), InsecureSmallDomain: true}
	atLimit(t, tk, two, "2000-01-01", "2000-01-02")
	beyond(t, tk, two, tokenize.ErrInvalidFormat, "1999-12-31", "2000-01-03")
	one := tokenize.Date{Min: day(2000, 1, 1), Max: day(2000, 1, 1), InsecureSmallDomain: true}
	beyond(t, tk, one, tokenize.ErrInvalidFormat, "2000-01-01")
}

func TestLimitsText(t *testing.T) {
	_, tk := newTokenizer(t)
	// 4096 characters, counted as characters: ASCII letters may become
	// two-byte Polish ones in the token, and Polish ones make a value of
	// 4096 characters longer than 4096 bytes.
	ascii := strings.Repeat("a", 4096)
	polish := strings.Repeat("ż", 4096)
	mixed := "a" + strings.Repeat("h", 4090) + "AYX" + "ą1" // 4096 characters, 4097 bytes
	finding := "a" + strings.Repeat("h", 4090) + "AYX"      // FuzzText: tokens of up to ~8,000 bytes
	atLimit(t, tk, tokenize.Text{}, finding, ascii, polish, mixed, strings.Repeat("Zażółć gęślą jaźń 12. ", 186)+"abcd")
	beyond(t, tk, tokenize.Text{}, tokenize.ErrInvalidFormat, ascii+"a", polish+"ż", mixed+" ")
	// A custom alphabet whose uppercase letters are longer in UTF-8 than
	// their lowercase ones: ɐ (2 bytes) and Ɐ (3 bytes).
	latinTurned := tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyzɐ"}
	atLimit(t, tk, latinTurned, strings.Repeat("A", 4096), strings.Repeat("Ɐ", 4096))
	beyond(t, tk, latinTurned, tokenize.ErrInvalidFormat, strings.Repeat("A", 4097))
	// Minimum: 4 letters (35^4), 6 digits, or a mix above 10^6.
	atLimit(t, tk, tokenize.Text{}, "Anna", "123456", "Ewa 12", "O'Neil")
	beyond(t, tk, tokenize.Text{}, tokenize.ErrDomainTooSmall, "Jan", "12345", "Ewa1", "J. K. 1")
}

func TestLimitsPattern(t *testing.T) {
	_, tk := newTokenizer(t)
	// Masks of up to 256 characters, literals of any length in UTF-8.
	mask := strings.Repeat("9", 200) + strings.Repeat("ą", 56)
	value := strings.Repeat("1", 200) + strings.Repeat("ą", 56)
	atLimit(t, tk, tokenize.Pattern{Mask: mask}, value)
	atLimit(t, tk, tokenize.Pattern{Mask: strings.Repeat("X", 256)}, strings.Repeat("Z", 256))
	beyond(t, tk, tokenize.Pattern{Mask: mask + "ą"}, tokenize.ErrInvalidFormat, value+"ą")
	beyond(t, tk, tokenize.Pattern{Mask: strings.Repeat("X", 257)}, tokenize.ErrInvalidFormat, strings.Repeat("Z", 257))
	// Minimum: 10^6 combinations.
	for mask, v := range map[string]string{"999999": "123456", "AAAAA": "KrAkw", "XXXX": "A1B2", "xxxx": "a1b2", `AA-99-99\9`: "KR-20-249"} {
		atLimit(t, tk, tokenize.Pattern{Mask: mask}, v)
	}
	for mask, v := range map[string]string{"99999": "12345", "AAAA": "Krak", "XXX": "A1B", "AA-999": "KR-202"} {
		beyond(t, tk, tokenize.Pattern{Mask: mask}, tokenize.ErrDomainTooSmall, v)
	}
}
