package sqlstore_test

// The expiry sweep run from several OS processes at once on one keystore:
// every expired key is destroyed by exactly one of them, and no live key
// is touched.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

const sweepHelperEnv = "FIELDCRYPT_SWEEP_HELPER"

// sweepKeysEnv sets the number of keys of TestSweepProcesses (default
// 2,000; the figure is 100,000).
const sweepKeysEnv = "FIELDCRYPT_SWEEP_KEYS"

type sweepConfig struct {
	helperConfig
	Now   time.Time
	Batch int
}

type sweepResult struct {
	Keys     []string
	Examined int
	Millis   int64
	Err      string
}

// TestSweepHelperProcess is not a test: TestSweepProcesses runs the test
// binary again with this test selected, as a sweeper process.
func TestSweepHelperProcess(t *testing.T) {
	enc := os.Getenv(sweepHelperEnv)
	if enc == "" {
		t.Skip("helper process for TestSweepProcesses; runs only when started by it")
	}
	var c sweepConfig
	if err := json.Unmarshal([]byte(enc), &c); err != nil {
		t.Fatal(err)
	}
	now := c.Now
	kr, store := c.openKeyring(t, keys.Config{DisableWatch: true,
		Lifecycle: keys.Lifecycle{Policies: keystest.Shop(), Now: func() time.Time { return now }}})
	defer store.Close()
	defer kr.Close()
	fmt.Println("SWEEP ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // "go"
	start := time.Now()
	st, err := kr.Expire(context.Background(), keys.ExpireOptions{BatchSize: c.Batch})
	r := sweepResult{Examined: st.Examined, Millis: time.Since(start).Milliseconds()}
	if err != nil {
		r.Err = err.Error()
	}
	for _, k := range st.Keys {
		r.Keys = append(r.Keys, k.Key.String())
	}
	b, _ := json.Marshal(r)
	fmt.Println("SWEEP " + string(b))
}

func TestSweepProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	n := 2000
	if v := os.Getenv(sweepKeysEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 4 {
			t.Fatalf("%s=%q: want a number of keys, at least 4", sweepKeysEnv, v)
		}
	}
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		t.Run(name, func(t *testing.T) { sweepProcesses(t, name, n) })
	}
}

func sweepProcesses(t *testing.T, name string, n int) {
	ctx := context.Background()
	c := processTarget(t, name)
	t0 := time.Now().UTC().Truncate(time.Second)
	var clockMu sync.Mutex
	clock := t0
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	kr, store := c.openKeyring(t, keys.Config{DisableWatch: true,
		Lifecycle: keys.Lifecycle{Policies: keystest.Shop(), CurrentIsNotActivity: true, Now: now}})
	defer store.Close()
	defer kr.Close()

	// Mixed policies, one key per subject: a quarter are contact keys of
	// customers inactive for 3 years (expired), a quarter contact keys of
	// customers active a year ago, a quarter payment keys (5 years), a
	// quarter marketing keys (until withdrawn).
	start := time.Now()
	purposes := []string{"contact", "contact", "payment", "marketing"}
	expired := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := 8
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				k, err := kr.Current(ctx, "customer-"+strconv.Itoa(i), purposes[i%4])
				if err != nil {
					errs <- err
					return
				}
				if i%4 == 0 {
					mu.Lock()
					expired[k.ID().String()] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	clockMu.Lock()
	clock = t0.Add(2 * keystest.Year)
	clockMu.Unlock()
	for i := 1; i < n; i += 4 {
		if err := kr.Touch(ctx, "customer-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: %d keys created and %d subjects touched in %v", name, n, n/4, time.Since(start).Round(time.Millisecond))

	cfg := sweepConfig{helperConfig: c, Now: t0.Add(3 * keystest.Year), Batch: 200}
	enc, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type proc struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		lines chan string
	}
	var procs []*proc
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSweepHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), sweepHelperEnv+"="+string(enc))
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
		p := &proc{cmd: cmd, in: in, lines: make(chan string, 4)}
		go func() {
			defer close(p.lines)
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 64<<20)
			for sc.Scan() {
				if r, ok := strings.CutPrefix(sc.Text(), "SWEEP "); ok {
					p.lines <- r
				}
			}
		}()
		t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
		procs = append(procs, p)
		if l := await(t, p.lines); l != "ready" {
			t.Fatalf("sweeper did not start: %q", l)
		}
	}
	start = time.Now()
	for _, p := range procs {
		fmt.Fprintln(p.in, "go")
	}
	seen := map[string]int{}
	for i, p := range procs {
		var r sweepResult
		if err := json.Unmarshal([]byte(await(t, p.lines)), &r); err != nil {
			t.Fatal(err)
		}
		if r.Err != "" {
			t.Fatalf("sweeper %d: %s", i, r.Err)
		}
		t.Logf("%s: sweeper %d destroyed %d keys, examined %d, in %d ms", name, i, len(r.Keys), r.Examined, r.Millis)
		for _, k := range r.Keys {
			seen[k]++
		}
	}
	t.Logf("%s: 3 sweepers, %d keys (%d expired): done in %v", name, n, len(expired), time.Since(start).Round(time.Millisecond))
	for k, c := range seen {
		if c != 1 || !expired[k] {
			t.Fatalf("key %s destroyed %d times; expired: %v", k, c, expired[k])
		}
	}
	if len(seen) != len(expired) {
		t.Fatalf("%d keys destroyed, want %d", len(seen), len(expired))
	}
	// In the database: exactly the expired keys lost their material.
	rows, err := sqlstore.DB(store).Query(`SELECT key_id FROM fieldcrypt_keys WHERE wrapped IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	gone := 0
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if !expired[hex.EncodeToString(id)] {
			t.Fatalf("live key %x destroyed", id)
		}
		gone++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if gone != len(expired) {
		t.Fatalf("%d keys without material, want %d", gone, len(expired))
	}
}

func await(t *testing.T, lines chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("sweeper exited")
		}
		return l
	case <-time.After(10 * time.Minute):
		t.Fatal("sweeper did not answer within 10 minutes")
	}
	return ""
}
