//go:build cgo

package offheap

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// exposed returns an aggregator of series keys with a family of every type, and some samples.
func exposed(t *testing.T) *Aggregator {
	t.Helper()
	a, err := NewAggregator(AggregatorConfig{Mode: Tumbling, Width: time.Minute, KeyFormat: KeySeries})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	for name, typ := range map[string]MetricType{"hits_total": Counter, "temp": Gauge, "lat": Histogram} {
		if err := a.SetFamily(name, typ, "Help of "+name+"."); err != nil {
			t.Fatal(err)
		}
	}
	var b SampleBatch
	for i := range 100 {
		for _, m := range []string{"hits_total", "temp", "lat", "size"} {
			b.AddKey(AppendSeriesKey(nil, m, "route", "/"+string(rune('a'+i%3))), sec, float64(i))
		}
	}
	if acc, err := a.Ingest(&b, sec); err != nil || acc.Accepted != 400 {
		t.Fatal(acc, err)
	}
	return a
}

// WriteExposition allocates nothing on the Go heap, in any format.
func TestWriteExpositionAllocatesNothing(t *testing.T) {
	a := exposed(t)
	for _, f := range []ExpositionFormat{FormatText, FormatOpenMetrics, FormatProtobuf} {
		var buf bytes.Buffer
		n, err := a.WriteExposition(&buf, sec, f)
		if err != nil || n == 0 || int(n) != buf.Len() {
			t.Fatalf("format %d: %d bytes, %v", f, n, err)
		}
		if allocs := testing.AllocsPerRun(20, func() { a.WriteExposition(io.Discard, sec, f) }); allocs != 0 {
			t.Errorf("format %d: %v allocations per exposition", f, allocs)
		}
	}
}

// AppendSeriesKey sorts labels, escapes values and allocates nothing into a large enough dst.
func TestAppendSeriesKey(t *testing.T) {
	for _, c := range []struct {
		name   string
		labels []string
		want   string
	}{
		{"up", nil, "up"},
		{"x", []string{"route", "/a", "code", "200"}, `x{code="200",route="/a"}`},
		{"x", []string{"v", "q\"\\\n\t"}, `x{v="q\"\\\n` + "\t\"}"},
		{"x", []string{"odd"}, `x{odd=""}`},
	} {
		if got := string(AppendSeriesKey(nil, c.name, c.labels...)); got != c.want {
			t.Errorf("AppendSeriesKey(%q, %q) = %s, want %s", c.name, c.labels, got, c.want)
		}
	}
	dst := make([]byte, 0, 256)
	labels := []string{"z", "1", "a", "2", "m", "3"}
	if allocs := testing.AllocsPerRun(100, func() { dst = AppendSeriesKey(dst[:0], "metric", labels...) }); allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

// SetFamily's errors name the argument refused, then the library's message naming the rule.
func TestSetFamilyErrors(t *testing.T) {
	a := exposed(t)
	for _, c := range []struct {
		name, help  string
		typ         MetricType
		field, want string
	}{
		{"x_count", "", Counter, "name", "not end in _sum, _count"},
		{"__x", "", Counter, "name", "not start with __"},
		{"a-b", "", Counter, "name", "must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
		{"x", strings.Repeat("h", 1<<20+1), Gauge, "help", "a help text (the aggregator's or a family's) must be at most 1048576 bytes"},
		{"x", "\xff", Gauge, "help", "bytes of UTF-8"},
		{"x", "", 9, "type", "must be 0 (summary), 1 (histogram)"},
	} {
		err := a.SetFamily(c.name, c.typ, c.help)
		var e *Error
		field := "SetFamily's " + c.field
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &e) || e.Field != field ||
			!strings.HasPrefix(err.Error(), "Aggregator.SetFamily: "+field+": offheap: window: ") ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("SetFamily(%q, %d) = %v, want %s refused: %q", c.name, c.typ, err, field, c.want)
		}
	}
}

// The handler negotiates the format, gzips when asked, writes Before's families first, answers
// HEAD without a body and refuses other methods.
func TestHandler(t *testing.T) {
	a := exposed(t)
	h := a.Handler(HandlerOptions{Now: func() int64 { return sec }, Before: func(w io.Writer, f ExpositionFormat) error {
		if f == FormatProtobuf {
			return nil
		}
		_, err := io.WriteString(w, "# TYPE own_up gauge\nown_up 1\n")
		return err
	}})
	get := func(method, accept string, gz bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/metrics", nil)
		req.Header.Set("Accept", accept)
		if gz {
			req.Header.Set("Accept-Encoding", "deflate, gzip;q=0.5")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	text := get("GET", "", false)
	if ct := text.Header().Get("Content-Type"); ct != ContentTypeText || !strings.HasPrefix(text.Body.String(), "# TYPE own_up gauge\n") ||
		!strings.Contains(text.Body.String(), "# HELP hits_total Help of hits_total.\n# TYPE hits_total counter\n") {
		t.Fatalf("text: %s\n%s", ct, text.Body)
	}
	om := get("GET", "application/openmetrics-text;version=1.0.0", true)
	if om.Header().Get("Content-Encoding") != "gzip" || om.Header().Get("Content-Type") != ContentTypeOpenMetrics {
		t.Fatalf("OpenMetrics: %v", om.Header())
	}
	zr, err := gzip.NewReader(om.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if !bytes.HasSuffix(body, []byte("\n# EOF\n")) || !bytes.Contains(body, []byte("# TYPE hits counter\n")) {
		t.Errorf("OpenMetrics body:\n%s", body)
	}
	pb := get("GET", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", false)
	if pb.Header().Get("Content-Type") != ContentTypeProtobuf || !bytes.Contains(pb.Body.Bytes(), []byte("lat")) {
		t.Errorf("protobuf: %v", pb.Header())
	}
	noOM := a.Handler(HandlerOptions{DisableOpenMetrics: true, DisableCompression: true})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	noOM.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Type") != ContentTypeText || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("DisableOpenMetrics, DisableCompression: %v", rec.Header())
	}
	if head := get("HEAD", "", false); head.Code != 200 || head.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", head.Code, head.Body.Len())
	}
	if post := get("POST", "", false); post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", post.Code)
	}
	a.Close()
	for _, gz := range []bool{false, true} {
		closed := get("GET", "", gz)
		if closed.Code != http.StatusInternalServerError || closed.Header().Get("Content-Encoding") != "" ||
			!strings.Contains(closed.Body.String(), "closed") {
			t.Errorf("closed aggregator (gzip %v): %d %v %s", gz, closed.Code, closed.Header(), closed.Body)
		}
	}
}

// acceptsGzip reads Accept-Encoding as servers do: gzip listed with a quality above 0.
func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip": true, "gzip;q=0": false, "gzip; q=0.001": true,
		"br, gzip;q=0.0": false, "x-gzip": false, "identity": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v", h, got)
		}
	}
}
