// Package promcollector registers an offheap aggregator with client_golang: a
// [prometheus.Collector] whose metrics are the aggregator's series, so they are gathered beside
// a service's existing client_golang metrics and served by promhttp.Handler.
//
// It is a module of its own (github.com/offheap/offheap/go/promcollector) so that the offheap
// package keeps no third-party dependency; services that already use client_golang import it.
//
//	agg, _ := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, KeyFormat: offheap.KeySeries})
//	prometheus.MustRegister(promcollector.New(agg, promcollector.Options{}))
//	http.Handle("/metrics", promhttp.Handler())
//
// Each Collect renders the aggregator's exposition in protobuf (in Rust, native histograms
// included), decodes it and hands client_golang one metric per series: summaries, counters,
// gauges and native histograms as the aggregator types them. client_golang has no gauge
// histograms, so a sliding or tumbling aggregator's histograms (the window's buckets) are
// gathered as histograms: use a Cumulative aggregator for histograms behind this adapter. The
// collector is unchecked (it describes no metric up front: the aggregator's families come and
// go with its series); its family names must not collide with the registry's other metrics.
//
// The gathering path allocates per series on the Go heap, as client_golang's registry does for
// its own metrics; offheap's own [offheap.Aggregator.Handler] serves the same exposition
// without that.
package promcollector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Options configure a [Collector].
type Options struct {
	// Now returns the time of a collection in nanoseconds (default time.Now().UnixNano()).
	Now func() int64
}

// Collector is a [prometheus.Collector] of an aggregator's series. Safe for concurrent use;
// collections take turns.
type Collector struct {
	agg *offheap.Aggregator
	now func() int64

	mu  sync.Mutex
	buf bytes.Buffer
}

// New returns a collector of agg's series.
func New(agg *offheap.Aggregator, opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	return &Collector{agg: agg, now: opts.Now}
}

// Describe sends nothing: the collector is unchecked, its families are known only when they
// are collected.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends one metric per series of the aggregator. A failure (a closed aggregator) is
// sent as an invalid metric, which the registry reports as a gathering error.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
	if _, err := c.agg.WriteExposition(&c.buf, c.now(), offheap.FormatProtobuf); err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
		return
	}
	dec := expfmt.NewDecoder(&c.buf, expfmt.FmtProtoDelim)
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			err = fmt.Errorf("promcollector: decoding the aggregator's exposition: %w", err)
			ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
			return
		}
		desc := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), nil, nil)
		for _, m := range mf.GetMetric() {
			ch <- metric{desc: desc, m: m}
		}
	}
}

// metric is one decoded series.
type metric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (m metric) Desc() *prometheus.Desc { return m.desc }

// Write hands the decoded series to the registry (it is decoded anew at every collection, so
// the registry may keep it).
func (m metric) Write(out *dto.Metric) error {
	out.Label = m.m.Label
	out.Counter = m.m.Counter
	out.Gauge = m.m.Gauge
	out.Summary = m.m.Summary
	out.Histogram = m.m.Histogram
	return nil
}
