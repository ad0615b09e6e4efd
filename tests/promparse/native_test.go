package promparse

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
	dto "github.com/prometheus/client_model/go"
)

// native is a native histogram as Prometheus holds it after a scrape: absolute counts by
// bucket index.
type native struct {
	schema   int32
	zero     uint64
	pos, neg map[int32]uint64
	count    uint64
	sum      float64
}

// readNative expands the spans and deltas of a decoded native histogram.
func readNative(t testing.TB, h *dto.Histogram) native {
	t.Helper()
	n := native{schema: h.GetSchema(), zero: h.GetZeroCount(), pos: map[int32]uint64{}, neg: map[int32]uint64{},
		count: h.GetSampleCount(), sum: h.GetSampleSum()}
	expand := func(spans []*dto.BucketSpan, deltas []int64, into map[int32]uint64) {
		var idx int32
		var count int64
		k := 0
		for si, s := range spans {
			if si == 0 {
				idx = s.GetOffset()
			} else {
				idx += s.GetOffset()
			}
			for range s.GetLength() {
				if k >= len(deltas) {
					t.Fatalf("spans cover more buckets than the %d deltas", len(deltas))
				}
				count += deltas[k]
				k++
				if count <= 0 {
					t.Fatalf("bucket %d has count %d", idx, count)
				}
				into[idx] = uint64(count)
				idx++
			}
		}
		if k != len(deltas) {
			t.Fatalf("%d deltas for %d buckets", len(deltas), k)
		}
	}
	expand(h.GetPositiveSpan(), h.GetPositiveDelta(), n.pos)
	expand(h.GetNegativeSpan(), h.GetNegativeDelta(), n.neg)
	total := n.zero
	for _, c := range n.pos {
		total += c
	}
	for _, c := range n.neg {
		total += c
	}
	if total != n.count {
		t.Fatalf("buckets hold %d observations, sample_count is %d", total, n.count)
	}
	return n
}

// add adds o as Prometheus adds two native histograms of one schema: bucket by bucket.
func (n *native) add(t testing.TB, o native) {
	if n.schema != o.schema {
		t.Fatalf("schemas %d and %d", n.schema, o.schema)
	}
	n.zero += o.zero
	n.count += o.count
	n.sum += o.sum
	for i, c := range o.pos {
		n.pos[i] += c
	}
	for i, c := range o.neg {
		n.neg[i] += c
	}
}

// quantile is the rank-floor(q(n-1)) value estimated from the buckets: the bucket that holds
// the rank answers with 2LU/(L+U) for its bounds (L, U] (negative buckets mirrored), within
// (base-1)/(base+1) of every value in it.
func (n *native) quantile(q float64) float64 {
	rank := uint64(q * float64(n.count-1))
	base := math.Exp2(math.Exp2(-float64(n.schema)))
	rep := func(i int32) float64 {
		u := math.Pow(base, float64(i))
		l := u / base
		return 2 * l * u / (l + u)
	}
	var seen uint64
	negs := slices.Sorted(func(yield func(int32) bool) {
		for i := range n.neg {
			if !yield(i) {
				return
			}
		}
	})
	for k := len(negs) - 1; k >= 0; k-- {
		if seen += n.neg[negs[k]]; seen > rank {
			return -rep(negs[k])
		}
	}
	if seen += n.zero; seen > rank {
		return 0
	}
	poss := slices.Sorted(func(yield func(int32) bool) {
		for i := range n.pos {
			if !yield(i) {
				return
			}
		}
	})
	for _, i := range poss {
		if seen += n.pos[i]; seen > rank {
			return rep(i)
		}
	}
	return math.NaN()
}

// scrapeNative takes the one native histogram series of agg, in protobuf.
func scrapeNative(t testing.TB, agg *offheap.Aggregator, now int64) native {
	t.Helper()
	_, body := scrape(t, agg.Handler(offheap.HandlerOptions{Now: func() int64 { return now }}), formats[2].accept, false)
	mfs := mustDecode(t, body, formats[2])
	if len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("%d families", len(mfs))
	}
	return readNative(t, mfs[0].GetMetric()[0].GetHistogram())
}

// TestCrossInstanceMergeOfNativeHistograms: two aggregators get disjoint halves of one
// stream; their native histograms, scraped in protobuf and added bucket by bucket as
// Prometheus adds them, equal the histogram of one aggregator fed the whole stream, and their
// quantiles are within α of exact sorting, for uniform, lognormal, bimodal (both signs) and
// constant data at α = 0.01 (schema 6) and α = 0.05 (schema 4).
func TestCrossInstanceMergeOfNativeHistograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	data := map[string]func() float64{
		"uniform":   func() float64 { return 1 + 999*rng.Float64() },
		"lognormal": func() float64 { return math.Exp(rng.NormFloat64()*2 + 1) },
		"bimodal": func() float64 {
			if rng.IntN(3) == 0 {
				return -50 + 5*rng.NormFloat64()
			}
			return 2000 + 100*rng.NormFloat64()
		},
		"constant": func() float64 { return 42.5 },
	}
	for _, alpha := range []float64{0.01, 0.05} {
		for name, gen := range data {
			t.Run(fmt.Sprintf("%s/alpha=%v", name, alpha), func(t *testing.T) {
				aggs := make([]*offheap.Aggregator, 3) // halves a and b, and the whole
				for i := range aggs {
					a, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, Alpha: alpha,
						MaxBuckets: 1 << 16, MetricType: offheap.Histogram, Name: "latency"})
					if err != nil {
						t.Fatal(err)
					}
					defer a.Close()
					aggs[i] = a
				}
				values := make([]float64, 100_000)
				var half [2]offheap.SampleBatch
				var whole offheap.SampleBatch
				for i := range values {
					values[i] = gen()
					half[i%2].Add(1, sec, values[i])
					whole.Add(1, sec, values[i])
				}
				for i, b := range []*offheap.SampleBatch{&half[0], &half[1], &whole} {
					if acc, err := aggs[i].Ingest(b, sec); err != nil || acc.Accepted != uint64(b.Len()) {
						t.Fatal(acc, err)
					}
				}
				merged := scrapeNative(t, aggs[0], sec)
				merged.add(t, scrapeNative(t, aggs[1], sec))
				one := scrapeNative(t, aggs[2], sec)
				if merged.count != one.count || merged.zero != one.zero || !mapsEqual(merged.pos, one.pos) ||
					!mapsEqual(merged.neg, one.neg) {
					t.Fatalf("the sum of the halves differs from the whole: %d/%d observations", merged.count, one.count)
				}
				slices.Sort(values)
				for _, q := range []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1} {
					exact := values[int(q*float64(len(values)-1))]
					est := merged.quantile(q)
					if math.Abs(est-exact) > alpha*math.Abs(exact)*(1+1e-9) {
						t.Errorf("q=%v: %v from the merged histogram, exact %v (relative error %.4f > %v)",
							q, est, exact, math.Abs(est-exact)/math.Abs(exact), alpha)
					}
				}
			})
		}
	}
}

func mapsEqual(a, b map[int32]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCountAndSumNeverDecreaseAcross100Rotations: a sliding window of 60 s in 6 slices turns
// over 100 times (with empty windows between); after each turn the summary's _count and
// _sum, read by expfmt from every format, are the series' lifetime totals: they never
// decrease, so Prometheus' rate() sees no counter reset.
func TestCountAndSumNeverDecreaseAcross100Rotations(t *testing.T) {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Sliding, Width: time.Minute, Slices: 6,
		KeyFormat: offheap.KeySeries})
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	if err := agg.SetFamily("requests_total", offheap.Counter, ""); err != nil {
		t.Fatal(err)
	}
	var count uint64
	var sum float64
	last := map[string][2]float64{}
	for r := range 100 {
		now := int64(r+1) * int64(time.Minute)
		var b offheap.SampleBatch
		if r%5 != 3 { // every fifth window stays empty
			for k := range 1 + r%7 {
				v := float64(k+1) * 0.25
				b.AddString(`latency_seconds{route="/a"}`, now, v)
				b.AddString(`requests_total{route="/a"}`, now, 1)
				count++
				sum += v
			}
			if _, err := agg.Ingest(&b, now); err != nil {
				t.Fatal(err)
			}
		}
		h := agg.Handler(offheap.HandlerOptions{Now: func() int64 { return now }})
		for _, f := range formats {
			_, body := scrape(t, h, f.accept, false)
			mfs := mustDecode(t, body, f)
			s := family(mfs, "latency_seconds").GetMetric()[0].GetSummary()
			c := family(mfs, "requests_total").GetMetric()[0].GetCounter().GetValue()
			if s.GetSampleCount() != count || s.GetSampleSum() != sum || c != float64(count) {
				t.Fatalf("rotation %d, %s: _count %d _sum %v counter %v, want %d %v %d", r, f.name,
					s.GetSampleCount(), s.GetSampleSum(), c, count, sum, count)
			}
			prev := last[f.name]
			if float64(s.GetSampleCount()) < prev[0] || s.GetSampleSum() < prev[1] {
				t.Fatalf("rotation %d, %s: decreased from %v", r, f.name, prev)
			}
			last[f.name] = [2]float64{float64(s.GetSampleCount()), s.GetSampleSum()}
		}
	}
}
