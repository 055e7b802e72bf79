package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// config is the parsed command line.
type config struct {
	short            bool
	count            int
	benchtime        string
	outDir           string
	run              *regexp.Regexp
	compare          string
	against          string
	failOnRegression bool
	chartOnly        bool
}

func (c *config) gormRows() int {
	if c.short {
		return 100
	}
	return 1000
}

func main() {
	testing.Init()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func defaultOutDir() string {
	if fi, err := os.Stat("bench"); err == nil && fi.IsDir() {
		return "bench" // run from the module root: go run ./bench
	}
	return "."
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var runPattern string
	fs.BoolVar(&cfg.short, "short", false, "CI smoke run: -count 2, -benchtime 50ms, 100 GORM rows; under a minute")
	fs.IntVar(&cfg.count, "count", 0, "repetitions of every benchmark (default 6, or 2 with -short)")
	fs.StringVar(&cfg.benchtime, "benchtime", "", "time per benchmark run, as go test -benchtime (default 500ms, or 50ms with -short)")
	fs.StringVar(&cfg.outDir, "out-dir", defaultOutDir(), "directory for RESULTS.md, ratios.png, ratios.svg and results.json")
	fs.StringVar(&runPattern, "run", "", "run only the scenarios whose name matches this regular expression")
	fs.StringVar(&cfg.compare, "compare", "", "compare the results with this earlier results.json and flag regressions")
	fs.StringVar(&cfg.against, "against", "", "with -compare: compare with this results.json instead of running the suite")
	fs.BoolVar(&cfg.failOnRegression, "fail-on-regression", false, "with -compare: exit with status 1 when a regression is flagged")
	fs.BoolVar(&cfg.chartOnly, "chart-only", false, "redraw the charts from -out-dir's results.json without running the suite")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cfg.count == 0 {
		cfg.count = 6
		if cfg.short {
			cfg.count = 2
		}
	}
	if cfg.benchtime == "" {
		cfg.benchtime = "500ms"
		if cfg.short {
			cfg.benchtime = "50ms"
		}
	}
	var err error
	if cfg.run, err = regexp.Compile(runPattern); err != nil {
		fmt.Fprintf(stderr, "bench: -run: %v\n", err)
		return 2
	}
	if cfg.against != "" && cfg.compare == "" {
		fmt.Fprintln(stderr, "bench: -against needs -compare")
		return 2
	}

	if cfg.chartOnly {
		res, err := readResults(filepath.Join(cfg.outDir, "results.json"))
		if err == nil {
			err = writeCharts(cfg.outDir, res)
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		for _, name := range chartFiles {
			fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(cfg.outDir, name))
		}
		return 0
	}

	var res *Results
	if cfg.against != "" {
		if res, err = readResults(cfg.against); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	} else {
		if res, err = runSuite(ctx, &cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		if err := writeReport(&cfg, res, stdout); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	if cfg.compare != "" {
		old, err := readResults(cfg.compare)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		regressions := printComparison(stdout, old, res)
		if regressions > 0 && cfg.failOnRegression {
			return 1
		}
	}
	return 0
}

func writeReport(cfg *config, res *Results, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil {
		return err
	}
	paths := map[string]func(string) error{
		"results.json": func(p string) error { return writeJSON(p, res) },
		"ratios.png":   func(p string) error { return writeChart(p, res) },
		"ratios.svg":   func(p string) error { return writeChart(p, res) },
		"RESULTS.md":   func(p string) error { return os.WriteFile(p, []byte(markdown(res)), 0o644) },
		"results.txt":  func(p string) error { return os.WriteFile(p, []byte(goBenchFormat(res)), 0o644) },
	}
	for _, name := range []string{"results.json", "ratios.png", "ratios.svg", "RESULTS.md", "results.txt"} {
		p := filepath.Join(cfg.outDir, name)
		if err := paths[name](p); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + runtime.GOARCH + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// runSuite runs the selected scenarios, printing progress to w.
func runSuite(ctx context.Context, cfg *config, w io.Writer) (*Results, error) {
	testing.Init() // idempotent; registers the test.* flags testing.Benchmark reads
	if err := flag.Set("test.benchtime", cfg.benchtime); err != nil {
		return nil, fmt.Errorf("-benchtime %q: %w", cfg.benchtime, err)
	}
	res := &Results{Env: Env{
		CPU: cpuModel(), NumCPU: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Date: time.Now().UTC().Format(time.RFC3339), Count: cfg.count, Benchtime: cfg.benchtime, Short: cfg.short,
	}}
	var selected []scenario
	for _, s := range allScenarios() {
		if cfg.run.MatchString(s.name) {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		return nil, errors.New("no scenario matches -run")
	}
	fmt.Fprintf(w, "fieldcrypt bench: %d scenarios, count %d, benchtime %s, %s, %s GOMAXPROCS=%d\n",
		len(selected), cfg.count, cfg.benchtime, res.Env.CPU, res.Env.GoVersion, res.Env.GOMAXPROCS)
	start := time.Now()
	for i, sc := range selected {
		prefix := fmt.Sprintf("[%d/%d] %s", i+1, len(selected), sc.name)
		r, err := runScenario(ctx, cfg, sc, prefix, w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.name, err)
		}
		res.Scenarios = append(res.Scenarios, r)
	}
	fmt.Fprintf(w, "done in %s\n", time.Since(start).Round(time.Second))
	return res, nil
}

func runScenario(ctx context.Context, cfg *config, sc scenario, prefix string, w io.Writer) (ScenarioResult, error) {
	r := ScenarioResult{Name: sc.name, Group: sc.group, Note: sc.note}
	dir, err := os.MkdirTemp("", "fieldcrypt-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	subs, cleanup, skip, err := sc.setup(ctx, cfg, dir)
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	if skip != "" {
		if !strings.HasPrefix(skip, "skipped") {
			skip = "skipped: " + skip
		}
		r.Skipped = skip
		fmt.Fprintf(w, "%s: %s\n", prefix, skip)
		return r, nil
	}
	defer cleanup()
	r.Subjects = make([]SubjectResult, len(subs))
	for j, s := range subs {
		r.Subjects[j] = SubjectResult{Name: s.name, Peer: s.peer, Bytes: s.bytes, Unit: s.unit, Latency: s.latency}
	}
	// Interleaved: every subject once per repetition, so drift hits all.
	for rep := 1; rep <= cfg.count; rep++ {
		for j, s := range subs {
			out := &r.Subjects[j]
			if out.Err != "" {
				continue
			}
			fmt.Fprintf(w, "%s  run %d/%d  %-58s ", prefix, rep, cfg.count, s.name)
			smp, err := measure(ctx, s)
			if err != nil {
				out.Err = err.Error()
				fmt.Fprintf(w, "FAILED: %v\n", err)
				continue
			}
			out.Samples = append(out.Samples, smp)
			if s.latency {
				fmt.Fprintf(w, "%10s\n", fmtNs(smp.NsPerOp))
			} else {
				fmt.Fprintf(w, "%10s/op %8.1f allocs/op\n", fmtNs(smp.NsPerOp), smp.AllocsPerOp)
			}
		}
	}
	for j := range r.Subjects {
		r.Subjects[j].summarize()
	}
	return r, nil
}

func measure(ctx context.Context, s subject) (Sample, error) {
	if s.measure != nil {
		return s.measure(ctx)
	}
	benchErr = nil
	res := testing.Benchmark(func(b *testing.B) {
		if s.bytes > 0 {
			b.SetBytes(s.bytes)
		}
		b.ReportAllocs()
		s.bench(b)
	})
	if res.N == 0 {
		if benchErr != nil {
			return Sample{}, benchErr
		}
		return Sample{}, errors.New("benchmark failed")
	}
	return sampleOf(res, s.bytes), nil
}
