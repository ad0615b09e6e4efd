package promparse

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// nastyValues are label values that need escaping or that parsers might trip on: every
// control character, quotes, backslashes, multi-byte UTF-8, the empty string.
func nastyValues() []string {
	var ctl strings.Builder
	for c := 0; c < 0x20; c++ {
		ctl.WriteByte(byte(c))
	}
	ctl.WriteByte(0x7f)
	return []string{ctl.String(), `a"b\c`, "\\n is not a newline", "line\nbreak", "é✓🙂", "", "} {,=\"",
		"tab\there"}
}

// seriesAggregator is a tumbling aggregator keyed by series, with a family of every type.
func seriesAggregator(t testing.TB, maxSeries int) *offheap.Aggregator {
	t.Helper()
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{
		Mode: offheap.Tumbling, Width: time.Minute, KeyFormat: offheap.KeySeries, MaxSeries: maxSeries,
		Quantiles: []float64{0.5, 0.99}, Name: "offheap_overflow", Help: "Samples of series past the cap.",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agg.Close() })
	for _, f := range []struct {
		name string
		typ  offheap.MetricType
		help string
	}{
		{"requests_total", offheap.Counter, "Requests by path.\nA second line with \\ and \"quotes\" and a\ttab."},
		{"temperature_celsius", offheap.Gauge, ""},
		{"latency_seconds", offheap.Histogram, "Latency."},
	} {
		if err := agg.SetFamily(f.name, f.typ, f.help); err != nil {
			t.Fatal(err)
		}
	}
	return agg
}

// want is what one series should expose.
type want struct {
	count      uint64
	sum, last  float64
	labelValue string
}

// TestEveryTypeInEveryFormat ingests series of every type with label values that need
// escaping, scrapes them in every format (plain and gzipped) and checks what expfmt reads
// back: family names and types, every label value byte for byte, counts, sums and values.
func TestEveryTypeInEveryFormat(t *testing.T) {
	agg := seriesAggregator(t, 1000)
	metrics := []string{"requests_total", "temperature_celsius", "latency_seconds", "size_bytes"}
	wants := map[string]map[string]*want{}
	var keys []string
	var values []float64
	for mi, m := range metrics {
		wants[m] = map[string]*want{}
		for vi, v := range nastyValues() {
			key := offheap.AppendSeriesKey(nil, m, "path", v, "code", fmt.Sprint(200+vi))
			for k := range 3 {
				x := float64(1+mi) * float64(1+k) * 0.5
				if m == "temperature_celsius" {
					x = -x
				}
				keys = append(keys, string(key))
				values = append(values, x)
				lk := fmt.Sprintf("code=%d,path=%s", 200+vi, v)
				w := wants[m][lk]
				if w == nil {
					w = &want{labelValue: v}
					wants[m][lk] = w
				}
				w.count++
				w.sum += x
				w.last = x
			}
		}
	}
	acc := ingestAll(t, agg, keys, values, sec)
	if acc.Accepted != uint64(len(keys)) {
		t.Fatalf("accounting %+v for %d samples", acc, len(keys))
	}
	h := agg.Handler(offheap.HandlerOptions{Now: func() int64 { return sec }})
	for _, f := range formats {
		for _, gz := range []bool{false, true} {
			ct, body := scrape(t, h, f.accept, gz)
			if ct != offheap.ExpositionFormat(formatOf(f)).ContentType() {
				t.Errorf("%s: Content-Type %q", f.name, ct)
			}
			mfs := mustDecode(t, body, f)
			checkFamilies(t, f, mfs, wants)
			if !gz {
				save(t, "every_type", f, body, nastyValues())
			}
		}
	}
}

func formatOf(f format) offheap.ExpositionFormat {
	switch f.name {
	case "openmetrics":
		return offheap.FormatOpenMetrics
	case "protobuf":
		return offheap.FormatProtobuf
	}
	return offheap.FormatText
}

// checkFamilies compares the decoded families with the series ingested.
func checkFamilies(t *testing.T, f format, mfs []*dto.MetricFamily, wants map[string]map[string]*want) {
	t.Helper()
	histType := dto.MetricType_GAUGE_HISTOGRAM
	if f.name == "text" {
		histType = dto.MetricType_HISTOGRAM
	}
	// The OpenMetrics family is "requests" (its sample requests_total); expfmt names the
	// decoded family requests_total, as client_golang does.
	counterName := "requests_total"
	types := map[string]dto.MetricType{
		"requests_total": dto.MetricType_COUNTER, "temperature_celsius": dto.MetricType_GAUGE,
		"latency_seconds": histType, "size_bytes": dto.MetricType_SUMMARY,
	}
	for metric, series := range wants {
		name := metric
		if metric == "requests_total" {
			name = counterName
		}
		mf := family(mfs, name)
		if mf == nil {
			t.Errorf("%s: no family %s", f.name, name)
			continue
		}
		if mf.GetType() != types[metric] {
			t.Errorf("%s: %s has type %v", f.name, name, mf.GetType())
		}
		if metric == "requests_total" && !strings.Contains(mf.GetHelp(), "second line with \\ and \"quotes\"") {
			t.Errorf("%s: help %q", f.name, mf.GetHelp())
		}
		if len(mf.GetMetric()) != len(series) {
			t.Errorf("%s: %s has %d series, want %d", f.name, name, len(mf.GetMetric()), len(series))
		}
		for _, m := range mf.GetMetric() {
			w := series[labelKey(m)]
			if w == nil {
				t.Errorf("%s: %s has unexpected labels %q", f.name, name, labelKey(m))
				continue
			}
			checkMetric(t, f.name+" "+name+"{"+labelKey(m)+"}", metric, m, w)
			if metric == "latency_seconds" && f.name == "protobuf" {
				// A native histogram of the default α = 0.01: schema 6, buckets holding every
				// observation.
				if n := readNative(t, m.GetHistogram()); n.schema != 6 || n.count != w.count {
					t.Errorf("%s: native histogram of schema %d with %d observations", name, n.schema, n.count)
				}
			}
		}
	}
	if mf := family(mfs, "offheap_overflow"); mf != nil {
		t.Errorf("%s: an overflow family without overflow: %v", f.name, mf)
	}
}

func checkMetric(t *testing.T, what, metric string, m *dto.Metric, w *want) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	switch metric {
	case "requests_total":
		if v := m.GetCounter().GetValue(); !near(v, w.sum) {
			t.Errorf("%s = %v, want %v", what, v, w.sum)
		}
	case "temperature_celsius":
		if v := m.GetGauge().GetValue(); v != w.last {
			t.Errorf("%s = %v, want %v", what, v, w.last)
		}
	case "latency_seconds":
		h := m.GetHistogram()
		if h.GetSampleCount() != w.count || !near(h.GetSampleSum(), w.sum) {
			t.Errorf("%s: count %d sum %v, want %d %v", what, h.GetSampleCount(), h.GetSampleSum(), w.count, w.sum)
		}
	case "size_bytes":
		s := m.GetSummary()
		if s.GetSampleCount() != w.count || !near(s.GetSampleSum(), w.sum) || len(s.GetQuantile()) != 2 {
			t.Errorf("%s: count %d sum %v quantiles %v", what, s.GetSampleCount(), s.GetSampleSum(), s.GetQuantile())
		}
	}
}

// TestRefusedKeysNeverReachAScrape is the first report: a reserved or repeated label
// is a counted bad key, and every later scrape still parses.
func TestRefusedKeysNeverReachAScrape(t *testing.T) {
	agg := seriesAggregator(t, 1000)
	bad := []string{`http_latency_seconds{__name__="evil"}`, `http_latency_seconds{route="/a",route="/b"}`,
		`http_latency_seconds{quantile="0.5"}`, `http_latency_seconds{le="1"}`, `x_count`, `x{}`, "bad\xffutf8"}
	acc := ingestAll(t, agg, append(bad, `http_latency_seconds{route="/a"}`), make([]float64, len(bad)+1), sec)
	if acc.BadKey != uint64(len(bad)) || acc.Accepted != 1 {
		t.Fatalf("accounting %+v", acc)
	}
	h := agg.Handler(offheap.HandlerOptions{Now: func() int64 { return sec }})
	for _, f := range formats {
		_, body := scrape(t, h, f.accept, false)
		mfs := mustDecode(t, body, f)
		if len(mfs) != 1 || mfs[0].GetName() != "http_latency_seconds" || len(mfs[0].GetMetric()) != 1 {
			t.Errorf("%s: %v", f.name, mfs)
		}
		if bytes.Contains(body, []byte("evil")) {
			t.Errorf("%s: a refused key reached the exposition", f.name)
		}
		save(t, "refused_keys", f, body, []string{"/a"})
	}
}

// TestHelpOfOneMebibyte serves help texts up to 1 MiB (escaped per format) in every format.
// expfmt's OpenMetrics parser takes over a minute on a 1 MiB help line (its grammar-driven
// scanner is quadratic there), so it reads the 64 KiB one; parse.py reads the 1 MiB one.
func TestHelpOfOneMebibyte(t *testing.T) {
	const piece = "big \"help\" with \\ and\nnewlines\tand tabs;"
	for _, size := range []int{64 << 10, 1 << 20} {
		help := strings.Repeat(piece, size/len(piece))
		agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Width: time.Minute, Name: "big", Help: help})
		if err != nil {
			t.Fatal(err)
		}
		defer agg.Close()
		var b offheap.SampleBatch
		b.Add(1, sec, 1)
		if _, err := agg.Ingest(&b, sec); err != nil {
			t.Fatal(err)
		}
		h := agg.Handler(offheap.HandlerOptions{Now: func() int64 { return sec }})
		for _, f := range formats {
			_, body := scrape(t, h, f.accept, true)
			if f.name == "openmetrics" && size > 64<<10 {
				saveHelp(t, fmt.Sprintf("help_%d", size), f, body, []string{"1"}, help)
				continue
			}
			mfs := mustDecode(t, body, f)
			if len(mfs) != 1 || mfs[0].GetHelp() != help || len(mfs[0].GetMetric()) != 1 {
				t.Errorf("%s: help of %d bytes: %d families", f.name, len(help), len(mfs))
			}
			saveHelp(t, fmt.Sprintf("help_%d", size), f, body, []string{"1"}, help)
		}
	}
	if _, err := offheap.NewAggregator(offheap.AggregatorConfig{Width: time.Minute, Help: strings.Repeat("x", 1<<20+1)}); err == nil ||
		!strings.Contains(err.Error(), "AggregatorConfig.Help: offheap: window: a help text") {
		t.Errorf("a help over 1 MiB: %v", err)
	}
}

// TestNegotiationAgreesWithExpfmt compares the handler's choice with expfmt's
// NegotiateIncludingOpenMetrics over the formats the handler offers, for the Accept headers
// scrapers send and odd ones.
func TestNegotiationAgreesWithExpfmt(t *testing.T) {
	agg := seriesAggregator(t, 10)
	offered := []expfmt.Format{expfmt.FmtOpenMetrics_1_0_0, expfmt.FmtOpenMetrics_0_0_1, expfmt.FmtProtoDelim, expfmt.FmtText}
	headers := []string{
		"",
		"*/*",
		"text/plain",
		"text/plain;version=0.0.4",
		"text/plain;version=1.0.0",
		"application/openmetrics-text",
		"application/openmetrics-text;version=1.0.0",
		"application/openmetrics-text; version=0.0.1; charset=utf-8",
		"application/openmetrics-text;version=2.0.0",
		// Prometheus 3 with native histograms, and its default scrape protocols.
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
		"application/vnd.google.protobuf",
		"text/*;q=0.9,application/*;q=0.8",
		"application/json",
		"text/plain;q=0, application/openmetrics-text;q=0.1",
		"garbage;;;,,/,x/y/z;q=abc",
		" text/plain ; version = 0.0.4 ",
	}
	h := agg.Handler(offheap.HandlerOptions{Now: func() int64 { return sec }})
	for _, accept := range headers {
		hdr := map[string][]string{"Accept": {accept}}
		want := expfmt.NegotiateAccept(hdr, offered...)
		got, _ := scrape(t, h, accept, false)
		wantCT := strings.Split(string(want), "; escaping=")[0]
		if want.FormatType() == expfmt.TypeTextPlain {
			wantCT = offheap.ContentTypeText
		}
		if got != wantCT {
			t.Errorf("Accept %q: Content-Type %q, expfmt negotiates %q", accept, got, wantCT)
		}
	}
}
