package benches

import (
	"strconv"
	"testing"

	offheap "github.com/offheap/offheap/go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// expoValue is sample j of series k: latency-like, 4 per series over a few buckets.
func expoValue(k, j int) float64 { return 0.001 * float64(1+(k*7+j*13)%2000) }

var (
	expoOffheap  fixture[*offheap.Aggregator]
	expoRegistry fixture[*prometheus.Registry]
)

// expoOffheapAgg builds, once, an aggregator of 1M series of 4 samples typed as native
// histograms (cumulative, α = 0.01: schema 6).
func expoOffheapAgg(b *testing.B) *offheap.Aggregator {
	return expoOffheap.get(b, func() (*offheap.Aggregator, error) {
		return filledAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, MaxSeries: 2 * heldSeries,
			MetricType: offheap.Histogram, Name: "latency_seconds", Help: "Request latency."}, 4, expoValue)
	})
}

// expoClientRegistry builds, once, a client_golang registry holding the same series: a
// HistogramVec of native histograms only (bucket factor 1.011: schema 6), one child per key.
func expoClientRegistry(b *testing.B) *prometheus.Registry {
	return expoRegistry.get(b, func() (*prometheus.Registry, error) {
		reg := prometheus.NewRegistry()
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latency_seconds", Help: "Request latency.",
			NativeHistogramBucketFactor: 1.011, NativeHistogramMaxBucketNumber: 2048}, []string{"key"})
		reg.MustRegister(h)
		for k := range heldSeries {
			o := h.WithLabelValues(strconv.Itoa(k))
			for j := range 4 {
				o.Observe(expoValue(k, j))
			}
		}
		return reg, nil
	})
}

// BenchmarkExpositionNative1M: 1M series of 4 samples exposed as native histograms in the
// Prometheus protobuf format: offheap (snapshot with buckets, rendered in Rust, written to a
// discarding io.Writer) beside client_golang's registry gathering the same series as native
// histograms and encoding them as promhttp does. The metric is ns/series.
func BenchmarkExpositionNative1M(b *testing.B) {
	b.Run("offheap", func(b *testing.B) { benchExposition(b, offheap.FormatProtobuf, 20) })
	b.Run("client_golang", func(b *testing.B) {
		reg := expoClientRegistry(b)
		// Its 1M series hold ~2 GiB of Go heap: let go of them, so the benchmarks after this
		// one (WindowHeld1M measures the process's Go heap and GC CPU) do not carry them.
		b.Cleanup(expoRegistry.drop)
		gather := func(w *countingDiscard) {
			mfs, err := reg.Gather()
			if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != heldSeries ||
				mfs[0].GetMetric()[0].GetHistogram().GetSchema() != 6 {
				b.Fatalf("gathered %d families: %v", len(mfs), err)
			}
			enc := expfmt.NewEncoder(w, expfmt.FmtProtoDelim)
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					b.Fatal(err)
				}
			}
		}
		// One gather takes tens of seconds: no warm-up round, the bytes of the last one.
		var w countingDiscard
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			w.n = 0
			gather(&w)
		}
		b.SetBytes(w.n)
		reportPerSeries(b, cpu0)
	})
}

// BenchmarkExpositionText1M: the same 1M native-histogram series in text 0.0.4 (offheap only:
// a histogram's _count, _sum and +Inf bucket per series).
func BenchmarkExpositionText1M(b *testing.B) { benchExposition(b, offheap.FormatText, 50) }

// benchExposition measures offheap's exposition of the 1M series in format f (at least
// minBytes bytes per series), checking that every run writes the same bytes.
func benchExposition(b *testing.B, f offheap.ExpositionFormat, minBytes int64) {
	agg := expoOffheapAgg(b)
	var w countingDiscard
	n, err := agg.WriteExposition(&w, 2*winSec, f)
	if err != nil || n < minBytes*heldSeries {
		b.Fatalf("%d bytes, %v", n, err)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		w.n = 0
		agg.WriteExposition(&w, 2*winSec, f)
	}
	if w.n != n {
		b.Fatalf("%d bytes, then %d", n, w.n)
	}
	reportPerSeries(b, cpu0)
}

// reportPerSeries adds the wall time and the process's CPU time (every thread: the garbage
// collector's too) per series of the loop that started when the CPU clock read cpu0. On a
// machine others share, CPU time moves much less with their load than wall time.
func reportPerSeries(b *testing.B, cpu0 float64) {
	n := float64(b.N * heldSeries)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/series")
	b.ReportMetric((cpuTime()-cpu0)*1e9/n, "cpu-ns/series")
}
