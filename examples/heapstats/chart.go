package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chartWorkload is one workload's two phases, for the chart.
type chartWorkload struct {
	title     string
	pure, off phase
	targets   []target // shown in the heap plot's legend
}

var (
	pureColor = color.RGBA{R: 214, G: 39, B: 40, A: 255}  // red
	offColor  = color.RGBA{R: 31, G: 119, B: 180, A: 255} // blue
	rustColor = color.RGBA{R: 44, G: 160, B: 44, A: 255}  // green
)

// writeChart writes one PNG: a row per workload, the Go heap over time on the left and the
// GC pauses on the right, pure Go against offheap.
func writeChart(path string, ws []chartWorkload) error {
	if len(ws) == 0 {
		return nil
	}
	rows := make([][]*plot.Plot, len(ws))
	for i, w := range ws {
		heap, err := heapPlot(w)
		if err != nil {
			return err
		}
		pauses, err := pausePlot(w)
		if err != nil {
			return err
		}
		rows[i] = []*plot.Plot{heap, pauses}
	}
	width, rowHeight := 14*vg.Inch, 3.6*vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, rowHeight*vg.Length(len(ws))+0.5*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	// A title over the whole figure.
	sty := draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 16), XAlign: draw.XCenter, YAlign: draw.YTop,
		Handler: plot.DefaultTextHandler}
	dc.FillText(sty, vg.Point{X: width / 2, Y: dc.Max.Y - 0.1*vg.Inch},
		"offheap heapstats: Go heap and GC pauses, pure Go (red) against offheap (blue)")
	body := draw.Crop(dc, 0, 0, 0, -0.5*vg.Inch)
	tiles := draw.Tiles{Rows: len(ws), Cols: 2, PadX: 0.3 * vg.Inch, PadY: 0.25 * vg.Inch,
		PadTop: 0.1 * vg.Inch, PadBottom: 0.1 * vg.Inch, PadLeft: 0.1 * vg.Inch, PadRight: 0.2 * vg.Inch}
	canvases := plot.Align(rows, tiles, body)
	for i := range rows {
		for j, p := range rows[i] {
			p.Draw(canvases[i][j])
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func shortTitle(w chartWorkload) string {
	for i, c := range w.title {
		if c == ':' {
			return w.title[:i]
		}
	}
	return w.title
}

func heapPlot(w chartWorkload) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: heap over time", shortTitle(w))
	p.X.Label.Text = "time since the phase started (s)"
	p.Y.Label.Text = "heap (MiB)"
	p.Y.Min, p.X.Min = 0, 0
	p.X.Max = max(w.pure.wall.Seconds(), w.off.wall.Seconds())
	var top float64
	for _, ph := range []phase{w.pure, w.off} {
		for _, s := range ph.samples {
			top = max(top, float64(s.goHeap)/(1<<20), float64(s.rust)/(1<<20))
		}
	}
	p.Y.Max = max(top*(1.4+0.15*float64(len(w.targets))), 1) // headroom for the legend
	p.Add(plotter.NewGrid())
	line := func(ph phase, rust bool, c color.Color, dashed bool, name string) error {
		pts := make(plotter.XYs, len(ph.samples))
		for i, s := range ph.samples {
			v := s.goHeap
			if rust {
				v = s.rust
			}
			pts[i] = plotter.XY{X: s.t.Seconds(), Y: float64(v) / (1 << 20)}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := line(w.pure, false, pureColor, false, fmt.Sprintf("pure Go: Go heap (%.2fs)", w.pure.wall.Seconds())); err != nil {
		return nil, err
	}
	if err := line(w.off, false, offColor, false, fmt.Sprintf("offheap: Go heap (%.2fs)", w.off.wall.Seconds())); err != nil {
		return nil, err
	}
	if err := line(w.off, true, rustColor, true, "offheap: Rust heap"); err != nil {
		return nil, err
	}
	for _, t := range w.targets {
		p.Legend.Add(t.String())
	}
	p.Legend.Top = true
	p.Legend.Left = false
	return p, nil
}

func pausePlot(w chartWorkload) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: GC stop-the-world pauses", shortTitle(w))
	p.X.Label.Text = "time since the phase started (s)"
	p.Y.Label.Text = "stop-the-world pause per GC cycle (ms)"
	p.Y.Min = 0
	var top float64
	for _, ph := range []phase{w.pure, w.off} {
		for _, q := range ph.pauses {
			top = max(top, q.d.Seconds()*1e3)
		}
	}
	p.Y.Max = max(top*1.3, 0.1) // headroom for the legend
	p.X.Min = 0
	p.X.Max = max(w.pure.wall.Seconds(), w.off.wall.Seconds())
	p.Add(plotter.NewGrid())
	scatter := func(ph phase, c color.Color, shape draw.GlyphDrawer, name string) error {
		pts := make(plotter.XYs, len(ph.pauses))
		for i, q := range ph.pauses {
			pts[i] = plotter.XY{X: q.t.Seconds(), Y: q.d.Seconds() * 1e3}
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		s.GlyphStyle.Color = c
		s.GlyphStyle.Shape = shape
		s.GlyphStyle.Radius = vg.Points(3)
		p.Add(s)
		p.Legend.Add(name, s)
		return nil
	}
	if err := scatter(w.pure, pureColor, draw.CircleGlyph{}, fmt.Sprintf("pure Go: %d pauses", len(w.pure.pauses))); err != nil {
		return nil, err
	}
	if err := scatter(w.off, offColor, draw.CrossGlyph{}, fmt.Sprintf("offheap: %d pauses", len(w.off.pauses))); err != nil {
		return nil, err
	}
	p.Legend.Top = true
	return p, nil
}
