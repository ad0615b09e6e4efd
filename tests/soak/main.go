// Command soak runs offheap's subsystems concurrently under load with random faults for a
// bounded time (`make soak`; a short run is part of `make test`), then checks that nothing
// leaked and nothing was corrupted:
//   - no crash; every operation without an injected fault succeeded;
//   - relayed bytes intact (SHA-256 of what was sent equals what arrived);
//   - aggregator counts conserved (every sample counted exactly once);
//   - after the load ends and everything is closed: Rust heap, live handles, relay pipes and
//     buffers, open fds (/proc/self/fd) and goroutines back to their baseline.
//
// Each workload runs on -workers goroutines; faults (peer resets, short bodies, malformed
// chunks, cancelled contexts, connections closed by Go mid-relay, malformed heads, NaN and
// late samples) are drawn at random with -faults probability.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/leakcheck"
)

// tally counts what one workload did; its fields are updated atomically by its workers.
type tally struct {
	ops, bytes, faults atomic.Int64
	mu                 sync.Mutex
	byKind             map[string]int64
	failures           []string
}

func (t *tally) fault(kind string) {
	t.faults.Add(1)
	t.mu.Lock()
	t.byKind[kind]++
	t.mu.Unlock()
}

func (t *tally) fail(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) < 20 {
		t.failures = append(t.failures, fmt.Sprintf(format, args...))
	}
}

// workload is one subsystem's load: start sets it up, run is called in a loop by each worker
// until ctx ends, and finish tears it down and runs its end-of-load checks.
type workload struct {
	name   string
	start  func() error
	run    func(ctx context.Context, rng *rand.Rand, faults float64, t *tally)
	finish func(t *tally)
	t      tally
}

var workloads []*workload

func register(w *workload) {
	w.t.byKind = map[string]int64{}
	workloads = append(workloads, w)
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "slowclients" { // the slowheads workload's child
		n, err := strconv.Atoi(os.Args[3])
		if err != nil {
			die(err)
		}
		slowClients(os.Args[2], n)
		return
	}
	seconds := flag.Float64("seconds", 60, "how long the load runs")
	workers := flag.Int("workers", 4, "goroutines per workload")
	faults := flag.Float64("faults", 0.15, "probability that an operation gets a random fault")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed")
	only := flag.String("only", "", "comma-separated workloads to run (default: all)")
	flag.Parse()
	if err := offheap.Available(); err != nil {
		die(err)
	}
	fmt.Printf("soak: %.0fs, %d workers per workload, faults %.2f, seed %d\n", *seconds, *workers, *faults, *seed)

	active := workloads[:0:0]
	for _, w := range workloads {
		if *only == "" || strings.Contains(","+*only+",", ","+w.name+",") {
			active = append(active, w)
		}
	}
	// A warm-up phase first: state that is kept for reuse by design and bounded (per-thread
	// scratch of the aggregator's ingest, handle table segments, Go's own caches) reaches its
	// steady size there, so the baseline after it exposes growth, not first use.
	initial := takeBaseline()
	warm := min(5*time.Second, time.Duration(*seconds*float64(time.Second))/5)
	runPhase(active, warm, *workers, *faults, *seed)
	base, baseThreads := takeBaseline(), osThreads()
	fmt.Printf("soak: warm-up %v: Rust heap %d -> %d bytes kept for reuse (per-thread scratch, table segments)\n",
		warm, initial.Rust.LiveBytes, base.Rust.LiveBytes)
	elapsed := runPhase(active, time.Duration(*seconds*float64(time.Second)), *workers, *faults, *seed+1)

	failed := false
	for _, w := range active {
		t := &w.t
		kinds := make([]string, 0, len(t.byKind))
		for k, n := range t.byKind {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		fmt.Printf("soak: %-9s %8d ops %10.1f MiB %6d faults (%s) %d failures\n", w.name, t.ops.Load(),
			float64(t.bytes.Load())/(1<<20), t.faults.Load(), strings.Join(kinds, ", "), len(t.failures))
		for _, f := range t.failures {
			fmt.Printf("soak:   %s: FAIL %s\n", w.name, f)
			failed = true
		}
		if t.ops.Load() == 0 {
			fmt.Printf("soak:   %s: FAIL no operation completed\n", w.name)
			failed = true
		}
	}
	// Wait allows the Rust heap 64 KiB for handle-table segments grown under load (kept for
	// reuse; a leak that grows with load is larger) and fewer handles than at the baseline. No
	// object of the baseline may go during the soak, so the handles must come back exactly.
	// (Ingest scratch belongs to its aggregator, so new OS threads hold nothing.)
	if err := base.Wait(10 * time.Second); err != nil {
		fmt.Println("soak: FAIL", err)
		failed = true
	} else if s, err := offheap.ReadRustStats(); err != nil || s.LiveHandles != base.Rust.LiveHandles {
		fmt.Printf("soak: FAIL handles %d (err %v), want exactly the baseline's %d\n", s.LiveHandles, err, base.Rust.LiveHandles)
		failed = true
	} else {
		fmt.Printf("soak: Rust heap %d -> %d bytes (OS threads %d -> %d), handles, pipes, buffers, fds and goroutines back to baseline\n",
			base.Rust.LiveBytes, s.LiveBytes, baseThreads, osThreads())
	}
	if failed {
		os.Exit(1)
	}
	fmt.Printf("soak: %d workloads, %v: passed\n", len(active), elapsed.Round(time.Millisecond))
}

// runPhase starts every workload, runs it on `workers` goroutines for d, then finishes it.
func runPhase(active []*workload, d time.Duration, workers int, faults float64, seed uint64) time.Duration {
	for _, w := range active {
		if w.start != nil {
			if err := w.start(); err != nil {
				die(fmt.Errorf("%s: start: %w", w.name, err))
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	began := time.Now()
	for wi, w := range active {
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(wi*1000+i)))
				for ctx.Err() == nil {
					w.run(ctx, rng, faults, &w.t)
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(began)
	for _, w := range active {
		if w.finish != nil {
			w.finish(&w.t)
		}
	}
	return elapsed
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "soak:", err)
	os.Exit(1)
}

// osThreads is the number of OS threads of the process (/proc/self/status).
func osThreads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n := 0
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return 0
}

// takeBaseline is leakcheck.Take, which warms the lazily built state first (the handle table,
// the relay pools, Go's netpoller) so that the baseline shows growth, not first use.
func takeBaseline() leakcheck.Baseline {
	b, err := leakcheck.Take()
	if err != nil {
		die(err)
	}
	return b
}
