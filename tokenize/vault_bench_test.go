package tokenize_test

import (
	"fmt"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/vaulttest"
)

// BenchmarkVault measures a vault token of a 16-digit card with a warm
// key cache on an in-memory store, beside the FPE token of the same card
// in the same run: tokenize of a known value (one lookup), of a new value
// (lookup, draw, seal, insert) and detokenize (read, open). keys/sqlstore's
// BenchmarkVaultSQLite measures the same on a database.
func BenchmarkVault(b *testing.B) {
	s := memstore.New()
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
			sink, err = v.Tokenize(ctx, "cust-1", "orders.new", tokenize.Card{Luhn: tokenize.LuhnAny}, fmt.Sprintf("4%015d", i))
			if err != nil {
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
}
