// Package windowpeer is the pure-Go equivalent of offheap's windowed aggregator, written the
// way a Go service would: a map from key to a series struct, a ring of slice structs per
// series, and a quantile sketch (relative accuracy α) over the buckets of Prometheus native
// histograms, indexed as client_golang does it (math.Frexp and a search of the bucket bounds),
// its counts in a slice.
// It has the same semantics as offheap's for the benchmarked paths (sliding/tumbling windows,
// count/sum/min/max/last/mean/stddev/increase, quantiles with the same bucket mapping, series
// cap with an overflow series), so the benchmarks compare like with like.
package windowpeer

import (
	"bufio"
	"io"
	"math"
	"sort"
	"strconv"
	"sync"
)

// Sketch is a log-bucket quantile sketch over positive, negative and zero values.
type Sketch struct {
	zero     uint64
	pos, neg store
}

type store struct {
	offset int32
	counts []uint64
}

// Params are shared by the sketches of one aggregator.
type Params struct {
	schema     int
	bounds     []float64 // 2^(k/2^schema - 1) for k in 0..2^schema: the fractions of math.Frexp
	ratio      float64   // 2/(1+base): a bucket's value is its upper bound times this
	maxBuckets int
}

// zeroThreshold is offheap's: magnitudes up to it count in the zero bucket.
const zeroThreshold = 0x1p-1022

// NewParams returns sketch parameters for relative accuracy alpha: the smallest exponential
// schema (base 2^(2^-schema)) whose relative error (base-1)/(base+1) is at most alpha.
func NewParams(alpha float64, maxBuckets int) Params {
	schema := 0
	for ; schema < 12; schema++ {
		base := math.Exp2(math.Exp2(-float64(schema)))
		if (base-1)/(base+1) <= alpha*(1-1e-9) {
			break
		}
	}
	n := 1 << schema
	bounds := make([]float64, n)
	for k := range bounds {
		bounds[k] = math.Exp2(float64(k)/float64(n)) / 2
	}
	base := math.Exp2(math.Exp2(-float64(schema)))
	return Params{schema: schema, bounds: bounds, ratio: 2 / (1 + base), maxBuckets: maxBuckets}
}

// index is client_golang's native histogram key of a positive v.
func (p *Params) index(v float64) int32 {
	frac, exp := math.Frexp(v)
	return int32(sort.SearchFloat64s(p.bounds, frac) + (exp-1)*len(p.bounds))
}

func (p *Params) value(i int32) float64 {
	n := int32(len(p.bounds))
	e := i >> p.schema
	k := i - e*n
	return math.Ldexp(2*p.bounds[k]*p.ratio, int(e))
}

func (s *store) add(idx int32, w uint64, max int) {
	if len(s.counts) == 0 {
		s.offset = idx
		s.counts = append(s.counts, w)
		return
	}
	rel := int(idx) - int(s.offset)
	switch {
	case rel >= 0 && rel < len(s.counts):
		s.counts[rel] += w
	case rel >= len(s.counts):
		newLen := rel + 1
		if newLen <= max {
			for len(s.counts) < newLen {
				s.counts = append(s.counts, 0)
			}
		} else {
			newLow := idx - int32(max-1)
			shift := int(newLow - s.offset)
			var collapsed uint64
			if shift >= len(s.counts) {
				for _, c := range s.counts {
					collapsed += c
				}
				s.counts = s.counts[:0]
			} else {
				for _, c := range s.counts[:shift+1] {
					collapsed += c
				}
				s.counts = append(s.counts[:0], s.counts[shift:]...)
			}
			for len(s.counts) < max {
				s.counts = append(s.counts, 0)
			}
			s.counts[0] += collapsed
			s.offset = newLow
		}
		s.counts[len(s.counts)-1] += w
	default:
		high := int(s.offset) + len(s.counts) - 1
		wantLow := high - max + 1
		if int(idx) > wantLow {
			wantLow = int(idx)
		}
		if pad := int(s.offset) - wantLow; pad > 0 {
			grown := make([]uint64, pad+len(s.counts))
			copy(grown[pad:], s.counts)
			s.counts = grown
			s.offset = int32(wantLow)
		}
		s.counts[0] += w
	}
}

// Add adds v with weight w.
func (s *Sketch) Add(p *Params, v float64, w uint64) {
	switch {
	case v > zeroThreshold:
		s.pos.add(p.index(v), w, p.maxBuckets)
	case v < -zeroThreshold:
		s.neg.add(p.index(-v), w, p.maxBuckets)
	default:
		s.zero += w
	}
}

// Merge adds o into s.
func (s *Sketch) Merge(p *Params, o *Sketch) {
	s.zero += o.zero
	for j, c := range o.pos.counts {
		if c != 0 {
			s.pos.add(o.pos.offset+int32(j), c, p.maxBuckets)
		}
	}
	for j, c := range o.neg.counts {
		if c != 0 {
			s.neg.add(o.neg.offset+int32(j), c, p.maxBuckets)
		}
	}
}

func (s *Sketch) reset() { s.zero, s.pos.counts, s.neg.counts = 0, s.pos.counts[:0], s.neg.counts[:0] }

// Quantile returns the estimate of the rank-floor(q·(n-1)) value.
func (s *Sketch) Quantile(p *Params, q float64, n uint64) float64 {
	rank := uint64(q * float64(n-1))
	var seen uint64
	for j := len(s.neg.counts) - 1; j >= 0; j-- {
		if seen += s.neg.counts[j]; seen > rank {
			return -p.value(s.neg.offset + int32(j))
		}
	}
	if seen += s.zero; seen > rank {
		return 0
	}
	for j, c := range s.pos.counts {
		if seen += c; seen > rank {
			return p.value(s.pos.offset + int32(j))
		}
	}
	return math.NaN()
}

type slice struct {
	epoch                                     int64
	count                                     uint64
	sum, mean, m2, min, max, first, last, inc float64
	firstTS, lastTS                           int64
	sketch                                    *Sketch
}

func counterDelta(prev, cur float64) float64 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}

func (s *slice) record(p *Params, ts int64, v float64, sketch bool) {
	if s.count == 0 {
		s.count, s.sum, s.mean, s.m2, s.min, s.max = 1, v, v, 0, v, v
		s.first, s.last, s.firstTS, s.lastTS, s.inc = v, v, ts, ts, 0
	} else {
		s.count++
		s.sum += v
		d := v - s.mean
		s.mean += d / float64(s.count)
		s.m2 += d * (v - s.mean)
		s.min = math.Min(s.min, v)
		s.max = math.Max(s.max, v)
		if ts >= s.lastTS {
			s.inc += counterDelta(s.last, v)
			s.last, s.lastTS = v, ts
		}
		if ts < s.firstTS {
			s.first, s.firstTS = v, ts
		}
	}
	if sketch {
		if s.sketch == nil {
			s.sketch = &Sketch{}
		}
		s.sketch.Add(p, v, 1)
	}
}

func (s *slice) merge(p *Params, o *slice) {
	if o.count == 0 {
		return
	}
	if s.count == 0 {
		sk := s.sketch
		*s = *o
		s.sketch = sk
		if s.sketch != nil {
			s.sketch.reset()
		}
	} else {
		na, nb := float64(s.count), float64(o.count)
		d := o.mean - s.mean
		s.mean += d * nb / (na + nb)
		s.m2 += o.m2 + d*d*na*nb/(na+nb)
		s.count += o.count
		s.sum += o.sum
		s.min, s.max = math.Min(s.min, o.min), math.Max(s.max, o.max)
		if o.firstTS >= s.lastTS {
			s.inc += o.inc + counterDelta(s.last, o.first)
		} else {
			s.inc += o.inc
		}
		if o.lastTS >= s.lastTS {
			s.last, s.lastTS = o.last, o.lastTS
		}
		if o.firstTS < s.firstTS {
			s.first, s.firstTS = o.first, o.firstTS
		}
	}
	if o.sketch != nil {
		if s.sketch == nil {
			s.sketch = &Sketch{}
		}
		s.sketch.Merge(p, o.sketch)
	}
}

type series struct {
	key    uint64
	ring   []slice
	lastTS int64
}

// Aggregator is the pure-Go windowed aggregator.
type Aggregator struct {
	mu         sync.Mutex
	series     map[uint64]*series
	overflow   *series
	params     Params
	sliceWidth int64
	slices     int
	maxSeries  int
	sketch     bool
	name       string
	acc        slice
}

// New makes an aggregator of sliding windows (tumbling when slices is 1).
func New(width int64, slices int, alpha float64, maxSeries int, sketch bool) *Aggregator {
	return &Aggregator{
		series:     make(map[uint64]*series),
		overflow:   &series{ring: make([]slice, slices)},
		params:     NewParams(alpha, 2048),
		sliceWidth: width / int64(slices),
		slices:     slices,
		maxSeries:  maxSeries,
		sketch:     sketch,
		name:       "offheap_window",
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Ingest records samples keyed by uint64 keys at now; returns accepted and dropped counts.
func (a *Aggregator) Ingest(keys []uint64, ts []int64, values []float64, now int64) (accepted, dropped int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	nowEpoch := floorDiv(now, a.sliceWidth)
	oldest := nowEpoch - int64(a.slices) + 1
	for i, k := range keys {
		v, t := values[i], ts[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || t > now {
			dropped++
			continue
		}
		e := floorDiv(t, a.sliceWidth)
		if e < oldest {
			dropped++
			continue
		}
		s := a.series[k]
		if s == nil {
			if len(a.series) >= a.maxSeries {
				s = a.overflow
			} else {
				s = &series{key: k, ring: make([]slice, a.slices)}
				a.series[k] = s
			}
		}
		sl := &s.ring[int(((e%int64(a.slices))+int64(a.slices))%int64(a.slices))]
		if sl.epoch < e || sl.count == 0 {
			sk := sl.sketch
			*sl = slice{epoch: e, sketch: sk}
			if sk != nil {
				sk.reset()
			}
		} else if sl.epoch > e {
			dropped++
			continue
		}
		sl.record(&a.params, t, v, a.sketch)
		if t > s.lastTS {
			s.lastTS = t
		}
		accepted++
	}
	return accepted, dropped
}

// Row is one series of a snapshot.
type Row struct {
	Key                                               uint64
	Count                                             uint64
	Sum, Min, Max, Last, Mean, Stddev, Increase, Rate float64
	Quantiles                                         [16]float64
}

// Snapshot appends one row per series (window at now) to rows[:0] and returns it; at most 4
// quantiles.
func (a *Aggregator) Snapshot(rows []Row, now int64, quantiles []float64) []Row {
	a.mu.Lock()
	defer a.mu.Unlock()
	rows = rows[:0]
	nowEpoch := floorDiv(now, a.sliceWidth)
	widthSecs := float64(a.sliceWidth*int64(a.slices)) / 1e9
	for _, s := range a.series {
		acc := &a.acc
		sk := acc.sketch
		*acc = slice{sketch: sk}
		if sk != nil {
			sk.reset()
		}
		for e := nowEpoch - int64(a.slices) + 1; e <= nowEpoch; e++ {
			sl := &s.ring[int(((e%int64(a.slices))+int64(a.slices))%int64(a.slices))]
			if sl.epoch == e {
				acc.merge(&a.params, sl)
			}
		}
		r := Row{Key: s.key, Count: acc.count, Sum: acc.sum, Min: acc.min, Max: acc.max, Last: acc.last,
			Mean: acc.mean, Increase: acc.inc, Rate: acc.inc / widthSecs}
		if acc.count > 0 {
			r.Stddev = math.Sqrt(acc.m2 / float64(acc.count))
		}
		for j, q := range quantiles {
			if acc.sketch != nil && acc.count > 0 {
				r.Quantiles[j] = math.Max(acc.min, math.Min(acc.max, acc.sketch.Quantile(&a.params, q, acc.count)))
			} else {
				r.Quantiles[j] = math.NaN()
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// Len returns the number of series.
func (a *Aggregator) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.series)
}

// WritePrometheus writes the summaries of rows to w, as offheap does, through a bufio.Writer
// and strconv appends into a reused buffer.
func (a *Aggregator) WritePrometheus(w io.Writer, rows []Row, quantiles []float64, buf []byte) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var total int64
	line := buf[:0]
	line = append(line, "# TYPE "...)
	line = append(line, a.name...)
	line = append(line, " summary\n"...)
	for i := range rows {
		r := &rows[i]
		for j, q := range quantiles {
			line = append(line, a.name...)
			line = append(line, `{key="`...)
			line = strconv.AppendUint(line, r.Key, 10)
			line = append(line, `",quantile="`...)
			line = strconv.AppendFloat(line, q, 'g', -1, 64)
			line = append(line, `"} `...)
			line = strconv.AppendFloat(line, r.Quantiles[j], 'g', -1, 64)
			line = append(line, '\n')
		}
		line = append(line, a.name...)
		line = append(line, `_sum{key="`...)
		line = strconv.AppendUint(line, r.Key, 10)
		line = append(line, `"} `...)
		line = strconv.AppendFloat(line, r.Sum, 'g', -1, 64)
		line = append(line, '\n')
		line = append(line, a.name...)
		line = append(line, `_count{key="`...)
		line = strconv.AppendUint(line, r.Key, 10)
		line = append(line, `"} `...)
		line = strconv.AppendUint(line, r.Count, 10)
		line = append(line, '\n')
		n, err := bw.Write(line)
		total += int64(n)
		if err != nil {
			return total, err
		}
		line = line[:0]
	}
	return total, bw.Flush()
}
