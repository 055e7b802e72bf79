package fpe_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

const (
	digits   = "0123456789"
	base36   = "0123456789abcdefghijklmnopqrstuvwxyz"
	base62   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	polish   = "aąbcćdeęfghijklłmnńoóprsśtuwyzźż"
	mixedUTF = "0aé€𝄞ж中-"
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

// randomAlphabet returns radix distinct runes drawn from several scripts.
func randomAlphabet(r *rand.Rand, radix int) string {
	seen := map[rune]bool{}
	var sb strings.Builder
	for len(seen) < radix {
		var c rune
		switch r.IntN(4) {
		case 0:
			c = rune(0x21 + r.IntN(0x5E)) // printable ASCII
		case 1:
			c = rune(0xA0 + r.IntN(0x700)) // Latin, Greek, Cyrillic...
		case 2:
			c = rune(0x4E00 + r.IntN(0x5000)) // CJK
		default:
			c = rune(0x1F300 + r.IntN(0x300)) // 4-byte emoji
		}
		if !seen[c] && c != utf8.RuneError {
			seen[c] = true
			sb.WriteRune(c)
		}
	}
	return sb.String()
}

type cipherAPI interface {
	stringCipher
	EncryptNumerals(dst, src []uint16, tweak []byte) error
	DecryptNumerals(dst, src []uint16, tweak []byte) error
	MinLen() int
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{digits, base36, base62, polish, mixedUTF, "01", "ab", "0123456789ABCDEF"}
	for range 12 {
		alphabets = append(alphabets, randomAlphabet(r, 2+r.IntN(300)))
	}
	alphabets = append(alphabets, randomAlphabet(r, 5000))
	for ai, alpha := range alphabets {
		runes := []rune(alpha)
		for _, keyLen := range []int{16, 24, 32} {
			key := randBytes(r, keyLen)
			ff1, err := fpe.NewFF1(key, alpha)
			if err != nil {
				t.Fatal(err)
			}
			ff31, err := fpe.NewFF31(key, alpha)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name   string
				c      cipherAPI
				maxLen int
				tweak  func() []byte
			}{
				{"FF1", ff1, 300, func() []byte { return randBytes(r, r.IntN(40)) }},
				{"FF31", ff31, ff31.MaxLen(), func() []byte { return randBytes(r, 7) }},
			} {
				for range 20 {
					n := tc.c.MinLen() + r.IntN(tc.maxLen-tc.c.MinLen()+1)
					pt := randString(r, runes, n)
					tweak := tc.tweak()
					ct, err := tc.c.Encrypt(pt, tweak)
					if err != nil {
						t.Fatalf("%s alphabet %d len %d: Encrypt: %v", tc.name, ai, n, err)
					}
					if utf8.RuneCountInString(ct) != n {
						t.Fatalf("%s: ciphertext has %d characters, want %d", tc.name, utf8.RuneCountInString(ct), n)
					}
					back, err := tc.c.Decrypt(ct, tweak)
					if err != nil || back != pt {
						t.Fatalf("%s alphabet %d len %d: round trip failed: %v", tc.name, ai, n, err)
					}
					// The numeral API agrees with the string API.
					a, _ := fpe.NewAlphabet(alpha)
					x, _ := a.AppendNumerals(nil, pt)
					if err := tc.c.EncryptNumerals(x, x, tweak); err != nil {
						t.Fatal(err)
					}
					s, _ := a.AppendString(nil, x)
					if string(s) != ct {
						t.Fatalf("%s: numeral and string APIs disagree", tc.name)
					}
				}
			}
		}
	}
}

// TestPermutation encrypts the whole 10^6 domain of 6-digit strings and
// checks that no two inputs share a ciphertext and that decryption inverts.
func TestPermutation(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 16)
	tweak := []byte("permutation")
	for _, tc := range []struct {
		name string
		new  func() (cipherAPI, error)
	}{
		{"FF1", func() (cipherAPI, error) { return fpe.NewFF1(key, digits) }},
		{"FF31", func() (cipherAPI, error) { return fpe.NewFF31(key, digits) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.new()
			if err != nil {
				t.Fatal(err)
			}
			tw := tweak
			if tc.name == "FF31" {
				tw = tweak[:7]
			}
			const domain = 1_000_000
			seen := make([]bool, domain)
			var x, y [6]uint16
			for v := range domain {
				for i, w := 5, v; i >= 0; i, w = i-1, w/10 {
					x[i] = uint16(w % 10)
				}
				if err := c.EncryptNumerals(y[:], x[:], tw); err != nil {
					t.Fatal(err)
				}
				out := 0
				for _, d := range y {
					out = out*10 + int(d)
				}
				if seen[out] {
					t.Fatalf("two inputs encrypt to %06d", out)
				}
				seen[out] = true
				if v%997 == 0 {
					if err := c.DecryptNumerals(y[:], y[:], tw); err != nil || y != x {
						t.Fatalf("decrypt of %06d failed", v)
					}
				}
			}
		})
	}
}

func TestStrictInput(t *testing.T) {
	key := make([]byte, 16)
	ff1, _ := fpe.NewFF1(key, digits)
	ff31, _ := fpe.NewFF31(key, digits)
	tweak := make([]byte, 7)
	for _, c := range []stringCipher{ff1, ff31} {
		for _, bad := range []string{
			"+123456789", "-123456789", " 123456789", "123456789 ", "１23456789", // fullwidth one
			"12345678\u0669", "１２３４５６７８９０", "123456789\x00", "12345\xff6789", "O123456789",
		} {
			for _, f := range []func(string, []byte) (string, error){c.Encrypt, c.Decrypt} {
				out, err := f(bad, tweak)
				if !errors.Is(err, fpe.ErrInvalidInput) || out != "" {
					t.Errorf("input %q: out %q err %v, want ErrInvalidInput", bad, out, err)
				}
				if err != nil && strings.Contains(err.Error(), bad) {
					t.Errorf("error %q echoes the input", err)
				}
			}
		}
		good, err := c.Encrypt("0123456789", tweak)
		if err != nil || good == "" {
			t.Fatal(err)
		}
	}
}

func TestStrictInputPolish(t *testing.T) {
	key := make([]byte, 16)
	pl, err := fpe.NewFF1(key, polish)
	if err != nil {
		t.Fatal(err)
	}
	pt := "zażółcgęślajaźń"
	ct, err := pl.Encrypt(pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := pl.Decrypt(ct, nil); back != pt {
		t.Fatal("round trip")
	}
	for _, bad := range []string{"ZAŻÓŁCGĘŚLAJAŹŃ", "zaz\u0307ółcgęślajaźń", "zażółcgęśląjaźń x", "qqqqqqq"} {
		if _, err := pl.Encrypt(bad, nil); !errors.Is(err, fpe.ErrInvalidInput) {
			t.Errorf("input %q: err %v, want ErrInvalidInput", bad, err)
		}
	}
}

func TestNoMutation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	key := randBytes(r, 32)
	keyCopy := bytes.Clone(key)
	tweak := randBytes(r, 7)
	tweakCopy := bytes.Clone(tweak)
	ff1, err := fpe.NewFF1(key, digits)
	if err != nil {
		t.Fatal(err)
	}
	ff31, err := fpe.NewFF31(key, digits)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, keyCopy) {
		t.Fatal("constructor modified the key")
	}
	// The cipher must not alias the caller's key.
	ct1, _ := ff1.Encrypt("0123456789", tweak)
	ct3, _ := ff31.Encrypt("0123456789", tweak)
	clear(key)
	if c, _ := ff1.Encrypt("0123456789", tweak); c != ct1 {
		t.Fatal("FF1 aliases the caller's key")
	}
	if c, _ := ff31.Encrypt("0123456789", tweak); c != ct3 {
		t.Fatal("FF31 aliases the caller's key")
	}
	src := []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 0}
	srcCopy := append([]uint16(nil), src...)
	dst := make([]uint16, len(src))
	for _, c := range []cipherAPI{ff1, ff31} {
		if err := c.EncryptNumerals(dst, src, tweak); err != nil {
			t.Fatal(err)
		}
		if err := c.DecryptNumerals(dst, dst, tweak); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(src) != fmt.Sprint(srcCopy) || fmt.Sprint(dst) != fmt.Sprint(src) || !bytes.Equal(tweak, tweakCopy) {
			t.Fatal("caller input modified or round trip failed")
		}
	}
}

func TestConcurrent(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	ff1, _ := fpe.NewFF1(key, base36)
	ff31, _ := fpe.NewFF31(key, base36)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			runes := []rune(base36)
			for range 200 {
				for _, c := range []cipherAPI{ff1, ff31} {
					pt := randString(r, runes, 6+r.IntN(25))
					tweak := randBytes(r, 7)
					ct, err := c.Encrypt(pt, tweak)
					if err != nil {
						errs <- err
						return
					}
					if back, err := c.Decrypt(ct, tweak); err != nil || back != pt {
						errs <- fmt.Errorf("round trip failed: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDeterministic(t *testing.T) {
	c, _ := fpe.NewFF1(make([]byte, 16), digits)
	a, _ := c.Encrypt("4111111111111111", []byte("t1"))
	b, _ := c.Encrypt("4111111111111111", []byte("t1"))
	d, _ := c.Encrypt("4111111111111111", []byte("t2"))
	if a != b || a == d {
		t.Fatal("FF1 must be deterministic per tweak and depend on the tweak")
	}
}

func TestFF31Limits(t *testing.T) {
	key := make([]byte, 16)
	for _, tc := range []struct {
		alpha  string
		maxLen int
	}{{digits, 56}, {"abcdefghijklmnopqrstuvwxyz", 40}, {"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/", 32}, {"01", 192}} {
		c, err := fpe.NewFF31(key, tc.alpha)
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxLen() != tc.maxLen {
			t.Errorf("radix %d: MaxLen = %d, want %d", c.Radix(), c.MaxLen(), tc.maxLen)
		}
		runes := []rune(tc.alpha)
		tw := make([]byte, 7)
		ok := strings.Repeat(string(runes[1]), tc.maxLen)
		if _, err := c.Encrypt(ok, tw); err != nil {
			t.Errorf("radix %d: maxlen input rejected: %v", c.Radix(), err)
		}
		if _, err := c.Encrypt(ok+string(runes[0]), tw); !errors.Is(err, fpe.ErrInvalidInput) {
			t.Errorf("radix %d: maxlen+1: err = %v, want ErrInvalidInput", c.Radix(), err)
		}
		x := make([]uint16, tc.maxLen+1)
		if err := c.EncryptNumerals(x, x, tw); !errors.Is(err, fpe.ErrInvalidInput) {
			t.Errorf("radix %d: numerals maxlen+1: err = %v", c.Radix(), err)
		}
	}
	c, _ := fpe.NewFF31(key, digits)
	for _, n := range []int{0, 1, 6, 8, 16} {
		if _, err := c.Encrypt("0123456789", make([]byte, n)); !errors.Is(err, fpe.ErrInvalidTweak) {
			t.Errorf("tweak of %d bytes: err = %v, want ErrInvalidTweak", n, err)
		}
	}
	if _, err := c.Encrypt("0123456789", nil); !errors.Is(err, fpe.ErrInvalidTweak) {
		t.Errorf("nil tweak: err = %v", err)
	}
	big, _ := fpe.NewFF31(key, syntheticAlphabet(65536))
	if big.MaxLen() != 12 {
		t.Errorf("radix 65536: MaxLen = %d, want 12", big.MaxLen())
	}
}

func TestFF1Limits(t *testing.T) {
	c, _ := fpe.NewFF1(make([]byte, 16), digits)
	if _, err := c.Encrypt("123456", make([]byte, fpe.MaxTweakLenFF1)); err != nil {
		t.Errorf("max tweak: %v", err)
	}
	if _, err := c.Encrypt("123456", make([]byte, fpe.MaxTweakLenFF1+1)); !errors.Is(err, fpe.ErrInvalidTweak) {
		t.Errorf("tweak too long: err = %v", err)
	}
	if err := c.EncryptNumerals(make([]uint16, 6), []uint16{1, 2, 3, 4, 5, 10}, nil); !errors.Is(err, fpe.ErrInvalidInput) {
		t.Errorf("numeral ≥ radix: err = %v", err)
	}
}

func TestDomainTooSmall(t *testing.T) {
	key := make([]byte, 16)
	for _, tc := range []struct {
		alpha  string
		minLen int
	}{{digits, 6}, {"01", 20}, {base36, 4}, {base62, 4}, {polish, 4}, {randomAlphabet(rand.New(rand.NewPCG(2, 2)), 1001), 2}} {
		ff1, _ := fpe.NewFF1(key, tc.alpha)
		ff31, _ := fpe.NewFF31(key, tc.alpha)
		runes := []rune(tc.alpha)
		for _, c := range []cipherAPI{ff1, ff31} {
			if c.MinLen() != tc.minLen {
				t.Errorf("radix %d: MinLen = %d, want %d", len(runes), c.MinLen(), tc.minLen)
			}
			tw := make([]byte, 7)
			for n := 0; n < tc.minLen; n++ {
				s := strings.Repeat(string(runes[0]), n)
				if _, err := c.Encrypt(s, tw); !errors.Is(err, fpe.ErrDomainTooSmall) {
					t.Errorf("radix %d len %d: err = %v, want ErrDomainTooSmall", len(runes), n, err)
				}
				if _, err := c.Decrypt(s, tw); !errors.Is(err, fpe.ErrDomainTooSmall) {
					t.Errorf("radix %d len %d: Decrypt err = %v", len(runes), n, err)
				}
			}
			if _, err := c.Encrypt(strings.Repeat(string(runes[0]), tc.minLen), tw); err != nil {
				t.Errorf("radix %d len %d: %v", len(runes), tc.minLen, err)
			}
		}
	}
}

func TestInvalidAlphabet(t *testing.T) {
	key := make([]byte, 16)
	for _, alpha := range []string{"", "0", "00", "0123456789 0", "abca", "01\xff", "0\uFFFD", "aąa", string([]byte{0xc4})} {
		if _, err := fpe.NewAlphabet(alpha); !errors.Is(err, fpe.ErrInvalidAlphabet) {
			t.Errorf("NewAlphabet(%q): err = %v", alpha, err)
		}
		if _, err := fpe.NewFF1(key, alpha); !errors.Is(err, fpe.ErrInvalidAlphabet) {
			t.Errorf("NewFF1(%q): err = %v", alpha, err)
		}
		if _, err := fpe.NewFF31(key, alpha); !errors.Is(err, fpe.ErrInvalidAlphabet) {
			t.Errorf("NewFF31(%q): err = %v", alpha, err)
		}
	}
	huge := syntheticAlphabet(65536) + "x"
	if _, err := fpe.NewAlphabet(huge); !errors.Is(err, fpe.ErrInvalidAlphabet) {
		t.Errorf("65537 characters: err = %v", err)
	}
	if _, err := fpe.NewFF1WithAlphabet(key, nil); !errors.Is(err, fpe.ErrInvalidAlphabet) {
		t.Errorf("nil alphabet: err = %v", err)
	}
}

func TestInvalidKey(t *testing.T) {
	for _, n := range []int{0, 1, 8, 15, 17, 20, 31, 33, 64} {
		if _, err := fpe.NewFF1(make([]byte, n), digits); !errors.Is(err, fpe.ErrInvalidKey) {
			t.Errorf("FF1 key of %d bytes: err = %v", n, err)
		}
		if _, err := fpe.NewFF31(make([]byte, n), digits); !errors.Is(err, fpe.ErrInvalidKey) {
			t.Errorf("FF31 key of %d bytes: err = %v", n, err)
		}
	}
}

func TestDstTooShortPanics(t *testing.T) {
	c, _ := fpe.NewFF1(make([]byte, 16), digits)
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	_ = c.EncryptNumerals(make([]uint16, 5), make([]uint16, 6), nil)
}

func TestAlphabet(t *testing.T) {
	a, err := fpe.NewAlphabet(polish)
	if err != nil {
		t.Fatal(err)
	}
	if a.Radix() != 32 || a.String() != polish {
		t.Fatalf("Radix %d String %q", a.Radix(), a.String())
	}
	x, err := a.AppendNumerals(nil, "ąb")
	if err != nil || len(x) != 2 || x[0] != 1 || x[1] != 2 {
		t.Fatalf("AppendNumerals = %v, %v", x, err)
	}
	if _, err := a.AppendString(nil, []uint16{1, 32}); !errors.Is(err, fpe.ErrInvalidInput) {
		t.Fatalf("AppendString(32): %v", err)
	}
	s, err := a.AppendString([]byte("x"), x)
	if err != nil || string(s) != "xąb" {
		t.Fatalf("AppendString = %q, %v", s, err)
	}
}
