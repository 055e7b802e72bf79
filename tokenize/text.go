package tokenize

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// PolishLetters is the default Text alphabet: the 26 Latin letters and the
// nine Polish ones, lowercase.
const PolishLetters = "aąbcćdeęfghijklłmnńoópqrsśtuvwxyzźż"

// Text tokenizes names and free text: every letter becomes a letter of the
// same case and every ASCII digit a digit, while spaces, punctuation and
// any other character stay in place, so "Zażółć Gęślą-Jaźń" becomes
// something like "Kęmzać Dóżbe-Cunł".
//
// Letters are folded to lowercase and tokenized as one string over
// Letters (FF1 over that alphabet), and each position gets back its case.
// When digits are present too, letters (radix len(Letters)) and digits
// (radix 10) form one mixed-radix number that FF1 permutes with cycle
// walking. A letter whose lowercase form is not in Letters, a non-ASCII
// digit or invalid UTF-8 fails with ErrInvalidFormat.
//
// Minimum length: the letters and digits must allow 10^6 combinations: 4
// letters with the default alphabet (35^4 ≈ 1.5·10^6); shorter names such
// as "Jan" or "Ewa" fail with ErrDomainTooSmall. Values are limited to
// 4096 characters (code points), counted the same way on both sides: a
// token has as many characters as its value but not as many bytes, since
// an ASCII letter may become a two-byte "ż". Long text with digits costs
// math/big arithmetic.
type Text struct {
	// Letters lists the lowercase letters tokenized, each with a distinct
	// uppercase form that is an uppercase letter, not a titlecase one
	// (default PolishLetters). Changing it changes tokens.
	Letters string
}

var _ Format = Text{}

// Name implements Format.
func (t Text) Name() string {
	if t.Letters == "" || t.Letters == PolishLetters {
		return "text"
	}
	return "text:" + t.Letters
}

// textMaxLen is the longest value, and so the longest token, in
// characters. Bytes would not do: the token of 4096 ASCII letters is
// longer than 4096 bytes, and Detokenize would refuse it.
const textMaxLen = 4096

type textAlphabet struct {
	a     *fpe.Alphabet
	runes []rune
	index map[rune]uint16
	err   error
}

var (
	textAlphabets       sync.Map // string -> *textAlphabet
	defaultTextAlphabet = newTextAlphabet(PolishLetters)
)

func newTextAlphabet(letters string) *textAlphabet {
	ta := &textAlphabet{index: make(map[rune]uint16)}
	ta.a, ta.err = fpe.NewAlphabet(letters)
	if ta.err != nil {
		ta.err = invalid("text", "bad Text.Letters: %v", ta.err)
		return ta
	}
	for _, r := range letters {
		// The uppercase form must be an uppercase letter (Lu): Transform
		// reads only those as uppercase, so a letter whose uppercase is
		// titlecase (ᾳ, ᾼ) would give tokens it then refuses.
		up := unicode.ToUpper(r)
		if !unicode.IsLetter(r) || unicode.ToLower(r) != r || up == r || !unicode.IsUpper(up) || unicode.ToLower(up) != r {
			ta.err = invalid("text", "Text.Letters must be lowercase letters with distinct uppercase forms")
			return ta
		}
		ta.index[r] = uint16(len(ta.runes))
		ta.runes = append(ta.runes, r)
	}
	return ta
}

func (t Text) alphabet() *textAlphabet {
	if t.Letters == "" || t.Letters == PolishLetters {
		return defaultTextAlphabet
	}
	if ta, ok := textAlphabets.Load(t.Letters); ok {
		return ta.(*textAlphabet)
	}
	ta, _ := textAlphabets.LoadOrStore(t.Letters, newTextAlphabet(t.Letters))
	return ta.(*textAlphabet)
}

// Transform implements Format.
func (t Text) Transform(e *Engine, v string, decrypt bool) (string, error) {
	ta := t.alphabet()
	if ta.err != nil {
		return "", ta.err
	}
	if v == "" {
		return "", invalid("text", "empty value")
	}
	var vb, rb [64]uint16
	vals, radix := vb[:0], rb[:0]
	letterRadix := uint16(len(ta.runes))
	digits := false
	pos := 0
	for i, r := range v {
		if pos == textMaxLen {
			return "", invalid("text", "longer than %d characters", textMaxLen)
		}
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(v[i:]); size == 1 {
				return "", invalid("text", "not valid UTF-8 at character %d", pos)
			}
		case '0' <= r && r <= '9':
			vals, radix = append(vals, uint16(r-'0')), append(radix, 10)
			digits = true
		case unicode.IsDigit(r):
			return "", invalid("text", "character %d is a non-ASCII digit", pos)
		case unicode.IsLetter(r):
			lower := unicode.ToLower(r)
			x, ok := ta.index[lower]
			if !ok || r != lower && (!unicode.IsUpper(r) || unicode.ToUpper(lower) != r) {
				return "", invalid("text", "character %d is a letter outside Text.Letters", pos)
			}
			vals, radix = append(vals, x), append(radix, letterRadix)
		}
		pos++
	}
	if f := mixedDomain(radix, minDomain); f < minDomain {
		return "", tooSmall("text", "letters and digits allow %s tokens, need 10^6 (at least 4 letters)", log10Domain(f))
	}
	var err error
	if digits {
		err = e.cryptMixed("", vals, radix, decrypt)
	} else {
		err = e.Numerals(ta.a, "", vals, vals, decrypt)
	}
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, len(v)+8)
	j := 0
	for _, r := range v {
		switch {
		case '0' <= r && r <= '9':
			r = rune('0' + vals[j])
			j++
		case unicode.IsLetter(r):
			up := unicode.IsUpper(r)
			r = ta.runes[vals[j]]
			if up {
				r = unicode.ToUpper(r)
			}
			j++
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out), nil
}
