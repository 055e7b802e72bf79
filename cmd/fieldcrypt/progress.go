package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar (done, rate, ETA) on a terminal;
// elsewhere it draws nothing, so that logs and pipes stay clean.
type progress struct {
	w     io.Writer
	unit  string
	start time.Time
	last  time.Time
	on    bool
	drawn bool
}

func newProgress(w io.Writer, unit string) *progress {
	return &progress{w: w, unit: unit, start: time.Now(), on: isTerminal(w)}
}

// set reports done of total (total 0: unknown).
func (p *progress) set(done, total int64) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last = time.Now()
	rate := float64(done) / max(time.Since(p.start).Seconds(), 1e-9)
	line := fmt.Sprintf("%d %s, %.0f %s/s", done, p.unit, rate, p.unit)
	if total > 0 {
		const width = 30
		n := int(min(done, total) * width / total)
		eta := time.Duration(0)
		if rate > 0 {
			eta = time.Duration(float64(total-min(done, total))/rate) * time.Second
		}
		line = fmt.Sprintf("[%s%s] %d/%d %s, %.0f/s, ETA %s", strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, p.unit, rate, eta.Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	p.drawn = true
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
