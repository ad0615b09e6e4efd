package main

func init() {
	const sec = "Windowed aggregation (Go → Rust)"
	register(
		Row{Section: sec, Name: "ingest, batch 1024, sketch on, 1,000 series, sliding 1 min / 6 slices",
			Bench: "go:WindowIngest/offheap", Peer: "go:WindowIngest/purego", Metric: "ns/sample",
			Target: "≤ 20 ns/sample end to end", Max: 20},
		Row{Section: sec, Name: "1M live series held: Go heap",
			Bench: "go:WindowHeld1M/offheap", Peer: "go:WindowHeld1M/purego", Metric: "goheap-MiB",
			Target: "≤ 16 MiB", Max: 16},
		Row{Section: sec, Name: "1M live series held: GC CPU per forced cycle",
			Bench: "go:WindowHeld1M/offheap", Peer: "go:WindowHeld1M/purego", Metric: "gccpu-ns/cycle",
			Target: "≥ 20x less than pure Go", Met: AtLeast(20)},
		Row{Section: sec, Name: "snapshot of 1M series, 3 quantiles, paged into reusable columns",
			Bench: "go:WindowSnapshot1M/offheap", Peer: "go:WindowSnapshot1M/purego", Metric: "ns/series",
			Target: "0 Go allocations per series", ZeroAllocs: true},
		Row{Section: sec, Name: "Prometheus exposition of 1M series (snapshot included)",
			Bench: "go:WindowExposition1M/offheap", Peer: "go:WindowExposition1M/purego",
			Target: "≥ 200 MB/s", MinMBs: 200},
		Row{Section: "Windowed aggregation (Rust core)", Name: "ingest, batch 1024, sketch on, u64 keys",
			Bench: "criterion:window/ingest/u64_keys_batch1024_sketch"},
		Row{Section: "Windowed aggregation (Rust core)", Name: "ingest, batch 1024, sketch off, u64 keys",
			Bench: "criterion:window/ingest/u64_keys_batch1024_no_sketch"},
		Row{Section: "Windowed aggregation (Rust core)", Name: "ingest, batch 1024, sketch on, series ids",
			Bench: "criterion:window/ingest/ids_batch1024_sketch"},
		Row{Section: "Windowed aggregation (Rust core)", Name: "ingest, batch 1024, sketch on, byte keys",
			Bench: "criterion:window/ingest/byte_keys_batch1024_sketch"},
		Row{Section: "Windowed aggregation (Rust core)", Name: "snapshot, 100k series, 3 quantiles",
			Bench: "criterion:window/snapshot/100k_series_3_quantiles"},
		Row{Section: "Windowed aggregation (Rust core)", Name: "Prometheus rendering, 100k series",
			Bench: "criterion:window/prometheus/100k_series_3_quantiles", Target: "≥ 200 MB/s", MinMBs: 200},
	)
}
