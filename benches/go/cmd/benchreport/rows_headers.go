package main

func init() {
	const s = "HTTP/1.x head parsing (16 heads per op)"
	// The bounds of the Go rows: offheap's own parser in Rust, with no cgo crossing and no Go
	// code around it, against the same peers. A Go call of the parser cannot beat it.
	const parserVsHttparse = "bound: offheap's parser in Rust, no cgo, kittyhell ×16 pipelined, vs native httparse"
	const offsetsVsHttparse = "bound: offheap's parser in Rust, no cgo, kittyhell ×16 at offsets, vs native httparse"
	const parserVsNethttp = "bound: offheap's parser in Rust, no cgo, kittyhell ×16 pipelined, vs net/http ReadRequest"
	const parserVsFasthttp = "bound: offheap's parser in Rust, no cgo, kittyhell ×16 pipelined, vs fasthttp RequestHeader.Read"
	const shortVsFasthttp = "bound: offheap's parser in Rust, no cgo, one REQ_SHORT head, vs fasthttp RequestHeader.Read"
	const parser = "the same strict parse with framing, in Rust with no crossing"
	register(
		Row{Section: s, Name: "kittyhell ×16, pipelined, one cgo call, framing included",
			Bench: "go:Headers/kittyhell_x16/offheap", Peer: "criterion:headers/kittyhell_batch/httparse_x16",
			Target: "≤ 1.1x native httparse (aim ≤ 1.0x), 0 allocs", Met: AtMost(1.1), ZeroAllocs: true,
			Bound: Bound{Row: parserVsHttparse, Why: parser}},
		Row{Section: s, Name: "kittyhell ×16, heads of 16 connections (offsets), one cgo call",
			Bench: "go:Headers/kittyhell_x16/offheap_each", Peer: "criterion:headers/kittyhell_batch/httparse_x16",
			Target: "≤ 1.1x native httparse, 0 allocs", Met: AtMost(1.1), ZeroAllocs: true,
			Bound: Bound{Row: offsetsVsHttparse, Why: parser}},
		Row{Section: s, Name: "kittyhell ×16 vs net/http ReadRequest",
			Bench: "go:Headers/kittyhell_x16/offheap", Peer: "go:Headers/kittyhell_x16/nethttp",
			Target: "≥ 15x net/http", Met: AtLeast(15),
			Bound: Bound{Row: parserVsNethttp, Why: parser}},
		Row{Section: s, Name: "kittyhell ×16 vs fasthttp RequestHeader.Read",
			Bench: "go:Headers/kittyhell_x16/offheap", Peer: "go:Headers/kittyhell_x16/fasthttp",
			Target: "≥ 3x fasthttp", Met: AtLeast(3),
			Bound: Bound{Row: parserVsFasthttp, Why: parser}},
		Row{Section: s, Name: "kittyhell, one head per cgo call (the cost of not batching)",
			Bench: "go:Headers/kittyhell_x16/offheap_one_per_call", Peer: "go:Headers/kittyhell_x16/offheap"},
		Row{Section: s, Name: parserVsHttparse,
			Bench: "criterion:headers/kittyhell_batch/offheap_pipelined_x16", Peer: "criterion:headers/kittyhell_batch/httparse_x16"},
		Row{Section: s, Name: offsetsVsHttparse,
			Bench: "criterion:headers/kittyhell_batch/offheap_offsets_x16", Peer: "criterion:headers/kittyhell_batch/httparse_x16"},
		Row{Section: s, Name: parserVsNethttp,
			Bench: "criterion:headers/kittyhell_batch/offheap_pipelined_x16", Peer: "go:Headers/kittyhell_x16/nethttp"},
		Row{Section: s, Name: parserVsFasthttp,
			Bench: "criterion:headers/kittyhell_batch/offheap_pipelined_x16", Peer: "go:Headers/kittyhell_x16/fasthttp"},
		Row{Section: s, Name: "REQ_SHORT ×16 (heads of 16 connections), per request",
			Bench: "go:Headers/req_short_x16/offheap_each", Metric: "ns/req", Target: "≤ 100 ns per request", Max: 100,
			Bound: Bound{Row: "REQ_SHORT, one head, strict + framing", Why: "the same strict parse with framing of one head, in Rust with no crossing"}},
		Row{Section: s, Name: "REQ_SHORT ×16 vs net/http ReadRequest",
			Bench: "go:Headers/req_short_x16/offheap_each", Peer: "go:Headers/req_short_x16/nethttp",
			Target: "≥ 15x net/http (kittyhell's target, held to REQ_SHORT too)", Met: AtLeast(15)},
		Row{Section: s, Name: "REQ_SHORT ×16 vs fasthttp RequestHeader.Read",
			Bench: "go:Headers/req_short_x16/offheap_each", Peer: "go:Headers/req_short_x16/fasthttp",
			Target: "≥ 3x fasthttp (kittyhell's target, held to REQ_SHORT too)", Met: AtLeast(3),
			Bound: Bound{Row: shortVsFasthttp, Why: "the same strict parse with framing of one head, in Rust with no crossing; a batch shares a little setup"}},
		// One head per criterion iteration beside fasthttp's cost per request (ns/req).
		Row{Section: s, Name: shortVsFasthttp,
			Bench: "criterion:headers/req_short/offheap", Peer: "go:Headers/req_short_x16/fasthttp", PeerMetric: "ns/req"},
		Row{Section: "HTTP/1.x head parsing in Rust (criterion)", Name: "kittyhell, one head, strict + framing",
			Bench: "criterion:headers/kittyhell/offheap", Peer: "criterion:headers/kittyhell/httparse",
			Target: "≤ 1.1x httparse", Met: AtMost(1.1)},
		Row{Section: "HTTP/1.x head parsing in Rust (criterion)", Name: "REQ_SHORT, one head, strict + framing",
			Bench: "criterion:headers/req_short/offheap", Peer: "criterion:headers/req_short/httparse"},
	)
}
