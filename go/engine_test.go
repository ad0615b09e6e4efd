//go:build cgo

package offheap

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// engineIntegrity runs conns tunnels through an engine at once, each echoing a random
// payload (some reset halfway), and checks SHA-256 of sent == received for the others.
func engineIntegrity(t *testing.T, conns, maxSize int, seed uint64) (total int64) {
	e := newEngine(t, 2, conns+16)
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

// newEngine starts an engine of workers workers and at most maxJobs jobs, or fails the test.
func newEngine(t testing.TB, workers, maxJobs int) *Engine {
	t.Helper()
	e, err := NewEngine(workers, maxJobs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEngineIntegrity(t *testing.T) {
	base := takeBaseline(t)
	engineIntegrity(t, 64, 1<<20, 42)
	base.check(t)
}

func TestEngineCancelAndClose(t *testing.T) {
	base := takeBaseline(t)
	e := newEngine(t, 1, 4)
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
	e := newEngine(t, 1, 8)
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

// sessionRig is an engine with one worker, a client pair (client, c) and an upstream pair
// (u, up) of connections, and two Buffers, all closed when the test ends.
func sessionRig(t *testing.T) (e *Engine, client, c, u, up *net.TCPConn, cbuf, ubuf *Buffer) {
	e = newEngine(t, 1, 16)
	client, c = tcpPair(t)
	u, up = tcpPair(t)
	cbuf, ubuf = newBuffer(t), newBuffer(t)
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

// TestEngineSessionOptionStringsHaveALimit: the four rewrite strings of a session travel in
// one 1 KiB array; more is ErrTooLarge before anything is submitted, and the engine takes the
// next session.
func TestEngineSessionOptionStringsHaveALimit(t *testing.T) {
	e, _, c, u, _, cbuf, ubuf := sessionRig(t)
	long := make([]byte, 600)
	for i := range long {
		long[i] = 'x'
	}
	opts := &SessionOptions{Host: string(long), SetHost: true, Via: string(long), RequestTimeout: time.Millisecond}
	if err := e.SubmitSession(1, c, u, cbuf, ubuf, opts); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1200 bytes of strings: %v, want ErrTooLarge", err)
	}
	opts.Via = "offheap"
	if err := e.SubmitSession(1, c, u, cbuf, ubuf, opts); err != nil {
		t.Fatalf("then 607 bytes: %v", err)
	}
	comps := make([]Completion, 1)
	if n, err := e.Wait(context.Background(), comps); err != nil || n != 1 || comps[0].Session != SessionRequest {
		t.Fatalf("Wait = %d, %v, %+v", n, err, comps[0])
	}
	syscall.Close(comps[0].ClientFd)
	syscall.Close(comps[0].UpstreamFd)
}
