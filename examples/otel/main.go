// Command otel exports an offheap aggregator through the OpenTelemetry Go SDK: a Producer
// (producer.go) turns the aggregator's series into OTLP exponential histograms, which a
// ManualReader collects beside the SDK's own instruments and prints. An OTLP exporter on a
// PeriodicReader given the same producer (metric.WithProducer) pushes them to a collector
// instead.
//
//	go run . -samples 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"time"

	offheap "github.com/offheap/offheap/go"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func main() {
	samples := flag.Int("samples", 10000, "samples of request latency to aggregate")
	flag.Parse()
	if err := run(os.Stdout, *samples); err != nil {
		log.Fatal(err)
	}
}

// run aggregates lognormal latencies of two routes, collects them through the SDK and prints
// each data point with its median read from the exported buckets.
func run(out io.Writer, samples int) error {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, KeyFormat: offheap.KeySeries})
	if err != nil {
		return err
	}
	defer agg.Close()
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	var b offheap.SampleBatch
	for i := range samples {
		route := []string{"/a", "/b"}[i%2]
		b.AddKey(offheap.AppendSeriesKey(nil, "http_server_duration_seconds", "route", route), now.UnixNano(),
			math.Exp(rng.NormFloat64()-3))
	}
	if _, err := agg.Ingest(&b, now.UnixNano()); err != nil {
		return err
	}
	p, err := NewProducer(agg, ProducerOptions{Name: "offheap_overflow"})
	if err != nil {
		return err
	}
	defer p.Close()
	reader := metric.NewManualReader(metric.WithProducer(p))
	provider := metric.NewMeterProvider(metric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		return err
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.ExponentialHistogram[float64])
			if !ok {
				continue
			}
			for _, dp := range h.DataPoints {
				route, _ := dp.Attributes.Value("route")
				fmt.Fprintf(out, "%s{route=%q}: count %d, sum %.3f, scale %d, %d positive buckets from index %d, median %.4f\n",
					m.Name, route.AsString(), dp.Count, dp.Sum, dp.Scale, len(dp.PositiveBucket.Counts),
					dp.PositiveBucket.Offset, Quantile(dp, 0.5))
			}
		}
	}
	return nil
}

// Quantile estimates the rank-floor(q(count-1)) value of an exponential histogram data point
// from its buckets: the bucket holding that rank answers with 2LU/(L+U) for its bounds
// (L, U], within (base-1)/(base+1) of every value in it.
func Quantile(dp metricdata.ExponentialHistogramDataPoint[float64], q float64) float64 {
	rank := uint64(q * float64(dp.Count-1))
	base := math.Exp2(math.Exp2(-float64(dp.Scale)))
	rep := func(k int) float64 { // OTLP bucket k is (base^k, base^(k+1)]
		l := math.Pow(base, float64(k))
		u := l * base
		return 2 * l * u / (l + u)
	}
	var seen uint64
	neg := dp.NegativeBucket
	for j := len(neg.Counts) - 1; j >= 0; j-- {
		if seen += neg.Counts[j]; seen > rank {
			return -rep(int(neg.Offset) + j)
		}
	}
	if seen += dp.ZeroCount; seen > rank {
		return 0
	}
	for j, c := range dp.PositiveBucket.Counts {
		if seen += c; seen > rank {
			return rep(int(dp.PositiveBucket.Offset) + j)
		}
	}
	return math.NaN()
}
