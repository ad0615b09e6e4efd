package promcollector_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/promcollector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

const sec = int64(time.Second)

func newAggregator(t *testing.T) *offheap.Aggregator {
	t.Helper()
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, KeyFormat: offheap.KeySeries,
		Quantiles: []float64{0.5, 0.99}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agg.Close() })
	for name, typ := range map[string]offheap.MetricType{
		"jobs_total": offheap.Counter, "queue_depth": offheap.Gauge, "payload_bytes": offheap.Histogram,
	} {
		if err := agg.SetFamily(name, typ, "Help of "+name+"."); err != nil {
			t.Fatal(err)
		}
	}
	var b offheap.SampleBatch
	for i := range 100 {
		b.AddKey(offheap.AppendSeriesKey(nil, "jobs_total", "queue", "a"), sec, 1)
		b.AddKey(offheap.AppendSeriesKey(nil, "queue_depth", "queue", "a"), sec, float64(i))
		b.AddKey(offheap.AppendSeriesKey(nil, "payload_bytes"), sec, float64(100+i))
		b.AddKey(offheap.AppendSeriesKey(nil, "request_seconds", "route", "/a"), sec, float64(i)/100)
	}
	if acc, err := agg.Ingest(&b, sec); err != nil || acc.Accepted != 400 {
		t.Fatal(acc, err)
	}
	return agg
}

// scrape GETs h with an Accept header and decodes the body with expfmt.
func scrape(t *testing.T, h http.Handler, accept string, f expfmt.Format) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", accept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	out := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(bytes.NewReader(rec.Body.Bytes()), f)
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, rec.Body)
		}
		out[mf.GetName()] = mf
	}
}

// The aggregator's series register beside client_golang metrics in a pedantic registry and
// are served by promhttp in text and protobuf: each family with its type, help and values,
// native histogram buckets included.
func TestSeriesServedByPromhttpBesideClientGolangMetrics(t *testing.T) {
	agg := newAggregator(t)
	reg := prometheus.NewPedanticRegistry()
	own := prometheus.NewCounter(prometheus.CounterOpts{Name: "service_starts_total", Help: "Starts."})
	own.Add(3)
	reg.MustRegister(own, promcollector.New(agg, promcollector.Options{Now: func() int64 { return 2 * sec }}))
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("pedantic gather: %v", err)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	for _, f := range []struct {
		accept string
		format expfmt.Format
	}{
		{"text/plain;version=0.0.4", expfmt.FmtText},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", expfmt.FmtProtoDelim},
	} {
		mfs := scrape(t, h, f.accept, f.format)
		if v := mfs["service_starts_total"].GetMetric()[0].GetCounter().GetValue(); v != 3 {
			t.Errorf("%s: client_golang's counter = %v", f.format, v)
		}
		if mf := mfs["jobs_total"]; mf.GetType() != dto.MetricType_COUNTER || mf.GetHelp() != "Help of jobs_total." ||
			mf.GetMetric()[0].GetCounter().GetValue() != 100 || mf.GetMetric()[0].GetLabel()[0].GetValue() != "a" {
			t.Errorf("%s: jobs_total %v", f.format, mf)
		}
		if v := mfs["queue_depth"].GetMetric()[0].GetGauge().GetValue(); v != 99 {
			t.Errorf("%s: queue_depth = %v", f.format, v)
		}
		s := mfs["request_seconds"].GetMetric()[0].GetSummary()
		if s.GetSampleCount() != 100 || len(s.GetQuantile()) != 2 {
			t.Errorf("%s: request_seconds %v", f.format, s)
		}
		h := mfs["payload_bytes"].GetMetric()[0].GetHistogram()
		if mfs["payload_bytes"].GetType() != dto.MetricType_HISTOGRAM || h.GetSampleCount() != 100 || h.GetSampleSum() != 14950 {
			t.Errorf("%s: payload_bytes %v", f.format, h)
		}
		if f.format == expfmt.FmtProtoDelim {
			// Deltas add up to each bucket's count, the counts to the observations.
			var total, c int64
			for _, d := range h.GetPositiveDelta() {
				c += d
				total += c
			}
			if h.GetSchema() != 6 || total != 100 || len(h.GetPositiveSpan()) == 0 {
				t.Errorf("native histogram: schema %d, %d observations in buckets, spans %v", h.GetSchema(), total,
					h.GetPositiveSpan())
			}
		}
	}
}

// Registered with the default registry, the series are served by promhttp.Handler.
func TestDefaultRegistryAndPromhttpHandler(t *testing.T) {
	agg := newAggregator(t)
	c := promcollector.New(agg, promcollector.Options{})
	prometheus.MustRegister(c)
	defer prometheus.Unregister(c)
	mfs := scrape(t, promhttp.Handler(), "text/plain", expfmt.FmtText)
	if mfs["go_goroutines"] == nil || mfs["jobs_total"] == nil || mfs["request_seconds"] == nil {
		t.Fatalf("promhttp.Handler serves %d families without offheap's", len(mfs))
	}
}

// A closed aggregator is a gathering error, not a panic.
func TestClosedAggregatorIsAGatherError(t *testing.T) {
	agg := newAggregator(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(promcollector.New(agg, promcollector.Options{}))
	agg.Close()
	if _, err := reg.Gather(); err == nil {
		t.Fatal("gathering from a closed aggregator succeeded")
	}
}
