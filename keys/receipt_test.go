package keys_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

var updateGolden = flag.Bool("update-receipt-golden", false, "rewrite keys/testdata/receipt-v1.json")

// receiptVector is the golden receipt: a fixed signing key, a fixed
// receipt, its canonical encoding and its transport encoding (with the
// signature; Ed25519 signatures are deterministic).
type receiptVector struct {
	Comment   string
	Seed      []byte // the Ed25519 seed
	Public    []byte
	Receipt   string // transport encoding
	Canonical string // what the signature covers
}

func goldenReceipt() (ed25519.PrivateKey, keys.Receipt) {
	seed := sha256.Sum256([]byte("fieldcrypt golden receipt key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	r := keys.Receipt{
		Format: keys.ReceiptFormat, Keystore: "00112233445566778899aabbccddeeff",
		Subject: "0f0e0d0c0b0a09080706050403020100", Kind: "forget", Time: "2026-12-02T18:00:00.123456Z",
		Reason: "erasure request T-1",
		Destroyed: []keys.ReceiptKey{{Purpose: "contact", Key: "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", FirstVersion: 1, LastVersion: 2,
			Policy: "contact/customer-service/2y-after-activity"}},
		Scheduled: []keys.ReceiptSchedule{{Purpose: "payment", Key: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf", Due: "2031-12-02T18:00:00Z",
			Because: "legal minimum of policy payment/order-fulfilment/5y (accounting law: 5 years)"}},
	}
	return priv, keys.SignReceipt(priv, r)
}

func TestReceiptGolden(t *testing.T) {
	priv, r := goldenReceipt()
	pub := priv.Public().(ed25519.PublicKey)
	enc, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "receipt-v1.json")
	if *updateGolden {
		v := receiptVector{Comment: "fieldcrypt erasure receipt v1: Ed25519 over Canonical; Seed and Public base64",
			Seed: priv.Seed(), Public: pub, Receipt: string(enc), Canonical: string(r.Canonical())}
		b, _ := json.MarshalIndent(v, "", "\t")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v receiptVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if string(v.Canonical) != string(r.Canonical()) {
		t.Fatalf("canonical encoding changed:\n got  %s\n want %s", r.Canonical(), v.Canonical)
	}
	if string(enc) != string(v.Receipt) {
		t.Fatalf("transport encoding changed:\n got  %s\n want %s", enc, v.Receipt)
	}
	got, err := keys.ParseReceipt([]byte(v.Receipt))
	if err != nil {
		t.Fatal(err)
	}
	// Offline: only the public key from the vector.
	if err := keys.VerifyReceipt(ed25519.PublicKey(v.Public), got); err != nil {
		t.Fatalf("golden receipt does not verify: %v", err)
	}
	for i := range v.Receipt {
		flipped := []byte(v.Receipt)
		flipped[i] ^= 0x01
		r2, err := keys.ParseReceipt(flipped)
		if err != nil {
			continue // no longer JSON, or an unknown field: refused anyway
		}
		if err := keys.VerifyReceipt(ed25519.PublicKey(v.Public), r2); !errors.Is(err, keys.ErrReceiptInvalid) {
			t.Fatalf("receipt with byte %d flipped verifies", i)
		}
	}
}
