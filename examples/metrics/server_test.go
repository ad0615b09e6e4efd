package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newTestServer(t *testing.T, cfg Config) (*Service, string) {
	t.Helper()
	svc, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler()) // 127.0.0.1
	t.Cleanup(func() {
		srv.Close()
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	})
	return svc, srv.URL
}

func do(t *testing.T, method, url, ctype string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func TestEndToEnd(t *testing.T) {
	for _, engine := range []string{"offheap", "go"} {
		t.Run(engine, func(t *testing.T) { testEndToEnd(t, engine) })
	}
}

func testEndToEnd(t *testing.T, engine string) {
	cfg := DefaultConfig()
	cfg.Engine = engine
	cfg.BodyLimit = 64 << 10
	cfg.MaxSamples = 1000
	_, url := newTestServer(t, cfg)
	ms := time.Now().UnixMilli()
	lines := fmt.Sprintf("# latency\nhttp_latency_seconds{route=\"/a\",code=\"200\"} 0.25\n"+
		"http_latency_seconds{code=\"200\",route=\"/a\"} 0.75 %d\nnot a sample\nup 1\nup NaN\nold 1 1000\n", ms)
	code, body := do(t, "POST", url+"/ingest", "text/plain; charset=utf-8", strings.NewReader(lines))
	want := `{"accepted":3,"overflow":0,"late":1,"future":0,"invalid":1,"bad_key":0,"rejected_lines":1,` +
		`"first_error":{"line":4,"error":"bad value"}}` + "\n"
	if code != 200 || body != want {
		t.Fatalf("lines: %d %s, want %s", code, body, want)
	}
	js := fmt.Sprintf(`[{"series":"http_latency_seconds{route=\"/a\",code=\"200\"}","value":0.5,"ts":%d},`+
		`{"series":"up","value":1},{"series":"up"}]`, ms)
	code, body = do(t, "POST", url+"/ingest", "Application/JSON", strings.NewReader(js))
	want = `{"accepted":2,"overflow":0,"late":0,"future":0,"invalid":0,"bad_key":0,"rejected_lines":1,` +
		`"first_error":{"line":1,"error":"value must be a number"}}` + "\n"
	if code != 200 || body != want {
		t.Fatalf("json: %d %s, want %s", code, body, want)
	}

	code, expo := do(t, "GET", url+"/metrics", "", nil)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range []string{
		`ingest_window_count{metric="http_latency_seconds",code="200",route="/a"} 3`,
		`ingest_window_sum{metric="http_latency_seconds",code="200",route="/a"} 1.5`,
		`ingest_window_count{metric="up"} 2`,
		`ingest_window_sum{metric="up"} 2.0`,
		`ingest_requests_total 2`,
		`ingest_samples_total{outcome="accepted"} 5`,
		`ingest_samples_total{outcome="late"} 1`,
		`ingest_samples_total{outcome="invalid"} 1`,
		`ingest_rejected_lines_total 2`,
		`ingest_series 2`,
		fmt.Sprintf(`ingest_body_bytes_total %d`, len(lines)+len(js)),
	} {
		if !strings.Contains(expo, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, expo)
		}
	}
	// The median of 0.25, 0.5 and 0.75, within the sketch's relative accuracy (1%).
	var median float64
	if i := strings.Index(expo, `ingest_window{metric="http_latency_seconds",code="200",route="/a",quantile="0.5"} `); i < 0 {
		t.Error("/metrics lacks the median")
	} else if _, err := fmt.Sscan(expo[strings.IndexByte(expo[i:], '}')+i+1:], &median); err != nil || median < 0.495 || median > 0.505 {
		t.Errorf("median %v (%v), want 0.5 within 1%%", median, err)
	}
	if strings.Contains(expo, `metric="old"`) {
		t.Error("the late sample made a series")
	}

	code, heap := do(t, "GET", url+"/debug/heap", "", nil)
	for _, want := range []string{"Go HeapAlloc", "Go NumGC", "Rust heap live", "ingest requests 2, samples accepted 5",
		"aggregator: 2 series"} {
		if code != 200 || !strings.Contains(heap, want) {
			t.Errorf("/debug/heap (%d) lacks %q:\n%s", code, want, heap)
		}
	}
	code, gc := do(t, "GET", url+"/debug/gcstats", "", nil)
	var stats struct {
		Mallocs uint64            `json:"mallocs"`
		Extra   map[string]uint64 `json:"extra"`
	}
	if err := json.Unmarshal([]byte(gc), &stats); code != 200 || err != nil || stats.Mallocs == 0 ||
		stats.Extra[`ingest_samples_total{outcome="accepted"}`] != 5 {
		t.Errorf("/debug/gcstats: %d %v %s", code, err, gc)
	}

	for _, tc := range []struct {
		method, ctype string
		body          io.Reader
		code          int
		msg           string
	}{
		{"GET", "", nil, 405, "use POST"},
		{"POST", "application/xml", strings.NewReader("x 1"), 415, "Content-Type"},
		{"POST", "", strings.NewReader("x 1"), 415, "Content-Type"},
		{"POST", "text/plain", strings.NewReader(strings.Repeat("x", 64<<10+1)), 413, "too large"},
		// No Content-Length: the limit holds while reading.
		{"POST", "text/plain", io.MultiReader(strings.NewReader(strings.Repeat("x 1\n", 20<<10))), 413, "too large"},
		{"POST", "text/plain", strings.NewReader(strings.Repeat("x 1\n", 1001)), 413, "too many samples"},
		{"POST", "text/plain", strings.NewReader(""), 400, "no samples"},
		{"POST", "text/plain", strings.NewReader("# nothing\n"), 400, "no samples"},
		{"POST", "text/plain", strings.NewReader("x\ny\n"), 400, `"line":1`},
		{"POST", "application/json", strings.NewReader(`[{"series":"x","value":1}`), 400, "expected"},
		{"POST", "application/json", strings.NewReader(``), 400, "empty body"},
	} {
		code, body := do(t, tc.method, url+"/ingest", tc.ctype, tc.body)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.ctype, code, body, tc.code, tc.msg)
		}
	}
	// None of the failed requests ingested anything.
	_, expo = do(t, "GET", url+"/metrics", "", nil)
	if !strings.Contains(expo, "ingest_samples_total{outcome=\"accepted\"} 5\n") {
		t.Errorf("failed requests changed the accepted count:\n%s", expo)
	}
}

func TestStrict(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Strict = true
	_, url := newTestServer(t, cfg)
	code, body := do(t, "POST", url+"/ingest", "text/plain", strings.NewReader("a 1\nb x\nc 1\n"))
	if code != 400 || body != `{"error":"bad value","line":2,"rejected_lines":1}`+"\n" {
		t.Fatalf("strict: %d %s", code, body)
	}
	code, body = do(t, "POST", url+"/ingest", "text/plain", strings.NewReader("a 1\nc 1\n"))
	if code != 200 || !strings.HasPrefix(body, `{"accepted":2,`) {
		t.Fatalf("strict, all good: %d %s", code, body)
	}
	_, expo := do(t, "GET", url+"/metrics", "", nil)
	if strings.Contains(expo, `metric="b"`) || !strings.Contains(expo, `ingest_window_count{metric="a"} 1`+"\n") {
		t.Errorf("strict mode ingested a rejected request:\n%s", expo)
	}
}

// nullWriter is a ResponseWriter that keeps the last status and body, for allocation tests.
type nullWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *nullWriter) Header() http.Header { return w.h }
func (w *nullWriter) WriteHeader(s int)   { w.status = s }
func (w *nullWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.body.Write(b)
}

// TestIngestHandlerAllocs proves that the service's own ingest path (everything after net/http
// has parsed the request: reading the body, parsing, ingesting, answering) allocates nothing.
func TestIngestHandlerAllocs(t *testing.T) {
	svc, err := NewService(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, tc := range []struct{ format, ctype string }{{"lines", "text/plain"}, {"json", "application/json"}} {
		body := loadBody(tc.format, 500)
		rd := bytes.NewReader(body)
		req := httptest.NewRequest("POST", "/ingest", io.NopCloser(rd))
		req.Header.Set("Content-Type", tc.ctype)
		req.ContentLength = int64(len(body))
		w := &nullWriter{h: http.Header{}}
		w.body.Grow(4096)
		run := func() {
			rd.Reset(body)
			w.status = 0
			w.body.Reset()
			svc.ingest(w, req)
			if w.status != 200 || !bytes.HasPrefix(w.body.Bytes(), []byte(`{"accepted":500,`)) {
				panic(fmt.Sprintf("%s: %d %s", tc.format, w.status, w.body.Bytes()))
			}
		}
		run()
		if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
			t.Errorf("%s: %.1f allocations per ingest request of 500 samples, want 0", tc.format, allocs)
		}
	}
}

// TestLoadSmoke runs the load generator against the service (2 connections x 200 requests per
// format) and checks conservation: every sample sent is accepted, counted by the service and
// held by the window.
func TestLoadSmoke(t *testing.T) {
	for _, engine := range []string{"offheap", "go"} {
		t.Run(engine, func(t *testing.T) { testLoadSmoke(t, engine) })
	}
}

func testLoadSmoke(t *testing.T, engine string) {
	cfg := DefaultConfig()
	cfg.Engine = engine
	_, url := newTestServer(t, cfg)
	addr := strings.TrimPrefix(url, "http://")
	var total uint64
	for _, format := range []string{"lines", "json"} {
		var out bytes.Buffer
		res, err := RunLoad(context.Background(), LoadConfig{Addr: addr, Conns: 2, Batch: 50, Series: 300,
			Format: format, Duration: time.Minute, Requests: 400, Name: "ingest_window", Heap: true}, &out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out.String())
		}
		total += res.Samples
		if res.Requests != 400 || res.Samples != 400*50 || res.ServiceRequests != 400 || res.WindowCount != total {
			t.Errorf("%s: %+v (window holds %d, want %d)\n%s", format, res, res.WindowCount, total, out.String())
		}
		for _, want := range []string{"req/s", "samples/s", "allocations per request", "Rust heap live"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", format, want, out.String())
			}
		}
	}
	if _, err := RunLoad(context.Background(), LoadConfig{Addr: "10.1.2.3:80", Conns: 1, Batch: 1, Series: 1,
		Format: "lines", Duration: time.Second}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a non-loopback address: %v", err)
	}
}

// TestLoadCheck: a run whose counts do not add up fails.
func TestLoadCheck(t *testing.T) {
	ok := LoadResult{Requests: 2, Samples: 10, Accepted: 10, ServiceAccepted: 10}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []LoadResult{
		{Requests: 2, Samples: 10, Accepted: 9, ServiceAccepted: 10},
		{Requests: 2, Samples: 10, Accepted: 10, ServiceAccepted: 11},
		{Requests: 2, Samples: 10, Accepted: 10, ServiceAccepted: 10, Failed: 1},
	} {
		if bad.Check() == nil {
			t.Errorf("%+v passed the check", bad)
		}
	}
}

// TestServeMainShutdown runs the command's server, ingests a sample, and shuts it down
// gracefully with SIGTERM.
func TestServeMainShutdown(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- serveMain([]string{"-listen", "127.0.0.1:0", "-addr-file", addrFile, "-window", "30s"}, &out)
	}()
	var addr []byte
	for range 200 {
		if addr, _ = os.ReadFile(addrFile); len(addr) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	url := "http://" + strings.TrimSpace(string(addr))
	if code, body := do(t, "POST", url+"/ingest", "text/plain", strings.NewReader("up 1\n")); code != 200 ||
		!strings.HasPrefix(body, `{"accepted":1,`) {
		t.Fatalf("ingest: %d %s", code, body)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "metrics: shut down") {
			t.Fatalf("serveMain: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
	if err := serveMain([]string{"-engine", "rust"}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown engine") {
		t.Errorf("-engine rust: %v", err)
	}
}
