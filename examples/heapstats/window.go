package main

import (
	"fmt"
	"math"
	"sort"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// The window workload: a one-minute tumbling window per series with count, sum, min, max,
// last and quantiles from a sketch over the buckets of Prometheus native histograms (relative
// accuracy 1%: schema 6), over o.series series and o.perSeries samples each, then a snapshot
// of every series (p99 included).

const windowAlpha = 0.01

// value is the deterministic sample value of sample j of series k: positive, spread over
// a few decades so the sketches hold several buckets.
func windowValue(k uint64, j int) float64 {
	x := (k*0x9E3779B97F4A7C15 + uint64(j)*0xBF58476D1CE4E5B9) >> 40 // 24 bits
	return 1 + float64(x%100_000)/100
}

// sketch is the pure-Go quantile sketch (as benches/go/windowpeer does it): native histogram
// buckets indexed as client_golang does (math.Frexp and a search of the bounds), a slice of
// counts from an offset index, positive values only here.
type sketch struct {
	offset int32
	counts []uint64
}

// sketchParams hold the bucket bounds of the smallest schema whose relative error
// (base-1)/(base+1) is at most alpha.
type sketchParams struct {
	schema int
	bounds []float64 // 2^(k/2^schema - 1): the fractions of math.Frexp
	ratio  float64   // 2/(1+base)
}

func newSketchParams(alpha float64) sketchParams {
	schema := 0
	for ; schema < 12; schema++ {
		if base := math.Exp2(math.Exp2(-float64(schema))); (base-1)/(base+1) <= alpha {
			break
		}
	}
	bounds := make([]float64, 1<<schema)
	for k := range bounds {
		bounds[k] = math.Exp2(float64(k)/float64(len(bounds))) / 2
	}
	return sketchParams{schema: schema, bounds: bounds, ratio: 2 / (1 + math.Exp2(math.Exp2(-float64(schema))))}
}

func (p *sketchParams) index(v float64) int32 {
	frac, exp := math.Frexp(v)
	return int32(sort.SearchFloat64s(p.bounds, frac) + (exp-1)*len(p.bounds))
}

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
			i := s.offset + int32(j)
			e := i >> p.schema
			return math.Ldexp(2*p.bounds[i-e<<p.schema]*p.ratio, int(e))
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

// windowTargets are the window workload's goals: the Rust heap at most 1/5 of pure Go's heap
// in use, at most one Rust allocation per 100 samples, and twice pure Go's speed.
func windowTargets(samples float64) func(p, q phase) []target {
	return func(p, q phase) []target {
		heap := float64(p.report.Go.HeapInuse) / max(float64(q.report.Rust.LiveBytes), 1)
		allocs := float64(q.report.Rust.Allocations) / samples * 100
		speed := p.wall.Seconds() / max(q.wall.Seconds(), 1e-9)
		return []target{
			{name: "Rust heap (live) against pure Go's HeapInuse", measured: fmt.Sprintf("1/%.1f", heap),
				goal: "at most 1/5", met: heap >= 5},
			{name: "Rust allocations per 100 samples", measured: fmt.Sprintf("%.3f", allocs),
				goal: "at most 1", met: allocs <= 1},
			{name: "speed against pure Go (time of the phase)", measured: fmt.Sprintf("%.2fx faster", speed),
				goal: "at least 2x", met: speed >= 2},
		}
	}
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
		targets: windowTargets(float64(n)),
		name:    "window",
		title:   fmt.Sprintf("window: %d samples into %d series (1-minute tumbling window, p99 sketch), then a snapshot", n, o.series),
		unit:    "samples",
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
