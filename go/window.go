//go:build cgo

package offheap

/*
#cgo noescape offheap_window_new
#cgo nocallback offheap_window_new
#cgo nocallback offheap_window_free
#cgo noescape offheap_window_ingest_u64
#cgo nocallback offheap_window_ingest_u64
#cgo noescape offheap_window_ingest_ids
#cgo nocallback offheap_window_ingest_ids
#cgo noescape offheap_window_ingest_keys
#cgo nocallback offheap_window_ingest_keys
#cgo noescape offheap_window_resolve_keys
#cgo nocallback offheap_window_resolve_keys
#cgo noescape offheap_window_resolve_u64
#cgo nocallback offheap_window_resolve_u64
#cgo noescape offheap_window_delete
#cgo nocallback offheap_window_delete
#cgo noescape offheap_window_remove
#cgo nocallback offheap_window_remove
#cgo noescape offheap_window_stats
#cgo nocallback offheap_window_stats
#cgo noescape offheap_window_snapshot_new
#cgo nocallback offheap_window_snapshot_new
#cgo nocallback offheap_window_snapshot_free
#cgo noescape offheap_window_snapshot_take
#cgo nocallback offheap_window_snapshot_take
#cgo noescape offheap_window_snapshot_view
#cgo nocallback offheap_window_snapshot_view
#cgo noescape offheap_window_prometheus
#cgo nocallback offheap_window_prometheus
#cgo noescape offheap_window_export
#cgo nocallback offheap_window_export
#cgo noescape offheap_window_merge_import
#cgo nocallback offheap_window_merge_import
#include "offheap.h"
*/
import "C"

import (
	"io"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Aggregator keeps windowed statistics of many series on the Rust heap: Go holds only its
// handle. It is safe for concurrent use; ingest from many goroutines takes one Rust lock per
// shard per batch. Close it when done.
type Aggregator struct {
	h         handle
	quantiles []float64 // for WritePrometheus

	mu    sync.Mutex // guards arena and chunk (WritePrometheus, AppendState)
	arena *Snapshot
	chunk []byte
}

func freeAggregator(id uint64) { C.offheap_window_free(C.uint64_t(id)) }

// NewAggregator makes an aggregator. Errors wrap [ErrInvalidConfig] (naming no field: see the
// status message) or [ErrUnavailable] without cgo.
func NewAggregator(cfg Config) (*Aggregator, error) {
	const op = "NewAggregator"
	if initErr != nil {
		return nil, initErr
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, opError(op, err)
	}
	lateness := uint64(math.MaxUint64)
	if c.AllowedLateness > 0 {
		lateness = uint64(c.AllowedLateness)
	}
	sketch := C.uint32_t(1)
	if c.NoQuantiles {
		sketch = 0
	}
	cc := C.offheap_window_config{
		mode:                C.uint32_t(c.Mode),
		slices:              C.uint32_t(min(c.Slices, math.MaxUint32)),
		width_ns:            C.uint64_t(c.Width),
		alpha:               C.double(c.Alpha),
		max_buckets:         C.uint32_t(c.MaxBuckets),
		shards:              C.uint32_t(c.Shards),
		max_series:          C.uint64_t(c.MaxSeries),
		idle_ttl_ns:         C.uint64_t(c.IdleTTL),
		allowed_lateness_ns: C.uint64_t(lateness),
		max_future_ns:       C.uint64_t(c.MaxFutureSkew),
		max_key_len:         C.uint32_t(c.MaxKeyLen),
		sketch:              sketch,
	}
	name, help, label := []byte(c.Name), []byte(c.Help), []byte(c.KeyLabel)
	var id C.uint64_t
	st := C.offheap_window_new(&cc, bytesPtr(name), C.size_t(len(name)), bytesPtr(help), C.size_t(len(help)),
		bytesPtr(label), C.size_t(len(label)), &id)
	if st != C.OFFHEAP_STATUS_OK {
		return nil, statusError(op, st)
	}
	a := &Aggregator{quantiles: append([]float64(nil), c.Quantiles...)}
	attach(&a.h, a, uint64(id), freeAggregator)
	return a, nil
}

func goAccounting(c *C.offheap_window_accounting) Accounting {
	return Accounting{
		Accepted: uint64(c.accepted), Overflowed: uint64(c.overflowed), Late: uint64(c.late),
		Future: uint64(c.future), Invalid: uint64(c.invalid), BadKey: uint64(c.bad_key), Stale: uint64(c.stale),
	}
}

func weightsPtr(c *columns) *C.uint32_t {
	if !c.weighted {
		return nil
	}
	return u32Ptr(c.weights)
}

// Ingest records the batch's samples as of now (nanoseconds) and returns what happened to
// each. It makes one cgo call per kind of key in the batch and allocates nothing. The batch
// can be reused (Reset) as soon as Ingest returns.
func (a *Aggregator) Ingest(b *Batch, now int64) (Accounting, error) {
	const op = "Aggregator.Ingest"
	id, ok := a.h.get()
	if !ok {
		return Accounting{}, opError(op, ErrClosed)
	}
	var total Accounting
	var acc C.offheap_window_accounting
	if n := len(b.u64Keys); n > 0 {
		c := &b.u64
		st := C.offheap_window_ingest_u64(C.uint64_t(id), u64Ptr(b.u64Keys), i64Ptr(c.ts), f64Ptr(c.values),
			weightsPtr(c), C.size_t(n), C.int64_t(now), &acc)
		if st != C.OFFHEAP_STATUS_OK {
			runtime.KeepAlive(a)
			return total, statusError(op, st)
		}
		total.add(goAccounting(&acc))
	}
	if n := len(b.idKeys); n > 0 {
		c := &b.ids
		st := C.offheap_window_ingest_ids(C.uint64_t(id), u64Ptr(b.idKeys), i64Ptr(c.ts), f64Ptr(c.values),
			weightsPtr(c), C.size_t(n), C.int64_t(now), &acc)
		if st != C.OFFHEAP_STATUS_OK {
			runtime.KeepAlive(a)
			return total, statusError(op, st)
		}
		total.add(goAccounting(&acc))
	}
	if n := len(b.ends); n > 0 {
		c := &b.bytes
		st := C.offheap_window_ingest_keys(C.uint64_t(id), bytesPtr(b.keys), C.size_t(len(b.keys)), u32Ptr(b.ends),
			i64Ptr(c.ts), f64Ptr(c.values), weightsPtr(c), C.size_t(n), C.int64_t(now), &acc)
		if st != C.OFFHEAP_STATUS_OK {
			runtime.KeepAlive(a)
			return total, statusError(op, st)
		}
		total.add(goAccounting(&acc))
	}
	runtime.KeepAlive(a)
	return total, nil
}

// IngestColumns records samples given as caller-owned columns of equal length, keyed by
// uint64 keys (weights may be nil). One cgo call, no allocation.
func (a *Aggregator) IngestColumns(keys []uint64, ts []int64, values []float64, weights []uint32, now int64) (Accounting, error) {
	const op = "Aggregator.IngestColumns"
	id, ok := a.h.get()
	if !ok {
		return Accounting{}, opError(op, ErrClosed)
	}
	n := len(keys)
	if len(ts) != n || len(values) != n || (weights != nil && len(weights) != n) {
		return Accounting{}, opError(op, ErrLengthMismatch)
	}
	var w *C.uint32_t
	if weights != nil {
		w = u32Ptr(weights)
	}
	var acc C.offheap_window_accounting
	st := C.offheap_window_ingest_u64(C.uint64_t(id), u64Ptr(keys), i64Ptr(ts), f64Ptr(values), w, C.size_t(n),
		C.int64_t(now), &acc)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return Accounting{}, statusError(op, st)
	}
	return goAccounting(&acc), nil
}

// ResolveKey finds or makes the series of a byte key and returns its id ([OverflowID] when
// the series cap is reached). Ingesting by id skips hashing and key comparison.
func (a *Aggregator) ResolveKey(key []byte) (SeriesID, error) {
	const op = "Aggregator.ResolveKey"
	id, ok := a.h.get()
	if !ok {
		return 0, opError(op, ErrClosed)
	}
	end := [1]uint32{uint32(len(key))}
	var out [1]uint64
	var acc C.offheap_window_accounting
	st := C.offheap_window_resolve_keys(C.uint64_t(id), bytesPtr(key), C.size_t(len(key)), u32Ptr(end[:]), 1,
		u64Ptr(out[:]), &acc)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return 0, statusError(op, st)
	}
	if acc.bad_key != 0 {
		return 0, opError(op, ErrInvalidArgument)
	}
	return SeriesID(out[0]), nil
}

// ResolveU64 finds or makes the series of a uint64 key and returns its id.
func (a *Aggregator) ResolveU64(key uint64) (SeriesID, error) {
	const op = "Aggregator.ResolveU64"
	id, ok := a.h.get()
	if !ok {
		return 0, opError(op, ErrClosed)
	}
	in := [1]uint64{key}
	var out [1]uint64
	var acc C.offheap_window_accounting
	st := C.offheap_window_resolve_u64(C.uint64_t(id), u64Ptr(in[:]), 1, u64Ptr(out[:]), &acc)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return 0, statusError(op, st)
	}
	return SeriesID(out[0]), nil
}

func (a *Aggregator) delete(op string, kind uint32, key uint64, b []byte) error {
	id, ok := a.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	st := C.offheap_window_delete(C.uint64_t(id), C.uint32_t(kind), C.uint64_t(key), bytesPtr(b), C.size_t(len(b)))
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return statusError(op, st)
	}
	return nil
}

// DeleteU64 removes the series of a uint64 key ([ErrUnknownSeries] if there is none).
func (a *Aggregator) DeleteU64(key uint64) error {
	return a.delete("Aggregator.DeleteU64", 0, key, nil)
}

// DeleteKey removes the series of a byte key ([ErrUnknownSeries] if there is none).
func (a *Aggregator) DeleteKey(key []byte) error { return a.delete("Aggregator.DeleteKey", 1, 0, key) }

// DeleteID removes the series of an id ([ErrUnknownSeries] if it is not live).
func (a *Aggregator) DeleteID(id SeriesID) error {
	return a.delete("Aggregator.DeleteID", 2, uint64(id), nil)
}

func (a *Aggregator) remove(op string, what uint32, now int64) (int, error) {
	id, ok := a.h.get()
	if !ok {
		return 0, opError(op, ErrClosed)
	}
	var n C.uint64_t
	st := C.offheap_window_remove(C.uint64_t(id), C.uint32_t(what), C.int64_t(now), &n)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return 0, statusError(op, st)
	}
	return int(n), nil
}

// Clear removes every series and returns how many there were.
func (a *Aggregator) Clear() (int, error) { return a.remove("Aggregator.Clear", 0, 0) }

// EvictIdle removes the series idle at now (see Config.IdleTTL) and returns how many.
// Snapshots do this too.
func (a *Aggregator) EvictIdle(now int64) (int, error) {
	return a.remove("Aggregator.EvictIdle", 1, now)
}

// Stats returns the aggregator's counters.
func (a *Aggregator) Stats() (AggregatorStats, error) {
	const op = "Aggregator.Stats"
	id, ok := a.h.get()
	if !ok {
		return AggregatorStats{}, opError(op, ErrClosed)
	}
	var s C.offheap_window_counters
	st := C.offheap_window_stats(C.uint64_t(id), &s)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return AggregatorStats{}, statusError(op, st)
	}
	return AggregatorStats{
		Series: uint64(s.series), Samples: goAccounting(&s.samples), Evicted: uint64(s.evicted),
		Deleted: uint64(s.deleted), Snapshots: uint64(s.snapshots), KeyBytes: uint64(s.key_bytes),
	}, nil
}

// Close frees the aggregator and all its series. Idempotent, safe from any goroutine.
func (a *Aggregator) Close() error {
	id, ok := a.h.release()
	if !ok {
		return nil
	}
	a.mu.Lock()
	if a.arena != nil {
		a.arena.Close()
	}
	a.mu.Unlock()
	if st := C.offheap_window_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("Aggregator.Close", st)
	}
	return nil
}

// Snapshot holds the result columns of snapshots in a Rust arena. Taking a snapshot into it
// reuses its memory. Its Unsafe accessors view that memory directly: the views stay valid
// until the next [Aggregator.Snapshot] into it, [Aggregator.AppendState], or Close. A
// Snapshot is not for concurrent use.
type Snapshot struct {
	h    handle
	view C.offheap_window_view
}

func freeSnapshot(id uint64) { C.offheap_window_snapshot_free(C.uint64_t(id)) }

// NewSnapshot makes an empty snapshot arena.
func NewSnapshot() (*Snapshot, error) {
	if initErr != nil {
		return nil, initErr
	}
	var id C.uint64_t
	if st := C.offheap_window_snapshot_new(&id); st != C.OFFHEAP_STATUS_OK {
		return nil, statusError("NewSnapshot", st)
	}
	s := &Snapshot{}
	attach(&s.h, s, uint64(id), freeSnapshot)
	return s, nil
}

// Close frees the arena; its views become invalid. Idempotent.
func (s *Snapshot) Close() error {
	id, ok := s.h.release()
	if !ok {
		return nil
	}
	s.view = C.offheap_window_view{}
	if st := C.offheap_window_snapshot_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("Snapshot.Close", st)
	}
	return nil
}

func (s *Snapshot) refresh(op string, sid uint64) error {
	if st := C.offheap_window_snapshot_view(C.uint64_t(sid), &s.view); st != C.OFFHEAP_STATUS_OK {
		s.view = C.offheap_window_view{}
		return statusError(op, st)
	}
	return nil
}

// Snapshot takes a consistent cut of every series' window at now into s (computing the
// requested quantiles in Rust). Ingest waits while it runs, so the cut holds whole batches.
// Allocates nothing on the Go heap, whatever the number of series.
func (a *Aggregator) Snapshot(s *Snapshot, now int64, opts SnapshotOptions) error {
	const op = "Aggregator.Snapshot"
	id, ok := a.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	sid, ok := s.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	delta := C.uint32_t(0)
	if opts.Delta {
		delta = 1
	}
	var rows C.uint64_t
	st := C.offheap_window_snapshot_take(C.uint64_t(id), C.uint64_t(sid), C.int64_t(now), f64Ptr(opts.Quantiles),
		C.size_t(len(opts.Quantiles)), C.uint64_t(opts.Since), delta, &rows)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		runtime.KeepAlive(s)
		return statusError(op, st)
	}
	err := s.refresh(op, sid)
	runtime.KeepAlive(s)
	return err
}

// Len returns the number of rows (series) of the last snapshot.
func (s *Snapshot) Len() int { return int(s.view.rows) }

// NextSince returns the token for SnapshotOptions.Since that selects the series changed
// after this snapshot.
func (s *Snapshot) NextSince() uint64 { return uint64(s.view.next_since) }

// Now returns the now the snapshot was taken at.
func (s *Snapshot) Now() int64 { return int64(s.view.now) }

func viewU64(p *C.uint64_t, n int) []uint64 { return unsafe.Slice((*uint64)(unsafe.Pointer(p)), n) }
func viewF64(p *C.double, n int) []float64  { return unsafe.Slice((*float64)(unsafe.Pointer(p)), n) }

// UnsafeIDs views the series ids column (see [Snapshot] for how long views stay valid).
func (s *Snapshot) UnsafeIDs() []uint64 { return viewU64(s.view.ids, s.Len()) }

// UnsafeCounts views the counts column.
func (s *Snapshot) UnsafeCounts() []uint64 { return viewU64(s.view.counts, s.Len()) }

// UnsafeRawKeys views the uint64 keys column (0 for rows keyed otherwise).
func (s *Snapshot) UnsafeRawKeys() []uint64 { return viewU64(s.view.raw_keys, s.Len()) }

// UnsafeSums views the sums column.
func (s *Snapshot) UnsafeSums() []float64 { return viewF64(s.view.sums, s.Len()) }

// UnsafeMeans views the means column.
func (s *Snapshot) UnsafeMeans() []float64 { return viewF64(s.view.means, s.Len()) }

// UnsafeMins views the minimums column (NaN for rows without samples).
func (s *Snapshot) UnsafeMins() []float64 { return viewF64(s.view.mins, s.Len()) }

// UnsafeMaxs views the maximums column.
func (s *Snapshot) UnsafeMaxs() []float64 { return viewF64(s.view.maxs, s.Len()) }

// UnsafeLasts views the newest-value column.
func (s *Snapshot) UnsafeLasts() []float64 { return viewF64(s.view.lasts, s.Len()) }

// UnsafeStddevs views the standard deviations column.
func (s *Snapshot) UnsafeStddevs() []float64 { return viewF64(s.view.stddevs, s.Len()) }

// UnsafeIncreases views the counter increases column.
func (s *Snapshot) UnsafeIncreases() []float64 { return viewF64(s.view.increases, s.Len()) }

// UnsafeRates views the rates column (increase per second).
func (s *Snapshot) UnsafeRates() []float64 { return viewF64(s.view.rates, s.Len()) }

// UnsafeKinds views the key kinds column (values of [KeyKind]).
func (s *Snapshot) UnsafeKinds() []KeyKind {
	return unsafe.Slice((*KeyKind)(unsafe.Pointer(s.view.kinds)), s.Len())
}

// UnsafeQuantile views the column of the j-th requested quantile (nil if out of range).
func (s *Snapshot) UnsafeQuantile(j int) []float64 {
	if j < 0 || j >= int(s.view.nquantiles) {
		return nil
	}
	return viewF64(s.view.quantiles[j], s.Len())
}

// UnsafeKeyBytes views all byte keys concatenated; UnsafeKeyEnds views each row's end offset.
func (s *Snapshot) UnsafeKeyBytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(s.view.key_bytes)), int(s.view.key_bytes_len))
}

// UnsafeKeyEnds views the end offset of each row's key in UnsafeKeyBytes.
func (s *Snapshot) UnsafeKeyEnds() []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(s.view.key_ends)), s.Len())
}

// UnsafeKey views the byte key of row i (empty for rows not keyed by bytes).
func (s *Snapshot) UnsafeKey(i int) []byte {
	ends := s.UnsafeKeyEnds()
	if i < 0 || i >= len(ends) {
		return nil
	}
	start := uint32(0)
	if i > 0 {
		start = ends[i-1]
	}
	return s.UnsafeKeyBytes()[start:ends[i]]
}

// AppendKey appends a copy of the byte key of row i to dst.
func (s *Snapshot) AppendKey(dst []byte, i int) []byte { return append(dst, s.UnsafeKey(i)...) }

// Row copies row i (0 <= i < Len()).
func (s *Snapshot) Row(i int) Row {
	n := s.Len()
	if i < 0 || i >= n {
		return Row{}
	}
	v := &s.view
	return Row{
		ID:       SeriesID(viewU64(v.ids, n)[i]),
		Kind:     KeyKind(unsafe.Slice((*uint8)(unsafe.Pointer(v.kinds)), n)[i]),
		RawKey:   viewU64(v.raw_keys, n)[i],
		Count:    viewU64(v.counts, n)[i],
		Sum:      viewF64(v.sums, n)[i],
		Min:      viewF64(v.mins, n)[i],
		Max:      viewF64(v.maxs, n)[i],
		Last:     viewF64(v.lasts, n)[i],
		Mean:     viewF64(v.means, n)[i],
		Stddev:   viewF64(v.stddevs, n)[i],
		Increase: viewF64(v.increases, n)[i],
		Rate:     viewF64(v.rates, n)[i],
	}
}

// Quantile returns the j-th requested quantile of row i (NaN if out of range or empty).
func (s *Snapshot) Quantile(i, j int) float64 {
	q := s.UnsafeQuantile(j)
	if i < 0 || i >= len(q) {
		return math.NaN()
	}
	return q[i]
}

// Read copies rows [start, start+c.Cap()) (fewer at the end) into c and returns how many; 0
// when start >= Len(). Page through a large snapshot with reusable columns:
//
//	for start := 0; start < snap.Len(); start += n { n = snap.Read(start, cols); ... }
func (s *Snapshot) Read(start int, c *Columns) int {
	rows := s.Len()
	if start < 0 || start >= rows {
		c.slice(0, 0)
		return 0
	}
	n := min(c.rows, rows-start)
	nq := int(s.view.nquantiles)
	c.slice(n, nq)
	v := &s.view
	end := start + n
	copy(c.IDs, viewU64(v.ids, rows)[start:end])
	copy(c.Counts, viewU64(v.counts, rows)[start:end])
	copy(c.RawKeys, viewU64(v.raw_keys, rows)[start:end])
	copy(c.Sums, viewF64(v.sums, rows)[start:end])
	copy(c.Mins, viewF64(v.mins, rows)[start:end])
	copy(c.Maxs, viewF64(v.maxs, rows)[start:end])
	copy(c.Lasts, viewF64(v.lasts, rows)[start:end])
	copy(c.Means, viewF64(v.means, rows)[start:end])
	copy(c.Stddevs, viewF64(v.stddevs, rows)[start:end])
	copy(c.Increases, viewF64(v.increases, rows)[start:end])
	copy(c.Rates, viewF64(v.rates, rows)[start:end])
	for j := range c.Quantiles {
		copy(c.Quantiles[j], viewF64(v.quantiles[j], rows)[start:end])
	}
	return n
}

// internal returns the aggregator's own snapshot arena and chunk buffer; a.mu must be held.
func (a *Aggregator) internal() (*Snapshot, error) {
	if a.arena == nil {
		s, err := NewSnapshot()
		if err != nil {
			return nil, err
		}
		a.arena = s
		a.chunk = make([]byte, 64<<10)
	}
	return a.arena, nil
}

// WritePrometheus writes the Prometheus text exposition (format 0.0.4) of every series'
// window at now to w: one summary per series with Config.Quantiles, _sum and _count, keys
// mapped to labels as Config.KeyLabel says. The text is rendered in Rust into a 64 KiB buffer
// and written to w chunk by chunk: nothing is allocated per series on the Go heap.
func (a *Aggregator) WritePrometheus(w io.Writer, now int64) (int64, error) {
	const op = "Aggregator.WritePrometheus"
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.internal()
	if err != nil {
		return 0, err
	}
	if err := a.Snapshot(s, now, SnapshotOptions{Quantiles: a.quantiles}); err != nil {
		return 0, err
	}
	id, ok := a.h.get()
	sid, ok2 := s.h.get()
	if !ok || !ok2 {
		return 0, opError(op, ErrClosed)
	}
	var total int64
	var pos C.uint64_t
	for {
		var n C.size_t
		st := C.offheap_window_prometheus(C.uint64_t(id), C.uint64_t(sid), &pos, bytesPtr(a.chunk),
			C.size_t(len(a.chunk)), &n)
		if st != C.OFFHEAP_STATUS_OK {
			runtime.KeepAlive(a)
			return total, statusError(op, st)
		}
		if n == 0 {
			break
		}
		m, err := w.Write(a.chunk[:n])
		total += int64(m)
		if err != nil {
			runtime.KeepAlive(a)
			return total, err
		}
	}
	runtime.KeepAlive(a)
	return total, nil
}

// AppendState appends the serialized state of every series' window at now (a versioned
// little-endian binary format, documented in the Rust crate's window::codec) to dst. Another
// aggregator with the same Alpha merges it exactly with MergeState.
func (a *Aggregator) AppendState(dst []byte, now int64) ([]byte, error) {
	const op = "Aggregator.AppendState"
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.internal()
	if err != nil {
		return dst, err
	}
	id, ok := a.h.get()
	sid, ok2 := s.h.get()
	if !ok || !ok2 {
		return dst, opError(op, ErrClosed)
	}
	var records C.uint64_t
	st := C.offheap_window_export(C.uint64_t(id), C.uint64_t(sid), C.int64_t(now), &records)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return dst, statusError(op, st)
	}
	if err := s.refresh(op, sid); err != nil {
		return dst, err
	}
	dst = append(dst, unsafe.Slice((*byte)(unsafe.Pointer(s.view.export_bytes)), int(s.view.export_len))...)
	runtime.KeepAlive(s)
	return dst, nil
}

// MergeState merges state from AppendState (of this or another aggregator) into the slice of
// now. The whole input is checked first: on error ([ErrBadState]) nothing changed.
func (a *Aggregator) MergeState(data []byte, now int64) (ImportAccounting, error) {
	const op = "Aggregator.MergeState"
	id, ok := a.h.get()
	if !ok {
		return ImportAccounting{}, opError(op, ErrClosed)
	}
	var out C.offheap_window_import
	st := C.offheap_window_merge_import(C.uint64_t(id), bytesPtr(data), C.size_t(len(data)), C.int64_t(now), &out)
	runtime.KeepAlive(a)
	if st != C.OFFHEAP_STATUS_OK {
		return ImportAccounting{}, statusError(op, st)
	}
	return ImportAccounting{Merged: uint64(out.merged), Overflowed: uint64(out.overflowed), Late: uint64(out.late),
		BadKey: uint64(out.bad_key)}, nil
}
