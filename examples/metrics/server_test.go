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

// do sends a request with a Content-Type (when not "") and returns the status and the body.
func do(t *testing.T, method, url, ctype string, body io.Reader) (int, string) {
	t.Helper()
	hdr := http.Header{}
	if ctype != "" {
		hdr.Set("Content-Type", ctype)
	}
	code, _, data := send(t, method, url, hdr, body)
	return code, data
}

// send sends a request with the headers hdr and returns the status, headers and body.
func send(t *testing.T, method, url string, hdr http.Header, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}

// forEachEngine runs test as a subtest per engine, given the default configuration with it.
func forEachEngine(t *testing.T, test func(t *testing.T, cfg Config)) {
	for _, engine := range []string{"offheap", "go"} {
		t.Run(engine, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Engine = engine
			test(t, cfg)
		})
	}
}

func TestEndToEnd(t *testing.T) { forEachEngine(t, testEndToEnd) }

func testEndToEnd(t *testing.T, cfg Config) {
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
		`# TYPE http_latency_seconds summary`,
		`http_latency_seconds_count{code="200",route="/a"} 3`,
		`http_latency_seconds_sum{code="200",route="/a"} 1.5`,
		`# TYPE up summary`,
		`up_count 2`,
		`up_sum 2.0`,
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
	if i := strings.Index(expo, `http_latency_seconds{code="200",route="/a",quantile="0.5"} `); i < 0 {
		t.Error("/metrics lacks the median")
	} else if _, err := fmt.Sscan(expo[strings.IndexByte(expo[i:], '}')+i+1:], &median); err != nil || median < 0.495 || median > 0.505 {
		t.Errorf("median %v (%v), want 0.5 within 1%%", median, err)
	}
	if strings.Contains(expo, "\nold") {
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
	if strings.Contains(expo, "\nb_count") || !strings.Contains(expo, "\na_count 1\n") {
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
func TestLoadSmoke(t *testing.T) { forEachEngine(t, testLoadSmoke) }

func testLoadSmoke(t *testing.T, cfg Config) {
	_, url := newTestServer(t, cfg)
	addr := strings.TrimPrefix(url, "http://")
	var total uint64
	for _, format := range []string{"lines", "json"} {
		var out bytes.Buffer
		res, err := RunLoad(context.Background(), LoadConfig{Addr: addr, Conns: 2, Batch: 50, Series: 300,
			Format: format, Duration: time.Minute, Requests: 400, Heap: true}, &out)
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

// TestTypedFamiliesAndFormats: `# TYPE` and `# HELP` lines in a body give metrics their type
// and help; /metrics serves each metric under its own name and type in the format the Accept
// header asks for; the reserved label is a counted bad key that no scrape shows.
func TestTypedFamiliesAndFormats(t *testing.T) {
	_, url := newTestServer(t, DefaultConfig())
	body := "# TYPE requests_total counter\n# HELP requests_total Requests \\\\ by code.\\nTwo lines.\n" +
		"requests_total{code=\"200\"} 1\nrequests_total{code=\"200\"} 2\n" +
		"# TYPE temperature_celsius gauge\ntemperature_celsius 21.5\ntemperature_celsius 22\n" +
		"# TYPE latency_seconds histogram\nlatency_seconds 0.25\nlatency_seconds 0.5\n" +
		"http_latency_seconds{__name__=\"evil\"} 1\n" +
		"# TYPE bad-name counter\n# TYPE x nonsense\n"
	code, resp := do(t, "POST", url+"/ingest", "text/plain", strings.NewReader(body))
	if code != 200 || !strings.Contains(resp, `"accepted":6,`) || !strings.Contains(resp, `"bad_key":1,`) ||
		!strings.Contains(resp, `"rejected_lines":2,`) {
		t.Fatalf("ingest: %d %s", code, resp)
	}
	get := func(accept string) (string, string) {
		code, hdr, body := send(t, "GET", url+"/metrics", http.Header{"Accept": {accept}}, nil)
		if code != http.StatusOK {
			t.Fatalf("GET /metrics (Accept %s): %d %s", accept, code, body)
		}
		return hdr.Get("Content-Type"), body
	}
	ct, text := get("text/plain;version=0.0.4")
	for _, want := range []string{
		"# HELP requests_total Requests \\\\ by code.\\nTwo lines.\n# TYPE requests_total counter\nrequests_total{code=\"200\"} 3.0\n",
		"# TYPE temperature_celsius gauge\ntemperature_celsius 22.0\n",
		"# TYPE latency_seconds histogram\nlatency_seconds_bucket{le=\"+Inf\"} 2\nlatency_seconds_count 2\nlatency_seconds_sum 0.75\n",
		"ingest_samples_total{outcome=\"bad_key\"} 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") || strings.Contains(text, "evil") {
		t.Errorf("text: %s\n%s", ct, text)
	}
	ct, om := get("application/openmetrics-text;version=1.0.0")
	for _, want := range []string{
		"# TYPE ingest_requests counter\ningest_requests_total ",
		"# TYPE requests counter\nrequests_total{code=\"200\"} 3.0\n",
		"# TYPE latency_seconds gaugehistogram\n",
	} {
		if !strings.Contains(om, want) {
			t.Errorf("OpenMetrics lacks %q:\n%s", want, om)
		}
	}
	if !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") || !strings.HasSuffix(om, "\n# EOF\n") ||
		strings.Count(om, "# EOF") != 1 {
		t.Errorf("OpenMetrics: %s\n%s", ct, om)
	}
	ct, pb := get("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	if !strings.HasPrefix(ct, "application/vnd.google.protobuf") || !strings.Contains(pb, "latency_seconds") ||
		!strings.Contains(pb, "ingest_requests_total") {
		t.Errorf("protobuf: %s, %d bytes", ct, len(pb))
	}
}
