package aessiv

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	tinksubtle "github.com/tink-crypto/tink-go/v2/daead/subtle"

	"github.com/fieldcrypt/fieldcrypt/internal/aesni"
)

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// TestRFC5297 checks the two examples of RFC 5297 appendix A
// (testdata/rfc5297.json, which names its source).
func TestRFC5297(t *testing.T) {
	data, err := os.ReadFile("testdata/rfc5297.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Source  string
		Vectors []struct {
			Name                  string
			Key                   hexBytes
			AD                    []hexBytes
			Plaintext, Ciphertext hexBytes
		}
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) != 2 {
		t.Fatalf("%d vectors, want A.1 and A.2", len(file.Vectors))
	}
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			s, err := New(v.Key)
			if err != nil {
				t.Fatal(err)
			}
			ad := make([][]byte, len(v.AD))
			for i, c := range v.AD {
				ad[i] = c
			}
			if got := s.SealComponents(nil, v.Plaintext, ad); !bytes.Equal(got, v.Ciphertext) {
				t.Fatalf("SealComponents = %x, want %x", got, v.Ciphertext)
			}
			pt, err := s.OpenComponents(nil, v.Ciphertext, ad)
			if err != nil || !bytes.Equal(pt, v.Plaintext) {
				t.Fatalf("OpenComponents = %x, %v", pt, err)
			}
			if len(ad) == 1 { // the one-component API is the same S2V
				if got := s.Seal(nil, v.Plaintext, ad[0]); !bytes.Equal(got, v.Ciphertext) {
					t.Fatalf("Seal = %x, want %x", got, v.Ciphertext)
				}
				for cut := 0; cut <= len(ad[0]); cut++ {
					if got := s.SealJoined(nil, v.Plaintext, ad[0][:cut], ad[0][cut:]); !bytes.Equal(got, v.Ciphertext) {
						t.Fatalf("SealJoined split at %d = %x", cut, got)
					}
				}
			}
			bad := bytes.Clone(v.Ciphertext)
			bad[len(bad)-1] ^= 1
			if _, err := s.OpenComponents(nil, bad, ad); !errors.Is(err, ErrOpen) {
				t.Fatalf("a modified ciphertext opened: %v", err)
			}
		})
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestMatchesTink: byte-identical to Tink's AESSIV, which wrote every
// deterministic ciphertext fieldcrypt has issued, over every plaintext
// length around the block and CTR-path boundaries and associated data of
// 0 to 70 bytes, split into head and tail at every point.
func TestMatchesTink(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 4 {
		key := randBytes(r, 64)
		if trial == 3 {
			clear(key[32:]) // format 1's zero CTR half
		}
		ref, err := tinksubtle.NewAESSIV(key)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 3*ctrBlocksOnStack*aes.BlockSize; n++ {
			pt := randBytes(r, n)
			ad := randBytes(r, r.IntN(71))
			want, err := ref.EncryptDeterministically(pt, ad)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Seal(nil, pt, ad); !bytes.Equal(got, want) {
				t.Fatalf("len %d, ad %d: Seal = %x, Tink %x", n, len(ad), got, want)
			}
			cut := r.IntN(len(ad) + 1)
			prefix := []byte("prefix")
			got := s.SealJoined(bytes.Clone(prefix), pt, ad[:cut], ad[cut:])
			if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("len %d: SealJoined after a prefix = %x", n, got)
			}
			pt2, err := s.OpenJoined(bytes.Clone(prefix), want, ad[:cut], ad[cut:])
			if err != nil || !bytes.Equal(pt2, append(bytes.Clone(prefix), pt...)) {
				t.Fatalf("len %d: OpenJoined = %x, %v", n, pt2, err)
			}
			if p, err := ref.DecryptDeterministically(got[len(prefix):], ad); err != nil || !bytes.Equal(p, pt) {
				t.Fatalf("Tink does not open our ciphertext: %v", err)
			}
		}
	}
}

// TestOpenRejects: every single-bit change of the ciphertext or the
// associated data, and every truncation, fails with ErrOpen, returns dst
// unextended and leaves no plaintext in its spare capacity.
func TestOpenRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s, _ := New(randBytes(r, 64))
	pt := []byte("ada@example.com, 31 bytes long!")
	ad := []byte("customers/email")
	ct := s.Seal(nil, pt, ad)
	check := func(what string, ct, ad []byte) {
		t.Helper()
		dst := make([]byte, 3, 128)
		out, err := s.Open(dst, ct, ad)
		if !errors.Is(err, ErrOpen) {
			t.Fatalf("%s: opened: %v", what, err)
		}
		if len(out) != 3 || &out[0] != &dst[0] {
			t.Fatalf("%s: dst extended on failure", what)
		}
		if bytes.Contains(dst[:cap(dst)], pt[:8]) {
			t.Fatalf("%s: unauthenticated plaintext left in dst's capacity", what)
		}
	}
	for i := range 8 * len(ct) {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 1 << (i % 8)
		check("bit flip", bad, ad)
	}
	for i := range 8 * len(ad) {
		bad := bytes.Clone(ad)
		bad[i/8] ^= 1 << (i % 8)
		check("associated data", ct, bad)
	}
	for n := range len(ct) {
		check("truncated", ct[:n], ad)
	}
	check("appended", append(bytes.Clone(ct), 0), ad)
	if got, err := s.Open(nil, ct, ad); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("control: %q, %v", got, err)
	}
}

// TestCTRCounterCarries: the block-by-block CTR is the 128-bit
// big-endian counter of crypto/cipher, carries across both 32-bit words
// whose top bits S2V clears included.
func TestCTRCounterCarries(t *testing.T) {
	s, _ := New(make([]byte, 64))
	for _, fill := range []byte{0xff, 0x7f, 0xfe, 0} {
		var v block
		for i := range v {
			v[i] = fill
		}
		q := v
		q[8] &= 0x7f
		q[12] &= 0x7f
		in := make([]byte, ctrBlocksOnStack*aes.BlockSize)
		want := make([]byte, len(in))
		cipher.NewCTR(s.ctr, q[:]).XORKeyStream(want, in)
		got := make([]byte, len(in))
		s.ctrXOR(new(scratch), got, in, &v)
		if !bytes.Equal(got, want) {
			t.Fatalf("IV filled with %#x: keystream differs from crypto/cipher's CTR", fill)
		}
	}
}

func TestNewKeySizes(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 63, 65, 128} {
		if _, err := New(make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Errorf("New with a %d-byte key: %v", n, err)
		}
	}
	for _, n := range []int{32, 48, 64} {
		if _, err := New(make([]byte, n)); err != nil {
			t.Errorf("New with a %d-byte key: %v", n, err)
		}
	}
}

// TestSealAllocations: sealing and opening into buffers with room
// allocate nothing, up to the block-by-block CTR limit.
func TestSealAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	s, _ := New(make([]byte, 64))
	pt := make([]byte, ctrBlocksOnStack*aes.BlockSize)
	hdr, ad := make([]byte, 22), make([]byte, 40)
	dst := make([]byte, 0, len(pt)+Overhead)
	out := make([]byte, 0, len(pt))
	ct := s.SealJoined(nil, pt, hdr, ad)
	if n := testing.AllocsPerRun(100, func() {
		dst = s.SealJoined(dst[:0], pt, hdr, ad)
		var err error
		if out, err = s.OpenJoined(out[:0], ct, hdr, ad); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per Seal and Open", n)
	}
}

// FuzzMatchesTink compares Seal and Open with Tink's AESSIV on arbitrary
// keys, plaintexts and associated data, and Open on arbitrary ciphertexts.
func FuzzMatchesTink(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 64), []byte("ada@example.com"), []byte("ad"), uint8(1), []byte{})
	f.Add(make([]byte, 64), []byte{}, []byte{}, uint8(0), bytes.Repeat([]byte{0xff}, 17))
	f.Add(bytes.Repeat([]byte{7}, 64), bytes.Repeat([]byte{9}, 200), bytes.Repeat([]byte{3}, 33), uint8(33), make([]byte, 40))
	f.Fuzz(func(t *testing.T, key, pt, ad []byte, cut uint8, junk []byte) {
		if len(key) < 64 {
			return
		}
		key = key[:64]
		ref, err := tinksubtle.NewAESSIV(key)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.EncryptDeterministically(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		c := min(int(cut), len(ad))
		if got := s.SealJoined(nil, pt, ad[:c], ad[c:]); !bytes.Equal(got, want) {
			t.Fatalf("SealJoined = %x, Tink %x", got, want)
		}
		if got, err := s.Open(nil, want, ad); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open of Tink's ciphertext: %v", err)
		}
		gotPT, gotErr := s.Open(nil, junk, ad)
		refPT, refErr := ref.DecryptDeterministically(junk, ad)
		if (gotErr == nil) != (refErr == nil) || !bytes.Equal(gotPT, refPT) {
			t.Fatalf("Open of arbitrary input: %x, %v; Tink %x, %v", gotPT, gotErr, refPT, refErr)
		}
	})
}

// TestOverlapPanics: sealing into the plaintext's own storage would
// overwrite it before CTR reads it, so it panics instead of writing a
// ciphertext that never opens.
func TestOverlapPanics(t *testing.T) {
	s, _ := New(make([]byte, 64))
	buf := make([]byte, 64)
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s did not panic", what)
			}
		}()
		f()
	}
	mustPanic("Seal into the plaintext", func() { s.Seal(buf[:0], buf[:20], nil) })
	ct := s.Seal(nil, buf[:20], nil)
	copy(buf, ct)
	mustPanic("Open into the ciphertext", func() { s.Open(buf[:0], buf[:len(ct)], nil) })
	if _, err := s.Open(buf[len(ct):len(ct)], buf[:len(ct)], nil); err != nil { // adjacent, not overlapping
		t.Fatal(err)
	}
}

// TestPrefixed: SealPrefixed and OpenPrefixed equal SealJoined and
// OpenJoined for prefixes of every length around the block size.
func TestPrefixed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s, _ := New(randBytes(r, 64))
	for n := 0; n <= 50; n++ {
		prefix := randBytes(r, n)
		pre := s.NewADPrefix(prefix)
		for _, adLen := range []int{0, 1, 10, 16, 27, 40} {
			ad := randBytes(r, adLen)
			pt := randBytes(r, r.IntN(70))
			want := s.SealJoined(nil, pt, prefix, ad)
			got := s.SealPrefixed(nil, pt, pre, ad)
			if !bytes.Equal(got, want) {
				t.Fatalf("prefix %d, ad %d: SealPrefixed differs from SealJoined", n, adLen)
			}
			if p, err := s.OpenPrefixed(nil, want, pre, ad); err != nil || !bytes.Equal(p, pt) {
				t.Fatalf("prefix %d, ad %d: OpenPrefixed: %v", n, adLen, err)
			}
			if adLen > 0 {
				bad := bytes.Clone(ad)
				bad[0] ^= 1
				if _, err := s.OpenPrefixed(nil, want, pre, bad); !errors.Is(err, ErrOpen) {
					t.Fatalf("OpenPrefixed accepted other associated data: %v", err)
				}
			}
		}
	}
}

// TestAssemblyMatchesGo: where internal/aesni has schedules, Seal, Open,
// SealComponents and the prefixed forms give the same bytes with them as
// without them (crypto/aes for every block), for every length across the
// block boundaries of CTR's two-block steps and the held-back CMAC block.
func TestAssemblyMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{32, 48, 64} {
		key := randBytes(r, size)
		fast, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		if fast.macX == nil {
			if size != 48 && aesniAvailable() {
				t.Fatalf("AES-SIV-%d has no assembly schedule", size*8)
			}
			continue // crypto/aes only: nothing to compare
		}
		slow := *fast
		slow.macX, slow.ctrX = nil, nil
		for n := 0; n <= 300; n++ {
			pt := randBytes(r, n)
			ad := randBytes(r, r.IntN(80))
			want := slow.Seal(nil, pt, ad)
			if got := fast.Seal(nil, pt, ad); !bytes.Equal(got, want) {
				t.Fatalf("AES-SIV-%d, len %d, ad %d: Seal differs from crypto/aes", size*8, n, len(ad))
			}
			if got, err := fast.Open(nil, want, ad); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("AES-SIV-%d, len %d: Open = %v", size*8, n, err)
			}
			comps := [][]byte{ad, pt[:n/3], nil}
			if got, want := fast.SealComponents(nil, pt, comps), slow.SealComponents(nil, pt, comps); !bytes.Equal(got, want) {
				t.Fatalf("AES-SIV-%d, len %d: SealComponents differs", size*8, n)
			}
			pf, ps := fast.NewADPrefix(ad), slow.NewADPrefix(ad)
			if got, want := fast.SealPrefixed(nil, pt, pf, pt), slow.SealPrefixed(nil, pt, ps, pt); !bytes.Equal(got, want) {
				t.Fatalf("AES-SIV-%d, len %d: SealPrefixed differs", size*8, n)
			}
		}
	}
}

func aesniAvailable() bool { return aesni.Available }
