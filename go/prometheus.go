package offheap

import (
	"io"
	"runtime"
)

// ExpositionFormat is a Prometheus exposition format the library renders.
type ExpositionFormat uint32

const (
	// FormatText is the Prometheus text format 0.0.4.
	FormatText ExpositionFormat = 0
	// FormatOpenMetrics is OpenMetrics 1.0 text.
	FormatOpenMetrics ExpositionFormat = 1
	// FormatProtobuf is the Prometheus protobuf format: length-delimited
	// io.prometheus.client.MetricFamily messages, the format that carries native histograms.
	FormatProtobuf ExpositionFormat = 2
)

// The Content-Type of each format, as promhttp writes them.
const (
	ContentTypeText        = "text/plain; version=0.0.4; charset=utf-8"
	ContentTypeOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	ContentTypeProtobuf    = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

// ContentType returns the HTTP Content-Type of the format.
func (f ExpositionFormat) ContentType() string {
	switch f {
	case FormatOpenMetrics:
		return ContentTypeOpenMetrics
	case FormatProtobuf:
		return ContentTypeProtobuf
	}
	return ContentTypeText
}

// expoChunk is the buffer an exposition is copied through (any size works; the library
// renders about 16 KiB at a time).
const expoChunk = 32 << 10

// SetFamily gives the metric family name a type and a help text (may be empty) for every
// exposition from now on; families not given one have AggregatorConfig.MetricType, and
// AggregatorConfig.Name has AggregatorConfig.Help. Errors wrap [ErrInvalidConfig] (an invalid
// name or a help text over 1 MiB) or [ErrTooLarge] (more than 65536 families).
func (a *Aggregator) SetFamily(name string, t MetricType, help string) error {
	err := a.h.call("Aggregator.SetFamily", func(id uint64) uint32 { return windowSetFamily(id, name, t, help) })
	return withField(err, setFamilyFields)
}

// WriteExposition writes the exposition of every series' window at now to w in format f:
// each metric family under its name and type, summaries with AggregatorConfig.Quantiles. The
// library renders it into its own buffer, and it is written to w through a 32 KiB one:
// nothing is allocated per series on the Go heap, and a slow w holds one chunk of output
// while ingest goes on (the snapshot is a copy). Calls on one aggregator take turns; for
// concurrent scrapes use [Aggregator.Handler].
func (a *Aggregator) WriteExposition(w io.Writer, now int64, f ExpositionFormat) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.internal("Aggregator.WriteExposition")
	if err != nil {
		return 0, err
	}
	return a.expose(w, s, a.chunk, now, f, nil)
}

// expose scrapes into the arena s, then calls before (when not nil) and copies the exposition
// to w through buf. A failed scrape (a closed aggregator) returns an [*Error] before anything
// is written.
func (a *Aggregator) expose(w io.Writer, s *Snapshot, buf []byte, now int64, f ExpositionFormat,
	before func(io.Writer, ExpositionFormat) error) (int64, error) {
	const op = "Aggregator.WriteExposition"
	id, ok := a.h.get()
	sid, ok2 := s.h.get()
	if !ok || !ok2 {
		return 0, opError(op, ErrClosed)
	}
	defer runtime.KeepAlive(s)
	defer runtime.KeepAlive(a)
	if _, st := windowScrape(id, sid, now, a.quantiles, f); st != statusOK {
		return 0, statusError(op, st)
	}
	if before != nil {
		if err := before(w, f); err != nil {
			return 0, err
		}
	}
	var total int64
	for {
		n, st := snapshotRead(id, sid, buf)
		if st != statusOK {
			return total, statusError(op, st)
		}
		if n == 0 {
			return total, nil
		}
		m, err := w.Write(buf[:n])
		total += int64(m)
		if err != nil {
			return total, err
		}
	}
}

// AppendSeriesKey appends the KeySeries key of metric name with the labels given as name,
// value pairs (a missing last value counts as empty) to dst: labels sorted by name, values
// escaped (`\\`, `\"`, `\n`), `name` alone without labels. The aggregator checks the names
// when the series is made. Up to 16 labels sort without allocating.
func AppendSeriesKey(dst []byte, name string, labels ...string) []byte {
	dst = append(dst, name...)
	n := (len(labels) + 1) / 2
	if n == 0 {
		return dst
	}
	var small [16]int
	order := small[:0]
	if n > len(small) {
		order = make([]int, 0, n)
	}
	for i := range n {
		// Insertion sort by label name: label lists are short.
		j := len(order)
		order = append(order, i)
		for j > 0 && labels[2*order[j-1]] > labels[2*i] {
			order[j] = order[j-1]
			j--
		}
		order[j] = i
	}
	dst = append(dst, '{')
	for k, i := range order {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, labels[2*i]...)
		dst = append(dst, '=', '"')
		if 2*i+1 < len(labels) {
			dst = appendEscapedValue(dst, labels[2*i+1])
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendEscapedValue appends v with `\\`, `"` and newline escaped as label values are in
// the text formats.
func appendEscapedValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
