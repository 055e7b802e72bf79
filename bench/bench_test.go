package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

// TestSuiteShort runs two scenarios in short mode and checks the report,
// the chart and results.json, then -compare on an identical run and on an
// injected 3× regression.
func TestSuiteShort(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"-short", "-run", `^(envelope/Encrypt/64B|fpe/FF1/radix10-len9)$`, "-out-dir", dir}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("run %v = %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "[1/2] envelope/Encrypt/64B  run 2/2") {
		t.Errorf("no progress lines in output:\n%s", out.String())
	}

	res, err := readResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Env.CPU == "" || res.Env.GoVersion == "" || res.Env.Count != 2 || res.Env.GOMAXPROCS == 0 {
		t.Errorf("environment incomplete: %+v", res.Env)
	}
	if len(res.Scenarios) != 2 {
		t.Fatalf("got %d scenarios, want 2", len(res.Scenarios))
	}
	for _, sc := range res.Scenarios {
		if len(sc.Subjects) < 3 {
			t.Errorf("%s: %d subjects, want fieldcrypt and at least two peers", sc.Name, len(sc.Subjects))
		}
		for _, s := range sc.Subjects {
			if !s.ok() || len(s.Samples) != 2 {
				t.Errorf("%s / %s: %d samples, median %v, error %q", sc.Name, s.Name, len(s.Samples), s.Median.NsPerOp, s.Err)
			}
		}
	}

	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"envelope/Encrypt/64B", "fieldcrypt Encrypt:", "× raw AES-GCM Seal", "× Tink KMS envelope Encrypt",
		"× capitalone/fpe ff1", "× AES-256 11-block chain", "ratios.svg", "allocs/op"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}

	// results.txt is Go benchmark format: benchfmt (benchstat's reader)
	// reads one result per sample, without a syntax error.
	txt, err := os.Open(filepath.Join(dir, "results.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rd := benchfmt.NewReader(txt, "results.txt")
	var results, samples int
	for rd.Scan() {
		switch r := rd.Result().(type) {
		case *benchfmt.Result:
			results++
		case *benchfmt.SyntaxError:
			t.Errorf("results.txt: %v", r)
		}
	}
	txt.Close()
	for _, sc := range res.Scenarios {
		for _, s := range sc.Subjects {
			samples += len(s.Samples)
		}
	}
	if results == 0 || results != samples {
		t.Errorf("results.txt holds %d results, want one per sample (%d)", results, samples)
	}

	svg, err := os.ReadFile(filepath.Join(dir, "ratios.svg"))
	if err != nil {
		t.Fatal(err)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("ratios.svg is not SVG: root %q, %v", root.XMLName.Local, err)
	}

	// -compare: an identical run passes, a 3× slower one is flagged. A
	// -short run has 2 samples a subject, too few for a significant
	// difference: the first subject gets 6, jittered as a real run's.
	first := &res.Scenarios[0].Subjects[0]
	base := first.Median.NsPerOp
	first.Samples = nil
	for _, f := range []float64{1, 1.01, 0.99, 1.02, 0.98, 1} {
		first.Samples = append(first.Samples, Sample{NsPerOp: base * f, N: 1})
	}
	first.summarize()
	old := filepath.Join(dir, "results6.json")
	if err := writeJSON(old, res); err != nil {
		t.Fatal(err)
	}
	if code := compareFiles(t, old, old, true); code != 0 {
		t.Errorf("identical runs: exit %d, want 0", code)
	}
	slow := *res
	slow.Scenarios = append([]ScenarioResult(nil), res.Scenarios...)
	s0 := slow.Scenarios[0]
	s0.Subjects = append([]SubjectResult(nil), s0.Subjects...)
	sub := &s0.Subjects[0]
	sub.Samples = append([]Sample(nil), sub.Samples...)
	for i := range sub.Samples {
		sub.Samples[i].NsPerOp *= 3
	}
	sub.summarize()
	slow.Scenarios[0] = s0
	slowPath := filepath.Join(dir, "slow.json")
	if err := writeJSON(slowPath, &slow); err != nil {
		t.Fatal(err)
	}
	if code := compareFiles(t, old, slowPath, true); code != 1 {
		t.Errorf("3× regression with -fail-on-regression: exit %d, want 1", code)
	}
	if code := compareFiles(t, old, slowPath, false); code != 0 {
		t.Errorf("3× regression without -fail-on-regression: exit %d, want 0", code)
	}
}

func compareFiles(t *testing.T, old, cur string, fail bool) int {
	t.Helper()
	args := []string{"-compare", old, "-against", cur}
	if fail {
		args = append(args, "-fail-on-regression")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	regressed := strings.Contains(out.String(), "REGRESSION")
	if code == 1 && !regressed || errb.Len() > 0 {
		t.Errorf("run %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
	}
	t.Logf("run %v: exit %d\n%s", args, code, out.String())
	return code
}

func TestVerdict(t *testing.T) {
	s := func(ns ...float64) SubjectResult {
		r := SubjectResult{}
		for _, x := range ns {
			r.Samples = append(r.Samples, Sample{NsPerOp: x})
		}
		r.summarize()
		return r
	}
	base := s(100, 101, 99, 100, 102, 98)
	for _, tc := range []struct {
		name string
		cur  SubjectResult
		want string
	}{
		{"the same", s(100, 99, 101, 100, 98, 102), "~"},
		{"30% slower, clearly", s(130, 131, 129, 130, 132, 128), "REGRESSION"},
		{"30% faster, clearly", s(70, 71, 69, 70, 72, 68), "improved"},
		{"2% slower, significant but small", s(102, 103, 101, 102, 104, 102.5), "~"},
		{"30% slower in 2 samples: never significant", s(130, 131), "~"},
		{"noisy: overlapping samples", s(60, 140, 95, 150, 70, 130), "~"},
	} {
		if _, cmp, got := verdictOf(base, tc.cur); got != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, cmp, tc.want)
		}
	}
}
