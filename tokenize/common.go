package tokenize

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strings"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// minDomain is the smallest number of possible tokens a format may leave
// (NIST SP 800-38G Rev.1); it matches fpe.MinDomainSize.
const minDomain = 1_000_000

// maxWalk bounds cycle walking. A walk that starts inside the valid set
// always ends (at worst it comes back to its start), so the bound only
// turns a bug into an error instead of a hang.
const maxWalk = 1 << 22

var (
	decimalAlphabet = mustAlphabet("0123456789")
	letterAlphabet  = mustAlphabet("abcdefghijklmnopqrstuvwxyz")
	alnumAlphabet   = mustAlphabet("0123456789abcdefghijklmnopqrstuvwxyz")
)

// uniformAlphabet returns the alphabet of numerals 0 to r-1 when every
// radix is r and the package has one for r, or nil.
func uniformAlphabet(radix []uint16) *fpe.Alphabet {
	if len(radix) == 0 {
		return nil
	}
	for _, r := range radix[1:] {
		if r != radix[0] {
			return nil
		}
	}
	switch radix[0] {
	case 10:
		return decimalAlphabet
	case 26:
		return letterAlphabet
	case 36:
		return alnumAlphabet
	}
	return nil
}

func mustAlphabet(s string) *fpe.Alphabet {
	a, err := fpe.NewAlphabet(s)
	if err != nil {
		panic(err)
	}
	return a
}

// invalid returns an error wrapping ErrInvalidFormat that names the format
// and the broken rule. Callers never pass the value or parts of it.
func invalid(format, rule string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidFormat, format, fmt.Sprintf(rule, args...))
}

// tooSmall returns an error wrapping ErrDomainTooSmall.
func tooSmall(format, rule string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrDomainTooSmall, format, fmt.Sprintf(rule, args...))
}

var errWalk = errors.New("tokenize: cycle walk did not terminate")

// walk encrypts (or decrypts) the decimal numerals x in place, again and
// again, until ok(x) holds. Cycle walking restricts the FF1 permutation to
// the set where ok holds: when the input is in that set, the walk ends and
// walking back with decrypt returns it.
//
// The cipher and the tweak are looked up once per walk, not per step: each
// step is the same FF1 call Numerals makes.
func (e *Engine) walk(part string, x []uint16, decrypt bool, ok func([]uint16) bool) error {
	c, err := e.cipher(decimalAlphabet)
	if err != nil {
		return err
	}
	tw := e.partTweak(part)
	for range maxWalk {
		if decrypt {
			err = c.DecryptNumerals(x, x, tw)
		} else {
			err = c.EncryptNumerals(x, x, tw)
		}
		if err != nil {
			return mapErr(err)
		}
		if ok(x) {
			return nil
		}
	}
	return errWalk
}

// digitsValue returns the number written by decimal numerals d (len ≤ 19).
func digitsValue(d []uint16) uint64 {
	var v uint64
	for _, x := range d {
		v = v*10 + uint64(x)
	}
	return v
}

// putDigits writes v into d as len(d) decimal numerals, most significant
// first, zero-padded.
func putDigits(d []uint16, v uint64) {
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = uint16(v % 10)
		v /= 10
	}
}

func numDigits(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// cryptIndex encrypts x, an integer in [0, n), to another integer in
// [0, n): FF1 over max(6, digits(n-1)) decimal digits with cycle walking
// until the result is below n. Callers check the domain size first; when n
// is below minDomain (an explicitly weakened mode) the walk needs about
// 10^6/n steps on average.
func (e *Engine) cryptIndex(part string, x, n uint64, decrypt bool) (uint64, error) {
	if n > 1e19 {
		panic("tokenize: cryptIndex domain above 10^19")
	}
	if n < 2 {
		return x, nil
	}
	l := max(6, numDigits(n-1))
	var buf [20]uint16
	d := buf[:l]
	putDigits(d, x)
	if err := e.walk(part, d, decrypt, func(d []uint16) bool { return digitsValue(d) < n }); err != nil {
		return 0, err
	}
	return digitsValue(d), nil
}

// mixedDomain returns the number of values of a mixed-radix number with
// the given radixes (most significant first) as a float, for domain checks
// and error messages, or a number at least limit as soon as the product
// reaches it: checks compare with a limit, and a long value would otherwise
// pay a chain of dependent float multiplies for every radix.
func mixedDomain(radix []uint16, limit float64) float64 {
	f := 1.0
	for _, r := range radix {
		if f *= float64(r); f >= limit {
			return f
		}
	}
	return f
}

// cryptMixed encrypts the mixed-radix number vals (vals[i] < radix[i], most
// significant first) to another one with the same radixes, in place: the
// number is converted to an integer below M = Π radix, and cryptIndex (or
// its math/big counterpart above 10^19) permutes [0, M). It does not check
// the minimum domain; callers do, to name the format in the error. When
// every radix is 10, 26 or every one 36, it is plain FF1 over that
// alphabet, without cycle walking.
func (e *Engine) cryptMixed(part string, vals, radix []uint16, decrypt bool) error {
	if a := uniformAlphabet(radix); a != nil {
		return e.Numerals(a, part, vals, vals, decrypt)
	}
	m, ok := uint64(1), true
	for _, r := range radix {
		hi, lo := bits.Mul64(m, uint64(r))
		if hi != 0 || lo > 1e19 {
			ok = false
			break
		}
		m = lo
	}
	if ok {
		var v uint64
		for i, x := range vals {
			v = v*uint64(radix[i]) + uint64(x)
		}
		v, err := e.cryptIndex(part, v, m, decrypt)
		if err != nil {
			return err
		}
		for i := len(vals) - 1; i >= 0; i-- {
			r := uint64(radix[i])
			vals[i] = uint16(v % r)
			v /= r
		}
		return nil
	}
	if mixedDomain(radix, 1e38) < 1e38 {
		return e.cryptMixed128(part, vals, radix, decrypt)
	}
	return e.cryptMixedBig(part, vals, radix, decrypt)
}

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

func (v u128) mulAdd(r, x uint64) u128 {
	hh, hl := bits.Mul64(v.hi, r)
	lh, ll := bits.Mul64(v.lo, r)
	if hh != 0 {
		panic("tokenize: u128 overflow")
	}
	lo, c := bits.Add64(ll, x, 0)
	hi, c2 := bits.Add64(hl, lh, c)
	if c2 != 0 {
		panic("tokenize: u128 overflow")
	}
	return u128{hi, lo}
}

func (v u128) divMod(r uint64) (u128, uint64) {
	qh, rem := bits.Div64(0, v.hi, r)
	ql, rem := bits.Div64(rem, v.lo, r)
	return u128{qh, ql}, rem
}

// cryptMixed128 is cryptMixed for domains below 10^38, in 128-bit
// arithmetic: the walk compares decimal numerals with those of M-1.
func (e *Engine) cryptMixed128(part string, vals, radix []uint16, decrypt bool) error {
	m, v := u128{0, 1}, u128{}
	for i, x := range vals {
		m = m.mulAdd(uint64(radix[i]), 0)
		v = v.mulAdd(uint64(radix[i]), uint64(x))
	}
	// m-1
	if m.lo == 0 {
		m.hi--
	}
	m.lo--
	var bbuf, dbuf [38]uint16
	l := 0
	for t := m; t != (u128{}); l++ {
		var d uint64
		t, d = t.divMod(10)
		bbuf[37-l] = uint16(d)
	}
	bound := bbuf[38-l:]
	d := dbuf[:l]
	for i := l - 1; i >= 0; i-- {
		var r uint64
		v, r = v.divMod(10)
		d[i] = uint16(r)
	}
	err := e.walk(part, d, decrypt, func(d []uint16) bool {
		for i := range d {
			if d[i] != bound[i] {
				return d[i] < bound[i]
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	v = u128{}
	for _, x := range d {
		v = v.mulAdd(10, uint64(x))
	}
	for i := len(vals) - 1; i >= 0; i-- {
		var r uint64
		v, r = v.divMod(uint64(radix[i]))
		vals[i] = uint16(r)
	}
	return nil
}

func (e *Engine) cryptMixedBig(part string, vals, radix []uint16, decrypt bool) error {
	var m, v, r, t big.Int
	m.SetInt64(1)
	for i, x := range vals {
		r.SetUint64(uint64(radix[i]))
		m.Mul(&m, &r)
		v.Mul(&v, &r)
		v.Add(&v, t.SetUint64(uint64(x)))
	}
	bound := t.Sub(&m, big.NewInt(1)).Text(10)
	l := len(bound)
	// Compare as equal-length digit strings: x < m ⇔ x ≤ m-1.
	bd := make([]uint16, l)
	for i := range l {
		bd[i] = uint16(bound[i] - '0')
	}
	s := v.Text(10)
	d := make([]uint16, l)
	for i := range len(s) {
		d[l-len(s)+i] = uint16(s[i] - '0')
	}
	err := e.walk(part, d, decrypt, func(d []uint16) bool {
		for i := range d {
			if d[i] != bd[i] {
				return d[i] < bd[i]
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	var sb strings.Builder
	for _, x := range d {
		sb.WriteByte(byte('0' + x))
	}
	v.SetString(sb.String(), 10)
	var q big.Int
	for i := len(vals) - 1; i >= 0; i-- {
		r.SetUint64(uint64(radix[i]))
		q.QuoRem(&v, &r, &t)
		vals[i] = uint16(t.Uint64())
		v.Set(&q)
	}
	return nil
}

// log10Domain formats a domain size for error messages, as a power of ten
// rounded down to one decimal (10^5.4).
func log10Domain(f float64) string {
	return fmt.Sprintf("10^%.1f", math.Floor(math.Log10(f)*10)/10)
}
