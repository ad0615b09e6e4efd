package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"

	offheap "github.com/offheap/offheap/go"
)

// The aggregation workload: one cumulative aggregator with a small series cap, fed from every
// worker at once with batches of u64 and byte keys (more keys than the cap, so the overflow
// series fills), NaN values and far-future timestamps as faults, while other calls take
// snapshots and render Prometheus text. Conservation: every batch's accounting adds up to its
// length; the aggregator's counters equal the sum of all batches; and at the end the snapshot
// counts add up to exactly the samples accepted or overflowed.

func init() {
	w := &windowLoad{}
	register(&workload{name: "window", start: w.start, run: w.run, finish: w.finish})
}

const soakNow = int64(1_700_000_000_000_000_000)

type windowLoad struct {
	agg *offheap.Aggregator
	mu  sync.Mutex
	sum offheap.IngestAccounting // every successful batch's accounting
}

func (l *windowLoad) start() error {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, MaxSeries: 2000})
	l.agg, l.sum = agg, offheap.IngestAccounting{}
	return err
}

func (l *windowLoad) run(ctx context.Context, rng *rand.Rand, faults float64, t *tally) {
	switch op := rng.IntN(10); {
	case op < 8:
		var b offheap.SampleBatch
		n := 1 + rng.IntN(2048)
		fault := ""
		if rng.Float64() < faults {
			fault = []string{"nan", "future"}[rng.IntN(2)]
			t.fault(fault)
		}
		var key [12]byte
		for i := range n {
			v := rng.ExpFloat64() * 100
			ts := soakNow - int64(rng.IntN(1000))
			if fault == "nan" && i%7 == 0 {
				v = math.NaN()
			}
			if fault == "future" && i%5 == 0 {
				ts = soakNow + 1e15
			}
			if rng.IntN(4) == 0 {
				k := fmt.Appendf(key[:0], "r%d", rng.IntN(3000))
				b.AddKey(k, ts, v)
			} else {
				b.Add(uint64(rng.IntN(3000)), ts, v)
			}
		}
		acc, err := l.agg.Ingest(&b, soakNow)
		t.ops.Add(1)
		if err != nil {
			t.fail("Ingest: %v", err)
			return
		}
		if acc.Total() != uint64(n) {
			t.fail("accounting %+v adds up to %d, the batch has %d samples", acc, acc.Total(), n)
		}
		if fault == "" && acc.Invalid+acc.Future+acc.Late+acc.Stale+acc.BadKey != 0 {
			t.fail("a clean batch had drops: %+v", acc)
		}
		l.mu.Lock()
		l.sum.Accepted += acc.Accepted
		l.sum.Overflowed += acc.Overflowed
		l.sum.Late += acc.Late
		l.sum.Future += acc.Future
		l.sum.Invalid += acc.Invalid
		l.sum.BadKey += acc.BadKey
		l.sum.Stale += acc.Stale
		l.mu.Unlock()
		t.bytes.Add(int64(n) * 24)
	case op == 8:
		s, err := offheap.NewSnapshot()
		if err != nil {
			t.fail("NewSnapshot: %v", err)
			return
		}
		defer s.Close()
		if err := l.agg.Snapshot(s, soakNow, offheap.SnapshotOptions{Quantiles: []float64{0.5, 0.99}}); err != nil {
			t.fail("Snapshot: %v", err)
			return
		}
		t.ops.Add(1)
		if s.Len() > 2001 {
			t.fail("snapshot of %d rows with a cap of 2000 series", s.Len())
		}
	default:
		if _, err := l.agg.WritePrometheus(io.Discard, soakNow); err != nil {
			t.fail("WritePrometheus: %v", err)
		}
		t.ops.Add(1)
	}
}

func (l *windowLoad) finish(t *tally) {
	defer l.agg.Close()
	st, err := l.agg.Stats()
	if err != nil {
		t.fail("Stats: %v", err)
		return
	}
	if st.Samples != l.sum {
		t.fail("aggregator counters %+v differ from the sum of the batches %+v", st.Samples, l.sum)
	}
	s, err := offheap.NewSnapshot()
	if err != nil {
		t.fail("NewSnapshot: %v", err)
		return
	}
	defer s.Close()
	if err := l.agg.Snapshot(s, soakNow, offheap.SnapshotOptions{}); err != nil {
		t.fail("Snapshot: %v", err)
		return
	}
	var total uint64
	for _, c := range s.UnsafeCounts() {
		total += c
	}
	if want := l.sum.Accepted + l.sum.Overflowed; total != want {
		t.fail("snapshot counts add up to %d, %d samples were accepted or overflowed", total, want)
	}
	if l.sum.Overflowed == 0 {
		t.fail("the overflow series never filled (3000 keys against a cap of 2000)")
	}
	fmt.Printf("soak: window    %d samples accepted, %d overflowed, %d dropped (invalid %d, future %d); counts conserved\n",
		l.sum.Accepted, l.sum.Overflowed, l.sum.Invalid+l.sum.Future+l.sum.Late, l.sum.Invalid, l.sum.Future)
}
