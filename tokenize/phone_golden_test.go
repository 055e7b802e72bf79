package tokenize_test

// Golden tokens of Phone version 2, beside those of version 1 in
// testdata/golden/tokens.json (cases phone-e164, phone-national-pl,
// phone-national-de, phone-possible), under the same fixed keystore. The
// cases cover both of version 2's paths: the automaton and the walk.
//
// To append the tokens of a new case (never to change one):
//
//	go test ./tokenize -run TestPhoneV2GoldenGenerate -golden.generate

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

const phoneGoldenFile = "testdata/phone_v2_golden.json"

var phoneGoldenFormats = []struct {
	name   string
	format tokenize.Phone
	value  string
}{
	{"phone-v2-e164", tokenize.Phone{Version: 2}, "+48 601 234 567"},
	{"phone-v2-e164-compact", tokenize.Phone{Version: 2}, "+48601234567"},
	{"phone-v2-national-pl", tokenize.Phone{Version: 2, DefaultRegion: "PL"}, "601 234 567"},
	{"phone-v2-national-de", tokenize.Phone{Version: 2, DefaultRegion: "DE"}, "030 12345678"},
	{"phone-v2-national-gb", tokenize.Phone{Version: 2, DefaultRegion: "GB"}, "020 7946 0958"},
	{"phone-v2-us", tokenize.Phone{Version: 2, DefaultRegion: "US"}, "+1 (415) 555-2671"},
	{"phone-v2-possible", tokenize.Phone{Version: 2, AllowPossible: true}, "+48 601 234 567"},
	{"phone-v2-national-bs", tokenize.Phone{Version: 2, DefaultRegion: "BS"}, "(242) 357-1234"},
	{"phone-v2-walk-kr", tokenize.Phone{Version: 2, DefaultRegion: "KR"}, "02-212-3456"},
	{"phone-v2-walk-br", tokenize.Phone{Version: 2, DefaultRegion: "BR"}, "0 11 96123 4567"},
}

func TestPhoneV2Golden(t *testing.T) {
	ctx := context.Background()
	kr, _, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(phoneGoldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var ts []goldenToken
	if err := json.Unmarshal(b, &ts); err != nil {
		t.Fatal(err)
	}
	for _, c := range phoneGoldenFormats {
		if !slices.ContainsFunc(ts, func(g goldenToken) bool { return g.Name == c.name }) {
			t.Errorf("no golden token for case %s: run the generator", c.name)
		}
	}
	for _, g := range ts {
		t.Run(g.Name, func(t *testing.T) {
			i := slices.IndexFunc(phoneGoldenFormats, func(c struct {
				name   string
				format tokenize.Phone
				value  string
			}) bool {
				return c.name == g.Name
			})
			if i < 0 {
				t.Fatalf("golden token %q has no case: a case was removed", g.Name)
			}
			f := phoneGoldenFormats[i].format
			if f.Name() != g.Format {
				t.Fatalf("Name() = %q, recorded %q: the tweak changed, so the mapping did", f.Name(), g.Format)
			}
			back, err := tk.Detokenize(ctx, g.Subject, g.Field, f, g.Token)
			if err != nil || back != g.Value {
				t.Fatalf("Detokenize = %q, %v; recorded value %q", back, err, g.Value)
			}
			again, err := tk.Tokenize(ctx, g.Subject, g.Field, f, g.Value)
			if err != nil || again != g.Token {
				t.Fatalf("Tokenize = %q, %v; recorded token %q", again, err, g.Token)
			}
			if strings.Contains(g.Name, "-walk-") == tokenize.PhoneV2Fast(f, g.Value) {
				t.Fatalf("%s: not on the path its name says", g.Name)
			}
		})
	}
}

func TestPhoneV2GoldenGenerate(t *testing.T) {
	if !*generateGolden {
		t.Skip("run with -golden.generate to append missing golden tokens")
	}
	ctx := context.Background()
	kr, _, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	var ts []goldenToken
	if b, err := os.ReadFile(phoneGoldenFile); err == nil {
		if err := json.Unmarshal(b, &ts); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range phoneGoldenFormats {
		if slices.ContainsFunc(ts, func(g goldenToken) bool { return g.Name == c.name }) {
			continue
		}
		// cust-1 has a key in the fixture: no key is created here.
		g := goldenToken{Name: c.name, Format: c.format.Name(), Subject: "cust-1", Field: "customers." + c.name, Value: c.value}
		if g.Token, err = tk.Tokenize(ctx, g.Subject, g.Field, c.format, c.value); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ts = append(ts, g)
	}
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(phoneGoldenFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
