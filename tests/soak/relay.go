package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/tests/loopback"
)

// The relay workloads: bodies through Relay.Copy (every framing, splice and copy paths) and
// tunnels through one shared Engine, with peer resets, short bodies, malformed chunks,
// cancelled contexts and connections closed by Go mid-relay. Integrity: a relay that reports
// success delivered exactly the expected bytes (SHA-256); a faulted one fails as documented.

func init() {
	register(&workload{name: "relay", run: relayBody})
	eng := &engineLoad{}
	register(&workload{name: "engine", start: eng.start, run: eng.tunnel, finish: eng.finish})
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b[:n]
}

func randomSize(rng *rand.Rand) int {
	switch rng.IntN(4) {
	case 0:
		return rng.IntN(64)
	case 1:
		return rng.IntN(16 << 10)
	default:
		return rng.IntN(512 << 10)
	}
}

func chunked(payload []byte, rng *rand.Rand) []byte {
	var out bytes.Buffer
	for i := 0; i < len(payload); {
		n := min(1+rng.IntN(40000), len(payload)-i)
		fmt.Fprintf(&out, "%x\r\n", n)
		out.Write(payload[i : i+n])
		out.WriteString("\r\n")
		i += n
	}
	out.WriteString("0\r\nX-Checksum: soak\r\n\r\n")
	return out.Bytes()
}

var nextRequest = []byte("GET /next HTTP/1.1\r\nHost: soak\r\n\r\n")

// relayBody relays one body between two loopback TCP connections.
func relayBody(ctx context.Context, rng *rand.Rand, faults float64, t *tally) {
	client, src, dst, server, err := loopback.Ends()
	if err != nil {
		t.fail("%v", err)
		return
	}
	payload := randomBytes(rng, randomSize(rng))
	var f offheap.Framing
	var wire, want []byte
	kind := rng.IntN(4)
	switch kind {
	case 0:
		f, wire, want = offheap.Exact(int64(len(payload))), payload, payload
	case 1:
		wire = chunked(payload, rng)
		f, want = offheap.Chunked(), wire
	case 2:
		f, wire, want = offheap.Dechunked(), chunked(payload, rng), payload
	default:
		f, wire, want = offheap.UntilEOF(), payload, payload
	}
	fault := ""
	if rng.Float64() < faults {
		choices := []string{"reset", "cancel", "close"}
		switch kind {
		case 0:
			choices = append(choices, "short")
		case 1, 2:
			choices = append(choices, "badchunk")
		}
		fault = choices[rng.IntN(len(choices))]
		if fault == "short" && len(wire) == 0 {
			fault = "" // nothing to cut
		} else {
			t.fault(fault)
		}
	}
	if fault == "reset" && len(wire) < 2 {
		wire = append(append([]byte{}, wire...), '0', '0') // something to cut in half
	}
	input := wire
	if kind != 3 {
		input = append(append([]byte{}, wire...), nextRequest...)
	}
	if fault == "badchunk" {
		input = append([]byte("g"), input...)
	}
	slow := fault == "cancel" || fault == "close"
	// The writer goroutine must not use rng (not safe for concurrent use): draw now.
	shortBy := 1 + rng.IntN(len(wire)+1)/2
	pause := time.Duration(1+rng.IntN(5)) * time.Millisecond
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the client sends the body
		defer wg.Done()
		switch fault {
		case "reset":
			client.Write(input[:len(wire)/2])
			client.SetLinger(0)
			client.Close()
			return
		case "short":
			client.Write(input[:max(0, len(wire)-shortBy)])
		default:
			if slow {
				client.Write(input[:len(input)/2])
				time.Sleep(pause)
				client.Write(input[len(input)/2:])
			} else {
				client.Write(input)
			}
		}
		client.CloseWrite()
	}()
	var got [32]byte
	var gotN int64
	go func() { // the server receives it
		defer wg.Done()
		h := sha256.New()
		gotN, _ = io.Copy(h, server)
		copy(got[:], h.Sum(nil))
	}()
	r, err := offheap.NewRelay()
	if err != nil {
		t.fail("NewRelay: %v", err)
	} else {
		r.SetSplice(rng.IntN(3) != 0)
		if err := r.Bind(src, dst); err != nil {
			t.fail("Bind: %v", err)
		}
		cctx := context.Background()
		if fault == "cancel" {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(4000))*time.Microsecond)
			defer cancel()
		}
		if fault == "close" {
			timer := time.AfterFunc(time.Duration(rng.IntN(4000))*time.Microsecond, func() { src.Close() })
			defer timer.Stop()
		}
		st, err := r.Copy(cctx, f)
		r.Close()
		dst.Close()
		src.Close()
		wg.Wait()
		// A reset after half the wire fails the relay unless that half already held the body.
		mustFail := fault == "short" || fault == "badchunk" ||
			(fault == "reset" && (kind == 1 || kind == 2 || (kind == 0 && len(wire)/2 < len(payload))))
		check(t, fault, kind, mustFail, err, st, got, gotN, want)
	}
	dst.Close()
	src.Close()
	wg.Wait()
	client.Close()
	server.Close()
}

func check(t *tally, fault string, kind int, mustFail bool, err error, st offheap.RelayStats, got [32]byte, gotN int64, want []byte) {
	t.ops.Add(1)
	t.bytes.Add(int64(st.BytesOut))
	if err == nil {
		// Success, fault or not, means the body arrived exactly.
		if got != sha256.Sum256(want) || gotN != int64(len(want)) || st.BytesOut != uint64(len(want)) {
			t.fail("framing %d fault %q: success but %d bytes arrived (want %d), SHA-256 equal %v",
				kind, fault, gotN, len(want), got == sha256.Sum256(want))
		}
		if mustFail {
			t.fail("framing %d fault %q: the relay reported success", kind, fault)
		}
		return
	}
	switch fault {
	case "":
		t.fail("framing %d, %d bytes, no fault: %v", kind, len(want), err)
	case "short":
		if !errors.Is(err, offheap.ErrUnexpectedEOF) {
			t.fail("short body: %v, want ErrUnexpectedEOF", err)
		}
	case "badchunk":
		if !errors.Is(err, offheap.ErrBadChunk) {
			t.fail("malformed chunk: %v, want ErrBadChunk", err)
		}
	case "cancel":
		if !errors.Is(err, context.DeadlineExceeded) {
			t.fail("cancelled relay: %v, want context.DeadlineExceeded", err)
		}
	}
}

// engineLoad runs tunnels through one shared Engine; a dispatcher goroutine hands each
// completion to the tunnel that waits for it.
type engineLoad struct {
	e       *offheap.Engine
	ids     atomic.Uint64
	pending sync.Map // id -> chan offheap.Completion
	cancel  context.CancelFunc
	done    chan struct{}
}

func (l *engineLoad) start() error {
	e, err := offheap.NewEngine(2, 4096)
	if err != nil {
		return err
	}
	l.e = e
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		comps := make([]offheap.Completion, 64)
		for {
			n, err := e.Wait(ctx, comps)
			if err != nil {
				return
			}
			for _, c := range comps[:n] {
				if ch, ok := l.pending.LoadAndDelete(c.ID); ok {
					ch.(chan offheap.Completion) <- c
				}
			}
		}
	}()
	return nil
}

func (l *engineLoad) finish(t *tally) {
	l.cancel()
	<-l.done
	if n, _ := l.e.InFlight(); n != 0 {
		t.fail("engine: %d jobs still in flight after the load", n)
	}
	l.e.Close()
}

// tunnel echoes a random payload through an engine tunnel (client → a ⇄ b → echo server).
// await returns the completion of job id (a tunnel or a session, what) from ch, its channel
// of the dispatcher. A job still running after 2 minutes is a failure: await cancels it, so
// its completion comes.
func (l *engineLoad) await(ch <-chan offheap.Completion, id uint64, what string, t *tally) offheap.Completion {
	select {
	case c := <-ch:
		return c
	case <-time.After(2 * time.Minute):
		t.fail("%s %d: no completion after 2 minutes", what, id)
		l.e.Cancel(id)
		return <-ch
	}
}

func (l *engineLoad) tunnel(ctx context.Context, rng *rand.Rand, faults float64, t *tally) {
	id := l.ids.Add(1)
	ch := make(chan offheap.Completion, 1)
	l.pending.Store(id, ch)
	client, server, err := loopback.Handed(func(a, b offheap.Conn) error { return l.e.SubmitTunnel(id, a, b) })
	if err != nil {
		l.pending.Delete(id)
		t.fail("SubmitTunnel: %v", err)
		return
	}
	payload := randomBytes(rng, randomSize(rng))
	reset := rng.Float64() < faults
	if reset {
		t.fault("reset")
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // echo server
		defer wg.Done()
		io.Copy(server, server)
		server.CloseWrite()
	}()
	var got [32]byte
	var gotN int64
	go func() {
		defer wg.Done()
		if reset {
			client.Write(payload[:len(payload)/2])
			client.SetLinger(0)
			client.Close()
			return
		}
		go func() { client.Write(payload); client.CloseWrite() }()
		h := sha256.New()
		gotN, _ = io.Copy(h, client)
		copy(got[:], h.Sum(nil))
	}()
	c := l.await(ch, id, "tunnel", t)
	wg.Wait()
	client.Close()
	server.Close()
	t.ops.Add(1)
	t.bytes.Add(int64(c.Forward + c.Backward))
	if reset {
		return // any ending is fine; the baseline checks cover the rest
	}
	if c.Err != nil || gotN != int64(len(payload)) || got != sha256.Sum256(payload) ||
		c.Forward != uint64(len(payload)) || c.Backward != uint64(len(payload)) {
		t.fail("tunnel %d: %d bytes, echoed %d, SHA-256 equal %v, completion %+v",
			id, len(payload), gotN, got == sha256.Sum256(payload), c)
	}
}
