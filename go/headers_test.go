//go:build cgo

package offheap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// kittyhell is httparse's benchmark request (9 headers, a long Cookie): the bytes the Go
// benchmarks (benches/go) and httparse measure, from one file.
var kittyhell = func() string {
	b, err := os.ReadFile("../tests/requests/kittyhell.http")
	if err != nil {
		panic(err) // no test here runs without it
	}
	return string(b)
}()

func TestParsePipelinedKittyhell(t *testing.T) {
	input := []byte(strings.Repeat(kittyhell, 16))
	b := NewRequestBatch(16)
	consumed, err := b.Parse(input)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 16 || consumed != len(input) {
		t.Fatalf("Len %d consumed %d, want 16 %d", b.Len(), consumed, len(input))
	}
	for i := range b.Len() {
		if err := b.Err(i); err != nil {
			t.Fatalf("head %d: %v", i, err)
		}
		if string(b.Method(i)) != "GET" || b.Start(i) != i*len(kittyhell) || b.HeadLen(i) != len(kittyhell) {
			t.Fatalf("head %d: %q at %d len %d", i, b.Method(i), b.Start(i), b.HeadLen(i))
		}
		if got := string(b.Header(i, "Host")); got != "www.kittyhell.com" {
			t.Fatalf("Host = %q", got)
		}
		if got := string(b.Header(i, "accept-charset")); got != "Shift_JIS,utf-8;q=0.7,*;q=0.7" {
			t.Fatalf("Accept-Charset = %q", got)
		}
		if !b.KeepAlive(i) || b.Body(i) != BodyNone || b.NumHeaders(i) != 9 {
			t.Fatalf("framing: keep-alive %v body %v headers %d", b.KeepAlive(i), b.Body(i), b.NumHeaders(i))
		}
	}
	if got := string(b.Known(3, KnownConnection)); got != "keep-alive" {
		t.Fatalf("Known(Connection) = %q", got)
	}
	if b.Header(0, "X-Missing") != nil || b.Known(0, KnownContentType) != nil {
		t.Fatal("absent header not nil")
	}
}

func TestHeadErrorsMatchSentinels(t *testing.T) {
	b := NewRequestBatch(4)
	input := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
	if _, err := b.Parse(input); err != nil {
		t.Fatal(err)
	}
	err := b.Err(0)
	var he *HeadError
	if !errors.Is(err, ErrMalformed) || !errors.As(err, &he) {
		t.Fatalf("Err = %v, want ErrMalformed", err)
	}
	if he.Offset != bytes.Index(input, []byte("Transfer-Encoding")) || he.Status != 116 {
		t.Fatalf("offset %d status %d", he.Offset, he.Status)
	}
	if !strings.Contains(err.Error(), "Content-Length together with Transfer-Encoding") {
		t.Fatalf("message %q", err)
	}
	// The *HeadError wraps an *Error of the same status: errors.As finds either.
	var e *Error
	if !errors.As(err, &e) || e.Status != he.Status || e.Op != "RequestBatch.Parse" ||
		!strings.Contains(e.Error(), "Content-Length together with Transfer-Encoding (RFC 9112 §6.1) (status 116)") {
		t.Fatalf("wrapped error %#v", e)
	}
	r := NewResponseBatch(1)
	if _, err := r.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Le")); err != nil || !errors.As(r.Err(0), &e) ||
		e.Op != "ResponseBatch.Parse" || !errors.Is(r.Err(0), ErrIncomplete) {
		t.Fatalf("incomplete response: %v, %#v", err, r.Err(0))
	}
	if _, err := b.Parse([]byte("GET / HTTP/1.1\r\nHo")); err != nil || !errors.Is(b.Err(0), ErrIncomplete) || !b.Incomplete(0) {
		t.Fatalf("incomplete: %v %v", err, b.Err(0))
	}
	b.Config.MaxHeadLen = 16
	if _, err := b.Parse([]byte(kittyhell)); err != nil || !errors.Is(b.Err(0), ErrTooLarge) {
		t.Fatalf("too large: %v %v", err, b.Err(0))
	}
	// Call errors: offsets out of order.
	if err := b.ParseEach([]byte(kittyhell), []uint32{5, 1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ParseEach = %v", err)
	}
}

func TestParseEachAndResponses(t *testing.T) {
	a, c := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "GET /c HTTP/1.0\r\n\r\n"
	input := []byte(a + kittyhell + c)
	b := NewRequestBatch(8)
	if err := b.ParseEach(input, []uint32{0, uint32(len(a)), uint32(len(a) + len(kittyhell))}); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 || string(b.Target(0)) != "/a" || string(b.Target(2)) != "/c" || b.ProtoMinor(2) != 0 {
		t.Fatalf("ParseEach: %d %q %q", b.Len(), b.Target(0), b.Target(2))
	}
	r := NewResponseBatch(4)
	resp := []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\n\r\n")
	consumed, err := r.Parse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 || consumed != len(resp) {
		t.Fatalf("responses: %d %d", r.Len(), consumed)
	}
	if r.StatusCode(2) != 404 || string(r.Reason(2)) != "Not Found" || r.Body(2) != BodyClose || r.KeepAlive(2) {
		t.Fatalf("404: %d %q %v", r.StatusCode(2), r.Reason(2), r.Body(2))
	}
	r.HeadRequest = true
	if _, err := r.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")); err != nil || r.Body(0) != BodyNone {
		t.Fatalf("HEAD response: %v %v", err, r.Body(0))
	}
}

func TestAllInOrder(t *testing.T) {
	b := NewRequestBatch(1)
	if _, err := b.Parse([]byte(kittyhell)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, value := range b.All(0) {
		names = append(names, string(name))
		n, v := b.HeaderAt(0, len(names)-1)
		if !bytes.Equal(n, name) || !bytes.Equal(v, value) {
			t.Fatal("All and HeaderAt disagree")
		}
		if len(names) == 3 {
			break
		}
	}
	if !reflect.DeepEqual(names, []string{"Host", "User-Agent", "Accept"}) {
		t.Fatalf("names %q", names)
	}
}

func TestParseAndAccessorsAllocateNothing(t *testing.T) {
	input := []byte(strings.Repeat(kittyhell, 16))
	b := NewRequestBatch(16)
	var sink int
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := b.Parse(input); err != nil {
			panic(err)
		}
		for i := range b.Len() {
			sink += len(b.Method(i)) + len(b.Target(i)) + len(b.Header(i, "Host")) + len(b.Header(i, "X-Nope"))
			sink += len(b.Known(i, KnownCookie)) + int(b.ContentLength(i))
			for name, value := range b.All(i) {
				sink += len(name) + len(value)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse and accessors: %v allocs per run, want 0", allocs)
	}
	_ = sink
}

func TestRewriteRequest(t *testing.T) {
	input := []byte("GET /x HTTP/1.1\r\nHost: front\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n" +
		"Keep-Alive: 5\r\nProxy-Authorization: secret\r\nTE: trailers, deflate\r\nX-Forwarded-For: 1.1.1.1\r\n" +
		"Content-Length: 0\r\nVia: 1.0 a\r\nUser-Agent: t\r\n\r\n")
	b := NewRequestBatch(1)
	if _, err := b.Parse(input); err != nil || b.Err(0) != nil {
		t.Fatal(err, b.Err(0))
	}
	opts := &RewriteOptions{ClientIP: "10.0.0.7", Proto: "https", Host: "upstream:8080", SetHost: true, Via: "edge", AppendForwarded: true}
	out, err := b.RewriteRequest(nil, 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := "GET /x HTTP/1.1\r\nHost: upstream:8080\r\nContent-Length: 0\r\nUser-Agent: t\r\n" +
		"X-Forwarded-For: 1.1.1.1, 10.0.0.7\r\nX-Forwarded-Host: front\r\nX-Forwarded-Proto: https\r\n" +
		"Via: 1.0 a, 1.1 edge\r\nTe: trailers\r\n\r\n"
	if string(out) != want {
		t.Fatalf("rewrite:\n%q\nwant\n%q", out, want)
	}
	// The rewritten head parses, and a reused buffer costs no allocation.
	check := NewRequestBatch(1)
	if _, err := check.Parse(out); err != nil || check.Err(0) != nil {
		t.Fatalf("rewritten head does not parse: %v %v", err, check.Err(0))
	}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = b.RewriteRequest(buf[:0], 0, opts); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("RewriteRequest: %v allocs, want 0", allocs)
	}

	r := NewResponseBatch(1)
	if _, err := r.Parse([]byte("HTTP/1.1 200 OK\r\nKeep-Alive: 5\r\nContent-Length: 2\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := r.RewriteResponse(nil, 0, "edge")
	if err != nil || string(resp) != "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia: 1.1 edge\r\n\r\n" {
		t.Fatalf("RewriteResponse = %q, %v", resp, err)
	}
}

func TestRequestMatchesReadRequest(t *testing.T) {
	for _, raw := range []string{
		kittyhell,
		"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET http://b.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
	} {
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		b := NewRequestBatch(1)
		if _, err := b.Parse([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		got, err := b.Request(0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.URL.String() != want.URL.String() ||
			got.Host != want.Host || got.ProtoMinor != want.ProtoMinor || got.Close != want.Close ||
			got.ContentLength != want.ContentLength || !reflect.DeepEqual(got.TransferEncoding, want.TransferEncoding) ||
			!reflect.DeepEqual(got.Header, want.Header) {
			t.Errorf("%q:\n got %+v\nwant %+v", raw, got, want)
		}
	}
}

// An index past Len panics, also when an earlier Parse left more records behind.
func TestHeadIndexPastLenPanics(t *testing.T) {
	b := NewRequestBatch(4)
	if _, err := b.Parse([]byte(strings.Repeat("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 3))); err != nil || b.Len() != 3 {
		t.Fatalf("Parse: %v, %d heads", err, b.Len())
	}
	if _, err := b.Parse([]byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")); err != nil || b.Len() != 1 {
		t.Fatalf("Parse: %v, %d heads", err, b.Len())
	}
	for name, f := range map[string]func(){
		"Method":   func() { b.Method(1) },
		"Target":   func() { b.Target(2) },
		"Err":      func() { _ = b.Err(1) },
		"Complete": func() { b.Complete(1) },
		"Header":   func() { b.Header(1, "Host") },
		"Known":    func() { b.Known(1, KnownHost) },
		"Head":     func() { b.Head(3) },
		"Body":     func() { b.Body(1) },
		"Request":  func() { _, _ = b.Request(1) },
		"All": func() {
			for range b.All(1) {
			}
		},
		"Rewrite": func() { _, _ = b.RewriteRequest(nil, 1, &RewriteOptions{}) },
	} {
		t.Run(name, func(t *testing.T) { mustPanic(t, " out of range [0:1]", f) })
	}
	mustPanic(t, "offheap: index -1 out of range [0:1]", func() { b.Start(-1) })
	mustPanic(t, "offheap: index 1 out of range [0:1]", func() { b.HeaderAt(0, 1) })
	if string(b.Target(0)) != "/x" {
		t.Fatalf("Target(0) = %q", b.Target(0))
	}
	r := NewResponseBatch(2)
	mustPanic(t, "offheap: index 0 out of range [0:0]", func() { r.StatusCode(0) })
	if _, err := r.Parse([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "offheap: index 1 out of range [0:1]", func() { r.Reason(1) })
	// A failed Parse leaves no head to read.
	b.Config.MaxHeaders = 255
	if _, err := b.Parse([]byte(kittyhell)); err == nil || b.Len() != 0 {
		t.Fatalf("Parse with a bad config: %v, %d heads", err, b.Len())
	}
	mustPanic(t, "offheap: index 0 out of range [0:0]", func() { b.Method(0) })
}

// ParseEach parses every region: more regions than the batch holds, or more header lines than
// its header records, grow the batch (the only allocations); then the same call allocates
// nothing.
func TestParseEachParsesEveryRegion(t *testing.T) {
	var input []byte
	var offsets []uint32
	for i := range 6 {
		offsets = append(offsets, uint32(len(input)))
		input = fmt.Appendf(input, "GET /%d HTTP/1.1\r\nHost: a\r\n", i)
		for j := range 60 {
			input = fmt.Appendf(input, "X-%d: %d\r\n", j, j)
		}
		input = append(input, "\r\n"...)
	}
	b := NewRequestBatch(4)
	for round := range 2 {
		if err := b.ParseEach(input, offsets); err != nil {
			t.Fatal(err)
		}
		if b.Len() != 6 {
			t.Fatalf("round %d: Len = %d, want 6 (one per region)", round, b.Len())
		}
		for i := range 6 {
			if err := b.Err(i); err != nil || string(b.Target(i)) != "/"+strconv.Itoa(i) || b.NumHeaders(i) != 61 {
				t.Fatalf("head %d: %v %q with %d headers", i, err, b.Target(i), b.NumHeaders(i))
			}
			if _, v := b.HeaderAt(i, 60); string(v) != "59" {
				t.Fatalf("head %d: last header %q", i, v)
			}
		}
	}
	if n := testing.AllocsPerRun(50, func() {
		if err := b.ParseEach(input, offsets); err != nil {
			panic(err)
		}
	}); n != 0 {
		t.Fatalf("ParseEach of a batch that has grown: %v allocations, want 0", n)
	}
}

// Limits above their maxima are refused with an error that names the field and the limit.
func TestHeadersConfigAboveItsLimitIsAnError(t *testing.T) {
	for _, c := range []struct {
		cfg  HeadersConfig
		want []string
	}{
		{HeadersConfig{MaxHeadLen: 16<<20 + 1}, []string{"HeadersConfig.MaxHeadLen", "16777217", "16777216"}},
		{HeadersConfig{MaxHeaders: 255}, []string{"HeadersConfig.MaxHeaders", "255", "254"}},
	} {
		b := NewRequestBatch(1)
		b.Config = c.cfg
		_, err := b.Parse([]byte(kittyhell))
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%+v: Parse = %v, want ErrInvalidConfig", c.cfg, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q lacks %q", err, w)
			}
		}
		r := NewResponseBatch(1)
		r.Config = c.cfg
		if err := r.ParseEach([]byte("HTTP/1.1 200 OK\r\n\r\n"), []uint32{0}); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%+v: ResponseBatch.ParseEach = %v, want ErrInvalidConfig", c.cfg, err)
		}
	}
	b := NewRequestBatch(1)
	b.Config = HeadersConfig{MaxHeadLen: 16 << 20, MaxHeaders: 254}
	if _, err := b.Parse([]byte(kittyhell)); err != nil || b.Err(0) != nil {
		t.Fatalf("the maxima themselves: %v, %v", err, b.Err(0))
	}
}
