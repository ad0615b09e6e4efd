package main

import (
	"encoding/binary"
	"math"
	"runtime"
	"strconv"
	"strings"

	offheap "github.com/offheap/offheap/go"
)

// family is one of the service's own metric families, written ahead of the aggregator's in
// /metrics: counters (names ending in _total) or a gauge.
type family struct {
	name, help string
	gauge      bool
	metrics    []ownSample
}

// ownSample is one series of a family: its labels (`outcome="accepted"`, or none) and value.
type ownSample struct {
	labels string
	value  uint64
}

// ownFamilies gathers the service's counters, the Go runtime's allocation and GC counters and
// the series gauge, in exposition order.
func (s *Service) ownFamilies() []family {
	var fams []family
	for _, c := range s.list {
		if c.help != "" {
			fams = append(fams, family{name: c.name, help: c.help})
		}
		f := &fams[len(fams)-1]
		f.metrics = append(f.metrics, ownSample{c.labels, c.v.Load()})
	}
	// MemStats (a short stop of the world) rather than runtime/metrics: its Mallocs counts
	// every allocation up to now, where the runtime/metrics count lags by the cached spans.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fams = append(fams,
		family{name: "ingest_go_mallocs_total", help: "Go heap objects allocated by the process (runtime.MemStats.Mallocs).",
			metrics: []ownSample{{"", ms.Mallocs}}},
		family{name: "ingest_go_gc_cycles_total", help: "Go GC cycles completed.", metrics: []ownSample{{"", uint64(ms.NumGC)}}})
	if n, err := s.seriesCount(); err == nil {
		fams = append(fams, family{name: "ingest_series", help: "Live series in the aggregator.", gauge: true,
			metrics: []ownSample{{"", n}}})
	}
	return fams
}

// appendFamilies appends fams in format f: text 0.0.4, OpenMetrics 1.0 (counter families named
// without _total, no "# EOF": the aggregator's exposition ends the response) or protobuf
// (length-delimited io.prometheus.client.MetricFamily messages, encoded here by hand).
func appendFamilies(b []byte, fams []family, f offheap.ExpositionFormat) []byte {
	if f == offheap.FormatProtobuf {
		for _, fam := range fams {
			b = appendProtoFamily(b, fam)
		}
		return b
	}
	for _, fam := range fams {
		name, typ := fam.name, "counter"
		if fam.gauge {
			typ = "gauge"
		} else if f == offheap.FormatOpenMetrics {
			name = strings.TrimSuffix(name, "_total")
		}
		b = append(b, "# HELP "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, fam.help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, typ...)
		b = append(b, '\n')
		for _, m := range fam.metrics {
			b = append(b, fam.name...)
			if m.labels != "" {
				b = append(b, '{')
				b = append(b, m.labels...)
				b = append(b, '}')
			}
			b = append(b, ' ')
			b = strconv.AppendUint(b, m.value, 10)
			b = append(b, '\n')
		}
	}
	return b
}

// appendProtoFamily appends one MetricFamily message, preceded by its length.
func appendProtoFamily(b []byte, fam family) []byte {
	var body []byte
	body = pbString(body, 1, fam.name)
	body = pbString(body, 2, fam.help)
	typ, valueField := uint64(0), uint64(3) // COUNTER, Metric.counter
	if fam.gauge {
		typ, valueField = 1, 2 // GAUGE, Metric.gauge
	}
	body = pbVarint(append(body, 3<<3), typ)
	for _, m := range fam.metrics {
		var metric []byte
		if name, value, ok := strings.Cut(m.labels, `="`); ok {
			var pair []byte
			pair = pbString(pair, 1, name)
			pair = pbString(pair, 2, strings.TrimSuffix(value, `"`))
			metric = pbMessage(metric, 1, pair)
		}
		value := binary.LittleEndian.AppendUint64([]byte{1<<3 | 1}, math.Float64bits(float64(m.value)))
		metric = pbMessage(metric, valueField, value)
		body = pbMessage(body, 4, metric)
	}
	return append(pbVarint(b, uint64(len(body))), body...)
}

func pbVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func pbString(b []byte, field uint64, s string) []byte {
	b = pbVarint(b, field<<3|2)
	b = pbVarint(b, uint64(len(s)))
	return append(b, s...)
}

func pbMessage(b []byte, field uint64, msg []byte) []byte {
	b = pbVarint(b, field<<3|2)
	b = pbVarint(b, uint64(len(msg)))
	return append(b, msg...)
}
