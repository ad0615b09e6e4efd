// Command heapstats runs three garbage-heavy workloads twice in one process, once in idiomatic
// pure Go and once with offheap, and shows what each does to the Go heap and GC:
//
//   - window: windowed aggregation over many series (a Go map of structs with a log-bucket
//     quantile sketch, against offheap.Aggregator fed in batches of 1024);
//   - heads: parsing many HTTP/1.1 request heads (net/http's ReadRequest over a bufio.Reader,
//     against offheap.RequestBatch.Parse over the same bytes);
//   - relay: relaying bytes over loopback TCP as bodies of a keep-alive connection (io.Copy
//     through a bufio.Reader, against offheap.Relay.Copy with Exact framing).
//
// For each workload it prints a side-by-side table (wall time, throughput, then
// offheap.HeapReport.WriteSideBySide: Go HeapAlloc, HeapObjects, NumGC, GC CPU, GC pause p99,
// Rust heap) and, while each phase runs, samples the Go heap and GC pauses every 50 ms; it
// writes one PNG chart of both (pure Go against offheap, per workload).
//
//	go run ./heapstats -out ../target/demo/heapstats.png
//	go run ./heapstats -series 4000000 -heads 10000000 -bytes 8GiB
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// options are the command-line flags.
type options struct {
	series     int   // window: distinct series
	perSeries  int   // window: samples per series
	heads      int   // heads: request heads parsed
	bytes      int64 // relay: bytes relayed
	bodySize   int64 // relay: bytes per body
	batchHeads int   // heads: RequestBatch size
	out        string
	only       string // comma-separated workloads to run (default all)
	interval   time.Duration
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "heapstats:", err)
		os.Exit(1)
	}
}

// byteSize is a flag.Value accepting 1073741824, 1GiB, 512MiB, 64KiB.
type byteSize struct{ p *int64 }

func (b byteSize) String() string {
	if b.p == nil {
		return "0"
	}
	return strconv.FormatInt(*b.p, 10)
}

func (b byteSize) Set(s string) error {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("bad size %q", s)
	}
	*b.p = v * mult
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("heapstats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.series, "series", 1_000_000, "window: distinct series")
	fs.IntVar(&o.perSeries, "samples", 4, "window: samples per series")
	fs.IntVar(&o.heads, "heads", 1_000_000, "heads: request heads to parse")
	o.bytes, o.bodySize = 1<<30, 1<<20
	fs.Var(byteSize{&o.bytes}, "bytes", "relay: bytes to relay over loopback (e.g. 1GiB, 4GiB)")
	fs.Var(byteSize{&o.bodySize}, "body", "relay: bytes per body (one Content-Length body per copy)")
	fs.IntVar(&o.batchHeads, "batch", 32, "heads: heads per RequestBatch.Parse call (16-64)")
	fs.StringVar(&o.out, "out", "target/demo/heapstats.png", "the PNG chart to write ('' for none)")
	fs.StringVar(&o.only, "only", "window,heads,relay", "workloads to run, comma-separated")
	fs.DurationVar(&o.interval, "interval", 50*time.Millisecond, "sampling interval of the Go heap and GC pauses")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.series < 1 || o.perSeries < 1 || o.heads < 1 || o.bytes < 1 || o.bodySize < 1 || o.batchHeads < 1 || o.interval <= 0 {
		return o, fmt.Errorf("sizes must be positive")
	}
	return o, nil
}

// workload is one of the three: the same work in pure Go and with offheap.
type workload struct {
	name  string
	title string // for the table and the chart
	unit  string // what the throughput counts
	// pure and off run the work; each returns the amount of work done (in unit), a check
	// value that must agree between the two, and what it keeps live until the phase's heap
	// report is read.
	pure, off func() (result, error)
	cleanup   func()
	// targets, when set, are what the workload is held to, judged from its two phases.
	targets func(pure, off phase) []target
}

// target is one goal of a workload, with what the run measured.
type target struct {
	name     string // what is measured
	measured string
	goal     string
	met      bool
}

func (t target) String() string {
	met := "met"
	if !t.met {
		met = "NOT met"
	}
	return fmt.Sprintf("%s: %s (target %s, %s)", t.name, t.measured, t.goal, met)
}

// result is what one run of a workload returns.
type result struct {
	amount  float64 // work done, in the workload's unit
	check   string  // must be the same in pure Go and with offheap
	release func()  // drops the state the phase built (called after its heap report)
}

// phase is the result of one run of a workload.
type phase struct {
	wall    time.Duration
	amount  float64
	check   string
	report  offheap.HeapReport
	samples []sample
	pauses  []pause
}

func run(args []string, stdout io.Writer) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if _, err := offheap.ReadRustStats(); err != nil {
		return fmt.Errorf("offheap is unavailable (%v): build with cgo after 'make build'", err)
	}
	fmt.Fprintf(stdout, "heapstats: each workload in pure Go, then with offheap (runtime.GC() between); GOMAXPROCS=%d, %s\n",
		runtime.GOMAXPROCS(0), runtime.Version())
	var all []chartWorkload
	for _, name := range strings.Split(o.only, ",") {
		w, err := newWorkload(strings.TrimSpace(name), o)
		if err != nil {
			return err
		}
		p, err := runPhase(w.pure, o.interval)
		if err != nil {
			return fmt.Errorf("%s (pure Go): %w", w.name, err)
		}
		q, err := runPhase(w.off, o.interval)
		if w.cleanup != nil {
			w.cleanup()
		}
		if err != nil {
			return fmt.Errorf("%s (offheap): %w", w.name, err)
		}
		if p.check != q.check {
			return fmt.Errorf("%s: results differ: pure Go %s, offheap %s", w.name, p.check, q.check)
		}
		if err := writeTable(stdout, w, p, q); err != nil {
			return err
		}
		var ts []target
		if w.targets != nil {
			ts = w.targets(p, q)
			fmt.Fprintln(stdout, "   targets:")
			for _, t := range ts {
				fmt.Fprintf(stdout, "     %s\n", t)
			}
		}
		all = append(all, chartWorkload{title: w.title, pure: p, off: q, targets: ts})
	}
	if o.out != "" {
		if err := writeChart(o.out, all); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		fmt.Fprintf(stdout, "\nchart: %s (Go heap over time and GC pauses, pure Go against offheap)\n", o.out)
	}
	return nil
}

func newWorkload(name string, o options) (workload, error) {
	switch name {
	case "window":
		return windowWorkload(o), nil
	case "heads":
		return headsWorkload(o), nil
	case "relay":
		return relayWorkload(o)
	}
	return workload{}, fmt.Errorf("unknown workload %q (window, heads, relay)", name)
}

// runPhase collects the previous phase's garbage, then runs f while sampling.
func runPhase(f func() (result, error), interval time.Duration) (phase, error) {
	runtime.GC()
	runtime.GC()
	before := offheap.ReadHeapReport()
	s := startSampler(interval)
	start := time.Now()
	res, err := f()
	wall := time.Since(start)
	samples, pauses := s.stop()
	after := offheap.ReadHeapReport()
	if res.release != nil {
		res.release()
	}
	return phase{wall: wall, amount: res.amount, check: res.check, report: after.Since(before), samples: samples, pauses: pauses}, err
}

func writeTable(w io.Writer, wl workload, p, q phase) error {
	fmt.Fprintf(w, "\n== %s\n   both runs: %s\n", wl.title, p.check)
	// The wall time and throughput, then the heap rows: levels at the end of the phase,
	// cumulative values over the phase.
	wall := offheap.SideBySideRow{Name: "wall time", R: float64(p.wall), Other: float64(q.wall),
		Format: func(v float64) string { return time.Duration(v).Round(time.Millisecond).String() }}
	throughput := offheap.SideBySideRow{Name: fmt.Sprintf("throughput (%s/s)", wl.unit),
		R: p.amount / p.wall.Seconds(), Other: q.amount / q.wall.Seconds(), Format: human}
	return p.report.WriteSideBySide(w, "pure Go", q.report, "offheap", wall, throughput)
}

func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
