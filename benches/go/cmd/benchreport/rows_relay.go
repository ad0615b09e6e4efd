package main

func init() {
	const bulk = "Buffer relay: bulk throughput, 1 MiB per op, loopback TCP"
	const body = "Buffer relay: one body per op, loopback TCP"
	const cpu = "Buffer relay: CPU per GiB relayed (whole process: feeder and drain included)"
	// The bound of every relay: the same feeder and reader with no relay hop between them.
	const noRelay = "bound: no relay at all (feeder straight to reader) vs io.Copy through bufio.Reader"
	const noRelayCPU = "bulk, no relay at all (the bound)"
	const hop = "every relay adds a hop (one more socket read and write of every byte); the same feeder and reader with no hop at all"
	const splice16K = "16 KiB body, offheap Relay, splice (SetSplice(true))"
	const splice1M = "1 MiB body, offheap Relay, splice (SetSplice(true))"
	const sameCopies = "a copying relay makes the copies io.CopyBuffer makes (socket to a user buffer to socket), only in Rust memory, so parity is its ceiling; the variant that skips the copy, splice"
	register(
		Row{Section: bulk, Name: "offheap Engine tunnel (Rust worker, epoll, bulk copy)", Bench: "go:RelayBulk/offheap_engine_tunnel",
			Peer: "criterion:relay_native/splice_loop_1MiB", Target: "≥ 0.9x a native Rust splice loop", Met: AtMost(1 / 0.9)},
		Row{Section: bulk, Name: "offheap Engine tunnel vs io.Copy through bufio.Reader", Bench: "go:RelayBulk/offheap_engine_tunnel",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "≥ 1.5x io.Copy through bufio.Reader, 0 allocs", Met: AtLeast(1.5), ZeroAllocs: true,
			Bound: Bound{Row: noRelay, Why: hop}},
		Row{Section: bulk, Name: "offheap Engine tunnel vs a native Rust copy loop (4 MiB buffer)", Bench: "go:RelayBulk/offheap_engine_tunnel",
			Peer: "criterion:relay_native/copy_loop_1MiB"},
		Row{Section: bulk, Name: "offheap Relay driven from a goroutine (netpoller), copy (the default)", Bench: "go:RelayBulk/offheap_copy",
			Peer: "criterion:relay_native/splice_loop_1MiB", Target: "≥ 0.9x a native Rust splice loop", Met: AtMost(1 / 0.9)},
		Row{Section: bulk, Name: "offheap Relay (netpoller), copy, vs io.Copy through bufio.Reader", Bench: "go:RelayBulk/offheap_copy",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "≥ 1.5x io.Copy through bufio.Reader, 0 allocs", Met: AtLeast(1.5), ZeroAllocs: true,
			Bound: Bound{Row: noRelay, Why: hop}},
		Row{Section: bulk, Name: "offheap Relay (netpoller), splice (SetSplice(true))", Bench: "go:RelayBulk/offheap_splice",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "Go's own splice (io.CopyN TCPConn to TCPConn)", Bench: "go:RelayBulk/go_splice",
			Peer: "criterion:relay_native/splice_loop_1MiB"},
		Row{Section: bulk, Name: "io.Copy through bufio.Reader (HTTP body path)", Bench: "go:RelayBulk/go_bufio_copy"},
		// Native loops with no offheap code, in criterion's harness (Rust feeder and drain
		// threads), against the Go peer: references, not bounds (the engine tunnel has beaten
		// the native copy loop). The bound of any relay is the no-relay row.
		Row{Section: bulk, Name: "reference: native Rust copy loop (criterion) vs io.Copy through bufio.Reader", Bench: "criterion:relay_native/copy_loop_1MiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "reference: native Rust splice loop (criterion) vs io.Copy through bufio.Reader", Bench: "criterion:relay_native/splice_loop_1MiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "reference: Go's own splice vs io.Copy through bufio.Reader", Bench: "go:RelayBulk/go_splice",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: noRelay, Bench: "go:RelayBulk/no_relay",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "bound: native, no relay at all", Bench: "criterion:relay_native/no_relay_1MiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "Rust Relay driven by poll(2), copy (criterion)", Bench: "criterion:relay_body_tcp/1024KiB_copy",
			Peer: "criterion:relay_native/copy_loop_1MiB"},
		Row{Section: bulk, Name: "Rust Relay driven by poll(2), splice (criterion)", Bench: "criterion:relay_body_tcp/1024KiB_splice",
			Peer: "criterion:relay_native/splice_loop_1MiB"},
		Row{Section: body, Name: "16 KiB body, offheap Relay (copy, the default)", Bench: "go:RelayBody/16KiB/offheap",
			Peer: "go:RelayBody/16KiB/go_copybuffer_pool", Target: "faster than io.CopyBuffer + sync.Pool, 0 allocs", Met: AtLeast(1), ZeroAllocs: true,
			Bound: Bound{Row: splice16K, Why: sameCopies}},
		Row{Section: body, Name: "1 MiB body, offheap Relay (copy, the default)", Bench: "go:RelayBody/1MiB/offheap",
			Peer: "go:RelayBody/1MiB/go_copybuffer_pool", Target: "faster than io.CopyBuffer + sync.Pool, 0 allocs", Met: AtLeast(1), ZeroAllocs: true,
			Bound: Bound{Row: splice1M, Why: sameCopies}},
		Row{Section: body, Name: splice16K, Bench: "go:RelayBody/16KiB/offheap_splice",
			Peer: "go:RelayBody/16KiB/go_copybuffer_pool"},
		Row{Section: body, Name: splice1M, Bench: "go:RelayBody/1MiB/offheap_splice",
			Peer: "go:RelayBody/1MiB/go_copybuffer_pool"},
		Row{Section: body, Name: "chunked decoder, 1 MiB in 4 KiB chunks (criterion)", Bench: "criterion:chunked_decoder/1MiB_4KiB_chunks"},
		Row{Section: cpu, Name: "bulk, offheap Engine tunnel (bulk copy)", Bench: "go:RelayBulk/offheap_engine_tunnel", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "less CPU than bufio io.Copy", Met: AtLeast(1),
			Bound: Bound{Row: noRelayCPU, Why: hop}},
		Row{Section: cpu, Name: "bulk, offheap Relay (netpoller), copy (the default)", Bench: "go:RelayBulk/offheap_copy", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "less CPU than bufio io.Copy", Met: AtLeast(1),
			Bound: Bound{Row: noRelayCPU, Why: hop}},
		Row{Section: cpu, Name: "bulk, offheap Relay (netpoller), splice", Bench: "go:RelayBulk/offheap_splice", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: cpu, Name: noRelayCPU, Bench: "go:RelayBulk/no_relay", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: cpu, Name: "bulk, Go's own splice", Bench: "go:RelayBulk/go_splice", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: cpu, Name: "16 KiB bodies, offheap (copy)", Bench: "go:RelayBody/16KiB/offheap", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBody/16KiB/go_copybuffer_pool"},
		Row{Section: cpu, Name: "1 MiB bodies, offheap (copy)", Bench: "go:RelayBody/1MiB/offheap", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBody/1MiB/go_copybuffer_pool"},
	)
}
