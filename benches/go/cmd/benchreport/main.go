// Command benchreport turns one run of offheap's benchmarks (criterion's JSON and `go test
// -bench` output) into BENCHMARKS.md: a short guide to reading it, then per section a table of
// each benchmark beside its peer from the same run, the ratio, the target it is held to and,
// for a missed target, the row that bounds it. Rows are declared in rows.txt, one table read
// by rows.go. A declared benchmark that did not run is reported and fails the tool.
//
// Before it replaces BENCHMARKS.md, it adds a one-line-per-benchmark summary of the file it
// replaces to docs/bench-history.md (beside -out), so a regression shows against earlier runs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Row is one line of BENCHMARKS.md.
type Row struct {
	Section string
	// Name is what the reader sees; it is unique, since bounds and the history refer to rows
	// by name. Rows named "bound: ..." measure a limit of other rows, not something to use.
	Name string
	// Bench and Peer name results: "go:Crossing/cgo_empty" (a `go test -bench` name without the
	// Benchmark prefix and -GOMAXPROCS suffix) or "criterion:ffi/handle_lookup" (criterion's
	// full id). Peer may be empty.
	Bench, Peer string
	// Metric is the unit compared ("ns/op" when empty; or a b.ReportMetric unit such as
	// "ns/sample"). Criterion results are always in ns per iteration. PeerMetric is the peer's
	// unit when it differs (a criterion bench of one head beside a Go peer's "ns/req").
	Metric, PeerMetric string
	// Target describes the goal; Met decides it from speedup = peer value / bench value (so
	// higher is better for time-like metrics). Nil Met means no ratio target.
	Target string
	Met    func(speedup float64) bool
	// Max and MinMBs are absolute targets: the value (in Metric's unit) at most Max, or the
	// throughput at least MinMBs MB/s. Zero means none.
	Max, MinMBs float64
	// ZeroAllocs holds the row to 0 allocs/op as well (the median of a Go benchmark).
	ZeroAllocs bool
	// Bound says what limits this row when it misses its target (see Bound).
	Bound Bound
}

// Bound names, for a row that misses its target, the row measuring the best any version of it
// could reach on this machine (the same work without the cgo crossing, with no relay hop at
// all, ...) and says in a few words why that limits it. When the bound's own result misses the
// target too, the target is out of reach on this machine; when it meets it, the gap is the
// row's own cost. BENCHMARKS.md prints both beside "no", with the bound's result from the run.
type Bound struct {
	Row string
	Why string
}

// AtMost is a target "this costs at most x times the peer".
func AtMost(x float64) func(float64) bool { return func(s float64) bool { return 1/s <= x } }

// AtLeast is a target "this is at least x times faster than the peer".
func AtLeast(x float64) func(float64) bool { return func(s float64) bool { return s >= x } }

// zeroAllocsTarget matches target text that asks for no allocations.
var zeroAllocsTarget = regexp.MustCompile(`\b0 (Go )?alloc`)

// checkRows reports mistakes in the declared rows: a name used twice (bounds and the history
// find rows by name), a bound naming no row, a target whose "0 allocs" is not checked, a
// zero-allocation check on a criterion bench (it reports no allocations), and text with a
// "|", which would break the table.
func checkRows(rs []Row) error {
	var errs []error
	names := map[string]bool{}
	for _, r := range rs {
		if names[r.Name] {
			errs = append(errs, fmt.Errorf("row %q declared twice", r.Name))
		}
		names[r.Name] = true
	}
	for _, r := range rs {
		if r.Bound.Row != "" && !names[r.Bound.Row] {
			errs = append(errs, fmt.Errorf("row %q: its bound names no row: %q", r.Name, r.Bound.Row))
		}
		if (r.Bound.Row == "") != (r.Bound.Why == "") {
			errs = append(errs, fmt.Errorf("row %q: a bound needs both Row and Why", r.Name))
		}
		if zeroAllocsTarget.MatchString(r.Target) != r.ZeroAllocs {
			errs = append(errs, fmt.Errorf("row %q: the target asks for 0 allocations exactly when ZeroAllocs is set", r.Name))
		}
		if r.ZeroAllocs && !strings.HasPrefix(r.Bench, "go:") {
			errs = append(errs, fmt.Errorf("row %q: ZeroAllocs needs a Go benchmark", r.Name))
		}
		if strings.Contains(r.Name+r.Target+r.Bound.Why, "|") {
			errs = append(errs, fmt.Errorf("row %q: no \"|\" in a name, target or bound", r.Name))
		}
	}
	return errors.Join(errs...)
}

func main() {
	critDir := flag.String("criterion", "target/criterion", "criterion output directory")
	goOut := flag.String("go", "target/bench/go.txt", "`go test -bench` output")
	out := flag.String("out", "BENCHMARKS.md", "file to write")
	history := flag.String("history", "", "history of earlier runs (default: docs/bench-history.md in the directory of -out; \"off\": none)")
	record := flag.String("record", "", "only add the summary of this BENCHMARKS.md (an earlier version, say from git) to the history, and exit")
	flag.Parse()
	if *history == "" {
		*history = filepath.Join(filepath.Dir(*out), "docs", "bench-history.md")
	}
	if err := errors.Join(rowsErr, checkRows(rows)); err != nil {
		fatal(err)
	}
	if *record != "" {
		if *history == "off" {
			fatal(errors.New("-record needs a history"))
		}
		old, err := os.ReadFile(*record)
		if err != nil {
			fatal(err)
		}
		added, err := addToHistory(*history, string(old))
		if err != nil {
			fatal(err)
		}
		fmt.Printf("benchreport: %s: %s\n", *history, added)
		return
	}

	missing, err := generate(*critDir, *goOut, *out, *history, time.Now())
	if err != nil {
		fatal(err)
	}
	if missing > 0 {
		fatal(fmt.Errorf("%d declared benchmarks or peers did not run", missing))
	}
}

// generate writes out from the results in critDir and goOut, made at now, after adding the
// summary of the file it replaces to history ("off": none). It returns how many declared
// benchmarks or peers did not run.
func generate(critDir, goOut, out, history string, now time.Time) (missing int, err error) {
	results := map[string]*result{}
	if err := parseCriterion(critDir, results); err != nil {
		return 0, err
	}
	if err := parseGo(goOut, results); err != nil {
		return 0, err
	}
	old, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	prev := parseSummary(string(old))
	lines, missing := evaluate(rows, results)
	run := runInfo{when: now.UTC().Format(stampLayout), machine: machine(), commit: commit(filepath.Dir(out), out, history)}
	report := render(run, lines, prev, keptSections(string(old)))
	if history != "off" && prev.when != "" {
		added, err := addToHistory(history, string(old))
		if err != nil {
			return 0, err
		}
		fmt.Printf("benchreport: %s: %s\n", history, added)
	}
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		return 0, err
	}
	fmt.Printf("benchreport: wrote %s (%d rows)\n", out, len(rows))
	for _, l := range lines {
		if l.met == "no" && l.ran && !l.allocsMissed && !l.peerMissing && l.row.Bound.Row == "" {
			fmt.Fprintf(os.Stderr, "benchreport: %q misses its target and states no bound (add a bound in rows.txt)\n", l.row.Name)
		}
	}
	return missing, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}
