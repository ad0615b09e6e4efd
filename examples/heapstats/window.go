package main

import (
	"fmt"
	"math"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// The window workload: a one-minute tumbling window per series with count, sum, min, max,
// last and quantiles from a log-bucket sketch (relative accuracy 1%), over o.series series
// and o.perSeries samples each, then a snapshot of every series (p99 included).

const windowAlpha = 0.01

// value is the deterministic sample value of sample j of series k: positive, spread over
// a few decades so the sketches hold several buckets.
func windowValue(k uint64, j int) float64 {
	x := (k*0x9E3779B97F4A7C15 + uint64(j)*0xBF58476D1CE4E5B9) >> 40 // 24 bits
	return 1 + float64(x%100_000)/100
}

// sketch is the pure-Go log-bucket quantile sketch (DDSketch-style, as benches/go/windowpeer
// does it): a slice of counts from an offset index, positive values only here.
type sketch struct {
	offset int32
	counts []uint64
}

type sketchParams struct{ lnGamma, invLnGamma, alpha float64 }

func newSketchParams(alpha float64) sketchParams {
	lg := math.Log((1 + alpha) / (1 - alpha))
	return sketchParams{lnGamma: lg, invLnGamma: 1 / lg, alpha: alpha}
}

func (p *sketchParams) index(v float64) int32 { return int32(math.Ceil(math.Log(v) * p.invLnGamma)) }

func (s *sketch) add(p *sketchParams, v float64) {
	idx := p.index(v)
	if len(s.counts) == 0 {
		s.offset = idx
		s.counts = append(s.counts, 1)
		return
	}
	rel := int(idx - s.offset)
	switch {
	case rel < 0:
		grown := make([]uint64, len(s.counts)-rel)
		copy(grown[-rel:], s.counts)
		s.counts, s.offset, rel = grown, idx, 0
	case rel >= len(s.counts):
		for len(s.counts) <= rel {
			s.counts = append(s.counts, 0)
		}
	}
	s.counts[rel]++
}

func (s *sketch) quantile(p *sketchParams, q float64, n uint64) float64 {
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(q * float64(n-1))
	var seen uint64
	for j, c := range s.counts {
		seen += c
		if seen > rank {
			return 2 * math.Exp(float64(s.offset+int32(j))*p.lnGamma) / (1 + math.Exp(p.lnGamma))
		}
	}
	return math.NaN()
}

// series is the window state of one series in pure Go.
type series struct {
	start               int64 // window start
	count               uint64
	sum, min, max, last float64
	sketch              sketch
}

type goAggregator struct {
	width  int64
	params sketchParams
	m      map[uint64]*series
}

func (a *goAggregator) add(key uint64, ts int64, v float64) {
	s := a.m[key]
	start := ts - ts%a.width
	if s == nil {
		s = &series{start: start, min: math.Inf(1), max: math.Inf(-1)}
		a.m[key] = s
	} else if s.start != start {
		*s = series{start: start, min: math.Inf(1), max: math.Inf(-1), sketch: sketch{counts: s.sketch.counts[:0]}}
	}
	s.count++
	s.sum += v
	s.min = min(s.min, v)
	s.max = max(s.max, v)
	s.last = v
	s.sketch.add(&a.params, v)
}

// windowRow is one series in the snapshot, as a Go service would build it.
type windowRow struct {
	key      uint64
	count    uint64
	sum, p99 float64
}

func windowWorkload(o options) workload {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC).UnixNano()
	width := time.Minute
	n := o.series * o.perSeries
	// Both runs check the same totals: samples, series and the sum of every value.
	check := func(count uint64, rows int, sum float64) string {
		return fmt.Sprintf("%d samples in %d series, sum %.6g", count, rows, sum)
	}
	return workload{
		name:  "window",
		title: fmt.Sprintf("window: %d samples into %d series (1-minute tumbling window, p99 sketch), then a snapshot", n, o.series),
		unit:  "samples",
		pure: func() (result, error) {
			a := &goAggregator{width: int64(width), params: newSketchParams(windowAlpha), m: make(map[uint64]*series)}
			for j := range o.perSeries {
				for k := range uint64(o.series) {
					a.add(k, now+int64(j), windowValue(k, j))
				}
			}
			rows := make([]windowRow, 0, len(a.m))
			var count uint64
			var sum float64
			for k, s := range a.m {
				rows = append(rows, windowRow{key: k, count: s.count, sum: s.sum, p99: s.sketch.quantile(&a.params, 0.99, s.count)})
				count += s.count
				sum += s.sum
			}
			return result{amount: float64(n), check: check(count, len(rows), sum), release: func() { a.m = nil; rows = nil }}, nil
		},
		off: func() (result, error) {
			agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Tumbling, Width: width, Alpha: windowAlpha})
			if err != nil {
				return result{}, err
			}
			var b offheap.SampleBatch
			for j := range o.perSeries {
				for k := range uint64(o.series) {
					b.Add(k, now+int64(j), windowValue(k, j))
					if b.Len() == 1024 {
						if _, err := agg.Ingest(&b, now+int64(j)); err != nil {
							agg.Close()
							return result{}, err
						}
						b.Reset()
					}
				}
			}
			if b.Len() > 0 {
				if _, err := agg.Ingest(&b, now+int64(o.perSeries)); err != nil {
					agg.Close()
					return result{}, err
				}
			}
			snap, err := offheap.NewSnapshot()
			if err != nil {
				agg.Close()
				return result{}, err
			}
			release := func() { snap.Close(); agg.Close() }
			if err := agg.Snapshot(snap, now+int64(o.perSeries), offheap.SnapshotOptions{Quantiles: []float64{0.99}}); err != nil {
				release()
				return result{}, err
			}
			var count uint64
			var sum float64
			for _, c := range snap.UnsafeCounts() {
				count += c
			}
			for _, s := range snap.UnsafeSums() {
				sum += s
			}
			return result{amount: float64(n), check: check(count, snap.Len(), sum), release: release}, nil
		},
	}
}
