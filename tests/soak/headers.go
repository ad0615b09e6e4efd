package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"

	offheap "github.com/offheap/offheap/go"
)

// The parsing workload: pipelined request heads (with Content-Length bodies to skip) parsed in
// batches from every worker at once, with malformed heads (request smuggling classics, bare
// CR, bad names, obs-fold) and truncated input as faults. Every valid head before the first
// fault comes back complete with its method, target and headers exactly as sent; the fault
// is reported on its own head (or as incomplete), never as a success.

func init() {
	register(&workload{name: "headers", run: parseHeads})
}

var badHeads = []string{
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
	"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
}

func parseHeads(ctx context.Context, rng *rand.Rand, faults float64, t *tally) {
	type sent struct {
		method, target string
		headers        int
	}
	var in bytes.Buffer
	var want []sent
	n := 1 + rng.IntN(32)
	fault := ""
	if rng.Float64() < faults {
		fault = []string{"malformed", "truncated"}[rng.IntN(2)]
		t.fault(fault)
	}
	for i := range n {
		if fault == "malformed" && i == n-1 {
			in.WriteString(badHeads[rng.IntN(len(badHeads))])
			break
		}
		method := []string{"GET", "POST", "PUT", "DELETE"}[rng.IntN(4)]
		if fault == "truncated" && i == n-1 {
			method = "GET" // no body: the cut lands in the last head (shorter than any head)
		}
		target := fmt.Sprintf("/api/v%d/items/%d?q=%x", rng.IntN(3), rng.IntN(100000), rng.Uint32())
		h := 1 + rng.IntN(12)
		fmt.Fprintf(&in, "%s %s HTTP/1.1\r\nHost: soak.example\r\n", method, target)
		for j := 1; j < h; j++ {
			fmt.Fprintf(&in, "X-Soak-%d: %x\r\n", j, rng.Uint64())
		}
		body := 0
		if method == "POST" || method == "PUT" {
			body = rng.IntN(200)
			fmt.Fprintf(&in, "Content-Length: %d\r\n", body)
			h++
		}
		in.WriteString("\r\n")
		in.Write(bytes.Repeat([]byte{'b'}, body))
		want = append(want, sent{method, target, h})
	}
	input := in.Bytes()
	if fault == "truncated" {
		input = input[:len(input)-1-rng.IntN(min(len(input)-1, 40))]
	}
	b := offheap.NewRequestBatch(64)
	_, err := b.Parse(input)
	t.ops.Add(1)
	t.bytes.Add(int64(len(input)))
	if err != nil {
		t.fail("Parse: %v", err)
		return
	}
	complete := 0
	for i := range b.Len() {
		if !b.Complete(i) {
			break
		}
		complete++
	}
	valid := len(want)
	switch fault {
	case "":
		if complete != valid {
			t.fail("%d of %d valid heads complete", complete, valid)
			return
		}
	case "malformed":
		if complete > valid || b.Len() <= complete || b.Complete(b.Len()-1) || b.Err(b.Len()-1) == nil {
			t.fail("malformed head after %d valid ones: %d heads, %d complete", valid, b.Len(), complete)
			return
		}
	case "truncated":
		if complete != valid-1 || b.Len() != valid || b.Complete(valid-1) {
			t.fail("input cut in head %d: %d heads, %d complete", valid-1, b.Len(), complete)
			return
		}
	}
	for i := range min(complete, valid) {
		if string(b.Method(i)) != want[i].method || string(b.Target(i)) != want[i].target || b.NumHeaders(i) != want[i].headers {
			t.fail("head %d: %s %s with %d headers, sent %s %s with %d", i, b.Method(i), b.Target(i),
				b.NumHeaders(i), want[i].method, want[i].target, want[i].headers)
			return
		}
	}
}
