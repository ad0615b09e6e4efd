//go:build cgo

package offheap_test

import (
	"fmt"
	"os"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// The bridge program: 500,000 samples cross to Rust in one batch; the windows live on the
// Rust heap, so the Go heap does not grow with them.
func Example_bridge() {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Tumbling, Width: time.Minute})
	if err != nil {
		panic(err)
	}
	defer agg.Close()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var batch offheap.SampleBatch
	for i := range 500_000 {
		batch.Add(uint64(i%1000), now, float64(i%1000)) // 1,000 series
	}

	before := offheap.ReadHeapReport()
	acc, err := agg.Ingest(&batch, now)
	if err != nil {
		panic(err)
	}
	after := offheap.ReadHeapReport()

	snap, _ := offheap.NewSnapshot()
	defer snap.Close()
	agg.Snapshot(snap, now, offheap.SnapshotOptions{})
	var count uint64
	var sum float64
	for i := range snap.Len() {
		r := snap.Row(i)
		count, sum = count+r.Count, sum+r.Sum
	}
	fmt.Println("accepted:", acc.Accepted)
	fmt.Println("series:", snap.Len())
	fmt.Printf("average: %.1f\n", sum/float64(count))
	growth := int64(after.Go.HeapAlloc) - int64(before.Go.HeapAlloc)
	fmt.Println("Go heap grew by less than 64 KiB:", growth < 64<<10)
	fmt.Println("Rust heap holds the windows:", after.Rust.LiveBytes > before.Rust.LiveBytes)
	// Output:
	// accepted: 500000
	// series: 1000
	// average: 499.5
	// Go heap grew by less than 64 KiB: true
	// Rust heap holds the windows: true
}

// WritePrometheus renders every series as a summary.
func ExampleAggregator_WritePrometheus() {
	agg, _ := offheap.NewAggregator(offheap.AggregatorConfig{
		Mode: offheap.Tumbling, Width: time.Minute, Name: "http_request_seconds", Quantiles: []float64{0.5},
	})
	defer agg.Close()
	var b offheap.SampleBatch
	b.AddString("/api", 1, 0.25)
	b.AddString("/api", 2, 0.75)
	agg.Ingest(&b, 2)
	agg.WritePrometheus(os.Stdout, 2)
	// Output:
	// # TYPE http_request_seconds summary
	// http_request_seconds{key="/api",quantile="0.5"} 0.25
	// http_request_seconds_sum{key="/api"} 1.0
	// http_request_seconds_count{key="/api"} 2
}
