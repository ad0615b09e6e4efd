package offheap

import "unsafe"

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
}

// windowView is offheap_snapshot_columns: the snapshot's columns in Rust memory, valid until the
// snapshot is filled again or freed (snapshot_cgo.go pins its layout).
type windowView struct {
	rows        uint64
	nquantiles  uint32
	reserved    uint32
	now         int64
	nextSince   uint64
	ids         *uint64
	kinds       *KeyKind
	rawKeys     *uint64
	keyEnds     *uint32
	keyBytes    *byte
	keyBytesLen uint64
	counts      *uint64
	sums        *float64
	mins        *float64
	maxs        *float64
	lasts       *float64
	means       *float64
	stddevs     *float64
	increases   *float64
	rates       *float64
	quantiles   [maxQuantiles]*float64
	exportBytes *byte
	exportLen   uint64
}

// Snapshot holds the result columns of snapshots in a Rust arena. Taking a snapshot into it
// reuses its memory. Its Unsafe accessors view that memory directly: the views stay valid
// until the next [Aggregator.Snapshot] into it, [Aggregator.AppendState], or Close. An
// accessor given a row index outside [0, Len()), or a quantile index outside the quantiles
// requested, panics, as a slice index does. A Snapshot is not for concurrent use.
type Snapshot struct {
	h    handle
	view windowView
}

// NewSnapshot makes an empty snapshot arena.
func NewSnapshot() (*Snapshot, error) {
	if initErr != nil {
		return nil, initErr
	}
	id, st := windowSnapshotNew()
	if st != statusOK {
		return nil, statusError("NewSnapshot", st)
	}
	s := &Snapshot{}
	attach(&s.h, s, id, windowSnapshotFree)
	return s, nil
}

// Close frees the arena; its views become invalid. Idempotent.
func (s *Snapshot) Close() error {
	s.view = windowView{}
	return s.h.close("Snapshot.Close")
}

// refresh takes the view of the columns the library just wrote into the arena sid.
func (s *Snapshot) refresh(op string, sid uint64) error {
	var v windowView // a local, not a field: see library_cgo.go
	st := windowSnapshotView(sid, &v)
	s.view = v
	if st != statusOK {
		return statusError(op, st)
	}
	return nil
}

// exported views the state the last Aggregator.AppendState wrote into the arena.
func (s *Snapshot) exported() []byte { return unsafe.Slice(s.view.exportBytes, int(s.view.exportLen)) }

// Len returns the number of rows (series) of the last snapshot.
func (s *Snapshot) Len() int { return int(s.view.rows) }

// NextSince returns the token for SnapshotOptions.Since that selects the series changed
// after this snapshot.
func (s *Snapshot) NextSince() uint64 { return s.view.nextSince }

// Now returns the now the snapshot was taken at.
func (s *Snapshot) Now() int64 { return s.view.now }

// UnsafeIDs views the series ids column (see [Snapshot] for how long views stay valid).
func (s *Snapshot) UnsafeIDs() []uint64 { return unsafe.Slice(s.view.ids, s.Len()) }

// UnsafeCounts views the counts column.
func (s *Snapshot) UnsafeCounts() []uint64 { return unsafe.Slice(s.view.counts, s.Len()) }

// UnsafeRawKeys views the uint64 keys column (0 for rows keyed otherwise).
func (s *Snapshot) UnsafeRawKeys() []uint64 { return unsafe.Slice(s.view.rawKeys, s.Len()) }

// UnsafeSums views the sums column.
func (s *Snapshot) UnsafeSums() []float64 { return unsafe.Slice(s.view.sums, s.Len()) }

// UnsafeMeans views the means column.
func (s *Snapshot) UnsafeMeans() []float64 { return unsafe.Slice(s.view.means, s.Len()) }

// UnsafeMins views the minimums column (NaN for rows without samples).
func (s *Snapshot) UnsafeMins() []float64 { return unsafe.Slice(s.view.mins, s.Len()) }

// UnsafeMaxs views the maximums column.
func (s *Snapshot) UnsafeMaxs() []float64 { return unsafe.Slice(s.view.maxs, s.Len()) }

// UnsafeLasts views the newest-value column.
func (s *Snapshot) UnsafeLasts() []float64 { return unsafe.Slice(s.view.lasts, s.Len()) }

// UnsafeStddevs views the standard deviations column.
func (s *Snapshot) UnsafeStddevs() []float64 { return unsafe.Slice(s.view.stddevs, s.Len()) }

// UnsafeIncreases views the counter increases column.
func (s *Snapshot) UnsafeIncreases() []float64 { return unsafe.Slice(s.view.increases, s.Len()) }

// UnsafeRates views the rates column (increase per second).
func (s *Snapshot) UnsafeRates() []float64 { return unsafe.Slice(s.view.rates, s.Len()) }

// UnsafeKinds views the key kinds column.
func (s *Snapshot) UnsafeKinds() []KeyKind { return unsafe.Slice(s.view.kinds, s.Len()) }

// UnsafeQuantile views the column of the j-th quantile the snapshot computed
// (SnapshotOptions.Quantiles[j]).
func (s *Snapshot) UnsafeQuantile(j int) []float64 {
	checkIndex(j, int(s.view.nquantiles))
	return unsafe.Slice(s.view.quantiles[j], s.Len())
}

// UnsafeKeyBytes views all byte keys concatenated; UnsafeKeyEnds views each row's end offset.
func (s *Snapshot) UnsafeKeyBytes() []byte {
	return unsafe.Slice(s.view.keyBytes, int(s.view.keyBytesLen))
}

// UnsafeKeyEnds views the end offset of each row's key in UnsafeKeyBytes.
func (s *Snapshot) UnsafeKeyEnds() []uint32 { return unsafe.Slice(s.view.keyEnds, s.Len()) }

// UnsafeKey views the byte key of row i (empty for rows not keyed by bytes).
func (s *Snapshot) UnsafeKey(i int) []byte {
	checkIndex(i, s.Len())
	ends := s.UnsafeKeyEnds()
	start := uint32(0)
	if i > 0 {
		start = ends[i-1]
	}
	return s.UnsafeKeyBytes()[start:ends[i]]
}

// AppendKey appends a copy of the byte key of row i to dst.
func (s *Snapshot) AppendKey(dst []byte, i int) []byte { return append(dst, s.UnsafeKey(i)...) }

// Row copies row i.
func (s *Snapshot) Row(i int) SnapshotRow {
	checkIndex(i, s.Len())
	return SnapshotRow{
		ID:       SeriesID(s.UnsafeIDs()[i]),
		Kind:     s.UnsafeKinds()[i],
		RawKey:   s.UnsafeRawKeys()[i],
		Count:    s.UnsafeCounts()[i],
		Sum:      s.UnsafeSums()[i],
		Min:      s.UnsafeMins()[i],
		Max:      s.UnsafeMaxs()[i],
		Last:     s.UnsafeLasts()[i],
		Mean:     s.UnsafeMeans()[i],
		Stddev:   s.UnsafeStddevs()[i],
		Increase: s.UnsafeIncreases()[i],
		Rate:     s.UnsafeRates()[i],
	}
}

// Quantile returns the j-th quantile the snapshot computed of row i (NaN for a row without
// samples).
func (s *Snapshot) Quantile(i, j int) float64 {
	q := s.UnsafeQuantile(j)
	checkIndex(i, len(q))
	return q[i]
}

// Read copies rows [start, start+c.Cap()) (fewer at the end) into c and returns how many; 0
// when start >= Len() (a negative start panics). Page through a large snapshot with
// reusable columns:
//
//	for start := 0; start < snap.Len(); start += n { n = snap.Read(start, cols); ... }
func (s *Snapshot) Read(start int, c *SnapshotColumns) int {
	rows := s.Len()
	if start < 0 {
		panicIndex(start, rows)
	}
	if start >= rows {
		c.slice(0, 0)
		return 0
	}
	n := min(c.rows, rows-start)
	c.slice(n, int(s.view.nquantiles))
	end := start + n
	copy(c.IDs, s.UnsafeIDs()[start:end])
	copy(c.Counts, s.UnsafeCounts()[start:end])
	copy(c.RawKeys, s.UnsafeRawKeys()[start:end])
	copy(c.Sums, s.UnsafeSums()[start:end])
	copy(c.Mins, s.UnsafeMins()[start:end])
	copy(c.Maxs, s.UnsafeMaxs()[start:end])
	copy(c.Lasts, s.UnsafeLasts()[start:end])
	copy(c.Means, s.UnsafeMeans()[start:end])
	copy(c.Stddevs, s.UnsafeStddevs()[start:end])
	copy(c.Increases, s.UnsafeIncreases()[start:end])
	copy(c.Rates, s.UnsafeRates()[start:end])
	for j := range c.Quantiles {
		copy(c.Quantiles[j], s.UnsafeQuantile(j)[start:end])
	}
	return n
}

// SnapshotColumns receives pages of snapshot rows ([Snapshot.Read]); make one with
// [NewSnapshotColumns] and reuse it. After a Read its exported slices hold the page's rows.
type SnapshotColumns struct {
	IDs, Counts, RawKeys                                      []uint64
	Sums, Mins, Maxs, Lasts, Means, Stddevs, Increases, Rates []float64
	Quantiles                                                 [][]float64 // Quantiles[j][row]
	u64                                                       []uint64
	f64                                                       []float64
	rows, nq                                                  int
}

// NewSnapshotColumns makes columns for pages of up to rows rows and nq quantiles (a snapshot
// computes at most 16, so a larger nq counts as 16).
func NewSnapshotColumns(rows, nq int) *SnapshotColumns {
	rows, nq = max(rows, 1), min(max(nq, 0), maxQuantiles)
	return &SnapshotColumns{
		u64:       make([]uint64, 3*rows),
		f64:       make([]float64, (8+nq)*rows),
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
	c.IDs, c.Counts, c.RawKeys = u(0), u(1), u(2)
	c.Sums, c.Mins, c.Maxs, c.Lasts = f(0), f(1), f(2), f(3)
	c.Means, c.Stddevs, c.Increases, c.Rates = f(4), f(5), f(6), f(7)
	c.Quantiles = c.Quantiles[:min(nq, c.nq)]
	for j := range c.Quantiles {
		c.Quantiles[j] = f(8 + j)
	}
}
