package benches

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
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
		cpu0 := cpuTime()
		for b.Loop() {
			agg.Ingest(&batch, 10*winSec)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*winBatch), "ns/sample")
		b.ReportMetric((cpuTime()-cpu0)*1e9/float64(b.N*winBatch), "cpu-ns/sample")
	})
	// Two goroutines (GOMAXPROCS 2) ingesting into one aggregator, each its own batch: the
	// handle lookup and the shard locks are what they share, and in offheap_2g the series
	// too (both batches over the same 1,000 series; in offheap_2g_own_series each goroutine's
	// keys are offset by winSeries). Per sample, all goroutines together.
	for _, ownSeries := range []bool{false, true} {
		name := map[bool]string{false: "offheap_2g", true: "offheap_2g_own_series"}[ownSeries]
		b.Run(name, func(b *testing.B) {
			agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Sliding, Width: time.Minute, Slices: 6})
			if err != nil {
				b.Fatal(err)
			}
			defer agg.Close()
			ingestParallel(b, func() *offheap.Aggregator { return agg }, keys, ts, vals, ownSeries)
		})
	}
	// The bound of offheap_2g: the same two goroutines, each into an aggregator of its own
	// (nothing shared but the machine), so what this machine's two cores give two goroutines.
	b.Run("bound_2g_own_aggregators", func(b *testing.B) {
		var mu sync.Mutex
		var aggs []*offheap.Aggregator
		defer func() {
			for _, a := range aggs {
				a.Close()
			}
		}()
		ingestParallel(b, func() *offheap.Aggregator {
			agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Sliding, Width: time.Minute, Slices: 6})
			if err != nil {
				panic(err)
			}
			mu.Lock()
			aggs = append(aggs, agg)
			mu.Unlock()
			return agg
		}, keys, ts, vals, false)
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

// ingestParallel ingests a batch of keys, ts and vals (each goroutine its own) from every
// goroutine of RunParallel into the aggregator aggFor gives that goroutine, and reports ns
// per sample, all goroutines together.
func ingestParallel(b *testing.B, aggFor func() *offheap.Aggregator, keys []uint64, ts []int64, vals []float64, ownSeries bool) {
	b.ReportAllocs()
	var goroutines atomic.Uint64
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		agg := aggFor()
		var offset uint64
		if ownSeries {
			offset = goroutines.Add(1) * winSeries
		}
		var batch offheap.SampleBatch
		for i := range keys {
			batch.Add(keys[i]+offset, ts[i], vals[i])
		}
		for pb.Next() {
			if acc, err := agg.Ingest(&batch, 10*winSec); err != nil || acc.Accepted != winBatch {
				b.Errorf("%+v %v", acc, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*winBatch), "ns/sample")
	b.ReportMetric((cpuTime()-cpu0)*1e9/float64(b.N*winBatch), "cpu-ns/sample")
}

const heldSeries = 1_000_000

// latency is a latency-like value (three decades) for pseudo-random x.
func latency(x uint64) float64 { return 1 + float64((x>>20)%100_000)/100 }

// scaleBatches makes n batches of winBatch samples over series keys [0, series), in a
// pseudo-random order, all in the window of 10 s.
func scaleBatches(n int, series uint64) (keys [][]uint64, ts []int64, vals [][]float64) {
	x := uint64(7)
	for range winBatch {
		ts = append(ts, 10*winSec)
	}
	for range n {
		k := make([]uint64, winBatch)
		v := make([]float64, winBatch)
		for i := range k {
			x = x*6364136223846793005 + 1442695040888963407
			k[i], v[i] = (x>>24)%series, latency(x)
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, ts, vals
}

// BenchmarkWindowIngest1M: batches of 1024 samples with the quantile sketch into 1M live
// series (tumbling minute), keys spread over all of them so that each sample's series is a
// cache miss (256 batches: 256k series, far more than the caches hold), beside the pure-Go
// aggregator fed the same batches.
func BenchmarkWindowIngest1M(b *testing.B) {
	keys, ts, vals := scaleBatches(256, heldSeries)
	all := make([]uint64, heldSeries)
	allTS := make([]int64, heldSeries)
	allVals := make([]float64, heldSeries)
	for k := range all {
		all[k], allTS[k], allVals[k] = uint64(k), 10*winSec, latency(uint64(k)*0x9E3779B97F4A7C15)
	}
	b.Run("offheap", func(b *testing.B) {
		agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Tumbling, Width: time.Minute, MaxSeries: 2 * heldSeries})
		if err != nil {
			b.Fatal(err)
		}
		defer agg.Close()
		if acc, err := agg.IngestColumns(all, allTS, allVals, nil, 10*winSec); err != nil || acc.Accepted != heldSeries {
			b.Fatalf("%+v %v", acc, err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			acc, err := agg.IngestColumns(keys[i%len(keys)], ts, vals[i%len(keys)], nil, 10*winSec)
			if err != nil || acc.Accepted != winBatch {
				b.Fatalf("%+v %v", acc, err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*winBatch), "ns/sample")
	})
	b.Run("purego", func(b *testing.B) {
		peer := windowpeer.New(int64(time.Minute), 1, 0.01, 2*heldSeries, true)
		if n, _ := peer.Ingest(all, allTS, allVals, 10*winSec); n != heldSeries {
			b.Fatal("samples dropped")
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if n, _ := peer.Ingest(keys[i%len(keys)], ts, vals[i%len(keys)], 10*winSec); n != winBatch {
				b.Fatal("samples dropped")
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*winBatch), "ns/sample")
	})
}

// memoryPerSeries caches what BenchmarkWindowMemory1M measured (the build takes seconds; the
// benchmark framework calls a benchmark function more than once).
var memoryPerSeries sync.Map

// goHeap returns the Go heap in use after a collection.
func goHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memorySeries is the number of series BenchmarkWindowMemory1M builds: 1M, or 100k in the
// smoke run of `make test` (-benchtime 1x), where building 64M samples on each side would take
// most of a minute for a check of the code paths.
func memorySeries() int {
	if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1x" {
		return heldSeries / 10
	}
	return heldSeries
}

// heldMemory builds 1M series of n samples each (tumbling minute, sketch on, latency-like
// values) with offheap or in pure Go and returns the heap they hold per series: the Rust heap
// and the Go heap together for offheap, the Go heap for pure Go. Nothing of it stays live.
func heldMemory(b *testing.B, n int, pure bool) float64 {
	key := fmt.Sprint(n, pure)
	if v, ok := memoryPerSeries.Load(key); ok {
		return v.(float64)
	}
	const chunk = 1 << 16
	series := memorySeries()
	keys := make([]uint64, chunk)
	ts := make([]int64, chunk)
	vals := make([]float64, chunk)
	feed := func(ingest func(keys []uint64, ts []int64, vals []float64) int) {
		for j := range n {
			for start := 0; start < series; start += chunk {
				m := min(chunk, series-start)
				for i := range m {
					k := uint64(start + i)
					keys[i], ts[i] = k, winSec+int64(j)
					vals[i] = latency(k*0x9E3779B97F4A7C15 + uint64(j)*0xBF58476D1CE4E5B9)
				}
				if got := ingest(keys[:m], ts[:m], vals[:m]); got != m {
					b.Fatalf("%d of %d samples accepted", got, m)
				}
			}
		}
	}
	var per float64
	if pure {
		before := goHeap()
		peer := windowpeer.New(int64(time.Minute), 1, 0.01, 2*heldSeries, true)
		feed(func(k []uint64, t []int64, v []float64) int { n, _ := peer.Ingest(k, t, v, 2*winSec); return n })
		per = float64(goHeap()-before) / float64(series)
		if peer.Len() != series {
			b.Fatal("series lost")
		}
	} else {
		goBefore := goHeap()
		rs, err := offheap.ReadRustStats()
		if err != nil {
			b.Fatal(err)
		}
		agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Tumbling, Width: time.Minute, MaxSeries: 2 * heldSeries})
		if err != nil {
			b.Fatal(err)
		}
		feed(func(k []uint64, t []int64, v []float64) int {
			acc, err := agg.IngestColumns(k, t, v, nil, 2*winSec)
			if err != nil {
				b.Fatal(err)
			}
			return int(acc.Accepted)
		})
		after, _ := offheap.ReadRustStats()
		per = (float64(after.LiveBytes) - float64(rs.LiveBytes) + float64(goHeap()) - float64(goBefore)) / float64(series)
		if st, _ := agg.Stats(); st.Series != uint64(series) {
			b.Fatalf("series = %d", st.Series)
		}
		agg.Close()
	}
	memoryPerSeries.Store(key, per)
	return per
}

// BenchmarkWindowMemory1M: the heap held per series by 1M series of 4 and of 64 samples
// (tumbling minute, sketch on): offheap's Rust heap (and its Go heap, near zero) beside the
// pure-Go aggregator's Go heap. The metric is B/series; the loop itself does nothing.
func BenchmarkWindowMemory1M(b *testing.B) {
	for _, n := range []int{4, 64} {
		for _, side := range []string{"offheap", "purego"} {
			b.Run(fmt.Sprintf("%d_samples/%s", n, side), func(b *testing.B) {
				per := heldMemory(b, n, side == "purego")
				for b.Loop() {
				}
				b.ReportMetric(per, "B/series")
			})
		}
	}
}

// fixture is a value built once, by the first benchmark that needs it, and shared by the
// ones after: building 1M series takes seconds.
type fixture[T any] struct {
	once  sync.Once
	value T
	err   error
}

// get returns the value, built by build on the first call; it fails b when the build failed.
func (f *fixture[T]) get(b *testing.B, build func() (T, error)) T {
	f.once.Do(func() { f.value, f.err = build() })
	if f.err != nil {
		b.Fatalf("setup failed: %v", f.err)
	}
	return f.value
}

// drop lets go of the value; the next get builds it again.
func (f *fixture[T]) drop() { *f = fixture[T]{} }

var (
	heldOffheap fixture[*offheap.Aggregator]
	heldPeer    fixture[*windowpeer.Aggregator]
)

// heldColumns feeds 1M series, reps samples each (value(k, rep) for series k), to ingest,
// 65,536 samples at a time.
func heldColumns(reps int, value func(k, rep int) float64, ingest func(keys []uint64, ts []int64, vals []float64)) {
	keys := make([]uint64, 0, 1<<16)
	ts := make([]int64, 0, 1<<16)
	vals := make([]float64, 0, 1<<16)
	for rep := range reps {
		for start := 0; start < heldSeries; start += 1 << 16 {
			keys, ts, vals = keys[:0], ts[:0], vals[:0]
			for k := start; k < min(start+1<<16, heldSeries); k++ {
				keys = append(keys, uint64(k))
				ts = append(ts, winSec)
				vals = append(vals, value(k, rep))
			}
			ingest(keys, ts, vals)
		}
	}
}

// heldValue is sample rep of series k of the held benchmarks (2 samples a series).
func heldValue(k, rep int) float64 { return float64(k%1000 + rep) }

// filledAggregator makes an aggregator of cfg holding 1M series of reps samples each.
func filledAggregator(cfg offheap.AggregatorConfig, reps int, value func(k, rep int) float64) (*offheap.Aggregator, error) {
	agg, err := offheap.NewAggregator(cfg)
	if err != nil {
		return nil, err
	}
	heldColumns(reps, value, func(keys []uint64, ts []int64, vals []float64) { agg.IngestColumns(keys, ts, vals, nil, winSec) })
	return agg, nil
}

// heldOffheapAgg builds, once, an offheap aggregator with 1M live series (tumbling minute,
// sketch on). Each side is built only when first measured, so the other side's memory is not
// in its Go heap figures.
func heldOffheapAgg(b *testing.B) *offheap.Aggregator {
	return heldOffheap.get(b, func() (*offheap.Aggregator, error) {
		return filledAggregator(offheap.AggregatorConfig{Mode: offheap.Tumbling, Width: time.Minute, MaxSeries: 2 * heldSeries}, 2, heldValue)
	})
}

// heldPeerAgg builds, once, the pure-Go aggregator with the same 1M series.
func heldPeerAgg(b *testing.B) *windowpeer.Aggregator {
	return heldPeer.get(b, func() (*windowpeer.Aggregator, error) {
		peer := windowpeer.New(int64(time.Minute), 1, 0.01, 2*heldSeries, true)
		heldColumns(2, heldValue, func(keys []uint64, ts []int64, vals []float64) { peer.Ingest(keys, ts, vals, winSec) })
		return peer, nil
	})
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
		peer := heldPeerAgg(b)
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
		peer := heldPeerAgg(b)
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
		peer := heldPeerAgg(b)
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
