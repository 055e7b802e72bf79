// Package shop holds the code the example services share: how each opens
// the shared keystore and its own database, and the services themselves,
// so that the walk-through in examples/shop/README.md can also run as a
// test.
package shop

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/glebarez/go-sqlite" // the services' own databases

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/natswatch"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// Service is what every example program gets: the shared keyring, a cipher
// over it and the service's own database.
type Service struct {
	Name    string
	Keyring *keys.Keyring
	Cipher  *envelope.Cipher
	DB      *sql.DB // the service's own data: <data>/<name>.db
	Out     io.Writer

	store *sqlstore.Store
	nats  *natswatch.Watcher // nil without -nats
}

// Close stops the keyring's invalidation watcher and closes the databases.
func (s *Service) Close() {
	s.Keyring.Close()
	if s.nats != nil {
		s.nats.Close()
	}
	s.store.Close()
	if s.DB != nil {
		s.DB.Close()
	}
}

// A Command defines its own flags on fs, if any, and returns the function
// that runs it with the arguments left after the flags.
type Command func(fs *flag.FlagSet) func(ctx context.Context, s *Service, args []string) error

// Main parses the common flags, opens the service and runs cmd. It returns
// the process exit code.
func Main(name string, args []string, out io.Writer, command Command) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	cmd := command(fs)
	data := fs.String("data", "shop-data", "directory for the shared root key, the SQLite keystore and each service's own database")
	dsn := fs.String("keystore-dsn", "", "shared keystore on a server instead of <data>/keys.db: postgres://... or user:pass@tcp(host:3306)/db (MySQL/MariaDB)")
	rootKey := fs.String("root-key", "", "root key file shared by every service (default <data>/root.key)")
	natsURL := fs.String("nats", "", "carry erasures between the services over NATS JetStream at this URL (nats://host:4222) instead of the keystore's own watcher")
	natsStream := fs.String("nats-stream", natswatch.DefaultStream, "with -nats: the JetStream stream (created if missing)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx := context.Background()
	s, err := Open(ctx, name, *data, *dsn, *rootKey, out, NATS{URL: *natsURL, Stream: *natsStream})
	if err == nil {
		err = cmd(ctx, s, fs.Args())
		s.Close()
	}
	if err != nil {
		fmt.Fprintf(out, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// NATS configures the optional NATS JetStream watcher; a zero URL means
// none: the keystore's own watcher (LISTEN/NOTIFY or polling) is used.
type NATS struct {
	URL    string
	Stream string // natswatch.DefaultStream if empty
}

// Open opens the shared keystore (dsn, or <data>/keys.db when empty), the
// shared root key and the service's own database <data>/<name>.db. name
// "erase" has no database of its own. With n.URL set, erasures travel over
// NATS JetStream (keys/natswatch).
func Open(ctx context.Context, name, data, dsn, rootKey string, out io.Writer, n NATS) (*Service, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	if rootKey == "" {
		rootKey = filepath.Join(data, "root.key")
	}
	root, err := localkms.OpenFile(rootKey)
	if err != nil {
		return nil, err
	}
	var store *sqlstore.Store
	switch {
	case dsn == "":
		store, err = sqlite.Open(ctx, filepath.Join(data, "keys.db"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		store, err = postgres.Open(ctx, dsn)
	default:
		store, err = mysql.Open(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	// keys.Open starts watching the store (or NATS): an erase in any
	// process evicts the customer's keys from this one's cache.
	cfg := keys.Config{KMS: root, Store: store}
	var nw *natswatch.Watcher
	if n.URL != "" {
		o := natswatch.Options{Store: store, URL: n.URL, Stream: n.Stream}
		if n.Stream != "" && n.Stream != natswatch.DefaultStream {
			o.Subject = natswatch.DefaultSubject + "." + strings.ToLower(n.Stream)
		}
		if nw, err = natswatch.New(ctx, o); err != nil {
			store.Close()
			return nil, err
		}
		// Forget publishes through it, and it is the keyring's watcher.
		cfg.Watcher = nw
	}
	kr, err := keys.Open(ctx, cfg)
	if err != nil {
		if nw != nil {
			nw.Close()
		}
		store.Close()
		return nil, err
	}
	c, err := envelope.New(kr)
	if err != nil {
		kr.Close()
		if nw != nil {
			nw.Close()
		}
		store.Close()
		return nil, err
	}
	s := &Service{Name: name, Keyring: kr, Cipher: c, Out: out, store: store, nats: nw}
	if name != "erase" {
		path := filepath.Join(data, name+".db")
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err == nil {
			f.Close()
		}
		s.DB, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// reveal decrypts a stored field, or describes why it cannot.
func (s *Service) reveal(ctx context.Context, ct string, ad []byte) string {
	pt, err := s.Cipher.DecryptString(ctx, ct, ad)
	switch {
	case err == nil:
		return fmt.Sprintf("%q", pt)
	case errors.Is(err, keys.ErrKeyDestroyed):
		return "refused: " + err.Error()
	default:
		return "error: " + err.Error()
	}
}

// subcommand splits args into a subcommand and its flag set.
func subcommand(s *Service, args []string, usage string) (string, *flag.FlagSet, error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("usage: %s [flags] %s", s.Name, usage)
	}
	fs := flag.NewFlagSet(s.Name+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(s.Out)
	return args[0], fs, nil
}

// watch decrypts ct every 50 ms, as a running service serving the customer
// would, until it is refused or for elapses.
func (s *Service) watch(ctx context.Context, customer, ct string, ad []byte, d time.Duration) error {
	readable := time.Time{}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, err := s.Cipher.DecryptString(ctx, ct, ad)
		switch {
		case err == nil && readable.IsZero():
			readable = time.Now()
			fmt.Fprintf(s.Out, "%s: %s is readable; its key is cached. Watching for an erasure...\n", s.Name, customer)
		case errors.Is(err, keys.ErrKeyDestroyed):
			fmt.Fprintf(s.Out, "%s: %s refused: %v\n", s.Name, customer, err)
			if st, err := s.Keyring.Status(ctx, customer); err == nil && st.Forgotten && !readable.IsZero() {
				fmt.Fprintf(s.Out, "%s: the erasure reached this running service %v after it was recorded\n",
					s.Name, time.Since(st.Tombstone.ForgottenAt).Round(time.Millisecond))
			}
			return nil
		case err != nil:
			return err
		}
	}
	return fmt.Errorf("%s was still readable after %v", customer, d)
}
