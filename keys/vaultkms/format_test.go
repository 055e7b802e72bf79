package vaultkms_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// wrapAssociatedData is the associated data a keys.Keyring binds key (id,
// version) to: "fieldcrypt/key/v1\x00" || id || uint32 big-endian version.
// It is part of the keystore format, which never changes.
func wrapAssociatedData(id keystore.KeyID, version uint32) []byte {
	ad := append([]byte("fieldcrypt/key/v1\x00"), id[:]...)
	return binary.BigEndian.AppendUint32(ad, version)
}

// TestCheckValueMeta pins the metadata entry SetMinDecryptionVersion reads
// to the one keys.Open writes.
func TestCheckValueMeta(t *testing.T) {
	ctx := context.Background()
	root, err := localkms.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	if _, err := mem.Meta(ctx, vaultkms.CheckValueMeta); err != nil {
		t.Fatalf("keys.Open wrote no check value under %q: %v", vaultkms.CheckValueMeta, err)
	}
	// And the per-key associated data, by unwrapping a stored key with it.
	k, err := kr.Current(ctx, "cust-1", "default")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := mem.GetKey(ctx, k.ID(), k.Version())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Unwrap(ctx, rec.Wrapped, wrapAssociatedData(k.ID(), k.Version())); err != nil {
		t.Fatalf("a stored key does not unwrap with wrapAssociatedData: %v", err)
	}
}
