package postgres_test

import (
	"context"
	"log"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
)

// Compiled, not run: it needs a PostgreSQL server.
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, "postgres://fieldcrypt@db.internal:5432/app?sslmode=verify-full")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	root, err := localkms.OpenFile("/etc/fieldcrypt/root.key")
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store}) // watches the keystore: LISTEN/NOTIFY
	if err != nil {
		log.Fatal(err)
	}
	defer kr.Close()
}
