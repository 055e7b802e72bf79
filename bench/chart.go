package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	stdfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The chart is one image: a header, then one panel per scenario group
// (envelope, fpe, tokenize …), each a horizontal bar per (fieldcrypt
// subject, peer) pair giving the ratio of their medians on a log scale.
// Bars start at 1×: to the left fieldcrypt is faster, to the right slower.
// The labels sit in a column of their own left of every panel's plotting
// area, so no bar, however long, runs over one; all panels share that
// column and so line up.

// chartFiles are the chart's files in -out-dir: the same drawing twice,
// PNG for reading and for RESULTS.md, SVG for zooming.
var chartFiles = []string{"ratios.png", "ratios.svg"}

// Layout, in points (1/72 in). The PNG is rendered at chartDPI.
const (
	chartDPI      = 120
	chartMargin   = vg.Length(18)
	chartDataW    = vg.Length(520) // width of every panel's plotting area
	chartRowH     = vg.Length(17)  // one bar and the space around it
	chartBarH     = vg.Length(11)
	chartGapRows  = 0.6           // blank rows between the scenarios of a panel
	chartLabelGap = vg.Length(10) // between a label and the plotting area
	chartValueGap = vg.Length(4)  // between a bar's end and its value
)

var (
	colorFaster = color.RGBA{0x1f, 0x77, 0xb4, 0xff} // blue
	colorSlower = color.RGBA{0xe0, 0x6c, 0x00, 0xff} // orange
	colorStripe = color.Gray{0xf2}
	colorGrid   = color.Gray{0xd0}
	colorMuted  = color.Gray{0x55}
)

// chartPanel is one area of the chart: the ratios of one scenario group.
type chartPanel struct {
	group string
	bars  []chartBar
	rows  float64 // height in rows, the gaps between scenarios included
}

// chartBar is one ratio; row counts from the panel's top.
type chartBar struct {
	label string
	value float64
	row   float64
}

// chartPanels groups the ratios of res by scenario group, in the order
// of the results; groups without a ratio (all skipped or failed) have
// no panel.
func chartPanels(res *Results) []chartPanel {
	var panels []chartPanel
	for _, sc := range res.Scenarios {
		rs := ratiosOf(sc)
		if len(rs) == 0 {
			continue
		}
		i := slices.IndexFunc(panels, func(p chartPanel) bool { return p.group == sc.Group })
		if i < 0 {
			panels = append(panels, chartPanel{group: sc.Group})
			i = len(panels) - 1
		}
		p := &panels[i]
		if len(p.bars) > 0 {
			p.rows += chartGapRows
		}
		for _, r := range rs {
			p.bars = append(p.bars, chartBar{label: barLabel(sc, r), value: r.value, row: p.rows})
			p.rows++
		}
	}
	return panels
}

var sizeRE = regexp.MustCompile(`^(\d+)B$`)

// barLabel names both sides of a ratio: "Encrypt 64 B vs raw AES-GCM
// Seal". The operation is the subject's name without "fieldcrypt ",
// followed by the parameters in the scenario's name (sizes, radix and
// length) that the subject's name does not already give.
func barLabel(sc ScenarioResult, r ratio) string {
	op := strings.TrimPrefix(r.subject, "fieldcrypt ")
	rest := strings.TrimPrefix(sc.Name, sc.Group+"/")
	var params []string
	for _, part := range strings.Split(rest, "/") {
		if strings.Contains(op, part) || !strings.ContainsAny(part, "0123456789") {
			continue
		}
		if m := sizeRE.FindStringSubmatch(part); m != nil {
			part = m[1] + " B"
		}
		params = append(params, part)
	}
	if len(params) > 0 {
		op += " " + strings.Join(params, " ")
	}
	return op + " vs " + r.peer
}

// valueText is the ratio printed at a bar's end: "2.2× slower",
// "15× faster".
func valueText(r float64) string {
	if r < 1 {
		return fmtRatio(1/r) + " faster"
	}
	return fmtRatio(r) + " slower"
}

// tickText labels the axis at log10(ratio) = v for a round factor f:
// "1×", "2× faster", "100× slower".
func tickText(f float64, faster bool) string {
	s := strconv.FormatFloat(f, 'f', -1, 64) + "×"
	switch {
	case f == 1:
		return s
	case faster:
		return s + " faster"
	}
	return s + " slower"
}

// tickSets are the round factors per decade tried for labelled ticks,
// densest first; the first whose labels do not collide is used.
var tickSets = [][]float64{{1, 1.5, 2, 3, 5, 7}, {1, 2, 5}, {1, 3}, {1}}

// axisTicks returns the ticks of an axis from lo to hi (log10 of the
// ratio) drawn width long: labelled round factors in both directions,
// as dense as their labels allow, and unlabelled minor ticks at every
// whole multiple of a power of ten between them.
func axisTicks(lo, hi float64, width vg.Length, sty draw.TextStyle) []plot.Tick {
	x := func(v float64) vg.Length { return width * vg.Length((v-lo)/(hi-lo)) }
	decades := int(math.Ceil(math.Max(-lo, hi))) + 1
	gen := func(set []float64) []plot.Tick {
		var ts []plot.Tick
		for d := 0; d <= decades; d++ {
			for _, m := range set {
				f := m * math.Pow(10, float64(d))
				v := math.Log10(f)
				if v <= hi {
					ts = append(ts, plot.Tick{Value: v, Label: tickText(f, false)})
				}
				if f != 1 && -v >= lo {
					ts = append(ts, plot.Tick{Value: -v, Label: tickText(f, true)})
				}
			}
		}
		slices.SortFunc(ts, func(a, b plot.Tick) int { return compareFloat(a.Value, b.Value) })
		return ts
	}
	// Labels that would stick out past the axis's ends are left off;
	// the rest must not collide.
	inside := func(ts []plot.Tick) []plot.Tick {
		return slices.DeleteFunc(ts, func(t plot.Tick) bool {
			half := sty.Width(t.Label) / 2
			return x(t.Value)-half < 0 || x(t.Value)+half > width
		})
	}
	fits := func(ts []plot.Tick) bool {
		for i := 1; i < len(ts); i++ {
			t, p := ts[i], ts[i-1]
			if x(t.Value)-x(p.Value) < (sty.Width(t.Label)+sty.Width(p.Label))/2+vg.Points(8) {
				return false
			}
		}
		return true
	}
	var major []plot.Tick
	for _, set := range tickSets {
		if major = inside(gen(set)); fits(major) {
			break
		}
	}
	if !fits(major) { // a wide range on a narrow axis: 1× alone
		major = []plot.Tick{{Value: 0, Label: tickText(1, false)}}
	}
	ticks := major
	for _, t := range gen([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		if !slices.ContainsFunc(major, func(m plot.Tick) bool { return math.Abs(m.Value-t.Value) < 1e-9 }) {
			ticks = append(ticks, plot.Tick{Value: t.Value})
		}
	}
	return ticks
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// axisRange returns the log10 range of a panel's axis: every bar, 1×
// with some room on both sides, and room for the value printed beyond
// each bar's end, for a plotting area width long.
func axisRange(bars []chartBar, width vg.Length, sty draw.TextStyle) (lo, hi float64) {
	for _, b := range bars {
		v := math.Log10(b.value)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	// At least a factor of 2 across, widened on the side of the bars.
	if need := 0.3 - (hi - lo); need > 0 {
		if hi > -lo {
			lo, hi = lo-0.2*need, hi+0.8*need
		} else {
			lo, hi = lo-0.8*need, hi+0.2*need
		}
	}
	// Room beyond 1× for its tick label, beyond each bar's end for its
	// value: how much of the range that is depends on the range, so a few
	// rounds settle it.
	one := float64(sty.Width(tickText(1, false))/2 + vg.Points(4))
	for range 6 {
		perPt := (hi - lo) / float64(width)
		nlo, nhi := math.Min(lo, -one*perPt), math.Max(hi, one*perPt)
		for _, b := range bars {
			v := math.Log10(b.value)
			room := float64(sty.Width(valueText(b.value))+chartValueGap+vg.Points(4)) * perPt
			if b.value < 1 {
				nlo = math.Min(nlo, v-room)
			} else {
				nhi = math.Max(nhi, v+room)
			}
		}
		lo, hi = nlo, nhi
	}
	return lo, hi
}

// chartStyles are the text styles of the chart.
type chartStyles struct {
	header, sub, title, label, value, tick draw.TextStyle
}

func newChartStyles() chartStyles {
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	bold := sans
	bold.Weight = stdfont.WeightBold
	st := func(f font.Font, size vg.Length, c color.Color) draw.TextStyle {
		return draw.TextStyle{Color: c, Font: font.From(f, size), Handler: plot.DefaultTextHandler}
	}
	return chartStyles{
		header: st(bold, 15, color.Black),
		sub:    st(sans, 10, colorMuted),
		title:  st(bold, 13, color.Black),
		label:  st(sans, 10, color.Black),
		value:  st(sans, 9, color.Black),
		tick:   st(sans, 9, color.Black),
	}
}

// chartLayout is the size of the chart and of its parts.
type chartLayout struct {
	width, height vg.Length
	labelW        vg.Length // the label column, the gap to the plotting area included
	headerH       vg.Length
	titleH        vg.Length // a panel's title and the space under it
	axisH         vg.Length // a panel's axis: ticks, tick labels, caption
	panelGap      vg.Length
}

// chartHeader is the chart's title and the line under it.
func chartHeader(res *Results) (title, sub string) {
	e := res.Env
	return "fieldcrypt vs its peers: ratio of median time per operation (log scale)",
		fmt.Sprintf("fieldcrypt's median ÷ the peer's, same process and run · %s, %s, -count %d, -benchtime %s · %s",
			e.CPU, e.GoVersion, e.Count, e.Benchtime, e.Date)
}

func layoutChart(res *Results, panels []chartPanel, st chartStyles) chartLayout {
	l := chartLayout{
		headerH:  st.header.Height("H") + st.sub.Height("H") + 16,
		titleH:   st.title.Height("H") + 6,
		axisH:    5 + st.tick.Height("H") + 4 + st.label.Height("H") + 2,
		panelGap: 22,
	}
	for _, p := range panels {
		for _, b := range p.bars {
			l.labelW = max(l.labelW, st.label.Width(b.label))
		}
	}
	l.labelW += chartLabelGap
	l.width = 2*chartMargin + l.labelW + chartDataW
	l.height = 2*chartMargin + l.headerH
	for _, p := range panels {
		l.height += l.panelH(p) + l.panelGap
	}
	if len(panels) == 0 {
		l.width = 2*chartMargin + chartDataW
		l.height += chartRowH
	}
	title, sub := chartHeader(res)
	l.width = max(l.width, 2*chartMargin+st.header.Width(title), 2*chartMargin+st.sub.Width(sub))
	return l
}

func (l chartLayout) panelH(p chartPanel) vg.Length {
	return l.titleH + vg.Length(p.rows)*chartRowH + l.axisH
}

// writeCharts renders the chart of res into dir as every one of
// chartFiles.
func writeCharts(dir string, res *Results) error {
	for _, name := range chartFiles {
		if err := writeChart(filepath.Join(dir, name), res); err != nil {
			return err
		}
	}
	return nil
}

// writeChart renders the chart of res into path, as PNG or SVG by the
// name's extension.
func writeChart(path string, res *Results) error {
	panels := chartPanels(res)
	st := newChartStyles()
	l := layoutChart(res, panels, st)
	var write func(io.Writer) error
	switch ext := filepath.Ext(path); ext {
	case ".png":
		c := vgimg.NewWith(vgimg.UseWH(l.width, l.height), vgimg.UseDPI(chartDPI))
		drawChart(draw.New(c), res, panels, st, l)
		write = func(w io.Writer) error { _, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w); return err }
	case ".svg":
		c := vgsvg.New(l.width, l.height)
		drawChart(draw.New(c), res, panels, st, l)
		write = func(w io.Writer) error { _, err := c.WriteTo(w); return err }
	default:
		return fmt.Errorf("chart: unknown image format %q", ext)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func drawChart(c draw.Canvas, res *Results, panels []chartPanel, st chartStyles, l chartLayout) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	left, top := c.Min.X+chartMargin, c.Max.Y-chartMargin

	title, subtitle := chartHeader(res)
	head := st.header
	head.YAlign = draw.YTop
	c.FillText(head, vg.Point{X: left, Y: top}, title)
	top -= head.Height("H") + 4
	sub := st.sub
	sub.YAlign = draw.YTop
	c.FillText(sub, vg.Point{X: left, Y: top}, subtitle)
	top = c.Max.Y - chartMargin - l.headerH
	if len(panels) == 0 {
		c.FillText(sub, vg.Point{X: left, Y: top}, "no ratios measured")
		return
	}
	for _, p := range panels {
		h := l.panelH(p)
		pc := c
		pc.Min = vg.Point{X: left, Y: top - h}
		pc.Max = vg.Point{X: c.Max.X - chartMargin, Y: top}
		drawPanel(pc, p, st, l)
		top -= h + l.panelGap
	}
}

// drawPanel draws one panel into c: its title across the top, the labels
// in the left column, and a plot of the bars right of them.
func drawPanel(c draw.Canvas, p chartPanel, st chartStyles, l chartLayout) {
	title := st.title
	title.YAlign = draw.YTop
	c.FillText(title, vg.Point{X: c.Min.X, Y: c.Max.Y}, p.group)

	lo, hi := axisRange(p.bars, chartDataW, st.value)
	pl := plot.New()
	pl.BackgroundColor = nil
	pl.HideY()
	pl.Y.Padding, pl.X.Padding = 0, 0
	pl.Y.Min, pl.Y.Max = -p.rows, 0
	pl.X.Min, pl.X.Max = lo, hi
	pl.X.Tick.Label = st.tick
	pl.X.Tick.Label.XAlign, pl.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	pl.X.Tick.Length = vg.Points(5)
	pl.X.Tick.Marker = plot.ConstantTicks(axisTicks(lo, hi, chartDataW, st.tick))
	grid := plotter.NewGrid()
	grid.Horizontal.Width = 0
	grid.Vertical.Color = colorGrid
	pl.Add(grid)

	// The plot's canvas: right of the labels, under the title, above the
	// caption; its data area is chartDataW wide and a row per bar high.
	plc := c
	plc.Min.X += l.labelW
	plc.Max.Y -= l.titleH
	plc.Min.Y += st.label.Height("H") + 2
	dc := pl.DataCanvas(plc)
	x, y := pl.Transforms(&dc)
	rowY := func(row float64) vg.Length { return y(-row - 0.5) }

	// Stripes on every other row, across labels and bars, lead the eye
	// from a label to its bar.
	for i, b := range p.bars {
		if i%2 == 1 {
			continue
		}
		ym := rowY(b.row)
		c.FillPolygon(colorStripe, []vg.Point{
			{X: c.Min.X, Y: ym - chartRowH/2}, {X: dc.Max.X, Y: ym - chartRowH/2},
			{X: dc.Max.X, Y: ym + chartRowH/2}, {X: c.Min.X, Y: ym + chartRowH/2},
		})
	}
	pl.Draw(plc)

	label := st.label
	label.XAlign, label.YAlign = draw.XRight, draw.YCenter
	value := st.value
	value.YAlign = draw.YCenter
	x1 := x(0)
	for _, b := range p.bars {
		ym := rowY(b.row)
		c.FillText(label, vg.Point{X: dc.Min.X - chartLabelGap, Y: ym}, b.label)
		xe := x(math.Log10(b.value))
		clr := color.Color(colorSlower)
		value.XAlign = draw.XLeft
		vx := xe + chartValueGap
		if b.value < 1 {
			clr = colorFaster
			value.XAlign = draw.XRight
			vx = xe - chartValueGap
		}
		c.FillPolygon(clr, []vg.Point{
			{X: min(x1, xe), Y: ym - chartBarH/2}, {X: max(x1, xe), Y: ym - chartBarH/2},
			{X: max(x1, xe), Y: ym + chartBarH/2}, {X: min(x1, xe), Y: ym + chartBarH/2},
		})
		c.FillText(value, vg.Point{X: vx, Y: ym}, valueText(b.value))
	}
	c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(1.2)}, x1, dc.Min.Y, x1, dc.Max.Y)

	// The caption, under the tick labels, splits at 1×.
	capY := c.Min.Y
	left, right := st.label, st.label
	left.XAlign, right.XAlign = draw.XRight, draw.XLeft
	left.YAlign, right.YAlign = draw.YBottom, draw.YBottom
	lt, rt := "← fieldcrypt faster", "fieldcrypt slower →"
	split := min(max(x1, dc.Min.X+left.Width(lt)+6), dc.Max.X-right.Width(rt)-6)
	c.FillText(left, vg.Point{X: split - 6, Y: capY}, lt)
	mid := st.label
	mid.XAlign, mid.YAlign = draw.XCenter, draw.YBottom
	c.FillText(mid, vg.Point{X: split, Y: capY}, "|")
	c.FillText(right, vg.Point{X: split + 6, Y: capY}, rt)
}
