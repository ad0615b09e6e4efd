//go:build cgo

package offheap

/*
#cgo noescape offheap_relay_new
#cgo nocallback offheap_relay_new
#cgo nocallback offheap_relay_reset
#cgo noescape offheap_relay_step
#cgo nocallback offheap_relay_step
#cgo nocallback offheap_relay_abort
#cgo nocallback offheap_relay_free
#cgo noescape offheap_relay_global_stats
#cgo nocallback offheap_relay_global_stats
#cgo nocallback offheap_relay_trim
#include "offheap.h"
*/
import "C"

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

// relayStepLimit is the most bytes one step of a relay writes (the library's
// OFFHEAP_RELAY_STEP_LIMIT); the step then returns OFFHEAP_RELAY_STATE_AGAIN and Copy steps
// again at once.
const relayStepLimit = C.OFFHEAP_RELAY_STEP_LIMIT

// Relay moves bodies from one connection to another without the bytes touching the Go heap:
// Rust copies them through pooled Rust-owned buffers (4 MiB bulk buffers once a body is bulk),
// or splices them in the kernel through a pooled pipe after [Relay.SetSplice](true). Each readiness event costs one
// cgo call; the waiting is done by Go's netpoller.
//
// A Relay is bound to one pair of connections ([Relay.Bind]) and reused for every body on
// them; [Relay.Copy] allocates nothing. It is not safe for concurrent Copy calls; Close may be
// called from any goroutine.
//
// Each step of a Copy writes at most relayStepLimit bytes before Copy checks its context
// again, so a Copy whose source never runs dry (the destination is the source's own peer)
// still ends when the context does.
type Relay struct {
	h        handle
	id       uint64
	src, dst syscall.RawConn
	srcConn  Conn
	dstConn  Conn
	prog     C.offheap_relay_progress
	status   C.offheap_status
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

func freeRelay(id uint64) { C.offheap_relay_free(C.uint64_t(id)) }

// NewRelay creates a relay. Bind it to a pair of connections before Copy.
func NewRelay() (*Relay, error) {
	if initErr != nil {
		return nil, initErr
	}
	var id C.uint64_t
	if st := C.offheap_relay_new(framingExact, 0, 0, &id); st != C.OFFHEAP_STATUS_OK {
		return nil, statusError("NewRelay", st)
	}
	r := &Relay{}
	r.onReadable = r.readable
	r.onWritable = r.writable
	r.stepWithDst = r.stepDst
	r.stepWithSrc = r.stepSrc
	r.wakeFn = r.wake
	attach(&r.h, r, uint64(id), freeRelay)
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
		r.flags |= C.OFFHEAP_RELAY_SPLICE
	} else {
		r.flags &^= C.OFFHEAP_RELAY_SPLICE
	}
}

// Copy relays one body, framed by f, from the bound source to the bound destination, and
// returns its byte counts. It returns when the body is complete, or with an error: the
// library's (ErrUnexpectedEOF, ErrConnectionReset, ErrBrokenPipe, ErrBadChunk, ...), ctx's
// (errors.Is(err, context.Canceled)), a deadline of either connection
// (os.ErrDeadlineExceeded), or ErrClosed with net.ErrClosed when a connection is closed
// during the relay. After an error the connections are in an unknown state: close them.
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
	st := C.offheap_relay_reset(C.uint64_t(id), C.uint32_t(f.kind), C.uint64_t(f.length), C.uint32_t(r.flags|extraFlags))
	if st != C.OFFHEAP_STATUS_OK {
		runtime.KeepAlive(r)
		return RelayStats{}, statusError(op, st)
	}
	r.id = id
	r.woken.Store(false)
	var stop func() bool
	if done := ctx.Done(); done != nil {
		if err := ctx.Err(); err != nil {
			C.offheap_relay_abort(C.uint64_t(id), C.OFFHEAP_STATUS_RELAY_CANCELED)
			runtime.KeepAlive(r)
			return RelayStats{}, &Error{Op: op, Err: err}
		}
		r.wakeWG.Add(1)
		stop = context.AfterFunc(ctx, r.wakeFn)
	}
	r.status = C.OFFHEAP_STATUS_OK
	r.prog = C.offheap_relay_progress{}
	var ioErr error
	for r.status == C.OFFHEAP_STATUS_OK && r.prog.state != C.OFFHEAP_RELAY_STATE_DONE {
		if r.prog.state == C.OFFHEAP_RELAY_STATE_WANT_WRITE {
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
	stats := RelayStats{
		BytesIn: uint64(r.prog.bytes_in), BytesOut: uint64(r.prog.bytes_out),
		Spliced: uint64(r.prog.spliced), Copied: uint64(r.prog.copied),
	}
	var err error
	switch {
	case ioErr != nil && r.woken.Load() && ctx.Err() != nil:
		C.offheap_relay_abort(C.uint64_t(id), C.OFFHEAP_STATUS_RELAY_CANCELED)
		err = &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())}
	case ioErr != nil:
		abort := C.uint32_t(C.OFFHEAP_STATUS_RELAY_CANCELED)
		sentinel := ErrCanceled
		if errors.Is(ioErr, os.ErrDeadlineExceeded) {
			abort, sentinel = C.OFFHEAP_STATUS_RELAY_TIMED_OUT, os.ErrDeadlineExceeded
		} else if errors.Is(ioErr, net.ErrClosed) || errors.Is(ioErr, os.ErrClosed) {
			abort, sentinel = C.OFFHEAP_STATUS_RELAY_BAD_FD, ErrClosed
		}
		C.offheap_relay_abort(C.uint64_t(id), abort)
		err = &Error{Op: op, Err: fmt.Errorf("%w: %w", sentinel, ioErr)}
	case r.status != C.OFFHEAP_STATUS_OK:
		err = statusError(op, r.status)
	}
	runtime.KeepAlive(r)
	return stats, err
}

// readable runs inside src's RawConn.Read with the source fd; it borrows the destination fd
// through dst's RawConn.Control, so both fds stay open during the step.
func (r *Relay) readable(fd uintptr) bool {
	r.srcFd = fd
	if err := r.dst.Control(r.stepWithDst); err != nil {
		r.status = C.OFFHEAP_STATUS_RELAY_BAD_FD
		return true
	}
	return r.status != C.OFFHEAP_STATUS_OK || r.prog.state != C.OFFHEAP_RELAY_STATE_WANT_READ
}

func (r *Relay) writable(fd uintptr) bool {
	r.dstFd = fd
	if err := r.src.Control(r.stepWithSrc); err != nil {
		r.status = C.OFFHEAP_STATUS_RELAY_BAD_FD
		return true
	}
	return r.status != C.OFFHEAP_STATUS_OK || r.prog.state != C.OFFHEAP_RELAY_STATE_WANT_WRITE
}

func (r *Relay) stepDst(dstFd uintptr) {
	r.status = C.offheap_relay_step(C.uint64_t(r.id), C.int32_t(r.srcFd), C.int32_t(dstFd), &r.prog)
}

func (r *Relay) stepSrc(srcFd uintptr) {
	r.status = C.offheap_relay_step(C.uint64_t(r.id), C.int32_t(srcFd), C.int32_t(r.dstFd), &r.prog)
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
func (r *Relay) Close() error {
	id, ok := r.h.release()
	if !ok {
		return nil
	}
	if st := C.offheap_relay_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("Relay.Close", st)
	}
	return nil
}

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
		s.BToA, errBA = ba.copy(ctx, UntilEOF(), C.OFFHEAP_RELAY_SHUTDOWN_ON_DONE, "Tunnel")
		if errBA != nil {
			cancel()
		}
	}()
	var errAB error
	s.AToB, errAB = ab.copy(ctx, UntilEOF(), C.OFFHEAP_RELAY_SHUTDOWN_ON_DONE, "Tunnel")
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
	var c C.offheap_relay_counters
	if st := C.offheap_relay_global_stats(&c); st != C.OFFHEAP_STATUS_OK {
		return RelayCounters{}, statusError("ReadRelayCounters", st)
	}
	return RelayCounters{
		RelaysStarted: uint64(c.relays_started), RelaysDone: uint64(c.relays_done),
		RelaysFailed: uint64(c.relays_failed), BytesSpliced: uint64(c.bytes_spliced),
		BytesCopied: uint64(c.bytes_copied), PipesCreated: uint64(c.pipes_created),
		PipesLive: uint64(c.pipes_live), BuffersLive: uint64(c.buffers_live),
		BulkBuffersLive: uint64(c.bulk_buffers_live),
	}, nil
}

// TrimRelayPools frees the relay's idle pooled pipes and buffers (they are reused otherwise).
func TrimRelayPools() {
	if initErr == nil {
		C.offheap_relay_trim()
	}
}
