//go:build cgo

package offheap

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func newRecorder(t testing.TB, agg *Aggregator, cfg RecorderConfig) *Recorder {
	t.Helper()
	r, err := NewRecorder(agg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// conserved checks the Recorder's accounting after Close against the observations sent.
func conserved(t *testing.T, st RecorderStats, sent uint64) {
	t.Helper()
	if st.Observed != sent || st.Buffered != 0 ||
		st.Accepted+st.Overflowed+st.Invalid+st.Dropped != sent {
		t.Fatalf("sent %d, stats %+v (accepted+overflowed+invalid+dropped = %d)", sent, st,
			st.Accepted+st.Overflowed+st.Invalid+st.Dropped)
	}
}

// 64 goroutines × 100k observations of every kind (cached handles, label lookups, uint64 and
// string keys, explicit timestamps, NaN, past the series cap), snapshots and flushes running,
// Close while they still observe: every observation is counted exactly once.
func TestRecorderConservesEveryObservation(t *testing.T) {
	const goroutines, each = 64, 100_000
	agg := newAgg(t, AggregatorConfig{Mode: Cumulative, KeyFormat: KeyLabels, MaxSeries: 500})
	r := newRecorder(t, agg, RecorderConfig{Labels: []string{"route"}, BufferSamples: 256, FlushInterval: time.Millisecond})
	var sent atomic.Uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // snapshots and flushes while the goroutines observe
		s, err := NewSnapshot()
		if err != nil {
			panic(err)
		}
		defer s.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.Flush()
			agg.Snapshot(s, time.Now().UnixNano(), SnapshotOptions{})
			r.Stats()
			time.Sleep(time.Millisecond)
		}
	}()
	var closing sync.Once
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := r.WithLabelValues(fmt.Sprint("/cached/", g%8))
			for i := range each {
				v := float64(i%1000) + 0.5
				switch i % 8 {
				case 0:
					h.Observe(v)
				case 1:
					r.WithLabelValues(fmt.Sprint("/r/", i%300)).Observe(v)
				case 2:
					r.Observe(uint64(g*each+i), v) // distinct keys: most overflow
				case 3:
					r.ObserveString("s", v)
				case 4:
					h.ObserveAt(v, time.Now().UnixNano())
				case 5:
					h.Observe(math.NaN())
				case 6:
					r.WithLabelValues("bad\xffutf8").Observe(v)
				default:
					r.Observe(uint64(i%50), math.Inf(1))
				}
				sent.Add(1)
				if g == 0 && i == each*3/4 {
					// Close while the others still observe.
					closing.Do(func() { r.Close() })
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	r.Close()
	st := r.Stats()
	conserved(t, st, sent.Load())
	if st.Accepted == 0 || st.Overflowed == 0 || st.Invalid == 0 || st.Dropped == 0 {
		t.Fatalf("every outcome should occur: %+v", st)
	}
	as, err := agg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if as.Samples.Accepted != st.Accepted || as.Samples.Overflowed != st.Overflowed {
		t.Fatalf("aggregator saw %+v, recorder counted %+v", as.Samples, st)
	}
}

func TestRecorderBadInputIsCounted(t *testing.T) {
	agg := newAgg(t, AggregatorConfig{Mode: Cumulative, KeyFormat: KeyLabels, MaxSeries: 100_000})
	r := newRecorder(t, agg, RecorderConfig{Labels: []string{"a", "b"}})
	r.WithLabelValues("x", "y").Observe(1)
	r.WithLabelValues("x").Observe(1)                       // wrong number of values
	r.WithLabelValues("\xfe\xff", "q\"\\\n").Observe(1)     // not UTF-8
	r.WithLabelValues("\"\\\n,=", "{}").Observe(math.NaN()) // escaped; NaN
	r.Observe(1, math.Inf(-1))
	r.ObserveAt(2, 1, math.MaxInt64) // too far in the future
	r.Flush()
	st := r.Stats()
	want := RecorderStats{Observed: 6, Accepted: 1, Invalid: 4, Dropped: 1}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	// 10M distinct keys against a 100k cap: the series stop at the cap, the rest overflow,
	// and the Rust heap stays bounded.
	n := 10_000_000
	if raceEnabled {
		n = 1_000_000
	}
	for k := range n {
		r.Observe(uint64(k)+10, 1)
	}
	r.Close()
	r.Observe(1, 1) // after Close
	st = r.Stats()
	conserved(t, st, uint64(n)+7)
	as, _ := agg.Stats()
	if as.Series != 100_000 || st.Overflowed != uint64(n)-(100_000-2) {
		t.Fatalf("series %d, stats %+v", as.Series, st)
	}
	rs, _ := ReadRustStats()
	if rs.LiveBytes > 512<<20 {
		t.Fatalf("Rust heap %d bytes", rs.LiveBytes)
	}
	// Past MaxHandles label values share the overflow handle: the handle map stays bounded.
	agg2 := newAgg(t, AggregatorConfig{Mode: Cumulative, KeyFormat: KeyLabels, MaxSeries: 1000})
	r2 := newRecorder(t, agg2, RecorderConfig{Labels: []string{"k"}, MaxHandles: 10})
	for i := range 100 {
		r2.WithLabelValues(fmt.Sprint(i)).Observe(1)
	}
	r2.Close()
	if st := r2.Stats(); st.Accepted != 10 || st.Overflowed != 90 || r2.handles != 10 {
		t.Fatalf("stats %+v, %d handles", st, r2.handles)
	}
}

// Label values of every byte (NUL, control bytes, quotes, backslashes, newlines, bytes that
// are not UTF-8), alone and inside longer values: UTF-8 values become series of their own
// whose keys hold the values escaped, the rest count as Invalid; nothing is lost.
func TestRecorderLabelValuesOfAnyByte(t *testing.T) {
	agg := newAgg(t, AggregatorConfig{Mode: Cumulative, KeyFormat: KeyLabels})
	r := newRecorder(t, agg, RecorderConfig{Labels: []string{"v"}})
	want := map[string]bool{}
	for c := range 256 {
		for _, v := range []string{string([]byte{byte(c)}), "a" + string([]byte{byte(c), byte(c)}) + "z"} {
			r.WithLabelValues(v).Observe(1)
			if utf8.ValidString(v) {
				want[`v="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)+`"`] = true
			}
		}
	}
	r.Flush()
	if st := r.Stats(); st.Observed != 512 || st.Accepted != 256 || st.Invalid != 256 || st.Buffered != 0 {
		t.Fatalf("stats %+v, want 256 accepted and 256 invalid of 512", st)
	}
	s := newSnap(t)
	if err := agg.Snapshot(s, time.Now().UnixNano(), SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != len(want) {
		t.Fatalf("%d series, want %d", s.Len(), len(want))
	}
	for i := range s.Len() {
		if k := string(s.UnsafeKey(i)); !want[k] {
			t.Fatalf("series key %q is not one of the values observed", k)
		}
	}
}

func TestRecorderFlushesAfterTheIntervalAndIdles(t *testing.T) {
	agg := newAgg(t, AggregatorConfig{Mode: Cumulative})
	r := newRecorder(t, agg, RecorderConfig{FlushInterval: 5 * time.Millisecond})
	r.Observe(7, 1.5)
	if st := r.Stats(); st.Buffered != 1 {
		t.Fatalf("%+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Accepted != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed: %+v", r.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	// The timer is not running while every buffer is empty.
	time.Sleep(20 * time.Millisecond)
	if r.armed.Load() {
		t.Fatal("timer armed while idle")
	}
}

func TestRecorderObserveAllocatesNothing(t *testing.T) {
	agg := newAgg(t, AggregatorConfig{Mode: Cumulative, KeyFormat: KeyLabels})
	r := newRecorder(t, agg, RecorderConfig{Labels: []string{"route", "code"}, BufferSamples: 64})
	h := r.WithLabelValues("/api", "200")
	r.WithLabelValues("/b", "500")
	for range 1000 { // buffers made and recycled
		h.Observe(1)
	}
	if n := testing.AllocsPerRun(10_000, func() { h.Observe(2.5) }); n != 0 {
		t.Errorf("Series.Observe: %v allocations", n)
	}
	if n := testing.AllocsPerRun(10_000, func() { r.WithLabelValues("/b", "500").Observe(2.5) }); n != 0 {
		t.Errorf("WithLabelValues(...).Observe: %v allocations", n)
	}
	if n := testing.AllocsPerRun(10_000, func() { r.Observe(9, 2.5) }); n != 0 {
		t.Errorf("Recorder.Observe: %v allocations", n)
	}
}
