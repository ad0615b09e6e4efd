package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// idleSettle is how long the driver waits, once every client connection is idle (or closed,
// after the warm-up), before it reads the proxy's memory (a proxy may still be finishing the
// exchanges' bookkeeping).
const idleSettle = time.Second

// idleWarmRequests warm a fresh proxy before its baseline: its code paths and its pool of
// upstream connections, at the concurrency of the keepalive workload.
const idleWarmRequests = 2000

// poolSize is the idle upstream connections every proxy keeps (nginx keepalive 64,
// httputil.ReverseProxy's MaxIdleConnsPerHost, examples/proxy's -idle default).
const poolSize = 64

// memReading is the memory of the process under test at one moment.
type memReading struct {
	rss     uint64 // VmRSS of the process and its descendants (nginx's workers)
	goHeap  uint64 // HeapAlloc after a forced GC
	goStack uint64 // StackInuse
	rust    uint64 // offheap's Rust heap in use
}

// idleResult is the memory one target holds for idle keep-alive client connections.
type idleResult struct {
	target           target
	conns            int64 // client connections open and idle
	before, after    memReading
	goStats          bool
	upBefore, upHeld int   // ESTABLISHED connections to the upstream's port, before and when idle
	errors           int64 // failed opens, and connections the proxy closed while idle
	skip             string
}

// perConn returns the growth of one reading per idle connection (negative when it shrank).
func (r *idleResult) perConn(field func(memReading) uint64) float64 {
	if r.conns == 0 {
		return 0
	}
	return (float64(field(r.after)) - float64(field(r.before))) / float64(r.conns)
}

func rssOf(m memReading) uint64     { return m.rss }
func goHeapOf(m memReading) uint64  { return m.goHeap }
func goStackOf(m memReading) uint64 { return m.goStack }
func rustOf(m memReading) uint64    { return m.rust }

// measureIdle warms the freshly started proxy p, reads its memory, has the Go client open
// w.conns connections with one GET each and hold them idle, reads its memory again, then asks
// the client whether every connection is still open.
func measureIdle(cfg *config, w *workload, t target, p, up *proc) (idleResult, error) {
	r := idleResult{target: t, goStats: p.debug != ""}
	s, _ := sizesOf("2")
	spec := w.spec(p.addr, s[0], cfg.requests)
	if err := checkTarget(p.addr, w, s[0]); err != nil {
		return r, fmt.Errorf("%s: %w", t.label, err)
	}
	warm := spec
	warm.conns, warm.warmup, warm.d, warm.requests = poolSize, 0, time.Minute, idleWarmRequests
	wr, err := cfg.client(warm, func(bool) error { return nil })
	if err != nil {
		return r, fmt.Errorf("idle, %s: warming: %w", t.label, err)
	}
	r.errors += wr.Errors
	time.Sleep(idleSettle) // the warm-up's connections close
	_, upPort, err := net.SplitHostPort(up.addr)
	if err != nil {
		return r, err
	}
	if r.before, err = readMem(p); err != nil {
		return r, err
	}
	if r.upBefore, err = establishedTo(upPort); err != nil {
		return r, err
	}
	spec.warmup, spec.d = 0, 0
	c, err := startClient(cfg.loadCPU, spec)
	if err != nil {
		return r, fmt.Errorf("idle, %s: %w", t.label, err)
	}
	time.Sleep(idleSettle)
	if r.after, err = readMem(p); err != nil {
		return r, c.failed(err)
	}
	if r.upHeld, err = establishedTo(upPort); err != nil {
		return r, c.failed(err)
	}
	cr, err := c.command("check")
	if err != nil {
		return r, err
	}
	if err := c.finish(); err != nil {
		return r, err
	}
	r.conns = cr.Open
	r.errors += cr.Errors
	if cr.FirstError != "" {
		fmt.Printf("benchproxy: the Go client saw %d errors, the first: %s\n", cr.Errors, cr.FirstError)
	}
	return r, nil
}

// readMem forces a GC in a Go process (through net/http/pprof's heap profile with gc=1, which
// debugstats serves) and reads its heaps, then reads the RSS of the process and its children.
func readMem(p *proc) (memReading, error) {
	var m memReading
	if p.debug != "" {
		resp, err := http.Get("http://" + p.debug + "/debug/pprof/heap?gc=1")
		if err != nil {
			return m, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d, err := readDebug(p.debug)
		if err != nil {
			return m, err
		}
		m.goHeap, m.goStack, m.rust = d.HeapAlloc, d.StackInuse, d.RustLiveBytes
	}
	var err error
	m.rss, err = rssBytes(p.cmd.Process.Pid)
	return m, err
}

// rssBytes returns VmRSS of pid and its descendants (/proc/<pid>/status).
func rssBytes(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	total, err := parseVmRSS(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	for _, child := range children(pid) {
		if c, err := rssBytes(child); err == nil {
			total += c
		}
	}
	return total, nil
}

// parseVmRSS returns the VmRSS line of a /proc/<pid>/status document in bytes.
func parseVmRSS(status string) (uint64, error) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmRSS line %q", l)
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// establishedTo counts the ESTABLISHED TCP connections whose remote port is port (decimal), in
// /proc/net/tcp and /proc/net/tcp6: the connections the proxy holds to the upstream.
func establishedTo(port string) (int, error) {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		k, err := countEstablished(f, uint16(p))
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		n += k
	}
	return n, nil
}

// countEstablished counts the rows of a /proc/net/tcp table in state 01 (ESTABLISHED) whose
// rem_address has port.
func countEstablished(r io.Reader, port uint16) (int, error) {
	sc := bufio.NewScanner(r)
	n := 0
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 4 {
			continue // the header line
		}
		_, hexPort, ok := strings.Cut(f[2], ":")
		if !ok {
			return 0, fmt.Errorf("unexpected rem_address %q", f[2])
		}
		rp, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return 0, fmt.Errorf("unexpected rem_address %q", f[2])
		}
		if uint16(rp) == port && f[3] == "01" {
			n++
		}
	}
	return n, sc.Err()
}
