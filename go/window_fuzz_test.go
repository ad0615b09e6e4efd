//go:build cgo

package offheap

import (
	"bytes"
	"math"
	"testing"
	"unicode/utf8"
)

// FuzzAggregatorBatches feeds fuzzed batches (u64 and byte keys, NaN and Inf values, late and
// future timestamps) to a cumulative aggregator with a small series cap, through the Go API:
// every batch's accounting adds up to its length, the aggregator's counters are their sum,
// the snapshot counts add up to the samples accepted or overflowed, the exposition is UTF-8
// with one sample per line, and the exported state merged into a fresh aggregator gives the
// same counts. (make fuzz runs it with -fuzz; plain go test runs the seeds.)
func FuzzAggregatorBatches(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{0, 255, 0, 255, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Add(bytes.Repeat([]byte{7, 200, 13}, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		const now = int64(1_700_000_000_000_000_000)
		agg, err := NewAggregator(AggregatorConfig{Mode: Cumulative, MaxSeries: 1 + int(data[0]%16), MaxKeyLen: 8,
			AllowedLateness: 1_000_000, MaxFutureSkew: 1_000})
		if err != nil {
			t.Fatal(err)
		}
		defer agg.Close()
		var sum IngestAccounting
		var b SampleBatch
		key := []byte("k-000000")
		for i := 1; i+3 <= len(data); {
			b.Reset()
			n := 1 + int(data[i]%32)
			i++
			for ; n > 0 && i+3 <= len(data); n-- {
				k, tsb, vb := data[i], data[i+1], data[i+2]
				i += 3
				ts := now - int64(tsb)*10_000 + 2_000 // some late, some future
				v := float64(vb) / 3
				switch vb % 17 {
				case 0:
					v = math.NaN()
				case 1:
					v = math.Inf(1)
				}
				if k%3 == 0 {
					key = append(key[:2], byte('a'+k%26))
					if k%7 == 0 {
						key = append(key, "-too-long"...)
					}
					b.AddKey(key, ts, v)
				} else {
					b.Add(uint64(k%40), ts, v)
				}
			}
			acc, err := agg.Ingest(&b, now)
			if err != nil {
				t.Fatalf("Ingest: %v", err)
			}
			if acc.Total() != uint64(b.Len()) {
				t.Fatalf("accounting %+v for %d samples", acc, b.Len())
			}
			sum.add(acc)
		}
		st, err := agg.Stats()
		if err != nil || st.Samples != sum {
			t.Fatalf("Stats = %+v, %v; sum of batches %+v", st.Samples, err, sum)
		}
		counts := func(a *Aggregator) uint64 {
			s, err := NewSnapshot()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := a.Snapshot(s, now, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil {
				t.Fatal(err)
			}
			var total uint64
			for _, c := range s.UnsafeCounts() {
				total += c
			}
			return total
		}
		total := counts(agg)
		if total != sum.Accepted+sum.Overflowed {
			t.Fatalf("snapshot counts %d, accepted+overflowed %d", total, sum.Accepted+sum.Overflowed)
		}
		var text bytes.Buffer
		if _, err := agg.WritePrometheus(&text, now); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(text.Bytes()) {
			t.Fatal("exposition is not UTF-8")
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(text.Bytes(), []byte("\n")), []byte("\n")) {
			if len(line) > 0 && line[0] != '#' && bytes.Count(line, []byte("} ")) != 1 {
				t.Fatalf("exposition line %q", line)
			}
		}
		state, err := agg.AppendState(nil, now)
		if err != nil {
			t.Fatal(err)
		}
		twin, err := NewAggregator(AggregatorConfig{Mode: Cumulative, MaxSeries: 1 + int(data[0]%16), MaxKeyLen: 8,
			AllowedLateness: 1_000_000, MaxFutureSkew: 1_000})
		if err != nil {
			t.Fatal(err)
		}
		defer twin.Close()
		if _, err := twin.MergeState(state, now); err != nil {
			t.Fatalf("MergeState of an own export: %v", err)
		}
		if got := counts(twin); got != total {
			t.Fatalf("merged twin counts %d, original %d", got, total)
		}
	})
}
