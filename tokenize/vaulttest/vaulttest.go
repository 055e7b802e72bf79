// Package vaulttest checks a keystore.TokenVaultStore through
// tokenize.Vault, end to end: the tests every backend of a token vault must
// pass (keys/memstore here, keys/sqlstore on SQLite, PostgreSQL and
// MariaDB).
package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// Store is a keystore that is also a token vault's table, as the keystore
// database is.
type Store interface {
	keystore.Store
	keystore.TokenVaultStore
}

// Samples holds one valid value per format, for round trips.
var Samples = []struct {
	F tokenize.Format
	V string
}{
	{tokenize.Card{}, "4111 1111 1111 1111"},
	{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid}, "4111111111111111110"},
	{tokenize.Email{}, "jan.kowalski@example.com"},
	{tokenize.Phone{DefaultRegion: "PL"}, "+48 601 234 567"},
	{tokenize.PESEL{}, "44051401359"},
	{tokenize.NIP{}, "123-456-32-18"},
	{tokenize.SSN{}, "123-45-6789"},
	{tokenize.IBAN{}, "PL61 1090 1014 0000 0712 1981 2874"},
	{tokenize.Date{}, "1985-03-14"},
	{tokenize.Text{}, "Zażółć Gęślą"},
	{tokenize.Pattern{Mask: "AA-9999-99"}, "KR-2024-07"},
}

// Open returns a Keyring and a Vault on s, under a fresh local root key.
func Open(t testing.TB, s Store) (*keys.Keyring, *tokenize.Vault) {
	t.Helper()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	return OpenWith(t, s, root)
}

// OpenWith is Open under the root key kms, for a second process or Keyring
// on the same keystore.
func OpenWith(t testing.TB, s Store, kms keystore.KMS) (*keys.Keyring, *tokenize.Vault) {
	t.Helper()
	kr, err := keys.Open(context.Background(), keys.Config{KMS: kms, Store: s, DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	v, err := tokenize.NewVault(kr, s)
	if err != nil {
		t.Fatal(err)
	}
	return kr, v
}

// Luhn reports whether the digits of s pass the Luhn check.
func Luhn(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return sum%10 == 0
}

// TokensEnv names the environment variable that sets how many tokens the
// Collisions test issues in one field (default 2000; the figure is
// 100000).
const TokensEnv = "FIELDCRYPT_TEST_VAULT_TOKENS"

// Tokens returns the Collisions test's size.
func Tokens(t testing.TB, def int) int {
	if s := os.Getenv(TokensEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", TokensEnv, s)
		}
		return n
	}
	return def
}

// Run runs the vault tests on stores newStore returns (fresh ones, or
// ones on which subjects and fields the tests pick are unused).
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("RoundTrip", func(t *testing.T) {
		_, v := Open(t, newStore(t))
		for _, s := range Samples {
			tok, err := v.Tokenize(ctx, "cust-1", "shop.f", s.F, s.V)
			if err != nil {
				t.Fatalf("%s: Tokenize: %v", s.F.Name(), err)
			}
			if tok == s.V {
				t.Errorf("%s: token equals the value", s.F.Name())
			}
			if len([]rune(tok)) != len([]rune(s.V)) {
				t.Errorf("%s: token %q has another length than the value", s.F.Name(), tok)
			}
			got, err := v.Detokenize(ctx, "cust-1", "shop.f", s.F, tok)
			if err != nil || got != s.V {
				t.Fatalf("%s: Detokenize = %q, %v; want the value", s.F.Name(), got, err)
			}
			if found, err := v.Lookup(ctx, "cust-1", "shop.f", s.F, s.V); err != nil || found != tok {
				t.Errorf("%s: Lookup = %q, %v; want the token", s.F.Name(), found, err)
			}
			if _, err := v.Lookup(ctx, "cust-1", "shop.lookup-only", s.F, s.V); !errors.Is(err, tokenize.ErrUnknownToken) {
				t.Errorf("%s: Lookup of a value never tokenized: %v, want ErrUnknownToken", s.F.Name(), err)
			}
			if _, err := v.Lookup(ctx, "cust-1", "shop.lookup-only", s.F, s.V); !errors.Is(err, tokenize.ErrUnknownToken) {
				t.Errorf("%s: Lookup issued a token: %v", s.F.Name(), err)
			}
			// Deterministic: the same value gives the same token.
			again, err := v.Tokenize(ctx, "cust-1", "shop.f", s.F, s.V)
			if err != nil || again != tok {
				t.Errorf("%s: second Tokenize = %q, %v; want %q", s.F.Name(), again, err, tok)
			}
			// Another subject or field: another (random) token, and
			// this token is unknown there.
			other, err := v.Tokenize(ctx, "cust-2", "shop.f", s.F, s.V)
			if err != nil || other == tok {
				t.Errorf("%s: other subject's token = %q, %v; want another token", s.F.Name(), other, err)
			}
			if _, err := v.Detokenize(ctx, "cust-2", "shop.f", s.F, tok); !errors.Is(err, tokenize.ErrUnknownToken) {
				t.Errorf("%s: other subject detokenizes: %v", s.F.Name(), err)
			}
			if _, err := v.Detokenize(ctx, "cust-1", "shop.g", s.F, tok); !errors.Is(err, tokenize.ErrUnknownToken) {
				t.Errorf("%s: other field detokenizes: %v", s.F.Name(), err)
			}
			g, err := v.TokenizeGlobal(ctx, "shop.global", s.F, s.V)
			if err != nil {
				t.Fatalf("%s: TokenizeGlobal: %v", s.F.Name(), err)
			}
			if back, err := v.DetokenizeGlobal(ctx, "shop.global", s.F, g); err != nil || back != s.V {
				t.Errorf("%s: DetokenizeGlobal = %q, %v", s.F.Name(), back, err)
			}
			if found, err := v.LookupGlobal(ctx, "shop.global", s.F, s.V); err != nil || found != g {
				t.Errorf("%s: LookupGlobal = %q, %v; want %q", s.F.Name(), found, err, g)
			}
		}
	})
	t.Run("CardShape", func(t *testing.T) {
		_, v := Open(t, newStore(t))
		for _, c := range []struct {
			f    tokenize.Card
			luhn func(string) bool
		}{
			{tokenize.Card{}, func(s string) bool { return !Luhn(s) }},
			{tokenize.Card{Luhn: tokenize.LuhnValid}, Luhn},
		} {
			for i := range 50 {
				pan := fmt.Sprintf("4%014d", i*7919)
				pan += strconv.Itoa(luhnDigit(pan))
				tok, err := v.Tokenize(ctx, "cust-shape", "shop.card/"+c.f.Name(), c.f, pan)
				if err != nil {
					t.Fatal(err)
				}
				if len(tok) != 16 || tok[12:] != pan[12:] || !c.luhn(tok) || strings.Trim(tok, "0123456789") != "" {
					t.Fatalf("%s: token %q of %q: want 16 digits, last four kept, Luhn policy", c.f.Name(), tok, pan)
				}
			}
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		_, v := Open(t, newStore(t))
		card := tokenize.Card{}
		tok, err := v.Tokenize(ctx, "cust-bad", "shop.card", card, "4111 1111 1111 1111")
		if err != nil {
			t.Fatal(err)
		}
		// A token of the right shape that this vault never issued: one
		// from another vault.
		_, elsewhere := Open(t, newStore(t))
		foreign, err := elsewhere.Tokenize(ctx, "cust-bad", "shop.card.elsewhere", card, "4111 1111 1111 1111")
		if err != nil {
			t.Fatal(err)
		}
		if foreign == tok {
			foreign, err = elsewhere.Tokenize(ctx, "cust-bad", "shop.card.elsewhere", card, "5555 5555 5555 4444")
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			name, token string
			want        error
		}{
			{"never issued", foreign, tokenize.ErrUnknownToken},
			{"a valid PAN", "4111 1111 1111 1111", tokenize.ErrInvalidFormat},
			{"letters", "4111 11AB CDEF 1111", tokenize.ErrInvalidFormat},
			{"too short", "4111", tokenize.ErrInvalidFormat},
			{"empty", "", tokenize.ErrInvalidFormat},
		} {
			_, err := v.Detokenize(ctx, "cust-bad", "shop.card", card, c.token)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
			if err != nil && c.token != "" && strings.Contains(err.Error(), c.token) {
				t.Errorf("%s: error %q holds the token", c.name, err)
			}
		}
		// The right token under another format does not open.
		if _, err := v.Detokenize(ctx, "cust-bad", "shop.card", tokenize.Card{Luhn: tokenize.LuhnAny}, tok); !errors.Is(err, tokenize.ErrUnknownToken) {
			t.Errorf("other format: err = %v, want ErrUnknownToken", err)
		}
		if _, err := v.Tokenize(ctx, "cust-bad", "shop.card", card, "4111 1111 1111 1112"); !errors.Is(err, tokenize.ErrInvalidFormat) ||
			strings.Contains(err.Error(), "1112") {
			t.Errorf("Luhn-invalid PAN: err = %v, want ErrInvalidFormat without the value", err)
		}
		if _, err := v.Tokenize(ctx, "cust-bad", "", card, "4111 1111 1111 1111"); err == nil {
			t.Error("empty field accepted")
		}
		if _, err := v.Tokenize(ctx, "cust-bad", "shop.card", nil, "4111 1111 1111 1111"); err == nil {
			t.Error("nil format accepted")
		}
	})
	t.Run("Forget", func(t *testing.T) {
		s := newStore(t)
		kr, v := Open(t, s)
		card := tokenize.Card{}
		tok, err := v.Tokenize(ctx, "cust-gone", "shop.card", card, "4111 1111 1111 1111")
		if err != nil {
			t.Fatal(err)
		}
		keep, err := v.Tokenize(ctx, "cust-stays", "shop.card", card, "4111 1111 1111 1111")
		if err != nil {
			t.Fatal(err)
		}
		entry, err := s.TokenEntryByToken(ctx, "shop.card", tok)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(entry.Sealed), "4111") {
			t.Fatal("vault entry holds the value in clear")
		}
		if _, err := kr.Forget(ctx, "cust-gone", "erasure request"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Detokenize(ctx, "cust-gone", "shop.card", card, tok); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Errorf("Detokenize after Forget: err = %v, want keys.ErrKeyDestroyed", err)
		}
		if _, err := v.Tokenize(ctx, "cust-gone", "shop.card", card, "4111 1111 1111 1111"); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Errorf("Tokenize after Forget: err = %v, want keys.ErrKeyDestroyed", err)
		}
		// The entry is still there, but its key is gone: it cannot be
		// opened by anyone, through any Keyring on this keystore.
		if _, err := kr.KeyVersion(ctx, entry.Key, 1); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Errorf("the entry's key after Forget: err = %v, want keys.ErrKeyDestroyed", err)
		}
		if got, err := v.Detokenize(ctx, "cust-stays", "shop.card", card, keep); err != nil || got != "4111 1111 1111 1111" {
			t.Errorf("other subject after Forget: %q, %v", got, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		_, v := Open(t, newStore(t))
		const n = 16
		var wg sync.WaitGroup
		toks := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				toks[i], errs[i] = v.Tokenize(ctx, "cust-race", "shop.card", tokenize.Card{}, "5555 5555 5555 4444")
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || toks[i] != toks[0] {
				t.Fatalf("goroutine %d: %q, %v; goroutine 0: %q", i, toks[i], errs[i], toks[0])
			}
		}
	})
	t.Run("Collisions", func(t *testing.T) {
		CheckCollisions(t, newStore(t), Tokens(t, 2000), 1)
	})
}

// CheckCollisions issues n (at most 10^6) tokens in one field of a format with 10^6
// possible tokens (16-digit cards keeping BIN and last four, any Luhn
// digit), from workers goroutines, and checks that every token is
// distinct and detokenizes to its value. At 100,000 tokens a tenth of the
// space is taken, so redraws happen often.
func CheckCollisions(t *testing.T, s Store, n, workers int) {
	ctx := context.Background()
	cs := &countingStore{Store: s}
	_, v := Open(t, cs)
	f := tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}
	// One BIN and one last four: every token competes for the same 10^6.
	pan := func(i int) string { return fmt.Sprintf("411111%06d1111", i) }
	toks := make([]string, n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				tok, err := v.Tokenize(ctx, fmt.Sprint("cust-", i%97), "shop.collide", f, pan(i))
				if err != nil {
					errs <- fmt.Errorf("token %d: %w", i, err)
					return
				}
				toks[i] = tok
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d tokens in %v, %d redraws of a taken token", n, time.Since(start).Round(time.Millisecond), cs.taken.Load())
	seen := make(map[string]int, n)
	for i, tok := range toks {
		if j, dup := seen[tok]; dup {
			t.Fatalf("tokens %d and %d are both %q", j, i, tok)
		}
		seen[tok] = i
		if tok[:6] != "411111" || tok[12:] != pan(i)[12:] {
			t.Fatalf("token %q of %q does not keep BIN and last four", tok, pan(i))
		}
	}
	for i := 0; i < n; i += max(1, n/500) {
		got, err := v.Detokenize(ctx, fmt.Sprint("cust-", i%97), "shop.collide", f, toks[i])
		if err != nil || got != pan(i) {
			t.Fatalf("token %d: Detokenize = %q, %v", i, got, err)
		}
	}
}

// countingStore counts the inserts refused with keystore.ErrTokenTaken.
type countingStore struct {
	Store
	taken atomic.Int64
}

func (s *countingStore) PutTokenEntry(ctx context.Context, e keystore.TokenEntry) (keystore.TokenEntry, error) {
	got, err := s.Store.PutTokenEntry(ctx, e)
	if errors.Is(err, keystore.ErrTokenTaken) {
		s.taken.Add(1)
	}
	return got, err
}

func luhnDigit(payload string) int {
	for d := range 10 {
		if Luhn(payload + strconv.Itoa(d)) {
			return d
		}
	}
	panic("unreachable")
}
