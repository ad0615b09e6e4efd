package main

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/offheap/offheap/examples/internal/payload"
	"github.com/offheap/offheap/tests/host"
)

const (
	markStart = "<!-- bench-proxy:start -->"
	markEnd   = "<!-- bench-proxy:end -->"
)

type settings struct {
	loader      string
	pin         string
	workersFlag string // how examples/proxy got 2 engine workers in cores2
	cores2CPUs  string // the CPUs of the proxy in cores2 ("" when nothing is pinned)
	nofile      uint64 // the open files limit of the driver and its children
	maxConns    int    // the Go proxies' upstream connection limit (0: none)
}

// runs indexes the results of one bench-proxy run.
type runs struct {
	results []result
	idles   []idleResult
}

func (x *runs) find(w, key string, s payload.Size) *result {
	for i := range x.results {
		r := &x.results[i]
		if r.workload.key == w && r.target.key == key && r.size == s && r.skip == "" {
			return r
		}
	}
	return nil
}

func (x *runs) idle(key string) *idleResult {
	for i := range x.idles {
		if x.idles[i].target.key == key && x.idles[i].skip == "" {
			return &x.idles[i]
		}
	}
	return nil
}

// maxConnsDesc says how the proxies' upstream connections were limited.
func maxConnsDesc(n int) string {
	if n <= 0 {
		return "No proxy limits its upstream connections. "
	}
	return fmt.Sprintf("Both Go proxies open at most %d connections to the upstream (httputil: http.Transport's MaxConnsPerHost; "+
		"offheap: -max-conns, Config.MaxConnsPerUpstream, per engine worker); requests beyond wait for one (in c5000, "+
		"which has more in flight). nginx dials as many as it needs: the open-source upstream module has no request queue "+
		"(its max_conns fails the requests beyond). ", n)
}

// report renders the bench-proxy block of BENCHMARKS.md, markers included.
func report(results []result, idles []idleResult, workloads []*workload, s settings) string {
	x := &runs{results: results, idles: idles}
	var b strings.Builder
	b.WriteString(markStart + "\n## Reverse proxy (`make bench-proxy`)\n\n")
	fmt.Fprintf(&b, "Written by `make bench-proxy` on %s. Machine: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "Method: loopback (127.0.0.1), %s; %s. Go upstream (net/http) serving 2 B, 16 KiB and 1 MiB bodies, "+
		"each checked through every proxy before its runs. Per workload, target and body size: a warm-up, then a measured run (%s). "+
		"CPU is the measured process's user+system time (/proc/<pid>/stat) during the measured run (for nginx: master and workers; "+
		"for \"no proxy\": the upstream). Go GC cycles and allocations come from the process's /debug/gcstats (runtime.MemStats; cgo calls: "+
		"runtime.NumCgoCall) right before and after (less what one read of that endpoint allocates). Errors: the load generator's "+
		"(socket errors, timeouts, non-2xx responses, wrong body lengths) in the warm-up and the measured run, and the upstream's failed "+
		"upload checks. nginx: one worker (two in cores2), upstream keepalive 64, access log off, proxy_buffers 8 64k, no temp files, "+
		"request bodies streamed as the Go proxies do (proxy_request_buffering off, client_body_buffer_size 64k). "+
		"httputil.ReverseProxy: a keep-alive pool of 64 idle upstream connections and a sync.Pool of 32 KiB buffers. "+
		"%s"+
		"A requests-per-CPU-second goal that is missed names its bound, \"kernel time alone\": the proxy's requests per second of its "+
		"system time only (/proc/<pid>/stat field 15), what it would make with the same system calls and no time of its own; below "+
		"the goal, no change to the proxy's own code reaches it without fewer or cheaper system calls. "+
		"Open files: %d per process (RLIMIT_NOFILE raised to the hard limit).\n\n",
		loaderDesc(s.loader), s.pin, durations(workloads), maxConnsDesc(s.maxConns), s.nofile)

	for _, mode := range []string{"offheap", "offheap-go"} {
		goalsTable(&b, x, workloads, mode)
	}
	for _, w := range workloads {
		fmt.Fprintf(&b, "### %s (`-workloads %s`)\n\n", w.title, w.key)
		if w.idle {
			idleSection(&b, x, w)
			continue
		}
		fmt.Fprintf(&b, "Load: %s.\n\n", w.method)
		if w.cores == 2 {
			fmt.Fprintf(&b, "The proxy is pinned to CPUs %s (taskset): GOMAXPROCS=2 for Go proxies and two nginx workers; %s. "+
				"What this run can and cannot show: the second core is the one the load generator and the upstream run on, so it "+
				"shows what a proxy does with a second core it must share: whether its CPU per request grows when its work spreads "+
				"over two cores (cross-core wake-ups, locks, cache traffic) and whether it takes spare cycles of that core. It cannot "+
				"show how a proxy scales to two cores of its own: its req/s is bounded by the shared core, so it is no scaling "+
				"figure; requests per CPU-second stay comparable between proxies. The 1-core figures beside are the keepalive "+
				"workload's, from this run.\n\n", cmp.Or(s.cores2CPUs, "(none: only one CPU)"), s.workersFlag)
		}
		workloadTable(&b, x, w)
		if w.cores == 2 {
			coresTable(&b, x, w)
		}
		if w.key == wKeepalive {
			ceilingTable(&b, x, w)
		}
	}
	b.WriteString(markEnd + "\n")
	return b.String()
}

// durations lists the warm-up and measured run of each workload, and says why the others'
// are shorter than keepalive's when they are.
func durations(workloads []*workload) string {
	var out []string
	var keep time.Duration
	shorter := false
	for _, w := range workloads {
		if w.idle {
			continue
		}
		out = append(out, fmt.Sprintf("%s %v + %v", w.key, w.warmup, w.d))
		if w.key == wKeepalive {
			keep = w.d
		} else if keep > 0 && w.d < keep {
			shorter = true
		}
	}
	d := "warm-up + measured: " + strings.Join(out, ", ")
	if shorter {
		d += "; the workloads after keepalive run shorter measured runs (-d-others) to keep the whole run under 15 minutes, " +
			"which leaves their p99 less steady"
	}
	return d
}

// workloadTable writes one row per target and body size of load workload w.
func workloadTable(b *strings.Builder, x *runs, w *workload) {
	allocs := "Go allocs / req"
	if w.close {
		allocs = "Go allocs / new conn"
	}
	body := "body"
	if w.upload {
		body = "POST body"
	}
	fmt.Fprintf(b, "| target | %s | req/s | p50 | p99 | p99 vs httputil | CPU-s / 1k req | req / CPU-s | vs nginx | vs httputil | "+
		"Go GC cycles | %s | cgo calls / req | errors |\n", body, allocs)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range x.results {
		if r.workload != w {
			continue
		}
		if r.skip != "" {
			fmt.Fprintf(b, "| %s | %s | %s |%s\n", r.target.label, r.size.Name, r.skip, strings.Repeat(" |", 11))
			continue
		}
		gc, al, cgo := "n/a", "n/a", "n/a"
		if r.goStats {
			gc, al, cgo = fmt.Sprint(r.gcCycles), fmt.Sprintf("%.1f", r.allocsPerReq()), fmt.Sprintf("%.1f", r.cgoPerReq())
		}
		label := r.target.label
		if r.target.key == "direct" {
			label += " (CPU, GC: the upstream's)"
		}
		ratio := func(peer string, f func(*result) float64) string {
			p := x.find(w.key, peer, r.size)
			if p == nil || f(p) == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2fx", f(&r)/f(p))
		}
		p99 := func(q *result) float64 { return float64(q.load.P99) }
		perCPU := func(q *result) float64 { return q.reqPerCPU() }
		errs := fmt.Sprint(r.errors())
		if r.upFailures > 0 {
			errs += fmt.Sprintf(" (%d failed the upstream's check)", r.upFailures)
		}
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %s | %s | %.3f | %.0f | %s | %s | %s | %s | %s | %s |\n", label, r.size.Name,
			r.load.RPS, fmtDur(r.load.P50), fmtDur(r.load.P99), ratio("httputil", p99), r.cpuPer1k(), r.reqPerCPU(),
			ratio("nginx", perCPU), ratio("httputil", perCPU), gc, al, cgo, errs)
	}
	b.WriteString("\n")
}

// coresTable writes the 2-core figures of w beside the keepalive workload's 1-core ones.
func coresTable(b *strings.Builder, x *runs, w *workload) {
	b.WriteString("| target | body | req/s, 1 core | req/s, 2 cores | req / CPU-s, 1 core | req / CPU-s, 2 cores | p99, 1 core | p99, 2 cores |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range x.results {
		if r.workload != w || r.skip != "" {
			continue
		}
		one := x.find(wKeepalive, r.target.key, r.size)
		if one == nil {
			fmt.Fprintf(b, "| %s | %s | not measured | %.0f | not measured | %.0f | not measured | %s |\n",
				r.target.label, r.size.Name, r.load.RPS, r.reqPerCPU(), fmtDur(r.load.P99))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s |\n", r.target.label, r.size.Name,
			one.load.RPS, r.load.RPS, one.reqPerCPU(), r.reqPerCPU(), fmtDur(one.load.P99), fmtDur(r.load.P99))
	}
	b.WriteString("\n")
}

// ceilingTable writes the native ceiling against the peers of w.
func ceilingTable(b *strings.Builder, x *runs, w *workload) {
	if x.find(w.key, "ceiling", w.sizes[0]) == nil {
		return
	}
	b.WriteString("The bound of these figures on this machine: the native ceiling (one thread of native code, its own epoll loop, " +
		"the same syscalls and head work as examples/proxy, nothing of Go's runtime; not a proxy to use) against the same peers:\n\n")
	b.WriteString("| native ceiling |")
	for _, s := range w.sizes {
		b.WriteString(" " + s.Name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(w.sizes)) + "\n")
	for _, peer := range []struct{ key, name string }{{"httputil", "requests per CPU-second vs httputil.ReverseProxy"},
		{"nginx", "requests per CPU-second vs nginx"}, {"offheap", "requests per CPU-second vs examples/proxy"}} {
		b.WriteString("| " + peer.name + " |")
		for _, s := range w.sizes {
			c, p := x.find(w.key, "ceiling", s), x.find(w.key, peer.key, s)
			if c == nil || p == nil || c.reqPerCPU() == 0 || p.reqPerCPU() == 0 {
				b.WriteString(" not measured |")
				continue
			}
			fmt.Fprintf(b, " %.2fx |", c.reqPerCPU()/p.reqPerCPU())
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// idleSection writes the method and the table of the idle workload.
func idleSection(b *strings.Builder, x *runs, w *workload) {
	fmt.Fprintf(b, "Method: each proxy starts afresh and is warmed with %d GETs on %d connections (which fills its pool of "+
		"upstream connections). Then, after a forced GC in Go proxies (GET /debug/pprof/heap?gc=1), the driver reads its RSS (VmRSS "+
		"of /proc/<pid>/status, nginx: master and workers), Go heap (HeapAlloc) and Go stacks (StackInuse) from /debug/gcstats, and "+
		"offheap's Rust heap in use (offheap.ReadRustStats, through the same endpoint). The Go client then opens %d keep-alive "+
		"connections, %d dials at a time, sends one GET of 2 B on each and leaves them idle; %v after the last one, the same "+
		"readings again (after a forced GC). Per connection: the growth divided by the connections open. Upstream connections: "+
		"ESTABLISHED sockets to the upstream's port (/proc/net/tcp), before and with every client idle. Last, the client checks "+
		"that every connection is still open (a closed one counts as an error).\n\n",
		idleWarmRequests, poolSize, w.conns, clientDialers, idleSettle)
	b.WriteString("| target | idle client connections | RSS before | RSS idle | RSS / connection | Go heap / connection | " +
		"Go stacks / connection | Rust heap / connection | upstream connections (before → idle) | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range x.idles {
		if r.skip != "" {
			fmt.Fprintf(b, "| %s | %s |%s\n", r.target.label, r.skip, strings.Repeat(" |", 8))
			continue
		}
		goHeap, goStack, rust := "n/a", "n/a", "n/a"
		if r.goStats {
			goHeap, goStack, rust = fmtBytes(r.perConn(goHeapOf)), fmtBytes(r.perConn(goStackOf)), fmtBytes(r.perConn(rustOf))
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %d → %d | %d |\n", r.target.label, r.conns,
			fmtBytes(float64(r.before.rss)), fmtBytes(float64(r.after.rss)), fmtBytes(r.perConn(rssOf)),
			goHeap, goStack, rust, r.upBefore, r.upHeld, r.errors)
	}
	b.WriteString("\n")
}

// fmtBytes formats a byte count: B below 10 KiB, then KiB, MiB.
func fmtBytes(n float64) string {
	switch a := max(n, -n); {
	case a >= 10<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case a >= 10<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", n)
	}
}

func loaderDesc(l string) string {
	if l == "go" {
		return "the Go client of examples/benchproxy for every workload (smoke run)"
	}
	return "wrk -t1 --latency (" + firstLine("wrk", "-v") + "), and the Go client of examples/benchproxy where wrk cannot serve (c5000, idle)"
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

// firstLine runs a command and returns the first line of its output ("?" on failure).
func firstLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	l = strings.TrimSpace(strings.SplitN(l, "Copyright", 2)[0])
	if l == "" {
		return "?"
	}
	return l
}

func machine() string {
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	nginx := "nginx not installed"
	if bin := nginxBin(); bin != "" {
		nginx = strings.TrimPrefix(firstLine(bin, "-v"), "nginx version: ")
	}
	return fmt.Sprintf("%s, %d cores, Linux %s, %s, %s", host.CPUModel(), runtime.NumCPU(), kernel, runtime.Version(), nginx)
}

// writeBlock replaces the bench-proxy block of the file at path (or appends it; or creates the
// file) and leaves everything else as it was.
func writeBlock(path, block string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(replaceBlock(string(old), block)), 0o644)
}

func replaceBlock(old, block string) string {
	if old == "" {
		return "# offheap benchmarks\n\n" + block
	}
	i := strings.Index(old, markStart)
	j := strings.Index(old, markEnd)
	if i >= 0 && j > i {
		rest := old[j+len(markEnd):]
		rest = strings.TrimPrefix(rest, "\n")
		return old[:i] + block + rest
	}
	if !strings.HasSuffix(old, "\n") {
		old += "\n"
	}
	return old + "\n" + block
}
