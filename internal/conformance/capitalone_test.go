package conformance_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	capff1 "github.com/capitalone/fpe/ff1"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

const (
	digits = "0123456789"
	base36 = "0123456789abcdefghijklmnopqrstuvwxyz"
)

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randString(r *rand.Rand, alphabet []rune, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

// TestFF1MatchesCapitalOne cross-checks FF1 against github.com/capitalone/fpe
// over every length from the minimum to 120 digits, covering the 64-bit,
// 128-bit and math/big arithmetic paths.
func TestFF1MatchesCapitalOne(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, alpha := range []string{digits, base36} {
		runes := []rune(alpha)
		for n := 0; n <= 120; n++ {
			key := randBytes(r, []int{16, 24, 32}[n%3])
			tweak := randBytes(r, r.IntN(30))
			c, err := fpe.NewFF1(key, alpha)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := capff1.NewCipher(len(alpha), 64, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			pt := randString(r, runes, n)
			got, err := c.Encrypt(pt, tweak)
			if n < c.MinLen() {
				if !errors.Is(err, fpe.ErrDomainTooSmall) {
					t.Fatalf("radix %d len %d: err = %v, want ErrDomainTooSmall", len(alpha), n, err)
				}
				continue
			}
			want, err2 := ref.EncryptWithTweak(pt, tweak)
			if err != nil || err2 != nil || got != want {
				t.Fatalf("radix %d len %d: got %q (%v), capitalone %q (%v)", len(alpha), n, got, err, want, err2)
			}
		}
	}
}
