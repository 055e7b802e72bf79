package tokenize_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func luhnOK(s string) bool {
	d := onlyDigits(s)
	sum := 0
	for i := range len(d) {
		x := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return len(d) > 0 && sum%10 == 0
}

// randomPAN returns a Luhn-valid card number of n digits, grouped in fours
// with sep ("" for none).
func randomPAN(r *rand.Rand, n int, sep string) string {
	for {
		d := digitString(r, n)
		if !luhnOK(d) {
			continue
		}
		if sep == "" {
			return d
		}
		out := ""
		for i := 0; i < n; i += 4 {
			if i > 0 {
				out += sep
			}
			out += d[i:min(n, i+4)]
		}
		return out
	}
}

func TestCard(t *testing.T) {
	_, tk := newTokenizer(t)
	fixed := []string{"4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "4222222222222", "6011000990139424", "3530111333300000", "6304000000000000000"}
	for _, tc := range []struct {
		f       tokenize.Card
		lengths []int
	}{
		{tokenize.Card{}, []int{13, 14, 15, 16, 17, 18, 19}},
		{tokenize.Card{Luhn: tokenize.LuhnValid}, []int{13, 16, 19}},
		{tokenize.Card{Luhn: tokenize.LuhnAny}, []int{13, 16, 19}},
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, []int{16, 17, 19}},
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid}, []int{17, 18, 19}},
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnInvalid}, []int{17, 19}},
	} {
		t.Run(tc.f.Name(), func(t *testing.T) {
			c := formatCase{
				name: tc.f.Name(),
				f:    tc.f,
				gen: func(r *rand.Rand) string {
					return randomPAN(r, tc.lengths[r.IntN(len(tc.lengths))], []string{"", " ", "-"}[r.IntN(3)])
				},
				check: func(t *testing.T, v, tok string) {
					dv, dt := onlyDigits(v), onlyDigits(tok)
					if dv[len(dv)-4:] != dt[len(dt)-4:] {
						t.Fatalf("last four not kept: %q -> %q", v, tok)
					}
					if tc.f.Keep == tokenize.KeepBINAndLast4 && dv[:6] != dt[:6] {
						t.Fatalf("BIN not kept: %q -> %q", v, tok)
					}
					switch tc.f.Luhn {
					case tokenize.LuhnValid:
						if !luhnOK(tok) {
							t.Fatalf("token %q fails Luhn under LuhnValid", tok)
						}
					case tokenize.LuhnInvalid:
						if luhnOK(tok) {
							t.Fatalf("token %q passes Luhn under LuhnInvalid", tok)
						}
					}
				},
			}
			for _, v := range fixed {
				if len(onlyDigits(v)) >= tc.lengths[0] && (tc.f.Keep == tokenize.KeepLast4 || len(onlyDigits(v)) >= 16) {
					c.fixed = append(c.fixed, v)
				}
			}
			runFormat(t, tk, c)
		})
	}
}

func TestCardDomainTooSmall(t *testing.T) {
	_, tk := newTokenizer(t)
	for _, tc := range []struct {
		f tokenize.Card
		v string
	}{
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4}, "4111 1111 1111 1111"},
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid}, "4111111111111111"},
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, "340000000000009"},
		{tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, "4222222222222"},
	} {
		if _, err := tk.Tokenize(ctx, "cust-1", "f", tc.f, tc.v); !errors.Is(err, tokenize.ErrDomainTooSmall) {
			t.Errorf("%s %d digits: got %v, want ErrDomainTooSmall", tc.f.Name(), len(onlyDigits(tc.v)), err)
		}
	}
}

func TestCardBadInput(t *testing.T) {
	_, tk := newTokenizer(t)
	expectInvalid(t, tk, tokenize.Card{},
		"", " ", "4111", "411111111111", "41111111111111111111",
		"4111  1111 1111 1111", " 4111111111111111", "4111111111111111-", "4111.1111.1111.1111",
		"4111111111111111\n", "４１１１１１１１１１１１１１１１", "4111-1111-1111-111x")
	expectInvalid(t, tk, tokenize.Card{Keep: 7}, "4111111111111111")
	expectInvalid(t, tk, tokenize.Card{Luhn: -1}, "4111111111111111")
	// Input must pass Luhn; a LuhnInvalid token must fail it by exactly one.
	for _, tc := range []struct {
		f       tokenize.Card
		v       string
		decrypt bool
	}{
		{tokenize.Card{}, "4111 1111 1111 1112", false},
		{tokenize.Card{Luhn: tokenize.LuhnValid}, "4111 1111 1111 1112", false},
		{tokenize.Card{}, "4111111111111111", true},
		{tokenize.Card{}, "4111111111111113", true},
		{tokenize.Card{Luhn: tokenize.LuhnValid}, "4111111111111112", true},
	} {
		var err error
		if tc.decrypt {
			_, err = tk.Detokenize(ctx, "cust-1", "f", tc.f, tc.v)
		} else {
			_, err = tk.Tokenize(ctx, "cust-1", "f", tc.f, tc.v)
		}
		if !errors.Is(err, tokenize.ErrInvalidFormat) {
			t.Errorf("%s %q decrypt=%v: got %v, want ErrInvalidFormat", tc.f.Name(), tc.v, tc.decrypt, err)
		}
		checkNoEcho(t, err, tc.v)
	}
}
