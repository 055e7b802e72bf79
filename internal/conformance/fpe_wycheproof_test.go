package conformance_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/c2sp/wycheproof"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// Wycheproof AES-FF1 vectors (github.com/C2SP/wycheproof, testvectors_v1).
// The "radix" files give numerals as JSON integer lists, the "base" files
// give strings over an explicit alphabet.

type wycheproofFile[M any] struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		Alphabet string `json:"alphabet"`
		KeySize  int    `json:"keySize"`
		MsgSize  int    `json:"msgSize"`
		Radix    int    `json:"radix"`
		Tests    []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Key     string   `json:"key"`
			Tweak   string   `json:"tweak"`
			Msg     M        `json:"msg"`
			Ct      M        `json:"ct"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func readWycheproof[M any](t *testing.T, name string) wycheproofFile[M] {
	t.Helper()
	data, err := fs.ReadFile(wycheproof.TestVectors, name)
	if err != nil {
		t.Fatalf("wycheproof %s: %v", name, err)
	}
	var f wycheproofFile[M]
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("wycheproof %s: %v", name, err)
	}
	if f.Algorithm != "AES-FF1" {
		t.Fatalf("wycheproof %s: algorithm %q", name, f.Algorithm)
	}
	return f
}

// errAny stands for "some error" where Wycheproof flags no specific cause.
var errAny = errors.New("any error")

// wycheproofExpect returns the error a test case must produce, or nil if it
// must succeed. Cases flagged SmallMessageSize (100 ≤ radix^len < 10^6) are
// valid under the 2016 standard but must be rejected under Rev.1.
func wycheproofExpect(t *testing.T, flags []string, result string) error {
	t.Helper()
	switch {
	case slices.Contains(flags, "SmallMessageSize"), slices.Contains(flags, "InvalidMessageSize"):
		return fpe.ErrDomainTooSmall
	case result == "valid":
		return nil
	case result != "invalid":
		t.Fatalf("unexpected result %q", result)
	case slices.Contains(flags, "InvalidKeySize"):
		return fpe.ErrInvalidKey
	case slices.Contains(flags, "InvalidPlaintext"):
		return fpe.ErrInvalidInput
	}
	return errAny
}

// checkErr fails unless err matches want (nil, errAny or a sentinel).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v", what, err)
	case want == errAny && err == nil:
		t.Fatalf("%s accepted an invalid case", what)
	case want != nil && want != errAny && !errors.Is(err, want):
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// syntheticAlphabet returns radix distinct characters, all valid Unicode
// scalar values, for running integer-list vectors through the string API.
func syntheticAlphabet(radix int) string {
	var sb strings.Builder
	base := rune(0x100)
	if radix > 0xD800-0x100 {
		base = 0x10000 // stay clear of the surrogate range
	}
	for i := range radix {
		sb.WriteRune(base + rune(i))
	}
	return sb.String()
}

// listToString maps a numeral list onto alphabet; out-of-range numerals
// (Wycheproof uses -1) become '-', which no synthetic alphabet contains.
func listToString(alpha []rune, x []int) string {
	var sb strings.Builder
	for _, v := range x {
		if v < 0 || v >= len(alpha) {
			sb.WriteByte('-')
		} else {
			sb.WriteRune(alpha[v])
		}
	}
	return sb.String()
}

var wycheproofRadixFiles = []string{
	"aes_ff1_radix10_test.json",
	"aes_ff1_radix16_test.json",
	"aes_ff1_radix26_test.json",
	"aes_ff1_radix32_test.json",
	"aes_ff1_radix36_test.json",
	"aes_ff1_radix45_test.json",
	"aes_ff1_radix62_test.json",
	"aes_ff1_radix64_test.json",
	"aes_ff1_radix85_test.json",
	"aes_ff1_radix255_test.json",
	"aes_ff1_radix256_test.json",
	"aes_ff1_radix65535_test.json",
	"aes_ff1_radix65536_test.json",
}

var wycheproofBaseFiles = []string{
	"aes_ff1_base10_test.json",
	"aes_ff1_base16_test.json",
	"aes_ff1_base26_test.json",
	"aes_ff1_base32_test.json",
	"aes_ff1_base36_test.json",
	"aes_ff1_base45_test.json",
	"aes_ff1_base62_test.json",
	"aes_ff1_base64_test.json",
	"aes_ff1_base85_test.json",
}

// TestFF1Wycheproof runs every Wycheproof radix (numeral list) file through
// both the numeral API and the string API, one subtest per test case.
func TestFF1Wycheproof(t *testing.T) {
	for _, name := range wycheproofRadixFiles {
		t.Run(strings.TrimSuffix(name, "_test.json"), func(t *testing.T) {
			f := readWycheproof[[]int](t, name)
			count := 0
			for _, g := range f.TestGroups {
				alphaStr := syntheticAlphabet(g.Radix)
				alpha := []rune(alphaStr)
				parsed, err := fpe.NewAlphabet(alphaStr)
				if err != nil {
					t.Fatal(err)
				}
				for _, tc := range g.Tests {
					count++
					t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
						want := wycheproofExpect(t, tc.Flags, tc.Result)
						key, tweak := mustHex(t, tc.Key), mustHex(t, tc.Tweak)
						c, err := fpe.NewFF1WithAlphabet(key, parsed)
						if err != nil || want == fpe.ErrInvalidKey {
							checkErr(t, "NewFF1WithAlphabet", err, want)
							return
						}
						runNumerals(t, c, tweak, tc.Msg, tc.Ct, want)
						pt, ct := listToString(alpha, tc.Msg), listToString(alpha, tc.Ct)
						checkWycheproofString(t, c, tweak, pt, ct, want)
					})
				}
			}
			if count != f.NumberOfTests {
				t.Errorf("ran %d cases, file declares %d", count, f.NumberOfTests)
			}
		})
	}
}

func runNumerals(t *testing.T, c *fpe.FF1, tweak []byte, msg, ct []int, want error) {
	t.Helper()
	toU16 := func(x []int) ([]uint16, bool) {
		out := make([]uint16, len(x))
		for i, v := range x {
			if v < 0 || v > 0xFFFF {
				return nil, false
			}
			out[i] = uint16(v)
		}
		return out, true
	}
	src, ok := toU16(msg)
	if !ok {
		if want == nil {
			t.Fatal("valid case has a numeral outside uint16")
		}
		return // not representable as numerals; the string API rejects it
	}
	dst := make([]uint16, len(src))
	err := c.EncryptNumerals(dst, src, tweak)
	checkErr(t, "EncryptNumerals", err, want)
	if want != nil {
		return
	}
	wantCT, _ := toU16(ct)
	if !slices.Equal(dst, wantCT) {
		t.Fatalf("EncryptNumerals = %v, want %v", dst, wantCT)
	}
	if err := c.DecryptNumerals(dst, dst, tweak); err != nil {
		t.Fatalf("DecryptNumerals: %v", err)
	}
	if !slices.Equal(dst, src) {
		t.Fatalf("DecryptNumerals = %v, want %v", dst, src)
	}
}

func checkWycheproofString(t *testing.T, c *fpe.FF1, tweak []byte, pt, ct string, want error) {
	t.Helper()
	got, err := c.Encrypt(pt, tweak)
	checkErr(t, "Encrypt", err, want)
	if want == fpe.ErrDomainTooSmall {
		_, err := c.Decrypt(ct, tweak)
		checkErr(t, "Decrypt", err, want)
	}
	if want != nil {
		return
	}
	if got != ct {
		t.Fatalf("Encrypt mismatch (len %d)", len(ct))
	}
	back, err := c.Decrypt(ct, tweak)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if back != pt {
		t.Fatal("Decrypt mismatch")
	}
}

// TestFF1WycheproofStrings runs the Wycheproof "base" files, which carry
// their alphabet, through the string API exactly as an external caller would.
func TestFF1WycheproofStrings(t *testing.T) {
	for _, name := range wycheproofBaseFiles {
		t.Run(strings.TrimSuffix(name, "_test.json"), func(t *testing.T) {
			f := readWycheproof[string](t, name)
			count := 0
			for _, g := range f.TestGroups {
				for _, tc := range g.Tests {
					count++
					t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
						want := wycheproofExpect(t, tc.Flags, tc.Result)
						c, err := fpe.NewFF1(mustHex(t, tc.Key), g.Alphabet)
						if err != nil || want == fpe.ErrInvalidKey {
							checkErr(t, "NewFF1", err, want)
							return
						}
						if c.Radix() != g.Radix {
							t.Fatalf("Radix = %d, want %d", c.Radix(), g.Radix)
						}
						checkWycheproofString(t, c, mustHex(t, tc.Tweak), tc.Msg, tc.Ct, want)
					})
				}
			}
			if count != f.NumberOfTests {
				t.Errorf("ran %d cases, file declares %d", count, f.NumberOfTests)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
