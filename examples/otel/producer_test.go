package main

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The producer's exponential histograms, collected by the SDK's ManualReader beside an SDK
// instrument, carry every observation: count, sum, min and max exact, buckets adding up to
// the count, attributes as the series' labels (escapes undone), and quantiles from the
// exported buckets within α of exact sorting, for both signs.
func TestProducerExportsExponentialHistogramsThroughTheSDK(t *testing.T) {
	const alpha = 0.01
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, KeyFormat: offheap.KeySeries,
		Alpha: alpha, MaxBuckets: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	now := time.Unix(1_700_000_000, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	routes := []string{"/a", `/b "quoted" \ and
newline`}
	values := map[string][]float64{}
	var b offheap.SampleBatch
	for i := range 20_000 {
		route := routes[i%2]
		v := math.Exp(rng.NormFloat64() * 2)
		if route == "/a" && i%10 == 0 {
			v = -v // negative values land in negative buckets
		}
		values[route] = append(values[route], v)
		b.AddKey(offheap.AppendSeriesKey(nil, "latency_seconds", "route", route), now.UnixNano(), v)
	}
	if acc, err := agg.Ingest(&b, now.UnixNano()); err != nil || acc.Accepted != 20_000 {
		t.Fatal(acc, err)
	}
	p, err := NewProducer(agg, ProducerOptions{Name: "offheap_overflow", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reader := metric.NewManualReader(metric.WithProducer(p))
	provider := metric.NewMeterProvider(metric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	sdkCounter, _ := provider.Meter("test").Int64Counter("sdk_requests")
	sdkCounter.Add(context.Background(), 7)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var sdkSeen bool
	var points []metricdata.ExponentialHistogramDataPoint[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				sdkSeen = m.Name == "sdk_requests" && d.DataPoints[0].Value == 7
			case metricdata.ExponentialHistogram[float64]:
				if m.Name != "latency_seconds" || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("histogram %s, %v", m.Name, d.Temporality)
				}
				points = append(points, d.DataPoints...)
			}
		}
	}
	if !sdkSeen || len(points) != 2 {
		t.Fatalf("the SDK's counter seen: %v; %d data points", sdkSeen, len(points))
	}
	for _, dp := range points {
		route, _ := dp.Attributes.Value(attribute.Key("route"))
		vs := values[route.AsString()]
		if vs == nil {
			t.Fatalf("attributes %v name no route ingested", dp.Attributes)
		}
		slices.Sort(vs)
		var sum float64
		for _, v := range vs {
			sum += v
		}
		lo, _ := dp.Min.Value()
		hi, _ := dp.Max.Value()
		if dp.Count != uint64(len(vs)) || math.Abs(dp.Sum-sum) > 1e-9*math.Abs(sum) || lo != vs[0] || hi != vs[len(vs)-1] {
			t.Errorf("%q: count %d sum %v min %v max %v", route.AsString(), dp.Count, dp.Sum, lo, hi)
		}
		total := dp.ZeroCount
		for _, c := range slices.Concat(dp.PositiveBucket.Counts, dp.NegativeBucket.Counts) {
			total += c
		}
		if total != dp.Count || dp.Scale != 6 || dp.ZeroThreshold <= 0 {
			t.Errorf("%q: buckets hold %d of %d, scale %d", route.AsString(), total, dp.Count, dp.Scale)
		}
		for _, q := range []float64{0, 0.05, 0.1, 0.5, 0.9, 0.99, 1} {
			exact := vs[int(q*float64(len(vs)-1))]
			if est := Quantile(dp, q); math.Abs(est-exact) > alpha*math.Abs(exact)*(1+1e-9) {
				t.Errorf("%q q=%v: %v from the exported buckets, exact %v", route.AsString(), q, est, exact)
			}
		}
	}
}

// The example program runs and prints a data point per route.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 2000); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "http_server_duration_seconds{route="); n != 2 ||
		!strings.Contains(out.String(), "count 1000, ") {
		t.Fatalf("output:\n%s", out.String())
	}
}
