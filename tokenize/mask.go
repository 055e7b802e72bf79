package tokenize

import (
	"strings"
	"unicode/utf8"
)

// The Mask functions hide values for display. They need no key and cannot
// be reversed; use them where a person must recognize a value ("the card
// ending 1111"), not where a system must join or restore it. They accept
// any string, valid or not, never panic, and never show more than the
// parts they document: a character that does not fit the expected format
// is masked too.

// MaskCard masks every digit of a card number but the last four, keeping
// spaces and dashes: "4111 1111 1111 1111" gives "**** **** **** 1111".
// Values with fewer than 12 digits are masked entirely.
func MaskCard(s string) string {
	return maskDigits(s, 12, 4, " -")
}

// MaskPhone masks every digit of a phone number but the last three,
// keeping a leading "+" and the separators " -./()": "+48 601 234 567"
// gives "+** *** *** 567". Values with fewer than 7 digits are masked
// entirely.
func MaskPhone(s string) string {
	return maskDigits(s, 7, 3, " -./()+")
}

// maskDigits shows the last show digits of s when it has at least minDigits
// digits, keeps the bytes of keep, and replaces every other character by
// '*'.
func maskDigits(s string, minDigits, show int, keep string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	if n < minDigits {
		show = 0
	}
	var sb strings.Builder
	sb.Grow(len(s))
	seen := 0
	for _, r := range s {
		switch {
		case '0' <= r && r <= '9':
			seen++
			if seen > n-show {
				sb.WriteRune(r)
			} else {
				sb.WriteByte('*')
			}
		case r < utf8.RuneSelf && strings.IndexByte(keep, byte(r)) >= 0:
			sb.WriteRune(r)
		default:
			sb.WriteByte('*')
		}
	}
	return sb.String()
}

// MaskEmail shows the first character of an email address's local part and
// its domain: "jan.kowalski@example.com" gives "j***@example.com". The
// length of the local part is not shown. A value without "@" gives "***".
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "***"
	}
	first := "*"
	if r, size := utf8.DecodeRuneInString(s); at > 0 && r != utf8.RuneError && size <= at && r != '@' {
		first = s[:size]
	}
	domain := s[at+1:]
	if !utf8.ValidString(domain) {
		domain = strings.ToValidUTF8(domain, "*")
	}
	return first + "***@" + domain
}
