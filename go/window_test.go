//go:build cgo

package offheap

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

const sec = int64(time.Second)

func newAgg(t testing.TB, cfg AggregatorConfig) *Aggregator {
	t.Helper()
	a, err := NewAggregator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func newSnap(t testing.TB) *Snapshot {
	t.Helper()
	s, err := NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWindowIngestAndSnapshot(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Sliding, Width: time.Minute, Slices: 6})
	var b SampleBatch
	b.Add(7, 1*sec, 1)
	b.Add(7, 2*sec, 2)
	b.AddString("route=/a", 2*sec, 10)
	b.AddKeyWeighted([]byte("route=/b"), 2*sec, 5, 0) // weight 0: invalid
	b.AddWeighted(7, 3*sec, 6, 2)
	b.Add(7, 3*sec, math.NaN())
	b.Add(7, 100*sec, 1) // future
	acc, err := a.Ingest(&b, 4*sec)
	if err != nil {
		t.Fatal(err)
	}
	want := IngestAccounting{Accepted: 4, Invalid: 2, Future: 1}
	if acc != want {
		t.Fatalf("accounting = %+v, want %+v", acc, want)
	}
	s := newSnap(t)
	if err := a.Snapshot(s, 4*sec, SnapshotOptions{Quantiles: []float64{0.5, 1}}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	for i := range s.Len() {
		r := s.Row(i)
		switch r.Kind {
		case KeyU64:
			if r.RawKey != 7 || r.Count != 4 || r.Sum != 15 || r.Min != 1 || r.Max != 6 || r.Last != 6 {
				t.Fatalf("row %+v", r)
			}
			if q := s.Quantile(i, 1); q != 6 {
				t.Fatalf("max quantile = %v, want 6 (clamped to max)", q)
			}
		case KeyBytes:
			if string(s.AppendKey(nil, i)) != "route=/a" || r.Count != 1 || r.Mean != 10 {
				t.Fatalf("row %+v key %q", r, s.UnsafeKey(i))
			}
		default:
			t.Fatalf("unexpected kind %d", r.Kind)
		}
	}
	st, err := a.Stats()
	if err != nil || st.Series != 2 || st.Samples != want || st.Snapshots != 1 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}

func TestWindowBadInput(t *testing.T) {
	for _, cfg := range []AggregatorConfig{
		{Mode: Sliding, Width: 0},
		{Mode: Sliding, Width: time.Minute, Slices: 7},
		{Mode: Sliding, Width: -time.Second},
		{Mode: Tumbling, Width: time.Minute, Alpha: 2},
		{Mode: Tumbling, Width: time.Minute, Shards: 3},
		{Mode: Tumbling, Width: time.Minute, Name: "9bad"},
		{Mode: WindowMode(9), Width: time.Minute},
	} {
		if _, err := NewAggregator(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewAggregator(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	a := newAgg(t, AggregatorConfig{Mode: Tumbling, Width: time.Minute, MaxKeyLen: 8})
	if _, err := a.IngestColumns([]uint64{1, 2}, []int64{1}, []float64{1, 2}, nil, 1); !errors.Is(err, ErrLengthMismatch) {
		t.Fatalf("IngestColumns mismatch = %v", err)
	}
	if acc, err := a.Ingest(&SampleBatch{}, 1); err != nil || acc.Total() != 0 {
		t.Fatalf("empty batch = %+v, %v", acc, err)
	}
	var b SampleBatch
	b.AddString("much-too-long-key", sec, 1)
	if acc, _ := a.Ingest(&b, sec); acc.BadKey != 1 {
		t.Fatalf("long key: %+v", acc)
	}
	s := newSnap(t)
	if err := a.Snapshot(s, sec, SnapshotOptions{Quantiles: []float64{1.5}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad quantile = %v", err)
	}
	if err := a.DeleteU64(12345); !errors.Is(err, ErrUnknownSeries) {
		t.Fatalf("DeleteU64 unknown = %v", err)
	}
	if _, err := a.MergeState([]byte("garbage"), sec); !errors.Is(err, ErrBadState) {
		t.Fatalf("MergeState garbage = %v", err)
	}
	a.Close()
	if _, err := a.Ingest(&b, sec); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ingest after Close = %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWindowIDsGoStale(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Tumbling, Width: time.Minute})
	id, err := a.ResolveKey([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	var b SampleBatch
	b.AddID(id, sec, 1)
	if acc, _ := a.Ingest(&b, sec); acc.Accepted != 1 {
		t.Fatalf("%+v", acc)
	}
	if err := a.DeleteID(id); err != nil {
		t.Fatal(err)
	}
	if acc, _ := a.Ingest(&b, sec); acc.Stale != 1 {
		t.Fatalf("after delete: %+v", acc)
	}
	id2, _ := a.ResolveKey([]byte("k"))
	if id2 == id {
		t.Fatal("a new series must get a new id")
	}
}

func TestWindowHotCallsAllocateNothing(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Sliding, Width: time.Minute, Slices: 6})
	var b SampleBatch
	for i := range 1024 {
		b.Add(uint64(i%100), 10*sec, float64(i))
		b.AddString("route=/x", 10*sec, 1)
	}
	s := newSnap(t)
	cols := NewSnapshotColumns(16, 2)
	opts := SnapshotOptions{Quantiles: []float64{0.5, 0.99}}
	a.Ingest(&b, 10*sec)
	a.WritePrometheus(io.Discard, 10*sec)
	if n := testing.AllocsPerRun(50, func() {
		if _, err := a.Ingest(&b, 10*sec); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Ingest allocates %v times", n)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := a.Snapshot(s, 10*sec, opts); err != nil {
			t.Fatal(err)
		}
		for start := 0; start < s.Len(); start += s.Read(start, cols) {
		}
	}); n != 0 {
		t.Errorf("Snapshot+Read allocates %v times", n)
	}
	if n := testing.AllocsPerRun(20, func() {
		if _, err := a.WritePrometheus(io.Discard, 10*sec); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WritePrometheus allocates %v times", n)
	}
}

func TestWindowPagedReadMatchesViews(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Tumbling, Width: time.Minute})
	keys := make([]uint64, 1000)
	ts := make([]int64, 1000)
	vals := make([]float64, 1000)
	for i := range keys {
		keys[i], ts[i], vals[i] = uint64(i), sec, float64(i)
	}
	if _, err := a.IngestColumns(keys, ts, vals, nil, sec); err != nil {
		t.Fatal(err)
	}
	s := newSnap(t)
	if err := a.Snapshot(s, sec, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil {
		t.Fatal(err)
	}
	cols := NewSnapshotColumns(64, 1)
	seen := 0
	var sum float64
	for start := 0; start < s.Len(); {
		n := s.Read(start, cols)
		for i := range n {
			if cols.IDs[i] != s.UnsafeIDs()[start+i] || cols.Quantiles[0][i] != s.UnsafeQuantile(0)[start+i] {
				t.Fatal("page differs from the view")
			}
			sum += cols.Sums[i]
		}
		seen += n
		start += n
	}
	if len(s.UnsafeMins()) != 1000 || s.UnsafeMaxs()[5] != s.UnsafeMins()[5] || s.UnsafeKinds()[0] != KeyU64 ||
		len(s.UnsafeLasts())+len(s.UnsafeStddevs())+len(s.UnsafeIncreases())+len(s.UnsafeRates()) != 4000 {
		t.Fatal("column views")
	}
	if seen != 1000 || sum != 999*1000/2 {
		t.Fatalf("seen %d sum %v", seen, sum)
	}
}

func TestWindowConcurrentIngestConservesCounts(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Cumulative, MaxSeries: 500})
	const writers, batches, size = 8, 50, 256
	var wg sync.WaitGroup
	stop := make(chan struct{})
	snapErr := make(chan error, 1)
	go func() {
		s, err := NewSnapshot()
		if err != nil {
			snapErr <- err
			return
		}
		defer s.Close()
		var last uint64
		for {
			select {
			case <-stop:
				snapErr <- nil
				return
			default:
			}
			if err := a.Snapshot(s, 1, SnapshotOptions{}); err != nil {
				snapErr <- err
				return
			}
			var total uint64
			for _, c := range s.UnsafeCounts() {
				total += c
			}
			if total < last || total%size != 0 {
				snapErr <- errors.New("snapshot saw a partial batch or went backwards")
				return
			}
			last = total
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b SampleBatch
			for i := range batches {
				b.Reset()
				for j := range size {
					b.Add(uint64((w*7919+i*31+j)%1000), 1, 1)
				}
				if _, err := a.Ingest(&b, 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-snapErr; err != nil {
		t.Fatal(err)
	}
	s := newSnap(t)
	a.Snapshot(s, 1, SnapshotOptions{})
	var total uint64
	for _, c := range s.UnsafeCounts() {
		total += c
	}
	if total != writers*batches*size {
		t.Fatalf("total %d, want %d", total, writers*batches*size)
	}
}

func TestWindowPrometheusAndStateMerge(t *testing.T) {
	cfg := AggregatorConfig{Mode: Tumbling, Width: time.Minute, Name: "rpc_seconds", Help: "RPC latency", Quantiles: []float64{0.5}}
	a := newAgg(t, cfg)
	other := newAgg(t, cfg)
	var b SampleBatch
	b.AddString(`/api"x`, sec, 2)
	b.Add(3, sec, 4)
	a.Ingest(&b, sec)
	var buf bytes.Buffer
	if _, err := a.WritePrometheus(&buf, sec); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"# HELP rpc_seconds RPC latency\n# TYPE rpc_seconds summary\n",
		`rpc_seconds{key="/api\"x",quantile="0.5"} 2.0`,
		"rpc_seconds_count{key=\"3\"} 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q:\n%s", want, text)
		}
	}
	state, err := a.AppendState(nil, sec)
	if err != nil {
		t.Fatal(err)
	}
	other.Ingest(&b, sec)
	imp, err := other.MergeState(state, sec)
	if err != nil || imp.Merged != 2 {
		t.Fatalf("MergeState = %+v, %v", imp, err)
	}
	s := newSnap(t)
	other.Snapshot(s, sec, SnapshotOptions{})
	for _, c := range s.UnsafeCounts() {
		if c != 2 {
			t.Fatalf("counts after merge = %v, want 2 each", s.UnsafeCounts())
		}
	}
	state[0] ^= 0xff
	if _, err := other.MergeState(state, sec); !errors.Is(err, ErrBadState) {
		t.Fatalf("corrupt state = %v", err)
	}
}

// Every indexed accessor of a snapshot panics outside its range, also past a shorter snapshot
// taken into an arena that held more rows.
func TestSnapshotIndexOutOfRangePanics(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Tumbling, Width: time.Minute})
	var b SampleBatch
	b.AddString("a", sec, 1)
	b.AddString("b", sec, 2)
	b.Add(3, sec, 3)
	a.Ingest(&b, sec)
	s := newSnap(t)
	if err := a.Snapshot(s, sec, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil || s.Len() != 3 {
		t.Fatalf("Snapshot: %v, %d rows", err, s.Len())
	}
	for _, k := range []string{"a", "b"} {
		if err := a.DeleteKey([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Snapshot(s, sec, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil || s.Len() != 1 {
		t.Fatalf("Snapshot: %v, %d rows", err, s.Len())
	}
	cols := NewSnapshotColumns(4, 1)
	for name, f := range map[string]func(){
		"Row":            func() { s.Row(1) },
		"Quantile row":   func() { s.Quantile(2, 0) },
		"UnsafeKey":      func() { s.UnsafeKey(1) },
		"AppendKey":      func() { s.AppendKey(nil, -1) },
		"Quantile j":     func() { s.Quantile(0, 1) },
		"UnsafeQuantile": func() { s.UnsafeQuantile(1) },
		"Read":           func() { s.Read(-1, cols) },
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { mustPanic(t, " out of range [0:1]", f) })
	}
	if r := s.Row(0); r.Kind != KeyU64 || r.RawKey != 3 || s.Quantile(0, 0) != 3 || s.Read(1, cols) != 0 {
		t.Fatalf("row 0 %+v, quantile %v", r, s.Quantile(0, 0))
	}
}

func TestSnapshotLifetimeTotalsAndBuckets(t *testing.T) {
	a := newAgg(t, AggregatorConfig{Mode: Tumbling, Width: 10 * time.Second})
	var b SampleBatch
	for _, v := range []float64{1, 2, 2, -3, 0} {
		b.Add(1, sec, v)
	}
	if _, err := a.Ingest(&b, sec); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.Add(1, 12*sec, 100) // the next window
	if _, err := a.Ingest(&b, 12*sec); err != nil {
		t.Fatal(err)
	}
	s := newSnap(t)
	if err := a.Snapshot(s, 12*sec, SnapshotOptions{Buckets: true}); err != nil {
		t.Fatal(err)
	}
	r := s.Row(0)
	if r.Count != 1 || r.TotalCount != 6 || r.TotalSum != 102 {
		t.Fatalf("row %+v: want count 1, lifetime 6 and 102", r)
	}
	if schema, ok := s.Schema(); !ok || schema != 6 {
		t.Fatalf("schema %d %v, want 6", schema, ok)
	}
	idx, cnt := s.UnsafePositiveBuckets(0)
	// 100 is in (2^(424/64), 2^(425/64)].
	if len(idx) != 1 || idx[0] != 426 || cnt[0] != 1 || s.UnsafeZeroCounts()[0] != 0 {
		t.Fatalf("buckets %v %v zero %v", idx, cnt, s.UnsafeZeroCounts())
	}
	if i, _ := s.UnsafeNegativeBuckets(0); len(i) != 0 {
		t.Fatalf("negative buckets %v", i)
	}
	cols := NewSnapshotColumns(4, 0)
	if n := s.Read(0, cols); n != 1 || cols.TotalCounts[0] != 6 || cols.TotalSums[0] != 102 {
		t.Fatalf("columns: %d %v %v", n, cols.TotalCounts, cols.TotalSums)
	}
	// Without Buckets the bucket views are empty.
	if err := a.Snapshot(s, 12*sec, SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if i, _ := s.UnsafePositiveBuckets(0); len(i) != 0 || s.UnsafeZeroCounts() != nil {
		t.Fatal("bucket columns without SnapshotOptions.Buckets")
	}
}
