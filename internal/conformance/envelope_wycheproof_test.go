package conformance_test

// Known-answer tests for the primitives this package builds on, from
// Project Wycheproof (github.com/c2sp/wycheproof, testvectors_v1):
// aes_gcm_test.json for the AES-256-GCM AEAD exactly as Encrypt/Decrypt
// construct it (cipher.NewGCM with 96-bit nonces and 128-bit tags),
// aes_siv_cmac_test.json for fieldcrypt's own AES-SIV (internal/aessiv,
// which EncryptDeterministic uses) and Tink's (which wrote the ciphertexts
// of earlier releases), aead_aes_siv_cmac_test.json for the multi-component
// S2V of internal/aessiv, and hkdf_sha256_test.json for the data-key
// derivation.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"testing"

	"github.com/c2sp/wycheproof"
	"github.com/tink-crypto/tink-go/v2/daead/subtle"

	"github.com/fieldcrypt/fieldcrypt/internal/aessiv"
)

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func loadVectors[T any](t *testing.T, name string) T {
	t.Helper()
	data, err := fs.ReadFile(wycheproof.TestVectors, name)
	if err != nil {
		t.Fatalf("reading Wycheproof %s: %v", name, err)
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return v
}

func TestWycheproofAESGCM(t *testing.T) {
	suite := loadVectors[struct {
		TestGroups []struct {
			KeySize, IvSize, TagSize int
			Tests                    []struct {
				TcID                       int `json:"tcId"`
				Key, Iv, Aad, Msg, Ct, Tag hexBytes
				Result                     string
				Flags                      []string
			}
		}
	}](t, "aes_gcm_test.json")
	ran := 0
	for _, g := range suite.TestGroups {
		// Encrypt uses AES-256 with 96-bit nonces and 128-bit tags only.
		if g.KeySize != 256 || g.IvSize != 96 || g.TagSize != 128 {
			continue
		}
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
				ran++
				block, err := aes.NewCipher(tc.Key)
				if err != nil {
					t.Fatal(err)
				}
				// Decrypt opens with cipher.NewGCMWithRandomNonce, the nonce
				// leading the input; that is what the vectors check.
				aead, err := cipher.NewGCMWithRandomNonce(block)
				if err != nil {
					t.Fatal(err)
				}
				in := append(append(append([]byte{}, tc.Iv...), tc.Ct...), tc.Tag...)
				pt, err := aead.Open(nil, nil, in, tc.Aad)
				switch tc.Result {
				case "valid", "acceptable":
					if err != nil {
						t.Fatalf("Open of a valid vector failed: %v", err)
					}
					if !bytes.Equal(pt, tc.Msg) {
						t.Fatal("Open returned the wrong plaintext")
					}
					// Sealing with a chosen nonce, to reproduce the vector,
					// is refused in FIPS 140-only mode (and never done by
					// Encrypt, which takes its nonce from the system).
					if !fips140.Enforced() {
						g, _ := cipher.NewGCM(block)
						if got := g.Seal(nil, tc.Iv, tc.Msg, tc.Aad); !bytes.Equal(got, append(append([]byte{}, tc.Ct...), tc.Tag...)) {
							t.Fatal("Seal does not reproduce the vector")
						}
					}
				case "invalid":
					if err == nil {
						t.Fatalf("Open accepted an invalid vector (flags %v)", tc.Flags)
					}
				}
			})
		}
	}
	if ran == 0 {
		t.Fatal("no AES-256-GCM vectors found")
	}
}

func TestWycheproofAESSIV(t *testing.T) {
	suite := loadVectors[struct {
		TestGroups []struct {
			KeySize int
			Tests   []struct {
				TcID              int `json:"tcId"`
				Key, Aad, Msg, Ct hexBytes
				Result            string
			}
		}
	}](t, "aes_siv_cmac_test.json")
	ran := 0
	for _, g := range suite.TestGroups {
		// EncryptDeterministic uses AES-SIV with a 512-bit key (two AES-256 keys).
		if g.KeySize != 8*subtle.AESSIVKeySize {
			continue
		}
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
				ran++
				siv, err := subtle.NewAESSIV(tc.Key)
				if err != nil {
					t.Fatal(err)
				}
				pt, err := siv.DecryptDeterministically(tc.Ct, tc.Aad)
				if tc.Result == "invalid" {
					if err == nil {
						t.Fatal("DecryptDeterministically accepted an invalid vector")
					}
					return
				}
				if err != nil || !bytes.Equal(pt, tc.Msg) {
					t.Fatalf("decrypting a valid vector: %v", err)
				}
				ct, err := siv.EncryptDeterministically(tc.Msg, tc.Aad)
				if err != nil || !bytes.Equal(ct, tc.Ct) {
					t.Fatalf("encrypting a valid vector does not reproduce it: %v", err)
				}
			})
		}
	}
	if ran == 0 {
		t.Fatal("no 512-bit AES-SIV vectors found")
	}
}

// TestWycheproofAESSIVOwn runs every AES-SIV-CMAC vector, all three key
// sizes, through internal/aessiv: valid ones must seal to the vector and
// open, invalid ones must fail to open with dst left as it was.
func TestWycheproofAESSIVOwn(t *testing.T) {
	suite := loadVectors[struct {
		TestGroups []struct {
			KeySize int
			Tests   []struct {
				TcID              int `json:"tcId"`
				Key, Aad, Msg, Ct hexBytes
				Result            string
				Flags             []string
			}
		}
	}](t, "aes_siv_cmac_test.json")
	ran := map[string]int{}
	for _, g := range suite.TestGroups {
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("%d/tc%d", g.KeySize, tc.TcID), func(t *testing.T) {
				ran[tc.Result]++
				siv, err := aessiv.New(tc.Key)
				if err != nil {
					t.Fatal(err)
				}
				dst := []byte("dst")
				pt, err := siv.Open(dst, tc.Ct, tc.Aad)
				if tc.Result == "invalid" {
					if err == nil || string(pt) != "dst" {
						t.Fatalf("Open accepted an invalid vector (flags %v)", tc.Flags)
					}
					return
				}
				if err != nil || !bytes.Equal(pt[3:], tc.Msg) {
					t.Fatalf("opening a valid vector: %v", err)
				}
				if ct := siv.Seal(nil, tc.Msg, tc.Aad); !bytes.Equal(ct, tc.Ct) {
					t.Fatalf("Seal = %x, want %x", ct, tc.Ct)
				}
			})
		}
	}
	if ran["valid"] == 0 || ran["invalid"] == 0 {
		t.Fatalf("ran %v: want valid and invalid vectors", ran)
	}
}

// TestWycheproofAEADAESSIV: the nonce-based AEAD_AES_SIV_CMAC vectors
// (RFC 5297 section 3: S2V over the associated data, then the nonce, then
// the plaintext) check internal/aessiv's general S2V with two components.
func TestWycheproofAEADAESSIV(t *testing.T) {
	suite := loadVectors[struct {
		TestGroups []struct {
			KeySize int
			Tests   []struct {
				TcID                       int `json:"tcId"`
				Key, Iv, Aad, Msg, Ct, Tag hexBytes
				Result                     string
				Flags                      []string
			}
		}
	}](t, "aead_aes_siv_cmac_test.json")
	ran := 0
	for _, g := range suite.TestGroups {
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("%d/tc%d", g.KeySize, tc.TcID), func(t *testing.T) {
				ran++
				siv, err := aessiv.New(tc.Key)
				if err != nil {
					t.Fatal(err)
				}
				ad := [][]byte{tc.Aad, tc.Iv}
				in := append(append([]byte{}, tc.Tag...), tc.Ct...)
				pt, err := siv.OpenComponents(nil, in, ad)
				if tc.Result == "invalid" {
					if err == nil {
						t.Fatalf("OpenComponents accepted an invalid vector (flags %v)", tc.Flags)
					}
					return
				}
				if err != nil || !bytes.Equal(pt, tc.Msg) {
					t.Fatalf("opening a valid vector: %v", err)
				}
				if ct := siv.SealComponents(nil, tc.Msg, ad); !bytes.Equal(ct, in) {
					t.Fatalf("SealComponents = %x, want %x", ct, in)
				}
			})
		}
	}
	if ran == 0 {
		t.Fatal("no AEAD AES-SIV vectors found")
	}
}

func TestWycheproofHKDFSHA256(t *testing.T) {
	suite := loadVectors[struct {
		TestGroups []struct {
			Tests []struct {
				TcID                 int `json:"tcId"`
				Ikm, Salt, Info, Okm hexBytes
				Size                 int
				Result               string
			}
		}
	}](t, "hkdf_sha256_test.json")
	for _, g := range suite.TestGroups {
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
				okm, err := hkdf.Key(sha256.New, tc.Ikm, tc.Salt, string(tc.Info), tc.Size)
				if tc.Result == "invalid" {
					if err == nil {
						t.Fatal("HKDF accepted an invalid request")
					}
					return
				}
				if err != nil || !bytes.Equal(okm, tc.Okm) {
					t.Fatalf("HKDF output mismatch: %v", err)
				}
			})
		}
	}
}
