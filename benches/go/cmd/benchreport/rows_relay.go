package main

func init() {
	const bulk = "Buffer relay: bulk throughput, 1 MiB per op, loopback TCP"
	const body = "Buffer relay: one body per op, loopback TCP"
	const cpu = "Buffer relay: CPU per GiB relayed (whole process: feeder and drain included)"
	register(
		Row{Section: bulk, Name: "offheap Engine tunnel (Rust worker, epoll, splice)", Bench: "go:RelayBulk/offheap_engine_tunnel",
			Peer: "criterion:relay_native/splice_loop_1MiB", Target: "≥ 0.9x a native Rust splice loop", Met: AtMost(1 / 0.9)},
		Row{Section: bulk, Name: "offheap Engine tunnel vs io.Copy through bufio.Reader", Bench: "go:RelayBulk/offheap_engine_tunnel",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "≥ 1.5x io.Copy through bufio.Reader, 0 allocs", Met: AtLeast(1.5)},
		Row{Section: bulk, Name: "offheap Relay driven from a goroutine (netpoller), splice", Bench: "go:RelayBulk/offheap_splice",
			Peer: "criterion:relay_native/splice_loop_1MiB", Target: "≥ 0.9x a native Rust splice loop", Met: AtMost(1 / 0.9)},
		Row{Section: bulk, Name: "offheap Relay (netpoller), splice, vs io.Copy through bufio.Reader", Bench: "go:RelayBulk/offheap_splice",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "≥ 1.5x io.Copy through bufio.Reader, 0 allocs", Met: AtLeast(1.5)},
		Row{Section: bulk, Name: "offheap Relay, Rust buffer copy", Bench: "go:RelayBulk/offheap_copy",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "Go's own splice (io.CopyN TCPConn to TCPConn)", Bench: "go:RelayBulk/go_splice",
			Peer: "criterion:relay_native/splice_loop_1MiB"},
		Row{Section: bulk, Name: "io.Copy through bufio.Reader (HTTP body path)", Bench: "go:RelayBulk/go_bufio_copy"},
		// The ceiling of the 1.5x target on this machine: what the kernel's own splice path
		// reaches against the same peer, with no offheap code in it.
		Row{Section: bulk, Name: "ceiling: native Rust splice loop vs io.Copy through bufio.Reader", Bench: "criterion:relay_native/splice_loop_1MiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "ceiling: Go's own splice vs io.Copy through bufio.Reader", Bench: "go:RelayBulk/go_splice",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: bulk, Name: "Rust Relay driven by poll(2), splice (criterion)", Bench: "criterion:relay_body_tcp/1024KiB_splice",
			Peer: "criterion:relay_native/splice_loop_1MiB"},
		Row{Section: body, Name: "16 KiB body, offheap Relay", Bench: "go:RelayBody/16KiB/offheap",
			Peer: "go:RelayBody/16KiB/go_copybuffer_pool", Target: "faster than io.CopyBuffer + sync.Pool, 0 allocs", Met: AtLeast(1)},
		Row{Section: body, Name: "1 MiB body, offheap Relay", Bench: "go:RelayBody/1MiB/offheap",
			Peer: "go:RelayBody/1MiB/go_copybuffer_pool", Target: "faster than io.CopyBuffer + sync.Pool, 0 allocs", Met: AtLeast(1)},
		Row{Section: body, Name: "chunked decoder, 1 MiB in 4 KiB chunks (criterion)", Bench: "criterion:chunked_decoder/1MiB_4KiB_chunks"},
		Row{Section: cpu, Name: "bulk, offheap Engine tunnel", Bench: "go:RelayBulk/offheap_engine_tunnel", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "less CPU than bufio io.Copy", Met: AtLeast(1)},
		Row{Section: cpu, Name: "bulk, offheap Relay (netpoller), splice", Bench: "go:RelayBulk/offheap_splice", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy", Target: "less CPU than bufio io.Copy", Met: AtLeast(1)},
		Row{Section: cpu, Name: "bulk, offheap Rust buffer copy", Bench: "go:RelayBulk/offheap_copy", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: cpu, Name: "bulk, Go's own splice", Bench: "go:RelayBulk/go_splice", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBulk/go_bufio_copy"},
		Row{Section: cpu, Name: "16 KiB bodies, offheap", Bench: "go:RelayBody/16KiB/offheap", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBody/16KiB/go_copybuffer_pool"},
		Row{Section: cpu, Name: "1 MiB bodies, offheap", Bench: "go:RelayBody/1MiB/offheap", Metric: "cpu-ms/GiB",
			Peer: "go:RelayBody/1MiB/go_copybuffer_pool"},
	)
}
