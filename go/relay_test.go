//go:build cgo

package offheap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

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
	received := collect(server)
	r := boundRelay(t, src, dst)
	defer r.Close()
	r.SetSplice(!noSplice)
	st, err = r.Copy(context.Background(), f)
	dst.Close()
	got = received()
	left, _ = io.ReadAll(src)
	return got, left, st, err
}

// chunkEncode frames data as chunks of random sizes up to maxChunk, then a trailer.
func chunkEncode(data []byte, rng *rand.Rand, maxChunk int) []byte {
	return chunkFrame(data, func() int { return 1 + rng.IntN(maxChunk) }, "X-Trailer: 1\r\n")
}

// chunkFrame frames data as chunks of the sizes size returns in turn (cut to what is left),
// then the last chunk and trailer (header lines, each ending in CRLF; "" for none).
func chunkFrame(data []byte, size func() int, trailer string) []byte {
	var out bytes.Buffer
	for i := 0; i < len(data); {
		n := min(size(), len(data)-i)
		fmt.Fprintf(&out, "%x\r\n", n)
		out.Write(data[i : i+n])
		out.WriteString("\r\n")
		i += n
	}
	out.WriteString("0\r\n" + trailer + "\r\n")
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
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: received %d bytes, want %d (contents differ)", name, len(got), len(want))
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
	client, src, dst, server := relayConns(t)
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
	r.Bind(src, dst)
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
	r.Bind(src, dst)
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
		r.Bind(a, b) // reads a, writes b: what it writes arrives at a again
		r.SetSplice(!noSplice)
		// Cancel once the process-wide counters show more than one step's limit moved (on a
		// loaded machine a fixed timeout can end the Copy inside its first step).
		ctx, cancel := context.WithCancel(context.Background())
		before, _ := ReadRelayCounters()
		canceled := make(chan time.Time, 1)
		go func() {
			defer func() { canceled <- time.Now(); cancel() }()
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				rc, _ := ReadRelayCounters()
				if rc.BytesCopied+rc.BytesSpliced-before.BytesCopied-before.BytesSpliced > 2*relayStepLimit {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		st, err := r.Copy(ctx, UntilEOF())
		returned := time.Now()
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("noSplice=%v: Copy = %v, want ErrCanceled", noSplice, err)
		}
		if el := returned.Sub(<-canceled); el > 5*time.Second {
			t.Fatalf("noSplice=%v: Copy returned %v after the cancel", noSplice, el)
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
	// badChunk: the client sends input, a chunked body malformed where the status code says;
	// Copy with f fails with ErrBadChunk naming that code.
	badChunk := func(name, input string, f Framing, code string) fault {
		return fault{name, func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go client.Write([]byte(input))
			_, err := r.Copy(context.Background(), f)
			return err
		}, func(err error) bool { return errors.Is(err, ErrBadChunk) && strings.Contains(err.Error(), code) }}
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
		badChunk("chunk size overflow", "11111111111111111\r\n", Chunked(), "205"),
		badChunk("chunk size not hex", "zz\r\n", Dechunked(), "206"),
		badChunk("chunk missing CRLF", "3\r\nabcX", Chunked(), "207"),
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
			r.SetDeadline(time.Now().Add(300 * time.Millisecond)) // the relay's, not dst's
			st, err := r.Copy(context.Background(), UntilEOF())
			if held := st.BytesIn - st.BytesOut; held > 1<<20+4<<20 {
				t.Errorf("relay held %d bytes", held)
			}
			return err
		}, func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{"connection closed by Go mid-relay", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			// The relay waits through its poller, not on src: closing src does not wake it,
			// its deadline does, and the next step finds src closed.
			r.SetDeadline(time.Now().Add(200 * time.Millisecond))
			go func() { time.Sleep(50 * time.Millisecond); src.Close() }()
			if _, err := r.Copy(context.Background(), Exact(1000)); !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("first Copy: %w, want the relay's deadline", err)
			}
			r.SetDeadline(time.Time{})
			_, err := r.Copy(context.Background(), Exact(1000))
			return err
		}, func(err error) bool {
			// A closed connection is not a closed relay: its own sentinel, which is also net.ErrClosed.
			return errors.Is(err, ErrConnClosed) && errors.Is(err, net.ErrClosed) && !errors.Is(err, ErrClosed)
		}},
		{"destination closed by Go mid-relay", func(t *testing.T, client, src, dst, server *net.TCPConn, r *Relay) error {
			go func() {
				time.Sleep(50 * time.Millisecond)
				dst.Close()
				client.Write([]byte("x")) // the relay steps, and finds its destination closed
			}()
			_, err := r.Copy(context.Background(), Exact(1000))
			return err
		}, func(err error) bool {
			return errors.Is(err, ErrConnClosed) && errors.Is(err, net.ErrClosed) && !errors.Is(err, ErrClosed) &&
				strings.Contains(err.Error(), "closed during the relay (status 203)")
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
			r.Bind(src, dst)
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
