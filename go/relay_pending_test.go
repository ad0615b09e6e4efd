//go:build cgo

package offheap

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// tlsConfigs returns a server config with the standard library's test certificate (the one
// httptest's TLS servers use, valid for example.com) and a client config that trusts it.
func tlsConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	ts.Close() // the configs outlive it; a server left open would count as the test's leak
	client = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	client.ServerName = "example.com"
	return ts.TLS, client
}

// tlsPair returns the client and server ends of a TLS connection over loopback TCP, handshake
// done, closed when the test ends.
func tlsPair(t testing.TB, server, client *tls.Config) (*tls.Conn, *tls.Conn) {
	t.Helper()
	a, b := tcpPair(t)
	c, s := tls.Client(a, client), tls.Server(b, server)
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// halfConn is a connection the pending-bytes tests write to (and close for writing) and read.
type halfConn interface {
	net.Conn
	CloseWrite() error
}

// relayCase is one body: its framing, its bytes on the wire and what the destination gets.
type relayCase struct {
	name       string
	f          Framing
	wire, want []byte
}

func relayCases(rng *mrand.Rand, size int) []relayCase {
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	chunked := chunkEncode(body, rng, 1+rng.IntN(3000))
	return []relayCase{
		{"exact", Exact(int64(size)), body, body},
		{"chunked", Chunked(), chunked, chunked},
		{"dechunked", Dechunked(), chunked, body},
		{"until EOF", UntilEOF(), body, body},
	}
}

// TestRelayPendingBytesAndTheFallback: a body whose first bytes were read with its head, cut
// anywhere (inside a chunk size, inside chunk data, past the body into a pipelined request),
// relays the same with CopyPending ([]byte) and CopyBuffered (Buffer); and the same again
// when the source or the destination is a *tls.Conn (no file descriptor: the fallback), with
// the same counters. Bytes past the body stay the caller's: in the pending bytes and in the
// source.
func TestRelayPendingBytesAndTheFallback(t *testing.T) {
	base := takeBaseline(t)
	serverTLS, clientTLS := tlsConfigs(t)
	rng := mrand.New(mrand.NewPCG(7, 8))
	next := []byte("GET /next HTTP/1.1\r\n\r\n")
	for round := range 24 {
		size := []int{0, 1 + rng.IntN(200), rng.IntN(20000), 70000 + rng.IntN(300000)}[round%4]
		for _, c := range relayCases(rng, size) {
			input := c.wire
			if c.f.kind != framingUntilEOF {
				input = append(append([]byte{}, c.wire...), next...)
			}
			cut := rng.IntN(len(input) + 1)
			var fdStats RelayStats
			for _, mode := range []string{"fd", "tls source", "tls destination"} {
				for _, how := range []string{"[]byte", "Buffer"} {
					cut := cut
					if how == "Buffer" {
						cut = min(cut, BufferSize) // what a Buffer holds
					}
					name := fmt.Sprintf("round %d %s size=%d cut=%d %s pending %s", round, c.name, size, cut, mode, how)
					st := relayPendingOnce(t, name, c, input, cut, mode, how, serverTLS, clientTLS)
					if st.BytesIn != uint64(len(c.wire)) || st.BytesOut != uint64(len(c.want)) || st.Copied+st.Spliced != st.BytesOut {
						t.Fatalf("%s: stats %+v, want %d in and %d out", name, st, len(c.wire), len(c.want))
					}
					if mode == "fd" {
						fdStats = st
					} else if st != fdStats {
						t.Fatalf("%s: stats %+v, over file descriptors %+v", name, st, fdStats)
					}
				}
			}
		}
	}
	base.check(t)
}

// relayPendingOnce relays input, cut at cut (the pending bytes before it, the source after it),
// checks what arrived and what was left, and returns the counters.
func relayPendingOnce(t *testing.T, name string, c relayCase, input []byte, cut int, mode, how string, serverTLS, clientTLS *tls.Config) RelayStats {
	var client, src, dst, server halfConn
	switch mode {
	case "tls source":
		client, src = tlsPair(t, serverTLS, clientTLS)
		dst, server = tcpPair(t)
	case "tls destination":
		client, src = tcpPair(t)
		dst, server = tlsPair(t, serverTLS, clientTLS)
	default:
		client, src = tcpPair(t)
		dst, server = tcpPair(t)
	}
	defer func() {
		for _, x := range []halfConn{client, src, dst, server} {
			x.Close()
		}
	}()
	go func() {
		client.Write(input[cut:])
		if c.f.kind == framingUntilEOF {
			client.CloseWrite()
		}
	}()
	received := collect(server)
	r := boundRelay(t, src, dst)
	defer r.Close()
	var st RelayStats
	var err error
	var buf *Buffer
	if how == "Buffer" {
		buf = bufferWith(t, input[:cut])
		defer buf.Close()
		st, err = r.CopyBuffered(context.Background(), buf, c.f)
	} else {
		st, err = r.CopyPending(context.Background(), input[:cut], c.f)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	dst.CloseWrite()
	if got := received(); !bytes.Equal(got, c.want) {
		t.Fatalf("%s: received %d bytes, want %d (they differ)", name, len(got), len(c.want))
	}
	if c.f.kind == framingUntilEOF {
		return st
	}
	// What follows the body stays: in the buffer (the pending bytes past it), and unread in the
	// source.
	if buf != nil {
		if left := input[min(len(c.wire), cut):cut]; !bytes.Equal(buf.UnsafeBytes(), left) {
			t.Fatalf("%s: the buffer holds %q, want %q", name, buf.UnsafeBytes(), left)
		}
	}
	rest := input[max(len(c.wire), cut):]
	left := make([]byte, len(rest))
	src.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(src, left); err != nil || !bytes.Equal(left, rest) {
		t.Fatalf("%s: the source holds %q (%v), want %q", name, left, err, rest)
	}
	return st
}

// bufferWith returns a Buffer filled with b (read from a socket pair).
func bufferWith(t testing.TB, b []byte) *Buffer {
	t.Helper()
	in, out := unixPair(t)
	defer in.Close()
	defer out.Close()
	buf := newBuffer(t)
	go in.Write(b)
	raw, err := out.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for buf.Len() < len(b) {
		if _, err := buf.ReadFrom(raw); err != nil {
			t.Fatal(err)
		}
	}
	return buf
}

// TestChunkedUploadSentWithItsHead is the service the README describes, taking a chunked
// upload whose head and first bytes (cut inside a chunk) came in one read: it parses the head
// in a Buffer, drops it, and relays the rest of the body with CopyBuffered. The upstream gets
// the whole body; the pipelined request after it stays in the buffer.
func TestChunkedUploadSentWithItsHead(t *testing.T) {
	client, src, dst, server := relayConns(t)
	head := "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	body := "7\r\nchunked\r\n10\r\n upload, sent in\r\n5\r\n part\r\n0\r\n\r\n"
	next := "GET /after HTTP/1.1\r\nHost: a\r\n\r\n"
	first := head + body[:20] // the head's read ends inside the second chunk
	if _, err := client.Write([]byte(first)); err != nil {
		t.Fatal(err)
	}
	buf := newBuffer(t)
	defer buf.Close()
	raw, _ := src.SyscallConn()
	for buf.Len() < len(first) {
		if _, err := buf.ReadFrom(raw); err != nil {
			t.Fatal(err)
		}
	}
	reqs := NewRequestBatch(1)
	if _, err := reqs.Parse(buf.UnsafeBytes()); err != nil || !reqs.Complete(0) || reqs.Body(0) != BodyChunked {
		t.Fatalf("head: %v", err)
	}
	buf.Consume(reqs.Start(0) + reqs.HeadLen(0))
	go client.Write([]byte(body[20:] + next))
	r := boundRelay(t, src, dst)
	defer r.Close()
	st, err := r.CopyBuffered(context.Background(), buf, Chunked())
	if err != nil || st.BytesIn != uint64(len(body)) {
		t.Fatalf("CopyBuffered = %+v, %v", st, err)
	}
	got := make([]byte, len(body))
	if _, err := io.ReadFull(server, got); err != nil || string(got) != body {
		t.Fatalf("upstream got %q (%v)", got, err)
	}
	for buf.Len() < len(next) {
		if _, err := buf.ReadFrom(raw); err != nil {
			t.Fatal(err)
		}
	}
	if string(buf.UnsafeBytes()) != next {
		t.Fatalf("the buffer holds %q, want the next request", buf.UnsafeBytes())
	}
}

// TestCopyPendingAllocatesNothing: a body with pending bytes costs no Go allocation either.
func TestCopyPendingAllocatesNothing(t *testing.T) {
	client, src, dst, server := relayConns(t)
	go io.Copy(io.Discard, server)
	const size = 16 << 10
	go func() {
		chunk := make([]byte, size-100)
		for {
			if _, err := client.Write(chunk); err != nil {
				return
			}
		}
	}()
	r := boundRelay(t, src, dst)
	defer r.Close()
	pending := make([]byte, 100)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := r.CopyPending(ctx, pending, Exact(size)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Relay.CopyPending allocates %.1f per body, want 0", allocs)
	}
}
