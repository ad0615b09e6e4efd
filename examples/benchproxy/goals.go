package main

import (
	"fmt"
	"strings"

	"github.com/offheap/offheap/examples/internal/payload"
)

// The goals the offheap proxy is held to in every workload, beside its peers in the same run.
const (
	goalVsNginx       = 1.0      // requests per CPU-second, at least this times nginx's
	goalVsHTTPUtil    = 2.0      // ... and this times httputil.ReverseProxy's
	goalAllocsKept    = 2.0      // Go allocations per request on kept-alive connections
	goalAllocsNewConn = 10.0     // Go allocations per new connection (churn)
	goalIdleRSS       = 4 << 10  // RSS per idle client connection, bytes
	goalIdleUpstream  = poolSize // upstream connections held with every client idle
)

var goalHeads = []string{
	fmt.Sprintf("req / CPU-s ≥ %.1fx nginx", goalVsNginx),
	fmt.Sprintf("req / CPU-s ≥ %.0fx httputil", goalVsHTTPUtil),
	"p99 no worse than httputil's",
	fmt.Sprintf("Go allocs ≤ %.0f / req kept alive, ≤ %.0f / new connection", goalAllocsKept, goalAllocsNewConn),
	"0 errors",
	fmt.Sprintf("RSS ≤ %s / idle client connection", fmtBytes(goalIdleRSS)),
	fmt.Sprintf("upstream connections held by idle clients: none beyond the pool (%d)", goalIdleUpstream),
}

// goalsTable writes the goals of the offheap proxy run as target key (offheap or offheap-go),
// one row per workload and body size, met or not met.
func goalsTable(b *strings.Builder, x *runs, workloads []*workload, key string) {
	label := ""
	for _, r := range x.results {
		if r.target.key == key {
			label = r.target.label
		}
	}
	for _, r := range x.idles {
		if r.target.key == key {
			label = r.target.label
		}
	}
	if label == "" {
		return
	}
	fmt.Fprintf(b, "### Goals of %s, met or not met in this run\n\n", label)
	b.WriteString("| workload | body | " + strings.Join(goalHeads, " | ") + " |\n")
	b.WriteString("|---|---|" + strings.Repeat("---|", len(goalHeads)) + "\n")
	for _, w := range workloads {
		if w.idle {
			b.WriteString("| " + w.key + " | 2 B | " + strings.Join(idleGoals(x.idle(key), x, key), " | ") + " |\n")
			continue
		}
		for _, s := range w.sizes {
			b.WriteString("| " + w.key + " | " + s.Name + " | " + strings.Join(loadGoals(x, w, s, key), " | ") + " |\n")
		}
	}
	b.WriteString("\n")
}

// loadGoals returns the cells of one load workload's row.
func loadGoals(x *runs, w *workload, s payload.Size, key string) []string {
	cells := make([]string, len(goalHeads))
	cells[5], cells[6] = "–", "–" // the idle workload's
	o := x.find(w.key, key, s)
	if o == nil {
		for i := range 5 {
			cells[i] = "not measured" + skipReason(x, w.key, key)
		}
		return cells
	}
	ratio := func(peer string, want float64) string {
		p := x.find(w.key, peer, s)
		if p == nil || p.reqPerCPU() == 0 || o.reqPerCPU() == 0 {
			return peer + " not measured"
		}
		r := o.reqPerCPU() / p.reqPerCPU()
		if r >= want || o.reqPerSysCPU() == 0 {
			return fmt.Sprintf("%.2fx: %s", r, metStr(r >= want))
		}
		// The bound of a miss: the same system calls with no user time at all.
		bound := o.reqPerSysCPU() / p.reqPerCPU()
		reach := "within reach"
		if bound < want {
			reach = "out of reach with these system calls"
		}
		return fmt.Sprintf("%.2fx: %s; kernel time alone: %.2fx, %s", r, metStr(false), bound, reach)
	}
	cells[0] = ratio("nginx", goalVsNginx)
	cells[1] = ratio("httputil", goalVsHTTPUtil)
	if p := x.find(w.key, "httputil", s); p != nil {
		cells[2] = fmt.Sprintf("%s vs %s: %s", fmtDur(o.load.P99), fmtDur(p.load.P99), metStr(o.load.P99 <= p.load.P99))
	} else {
		cells[2] = "httputil not measured"
	}
	switch {
	case !o.goStats:
		cells[3] = "no Go stats"
	case w.close:
		cells[3] = fmt.Sprintf("%.1f / new connection: %s", o.allocsPerReq(), metStr(o.allocsPerReq() <= goalAllocsNewConn))
	default:
		cells[3] = fmt.Sprintf("%.1f / req: %s", o.allocsPerReq(), metStr(o.allocsPerReq() <= goalAllocsKept))
	}
	cells[4] = fmt.Sprintf("%d: %s", o.errors(), metStr(o.errors() == 0))
	return cells
}

// idleGoals returns the cells of the idle workload's row (r nil: not measured).
func idleGoals(r *idleResult, x *runs, key string) []string {
	cells := make([]string, len(goalHeads))
	for i := range cells {
		cells[i] = "–"
	}
	if r == nil {
		for i := 4; i < len(cells); i++ {
			cells[i] = "not measured" + skipReason(x, wIdle, key)
		}
		return cells
	}
	cells[4] = fmt.Sprintf("%d: %s", r.errors, metStr(r.errors == 0))
	rss := r.perConn(rssOf)
	cells[5] = fmt.Sprintf("%s: %s", fmtBytes(rss), metStr(r.conns > 0 && rss <= goalIdleRSS))
	cells[6] = fmt.Sprintf("%d held: %s", r.upHeld, metStr(r.upHeld <= goalIdleUpstream))
	return cells
}

// skipReason returns " (reason)" when target key was skipped in workload w.
func skipReason(x *runs, w, key string) string {
	for _, r := range x.results {
		if r.workload.key == w && r.target.key == key && r.skip != "" {
			return " (" + r.skip + ")"
		}
	}
	for _, r := range x.idles {
		if w == wIdle && r.target.key == key && r.skip != "" {
			return " (" + r.skip + ")"
		}
	}
	return ""
}

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}
