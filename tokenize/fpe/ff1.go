package fpe

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

const (
	// MaxTweakLenFF1 is the longest FF1 tweak accepted, in bytes (SP 800-38G
	// lets each implementation choose maxTlen).
	MaxTweakLenFF1 = 1 << 16

	// MaxLenFF1 is the longest FF1 input, in numerals: SP 800-38G requires
	// maxlen < 2^32 because the length is encoded in 4 bytes.
	MaxLenFF1 = 1<<32 - 1

	// stackNumerals is how many numerals the string API converts without a
	// heap buffer.
	stackNumerals = 128
)

// FF1 is the FF1 format-preserving cipher of NIST SP 800-38G Rev.1 with an
// AES key and a fixed alphabet. It is the recommended mode for new data.
//
// An FF1 is safe for concurrent use by multiple goroutines. Besides its
// key schedule it remembers, for the last few (length, tweak) pairs it
// saw, the CBC-MAC state after the block P and the tweak (SP 800-38G
// Algorithm 7, steps 5 and 6), which every call with that pair starts
// from; it must not be copied.
type FF1 struct {
	block    cipher.Block
	rb       *regBlock // nil where crypto/aes encrypts every block
	alphabet *Alphabet
	ri       *radixInfo

	// prefixes remembers, per (length, tweak), the CBC-MAC state after P
	// and the full blocks of Q that are the same in every round: a field's
	// values share both, so a call with a remembered pair starts at the
	// first round. Direct-mapped by a hash of the pair; a miss computes
	// the state and replaces the slot.
	seed     maphash.Seed
	prefixes [prefixSlots]atomic.Pointer[ff1Prefix]
}

const prefixSlots = 16

// ff1Prefix is an immutable cache entry of FF1.prefixes: the plan of FF1
// for one (length, tweak).
type ff1Prefix struct {
	n     int
	tweak string
	state [16]byte // CBC-MAC state after P and Q's fixed full blocks

	mu, mv        modulus
	b, d          int
	iPos, tailLen int      // where [i] goes in tail, and tail's length (16 or 32)
	tail          [32]byte // Q's variable blocks with their fixed bytes
	fast          bool     // rounds64 applies
	wide          bool     // fast with d = 12: y is 96 bits
	st0, st1      uint64   // fast: state XOR tail's fixed bytes
	shift         uint     // fast: 8·b, the position of [i]
}

// NewFF1 returns an FF1 cipher for a 16-, 24- or 32-byte AES key and the
// alphabet whose numeral i is the i-th character of alphabet (see
// [NewAlphabet]). The key is copied into the AES key schedule; the caller may
// reuse or clear it afterwards.
func NewFF1(key []byte, alphabet string) (*FF1, error) {
	a, err := NewAlphabet(alphabet)
	if err != nil {
		return nil, err
	}
	return NewFF1WithAlphabet(key, a)
}

// NewFF1WithAlphabet is like [NewFF1] with an already parsed [Alphabet].
func NewFF1WithAlphabet(key []byte, alphabet *Alphabet) (*FF1, error) {
	if alphabet == nil {
		return nil, wrapf(ErrInvalidAlphabet, "nil alphabet")
	}
	block, err := newAES(key)
	if err != nil {
		return nil, err
	}
	return &FF1{block: block, rb: newRegBlock(key), alphabet: alphabet, ri: newRadixInfo(alphabet.Radix()), seed: maphash.MakeSeed()}, nil
}

func newAES(key []byte) (cipher.Block, error) {
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, wrapf(ErrInvalidKey, "key is %d bytes, need 16, 24 or 32", len(key))
	}
	// aes.NewCipher expands the key into its own schedule and neither keeps
	// nor modifies the slice.
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, wrapf(ErrInvalidKey, "%v", err)
	}
	return block, nil
}

// Radix returns the number of characters in the cipher's alphabet.
func (c *FF1) Radix() int { return int(c.ri.radix) }

// Alphabet returns the cipher's alphabet.
func (c *FF1) Alphabet() *Alphabet { return c.alphabet }

// MinLen returns the shortest accepted input length, the smallest length
// whose domain radix^length is at least [MinDomainSize].
func (c *FF1) MinLen() int { return c.ri.minLen }

// Encrypt encrypts plaintext, a string of characters of the cipher's
// alphabet, under tweak, and returns a ciphertext of the same length in
// characters over the same alphabet. The tweak may be empty and at most
// [MaxTweakLenFF1] bytes long.
func (c *FF1) Encrypt(plaintext string, tweak []byte) (string, error) {
	return c.cryptString(plaintext, tweak, true)
}

// Decrypt reverses [FF1.Encrypt] for the same tweak.
func (c *FF1) Decrypt(ciphertext string, tweak []byte) (string, error) {
	return c.cryptString(ciphertext, tweak, false)
}

func (c *FF1) cryptString(s string, tweak []byte, enc bool) (string, error) {
	if len(s) <= shortString {
		// Most values are short: a small buffer is cheaper to clear.
		var buf [shortString]uint16
		return c.cryptStringIn(buf[:0], s, tweak, enc)
	}
	var buf [stackNumerals]uint16
	return c.cryptStringIn(buf[:0], s, tweak, enc)
}

// shortString is the longest string, in bytes, converted in the small
// numeral buffer.
const shortString = 32

func (c *FF1) cryptStringIn(x []uint16, s string, tweak []byte, enc bool) (string, error) {
	if n := c.alphabet.Len(s); n > cap(x) {
		if uint64(n) > MaxLenFF1 {
			return "", wrapf(ErrInvalidInput, "length exceeds the FF1 maximum of %d", uint64(MaxLenFF1))
		}
		x = make([]uint16, 0, n)
	}
	x, err := c.alphabet.AppendNumerals(x, s)
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

// EncryptNumerals encrypts the numerals of src (each less than the radix)
// under tweak into dst[:len(src)]. dst and src may be the same slice. It
// panics if dst is shorter than src. It does not allocate when each half
// fits the fixed-width path (see the package documentation: up to 76
// decimal digits); longer inputs use math/big.
func (c *FF1) EncryptNumerals(dst, src []uint16, tweak []byte) error {
	if len(dst) < len(src) {
		panic("fpe: dst shorter than src")
	}
	if err := c.ri.checkNumerals(src); err != nil {
		return err
	}
	return c.crypt(dst[:len(src)], src, tweak, true)
}

// DecryptNumerals reverses [FF1.EncryptNumerals] for the same tweak.
func (c *FF1) DecryptNumerals(dst, src []uint16, tweak []byte) error {
	if len(dst) < len(src) {
		panic("fpe: dst shorter than src")
	}
	if err := c.ri.checkNumerals(src); err != nil {
		return err
	}
	return c.crypt(dst[:len(src)], src, tweak, false)
}

// ff1P writes the block P of SP 800-38G Algorithm 7 step 5.
func ff1P(p *[16]byte, radix uint64, u, n, t int) {
	p[0], p[1], p[2] = 1, 2, 1
	p[3], p[4], p[5] = byte(radix>>16), byte(radix>>8), byte(radix)
	p[6] = 10
	p[7] = byte(u)
	binary.BigEndian.PutUint32(p[8:12], uint32(n))
	binary.BigEndian.PutUint32(p[12:16], uint32(t))
}

func xor16(dst *[16]byte, src []byte) {
	_ = src[15]
	a := binary.LittleEndian.Uint64(dst[0:8]) ^ binary.LittleEndian.Uint64(src[0:8])
	b := binary.LittleEndian.Uint64(dst[8:16]) ^ binary.LittleEndian.Uint64(src[8:16])
	binary.LittleEndian.PutUint64(dst[0:8], a)
	binary.LittleEndian.PutUint64(dst[8:16], b)
}

// crypt runs FF1 (Algorithms 7 and 8 of SP 800-38G) on numerals already
// checked to be below the radix. All of src is read before dst is written.
func (c *FF1) crypt(dst, src []uint16, tweak []byte, enc bool) error {
	n, t := len(src), len(tweak)
	if err := c.ri.checkDomain(n); err != nil {
		return err
	}
	if uint64(n) > MaxLenFF1 {
		return wrapf(ErrInvalidInput, "length exceeds the FF1 maximum of %d", uint64(MaxLenFF1))
	}
	if t > MaxTweakLenFF1 {
		return wrapf(ErrInvalidTweak, "tweak is %d bytes, FF1 accepts at most %d", t, MaxTweakLenFF1)
	}
	u := n / 2
	if n-u > 2*c.ri.k64 { // radix^v ≥ 2^128: no fixed-width modulus
		c.cryptBig(dst, src, tweak, enc)
		return nil
	}
	p := c.plan(n, tweak)
	if p.fast {
		var w *[16]byte // the register rounds need no block in memory
		if c.rb == nil {
			s := getScratch()
			defer putScratch(s)
			w = &s.work
		}
		A, B := c.ri.numBE64(src[:u]), c.ri.numBE64(src[u:])
		if p.wide {
			A, B = c.rounds96(w, p, A, B, enc)
		} else {
			A, B = c.rounds64(w, p, A, B, enc)
		}
		c.ri.strBE(dst[:u], u128{0, A})
		c.ri.strBE(dst[u:], u128{0, B})
		return nil
	}
	s := getScratch()
	defer putScratch(s)
	w := &s.work
	b, d, iPos, tailLen := p.b, p.d, p.iPos, p.tailLen
	tail := p.tail
	A := c.ri.numBE(src[:u])
	B := c.ri.numBE(src[u:])
	var nb [16]byte
	for r := 0; r < 10; r++ {
		i := r
		x := B
		if !enc {
			i = 9 - r
			x = A
		}
		tail[iPos] = byte(i)
		x.putBE(&nb)
		copy(tail[iPos+1:tailLen], nb[16-b:])
		*w = p.state
		for off := 0; off < tailLen; off += 16 {
			xor16(w, tail[off:off+16])
			c.block.Encrypt(w[:], w[:])
		}
		var y2, y1, y0 uint64
		switch d {
		case 8:
			y0 = binary.BigEndian.Uint64(w[0:8])
		case 12:
			y1 = uint64(binary.BigEndian.Uint32(w[0:4]))
			y0 = binary.BigEndian.Uint64(w[4:12])
		case 16:
			y1 = binary.BigEndian.Uint64(w[0:8])
			y0 = binary.BigEndian.Uint64(w[8:16])
		case 20:
			// S = R || CIPH(R ⊕ [1]^16); y is its first 20 bytes.
			s.ext = *w
			s.ext[15] ^= 1
			c.block.Encrypt(s.ext[:], s.ext[:])
			y2 = uint64(binary.BigEndian.Uint32(w[0:4]))
			y1 = binary.BigEndian.Uint64(w[4:12])
			y0 = uint64(binary.BigEndian.Uint32(w[12:16]))<<32 | uint64(binary.BigEndian.Uint32(s.ext[0:4]))
		}
		md := &p.mv
		if i%2 == 0 {
			md = &p.mu
		}
		y := md.reduce(y2, y1, y0)
		if enc {
			A, B = B, addMod(A, y, md.full)
		} else {
			A, B = subMod(B, y, md.full), A
		}
	}
	clear(tail[:])
	c.ri.strBE(dst[:u], A)
	c.ri.strBE(dst[u:], B)
	return nil
}

// plan returns everything FF1 computes from (n, tweak) alone before the
// rounds, from the cache when the pair was seen before: the moduli, the
// byte counts b and d, the layout of Q's variable tail, and the CBC-MAC
// state after P and Q's full blocks before that tail (all of them tweak or
// padding). Only the uint64/u128 paths use it (n-u ≤ 2·k64).
func (c *FF1) plan(n int, tweak []byte) *ff1Prefix {
	h := uint64(n)
	if len(tweak) > 0 {
		h ^= maphash.Bytes(c.seed, tweak)
	}
	slot := &c.prefixes[h%prefixSlots]
	if p := slot.Load(); p != nil && p.n == n && p.tweak == string(tweak) {
		return p
	}
	s := getScratch()
	defer putScratch(s)
	t := len(tweak)
	u := n / 2
	p := &ff1Prefix{n: n, tweak: string(tweak)}
	p.mu, _ = c.ri.modulus(u)
	p.mv, _ = c.ri.modulus(n - u)
	// b bytes hold NUM(B); the PRF output y is d bytes (d ≤ 20 here).
	p.b = (p.mv.full.sub(u128{0, 1}).bitLen() + 7) / 8
	p.d = 4*((p.b+3)/4) + 4
	// Q = T || 0^pad || [i] || [NUM(B)]^b. Everything before [i] is the same
	// in every round, so its full blocks are absorbed into the CBC-MAC state
	// once, right after P.
	pad := (16 - (t+p.b+1)%16) % 16
	varStart := t + pad
	fixed := varStart &^ 15
	ff1P(&s.state, c.ri.radix, u, n, t)
	c.block.Encrypt(s.state[:], s.state[:])
	for off := 0; off < fixed; off += 16 {
		var blk [16]byte
		if off < t {
			copy(blk[:], tweak[off:min(t, off+16)])
		}
		xor16(&s.state, blk[:])
		c.block.Encrypt(s.state[:], s.state[:])
	}
	p.state = s.state
	if fixed < t {
		copy(p.tail[:], tweak[fixed:])
	}
	p.iPos = varStart - fixed
	p.tailLen = p.iPos + 1 + p.b // 16 or 32
	if p.tailLen == 16 && p.mv.m2 == 1 && (p.d == 8 || p.d == 12 && p.b <= 7) {
		// Common case (halves below 2^56, e.g. up to 32 decimal digits): Q's
		// variable part is one block, y is the first 8 (halves below 2^32)
		// or 12 bytes of R, and all arithmetic is on uint64 values held in
		// registers.
		p.fast = true
		p.wide = p.d == 12
		p.st0 = binary.BigEndian.Uint64(p.state[0:8]) ^ binary.BigEndian.Uint64(p.tail[0:8])
		p.st1 = binary.BigEndian.Uint64(p.state[8:16]) ^ binary.BigEndian.Uint64(p.tail[8:16])
		p.shift = uint(8 * p.b)
	}
	if t <= maxCachedTweak {
		slot.Store(p)
	}
	return p
}

// maxCachedTweak is the longest tweak whose prefix state is remembered:
// longer ones are rare and would make an entry costly to compare.
const maxCachedTweak = 256

// cipherBE returns CIPH_K(s0 || s1) for two big-endian words, as two
// big-endian words, with crypto/aes in w (the Go rounds: the register
// rounds are entirely in assembly).
func (c *FF1) cipherBE(w *[16]byte, s0, s1 uint64) (uint64, uint64) {
	binary.BigEndian.PutUint64(w[0:8], s0)
	binary.BigEndian.PutUint64(w[8:16], s1)
	c.block.Encrypt(w[:], w[:])
	return binary.BigEndian.Uint64(w[0:8]), binary.BigEndian.Uint64(w[8:16])
}

// rounds96 is rounds64 for d = 12 (halves of 2^32 to 2^56): y is the
// 96-bit y1·2^64 + y0, reduced with Barrett steps for a modulus below 2^32
// and with one 128-by-64-bit division otherwise (y1 < 2^32 ≤ m).
func (c *FF1) rounds96(w *[16]byte, p *ff1Prefix, A, B uint64, enc bool) (uint64, uint64) {
	st0, st1, shift := p.st0, p.st1, p.shift
	if rb := c.rb; rb != nil {
		step := uint64(1) << shift
		if enc {
			return ff1Enc96(&rb.XK, rb.NR, bits.ReverseBytes64(st0), st1, step, 10*step, A, B, p.mu.m1, p.mv.m1)
		}
		return ff1Dec96(&rb.XK, rb.NR, bits.ReverseBytes64(st0), st1, step, 9*step, A, B, p.mu.m1, p.mv.m1)
	}
	for r := uint64(0); r < 10; r++ {
		i, x := r, B
		if !enc {
			i, x = 9-r, A
		}
		r0, r1 := c.cipherBE(w, st0, st1^x^i<<shift)
		md := &p.mv
		if i%2 == 0 {
			md = &p.mu
		}
		m := md.m1
		y1, y0 := r0>>32, r0<<32|r1>>32 // the first 12 bytes of R
		var y uint64
		if m < 1<<32 {
			y = condSub(md.barrett(md.barrett(y1)*md.r64)+md.barrett(y0), m)
		} else {
			_, y = bits.Div64(y1, y0, m)
		}
		if enc {
			// A, y < m < 2^56: no overflow.
			A, B = B, condSub(A+y, m)
		} else {
			d, bw := bits.Sub64(B, y, 0)
			A, B = d+(m&-bw), A
		}
	}
	return A, B
}

// rounds64 runs the ten FF1 rounds of a fast plan: radix^v < 2^32, Q's
// variable part the single block whose constant bytes are in st0/st1, and
// d = 8.
func (c *FF1) rounds64(w *[16]byte, p *ff1Prefix, A, B uint64, enc bool) (uint64, uint64) {
	st0, st1, shift := p.st0, p.st1, p.shift
	mu, ru, mv, rv := p.mu.m1, p.mu.recip, p.mv.m1, p.mv.recip
	if rb := c.rb; rb != nil {
		// The same rounds in assembly, the block never leaving registers.
		step := uint64(1) << shift
		if enc {
			return ff1Enc64(&rb.XK, rb.NR, bits.ReverseBytes64(st0), st1, step, 10*step, A, B, mu, ru, mv, rv)
		}
		return ff1Dec64(&rb.XK, rb.NR, bits.ReverseBytes64(st0), st1, step, 9*step, A, B, mu, ru, mv, rv)
	}
	for r := uint64(0); r < 10; r++ {
		i, x := r, B
		if !enc {
			i, x = 9-r, A
		}
		y, _ := c.cipherBE(w, st0, st1^x^i<<shift)
		m, recip := mv, rv
		if i%2 == 0 {
			m, recip = mu, ru
		}
		// y mod m: recip = ⌊(2^64-1)/m⌋ ≥ 2^64/m - 1, so y·recip/2^64 >
		// y/m - 1 and the estimate q is at most one below ⌊y/m⌋: one
		// conditional subtraction finishes (TestBarrettOneSubtraction).
		q, _ := bits.Mul64(y, recip)
		y = condSub(y-q*m, m)
		if enc {
			// A, y < m < 2^32: no overflow.
			A, B = B, condSub(A+y, m)
		} else {
			d, bw := bits.Sub64(B, y, 0)
			A, B = d+(m&-bw), A
		}
	}
	return A, B
}
