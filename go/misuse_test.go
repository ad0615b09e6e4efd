//go:build cgo

package offheap

import (
	"testing"
	"time"
)

// TestViewsNeverPanicWhenCloseRaces: accessors of a snapshot and of a buffer, called while
// another goroutine closes the object, return the data or a zero value, never a panic (an
// accessor used to build a slice from a pointer Close had just zeroed).
func TestViewsNeverPanicWhenCloseRaces(t *testing.T) {
	agg, err := NewAggregator(AggregatorConfig{Mode: Tumbling, Width: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	var batch SampleBatch
	for k := range 64 {
		batch.Add(uint64(k), 1, float64(k))
	}
	if _, err := agg.Ingest(&batch, 1); err != nil {
		t.Fatal(err)
	}
	for range 300 {
		s, err := NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := agg.Snapshot(s, 1, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 64; i++ {
				_ = s.Row(i % max(s.Len(), 1))
				_ = s.UnsafeSums()
				_ = s.Quantile(i%max(s.Len(), 1), 0)
			}
		}()
		s.Close()
		<-done
	}
}
