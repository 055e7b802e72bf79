// Command quickstart shows fieldcrypt end to end on the embedded default —
// a root key file and a SQLite keystore under a data directory — with no
// set-up: it encrypts a customer's email and address, decrypts them,
// forgets the customer (a GDPR erasure) and shows that the data can no
// longer be decrypted.
//
//	go run ./examples/quickstart [-data DIR]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

func defaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "fieldcrypt-quickstart")
	}
	return filepath.Join(os.TempDir(), "fieldcrypt-quickstart")
}

func main() {
	dataDir := flag.String("data", defaultDataDir(), "directory for the root key file and the SQLite keystore")
	audit := flag.Bool("audit", false, "print the key audit log (JSON) to stderr")
	flag.Parse()
	if err := run(context.Background(), *dataDir, *audit); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir string, audit bool) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	// 1. The root key (created with permissions 0600 on first run) and the keystore.
	root, err := localkms.OpenFile(filepath.Join(dataDir, "root.key"))
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dataDir, "keys.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := keys.Config{KMS: root, Store: store}
	if audit {
		cfg.Audit = keys.NewSlogAuditor(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	}
	kr, err := keys.Open(ctx, cfg)
	if err != nil {
		return err
	}
	c, err := envelope.New(kr)
	if err != nil {
		return err
	}
	fmt.Printf("root key and keystore in %s\n\n", dataDir)

	// Each run uses a new customer, since a forgotten one stays forgotten.
	var id [4]byte
	rand.Read(id[:])
	customer := "customer-" + hex.EncodeToString(id[:])
	fields := []struct{ column, value string }{
		{"email", "ada.lovelace@example.com"},
		{"address", "ul. Marszałkowska 84/92, 00-514 Warszawa"},
	}

	// 2. Encrypt: each value is bound to its table, column and customer.
	fmt.Printf("1. encrypt %s's fields\n", customer)
	stored := make([]string, len(fields))
	for i, f := range fields {
		ad := envelope.AssociatedData("customers", f.column, customer)
		stored[i], err = c.EncryptString(ctx, customer, f.value, ad)
		if err != nil {
			return err
		}
		fmt.Printf("   %-8s %q\n            -> %s\n", f.column, f.value, stored[i])
	}

	// 3. Decrypt: the ciphertext names its key, so no customer argument.
	fmt.Println("\n2. decrypt them")
	for i, f := range fields {
		pt, err := c.DecryptString(ctx, stored[i], envelope.AssociatedData("customers", f.column, customer))
		if err != nil {
			return err
		}
		fmt.Printf("   %-8s %q\n", f.column, pt)
	}

	// 4. The erasure request.
	t, err := kr.Forget(ctx, customer, "erasure request QS-1")
	if err != nil {
		return err
	}
	fmt.Printf("\n3. forget %s: %d key version(s) destroyed at %s (reason %q)\n",
		customer, t.Destroyed, t.ForgottenAt.Format("2006-01-02 15:04:05 MST"), t.Reason)

	// 5. Every ciphertext of that customer is now unreadable, here and in
	// every other service that shares the keystore.
	fmt.Println("\n4. decrypt again")
	for i, f := range fields {
		_, err := c.DecryptString(ctx, stored[i], envelope.AssociatedData("customers", f.column, customer))
		if !errors.Is(err, keys.ErrKeyDestroyed) {
			return fmt.Errorf("decrypting %s after Forget: got %v, want keys.ErrKeyDestroyed", f.column, err)
		}
		fmt.Printf("   %-8s refused: %v\n", f.column, err)
	}
	if _, err := c.EncryptString(ctx, customer, "new@example.com", nil); !errors.Is(err, keys.ErrKeyDestroyed) {
		return fmt.Errorf("encrypting after Forget: got %v, want keys.ErrKeyDestroyed", err)
	}
	fmt.Println("   new data for the customer is refused too: the key is never re-created")
	fmt.Println("\ndone: encrypt -> decrypt -> forget -> decrypt refused")
	return nil
}
