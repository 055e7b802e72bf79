package aesni

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

func skipWithout(t *testing.T) {
	t.Helper()
	if !Available {
		t.Skip("no AES-NI schedule on this machine or build (FIPS 140-3 mode, purego, or not amd64): crypto/aes is used instead")
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestFIPS197 checks the schedule and one block against FIPS 197 appendix
// C.1 and C.3.
func TestFIPS197(t *testing.T) {
	skipWithout(t)
	for _, tc := range []struct{ key, ct string }{
		{"000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "8ea2b7ca516745bfeafc49904b496089"},
	} {
		b := New(unhex(tc.key))
		var x [16]byte
		copy(x[:], unhex("00112233445566778899aabbccddeeff"))
		b.Encrypt(&x, &x)
		if got := hex.EncodeToString(x[:]); got != tc.ct {
			t.Errorf("AES-%d: got %s, want %s", len(tc.key)*4, got, tc.ct)
		}
	}
}

func TestNewKeySizes(t *testing.T) {
	skipWithout(t)
	for _, n := range []int{0, 8, 24, 31, 33, 64} {
		if New(make([]byte, n)) != nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}

// TestMatchesCryptoAES compares Encrypt, CBCMAC and CTR with the same
// constructions on crypto/aes, for both key sizes, every block count up to
// 9 and a counter that carries into its high word.
func TestMatchesCryptoAES(t *testing.T) {
	skipWithout(t)
	for _, size := range []int{16, 32} {
		for trial := 0; trial < 20; trial++ {
			key := make([]byte, size)
			rand.Read(key)
			b := New(key)
			ref, _ := aes.NewCipher(key)

			var in, got, want [16]byte
			rand.Read(in[:])
			b.Encrypt(&got, &in)
			ref.Encrypt(want[:], in[:])
			if got != want {
				t.Fatalf("AES-%d Encrypt differs", size*8)
			}

			for n := 0; n <= 9; n++ {
				p := make([]byte, 16*n)
				rand.Read(p)

				var x, y [16]byte
				rand.Read(x[:])
				y = x
				b.CBCMAC(&x, p)
				for i := 0; i < n; i++ {
					for j := range y {
						y[j] ^= p[16*i+j]
					}
					ref.Encrypt(y[:], y[:])
				}
				if x != y {
					t.Fatalf("AES-%d CBCMAC of %d blocks differs", size*8, n)
				}
				var last, k [16]byte
				rand.Read(last[:])
				rand.Read(k[:])
				b.CBCMACLast(&x, &last, &k)
				for j := range y {
					y[j] ^= last[j] ^ k[j]
				}
				ref.Encrypt(y[:], y[:])
				if x != y {
					t.Fatalf("AES-%d CBCMACLast differs", size*8)
				}

				hi, lo := uint64(trial), ^uint64(0)-uint64(n/2) // carries for n > n/2
				dst := make([]byte, len(p))
				b.CTR(hi, lo, dst, p)
				wantCT := make([]byte, len(p))
				h, l := hi, lo
				for i := 0; i < n; i++ {
					var ctr, ks [16]byte
					binary.BigEndian.PutUint64(ctr[:8], h)
					binary.BigEndian.PutUint64(ctr[8:], l)
					ref.Encrypt(ks[:], ctr[:])
					for j := range ks {
						wantCT[16*i+j] = p[16*i+j] ^ ks[j]
					}
					if l++; l == 0 {
						h++
					}
				}
				if !bytes.Equal(dst, wantCT) {
					t.Fatalf("AES-%d CTR of %d blocks differs", size*8, n)
				}
				inPlace := bytes.Clone(p)
				b.CTR(hi, lo, inPlace, inPlace)
				if !bytes.Equal(inPlace, wantCT) {
					t.Fatalf("AES-%d CTR of %d blocks in place differs", size*8, n)
				}
			}
		}
	}
}

func TestPartialBlocksPanic(t *testing.T) {
	skipWithout(t)
	b := New(make([]byte, 32))
	for name, f := range map[string]func(){
		"CBCMAC":        func() { var x [16]byte; b.CBCMAC(&x, make([]byte, 17)) },
		"CTR":           func() { b.CTR(0, 0, make([]byte, 32), make([]byte, 31)) },
		"CTR short dst": func() { b.CTR(0, 0, make([]byte, 16), make([]byte, 32)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
