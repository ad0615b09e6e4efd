package main

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"sync"

	offheap "github.com/offheap/offheap/go"
)

// The pure-Go engine (-engine go) aggregates the same samples the idiomatic way, in a Go map of
// structs, so that /debug/heap shows what the Go heap and GC carry when the windows live there:
// a sliding window per series made of slices, each with a count, a sum and a log-bucket
// quantile sketch of the same relative accuracy. It keeps offheap's accounting rules (late,
// future, invalid, the series cap with an overflow series) and exposition format.

// goBatch is the Go engine's batch: the parser's samples as Go columns.
type goBatch struct {
	keys   []byte
	ends   []int
	ts     []int64
	values []float64
}

func (b *goBatch) AddKey(key []byte, ts int64, value float64) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, len(b.keys))
	b.ts = append(b.ts, ts)
	b.values = append(b.values, value)
}

func (b *goBatch) reset() {
	b.keys, b.ends, b.ts, b.values = b.keys[:0], b.ends[:0], b.ts[:0], b.values[:0]
}

// goSketch counts values in log buckets of relative width alpha, by sign.
type goSketch struct {
	pos, neg goBuckets
	zero     uint64
}

type goBuckets struct {
	offset int
	counts []uint64
}

func (b *goBuckets) add(idx int, n uint64) {
	if len(b.counts) == 0 {
		b.offset = idx
	}
	if rel := idx - b.offset; rel < 0 {
		grown := make([]uint64, len(b.counts)-rel)
		copy(grown[-rel:], b.counts)
		b.counts, b.offset = grown, idx
	}
	for len(b.counts) <= idx-b.offset {
		b.counts = append(b.counts, 0)
	}
	b.counts[idx-b.offset] += n
}

func (s *goSketch) reset() {
	s.pos.counts, s.neg.counts, s.zero = s.pos.counts[:0], s.neg.counts[:0], 0
}

func (s *goSketch) merge(o *goSketch) {
	for i, c := range o.pos.counts {
		if c > 0 {
			s.pos.add(o.pos.offset+i, c)
		}
	}
	for i, c := range o.neg.counts {
		if c > 0 {
			s.neg.add(o.neg.offset+i, c)
		}
	}
	s.zero += o.zero
}

type goSlice struct {
	start  int64 // slice start (ns); a slot whose start is not the sample's slice is reset
	count  uint64
	sum    float64
	sketch goSketch
}

type goSeries struct{ slices []goSlice }

// goAggregator is a sliding-window aggregator in Go: a map from series key to series.
type goAggregator struct {
	mu        sync.Mutex
	width     int64
	slice     int64
	n         int
	skew      int64
	maxSeries int
	lnGamma   float64
	name      string
	quantiles []float64
	m         map[string]*goSeries
	overflow  *goSeries
	merged    goSketch // scratch for exposition
}

func newGoAggregator(cfg Config) *goAggregator {
	return &goAggregator{
		width: int64(cfg.Window), slice: int64(cfg.Window) / int64(cfg.Slices), n: cfg.Slices,
		skew: int64(cfg.MaxFutureSkew), maxSeries: cfg.MaxSeries, name: cfg.Name,
		lnGamma: math.Log((1 + cfg.Alpha) / (1 - cfg.Alpha)), quantiles: []float64{0.5, 0.9, 0.99},
		m: make(map[string]*goSeries),
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (a *goAggregator) ingest(b *goBatch, now int64) offheap.IngestAccounting {
	var acc offheap.IngestAccounting
	a.mu.Lock()
	defer a.mu.Unlock()
	nowSlice := floorDiv(now, a.slice)
	start := 0
	for i, end := range b.ends {
		key := b.keys[start:end]
		start = end
		ts, v := b.ts[i], b.values[i]
		tsSlice := floorDiv(ts, a.slice)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			acc.Invalid++
			continue
		case ts > now+a.skew:
			acc.Future++
			continue
		case tsSlice <= nowSlice-int64(a.n):
			acc.Late++
			continue
		}
		s := a.m[string(key)]
		if s == nil {
			if len(a.m) >= a.maxSeries {
				if a.overflow == nil {
					a.overflow = &goSeries{slices: make([]goSlice, a.n)}
				}
				s = a.overflow
				acc.Overflowed++
			} else {
				s = &goSeries{slices: make([]goSlice, a.n)}
				a.m[string(key)] = s
			}
		}
		sl := &s.slices[int(((tsSlice%int64(a.n))+int64(a.n))%int64(a.n))]
		switch {
		case sl.start > tsSlice*a.slice && sl.count > 0:
			acc.Late++ // the slot already holds a later slice
			if s == a.overflow {
				acc.Overflowed--
			}
			continue
		case sl.start != tsSlice*a.slice || sl.count == 0:
			sl.start, sl.count, sl.sum = tsSlice*a.slice, 0, 0
			sl.sketch.reset()
		}
		sl.count++
		sl.sum += v
		switch {
		case v > 0:
			sl.sketch.pos.add(int(math.Ceil(math.Log(v)/a.lnGamma)), 1)
		case v < 0:
			sl.sketch.neg.add(int(math.Ceil(math.Log(-v)/a.lnGamma)), 1)
		default:
			sl.sketch.zero++
		}
		if s != a.overflow {
			acc.Accepted++
		}
	}
	return acc
}

func (a *goAggregator) value(idx int) float64 {
	return 2 * math.Exp(float64(idx)*a.lnGamma) / (1 + math.Exp(a.lnGamma))
}

// quantile of the merged sketch (n values): the value of rank q*(n-1), negatives first.
func (a *goAggregator) quantile(q float64, n uint64) float64 {
	s := &a.merged
	rank := uint64(q * float64(n-1))
	var seen uint64
	for i := len(s.neg.counts) - 1; i >= 0; i-- {
		if seen += s.neg.counts[i]; seen > rank {
			return -a.value(s.neg.offset + i)
		}
	}
	if seen += s.zero; seen > rank {
		return 0
	}
	for i, c := range s.pos.counts {
		if seen += c; seen > rank {
			return a.value(s.pos.offset + i)
		}
	}
	return math.NaN()
}

func appendExpoFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return append(strconv.AppendFloat(b, v, 'f', 0, 64), ".0"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// writePrometheus writes the same exposition as offheap's: one summary per series.
func (a *goAggregator) writePrometheus(w io.Writer, now int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("# HELP " + a.name + " Samples ingested over the sliding window, per series.\n# TYPE " + a.name + " summary\n")
	oldest := (floorDiv(now, a.slice) - int64(a.n) + 1) * a.slice
	var line []byte
	row := func(labels string, s *goSeries) {
		a.merged.reset()
		var count uint64
		var sum float64
		for i := range s.slices {
			sl := &s.slices[i]
			if sl.count > 0 && sl.start >= oldest && sl.start <= now+a.skew {
				count += sl.count
				sum += sl.sum
				a.merged.merge(&sl.sketch)
			}
		}
		if count == 0 {
			return
		}
		for _, q := range a.quantiles {
			line = append(line[:0], a.name...)
			line = append(line, '{')
			line = append(line, labels...)
			line = append(line, `,quantile="`...)
			line = strconv.AppendFloat(line, q, 'g', -1, 64)
			line = append(line, `"} `...)
			line = appendExpoFloat(line, a.quantile(q, count))
			bw.Write(append(line, '\n'))
		}
		line = append(append(append(line[:0], a.name...), "_sum{"...), labels...)
		line = appendExpoFloat(append(line, "} "...), sum)
		bw.Write(append(line, '\n'))
		line = append(append(append(line[:0], a.name...), "_count{"...), labels...)
		line = strconv.AppendUint(append(line, "} "...), count, 10)
		bw.Write(append(line, '\n'))
	}
	for k, s := range a.m {
		row(k, s)
	}
	if a.overflow != nil {
		row(`otel_metric_overflow="true"`, a.overflow)
	}
	return bw.Flush()
}

func (a *goAggregator) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}
