//go:build cgo

package offheap

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// wakeBound is how soon Close must end a call blocked on an idle connection. The median of
// wakeTrials wakes must be within it (a loaded machine may delay one); none may take a second.
const (
	wakeBound  = 10 * time.Millisecond
	wakeTrials = 5
)

// wakeTimes runs block wakeTrials times: each call blocks until close ends it, and must then
// return an error matching want, within bound (median). It logs how long after close each
// call returned.
func wakeTimes(t *testing.T, name string, want error, bound time.Duration, setup func(t *testing.T) (block func() error, close, cleanup func())) {
	t.Helper()
	base := takeBaseline(t)
	var took []time.Duration
	for range wakeTrials {
		block, closeFn, cleanup := setup(t)
		defer cleanup()
		done := make(chan error, 1)
		go func() { done <- block() }()
		time.Sleep(20 * time.Millisecond) // let it park in the netpoller
		select {
		case err := <-done:
			t.Fatalf("%s returned before Close: %v", name, err)
		default:
		}
		start := time.Now()
		closeFn()
		select {
		case err := <-done:
			took = append(took, time.Since(start))
			if !errors.Is(err, want) {
				t.Fatalf("%s after Close = %v, want %v", name, err, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("%s still blocked 1 s after Close", name)
		}
		cleanup()
	}
	slices.Sort(took)
	t.Logf("%s: Close woke it after %v", name, took)
	if med := took[len(took)/2]; med > bound {
		t.Fatalf("%s: Close woke it after %v (median of %v), want at most %v", name, med, took, bound)
	}
	base.check(t)
}

// idleBuffer returns both ends of a connection whose client sends nothing, the RawConn of the
// server's end and a buffer to read it into.
func idleBuffer(t *testing.T) (client, src *net.TCPConn, raw syscall.RawConn, b *Buffer) {
	client, src = tcpPair(t)
	raw, err := src.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if b, err = NewBuffer(); err != nil {
		t.Fatal(err)
	}
	return client, src, raw, b
}

// closedConns returns the four ends of a relay's two connections, which the caller closes.
func closedConns(t *testing.T) (client, src, dst, server *net.TCPConn) {
	client, src = tcpPair(t)
	dst, server = tcpPair(t)
	return client, src, dst, server
}

// closeAll returns a func that closes conns (the goroutines blocked on them end).
func closeAll[C io.Closer](conns ...C) func() {
	return func() {
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestCloseWakesBlockedCalls: Close of an object ends a call of another goroutine that waits
// on it (an idle peer, no completion) promptly with ErrClosed, and leaves no fd, goroutine or
// Rust memory behind.
func TestCloseWakesBlockedCalls(t *testing.T) {
	t.Run("Relay.Copy", func(t *testing.T) {
		wakeTimes(t, "Relay.Copy", ErrClosed, wakeBound, func(t *testing.T) (func() error, func(), func()) {
			client, src, dst, server := closedConns(t) // the client sends nothing: the relay waits to read
			r := boundRelay(t, src, dst)
			return func() error { _, err := r.Copy(context.Background(), Exact(1000)); return err },
				func() { r.Close() }, closeAll(client, src, dst, server)
		})
	})
	t.Run("Relay.Copy to a full destination", func(t *testing.T) {
		wakeTimes(t, "Relay.Copy", ErrClosed, wakeBound, func(t *testing.T) (func() error, func(), func()) {
			client, src, dst, server := closedConns(t) // the server reads nothing: the relay waits to write
			go client.Write(make([]byte, 16<<20))
			r := boundRelay(t, src, dst)
			return func() error { _, err := r.Copy(context.Background(), Exact(16<<20)); return err },
				func() { r.Close() }, closeAll(client, src, dst, server)
		})
	})
	t.Run("Buffer.ReadFrom", func(t *testing.T) {
		wakeTimes(t, "Buffer.ReadFrom", ErrClosed, wakeBound, func(t *testing.T) (func() error, func(), func()) {
			client, src, raw, b := idleBuffer(t)
			return func() error { _, err := b.ReadFrom(raw); return err }, func() { b.Close() }, closeAll(client, src)
		})
	})
	t.Run("Engine.Wait", func(t *testing.T) {
		wakeTimes(t, "Engine.Wait", ErrClosed, wakeBound, func(t *testing.T) (func() error, func(), func()) {
			e := newEngine(t, 1, 4)
			out := make([]Completion, 4)
			return func() error { _, err := e.Wait(context.Background(), out); return err }, func() { e.Close() }, func() {}
		})
	})
}

// TestClosingTheConnectionEndsAWait: a connection the caller closes while a Copy or a
// ReadFrom waits on it (its fd then reports no event) ends the call with ErrConnClosed within
// the poller's look for closed connections, as a net.Conn's Read ends when another goroutine
// closes it.
func TestClosingTheConnectionEndsAWait(t *testing.T) {
	bound := closedCheckEvery + 50*time.Millisecond
	for _, side := range []string{"source", "destination"} {
		t.Run("Relay.Copy, "+side+" closed", func(t *testing.T) {
			wakeTimes(t, "Relay.Copy", ErrConnClosed, bound, func(t *testing.T) (func() error, func(), func()) {
				client, src, dst, server := closedConns(t)
				r := boundRelay(t, src, dst)
				closed := map[string]*net.TCPConn{"source": src, "destination": dst}[side]
				return func() error { _, err := r.Copy(context.Background(), Exact(1000)); return err },
					func() { closed.Close() }, func() { r.Close(); closeAll(client, src, dst, server)() }
			})
		})
	}
	t.Run("Buffer.ReadFrom", func(t *testing.T) {
		wakeTimes(t, "Buffer.ReadFrom", ErrConnClosed, bound, func(t *testing.T) (func() error, func(), func()) {
			client, src, raw, b := idleBuffer(t)
			return func() error { _, err := b.ReadFrom(raw); return err }, func() { src.Close() },
				func() { b.Close(); client.Close() }
		})
	})
}

// TestCopyKeepsTheCallersDeadlines: a Copy ended by its context leaves the deadlines the
// caller set on its connections as they were: a read deadline set before still fires on time
// afterwards, and a connection without one still has none.
func TestCopyKeepsTheCallersDeadlines(t *testing.T) {
	client, src, dst, server := relayConns(t)
	go io.Copy(io.Discard, server)
	r := boundRelay(t, src, dst)
	defer r.Close()
	readDeadline := time.Now().Add(1500 * time.Millisecond)
	if err := src.SetReadDeadline(readDeadline); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Copy(ctx, Exact(1000)); !errors.Is(err, ErrCanceled) {
		t.Fatalf("Copy = %v, want ErrCanceled", err)
	}
	// The source's deadline is still the caller's: a read waits until it, not past it.
	read := make(chan error, 1)
	go func() { _, err := src.Read(make([]byte, 1)); read <- err }()
	var err error
	select {
	case err = <-read:
	case <-time.After(3 * time.Second):
		src.Close() // ends the read
		t.Fatal("read after Copy still blocked 1.5 s after the caller's read deadline: the deadline is gone")
	}
	late := time.Since(readDeadline)
	if !errors.Is(err, os.ErrDeadlineExceeded) || late < -100*time.Millisecond || late > time.Second {
		t.Fatalf("read after Copy: %v, %v after the caller's deadline; want the deadline, on time", err, late)
	}
	// The destination had no deadline and still has none: a write to a reading peer works.
	go func() { time.Sleep(50 * time.Millisecond); client.Write([]byte("x")) }()
	if _, err := dst.Write([]byte("y")); err != nil {
		t.Fatalf("write after Copy: %v, want the destination without a deadline", err)
	}
}
