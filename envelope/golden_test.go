package envelope_test

// Golden vectors: ciphertexts written by every released format version,
// under the fixed keystore of testdata/golden (internal/golden). They must
// decrypt to their recorded plaintext forever; see TestGoldenRegenerate for
// the byte-for-byte check of what is deterministic.
//
// To add vectors for a new format version or case (never to change one):
//
//	go test ./envelope -run TestGoldenGenerate -golden.generate

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

var generate = flag.Bool("golden.generate", false, "append missing golden vectors to testdata/golden")

// goldenVector is one entry of testdata/golden/envelope.json.
type goldenVector struct {
	Name       string   `json:"name"`
	Format     int      `json:"format"`
	Mode       string   `json:"mode"` // "randomized" or "deterministic"
	Subject    string   `json:"subject"`
	Purpose    string   `json:"purpose"`
	ADParts    []string `json:"ad_parts"`       // given to envelope.AssociatedData
	AD         string   `json:"ad"`             // its output, standard base64
	Plaintext  string   `json:"plaintext"`      // standard base64
	Ciphertext string   `json:"ciphertext"`     // the string form
	Forgotten  bool     `json:"forgotten"`      // the subject is forgotten in the snapshot
	Note       string   `json:"note,omitempty"` // what the case covers
}

// goldenCase is what the generator encrypts.
type goldenCase struct {
	name, subject, purpose string
	ad                     []string
	plaintext              []byte
	forget, rotate         bool
	note                   string
}

var goldenCases = []goldenCase{
	{name: "email", subject: "cust-1", purpose: "default", ad: []string{"customers", "email", "cust-1"},
		plaintext: []byte("ada@example.com"), note: "a typical string column"},
	{name: "empty", subject: "cust-1", purpose: "default", ad: []string{"customers", "note", "cust-1"},
		plaintext: []byte{}, note: "empty plaintext"},
	{name: "no-ad", subject: "cust-2", purpose: "default", ad: nil,
		plaintext: []byte("Zażółć gęślą jaźń"), note: "no associated data, UTF-8 plaintext"},
	{name: "binary", subject: "cust-2", purpose: "payment", ad: []string{"orders", "card", "cust-2"},
		plaintext: []byte{0, 1, 2, 0xfe, 0xff}, note: "another purpose, binary plaintext"},
	{name: "forgotten", subject: "cust-gone", purpose: "default", ad: []string{"customers", "email", "cust-gone"},
		plaintext: []byte("gone@example.com"), forget: true, note: "the subject is forgotten: decrypts to ErrKeyDestroyed"},
	{name: "rotated", subject: "cust-rotated", purpose: "default", ad: []string{"customers", "phone", "cust-rotated"},
		plaintext: []byte("+48 600 100 200"), rotate: true, note: "key version 2"},
}

func modeEncrypt(mode string) func(*envelope.Cipher, context.Context, string, []byte, []byte) ([]byte, error) {
	if mode == "deterministic" {
		return (*envelope.Cipher).EncryptDeterministic
	}
	return (*envelope.Cipher).Encrypt
}

func readGolden(t *testing.T) []goldenVector {
	t.Helper()
	var vs []goldenVector
	if err := golden.ReadJSON("envelope.json", &vs); err != nil {
		t.Fatalf("reading golden vectors: %v", err)
	}
	return vs
}

// TestGolden decrypts every recorded ciphertext of every format version.
func TestGolden(t *testing.T) {
	kr, _, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs := readGolden(t)
	seen := map[string]bool{}
	for _, v := range vs {
		seen[fmt.Sprintf("v%d/%s", v.Format, v.Mode)] = true
		t.Run(v.Name, func(t *testing.T) {
			ad := envelope.AssociatedData(v.ADParts...)
			if got := base64.StdEncoding.EncodeToString(ad); got != v.AD {
				t.Fatalf("AssociatedData(%q) = %s, recorded %s: the associated data encoding changed", v.ADParts, got, v.AD)
			}
			want, _ := base64.StdEncoding.DecodeString(v.Plaintext)
			c, err := envelope.New(kr, envelope.WithPurpose(v.Purpose))
			if err != nil {
				t.Fatal(err)
			}
			pt, err := c.DecryptString(ctx, v.Ciphertext, ad)
			if v.Forgotten {
				if !errors.Is(err, keys.ErrKeyDestroyed) {
					t.Fatalf("DecryptString of a forgotten subject's ciphertext: %v, want ErrKeyDestroyed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecryptString: %v", err)
			}
			if pt != string(want) {
				t.Fatalf("DecryptString = %q, want %q", pt, want)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(v.Ciphertext)
			if int(raw[0]) != v.Format {
				t.Fatalf("format byte %d, recorded format %d", raw[0], v.Format)
			}
		})
	}
	for _, need := range []string{"v1/randomized", "v1/deterministic", "v2/randomized", "v2/deterministic"} {
		if !seen[need] {
			t.Errorf("no golden vector for %s", need)
		}
	}
}

// TestGoldenGenerate appends the vectors the current format version lacks.
// It never changes an existing one.
func TestGoldenGenerate(t *testing.T) {
	if !*generate {
		t.Skip("run with -golden.generate to append missing golden vectors")
	}
	if _, err := os.Stat(golden.Path("keystore.json")); errors.Is(err, os.ErrNotExist) {
		// Bootstrap: a new root key and an empty keystore.
		if err := os.MkdirAll(golden.Dir(), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden.Path("root-key.txt"), []byte(localkms.GenerateKey()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		kms, err := golden.RootKey()
		if err != nil {
			t.Fatal(err)
		}
		rec := golden.NewRecorder(memstore.New())
		if _, err := keys.Open(ctx, keys.Config{KMS: kms, Store: rec}); err != nil {
			t.Fatal(err)
		}
		if err := golden.WriteJSON("keystore.json", rec.Snapshot()); err != nil {
			t.Fatal(err)
		}
		if err := golden.WriteJSON("envelope.json", []goldenVector{}); err != nil {
			t.Fatal(err)
		}
	}
	kr, rec, err := golden.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs := readGolden(t)
	added := 0
	var forget []string
	for _, mode := range []string{"randomized", "deterministic"} {
		for _, gc := range goldenCases {
			name := fmt.Sprintf("v%d-%s-%s", envelope.FormatVersion, mode, gc.name)
			if slices.ContainsFunc(vs, func(v goldenVector) bool { return v.Name == name }) {
				continue
			}
			c, err := envelope.New(kr, envelope.WithPurpose(gc.purpose))
			if err != nil {
				t.Fatal(err)
			}
			subject := gc.subject
			if gc.forget || gc.rotate { // one subject per format version
				subject = fmt.Sprintf("%s-v%d", subject, envelope.FormatVersion)
			}
			if gc.rotate {
				k, err := kr.Current(ctx, subject, gc.purpose)
				if err != nil {
					t.Fatal(err)
				}
				if k.Version() == 1 {
					if _, err := kr.Rotate(ctx, subject, gc.purpose); err != nil {
						t.Fatal(err)
					}
				}
			}
			ad := envelope.AssociatedData(gc.ad...)
			ct, err := modeEncrypt(mode)(c, ctx, subject, gc.plaintext, ad)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			vs = append(vs, goldenVector{
				Name: name, Format: envelope.FormatVersion, Mode: mode, Subject: subject, Purpose: gc.purpose,
				ADParts: gc.ad, AD: base64.StdEncoding.EncodeToString(ad),
				Plaintext:  base64.StdEncoding.EncodeToString(gc.plaintext),
				Ciphertext: base64.RawURLEncoding.EncodeToString(ct), Forgotten: gc.forget, Note: gc.note,
			})
			if gc.forget && !slices.Contains(forget, subject) {
				forget = append(forget, subject)
			}
			added++
		}
	}
	for _, s := range forget {
		if _, err := kr.Forget(ctx, s, "golden fixture"); err != nil {
			t.Fatal(err)
		}
	}
	if err := golden.WriteJSON("keystore.json", rec.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := golden.WriteJSON("envelope.json", vs); err != nil {
		t.Fatal(err)
	}
	t.Logf("appended %d vectors", added)
}
