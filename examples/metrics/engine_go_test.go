package main

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// countsAndSums keeps the _count and _sum lines of an exposition, sorted.
func countsAndSums(expo string) []string {
	var out []string
	for _, l := range strings.Split(expo, "\n") {
		if strings.Contains(l, "_count{") || strings.Contains(l, "_sum{") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// TestGoEngineAgrees: the pure-Go engine accounts for samples as offheap's aggregator does
// (accepted, late, future, invalid, overflow) and exposes the same counts and sums.
func TestGoEngineAgrees(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSeries = 5
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Width: cfg.Window, Slices: cfg.Slices, MaxSeries: cfg.MaxSeries,
		MaxFutureSkew: cfg.MaxFutureSkew, Name: cfg.Name, RawLabelKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	g := newGoAggregator(cfg)
	now := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC).UnixNano()
	var ob offheap.SampleBatch
	var gb goBatch
	// The first five series first: which new series reach the cap within one batch depends
	// on the order offheap records them in (by shard), so they come in a batch of their own.
	for i := range 5 {
		key := fmt.Sprintf(`metric="s%d"`, i)
		ob.AddString(key, now, 1)
		gb.AddKey([]byte(key), now, 1)
	}
	if _, err := agg.Ingest(&ob, now); err != nil {
		t.Fatal(err)
	}
	g.ingest(&gb, now)
	ob.Reset()
	gb.reset()
	for i := range 400 {
		key := fmt.Sprintf(`metric="s%d"`, i%8)
		ts := now - int64(i%5)*int64(10*time.Second) // up to 40 s old: in the window
		switch i % 11 {
		case 3:
			ts = now - int64(70*time.Second) // late
		case 5:
			ts = now + int64(10*time.Second) // future
		case 7:
			ts = now + int64(3*time.Second) // within the skew
		}
		v := float64(i%13) - 4
		if i%17 == 0 {
			v = math.NaN()
		}
		ob.AddString(key, ts, v)
		gb.AddKey([]byte(key), ts, v)
	}
	oacc, err := agg.Ingest(&ob, now)
	if err != nil {
		t.Fatal(err)
	}
	gacc := g.ingest(&gb, now)
	if oacc != gacc || oacc.Late == 0 || oacc.Future == 0 || oacc.Invalid == 0 || oacc.Overflowed == 0 {
		t.Fatalf("accounting: offheap %+v, go %+v", oacc, gacc)
	}
	var o, gw bytes.Buffer
	if _, err := agg.WritePrometheus(&o, now); err != nil {
		t.Fatal(err)
	}
	if err := g.writePrometheus(&gw, now); err != nil {
		t.Fatal(err)
	}
	oc, gc := countsAndSums(o.String()), countsAndSums(gw.String())
	if strings.Join(oc, "\n") != strings.Join(gc, "\n") || len(oc) != 12 {
		t.Errorf("counts and sums differ:\noffheap:\n%s\ngo:\n%s", strings.Join(oc, "\n"), strings.Join(gc, "\n"))
	}
}
