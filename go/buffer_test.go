//go:build cgo

package offheap

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// newBuffer makes a Buffer, or fails the test.
func newBuffer(t testing.TB) *Buffer {
	t.Helper()
	b, err := NewBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBufferHeadAndWritev(t *testing.T) {
	client, src, dst, server := relayConns(t)
	client.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"))
	head := newBuffer(t)
	defer head.Close()
	raw, _ := src.SyscallConn()
	for head.Len() < 42 {
		if _, err := head.ReadFrom(raw); err != nil {
			t.Fatal(err)
		}
	}
	view := head.UnsafeBytes()
	end := bytes.Index(view, []byte("\r\n\r\n")) + 4
	if end != 38 || string(view[end:]) != "body" {
		t.Fatalf("view %q", view)
	}
	out, _ := dst.SyscallConn()
	n, err := WriteBuffers([]*Buffer{head}, out)
	if err != nil || n != 42 {
		t.Fatalf("WriteBuffers = %d, %v", n, err)
	}
	got := make([]byte, 42)
	io.ReadFull(server, got)
	if !bytes.HasSuffix(got, []byte("\r\n\r\nbody")) || head.Len() != 0 {
		t.Fatalf("got %q, left %d", got, head.Len())
	}
	client.CloseWrite()
	if _, err := head.ReadFrom(raw); err != io.EOF {
		t.Fatalf("ReadFrom at EOF = %v", err)
	}
	src.Close()
	if _, err := head.ReadFrom(raw); !errors.Is(err, ErrConnClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrom of a closed connection = %v, want ErrConnClosed", err)
	}
}

// TestBufferCgoCallsAndAllocs: ReadFrom is one cgo call when the socket is readable (and
// drops the bytes consumed before it in that call); UnsafeBytes, Len and Consume make none;
// none of them allocates.
func TestBufferCgoCallsAndAllocs(t *testing.T) {
	client, src := tcpPair(t)
	defer client.Close()
	defer src.Close()
	b := newBuffer(t)
	defer b.Close()
	raw, _ := src.SyscallConn()
	msg := []byte("GET / HTTP/1.1\r\n\r\n")
	round := func() {
		client.Write(msg)
		for b.Len() < len(msg) {
			if _, err := b.ReadFrom(raw); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(b.UnsafeBytes(), msg) {
			t.Fatalf("view %q", b.UnsafeBytes())
		}
		b.Consume(4)
		if b.Len() != len(msg)-4 || !bytes.Equal(b.UnsafeBytes(), msg[4:]) {
			t.Fatalf("after Consume: %q", b.UnsafeBytes())
		}
		b.Consume(len(msg)) // clamped
	}
	round()
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Fatalf("%v allocations per read-view-consume round", n)
	}
	// Count cgo calls of the view and consume steps alone, then of one read.
	client.Write(msg)
	time.Sleep(10 * time.Millisecond) // the bytes are there: ReadFrom will not wait
	before := runtime.NumCgoCall()
	if _, err := b.ReadFrom(raw); err != nil {
		t.Fatal(err)
	}
	reads := runtime.NumCgoCall() - before
	before = runtime.NumCgoCall()
	for range 10 {
		_ = b.UnsafeBytes()
		_ = b.Len()
		b.Consume(1)
	}
	views := runtime.NumCgoCall() - before
	if reads != 1 || views != 0 {
		t.Fatalf("cgo calls: %d for one ready read (want 1), %d for views and consumes (want 0)", reads, views)
	}
	if !bytes.Equal(b.UnsafeBytes(), msg[10:]) {
		t.Fatalf("after 10 Consume(1): %q", b.UnsafeBytes())
	}
	// The counted consume reaches Rust with the next read: the new bytes follow the rest.
	client.Write([]byte("X"))
	time.Sleep(10 * time.Millisecond)
	if _, err := b.ReadFrom(raw); err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{}, msg[10:]...), 'X'); !bytes.Equal(b.UnsafeBytes(), want) {
		t.Fatalf("after read: %q, want %q", b.UnsafeBytes(), want)
	}
	// A closed buffer: no view, and Consume says so.
	b.Close()
	if b.UnsafeBytes() != nil || !errors.Is(b.Consume(1), ErrClosed) {
		t.Fatal("closed buffer still usable")
	}
	if b.Consume(-1) == nil {
		t.Fatal("negative Consume accepted")
	}
}
