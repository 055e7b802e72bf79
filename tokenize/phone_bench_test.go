package tokenize_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// BenchmarkTokenizePhone measures Phone version 1 and version 2 beside the
// card in the same run, each cycling through 64 values (cards as in
// BenchmarkTokenizeVsCard; phones of PL, DE, US, GB, FR, JP, BR and IN in
// international notation, all through version 2's automaton), so that the
// ratios phone/card are meaningful on a noisy machine.
func BenchmarkTokenizePhone(b *testing.B) {
	_, tk := newTokenizer(b)
	var cards, phones []string
	for i := range 64 {
		body := fmt.Sprintf("411111%09d", 7919*i)
		cards = append(cards, body+luhnCheckDigit(body))
	}
	r := rand.New(rand.NewPCG(6, 4))
	regions := []string{"PL", "DE", "US", "GB", "FR", "JP", "BR", "IN"}
	for len(phones) < 64 {
		v := randomPhone(r, regions[len(phones)%len(regions)], false, false)
		f := tokenize.Phone{Version: 2}
		if v == "" || !tokenize.PhoneV2Fast(f, v) {
			continue
		}
		if _, err := tk.Tokenize(ctx, "cust-1", "customers.col", f, v); err != nil {
			continue // a short number: ErrDomainTooSmall
		}
		phones = append(phones, v)
	}
	for _, bc := range []struct {
		name   string
		f      tokenize.Format
		values []string
	}{
		{"card", tokenize.Card{}, cards},
		{"phone-v1", tokenize.Phone{}, phones},
		{"phone-v2", tokenize.Phone{Version: 2}, phones},
	} {
		for _, v := range bc.values {
			if _, err := tk.Tokenize(ctx, "cust-1", "customers.col", bc.f, v); err != nil {
				b.Fatalf("%s %q: %v", bc.name, v, err)
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "customers.col", bc.f, bc.values[i%len(bc.values)])
				i++
			}
		})
	}
}
