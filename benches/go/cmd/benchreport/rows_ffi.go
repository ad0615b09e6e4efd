package main

func init() {
	const cross = "C ABI crossing (Go → Rust)"
	const rust = "C ABI machinery in Rust"
	const leaseFloor = "bound: an atomic add and an atomic subtract on one word (the floor of a lease)"
	const twoThreadFloor = "bound: the floor of a lease from 2 threads at once, each on a word of its own (per pair per thread)"
	register(
		Row{Section: cross, Name: "empty Go function call", Bench: "go:Crossing/go_func"},
		Row{Section: cross, Name: "empty cgo call", Bench: "go:Crossing/cgo_empty"},
		Row{Section: cross, Name: "offheap no-op export (ABIVersion), boundary included",
			Bench: "go:Crossing/offheap_export", Peer: "go:Crossing/cgo_empty", Target: "≤ 1.1x empty cgo call, 0 allocs",
			Met: AtMost(1.1), ZeroAllocs: true},
		Row{Section: cross, Name: "offheap ReadRustStats (fills a 168-byte struct)",
			Bench: "go:Crossing/offheap_stats", Peer: "go:Crossing/cgo_empty"},
		Row{Section: rust, Name: "panic boundary around a trivial body (the boundary's overhead)",
			Bench: "criterion:ffi/guarded_call", Peer: "criterion:ffi/plain_call"},
		Row{Section: rust, Name: "handle lookup (lease taken and released)",
			Bench: "criterion:ffi/handle_lookup", Target: "≤ 10 ns", Max: 10,
			Bound: Bound{Row: leaseFloor, Why: "a lookup takes and releases a lease on the handle's slot, two atomic read-modify-writes of one word"}},
		Row{Section: rust, Name: leaseFloor, Bench: "criterion:ffi/lease_floor"},
		Row{Section: rust, Name: "handle lookup, 2 threads on one handle (per lookup per thread)",
			Bench: "criterion:ffi/handle_lookup_2_threads_same_handle", Peer: "criterion:ffi/handle_lookup",
			Target: "≤ 2x one thread's lookup", Met: AtMost(2),
			Bound: Bound{Row: twoThreadFloor, Why: "two threads at once, sharing no cache line, against one thread alone"}},
		Row{Section: rust, Name: twoThreadFloor,
			Bench: "criterion:ffi/lease_floor_2_threads_own_words", Peer: "criterion:ffi/lease_floor"},
	)
}
