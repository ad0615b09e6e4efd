package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	offheap "github.com/offheap/offheap/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// zeroThreshold is the magnitude at or below which offheap's sketches count a value in the zero
// bucket (f64::MIN_POSITIVE, the smallest normal float64).
const zeroThreshold = 0x1p-1022

// ProducerOptions configure a [Producer].
type ProducerOptions struct {
	// Name is the metric name of series whose keys name none (uint64 keys, the overflow
	// series): the aggregator's AggregatorConfig.Name.
	Name string
	// Temporality of the exported histograms: Cumulative (the default) for a Cumulative
	// aggregator; Delta for a Tumbling one read once per window.
	Temporality metricdata.Temporality
	// Now returns the time of an export (default time.Now).
	Now func() time.Time
}

// Producer is an OpenTelemetry SDK metric producer (go.opentelemetry.io/otel/sdk/metric's
// Producer, passed to a reader with metric.WithProducer) that exports an offheap aggregator's
// series as OTLP exponential histograms: each metric name one histogram, each series one data
// point with its attributes, count, sum, min, max, and the sketch's buckets as they are. The
// sketch's buckets are those of the exponential histogram: offheap's schema is OTLP's scale,
// and offheap's bucket i, (base^(i-1), base^i], is OTLP's bucket i-1, (base^(i-1), base^i], so
// nothing is re-binned and the exported histograms merge exactly in the OTel Collector.
//
// The aggregator's byte keys must be series (offheap.KeySeries): `name{label="value"}` gives
// the metric name and the attributes.
type Producer struct {
	agg   *offheap.Aggregator
	opts  ProducerOptions
	start time.Time
	scope instrumentation.Scope

	mu   sync.Mutex
	snap *offheap.Snapshot
}

// NewProducer returns a producer of agg's series. Close it when done.
func NewProducer(agg *offheap.Aggregator, opts ProducerOptions) (*Producer, error) {
	snap, err := offheap.NewSnapshot()
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Temporality == 0 { // undefined
		opts.Temporality = metricdata.CumulativeTemporality
	}
	return &Producer{agg: agg, opts: opts, start: opts.Now(), snap: snap,
		scope: instrumentation.Scope{Name: "github.com/offheap/offheap/examples/otel"}}, nil
}

// Close frees the producer's snapshot.
func (p *Producer) Close() error { return p.snap.Close() }

// Produce takes a snapshot of the aggregator (buckets included) and converts it.
func (p *Producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	if err := p.agg.Snapshot(p.snap, now.UnixNano(), offheap.SnapshotOptions{Buckets: true}); err != nil {
		return nil, err
	}
	s := p.snap
	schema, ok := s.Schema()
	if !ok {
		return nil, nil // an aggregator without sketches has no histograms
	}
	byName := map[string]int{}
	var metrics []metricdata.Metrics
	counts, sums, mins, maxs, zeros := s.UnsafeCounts(), s.UnsafeSums(), s.UnsafeMins(), s.UnsafeMaxs(), s.UnsafeZeroCounts()
	for i := range s.Len() {
		if counts[i] == 0 {
			continue // nothing in the window
		}
		name, attrs := p.series(s, i)
		k, seen := byName[name]
		if !seen {
			k = len(metrics)
			byName[name] = k
			metrics = append(metrics, metricdata.Metrics{Name: name,
				Data: metricdata.ExponentialHistogram[float64]{Temporality: p.opts.Temporality}})
		}
		h := metrics[k].Data.(metricdata.ExponentialHistogram[float64])
		negIdx, negCnt := s.UnsafeNegativeBuckets(i)
		posIdx, posCnt := s.UnsafePositiveBuckets(i)
		h.DataPoints = append(h.DataPoints, metricdata.ExponentialHistogramDataPoint[float64]{
			Attributes: attribute.NewSet(attrs...), StartTime: p.start, Time: now,
			Count: counts[i], Sum: sums[i], Min: metricdata.NewExtrema(mins[i]), Max: metricdata.NewExtrema(maxs[i]),
			Scale: schema, ZeroCount: zeros[i], ZeroThreshold: zeroThreshold,
			PositiveBucket: otlpBuckets(posIdx, posCnt), NegativeBucket: otlpBuckets(negIdx, negCnt),
		})
		metrics[k].Data = h
	}
	return []metricdata.ScopeMetrics{{Scope: p.scope, Metrics: metrics}}, nil
}

// otlpBuckets turns offheap's sparse ascending buckets (index i holds (base^(i-1), base^i])
// into OTLP's dense ones (index i-1 holds the same range).
func otlpBuckets(index []int32, count []uint64) metricdata.ExponentialBucket {
	if len(index) == 0 {
		return metricdata.ExponentialBucket{}
	}
	first := index[0]
	counts := make([]uint64, index[len(index)-1]-first+1)
	for j, i := range index {
		counts[i-first] = count[j]
	}
	return metricdata.ExponentialBucket{Offset: first - 1, Counts: counts}
}

// series returns the metric name and attributes of row i.
func (p *Producer) series(s *offheap.Snapshot, i int) (string, []attribute.KeyValue) {
	switch s.Row(i).Kind {
	case offheap.KeyOverflow:
		return p.opts.Name, []attribute.KeyValue{attribute.Bool("otel_metric_overflow", true)}
	case offheap.KeyU64:
		return p.opts.Name, []attribute.KeyValue{attribute.String("key", strconv.FormatUint(s.UnsafeRawKeys()[i], 10))}
	}
	return parseSeries(string(s.UnsafeKey(i)))
}

// parseSeries splits a series key `name{a="x",b="y"}` (as offheap.KeySeries keeps it: values
// escape \\, \" and \n) into its name and attributes.
func parseSeries(key string) (string, []attribute.KeyValue) {
	name, rest, ok := strings.Cut(key, "{")
	if !ok {
		return key, nil
	}
	rest = strings.TrimSuffix(rest, "}")
	var attrs []attribute.KeyValue
	for rest != "" {
		label, after, _ := strings.Cut(rest, `="`)
		var v strings.Builder
		i := 0
		for ; i < len(after) && after[i] != '"'; i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
				if after[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(after[i])
		}
		attrs = append(attrs, attribute.String(label, v.String()))
		rest = strings.TrimPrefix(after[min(i+1, len(after)):], ",")
	}
	return name, attrs
}
