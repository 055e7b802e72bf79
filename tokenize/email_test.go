package tokenize_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func randomLocal(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var sb strings.Builder
	n := 5 + r.IntN(20)
	for i := range n {
		if i > 0 && i < n-1 && r.IntN(8) == 0 {
			sb.WriteByte(".+_-"[r.IntN(4)])
			continue
		}
		c := chars[r.IntN(26)] // mostly lowercase
		if r.IntN(6) == 0 {
			c = chars[r.IntN(len(chars))]
		}
		sb.WriteByte(c)
	}
	s := sb.String()
	if strings.Contains(s, "..") || len(strings.Trim(s, ".+_-")) < 5 || strings.Count(s, ".")+strings.Count(s, "+")+strings.Count(s, "_")+strings.Count(s, "-") > len(s)-5 {
		return randomLocal(r)
	}
	return s
}

func TestEmail(t *testing.T) {
	_, tk := newTokenizer(t)
	domains := []string{"example.com", "gmail.com", "wp.pl", "Shop-Online.co.uk", "xn--80ak6aa92e.com"}
	fixed := []string{"jan.kowalski@example.com", "Jan.Kowalski+shop@gmail.com", "anna_nowak-1990@wp.pl", "12345678@o2.pl", "abcde@a.io"}
	t.Run("keep-domain", func(t *testing.T) {
		runFormat(t, tk, formatCase{
			name:  "email",
			f:     tokenize.Email{},
			fixed: fixed,
			gen: func(r *rand.Rand) string {
				return randomLocal(r) + "@" + domains[r.IntN(len(domains))]
			},
			check: func(t *testing.T, v, tok string) {
				if v[strings.IndexByte(v, '@'):] != tok[strings.IndexByte(tok, '@'):] {
					t.Fatalf("domain not kept: %q -> %q", v, tok)
				}
			},
		})
	})
	t.Run("tokenize-domain", func(t *testing.T) {
		runFormat(t, tk, formatCase{
			name:  "email/domain",
			f:     tokenize.Email{TokenizeDomain: true},
			fixed: []string{"jan.kowalski@example.com", "Jan.Kowalski+shop@gmail.com", "x.y.z.w.q@shop-online.co.uk"},
			gen: func(r *rand.Rand) string {
				return randomLocal(r) + "@" + []string{"example.com", "gmail.com", "Shop-Online.co.uk"}[r.IntN(3)]
			},
			check: func(t *testing.T, v, tok string) {
				if v[strings.LastIndexByte(v, '.'):] != tok[strings.LastIndexByte(tok, '.'):] {
					t.Fatalf("TLD not kept: %q -> %q", v, tok)
				}
			},
		})
	})
	// One local part at two domains gives unrelated local parts.
	a, _ := tk.Tokenize(ctx, "c", "f", tokenize.Email{}, "jan.kowalski@example.com")
	b, _ := tk.Tokenize(ctx, "c", "f", tokenize.Email{}, "jan.kowalski@example.org")
	if a[:12] == b[:12] {
		t.Error("local part token does not depend on the domain")
	}
}

func TestEmailBadInput(t *testing.T) {
	_, tk := newTokenizer(t)
	expectInvalid(t, tk, tokenize.Email{},
		"", "@", "jan", "jan@", "@example.com", "jan@@example.com", "jan.kowalski@example", ".jan@example.com",
		"jan.@example.com", "jan..kowalski@example.com", "\"jan\"@example.com", "jan@[127.0.0.1]",
		"jan@-example.com", "jan@example..com", "jan@example.com.", "jan kowalski@example.com", "jań.kowalski@example.com",
		"jan.kowalski@przykład.pl", strings.Repeat("a", 65)+"@example.com", "a@"+strings.Repeat("b", 250)+".com",
		"jan@example.com\x00", "jan\xff@example.com",
		// Too short: 4 letters, 3 letters and 1 digit.
		"anna@example.com", "ann1@example.com", "a.b.c@example.com")
	expectInvalid(t, tk, tokenize.Email{TokenizeDomain: true}, "jan.kowalski@wp.pl", "jan.kowalski@a.b.c.pl")
}
