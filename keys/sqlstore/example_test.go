package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// Two Stores on one SQLite file stand for two processes: a Forget through
// one is reported to a Watch on the other. keys.Open does this itself.
func ExampleStore_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "fieldcrypt-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keys.db")

	watched, err := sqlite.Open(ctx, path, sqlstore.WithPollInterval(10*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer watched.Close()
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()

	reported := make(chan keys.SubjectRef, 1)
	go watched.Watch(ctx, func(ref keys.SubjectRef) { reported <- ref })

	subject := keys.SubjectRef{42}
	if _, err := other.Forget(ctx, keys.Tombstone{Subject: subject, ForgottenAt: time.Now(), Reason: "ticket-42"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("reported:", <-reported == subject)
	// Output:
	// reported: true
}
