package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fieldcrypt-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Normally keys.Open drives the store; here it is used directly.
	subject := keys.SubjectRef{1}
	rec := keystore.KeyRecord{ID: keys.KeyID{2}, Version: 1, Subject: subject, Purpose: keys.DefaultPurpose,
		Wrapped: []byte("wrapped key bytes"), CreatedAt: time.Now()}
	if err := store.CreateKey(ctx, rec); err != nil {
		log.Fatal(err)
	}
	t, err := store.Forget(ctx, keys.Tombstone{Subject: subject, ForgottenAt: time.Now(), Reason: "ticket-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("destroyed:", t.Destroyed)
	_, err = store.GetKey(ctx, rec.ID, 1)
	fmt.Println(errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// destroyed: 1
	// true
}
