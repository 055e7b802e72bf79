package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/vaulttest"
)

func TestTokenVaultStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			keystest.RunTokenVaultStoreTests(t, func(t *testing.T) keystore.TokenVaultStore { return mustOpen(t, b.fresh(t)) })
		})
	}
}

// TestTokenVault runs tokenize.Vault end to end on each database:
// determinism, format, bad tokens, Forget, concurrency, and collision-freedom
// over vaulttest.Tokens tokens in one field (FIELDCRYPT_TEST_VAULT_TOKENS,
// 100000 for the figure in the documentation).
func TestTokenVault(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			vaulttest.Run(t, func(t *testing.T) vaulttest.Store { return mustOpen(t, b.fresh(t)) })
			t.Run("CollisionsFromWorkers", func(t *testing.T) {
				vaulttest.CheckCollisions(t, mustOpen(t, b.fresh(t)), vaulttest.Tokens(t, 1000), 4)
			})
		})
	}
}

// TestTokenVaultProcesses: three processes tokenize the same new cards of
// one customer at the same instant; each card gets one token, the same in
// all three.
func TestTokenVaultProcesses(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			c := processTarget(t, b.name)
			hs := []*helper{startHelper(t, c), startHelper(t, c), startHelper(t, c)}
			const n = 20
			at := time.Now().Add(500 * time.Millisecond).UnixNano()
			for _, h := range hs {
				h.send("VAULT %d %d", at, n)
			}
			var got [][]string
			for i, h := range hs {
				r := h.await()
				toks := strings.Fields(r)
				if len(toks) != n {
					t.Fatalf("helper %d: %q", i, r)
				}
				got = append(got, toks)
			}
			for i := range n {
				if got[0][i] != got[1][i] || got[0][i] != got[2][i] {
					t.Errorf("card %d: tokens %s %s %s", i, got[0][i], got[1][i], got[2][i])
				}
			}
			// The winners are the vault's only entries for these cards.
			kr, store := c.openKeyring(t, keys.Config{DisableWatch: true})
			defer store.Close()
			defer kr.Close()
			v, err := tokenize.NewVault(kr, store)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				pan, err := v.Detokenize(context.Background(), "vault-race-customer", "shop.card", tokenize.Card{}, got[0][i])
				if err != nil || pan != raceCard(i) {
					t.Errorf("card %d: Detokenize = %q, %v", i, pan, err)
				}
			}
		})
	}
}

// raceCard returns the i-th card of TestTokenVaultProcesses.
func raceCard(i int) string {
	p := fmt.Sprintf("5%014d", 1_000_003*i+17)
	for d := range 10 {
		if vaulttest.Luhn(p + strconv.Itoa(d)) {
			return p + strconv.Itoa(d)
		}
	}
	panic("unreachable")
}

// vaultRace is the helpers' side of TestTokenVaultProcesses.
func vaultRace(kr *keys.Keyring, store *sqlstore.Store, args []string) string {
	at, _ := strconv.ParseInt(args[0], 10, 64)
	n, _ := strconv.Atoi(args[1])
	v, err := tokenize.NewVault(kr, store)
	if err != nil {
		return "error " + err.Error()
	}
	ctx := context.Background()
	// Create the customer's key before the race: the race is on the vault.
	if _, err := kr.Current(ctx, "vault-race-customer", tokenize.DefaultPurpose); err != nil {
		return "error " + err.Error()
	}
	time.Sleep(time.Until(time.Unix(0, at)))
	toks := make([]string, n)
	for i := range n {
		tok, err := v.Tokenize(ctx, "vault-race-customer", "shop.card", tokenize.Card{}, raceCard(i))
		if err != nil {
			return "error " + err.Error()
		}
		toks[i] = tok
	}
	return strings.Join(toks, " ")
}

// BenchmarkVaultSQLite is tokenize's BenchmarkVault on a SQLite keystore
// file: the store query dominates.
func BenchmarkVaultSQLite(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	kr, v := vaulttest.Open(b, s)
	tk, err := tokenize.New(kr)
	if err != nil {
		b.Fatal(err)
	}
	f := tokenize.Card{}
	const pan = "4111111111111111"
	tok, err := v.Tokenize(ctx, "cust-1", "orders.pan", f, pan)
	if err != nil {
		b.Fatal(err)
	}
	var sink string
	b.Run("fpe/tokenize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = tk.Tokenize(ctx, "cust-1", "orders.pan", f, pan)
		}
	})
	b.Run("vault/tokenize-known", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = v.Tokenize(ctx, "cust-1", "orders.pan", f, pan)
		}
	})
	b.Run("vault/tokenize-new", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if sink, err = v.Tokenize(ctx, "cust-1", "orders.new", tokenize.Card{Luhn: tokenize.LuhnAny}, fmt.Sprintf("4%015d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("vault/detokenize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = v.Detokenize(ctx, "cust-1", "orders.pan", f, tok)
		}
	})
	_ = sink
}
