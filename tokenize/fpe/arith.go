package fpe

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// MinDomainSize is the smallest domain radix^length accepted, as required by
// NIST SP 800-38G Rev.1 (the 2016 edition allowed 100).
const MinDomainSize = 1_000_000

// u128 is an unsigned 128-bit integer. Feistel halves whose domain is below
// 2^128 are kept in one of these so the common path needs no math/big.
type u128 struct{ hi, lo uint64 }

func (x u128) less(y u128) bool { return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo) }

func (x u128) sub(y u128) u128 {
	lo, b := bits.Sub64(x.lo, y.lo, 0)
	hi, _ := bits.Sub64(x.hi, y.hi, b)
	return u128{hi, lo}
}

// addMod returns (x + y) mod m for x, y < m. It is branch-free: the
// comparison is random, and a mispredicted branch per Feistel round costs
// more than the arithmetic.
func addMod(x, y, m u128) u128 {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	hi, c := bits.Add64(x.hi, y.hi, c)
	dlo, b := bits.Sub64(lo, m.lo, 0)
	dhi, b := bits.Sub64(hi, m.hi, b)
	keep := -(b &^ c) // all ones when the sum did not overflow and is < m
	return u128{dhi ^ ((dhi ^ hi) & keep), dlo ^ ((dlo ^ lo) & keep)}
}

// subMod returns (x - y) mod m for x, y < m, branch-free.
func subMod(x, y, m u128) u128 {
	lo, b := bits.Sub64(x.lo, y.lo, 0)
	hi, b := bits.Sub64(x.hi, y.hi, b)
	mask := -b // all ones when x < y: add m back
	lo, c := bits.Add64(lo, m.lo&mask, 0)
	hi, _ = bits.Add64(hi, m.hi&mask, c)
	return u128{hi, lo}
}

// condSub returns r - m if r ≥ m, else r, branch-free.
func condSub(r, m uint64) uint64 {
	d, b := bits.Sub64(r, m, 0)
	return d ^ ((d ^ r) & -b)
}

// putBE writes x big-endian into the 16 bytes of b.
func (x u128) putBE(b *[16]byte) {
	binary.BigEndian.PutUint64(b[0:8], x.hi)
	binary.BigEndian.PutUint64(b[8:16], x.lo)
}

// bitLen returns the number of bits needed to represent x.
func (x u128) bitLen() int {
	if x.hi != 0 {
		return 64 + bits.Len64(x.hi)
	}
	return bits.Len64(x.lo)
}

// modulus is radix^m written as m1·m2 with both factors below 2^64, so that
// reducing a number modulo it needs only 64-bit divisions.
type modulus struct {
	m1, m2 uint64 // m2 == 1 when radix^m < 2^64
	full   u128   // m1·m2
	recip  uint64 // ⌊(2^64-1)/m1⌋ for Barrett reduction when m2 == 1
	r64    uint64 // 2^64 mod m1
}

// barrett returns y mod m1 for m2 == 1: the estimate q is at most 2 below
// ⌊y/m1⌋ and y-q·m1 ≤ y cannot overflow. A multiply is several times faster
// than DIVQ.
func (md *modulus) barrett(y uint64) uint64 {
	m := md.m1
	q, _ := bits.Mul64(y, md.recip)
	return condSub(condSub(y-q*m, m), m)
}

// reduce returns (y2·2^128 + y1·2^64 + y0) mod md.
func (md *modulus) reduce(y2, y1, y0 uint64) u128 {
	m1 := md.m1
	if md.m2 == 1 && y2 == 0 && m1 < 1<<32 {
		// y1·2^64 + y0 ≡ (y1 mod m1)·(2^64 mod m1) + y0, and the product is
		// below m1^2 < 2^64: three Barrett reductions, no division.
		r := md.barrett(md.barrett(y1)*md.r64) + md.barrett(y0)
		return u128{0, condSub(r, m1)}
	}
	if md.m2 == 1 {
		var r uint64
		if y2 != 0 {
			r = y2 % m1
		}
		if r == 0 && y1 < m1 {
			r = y1
		} else {
			_, r = bits.Div64(r, y1, m1)
		}
		_, r = bits.Div64(r, y0, m1)
		return u128{0, r}
	}
	// y = q·m1 + r1, and y mod m1·m2 = r1 + m1·(q mod m2).
	q2, r := y2/m1, y2%m1
	q1, r := bits.Div64(r, y1, m1)
	q0, r1 := bits.Div64(r, y0, m1)
	m2 := md.m2
	r2 := q2 % m2
	_, r2 = bits.Div64(r2, q1, m2)
	_, r2 = bits.Div64(r2, q0, m2)
	hi, lo := bits.Mul64(m1, r2)
	lo, c := bits.Add64(lo, r1, 0)
	return u128{hi + c, lo}
}

// radixInfo holds per-radix constants computed once by a constructor.
type radixInfo struct {
	radix  uint64
	k64    int        // largest k with radix^k < 2^64
	pow    [64]uint64 // pow[k] = radix^k for k ≤ k64
	recips [64]uint64 // recips[k] = ⌊(2^64-1)/radix^k⌋
	r64s   [64]uint64 // r64s[k] = 2^64 mod radix^k
	minLen int        // smallest length with radix^length ≥ MinDomainSize, at least 2
	recip  uint64     // ⌈2^64/radix⌉, for dividing 32-bit values by radix with a multiply
}

// divmod32 returns x/radix and x%radix for x < 2^32 (Lemire, Kaser and
// Kurz, "Faster remainder by direct computation", 2019).
func (ri *radixInfo) divmod32(x uint64) (q, r uint64) {
	q, lowbits := bits.Mul64(ri.recip, x)
	r, _ = bits.Mul64(lowbits, ri.radix)
	return q, r
}

func newRadixInfo(radix int) *radixInfo {
	ri := &radixInfo{radix: uint64(radix), recip: ^uint64(0)/uint64(radix) + 1}
	ri.pow[0] = 1
	for k := 1; ; k++ {
		hi, lo := bits.Mul64(ri.pow[k-1], ri.radix)
		if hi != 0 {
			ri.k64 = k - 1
			break
		}
		ri.pow[k] = lo
	}
	for k := 0; k <= ri.k64; k++ {
		ri.recips[k] = ^uint64(0) / ri.pow[k]
		ri.r64s[k] = (^uint64(0)%ri.pow[k] + 1) % ri.pow[k]
	}
	ri.minLen = 2
	for ri.pow[ri.minLen] < MinDomainSize {
		ri.minLen++
	}
	return ri
}

// modulus returns radix^m, or false if it does not fit the fixed-width path.
func (ri *radixInfo) modulus(m int) (modulus, bool) {
	if m <= ri.k64 {
		return modulus{m1: ri.pow[m], m2: 1, full: u128{0, ri.pow[m]}, recip: ri.recips[m], r64: ri.r64s[m]}, true
	}
	if m <= 2*ri.k64 {
		m1, m2 := ri.pow[ri.k64], ri.pow[m-ri.k64]
		hi, lo := bits.Mul64(m1, m2)
		return modulus{m1: m1, m2: m2, full: u128{hi, lo}}, true
	}
	return modulus{}, false
}

// numBE returns the value of the numerals x read most significant first.
// x must be short enough for the result to fit in 128 bits.
func (ri *radixInfo) numBE(x []uint16) u128 {
	r := ri.radix
	var acc uint64
	i := 0
	for ; i < len(x) && i < ri.k64; i++ {
		acc = acc*r + uint64(x[i])
	}
	v := u128{0, acc}
	for ; i < len(x); i++ {
		h, l := bits.Mul64(v.lo, r)
		l, c := bits.Add64(l, uint64(x[i]), 0)
		v = u128{v.hi*r + h + c, l}
	}
	return v
}

// numBE64 is numBE for values known to be below 2^64.
func (ri *radixInfo) numBE64(x []uint16) uint64 {
	var acc uint64
	for _, d := range x {
		acc = acc*ri.radix + uint64(d)
	}
	return acc
}

// numLE returns the value of the numerals x read least significant first,
// that is NUM(REV(x)) in the notation of SP 800-38G.
func (ri *radixInfo) numLE(x []uint16) u128 {
	r := ri.radix
	var acc uint64
	i := len(x) - 1
	for ; i >= 0 && len(x)-1-i < ri.k64; i-- {
		acc = acc*r + uint64(x[i])
	}
	v := u128{0, acc}
	for ; i >= 0; i-- {
		h, l := bits.Mul64(v.lo, r)
		l, c := bits.Add64(l, uint64(x[i]), 0)
		v = u128{v.hi*r + h + c, l}
	}
	return v
}

// strBE writes v as len(dst) numerals, most significant first.
func (ri *radixInfo) strBE(dst []uint16, v u128) {
	r := ri.radix
	i := len(dst) - 1
	for ; i >= 0 && v.hi != 0; i-- {
		q1, rem := v.hi/r, v.hi%r
		q0, rem := bits.Div64(rem, v.lo, r)
		dst[i] = uint16(rem)
		v = u128{q1, q0}
	}
	lo := v.lo
	for ; i >= 0 && lo > 0xFFFFFFFF; i-- {
		// lo / radix with a multiply: q is the quotient or one below
		// (the bound of TestBarrettOneSubtraction), DIVQ is several times
		// slower.
		q, _ := bits.Mul64(lo, ri.recips[1])
		d := lo - q*r
		e, b := bits.Sub64(d, r, 0)
		keep := -b // all ones when d < radix
		dst[i] = uint16(e ^ ((e ^ d) & keep))
		lo = q + (1 &^ keep)
	}
	for ; i >= 0; i-- {
		var d uint64
		lo, d = ri.divmod32(lo)
		dst[i] = uint16(d)
	}
}

// strLE writes v as len(dst) numerals, least significant first, that is
// REV(STR(v)) in the notation of SP 800-38G.
func (ri *radixInfo) strLE(dst []uint16, v u128) {
	r := ri.radix
	i := 0
	for ; i < len(dst) && v.hi != 0; i++ {
		q1, rem := v.hi/r, v.hi%r
		q0, rem := bits.Div64(rem, v.lo, r)
		dst[i] = uint16(rem)
		v = u128{q1, q0}
	}
	lo := v.lo
	for ; i < len(dst) && lo > 0xFFFFFFFF; i++ {
		dst[i] = uint16(lo % r)
		lo /= r
	}
	for ; i < len(dst); i++ {
		var d uint64
		lo, d = ri.divmod32(lo)
		dst[i] = uint16(d)
	}
}

// checkNumerals fails with ErrInvalidInput if a numeral of x is ≥ radix.
func (ri *radixInfo) checkNumerals(x []uint16) error {
	if ri.radix == MaxRadix {
		return nil
	}
	for i, v := range x {
		if uint64(v) >= ri.radix {
			return wrapf(ErrInvalidInput, "numeral at position %d is not less than the radix", i)
		}
	}
	return nil
}

// checkDomain fails with ErrDomainTooSmall if radix^n < MinDomainSize.
func (ri *radixInfo) checkDomain(n int) error {
	if n < ri.minLen {
		return wrapf(ErrDomainTooSmall, "length %d with radix %d is below the minimum domain of %d (need length ≥ %d)",
			n, ri.radix, MinDomainSize, ri.minLen)
	}
	return nil
}

// scratch holds the blocks handed to cipher.Block.Encrypt. Passing a slice
// through an interface method call makes it escape, so these live in a pool
// rather than on the stack; nothing in them outlives one call.
type scratch struct {
	state [16]byte // CBC-MAC state after P and the fixed part of Q
	work  [16]byte // per-round block
	ext   [16]byte // extension block of S (FF1 with d > 16)
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	*s = scratch{} // do not leave PRF outputs lying around
	scratchPool.Put(s)
}
