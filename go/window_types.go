package offheap

import (
	"errors"
	"time"
)

// Window sentinels (the window's status codes 300-399 map to these or to the general ones).
var (
	// ErrInvalidConfig: a [Config] field is out of range (zero width, bad slice count, α, ...).
	ErrInvalidConfig = errors.New("offheap: invalid aggregator configuration")
	// ErrLengthMismatch: the columns of a batch have different lengths.
	ErrLengthMismatch = errors.New("offheap: batch columns have different lengths")
	// ErrUnknownSeries: no live series has the key or id (never made, deleted or evicted).
	ErrUnknownSeries = errors.New("offheap: no live series for this key or id")
	// ErrBadState: serialized window state is corrupt, of another format version, or was
	// written with a different relative accuracy or sketch setting.
	ErrBadState = errors.New("offheap: bad serialized window state")
)

// windowSentinel maps window status codes (300-399) to sentinels.
func windowSentinel(status uint32) error {
	switch {
	case status >= 300 && status <= 309:
		return ErrInvalidConfig
	case status == 310:
		return ErrLengthMismatch
	case status == 311 || status == 312:
		return ErrInvalidArgument
	case status == 313:
		return ErrUnknownSeries
	case status >= 314 && status <= 316:
		return ErrBadState
	}
	return nil
}

// WindowMode says how an aggregator's windows move with time.
type WindowMode uint32

const (
	// Sliding windows of Config.Width advance one slice (Width/Slices) at a time.
	Sliding WindowMode = 0
	// Tumbling windows of Config.Width follow each other.
	Tumbling WindowMode = 1
	// Cumulative series keep everything since they were made; delta snapshots report the
	// change since the previous delta snapshot.
	Cumulative WindowMode = 2
)

// Config configures an [Aggregator]. The zero value of a field selects its default; negative
// values are errors ([ErrInvalidConfig]).
type Config struct {
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
	// Name is the Prometheus metric name (default "offheap_window"); Help its HELP text.
	Name, Help string
	// KeyLabel is the label that carries the key in exposition (default "key"): a sample of key
	// "/api" is rendered name{key="/api",quantile="0.5"}. With RawLabelKeys, byte keys are label
	// lists in Prometheus syntax (route="/api",code="200") rendered as they are; keys that are
	// not are dropped and counted as BadKey.
	KeyLabel     string
	RawLabelKeys bool
	// Quantiles are the quantiles WritePrometheus renders (default 0.5, 0.9, 0.99).
	Quantiles []float64
}

// SeriesID names a series: handed out by [Aggregator.ResolveKey] and [Aggregator.ResolveU64],
// it encodes a slot and a generation, so the id of a deleted or evicted series is detected
// (counted as Stale) and never reaches another series.
type SeriesID uint64

// OverflowID is the id of the overflow series.
const OverflowID SeriesID = ^SeriesID(0)

// Accounting says what happened to each sample of a batch; the fields add up to its length.
type Accounting struct {
	Accepted   uint64 // recorded into their own series
	Overflowed uint64 // recorded into the overflow series (series cap reached)
	Late       uint64 // dropped: older than the allowed lateness or the window
	Future     uint64 // dropped: newer than now+MaxFutureSkew
	Invalid    uint64 // dropped: NaN or ±Inf value, or weight 0
	BadKey     uint64 // dropped: key too long, not UTF-8, or not a label list (RawLabelKeys)
	Stale      uint64 // dropped: the id names a deleted or evicted series
}

// Total returns the number of samples accounted for.
func (a Accounting) Total() uint64 {
	return a.Accepted + a.Overflowed + a.Late + a.Future + a.Invalid + a.BadKey + a.Stale
}

func (a *Accounting) add(o Accounting) {
	a.Accepted += o.Accepted
	a.Overflowed += o.Overflowed
	a.Late += o.Late
	a.Future += o.Future
	a.Invalid += o.Invalid
	a.BadKey += o.BadKey
	a.Stale += o.Stale
}

// AggregatorStats are an aggregator's counters since it was made.
type AggregatorStats struct {
	Series    uint64     // live series (the overflow series not counted)
	Samples   Accounting // every batch's accounting added up
	Evicted   uint64     // series evicted as idle
	Deleted   uint64     // series removed by Delete* or Clear
	Snapshots uint64     // snapshots taken
	KeyBytes  uint64     // bytes of interned byte keys
}

// ImportAccounting says what [Aggregator.MergeState] did with each record of the state.
type ImportAccounting struct {
	Merged     uint64 // merged into the series of the same key
	Overflowed uint64 // merged into the overflow series
	Late       uint64 // dropped: the slice of now was already reused for a later time
	BadKey     uint64 // dropped: key invalid for this aggregator
}

// SnapshotOptions select what a snapshot reads.
type SnapshotOptions struct {
	// Quantiles to compute per series (at most 16, each in [0, 1]).
	Quantiles []float64
	// Since, when not 0, keeps only the series changed since the snapshot whose NextSince
	// returned it.
	Since uint64
	// Delta (Cumulative mode): report the change since the previous delta snapshot, then
	// start the next delta from zero.
	Delta bool
}

// Batch is a reusable, pointer-free batch of samples. Keys can be uint64s, byte strings, or
// [SeriesID]s, mixed freely (each kind crosses to Rust in one call). Timestamps are
// nanoseconds (time.Time.UnixNano). Adding to a batch allocates nothing once its slices have
// grown to the batch size; Reset keeps them.
type Batch struct {
	u64     columns
	u64Keys []uint64
	ids     columns
	idKeys  []uint64
	bytes   columns
	keys    []byte
	ends    []uint32
}

type columns struct {
	ts       []int64
	values   []float64
	weights  []uint32
	weighted bool
}

func (c *columns) add(ts int64, v float64, w uint32) {
	c.ts = append(c.ts, ts)
	c.values = append(c.values, v)
	if w != 1 && !c.weighted {
		c.weighted = true
		c.weights = c.weights[:0]
		for range len(c.ts) - 1 {
			c.weights = append(c.weights, 1)
		}
	}
	if c.weighted {
		c.weights = append(c.weights, w)
	}
}

func (c *columns) reset() {
	c.ts, c.values, c.weights, c.weighted = c.ts[:0], c.values[:0], c.weights[:0], false
}

// Add adds a sample of the series with the uint64 key.
func (b *Batch) Add(key uint64, ts int64, value float64) {
	b.u64Keys = append(b.u64Keys, key)
	b.u64.add(ts, value, 1)
}

// AddWeighted adds a sample that counts weight times (weight 0 is dropped as Invalid).
func (b *Batch) AddWeighted(key uint64, ts int64, value float64, weight uint32) {
	b.u64Keys = append(b.u64Keys, key)
	b.u64.add(ts, value, weight)
}

// AddKey adds a sample of the series with the byte-string key (copied into the batch).
func (b *Batch) AddKey(key []byte, ts int64, value float64) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, uint32(len(b.keys)))
	b.bytes.add(ts, value, 1)
}

// AddString is AddKey for a string key.
func (b *Batch) AddString(key string, ts int64, value float64) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, uint32(len(b.keys)))
	b.bytes.add(ts, value, 1)
}

// AddKeyWeighted adds a weighted sample of the series with the byte-string key.
func (b *Batch) AddKeyWeighted(key []byte, ts int64, value float64, weight uint32) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, uint32(len(b.keys)))
	b.bytes.add(ts, value, weight)
}

// AddIDWeighted adds a weighted sample of the series with the id.
func (b *Batch) AddIDWeighted(id SeriesID, ts int64, value float64, weight uint32) {
	b.idKeys = append(b.idKeys, uint64(id))
	b.ids.add(ts, value, weight)
}

// AddID adds a sample of the series with the id.
func (b *Batch) AddID(id SeriesID, ts int64, value float64) {
	b.idKeys = append(b.idKeys, uint64(id))
	b.ids.add(ts, value, 1)
}

// Len returns the number of samples in the batch.
func (b *Batch) Len() int { return len(b.u64Keys) + len(b.idKeys) + len(b.ends) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.u64.reset()
	b.ids.reset()
	b.bytes.reset()
	b.u64Keys, b.idKeys, b.keys, b.ends = b.u64Keys[:0], b.idKeys[:0], b.keys[:0], b.ends[:0]
}

// Row is one series of a snapshot, copied out of it.
type Row struct {
	ID       SeriesID
	Kind     KeyKind
	RawKey   uint64 // the uint64 key (Kind == KeyU64)
	Count    uint64 // samples (sum of weights) in the window
	Sum      float64
	Min      float64 // NaN if Count == 0, as are Max, Last, Mean, Stddev
	Max      float64
	Last     float64 // value of the newest sample
	Mean     float64
	Stddev   float64 // population standard deviation (weighted)
	Increase float64 // counter increase, a drop read as a reset to zero
	Rate     float64 // Increase per second over the window width
}

// KeyKind says how a snapshot row's series is keyed.
type KeyKind uint8

const (
	KeyU64      KeyKind = 0 // a uint64 key (Row.RawKey)
	KeyBytes    KeyKind = 1 // a byte key (Snapshot.AppendKey)
	KeyOverflow KeyKind = 2 // the overflow series
)

// Columns receives pages of snapshot rows ([Snapshot.Read]); make one with [NewColumns] and
// reuse it. After a Read its exported slices hold the page's rows.
type Columns struct {
	IDs, Counts, RawKeys                                      []uint64
	Sums, Mins, Maxs, Lasts, Means, Stddevs, Increases, Rates []float64
	Quantiles                                                 [][]float64 // [j][row]
	u64                                                       []uint64
	f64                                                       []float64
	rows, nq                                                  int
}

// NewColumns makes columns for pages of up to rows rows and nq quantiles.
func NewColumns(rows, nq int) *Columns {
	rows, nq = max(rows, 1), min(max(nq, 0), 16)
	return &Columns{
		u64:       make([]uint64, 3*rows),
		f64:       make([]float64, (8+nq)*rows),
		Quantiles: make([][]float64, nq),
		rows:      rows,
		nq:        nq,
	}
}

// Cap returns the most rows one page holds.
func (c *Columns) Cap() int { return c.rows }

func (c *Columns) slice(n, nq int) {
	r := c.rows
	u := func(k int) []uint64 { return c.u64[k*r : k*r+n] }
	f := func(k int) []float64 { return c.f64[k*r : k*r+n] }
	c.IDs, c.Counts, c.RawKeys = u(0), u(1), u(2)
	c.Sums, c.Mins, c.Maxs, c.Lasts = f(0), f(1), f(2), f(3)
	c.Means, c.Stddevs, c.Increases, c.Rates = f(4), f(5), f(6), f(7)
	c.Quantiles = c.Quantiles[:min(nq, c.nq)]
	for j := range c.Quantiles {
		c.Quantiles[j] = f(8 + j)
	}
}

func (cfg *Config) withDefaults() (Config, error) {
	c := *cfg
	if c.Width < 0 || c.Slices < 0 || c.Alpha < 0 || c.MaxBuckets < 0 || c.MaxSeries < 0 || c.IdleTTL < 0 ||
		c.AllowedLateness < 0 || c.MaxFutureSkew < 0 || c.Shards < 0 || c.MaxKeyLen < 0 || len(c.Quantiles) > 16 {
		return c, ErrInvalidConfig
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
	if c.RawLabelKeys {
		c.KeyLabel = ""
	}
	if c.Quantiles == nil {
		c.Quantiles = []float64{0.5, 0.9, 0.99}
	}
	if c.Mode == Cumulative && c.Width == 0 {
		c.Width = 1
	}
	if c.MaxBuckets > 1<<16 || c.Shards > 256 || c.MaxKeyLen > 4096 {
		return c, ErrInvalidConfig
	}
	return c, nil
}
