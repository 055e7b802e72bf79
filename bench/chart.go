package main

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// groupColors colour the bars by scenario group.
var groupColors = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff},
	color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff},
	color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

// writeChart draws one horizontal bar per (fieldcrypt subject, peer) pair:
// the ratio of their medians on a log scale, so 1× is the axis, bars to the
// left are where fieldcrypt is faster and bars to the right slower.
func writeChart(path string, res *Results) error {
	var rs []ratio
	var groups []string
	groupOf := map[string]string{}
	for _, sc := range res.Scenarios {
		for _, r := range ratiosOf(sc) {
			rs = append(rs, r)
			if _, seen := groupOf[r.scenario]; !seen {
				groupOf[r.scenario] = sc.Group
			}
		}
		if len(groups) == 0 || groups[len(groups)-1] != sc.Group {
			groups = append(groups, sc.Group)
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("fieldcrypt / peer, median ns/op (%s, %s, count %d)", res.Env.CPU, res.Env.GoVersion, res.Env.Count)
	p.X.Label.Text = "ratio of medians, log scale (left of 1×: fieldcrypt faster)"
	n := len(rs)
	labels := make([]string, n)
	lo, hi := 0.0, 0.0
	for i, r := range rs {
		labels[n-1-i] = fmt.Sprintf("%s: %s vs %s", r.scenario, strings.TrimPrefix(r.subject, "fieldcrypt "), r.peer)
		v := math.Log10(r.value)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if lo == hi {
		hi++
	}
	var ticks []plot.Tick
	for d := lo; d <= hi; d++ {
		ticks = append(ticks, plot.Tick{Value: d, Label: fmtRatio(math.Pow(10, d))})
		for m := 2.0; m < 10 && d < hi; m++ {
			ticks = append(ticks, plot.Tick{Value: d + math.Log10(m)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = lo, hi
	if n > 0 {
		p.NominalY(labels...)
		grid := plotter.NewGrid()
		grid.Horizontal.Width = 0
		p.Add(grid)
		ci := 0
		for _, g := range groups {
			vals := make(plotter.Values, n)
			found := false
			for i, r := range rs {
				if groupOf[r.scenario] == g {
					vals[n-1-i] = math.Log10(r.value)
					found = true
				}
			}
			if !found {
				continue
			}
			bc, err := plotter.NewBarChart(vals, vg.Points(9))
			if err != nil {
				return err
			}
			bc.Horizontal = true
			bc.Color = groupColors[ci%len(groupColors)]
			bc.LineStyle.Width = 0
			ci++
			p.Add(bc)
			p.Legend.Add(g, bc)
		}
		one, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(n) - 0.5}})
		if err != nil {
			return err
		}
		one.LineStyle.Width = vg.Points(1)
		p.Add(one)
		p.Legend.Top = true
		p.Legend.Left = false
	} else {
		p.Y.Tick.Marker = plot.ConstantTicks(nil)
		p.Title.Text += " — no ratios measured"
	}
	height := vg.Length(n)*vg.Points(12) + 1.5*vg.Inch
	return p.Save(13*vg.Inch, height, path)
}
