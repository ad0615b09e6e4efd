package main

func init() {
	const sec = "Windowed aggregation (Go → Rust)"
	const rustIngest = "ingest, batch 1024, sketch on, u64 keys"
	const twoOwn = "bound: ingest, batch 1024, 1,000 series, 2 goroutines each into an aggregator of its own"
	register(
		Row{Section: sec, Name: "ingest, batch 1024, sketch on, 1,000 series, sliding 1 min / 6 slices",
			Bench: "go:WindowIngest/offheap", Peer: "go:WindowIngest/purego", Metric: "ns/sample",
			Target: "≤ 20 ns/sample end to end", Max: 20,
			Bound: Bound{Row: rustIngest, Why: "the same batch ingested by the Rust core alone, no cgo crossing (per batch of 1024 samples: 20 ns/sample is 20.5 µs)"}},
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
		Row{Section: sec, Name: "ingest, batch 1024, sketch on, 1,000 series, 2 goroutines into one aggregator",
			Bench: "go:WindowIngest/offheap_2g", Peer: "go:WindowIngest/offheap", Metric: "ns/sample",
			Target: "≥ 1.5x one goroutine's throughput", Met: AtLeast(1.5),
			Bound: Bound{Row: twoOwn, Why: "two goroutines into aggregators of their own, sharing nothing, against one"}},
		Row{Section: sec, Name: twoOwn, Bench: "go:WindowIngest/bound_2g_own_aggregators", Peer: "go:WindowIngest/offheap",
			Metric: "ns/sample"},
		Row{Section: sec, Name: "ingest, batch 1024, sketch on, into 1M live series (tumbling 1 min)",
			Bench: "go:WindowIngest1M/offheap", Peer: "go:WindowIngest1M/purego", Metric: "ns/sample",
			Target: "≥ 3x pure Go", Met: AtLeast(3)},
		Row{Section: sec, Name: "heap per series, 1M series × 4 samples (Rust heap; pure Go: Go heap)",
			Bench: "go:WindowMemory1M/4_samples/offheap", Peer: "go:WindowMemory1M/4_samples/purego", Metric: "B/series",
			Target: "≤ 256 B/series and ≥ 5x less than pure Go", Max: 256, Met: AtLeast(5)},
		Row{Section: sec, Name: "heap per series, 1M series × 64 samples (Rust heap; pure Go: Go heap)",
			Bench: "go:WindowMemory1M/64_samples/offheap", Peer: "go:WindowMemory1M/64_samples/purego", Metric: "B/series",
			Target: "≤ 1/3 of pure Go", Met: AtLeast(3)},
		Row{Section: "Windowed aggregation (Rust core)", Name: rustIngest,
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

	const rec = "Recorder: observations from handlers (Go → Rust), 1,000 labelled series"
	const recBound = "bound: ingest of id-keyed batches of 1024 over 1,000 series (a Recorder's flush), per sample"
	const recBoundNarrow = "bound: the same ingest, latencies within 10%, per sample"
	const recBoundCPU = "bound: the same ingest, CPU of the process per sample"
	recWhy := "every observation is ingested in Rust once, in the id-keyed batches a Recorder flushes"
	register(
		Row{Section: rec, Name: "Observe through a cached series handle, 1 goroutine",
			Bench: "go:Observe/offheap_handle", Peer: "go:Observe/native_cached",
			Target: "≤ 20 ns and ≥ 2x client_golang's cached native histogram, 0 allocs", Max: 20, Met: AtLeast(2),
			ZeroAllocs: true, Bound: Bound{Row: recBound, Why: recWhy}},
		Row{Section: rec, Name: "Observe through a cached series handle, 1 goroutine: CPU of the process per observation (its flushes on another goroutine included)",
			Bench: "go:Observe/offheap_handle", Peer: "go:Observe/native_cached", Metric: "cpu-ns/op",
			Target: "≤ 20 ns and ≥ 2x client_golang's cached native histogram", Max: 20, Met: AtLeast(2),
			Bound: Bound{Row: recBoundCPU, Why: recWhy}},
		Row{Section: rec, Name: "Observe through a cached series handle, 2 goroutines",
			Bench: "go:Observe/offheap_handle_2g", Peer: "go:Observe/native_cached_2g",
			Target: "≥ 2x client_golang's cached native histogram, 0 allocs", Met: AtLeast(2), ZeroAllocs: true,
			Bound: Bound{Row: recBound, Why: recWhy}},
		Row{Section: rec, Name: "Observe with the label looked up on every call, 1 goroutine",
			Bench: "go:Observe/offheap_labels", Peer: "go:Observe/native_labels",
			Target: "≥ 2x client_golang's WithLabelValues, 0 allocs", Met: AtLeast(2), ZeroAllocs: true,
			Bound: Bound{Row: recBound, Why: recWhy}},
		Row{Section: rec, Name: "Observe with the label looked up on every call, 2 goroutines",
			Bench: "go:Observe/offheap_labels_2g", Peer: "go:Observe/native_labels_2g",
			Target: "≥ 4x client_golang's WithLabelValues, 0 allocs", Met: AtLeast(4), ZeroAllocs: true,
			Bound: Bound{Row: recBound, Why: recWhy}},
		Row{Section: rec, Name: "Observe with the label looked up, against client_golang's summary, 1 goroutine",
			Bench: "go:Observe/offheap_labels", Peer: "go:Observe/summary_labels",
			Target: "≥ 10x client_golang's SummaryVec", Met: AtLeast(10), Bound: Bound{Row: recBound, Why: recWhy}},
		Row{Section: rec, Name: "Observe with the label looked up, against client_golang's summary, 2 goroutines",
			Bench: "go:Observe/offheap_labels_2g", Peer: "go:Observe/summary_labels_2g",
			Target: "≥ 10x client_golang's SummaryVec", Met: AtLeast(10), Bound: Bound{Row: recBound, Why: recWhy}},
		Row{Section: rec, Name: "Observe through a cached series handle, 1 goroutine, latencies within 10% (about 10 buckets a series)",
			Bench: "go:Observe/offheap_handle_narrow", Peer: "go:Observe/native_cached_narrow",
			Target: "≤ 20 ns and ≥ 2x client_golang's cached native histogram, 0 allocs", Max: 20, Met: AtLeast(2),
			ZeroAllocs: true, Bound: Bound{Row: recBoundNarrow, Why: recWhy}},
		Row{Section: rec, Name: recBound, Bench: "go:Observe/bound_ingest_ids", Metric: "ns/sample"},
		Row{Section: rec, Name: recBoundNarrow, Bench: "go:Observe/bound_ingest_ids_narrow", Metric: "ns/sample"},
		Row{Section: rec, Name: recBoundCPU, Bench: "go:Observe/bound_ingest_ids", Metric: "cpu-ns/sample"},
	)
	// Exposition formats and native histograms (issue 16).
	const expo = "Exposition formats and native histograms (Go → Rust)"
	register(
		Row{Section: expo, Name: "exposition of 1M series as native histograms, protobuf (snapshot included)",
			Bench: "go:ExpositionNative1M/offheap", Peer: "go:ExpositionNative1M/client_golang", Metric: "ns/series",
			Target: "≥ 200 MB/s, ≥ 3x client_golang's registry (gather + encode), 0 Go allocations",
			MinMBs: 200, Met: AtLeast(3), ZeroAllocs: true},
		Row{Section: expo, Name: "exposition of 1M native-histogram series, text 0.0.4 (snapshot included)",
			Bench: "go:ExpositionText1M", Metric: "ns/series", Target: "≥ 200 MB/s, 0 Go allocations",
			MinMBs: 200, ZeroAllocs: true},
	)
}
