package offheap

import (
	"fmt"
	"io"
	"math"
	"runtime/metrics"
	"text/tabwriter"
	"time"
)

// GoHeap is the Go side of a [HeapReport], read from runtime/metrics (no stop-the-world).
type GoHeap struct {
	HeapAlloc   uint64 // bytes in live and not-yet-swept heap objects (MemStats.HeapAlloc)
	HeapInuse   uint64 // bytes in in-use heap spans (MemStats.HeapInuse)
	HeapObjects uint64 // live and not-yet-swept heap objects (MemStats.HeapObjects)
	Mallocs     uint64 // heap objects allocated since the process started (cumulative)
	NumGC       uint64 // completed GC cycles (cumulative)
	// GCCPU is the CPU time spent in the GC, mark assist and background marking included
	// (cumulative; the runtime updates it at the end of each cycle).
	GCCPU time.Duration
	// GCPauseTotal, GCPauseP50 and GCPauseP99 come from the runtime's stop-the-world pause
	// histogram (cumulative, or over the interval after Since); a percentile is its bucket's
	// upper bound and the total sums bucket midpoints.
	GCPauseTotal time.Duration
	GCPauseP50   time.Duration
	GCPauseP99   time.Duration
}

// HeapReport is the Go heap and GC and offheap's Rust heap at one moment, or over an interval
// (see [HeapReport.Since]): what to show before and after moving a hot path onto offheap.
type HeapReport struct {
	Go   GoHeap
	Rust RustStats
	// Relay holds the relay's global counters (bytes spliced and copied, relays failed).
	Relay RelayCounters
	// RustErr is non-nil when the Rust side could not be read (ErrUnavailable without cgo).
	RustErr error

	pauses []uint64  // GC pause histogram counts (cumulative)
	bounds []float64 // its bucket boundaries in seconds
}

var reportMetrics = [...]string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/gc/heap/objects:objects",
	"/gc/heap/allocs:objects",
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
}

// ReadHeapReport reads the Go heap and GC statistics and offheap's Rust heap in one call.
func ReadHeapReport() HeapReport {
	var samples [len(reportMetrics)]metrics.Sample
	for i, name := range reportMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples[:])
	u := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	var r HeapReport
	r.Go.HeapAlloc = u(0)
	r.Go.HeapInuse = u(0) + u(1)
	r.Go.HeapObjects = u(2)
	r.Go.Mallocs = u(3)
	r.Go.NumGC = u(4)
	if samples[5].Value.Kind() == metrics.KindFloat64 {
		r.Go.GCCPU = seconds(samples[5].Value.Float64())
	}
	if samples[6].Value.Kind() == metrics.KindFloat64Histogram {
		h := samples[6].Value.Float64Histogram()
		r.pauses = append([]uint64(nil), h.Counts...)
		r.bounds = h.Buckets
	}
	r.fillPauses()
	r.Rust, r.RustErr = ReadRustStats()
	if r.RustErr == nil {
		r.Relay, r.RustErr = ReadRelayCounters()
	}
	return r
}

// Since returns the report over the interval from earlier to r: cumulative values (Mallocs,
// NumGC, GC CPU, pauses and their percentiles, Rust allocations and frees, relay counters)
// become differences; levels (heap sizes, objects, live handles, live pipes and buffers) stay
// r's.
func (r HeapReport) Since(earlier HeapReport) HeapReport {
	d := r
	d.Go.Mallocs -= earlier.Go.Mallocs
	d.Go.NumGC -= earlier.Go.NumGC
	d.Go.GCCPU -= earlier.Go.GCCPU
	d.Rust.Allocations -= earlier.Rust.Allocations
	d.Rust.Frees -= earlier.Rust.Frees
	d.Relay.RelaysStarted -= earlier.Relay.RelaysStarted
	d.Relay.RelaysDone -= earlier.Relay.RelaysDone
	d.Relay.RelaysFailed -= earlier.Relay.RelaysFailed
	d.Relay.BytesSpliced -= earlier.Relay.BytesSpliced
	d.Relay.BytesCopied -= earlier.Relay.BytesCopied
	d.Relay.PipesCreated -= earlier.Relay.PipesCreated
	if len(earlier.pauses) == len(r.pauses) {
		d.pauses = make([]uint64, len(r.pauses))
		for i := range r.pauses {
			d.pauses[i] = r.pauses[i] - earlier.pauses[i]
		}
	}
	d.fillPauses()
	return d
}

func (r *HeapReport) fillPauses() {
	var n uint64
	var total float64
	for i, c := range r.pauses {
		n += c
		if c > 0 {
			total += float64(c) * mid(r.bounds[i], r.bounds[i+1])
		}
	}
	r.Go.GCPauseTotal = seconds(total)
	r.Go.GCPauseP50 = r.percentile(n, 0.50)
	r.Go.GCPauseP99 = r.percentile(n, 0.99)
}

func (r *HeapReport) percentile(n uint64, q float64) time.Duration {
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range r.pauses {
		seen += c
		if seen >= rank {
			return seconds(finite(r.bounds[i+1], r.bounds[i]))
		}
	}
	return 0
}

func mid(lo, hi float64) float64 {
	if math.IsInf(lo, -1) {
		return finite(hi, 0)
	}
	return (lo + finite(hi, lo)) / 2
}

func finite(v, fallback float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return fallback
	}
	return v
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// SideBySideRow is a measurement of the caller's own (a wall time, a throughput) that
// [HeapReport.WriteSideBySide] prints above the heap rows, in the same columns.
type SideBySideRow struct {
	Name     string
	R, Other float64 // the values under nameR and nameOther
	// Format writes a value and the difference of the two (without its sign); nil writes them
	// with %g.
	Format func(float64) string
}

// WriteSideBySide prints r and other in two columns labelled nameR and nameOther, with the
// difference (other - r) and their ratio; the caller's own rows come first. Typical uses: a
// report before and after a workload, or the same workload's interval reports in pure Go and
// with offheap, below the time each took.
func (r HeapReport) WriteSideBySide(w io.Writer, nameR string, other HeapReport, nameOther string, rows ...SideBySideRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\tdelta\tratio\t\n", nameR, nameOther)
	row := func(name string, a, b float64, f func(float64) string) {
		if f == nil {
			f = func(v float64) string { return fmt.Sprintf("%g", v) }
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, f(a), f(b), signed(b-a, f), ratio(a, b))
	}
	for _, x := range rows {
		row(x.Name, x.R, x.Other, x.Format)
	}
	bytesRow := func(name string, a, b uint64) { row(name, float64(a), float64(b), fmtBytes) }
	countRow := func(name string, a, b uint64) {
		row(name, float64(a), float64(b), func(v float64) string { return fmt.Sprintf("%.0f", v) })
	}
	durRow := func(name string, a, b time.Duration) {
		row(name, float64(a), float64(b), func(v float64) string { return roundDur(time.Duration(v)).String() })
	}
	bytesRow("Go HeapAlloc", r.Go.HeapAlloc, other.Go.HeapAlloc)
	bytesRow("Go HeapInuse", r.Go.HeapInuse, other.Go.HeapInuse)
	countRow("Go HeapObjects", r.Go.HeapObjects, other.Go.HeapObjects)
	countRow("Go Mallocs", r.Go.Mallocs, other.Go.Mallocs)
	countRow("Go NumGC", r.Go.NumGC, other.Go.NumGC)
	durRow("Go GC CPU", r.Go.GCCPU, other.Go.GCCPU)
	durRow("Go GC pause total", r.Go.GCPauseTotal, other.Go.GCPauseTotal)
	durRow("Go GC pause p50", r.Go.GCPauseP50, other.Go.GCPauseP50)
	durRow("Go GC pause p99", r.Go.GCPauseP99, other.Go.GCPauseP99)
	if r.RustErr == nil && other.RustErr == nil {
		bytesRow("Rust heap live", r.Rust.LiveBytes, other.Rust.LiveBytes)
		bytesRow("Rust heap peak", r.Rust.PeakBytes, other.Rust.PeakBytes)
		countRow("Rust allocations", r.Rust.Allocations, other.Rust.Allocations)
		countRow("Rust live handles", r.Rust.LiveHandles, other.Rust.LiveHandles)
		if r.Relay.RelaysStarted+other.Relay.RelaysStarted > 0 {
			bytesRow("Relay bytes spliced", r.Relay.BytesSpliced, other.Relay.BytesSpliced)
			bytesRow("Relay bytes copied", r.Relay.BytesCopied, other.Relay.BytesCopied)
			countRow("Relays done", r.Relay.RelaysDone, other.Relay.RelaysDone)
			countRow("Relays failed", r.Relay.RelaysFailed, other.Relay.RelaysFailed)
		}
	} else {
		fmt.Fprintf(tw, "Rust heap\t(unavailable)\t(unavailable)\t\t\t\n")
	}
	return tw.Flush()
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second || d <= -time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond || d <= -time.Millisecond:
		return d.Round(time.Microsecond)
	default:
		return d
	}
}

func signed(v float64, f func(float64) string) string {
	switch {
	case v > 0:
		return "+" + f(v)
	case v < 0:
		return "-" + f(-v)
	}
	return f(v)
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	if b >= a {
		return fmt.Sprintf("%.2fx", b/a)
	}
	return fmt.Sprintf("1/%.2fx", a/b)
}

func fmtBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := fmt.Sprintf("%.1f %s", v, units[i])
	if i == 0 {
		s = fmt.Sprintf("%.0f B", v)
	}
	return s
}
