package offheap

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

// Completion is the outcome of one [Engine] job.
type Completion struct {
	ID       uint64 // the id given at submission
	Forward  uint64 // bytes written src → dst (tunnels: a → b)
	Backward uint64 // bytes written b → a (tunnels only)
	Spliced  uint64 // of both, bytes moved with splice(2)
	Copied   uint64 // of both, bytes copied through Rust-owned buffers
	Err      error  // nil on success; matches ErrUnexpectedEOF, ErrConnectionReset, ErrCanceled, ...

	// Session jobs only ([Engine.SubmitSession]): where the session stopped, and its counts.
	Session          SessionStop
	UpstreamReusable bool   // the upstream connection is idle and may carry another request
	HeadMethod       bool   // the exchange in progress (SessionResponse) is for a HEAD request
	CloseClient      bool   // the client connection closes after the exchange in progress
	Requests         uint64 // requests forwarded in full
	Responses        uint64 // responses relayed in full
	// ClientFd and UpstreamFd give the two connections back (the engine's duplicates): the
	// caller owns them (net.FileConn(os.NewFile(...)), or syscall.Close). -1 for other jobs.
	ClientFd, UpstreamFd int
}

// SessionStop says where a session job stopped ([Completion.Session]); the values of the
// library's offheap_session_stop.
type SessionStop uint8

const (
	// SessionNone: not a session job.
	SessionNone SessionStop = iota
	// SessionClientClosed: the client closed (or failed) between requests.
	SessionClientClosed
	// SessionRequest: the next request is the caller's; its bytes (maybe none yet) start the
	// client Buffer and nothing of it was sent.
	SessionRequest
	// SessionResponse: the request was sent; its response is the caller's and its bytes so
	// far start the upstream Buffer.
	SessionResponse
	// SessionDone: an exchange completed and the client connection closes (it asked to).
	SessionDone
	// SessionFailed: failed in the middle of an exchange (Err says why): close both.
	SessionFailed
)

// SessionOptions says how a session job rewrites heads (as [RewriteOptions] does) and when the
// engine hands the connections back.
type SessionOptions struct {
	ClientIP        string // appended to X-Forwarded-For (empty: none)
	Proto           string // X-Forwarded-Proto (empty: none)
	SetHost         bool   // replace the Host header with Host
	Host            string
	Via             string // this proxy's pseudonym for Via (empty: none)
	AppendForwarded bool   // trust and append to the client's X-Forwarded-* headers
	// RequestTimeout: a session waiting this long for a request stops with SessionRequest, so
	// an idle connection waits with its owner (0: never).
	RequestTimeout time.Duration
	// ResponseTimeout: a session waiting this long for a response head stops with
	// SessionResponse (0: never).
	ResponseTimeout time.Duration
	// StallTimeout: a head or body that moves no byte this long fails the session (0: never).
	StallTimeout time.Duration
}

// EngineJob is one job of [Engine.SubmitBatch]: a tunnel between A and B (Tunnel set), or one
// body from A to B framed by Framing.
type EngineJob struct {
	ID      uint64 // carried by the job's completion
	A, B    Conn   // tunnel: the two sides; body: source (A) and destination (B)
	Tunnel  bool
	Framing Framing // bodies only
	// Err is set by SubmitBatch: nil when the engine took the job, else why it did not
	// (the errors SubmitTunnel and SubmitBody return).
	Err error
}

// submitChunk is how many jobs one cgo call of SubmitBatch carries (at most
// engineMaxBatch, which the check below keeps): the fds are held open by nested
// RawConn.Control calls, two per job, for the duration of the call.
const submitChunk = 64

var _ [engineMaxBatch - submitChunk]struct{}

// The library's engine structs, mirrored field by field (abi_cgo_gen.go pins each layout).
type (
	// engineJob is offheap_engine_job.
	engineJob struct {
		id       uint64
		fdA, fdB int32
		framing  uint32
		flags    uint32
		length   uint64
	}
	// sessionOptions is offheap_session_options: the rewrite, its strings spans of one byte
	// array, and the timeouts in milliseconds.
	sessionOptions struct {
		rewrite                        rewriteOptions
		requestMs, responseMs, stallMs uint32
	}
	// engineCompletion is offheap_engine_completion.
	engineCompletion struct {
		id, bytesForward, bytesBackward uint64
		spliced, copied                 uint64
		status                          uint32
		osErrno                         int32
		sessionStop, sessionFlags       uint32
		requests, responses             uint64
		clientFd, upstreamFd            int32
	}
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
	io    *engineIO // what the library reads and writes (see library_cgo.go)

	mu   sync.Mutex // serialises Wait (io.batch and the ready fd's reads)
	tick [8]byte

	smu     sync.Mutex // serialises SubmitBatch (the submitter and io.jobs, io.statuses)
	batcher batchSubmitter

	workers int          // worker threads
	proxy   *engineProxy // set by StartProxy (under pmu)

	pmu       sync.Mutex // serialises SubmitTunnel, SubmitBody and SubmitSession (what follows, io.session, io.strings)
	pair      fdPair
	args      submitArgs
	st        uint32
	submitFn  func() // e.cSubmit and e.cSubmitSession, made once
	sessionFn func()
}

// engineIO is the Go memory an Engine lends the library, one allocation without Go pointers;
// each part is guarded by the Engine lock named beside it.
type engineIO struct {
	batch    [64]engineCompletion   // mu
	jobs     [submitChunk]engineJob // smu
	statuses [submitChunk]uint32    // smu
	session  sessionOptions         // pmu
	strings  [1024]byte             // pmu
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
	fds      [2]int32
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
	p.fds[p.held] = int32(fd)
	p.held++
	if p.held == 1 {
		p.innerErr = p.raws[1].Control(p.fn)
		return
	}
	p.call()
}

// NewEngine starts an engine with workers threads (1-64) and room for maxJobs jobs in flight
// (further submissions fail with ErrOutOfMemory until jobs complete).
func NewEngine(workers, maxJobs int) (*Engine, error) {
	if initErr != nil {
		return nil, initErr
	}
	if workers < 1 || workers > 64 || maxJobs < 1 || maxJobs > math.MaxUint32 {
		return nil, opError("NewEngine", ErrInvalidArgument)
	}
	id, st := engineNew(uint32(workers), uint32(maxJobs))
	if st != statusOK {
		return nil, statusError("NewEngine", st)
	}
	fd, st := engineReadyFd(id)
	if st != statusOK {
		engineFree(id)
		return nil, statusError("NewEngine", st)
	}
	e := &Engine{ready: os.NewFile(uintptr(fd), "offheap-engine-ready"), io: new(engineIO), workers: workers}
	e.batcher.io = e.io
	e.submitFn, e.sessionFn = e.cSubmit, e.cSubmitSession
	attach(&e.h, e, id, engineFree)
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
	e.st = statusOK
	err := e.pair.lend(a, b, e.submitFn)
	runtime.KeepAlive(e)
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	if e.st != statusOK {
		return statusError(op, e.st)
	}
	return nil
}

func (e *Engine) cSubmit() {
	a := &e.args
	e.st = engineSubmit(a.h, a.id, e.pair.fds[0], e.pair.fds[1], a.framing, a.length)
}

func (e *Engine) cSubmitSession() {
	a := &e.args
	e.st = engineSubmitSession(a.h, a.id, e.pair.fds[0], e.pair.fds[1], a.cbuf, a.ubuf, &e.io.session,
		e.io.strings[:a.stringsLen])
}

// SubmitTunnel hands the engine a bidirectional tunnel between a and b, with half-close. Its
// completion carries id (keep ids unique among jobs in flight). The caller may close a and b
// once this returns: the engine relays over duplicates and closes them when done.
func (e *Engine) SubmitTunnel(id uint64, a, b Conn) error {
	return e.submit("Engine.SubmitTunnel", id, a, b, engineTunnel, 0)
}

// SubmitBody hands the engine one body, framed by f, from src to dst (see SubmitTunnel). The
// connections come in the order of an [EngineJob]'s A and B: source first.
func (e *Engine) SubmitBody(id uint64, src, dst Conn, f Framing) error {
	return e.submit("Engine.SubmitBody", id, src, dst, f.kind, f.length)
}

// batchSubmitter holds one SubmitBatch chunk: the jobs' RawConns, the fds they lend, and the
// job and status arrays of the library. It is reused, and its control method value is made
// once, so a batch allocates nothing of its own.
type batchSubmitter struct {
	h        uint64
	jobs     []EngineJob
	raws     [2 * submitChunk]syscall.RawConn
	rawErr   [2 * submitChunk]error
	depth    int
	io       *engineIO // jobs and statuses
	accepted int
	st       uint32
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
	n := len(s.jobs)
	s.accepted, s.st = engineSubmitBatch(s.h, s.io.jobs[:n], s.io.statuses[:n])
}

func (s *batchSubmitter) control(fd uintptr) {
	s.setFd(s.depth, int32(fd))
	s.depth++
	s.next()
}

func (s *batchSubmitter) setFd(d int, fd int32) {
	if d%2 == 0 {
		s.io.jobs[d/2].fdA = fd
	} else {
		s.io.jobs[d/2].fdB = fd
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
		s.h, s.jobs, s.depth, s.accepted, s.st = h, chunk, 0, 0, statusOK
		for i := range chunk {
			j := &chunk[i]
			j.Err = nil
			framing, length := uint32(engineTunnel), uint64(0)
			if !j.Tunnel {
				framing, length = j.Framing.kind, j.Framing.length
			}
			s.io.jobs[i] = engineJob{id: j.ID, framing: framing, length: length}
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
		if s.st != statusOK {
			for i := range chunk {
				chunk[i].Err = statusError(op, s.st)
			}
			s.clear()
			return accepted, statusError(op, s.st)
		}
		for i := range chunk {
			if err := errors.Join(s.rawErr[2*i], s.rawErr[2*i+1]); err != nil {
				chunk[i].Err = &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
			} else if st := s.io.statuses[i]; st != statusOK {
				chunk[i].Err = statusError(op, st)
			}
		}
		accepted += s.accepted
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
// take the duplicates back from the completion (Completion.ClientFd, UpstreamFd). Heads are
// parsed and rewritten in Rust per opts; bodies move in Rust (through Rust buffers). The
// session takes requests without a body or with Content-Length and responses with
// Content-Length or without a body; anything else, and the timeouts of opts, end the job at a
// boundary, leaving the rest to the caller (see [SessionStop]).
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
	ms := func(d time.Duration) uint32 {
		if d <= 0 {
			return 0
		}
		return uint32(min(max(d.Milliseconds(), 1), math.MaxUint32))
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	rw := RewriteOptions{ClientIP: opts.ClientIP, Proto: opts.Proto, Host: opts.Host, SetHost: opts.SetHost,
		Via: opts.Via, AppendForwarded: opts.AppendForwarded}
	if n := len(rw.ClientIP) + len(rw.Proto) + len(rw.Host) + len(rw.Via); n > len(e.io.strings) {
		return &Error{Op: op, Err: fmt.Errorf("%w: the option strings exceed %d bytes", ErrTooLarge, len(e.io.strings))}
	}
	strs, r := rw.record(e.io.strings[:0])
	n := len(strs)
	e.io.session = sessionOptions{rewrite: r,
		requestMs: ms(opts.RequestTimeout), responseMs: ms(opts.ResponseTimeout), stallMs: ms(opts.StallTimeout)}
	// Counted consumes reach Rust first: the job starts from the buffers' real windows.
	for _, b := range [...]*Buffer{cbuf, ubuf} {
		if st := b.flush(); st != statusOK {
			return statusError(op, st)
		}
	}
	e.args = submitArgs{h: h, id: id, cbuf: cid, ubuf: uid, stringsLen: n}
	e.st = statusOK
	err := e.pair.lend(client, upstream, e.sessionFn)
	runtime.KeepAlive(e)
	runtime.KeepAlive(cbuf)
	runtime.KeepAlive(ubuf)
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	if e.st != statusOK {
		return statusError(op, e.st)
	}
	cbuf.stale, ubuf.stale = true, true // their storage is the job's now, then comes back
	cbuf.releaseConn()                  // so are the connections: the buffers' duplicates go
	ubuf.releaseConn()
	return nil
}

// Cancel stops job id; it completes with ErrCanceled unless it finished first. A session in
// the middle of an exchange finishes it and stops at the next request boundary.
func (e *Engine) Cancel(id uint64) error {
	return e.h.call("Engine.Cancel", func(h uint64) uint32 { return engineCancel(h, id) })
}

// InFlight returns the number of jobs submitted and not yet completed.
func (e *Engine) InFlight() (int, error) {
	var n uint64
	err := e.h.call("Engine.InFlight", func(h uint64) (st uint32) {
		n, st = engineInFlight(h)
		return st
	})
	if err != nil {
		return 0, err
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
	var n int
	err := e.h.call("Engine.Wait", func(h uint64) (st uint32) {
		n, st = enginePoll(h, e.io.batch[:min(len(out), len(e.io.batch))])
		return st
	})
	if err != nil {
		return 0, err
	}
	for i := range n {
		c := &e.io.batch[i]
		out[i] = Completion{
			ID: c.id, Forward: c.bytesForward, Backward: c.bytesBackward,
			Spliced: c.spliced, Copied: c.copied,
			Session:          SessionStop(c.sessionStop),
			UpstreamReusable: c.sessionFlags&sessionUpstreamReusable != 0,
			HeadMethod:       c.sessionFlags&sessionHeadMethod != 0,
			CloseClient:      c.sessionFlags&sessionCloseClient != 0,
			Requests:         c.requests, Responses: c.responses,
			ClientFd: int(c.clientFd), UpstreamFd: int(c.upstreamFd),
		}
		if c.status != statusOK {
			out[i].Err = statusError("Engine job", c.status)
		}
	}
	return n, nil
}

// Close stops the engine: its threads are joined and every fd it holds is closed; jobs still
// running end (their completions are discarded). Idempotent, safe from any goroutine.
func (e *Engine) Close() error {
	err := e.h.close("Engine.Close", nil)
	e.ready.Close() // wakes a Wait parked on it; later Closes of the file only report an error
	e.pmu.Lock()
	if e.proxy != nil {
		e.proxy.close() // wakes WaitProxyEvents likewise
	}
	e.pmu.Unlock()
	return err
}
