package main

func init() {
	const s = "HTTP/1.x head parsing (16 heads per op)"
	register(
		Row{Section: s, Name: "kittyhell ×16, pipelined, one cgo call, framing included",
			Bench: "go:Headers/kittyhell_x16/offheap", Peer: "criterion:headers/kittyhell_batch/httparse_x16",
			Target: "≤ 1.1x native httparse (aim ≤ 1.0x), 0 allocs", Met: AtMost(1.1)},
		Row{Section: s, Name: "kittyhell ×16, heads of 16 connections (offsets), one cgo call",
			Bench: "go:Headers/kittyhell_x16/offheap_each", Peer: "criterion:headers/kittyhell_batch/httparse_x16",
			Target: "≤ 1.1x native httparse, 0 allocs", Met: AtMost(1.1)},
		Row{Section: s, Name: "kittyhell ×16 vs net/http ReadRequest",
			Bench: "go:Headers/kittyhell_x16/offheap", Peer: "go:Headers/kittyhell_x16/nethttp",
			Target: "≥ 15x net/http", Met: AtLeast(15)},
		Row{Section: s, Name: "kittyhell ×16 vs fasthttp RequestHeader.Read",
			Bench: "go:Headers/kittyhell_x16/offheap", Peer: "go:Headers/kittyhell_x16/fasthttp",
			Target: "≥ 3x fasthttp", Met: AtLeast(3)},
		Row{Section: s, Name: "kittyhell, one head per cgo call (the cost of not batching)",
			Bench: "go:Headers/kittyhell_x16/offheap_one_per_call", Peer: "go:Headers/kittyhell_x16/offheap"},
		Row{Section: s, Name: "REQ_SHORT ×16 (heads of 16 connections), per request",
			Bench: "go:Headers/req_short_x16/offheap_each", Metric: "ns/req", Target: "≤ 100 ns per request", Max: 100},
		Row{Section: s, Name: "REQ_SHORT ×16 vs net/http ReadRequest",
			Bench: "go:Headers/req_short_x16/offheap_each", Peer: "go:Headers/req_short_x16/nethttp",
			Target: "≥ 15x net/http (kittyhell's target, held to REQ_SHORT too)", Met: AtLeast(15)},
		Row{Section: s, Name: "REQ_SHORT ×16 vs fasthttp RequestHeader.Read",
			Bench: "go:Headers/req_short_x16/offheap_each", Peer: "go:Headers/req_short_x16/fasthttp",
			Target: "≥ 3x fasthttp (kittyhell's target, held to REQ_SHORT too)", Met: AtLeast(3)},
		Row{Section: "HTTP/1.x head parsing in Rust (criterion)", Name: "kittyhell, one head, strict + framing",
			Bench: "criterion:headers/kittyhell/offheap", Peer: "criterion:headers/kittyhell/httparse",
			Target: "≤ 1.1x httparse", Met: AtMost(1.1)},
		Row{Section: "HTTP/1.x head parsing in Rust (criterion)", Name: "REQ_SHORT, one head, strict + framing",
			Bench: "criterion:headers/req_short/offheap", Peer: "criterion:headers/req_short/httparse"},
	)
}
