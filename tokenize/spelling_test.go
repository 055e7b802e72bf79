package tokenize_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// A token has one accepted spelling: Detokenize refuses every string that
// Tokenize never outputs for the format, such as a token with stray
// whitespace, a sign, a look-alike digit or a letter of the wrong case,
// instead of reading it as the same (or another) token. Tokenize refuses
// the same variants of the value, so the two sides accept the same set.

// respell is a way of writing a string that the format must refuse.
type respell struct {
	name string
	f    func(string) string
}

// blank are the variants with stray whitespace or control characters.
// Every format but Text refuses them: Text keeps any character that is not
// a letter or digit, so for it whitespace is part of the value.
var blank = []respell{
	{"leading space", func(s string) string { return " " + s }},
	{"trailing space", func(s string) string { return s + " " }},
	{"trailing newline", func(s string) string { return s + "\n" }},
	{"trailing CRLF", func(s string) string { return s + "\r\n" }},
	{"leading tab", func(s string) string { return "\t" + s }},
	{"leading NBSP", func(s string) string { return "\u00a0" + s }},
	{"leading BOM", func(s string) string { return "\ufeff" + s }},
	{"trailing NUL", func(s string) string { return s + "\x00" }},
}

var (
	// fullwidth writes the first ASCII letter or digit in its fullwidth
	// form ("４", "Ａ"), which looks the same and means nothing here.
	fullwidth = respell{"first alphanumeric fullwidth", replaceFirst(
		func(r rune) bool { return isASCIIDigit(r) || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' },
		func(r rune) string { return string(r - '!' + '！') })}
	// arabicDigit writes the first digit as an Arabic-Indic one, a digit
	// to unicode.IsDigit; only for formats whose tokens have a digit.
	arabicDigit = respell{"first digit Arabic-Indic", replaceFirst(isASCIIDigit, func(r rune) string { return string('٠' + r - '0') })}
	// plus adds a sign, or doubles it; only for formats where a leading
	// "+" is not a character of another valid value.
	plus = respell{"leading plus", func(s string) string {
		if strings.HasPrefix(s, "+") {
			return "++" + s[1:]
		}
		return "+" + s
	}}
)

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }

// replaceFirst returns a respelling that replaces the first rune matching
// match with repl(rune), or leaves s unchanged when none matches.
func replaceFirst(match func(rune) bool, repl func(rune) string) func(string) string {
	return func(s string) string {
		for i, r := range s {
			if match(r) {
				return s[:i] + repl(r) + s[i+len(string(r)):]
			}
		}
		return s
	}
}

func replaceOnce(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// checkOneSpelling tokenizes v, then checks that every respelling of v is
// refused by Tokenize and every respelling of its token by Detokenize,
// with ErrInvalidFormat.
func checkOneSpelling(t *testing.T, tk *tokenize.Tokenizer, f tokenize.Format, v string, variants ...respell) {
	t.Helper()
	tok, err := tk.Tokenize(ctx, "cust-1", "spelling", f, v)
	if err != nil {
		t.Fatalf("%s: Tokenize(%q): %v", f.Name(), v, err)
	}
	for _, rs := range variants {
		for _, side := range []struct {
			op, s string
			run   func(string) (string, error)
		}{
			{"Tokenize", rs.f(v), func(s string) (string, error) { return tk.Tokenize(ctx, "cust-1", "spelling", f, s) }},
			{"Detokenize", rs.f(tok), func(s string) (string, error) { return tk.Detokenize(ctx, "cust-1", "spelling", f, s) }},
		} {
			if side.s == v || side.s == tok {
				t.Fatalf("%s: respelling %q leaves %q unchanged", f.Name(), rs.name, side.s)
			}
			out, err := side.run(side.s)
			if !errors.Is(err, tokenize.ErrInvalidFormat) {
				t.Errorf("%s: %s(%s %q) = %q, %v; want ErrInvalidFormat", f.Name(), side.op, rs.name, side.s, out, err)
			}
			checkNoEcho(t, err, side.s)
		}
	}
}

func TestOneSpelling(t *testing.T) {
	_, tk := newTokenizer(t)
	// with returns the blank variants, fullwidth and extra.
	with := func(extra ...respell) []respell {
		return append(append(append([]respell(nil), blank...), fullwidth), extra...)
	}

	t.Run("card", func(t *testing.T) {
		for _, f := range []tokenize.Card{{}, {Luhn: tokenize.LuhnValid}, {Luhn: tokenize.LuhnAny}, {Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}} {
			checkOneSpelling(t, tk, f, "4111 1111 1111 1111", with(arabicDigit, plus,
				respell{"doubled space", replaceOnce(" ", "  ")},
				respell{"space as NBSP", replaceOnce(" ", "\u00a0")},
				respell{"space as tab", replaceOnce(" ", "\t")},
				respell{"space as dot", replaceOnce(" ", ".")},
				respell{"trailing dash", func(s string) string { return s + "-" }},
			)...)
		}
	})
	t.Run("email", func(t *testing.T) {
		for _, f := range []tokenize.Email{{}, {TokenizeDomain: true}} {
			// A leading "+" would be another valid address.
			checkOneSpelling(t, tk, f, "jan.kowalski7+shop@example.com", with(arabicDigit,
				respell{"angle brackets", func(s string) string { return "<" + s + ">" }},
				respell{"mailto", func(s string) string { return "mailto:" + s }},
				respell{"trailing dot", func(s string) string { return s + "." }},
				respell{"fullwidth at", replaceOnce("@", "＠")},
				respell{"space before at", replaceOnce("@", " @")},
			)...)
		}
	})
	t.Run("phone", func(t *testing.T) {
		pl := tokenize.Phone{DefaultRegion: "PL"}
		spaced := with(arabicDigit,
			respell{"doubled space", replaceOnce(" ", "  ")},
			respell{"space and dash", replaceOnce(" ", " -")},
			respell{"trailing dash", func(s string) string { return s + "-" }},
			respell{"trailing dot", func(s string) string { return s + "." }},
			respell{"trailing parentheses", func(s string) string { return s + "()" }},
			respell{"empty parentheses", replaceOnce(" ", " () ")},
			respell{"trailing closing parenthesis", func(s string) string { return s + ")" }},
			respell{"space as NBSP", replaceOnce(" ", "\u00a0")},
		)
		checkOneSpelling(t, tk, pl, "+48 601 234 567", append(spaced, plus,
			respell{"space after plus", replaceOnce("+", "+ ")},
			respell{"fullwidth plus", replaceOnce("+", "＋")},
		)...)
		// In national notation a leading "+" gives another number, so it
		// is not a respelling.
		checkOneSpelling(t, tk, pl, "601 234 567", spaced...)
		checkOneSpelling(t, tk, pl, "+48 (22) 123-45-67", with(
			respell{"nested parentheses", replaceOnce("(22)", "((22))")},
			respell{"second group", func(s string) string {
				i := strings.Index(s, ") ") + 2
				return s[:i] + "(" + s[i:i+3] + ")" + s[i+3:]
			}},
			respell{"unclosed parenthesis", replaceOnce(")", "")},
			respell{"space inside parentheses", replaceOnce("(", "( ")},
		)...)
	})
	t.Run("national IDs", func(t *testing.T) {
		for _, f := range []tokenize.PESEL{{}, {KeepSex: true}, {Version: 2}, {Version: 2, KeepSex: true}} {
			checkOneSpelling(t, tk, f, "44051401359", with(arabicDigit, plus,
				respell{"dash", func(s string) string { return s[:6] + "-" + s[6:] }},
				respell{"space", func(s string) string { return s[:6] + " " + s[6:] }},
			)...)
		}
		checkOneSpelling(t, tk, tokenize.NIP{}, "PL1234563218", with(arabicDigit, plus,
			respell{"lowercase prefix", replaceOnce("PL", "pl")},
			respell{"space after prefix", replaceOnce("PL", "PL ")},
			respell{"dash after prefix", replaceOnce("PL", "PL-")},
			respell{"prefix twice", replaceOnce("PL", "PLPL")},
		)...)
		checkOneSpelling(t, tk, tokenize.NIP{}, "123-456-32-18", with(arabicDigit, plus,
			respell{"doubled dash", replaceOnce("-", "--")},
			respell{"trailing dash", func(s string) string { return s + "-" }},
		)...)
		checkOneSpelling(t, tk, tokenize.SSN{}, "123-45-6789", with(arabicDigit, plus,
			respell{"mixed separators", func(s string) string { return s[:6] + " " + s[7:] }},
			respell{"doubled dash", replaceOnce("-", "--")},
			respell{"moved dash", func(s string) string { return s[:2] + "-" + s[2:3] + s[4:] }},
		)...)
	})
	t.Run("iban", func(t *testing.T) {
		checkOneSpelling(t, tk, tokenize.IBAN{}, "PL61 1090 1014 0000 0712 1981 2874", with(arabicDigit, plus,
			respell{"lowercase country", func(s string) string { return strings.ToLower(s[:2]) + s[2:] }},
			respell{"IBAN prefix", func(s string) string { return "IBAN " + s }},
			respell{"doubled space", replaceOnce(" ", "  ")},
			respell{"dash", replaceOnce(" ", "-")},
			respell{"space as NBSP", replaceOnce(" ", "\u00a0")},
		)...)
	})
	t.Run("postcode", func(t *testing.T) {
		checkOneSpelling(t, tk, tokenize.Postcode{Country: "US"}, "94105-1804", with(arabicDigit, plus,
			respell{"space", replaceOnce("-", " ")},
			respell{"en dash", replaceOnce("-", "–")},
			respell{"no dash", replaceOnce("-", "")},
		)...)
		checkOneSpelling(t, tk, tokenize.Postcode{Country: "PL", InsecureSmallDomain: true}, "00-950", with(arabicDigit, plus,
			respell{"space", replaceOnce("-", " ")},
			respell{"no dash", replaceOnce("-", "")},
			respell{"letter O", replaceFirst(isASCIIDigit, func(rune) string { return "O" })},
		)...)
	})
	t.Run("date", func(t *testing.T) {
		unpad := respell{"unpadded", func(s string) string {
			// "1985-03-14" → "1985-3-14": drop the zero of a padded field,
			// or pad the day if neither month nor day has one.
			if i := strings.Index(s, "-0"); i >= 0 {
				return s[:i+1] + s[i+2:]
			}
			return s[:8] + "0" + s[8:]
		}}
		checkOneSpelling(t, tk, tokenize.Date{}, "1985-03-14", with(arabicDigit, plus, unpad,
			respell{"slashes", func(s string) string { return strings.ReplaceAll(s, "-", "/") }},
			respell{"time appended", func(s string) string { return s + "T00:00:00Z" }},
		)...)
		months := tokenize.Date{Layout: "02 Jan 2006"}
		checkOneSpelling(t, tk, months, "14 Mar 1985", with(arabicDigit, plus,
			respell{"lowercase month", strings.ToLower},
			respell{"uppercase month", strings.ToUpper},
			respell{"doubled space", replaceOnce(" ", "  ")},
		)...)
	})
	t.Run("text", func(t *testing.T) {
		// Whitespace and punctuation are part of a Text value; what no
		// token holds is a character Tokenize cannot produce.
		checkOneSpelling(t, tk, tokenize.Text{}, "Zażółć Gęślą-Jaźń 12", fullwidth, arabicDigit,
			respell{"invalid UTF-8", func(s string) string { return s + "\xff" }},
			respell{"titlecase digraph", func(s string) string { return "ǅ" + s }},
			respell{"letter outside the alphabet", func(s string) string { return s + "ü" }},
		)
	})
	t.Run("pattern", func(t *testing.T) {
		// flipCase changes the case of the first letter among s[i:j], or
		// writes a letter of the other case over s[i] if there is none.
		flipCase := func(i, j int, other string) func(string) string {
			return func(s string) string {
				for k := i; k < j; k++ {
					if c := s[k]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
						return s[:k] + string(c^0x20) + s[k+1:]
					}
				}
				return s[:i] + other + s[i+1:]
			}
		}
		checkOneSpelling(t, tk, tokenize.Pattern{Mask: "XXXX-xxxx"}, "A1B2-c3d4", with(plus,
			respell{"lowercase in X", flipCase(0, 4, "a")},
			respell{"uppercase in x", flipCase(5, 9, "A")},
			respell{"literal respelled", replaceOnce("-", "–")},
		)...)
	})
}
