package tokenize_test

// Golden tokens: one token per Format and option set, under the fixed
// keystore of testdata/golden (internal/golden). Tokens carry no
// authentication, so this is the only guard against a change of mapping:
// each must detokenize to its recorded value forever, and tokenizing the
// value again must give the recorded token byte for byte.
//
// To append the tokens of a new case (never to change one):
//
//	go test ./tokenize -run TestGoldenTokensGenerate -golden.generate

import (
	"context"
	"errors"
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

var generateGolden = flag.Bool("golden.generate", false, "append missing golden tokens to testdata/golden")

type goldenToken struct {
	Name    string `json:"name"`   // the case: format and options
	Format  string `json:"format"` // Format.Name(), recorded to catch a renamed tweak
	Subject string `json:"subject,omitempty"`
	Global  bool   `json:"global,omitempty"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Token   string `json:"token"`
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// goldenFormats are the cases: every Format, with each option that changes
// its mapping.
var goldenFormats = []struct {
	name   string
	format tokenize.Format
	value  string
	global bool
}{
	{"card", tokenize.Card{}, "4111 1111 1111 1111", false},
	{"card-luhn-valid", tokenize.Card{Luhn: tokenize.LuhnValid}, "5500-0000-0000-0004", false},
	{"card-luhn-any", tokenize.Card{Luhn: tokenize.LuhnAny}, "4111111111111111", false},
	{"card-bin-last4", tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, "4111111111111111", false},
	{"card-bin-last4-luhn-valid", tokenize.Card{Keep: tokenize.KeepBINAndLast4}, "4000000000000000006", false},
	{"card-global", tokenize.Card{}, "4111111111111111", true},
	{"email", tokenize.Email{}, "jan.kowalski+shop@example.com", false},
	{"email-domain", tokenize.Email{TokenizeDomain: true}, "jan.kowalski@example.com", false},
	{"email-global", tokenize.Email{}, "jan.kowalski@example.com", true},
	{"phone-e164", tokenize.Phone{DefaultRegion: "PL"}, "+48 601 234 567", false},
	{"phone-national-pl", tokenize.Phone{DefaultRegion: "PL"}, "601 234 567", false},
	{"phone-national-de", tokenize.Phone{DefaultRegion: "DE"}, "030 12345678", false},
	{"phone-possible", tokenize.Phone{DefaultRegion: "PL", AllowPossible: true}, "+48 601 234 567", false},
	{"pesel", tokenize.PESEL{}, "44051401359", false},
	{"pesel-v2", tokenize.PESEL{Version: 2}, "44051401359", false},
	{"pesel-v2-sex", tokenize.PESEL{Version: 2, KeepSex: true}, "44051401359", false},
	{"nip", tokenize.NIP{}, "123-456-32-18", false},
	{"ssn", tokenize.SSN{}, "123-45-6789", false},
	{"iban", tokenize.IBAN{}, "PL61109010140000071219812874", false},
	{"postcode-pl-small", tokenize.Postcode{Country: "PL", InsecureSmallDomain: true}, "00-950", false},
	{"postcode-us-zip4", tokenize.Postcode{Country: "US"}, "12345-6789", false},
	{"postcode-us-small", tokenize.Postcode{Country: "US", InsecureSmallDomain: true}, "12345", false},
	{"date", tokenize.Date{}, "1984-05-14", false},
	{"date-layout", tokenize.Date{Layout: "02.01.2006"}, "14.05.1984", false},
	{"date-window", tokenize.Date{Min: day(1, 1, 1), Max: day(2999, 12, 31)}, "1984-05-14", false},
	{"date-v2", tokenize.Date{Version: 2}, "1984-05-14", false},
	{"date-v2-window-layout", tokenize.Date{Version: 2, Layout: "02.01.2006", Min: day(1, 1, 1), Max: day(2999, 12, 31)}, "14.05.1984", false},
	{"date-v2-small", tokenize.Date{Version: 2, Min: day(1990, 1, 1), Max: day(1999, 12, 31), InsecureSmallDomain: true}, "1994-07-01", false},
	{"date-small", tokenize.Date{Min: day(1990, 1, 1), Max: day(1999, 12, 31), InsecureSmallDomain: true}, "1994-07-01", false},
	{"text", tokenize.Text{}, "Zażółć Gęślą-Jaźń", false},
	{"text-letters", tokenize.Text{Letters: "abcdefghijklmnopqrstuvwxyz"}, "Ada Lovelace", false},
	{"pattern", tokenize.Pattern{Mask: "AA-9999-99"}, "KR-1234-56", false},
}

func readGoldenTokens(t *testing.T) []goldenToken {
	t.Helper()
	var ts []goldenToken
	if err := golden.ReadJSON("tokens.json", &ts); err != nil {
		t.Fatalf("reading golden tokens: %v", err)
	}
	return ts
}

func goldenFormat(t *testing.T, name string) tokenize.Format {
	t.Helper()
	for _, c := range goldenFormats {
		if c.name == name {
			return c.format
		}
	}
	t.Fatalf("golden token %q has no case in goldenFormats: a case was removed", name)
	return nil
}

func TestGoldenTokens(t *testing.T) {
	ctx := context.Background()
	kr, _, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	ts := readGoldenTokens(t)
	for _, c := range goldenFormats {
		if !slices.ContainsFunc(ts, func(g goldenToken) bool { return g.Name == c.name }) {
			t.Errorf("no golden token for case %s: run the generator", c.name)
		}
	}
	for _, g := range ts {
		t.Run(g.Name, func(t *testing.T) {
			f := goldenFormat(t, g.Name)
			if f.Name() != g.Format {
				t.Fatalf("Name() = %q, recorded %q: the tweak changed, so the mapping did", f.Name(), g.Format)
			}
			var back, again string
			var err, err2 error
			if g.Global {
				back, err = tk.DetokenizeGlobal(ctx, g.Field, f, g.Token)
				again, err2 = tk.TokenizeGlobal(ctx, g.Field, f, g.Value)
			} else {
				back, err = tk.Detokenize(ctx, g.Subject, g.Field, f, g.Token)
				again, err2 = tk.Tokenize(ctx, g.Subject, g.Field, f, g.Value)
			}
			if err != nil || back != g.Value {
				t.Fatalf("Detokenize = %q, %v; recorded value %q", back, err, g.Value)
			}
			if err2 != nil || again != g.Token {
				t.Fatalf("Tokenize = %q, %v; recorded token %q", again, err2, g.Token)
			}
		})
	}
	// A forgotten subject's token stays unreadable.
	if _, err := tk.Detokenize(ctx, "cust-gone-v2", "customers.card", tokenize.Card{}, "4111 1111 1111 1111"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Detokenize for a forgotten subject: %v, want ErrKeyDestroyed", err)
	}
}

func TestGoldenTokensGenerate(t *testing.T) {
	if !*generateGolden {
		t.Skip("run with -golden.generate to append missing golden tokens")
	}
	ctx := context.Background()
	kr, rec, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	var ts []goldenToken
	if err := golden.ReadJSON("tokens.json", &ts); err != nil {
		t.Logf("starting tokens.json: %v", err)
	}
	for _, c := range goldenFormats {
		if slices.ContainsFunc(ts, func(g goldenToken) bool { return g.Name == c.name }) {
			continue
		}
		g := goldenToken{Name: c.name, Format: c.format.Name(), Global: c.global, Field: "customers." + c.name, Value: c.value}
		if c.global {
			g.Token, err = tk.TokenizeGlobal(ctx, g.Field, c.format, c.value)
		} else {
			g.Subject = "cust-1"
			g.Token, err = tk.Tokenize(ctx, g.Subject, g.Field, c.format, c.value)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ts = append(ts, g)
	}
	if err := golden.WriteJSON("keystore.json", rec.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := golden.WriteJSON("tokens.json", ts); err != nil {
		t.Fatal(err)
	}
}
