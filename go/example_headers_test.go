//go:build cgo

package offheap_test

import (
	"errors"
	"fmt"
	"strings"

	offheap "github.com/offheap/offheap/go"
)

// Parse the pipelined requests of one connection in one call; every accessor returns a
// sub-slice of the input, so nothing is allocated.
func ExampleRequestBatch() {
	input := []byte("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /c HTTP/1.1\r\nHo")
	b := offheap.NewRequestBatch(16)
	consumed, err := b.Parse(input)
	if err != nil {
		panic(err)
	}
	for i := range b.Len() {
		if b.Incomplete(i) {
			fmt.Printf("head %d: incomplete, read more after byte %d\n", i, consumed)
			continue
		}
		fmt.Printf("%s %s host=%s body=%v length=%d\n", b.Method(i), b.Target(i), b.Header(i, "Host"), b.Body(i), b.ContentLength(i))
	}
	// Output:
	// GET /a host=example.com body=none length=0
	// POST /b host=example.com body=length length=5
	// head 2: incomplete, read more after byte 101
}

// Smuggling attempts are rejected with the rule and the offending byte.
func ExampleHeadError() {
	input := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n")
	b := offheap.NewRequestBatch(1)
	if _, err := b.Parse(input); err != nil {
		panic(err)
	}
	err := b.Err(0)
	fmt.Println(errors.Is(err, offheap.ErrMalformed))
	fmt.Println(err)
	// Output:
	// true
	// offheap headers: Content-Length together with Transfer-Encoding (RFC 9112 §6.1) at byte 45
}

// Iterate over the header lines in order.
func ExampleRequestBatch_All() {
	b := offheap.NewRequestBatch(1)
	if _, err := b.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Id:  7 \r\n\r\n")); err != nil {
		panic(err)
	}
	for name, value := range b.All(0) {
		fmt.Printf("%s=%q\n", name, value)
	}
	// Output:
	// Host="a"
	// Accept="*/*"
	// X-Id="7"
}

// Rewrite a request for an upstream like httputil.ReverseProxy, into a reusable buffer.
func ExampleRequestBatch_RewriteRequest() {
	b := offheap.NewRequestBatch(1)
	in := []byte("GET /api HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n")
	if _, err := b.Parse(in); err != nil {
		panic(err)
	}
	buf := make([]byte, 0, 512)
	out, err := b.RewriteRequest(buf[:0], 0, &offheap.RewriteOptions{
		ClientIP: "203.0.113.9", Proto: "https", Host: "10.0.0.2:8080", SetHost: true, Via: "edge",
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"))
	// Output:
	// GET /api HTTP/1.1
	// Host: 10.0.0.2:8080
	// Accept: */*
	// X-Forwarded-For: 203.0.113.9
	// X-Forwarded-Host: shop.example
	// X-Forwarded-Proto: https
	// Via: 1.1 edge
}

// Convert to net/http types at the edges (this allocates, like http.ReadRequest).
func ExampleRequestBatch_Request() {
	b := offheap.NewRequestBatch(1)
	if _, err := b.Parse([]byte("PUT /items/1?v=2 HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}")); err != nil {
		panic(err)
	}
	req, err := b.Request(0)
	if err != nil {
		panic(err)
	}
	fmt.Println(req.Method, req.URL.Path, req.URL.Query().Get("v"), req.Host, req.ContentLength)
	// Output:
	// PUT /items/1 2 api 2
}

// Parse response heads; Known gives O(1) access to well-known headers.
func ExampleResponseBatch() {
	b := offheap.NewResponseBatch(4)
	if _, err := b.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")); err != nil {
		panic(err)
	}
	fmt.Println(b.StatusCode(0), string(b.Reason(0)), string(b.Known(0, offheap.KnownContentType)), b.Body(0), b.KeepAlive(0))
	// Output:
	// 200 OK text/plain chunked true
}
