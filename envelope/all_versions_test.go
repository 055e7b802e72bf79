package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestEncryptDeterministicAll(t *testing.T) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	pt, ad := []byte("00-514"), envelope.AssociatedData("addresses", "postcode", "cust-1")
	if all, err := c.EncryptDeterministicAll(ctx, "cust-1", pt, ad); err != nil || all != nil {
		t.Fatalf("before any key: %v, %v; want nil, nil", all, err)
	}
	v1, err := c.EncryptDeterministic(ctx, "cust-1", pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(ctx, "cust-1", keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	v2, err := c.EncryptDeterministic(ctx, "cust-1", pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.EncryptDeterministicAll(ctx, "cust-1", pt, ad)
	if err != nil || len(all) != 2 || !bytes.Equal(all[0], v2) || !bytes.Equal(all[1], v1) {
		t.Fatalf("EncryptDeterministicAll = %d values, %v; want [v2, v1]", len(all), err)
	}
	for _, ct := range all {
		if got, err := c.Decrypt(ctx, ct, ad); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	}
	if _, err := kr.Forget(ctx, "cust-1", "ticket-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EncryptDeterministicAll(ctx, "cust-1", pt, ad); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("forgotten subject: %v, want keys.ErrKeyDestroyed", err)
	}
}
