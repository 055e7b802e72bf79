package fpe

import (
	"encoding/binary"
	"math/big"
)

// cryptBig is FF1 with math/big arithmetic, for inputs whose longer half has
// a domain of 2^128 or more. It follows SP 800-38G Algorithms 7 and 8
// literally and allocates; the caller has validated everything.
func (c *FF1) cryptBig(dst, src []uint16, tweak []byte, enc bool) {
	n, t := len(src), len(tweak)
	u := n / 2
	v := n - u
	radix := new(big.Int).SetUint64(c.ri.radix)
	mu := new(big.Int).Exp(radix, big.NewInt(int64(u)), nil)
	mv := new(big.Int).Exp(radix, big.NewInt(int64(v)), nil)
	b := (new(big.Int).Sub(mv, big.NewInt(1)).BitLen() + 7) / 8
	d := 4*((b+3)/4) + 4

	s := getScratch()
	defer putScratch(s)
	ff1P(&s.state, c.ri.radix, u, n, t)
	c.block.Encrypt(s.state[:], s.state[:])

	pad := (16 - (t+b+1)%16) % 16
	q := make([]byte, t+pad+1+b)
	copy(q, tweak)
	sBuf := make([]byte, (d+15)&^15)

	A := c.bigNum(src[:u])
	B := c.bigNum(src[u:])
	y := new(big.Int)
	w := &s.work
	for r := 0; r < 10; r++ {
		i := r
		x := B
		if !enc {
			i = 9 - r
			x = A
		}
		q[t+pad] = byte(i)
		x.FillBytes(q[t+pad+1:])
		*w = s.state
		for off := 0; off < len(q); off += 16 {
			xor16(w, q[off:off+16])
			c.block.Encrypt(w[:], w[:])
		}
		copy(sBuf, w[:])
		for j := 1; 16*j < d; j++ {
			s.ext = *w
			e := binary.BigEndian.Uint32(s.ext[12:16]) ^ uint32(j)
			binary.BigEndian.PutUint32(s.ext[12:16], e)
			c.block.Encrypt(s.ext[:], s.ext[:])
			copy(sBuf[16*j:], s.ext[:])
		}
		y.SetBytes(sBuf[:d])
		m := mv
		if i%2 == 0 {
			m = mu
		}
		if enc {
			C := new(big.Int).Add(A, y)
			A, B = B, C.Mod(C, m)
		} else {
			C := new(big.Int).Sub(B, y)
			A, B = C.Mod(C, m), A // Mod is Euclidean: the result is ≥ 0
		}
	}
	clear(q)
	clear(sBuf)
	c.bigStr(dst[:u], A)
	c.bigStr(dst[u:], B)
}

// bigNum returns the value of x read most significant first.
func (c *FF1) bigNum(x []uint16) *big.Int {
	ri := c.ri
	v := new(big.Int)
	tmp := new(big.Int)
	for len(x) > 0 {
		k := min(ri.k64, len(x))
		var acc uint64
		for _, d := range x[:k] {
			acc = acc*ri.radix + uint64(d)
		}
		v.Mul(v, tmp.SetUint64(ri.pow[k]))
		v.Add(v, tmp.SetUint64(acc))
		x = x[k:]
	}
	return v
}

// bigStr writes v as len(dst) numerals, most significant first.
func (c *FF1) bigStr(dst []uint16, v *big.Int) {
	ri := c.ri
	v = new(big.Int).Set(v)
	div := new(big.Int)
	rem := new(big.Int)
	for end := len(dst); end > 0; {
		k := min(ri.k64, end)
		v.QuoRem(v, div.SetUint64(ri.pow[k]), rem)
		chunk := rem.Uint64()
		for j := end - 1; j >= end-k; j-- {
			dst[j] = uint16(chunk % ri.radix)
			chunk /= ri.radix
		}
		end -= k
	}
}
