// Command pgconsumer is the smallest program that keeps fieldcrypt keys in
// PostgreSQL: it opens the keystore and a Keyring on it. TestDriverIsolation
// checks that it links no other database driver; it is also what the
// binary sizes in keys/sqlstore's documentation were measured on.
package main

import (
	"context"
	"log"
	"os"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
)

func main() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	root, err := localkms.OpenFile("root.key")
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer kr.Close()
}
