package tokenize_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// formatCase drives the checks every format must pass.
type formatCase struct {
	name  string
	f     tokenize.Format
	gen   func(r *rand.Rand) string // a random valid value
	fixed []string                  // hand-picked valid values
	// check, if set, tests format-specific properties of a token.
	check func(t *testing.T, value, token string)
	// weak marks formats whose domain is deliberately tiny, where tokens
	// of two subjects may collide by chance.
	weak bool
	// classChanges marks formats where a character may change class (a
	// Pattern X), so only the length is compared.
	classChanges bool
}

const randomValues = 200

// runFormat tokenizes fixed and random values and checks that every token
// has the value's shape, passes c.check, detokenizes to the value, is
// stable, and differs across subjects and fields.
func runFormat(t *testing.T, tk *tokenize.Tokenizer, c formatCase) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, uint64(len(c.name))))
	values := append([]string(nil), c.fixed...)
	for range randomValues {
		values = append(values, c.gen(r))
	}
	changed, sameSubject, sameField := 0, 0, 0
	for i, v := range values {
		tok, err := tk.Tokenize(ctx, "cust-1", "shop.col", c.f, v)
		if err != nil {
			t.Fatalf("Tokenize(value #%d %q): %v", i, v, err)
		}
		if c.classChanges && len([]rune(v)) != len([]rune(tok)) || !c.classChanges && !sameShape(v, tok) {
			t.Fatalf("token %q does not have the shape of %q", tok, v)
		}
		if c.check != nil {
			c.check(t, v, tok)
		}
		back, err := tk.Detokenize(ctx, "cust-1", "shop.col", c.f, tok)
		if err != nil || back != v {
			t.Fatalf("Detokenize(%q) = %q, %v; want %q", tok, back, err, v)
		}
		if tok != v {
			changed++
		}
		if i < 20 {
			again, err := tk.Tokenize(ctx, "cust-1", "shop.col", c.f, v)
			if err != nil || again != tok {
				t.Fatalf("token not stable: %q then %q (%v)", tok, again, err)
			}
		}
		other, err := tk.Tokenize(ctx, "cust-2", "shop.col", c.f, v)
		if err != nil {
			t.Fatal(err)
		}
		if other == tok {
			sameSubject++
		}
		field, err := tk.Tokenize(ctx, "cust-1", "shop.col2", c.f, v)
		if err != nil {
			t.Fatal(err)
		}
		if field == tok {
			sameField++
		}
	}
	if changed < len(values)*9/10 {
		t.Errorf("only %d of %d tokens differ from their value", changed, len(values))
	}
	limit := 0
	if c.weak {
		limit = len(values) / 20
	}
	if sameSubject > limit || sameField > limit {
		t.Errorf("tokens equal across subjects %d times, across fields %d times", sameSubject, sameField)
	}
}

// sameShape reports whether a and b have the same length in characters,
// digits where the other has digits, lowercase and uppercase letters where
// the other has them, and identical other characters.
func sameShape(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		x, y := ra[i], rb[i]
		switch {
		case x >= '0' && x <= '9':
			if y < '0' || y > '9' {
				return false
			}
		case unicode.IsLower(x):
			if !unicode.IsLower(y) {
				return false
			}
		case unicode.IsUpper(x):
			if !unicode.IsUpper(y) {
				return false
			}
		default:
			if x != y {
				return false
			}
		}
	}
	return true
}

// expectInvalid checks that tokenizing and detokenizing each value fails
// with ErrInvalidFormat or ErrDomainTooSmall, without echoing the value.
func expectInvalid(t *testing.T, tk *tokenize.Tokenizer, f tokenize.Format, values ...string) {
	t.Helper()
	for _, v := range values {
		for _, decrypt := range []bool{false, true} {
			var err error
			if decrypt {
				_, err = tk.Detokenize(ctx, "cust-1", "shop.col", f, v)
			} else {
				_, err = tk.Tokenize(ctx, "cust-1", "shop.col", f, v)
			}
			if !errors.Is(err, tokenize.ErrInvalidFormat) && !errors.Is(err, tokenize.ErrDomainTooSmall) {
				t.Errorf("%s(%q): got %v, want ErrInvalidFormat", map[bool]string{false: "Tokenize", true: "Detokenize"}[decrypt], v, err)
				continue
			}
			checkNoEcho(t, err, v)
		}
	}
}

func checkNoEcho(t testing.TB, err error, v string) {
	t.Helper()
	if err == nil {
		return
	}
	// Short values may coincide with words or examples of the message
	// ("need 00-000"), so only values of eight bytes or more are checked.
	msg := err.Error()
	if len(strings.TrimSpace(v)) >= 8 && strings.Contains(msg, v) {
		t.Fatalf("error %q echoes the value", msg)
	}
}

func digitString(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
