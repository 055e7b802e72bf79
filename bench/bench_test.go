package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	svg, err := os.ReadFile(filepath.Join(dir, "ratios.svg"))
	if err != nil {
		t.Fatal(err)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("ratios.svg is not SVG: root %q, %v", root.XMLName.Local, err)
	}

	// -compare: an identical run passes, a 3× slower one is flagged.
	old := filepath.Join(dir, "results.json")
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

func TestThreshold(t *testing.T) {
	s := func(median, iqr float64) SubjectResult {
		return SubjectResult{Median: Sample{NsPerOp: median}, IQR: iqr, Samples: []Sample{{NsPerOp: median}}}
	}
	for _, tc := range []struct {
		old, cur SubjectResult
		want     float64
	}{
		{s(100, 1), s(100, 2), 0.10},  // quiet runs: the 10% floor
		{s(100, 10), s(100, 2), 0.20}, // noisy old run: twice its relative IQR
		{s(100, 1), s(200, 60), 0.60}, // noisy new run
	} {
		if got := threshold(tc.old, tc.cur); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("threshold(%v, %v) = %v, want %v", tc.old, tc.cur, got, tc.want)
		}
	}
}
