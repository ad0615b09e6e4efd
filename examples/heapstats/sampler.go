package main

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// sample is the heap at one moment of a phase.
type sample struct {
	t      time.Duration // since the phase started
	goHeap uint64        // bytes in Go heap objects, live and not yet swept (HeapAlloc)
	rust   uint64        // bytes on offheap's Rust heap
}

// pause is one GC cycle's stop-the-world pause time.
type pause struct {
	t time.Duration // when it ended, since the phase started
	d time.Duration
}

// sampler reads the Go heap (runtime/metrics), the Rust heap and the GC pauses
// (debug.ReadGCStats) every interval while a phase runs.
type sampler struct {
	start   time.Time
	stopc   chan struct{}
	wg      sync.WaitGroup
	samples []sample
	pauses  []pause
	lastGC  uint64
	gcs     debug.GCStats
	m       [1]metrics.Sample
}

func startSampler(interval time.Duration) *sampler {
	s := &sampler{start: time.Now(), stopc: make(chan struct{})}
	s.m[0].Name = "/memory/classes/heap/objects:bytes"
	s.gcs.Pause = make([]time.Duration, 0, 512)
	s.gcs.PauseEnd = make([]time.Time, 0, 512)
	debug.ReadGCStats(&s.gcs)
	s.lastGC = uint64(s.gcs.NumGC)
	s.read()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				s.read()
			}
		}
	}()
	return s
}

func (s *sampler) read() {
	now := time.Since(s.start)
	metrics.Read(s.m[:])
	rs, _ := offheap.ReadRustStats()
	s.samples = append(s.samples, sample{t: now, goHeap: s.m[0].Value.Uint64(), rust: rs.LiveBytes})
	debug.ReadGCStats(&s.gcs)
	n := uint64(s.gcs.NumGC)
	// Pause and PauseEnd are most recent first and hold the last 256 cycles.
	newGCs := int(n - s.lastGC)
	for i := min(newGCs, len(s.gcs.Pause), len(s.gcs.PauseEnd)) - 1; i >= 0; i-- {
		s.pauses = append(s.pauses, pause{t: s.gcs.PauseEnd[i].Sub(s.start), d: s.gcs.Pause[i]})
	}
	s.lastGC = n
}

// stop ends the sampling with a last reading and returns what it saw.
func (s *sampler) stop() ([]sample, []pause) {
	close(s.stopc)
	s.wg.Wait()
	s.read()
	return s.samples, s.pauses
}
