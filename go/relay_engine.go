//go:build cgo

package offheap

/*
#cgo noescape offheap_engine_new
#cgo nocallback offheap_engine_new
#cgo noescape offheap_engine_ready_fd
#cgo nocallback offheap_engine_ready_fd
#cgo nocallback offheap_engine_submit
#cgo nocallback offheap_engine_cancel
#cgo noescape offheap_engine_poll
#cgo nocallback offheap_engine_poll
#cgo noescape offheap_engine_in_flight
#cgo nocallback offheap_engine_in_flight
#cgo nocallback offheap_engine_free
#include "offheap.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
)

// Engine relays whole connections on Rust worker threads, each with its own epoll: Go hands
// over a pair of connections (the engine relays over its own duplicates of their fds, so the
// caller may close its connections right after submitting) and later receives completions in
// batches. While the engine relays, Go holds no goroutine, buffer or connection for the job.
//
// Completions are announced through one file descriptor that Go's netpoller watches, so
// [Engine.Wait] parks its goroutine without blocking an OS thread.
type Engine struct {
	h     handle
	ready *os.File

	mu    sync.Mutex // serialises Wait (the batch array and the ready fd's reads)
	batch [64]C.offheap_engine_completion
	tick  [8]byte
}

func freeEngine(id uint64) { C.offheap_engine_free(C.uint64_t(id)) }

// NewEngine starts an engine with workers threads (1-64) and room for maxJobs jobs in flight
// (further submissions fail with ErrOutOfMemory until jobs complete).
func NewEngine(workers, maxJobs int) (*Engine, error) {
	if initErr != nil {
		return nil, initErr
	}
	if workers < 1 || workers > 64 || maxJobs < 1 || maxJobs > math.MaxUint32 {
		return nil, opError("NewEngine", ErrInvalidArgument)
	}
	var id C.uint64_t
	if st := C.offheap_engine_new(C.uint32_t(workers), C.uint32_t(maxJobs), &id); st != C.OFFHEAP_STATUS_OK {
		return nil, statusError("NewEngine", st)
	}
	var fd C.int32_t
	if st := C.offheap_engine_ready_fd(id, &fd); st != C.OFFHEAP_STATUS_OK {
		C.offheap_engine_free(id)
		return nil, statusError("NewEngine", st)
	}
	e := &Engine{ready: os.NewFile(uintptr(fd), "offheap-engine-ready")}
	attach(&e.h, e, uint64(id), freeEngine)
	return e, nil
}

// withFds runs f with the fds of a and b, both held open by their RawConns meanwhile.
func withFds(a, b Conn, f func(fa, fb uintptr)) error {
	ra, err := a.SyscallConn()
	if err != nil {
		return err
	}
	rb, err := b.SyscallConn()
	if err != nil {
		return err
	}
	var innerErr error
	err = ra.Control(func(fa uintptr) {
		innerErr = rb.Control(func(fb uintptr) { f(fa, fb) })
	})
	if err != nil {
		return err
	}
	return innerErr
}

func (e *Engine) submit(op string, id uint64, a, b Conn, framing uint32, length uint64) error {
	h, ok := e.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	st := C.offheap_status(C.OFFHEAP_STATUS_OK)
	err := withFds(a, b, func(fa, fb uintptr) {
		st = C.offheap_engine_submit(C.uint64_t(h), C.uint64_t(id), C.int32_t(fa), C.int32_t(fb),
			C.uint32_t(framing), C.uint64_t(length), 0)
	})
	runtime.KeepAlive(e)
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	if st != C.OFFHEAP_STATUS_OK {
		return statusError(op, st)
	}
	return nil
}

// SubmitTunnel hands the engine a bidirectional tunnel between a and b, with half-close. Its
// completion carries id (keep ids unique among jobs in flight). The caller may close a and b
// once this returns: the engine relays over duplicates and closes them when done.
func (e *Engine) SubmitTunnel(id uint64, a, b Conn) error {
	return e.submit("Engine.SubmitTunnel", id, a, b, C.OFFHEAP_ENGINE_TUNNEL, 0)
}

// SubmitBody hands the engine one body, framed by f, from src to dst (see SubmitTunnel).
func (e *Engine) SubmitBody(id uint64, dst, src Conn, f Framing) error {
	return e.submit("Engine.SubmitBody", id, src, dst, f.kind, f.length)
}

// Cancel stops job id; it completes with ErrCanceled unless it finished first.
func (e *Engine) Cancel(id uint64) error {
	h, ok := e.h.get()
	if !ok {
		return opError("Engine.Cancel", ErrClosed)
	}
	st := C.offheap_engine_cancel(C.uint64_t(h), C.uint64_t(id))
	runtime.KeepAlive(e)
	if st != C.OFFHEAP_STATUS_OK {
		return statusError("Engine.Cancel", st)
	}
	return nil
}

// InFlight returns the number of jobs submitted and not yet completed.
func (e *Engine) InFlight() (int, error) {
	h, ok := e.h.get()
	if !ok {
		return 0, opError("Engine.InFlight", ErrClosed)
	}
	var n C.uint64_t
	st := C.offheap_engine_in_flight(C.uint64_t(h), &n)
	runtime.KeepAlive(e)
	if st != C.OFFHEAP_STATUS_OK {
		return 0, statusError("Engine.InFlight", st)
	}
	return int(n), nil
}

// Wait blocks until at least one job has completed (or ctx is done), then fills out with up
// to len(out) completions and returns how many. One cgo call per batch; it allocates only for
// completions that carry an error.
func (e *Engine) Wait(ctx context.Context, out []Completion) (int, error) {
	if len(out) == 0 {
		return 0, opError("Engine.Wait", ErrInvalidArgument)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { e.ready.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				e.ready.SetReadDeadline(time.Time{})
			}
		}()
	}
	for {
		n, err := e.poll(out)
		if n > 0 || err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return 0, &Error{Op: "Engine.Wait", Err: fmt.Errorf("%w: %w", ErrCanceled, err)}
		}
		// Park until the engine signals; the eventfd read resets it.
		if _, err := e.ready.Read(e.tick[:]); err != nil {
			if ctx.Err() != nil {
				continue
			}
			if errors.Is(err, os.ErrClosed) {
				return 0, opError("Engine.Wait", ErrClosed)
			}
			return 0, &Error{Op: "Engine.Wait", Err: fmt.Errorf("%w: %w", ErrRelayIO, err)}
		}
	}
}

// poll moves up to len(out) queued completions into out without waiting.
func (e *Engine) poll(out []Completion) (int, error) {
	h, ok := e.h.get()
	if !ok {
		return 0, opError("Engine.Wait", ErrClosed)
	}
	want := min(len(out), len(e.batch))
	var n C.size_t
	st := C.offheap_engine_poll(C.uint64_t(h), &e.batch[0], C.size_t(want), &n)
	runtime.KeepAlive(e)
	if st != C.OFFHEAP_STATUS_OK {
		return 0, statusError("Engine.Wait", st)
	}
	for i := range int(n) {
		c := &e.batch[i]
		out[i] = Completion{
			ID: uint64(c.id), Forward: uint64(c.bytes_forward), Backward: uint64(c.bytes_backward),
			Spliced: uint64(c.spliced), Copied: uint64(c.copied),
		}
		if c.status != C.OFFHEAP_STATUS_OK {
			out[i].Err = statusError("Engine job", C.offheap_status(c.status))
		}
	}
	return int(n), nil
}

// Close stops the engine: its threads are joined and every fd it holds is closed; jobs still
// running end (their completions are discarded). Idempotent, safe from any goroutine.
func (e *Engine) Close() error {
	id, ok := e.h.release()
	if !ok {
		return nil
	}
	e.ready.Close()
	if st := C.offheap_engine_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("Engine.Close", st)
	}
	return nil
}
