//go:build cgo

package offheap

/*
#cgo noescape offheap_engine_new
#cgo nocallback offheap_engine_new
#cgo noescape offheap_engine_ready_fd
#cgo nocallback offheap_engine_ready_fd
#cgo nocallback offheap_engine_submit
#cgo noescape offheap_engine_submit_batch
#cgo nocallback offheap_engine_submit_batch
#cgo nocallback offheap_engine_cancel
#cgo noescape offheap_engine_submit_session
#cgo nocallback offheap_engine_submit_session
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
	"syscall"
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

	smu     sync.Mutex // serialises SubmitBatch (the submitter's arrays)
	batcher batchSubmitter

	pmu       sync.Mutex // serialises SubmitTunnel, SubmitBody and SubmitSession (what follows)
	pair      fdPair
	args      submitArgs
	st        C.offheap_status
	sopts     C.offheap_session_options
	strings   [1024]byte
	submitFn  func() // e.cSubmit and e.cSubmitSession, made once
	sessionFn func()
}

// submitArgs are the arguments of the one-job submissions, beside the fds the pair lends.
type submitArgs struct {
	h, id      uint64
	framing    uint32
	length     uint64
	cbuf, ubuf uint64
	stringsLen int
}

// fdPair lends the fds of two connections to one cgo call, each held open by its
// RawConn.Control meanwhile. Reused, with its method value made once, it allocates nothing
// beyond what the connections' SyscallConn methods do.
type fdPair struct {
	raws     [2]syscall.RawConn
	fds      [2]C.int32_t
	held     int
	innerErr error
	call     func() // runs with fds[0] and fds[1] held open
	fn       func(uintptr)
}

// lend runs call with the fds of a and b held open.
func (p *fdPair) lend(a, b Conn, call func()) error {
	if p.fn == nil {
		p.fn = p.control
	}
	var err error
	if p.raws[0], err = a.SyscallConn(); err == nil {
		p.raws[1], err = b.SyscallConn()
	}
	if err == nil {
		p.held, p.innerErr, p.call = 0, nil, call
		if err = p.raws[0].Control(p.fn); err == nil {
			err = p.innerErr
		}
	}
	p.raws, p.call = [2]syscall.RawConn{}, nil
	return err
}

func (p *fdPair) control(fd uintptr) {
	p.fds[p.held] = C.int32_t(fd)
	p.held++
	if p.held == 1 {
		p.innerErr = p.raws[1].Control(p.fn)
		return
	}
	p.call()
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
	e.submitFn, e.sessionFn = e.cSubmit, e.cSubmitSession
	attach(&e.h, e, uint64(id), freeEngine)
	return e, nil
}

func (e *Engine) submit(op string, id uint64, a, b Conn, framing uint32, length uint64) error {
	h, ok := e.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	e.args = submitArgs{h: h, id: id, framing: framing, length: length}
	e.st = C.OFFHEAP_STATUS_OK
	err := e.pair.lend(a, b, e.submitFn)
	runtime.KeepAlive(e)
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	if e.st != C.OFFHEAP_STATUS_OK {
		return statusError(op, e.st)
	}
	return nil
}

func (e *Engine) cSubmit() {
	a := &e.args
	e.st = C.offheap_engine_submit(C.uint64_t(a.h), C.uint64_t(a.id), e.pair.fds[0], e.pair.fds[1],
		C.uint32_t(a.framing), C.uint64_t(a.length), 0)
}

func (e *Engine) cSubmitSession() {
	a := &e.args
	e.st = C.offheap_engine_submit_session(C.uint64_t(a.h), C.uint64_t(a.id), e.pair.fds[0], e.pair.fds[1],
		C.uint64_t(a.cbuf), C.uint64_t(a.ubuf), &e.sopts, (*C.uint8_t)(&e.strings[0]), C.size_t(a.stringsLen))
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

// submitChunk is how many jobs one cgo call of SubmitBatch carries: the fds are held open by
// nested RawConn.Control calls, two per job, for the duration of the call.
const submitChunk = 64

// batchSubmitter holds one SubmitBatch chunk: the jobs' RawConns, the fds they lend, and the
// C job and status arrays. It is reused, and its control method value is made once, so a
// batch allocates nothing of its own.
type batchSubmitter struct {
	h        uint64
	jobs     []EngineJob
	raws     [2 * submitChunk]syscall.RawConn
	rawErr   [2 * submitChunk]error
	depth    int
	cjobs    [submitChunk]C.offheap_engine_job
	statuses [submitChunk]C.uint32_t
	accepted C.size_t
	st       C.offheap_status
	fn       func(uintptr)
}

// next takes the fd of side s.depth (inside its Control, so it stays open), then recurses;
// at the bottom, with every fd held, it makes the one cgo call.
func (s *batchSubmitter) next() {
	for s.depth < 2*len(s.jobs) {
		d := s.depth
		if s.raws[d] != nil {
			err := s.raws[d].Control(s.fn)
			if err == nil {
				return // s.control ran the rest of the chunk
			}
			s.rawErr[d] = err
		}
		s.setFd(d, -1) // refused by the library with the error recorded above
		s.depth++
	}
	s.st = C.offheap_engine_submit_batch(C.uint64_t(s.h), &s.cjobs[0], C.size_t(len(s.jobs)),
		&s.statuses[0], &s.accepted)
}

func (s *batchSubmitter) control(fd uintptr) {
	s.setFd(s.depth, int32(fd))
	s.depth++
	s.next()
}

func (s *batchSubmitter) setFd(d int, fd int32) {
	if d%2 == 0 {
		s.cjobs[d/2].fd_a = C.int32_t(fd)
	} else {
		s.cjobs[d/2].fd_b = C.int32_t(fd)
	}
}

// SubmitBatch hands the engine every job in jobs, submitChunk (64) jobs per cgo call, each
// worker woken once per call. Each job is taken or refused on its own: jobs[i].Err says
// which (and why), and accepted counts the jobs taken. err is about the call itself
// (ErrClosed, ErrUnavailable); then no job of the failed chunk was taken. As with
// SubmitTunnel, the caller may close the connections once this returns. It allocates
// nothing beyond what the connections' SyscallConn methods do.
func (e *Engine) SubmitBatch(jobs []EngineJob) (accepted int, err error) {
	const op = "Engine.SubmitBatch"
	e.smu.Lock()
	defer e.smu.Unlock()
	s := &e.batcher
	if s.fn == nil {
		s.fn = s.control
	}
	for len(jobs) > 0 {
		chunk := jobs[:min(len(jobs), submitChunk)]
		jobs = jobs[len(chunk):]
		h, ok := e.h.get()
		if !ok {
			return accepted, opError(op, ErrClosed)
		}
		s.h, s.jobs, s.depth, s.accepted, s.st = h, chunk, 0, 0, C.OFFHEAP_STATUS_OK
		for i := range chunk {
			j := &chunk[i]
			j.Err = nil
			framing, length := uint32(C.OFFHEAP_ENGINE_TUNNEL), uint64(0)
			if !j.Tunnel {
				framing, length = j.Framing.kind, j.Framing.length
			}
			s.cjobs[i] = C.offheap_engine_job{id: C.uint64_t(j.ID), framing: C.uint32_t(framing),
				length: C.uint64_t(length)}
			for side, c := range [2]Conn{j.A, j.B} {
				d := 2*i + side
				s.raws[d], s.rawErr[d] = nil, nil
				if c == nil {
					s.rawErr[d] = errors.New("nil connection")
					continue
				}
				s.raws[d], s.rawErr[d] = c.SyscallConn()
			}
		}
		s.next()
		runtime.KeepAlive(e)
		if s.st != C.OFFHEAP_STATUS_OK {
			for i := range chunk {
				chunk[i].Err = statusError(op, s.st)
			}
			s.clear()
			return accepted, statusError(op, s.st)
		}
		for i := range chunk {
			if err := errors.Join(s.rawErr[2*i], s.rawErr[2*i+1]); err != nil {
				chunk[i].Err = &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
			} else if st := C.offheap_status(s.statuses[i]); st != C.OFFHEAP_STATUS_OK {
				chunk[i].Err = statusError(op, st)
			}
		}
		accepted += int(s.accepted)
		s.clear()
	}
	return accepted, nil
}

// clear drops the submitter's references to the caller's connections.
func (s *batchSubmitter) clear() {
	s.jobs = nil
	clear(s.raws[:])
	clear(s.rawErr[:])
}

// SubmitSession hands the engine a client connection and an upstream connection for HTTP/1.1
// keep-alive exchanges. The engine works on duplicates of their fds: close client and upstream
// once this returns (Go's netpoller, still watching them, would wake on every exchange), and
// take the duplicates back from the completion (Completion.ClientFd, UpstreamFd). Heads are parsed and rewritten in Rust per opts; bodies
// move in Rust (through Rust buffers). The session takes requests without a body or with
// Content-Length and responses with Content-Length or without a body; anything else, and the
// timeouts of opts, end the job at a boundary, leaving the rest to the caller (see
// [SessionStop]).
//
// The storage of cbuf and ubuf moves into the job with the bytes they hold (a request already
// read into cbuf is served first); until the job's completion comes out of [Engine.Wait]
// they are empty and must not be used. Then they hold the bytes the session stopped at.
// One cgo call (plus one per buffer holding bytes counted by Consume); it allocates nothing
// beyond what the connections' SyscallConn methods do.
func (e *Engine) SubmitSession(id uint64, client, upstream Conn, cbuf, ubuf *Buffer, opts *SessionOptions) error {
	const op = "Engine.SubmitSession"
	h, ok := e.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	cid, ok1 := cbuf.h.get()
	uid, ok2 := ubuf.h.get()
	if !ok1 || !ok2 {
		return opError(op, ErrClosed)
	}
	ms := func(d time.Duration) C.uint32_t {
		if d <= 0 {
			return 0
		}
		return C.uint32_t(min(max(d.Milliseconds(), 1), math.MaxUint32))
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	n := 0
	for _, str := range [...]string{opts.ClientIP, opts.Proto, opts.Host, opts.Via} {
		if n+len(str) > len(e.strings) {
			return opError(op, ErrTooLarge)
		}
		n += copy(e.strings[n:], str)
	}
	e.sopts = C.offheap_session_options{
		client_ip_len: C.uint32_t(len(opts.ClientIP)), proto_len: C.uint32_t(len(opts.Proto)),
		host_len: C.uint32_t(len(opts.Host)), via_len: C.uint32_t(len(opts.Via)),
		request_ms: ms(opts.RequestTimeout), response_ms: ms(opts.ResponseTimeout), stall_ms: ms(opts.StallTimeout),
	}
	if opts.SetHost {
		e.sopts.flags |= C.OFFHEAP_SESSION_SET_HOST
	}
	if opts.AppendForwarded {
		e.sopts.flags |= C.OFFHEAP_SESSION_APPEND_FORWARDED
	}
	// Counted consumes reach Rust first: the job starts from the buffers' real windows.
	for _, b := range [...]*Buffer{cbuf, ubuf} {
		if st := b.flush(); st != C.OFFHEAP_STATUS_OK {
			return statusError(op, st)
		}
	}
	e.args = submitArgs{h: h, id: id, cbuf: cid, ubuf: uid, stringsLen: n}
	e.st = C.OFFHEAP_STATUS_OK
	err := e.pair.lend(client, upstream, e.sessionFn)
	runtime.KeepAlive(e)
	runtime.KeepAlive(cbuf)
	runtime.KeepAlive(ubuf)
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	if e.st != C.OFFHEAP_STATUS_OK {
		return statusError(op, e.st)
	}
	cbuf.stale, ubuf.stale = true, true // their storage is the job's now, then comes back
	return nil
}

// Cancel stops job id; it completes with ErrCanceled unless it finished first. A session in
// the middle of an exchange finishes it and stops at the next request boundary.
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
			Session:          SessionStop(c.session_stop),
			UpstreamReusable: c.session_flags&C.OFFHEAP_SESSION_UPSTREAM_REUSABLE != 0,
			HeadMethod:       c.session_flags&C.OFFHEAP_SESSION_HEAD_METHOD != 0,
			CloseClient:      c.session_flags&C.OFFHEAP_SESSION_CLOSE_CLIENT != 0,
			Requests:         uint64(c.requests), Responses: uint64(c.responses),
			ClientFd: int(c.client_fd), UpstreamFd: int(c.upstream_fd),
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
