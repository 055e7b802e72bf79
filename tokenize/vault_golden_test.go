package tokenize_test

// Golden vault entries: what a token vault persists (the blind index and the
// sealed value of keystore.TokenEntry) under the fixed keystore of
// testdata/golden. Each entry must keep opening to its value, and tokenizing
// the value again must find the recorded token through the recorded blind
// index. To append entries (never to change one):
//
//	go test ./tokenize -run TestGoldenVaultGenerate -golden.generate

import (
	"context"
	"slices"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

type goldenVaultEntry struct {
	Name    string `json:"name"`
	Global  bool   `json:"global,omitempty"`
	Subject string `json:"subject,omitempty"`
	Value   string `json:"value"`
	Entry   struct {
		Field   string              `json:"field"`
		Token   string              `json:"token"`
		Lookup  []byte              `json:"lookup"`
		Subject keystore.SubjectRef `json:"subject_ref"`
		Key     keystore.KeyID      `json:"key_id"`
		Sealed  []byte              `json:"sealed"`
	} `json:"entry"`
}

var goldenVaultCases = []struct {
	name   string
	format tokenize.Format
	value  string
	global bool
}{
	{"card", tokenize.Card{}, "4111 1111 1111 1111", false},
	{"email", tokenize.Email{}, "jan.kowalski@example.com", false},
	{"card-global", tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, "4111111111111111", true},
}

func goldenVaultFormat(t *testing.T, name string) tokenize.Format {
	for _, c := range goldenVaultCases {
		if c.name == name {
			return c.format
		}
	}
	t.Fatalf("golden vault entry %q has no case: a case was removed", name)
	return nil
}

func TestGoldenVault(t *testing.T) {
	ctx := context.Background()
	kr, _, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var es []goldenVaultEntry
	if err := golden.ReadJSON("vault.json", &es); err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenVaultCases {
		if !slices.ContainsFunc(es, func(g goldenVaultEntry) bool { return g.Name == c.name }) {
			t.Errorf("no golden vault entry for case %s: run the generator", c.name)
		}
	}
	store := memstore.New()
	for _, g := range es {
		e := keystore.TokenEntry{Field: g.Entry.Field, Token: g.Entry.Token, Lookup: g.Entry.Lookup,
			Subject: g.Entry.Subject, Key: g.Entry.Key, Sealed: g.Entry.Sealed}
		if _, err := store.PutTokenEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	v, err := tokenize.NewVault(kr, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range es {
		t.Run(g.Name, func(t *testing.T) {
			f := goldenVaultFormat(t, g.Name)
			var back, again string
			var err, err2 error
			if g.Global {
				back, err = v.DetokenizeGlobal(ctx, g.Entry.Field, f, g.Entry.Token)
				again, err2 = v.TokenizeGlobal(ctx, g.Entry.Field, f, g.Value)
			} else {
				back, err = v.Detokenize(ctx, g.Subject, g.Entry.Field, f, g.Entry.Token)
				again, err2 = v.Tokenize(ctx, g.Subject, g.Entry.Field, f, g.Value)
			}
			if err != nil || back != g.Value {
				t.Fatalf("Detokenize = %q, %v; recorded value %q", back, err, g.Value)
			}
			if err2 != nil || again != g.Entry.Token {
				t.Fatalf("Tokenize = %q, %v; recorded token %q (the blind index changed)", again, err2, g.Entry.Token)
			}
		})
	}
}

func TestGoldenVaultGenerate(t *testing.T) {
	if !*generateGolden {
		t.Skip("run with -golden.generate to append missing golden vault entries")
	}
	ctx := context.Background()
	kr, rec, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	v, err := tokenize.NewVault(kr, store)
	if err != nil {
		t.Fatal(err)
	}
	var es []goldenVaultEntry
	if err := golden.ReadJSON("vault.json", &es); err != nil {
		t.Logf("starting vault.json: %v", err)
	}
	for _, c := range goldenVaultCases {
		if slices.ContainsFunc(es, func(g goldenVaultEntry) bool { return g.Name == c.name }) {
			continue
		}
		g := goldenVaultEntry{Name: c.name, Global: c.global, Value: c.value}
		field := "vault." + c.name
		var tok string
		if c.global {
			tok, err = v.TokenizeGlobal(ctx, field, c.format, c.value)
		} else {
			g.Subject = "cust-1"
			tok, err = v.Tokenize(ctx, g.Subject, field, c.format, c.value)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e, err := store.TokenEntryByToken(ctx, field, tok)
		if err != nil {
			t.Fatal(err)
		}
		g.Entry.Field, g.Entry.Token, g.Entry.Lookup, g.Entry.Subject, g.Entry.Key, g.Entry.Sealed =
			e.Field, e.Token, e.Lookup, e.Subject, e.Key, e.Sealed
		es = append(es, g)
	}
	if err := golden.WriteJSON("keystore.json", rec.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := golden.WriteJSON("vault.json", es); err != nil {
		t.Fatal(err)
	}
}
