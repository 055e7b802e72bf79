package aesni

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
	"testing"
)

// BenchmarkCBCMAC is CBC-MAC over 1 to 256 blocks, beside the same loop
// on crypto/aes's cipher.Block (one call per block).
func BenchmarkCBCMAC(b *testing.B) {
	if !Available {
		b.Skip("no AES-NI schedule here")
	}
	key := make([]byte, 32)
	x, ref := New(key), mustAES(b, key)
	for _, n := range []int{1, 2, 16, 256} {
		p := make([]byte, 16*n)
		b.Run(fmt.Sprintf("%dblocks/aesni", n), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			var st [16]byte
			for b.Loop() {
				x.CBCMAC(&st, p)
			}
		})
		b.Run(fmt.Sprintf("%dblocks/crypto-aes", n), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			var st [16]byte
			for b.Loop() {
				for i := 0; i < len(p); i += 16 {
					subtle.XORBytes(st[:], st[:], p[i:i+16])
					ref.Encrypt(st[:], st[:])
				}
			}
		})
	}
}

// BenchmarkCTR is CTR over 2 to 256 blocks, beside crypto/cipher's CTR on
// crypto/aes (a new stream per message, as AES-SIV needs).
func BenchmarkCTR(b *testing.B) {
	if !Available {
		b.Skip("no AES-NI schedule here")
	}
	key := make([]byte, 32)
	x, ref := New(key), mustAES(b, key)
	for _, n := range []int{2, 16, 256} {
		p := make([]byte, 16*n)
		b.Run(fmt.Sprintf("%dblocks/aesni", n), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				x.CTR(1, 2, p, p)
			}
		})
		b.Run(fmt.Sprintf("%dblocks/crypto-cipher", n), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			iv := make([]byte, 16)
			for b.Loop() {
				cipher.NewCTR(ref, iv).XORKeyStream(p, p)
			}
		})
	}
}

func mustAES(b *testing.B, key []byte) cipher.Block {
	c, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
