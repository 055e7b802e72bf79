package shop_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/internal/testdb"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldcrypt/fieldcrypt/examples/shop/internal/shop"
)

// syncBuffer is a bytes.Buffer safe for a background program's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// walkThrough runs the README's walk-through with the given common flags.
func walkThrough(t *testing.T, common ...string) {
	run := func(name string, cmd shop.Command, args ...string) string {
		t.Helper()
		var out syncBuffer
		if code := shop.Main(name, append(append([]string{}, common...), args...), &out, cmd); code != 0 {
			t.Fatalf("%s %v: exit %d\n%s", name, args, code, out.String())
		}
		return out.String()
	}
	run("orders", shop.Orders, "add", "-customer", "cust-42", "-email", "ada@example.com", "-address", "ul. Marszałkowska 84/92")
	run("marketing", shop.Marketing, "subscribe", "-customer", "cust-42", "-email", "ada@example.com", "-name", "Ada")
	run("orders", shop.Orders, "add", "-customer", "cust-7", "-email", "bob@example.com", "-address", "Piękna 1")
	if out := run("orders", shop.Orders, "show", "-customer", "cust-42"); !strings.Contains(out, `"ada@example.com"`) {
		t.Fatalf("orders show before erase:\n%s", out)
	}
	if out := run("marketing", shop.Marketing, "show", "-customer", "cust-42"); !strings.Contains(out, `name "Ada"`) {
		t.Fatalf("marketing show before erase:\n%s", out)
	}

	// A running service holding the customer's key in its cache.
	var watch syncBuffer
	done := make(chan int)
	go func() {
		done <- shop.Main("marketing", append(append([]string{}, common...), "watch", "-customer", "cust-42", "-for", "20s"), &watch, shop.Marketing)
	}()
	for !strings.Contains(watch.String(), "readable") {
		select {
		case code := <-done:
			t.Fatalf("watch exited early (%d):\n%s", code, watch.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	run("erase", shop.Erase, "-customer", "cust-42", "-reason", "ticket 1001")
	if code := <-done; code != 0 || !strings.Contains(watch.String(), "key destroyed") {
		t.Fatalf("watch: exit %d\n%s", code, watch.String())
	}
	for _, out := range []string{
		run("orders", shop.Orders, "show", "-customer", "cust-42"),
		run("marketing", shop.Marketing, "show", "-customer", "cust-42"),
	} {
		if strings.Contains(out, "ada") || strings.Count(out, "refused: envelope: decrypt: keys: key destroyed") != 2 {
			t.Fatalf("show after erase:\n%s", out)
		}
	}
	if out := run("orders", shop.Orders, "show", "-customer", "cust-7"); !strings.Contains(out, `"bob@example.com"`) {
		t.Fatalf("another customer after the erase:\n%s", out)
	}
	var out syncBuffer
	if code := shop.Main("orders", append(common, "add", "-customer", "cust-42", "-email", "x@example.com", "-address", "x"), &out, shop.Orders); code != 1 ||
		!strings.Contains(out.String(), "key destroyed") {
		t.Fatalf("new order for an erased customer: exit %d\n%s", code, out.String())
	}
}

func TestWalkThroughSQLite(t *testing.T) {
	walkThrough(t, "-data", t.TempDir())
}

func TestWalkThroughPostgres(t *testing.T) {
	walkThrough(t, "-data", t.TempDir(), "-keystore-dsn", testdb.PostgresDSN(t))
}

// TestWalkThroughMariaDBNATS: the walk-through with a MariaDB keystore and
// the erasure carried over NATS JetStream (-nats), on a stream of its own.
func TestWalkThroughMariaDBNATS(t *testing.T) {
	url := os.Getenv("FIELDCRYPT_TEST_NATS_URL")
	if url == "" {
		t.Skip("FIELDCRYPT_TEST_NATS_URL not set; set it (e.g. nats://127.0.0.1:4222) to run the NATS walk-through")
	}
	stream := strings.ToUpper(testdb.Name(t))
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := jetstream.New(nc); err == nil {
			_ = js.DeleteStream(context.Background(), stream)
		}
	})
	walkThrough(t, "-data", t.TempDir(), "-keystore-dsn", testdb.MySQLDSN(t), "-nats", url, "-nats-stream", stream)
}
