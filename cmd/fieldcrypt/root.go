package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/spf13/cobra"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	mysqlstore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	pgstore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// env is what every command shares: the streams and the global flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	root, keystore, config string
	json, yes              bool
	cfg                    fileConfig
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "fieldcrypt",
		Short: "Operate a fieldcrypt keystore: erasure tickets, root key rotation, CSV tokenization, adoption",
		Long: `fieldcrypt operates a fieldcrypt keystore without writing Go.

The root key and the keystore come from --root / FIELDCRYPT_ROOT (a key file
path, or hcvault://HOST/MOUNT/keys/NAME) and --keystore / FIELDCRYPT_KEYSTORE
(a SQLite path, a postgres:// URL or a MySQL DSN); by default root.key and
keys.db in ` + defaultDir() + `.

Exit codes: 0 success, 1 operational failure, 2 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&e.root, "root", os.Getenv("FIELDCRYPT_ROOT"), "root key: a key file path or hcvault://HOST/MOUNT/keys/NAME (env FIELDCRYPT_ROOT)")
	root.PersistentFlags().StringVar(&e.keystore, "keystore", os.Getenv("FIELDCRYPT_KEYSTORE"), "keystore: a SQLite path, a postgres:// URL or a MySQL DSN (env FIELDCRYPT_KEYSTORE)")
	root.PersistentFlags().StringVar(&e.config, "config", os.Getenv("FIELDCRYPT_CONFIG"), "configuration file (JSON): retention policies, export tables (env FIELDCRYPT_CONFIG)")
	root.PersistentFlags().BoolVar(&e.json, "json", false, "print the result as JSON")
	root.PersistentFlags().BoolVar(&e.yes, "yes", false, "do not ask for confirmation of destructive commands")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		var err error
		e.cfg, err = loadConfig(e.config)
		return err
	}
	root.AddCommand(newInit(e), newStatus(e), newForget(e), newWithdraw(e), newExpire(e), newHold(e), newRelease(e),
		newRotateRoot(e), newTokenize(e, false), newTokenize(e, true), newMigrate(e), newExport(e), newReceipt(e), newAudit(e))
	return root
}

// args is cobra.ExactArgs(n) with a usage error.
func args(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) != n {
			return usagef("%s takes %s (got %d arguments); see fieldcrypt %s --help", cmd.Name(), names, len(a), cmd.Name())
		}
		return nil
	}
}

func defaultDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "fieldcrypt")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "fieldcrypt")
	}
	return filepath.Join(os.TempDir(), "fieldcrypt")
}

func (e *env) rootSpec() string {
	if e.root != "" {
		return e.root
	}
	return filepath.Join(defaultDir(), "root.key")
}

func (e *env) keystoreSpec() string {
	if e.keystore != "" {
		return e.keystore
	}
	return filepath.Join(defaultDir(), "keys.db")
}

// openRoot opens the root key named by spec. A key file must exist unless
// create is set.
func openRoot(ctx context.Context, spec string, create bool) (keystore.KMS, error) {
	if strings.HasPrefix(spec, "hcvault://") {
		return openVault(ctx, spec, create)
	}
	if strings.Contains(spec, "://") {
		return nil, usagef("root key %q: only key file paths and hcvault:// URIs are supported by the command", redactURI(spec))
	}
	if !create {
		if _, err := os.Stat(spec); err != nil {
			return nil, fmt.Errorf("root key file: %w (create it with fieldcrypt init)", err)
		}
	}
	return localkms.OpenFile(spec)
}

// openVault opens hcvault://HOST[:PORT]/MOUNT/keys/NAME. The address is
// VAULT_ADDR when set (its scheme and host), else https://HOST.
func openVault(ctx context.Context, spec string, create bool) (keystore.KMS, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return nil, usagef("root key URI: not a valid URI")
	}
	path := strings.Trim(u.Path, "/")
	i := strings.LastIndex(path, "/keys/")
	if u.Host == "" || i <= 0 || strings.Contains(path[i+len("/keys/"):], "/") || path[i+len("/keys/"):] == "" {
		return nil, usagef("root key URI %q: want hcvault://HOST/MOUNT/keys/NAME", redactURI(spec))
	}
	mount, name := path[:i], path[i+len("/keys/"):]
	cfg := api.DefaultConfig()
	if os.Getenv("VAULT_ADDR") == "" {
		cfg.Address = "https://" + u.Host
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	k, err := vaultkms.New(vaultkms.Config{Client: client, Mount: mount, Key: name, Binding: vaultkms.BindContext})
	if err != nil {
		return nil, err
	}
	if create {
		if err := k.CreateKey(ctx); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func redactURI(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("redacted")
		return u.String()
	}
	return s
}

// store is a keystore the command opened.
type store interface {
	keystore.Store
	keystore.RotatableStore
	keystore.TokenVaultStore
	Close() error
}

var _ store = (*sqlstore.Store)(nil)

func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

func isMySQL(spec string) bool {
	return strings.HasPrefix(spec, "mysql://") || strings.Contains(spec, "@tcp(") || strings.Contains(spec, "@unix(")
}

func openStore(ctx context.Context, spec string, create bool) (store, error) {
	switch {
	case isPostgres(spec):
		return pgstore.Open(ctx, spec)
	case isMySQL(spec):
		return mysqlstore.Open(ctx, strings.TrimPrefix(spec, "mysql://"))
	}
	if !create {
		if _, err := os.Stat(spec); err != nil {
			return nil, fmt.Errorf("keystore: %w (create it with fieldcrypt init)", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(spec), 0o700); err != nil {
		return nil, err
	}
	return sqlitestore.Open(ctx, spec)
}

// open opens the root key, the keystore and a Keyring on them, not
// watching (a command is short-lived); closing closes all three.
func (e *env) open(ctx context.Context) (*keys.Keyring, store, func(), error) {
	root, err := openRoot(ctx, e.rootSpec(), false)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := openStore(ctx, e.keystoreSpec(), false)
	if err != nil {
		return nil, nil, nil, err
	}
	life, err := e.cfg.lifecycle()
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: st, DisableWatch: true, Lifecycle: life})
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return kr, st, func() { kr.FlushActivity(context.Background()); kr.Close(); st.Close() }, nil
}

// confirm asks on a terminal whether to go on; elsewhere (a script, a
// pipe) it goes on. --yes skips the question.
func (e *env) confirm(question string) error {
	if e.yes || !isTerminal(e.stdin) {
		return nil
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
		return nil
	}
	return errors.New("not confirmed; nothing was changed")
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// print writes v as JSON with --json, else the text.
func (e *env) print(v any, text string) error {
	if e.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprint(e.stdout, text)
	return err
}
