// Command benchreport turns one run of offheap's benchmarks (criterion's JSON and `go test
// -bench` output) into BENCHMARKS.md: per section a table of each benchmark beside its peer
// from the same run, the ratio, and the target it is held to. Rows are declared in rows_*.go,
// one file per subsystem. A declared benchmark that did not run is reported and fails the tool.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Row is one line of BENCHMARKS.md.
type Row struct {
	Section string
	Name    string
	// Bench and Peer name results: "go:Crossing/cgo_empty" (a `go test -bench` name without the
	// Benchmark prefix and -GOMAXPROCS suffix) or "criterion:ffi/handle_lookup" (criterion's
	// full id). Peer may be empty.
	Bench, Peer string
	// Metric is the unit compared ("ns/op" when empty; or a b.ReportMetric unit such as
	// "ns/sample"). Criterion results are always in ns per iteration.
	Metric string
	// Target describes the goal; Met decides it from speedup = peer value / bench value (so
	// higher is better for time-like metrics). Nil Met means no target.
	Target string
	Met    func(speedup float64) bool
	// Max and MinMBs are absolute targets: the value (in Metric's unit) at most Max, or the
	// throughput at least MinMBs MB/s. Zero means none.
	Max, MinMBs float64
}

var rows []Row

func register(r ...Row) { rows = append(rows, r...) }

// AtMost is a target "this costs at most x times the peer".
func AtMost(x float64) func(float64) bool { return func(s float64) bool { return 1/s <= x } }

// AtLeast is a target "this is at least x times faster than the peer".
func AtLeast(x float64) func(float64) bool { return func(s float64) bool { return s >= x } }

type result struct {
	metrics map[string][]float64 // unit -> samples (one per -count)
}

func (r *result) median(unit string) (float64, bool) {
	v := append([]float64(nil), r.metrics[unit]...)
	if len(v) == 0 {
		return 0, false
	}
	sort.Float64s(v)
	return v[len(v)/2], true
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parseGo(path string, into map[string]*result) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key := "go:" + m[1]
		r := into[key]
		if r == nil {
			r = &result{metrics: map[string][]float64{}}
			into[key] = r
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			r.metrics[fields[i+1]] = append(r.metrics[fields[i+1]], v)
		}
	}
	return sc.Err()
}

func parseCriterion(dir string, into map[string]*result) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Name() != "benchmark.json" || filepath.Base(filepath.Dir(path)) != "new" {
			return nil
		}
		var meta struct {
			FullID     string `json:"full_id"`
			Throughput *struct {
				Bytes    *float64 `json:"Bytes"`
				Elements *float64 `json:"Elements"`
			} `json:"throughput"`
		}
		var est struct {
			Median struct {
				Point float64 `json:"point_estimate"`
			} `json:"median"`
		}
		if err := readJSON(path, &meta); err != nil {
			return err
		}
		if err := readJSON(filepath.Join(filepath.Dir(path), "estimates.json"), &est); err != nil {
			return err
		}
		r := &result{metrics: map[string][]float64{"ns/op": {est.Median.Point}}}
		if t := meta.Throughput; t != nil && t.Bytes != nil && est.Median.Point > 0 {
			r.metrics["MB/s"] = []float64{*t.Bytes / est.Median.Point * 1e3}
		}
		into["criterion:"+meta.FullID] = r
		return nil
	})
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%f", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", kb/1024/1024)
	}
	rustc := "rustc ?"
	if out, err := exec.Command("rustc", "--version").Output(); err == nil {
		rustc = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s, %s", model, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, rustc)
}

func fmtValue(v float64, unit string) string {
	switch {
	case unit != "ns/op" && unit != "":
		return fmt.Sprintf("%.4g %s", v, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.3g ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3g µs", v/1e3)
	default:
		return fmt.Sprintf("%.3g ns", v)
	}
}

func main() {
	critDir := flag.String("criterion", "target/criterion", "criterion output directory")
	goOut := flag.String("go", "target/bench/go.txt", "`go test -bench` output")
	out := flag.String("out", "BENCHMARKS.md", "file to write")
	flag.Parse()

	results := map[string]*result{}
	if err := parseCriterion(*critDir, results); err != nil {
		fatal(err)
	}
	if err := parseGo(*goOut, results); err != nil {
		fatal(err)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# offheap benchmarks\n\nWritten by `make bench` on %s.\n\nMachine: %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	b.WriteString("Every ratio compares two results of this one run on this one machine; absolute times drift\n" +
		"between runs on a shared machine, ratios much less. Go results are medians of `-count 3`,\n" +
		"criterion results are medians of its samples. Speedup = peer time / offheap time.\n")

	missing := 0
	section := ""
	for _, r := range rows {
		if r.Section != section {
			section = r.Section
			fmt.Fprintf(&b, "\n## %s\n\n| benchmark | result | MB/s | allocs/op | peer | speedup | target | met |\n|---|---|---|---|---|---|---|---|\n", section)
		}
		unit := r.Metric
		if unit == "" {
			unit = "ns/op"
		}
		res, ok := results[r.Bench]
		var v float64
		if ok {
			v, ok = res.median(unit)
		}
		if !ok {
			missing++
			fmt.Fprintf(&b, "| %s | **not run** (`%s`) | | | | | %s | no |\n", r.Name, r.Bench, r.Target)
			continue
		}
		mbs, allocs := "", ""
		if x, ok := res.median("MB/s"); ok {
			mbs = fmt.Sprintf("%.0f", x)
		}
		if x, ok := res.median("allocs/op"); ok {
			allocs = fmt.Sprintf("%.0f", x)
		}
		peer, speedup, met := "", "", ""
		if r.Peer != "" {
			peer = strings.SplitN(r.Peer, ":", 2)[1]
			pres, ok := results[r.Peer]
			var pv float64
			if ok {
				pv, ok = pres.median(unit)
			}
			if !ok || v == 0 {
				missing++
				speedup = "**peer not run**"
			} else {
				s := pv / v
				speedup = fmt.Sprintf("%.2fx", s)
				if r.Met != nil {
					met = "no"
					if r.Met(s) {
						met = "yes"
					}
				}
			}
		}
		if r.Max > 0 || r.MinMBs > 0 {
			ok := r.Max == 0 || v <= r.Max
			if r.MinMBs > 0 {
				x, has := res.median("MB/s")
				ok = ok && has && x >= r.MinMBs
			}
			if met == "" || met == "yes" {
				met = map[bool]string{true: "yes", false: "no"}[ok]
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Name, fmtValue(v, unit), mbs, allocs, peer, speedup, r.Target, met)
	}
	// Sections written by other targets (make bench-proxy) live between markers and are kept.
	if old, err := os.ReadFile(*out); err == nil {
		for _, sec := range keptSections(string(old)) {
			b.WriteString("\n" + sec + "\n")
		}
	}
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fatal(err)
	}
	fmt.Printf("benchreport: wrote %s (%d rows)\n", *out, len(rows))
	if missing > 0 {
		fatal(fmt.Errorf("%d declared benchmarks or peers did not run", missing))
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}

// keptSections returns the blocks of old between "<!-- NAME:start -->" and "<!-- NAME:end -->"
// markers, markers included: sections other targets own.
func keptSections(old string) []string {
	var out []string
	for {
		i := strings.Index(old, "<!-- ")
		if i < 0 {
			return out
		}
		rest := old[i:]
		j := strings.Index(rest, ":start -->")
		if j < 0 {
			return out
		}
		name := rest[len("<!-- "):j]
		end := "<!-- " + name + ":end -->"
		k := strings.Index(rest, end)
		if k < 0 {
			return out
		}
		out = append(out, rest[:k+len(end)])
		old = rest[k+len(end):]
	}
}
