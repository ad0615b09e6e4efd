//go:build cgo && soak

package offheap

import (
	"testing"
	"time"
)

// TestRelaySoak is the bounded soak (make soak, which sets the soak build tag): ≥ 1 GiB over ≥ 1,000 connections.
func TestRelaySoak(t *testing.T) {
	base := takeBaseline(t)
	var total int64
	start := time.Now()
	for round := 0; total < 1<<30; round++ {
		total += engineIntegrity(t, 1000, 2<<20, uint64(round)+100)
		t.Logf("round %d: %d MiB echoed in %v", round, total>>20, time.Since(start))
	}
	base.check(t)
}
