package mysql_test

import (
	"context"
	"log"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
)

// Compiled, not run: it needs a MySQL or MariaDB server.
func ExampleOpen() {
	ctx := context.Background()
	store, err := mysql.Open(ctx, "fieldcrypt:secret@tcp(db.internal:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	root, err := localkms.OpenFile("/etc/fieldcrypt/root.key")
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store}) // watches the keystore: polls every 250 ms
	if err != nil {
		log.Fatal(err)
	}
	defer kr.Close()
}
