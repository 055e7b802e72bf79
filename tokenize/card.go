package tokenize

import (
	"strings"
)

// CardKeep says which digits of a card number stay in clear.
type CardKeep int

const (
	// KeepLast4 keeps the last four digits and tokenizes all others,
	// including the BIN. It is the default because it is the only choice
	// that works for every card length with a Luhn policy (see Card).
	KeepLast4 CardKeep = iota
	// KeepBINAndLast4 keeps the first six digits (the BIN/IIN, which names
	// the issuer and brand) and the last four. With a Luhn constraint it
	// needs at least 17 digits; with LuhnAny at least 16.
	KeepBINAndLast4
)

// LuhnPolicy says whether a card token passes the Luhn (mod 10) check.
type LuhnPolicy int

const (
	// LuhnInvalid (the default) makes every token fail the Luhn check, so
	// a token can never be mistaken for, or charged as, a real card number,
	// and a token stored by mistake in a PAN column is caught by any Luhn
	// validator. Input must be Luhn-valid.
	LuhnInvalid LuhnPolicy = iota
	// LuhnValid makes every token pass the Luhn check, for legacy
	// validators that insist on it. Input must be Luhn-valid. A token may
	// then coincide with someone's real card number.
	LuhnValid
	// LuhnAny puts no constraint on tokens (one in ten passes the Luhn
	// check by chance) and accepts input that fails it, such as test
	// numbers. It gains a factor of ten in domain.
	LuhnAny
)

// Card tokenizes payment card numbers (PANs) of 13 to 19 digits. Single
// spaces or dashes between digits are kept in place; any other character
// is an error. The zero value keeps the last four digits and makes tokens
// Luhn-invalid.
//
// With LuhnValid or LuhnInvalid the input must be Luhn-valid, the digits
// between the kept ones except the last are FF1-encrypted, and the last
// free digit is computed so that the token passes (LuhnValid) or fails by
// exactly one (LuhnInvalid: the digit is one more, mod 10, than the one
// that would pass). The Luhn constraint thus costs one digit: a token has
// 10^(free-1) possible values. LuhnAny encrypts every free digit.
// Tokenization fails with ErrDomainTooSmall when fewer than 10^6 tokens are
// possible, instead of weakening silently:
//
//	digits  KeepLast4        KeepBINAndLast4   KeepBINAndLast4
//	        (any policy)     LuhnValid/Invalid LuhnAny
//	13      10^8             refused (10^2)    refused (10^3)
//	14      10^9             refused (10^3)    refused (10^4)
//	15      10^10            refused (10^4)    refused (10^5)
//	16      10^11            refused (10^5)    10^6
//	17      10^12            10^6              10^7
//	18      10^13            10^7              10^8
//	19      10^14            10^8              10^9
//
// (KeepLast4 with LuhnAny: ten times the first column.) This is why
// KeepLast4 is the default: BIN and last four of a 16-digit card leave six
// free digits, 10^6 values, and a Luhn constraint cuts that to 10^5.
type Card struct {
	Keep CardKeep
	Luhn LuhnPolicy
}

var _ Format = Card{}

var cardNames = [2][3]string{
	{"card/last4/luhn-invalid", "card/last4/luhn-valid", "card/last4/luhn-any"},
	{"card/bin-last4/luhn-invalid", "card/bin-last4/luhn-valid", "card/bin-last4/luhn-any"},
}

// Name implements Format. It includes the options, so changing them gives
// unrelated tokens.
func (c Card) Name() string {
	if !c.valid() {
		return "card/invalid-options"
	}
	return cardNames[c.Keep][c.Luhn]
}

func (c Card) valid() bool {
	return c.Keep >= KeepLast4 && c.Keep <= KeepBINAndLast4 && c.Luhn >= LuhnInvalid && c.Luhn <= LuhnAny
}

const (
	cardMinDigits = 13
	cardMaxDigits = 19
)

// Transform implements Format.
func (c Card) Transform(e *Engine, v string, decrypt bool) (string, error) {
	if !c.valid() {
		return "", invalid("card", "unknown Keep or Luhn option")
	}
	var buf [cardMaxDigits]uint16
	d, err := parseSeparated(buf[:0], v, "card", cardMinDigits, cardMaxDigits)
	if err != nil {
		return "", err
	}
	n := len(d)
	lo, hi := 0, n-4
	if c.Keep == KeepBINAndLast4 {
		lo = 6
	}
	enc := hi - lo
	constrained := c.Luhn != LuhnAny
	if constrained {
		enc--
	}
	if enc < 6 {
		return "", tooSmall("card", "a %d-digit card number with these options leaves 10^%d possible tokens, need 10^6", n, max(enc, 0))
	}
	if constrained {
		adj := hi - 1 // the last free digit carries the Luhn constraint
		want := luhnDigit(d, adj)
		if decrypt && c.Luhn == LuhnInvalid {
			want = (want + 1) % 10
		}
		if d[adj] != want {
			if decrypt {
				return "", invalid("card", "token does not match the Luhn policy")
			}
			return "", invalid("card", "fails the Luhn check")
		}
	}
	if err := e.Numerals(decimalAlphabet, "", d[lo:lo+enc], d[lo:lo+enc], decrypt); err != nil {
		return "", err
	}
	if constrained {
		adj := hi - 1
		d[adj] = luhnDigit(d, adj)
		if !decrypt && c.Luhn == LuhnInvalid {
			d[adj] = (d[adj] + 1) % 10
		}
	}
	s := replaceDigits(v, d)
	clear(buf[:])
	return s, nil
}

// parseSeparated appends the ASCII digits of v to d. Single spaces or
// dashes may separate digits; v must start and end with a digit and have
// between minDigits and maxDigits digits.
func parseSeparated(d []uint16, v, format string, minDigits, maxDigits int) ([]uint16, error) {
	if v == "" {
		return d, invalid(format, "empty value")
	}
	prevSep := true
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case '0' <= ch && ch <= '9':
			if len(d) == maxDigits {
				return d, invalid(format, "more than %d digits", maxDigits)
			}
			d = append(d, uint16(ch-'0'))
			prevSep = false
		case ch == ' ' || ch == '-':
			if prevSep {
				return d, invalid(format, "separator at byte %d is not between two digits", i)
			}
			prevSep = true
		default:
			return d, invalid(format, "byte %d is not a digit, space or dash", i)
		}
	}
	if prevSep {
		return d, invalid(format, "ends with a separator")
	}
	if len(d) < minDigits {
		if minDigits == maxDigits {
			return d, invalid(format, "has %d digits, need %d", len(d), minDigits)
		}
		return d, invalid(format, "has %d digits, need %d to %d", len(d), minDigits, maxDigits)
	}
	return d, nil
}

// replaceDigits returns v with its ASCII digits replaced, in order, by the
// decimal numerals d.
func replaceDigits(v string, d []uint16) string {
	var sb strings.Builder
	sb.Grow(len(v))
	j := 0
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if '0' <= ch && ch <= '9' && j < len(d) {
			ch = byte('0' + d[j])
			j++
		}
		sb.WriteByte(ch)
	}
	return sb.String()
}

// luhnDouble[x] is the Luhn contribution of a doubled digit x.
var luhnDouble = [10]uint16{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}

// luhnUndouble inverts luhnDouble.
var luhnUndouble = [10]uint16{0, 5, 1, 6, 2, 7, 3, 8, 4, 9}

// luhnDigit returns the digit at position pos of d that makes d pass the
// Luhn check, whatever d[pos] holds now.
func luhnDigit(d []uint16, pos int) uint16 {
	var s uint16
	n := len(d)
	for i, x := range d {
		if i == pos {
			continue
		}
		if (n-1-i)%2 == 1 {
			s += luhnDouble[x]
		} else {
			s += x
		}
	}
	t := (10 - s%10) % 10
	if (n-1-pos)%2 == 1 {
		return luhnUndouble[t]
	}
	return t
}
