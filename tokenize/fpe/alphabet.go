package fpe

import (
	"strings"
	"unicode/utf8"
)

// MaxRadix is the largest supported radix: numerals are uint16 values.
const MaxRadix = 1 << 16

// An Alphabet is an ordered set of distinct Unicode characters (code points).
// Numeral i is the i-th character, and the radix is the number of
// characters. Characters are compared exactly: there is no case folding, no
// Unicode normalization, no trimming and no sign handling, so "ą" (U+0105) and
// "a" followed by U+0328 are different inputs, and "+1" is simply invalid for
// the alphabet "0123456789".
//
// An Alphabet is immutable and safe for concurrent use.
type Alphabet struct {
	chars     string
	runes     []rune
	ascii     [128]uint32     // numeral+1 for ASCII characters, 0 if absent
	others    map[rune]uint16 // numerals of non-ASCII characters
	asciiOnly bool            // every character is one byte long
}

// NewAlphabet returns the alphabet whose numeral i is the i-th character of
// chars. It fails with [ErrInvalidAlphabet] if chars is not valid UTF-8,
// contains U+FFFD, repeats a character, or has fewer than 2 or more than
// [MaxRadix] characters.
func NewAlphabet(chars string) (*Alphabet, error) {
	if !utf8.ValidString(chars) {
		return nil, wrapf(ErrInvalidAlphabet, "not valid UTF-8")
	}
	n := utf8.RuneCountInString(chars)
	if n < 2 {
		return nil, wrapf(ErrInvalidAlphabet, "has %d characters, need at least 2", n)
	}
	if n > MaxRadix {
		return nil, wrapf(ErrInvalidAlphabet, "has %d characters, at most %d are supported", n, MaxRadix)
	}
	a := &Alphabet{chars: strings.Clone(chars), runes: make([]rune, 0, n), asciiOnly: true}
	for _, r := range chars {
		i := len(a.runes)
		if r == utf8.RuneError {
			return nil, wrapf(ErrInvalidAlphabet, "character %d is U+FFFD", i)
		}
		if r < utf8.RuneSelf {
			if a.ascii[r] != 0 {
				return nil, wrapf(ErrInvalidAlphabet, "character %d repeats character %d", i, a.ascii[r]-1)
			}
			a.ascii[r] = uint32(i) + 1
		} else {
			if a.others == nil {
				a.others = make(map[rune]uint16)
			}
			if j, dup := a.others[r]; dup {
				return nil, wrapf(ErrInvalidAlphabet, "character %d repeats character %d", i, j)
			}
			a.others[r] = uint16(i)
			a.asciiOnly = false
		}
		a.runes = append(a.runes, r)
	}
	return a, nil
}

// Radix returns the number of characters in the alphabet.
func (a *Alphabet) Radix() int { return len(a.runes) }

// String returns the characters of the alphabet in numeral order.
func (a *Alphabet) String() string { return a.chars }

// Len returns the number of characters (numerals) in s, without checking
// that they belong to the alphabet.
func (a *Alphabet) Len(s string) int {
	if a.asciiOnly {
		// Non-ASCII bytes are rejected by AppendNumerals anyway; the count
		// only sizes a buffer.
		return len(s)
	}
	return utf8.RuneCountInString(s)
}

// AppendNumerals appends the numerals of the characters of s to dst and
// returns the extended slice. It fails with [ErrInvalidInput], naming the
// character position, if a character of s is not in the alphabet or s is not
// valid UTF-8; dst is then returned unextended.
func (a *Alphabet) AppendNumerals(dst []uint16, s string) ([]uint16, error) {
	start := len(dst)
	if a.asciiOnly {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= utf8.RuneSelf || a.ascii[c] == 0 {
				return dst[:start], wrapf(ErrInvalidInput, "character at position %d is not in the alphabet", i)
			}
			dst = append(dst, uint16(a.ascii[c]-1))
		}
		return dst, nil
	}
	pos := 0
	for i := 0; i < len(s); pos++ {
		c := s[i]
		if c < utf8.RuneSelf {
			if a.ascii[c] == 0 {
				return dst[:start], wrapf(ErrInvalidInput, "character at position %d is not in the alphabet", pos)
			}
			dst = append(dst, uint16(a.ascii[c]-1))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		x, ok := a.others[r]
		if !ok || (r == utf8.RuneError && size == 1) {
			return dst[:start], wrapf(ErrInvalidInput, "character at position %d is not in the alphabet", pos)
		}
		dst = append(dst, x)
		i += size
	}
	return dst, nil
}

// AppendString appends the characters of numerals x to dst and returns the
// extended slice. It fails with [ErrInvalidInput] if a numeral is not less
// than the radix; dst is then returned unextended.
func (a *Alphabet) AppendString(dst []byte, x []uint16) ([]byte, error) {
	start := len(dst)
	for i, v := range x {
		if int(v) >= len(a.runes) {
			return dst[:start], wrapf(ErrInvalidInput, "numeral at position %d is not less than the radix", i)
		}
		if a.asciiOnly {
			dst = append(dst, byte(a.runes[v]))
		} else {
			dst = utf8.AppendRune(dst, a.runes[v])
		}
	}
	return dst, nil
}

// encodedLen returns the length in bytes of the characters of x, which must
// all be less than the radix.
func (a *Alphabet) encodedLen(x []uint16) int {
	if a.asciiOnly {
		return len(x)
	}
	n := 0
	for _, v := range x {
		n += utf8.RuneLen(a.runes[v])
	}
	return n
}

// toString converts numerals (all < radix) to a string with one allocation.
func (a *Alphabet) toString(x []uint16) string {
	if a.asciiOnly && len(x) <= 64 {
		var b [64]byte
		for i, v := range x {
			b[i] = byte(a.runes[v])
		}
		return string(b[:len(x)])
	}
	var sb strings.Builder
	sb.Grow(a.encodedLen(x))
	if a.asciiOnly {
		for _, v := range x {
			sb.WriteByte(byte(a.runes[v]))
		}
	} else {
		for _, v := range x {
			sb.WriteRune(a.runes[v])
		}
	}
	return sb.String()
}
