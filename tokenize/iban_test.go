package tokenize_test

import (
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// ibanOK checks the mod-97 rule with math/big, independently of the
// package.
func ibanOK(s string) bool {
	c := strings.ReplaceAll(s, " ", "")
	if len(c) < 15 {
		return false
	}
	var sb strings.Builder
	for _, r := range strings.ToUpper(c[4:] + c[:4]) {
		switch {
		case r >= '0' && r <= '9':
			sb.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			sb.WriteString(big.NewInt(int64(r - 'A' + 10)).String())
		default:
			return false
		}
	}
	n, _ := new(big.Int).SetString(sb.String(), 10)
	return new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// ibanShapes gives each country's BBAN shape: 9 digit, A letter.
var ibanShapes = map[string]string{
	"PL": "999999999999999999999999",
	"DE": "999999999999999999",
	"GB": "AAAA99999999999999",
	"FR": "9999999999AAAAAAAAAAA99",
	"ES": "99999999999999999999",
	"IT": "A9999999999AAAAAAAAAAAA",
	"NL": "AAAA9999999999",
	"XX": "AAAA9999999999999", // generic rule
}

func randomIBAN(r *rand.Rand) string {
	countries := []string{"PL", "DE", "GB", "FR", "ES", "IT", "NL", "XX"}
	cc := countries[r.IntN(len(countries))]
	var sb strings.Builder
	for _, k := range ibanShapes[cc] {
		if k == '9' {
			sb.WriteByte(byte('0' + r.IntN(10)))
		} else {
			sb.WriteByte(byte('A' + r.IntN(26)))
		}
	}
	bban := sb.String()
	for ck := 2; ck < 99; ck++ {
		s := cc + string([]byte{byte('0' + ck/10), byte('0' + ck%10)}) + bban
		if ibanOK(s) {
			if r.IntN(2) == 0 {
				var g []string
				for i := 0; i < len(s); i += 4 {
					g = append(g, s[i:min(len(s), i+4)])
				}
				return strings.Join(g, " ")
			}
			return s
		}
	}
	panic("no check digits")
}

func TestIBAN(t *testing.T) {
	_, tk := newTokenizer(t)
	runFormat(t, tk, formatCase{
		name: "iban",
		f:    tokenize.IBAN{},
		gen:  randomIBAN,
		fixed: []string{"PL61 1090 1014 0000 0712 1981 2874", "DE89370400440532013000", "GB29NWBK60161331926819",
			"FR1420041010050500013M02606", "ES9121000418450200051332", "IT60X0542811101000000123456", "NL91ABNA0417164300"},
		check: func(t *testing.T, v, tok string) {
			if !ibanOK(tok) {
				t.Fatalf("token %q fails mod-97", tok)
			}
			if v[:2] != tok[:2] {
				t.Fatalf("country code not kept: %q -> %q", v, tok)
			}
		},
	})
}

func TestIBANBadInput(t *testing.T) {
	_, tk := newTokenizer(t)
	expectInvalid(t, tk, tokenize.IBAN{}, "", "PL", "PL61 1090 1014 0000 0712 1981 2875", "PL611090101400000712198128",
		"1L61109010140000071219812874", "pl61109010140000071219812874", "PLx1109010140000071219812874",
		"PL61  1090 1014 0000 0712 1981 2874", " PL61109010140000071219812874", "PL61-1090-1014-0000-0712-1981-2874",
		"DE8937040044053201300", "ES00 4407 4945 9909 8054 2095", "GB29NWBK6016133192681Ä", "XX00"+strings.Repeat("1", 40))
}
