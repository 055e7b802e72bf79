package natswatch_test

// Tests with real OS processes sharing a MariaDB keystore and a NATS
// server: the test binary runs itself again with TestHelperProcess
// selected, as keys/sqlstore's process tests do, and drives each helper
// over its stdin and stdout.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/internal/testdb"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/natswatch"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
)

const (
	helperEnv = "FIELDCRYPT_NATSWATCH_HELPER"
	trialsEnv = "FIELDCRYPT_NATS_TRIALS" // 200 for the full run
)

// helperConfig tells a helper process which keystore and stream to use.
type helperConfig struct {
	DSN, RootKey            string
	URL, Stream, Subject    string
	Durable                 string
	CacheMaxAge             time.Duration
	ReconcileInterval       time.Duration
	AckWait                 time.Duration
	ExitBetweenCommitAndPub bool // the helper dies after the store commits a Forget, before publishing
}

func (c helperConfig) open(t testing.TB) (*keys.Keyring, *natswatch.Watcher) {
	t.Helper()
	ctx := context.Background()
	store, err := mysql.Open(ctx, c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	root, err := localkms.OpenFile(c.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := natswatch.New(ctx, natswatch.Options{Store: store, URL: c.URL, Stream: c.Stream, Subject: c.Subject,
		Durable: c.Durable, ReconcileInterval: c.ReconcileInterval, AckWait: c.AckWait,
		Metrics: &natswatch.Metrics{EventReceived: recordLag}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	var watcher keystore.Watcher = w
	if c.ExitBetweenCommitAndPub {
		watcher = dyingWatcher{w}
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, CacheMaxAge: c.CacheMaxAge, Watcher: watcher})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	return kr, w
}

// lags collects Metrics.EventReceived: the stream-to-receipt time of
// every event, for LAGS.
var (
	lagMu sync.Mutex
	lags  []time.Duration
)

func recordLag(d time.Duration) {
	lagMu.Lock()
	defer lagMu.Unlock()
	lags = append(lags, d)
}

// dyingWatcher exits the process when the Keyring hands it a committed
// Forget to publish: a crash between commit and publish.
type dyingWatcher struct{ *natswatch.Watcher }

func (dyingWatcher) Forgotten(context.Context, keystore.Tombstone) error {
	os.Exit(3)
	return nil
}

type helper struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	exited chan struct{}
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
	h := &helper{t: t, cmd: cmd, in: in, lines: make(chan string, 16), exited: make(chan struct{})}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), "R "); ok {
				h.lines <- r
			}
		}
	}()
	go func() { cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		in.Close()
		select {
		case <-h.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-h.exited
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
	kr, w := c.open(t)
	cipher, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); w.Health().Mode != natswatch.ModeStream; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("watcher not on the stream after 20 s: %+v", w.Health())
		}
	}
	fmt.Println("R ready")
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var r string
		switch f[0] {
		case "LOAD": // LOAD ct...
			var rs []string
			for _, ct := range f[1:] {
				rs = append(rs, outcome(decrypt(cipher, ct)))
			}
			r = strings.Join(rs, " ")
		case "WAIT": // WAIT ms ct...: decrypt until all are refused
			ms, _ := strconv.Atoi(f[1])
			r = waitDestroyed(cipher, f[2:], time.Duration(ms)*time.Millisecond)
		case "FORGET": // FORGET subject
			_, err := kr.Forget(context.Background(), f[1], "trial")
			r = outcome(err)
		case "LAGS": // p50 and max of the events' stream-to-receipt times, ns
			lagMu.Lock()
			l := slices.Clone(lags)
			lagMu.Unlock()
			slices.Sort(l)
			r = "0 0"
			if len(l) > 0 {
				r = fmt.Sprintf("%d %d", l[len(l)/2], l[len(l)-1])
			}
		case "HEALTH":
			h := w.Health()
			r = fmt.Sprintf("%s %d %d %v %d", h.Mode, h.Events, h.CaughtUp, h.Connected, h.Since.UnixNano())
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
// ErrKeyDestroyed and returns, per ciphertext, the time of the first
// refusal and the start of the last successful decryption (Unix ns).
func waitDestroyed(c *envelope.Cipher, cts []string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	refused := make([]int64, len(cts))
	lastOK := make([]int64, len(cts))
	for left := len(cts); left > 0; {
		for i, ct := range cts {
			if refused[i] != 0 {
				continue
			}
			start := time.Now().UnixNano()
			err := decrypt(c, ct)
			switch {
			case err == nil:
				lastOK[i] = start
			case errors.Is(err, keystore.ErrKeyDestroyed):
				refused[i] = time.Now().UnixNano()
				left--
			default:
				return outcome(err)
			}
		}
		if time.Now().After(deadline) {
			return "timeout"
		}
		time.Sleep(time.Millisecond)
	}
	out := []string{"destroyed"}
	for i := range cts {
		out = append(out, strconv.FormatInt(refused[i], 10), strconv.FormatInt(lastOK[i], 10))
	}
	return strings.Join(out, " ")
}

// refusal is one process's answer to WAIT for one ciphertext.
type refusal struct{ refused, lastOK time.Time }

func parseWait(t *testing.T, got string, n int) []refusal {
	t.Helper()
	f := strings.Fields(got)
	if len(f) != 2*n+1 || f[0] != "destroyed" {
		t.Fatalf("WAIT: %q, want destroyed", got)
	}
	out := make([]refusal, n)
	for i := range out {
		a, _ := strconv.ParseInt(f[1+2*i], 10, 64)
		b, _ := strconv.ParseInt(f[2+2*i], 10, 64)
		out[i].refused = time.Unix(0, a)
		if b != 0 {
			out[i].lastOK = time.Unix(0, b)
		}
	}
	return out
}

// target prepares a fresh MariaDB keystore, root key, stream and subject.
func target(t *testing.T, url string) helperConfig {
	dir := t.TempDir()
	stream, subject := names(t, url)
	c := helperConfig{DSN: testdb.MySQLDSN(t), RootKey: filepath.Join(dir, "root.key"), URL: url,
		Stream: stream, Subject: subject}
	if _, err := localkms.OpenFile(c.RootKey); err != nil {
		t.Fatal(err)
	}
	return c
}

func trials(t *testing.T) int {
	if s := os.Getenv(trialsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q", trialsEnv, s)
		}
		return n
	}
	return 30
}

const lanes = 8

// TestPropagationAcrossProcesses: three processes on a MariaDB keystore,
// each with a NATS watcher (B with an ordered consumer, C with a durable
// one); A forgets customers at random moments and B and C, whose caches
// would keep the keys for an hour, must refuse them. Latency is measured
// from the start of A's Forget (the MariaDB commit included) to the first
// refusal.
func TestPropagationAcrossProcesses(t *testing.T) {
	url := natsURL(t)
	c := target(t, url)
	c.CacheMaxAge = time.Hour
	kr, _ := c.open(t)
	cipher, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	B := startHelper(t, c)
	cc := c
	cc.Durable = "proc-C"
	C := startHelper(t, cc)
	ctx := t.Context()
	n := trials(t)
	var lat, afterReturn, forgetTook []time.Duration
	for round := 0; round < n; round += lanes {
		k := min(lanes, n-round)
		cts := make([]string, k)
		customers := make([]string, k)
		for j := range k {
			customers[j] = fmt.Sprintf("customer-%d", round+j)
			ct, err := cipher.Encrypt(ctx, customers[j], []byte("ada@example.com"), nil)
			if err != nil {
				t.Fatal(err)
			}
			cts[j] = hex.EncodeToString(ct)
		}
		all := strings.Join(cts, " ")
		want := strings.TrimSpace(strings.Repeat("ok ", k))
		for _, h := range []*helper{B, C} {
			if got := h.do("LOAD %s", all); got != want {
				t.Fatalf("before Forget: %s", got)
			}
			h.send("WAIT 10000 %s", all)
		}
		started := make([]time.Time, k)
		returned := make([]time.Time, k)
		var wg sync.WaitGroup
		for j := range k {
			wg.Go(func() {
				time.Sleep(rand.N(20 * time.Millisecond))
				started[j] = time.Now()
				if _, err := kr.Forget(ctx, customers[j], "trial"); err != nil {
					t.Error(err)
				}
				returned[j] = time.Now()
			})
		}
		wg.Wait()
		for j := range k {
			forgetTook = append(forgetTook, returned[j].Sub(started[j]))
		}
		for _, h := range []*helper{B, C} {
			for j, r := range parseWait(t, h.await(), k) {
				lat = append(lat, max(r.refused.Sub(started[j]), 0))
				afterReturn = append(afterReturn, r.refused.Sub(returned[j]))
			}
		}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("NATS on MariaDB: Forget in A -> ErrKeyDestroyed in B and C, %d trials x 2 processes: p50 %v, p99 %v, max %v",
		n, q(0.5), q(0.99), lat[len(lat)-1])
	slices.Sort(afterReturn)
	slices.Sort(forgetTook)
	t.Logf("A's Forget (MariaDB commit + publish) took p50 %v, max %v; refusal relative to Forget's return: p50 %v, max %v",
		forgetTook[len(forgetTook)/2], forgetTook[len(forgetTook)-1], afterReturn[len(afterReturn)/2], afterReturn[len(afterReturn)-1])
	for name, h := range map[string]*helper{"B": B, "C": C} {
		var p50, mx time.Duration
		fmt.Sscan(h.do("LAGS"), &p50, &mx)
		t.Logf("%s: NATS delivery (event stored in the stream -> received by the watcher) p50 %v, max %v", name, p50, mx)
	}
	if p99 := q(0.99); p99 > 20*time.Millisecond {
		t.Logf("p99 %v is above the 20 ms target (machine load?)", p99)
	}
	if m := lat[len(lat)-1]; m > 3*time.Second {
		t.Errorf("max %v: a refusal took longer than the keystore polling would", m)
	}
}

// natsServer is a nats-server of this test, on a free port.
type natsServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startNATS(t *testing.T) *natsServer {
	const bin = "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		t.Skip(bin + " not installed; the fault tests start their own server")
	}
	s := &natsServer{t: t, port: freePort(t), dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *natsServer) start() {
	s.cmd = exec.Command("/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatal("nats-server did not come up")
		}
	}
}

func (s *natsServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	s.cmd = nil
}

// TestFaults runs three processes (A here, B ordered, C durable) on a
// MariaDB keystore and a NATS server of its own, with a 2 s cache MaxAge,
// through three faults: the server restarted; B paused with SIGSTOP for
// longer than its consumer's ack timeout; a publisher killed between the
// store's commit and the publish. In each, no process may decrypt after
// the cache MaxAge (a late decrypt: a successful decryption that started
// more than CacheMaxAge + MaxAgeSlack after the Forget began), and all
// must catch up: a Forget right after the fault reaches B and C within a
// second.
func TestFaults(t *testing.T) {
	_ = natsURL(t) // the same switch as the other NATS tests
	srv := startNATS(t)
	c := target(t, srv.url())
	const maxAge = 2 * time.Second
	c.CacheMaxAge, c.ReconcileInterval, c.AckWait = maxAge, 500*time.Millisecond, time.Second
	kr, aw := c.open(t)
	cipher, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	B := startHelper(t, c)
	cc := c
	cc.Durable = "proc-C"
	C := startHelper(t, cc)
	ctx := t.Context()
	next := 0
	load := func() (string, string) {
		next++
		customer := fmt.Sprintf("customer-%d", next)
		ct, err := cipher.Encrypt(ctx, customer, []byte("ada@example.com"), nil)
		if err != nil {
			t.Fatal(err)
		}
		h := hex.EncodeToString(ct)
		for _, p := range []*helper{B, C} {
			if got := p.do("LOAD %s", h); got != "ok" {
				t.Fatalf("before Forget: %s", got)
			}
		}
		return customer, h
	}
	bound := maxAge + keys.MaxAgeSlack
	// check waits for B and C to refuse ct and counts their late decrypts.
	check := func(fault string, ct string, forgotten time.Time, who []*helper) (late int, delays []time.Duration) {
		for _, p := range who {
			p.send("WAIT 20000 %s", ct)
		}
		for _, p := range who {
			r := parseWait(t, p.await(), 1)[0]
			if !r.lastOK.IsZero() && r.lastOK.After(forgotten.Add(bound)) {
				late++
			}
			delays = append(delays, r.refused.Sub(forgotten))
		}
		return late, delays
	}
	// caughtUp: a Forget after the fault reaches B and C over the stream again.
	// since: the watchers must have (re)joined the stream after that time.
	caughtUp := func(fault string, since time.Time) {
		onStream := func(p *helper) bool {
			var mode string
			var events, caught, ns int64
			var conn bool
			fmt.Sscan(p.do("HEALTH"), &mode, &events, &caught, &conn, &ns)
			return mode == natswatch.ModeStream && ns >= since.UnixNano()
		}
		for _, p := range []*helper{B, C} {
			for deadline := time.Now().Add(30 * time.Second); !onStream(p); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: a watcher is not back on the stream after 30 s", fault)
				}
			}
		}
		for deadline := time.Now().Add(30 * time.Second); aw.Health().Mode != natswatch.ModeStream || aw.Health().Since.Before(since); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: A's watcher is not back on the stream after 30 s", fault)
			}
		}
		events := func() (n [2]int) {
			for i, p := range []*helper{B, C} {
				fmt.Sscanf(p.do("HEALTH"), "stream %d", &n[i])
			}
			return n
		}
		before := events()
		customer, ct := load()
		start := time.Now()
		if _, err := kr.Forget(ctx, customer, "after"); err != nil {
			t.Fatal(err)
		}
		// Counted from Forget's return: on a loaded machine the MariaDB
		// commit alone can take a second, which says nothing of catching up.
		took := time.Since(start)
		late, d := check(fault+", after", ct, start, []*helper{B, C})
		for i := range d {
			d[i] -= took
		}
		if late > 0 || d[0] > time.Second || d[1] > time.Second {
			t.Errorf("%s: after the fault, B and C refused %v after A's Forget returned (late decrypts %d); want caught up, under 1 s", fault, d, late)
		}
		time.Sleep(100 * time.Millisecond)
		if after := events(); after[0] <= before[0] || after[1] <= before[1] {
			t.Errorf("%s: events received by B and C went from %v to %v: the Forget after the fault did not come over the stream", fault, before, after)
		}
		t.Logf("%s: after the fault, B and C refused a new Forget %v after it returned (it took %v); B %s, C %s (mode events caught-up connected since)",
			fault, d, took, B.do("HEALTH"), C.do("HEALTH"))
	}
	report := func(fault string, late int, d []time.Duration) {
		t.Logf("%s: B and C refused after %v (bound %v); late decrypts: %d", fault, d, bound, late)
		if late > 0 {
			t.Errorf("%s: %d late decrypts", fault, late)
		}
		for _, x := range d {
			if x > bound+1500*time.Millisecond { // margin for a loaded machine running -race
				t.Errorf("%s: refused after %v, bound %v", fault, x, bound)
			}
		}
	}

	t.Run("ServerRestarted", func(t *testing.T) {
		customer, ct := load()
		srv.stop()
		start := time.Now()
		if _, err := kr.Forget(ctx, customer, "trial"); err != nil {
			t.Fatal(err) // the publish fails; the Forget must not
		}
		if h := aw.Health(); h.PublishFailures == 0 {
			t.Errorf("A's publish did not fail with the server down: %+v", h)
		}
		late, d := check("server down", ct, start, []*helper{B, C})
		report("nats-server stopped during the Forget", late, d)
		restarted := time.Now()
		srv.start()
		caughtUp("nats-server restarted", restarted)
	})

	t.Run("ConsumerPaused", func(t *testing.T) {
		customer, ct := load()
		B.cmd.Process.Signal(syscall.SIGSTOP)
		start := time.Now()
		if _, err := kr.Forget(ctx, customer, "trial"); err != nil {
			t.Fatal(err)
		}
		lateC, dC := check("pause", ct, start, []*helper{C})
		time.Sleep(3 * c.AckWait) // longer than B's ack wait (and its cache MaxAge)
		B.cmd.Process.Signal(syscall.SIGCONT)
		resumed := time.Now()
		lateB, dB := check("pause", ct, start, []*helper{B})
		// B could not refuse while stopped: its delay counts from SIGCONT.
		report("B paused 3 s (ack wait 1 s) with SIGSTOP; B's delay from SIGCONT", lateB+lateC,
			[]time.Duration{dB[0] - resumed.Sub(start), dC[0]})
		caughtUp("B resumed with SIGCONT", time.Time{})
	})

	t.Run("PublisherKilled", func(t *testing.T) {
		customer, ct := load()
		dc := c
		dc.ExitBetweenCommitAndPub = true
		D := startHelper(t, dc)
		start := time.Now()
		D.send("FORGET %s", customer)
		select {
		case <-D.exited:
		case <-time.After(20 * time.Second):
			t.Fatal("the publisher did not exit")
		}
		if code := D.cmd.ProcessState.ExitCode(); code != 3 {
			t.Fatalf("the publisher exited with %d, want 3 (between commit and publish)", code)
		}
		if st, err := kr.Status(ctx, customer); err != nil || !st.Forgotten {
			t.Fatalf("the Forget did not commit: %+v, %v", st, err)
		}
		late, d := check("publisher killed", ct, start, []*helper{B, C})
		report("publisher killed between commit and publish", late, d)
		for _, x := range d {
			if x > maxAge {
				t.Logf("a refusal after %v came from the cache MaxAge, not the keystore catch-up", x)
			}
		}
		caughtUp("publisher killed", time.Time{})
	})
}
