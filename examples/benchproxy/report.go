package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/offheap/offheap/examples/internal/payload"
)

const (
	markStart = "<!-- bench-proxy:start -->"
	markEnd   = "<!-- bench-proxy:end -->"
)

type settings struct {
	loader           string
	conns            int
	warmup, duration time.Duration
	pin              string
}

// report renders the bench-proxy block of BENCHMARKS.md, markers included.
func report(results []result, sizes []payload.Size, s settings) string {
	var b strings.Builder
	b.WriteString(markStart + "\n## Reverse proxy (`make bench-proxy`)\n\n")
	fmt.Fprintf(&b, "Written by `make bench-proxy` on %s. Machine: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "Method: loopback (127.0.0.1), %s, %d connections, warm-up %v then a measured run of %v per target and body size; "+
		"%s. Go upstream (net/http) serving 2 B, 16 KiB and 1 MiB bodies, each checked through every proxy before its runs. "+
		"CPU is the measured process's user+system time (/proc/<pid>/stat) during the measured run (for nginx: master and worker; "+
		"for \"no proxy\": the upstream). Go GC cycles and allocations come from the process's /debug/gcstats (runtime.MemStats; cgo calls: runtime.NumCgoCall) "+
		"before and after (less what one read of that endpoint allocates). nginx: one worker, upstream keepalive 64, access log off, proxy_buffers 8 64k, no temp files. "+
		"httputil.ReverseProxy: a keep-alive pool of 64 idle upstream connections and a sync.Pool of 32 KiB buffers.\n\n",
		loaderDesc(s.loader), s.conns, s.warmup, s.duration, s.pin)

	b.WriteString("| target | body | req/s | p50 | p99 | CPU-s / 1k req | req / CPU-s | Go GC cycles | Go allocs / req | cgo calls / req | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		if r.skip != "" {
			fmt.Fprintf(&b, "| %s | %s | %s | | | | | | | | |\n", r.target.label, r.size.Name, r.skip)
			continue
		}
		gc, allocs, cgo := "n/a", "n/a", "n/a"
		if r.goStats {
			gc, allocs, cgo = fmt.Sprint(r.gcCycles), fmt.Sprintf("%.1f", r.allocsPerReq()), fmt.Sprintf("%.1f", r.cgoPerReq())
		}
		label := r.target.label
		if r.target.key == "direct" {
			label += " (CPU, GC: the upstream's)"
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %.3f | %.0f | %s | %s | %s | %d |\n", label, r.size.Name,
			r.load.RPS, fmtDur(r.load.P50), fmtDur(r.load.P99), r.cpuPer1k(), r.reqPerCPU(), gc, allocs, cgo, r.load.Errors)
	}

	b.WriteString("\nTargets of issue 6 (offheap proxy against its peers, from this run):\n\n")
	b.WriteString("| target |")
	for _, s := range sizes {
		b.WriteString(" " + s.Name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(sizes)) + "\n")
	find := func(key string, s payload.Size) *result {
		for i := range results {
			if results[i].target.key == key && results[i].size == s {
				return &results[i]
			}
		}
		return nil
	}
	type goal struct {
		name  string
		check func(o *result, s payload.Size) string
	}
	ratioGoal := func(peer string, want float64) func(*result, payload.Size) string {
		return func(o *result, s payload.Size) string {
			p := find(peer, s)
			if p == nil || p.skip != "" || p.reqPerCPU() == 0 || o.reqPerCPU() == 0 {
				return peer + " not measured"
			}
			x := o.reqPerCPU() / p.reqPerCPU()
			return fmt.Sprintf("%.2fx: %s", x, metStr(x >= want))
		}
	}
	goals := []goal{
		{"requests per CPU-second ≥ 3x httputil.ReverseProxy", ratioGoal("httputil", 3)},
		{"requests per CPU-second ≥ 1.0x nginx", ratioGoal("nginx", 1)},
		{"p99 no worse than httputil.ReverseProxy's", func(o *result, s payload.Size) string {
			p := find("httputil", s)
			if p == nil || p.skip != "" {
				return "httputil not measured"
			}
			return fmt.Sprintf("%s vs %s: %s", fmtDur(o.load.P99), fmtDur(p.load.P99), metStr(o.load.P99 <= p.load.P99))
		}},
		{"≤ 2 Go allocations per proxied request", func(o *result, _ payload.Size) string {
			if !o.goStats {
				return "no Go stats"
			}
			return fmt.Sprintf("%.1f: %s", o.allocsPerReq(), metStr(o.allocsPerReq() <= 2))
		}},
	}
	for _, g := range goals {
		b.WriteString("| " + g.name + " |")
		for _, s := range sizes {
			o := find("offheap", s)
			switch {
			case o == nil:
				b.WriteString(" offheap not run |")
			case o.skip != "":
				b.WriteString(" not measured (examples/proxy " + o.skip + ") |")
			default:
				b.WriteString(" " + g.check(o, s) + " |")
			}
		}
		b.WriteString("\n")
	}
	if c := find("ceiling", sizes[0]); c != nil {
		b.WriteString("\nThe bound of these targets on this machine: the native ceiling (one thread of native code, its own epoll loop, " +
			"the same syscalls and head work as examples/proxy, nothing of Go's runtime; not a proxy to use) against the same peers:\n\n")
		b.WriteString("| native ceiling |")
		for _, s := range sizes {
			b.WriteString(" " + s.Name + " |")
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(sizes)) + "\n")
		for _, peer := range []struct{ key, name string }{{"httputil", "requests per CPU-second vs httputil.ReverseProxy"}, {"nginx", "requests per CPU-second vs nginx"}, {"offheap", "requests per CPU-second vs examples/proxy"}} {
			b.WriteString("| " + peer.name + " |")
			for _, s := range sizes {
				c, p := find("ceiling", s), find(peer.key, s)
				if c == nil || c.skip != "" || p == nil || p.skip != "" || c.reqPerCPU() == 0 || p.reqPerCPU() == 0 {
					b.WriteString(" not measured |")
					continue
				}
				fmt.Fprintf(&b, " %.2fx |", c.reqPerCPU()/p.reqPerCPU())
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(markEnd + "\n")
	return b.String()
}

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func loaderDesc(l string) string {
	if l == "go" {
		return "a Go net/http load loop (smoke run)"
	}
	return "wrk -t1 --latency (" + firstLine("wrk", "-v") + ")"
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
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	nginx := "nginx not installed"
	if bin := nginxBin(); bin != "" {
		nginx = strings.TrimPrefix(firstLine(bin, "-v"), "nginx version: ")
	}
	return fmt.Sprintf("%s, %d cores, Linux %s, %s, %s", model, runtime.NumCPU(), kernel, runtime.Version(), nginx)
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
