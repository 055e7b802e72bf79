package tokenize

import (
	"unicode/utf8"
)

// Pattern tokenizes values of a custom fixed format described by Mask, one
// mask character per value character:
//
//	9   a digit 0-9
//	A   a letter A-Z or a-z; the token has a letter of the same case
//	X   a digit or uppercase letter (0-9, A-Z)
//	x   a digit or lowercase letter (0-9, a-z)
//	\c  the literal character c (to write a literal 9, A, X, x or \)
//	any other character: itself, kept in the token
//
// For example Pattern{Mask: "AA-9999-99"} accepts "KR-2024-07" and gives
// tokens such as "QF-8351-62". The mask positions form one mixed-radix
// number (radix 10, 26 or 36) that FF1 permutes with cycle walking. The
// positions must allow at least 10^6 combinations (six 9s, five As, four
// Xs, or a mix), or tokenization fails with ErrDomainTooSmall. The mask is
// part of the tweak. A mask has 1 to 256 characters (code points, not
// bytes: literals may be any UTF-8), so values and tokens have at most 256.
type Pattern struct {
	Mask string
}

var _ Format = Pattern{}

// Name implements Format.
func (p Pattern) Name() string { return "pattern:" + p.Mask }

// patternMaxLen is the longest mask in characters; a value has at most as
// many characters as its mask.
const patternMaxLen = 256

// Transform implements Format.
func (p Pattern) Transform(e *Engine, v string, decrypt bool) (string, error) {
	if p.Mask == "" || !utf8.ValidString(p.Mask) || utf8.RuneCountInString(p.Mask) > patternMaxLen {
		return "", invalid("pattern", "Pattern.Mask must be 1 to %d characters of UTF-8", patternMaxLen)
	}
	var vb, rb [patternMaxLen]uint16
	vals, radix := vb[:0], rb[:0]
	out := make([]byte, 0, len(v))
	mask := p.Mask
	pos := 0
	for mask != "" {
		m, size := utf8.DecodeRuneInString(mask)
		mask = mask[size:]
		literal := false
		if m == '\\' {
			if mask == "" {
				return "", invalid("pattern", "Pattern.Mask ends with a backslash")
			}
			m, size = utf8.DecodeRuneInString(mask)
			mask = mask[size:]
			literal = true
		}
		if v == "" {
			return "", invalid("pattern", "shorter than the mask")
		}
		c, csize := utf8.DecodeRuneInString(v)
		v = v[csize:]
		if c == utf8.RuneError && csize == 1 {
			return "", invalid("pattern", "not valid UTF-8 at character %d", pos)
		}
		var x, r uint16
		ok := false
		if !literal {
			switch m {
			case '9':
				x, r, ok = digitVal(c), 10, isDigit(c)
			case 'A':
				x, r, ok = letterVal(c), 26, isLetter(c)
			case 'X':
				x, r, ok = alnumVal(c, 'A'), 36, isDigit(c) || 'A' <= c && c <= 'Z'
			case 'x':
				x, r, ok = alnumVal(c, 'a'), 36, isDigit(c) || 'a' <= c && c <= 'z'
			default:
				literal = true
			}
		}
		if literal {
			if c != m {
				return "", invalid("pattern", "character %d does not match the mask's literal", pos)
			}
		} else if !ok {
			return "", invalid("pattern", "character %d does not match mask character %q", pos, m)
		} else {
			vals, radix = append(vals, x), append(radix, r)
		}
		out = utf8.AppendRune(out, c)
		pos++
	}
	if v != "" {
		return "", invalid("pattern", "longer than the mask")
	}
	if f := mixedDomain(radix, minDomain); f < minDomain {
		return "", tooSmall("pattern", "mask allows %s tokens, need 10^6", log10Domain(f))
	}
	if err := e.cryptMixed("", vals, radix, decrypt); err != nil {
		return "", err
	}
	// Only ASCII characters were tokenized, so rewrite them byte by byte.
	j := 0
	m := p.Mask
	for i := 0; i < len(out); {
		mr, ms := utf8.DecodeRuneInString(m)
		m = m[ms:]
		if mr == '\\' {
			_, ms = utf8.DecodeRuneInString(m)
			m = m[ms:]
			mr = 0
		}
		_, cs := utf8.DecodeRune(out[i:])
		switch mr {
		case '9':
			out[i] = byte('0' + vals[j])
			j++
		case 'A':
			if out[i] >= 'a' {
				out[i] = byte('a' + vals[j])
			} else {
				out[i] = byte('A' + vals[j])
			}
			j++
		case 'X', 'x':
			switch x := vals[j]; {
			case x < 10:
				out[i] = byte('0' + x)
			case mr == 'X':
				out[i] = byte('A' + x - 10)
			default:
				out[i] = byte('a' + x - 10)
			}
			j++
		}
		i += cs
	}
	return string(out), nil
}

func isDigit(c rune) bool  { return '0' <= c && c <= '9' }
func isLetter(c rune) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func digitVal(c rune) uint16 { return uint16(c - '0') }

func letterVal(c rune) uint16 {
	if c >= 'a' {
		return uint16(c - 'a')
	}
	return uint16(c - 'A')
}

func alnumVal(c, base rune) uint16 {
	if isDigit(c) {
		return uint16(c - '0')
	}
	return uint16(c-base) + 10
}
