package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	tinksubtle "github.com/tink-crypto/tink-go/v2/daead/subtle"

	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

var bg = context.Background()

func testCipher(t *testing.T) (*Cipher, *keys.Keyring) {
	t.Helper()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(bg, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return c, kr
}

// secretOf returns a copy of k's secret, for rebuilding ciphertexts by hand.
func secretOf(t *testing.T, k *keys.Key) []byte {
	t.Helper()
	v, err := keys.Derive(k, insecuresecretaccess.Token{}, "fieldcrypt/test/secret-copy", func(secret []byte) ([]byte, error) {
		return bytes.Clone(secret), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sealGCM seals like Encrypt, but with a chosen header, nonce and AEAD
// associated data.
func sealGCM(t *testing.T, secret []byte, label string, header, nonce, pt, aeadAD []byte) []byte {
	t.Helper()
	if fips140OnlyMode() {
		t.Skip("rebuilding a GCM ciphertext with a chosen nonce is not allowed in FIPS 140-only mode")
	}
	dk, err := dataKey(secret, label, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(dk)
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(header), nonce...)
	return g.Seal(out, nonce, pt, aeadAD)
}

// TestCommitmentIsChecked: a ciphertext whose AEAD verifies but whose key
// commitment is not the key's is refused. (Such a ciphertext is what a
// multi-key attack on GCM or SIV produces; here it is built directly.)
func TestCommitmentIsChecked(t *testing.T) {
	c, kr := testCipher(t)
	ad := []byte("customers/email")
	ct, err := c.Encrypt(bg, "cust-1", []byte("ada@example.com"), ad)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := ParseHeader(ct)
	k, err := kr.KeyVersion(bg, h.KeyID, h.KeyVer)
	if err != nil {
		t.Fatal(err)
	}
	header := bytes.Clone(ct[:HeaderSize])
	header[HeaderSize-1] ^= 1 // another commitment
	forged := sealGCM(t, secretOf(t, k), labelGCM, header, make([]byte, nonceSize), []byte("mallory"), append(bytes.Clone(header[:22]), ad...))
	if pt, err := c.Decrypt(bg, forged, ad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a ciphertext with a wrong key commitment decrypted: %q, %v", pt, err)
	}
	// The same construction with the right commitment decrypts: the
	// commitment is what refused the forgery.
	good := sealGCM(t, secretOf(t, k), labelGCM, ct[:HeaderSize], make([]byte, nonceSize), []byte("mallory"), append(bytes.Clone(ct[:22]), ad...))
	if pt, err := c.Decrypt(bg, good, ad); err != nil || string(pt) != "mallory" {
		t.Fatalf("control: %q, %v", pt, err)
	}
}

// TestHeaderIsAssociatedData: version 2 authenticates every header byte
// as associated data, not only through the key the header selects.
func TestHeaderIsAssociatedData(t *testing.T) {
	c, kr := testCipher(t)
	ad := []byte("customers/email")
	ct, err := c.Encrypt(bg, "cust-1", []byte("x"), ad)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := ParseHeader(ct)
	k, _ := kr.KeyVersion(bg, h.KeyID, h.KeyVer)
	// Right key, right commitment, but the header left out of the AEAD.
	unbound := sealGCM(t, secretOf(t, k), labelGCM, ct[:HeaderSize], make([]byte, nonceSize), []byte("x"), ad)
	if pt, err := c.Decrypt(bg, unbound, ad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a ciphertext whose header is not in the associated data decrypted: %q, %v", pt, err)
	}
}

// TestGoldenRegenerate rebuilds every golden vector byte for byte from its
// recorded inputs with this package's derivations: the deterministic mode
// by encrypting again, the randomised mode from its recorded nonce.
func TestGoldenRegenerate(t *testing.T) {
	kr, _, err := golden.Open(bg)
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Name, Mode, Subject, Purpose, AD, Plaintext, Ciphertext string
		Format                                                  int
		Forgotten                                               bool
	}
	if err := golden.ReadJSON("envelope.json", &vs); err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Forgotten {
			continue // no key left to rebuild with
		}
		t.Run(v.Name, func(t *testing.T) {
			want, err := base64.RawURLEncoding.DecodeString(v.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			ad, _ := base64.StdEncoding.DecodeString(v.AD)
			pt, _ := base64.StdEncoding.DecodeString(v.Plaintext)
			h, body, err := ParseHeader(want)
			if err != nil {
				t.Fatal(err)
			}
			k, err := kr.KeyVersion(bg, h.KeyID, h.KeyVer)
			if err != nil {
				t.Fatal(err)
			}
			secret := secretOf(t, k)
			headerLen := len(want) - len(body)
			header := want[:headerLen]
			// The header itself: version, mode, key, commitment.
			rebuilt := append([]byte{byte(v.Format), byte(h.Mode)}, h.KeyID[:]...)
			rebuilt = append(rebuilt, byte(h.KeyVer>>24), byte(h.KeyVer>>16), byte(h.KeyVer>>8), byte(h.KeyVer))
			if v.Format == 2 {
				commit, _ := commitment(secret)
				rebuilt = append(rebuilt, commit[:]...)
			}
			if !bytes.Equal(rebuilt, header) {
				t.Fatalf("header does not rebuild:\n got  %x\n want %x", rebuilt, header)
			}
			aeadAD := ad
			if v.Format == 2 {
				aeadAD = append(bytes.Clone(header[:22]), ad...)
			}
			var got []byte
			switch {
			case v.Mode == "deterministic":
				label := map[int]string{1: labelSIVv1, 2: labelSIV}[v.Format]
				dk, _ := dataKey(secret, label, tinksubtle.AESSIVKeySize)
				if v.Format == 1 {
					clear(dk[32:]) // format 1's zero CTR key (see sivOf)
				}
				siv, err := tinksubtle.NewAESSIV(dk)
				if err != nil {
					t.Fatal(err)
				}
				body, err := siv.EncryptDeterministically(pt, aeadAD)
				if err != nil {
					t.Fatal(err)
				}
				got = append(bytes.Clone(header), body...)
				if v.Format == FormatVersion { // and through the public API
					c, _ := New(kr, WithPurpose(v.Purpose))
					api, err := c.EncryptDeterministic(bg, v.Subject, pt, ad)
					if err != nil || !bytes.Equal(api, want) {
						t.Fatalf("EncryptDeterministic does not reproduce the vector (%v)", err)
					}
				}
			default:
				label := map[int]string{1: labelGCMv1, 2: labelGCM}[v.Format]
				got = sealGCM(t, secret, label, header, body[:nonceSize], pt, aeadAD)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("rebuilt %s does not match the vector:\n got  %x\n want %x", v.Name, got, want)
			}
		})
	}
}

// TestDeterministicKeyIsUsedWhole: the AES-SIV primitive must encrypt with
// its whole derived key. Format 1 cleared the key slice that Tink's
// AESSIV keeps, so its CTR layer ran under an all-zero key and anyone could
// read a deterministic ciphertext from its synthetic IV alone.
func TestDeterministicKeyIsUsedWhole(t *testing.T) {
	c, kr := testCipher(t)
	pt := []byte("ada@example.com")
	ct, err := c.EncryptDeterministic(bg, "cust-1", pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, body, _ := ParseHeader(ct)
	// Read it with a zero CTR key, as anyone could read format 1.
	iv := bytes.Clone(body[:16])
	iv[8] &= 0x7f
	iv[12] &= 0x7f
	block, _ := aes.NewCipher(make([]byte, 32))
	out := make([]byte, len(body)-16)
	cipher.NewCTR(block, iv).XORKeyStream(out, body[16:])
	if bytes.Equal(out, pt) {
		t.Fatal("a deterministic ciphertext decrypts under an all-zero CTR key")
	}
	// And it equals AES-SIV under the derived key, computed independently.
	k, _ := kr.KeyVersion(bg, h.KeyID, h.KeyVer)
	dk, _ := dataKey(secretOf(t, k), labelSIV, tinksubtle.AESSIVKeySize)
	siv, _ := tinksubtle.NewAESSIV(dk)
	want, err := siv.EncryptDeterministically(pt, bytes.Clone(ct[:22]))
	if err != nil || !bytes.Equal(body, want) {
		t.Fatalf("deterministic body is not AES-SIV under the derived key (%v)", err)
	}
}

func TestSameCommitment(t *testing.T) {
	var k [CommitmentSize]byte
	for i := range k {
		k[i] = byte(i * 7)
	}
	if !sameCommitment(&k, k[:]) {
		t.Fatal("equal commitments compare unequal")
	}
	for i := range CommitmentSize {
		for _, bit := range []byte{1, 0x80} {
			h := bytes.Clone(k[:])
			h[i] ^= bit
			if sameCommitment(&k, h) {
				t.Fatalf("a commitment differing in byte %d (bit %#x) compares equal", i, bit)
			}
		}
	}
}

// fips140OnlyMode reports whether the tests run under GODEBUG=fips140=only
// (crypto/fips140.Enforced is Go 1.26, and the module supports 1.25).
func fips140OnlyMode() bool {
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == "fips140=only" {
			return true
		}
	}
	return false
}
