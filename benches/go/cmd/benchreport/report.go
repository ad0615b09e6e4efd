package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/offheap/offheap/tests/host"
)

// stampLayout is how BENCHMARKS.md and the history date a run.
const stampLayout = "2006-01-02 15:04 UTC"

// runInfo says when, where and on which code a run was made.
type runInfo struct{ when, machine, commit string }

// guide opens BENCHMARKS.md: how to read its tables.
const guide = `How to read the tables:
- **result** is the median cost of one operation of the benchmark (its unit says what an
  operation is): Go results are medians of ` + "`-count 3`" + `, criterion results the median of its samples.
- **speedup** is the peer's result divided by this row's, both from this run and in the same
  unit: above 1x the row does better than its peer (faster, or less of what is measured), below
  1x worse.
- **target** is what the row is held to and **met** whether this run meets it. A row that misses
  names its bound: the row measuring the best any version of it could reach on this machine
  (the same work without the cgo crossing, with no relay hop at all, ...). When the bound misses
  the target too, the target is out of reach here; when the bound meets it, the gap is the row's
  own cost. A row whose verdict changed since the previous run says what it was then.
- Every ratio comes from this one run on this one machine. Absolute times drift between runs on
  a shared machine, ratios less, but a ratio near 1x or near its target can land on either side
  from one run to the next: compare with earlier runs in docs/bench-history.md before reading a
  change into it. docs/benchmarks.md describes the method.
`

// line is a row evaluated against one run's results.
type line struct {
	row         Row
	ran         bool
	value       float64
	unit        string
	mbs, allocs string // table cells, empty when not reported
	peer        string // the peer's name as shown
	speedup     string // "1.23x", or why there is none
	met         string // "", "yes" or "no"
	// allocsMissed is set when the only check missed is ZeroAllocs; peerMissing when a ratio
	// target cannot be judged because the peer did not run.
	allocsMissed, peerMissing bool
}

// evaluate computes every row's cells from results; missing counts benchmarks and peers that
// did not run.
func evaluate(rs []Row, results map[string]*result) (lines []line, missing int) {
	for _, r := range rs {
		l := line{row: r, unit: r.Metric}
		if l.unit == "" {
			l.unit = "ns/op"
		}
		res, ok := results[r.Bench]
		if ok {
			l.value, ok = res.median(l.unit)
		}
		if !ok {
			missing++
			l.met = "no"
			lines = append(lines, l)
			continue
		}
		l.ran = true
		mbs, hasMBs := res.median("MB/s")
		if hasMBs {
			l.mbs = fmt.Sprintf("%.0f", mbs)
		}
		allocs, hasAllocs := res.median("allocs/op")
		if hasAllocs {
			l.allocs = fmt.Sprintf("%.0f", allocs)
		}
		var checks []bool // the ratio and absolute targets
		allocsOK := true
		if r.Peer != "" {
			l.peer = strings.SplitN(r.Peer, ":", 2)[1]
			peerUnit := r.PeerMetric
			if peerUnit == "" {
				peerUnit = l.unit
			}
			pres, ok := results[r.Peer]
			var pv float64
			if ok {
				pv, ok = pres.median(peerUnit)
			}
			if !ok || l.value == 0 {
				missing++
				l.speedup = "**peer not run**"
				if r.Met != nil {
					l.peerMissing = true
					checks = append(checks, false)
				}
			} else {
				s := pv / l.value
				l.speedup = fmt.Sprintf("%.2fx", s)
				if r.Met != nil {
					checks = append(checks, r.Met(s))
				}
			}
		}
		if r.Max > 0 {
			checks = append(checks, l.value <= r.Max)
		}
		if r.MinMBs > 0 {
			checks = append(checks, hasMBs && mbs >= r.MinMBs)
		}
		if r.ZeroAllocs {
			allocsOK = hasAllocs && allocs == 0
		}
		if len(checks) > 0 || r.ZeroAllocs {
			l.met = "yes"
			if !all(checks) || !allocsOK {
				l.met = "no"
				l.allocsMissed = all(checks) && !allocsOK
			}
		}
		lines = append(lines, l)
	}
	return lines, missing
}

// all reports whether every check passed (true for none).
func all(v []bool) bool {
	for _, b := range v {
		if !b {
			return false
		}
	}
	return true
}

// asBound is the row's result as the bound of another row quotes it: its speedup for a row
// held to a ratio, else its value.
func (l *line) asBound(of Row) string {
	switch {
	case !l.ran:
		return "not run"
	case of.Met != nil && l.peer != "":
		return l.speedup
	default:
		return fmtValue(l.value, l.unit)
	}
}

// metCell is the met column: the verdict, for a miss what bounds it, and the verdict of the
// previous run when it differs.
func metCell(l *line, byName map[string]*line, prev summary) string {
	cell := l.met
	if l.met == "no" && l.ran {
		switch {
		case l.peerMissing:
			cell += ": peer not run"
		case l.allocsMissed && l.allocs == "":
			cell += ": allocations not reported"
		case l.allocsMissed:
			cell += ": " + l.allocs + " allocs/op"
		case l.row.Bound.Row != "":
			cell += fmt.Sprintf("; bound: %s (row \"%s\": %s)", l.row.Bound.Why, l.row.Bound.Row, byName[l.row.Bound.Row].asBound(l.row))
		default:
			cell += "; bound not stated"
		}
	}
	if p, ok := prev.rows[l.row.Name]; ok && l.met != "" && p.met != "" && p.met != l.met {
		was := p.speedup
		if was == "" {
			was = p.result
		}
		cell += fmt.Sprintf("; was %s (%s) on %s", p.met, was, prev.when)
	}
	return cell
}

// render writes BENCHMARKS.md: the run, the reading guide, a table per section, then the
// sections other targets own (kept as they were).
func render(run runInfo, lines []line, prev summary, kept []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# offheap benchmarks\n\nWritten by `make bench` on %s", run.when)
	if run.commit != "" {
		fmt.Fprintf(&b, ", code at commit %s", run.commit)
	}
	fmt.Fprintf(&b, ".\n\nMachine: %s.\n\n%s", run.machine, guide)
	byName := map[string]*line{}
	for i := range lines {
		byName[lines[i].row.Name] = &lines[i]
	}
	section := ""
	for i := range lines {
		l := &lines[i]
		if l.row.Section != section {
			section = l.row.Section
			fmt.Fprintf(&b, "\n## %s\n\n| benchmark | result | MB/s | allocs/op | peer | speedup | target | met |\n|---|---|---|---|---|---|---|---|\n", section)
		}
		if !l.ran {
			fmt.Fprintf(&b, "| %s | **not run** (`%s`) | | | | | %s | no |\n", l.row.Name, l.row.Bench, l.row.Target)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l.row.Name, fmtValue(l.value, l.unit),
			l.mbs, l.allocs, l.peer, l.speedup, l.row.Target, metCell(l, byName, prev))
	}
	for _, sec := range kept {
		b.WriteString("\n" + sec + "\n")
	}
	return b.String()
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

// machine describes the CPU, memory and toolchains of this run.
func machine() string {
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
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s, %s", host.CPUModel(), runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, rustc)
}

// commit names the code measured: the checkout's HEAD in dir, "with uncommitted changes" when
// tracked files other than the ones this tool writes differ from it; "" outside git.
func commit(dir string, written ...string) string {
	rev, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	args := []string{"-C", dir, "status", "--porcelain", "--untracked-files=no", "--", "."}
	for _, w := range written {
		if rel, err := filepath.Rel(dir, w); err == nil {
			args = append(args, ":(exclude)"+rel)
		}
	}
	c := strings.TrimSpace(string(rev))
	if st, err := exec.Command("git", args...).Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " with uncommitted changes"
	}
	return c
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
