// Command fieldcrypt lets operators work with a fieldcrypt keystore without
// writing Go: create the root key and the keystore, look up a customer,
// answer an erasure ticket, re-wrap every key under a new root key,
// tokenize or detokenize a CSV file, and adopt fieldcrypt on a table that
// holds plaintext.
//
//	go install github.com/fieldcrypt/fieldcrypt/cmd/fieldcrypt@latest
//	go run ./cmd/fieldcrypt --help             (in the repository)
//
// Configuration is by flags with environment fallbacks:
//
//	--root / FIELDCRYPT_ROOT          a root key file path, or hcvault://HOST/MOUNT/keys/NAME
//	                                  (Vault Transit; VAULT_ADDR and VAULT_TOKEN as for the vault CLI)
//	--keystore / FIELDCRYPT_KEYSTORE  a SQLite file path, a postgres:// URL or a MySQL DSN (user:pass@tcp(host:3306)/db)
//
// Without them the root key file and the SQLite keystore live in the
// user's data directory ($XDG_DATA_HOME/fieldcrypt, else
// ~/.local/share/fieldcrypt): root.key and keys.db.
//
// Exit codes: 0 success, 1 operational failure, 2 usage error. Errors go to
// stderr on one line and never contain plaintext, keys or tokens.
// Destructive commands (forget, rotate-root) ask for confirmation when
// stdin is a terminal, unless --yes. Commands that print a result accept
// --json.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := newRoot(&env{stdin: stdin, stdout: stdout, stderr: stderr})
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "fieldcrypt: "+oneLine(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError marks a wrong command line (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
