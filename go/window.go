package offheap

import (
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// WindowMode says how an aggregator's windows move with time.
type WindowMode uint32

const (
	// Sliding windows of AggregatorConfig.Width advance one slice (Width/Slices) at a time.
	Sliding WindowMode = windowModeSliding
	// Tumbling windows of AggregatorConfig.Width follow each other.
	Tumbling WindowMode = windowModeTumbling
	// Cumulative series keep everything since they were made; delta snapshots report the
	// change since the previous delta snapshot.
	Cumulative WindowMode = windowModeCumulative
)

// AggregatorConfig configures an [Aggregator]. The zero value of a field selects its default;
// negative values are errors ([ErrInvalidConfig]).
type AggregatorConfig struct {
	Mode  WindowMode
	Width time.Duration // window width (Sliding, Tumbling); required
	// Slices of a sliding window (default 6); must divide Width into whole nanoseconds.
	Slices int
	// Alpha is the relative accuracy of quantiles, in [0.0001, 0.5] (default 0.01: a quantile
	// is within 1% of the true rank value).
	Alpha float64
	// NoQuantiles turns the quantile sketches off (count, sum, min, max, ... only).
	NoQuantiles bool
	// MaxBuckets caps each sketch's buckets per sign, in [16, 65536] (default 2048); past it the
	// smallest-magnitude buckets collapse.
	MaxBuckets int
	// MaxSeries caps live series (default 2,097,152); samples of new keys past the cap go to one
	// overflow series, rendered as otel_metric_overflow="true".
	MaxSeries int
	// IdleTTL evicts series without samples newer than now-IdleTTL at each snapshot (0: never).
	IdleTTL time.Duration
	// AllowedLateness drops samples older than now-AllowedLateness (0: only samples whose
	// slice already left the window are late).
	AllowedLateness time.Duration
	// MaxFutureSkew accepts samples up to now+MaxFutureSkew (default 0: none after now).
	MaxFutureSkew time.Duration
	// Shards is the number of lock shards, a power of two up to 256 (default 16).
	Shards int
	// MaxKeyLen is the longest byte key accepted, up to 4096 (default 1024); longer keys are
	// dropped and counted as BadKey.
	MaxKeyLen int
	// Name is the Prometheus metric name of series not keyed by KeySeries keys, and of the
	// overflow series (default "offheap_window"); Help its HELP text (UTF-8, at most 1 MiB,
	// escaped as each format requires).
	Name, Help string
	// KeyFormat says what byte keys are (default KeyValue). See [KeyFormat] for the mapping of
	// keys to metric names and labels.
	KeyFormat KeyFormat
	// KeyLabel is the label that carries uint64 keys, and byte keys with KeyValue (default
	// "key"): a sample of key "/api" is rendered name{key="/api",quantile="0.5"}. With
	// KeyLabels and KeySeries, label lists may not use it.
	KeyLabel string
	// MetricType is the type of the metric families not given one by [Aggregator.SetFamily]
	// (default Summary).
	MetricType MetricType
	// Quantiles are the quantiles summaries expose (default 0.5, 0.9, 0.99; at most 16, each in
	// [0, 1]).
	Quantiles []float64
}

// KeyFormat says what an aggregator's byte keys are, and so the metric name and labels of
// their series in exposition. Keys are checked when their series is made: a key that breaks a
// rule is dropped and counted as BadKey, and never reaches an exposition.
type KeyFormat uint32

const (
	// KeyValue keys are label values: key "/api" is the series Name{KeyLabel="/api"}. Any
	// UTF-8; backslash, double quote and newline are escaped in the text formats.
	KeyValue KeyFormat = keyFormatValue
	// KeyLabels keys are label lists in Prometheus syntax, `code="200",route="/api"`: the
	// series Name{code="200",route="/api"}. Label names match [a-zA-Z_][a-zA-Z0-9_]*, in strictly
	// ascending order (so each label set is one key, and no name repeats), do not start with
	// __ and are not quantile, le or otel_metric_overflow; values escape only backslash,
	// double quote and newline, as \\, \" and \n (other characters, control characters
	// included, stand for themselves).
	KeyLabels KeyFormat = keyFormatLabels
	// KeySeries keys are whole series, `http_latency_seconds{route="/api"}` or `up`: each
	// metric is exposed under its own name. The name matches [a-zA-Z_:][a-zA-Z0-9_:]* and does
	// not end in _sum, _count, _bucket, _gsum, _gcount or _created (names summaries and
	// histograms add); the labels, when there are any, follow the rules of KeyLabels.
	// [AppendSeriesKey] builds such keys.
	KeySeries KeyFormat = keyFormatSeries
)

// MetricType is the Prometheus type of a metric family: what its series expose.
type MetricType uint32

const (
	// Summary series expose the window's quantiles (AggregatorConfig.Quantiles) with _sum and
	// _count.
	Summary MetricType = metricTypeSummary
	// Histogram series expose the sketch as a native histogram in the protobuf format (a gauge
	// histogram of the window for Sliding and Tumbling aggregators); the text formats carry
	// only _count, _sum and the +Inf bucket.
	Histogram MetricType = metricTypeHistogram
	// Counter series expose the sum of the values ingested (each sample an increment).
	Counter MetricType = metricTypeCounter
	// Gauge series expose the newest value in the window (none while the window is empty).
	Gauge MetricType = metricTypeGauge
)

// withDefaults checks the fields the library does not see (or sees only after a conversion)
// and fills the defaults; the library checks the rest, and its message names the rule (and
// NewAggregator the field).
func (cfg *AggregatorConfig) withDefaults() (AggregatorConfig, error) {
	c := *cfg
	for _, f := range [...]struct {
		name       string
		value, max int64 // max 0: the library checks the upper bound
	}{
		{"AggregatorConfig.Width", int64(c.Width), 0},
		{"AggregatorConfig.Slices", int64(c.Slices), 0},
		{"AggregatorConfig.MaxBuckets", int64(c.MaxBuckets), 1 << 16},
		{"AggregatorConfig.MaxSeries", int64(c.MaxSeries), 0},
		{"AggregatorConfig.IdleTTL", int64(c.IdleTTL), 0},
		{"AggregatorConfig.AllowedLateness", int64(c.AllowedLateness), 0},
		{"AggregatorConfig.MaxFutureSkew", int64(c.MaxFutureSkew), 0},
		{"AggregatorConfig.Shards", int64(c.Shards), 256},
		{"AggregatorConfig.MaxKeyLen", int64(c.MaxKeyLen), 4096},
		{"len(AggregatorConfig.Quantiles)", int64(len(c.Quantiles)), windowMaxQuantiles},
	} {
		switch {
		case f.value < 0:
			return c, configError(f.name, "is negative (%d)", f.value)
		case f.max > 0 && f.value > f.max:
			return c, configError(f.name, "is %d, above its limit of %d", f.value, f.max)
		}
	}
	if c.Alpha < 0 {
		return c, configError("AggregatorConfig.Alpha", "is negative (%v)", c.Alpha)
	}
	for i, q := range c.Quantiles {
		if !(q >= 0 && q <= 1) { // NaN fails both
			return c, configError(fmt.Sprintf("AggregatorConfig.Quantiles[%d]", i), "is %v: %s", q,
				statusMessage(statusWindowInvalidQuantile))
		}
	}
	if c.Slices == 0 {
		c.Slices = 6
	}
	if c.Mode != Sliding {
		c.Slices = 1
	}
	if c.Alpha == 0 {
		c.Alpha = 0.01
	}
	if c.MaxBuckets == 0 {
		c.MaxBuckets = 2048
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = 1 << 21
	}
	if c.Shards == 0 {
		c.Shards = 16
	}
	if c.MaxKeyLen == 0 {
		c.MaxKeyLen = 1024
	}
	if c.Name == "" {
		c.Name = "offheap_window"
	}
	if c.KeyLabel == "" {
		c.KeyLabel = "key"
	}
	if c.Quantiles == nil {
		c.Quantiles = []float64{0.5, 0.9, 0.99}
	}
	if c.Mode == Cumulative && c.Width == 0 {
		c.Width = 1
	}
	return c, nil
}

// mirror returns c (with its defaults) as the library's offheap_aggregator_config.
func (c *AggregatorConfig) mirror() windowConfig {
	lateness := uint64(math.MaxUint64) // only the window rule
	if c.AllowedLateness > 0 {
		lateness = uint64(c.AllowedLateness)
	}
	sketch := uint32(1)
	if c.NoQuantiles {
		sketch = 0
	}
	return windowConfig{
		mode: uint32(c.Mode), slices: uint32(min(c.Slices, math.MaxUint32)), widthNs: uint64(c.Width),
		alpha: c.Alpha, maxBuckets: uint32(c.MaxBuckets), shards: uint32(c.Shards),
		maxSeries: uint64(c.MaxSeries), idleTTLNs: uint64(c.IdleTTL), allowedLatenessNs: lateness,
		maxFutureNs: uint64(c.MaxFutureSkew), maxKeyLen: uint32(c.MaxKeyLen), sketch: sketch,
		keyFormat: uint32(c.KeyFormat), metricType: uint32(c.MetricType),
	}
}

// windowConfig is offheap_aggregator_config (abi_cgo_gen.go pins its layout).
type windowConfig struct {
	mode, slices          uint32
	widthNs               uint64
	alpha                 float64
	maxBuckets, shards    uint32
	maxSeries, idleTTLNs  uint64
	allowedLatenessNs     uint64
	maxFutureNs           uint64
	maxKeyLen, sketch     uint32
	keyFormat, metricType uint32
}

// SeriesID names a series: handed out by [Aggregator.ResolveKey] and [Aggregator.ResolveU64],
// it encodes a slot and a generation, so the id of a deleted or evicted series is detected
// (counted as Stale) and never reaches another series.
type SeriesID uint64

// OverflowID is the id of the overflow series.
const OverflowID SeriesID = ^SeriesID(0)

// IngestAccounting says what happened to each sample of a batch; the fields add up to its
// length. Its layout is the C offheap_ingest_accounting (the library writes it directly).
type IngestAccounting struct {
	Accepted   uint64 // recorded into their own series
	Overflowed uint64 // recorded into the overflow series (series cap reached)
	Late       uint64 // dropped: older than the allowed lateness or the window
	Future     uint64 // dropped: newer than now+MaxFutureSkew
	Invalid    uint64 // dropped: NaN or ±Inf value, or weight 0
	BadKey     uint64 // dropped: key too long, not UTF-8, or against the rules of its KeyFormat
	Stale      uint64 // dropped: the id names a deleted or evicted series
}

// Total returns the number of samples accounted for.
func (a IngestAccounting) Total() uint64 {
	return a.Accepted + a.Overflowed + a.Late + a.Future + a.Invalid + a.BadKey + a.Stale
}

// addOK adds the accounting o of a library call to a when the call's status st is statusOK
// (o is written only on success), and returns st.
func (a *IngestAccounting) addOK(st uint32, o *IngestAccounting) uint32 {
	if st == statusOK {
		a.add(*o)
	}
	return st
}

func (a *IngestAccounting) add(o IngestAccounting) {
	a.Accepted += o.Accepted
	a.Overflowed += o.Overflowed
	a.Late += o.Late
	a.Future += o.Future
	a.Invalid += o.Invalid
	a.BadKey += o.BadKey
	a.Stale += o.Stale
}

// AggregatorStats are an aggregator's counters since it was made. Its layout is the C
// offheap_aggregator_counters (the library writes it directly).
type AggregatorStats struct {
	Series    uint64           // live series (the overflow series not counted)
	Samples   IngestAccounting // every batch's accounting added up
	Evicted   uint64           // series evicted as idle
	Deleted   uint64           // series removed by Delete* or Clear
	Snapshots uint64           // snapshots taken
	KeyBytes  uint64           // bytes of interned byte keys
}

// ImportAccounting says what [Aggregator.MergeState] did with each record of the state. Its
// layout is the C offheap_import_accounting (the library writes it directly).
type ImportAccounting struct {
	Merged     uint64 // merged into the series of the same key
	Overflowed uint64 // merged into the overflow series
	Late       uint64 // dropped: the slice of now was already reused for a later time
	BadKey     uint64 // dropped: key invalid for this aggregator
}

// Aggregator keeps windowed statistics of many series on the Rust heap: Go holds only its
// handle. It is safe for concurrent use; ingest from many goroutines takes one Rust lock per
// shard per batch. Close it when done.
type Aggregator struct {
	h         handle
	quantiles []float64 // for WritePrometheus
	maxSeries int       // the series cap (a Recorder's default handle cap)

	// mu serialises WritePrometheus and AppendState, which fill the arena and chunk. Close
	// does not take it (a WritePrometheus may wait on its writer): it takes the arena instead.
	mu    sync.Mutex
	arena atomic.Pointer[Snapshot]
	chunk []byte
}

// NewAggregator makes an aggregator. Errors wrap [ErrInvalidConfig] (with the field, or the
// library's message for the rule broken) or are [ErrUnavailable] without cgo.
func NewAggregator(cfg AggregatorConfig) (*Aggregator, error) {
	const op = "NewAggregator"
	if initErr != nil {
		return nil, initErr
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := c.mirror()
	id, st := windowNew(&m, c.Name, c.Help, c.KeyLabel)
	if st != statusOK {
		return nil, withField(statusError(op, st), aggregatorConfigFields)
	}
	a := &Aggregator{quantiles: append([]float64(nil), c.Quantiles...), maxSeries: c.MaxSeries}
	attach(&a.h, a, id, windowFree)
	return a, nil
}

// Ingest records the batch's samples as of now (nanoseconds) and returns what happened to
// each. It makes one cgo call per kind of key in the batch and allocates nothing. The batch
// can be reused (Reset) as soon as Ingest returns.
func (a *Aggregator) Ingest(b *SampleBatch, now int64) (IngestAccounting, error) {
	// One call per kind of key; the first that fails ends the batch, with the accounting of
	// the calls before it.
	var total, acc IngestAccounting
	err := a.h.call("Aggregator.Ingest", func(id uint64) uint32 {
		st := uint32(statusOK)
		if len(b.u64Keys) > 0 {
			c := &b.u64
			st = total.addOK(windowIngest(id, seriesKeyU64, b.u64Keys, c.ts, c.values, c.weightsOrNil(), now, &acc), &acc)
		}
		if len(b.idKeys) > 0 && st == statusOK {
			c := &b.ids
			st = total.addOK(windowIngest(id, seriesKeyID, b.idKeys, c.ts, c.values, c.weightsOrNil(), now, &acc), &acc)
		}
		if len(b.ends) > 0 && st == statusOK {
			c := &b.bytes
			st = total.addOK(windowIngestKeys(id, b.keys, b.ends, c.ts, c.values, c.weightsOrNil(), now, &acc), &acc)
		}
		return st
	})
	return total, err
}

// IngestColumns records samples given as caller-owned columns of equal length, keyed by
// uint64 keys (weights may be nil). One cgo call, no allocation.
func (a *Aggregator) IngestColumns(keys []uint64, ts []int64, values []float64, weights []uint32, now int64) (IngestAccounting, error) {
	const op = "Aggregator.IngestColumns"
	n := len(keys)
	if len(ts) != n || len(values) != n || (weights != nil && len(weights) != n) {
		return IngestAccounting{}, opError(op, ErrLengthMismatch)
	}
	var acc IngestAccounting
	err := a.h.call(op, func(id uint64) uint32 {
		return windowIngest(id, seriesKeyU64, keys, ts, values, weights, now, &acc)
	})
	if err != nil {
		return IngestAccounting{}, err
	}
	return acc, nil
}

// ResolveKey finds or makes the series of a byte key and returns its id ([OverflowID] when
// the series cap is reached). Ingesting by id skips hashing and key comparison.
func (a *Aggregator) ResolveKey(key []byte) (SeriesID, error) {
	const op = "Aggregator.ResolveKey"
	end := [1]uint32{uint32(len(key))}
	var out [1]uint64
	var acc IngestAccounting
	err := a.h.call(op, func(id uint64) uint32 { return windowResolveKeys(id, key, end[:], out[:], &acc) })
	if err != nil {
		return 0, err
	}
	if acc.BadKey != 0 {
		return 0, &Error{Op: op, Err: fmt.Errorf("%w: the key is too long, not UTF-8 or not a label list", ErrInvalidArgument)}
	}
	return SeriesID(out[0]), nil
}

// ResolveU64 finds or makes the series of a uint64 key and returns its id.
func (a *Aggregator) ResolveU64(key uint64) (SeriesID, error) {
	in := [1]uint64{key}
	var out [1]uint64
	var acc IngestAccounting
	err := a.h.call("Aggregator.ResolveU64", func(id uint64) uint32 { return windowResolveU64(id, in[:], out[:], &acc) })
	if err != nil {
		return 0, err
	}
	return SeriesID(out[0]), nil
}

func (a *Aggregator) delete(op string, kind uint32, key uint64, b []byte) error {
	return a.h.call(op, func(id uint64) uint32 { return windowDelete(id, kind, key, b) })
}

// DeleteU64 removes the series of a uint64 key ([ErrUnknownSeries] if there is none).
func (a *Aggregator) DeleteU64(key uint64) error {
	return a.delete("Aggregator.DeleteU64", seriesKeyU64, key, nil)
}

// DeleteKey removes the series of a byte key ([ErrUnknownSeries] if there is none).
func (a *Aggregator) DeleteKey(key []byte) error {
	return a.delete("Aggregator.DeleteKey", seriesKeyBytes, 0, key)
}

// DeleteID removes the series of an id ([ErrUnknownSeries] if it is not live).
func (a *Aggregator) DeleteID(id SeriesID) error {
	return a.delete("Aggregator.DeleteID", seriesKeyID, uint64(id), nil)
}

func (a *Aggregator) remove(op string, what uint32, now int64) (int, error) {
	var n uint64
	err := a.h.call(op, func(id uint64) (st uint32) {
		n, st = windowRemove(id, what, now)
		return st
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// Clear removes every series and returns how many there were.
func (a *Aggregator) Clear() (int, error) { return a.remove("Aggregator.Clear", removalAll, 0) }

// EvictIdle removes the series idle at now (see AggregatorConfig.IdleTTL) and returns how
// many. Snapshots do this too.
func (a *Aggregator) EvictIdle(now int64) (int, error) {
	return a.remove("Aggregator.EvictIdle", removalIdle, now)
}

// Stats returns the aggregator's counters.
func (a *Aggregator) Stats() (AggregatorStats, error) {
	var s AggregatorStats
	if err := a.h.call("Aggregator.Stats", func(id uint64) uint32 { return windowStats(id, &s) }); err != nil {
		return AggregatorStats{}, err
	}
	return s, nil
}

// Close frees the aggregator and all its series. Idempotent, safe from any goroutine.
func (a *Aggregator) Close() error {
	err := a.h.close("Aggregator.Close", nil)
	// internal stores the arena under a lease, which close waited for: it is there to take.
	if s := a.arena.Swap(nil); s != nil {
		s.Close()
	}
	return err
}

// Snapshot takes a consistent cut of every series' window at now into s (computing the
// requested quantiles in Rust). Ingest waits while it runs, so the cut holds whole batches.
// Allocates nothing on the Go heap, whatever the number of series.
func (a *Aggregator) Snapshot(s *Snapshot, now int64, opts SnapshotOptions) error {
	const op = "Aggregator.Snapshot"
	sid, ok := s.h.acquire() // refresh writes the view a racing Close must not free under it
	if !ok {
		return opError(op, ErrClosed)
	}
	defer s.h.release()
	err := a.h.call(op, func(id uint64) (st uint32) {
		_, st = windowSnapshotTake(id, sid, now, opts.Quantiles, opts.Since, opts.flags())
		return st
	})
	if err != nil {
		return err
	}
	return s.refresh(op, sid)
}

// internal returns the aggregator's own snapshot arena and chunk buffer; a.mu must be held.
// It makes them under a lease, so a racing Close either finds the arena stored or made this
// fail.
func (a *Aggregator) internal(op string) (*Snapshot, error) {
	if s := a.arena.Load(); s != nil {
		return s, nil
	}
	if _, ok := a.h.acquire(); !ok {
		return nil, opError(op, ErrClosed)
	}
	defer a.h.release()
	s, err := NewSnapshot()
	if err != nil {
		return nil, err
	}
	a.chunk = make([]byte, expoChunk)
	a.arena.Store(s)
	return s, nil
}

// WritePrometheus writes the Prometheus text exposition (format 0.0.4) of every series'
// window at now to w: [Aggregator.WriteExposition] with [FormatText].
func (a *Aggregator) WritePrometheus(w io.Writer, now int64) (int64, error) {
	return a.WriteExposition(w, now, FormatText)
}

// AppendState appends the serialized state of every series' window at now (a versioned
// little-endian binary format, documented in the Rust crate's window::codec) to dst. Another
// aggregator with the same Alpha merges it exactly with MergeState.
func (a *Aggregator) AppendState(dst []byte, now int64) ([]byte, error) {
	const op = "Aggregator.AppendState"
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.internal(op)
	if err != nil {
		return dst, err
	}
	sid, ok := s.h.acquire() // the state is read from the arena's memory in Go
	if !ok {
		return dst, opError(op, ErrClosed)
	}
	defer s.h.release()
	err = a.h.call(op, func(id uint64) (st uint32) {
		_, st = windowExport(id, sid, now)
		return st
	})
	if err != nil {
		return dst, err
	}
	if err := s.refresh(op, sid); err != nil {
		return dst, err
	}
	return append(dst, s.exported()...), nil
}

// MergeState merges state from AppendState (of this or another aggregator) into the slice of
// now. The whole input is checked first: on error ([ErrBadState]) nothing changed.
func (a *Aggregator) MergeState(data []byte, now int64) (ImportAccounting, error) {
	var out ImportAccounting
	err := a.h.call("Aggregator.MergeState", func(id uint64) uint32 { return windowMergeImport(id, data, now, &out) })
	if err != nil {
		return ImportAccounting{}, err
	}
	return out, nil
}
