package benches

import (
	"fmt"
	"testing"

	offheap "github.com/offheap/offheap/go"
	"github.com/prometheus/client_golang/prometheus"
)

// observeRoutes is the number of labelled series the Observe benchmarks spread over.
const observeRoutes = 1000

var routes = func() []string {
	r := make([]string, observeRoutes)
	for i := range r {
		r[i] = fmt.Sprintf("/api/v1/item/%d", i)
	}
	return r
}()

// observeValue is a latency-like value in seconds for step i: 1 ms to 1.05 s, about 640
// buckets of each series' native histogram.
func observeValue(i uint64) float64 {
	return 0.001 + float64((i*0x9E3779B97F4A7C15)>>44)/1e6
}

// observeNarrow is a latency within 10% of 100 ms for step i: about 10 buckets per series,
// all in cache on every side.
func observeNarrow(i uint64) float64 {
	return 0.1 + float64((i*0x9E3779B97F4A7C15)>>44)/1e8
}

// values is a distribution of the Observe benchmarks: the value of step i, and the range
// [lo, hi) it covers.
type values struct {
	of     func(i uint64) float64
	lo, hi float64
}

var (
	wideValues   = values{observeValue, 0.001, 1.06}
	narrowValues = values{observeNarrow, 0.1, 0.111}
)

// warmUp observes a value in every bucket (0.5% apart) of the range of vs for every route, so
// that every side starts the timed loop with the buckets it needs already made (client_golang
// makes a native histogram's buckets on first use).
func warmUp(vs values, observe func(route int, v float64)) {
	for r := range observeRoutes {
		for v := vs.lo; v < vs.hi; v *= 1.005 {
			observe(r, v)
		}
	}
}

// newRecorderForBench makes an aggregator (cumulative, labelled keys, the sketch on) and its
// Recorder with one label, route.
func newRecorderForBench(b *testing.B) (*offheap.Aggregator, *offheap.Recorder) {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, KeyFormat: offheap.KeyLabels,
		Name: "http_request_duration_seconds"})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := offheap.NewRecorder(agg, offheap.RecorderConfig{Labels: []string{"route"}})
	if err != nil {
		b.Fatal(err)
	}
	return agg, rec
}

// checkRecorded closes the Recorder and checks that every observation was recorded.
func checkRecorded(b *testing.B, agg *offheap.Aggregator, rec *offheap.Recorder) {
	rec.Close()
	st := rec.Stats()
	if st.Observed == 0 || st.Accepted != st.Observed {
		b.Fatalf("%+v", st)
	}
	agg.Close()
}

func nativeHistogramVec() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", NativeHistogramBucketFactor: 1.01,
	}, []string{"route"})
}

// BenchmarkObserve: one observation of a request's latency into one of 1,000 labelled series,
// from 1 goroutine and from 2 (RunParallel, GOMAXPROCS 2), amortized with the flushes that
// hand the buffered samples to Rust: offheap's Recorder through cached series handles and
// with the labels looked up on every call, beside client_golang v1.25 (a native histogram,
// bucket factor 1.01, through cached Observers and through WithLabelValues, and a summary).
func BenchmarkObserve(b *testing.B) {
	// Both report, beside the wall time, the CPU time of the whole process per observation
	// (cpu-ns/op): for the Recorder its flushes too, which run on another goroutine, and
	// settle (a final Flush) hands the rest of the buffered observations to the aggregator.
	cpuPerOp := func(b *testing.B, cpu0 float64, settle func()) {
		if settle != nil {
			settle()
		}
		b.ReportMetric((cpuTime()-cpu0)*1e9/float64(b.N), "cpu-ns/op")
	}
	par := func(b *testing.B, observe func(i uint64), settle func()) {
		b.ReportAllocs()
		// The warm-up is not timed (b.Loop resets the timer in seq; RunParallel does not).
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			i := uint64(0)
			for pb.Next() {
				observe(i)
				i++
			}
		})
		cpuPerOp(b, cpu0, settle)
	}
	seq := func(b *testing.B, observe func(i uint64), settle func()) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		i := uint64(0)
		for b.Loop() {
			observe(i)
			i++
		}
		cpuPerOp(b, cpu0, settle)
	}
	// The bound of the Recorder: every observation is ingested in Rust once, in id-keyed
	// batches of 1024 over the 1,000 series (the Recorder's flushes), per sample.
	boundIngest := func(b *testing.B, vs values) {
		agg, rec := newRecorderForBench(b)
		var batch offheap.SampleBatch
		ids := make([]offheap.SeriesID, observeRoutes)
		for i := range ids {
			id, err := agg.ResolveKey([]byte(`route="` + routes[i] + `"`))
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		for i := range uint64(1024) {
			batch.AddID(ids[(i*7919)%observeRoutes], 1, vs.of(i))
		}
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			if acc, err := agg.Ingest(&batch, 2); err != nil || acc.Accepted != 1024 {
				b.Fatalf("%+v %v", acc, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1024), "ns/sample")
		b.ReportMetric((cpuTime()-cpu0)*1e9/float64(b.N*1024), "cpu-ns/sample")
		rec.Close()
		agg.Close()
	}
	handle := func(b *testing.B, run func(*testing.B, func(uint64), func()), vs values) {
		agg, rec := newRecorderForBench(b)
		handles := make([]*offheap.Series, observeRoutes)
		for i := range handles {
			handles[i] = rec.WithLabelValues(routes[i])
		}
		warmUp(vs, func(r int, v float64) { handles[r].Observe(v) })
		rec.Flush()
		run(b, func(i uint64) { handles[i%observeRoutes].Observe(vs.of(i)) }, rec.Flush)
		checkRecorded(b, agg, rec)
	}
	nativeCached := func(b *testing.B, run func(*testing.B, func(uint64), func()), vs values) {
		h := nativeHistogramVec()
		obs := make([]prometheus.Observer, observeRoutes)
		for i := range obs {
			obs[i] = h.WithLabelValues(routes[i])
		}
		warmUp(vs, func(r int, v float64) { obs[r].Observe(v) })
		run(b, func(i uint64) { obs[i%observeRoutes].Observe(vs.of(i)) }, nil)
	}
	b.Run("bound_ingest_ids", func(b *testing.B) { boundIngest(b, wideValues) })
	for _, mode := range []struct {
		suffix string
		run    func(*testing.B, func(uint64), func())
	}{{"", seq}, {"_2g", par}} {
		b.Run("offheap_handle"+mode.suffix, func(b *testing.B) { handle(b, mode.run, wideValues) })
		b.Run("offheap_labels"+mode.suffix, func(b *testing.B) {
			agg, rec := newRecorderForBench(b)
			warmUp(wideValues, func(r int, v float64) { rec.WithLabelValues(routes[r]).Observe(v) })
			rec.Flush()
			mode.run(b, func(i uint64) { rec.WithLabelValues(routes[i%observeRoutes]).Observe(observeValue(i)) }, rec.Flush)
			checkRecorded(b, agg, rec)
		})
		b.Run("native_cached"+mode.suffix, func(b *testing.B) { nativeCached(b, mode.run, wideValues) })
		b.Run("native_labels"+mode.suffix, func(b *testing.B) {
			h := nativeHistogramVec()
			warmUp(wideValues, func(r int, v float64) { h.WithLabelValues(routes[r]).Observe(v) })
			mode.run(b, func(i uint64) { h.WithLabelValues(routes[i%observeRoutes]).Observe(observeValue(i)) }, nil)
		})
		b.Run("summary_labels"+mode.suffix, func(b *testing.B) {
			s := prometheus.NewSummaryVec(prometheus.SummaryOpts{
				Name:       "http_request_duration_seconds",
				Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
			}, []string{"route"})
			warmUp(wideValues, func(r int, v float64) { s.WithLabelValues(routes[r]).Observe(v) })
			mode.run(b, func(i uint64) { s.WithLabelValues(routes[i%observeRoutes]).Observe(observeValue(i)) }, nil)
		})
	}
	// Latencies within 10%: a few buckets per series, where client_golang's native histogram
	// is at its fastest (its buckets in cache).
	b.Run("bound_ingest_ids_narrow", func(b *testing.B) { boundIngest(b, narrowValues) })
	b.Run("offheap_handle_narrow", func(b *testing.B) { handle(b, seq, narrowValues) })
	b.Run("native_cached_narrow", func(b *testing.B) { nativeCached(b, seq, narrowValues) })
}
