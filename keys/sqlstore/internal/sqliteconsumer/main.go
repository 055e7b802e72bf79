// Command sqliteconsumer is the smallest program that keeps fieldcrypt keys
// in the embedded default, a SQLite file: it opens the keystore and a
// Keyring on it. TestDriverIsolation checks that it links no other database
// driver.
package main

import (
	"context"
	"log"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

func main() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "keys.db")
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
