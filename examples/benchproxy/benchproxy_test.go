package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offheap/offheap/examples/internal/payload"
)

const wrkOutput = `Running 2s test @ http://127.0.0.1:40123/2
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.54ms    9.02ms 135.05ms   97.53%
    Req/Sec     7.54k     1.02k    8.50k    80.00%
  Latency Distribution
     50%    3.66ms
     75%    4.12ms
     90%    5.01ms
     99%  135.05ms
  14976 requests in 2.00s, 1.80MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   7488.00
Transfer/sec:      0.90MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := loadResult{Requests: 14976, Seconds: 2, RPS: 7488, P50: 3660 * time.Microsecond, P99: 135050 * time.Microsecond, Errors: 7}
	if r != want {
		t.Fatalf("parseWrk = %+v, want %+v", r, want)
	}
	r, err = parseWrk(strings.Replace(strings.Replace(wrkOutput, "50%    3.66ms", "50%  812.00us", 1), "99%  135.05ms", "99%    1.02s", 1))
	if err != nil || r.P50 != 812*time.Microsecond || r.P99 != 1020*time.Millisecond {
		t.Fatalf("parseWrk with us and s units = %+v, %v", r, err)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Fatal("parseWrk accepted a failed run")
	}
}

func TestReplaceBlock(t *testing.T) {
	block := markStart + "\nnew\n" + markEnd + "\n"
	cases := []struct{ old, want string }{
		{"", "# offheap benchmarks\n\n" + block},
		{"# b\n| x |", "# b\n| x |\n\n" + block},
		{"# b\n" + markStart + "\nold\n" + markEnd + "\n<!-- other:start -->o<!-- other:end -->\n",
			"# b\n" + block + "<!-- other:start -->o<!-- other:end -->\n"},
	}
	for _, c := range cases {
		if got := replaceBlock(c.old, block); got != c.want {
			t.Errorf("replaceBlock(%q) = %q, want %q", c.old, got, c.want)
		}
	}
}

// testWorkloads builds every workload with small settings.
func testWorkloads(t *testing.T) []*workload {
	t.Helper()
	sizes, err := sizesOf("2,16k")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := buildWorkloads(workloadOptions{sizes: sizes, conns: 8, many: 100, warmup: time.Second, d: 10 * time.Second,
		warmupOther: time.Second, dOther: 5 * time.Second, keys: workloadKeys})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func workloadByKey(ws []*workload, key string) *workload {
	for _, w := range ws {
		if w.key == key {
			return w
		}
	}
	return nil
}

func TestReportTargets(t *testing.T) {
	ws := testWorkloads(t)
	keep := workloadByKey(ws, wKeepalive)
	s := payload.Sizes[0]
	mk := func(w *workload, key string, reqs int64, cpu float64, p99 time.Duration, allocs uint64) result {
		return result{workload: w, target: target{key: key, label: key}, size: s, cpu: cpu, goStats: key != "nginx", allocs: allocs,
			load: loadResult{Requests: reqs, Seconds: 1, RPS: float64(reqs), P99: p99}}
	}
	out := report([]result{
		mk(keep, "httputil", 1000, 1, 10*time.Millisecond, 70000),
		mk(keep, "nginx", 1000, 0.4, 5*time.Millisecond, 0),
		mk(keep, "offheap", 1000, 0.25, 8*time.Millisecond, 1000),
	}, nil, []*workload{keep}, settings{loader: "go"})
	for _, want := range []string{"| 4.00x: met |", "| 1.60x: met |", "| 8.00 ms vs 10.00 ms: met |", "| 1.0 / req: met |",
		"| 0: met |", "| httputil | 2 B | 1000 |", "| offheap | 2 B | 1000 | 0 µs | 8.00 ms | 0.80x | 0.250 | 4000 | 1.60x | 4.00x |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// A miss states its bound: the requests per second of the proxy's kernel time alone.
	short := mk(keep, "offheap", 1000, 0.6, 8*time.Millisecond, 0)
	short.sysCPU = 0.45
	out = report([]result{mk(keep, "httputil", 1000, 1, 10*time.Millisecond, 0), mk(keep, "nginx", 1000, 0.4, 5*time.Millisecond, 0), short},
		nil, []*workload{keep}, settings{loader: "go"})
	for _, want := range []string{"| 0.67x: **not met**; kernel time alone: 0.89x, out of reach with these system calls |",
		"| 1.67x: **not met**; kernel time alone: 2.22x, within reach |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out = report([]result{{workload: keep, target: target{key: "offheap", label: "offheap"}, size: s, skip: "not built"}},
		nil, []*workload{keep}, settings{loader: "go"})
	if !strings.Contains(out, "not measured (not built)") || !strings.HasPrefix(out, markStart) || !strings.HasSuffix(out, markEnd+"\n") {
		t.Errorf("report of a skipped offheap proxy:\n%s", out)
	}
}

// TestReportWorkloads checks what the report says of each workload beyond keepalive: the
// allocations per new connection in churn, the upstream's failed checks in uploads, the 1-core
// figures beside the 2-core ones and the idle memory goals.
func TestReportWorkloads(t *testing.T) {
	ws := testWorkloads(t)
	s, k16 := payload.Sizes[0], payload.Sizes[1]
	mk := func(w string, key string, size payload.Size, reqs int64, cpu float64, allocs uint64) result {
		return result{workload: workloadByKey(ws, w), target: target{key: key, label: key}, size: size, cpu: cpu,
			goStats: key != "nginx", allocs: allocs, load: loadResult{Requests: reqs, Seconds: 1, RPS: float64(reqs), P99: time.Millisecond}}
	}
	failed := mk(wUpload, "offheap", k16, 100, 0.01, 0)
	failed.upFailures = 3
	results := []result{
		mk(wKeepalive, "offheap", s, 1000, 0.01, 0),
		mk(wChurn, "httputil", s, 100, 0.1, 10000),
		mk(wChurn, "offheap", s, 100, 0.01, 1200),
		failed,
		mk(wCores2, "offheap", s, 1500, 0.02, 0),
	}
	idles := []idleResult{
		{target: target{key: "offheap", label: "offheap"}, conns: 1000, goStats: true, upBefore: 64, upHeld: 64,
			before: memReading{rss: 10 << 20, rust: 1 << 20}, after: memReading{rss: 10<<20 + 3000*1000, rust: 1<<20 + 1000*1000}},
		{target: target{key: "httputil", label: "httputil"}, conns: 1000, goStats: true, upBefore: 64, upHeld: 1000,
			before: memReading{rss: 10 << 20}, after: memReading{rss: 30 << 20}},
	}
	out := report(results, idles, ws, settings{loader: "go", cores2CPUs: "0,1"})
	for _, want := range []string{
		"| churn | 2 B | nginx not measured | 10.00x: met |", "| 12.0 / new connection: **not met** |", "Go allocs / new conn",
		"| 3 (3 failed the upstream's check) |", "| upload | 16 KiB | nginx not measured | httputil not measured | httputil not measured | 0.0 / req: met | 3: **not met** | – | – |",
		"| upload | 1 MiB | not measured | not measured | not measured | not measured | not measured | – | – |",
		"| offheap | 2 B | 1000 | 1500 | 100000 | 75000 | 1.00 ms | 1.00 ms |", "pinned to CPUs 0,1",
		"| idle | 2 B | – | – | – | – | 0: met | 3000 B: met | 64 held: met |",
		"| offheap | 1000 | 10.0 MiB | 12.9 MiB | 3000 B | 0 B | 0 B | 1000 B | 64 → 64 | 0 |",
		"| httputil | 1000 | 10.0 MiB | 30.0 MiB | 20.5 KiB | 0 B | 0 B | 0 B | 64 → 1000 | 0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "offheap-go") {
		t.Errorf("report has a goals table for a proxy that did not run:\n%s", out)
	}
}

func TestBuildWorkloads(t *testing.T) {
	sizes, _ := sizesOf("2")
	ws, err := buildWorkloads(workloadOptions{sizes: sizes, conns: 8, many: 100, d: 10 * time.Second, dOther: 5 * time.Second,
		keys: []string{wIdle, wKeepalive, wC5000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 3 || ws[0].key != wKeepalive || ws[1].key != wC5000 || ws[2].key != wIdle {
		t.Fatalf("workloads out of order: %v %v %v", ws[0].key, ws[1].key, ws[2].key)
	}
	if ws[0].d != 10*time.Second || ws[1].d != 5*time.Second || ws[1].conns != 100 || !ws[1].goClient || ws[0].conns != 8 {
		t.Fatalf("workload settings: %+v %+v", *ws[0], *ws[1])
	}
	if _, err := buildWorkloads(workloadOptions{keys: []string{"keepalive", "nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown workload: %v", err)
	}
	all := testWorkloads(t)
	for _, c := range []struct {
		w, target string
		has       bool
	}{{wKeepalive, "ceiling", true}, {wChurn, "ceiling", false}, {wCores2, "direct", false}, {wIdle, "direct", false},
		{wUpload, "direct", true}, {wIdle, "nginx", true}} {
		if got := workloadByKey(all, c.w).has(target{key: c.target}); got != c.has {
			t.Errorf("%s has %s = %v, want %v", c.w, c.target, got, c.has)
		}
	}
	up := workloadByKey(all, wUpload).spec("127.0.0.1:1", payload.Sizes[2], 5)
	if up.path != "/upload/1m" || up.upload != 1<<20 || up.want != 2 || up.requests != 5 {
		t.Fatalf("upload spec %+v", up)
	}
	if ch := workloadByKey(all, wChurn).spec("a:1", payload.Sizes[0], 5); !ch.close || ch.want != 2 {
		t.Fatalf("churn spec %+v", ch)
	}
}

func TestLuaUpload(t *testing.T) {
	rep := regexp.MustCompile(`wrk.body = string.rep\("([a-z]+)", (\d+)\):sub\(1, (\d+)\)`)
	for _, n := range []int{16 << 10, 1 << 20, 100} {
		script := luaUpload(n)
		m := rep.FindStringSubmatch(script)
		if m == nil || !strings.Contains(script, `wrk.method = "POST"`) {
			t.Fatalf("script for %d bytes:\n%s", n, script)
		}
		times, _ := strconv.Atoi(m[2])
		end, _ := strconv.Atoi(m[3])
		if body := strings.Repeat(m[1], times); end > len(body) || body[:end] != string(payload.Body(n)) {
			t.Fatalf("script for %d bytes builds another body:\n%s", n, script)
		}
	}
	if s := luaUpload(2); !strings.Contains(s, `wrk.body = "OK"`) {
		t.Fatalf("script for 2 bytes:\n%s", s)
	}
}

func TestClientArgs(t *testing.T) {
	s := loadSpec{addr: "127.0.0.1:9", path: "/upload/16k", conns: 7, warmup: time.Second, d: 3 * time.Second,
		requests: 11, want: 2, upload: 16 << 10, close: true}
	got, err := parseClientArgs(s.args()[1:])
	if err != nil || got != s {
		t.Fatalf("parseClientArgs(args) = %+v, %v; want %+v", got, err, s)
	}
	if _, err := parseClientArgs([]string{"-c", "0", "-addr", "x:1"}); err == nil {
		t.Fatal("parseClientArgs accepted -c 0")
	}
	req := string(s.request())
	if !strings.HasPrefix(req, "POST /upload/16k HTTP/1.1\r\nHost: 127.0.0.1:9\r\n") ||
		!strings.Contains(req, "\r\nConnection: close\r\n") || !strings.Contains(req, "\r\nContent-Length: 16384\r\n\r\n") ||
		!strings.HasSuffix(req, string(payload.Body(16<<10))) {
		t.Fatalf("request %q", req[:200])
	}
	if get := (loadSpec{addr: "a:1", path: "/2"}).request(); string(get) != "GET /2 HTTP/1.1\r\nHost: a:1\r\nUser-Agent: benchproxy\r\n\r\n" {
		t.Fatalf("GET request %q", get)
	}
}

// runClient runs the client's side of the protocol in this process and sends cmd.
func runClient(t *testing.T, s loadSpec, cmd string) clientResult {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- clientMain(s.args()[1:], inR, outW); outW.Close() }()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ready ") {
		t.Fatalf("no ready line: %q", sc.Text())
	}
	if _, err := io.WriteString(inW, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	if !sc.Scan() {
		t.Fatalf("no result: %v", <-done)
	}
	var r clientResult
	if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClient(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodPost && string(body) == string(payload.Body(len(body))):
			w.Write([]byte("OK"))
		case r.URL.Path == "/short":
			w.Write([]byte("O"))
		default:
			w.Write(payload.Body(16 << 10))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	base := loadSpec{addr: addr, path: "/16k", conns: 4, d: 10 * time.Second, requests: 50, want: 16 << 10}

	r := runClient(t, base, "run")
	if r.Requests != 50 || r.Errors != 0 || r.Open != 4 || r.P99 <= 0 || conns.Load() != 4 {
		t.Fatalf("keep-alive run: %+v, %d connections", r, conns.Load())
	}
	churn := base
	churn.close = true
	conns.Store(0)
	if r := runClient(t, churn, "run"); r.Requests != 50 || r.Errors != 0 || conns.Load() != 50 {
		t.Fatalf("churn run: %+v, %d connections (want one per request)", r, conns.Load())
	}
	up := base
	up.path, up.upload, up.want = "/upload", 1<<20, 2
	if r := runClient(t, up, "run"); r.Requests != 50 || r.Errors != 0 {
		t.Fatalf("upload run: %+v", r)
	}
	bad := base
	bad.path = "/short"
	if r := runClient(t, bad, "run"); r.Requests != 0 || r.Errors != 54 || !strings.Contains(r.FirstError, "1 body bytes, want 200 with 16384") {
		t.Fatalf("a wrong body length must count as an error on every request: %+v", r)
	}
	idle := base
	idle.d = 0
	if r := runClient(t, idle, "check"); r.Open != 4 || r.Dropped != 0 || r.Errors != 0 {
		t.Fatalf("idle check: %+v", r)
	}
}

// TestClientDropped: a server that closes idle connections makes the check count them.
func TestClientDropped(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("OK")) }))
	srv.Config.IdleTimeout = time.Millisecond
	closed := make(chan struct{}, 3)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := loadSpec{addr: srv.Listener.Addr().String(), path: "/2", conns: 3, requests: 1, want: 2}
	done := make(chan error, 1)
	go func() { done <- clientMain(s.args()[1:], inR, outW); outW.Close() }()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() || sc.Text() != "ready 3" {
		t.Fatalf("ready line %q", sc.Text())
	}
	for range 3 { // the server's idle timeout closes them
		<-closed
	}
	io.WriteString(inW, "check\n")
	var r clientResult
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &r) != nil {
		t.Fatalf("result %q", sc.Text())
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.Dropped != 3 || r.Errors != 3 || !strings.Contains(r.FirstError, "closed an idle connection") {
		t.Fatalf("check after the server closed every connection: %+v", r)
	}
}

const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C351 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C352 0100007F:1F90 06 00000000:00000000 00:00000000 00000000  1000        0 0 3 0000000000000000
   4: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4 1 0000000000000000 20 4 30 10 -1
`

func TestCountEstablished(t *testing.T) {
	n, err := countEstablished(strings.NewReader(procNetTCP), 0x1F90)
	if err != nil || n != 2 {
		t.Fatalf("countEstablished = %d, %v; want the 2 ESTABLISHED rows with remote port 8080", n, err)
	}
	if _, err := countEstablished(strings.NewReader("header\n 0: 0100007F:1F90 zz 01\n"), 1); err == nil {
		t.Fatal("countEstablished accepted a malformed row")
	}
	if _, err := establishedTo("80"); err != nil {
		t.Fatal(err)
	}
}

func TestParseVmRSS(t *testing.T) {
	n, err := parseVmRSS("Name:\tproxy\nVmHWM:\t  9000 kB\nVmRSS:\t    8204 kB\nRssAnon:\t 100 kB\n")
	if err != nil || n != 8204<<10 {
		t.Fatalf("parseVmRSS = %d, %v", n, err)
	}
	if _, err := parseVmRSS("Name:\tkthread\n"); err == nil {
		t.Fatal("parseVmRSS accepted a status without VmRSS")
	}
	if n, err := rssBytes(os.Getpid()); err != nil || n == 0 {
		t.Fatalf("rssBytes(self) = %d, %v", n, err)
	}
}

func TestNginxConfig(t *testing.T) {
	dir := t.TempDir()
	path, err := nginxConfig(dir, "127.0.0.1:1", "127.0.0.1:2", 2, 5000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	conf := string(b)
	for _, want := range []string{"worker_processes 2;", "worker_connections 11024;", "keepalive 64;", "listen 127.0.0.1:1;", "server 127.0.0.1:2;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, conf)
		}
	}
	if !regexp.MustCompile(`worker_rlimit_nofile \d+;`).MatchString(conf) {
		t.Errorf("nginx.conf has no worker_rlimit_nofile:\n%s", conf)
	}
}

func TestHasFlag(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "proxy")
	usage := "#!/bin/sh\necho 'Usage of proxy:\n  -idle int\n    \tpool\n  -workers int\n    \tengine workers' >&2\nexit 2\n"
	if err := os.WriteFile(bin, []byte(usage), 0o755); err != nil {
		t.Fatal(err)
	}
	if !hasFlag(bin, "workers") || hasFlag(bin, "work") || hasFlag(bin, "sessions") {
		t.Fatal("hasFlag does not read the usage")
	}
}

func TestFmtBytes(t *testing.T) {
	for n, want := range map[float64]string{512: "512 B", 10 << 10: "10.0 KiB", -20 << 10: "-20.0 KiB", 15 << 20: "15.0 MiB"} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%v) = %q, want %q", n, got, want)
		}
	}
}

func TestCPUSeconds(t *testing.T) {
	c, err := cpuSeconds(1)
	if err != nil {
		t.Fatal(err)
	}
	if c.sys < 0 || c.sys > c.total {
		t.Fatalf("cpuSeconds(1) = %+v: want 0 <= sys <= total", c)
	}
}
