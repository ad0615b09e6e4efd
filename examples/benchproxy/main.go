// Command benchproxy is `make bench-proxy`: it measures reverse proxies on loopback with wrk and
// writes the results into BENCHMARKS.md between the markers <!-- bench-proxy:start --> and
// <!-- bench-proxy:end --> (benchreport keeps that block when `make bench` rewrites the file).
//
// Targets: no proxy (wrk to the upstream), httputil.ReverseProxy (examples/revproxy), nginx
// (generated config: one worker, upstream keepalive 64, access log off) and the offheap proxy
// (examples/proxy, with its default engine sessions, and "offheap-go" with -sessions=false;
// reported as "not built" while its binary does not exist). More proxies can be
// added with -extra label=binary: any binary taking -listen, -upstream and -debug like revproxy.
// The native ceiling (examples/proxy_ceiling.rs, a cargo example; "not built" while missing) is
// not a proxy to use: one thread of native code with its own epoll loop, doing the same syscalls
// and head work as examples/proxy with nothing of Go's runtime, reported as the bound of what
// moving the whole keep-alive exchange into Rust could reach on this machine.
//
// Method: the proxy under test is pinned to one core (-proxy-cpu), wrk and the upstream share
// the other (-load-cpu), so every proxy gets exactly one core (Go proxies then run with
// GOMAXPROCS=1). Per target and body size: a correctness check of the body, a warm-up run, then
// a measured run. CPU time of the proxy process (and its children: nginx's worker) comes from
// /proc/<pid>/stat before and after the measured run; Go GC cycles and allocations from the
// proxy's /debug/gcstats endpoint, read before and after. Every process is stopped at the end
// (and killed if the driver dies).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
	"github.com/offheap/offheap/examples/internal/payload"
)

// target is one way of serving the upstream's bodies to wrk.
type target struct {
	key   string   // direct, httputil, nginx, offheap, or an -extra label
	label string   // as shown in the table
	bin   string   // Go proxy binary (revproxy interface)
	args  []string // more flags for bin
	skip  string   // why it is not measured
}

// result is one measured (target, body size) run.
type result struct {
	target   target
	size     payload.Size
	load     loadResult
	cpu      float64 // CPU-seconds of the measured process during the measured run
	measured string  // which process the CPU and Go columns belong to
	goStats  bool
	gcCycles uint32
	allocs   uint64
	cgoCalls uint64 // calls from Go into C during the measured run
	skip     string
}

func (r *result) cpuPer1k() float64 { return r.cpu / float64(r.load.Requests) * 1000 }
func (r *result) reqPerCPU() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return float64(r.load.Requests) / r.cpu
}
func (r *result) allocsPerReq() float64 { return float64(r.allocs) / float64(r.load.Requests) }
func (r *result) cgoPerReq() float64    { return float64(r.cgoCalls) / float64(r.load.Requests) }

// built is a target whose binary is bin, reported as "not built" while bin is missing.
func built(key, label, bin string) target {
	t := target{key: key, label: label, bin: bin}
	if _, err := os.Stat(bin); err != nil {
		t.skip = "not built"
		fmt.Printf("benchproxy: %s not built: %s missing\n", label, bin)
	}
	return t
}

type extraFlag []string

func (e *extraFlag) String() string     { return strings.Join(*e, ",") }
func (e *extraFlag) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	// Pdeathsig is delivered when the thread that started a child exits: keep main on one thread.
	runtime.LockOSThread()
	binDir := flag.String("bin", "target/bench-proxy/bin", "directory with the upstream and revproxy binaries")
	offheapBin := flag.String("offheap", "", "the offheap proxy binary (default: <bin>/proxy; skipped as \"not built\" when missing)")
	var extras extraFlag
	flag.Var(&extras, "extra", "one more proxy to measure, `label=binary` (flags -listen -upstream -debug); repeatable")
	ceilingBin := flag.String("ceiling", "target/release/examples/proxy_ceiling", "the native ceiling binary (cargo build --release --example proxy_ceiling; skipped as \"not built\" when missing)")
	targetsFlag := flag.String("targets", "direct,httputil,nginx,offheap,offheap-go,ceiling", "targets to run, comma-separated (extras are added)")
	sizesFlag := flag.String("sizes", "2,16k,1m", "body sizes, comma-separated paths without the slash")
	conns := flag.Int("c", 32, "concurrent connections of the load generator")
	warmup := flag.Duration("warmup", 2*time.Second, "warm-up run per target and size")
	duration := flag.Duration("d", 10*time.Second, "measured run per target and size (10 s: shorter runs leave the p99 unsteady)")
	loaderName := flag.String("loader", "wrk", "load generator: wrk, or go (a net/http loop, for the smoke test)")
	requests := flag.Int64("requests", 1<<40, "go loader: requests per run (runs also stop after -warmup / -d)")
	proxyCPU := flag.String("proxy-cpu", "0", "CPU the proxy under test is pinned to (taskset -c)")
	loadCPU := flag.String("load-cpu", "1", "CPU wrk and the upstream are pinned to")
	work := flag.String("work", "target/bench-proxy", "directory for configs and logs")
	out := flag.String("out", "BENCHMARKS.md", "file whose bench-proxy block is rewritten (empty: print only)")
	flag.Parse()

	if *offheapBin == "" {
		*offheapBin = filepath.Join(*binDir, "proxy")
	}
	pinNote := fmt.Sprintf("proxy under test pinned to CPU %s, wrk and upstream to CPU %s (taskset)", *proxyCPU, *loadCPU)
	if runtime.NumCPU() < 2 {
		*proxyCPU, *loadCPU = "", ""
		pinNote = "only one CPU: nothing pinned"
	}
	var load loader
	switch *loaderName {
	case "wrk":
		load = wrkLoader(*loadCPU)
	case "go":
		load = goLoader
		pinNote += "; Go load loop in the driver (unpinned)"
	default:
		fatal(fmt.Errorf("unknown -loader %q", *loaderName))
	}
	logDir := filepath.Join(*work, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		fatal(err)
	}

	var sizes []payload.Size
	for _, s := range strings.Split(*sizesFlag, ",") {
		found := false
		for _, p := range payload.Sizes {
			if p.Path == "/"+strings.TrimSpace(s) {
				sizes, found = append(sizes, p), true
			}
		}
		if !found {
			fatal(fmt.Errorf("unknown size %q (have 2, 16k, 1m)", s))
		}
	}
	var targets []target
	for _, k := range strings.Split(*targetsFlag, ",") {
		switch strings.TrimSpace(k) {
		case "direct":
			targets = append(targets, target{key: "direct", label: "no proxy"})
		case "httputil":
			targets = append(targets, target{key: "httputil", label: "httputil.ReverseProxy", bin: filepath.Join(*binDir, "revproxy")})
		case "nginx":
			t := target{key: "nginx", label: "nginx"}
			if nginxBin() == "" {
				t.skip = "nginx not installed"
			}
			targets = append(targets, t)
		case "offheap":
			targets = append(targets, built("offheap", "offheap (examples/proxy)", *offheapBin))
		case "offheap-go":
			t := built("offheap-go", "offheap, all in Go (examples/proxy -sessions=false)", *offheapBin)
			t.args = []string{"-sessions=false"}
			targets = append(targets, t)
		case "ceiling":
			targets = append(targets, built("ceiling", "native ceiling (examples/proxy_ceiling.rs)", *ceilingBin))
		default:
			fatal(fmt.Errorf("unknown target %q", k))
		}
	}
	for _, e := range extras {
		label, bin, ok := strings.Cut(e, "=")
		if !ok {
			fatal(fmt.Errorf("-extra %q: want label=binary", e))
		}
		targets = append(targets, target{key: label, label: label, bin: bin})
	}

	results, err := run(targets, sizes, *binDir, *work, logDir, *proxyCPU, *loadCPU, *conns, *warmup, *duration, *requests, load)
	if err != nil {
		fatal(err)
	}
	block := report(results, sizes, settings{
		loader: *loaderName, conns: *conns, warmup: *warmup, duration: *duration, pin: pinNote,
	})
	fmt.Print(block)
	if *out != "" {
		if err := writeBlock(*out, block); err != nil {
			fatal(err)
		}
		fmt.Printf("benchproxy: wrote the bench-proxy block of %s\n", *out)
	}
	for _, r := range results {
		if r.skip == "" && r.load.Errors > 0 {
			fatal(fmt.Errorf("%s %s: %d errors during the measured run", r.target.label, r.size.Name, r.load.Errors))
		}
	}
}

func run(targets []target, sizes []payload.Size, binDir, work, logDir, proxyCPU, loadCPU string, conns int,
	warmup, duration time.Duration, requests int64, load loader) ([]result, error) {
	upAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	upDebug, err := freeAddr()
	if err != nil {
		return nil, err
	}
	up, err := start("upstream", logDir, upAddr, upDebug,
		pinned(loadCPU, filepath.Join(binDir, "upstream"), "-listen", upAddr, "-debug", upDebug))
	if err != nil {
		return nil, err
	}
	defer up.stop()

	var results []result
	for _, t := range targets {
		if t.skip != "" {
			for _, s := range sizes {
				results = append(results, result{target: t, size: s, skip: t.skip})
			}
			fmt.Printf("benchproxy: %s: skipped: %s\n", t.label, t.skip)
			continue
		}
		p, measured, err := startTarget(t, up, work, logDir, proxyCPU)
		if err != nil {
			return nil, err
		}
		for _, s := range sizes {
			r, err := measure(t, s, p, measured, conns, warmup, duration, requests, load)
			if err != nil {
				p.stop()
				return nil, err
			}
			fmt.Printf("benchproxy: %-26s %-7s %9.0f req/s  p50 %-9s p99 %-9s %.3f CPU-s/1k req\n",
				t.label, s.Name, r.load.RPS, fmtDur(r.load.P50), fmtDur(r.load.P99), r.cpuPer1k())
			results = append(results, r)
		}
		if p != up {
			p.stop()
		}
	}
	return results, nil
}

// startTarget starts the proxy of t (pinned to proxyCPU) in front of up; for "direct" it returns
// the upstream itself. measured names the process whose CPU is reported.
func startTarget(t target, up *proc, work, logDir, proxyCPU string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	switch {
	case t.key == "direct":
		return up, "upstream", nil
	case t.key == "nginx":
		dir, err := filepath.Abs(filepath.Join(work, "nginx"))
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", err
		}
		conf, err := nginxConfig(dir, addr, up.addr)
		if err != nil {
			return nil, "", err
		}
		p, err := start("nginx", logDir, addr, "", pinned(proxyCPU, nginxBin(), "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf))
		return p, "nginx master + worker", err
	case t.key == "ceiling":
		p, err := start(t.key, logDir, addr, "", pinned(proxyCPU, t.bin, addr, up.addr))
		return p, "proxy", err
	default:
		debug, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		argv := pinned(proxyCPU, t.bin, "-listen", addr, "-upstream", up.addr, "-debug", debug)
		p, err := start(t.key, logDir, addr, debug, append(argv, t.args...))
		return p, "proxy", err
	}
}

func measure(t target, s payload.Size, p *proc, measured string, conns int, warmup, duration time.Duration,
	requests int64, load loader) (result, error) {
	r := result{target: t, size: s, measured: measured}
	url := "http://" + p.addr + s.Path
	if err := checkBody(url, s); err != nil {
		return r, fmt.Errorf("%s: %w", t.label, err)
	}
	spec := loadSpec{url: url, conns: conns, d: warmup, requests: requests, bodyLen: s.N}
	if _, err := load(spec); err != nil {
		return r, fmt.Errorf("%s %s warm-up: %w", t.label, s.Name, err)
	}
	pid := p.cmd.Process.Pid // taskset execs the program: the pid is the program's
	cpu0, err := cpuSeconds(pid)
	if err != nil {
		return r, err
	}
	// Two reads before the run: their difference is what one read of the endpoint allocates,
	// subtracted from the run's count.
	dPre, err := readDebugIf(p.debug)
	if err != nil {
		return r, err
	}
	d0, err := readDebugIf(p.debug)
	if err != nil {
		return r, err
	}
	readCost := d0.Mallocs - dPre.Mallocs
	spec.d = duration
	r.load, err = load(spec)
	if err != nil {
		return r, fmt.Errorf("%s %s: %w", t.label, s.Name, err)
	}
	cpu1, err := cpuSeconds(pid)
	if err != nil {
		return r, err
	}
	d1, err := readDebugIf(p.debug)
	if err != nil {
		return r, err
	}
	r.cpu = cpu1 - cpu0
	if p.debug != "" {
		r.goStats = true
		r.gcCycles = d1.NumGC - d0.NumGC
		r.allocs = d1.Mallocs - d0.Mallocs
		r.cgoCalls = d1.CgoCalls - d0.CgoCalls
		if r.allocs >= readCost {
			r.allocs -= readCost
		}
	}
	if r.load.Requests == 0 {
		return r, fmt.Errorf("%s %s: no request completed", t.label, s.Name)
	}
	return r, nil
}

// checkBody fetches url once and compares the body with the upstream's.
func checkBody(url string, s payload.Size) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, payload.Body(s.N)) {
		return fmt.Errorf("GET %s: %s with %d body bytes, want 200 with the upstream's %d", url, resp.Status, len(got), s.N)
	}
	return nil
}

func readDebugIf(addr string) (debugstats.Stats, error) {
	if addr == "" {
		return debugstats.Stats{}, nil
	}
	return readDebug(addr)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchproxy:", err)
	os.Exit(1)
}
