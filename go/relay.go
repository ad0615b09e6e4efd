package offheap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is a connection a relay moves bytes from or to: *net.TCPConn, *net.UnixConn, or any
// connection with a file descriptor (syscall.Conn) and deadlines. The relay waits through the
// connection's own RawConn, so Go's netpoller does the waiting: deadlines apply, closing the
// connection stops the relay, and no OS thread blocks.
type Conn interface {
	syscall.Conn
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Framing says where a relayed body ends. The zero value relays nothing (Exact(0)).
type Framing struct {
	kind   uint32
	length uint64
}

// Framing kinds (offheap_framing).
const (
	framingExact     = 0
	framingChunked   = 1
	framingDechunked = 2
	framingUntilEOF  = 3
)

// Exact frames a body of exactly n bytes (Content-Length). Bytes after it stay unread in the
// source, ready for the next message. A negative n is treated as 0.
func Exact(n int64) Framing {
	if n < 0 {
		n = 0
	}
	return Framing{kind: framingExact, length: uint64(n)}
}

// Chunked frames a Transfer-Encoding: chunked body, validated while relaying and forwarded
// verbatim (chunk framing and trailers included). Bytes after the final CRLF stay unread.
func Chunked() Framing { return Framing{kind: framingChunked} }

// Dechunked is [Chunked], but only the payload is written to the destination.
func Dechunked() Framing { return Framing{kind: framingDechunked} }

// UntilEOF frames a body that ends when the source reaches end of file.
func UntilEOF() Framing { return Framing{kind: framingUntilEOF} }

// RelayStats counts the bytes of one relayed body (or one tunnel direction).
type RelayStats struct {
	BytesIn  uint64 // consumed from the source (chunk framing included)
	BytesOut uint64 // written to the destination
	Spliced  uint64 // of BytesOut, moved in the kernel with splice(2)
	Copied   uint64 // of BytesOut, copied through a Rust-owned buffer
}

// RelayCounters are the process-wide relay counters (see [ReadRelayCounters]). Its layout is
// the C offheap_relay_counters (the library writes it directly).
type RelayCounters struct {
	RelaysStarted uint64 // relays started (each tunnel direction counts one)
	RelaysDone    uint64 // relays that completed
	RelaysFailed  uint64 // relays that ended with an error
	BytesSpliced  uint64 // bytes moved with splice(2)
	BytesCopied   uint64 // bytes copied through Rust-owned buffers
	PipesCreated  uint64 // pipes created (pool misses)
	PipesLive     uint64 // pipes alive, in use or pooled
	BuffersLive   uint64 // Rust buffers alive, in use or pooled, bulk buffers included
	// BulkBuffersLive counts, of BuffersLive, the 4 MiB bulk buffers copying relays use for bulk
	// flows (at most 16 alive per process).
	BulkBuffersLive uint64
}

const (
	// relayStepLimit is the most bytes one step of a relay writes
	// (OFFHEAP_RELAY_STEP_LIMIT); the step then returns relayStateAgain and Copy steps again
	// at once.
	relayStepLimit = 4 << 20

	// Flags of a relay (offheap_relay_new, offheap_relay_reset).
	relayShutdownOnDone = 2 // shut the destination down for writing when the body is done
	relaySplice         = 4 // splice through a pooled pipe when both fds allow it

	// What a step waits for next (offheap_relay_state).
	relayStateWantRead  = 0
	relayStateWantWrite = 1
	relayStateDone      = 2
	relayStateAgain     = 3
)

// relayProgress is offheap_relay_progress: the state and the byte counts of a relay.
type relayProgress struct {
	state   uint32
	osErrno int32
	stats   RelayStats
}

// Relay moves bodies from one connection to another without the bytes touching the Go heap:
// Rust copies them through pooled Rust-owned buffers (4 MiB bulk buffers once a body is bulk),
// or splices them in the kernel through a pooled pipe after [Relay.SetSplice](true). Each
// readiness event costs one cgo call; the waiting is done by Go's netpoller.
//
// A Relay is bound to one pair of connections ([Relay.Bind]) and reused for every body on
// them; [Relay.Copy] allocates nothing. It is not safe for concurrent Copy calls; Close may be
// called from any goroutine.
//
// Each step of a Copy writes at most 4 MiB (OFFHEAP_RELAY_STEP_LIMIT) before Copy checks its
// context again, so a Copy whose source never runs dry (the destination is the source's own
// peer) still ends when the context does.
type Relay struct {
	h        handle
	id       uint64
	src, dst syscall.RawConn
	srcConn  Conn
	dstConn  Conn
	prog     *relayProgress // its own allocation: see library_cgo.go
	status   uint32
	srcFd    uintptr
	dstFd    uintptr
	flags    uint32
	woken    atomic.Bool
	wakeWG   sync.WaitGroup // one per armed wake-up; Copy waits for a wake that started
	// Method values made once, so the hot loop passes them to RawConn without allocating.
	onReadable, onWritable   func(uintptr) bool
	stepWithDst, stepWithSrc func(uintptr)
	wakeFn                   func()
}

// NewRelay creates a relay. Bind it to a pair of connections before Copy.
func NewRelay() (*Relay, error) {
	if initErr != nil {
		return nil, initErr
	}
	id, st := relayNew(framingExact, 0, 0)
	if st != statusOK {
		return nil, statusError("NewRelay", st)
	}
	r := &Relay{prog: new(relayProgress)}
	r.onReadable = r.readable
	r.onWritable = r.writable
	r.stepWithDst = r.stepDst
	r.stepWithSrc = r.stepSrc
	r.wakeFn = r.wake
	attach(&r.h, r, id, relayFree)
	return r, nil
}

// Bind sets the connections the following Copy calls relay between: from src to dst. It
// allocates (one RawConn per connection), so bind once per pair, not per body.
func (r *Relay) Bind(dst, src Conn) error {
	rs, err := src.SyscallConn()
	if err != nil {
		return &Error{Op: "Relay.Bind", Err: fmt.Errorf("%w: source: %w", ErrInvalidArgument, err)}
	}
	rd, err := dst.SyscallConn()
	if err != nil {
		return &Error{Op: "Relay.Bind", Err: fmt.Errorf("%w: destination: %w", ErrInvalidArgument, err)}
	}
	r.src, r.dst, r.srcConn, r.dstConn = rs, rd, src, dst
	return nil
}

// SetSplice chooses whether later Copy calls splice(2) through a pooled pipe when both
// connections allow it, or copy through Rust buffers (the default: 4 MiB bulk buffers once a
// body is bulk). Copying measured faster and cheaper per GiB between loopback sockets
// (BENCHMARKS.md); splice can still pay where the kernel's copies cost more.
func (r *Relay) SetSplice(enabled bool) {
	if enabled {
		r.flags |= relaySplice
	} else {
		r.flags &^= relaySplice
	}
}

// Copy relays one body, framed by f, from the bound source to the bound destination, and
// returns its byte counts. It returns when the body is complete, or with an error: the
// library's (ErrUnexpectedEOF, ErrConnectionReset, ErrBrokenPipe, ErrBadChunk, ...), ctx's
// (errors.Is(err, context.Canceled)), a deadline of either connection
// (os.ErrDeadlineExceeded), or [ErrConnClosed] (which matches net.ErrClosed) when a
// connection is closed on this side during the relay. After an error the connections are in
// an unknown state: close them.
//
// With a context that can never be cancelled (context.Background) Copy allocates nothing.
func (r *Relay) Copy(ctx context.Context, f Framing) (RelayStats, error) {
	return r.copy(ctx, f, 0, "Relay.Copy")
}

func (r *Relay) copy(ctx context.Context, f Framing, extraFlags uint32, op string) (RelayStats, error) {
	id, ok := r.h.get()
	if !ok {
		return RelayStats{}, opError(op, ErrClosed)
	}
	if r.src == nil {
		return RelayStats{}, &Error{Op: op, Err: fmt.Errorf("%w: relay not bound to connections", ErrInvalidArgument)}
	}
	if st := relayReset(id, f.kind, f.length, r.flags|extraFlags); st != statusOK {
		runtime.KeepAlive(r)
		return RelayStats{}, statusError(op, st)
	}
	r.id = id
	r.woken.Store(false)
	var stop func() bool
	if done := ctx.Done(); done != nil {
		if err := ctx.Err(); err != nil {
			relayAbort(id, statusRelayCanceled)
			runtime.KeepAlive(r)
			return RelayStats{}, &Error{Op: op, Err: err}
		}
		r.wakeWG.Add(1)
		stop = context.AfterFunc(ctx, r.wakeFn)
	}
	r.status = statusOK
	*r.prog = relayProgress{}
	var ioErr error
	for r.status == statusOK && r.prog.state != relayStateDone {
		if r.prog.state == relayStateWantWrite {
			ioErr = r.dst.Write(r.onWritable)
		} else {
			ioErr = r.src.Read(r.onReadable)
		}
		if ioErr != nil {
			break
		}
	}
	if stop != nil {
		if stop() {
			r.wakeWG.Done() // the wake-up will never run
		} else {
			// The context fired: wait until its wake-up has set the deadlines, then undo them.
			r.wakeWG.Wait()
			r.srcConn.SetReadDeadline(time.Time{})
			r.dstConn.SetWriteDeadline(time.Time{})
		}
	}
	var err error
	switch {
	case ioErr != nil && r.woken.Load() && ctx.Err() != nil:
		relayAbort(id, statusRelayCanceled)
		err = &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())}
	case ioErr != nil:
		abort, sentinel := uint32(statusRelayCanceled), ErrCanceled
		if errors.Is(ioErr, os.ErrDeadlineExceeded) {
			abort, sentinel = statusRelayTimedOut, os.ErrDeadlineExceeded
		} else if errors.Is(ioErr, net.ErrClosed) || errors.Is(ioErr, os.ErrClosed) {
			abort, sentinel = statusRelayBadFd, ErrConnClosed
		}
		relayAbort(id, abort)
		err = &Error{Op: op, Err: fmt.Errorf("%w: %w", sentinel, ioErr)}
	case r.status != statusOK:
		err = statusError(op, r.status)
	}
	runtime.KeepAlive(r)
	return r.prog.stats, err
}

// readable runs inside src's RawConn.Read with the source fd; it borrows the destination fd
// through dst's RawConn.Control, so both fds stay open during the step.
func (r *Relay) readable(fd uintptr) bool {
	r.srcFd = fd
	if err := r.dst.Control(r.stepWithDst); err != nil {
		r.status = statusRelayBadFd
		return true
	}
	return r.status != statusOK || r.prog.state != relayStateWantRead
}

func (r *Relay) writable(fd uintptr) bool {
	r.dstFd = fd
	if err := r.src.Control(r.stepWithSrc); err != nil {
		r.status = statusRelayBadFd
		return true
	}
	return r.status != statusOK || r.prog.state != relayStateWantWrite
}

func (r *Relay) stepDst(dstFd uintptr) {
	r.status = relayStep(r.id, int32(r.srcFd), int32(dstFd), r.prog)
}

func (r *Relay) stepSrc(srcFd uintptr) {
	r.status = relayStep(r.id, int32(srcFd), int32(r.dstFd), r.prog)
}

// wake ends the netpoller wait of a Copy whose context fired.
func (r *Relay) wake() {
	defer r.wakeWG.Done()
	r.woken.Store(true)
	past := time.Unix(1, 0)
	r.srcConn.SetReadDeadline(past)
	r.dstConn.SetWriteDeadline(past)
}

// Close frees the relay (its pipe and buffer go back to the pools). Idempotent, safe from
// any goroutine; a Copy in progress on another goroutine finishes its current step first.
func (r *Relay) Close() error { return r.h.close("Relay.Close") }

// TunnelStats are the byte counts of both directions of a [Tunnel].
type TunnelStats struct {
	AToB, BToA RelayStats
}

// Tunnel relays both directions between a and b until both reach end of file (CONNECT,
// WebSocket after Upgrade), with half-close: when one side finishes sending, the other is
// shut down for writing and the opposite direction keeps flowing. It returns the first error
// of either direction (the other is then stopped) or ctx's error.
func Tunnel(ctx context.Context, a, b Conn) (TunnelStats, error) {
	ab, err := NewRelay()
	if err != nil {
		return TunnelStats{}, err
	}
	defer ab.Close()
	ba, err := NewRelay()
	if err != nil {
		return TunnelStats{}, err
	}
	defer ba.Close()
	if err := ab.Bind(b, a); err != nil {
		return TunnelStats{}, err
	}
	if err := ba.Bind(a, b); err != nil {
		return TunnelStats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var s TunnelStats
	var errBA error
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.BToA, errBA = ba.copy(ctx, UntilEOF(), relayShutdownOnDone, "Tunnel")
		if errBA != nil {
			cancel()
		}
	}()
	var errAB error
	s.AToB, errAB = ab.copy(ctx, UntilEOF(), relayShutdownOnDone, "Tunnel")
	if errAB != nil {
		cancel()
	}
	<-done
	// Report the error that ended the tunnel, not the cancellation it caused in the other
	// direction.
	switch {
	case errAB != nil && !(errors.Is(errAB, ErrCanceled) && errBA != nil):
		return s, errAB
	case errBA != nil:
		return s, errBA
	}
	return s, nil
}

// ReadRelayCounters reads the process-wide relay counters. It allocates nothing.
func ReadRelayCounters() (RelayCounters, error) {
	if initErr != nil {
		return RelayCounters{}, initErr
	}
	var c RelayCounters
	if st := relayGlobalStats(&c); st != statusOK {
		return RelayCounters{}, statusError("ReadRelayCounters", st)
	}
	return c, nil
}

// TrimRelayPools frees the relay's idle pooled pipes and buffers (they are reused otherwise).
func TrimRelayPools() {
	if initErr == nil {
		relayTrim()
	}
}
