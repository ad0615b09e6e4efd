//go:build cgo

package offheap

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const kittyhell = "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n" +
	"Host: www.kittyhell.com\r\n" +
	"User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n" +
	"Accept-Encoding: gzip,deflate\r\n" +
	"Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n" +
	"Keep-Alive: 115\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral|padding=under256\r\n\r\n"

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
