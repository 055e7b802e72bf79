package conformance_test

import (
	"bytes"
	"crypto/aes"
	"testing"

	capff1 "github.com/capitalone/fpe/ff1"
	capff3 "github.com/capitalone/fpe/ff3"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

var benchKey = bytes.Repeat([]byte{0x2B}, 16)

var benchCases = []struct {
	name     string
	alphabet string
	input    string
}{
	{"radix10_len16", digits, "4111111111111111"},
	{"radix10_len9", digits, "123456789"},
	{"radix10_len19", digits, "4000000000000000006"},
	{"radix10_len24", digits, "109010140000071219812874"},
	{"radix36_len20", base36, "0123456789abcdefghij"},
}

var sink string

func BenchmarkFF1(b *testing.B) {
	for _, bc := range benchCases {
		c, err := fpe.NewFF1(benchKey, bc.alphabet)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/string", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.input)))
			for b.Loop() {
				out, err := c.Encrypt(bc.input, nil)
				if err != nil {
					b.Fatal(err)
				}
				sink = out
			}
		})
		b.Run(bc.name+"/numerals", func(b *testing.B) {
			a, _ := fpe.NewAlphabet(bc.alphabet)
			src, _ := a.AppendNumerals(nil, bc.input)
			dst := make([]uint16, len(src))
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if err := c.EncryptNumerals(dst, src, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/capitalone", func(b *testing.B) {
			ref, err := capff1.NewCipher(len(bc.alphabet), 16, bytes.Clone(benchKey), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.input)))
			for b.Loop() {
				out, err := ref.Encrypt(bc.input)
				if err != nil {
					b.Fatal(err)
				}
				sink = out
			}
		})
	}
}

func BenchmarkFF31(b *testing.B) {
	const input = "4111111111111111"
	tweak := []byte{1, 2, 3, 4, 5, 6, 7}
	c, err := fpe.NewFF31(benchKey, digits)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("radix10_len16/string", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(input)))
		for b.Loop() {
			out, err := c.Encrypt(input, tweak)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
	})
	b.Run("radix10_len16/numerals", func(b *testing.B) {
		a, _ := fpe.NewAlphabet(digits)
		src, _ := a.AppendNumerals(nil, input)
		dst := make([]uint16, len(src))
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if err := c.EncryptNumerals(dst, src, tweak); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("radix10_len16/capitalone_ff3", func(b *testing.B) {
		// capitalone's ff3 is the original FF3 (64-bit tweaks); it reverses
		// the key slice it is given, hence the copy.
		ref, err := capff3.NewCipher(10, bytes.Clone(benchKey), []byte{1, 2, 3, 4, 5, 6, 7, 8})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(input)))
		for b.Loop() {
			out, err := ref.Encrypt(input)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
	})
}

// BenchmarkAESFloor measures what FF1 cannot beat: one AES block, and the
// chain of 11 dependent blocks FF1 needs for 16 digits (P, then one block per
// round for 10 rounds).
func BenchmarkAESFloor(b *testing.B) {
	block, err := aes.NewCipher(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	var buf [16]byte
	b.Run("1block", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(16)
		for b.Loop() {
			block.Encrypt(buf[:], buf[:])
		}
	})
	b.Run("11blocks", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(16 * 11)
		for b.Loop() {
			for range 11 {
				block.Encrypt(buf[:], buf[:])
			}
		}
	})
}
