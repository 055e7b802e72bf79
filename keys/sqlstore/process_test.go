package sqlstore_test

// Tests with several real OS processes sharing one keystore: the test binary
// runs itself again with TestHelperProcess selected and a mode in the
// environment, and drives each helper over its stdin and stdout.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

const helperEnv = "FIELDCRYPT_SQLSTORE_HELPER"

// helperConfig tells a helper process which keystore to open and how.
type helperConfig struct {
	Mode         string
	Dialect      string // "sqlite", "postgres", "mysql"
	DSN          string // the file path for SQLite
	RootKey      string // path of the root key file
	CacheMaxAge  time.Duration
	StaleMaxAge  time.Duration // CacheMaxAge of the second, non-watching keyring
	PollInterval time.Duration
	NoNotify     bool // PostgreSQL: sqlstore.WithoutNotify
}

func (c helperConfig) openStore(ctx context.Context) (*sqlstore.Store, error) {
	var opts []sqlstore.Option
	if c.PollInterval > 0 {
		opts = append(opts, sqlstore.WithPollInterval(c.PollInterval))
	}
	if c.NoNotify {
		opts = append(opts, sqlstore.WithoutNotify())
	}
	switch c.Dialect {
	case "sqlite":
		return sqlite.Open(ctx, c.DSN, opts...)
	case "postgres":
		return postgres.Open(ctx, c.DSN, opts...)
	case "mysql":
		return mysql.Open(ctx, c.DSN, opts...)
	}
	return nil, fmt.Errorf("unknown dialect %q", c.Dialect)
}

// processTarget prepares a fresh keystore and root key for backend name and
// returns the configuration helpers need to share it.
func processTarget(t *testing.T, name string) helperConfig {
	dir := t.TempDir()
	c := helperConfig{RootKey: filepath.Join(dir, "root.key")}
	switch name {
	case "SQLite":
		c.Dialect, c.DSN = "sqlite", filepath.Join(dir, "keys.db")
	case "Postgres":
		c.Dialect, c.DSN = "postgres", freshPostgresDSN(t)
	case "MySQL":
		c.Dialect, c.DSN = "mysql", freshMySQLDSN(t)
	default:
		t.Fatalf("unknown backend %s", name)
	}
	if _, err := localkms.OpenFile(c.RootKey); err != nil { // create it before the helpers race to
		t.Fatal(err)
	}
	return c
}

// openKeyring opens a keyring on c's keystore in this process.
func (c helperConfig) openKeyring(t testing.TB, cfg keys.Config) (*keys.Keyring, *sqlstore.Store) {
	t.Helper()
	store, err := c.openStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root, err := localkms.OpenFile(c.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KMS, cfg.Store = root, store
	kr, err := keys.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kr, store
}

type helper struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startHelper(t *testing.T, c helperConfig) *helper {
	t.Helper()
	enc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(enc))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{t: t, cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), "R "); ok {
				h.lines <- r
			}
		}
	}()
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if got := h.await(); got != "ready" {
		t.Fatalf("helper did not start: %q", got)
	}
	return h
}

func (h *helper) send(format string, args ...any) {
	h.t.Helper()
	if _, err := fmt.Fprintf(h.in, format+"\n", args...); err != nil {
		h.t.Fatalf("writing to helper: %v", err)
	}
}

func (h *helper) await() string {
	h.t.Helper()
	select {
	case r, ok := <-h.lines:
		if !ok {
			h.t.Fatal("helper exited")
		}
		return r
	case <-time.After(60 * time.Second):
		h.t.Fatal("helper did not answer within 60 s")
	}
	return ""
}

func (h *helper) do(format string, args ...any) string {
	h.t.Helper()
	h.send(format, args...)
	return h.await()
}

// TestHelperProcess is not a test: the multi-process tests run the test
// binary again with this test selected, as helper processes.
func TestHelperProcess(t *testing.T) {
	enc := os.Getenv(helperEnv)
	if enc == "" {
		t.Skip("helper process for the multi-process tests; runs only when started by them")
	}
	var c helperConfig
	if err := json.Unmarshal([]byte(enc), &c); err != nil {
		t.Fatal(err)
	}
	kr, store := c.openKeyring(t, keys.Config{CacheMaxAge: c.CacheMaxAge})
	defer store.Close()
	defer kr.Close()
	if !kr.Watching() {
		t.Fatal("keyring does not watch the store")
	}
	stale, _ := c.openKeyring(t, keys.Config{CacheMaxAge: c.StaleMaxAge, DisableWatch: true})
	fresh, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	old, err := envelope.New(stale)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dialect == "postgres" && !c.NoNotify {
		// Measure the steady state: wait until the listener has run its
		// catch-up query after LISTEN. (A
		// Forget before that is found by its catch-up query, later.)
		db, err := sql.Open("pgx", c.DSN)
		if err != nil {
			t.Fatal(err)
		}
		name := postgres.ListenerApplicationName + "/" + strconv.Itoa(os.Getpid())
		for n := 0; n == 0; time.Sleep(5 * time.Millisecond) {
			if err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query LIKE 'SELECT subject_ref, forgotten_at%'`, name).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	fmt.Println("R ready")
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var r string
		switch f[0] {
		case "LOAD": // LOAD ct...: decrypt with both keyrings
			var rs []string
			for _, ct := range f[1:] {
				rs = append(rs, outcome(decrypt(fresh, ct))+" "+outcome(decrypt(old, ct)))
			}
			r = strings.Join(rs, " ")
		case "STALE": // STALE ct...: decrypt with the non-watching keyring
			var rs []string
			for _, ct := range f[1:] {
				rs = append(rs, outcome(decrypt(old, ct)))
			}
			r = strings.Join(rs, " ")
		case "WAIT", "WAITSTALE": // WAIT ms ct...: retry until all refused, report when each was
			cph := fresh
			if f[0] == "WAITSTALE" {
				cph = old
			}
			ms, _ := strconv.Atoi(f[1])
			r = waitDestroyed(cph, f[2:], time.Duration(ms)*time.Millisecond)
		case "RACE": // RACE first count procs me seed
			r = race(kr, f[1:])
		case "VAULT": // VAULT at-unix-nanos count: tokenize count new cards at the same instant as the other helpers
			r = vaultRace(kr, store, f[1:])
		case "CHECK": // CHECK first count: every subject must be refused
			first, _ := strconv.Atoi(f[1])
			n, _ := strconv.Atoi(f[2])
			resurrected, other := 0, 0
			for s := first; s < first+n; s++ {
				_, err := kr.Current(context.Background(), raceSubject(s), keys.DefaultPurpose)
				switch {
				case err == nil:
					resurrected++
				case !errors.Is(err, keystore.ErrKeyDestroyed):
					other++
				}
			}
			r = fmt.Sprintf("%d %d", resurrected, other)
		default:
			r = "unknown command"
		}
		fmt.Println("R " + r)
	}
}

func decrypt(c *envelope.Cipher, ctHex string) error {
	ct, err := hex.DecodeString(ctHex)
	if err != nil {
		return err
	}
	_, err = c.Decrypt(context.Background(), ct, nil)
	return err
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, keystore.ErrKeyDestroyed):
		return "destroyed"
	}
	return "error:" + strings.ReplaceAll(err.Error(), " ", "_")
}

// waitDestroyed decrypts every ciphertext until each is refused with
// ErrKeyDestroyed, and returns the times of the first refusals in Unix
// nanoseconds, or what went wrong.
func waitDestroyed(c *envelope.Cipher, cts []string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	at := make([]int64, len(cts))
	for left := len(cts); left > 0; {
		for i, ct := range cts {
			if at[i] != 0 {
				continue
			}
			err := decrypt(c, ct)
			switch {
			case errors.Is(err, keystore.ErrKeyDestroyed):
				at[i] = time.Now().UnixNano()
				left--
			case err != nil:
				return outcome(err)
			}
		}
		if time.Now().After(deadline) {
			return "timeout"
		}
		time.Sleep(time.Millisecond)
	}
	out := []string{"destroyed"}
	for _, t := range at {
		out = append(out, strconv.FormatInt(t, 10))
	}
	return strings.Join(out, " ")
}

func raceSubject(s int) string { return "race-customer-" + strconv.Itoa(s) }

// race runs this process's part of races first..first+count-1 and returns
// one letter per race: f (forgot), k (got a key), d (refused), R (got a key
// after being refused: a resurrection), e (other error).
func race(kr *keys.Keyring, args []string) string {
	var v [5]int
	for i := range v {
		v[i], _ = strconv.Atoi(args[i])
	}
	first, count, procs, me, seed := v[0], v[1], v[2], v[3], v[4]
	ctx := context.Background()
	out := make([]byte, count)
	var wg sync.WaitGroup
	// raceLanes goroutines each take every raceLanes-th race, in the same
	// order in every process, so that each race is run by all processes at
	// about the same time.
	for lane := range raceLanes {
		wg.Go(func() {
			for i := lane; i < count; i += raceLanes {
				out[i] = raceOne(ctx, kr, first+i, forgetter(first+i, seed, procs) == me)
			}
		})
	}
	wg.Wait()
	return string(out)
}

const raceLanes = 4

func raceOne(ctx context.Context, kr *keys.Keyring, s int, forget bool) byte {
	time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
	subject := raceSubject(s)
	if forget {
		if _, err := kr.Forget(ctx, subject, "race"); err != nil {
			return 'e'
		}
		return 'f'
	}
	letter := byte('k')
	for range 2 {
		_, err := kr.Current(ctx, subject, keys.DefaultPurpose)
		switch {
		case err == nil && letter == 'd':
			letter = 'R'
		case errors.Is(err, keystore.ErrKeyDestroyed) && letter == 'k':
			letter = 'd'
		case err != nil && !errors.Is(err, keystore.ErrKeyDestroyed):
			letter = 'e'
		}
	}
	return letter
}

func forgetter(s, seed, procs int) int { return (s*7 + seed) % procs }

// --- invalidation ----------------------------------------------------------

type propagation struct {
	trials int
	bound  time.Duration // asserted per trial
	poll   time.Duration // 0: PostgreSQL notifications
}

const trialLanes = 8

var propagationCases = map[string]propagation{
	"Postgres": {trials: 200, bound: 3 * time.Second},
	"MySQL":    {trials: 200, poll: sqlstore.DefaultPollInterval, bound: sqlstore.DefaultPollInterval + 3*time.Second},
	"SQLite":   {trials: 60, poll: 100 * time.Millisecond, bound: 100*time.Millisecond + 3*time.Second},
}

// TestInvalidationAcrossProcesses: this process (A) and a helper process
// (B) both decrypt a customer's data; A forgets the customer; B, whose cache
// would serve the key for an hour, must refuse with ErrKeyDestroyed within
// the bound. B's second keyring, which does not watch, still decrypts from
// its cache: the refusal came from the invalidation, not from a store read.
func TestInvalidationAcrossProcesses(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			pc := propagationCases[b.name]
			c := processTarget(t, b.name)
			lat := measurePropagation(t, c, pc)
			slices.Sort(lat)
			q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
			t.Logf("%s: Forget in A -> refusal in B over %d trials (poll %v): p50 %v, p99 %v, max %v",
				b.name, len(lat), pc.poll, q(0.5), q(0.99), lat[len(lat)-1])
		})
	}
}

// measurePropagation runs pc.trials Forgets in this process (A) against a
// helper process (B) on c's keystore and returns B's refusal latencies.
func measurePropagation(t *testing.T, c helperConfig, pc propagation) []time.Duration {
	c.CacheMaxAge, c.StaleMaxAge, c.PollInterval = time.Hour, time.Hour, pc.poll
	kr, store := c.openKeyring(t, keys.Config{})
	t.Cleanup(func() { kr.Close(); store.Close() })
	cipher, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	B := startHelper(t, c)
	ctx := t.Context()
	lat := make([]time.Duration, 0, pc.trials)
	// Each round forgets trialLanes customers, each at its own
	// random moment, while B watches all of them.
	for round := 0; round < pc.trials; round += trialLanes {
		cts := make([]string, trialLanes)
		customers := make([]string, trialLanes)
		for j := range trialLanes {
			customers[j] = fmt.Sprintf("customer-%d", round+j)
			ct, err := cipher.Encrypt(ctx, customers[j], []byte("ada@example.com"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cipher.Decrypt(ctx, ct, nil); err != nil {
				t.Fatalf("A before Forget: %v", err)
			}
			cts[j] = hex.EncodeToString(ct)
		}
		if got := B.do("LOAD %s", strings.Join(cts, " ")); got != strings.TrimSpace(strings.Repeat("ok ok ", trialLanes)) {
			t.Fatalf("round %d: B before Forget: %s", round, got)
		}
		B.send("WAIT %d %s", (pc.bound + 5*time.Second).Milliseconds(), strings.Join(cts, " "))
		forgotten := make([]time.Time, trialLanes)
		var wg sync.WaitGroup
		for j := range trialLanes {
			wg.Go(func() {
				// At a random point of B's poll cycle (or, on
				// PostgreSQL, of the round).
				time.Sleep(rand.N(max(pc.poll, 20*time.Millisecond)))
				if _, err := kr.Forget(ctx, customers[j], "trial"); err != nil {
					t.Error(err)
				}
				forgotten[j] = time.Now()
			})
		}
		wg.Wait()
		f := strings.Fields(B.await())
		if len(f) != trialLanes+1 || f[0] != "destroyed" {
			t.Fatalf("round %d: B after Forget: %v, want destroyed", round, f)
		}
		for j := range trialLanes {
			n, _ := strconv.ParseInt(f[j+1], 10, 64)
			d := max(time.Unix(0, n).Sub(forgotten[j]), 0)
			if d > pc.bound {
				t.Errorf("trial %d: B refused after %v, bound %v", round+j, d, pc.bound)
			}
			lat = append(lat, d)
		}
		if got := B.do("STALE %s", strings.Join(cts, " ")); got != strings.TrimSpace(strings.Repeat("ok ", trialLanes)) {
			t.Fatalf("round %d: B's non-watching keyring: %s; want ok (served from its cache)", round, got)
		}
	}
	return lat
}

// TestInvalidationPostgresNotifyVsPolling measures, in one run, how fast a
// Forget reaches another process on PostgreSQL with LISTEN/NOTIFY and with
// sqlstore.WithoutNotify (polling, as for CockroachDB).
func TestInvalidationPostgresNotifyVsPolling(t *testing.T) {
	var med [2]time.Duration
	for i, noNotify := range []bool{false, true} {
		c := processTarget(t, "Postgres")
		c.NoNotify = noNotify
		pc := propagation{trials: 40, bound: 3 * time.Second}
		if noNotify {
			pc.poll = sqlstore.DefaultPollInterval
			pc.bound += pc.poll
		}
		lat := measurePropagation(t, c, pc)
		slices.Sort(lat)
		med[i] = lat[len(lat)/2]
	}
	t.Logf("PostgreSQL, Forget in A -> refusal in B, median over 40 trials: LISTEN/NOTIFY %v, WithoutNotify (polling every %v) %v",
		med[0], sqlstore.DefaultPollInterval, med[1])
}

// TestInvalidationListenerKilled terminates B's PostgreSQL listener
// connection, forgets a customer at once, and checks that B still converges
// within its cache MaxAge (2 s here), that B's non-watching keyring does
// too, and that the listener reconnects and delivers again.
func TestInvalidationListenerKilled(t *testing.T) {
	c := processTarget(t, "Postgres")
	const maxAge = 2 * time.Second
	c.CacheMaxAge, c.StaleMaxAge = maxAge, maxAge
	kr, store := c.openKeyring(t, keys.Config{})
	t.Cleanup(func() { kr.Close(); store.Close() })
	cipher, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	B := startHelper(t, c)
	ctx := t.Context()
	admin, err := sqlOpenPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	appName := postgres.ListenerApplicationName + "/" + strconv.Itoa(B.cmd.Process.Pid)
	listener := func() int {
		var pid int
		err := admin.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&pid)
		if err != nil {
			return 0
		}
		return pid
	}
	waitListener := func(not int) int {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if pid := listener(); pid != 0 && pid != not {
				return pid
			}
		}
		t.Fatalf("no listener connection %q", appName)
		return 0
	}
	trial := func(customer string, kill int) (fresh, stale time.Duration) {
		ct, err := cipher.Encrypt(ctx, customer, []byte("ada@example.com"), nil)
		if err != nil {
			t.Fatal(err)
		}
		h := hex.EncodeToString(ct)
		if got := B.do("LOAD %s", h); got != "ok ok" {
			t.Fatalf("B before Forget: %s", got)
		}
		if kill != 0 {
			var ok bool
			if err := admin.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, kill).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend(%d) = %v, %v", kill, ok, err)
			}
		}
		if _, err := kr.Forget(ctx, customer, "trial"); err != nil {
			t.Fatal(err)
		}
		forgotten := time.Now()
		since := func(got string) time.Duration {
			ns, ok := strings.CutPrefix(got, "destroyed ")
			if !ok {
				t.Fatalf("B after Forget: %s, want destroyed", got)
			}
			n, _ := strconv.ParseInt(ns, 10, 64)
			return max(time.Unix(0, n).Sub(forgotten), 0)
		}
		fresh = since(B.do("WAIT 10000 %s", h))
		stale = since(B.do("WAITSTALE 10000 %s", h))
		return fresh, stale
	}
	first := waitListener(0)
	if d, _ := trial("customer-before", 0); d > 3*time.Second {
		t.Errorf("before the kill: refused after %v, want well under the 2 s MaxAge", d)
	}
	fresh, stale := trial("customer-killed", first)
	bound := maxAge + keys.MaxAgeSlack + 1500*time.Millisecond // margin for a loaded machine running -race
	t.Logf("listener killed: watching keyring refused after %v, non-watching keyring (MaxAge only) after %v; bound %v",
		fresh, stale, maxAge+keys.MaxAgeSlack)
	if fresh > bound || stale > bound {
		t.Errorf("after the kill: refused after %v / %v, bound %v", fresh, stale, bound)
	}
	second := waitListener(first)
	t.Logf("listener reconnected: backend %d replaced %d", second, first)
	if d, _ := trial("customer-after", 0); d > 3*time.Second {
		t.Errorf("after reconnecting: refused after %v, want well under the 2 s MaxAge", d)
	}
}

// --- resurrection ----------------------------------------------------------

var raceCounts = map[string]int{"Postgres": 1000, "MySQL": 1000, "SQLite": 100}

// TestForgetRacesCreateAcrossProcesses races, for each of many customers,
// one process's Forget against get-or-create (Keyring.Current) in the
// others. Afterwards no key of any of them may be usable: none in the
// store, none in any process's cache; and no process may have obtained a
// key after it had been refused one.
func TestForgetRacesCreateAcrossProcesses(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			races := raceCounts[b.name]
			c := processTarget(t, b.name)
			c.CacheMaxAge, c.StaleMaxAge = time.Hour, time.Hour
			const procs, batch = 3, 25
			helpers := make([]*helper, procs)
			for i := range helpers {
				helpers[i] = startHelper(t, c)
			}
			seed := rand.IntN(1000)
			outcomes := make([][]byte, races) // per race, one letter per process
			for first := 0; first < races; first += batch {
				n := min(batch, races-first)
				for i, h := range helpers {
					h.send("RACE %d %d %d %d %d", first, n, procs, i, seed)
				}
				for _, h := range helpers {
					got := h.await()
					if len(got) != n {
						t.Fatalf("RACE: %q", got)
					}
					for j := range n {
						outcomes[first+j] = append(outcomes[first+j], got[j])
					}
				}
			}
			var keyFirst, forgetFirst, mixed, errs, resurrectedInProcess int
			for _, o := range outcomes {
				s := string(o)
				if strings.Contains(s, "e") {
					errs++
				}
				resurrectedInProcess += strings.Count(s, "R")
				switch k, d := strings.Count(s, "k"), strings.Count(s, "d"); {
				case k > 0 && d > 0:
					mixed++
				case k > 0:
					keyFirst++
				default:
					forgetFirst++
				}
			}
			t.Logf("%s: %d races over %d processes: creators all got a key before the Forget in %d, all refused in %d, "+
				"split (some got a key, some refused) in %d", b.name, races, procs, keyFirst, forgetFirst, mixed)
			if errs > 0 || resurrectedInProcess > 0 {
				t.Errorf("%d races with errors, %d keys obtained after a refusal", errs, resurrectedInProcess)
			}
			// The store: every subject tombstoned, no live key material.
			kr, store := c.openKeyring(t, keys.Config{DisableWatch: true})
			t.Cleanup(func() { store.Close() })
			destroyedKeys := 0
			for s := range races {
				st, err := kr.Status(t.Context(), raceSubject(s))
				if err != nil || !st.Forgotten {
					t.Fatalf("race %d: Status = %+v, %v; want forgotten", s, st, err)
				}
				destroyedKeys += st.Tombstone.Destroyed
				if _, err := kr.Current(t.Context(), raceSubject(s), keys.DefaultPurpose); !errors.Is(err, keystore.ErrKeyDestroyed) {
					t.Fatalf("race %d: a new process's Current: %v, want ErrKeyDestroyed", s, err)
				}
			}
			live := liveKeys(t, c)
			// Every process's cache: wait out the propagation bound, then ask.
			time.Sleep(c.PollInterval + sqlstore.DefaultPollInterval + time.Second)
			resurrectedInCache := 0
			for _, h := range helpers {
				var r, other int
				fmt.Sscan(h.do("CHECK 0 %d", races), &r, &other)
				resurrectedInCache += r
				if other > 0 {
					t.Errorf("CHECK: %d errors other than ErrKeyDestroyed", other)
				}
			}
			t.Logf("%s: %d key versions destroyed by the Forgets; resurrected: %d live in the store, %d served from a cache, %d obtained after a refusal",
				b.name, destroyedKeys, live, resurrectedInCache, resurrectedInProcess)
			if live != 0 || resurrectedInCache != 0 {
				t.Errorf("resurrected keys: %d live in the store, %d in caches", live, resurrectedInCache)
			}
		})
	}
}

// liveKeys counts the key rows that still hold wrapped key material.
func liveKeys(t *testing.T, c helperConfig) int {
	t.Helper()
	driver, dsn := map[string]string{"sqlite": "sqlite", "postgres": "pgx", "mysql": "mysql"}[c.Dialect], c.DSN
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM fieldcrypt_keys WHERE wrapped IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sqlOpenPostgres() (*sql.DB, error) { return sql.Open("pgx", os.Getenv(postgresEnv)) }
