package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
)

// Results is the content of results.json: the environment and, per
// scenario and subject, every sample, so that a later run can be compared.
type Results struct {
	Env       Env              `json:"env"`
	Scenarios []ScenarioResult `json:"scenarios"`
}

// Env describes the machine and the run.
type Env struct {
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GoVersion  string `json:"go_version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Date       string `json:"date"`
	Count      int    `json:"count"`
	Benchtime  string `json:"benchtime"`
	Short      bool   `json:"short"`
}

// ScenarioResult is one scenario: a fieldcrypt operation and its peers.
type ScenarioResult struct {
	Name     string          `json:"name"`
	Group    string          `json:"group"`
	Note     string          `json:"note,omitempty"`
	Skipped  string          `json:"skipped,omitempty"`
	Subjects []SubjectResult `json:"subjects,omitempty"`
}

// SubjectResult is one measured subject of a scenario. Peer subjects are
// the baselines fieldcrypt subjects are compared with.
type SubjectResult struct {
	Name    string   `json:"name"`
	Peer    bool     `json:"peer"`
	Bytes   int64    `json:"bytes_per_op,omitempty"` // payload per op, for MB/s
	Unit    string   `json:"unit,omitempty"`         // what one op is, when not obvious
	Latency bool     `json:"latency,omitempty"`      // timed directly, allocations not counted
	Samples []Sample `json:"samples"`
	Median  Sample   `json:"median"`
	IQR     float64  `json:"iqr_ns_per_op"`
	Err     string   `json:"error,omitempty"`
}

// Sample is one repetition of one subject.
type Sample struct {
	NsPerOp     float64 `json:"ns_per_op"`
	MBPerS      float64 `json:"mb_per_s,omitempty"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"alloc_bytes_per_op"`
	N           int     `json:"n"`
}

func sampleOf(r testing.BenchmarkResult, bytes int64) Sample {
	s := Sample{N: r.N}
	if r.N > 0 {
		s.NsPerOp = float64(r.T.Nanoseconds()) / float64(r.N)
		s.AllocsPerOp = float64(r.MemAllocs) / float64(r.N)
		s.BytesPerOp = float64(r.MemBytes) / float64(r.N)
	}
	if bytes > 0 && s.NsPerOp > 0 {
		s.MBPerS = float64(bytes) / s.NsPerOp * 1e3
	}
	return s
}

// quantile returns the q-quantile of sorted xs, interpolating linearly.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func stat(samples []Sample, f func(Sample) float64) (median, iqr float64) {
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = f(s)
	}
	slices.Sort(xs)
	return quantile(xs, 0.5), quantile(xs, 0.75) - quantile(xs, 0.25)
}

// summarize fills the medians and spread from the samples.
func (s *SubjectResult) summarize() {
	if len(s.Samples) == 0 {
		return
	}
	s.Median.NsPerOp, s.IQR = stat(s.Samples, func(x Sample) float64 { return x.NsPerOp })
	s.Median.MBPerS, _ = stat(s.Samples, func(x Sample) float64 { return x.MBPerS })
	s.Median.AllocsPerOp, _ = stat(s.Samples, func(x Sample) float64 { return x.AllocsPerOp })
	s.Median.BytesPerOp, _ = stat(s.Samples, func(x Sample) float64 { return x.BytesPerOp })
	n, _ := stat(s.Samples, func(x Sample) float64 { return float64(x.N) })
	s.Median.N = int(n)
}

// ok reports whether the subject has a usable median.
func (s *SubjectResult) ok() bool { return s.Err == "" && len(s.Samples) > 0 && s.Median.NsPerOp > 0 }

func readResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func writeJSON(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// fmtNs formats a duration in nanoseconds with three significant digits.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3g s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	}
	return fmt.Sprintf("%.3g ns", ns)
}

// fmtRatio formats a ratio with two significant digits.
func fmtRatio(r float64) string {
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	case r >= 1:
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2g×", r)
}
