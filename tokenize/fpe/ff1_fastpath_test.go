package fpe

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// bigPath is FF1 through cryptBig, the literal math/big transcription of
// SP 800-38G that shares nothing with the fixed-width paths but the AES
// cipher and P: the reference the fast paths must agree with.
func bigPath(c *FF1, x []uint16, tweak []byte, enc bool) []uint16 {
	out := make([]uint16, len(x))
	c.cryptBig(out, slices.Clone(x), tweak, enc)
	return out
}

func randNumerals(r *rand.Rand, radix, n int) []uint16 {
	x := make([]uint16, n)
	for i := range x {
		x[i] = uint16(r.IntN(radix))
	}
	return x
}

// TestFastPathMatchesBig: for random radixes, lengths and tweaks, with the
// prefix cache cold, warm and thrashed by more (length, tweak) pairs than
// it has slots, crypt (the uint64 and u128 paths) gives what cryptBig
// gives, both ways.
func TestFastPathMatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	radixes := []int{10, 10, 10, 2, 16, 26, 36, 62, 100, 255, 1000, 65535, 65536}
	for _, radix := range radixes {
		key := make([]byte, []int{16, 24, 32}[r.IntN(3)])
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		a := uniformTestAlphabet(t, radix)
		c, err := NewFF1WithAlphabet(key, a)
		if err != nil {
			t.Fatal(err)
		}
		tweaks := [][]byte{nil, {}, []byte("field"), make([]byte, 15), make([]byte, 16), make([]byte, 17)}
		for range 24 {
			tw := make([]byte, r.IntN(70))
			for i := range tw {
				tw[i] = byte(r.Uint32())
			}
			tweaks = append(tweaks, tw)
		}
		for trial := range 300 {
			n := c.MinLen() + r.IntN(min(40, 2*c.ri.k64+6))
			tw := tweaks[r.IntN(len(tweaks))]
			if trial%50 == 0 {
				tw = make([]byte, 300) // beyond maxCachedTweak
			}
			x := randNumerals(r, radix, n)
			got := make([]uint16, n)
			if err := c.EncryptNumerals(got, x, tw); err != nil {
				t.Fatal(err)
			}
			if want := bigPath(c, x, tw, true); !slices.Equal(got, want) {
				t.Fatalf("radix %d, n %d, tweak %d bytes: fast path %v, math/big %v", radix, n, len(tw), got, want)
			}
			back := make([]uint16, n)
			if err := c.DecryptNumerals(back, got, tw); err != nil {
				t.Fatal(err)
			}
			if want := bigPath(c, got, tw, false); !slices.Equal(back, want) || !slices.Equal(back, x) {
				t.Fatalf("radix %d, n %d: decryption disagrees with math/big or does not invert", radix, n)
			}
		}
	}
}

// TestPrefixCacheKeyedByTweakAndLength: two calls differing only in the
// tweak, or only in the length, never share a cached prefix state, even
// when they land in the same slot.
func TestPrefixCacheKeyedByTweakAndLength(t *testing.T) {
	c, err := NewFF1(make([]byte, 16), "0123456789")
	if err != nil {
		t.Fatal(err)
	}
	x := []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6}
	seen := map[string]bool{}
	for i := range 200 { // far more pairs than slots: every slot is reused
		tw := []byte{byte(i), byte(i >> 8)}
		for _, n := range []int{15, 16} {
			got := make([]uint16, n)
			if err := c.EncryptNumerals(got, x[:n], tw); err != nil {
				t.Fatal(err)
			}
			if want := bigPath(c, x[:n], tw, true); !slices.Equal(got, want) {
				t.Fatalf("tweak %x, n %d: %v, want %v", tw, n, got, want)
			}
			key := string(rune(n)) + string(tw)
			if seen[key] {
				t.Fatal("duplicate case")
			}
			seen[key] = true
		}
	}
}

func uniformTestAlphabet(t *testing.T, radix int) *Alphabet {
	t.Helper()
	rs := make([]rune, radix)
	for i := range rs {
		rs[i] = rune(0x10000 + i) // supplementary planes: no surrogates, no U+FFFD
	}
	a, err := NewAlphabet(string(rs))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// FuzzFF1FastVsBig compares the fixed-width paths with math/big on
// arbitrary keys, radixes, numerals and tweaks.
func FuzzFF1FastVsBig(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), uint16(10), []byte("4111111111111111"), []byte{})
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint16(36), []byte("0123456789abcdefghij"), []byte("tweak"))
	f.Add([]byte("0123456789abcdef"), uint16(10), []byte("1234567890123456789"), make([]byte, 17))
	alphabets := map[int]*Alphabet{}
	f.Fuzz(func(t *testing.T, key []byte, radix uint16, digits, tweak []byte) {
		if len(key) < 16 || radix < 2 || len(digits) > 80 || len(tweak) > 400 {
			return
		}
		key = key[:[]int{16, 24, 32}[min(len(key)-16, 16)/8]]
		r := int(radix)
		a := alphabets[r]
		if a == nil {
			a = uniformTestAlphabet(t, r)
			alphabets[r] = a
		}
		c, err := NewFF1WithAlphabet(key, a)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]uint16, len(digits))
		for i, d := range digits {
			x[i] = uint16(int(d) % r)
		}
		if len(x) < c.MinLen() {
			return
		}
		for _, enc := range []bool{true, false} {
			got := make([]uint16, len(x))
			var err error
			if enc {
				err = c.EncryptNumerals(got, x, tweak)
			} else {
				err = c.DecryptNumerals(got, x, tweak)
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := bigPath(c, x, tweak, enc); !slices.Equal(got, want) {
				t.Fatalf("enc=%v radix %d n %d: fast %v, math/big %v", enc, r, len(x), got, want)
			}
		}
	})
}

// TestBarrettOneSubtraction: with recip = ⌊(2^64-1)/m⌋ one conditional
// subtraction reduces any 64-bit y modulo every m < 2^32 of the fast
// rounds, powers of two included, as rounds64 relies on.
func TestBarrettOneSubtraction(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, radix := range []int{2, 3, 10, 16, 26, 36, 62, 255, 256, 1000, 65535, 65536} {
		ri := newRadixInfo(radix)
		for k := 1; k <= ri.k64; k++ {
			md, _ := ri.modulus(k)
			m := md.m1
			if m >= 1<<32 {
				break
			}
			ys := []uint64{0, 1, m - 1, m, m + 1, ^uint64(0), ^uint64(0) - 1, ^uint64(0) / m * m, ^uint64(0)/m*m - 1}
			for range 2000 {
				ys = append(ys, r.Uint64(), r.Uint64()/m*m+m-1)
			}
			for _, y := range ys {
				q, _ := bits.Mul64(y, md.recip)
				if got := condSub(y-q*m, m); got != y%m {
					t.Fatalf("radix %d, k %d: %d mod %d = %d, want %d", radix, k, y, m, got, y%m)
				}
			}
		}
	}
}
