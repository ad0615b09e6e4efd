package benches

import (
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/offheap/offheap/benches/go/windowpeer"
	offheap "github.com/offheap/offheap/go"
)

const (
	winSec    = int64(time.Second)
	winBatch  = 1024
	winSeries = 1000
)

// winSamples makes one batch of samples over winSeries series with latency-like values.
func winSamples() (keys []uint64, ts []int64, vals []float64) {
	x := uint64(1)
	for range winBatch {
		x = x*6364136223846793005 + 1442695040888963407
		keys = append(keys, (x>>33)%winSeries)
		ts = append(ts, 10*winSec)
		vals = append(vals, 1+float64((x>>20)%100_000)/100)
	}
	return keys, ts, vals
}

// BenchmarkWindowIngest: batches of 1024 samples with the quantile sketch, over 1,000 series
// of a one-minute sliding window in 6 slices; offheap (one cgo call per batch) beside the
// pure-Go equivalent (map + structs + a Go log-bucket sketch).
func BenchmarkWindowIngest(b *testing.B) {
	keys, ts, vals := winSamples()
	b.Run("offheap", func(b *testing.B) {
		agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Sliding, Width: time.Minute, Slices: 6})
		if err != nil {
			b.Fatal(err)
		}
		defer agg.Close()
		var batch offheap.SampleBatch
		for i := range keys {
			batch.Add(keys[i], ts[i], vals[i])
		}
		if acc, err := agg.Ingest(&batch, 10*winSec); err != nil || acc.Accepted != winBatch {
			b.Fatalf("%+v %v", acc, err)
		}
		b.ReportAllocs()
		for b.Loop() {
			agg.Ingest(&batch, 10*winSec)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*winBatch), "ns/sample")
	})
	b.Run("purego", func(b *testing.B) {
		agg := windowpeer.New(int64(time.Minute), 6, 0.01, 1<<21, true)
		if n, _ := agg.Ingest(keys, ts, vals, 10*winSec); n != winBatch {
			b.Fatal("samples dropped")
		}
		b.ReportAllocs()
		for b.Loop() {
			agg.Ingest(keys, ts, vals, 10*winSec)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*winBatch), "ns/sample")
	})
}

const heldSeries = 1_000_000

var (
	heldOffheapOnce, heldPeerOnce sync.Once
	heldOffheap                   *offheap.Aggregator
	heldPeer                      *windowpeer.Aggregator
)

// heldColumns feeds 1M series (2 samples each) to ingest, 65,536 samples at a time.
func heldColumns(ingest func(keys []uint64, ts []int64, vals []float64)) {
	keys := make([]uint64, 0, 1<<16)
	ts := make([]int64, 0, 1<<16)
	vals := make([]float64, 0, 1<<16)
	for rep := range 2 {
		for start := 0; start < heldSeries; start += 1 << 16 {
			keys, ts, vals = keys[:0], ts[:0], vals[:0]
			for k := start; k < min(start+1<<16, heldSeries); k++ {
				keys = append(keys, uint64(k))
				ts = append(ts, winSec)
				vals = append(vals, float64(k%1000+rep))
			}
			ingest(keys, ts, vals)
		}
	}
}

// heldOffheapAgg builds, once, an offheap aggregator with 1M live series (tumbling minute,
// sketch on). Each side is built only when first measured, so the other side's memory is not
// in its Go heap figures.
func heldOffheapAgg(b *testing.B) *offheap.Aggregator {
	heldOffheapOnce.Do(func() {
		agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Tumbling, Width: time.Minute, MaxSeries: 2 * heldSeries})
		if err != nil {
			return
		}
		heldColumns(func(keys []uint64, ts []int64, vals []float64) { agg.IngestColumns(keys, ts, vals, nil, winSec) })
		heldOffheap = agg
	})
	if heldOffheap == nil {
		b.Fatal("setup failed")
	}
	return heldOffheap
}

// heldPeerAgg builds, once, the pure-Go aggregator with the same 1M series.
func heldPeerAgg() *windowpeer.Aggregator {
	heldPeerOnce.Do(func() {
		peer := windowpeer.New(int64(time.Minute), 1, 0.01, 2*heldSeries, true)
		heldColumns(func(keys []uint64, ts []int64, vals []float64) { peer.Ingest(keys, ts, vals, winSec) })
		heldPeer = peer
	})
	return heldPeer
}

func gcCPU() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

// BenchmarkWindowHeld1M: with 1M live series held, the time of a forced GC, the GC CPU per
// cycle (runtime/metrics) and the Go heap.
func BenchmarkWindowHeld1M(b *testing.B) {
	measure := func(b *testing.B, keep func()) {
		runtime.GC()
		cpu0 := gcCPU()
		for b.Loop() {
			runtime.GC()
		}
		cpu := gcCPU() - cpu0
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		keep()
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "goheap-MiB")
		b.ReportMetric(cpu*1e9/float64(b.N), "gccpu-ns/cycle")
	}
	b.Run("offheap", func(b *testing.B) {
		agg := heldOffheapAgg(b)
		measure(b, func() { runtime.KeepAlive(agg) })
		if st, _ := agg.Stats(); st.Series != heldSeries {
			b.Fatalf("series = %d", st.Series)
		}
	})
	b.Run("purego", func(b *testing.B) {
		peer := heldPeerAgg()
		measure(b, func() { runtime.KeepAlive(peer) })
		if peer.Len() != heldSeries {
			b.Fatal("series lost")
		}
	})
}

var quantiles3 = []float64{0.5, 0.9, 0.99}

// BenchmarkWindowSnapshot1M: a snapshot of 1M series with 3 quantiles, read through reusable
// 4096-row columns (offheap) or into a reused []Row (pure Go).
func BenchmarkWindowSnapshot1M(b *testing.B) {
	b.Run("offheap", func(b *testing.B) {
		agg := heldOffheapAgg(b)
		snap, err := offheap.NewSnapshot()
		if err != nil {
			b.Fatal(err)
		}
		defer snap.Close()
		cols := offheap.NewSnapshotColumns(4096, 3)
		opts := offheap.SnapshotOptions{Quantiles: quantiles3}
		b.ReportAllocs()
		for b.Loop() {
			if err := agg.Snapshot(snap, winSec, opts); err != nil {
				b.Fatal(err)
			}
			var total uint64
			for start := 0; start < snap.Len(); {
				n := snap.Read(start, cols)
				for _, c := range cols.Counts {
					total += c
				}
				start += n
			}
			if total != 2*heldSeries {
				b.Fatalf("total count %d", total)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*heldSeries), "ns/series")
	})
	b.Run("purego", func(b *testing.B) {
		peer := heldPeerAgg()
		rows := make([]windowpeer.Row, 0, heldSeries)
		b.ReportAllocs()
		for b.Loop() {
			rows = peer.Snapshot(rows, winSec, quantiles3)
			if len(rows) != heldSeries {
				b.Fatal("rows lost")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*heldSeries), "ns/series")
	})
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkWindowExposition1M: Prometheus text of 1M series (3 quantiles, _sum, _count),
// snapshot included, written to a discarding io.Writer.
func BenchmarkWindowExposition1M(b *testing.B) {
	b.Run("offheap", func(b *testing.B) {
		agg := heldOffheapAgg(b)
		var w countingDiscard
		n, err := agg.WritePrometheus(&w, winSec)
		if err != nil || n < 100*heldSeries {
			b.Fatalf("%d bytes, %v", n, err)
		}
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			agg.WritePrometheus(io.Discard, winSec)
		}
	})
	b.Run("purego", func(b *testing.B) {
		peer := heldPeerAgg()
		rows := make([]windowpeer.Row, 0, heldSeries)
		buf := make([]byte, 0, 4096)
		rows = peer.Snapshot(rows, winSec, quantiles3)
		var w countingDiscard
		n, _ := peer.WritePrometheus(&w, rows, quantiles3, buf)
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			rows = peer.Snapshot(rows, winSec, quantiles3)
			peer.WritePrometheus(io.Discard, rows, quantiles3, buf)
		}
	})
}
