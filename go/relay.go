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

// Conn is a connection with a file descriptor, which the library reads and writes itself:
// *net.TCPConn, *net.UnixConn, or any connection with a file descriptor (syscall.Conn) and
// deadlines. [Engine] jobs and [Tunnel] take these; [Relay.Bind] takes any [Endpoint].
type Conn interface {
	syscall.Conn
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Endpoint is either end of a [Relay]: a [Conn], which the library reads or writes with its
// file descriptor, or any other net.Conn, such as a *tls.Conn, which the relay reads
// (io.Reader) or writes (io.Writer) through the fallback that [Relay.Bind] describes.
type Endpoint interface {
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Framing says where a relayed body ends. The zero value relays nothing (Exact(0)).
type Framing struct {
	kind   uint32
	length uint64
}

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
	BytesIn  uint64 // taken from the pending bytes, then the source (chunk framing included)
	BytesOut uint64 // written to the destination
	Spliced  uint64 // of BytesOut, moved in the kernel with splice(2)
	Copied   uint64 // of BytesOut, copied through a Rust-owned buffer (or the fallback's)
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
	BuffersLive   uint64 // Rust buffers alive, in use or pooled, bulk and small buffers included
	// BulkBuffersLive counts, of BuffersLive, the 4 MiB bulk buffers copying relays use for bulk
	// flows (at most 16 alive per process).
	BulkBuffersLive uint64
	// SmallBuffersLive counts, of BuffersLive, the 4 KiB small buffers the engine reads request
	// and response heads into first (a head that fills one moves to a full-size buffer).
	SmallBuffersLive uint64
}

// relayProgress is offheap_relay_progress: the state and the byte counts of a relay.
type relayProgress struct {
	state   uint32
	osErrno int32
	stats   RelayStats
}

// relayFed is offheap_relay_fed: what a feed of the fallback did (abi_cgo_gen.go pins it).
type relayFed struct {
	taken, kept, readBound uint64
	progress               relayProgress
}

// Relay moves bodies from one connection to another without the bytes touching the Go heap:
// Rust copies them through pooled Rust-owned buffers (4 MiB bulk buffers once a body is bulk),
// or splices them in the kernel through a pooled pipe after [Relay.SetSplice](true). Each
// readiness event costs one cgo call; the waiting is done by Go's netpoller.
//
// A Relay is bound to one pair of connections ([Relay.Bind]) and reused for every body on
// them; [Relay.Copy] allocates nothing. It is not safe for concurrent Copy calls; Close may be
// called from any goroutine, and ends a Copy in progress at once with [ErrClosed].
//
// A relay waits for its connections through a poller of its own, never on the connections
// themselves: Copy is bounded by its context and by the relay's own deadline
// ([Relay.SetDeadline]); it neither reads nor changes the deadlines of the connections.
// Closing a connection ends a Copy waiting on it with [ErrConnClosed]: within 50 ms of the
// wait's start, later within a second (the poller looks for connections closed under it,
// since their fds report no event). To end a Copy,
// cancel its context, let the relay's deadline pass, close a connection, or Close the relay. (Connections without a file descriptor are the exception: see Bind.)
//
// A body may start with bytes the caller already read (its head's read took some of it):
// [Relay.CopyPending] and [Relay.CopyBuffered] relay them first, framed as the rest, then
// the source.
//
// Each step of a Copy writes at most 4 MiB (OFFHEAP_RELAY_STEP_LIMIT) and reads at most 1024
// times before Copy checks its context again, so a Copy whose source never runs dry (the
// destination is the source's own peer, or a peer trickling a few bytes per read) still ends
// when the context does, and no step holds its thread for long.
type Relay struct {
	h  handle
	id uint64

	// mu guards p, src, dst, deadline and fb where a Copy may be running: Bind changes what
	// the relay watches, Close and the context's wake-up end its waits, SetDeadline changes it.
	mu       sync.Mutex
	p        poller
	src, dst watch
	deadline time.Time // the relay's own (SetDeadline), kept on the poller
	check    waitCheck // a Copy's looks for connections the caller closed
	fb       fallback  // the connections, when Bind chose the fallback

	prog   *relayProgress // its own allocation: see library_cgo.go
	status uint32
	srcFd  uintptr
	flags  uint32
	woken  atomic.Bool
	wakeWG sync.WaitGroup // one per armed wake-up; Copy waits for a wake that started
	// Method values made once, so the hot loop passes them to RawConn without allocating.
	onReady         func(uintptr) bool
	withSrc, step   func(uintptr)
	wakeFn, closeFn func()
}

// NewRelay creates a relay. Bind it to a pair of connections before Copy.
func NewRelay() (*Relay, error) {
	r := &Relay{prog: new(relayProgress)}
	newFn := func() (uint64, uint32) { return relayNew(framingExact, 0, 0) }
	if err := create("NewRelay", r, &r.h, newFn, relayFree); err != nil {
		return nil, err
	}
	r.onReady = r.ready
	r.withSrc = r.stepWithSrc
	r.step = r.stepWithDst
	r.wakeFn = r.wake
	r.closeFn = r.wakeClosed
	return r, nil
}

// Bind sets the connections the following Copy calls relay between: from src to dst (source
// first, as everywhere in this package). When both are a [Conn] (a connection with a file
// descriptor), the relay's poller starts watching them (a few syscalls; a connection it
// watches already, the same Conn giving the same RawConn, costs nothing, so bind once per pair,
// not per body; a wrapper re-pointed at another connection is watched anew). Bind(nil, nil)
// lets go of both.
//
// Otherwise (a *tls.Conn, say) Bind chooses the fallback, which needs src to be an io.Reader
// and dst an io.Writer: Copy reads src and writes dst itself, through a 64 KiB buffer on the Go
// heap made once per relay, with the framing and the counters of the library (the bytes count
// as copied), and never reads past the body. It then waits in the connections' own Read and
// Write, so their deadlines bound it, and ends a wait the only way Go allows, with their
// deadlines: Copy sets the relay's deadline on both when one is set, and a Copy cancelled or
// closed sets them in the past. Set them again after such a Copy before using the connections.
func (r *Relay) Bind(src, dst Endpoint) error {
	const op = "Relay.Bind"
	if _, ok := r.h.acquire(); !ok {
		return opError(op, ErrClosed)
	}
	defer r.h.release()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fb.unbind()
	if src == nil && dst == nil {
		r.p.unwatch(&r.src, &r.dst)
		r.p.unwatch(&r.dst, &r.src)
		return nil
	}
	if src == nil || dst == nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: a nil connection", ErrInvalidArgument)}
	}
	s, sok := src.(Conn)
	d, dok := dst.(Conn)
	if !sok || !dok {
		r.p.unwatch(&r.src, &r.dst)
		r.p.unwatch(&r.dst, &r.src)
		if err := r.fb.bind(src, dst); err != nil {
			return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
		}
		return nil
	}
	if err := r.watchSide(&r.src, &r.dst, s, watchRead); err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: source: %w", ErrInvalidArgument, err)}
	}
	if err := r.watchSide(&r.dst, &r.src, d, watchWrite); err != nil {
		r.p.unwatch(&r.src, &r.dst)
		return &Error{Op: op, Err: fmt.Errorf("%w: destination: %w", ErrInvalidArgument, err)}
	}
	return r.p.setDeadline(r.deadline)
}

// watchSide makes w the watch of c.
func (r *Relay) watchSide(w, other *watch, c Conn, events uint32) error {
	raw, err := c.SyscallConn()
	if err == nil {
		err = r.p.watch(w, other, c, raw, events)
	}
	if err != nil {
		r.p.unwatch(w, other)
	}
	return err
}

// SetDeadline sets the relay's deadline: a Copy still waiting to read or to write past t fails
// with os.ErrDeadlineExceeded (a zero t: none). It stays set for later Copy calls, as a
// connection's does, and changes nothing on the connections themselves (except over the
// fallback: see Bind).
func (r *Relay) SetDeadline(t time.Time) error {
	return setPollerDeadline("Relay.SetDeadline", &r.h, &r.mu, &r.p, &r.deadline, t)
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
// (errors.Is(err, context.Canceled)), the relay's deadline (os.ErrDeadlineExceeded),
// [ErrConnClosed] (which matches net.ErrClosed) when a connection was closed on this side, or
// [ErrClosed] when the relay is closed during the Copy. After an error the connections are in
// an unknown state: close them.
//
// With a context that can never be cancelled (context.Background) Copy allocates nothing.
func (r *Relay) Copy(ctx context.Context, f Framing) (RelayStats, error) {
	return r.copy(ctx, f, nil, nil, 0, "Relay.Copy")
}

// CopyPending is [Relay.Copy] for a body whose first bytes the caller read already (with its
// head): pending holds them, and perhaps bytes past the body (a pipelined request). The relay
// sends the body's part of pending first, framed as the rest (a chunked body is picked up
// wherever pending ends, even inside a chunk), then reads the source. The body took the first
// min(BytesIn, len(pending)) bytes of pending; the rest is the caller's. pending may be
// reused once CopyPending returns. With context.Background it allocates nothing.
func (r *Relay) CopyPending(ctx context.Context, pending []byte, f Framing) (RelayStats, error) {
	return r.copy(ctx, f, pending, nil, 0, "Relay.CopyPending")
}

// CopyBuffered is [Relay.CopyPending] with the filled bytes of b as the pending bytes (a
// head's read into b took the start of the body): it consumes the bytes the body took from b
// (also after an error), leaving in b what follows the body.
func (r *Relay) CopyBuffered(ctx context.Context, b *Buffer, f Framing) (RelayStats, error) {
	return r.copy(ctx, f, nil, b, 0, "Relay.CopyBuffered")
}

func (r *Relay) copy(ctx context.Context, f Framing, pending []byte, pb *Buffer, extraFlags uint32, op string) (RelayStats, error) {
	id, ok := r.h.acquire()
	if !ok {
		return RelayStats{}, opError(op, ErrClosed)
	}
	defer r.h.release()
	if (r.src.orig == nil || r.dst.orig == nil) && !r.fb.bound() {
		return RelayStats{}, &Error{Op: op, Err: fmt.Errorf("%w: relay not bound to connections", ErrInvalidArgument)}
	}
	if st := relayReset(id, f.kind, f.length, r.flags|extraFlags); st != statusOK {
		return RelayStats{}, statusError(op, st)
	}
	r.id = id
	r.woken.Store(false)
	pendingLen := len(pending)
	if pb != nil {
		n, err := r.pendBuffer(op, id, pb)
		if err != nil {
			relayAbort(id, statusRelayCanceled)
			return RelayStats{}, err
		}
		pendingLen = n
	} else if len(pending) > 0 && !r.fb.bound() {
		if st := relayPending(id, pending); st != statusOK {
			return RelayStats{}, statusError(op, st)
		}
	}
	var stop func() bool
	if done := ctx.Done(); done != nil {
		if err := ctx.Err(); err != nil {
			relayAbort(id, statusRelayCanceled)
			return RelayStats{}, &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrCanceled, err)}
		}
		r.wakeWG.Add(1)
		stop = context.AfterFunc(ctx, r.wakeFn)
	}
	var st RelayStats
	var ioErr error
	if r.fb.bound() {
		st, ioErr = r.fb.copy(op, id, r.deadline, pending, pb)
	} else {
		st, ioErr = r.steps(op)
	}
	if stop != nil {
		if stop() {
			r.wakeWG.Done() // the wake-up will never run
		} else {
			// The context fired: wait until its wake-up has set the poller's deadline, then
			// put the relay's own back.
			r.wakeWG.Wait()
			r.mu.Lock()
			r.p.setDeadline(r.deadline)
			r.mu.Unlock()
		}
	}
	if pb != nil {
		pb.Consume(int(min(st.BytesIn, uint64(pendingLen))))
	}
	err := r.outcome(ctx, id, ioErr, op)
	runtime.KeepAlive(r)
	return st, err
}

// pendBuffer gives the relay b's filled bytes as pending bytes (the fallback reads them from b
// as it goes) and returns how many there are.
func (r *Relay) pendBuffer(op string, id uint64, b *Buffer) (int, error) {
	bid, ok := b.h.acquire()
	if !ok {
		return 0, opError(op, ErrClosed)
	}
	defer b.h.release()
	if st := b.flush(); st != statusOK { // the library copies from the buffer's own window
		return 0, statusError(op, st)
	}
	n := len(b.view(bid))
	if n > 0 && !r.fb.bound() {
		if st := relayPendingBuffer(id, bid); st != statusOK {
			return 0, statusError(op, st)
		}
	}
	return n, nil
}

// outcome turns how a Copy's waits ended (ioErr) and the library's status into its error,
// and ends the relay in the library when Go ended it.
func (r *Relay) outcome(ctx context.Context, id uint64, ioErr error, op string) error {
	if ioErr == nil {
		return nil
	}
	var lib *Error // after the return above: errors.As makes it escape, so it allocates
	switch {
	case errors.As(ioErr, &lib):
		return ioErr // the library ended the relay: its error, already wrapped
	case r.h.closed():
		relayAbort(id, statusRelayCanceled)
		return opError(op, ErrClosed)
	case r.woken.Load() && ctx.Err() != nil:
		relayAbort(id, statusRelayCanceled)
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())}
	}
	abort, sentinel := uint32(statusRelayCanceled), ErrRelayIO
	switch {
	case errors.Is(ioErr, os.ErrDeadlineExceeded):
		abort, sentinel = statusRelayTimedOut, os.ErrDeadlineExceeded
	case errors.Is(ioErr, net.ErrClosed) || errors.Is(ioErr, os.ErrClosed):
		abort, sentinel = statusRelayBadFd, ErrConnClosed
	case errors.Is(ioErr, syscall.ECONNRESET):
		sentinel = ErrConnectionReset
	case errors.Is(ioErr, syscall.EPIPE):
		sentinel = ErrBrokenPipe
	}
	relayAbort(id, abort)
	return &Error{Op: op, Err: fmt.Errorf("%w: %w", sentinel, ioErr)}
}

// wake ends the wait of a Copy whose context fired: a past deadline on the poller (Copy then
// puts the relay's own back), or on the connections of the fallback.
func (r *Relay) wake() {
	defer r.wakeWG.Done()
	r.woken.Store(true)
	r.mu.Lock()
	r.p.setDeadline(time.Unix(1, 0))
	r.fb.wake()
	r.mu.Unlock()
}

// wakeClosed ends the wait of a Copy on Close: it closes the poller (or, over the fallback,
// sets past deadlines on the connections).
func (r *Relay) wakeClosed() {
	r.mu.Lock()
	r.p.wake()
	r.fb.wake()
	r.mu.Unlock()
}

// Close frees the relay (its pipe and buffer go back to the pools) and its poller (the
// connections stay open). Idempotent, safe from any goroutine: a Copy in progress on another
// goroutine returns at once with [ErrClosed].
func (r *Relay) Close() error { return r.h.close("Relay.Close", r.closeFn) }

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
	if err := ab.Bind(a, b); err != nil {
		return TunnelStats{}, err
	}
	if err := ba.Bind(b, a); err != nil {
		return TunnelStats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var s TunnelStats
	var errBA error
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.BToA, errBA = ba.copy(ctx, UntilEOF(), nil, nil, relayShutdownOnDone, "Tunnel")
		if errBA != nil {
			cancel()
		}
	}()
	var errAB error
	s.AToB, errAB = ab.copy(ctx, UntilEOF(), nil, nil, relayShutdownOnDone, "Tunnel")
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
