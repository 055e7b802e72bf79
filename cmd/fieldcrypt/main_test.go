package main

import (
	"bufio"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fieldcrypt/fieldcrypt/internal/testdb"
)

// The command's tests are scripts in testdata/script: each runs the real
// binary (this test binary re-executed as fieldcrypt) in a temporary
// directory, with HOME and XDG_DATA_HOME inside it.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fieldcrypt": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		// sqlite DB STATEMENT... runs SQL on a SQLite file and prints the
		// rows of the last one, tab-separated: the scripts' shop database.
		"sqlite": sqliteCmd,
		// gencsv FILE ROWS [FORGOTTEN]: a CSV of ROWS card numbers of
		// 1000 customers (c-0 …), without the rows of FORGOTTEN.
		"gencsv": gencsvCmd,
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("XDG_DATA_HOME", e.WorkDir+"/data")
			e.Setenv("FIELDCRYPT_ROOT", "")
			e.Setenv("FIELDCRYPT_KEYSTORE", "")
			return nil
		},
	})
}

// flowRows is the size of the CSV of the flow scripts.
const flowRows = 10000

// TestFlow runs testdata/flow (init, tokenize 10,000 rows, detokenize,
// forget, receipt, rotate-root killed and resumed) on the embedded
// default: a root key file and a SQLite keystore.
func TestFlow(t *testing.T) {
	runFlow(t, nil)
}

// TestFlowPostgres runs it with the keystore on PostgreSQL.
func TestFlowPostgres(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	runFlow(t, map[string]string{"FIELDCRYPT_KEYSTORE": dsn})
}

// TestFlowVault runs it with the root key in Vault Transit (the harness
// of .ci/run), rotated to a key file.
func TestFlowVault(t *testing.T) {
	addr := os.Getenv("VAULT_ADDR")
	if addr == "" || os.Getenv("VAULT_TOKEN") == "" {
		t.Skip("VAULT_ADDR and VAULT_TOKEN not set; start the harness: eval \"$(bash internal/vaultharness/start.sh)\"")
	}
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	runFlow(t, map[string]string{"FIELDCRYPT_ROOT": "hcvault://" + u.Host + "/transit/keys/" + testdb.Name(t),
		"VAULT_ADDR": addr, "VAULT_TOKEN": os.Getenv("VAULT_TOKEN")})
}

func runFlow(t *testing.T, env map[string]string) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/flow",
		Setup: func(e *testscript.Env) error {
			e.Setenv("XDG_DATA_HOME", e.WorkDir+"/data")
			e.Setenv("FIELDCRYPT_ROOT", "")
			e.Setenv("FIELDCRYPT_KEYSTORE", "")
			e.Setenv("ROWS", strconv.Itoa(flowRows))
			for k, v := range env {
				e.Setenv(k, v)
			}
			return nil
		},
	})
}

func gencsvCmd() {
	rows, _ := strconv.Atoi(os.Args[2])
	skip := ""
	if len(os.Args) > 3 {
		skip = os.Args[3]
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(f)
	w.WriteString("ref,card,amount\n")
	for i := range rows {
		ref := fmt.Sprintf("c-%d", i%1000)
		if ref == skip {
			continue
		}
		fmt.Fprintf(w, "%s,%s,%d.%02d\n", ref, luhn(fmt.Sprintf("411100%09d", i)), i%500, i%100)
	}
	if err := w.Flush(); err != nil {
		os.Exit(1)
	}
	f.Close()
	os.Exit(0)
}

func sqliteCmd() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: sqlite DB STATEMENT...")
		os.Exit(2)
	}
	db, err := sql.Open("sqlite", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer db.Close()
	for i, q := range os.Args[2:] {
		if n, ok := strings.CutPrefix(q, "seed:"); ok { // seed:N makes N plaintext customers
			count, _ := strconv.Atoi(n)
			for j := range count {
				if _, err := db.Exec("INSERT INTO customers (ref, email, card) VALUES (?, ?, ?)",
					fmt.Sprintf("c-%d", j), fmt.Sprintf("user%d@example.com", j), luhn(fmt.Sprintf("411100000%06d", j))); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
			continue
		}
		if i < len(os.Args)-3 {
			if _, err := db.Exec(q); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			continue
		}
		rows, err := db.Query(q)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for k := range vals {
				ptrs[k] = &vals[k]
			}
			if err := rows.Scan(ptrs...); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			out := make([]string, len(vals))
			for k, v := range vals {
				out[k] = v.String
				if !v.Valid {
					out[k] = "NULL"
				}
			}
			fmt.Println(strings.Join(out, "\t"))
		}
		rows.Close()
	}
	os.Exit(0)
}

// luhn appends the check digit that makes s pass the Luhn check.
func luhn(s string) string {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + string(rune('0'+(10-sum%10)%10))
}
