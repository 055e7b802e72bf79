package main

import (
	"encoding/xml"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// syntheticResults has three groups: one with bars both ways, one with
// a failed peer and a skipped scenario, and one without any ratio.
func syntheticResults() *Results {
	subj := func(name string, peer bool, ns float64) SubjectResult {
		s := SubjectResult{Name: name, Peer: peer, Samples: []Sample{{NsPerOp: ns}, {NsPerOp: ns}}}
		s.summarize()
		return s
	}
	return &Results{
		Env: Env{CPU: "test CPU", GoVersion: "go1.26", Count: 2, Benchtime: "50ms", Date: "2026-12-03T00:00:00Z"},
		Scenarios: []ScenarioResult{
			{Name: "envelope/Encrypt/64B", Group: "envelope", Subjects: []SubjectResult{
				subj("fieldcrypt Encrypt", false, 400), subj("raw AES-GCM Seal", true, 150), subj("Tink KMS envelope Encrypt", true, 4000)}},
			{Name: "envelope/Decrypt/4096B", Group: "envelope", Subjects: []SubjectResult{
				subj("fieldcrypt Decrypt", false, 3000), subj("raw AES-GCM Open", true, 900)}},
			{Name: "fpe/FF1/radix10-len9", Group: "fpe", Subjects: []SubjectResult{
				subj("fieldcrypt FF1 EncryptNumerals", false, 400), subj("capitalone/fpe ff1", true, 2500),
				{Name: "broken peer", Peer: true, Err: "boom"}}},
			{Name: "keys/forget-propagation", Group: "keys", Skipped: "skipped: no PostgreSQL"},
		},
	}
}

func TestChartPanels(t *testing.T) {
	panels := chartPanels(syntheticResults())
	if len(panels) != 2 {
		t.Fatalf("got %d panels, want envelope and fpe only (keys has no ratio)", len(panels))
	}
	env := panels[0]
	if env.group != "envelope" || len(env.bars) != 3 {
		t.Fatalf("first panel %q with %d bars, want envelope with 3", env.group, len(env.bars))
	}
	// The second scenario starts after a gap.
	if got, want := env.bars[2].row, 2+chartGapRows; got != want {
		t.Errorf("third envelope bar at row %v, want %v", got, want)
	}
	if env.rows != 3+chartGapRows {
		t.Errorf("envelope panel %v rows high, want %v", env.rows, 3+chartGapRows)
	}
	if fpe := panels[1]; len(fpe.bars) != 1 || fpe.bars[0].label != "FF1 EncryptNumerals radix10-len9 vs capitalone/fpe ff1" {
		t.Errorf("fpe panel: %+v", fpe.bars)
	}
}

func TestBarLabel(t *testing.T) {
	for _, tc := range []struct {
		scenario, group, subject, peer, want string
	}{
		{"envelope/Encrypt/64B", "envelope", "fieldcrypt Encrypt", "Tink KMS envelope Encrypt", "Encrypt 64 B vs Tink KMS envelope Encrypt"},
		{"envelope/Decrypt/4096B", "envelope", "fieldcrypt Decrypt", "raw AES-GCM Open", "Decrypt 4096 B vs raw AES-GCM Open"},
		{"fpe/FF3-1/radix10-len16", "fpe", "fieldcrypt FF3-1 Encrypt (string)", "capitalone/fpe ff3", "FF3-1 Encrypt (string) radix10-len16 vs capitalone/fpe ff3"},
		{"tokenize/card/bin-last4-any", "tokenize", "fieldcrypt Tokenize card/bin-last4-any", "raw FF1 6 symbols", "Tokenize card/bin-last4-any vs raw FF1 6 symbols"},
		{"tokenize/postcode/US", "tokenize", "fieldcrypt Tokenize postcode/US", "raw FF1 9 symbols", "Tokenize postcode/US vs raw FF1 9 symbols"},
		// Names without parameters are not repeated.
		{"keys/Current-cold-vs-warm", "keys", "Current, new subject", "Current, cached subject", "Current, new subject vs Current, cached subject"},
		{"gorm/create+read", "gorm", "gormcrypt", "plain GORM", "gormcrypt vs plain GORM"},
	} {
		sc := ScenarioResult{Name: tc.scenario, Group: tc.group}
		if got := barLabel(sc, ratio{tc.scenario, tc.subject, tc.peer, 2}); got != tc.want {
			t.Errorf("barLabel(%s, %s, %s) = %q, want %q", tc.scenario, tc.subject, tc.peer, got, tc.want)
		}
	}
}

func TestRatioTexts(t *testing.T) {
	for _, tc := range []struct {
		r    float64
		want string
	}{
		{3.2, "3.2× slower"}, {1, "1.0× slower"}, {122, "122× slower"}, {0.5, "2.0× faster"}, {1.0 / 15, "15× faster"},
	} {
		if got := valueText(tc.r); got != tc.want {
			t.Errorf("valueText(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
	for _, tc := range []struct {
		f      float64
		faster bool
		want   string
	}{
		{1, false, "1×"}, {1, true, "1×"}, {2, true, "2× faster"}, {1.5, false, "1.5× slower"}, {10000, false, "10000× slower"},
	} {
		if got := tickText(tc.f, tc.faster); got != tc.want {
			t.Errorf("tickText(%v, %v) = %q, want %q", tc.f, tc.faster, got, tc.want)
		}
	}
}

// TestAxisTicks checks that the labelled ticks say faster left of 1× and
// slower right of it, stay on the axis and never overlap.
func TestAxisTicks(t *testing.T) {
	sty := newChartStyles().tick
	for _, tc := range []struct{ lo, hi float64 }{{-1.3, 0.7}, {-0.95, 0.53}, {-0.05, 2.2}, {-0.1, 4.3}, {-0.05, 0.3}, {-6, 6}} {
		width := chartDataW
		x := func(v float64) vg.Length { return width * vg.Length((v-tc.lo)/(tc.hi-tc.lo)) }
		var labelled []string
		var prevEnd vg.Length = -1
		sawOne := false
		for _, tk := range axisTicks(tc.lo, tc.hi, width, sty) {
			if tk.Value < tc.lo || tk.Value > tc.hi {
				t.Errorf("[%v, %v]: tick at %v off the axis", tc.lo, tc.hi, tk.Value)
			}
			if tk.Label == "" {
				continue
			}
			labelled = append(labelled, tk.Label)
			switch {
			case math.Abs(tk.Value) < 1e-9:
				sawOne = tk.Label == "1×"
			case tk.Value < 0 && !strings.HasSuffix(tk.Label, " faster"), tk.Value > 0 && !strings.HasSuffix(tk.Label, " slower"):
				t.Errorf("[%v, %v]: tick %q at %v", tc.lo, tc.hi, tk.Label, tk.Value)
			}
			start := x(tk.Value) - sty.Width(tk.Label)/2
			if start < prevEnd {
				t.Errorf("[%v, %v]: tick label %q overlaps the one before", tc.lo, tc.hi, tk.Label)
			}
			prevEnd = start + sty.Width(tk.Label)
		}
		if !sawOne || len(labelled) < 2 && tc.hi-tc.lo < 6 {
			t.Errorf("[%v, %v]: labelled ticks %q, want 1× and at least one more", tc.lo, tc.hi, labelled)
		}
	}
}

// TestAxisRange checks that every bar and its value fit the range, and
// that 1× is on it.
func TestAxisRange(t *testing.T) {
	sty := newChartStyles().value
	bars := []chartBar{{value: 1.0 / 15}, {value: 3.2}, {value: 122}}
	lo, hi := axisRange(bars, chartDataW, sty)
	perPt := (hi - lo) / float64(chartDataW)
	if lo >= 0 || hi <= 0 {
		t.Fatalf("range [%v, %v] lacks 1×", lo, hi)
	}
	for _, b := range bars {
		v := math.Log10(b.value)
		room := float64(sty.Width(valueText(b.value))+chartValueGap) * perPt
		if v-room < lo && b.value < 1 || v+room > hi && b.value > 1 {
			t.Errorf("%s does not fit in [%v, %v]", valueText(b.value), lo, hi)
		}
	}
	if lo, hi := axisRange([]chartBar{{value: 1.1}}, chartDataW, sty); hi-lo < 0.3 {
		t.Errorf("range [%v, %v] of one short bar narrower than a factor of 2", lo, hi)
	}
}

// TestWriteChart renders synthetic results as PNG and SVG and checks
// both files decode and the SVG says what the bars are.
func TestWriteChart(t *testing.T) {
	dir := t.TempDir()
	res := syntheticResults()
	if err := writeCharts(dir, res); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "ratios.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("ratios.png: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w < 800 || w > 4000 || h < 300 || h > 4000 {
		t.Errorf("ratios.png is %d×%d pixels", w, h)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "ratios.svg"))
	if err != nil {
		t.Fatal(err)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("ratios.svg is not SVG: root %q, %v", root.XMLName.Local, err)
	}
	for _, want := range []string{"Encrypt 64 B vs Tink KMS envelope Encrypt", "10× faster", "2.7× slower", "fieldcrypt slower →"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("ratios.svg lacks %q", want)
		}
	}

	// More bars make a taller image (laid out only: rasterizing is slow
	// under the race detector).
	more := syntheticResults()
	more.Scenarios = append(more.Scenarios, res.Scenarios[:3]...)
	st := newChartStyles()
	if l, l2 := layoutChart(res, chartPanels(res), st), layoutChart(more, chartPanels(more), st); l2.height <= l.height || l2.width != l.width {
		t.Errorf("twice the bars: %v×%v, the original %v×%v", l2.width, l2.height, l.width, l.height)
	}

	// Nothing to compare still makes an image, and says so.
	if err := writeChart(filepath.Join(dir, "empty.svg"), &Results{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "empty.svg")); err != nil || !strings.Contains(string(b), "no ratios measured") {
		t.Errorf("empty.svg: %v, without \"no ratios measured\"", err)
	}
	if err := writeChart(filepath.Join(dir, "ratios.gif"), res); err == nil {
		t.Error("writeChart to .gif: no error")
	}
}
