//go:build !cgo

package offheap

import "io"

// Aggregator keeps windowed statistics on the Rust heap. Built without cgo, NewAggregator
// returns ErrUnavailable.
type Aggregator struct{}

// NewAggregator returns ErrUnavailable: the package was built without cgo.
func NewAggregator(Config) (*Aggregator, error) { return nil, initErr }

// Ingest returns ErrUnavailable.
func (a *Aggregator) Ingest(*Batch, int64) (Accounting, error) { return Accounting{}, initErr }

// IngestColumns returns ErrUnavailable.
func (a *Aggregator) IngestColumns([]uint64, []int64, []float64, []uint32, int64) (Accounting, error) {
	return Accounting{}, initErr
}

// ResolveKey returns ErrUnavailable.
func (a *Aggregator) ResolveKey([]byte) (SeriesID, error) { return 0, initErr }

// ResolveU64 returns ErrUnavailable.
func (a *Aggregator) ResolveU64(uint64) (SeriesID, error) { return 0, initErr }

// DeleteU64 returns ErrUnavailable.
func (a *Aggregator) DeleteU64(uint64) error { return initErr }

// DeleteKey returns ErrUnavailable.
func (a *Aggregator) DeleteKey([]byte) error { return initErr }

// DeleteID returns ErrUnavailable.
func (a *Aggregator) DeleteID(SeriesID) error { return initErr }

// Clear returns ErrUnavailable.
func (a *Aggregator) Clear() (int, error) { return 0, initErr }

// EvictIdle returns ErrUnavailable.
func (a *Aggregator) EvictIdle(int64) (int, error) { return 0, initErr }

// Stats returns ErrUnavailable.
func (a *Aggregator) Stats() (AggregatorStats, error) { return AggregatorStats{}, initErr }

// Snapshot returns ErrUnavailable.
func (a *Aggregator) Snapshot(*Snapshot, int64, SnapshotOptions) error { return initErr }

// WritePrometheus returns ErrUnavailable.
func (a *Aggregator) WritePrometheus(io.Writer, int64) (int64, error) { return 0, initErr }

// AppendState returns ErrUnavailable.
func (a *Aggregator) AppendState(dst []byte, _ int64) ([]byte, error) { return dst, initErr }

// MergeState returns ErrUnavailable.
func (a *Aggregator) MergeState([]byte, int64) (ImportAccounting, error) {
	return ImportAccounting{}, initErr
}

// Close does nothing.
func (a *Aggregator) Close() error { return nil }

// Snapshot holds snapshot columns in a Rust arena. Built without cgo, NewSnapshot returns
// ErrUnavailable.
type Snapshot struct{}

// NewSnapshot returns ErrUnavailable.
func NewSnapshot() (*Snapshot, error) { return nil, initErr }

// Close does nothing.
func (s *Snapshot) Close() error { return nil }

// Len returns 0.
func (s *Snapshot) Len() int { return 0 }

// NextSince returns 0.
func (s *Snapshot) NextSince() uint64 { return 0 }

// Now returns 0.
func (s *Snapshot) Now() int64 { return 0 }

// Row returns the zero Row.
func (s *Snapshot) Row(int) Row { return Row{} }

// Read returns 0.
func (s *Snapshot) Read(int, *Columns) int { return 0 }
