package fpe

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRegBlockFIPS197 checks the register-block AES against the example
// vectors of FIPS 197 Appendix C.1 and C.3.
func TestRegBlockFIPS197(t *testing.T) {
	if !useAESNI {
		t.Skip("FF1 register path off here (no AES-NI or SSE4.1, purego, or FIPS 140-3 mode): crypto/aes encrypts every block")
	}
	for _, tc := range []struct{ key, pt, ct string }{
		{"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a"},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "00112233445566778899aabbccddeeff", "8ea2b7ca516745bfeafc49904b496089"},
	} {
		key, _ := hex.DecodeString(tc.key)
		pt, _ := hex.DecodeString(tc.pt)
		want, _ := hex.DecodeString(tc.ct)
		r := newRegBlock(key)
		if r == nil {
			t.Fatalf("no register block for a %d-byte key", len(key))
		}
		if got := regEncrypt(r, pt); !bytes.Equal(got, want) {
			t.Errorf("AES-%d: got %x, want %x", 8*len(key), got, want)
		}
	}
}

// TestRegBlockMatchesCryptoAES compares random keys and blocks with
// crypto/aes, including the round keys' effect on every byte.
func TestRegBlockMatchesCryptoAES(t *testing.T) {
	if !useAESNI {
		t.Skip("FF1 register path off here (no AES-NI or SSE4.1, purego, or FIPS 140-3 mode): crypto/aes encrypts every block")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{16, 32} {
		for range 500 {
			key := make([]byte, n)
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			r := newRegBlock(key)
			ref, _ := aes.NewCipher(key)
			pt := make([]byte, 16)
			for i := range pt {
				pt[i] = byte(rng.Uint32())
			}
			want := make([]byte, 16)
			ref.Encrypt(want, pt)
			if got := regEncrypt(r, pt); !bytes.Equal(got, want) {
				t.Fatalf("AES-%d key %x block %x: got %x, want %x", 8*n, key, pt, got, want)
			}
		}
	}
	if newRegBlock(make([]byte, 24)) != nil {
		t.Error("AES-192 must fall back to crypto/aes")
	}
}

func regEncrypt(r *regBlock, pt []byte) []byte {
	lo, hi := r.encrypt(binary.LittleEndian.Uint64(pt[0:8]), binary.LittleEndian.Uint64(pt[8:16]))
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, lo), hi)
}

// TestRegisterRoundsMatchBlockRounds runs the same inputs through FF1 with
// its assembly rounds and with crypto/aes for every block (the path of
// AES-192 keys, other CPUs and FIPS 140-3 mode), for both fixed-width
// round functions (d = 8 and d = 12), both directions and both key sizes.
func TestRegisterRoundsMatchBlockRounds(t *testing.T) {
	if !useAESNI {
		t.Skip("FF1 register path off here (no AES-NI or SSE4.1, purego, or FIPS 140-3 mode): crypto/aes encrypts every block")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, keyLen := range []int{16, 32} {
		for _, radix := range []int{10, 26, 36, 256} {
			key := make([]byte, keyLen)
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			a := uniformTestAlphabet(t, radix)
			fast, _ := NewFF1WithAlphabet(key, a)
			slow, _ := NewFF1WithAlphabet(key, a)
			if fast.rb == nil {
				t.Fatal("register path not in use")
			}
			slow.rb = nil
			for range 200 {
				n := fast.MinLen() + rng.IntN(2*fast.ri.k64)
				tw := make([]byte, rng.IntN(20))
				for i := range tw {
					tw[i] = byte(rng.Uint32())
				}
				x := randNumerals(rng, radix, n)
				got, want := make([]uint16, n), make([]uint16, n)
				if err := fast.EncryptNumerals(got, x, tw); err != nil {
					t.Fatal(err)
				}
				if err := slow.EncryptNumerals(want, x, tw); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("AES-%d radix %d n %d: registers %v, crypto/aes %v", 8*keyLen, radix, n, got, want)
				}
				if err := fast.DecryptNumerals(got, want, tw); err != nil || !slices.Equal(got, x) {
					t.Fatalf("AES-%d radix %d n %d: register decryption does not invert (%v)", 8*keyLen, radix, n, err)
				}
			}
		}
	}
}
