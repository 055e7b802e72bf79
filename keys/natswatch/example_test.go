package natswatch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/natswatch"
)

// A Keyring whose Forgets reach the other processes over NATS JetStream.
// In production the Store is a shared keys/sqlstore keystore (the
// Watcher reads its tombstones to catch up); memstore stands in here. It
// needs a NATS server with JetStream (nats-server -js), so it is compiled
// but not run by go test.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "natswatch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	kms, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		log.Fatal(err)
	}
	store := memstore.New()

	w, err := natswatch.New(ctx, natswatch.Options{
		URL:     "nats://127.0.0.1:4222",
		Store:   store,
		Stream:  "FIELDCRYPT_EXAMPLE",
		Subject: "fieldcrypt.example.forget",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	kr, err := keys.Open(ctx, keys.Config{KMS: kms, Store: store, Watcher: w})
	if err != nil {
		log.Fatal(err)
	}
	defer kr.Close()

	// Forget commits to the keystore, then publishes the subject's
	// reference; every other process's Watcher evicts it.
	if _, err := kr.Forget(ctx, "customer-42", "ticket-1234"); err != nil {
		log.Fatal(err)
	}
	forgotten, err := kr.Forgotten(ctx, "customer-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("watching: %v, forgotten: %v\n", kr.Watching(), forgotten)
	fmt.Printf("stream mode: %v\n", w.Health().Mode == natswatch.ModeStream)
}

// A readiness probe: ready while events arrive over the stream and the
// consumer is not far behind. In polling mode Forgets still arrive, within
// the poll interval, so a service may also choose to stay ready then.
func ExampleWatcher_Health() {
	var w *natswatch.Watcher // from natswatch.New
	ready := func() bool {
		h := w.Health()
		return h.Connected && h.Mode == natswatch.ModeStream && h.Pending < 1000
	}
	_ = ready
}
