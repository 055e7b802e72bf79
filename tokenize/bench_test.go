package tokenize_test

import (
	"bytes"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

var sink string

// BenchmarkPAN measures a 16-digit PAN end to end with a warm key cache,
// beside the raw FF1 call on the same 16 digits. Card{} encrypts 11 of
// them (KeepLast4, one digit for the Luhn constraint), LuhnAny 12; the
// raw call is the upper bound of the FF1 work in either.
func BenchmarkPAN(b *testing.B) {
	_, tk := newTokenizer(b)
	const pan = "4111111111111111"
	for _, bc := range []struct {
		name string
		f    tokenize.Card
	}{{"default", tokenize.Card{}}, {"bin-last4-any", tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}}} {
		tok, err := tk.Tokenize(ctx, "cust-1", "orders.pan", bc.f, pan)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/tokenize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pan)))
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "orders.pan", bc.f, pan)
			}
		})
		b.Run(bc.name+"/detokenize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pan)))
			for b.Loop() {
				sink, _ = tk.Detokenize(ctx, "cust-1", "orders.pan", bc.f, tok)
			}
		})
	}
	b.Run("raw-ff1/numerals", func(b *testing.B) {
		c, err := fpe.NewFF1(bytes.Repeat([]byte{0x2B}, 32), "0123456789")
		if err != nil {
			b.Fatal(err)
		}
		a := c.Alphabet()
		src, _ := a.AppendNumerals(nil, pan)
		dst := make([]uint16, len(src))
		tweak := []byte("fieldcrypt/tok/v1\x0aorders.pan\x17card/last4/luhn-invalid")
		b.ReportAllocs()
		b.SetBytes(int64(len(pan)))
		for b.Loop() {
			if err := c.EncryptNumerals(dst, src, tweak); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEmail(b *testing.B) {
	_, tk := newTokenizer(b)
	const email = "jan.kowalski+shop@example.com"
	for _, f := range []tokenize.Email{{}, {TokenizeDomain: true}} {
		b.Run(f.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(email)))
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "customers.email", f, email)
			}
		})
	}
}
