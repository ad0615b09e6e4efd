package main

func init() {
	register(
		Row{Section: "C ABI crossing (Go → Rust)", Name: "empty Go function call", Bench: "go:Crossing/go_func"},
		Row{Section: "C ABI crossing (Go → Rust)", Name: "empty cgo call", Bench: "go:Crossing/cgo_empty"},
		Row{Section: "C ABI crossing (Go → Rust)", Name: "offheap no-op export (ABIVersion), boundary included",
			Bench: "go:Crossing/offheap_export", Peer: "go:Crossing/cgo_empty", Target: "≤ 1.1x empty cgo call, 0 allocs", Met: AtMost(1.1)},
		Row{Section: "C ABI crossing (Go → Rust)", Name: "offheap ReadRustStats (fills a 168-byte struct)",
			Bench: "go:Crossing/offheap_stats", Peer: "go:Crossing/cgo_empty"},
		Row{Section: "C ABI machinery in Rust", Name: "panic boundary around a trivial body (the boundary's overhead)",
			Bench: "criterion:ffi/guarded_call", Peer: "criterion:ffi/plain_call"},
		Row{Section: "C ABI machinery in Rust", Name: "handle lookup (lease taken and released)",
			Bench: "criterion:ffi/handle_lookup", Target: "≤ 10 ns", Max: 10},
		Row{Section: "C ABI machinery in Rust", Name: "handle lookup, 2 threads on one handle (per lookup per thread)",
			Bench: "criterion:ffi/handle_lookup_2_threads_same_handle", Peer: "criterion:ffi/handle_lookup"},
	)
}
