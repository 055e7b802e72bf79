package fpe

import (
	"crypto/cipher"
	"encoding/binary"
	"math/bits"
)

// TweakLenFF31 is the FF3-1 tweak length in bytes (56 bits).
const TweakLenFF31 = 7

// FF31 is the FF3-1 format-preserving cipher (NIST SP 800-38G Rev.1, first
// draft, 2019) with 56-bit tweaks, an AES key and a fixed alphabet.
//
// Use FF31 only to read or produce tokens compatible with an existing FF3-1
// deployment; for new data use [FF1]. See the package documentation for why.
//
// An FF31 holds only immutable state after construction and is safe for
// concurrent use by multiple goroutines.
type FF31 struct {
	block    cipher.Block
	alphabet *Alphabet
	ri       *radixInfo
	maxLen   int
}

// NewFF31 returns an FF3-1 cipher for a 16-, 24- or 32-byte AES key and the
// alphabet whose numeral i is the i-th character of alphabet (see
// [NewAlphabet]). FF3-1 runs AES under the byte-reversed key; the reversal is
// done on a private copy, key itself is neither kept nor modified.
func NewFF31(key []byte, alphabet string) (*FF31, error) {
	a, err := NewAlphabet(alphabet)
	if err != nil {
		return nil, err
	}
	return NewFF31WithAlphabet(key, a)
}

// NewFF31WithAlphabet is like [NewFF31] with an already parsed [Alphabet].
func NewFF31WithAlphabet(key []byte, alphabet *Alphabet) (*FF31, error) {
	if alphabet == nil {
		return nil, wrapf(ErrInvalidAlphabet, "nil alphabet")
	}
	rev := make([]byte, len(key))
	for i, b := range key {
		rev[len(key)-1-i] = b
	}
	block, err := newAES(rev)
	clear(rev)
	if err != nil {
		return nil, err
	}
	ri := newRadixInfo(alphabet.Radix())
	// maxlen = 2·⌊log_radix(2^96)⌋: twice the largest k with radix^k ≤ 2^96.
	k := 0
	limit := u128{1 << 32, 0}
	for p := (u128{0, 1}); ; k++ {
		h, l := bits.Mul64(p.lo, ri.radix)
		p = u128{p.hi*ri.radix + h, l}
		if limit.less(p) {
			break
		}
	}
	return &FF31{block: block, alphabet: alphabet, ri: ri, maxLen: 2 * k}, nil
}

// Radix returns the number of characters in the cipher's alphabet.
func (c *FF31) Radix() int { return int(c.ri.radix) }

// Alphabet returns the cipher's alphabet.
func (c *FF31) Alphabet() *Alphabet { return c.alphabet }

// MinLen returns the shortest accepted input length, the smallest length
// whose domain radix^length is at least [MinDomainSize].
func (c *FF31) MinLen() int { return c.ri.minLen }

// MaxLen returns the longest accepted input length, 2·⌊log_radix(2^96)⌋
// (56 for radix 10, 40 for radix 26, 32 for radix 64, 12 for radix 65536).
func (c *FF31) MaxLen() int { return c.maxLen }

// Encrypt encrypts plaintext, a string of characters of the cipher's
// alphabet, under a tweak of exactly [TweakLenFF31] bytes, and returns a
// ciphertext of the same length in characters over the same alphabet.
func (c *FF31) Encrypt(plaintext string, tweak []byte) (string, error) {
	return c.cryptString(plaintext, tweak, true)
}

// Decrypt reverses [FF31.Encrypt] for the same tweak.
func (c *FF31) Decrypt(ciphertext string, tweak []byte) (string, error) {
	return c.cryptString(ciphertext, tweak, false)
}

func (c *FF31) cryptString(s string, tweak []byte, enc bool) (string, error) {
	var buf [192]uint16 // maxLen ≤ 192 (radix 2)
	if n := c.alphabet.Len(s); n > c.maxLen {
		return "", c.errTooLong()
	}
	x, err := c.alphabet.AppendNumerals(buf[:0], s)
	if err != nil {
		return "", err
	}
	if err := c.crypt(x, x, tweak, enc); err != nil {
		return "", err
	}
	out := c.alphabet.toString(x)
	clear(x)
	return out, nil
}

func (c *FF31) errTooLong() error {
	return wrapf(ErrInvalidInput, "length exceeds the FF3-1 maximum of %d for radix %d", c.maxLen, c.ri.radix)
}

// EncryptNumerals encrypts the numerals of src (each less than the radix)
// under a 7-byte tweak into dst[:len(src)]. dst and src may be the same
// slice. It panics if dst is shorter than src. It does not allocate.
func (c *FF31) EncryptNumerals(dst, src []uint16, tweak []byte) error {
	if len(dst) < len(src) {
		panic("fpe: dst shorter than src")
	}
	if err := c.ri.checkNumerals(src); err != nil {
		return err
	}
	return c.crypt(dst[:len(src)], src, tweak, true)
}

// DecryptNumerals reverses [FF31.EncryptNumerals] for the same tweak.
func (c *FF31) DecryptNumerals(dst, src []uint16, tweak []byte) error {
	if len(dst) < len(src) {
		panic("fpe: dst shorter than src")
	}
	if err := c.ri.checkNumerals(src); err != nil {
		return err
	}
	return c.crypt(dst[:len(src)], src, tweak, false)
}

// crypt runs FF3-1 (SP 800-38G Rev.1 draft, Algorithms 9 and 10) on numerals
// already checked to be below the radix. It keeps NUM(REV(A)) and
// NUM(REV(B)) as integers, so the reversals cost nothing.
func (c *FF31) crypt(dst, src []uint16, tweak []byte, enc bool) error {
	n := len(src)
	if err := c.ri.checkDomain(n); err != nil {
		return err
	}
	if n > c.maxLen {
		return c.errTooLong()
	}
	if len(tweak) != TweakLenFF31 {
		return wrapf(ErrInvalidTweak, "tweak is %d bytes, FF3-1 needs exactly %d", len(tweak), TweakLenFF31)
	}
	u := (n + 1) / 2
	v := n - u
	// radix^u ≤ 2^96 by the maxlen rule, which always fits the fixed-width path.
	mu, ok1 := c.ri.modulus(u)
	mv, ok2 := c.ri.modulus(v)
	if !ok1 || !ok2 {
		panic("fpe: internal error: FF3-1 half does not fit 128 bits")
	}
	// T_L = T[0..27] || 0^4, T_R = T[32..55] || T[28..31] || 0^4.
	tl := [4]byte{tweak[0], tweak[1], tweak[2], tweak[3] & 0xF0}
	tr := [4]byte{tweak[4], tweak[5], tweak[6], tweak[3] << 4}

	A := c.ri.numLE(src[:u])
	B := c.ri.numLE(src[u:])
	s := getScratch()
	defer putScratch(s)
	w := &s.work
	for r := 0; r < 8; r++ {
		i := r
		x := B
		if !enc {
			i = 7 - r
			x = A
		}
		W, md := &tl, &mv
		if i%2 == 0 {
			W, md = &tr, &mu
		}
		// AES input is REVB(P) with P = (W ⊕ [i]^4) || [NUM(REV(B))]^12.
		binary.LittleEndian.PutUint64(w[0:8], x.lo)
		binary.LittleEndian.PutUint32(w[8:12], uint32(x.hi))
		w[12], w[13], w[14], w[15] = W[3]^byte(i), W[2], W[1], W[0]
		c.block.Encrypt(w[:], w[:])
		// y = NUM(REVB(output)).
		y := md.reduce(0, binary.LittleEndian.Uint64(w[8:16]), binary.LittleEndian.Uint64(w[0:8]))
		if enc {
			A, B = B, addMod(A, y, md.full)
		} else {
			A, B = subMod(B, y, md.full), A
		}
	}
	c.ri.strLE(dst[:u], A)
	c.ri.strLE(dst[u:], B)
	return nil
}
