//go:build cgo

package offheap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

func unixPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	c, err := net.Dial("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn), (<-ch).(*net.UnixConn)
}

// duplex is a connection the tests write to and read from.
type duplex interface {
	Conn
	io.ReadWriteCloser
	CloseWrite() error
}

// baseline records open fds, goroutines and the Rust heap; check asserts they came back.
type baseline struct {
	fds, goroutines int
	rust            uint64
}

func openFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func takeBaseline(t *testing.T) baseline {
	t.Helper()
	TrimRelayPools()
	s, err := ReadRustStats()
	if err != nil {
		t.Fatal(err)
	}
	return baseline{fds: openFds(), goroutines: runtime.NumGoroutine(), rust: s.LiveBytes}
}

func (b baseline) check(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		// Go's own splice (io.Copy between TCP conns) caches pipes in a sync.Pool that only
		// GC empties: collect twice so they are closed before counting fds.
		runtime.GC()
		runtime.GC()
		TrimRelayPools()
		s, _ := ReadRustStats()
		rc, _ := ReadRelayCounters()
		fds, g := openFds(), runtime.NumGoroutine()
		// The Rust heap may keep a little (a handle table segment, 16 KiB): 32 KiB slack, less
		// than one relay buffer (64 KiB), and no pipe or buffer may be alive.
		if fds <= b.fds && g <= b.goroutines && s.LiveBytes <= b.rust+32<<10 && rc.PipesLive == 0 && rc.BuffersLive == 0 {
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				t.Logf("fd %s -> %s", e.Name(), l)
			}
			t.Logf("relay counters %+v", rc)
			t.Fatalf("not back to baseline: fds %d (was %d), goroutines %d (was %d), rust heap %d (was %d)",
				fds, b.fds, g, b.goroutines, s.LiveBytes, b.rust)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// relayOnce relays input (written by a peer goroutine) through a Relay with framing f over
// TCP or Unix sockets; it returns what arrived, what stayed in the source, and the result.
func relayOnce(t *testing.T, useUnix, noSplice bool, f Framing, input []byte) (got, left []byte, st RelayStats, err error) {
	t.Helper()
	var client, src, dst, server duplex
	if useUnix {
		client, src = unixPair(t)
		dst, server = unixPair(t)
	} else {
		client, src = tcpPair(t)
		dst, server = tcpPair(t)
	}
	defer client.Close()
	defer src.Close()
	defer server.Close()
	go func() {
		client.Write(input)
		client.CloseWrite()
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, _ = io.ReadAll(server)
	}()
	r, e := NewRelay()
	if e != nil {
		t.Fatal(e)
	}
	defer r.Close()
	if e := r.Bind(dst, src); e != nil {
		t.Fatal(e)
	}
	r.SetSplice(!noSplice)
	st, err = r.Copy(context.Background(), f)
	dst.Close()
	wg.Wait()
	left, _ = io.ReadAll(src)
	return got, left, st, err
}

func chunkEncode(data []byte, rng *rand.Rand, maxChunk int) []byte {
	var out bytes.Buffer
	for i := 0; i < len(data); {
		n := min(1+rng.IntN(maxChunk), len(data)-i)
		fmt.Fprintf(&out, "%x\r\n", n)
		out.Write(data[i : i+n])
		out.WriteString("\r\n")
		i += n
	}
	out.WriteString("0\r\nX-Trailer: 1\r\n\r\n")
	return out.Bytes()
}

func TestRelayFramingsMatchReference(t *testing.T) {
	base := takeBaseline(t)
	rng := rand.New(rand.NewPCG(1, 2))
	next := []byte("GET /next HTTP/1.1\r\n\r\n")
	for i := range 24 {
		useUnix, noSplice := i%2 == 1, i%4 >= 2
		size := []int{0, 1 + rng.IntN(100), rng.IntN(70000), 100000 + rng.IntN(2000000)}[i%4]
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		var f Framing
		var wire, want []byte
		switch (i / 4) % 4 {
		case 0:
			f, wire, want = Exact(int64(size)), body, body
		case 1:
			f, wire, want = UntilEOF(), body, body
		case 2:
			wire = chunkEncode(body, rng, 1+rng.IntN(100000))
			f, want = Chunked(), wire
		default:
			f, wire, want = Dechunked(), chunkEncode(body, rng, 1+rng.IntN(100000)), body
		}
		input := wire
		if f.kind != framingUntilEOF {
			input = append(append([]byte{}, wire...), next...)
		}
		name := fmt.Sprintf("case %d unix=%v nosplice=%v size=%d framing=%d", i, useUnix, noSplice, size, f.kind)
		got, left, st, err := relayOnce(t, useUnix, noSplice, f, input)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("%s: received %d bytes, want %d (SHA-256 differs)", name, len(got), len(want))
		}
		if f.kind != framingUntilEOF && !bytes.Equal(left, next) {
			t.Fatalf("%s: left %q in the source, want the next request", name, left)
		}
		if st.BytesOut != uint64(len(want)) || st.BytesIn != uint64(len(wire)) || st.Spliced+st.Copied != st.BytesOut {
			t.Fatalf("%s: stats %+v", name, st)
		}
		if noSplice && st.Spliced != 0 {
			t.Fatalf("%s: spliced with NoSplice", name)
		}
	}
	base.check(t)
}

func TestRelayCopyAllocatesNothing(t *testing.T) {
	client, src := tcpPair(t)
	dst, server := tcpPair(t)
	defer client.Close()
	defer src.Close()
	defer dst.Close()
	defer server.Close()
	const size = 16 << 10
	go io.Copy(io.Discard, server)
	body := make([]byte, size)
	go func() {
		for {
			if _, err := client.Write(body); err != nil {
				return
			}
		}
	}()
	r, err := NewRelay()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Bind(dst, src)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := r.Copy(ctx, Exact(size)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Relay.Copy allocates %.1f per body, want 0", allocs)
	}
}

// TestRelayBulkBuffersAreCountedAndReturned relays an 8 MiB body to a destination nobody
// reads yet: the relay fills it and waits holding a bulk buffer, which ReadRelayCounters
// shows; once the body is through and the pools are trimmed, none is left.
func TestRelayBulkBuffersAreCountedAndReturned(t *testing.T) {
	base := takeBaseline(t)
	defer base.check(t)
	client, src := tcpPair(t)
	dst, server := tcpPair(t)
	defer client.Close()
	defer src.Close()
	defer dst.Close()
	defer server.Close()
	const size = 8 << 20
	body := make([]byte, size)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	go client.Write(body)
	r, err := NewRelay()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Bind(dst, src)
	type result struct {
		st  RelayStats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := r.Copy(context.Background(), Exact(size))
		done <- result{st, err}
	}()
	var seen uint64
	for deadline := time.Now().Add(5 * time.Second); seen == 0 && time.Now().Before(deadline); {
		rc, _ := ReadRelayCounters()
		if seen = rc.BulkBuffersLive; seen == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if seen != 1 {
		t.Fatalf("bulk buffers alive while the relay waits on a full destination: %d, want 1", seen)
	}
	got := make([]byte, size)
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || res.st.Copied != size || res.st.Spliced != 0 {
		t.Fatalf("Copy: %v %+v", res.err, res.st)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("the body arrived changed")
	}
	TrimRelayPools()
	if rc, _ := ReadRelayCounters(); rc.BulkBuffersLive != 0 {
		t.Fatalf("bulk buffers alive after trim: %d", rc.BulkBuffersLive)
	}
}

// TestRelayInACircleStopsOnCancel relays from a connection to its own peer, so every byte
// written comes back to be read: the relay never runs dry, yet each step returns (at
// OFFHEAP_RELAY_STEP_LIMIT bytes) and the context still ends the Copy.
func TestRelayInACircleStopsOnCancel(t *testing.T) {
	for _, noSplice := range []bool{false, true} {
		a, b := tcpPair(t)
		if _, err := b.Write(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		r, err := NewRelay()
		if err != nil {
			t.Fatal(err)
		}
		r.Bind(b, a) // reads a, writes b: what it writes arrives at a again
		r.SetSplice(!noSplice)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		st, err := r.Copy(ctx, UntilEOF())
		cancel()
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("noSplice=%v: Copy = %v, want ErrCanceled", noSplice, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("noSplice=%v: Copy returned %v after the deadline", noSplice, el)
		}
		if st.BytesOut <= relayStepLimit {
			t.Fatalf("noSplice=%v: relayed %d bytes, want more than one step's limit", noSplice, st.BytesOut)
		}
		r.Close()
		a.Close()
		b.Close()
	}
}

func TestRelayFaults(t *testing.T) {
	type fault struct {
		name  string
		run   func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error
		check func(err error) bool
	}
	faults := []fault{
		{"peer reset mid-body", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go func() {
				client.Write(make([]byte, 100000))
				time.Sleep(20 * time.Millisecond)
				client.SetLinger(0)
				client.Close()
			}()
			_, err := r.Copy(context.Background(), Exact(10<<20))
			return err
		}, func(err error) bool { return errors.Is(err, ErrConnectionReset) || errors.Is(err, ErrUnexpectedEOF) }},
		{"body shorter than declared", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go func() { client.Write(make([]byte, 500)); client.CloseWrite() }()
			_, err := r.Copy(context.Background(), Exact(1000))
			return err
		}, func(err error) bool { return errors.Is(err, ErrUnexpectedEOF) }},
		{"body longer than declared", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go func() { client.Write([]byte("0123456789EXTRA")) }()
			st, err := r.Copy(context.Background(), Exact(10))
			if err == nil && st.BytesOut == 10 {
				rest := make([]byte, 5)
				io.ReadFull(src, rest)
				if string(rest) == "EXTRA" {
					return nil
				}
			}
			return fmt.Errorf("longer body: %v %+v", err, st)
		}, func(err error) bool { return err == nil }},
		{"chunk size overflow", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go client.Write([]byte("11111111111111111\r\n"))
			_, err := r.Copy(context.Background(), Chunked())
			return err
		}, func(err error) bool { return errors.Is(err, ErrBadChunk) && strings.Contains(err.Error(), "205") }},
		{"chunk size not hex", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go client.Write([]byte("zz\r\n"))
			_, err := r.Copy(context.Background(), Dechunked())
			return err
		}, func(err error) bool { return errors.Is(err, ErrBadChunk) && strings.Contains(err.Error(), "206") }},
		{"chunk missing CRLF", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go client.Write([]byte("3\r\nabcX"))
			_, err := r.Copy(context.Background(), Chunked())
			return err
		}, func(err error) bool { return errors.Is(err, ErrBadChunk) && strings.Contains(err.Error(), "207") }},
		{"slow reader hits the write deadline", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			// server never reads; the relay holds at most a pipe (1 MiB) and a buffer (a
			// bulk one: 4 MiB).
			go func() {
				chunk := make([]byte, 64<<10)
				for {
					if _, err := client.Write(chunk); err != nil {
						return
					}
				}
			}()
			dst.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			st, err := r.Copy(context.Background(), UntilEOF())
			if held := st.BytesIn - st.BytesOut; held > 1<<20+4<<20 {
				t.Errorf("relay held %d bytes", held)
			}
			return err
		}, func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{"connection closed by Go mid-relay", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go func() { time.Sleep(50 * time.Millisecond); src.Close() }()
			_, err := r.Copy(context.Background(), Exact(1000))
			return err
		}, func(err error) bool {
			// A closed connection is not a closed relay: its own sentinel, which is also net.ErrClosed.
			return errors.Is(err, ErrConnClosed) && errors.Is(err, net.ErrClosed) && !errors.Is(err, ErrClosed)
		}},
		{"context cancelled", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := r.Copy(ctx, Exact(1000))
			return err
		}, func(err error) bool { return errors.Is(err, ErrCanceled) && errors.Is(err, context.DeadlineExceeded) }},
		{"destination closed by peer", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			server.SetLinger(0)
			server.Close()
			go func() { client.Write(make([]byte, 4<<20)) }()
			_, err := r.Copy(context.Background(), Exact(4<<20))
			return err
		}, func(err error) bool { return errors.Is(err, ErrBrokenPipe) || errors.Is(err, ErrConnectionReset) }},
	}
	for _, f := range faults {
		t.Run(strings.ReplaceAll(f.name, " ", "_"), func(t *testing.T) {
			base := takeBaseline(t)
			client, src := tcpPair(t)
			dst, server := tcpPair(t)
			r, err := NewRelay()
			if err != nil {
				t.Fatal(err)
			}
			r.Bind(dst, src)
			done := make(chan struct{})
			if strings.HasPrefix(f.name, "slow reader") || strings.HasPrefix(f.name, "destination closed") {
				close(done) // these need a server that does not read
			} else {
				go func() { io.Copy(io.Discard, server); close(done) }()
			}
			err = f.run(t, client, src, dst, server, r)
			if !f.check(err) {
				t.Fatalf("error = %v", err)
			}
			r.Close()
			for _, c := range []*net.TCPConn{client, src, dst, server} {
				c.Close()
			}
			<-done
			base.check(t)
		})
	}
}

func TestTunnelHalfClose(t *testing.T) {
	base := takeBaseline(t)
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	up := bytes.Repeat([]byte("u"), 3<<20)
	down := bytes.Repeat([]byte("d"), 1<<20)
	var gotUp, gotDown []byte
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client: send all, half-close, then read the reply
		defer wg.Done()
		client.Write(up)
		client.CloseWrite()
		gotDown, _ = io.ReadAll(client)
	}()
	go func() { // server: read to EOF (sees the half-close), then reply
		defer wg.Done()
		gotUp, _ = io.ReadAll(server)
		server.Write(down)
		server.CloseWrite()
	}()
	st, err := Tunnel(context.Background(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(gotUp, up) || !bytes.Equal(gotDown, down) {
		t.Fatalf("tunnel moved %d/%d up and %d/%d down", len(gotUp), len(up), len(gotDown), len(down))
	}
	if st.AToB.BytesOut != uint64(len(up)) || st.BToA.BytesOut != uint64(len(down)) {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range []*net.TCPConn{client, a, b, server} {
		c.Close()
	}
	base.check(t)
}

func TestBufferHeadAndWritev(t *testing.T) {
	client, src := tcpPair(t)
	dst, server := tcpPair(t)
	defer func() {
		for _, c := range []*net.TCPConn{client, src, dst, server} {
			c.Close()
		}
	}()
	client.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"))
	head, err := NewBuffer()
	if err != nil {
		t.Fatal(err)
	}
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
	n, err := WriteBuffers(out, head)
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
}

// TestBufferCgoCallsAndAllocs: ReadFrom is one cgo call when the socket is readable (and
// drops the bytes consumed before it in that call); UnsafeBytes, Len and Consume make none;
// none of them allocates.
func TestBufferCgoCallsAndAllocs(t *testing.T) {
	client, src := tcpPair(t)
	defer client.Close()
	defer src.Close()
	b, err := NewBuffer()
	if err != nil {
		t.Fatal(err)
	}
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

// engineIntegrity runs conns tunnels through an engine at once, each echoing a random
// payload (some reset halfway), and checks SHA-256 of sent == received for the others.
func engineIntegrity(t *testing.T, conns, maxSize int, seed uint64) (total int64) {
	e, err := NewEngine(2, conns+16)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	type result struct {
		id     uint64
		reset  bool
		size   int
		sent   [32]byte
		got    [32]byte
		gotLen int
	}
	results := make([]result, conns)
	var wg sync.WaitGroup
	var totalMu sync.Mutex
	for i := range conns {
		client, a := tcpPair(t)
		b, server := tcpPair(t)
		if err := e.SubmitTunnel(uint64(i), a, b); err != nil {
			t.Fatal(err)
		}
		a.Close() // the engine holds its own duplicates
		b.Close()
		size := rng.IntN(maxSize)
		reset := rng.IntN(10) == 0
		results[i] = result{id: uint64(i), reset: reset, size: size}
		seedI := rng.Uint64()
		wg.Add(2)
		go func() { // echo server
			defer wg.Done()
			defer server.Close()
			io.Copy(server, server)
			server.CloseWrite()
		}()
		go func() {
			defer wg.Done()
			defer client.Close()
			data := make([]byte, size)
			r := rand.New(rand.NewPCG(seedI, 7))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			results[i].sent = sha256.Sum256(data)
			if reset {
				client.Write(data[:size/2])
				client.SetLinger(0)
				return
			}
			go func() { client.Write(data); client.CloseWrite() }()
			h := sha256.New()
			n, _ := io.Copy(h, client)
			copy(results[i].got[:], h.Sum(nil))
			results[i].gotLen = int(n)
			totalMu.Lock()
			total += n
			totalMu.Unlock()
		}()
	}
	comps := make([]Completion, 64)
	byID := map[uint64]Completion{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for len(byID) < conns {
		n, err := e.Wait(ctx, comps)
		if err != nil {
			t.Fatalf("Wait after %d completions: %v", len(byID), err)
		}
		for _, c := range comps[:n] {
			byID[c.ID] = c
		}
	}
	wg.Wait()
	for _, r := range results {
		c := byID[r.id]
		if r.reset {
			continue // any clean ending is fine; the fd and heap checks cover the rest
		}
		if c.Err != nil || r.gotLen != r.size || r.got != r.sent {
			t.Fatalf("conn %d: size %d got %d, err %v, SHA-256 equal %v", r.id, r.size, r.gotLen, c.Err, r.got == r.sent)
		}
		if c.Forward != uint64(r.size) || c.Backward != uint64(r.size) {
			t.Fatalf("conn %d: completion %+v", r.id, c)
		}
	}
	if n, _ := e.InFlight(); n != 0 {
		t.Fatalf("in flight %d", n)
	}
	return total
}

func TestEngineIntegrity(t *testing.T) {
	base := takeBaseline(t)
	engineIntegrity(t, 64, 1<<20, 42)
	base.check(t)
}

func TestEngineCancelAndClose(t *testing.T) {
	base := takeBaseline(t)
	e, err := NewEngine(1, 4)
	if err != nil {
		t.Fatal(err)
	}
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	if err := e.SubmitTunnel(7, a, b); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	e.Cancel(7)
	comps := make([]Completion, 4)
	n, err := e.Wait(context.Background(), comps)
	if err != nil || n != 1 || comps[0].ID != 7 || !errors.Is(comps[0].Err, ErrCanceled) {
		t.Fatalf("Wait = %d, %v, %+v", n, err, comps[0])
	}
	// The tunnel's sockets are closed: the client sees EOF.
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after cancel = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := e.Wait(ctx, comps); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with nothing pending = %v", err)
	}
	e.Close()
	e.Close()
	if err := e.SubmitTunnel(8, client, server); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after Close = %v", err)
	}
	client.Close()
	server.Close()
	base.check(t)
}

func TestEngineBodies(t *testing.T) {
	base := takeBaseline(t)
	e, err := NewEngine(1, 8)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		f       Framing
		in, out string
		err     error
	}{
		{Exact(5), "helloNEXT", "hello", nil},
		{Dechunked(), "3\r\nabc\r\n0\r\n\r\n", "abc", nil},
		{Chunked(), "3\r\nabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n", nil},
		{Chunked(), "g\r\n", "", ErrBadChunk},
		{Exact(100), "short", "short", ErrUnexpectedEOF},
	}
	var servers []*net.TCPConn
	for i, c := range cases {
		client, src := tcpPair(t)
		dst, server := tcpPair(t)
		if err := e.SubmitBody(uint64(i), src, dst, c.f); err != nil {
			t.Fatal(err)
		}
		src.Close()
		dst.Close()
		client.Write([]byte(c.in))
		client.CloseWrite()
		servers = append(servers, server, client)
	}
	got := map[uint64]Completion{}
	comps := make([]Completion, 8)
	for len(got) < len(cases) {
		n, err := e.Wait(context.Background(), comps)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range comps[:n] {
			got[c.ID] = c
		}
	}
	for i, c := range cases {
		out, _ := io.ReadAll(servers[2*i])
		servers[2*i].Close()
		servers[2*i+1].Close()
		comp := got[uint64(i)]
		if c.err == nil && (comp.Err != nil || string(out) != c.out) {
			t.Errorf("case %d: got %q, %v", i, out, comp.Err)
		}
		if c.err != nil && !errors.Is(comp.Err, c.err) {
			t.Errorf("case %d: error %v, want %v", i, comp.Err, c.err)
		}
	}
	e.Close()
	base.check(t)
}

func TestTunnelResetStopsBothDirections(t *testing.T) {
	base := takeBaseline(t)
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	go func() {
		client.Write([]byte("some bytes"))
		a.Write([]byte("unread")) // unread data in client's receive queue: closing sends RST
		time.Sleep(30 * time.Millisecond)
		client.SetLinger(0)
		client.Close()
	}()
	// The server neither sends nor closes: only the reset can end the tunnel.
	done := make(chan error, 1)
	go func() {
		_, err := Tunnel(context.Background(), a, b)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionReset) && !errors.Is(err, ErrBrokenPipe) {
			t.Fatalf("Tunnel = %v, want a reset", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Tunnel did not end after a reset")
	}
	for _, c := range []*net.TCPConn{a, b, server} {
		c.Close()
	}
	base.check(t)
}

// sessionRig is an engine with one worker, a client pair (client, c) and an upstream pair
// (u, up) of connections, and two Buffers, all closed when the test ends.
func sessionRig(t *testing.T) (e *Engine, client, c, u, up *net.TCPConn, cbuf, ubuf *Buffer) {
	e, err := NewEngine(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	client, c = tcpPair(t)
	u, up = tcpPair(t)
	if cbuf, err = NewBuffer(); err != nil {
		t.Fatal(err)
	}
	if ubuf, err = NewBuffer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ubuf.Close()
		cbuf.Close()
		for _, x := range []*net.TCPConn{client, c, u, up} {
			x.Close()
		}
		e.Close()
	})
	return e, client, c, u, up, cbuf, ubuf
}

// TestEngineSession: the engine serves keep-alive exchanges on a client/upstream pair, hands
// a chunked request back with its bytes in the client Buffer, and returns both Buffers.
func TestEngineSession(t *testing.T) {
	e, client, c, u, up, cbuf, ubuf := sessionRig(t)
	go func() { // the upstream: answers every request head with "OK"
		br := bufio.NewReader(up)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Header.Get("X-Forwarded-For") != "192.0.2.9" || req.Host != "up:1" {
				up.Write([]byte("HTTP/1.1 500 Bad\r\nContent-Length: 0\r\n\r\n"))
				continue
			}
			up.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"))
		}
	}()
	opts := &SessionOptions{ClientIP: "192.0.2.9", SetHost: true, Host: "up:1", Via: "offheap"}
	if err := e.SubmitSession(1, c, u, cbuf, ubuf, opts); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(client)
	for i := range 3 {
		fmt.Fprintf(client, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "OK" || resp.Header.Get("Via") != "1.1 offheap" {
			t.Fatalf("response %d: %d %q via %q", i, resp.StatusCode, body, resp.Header.Get("Via"))
		}
	}
	chunked := "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	client.Write([]byte(chunked))
	comps := make([]Completion, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := e.Wait(ctx, comps)
	if err != nil || n != 1 {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	got := comps[0]
	if got.ID != 1 || got.Err != nil || got.Session != SessionRequest || !got.UpstreamReusable ||
		got.Requests != 3 || got.Responses != 3 {
		t.Fatalf("completion %+v", got)
	}
	if got.ClientFd < 0 || got.UpstreamFd < 0 {
		t.Fatalf("fds not given back: %+v", got)
	}
	syscall.Close(got.ClientFd)
	syscall.Close(got.UpstreamFd)
	if string(cbuf.UnsafeBytes()) != chunked {
		t.Fatalf("client buffer %q", cbuf.UnsafeBytes())
	}
	// The buffers work again: consume the handed-back request.
	if err := cbuf.Consume(len(chunked)); err != nil || cbuf.Len() != 0 {
		t.Fatalf("Consume: %v, %d left", err, cbuf.Len())
	}
}

// TestEngineSessionSubmitCostsOneCgoCallAndNoAllocation: a submission (its buffers holding no
// counted consumes) is one cgo call, and a submit-and-complete round allocates nothing over
// connections whose RawConn is fetched once (as examples/proxy's are).
func TestEngineSessionSubmitCostsOneCgoCallAndNoAllocation(t *testing.T) {
	e, _, c, u, _, cbuf, ubuf := sessionRig(t)
	// An idle session comes back after RequestTimeout; the connections stay open on this side.
	opts := &SessionOptions{ClientIP: "192.0.2.9", Via: "offheap", RequestTimeout: time.Millisecond}
	comps := make([]Completion, 4)
	ctx := context.Background()
	cc, uc := cached(t, c), cached(t, u)
	calls := int64(-1)
	round := func() {
		before := runtime.NumCgoCall()
		if err := e.SubmitSession(1, cc, uc, cbuf, ubuf, opts); err != nil {
			t.Fatal(err)
		}
		if calls < 0 {
			calls = runtime.NumCgoCall() - before
		}
		n, err := e.Wait(ctx, comps)
		if err != nil || n != 1 || comps[0].Session != SessionRequest || comps[0].Err != nil {
			t.Fatalf("Wait = %d, %v, %+v", n, err, comps[0])
		}
		syscall.Close(comps[0].ClientFd)
		syscall.Close(comps[0].UpstreamFd)
	}
	round()
	if calls != 1 {
		t.Fatalf("SubmitSession made %d cgo calls, want 1", calls)
	}
	if n := testing.AllocsPerRun(10, round); n != 0 {
		t.Fatalf("%.1f allocations per submit-and-complete round, want 0", n)
	}
}
