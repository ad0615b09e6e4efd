package offheap

import (
	"math"
	"unsafe"
)

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
	// Buckets also copies each row's sketch buckets (the input of a native histogram): see
	// [Snapshot.UnsafePositiveBuckets].
	Buckets bool
}

func (o *SnapshotOptions) flags() uint32 {
	var f uint32
	if o.Delta {
		f |= snapshotDelta
	}
	if o.Buckets {
		f |= snapshotBuckets
	}
	return f
}

// KeyKind says how a snapshot row's series is keyed (the kinds column of the library's
// offheap_snapshot_columns).
type KeyKind uint8

const (
	KeyU64      KeyKind = 0 // a uint64 key (SnapshotRow.RawKey)
	KeyBytes    KeyKind = 1 // a byte key (Snapshot.AppendKey)
	KeyOverflow KeyKind = 2 // the overflow series
)

// SnapshotRow is one series of a snapshot, copied out of it.
type SnapshotRow struct {
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
	// TotalCount and TotalSum cover every sample the series was ever given, monotonic across
	// window rotations (a client_golang summary's _count and _sum).
	TotalCount uint64
	TotalSum   float64
}

// windowView is offheap_snapshot_columns: the snapshot's columns in Rust memory, valid until the
// snapshot is filled again or freed (abi_cgo_gen.go pins its layout).
type windowView struct {
	rows          uint64
	nquantiles    uint32
	reserved      uint32
	now           int64
	nextSince     uint64
	ids           *uint64
	kinds         *KeyKind
	rawKeys       *uint64
	keyEnds       *uint32
	keyBytes      *byte
	keyBytesLen   uint64
	counts        *uint64
	sums          *float64
	mins          *float64
	maxs          *float64
	lasts         *float64
	means         *float64
	stddevs       *float64
	increases     *float64
	rates         *float64
	quantiles     [windowMaxQuantiles]*float64
	exportBytes   *byte
	exportLen     uint64
	totalCounts   *uint64
	totalSums     *float64
	zeroCounts    *uint64
	negBucketEnds *uint32
	bucketEnds    *uint32
	bucketIndexes *int32
	bucketCounts  *uint64
	buckets       uint64
	schema        int32
	reserved2     uint32
}

// Snapshot holds the result columns of snapshots in a Rust arena. Taking a snapshot into it
// reuses its memory. Its Unsafe accessors view that memory directly: the views stay valid
// until the next [Aggregator.Snapshot] into it, [Aggregator.AppendState], or Close. An
// accessor given a row index outside [0, Len()), or a quantile index outside the quantiles
// requested, panics, as a slice index does. A Snapshot is not for concurrent use, except for
// Close, which may race any method: once Close has started, the snapshot reads as closed (Len 0,
// nil views, zero rows, no panic), and Close waits for accessors already running to finish
// before it frees the arena. A view returned before Close points into freed memory once Close
// returns: reading it then is undefined (stale numbers, or a crash). Copy what must outlive the
// snapshot (Row, Read, AppendKey) before closing it.
type Snapshot struct {
	h    handle
	view windowView // written under the lease by Aggregator.Snapshot and AppendState
}

// NewSnapshot makes an empty snapshot arena.
func NewSnapshot() (*Snapshot, error) {
	s := &Snapshot{}
	if err := create("NewSnapshot", s, &s.h, windowSnapshotNew, windowSnapshotFree); err != nil {
		return nil, err
	}
	return s, nil
}

// Close frees the arena; views into it become invalid. Idempotent, safe from any goroutine,
// also while other goroutines call its accessors (they then return zero values).
func (s *Snapshot) Close() error { return s.h.close("Snapshot.Close", nil) }

// refresh takes the view of the columns the library just wrote into the arena sid; the caller
// holds the snapshot's lease.
func (s *Snapshot) refresh(op string, sid uint64) error {
	var v windowView // a local, not a field: see library_cgo.go
	st := windowSnapshotView(sid, &v)
	s.view = v
	if st != statusOK {
		return statusError(op, st)
	}
	return nil
}

// current returns a copy of the view, taken under the lease, and false once the snapshot is
// closed. A slice built from the copy is consistent (a racing Close never zeroes it half-way);
// its memory stays valid until the snapshot is filled again or closed.
func (s *Snapshot) current() (windowView, bool) {
	if _, ok := s.h.acquire(); !ok {
		return windowView{}, false
	}
	v := s.view
	s.h.release()
	return v, true
}

// exported views the state the last Aggregator.AppendState wrote into the arena; the caller
// holds the snapshot's lease.
func (s *Snapshot) exported() []byte { return unsafe.Slice(s.view.exportBytes, s.view.exportLen) }

// Len returns the number of rows (series) of the last snapshot (0 once closed).
func (s *Snapshot) Len() int {
	v, _ := s.current()
	return int(v.rows)
}

// NextSince returns the token for SnapshotOptions.Since that selects the series changed
// after this snapshot (0 once closed).
func (s *Snapshot) NextSince() uint64 {
	v, _ := s.current()
	return v.nextSince
}

// Now returns the now the snapshot was taken at (0 once closed).
func (s *Snapshot) Now() int64 {
	v, _ := s.current()
	return v.now
}

// UnsafeIDs views the series ids column (see [Snapshot] for how long views stay valid; nil
// once closed, as are the other column views).
func (s *Snapshot) UnsafeIDs() []uint64 {
	v, _ := s.current()
	return unsafe.Slice(v.ids, v.rows)
}

// UnsafeCounts views the counts column.
func (s *Snapshot) UnsafeCounts() []uint64 {
	v, _ := s.current()
	return unsafe.Slice(v.counts, v.rows)
}

// UnsafeRawKeys views the uint64 keys column (0 for rows keyed otherwise).
func (s *Snapshot) UnsafeRawKeys() []uint64 {
	v, _ := s.current()
	return unsafe.Slice(v.rawKeys, v.rows)
}

// UnsafeSums views the sums column.
func (s *Snapshot) UnsafeSums() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.sums, v.rows)
}

// UnsafeMeans views the means column.
func (s *Snapshot) UnsafeMeans() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.means, v.rows)
}

// UnsafeMins views the minimums column (NaN for rows without samples).
func (s *Snapshot) UnsafeMins() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.mins, v.rows)
}

// UnsafeMaxs views the maximums column.
func (s *Snapshot) UnsafeMaxs() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.maxs, v.rows)
}

// UnsafeLasts views the newest-value column.
func (s *Snapshot) UnsafeLasts() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.lasts, v.rows)
}

// UnsafeStddevs views the standard deviations column.
func (s *Snapshot) UnsafeStddevs() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.stddevs, v.rows)
}

// UnsafeIncreases views the counter increases column.
func (s *Snapshot) UnsafeIncreases() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.increases, v.rows)
}

// UnsafeRates views the rates column (increase per second).
func (s *Snapshot) UnsafeRates() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.rates, v.rows)
}

// UnsafeTotalCounts views the lifetime counts column: every sample each series was ever
// given, monotonic across window rotations.
func (s *Snapshot) UnsafeTotalCounts() []uint64 {
	v, _ := s.current()
	return unsafe.Slice(v.totalCounts, v.rows)
}

// UnsafeTotalSums views the lifetime sums column.
func (s *Snapshot) UnsafeTotalSums() []float64 {
	v, _ := s.current()
	return unsafe.Slice(v.totalSums, v.rows)
}

// Schema returns the exponential schema of the sketch buckets (bucket i holds magnitudes in
// (base^(i-1), base^i], base = 2^(2^-schema), as in Prometheus native histograms), and false
// when the aggregator keeps no sketches.
func (s *Snapshot) Schema() (int32, bool) {
	v, ok := s.current()
	return v.schema, ok && v.schema != math.MinInt32
}

// UnsafeZeroCounts views the zero-bucket counts of each row's sketch (a snapshot taken with
// SnapshotOptions.Buckets; empty otherwise and once closed).
func (s *Snapshot) UnsafeZeroCounts() []uint64 {
	v, _ := s.current()
	if v.zeroCounts == nil {
		return nil
	}
	return unsafe.Slice(v.zeroCounts, v.rows)
}

// rowBuckets views row i's sketch buckets in the copy v of the view: the negative ones in
// [start, neg), the positive ones in [neg, end) of the indexes and counts returned.
func (v *windowView) rowBuckets(i int) (idx []int32, cnt []uint64, start, neg, end uint32) {
	checkIndex(i, int(v.rows))
	if v.bucketEnds == nil || v.buckets == 0 {
		return nil, nil, 0, 0, 0
	}
	ends := unsafe.Slice(v.bucketEnds, v.rows)
	if i > 0 {
		start = ends[i-1]
	}
	neg, end = unsafe.Slice(v.negBucketEnds, v.rows)[i], ends[i]
	return unsafe.Slice(v.bucketIndexes, v.buckets), unsafe.Slice(v.bucketCounts, v.buckets), start, neg, end
}

// UnsafePositiveBuckets views row i's positive sketch buckets as parallel indexes and counts
// in ascending index order (a snapshot taken with SnapshotOptions.Buckets; empty otherwise and
// once closed): the input of a native histogram's positive spans and deltas.
func (s *Snapshot) UnsafePositiveBuckets(i int) (indexes []int32, counts []uint64) {
	return s.buckets(i, false)
}

// UnsafeNegativeBuckets views row i's negative sketch buckets (indexes of magnitudes,
// ascending).
func (s *Snapshot) UnsafeNegativeBuckets(i int) (indexes []int32, counts []uint64) {
	return s.buckets(i, true)
}

// buckets views row i's negative or positive buckets (nil when it has none).
func (s *Snapshot) buckets(i int, negative bool) (indexes []int32, counts []uint64) {
	v, ok := s.current()
	if !ok {
		return nil, nil
	}
	idx, cnt, start, neg, end := v.rowBuckets(i)
	if negative {
		end = neg
	} else {
		start = neg
	}
	if start == end {
		return nil, nil
	}
	return idx[start:end], cnt[start:end]
}

// UnsafeKinds views the key kinds column.
func (s *Snapshot) UnsafeKinds() []KeyKind {
	v, _ := s.current()
	return unsafe.Slice(v.kinds, v.rows)
}

// UnsafeQuantile views the column of the j-th quantile the snapshot computed
// (SnapshotOptions.Quantiles[j]).
func (s *Snapshot) UnsafeQuantile(j int) []float64 {
	v, ok := s.current()
	if !ok {
		return nil
	}
	checkIndex(j, int(v.nquantiles))
	return unsafe.Slice(v.quantiles[j], v.rows)
}

// UnsafeKeyBytes views all byte keys concatenated; UnsafeKeyEnds views each row's end offset.
func (s *Snapshot) UnsafeKeyBytes() []byte {
	v, _ := s.current()
	return unsafe.Slice(v.keyBytes, v.keyBytesLen)
}

// UnsafeKeyEnds views the end offset of each row's key in UnsafeKeyBytes.
func (s *Snapshot) UnsafeKeyEnds() []uint32 {
	v, _ := s.current()
	return unsafe.Slice(v.keyEnds, v.rows)
}

// key views the byte key of row i; the caller holds the lease.
func (v *windowView) key(i int) []byte {
	checkIndex(i, int(v.rows))
	ends := unsafe.Slice(v.keyEnds, v.rows)
	start := uint32(0)
	if i > 0 {
		start = ends[i-1]
	}
	return unsafe.Slice(v.keyBytes, v.keyBytesLen)[start:ends[i]]
}

// UnsafeKey views the byte key of row i (empty for rows not keyed by bytes; nil once closed).
func (s *Snapshot) UnsafeKey(i int) []byte {
	if _, ok := s.h.acquire(); !ok {
		return nil
	}
	defer s.h.release()
	return s.view.key(i)
}

// AppendKey appends a copy of the byte key of row i to dst (nothing once closed).
func (s *Snapshot) AppendKey(dst []byte, i int) []byte {
	if _, ok := s.h.acquire(); !ok {
		return dst
	}
	defer s.h.release()
	return append(dst, s.view.key(i)...)
}

// Row copies row i (the zero SnapshotRow once closed).
func (s *Snapshot) Row(i int) SnapshotRow {
	if _, ok := s.h.acquire(); !ok {
		return SnapshotRow{}
	}
	defer s.h.release()
	v := &s.view
	checkIndex(i, int(v.rows))
	return SnapshotRow{
		ID:       SeriesID(unsafe.Slice(v.ids, v.rows)[i]),
		Kind:     unsafe.Slice(v.kinds, v.rows)[i],
		RawKey:   unsafe.Slice(v.rawKeys, v.rows)[i],
		Count:    unsafe.Slice(v.counts, v.rows)[i],
		Sum:      unsafe.Slice(v.sums, v.rows)[i],
		Min:      unsafe.Slice(v.mins, v.rows)[i],
		Max:      unsafe.Slice(v.maxs, v.rows)[i],
		Last:     unsafe.Slice(v.lasts, v.rows)[i],
		Mean:     unsafe.Slice(v.means, v.rows)[i],
		Stddev:   unsafe.Slice(v.stddevs, v.rows)[i],
		Increase: unsafe.Slice(v.increases, v.rows)[i],
		Rate:     unsafe.Slice(v.rates, v.rows)[i],

		TotalCount: unsafe.Slice(v.totalCounts, v.rows)[i],
		TotalSum:   unsafe.Slice(v.totalSums, v.rows)[i],
	}
}

// Quantile returns the j-th quantile the snapshot computed of row i (NaN for a row without
// samples; 0 once closed).
func (s *Snapshot) Quantile(i, j int) float64 {
	if _, ok := s.h.acquire(); !ok {
		return 0
	}
	defer s.h.release()
	v := &s.view
	checkIndex(j, int(v.nquantiles))
	checkIndex(i, int(v.rows))
	return unsafe.Slice(v.quantiles[j], v.rows)[i]
}

// Read copies rows [start, start+c.Cap()) (fewer at the end) into c and returns how many; 0
// when start >= Len() or the snapshot is closed (a negative start panics). Page through a
// large snapshot with reusable columns:
//
//	for start := 0; start < snap.Len(); start += n { n = snap.Read(start, cols); ... }
func (s *Snapshot) Read(start int, c *SnapshotColumns) int {
	if _, ok := s.h.acquire(); !ok {
		c.slice(0, 0)
		return 0
	}
	defer s.h.release()
	v := &s.view
	rows := int(v.rows)
	if start < 0 {
		panicIndex(start, rows)
	}
	if start >= rows {
		c.slice(0, 0)
		return 0
	}
	n := min(c.rows, rows-start)
	c.slice(n, int(v.nquantiles))
	end := start + n
	copy(c.IDs, unsafe.Slice(v.ids, v.rows)[start:end])
	copy(c.Counts, unsafe.Slice(v.counts, v.rows)[start:end])
	copy(c.RawKeys, unsafe.Slice(v.rawKeys, v.rows)[start:end])
	copy(c.Sums, unsafe.Slice(v.sums, v.rows)[start:end])
	copy(c.Mins, unsafe.Slice(v.mins, v.rows)[start:end])
	copy(c.Maxs, unsafe.Slice(v.maxs, v.rows)[start:end])
	copy(c.Lasts, unsafe.Slice(v.lasts, v.rows)[start:end])
	copy(c.Means, unsafe.Slice(v.means, v.rows)[start:end])
	copy(c.Stddevs, unsafe.Slice(v.stddevs, v.rows)[start:end])
	copy(c.Increases, unsafe.Slice(v.increases, v.rows)[start:end])
	copy(c.Rates, unsafe.Slice(v.rates, v.rows)[start:end])
	copy(c.TotalCounts, unsafe.Slice(v.totalCounts, v.rows)[start:end])
	copy(c.TotalSums, unsafe.Slice(v.totalSums, v.rows)[start:end])
	for j := range c.Quantiles {
		copy(c.Quantiles[j], unsafe.Slice(v.quantiles[j], v.rows)[start:end])
	}
	return n
}

// SnapshotColumns receives pages of snapshot rows ([Snapshot.Read]); make one with
// [NewSnapshotColumns] and reuse it. After a Read its exported slices hold the page's rows.
type SnapshotColumns struct {
	IDs, Counts, RawKeys                                      []uint64
	Sums, Mins, Maxs, Lasts, Means, Stddevs, Increases, Rates []float64
	Quantiles                                                 [][]float64 // Quantiles[j][row]
	TotalCounts                                               []uint64    // lifetime counts
	TotalSums                                                 []float64   // lifetime sums
	u64                                                       []uint64
	f64                                                       []float64
	rows, nq                                                  int
}

// NewSnapshotColumns makes columns for pages of up to rows rows and nq quantiles (a snapshot
// computes at most 16, so a larger nq counts as 16).
func NewSnapshotColumns(rows, nq int) *SnapshotColumns {
	rows, nq = max(rows, 1), min(max(nq, 0), windowMaxQuantiles)
	return &SnapshotColumns{
		u64:       make([]uint64, 4*rows),
		f64:       make([]float64, (9+nq)*rows),
		Quantiles: make([][]float64, nq),
		rows:      rows,
		nq:        nq,
	}
}

// Cap returns the most rows one page holds.
func (c *SnapshotColumns) Cap() int { return c.rows }

func (c *SnapshotColumns) slice(n, nq int) {
	r := c.rows
	u := func(k int) []uint64 { return c.u64[k*r : k*r+n] }
	f := func(k int) []float64 { return c.f64[k*r : k*r+n] }
	c.IDs, c.Counts, c.RawKeys, c.TotalCounts = u(0), u(1), u(2), u(3)
	c.Sums, c.Mins, c.Maxs, c.Lasts = f(0), f(1), f(2), f(3)
	c.Means, c.Stddevs, c.Increases, c.Rates = f(4), f(5), f(6), f(7)
	c.TotalSums = f(8)
	c.Quantiles = c.Quantiles[:min(nq, c.nq)]
	for j := range c.Quantiles {
		c.Quantiles[j] = f(9 + j)
	}
}
