// Command benchproxy is `make bench-proxy`: it measures reverse proxies on loopback with wrk and
// its own Go client and writes the results into BENCHMARKS.md between the markers
// <!-- bench-proxy:start --> and <!-- bench-proxy:end --> (benchreport keeps that block when
// `make bench` rewrites the file).
//
// Targets: no proxy (the load straight to the upstream), httputil.ReverseProxy
// (examples/revproxy), nginx (generated config: one worker, upstream keepalive 64, access log
// off) and the offheap proxy (examples/proxy, served by its engine's workers by default, and
// "offheap-go" with -all-in-go; reported as "not built" while its binary does not exist).
// More proxies can be added with -extra label=binary: any binary taking -listen, -upstream and
// -debug like revproxy. The native ceiling (examples/proxy_ceiling.rs, a cargo example; "not
// built" while missing) is not a proxy to use: one thread of native code with its own epoll
// loop, doing the same syscalls and head work as examples/proxy with nothing of Go's runtime,
// reported as the bound of what moving the whole keep-alive exchange into Rust could reach on
// this machine.
//
// Workloads (-workloads, workloads.go), each measured for every target in the same run:
// keep-alive GETs; churn (a new connection per request); uploads (POST bodies the upstream
// checks byte for byte); thousands of concurrent connections (the Go client of client.go);
// the proxy given 2 cores; and the memory each idle keep-alive connection holds (idle.go).
//
// Method: the proxy under test is pinned to one core (-proxy-cpu), the load generator and the
// upstream share the other (-load-cpu), so every proxy gets exactly one core (Go proxies then
// run with GOMAXPROCS=1), except in cores2. Per workload, target and body size: a correctness
// check of the body, a warm-up, then a measured run. CPU time of the proxy process (and its
// children: nginx's workers) comes from /proc/<pid>/stat right before and after the measured
// run; Go GC cycles and allocations from the proxy's /debug/gcstats endpoint, read at the same
// moments. Every process is stopped at the end (and killed if the driver dies).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
	"github.com/offheap/offheap/examples/internal/payload"
)

// target is one way of serving the upstream's bodies to the load generator.
type target struct {
	key   string   // direct, httputil, nginx, offheap, or an -extra label
	label string   // as shown in the table
	bin   string   // Go proxy binary (revproxy interface)
	args  []string // more flags for bin
	skip  string   // why it is not measured
}

// result is one measured (workload, target, body size) run.
type result struct {
	workload   *workload
	target     target
	size       payload.Size
	load       loadResult
	cpu        float64 // CPU-seconds of the measured process during the measured run
	sysCPU     float64 // of those, in the kernel (system time)
	measured   string  // which process the CPU and Go columns belong to
	goStats    bool
	gcCycles   uint32
	allocs     uint64
	cgoCalls   uint64 // calls from Go into C during the measured run
	upFailures uint64 // uploads the upstream found wrong during the measured run
	skip       string
}

func (r *result) cpuPer1k() float64 { return r.cpu / float64(r.load.Requests) * 1000 }
func (r *result) reqPerCPU() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return float64(r.load.Requests) / r.cpu
}

// reqPerSysCPU is requests per second of the kernel's CPU time alone: what the target would
// make with the same system calls and no time of its own (user time). No change to its own
// code takes it past that without fewer or cheaper system calls.
func (r *result) reqPerSysCPU() float64 {
	if r.sysCPU <= 0 {
		return 0
	}
	return float64(r.load.Requests) / r.sysCPU
}
func (r *result) allocsPerReq() float64 { return float64(r.allocs) / float64(r.load.Requests) }
func (r *result) cgoPerReq() float64    { return float64(r.cgoCalls) / float64(r.load.Requests) }

// errors counts what went wrong: the load generator's errors and the upstream's failed checks.
func (r *result) errors() int64 { return r.load.Errors + int64(r.upFailures) }

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

// config is what every run shares.
type config struct {
	binDir, work, logDir string
	proxyCPU, loadCPU    string
	requests             int64
	maxConns             int    // -max-conns for the proxies that take it (0: not passed)
	load                 loader // wrk, or the Go client with -loader go
	client               loader // the Go client
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "client" {
		if err := clientMain(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fatal(err)
		}
		return
	}
	// Pdeathsig is delivered when the thread that started a child exits: keep main on one thread.
	runtime.LockOSThread()
	binDir := flag.String("bin", "target/bench-proxy/bin", "directory with the upstream and revproxy binaries")
	offheapBin := flag.String("offheap", "", "the offheap proxy binary (default: <bin>/proxy; skipped as \"not built\" when missing)")
	var extras extraFlag
	flag.Var(&extras, "extra", "one more proxy to measure, `label=binary` (flags -listen -upstream -debug); repeatable")
	ceilingBin := flag.String("ceiling", "target/release/examples/proxy_ceiling", "the native ceiling binary (cargo build --release --example proxy_ceiling; skipped as \"not built\" when missing)")
	targetsFlag := flag.String("targets", "direct,httputil,nginx,offheap,offheap-go,ceiling", "targets to run, comma-separated (extras are added)")
	workloadsFlag := flag.String("workloads", strings.Join(workloadKeys, ","), "workloads to run, comma-separated")
	sizesFlag := flag.String("sizes", "2,16k,1m", "body sizes of keepalive and cores2, comma-separated paths without the slash")
	conns := flag.Int("c", 32, "concurrent connections of the load generator (keepalive, churn, upload, cores2)")
	many := flag.Int("many", 5000, "connections of c5000 and idle")
	warmup := flag.Duration("warmup", 2*time.Second, "keepalive: warm-up run per target and size")
	duration := flag.Duration("d", 10*time.Second, "keepalive: measured run per target and size (10 s: shorter runs leave the p99 unsteady)")
	warmupOther := flag.Duration("warmup-others", time.Second, "the other workloads: warm-up run per target and size")
	dOther := flag.Duration("d-others", 5*time.Second, "the other workloads: measured run per target and size")
	loaderName := flag.String("loader", "wrk", "load generator: wrk, or go (the Go client for every workload, for the smoke test)")
	requests := flag.Int64("requests", 1<<40, "Go client: requests per warm-up or measured run at most (runs also stop after their duration)")
	proxyCPU := flag.String("proxy-cpu", "0", "CPU the proxy under test is pinned to (taskset -c)")
	loadCPU := flag.String("load-cpu", "1", "CPU the load generator and the upstream are pinned to")
	maxConns := flag.Int("max-conns", 64, "upstream connections at most, for the proxies that take -max-conns (httputil's MaxConnsPerHost, offheap's MaxConnsPerUpstream per engine worker); requests beyond wait for one (0: no limit)")
	work := flag.String("work", "target/bench-proxy", "directory for configs and logs")
	out := flag.String("out", "BENCHMARKS.md", "file whose bench-proxy block is rewritten (empty: print only)")
	flag.Parse()

	if err := raiseNofile(); err != nil {
		fatal(fmt.Errorf("raising the open files limit: %w", err))
	}
	if *offheapBin == "" {
		*offheapBin = filepath.Join(*binDir, "proxy")
	}
	pinNote := fmt.Sprintf("proxy under test pinned to CPU %s, load generator and upstream to CPU %s (taskset)", *proxyCPU, *loadCPU)
	if runtime.NumCPU() < 2 {
		*proxyCPU, *loadCPU = "", ""
		pinNote = "only one CPU: nothing pinned"
	}
	cfg := &config{binDir: *binDir, work: *work, logDir: filepath.Join(*work, "logs"), proxyCPU: *proxyCPU,
		loadCPU: *loadCPU, requests: *requests, maxConns: *maxConns, client: goClientLoader(*loadCPU)}
	switch *loaderName {
	case "wrk":
		cfg.load = wrkLoader(*loadCPU)
	case "go":
		cfg.load = cfg.client
	default:
		fatal(fmt.Errorf("unknown -loader %q", *loaderName))
	}
	if err := os.MkdirAll(cfg.logDir, 0o755); err != nil {
		fatal(err)
	}
	sizes, err := sizesOf(*sizesFlag)
	if err != nil {
		fatal(err)
	}
	var keys []string
	for _, k := range strings.Split(*workloadsFlag, ",") {
		keys = append(keys, strings.TrimSpace(k))
	}
	workloads, err := buildWorkloads(workloadOptions{sizes: sizes, conns: *conns, many: *many, warmup: *warmup, d: *duration,
		warmupOther: *warmupOther, dOther: *dOther, keys: keys})
	if err != nil {
		fatal(err)
	}
	targets, err := buildTargets(*targetsFlag, extras, *binDir, *offheapBin, *ceilingBin)
	if err != nil {
		fatal(err)
	}

	results, idles, err := run(cfg, targets, workloads)
	if err != nil {
		fatal(err)
	}
	block := report(results, idles, workloads, settings{
		loader: *loaderName, pin: pinNote, maxConns: *maxConns, workersFlag: workersNote(targets), nofile: nofile(), cores2CPUs: cores2CPUs(cfg),
	})
	fmt.Print(block)
	if *out != "" {
		if err := writeBlock(*out, block); err != nil {
			fatal(err)
		}
		fmt.Printf("benchproxy: wrote the bench-proxy block of %s\n", *out)
	}
	failed := false
	for _, r := range results {
		if r.skip == "" && r.errors() > 0 {
			fmt.Fprintf(os.Stderr, "benchproxy: %s, %s %s: %d errors\n", r.workload.key, r.target.label, r.size.Name, r.errors())
			failed = true
		}
	}
	for _, r := range idles {
		if r.skip == "" && r.errors > 0 {
			fmt.Fprintf(os.Stderr, "benchproxy: idle, %s: %d errors\n", r.target.label, r.errors)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// buildTargets returns the targets named in list, then the -extra ones.
func buildTargets(list string, extras []string, binDir, offheapBin, ceilingBin string) ([]target, error) {
	var targets []target
	for _, k := range strings.Split(list, ",") {
		switch strings.TrimSpace(k) {
		case "direct":
			targets = append(targets, target{key: "direct", label: "no proxy"})
		case "httputil":
			targets = append(targets, target{key: "httputil", label: "httputil.ReverseProxy", bin: filepath.Join(binDir, "revproxy")})
		case "nginx":
			t := target{key: "nginx", label: "nginx"}
			if nginxBin() == "" {
				t.skip = "nginx not installed"
			}
			targets = append(targets, t)
		case "offheap":
			targets = append(targets, built("offheap", "offheap (examples/proxy)", offheapBin))
		case "offheap-go":
			t := built("offheap-go", "offheap, all in Go (examples/proxy -all-in-go)", offheapBin)
			t.args = []string{"-all-in-go"}
			targets = append(targets, t)
		case "ceiling":
			targets = append(targets, built("ceiling", "native ceiling (examples/proxy_ceiling.rs)", ceilingBin))
		default:
			return nil, fmt.Errorf("unknown target %q", k)
		}
	}
	for _, e := range extras {
		label, bin, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("-extra %q: want label=binary", e)
		}
		targets = append(targets, target{key: label, label: label, bin: bin})
	}
	return targets, nil
}

func run(cfg *config, targets []target, workloads []*workload) ([]result, []idleResult, error) {
	upAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	upDebug, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	up, err := start("upstream", cfg.logDir, upAddr, upDebug,
		pinned(cfg.loadCPU, filepath.Join(cfg.binDir, "upstream"), "-listen", upAddr, "-debug", upDebug), nil)
	if err != nil {
		return nil, nil, err
	}
	defer up.stop()

	var results []result
	var idles []idleResult
	for _, w := range workloads {
		fmt.Printf("benchproxy: workload %s: %s\n", w.key, w.title)
		for _, t := range targets {
			if !w.has(t) {
				continue
			}
			if t.skip != "" {
				if w.idle {
					idles = append(idles, idleResult{target: t, skip: t.skip})
				}
				for _, s := range w.sizes {
					results = append(results, result{workload: w, target: t, size: s, skip: t.skip})
				}
				fmt.Printf("benchproxy: %s: skipped: %s\n", t.label, t.skip)
				continue
			}
			p, measured, err := startTarget(cfg, w, t, up)
			if err != nil {
				return nil, nil, err
			}
			if w.idle {
				r, err := measureIdle(cfg, w, t, p, up)
				p.stop()
				if err != nil {
					return nil, nil, err
				}
				fmt.Printf("benchproxy: %-26s RSS %s per idle connection, %d upstream connections held\n",
					t.label, fmtBytes(r.perConn(rssOf)), r.upHeld)
				idles = append(idles, r)
				continue
			}
			for _, s := range w.sizes {
				r, err := measure(cfg, w, t, s, p, up, measured)
				if err != nil {
					p.stop()
					return nil, nil, err
				}
				fmt.Printf("benchproxy: %-26s %-7s %9.0f req/s  p50 %-9s p99 %-9s %.3f CPU-s/1k req\n",
					t.label, s.Name, r.load.RPS, fmtDur(r.load.P50), fmtDur(r.load.P99), r.cpuPer1k())
				results = append(results, r)
			}
			if p != up {
				p.stop()
			}
		}
	}
	return results, idles, nil
}

// startTarget starts the proxy of t in front of up, on the CPUs w gives it; for "direct" it
// returns the upstream itself. measured names the process whose CPU is reported.
func startTarget(cfg *config, w *workload, t target, up *proc) (*proc, string, error) {
	if t.key == "direct" {
		return up, "upstream", nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cpu, env, args := cfg.proxyCPU, []string(nil), t.args
	if w.cores == 2 {
		cpu = cores2CPUs(cfg)
		env = []string{"GOMAXPROCS=2"}
		if t.bin != "" && hasFlag(t.bin, "workers") {
			args = append(append([]string(nil), args...), "-workers", "2")
		}
	}
	name := w.key + "-" + t.key
	switch t.key {
	case "nginx":
		dir, err := filepath.Abs(filepath.Join(cfg.work, "nginx"))
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", err
		}
		conf, err := nginxConfig(dir, addr, up.addr, w.cores, w.conns)
		if err != nil {
			return nil, "", err
		}
		p, err := start(name, cfg.logDir, addr, "", pinned(cpu, nginxBin(), "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf), nil)
		return p, "nginx master + workers", err
	case "ceiling":
		p, err := start(name, cfg.logDir, addr, "", pinned(cpu, t.bin, addr, up.addr), nil)
		return p, "proxy", err
	default:
		debug, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		argv := pinned(cpu, t.bin, "-listen", addr, "-upstream", up.addr, "-debug", debug)
		if cfg.maxConns > 0 && hasFlag(t.bin, "max-conns") {
			argv = append(argv, "-max-conns", strconv.Itoa(cfg.maxConns))
		}
		p, err := start(name, cfg.logDir, addr, debug, append(argv, args...), env)
		return p, "proxy", err
	}
}

// cores2CPUs returns the CPUs of the proxy in the cores2 workload: its own and the load's.
func cores2CPUs(cfg *config) string {
	if cfg.proxyCPU == "" || cfg.loadCPU == "" {
		return ""
	}
	return cfg.proxyCPU + "," + cfg.loadCPU
}

// hasFlag reports whether the Go binary bin lists -name in its -h output.
func hasFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	return strings.Contains(string(out), "\n  -"+name+" ") || strings.Contains(string(out), "\n  -"+name+"\n")
}

// workersNote says how the offheap proxy got its 2 engine workers in cores2.
func workersNote(targets []target) string {
	for _, t := range targets {
		if t.key == "offheap" && t.skip == "" {
			if hasFlag(t.bin, "workers") {
				return "examples/proxy with -workers 2"
			}
			return "examples/proxy has no -workers flag yet, so its engine keeps its default worker count"
		}
	}
	return "examples/proxy not measured"
}

// snapshot is what the driver reads of the process under test at each end of a measured run.
type snapshot struct {
	cpu   cpuTime
	debug debugstats.Stats
	up    debugstats.Stats // the upstream's (upload failures)
}

func measure(cfg *config, w *workload, t target, s payload.Size, p, up *proc, measured string) (result, error) {
	r := result{workload: w, target: t, size: s, measured: measured}
	if err := checkTarget(p.addr, w, s); err != nil {
		return r, fmt.Errorf("%s: %w", t.label, err)
	}
	pid := p.cmd.Process.Pid // taskset execs the program: the pid is the program's
	var before, after snapshot
	var readCost debugstats.Stats
	take := func(snap *snapshot) error {
		var err error
		if snap.cpu, err = cpuSeconds(pid); err != nil {
			return err
		}
		if snap.debug, err = readDebugIf(p.debug); err != nil {
			return err
		}
		if p == up { // "no proxy": the upstream's counters are in the read above
			snap.up = snap.debug
			return nil
		}
		snap.up, err = readDebugIf(up.debug)
		return err
	}
	mark := func(begin bool) error {
		if !begin {
			return take(&after)
		}
		// Two reads before the run: their difference is what one read of the endpoint
		// allocates (and calls into C), subtracted from the run's counts.
		pre, err := readDebugIf(p.debug)
		if err != nil {
			return err
		}
		if err := take(&before); err != nil {
			return err
		}
		readCost = debugstats.Stats{Mallocs: before.debug.Mallocs - pre.Mallocs, CgoCalls: before.debug.CgoCalls - pre.CgoCalls}
		return nil
	}
	spec := w.spec(p.addr, s, cfg.requests)
	if w.upload {
		var err error
		if spec.script, err = uploadScript(cfg.work, s.N); err != nil {
			return r, err
		}
	}
	load := cfg.load
	if w.goClient {
		load = cfg.client
	}
	var err error
	r.load, err = load(spec, mark)
	if err != nil {
		return r, fmt.Errorf("%s, %s %s: %w", w.key, t.label, s.Name, err)
	}
	r.cpu = after.cpu.total - before.cpu.total
	r.sysCPU = after.cpu.sys - before.cpu.sys
	if p.debug != "" {
		r.goStats = true
		r.gcCycles = after.debug.NumGC - before.debug.NumGC
		r.allocs = after.debug.Mallocs - before.debug.Mallocs
		r.cgoCalls = after.debug.CgoCalls - before.debug.CgoCalls
		r.allocs -= min(r.allocs, readCost.Mallocs)
		r.cgoCalls -= min(r.cgoCalls, readCost.CgoCalls)
	}
	r.upFailures = after.up.Extra["upload_failures"] - before.up.Extra["upload_failures"]
	if r.errors() > 0 {
		logFailureCounters(t.label, before.debug, after.debug)
	}
	if r.load.Requests == 0 {
		return r, fmt.Errorf("%s, %s %s: no request completed", w.key, t.label, s.Name)
	}
	return r, nil
}

// checkClient closes its connection after each check, so the driver holds no connection of its
// own to the proxy during a run (it would hold an upstream connection in some proxies).
var checkClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// checkTarget sends one request of w through addr and checks the answer: the upstream's body for
// a GET, the upstream's "OK" for an upload.
func checkTarget(addr string, w *workload, s payload.Size) error {
	var resp *http.Response
	var err error
	want := payload.Body(s.N)
	url := "http://" + addr + s.Path
	if w.upload {
		url = "http://" + addr + uploadPrefix + s.Path
		resp, err = checkClient.Post(url, "application/octet-stream", bytes.NewReader(want))
		want = []byte("OK")
	} else {
		resp, err = checkClient.Get(url)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		return fmt.Errorf("%s: %s with %d body bytes, want 200 with the upstream's %d", url, resp.Status, len(got), len(want))
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

// logFailureCounters prints what the proxy's own counters say of a run's errors: those of its
// counters that name a failure and grew during the run.
func logFailureCounters(label string, before, after debugstats.Stats) {
	var grew []string
	for k, v := range after.Extra {
		failure := strings.Contains(k, "fail") || strings.Contains(k, "bad") || strings.Contains(k, "timeout")
		if d := v - before.Extra[k]; failure && d > 0 {
			grew = append(grew, fmt.Sprintf("%s +%d", k, d))
		}
	}
	if len(grew) > 0 {
		slices.Sort(grew)
		fmt.Printf("benchproxy: %s counted meanwhile: %s\n", label, strings.Join(grew, ", "))
	}
}
