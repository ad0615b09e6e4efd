package promparse

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	offheap "github.com/offheap/offheap/go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

const sec = int64(1e9)

// format is one exposition format: how a scraper asks for it and how expfmt reads it.
type format struct {
	name   string
	accept string
	expfmt expfmt.Format
	ext    string // file extension for parse.py ("" for protobuf, which it cannot read)
}

var formats = []format{
	{"text", "text/plain;version=0.0.4;q=1", expfmt.FmtText, ".txt"},
	{"openmetrics", "application/openmetrics-text;version=1.0.0", expfmt.FmtOpenMetrics_1_0_0, ".om"},
	{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
		expfmt.FmtProtoDelim, ""},
}

// scrape GETs h with an Accept header (and gzip when asked) and returns the Content-Type and
// the body, decompressed.
func scrape(t testing.TB, h http.Handler, accept string, gz bool) (string, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		if !gz {
			t.Fatal("gzipped without being asked")
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	} else if gz {
		t.Fatal("gzip asked for and not given")
	}
	return rec.Header().Get("Content-Type"), body
}

// decode reads every metric family of body with expfmt.
func decode(body []byte, f expfmt.Format) ([]*dto.MetricFamily, error) {
	dec := expfmt.NewDecoder(bytes.NewReader(body), f)
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, mf)
	}
}

// mustDecode is decode that fails the test on an error, showing the start of the body.
func mustDecode(t testing.TB, body []byte, f format) []*dto.MetricFamily {
	t.Helper()
	mfs, err := decode(body, f.expfmt)
	if err != nil {
		show := body
		if len(show) > 2000 {
			show = show[:2000]
		}
		t.Fatalf("expfmt cannot read the %s exposition: %v\n%q", f.name, err, show)
	}
	return mfs
}

// expectation is what parse.py checks of a text exposition: how many sample lines it has, and
// label values that must come back as they were ingested.
type expectation struct {
	Samples int      `json:"samples"`
	Values  []string `json:"values"`
	// Help, when set, is the help text of the only family.
	Help string `json:"help,omitempty"`
}

// save writes a text exposition and its expectation to $PROMPARSE_OUT for parse.py (nothing
// without the variable, or for protobuf).
func save(t testing.TB, name string, f format, body []byte, values []string) {
	saveHelp(t, name, f, body, values, "")
}

// saveHelp is save for an exposition of one family whose help text parse.py checks too.
func saveHelp(t testing.TB, name string, f format, body []byte, values []string, help string) {
	dir := os.Getenv("PROMPARSE_OUT")
	if dir == "" || f.ext == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	exp, err := json.Marshal(expectation{Samples: n, Values: values, Help: help})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+f.ext)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".json", exp, 0o644); err != nil {
		t.Fatal(err)
	}
}

// family returns the family called name, or nil.
func family(mfs []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// labelKey is a metric's labels as `a=x,b=y` in name order (expfmt gives them sorted).
func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for i, l := range m.GetLabel() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.GetName())
		b.WriteByte('=')
		b.WriteString(l.GetValue())
	}
	return b.String()
}

// ingestAll ingests one sample per key (value values[i]) at ts into agg.
func ingestAll(t testing.TB, agg *offheap.Aggregator, keys []string, values []float64, ts int64) offheap.IngestAccounting {
	t.Helper()
	var b offheap.SampleBatch
	for i, k := range keys {
		b.AddString(k, ts, values[i])
	}
	acc, err := agg.Ingest(&b, ts)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}
