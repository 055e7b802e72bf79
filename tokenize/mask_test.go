package tokenize_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		fn   func(string) string
		in   string
		want string
	}{
		{tokenize.MaskCard, "4111 1111 1111 1111", "**** **** **** 1111"},
		{tokenize.MaskCard, "5500-0000-0000-0004", "****-****-****-0004"},
		{tokenize.MaskCard, "4111111111111111", "************1111"},
		{tokenize.MaskCard, "1234", "****"},
		{tokenize.MaskCard, "4111 1111 1111 111x", "**** **** ***1 111*"},
		{tokenize.MaskCard, "", ""},
		{tokenize.MaskCard, "\xff\xfe", "**"},
		{tokenize.MaskEmail, "jan.kowalski@example.com", "j***@example.com"},
		{tokenize.MaskEmail, "j@example.com", "j***@example.com"},
		{tokenize.MaskEmail, "@example.com", "****@example.com"},
		{tokenize.MaskEmail, "łukasz@wp.pl", "ł***@wp.pl"},
		{tokenize.MaskEmail, "no-at-sign", "***"},
		{tokenize.MaskEmail, "", "***"},
		{tokenize.MaskEmail, "\xffa@b\xfe", "****@b*"},
		{tokenize.MaskPhone, "+48 601 234 567", "+** *** *** 567"},
		{tokenize.MaskPhone, "(415) 555-2671", "(***) ***-*671"},
		{tokenize.MaskPhone, "112", "***"},
		{tokenize.MaskPhone, "+48 601 234 567 ext 9", "+** *** *** *67 *** 9"},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
