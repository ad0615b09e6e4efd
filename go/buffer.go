package offheap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// BufferSize is the size of every Rust-owned [Buffer].
const BufferSize = bufferSize

// bufferIO is offheap_buffer_io: the bytes to drop first (in), and the read and the view of
// the filled bytes that one offheap_buffer_fill returns (out).
type bufferIO struct {
	consume uintptr
	n       uintptr
	data    *byte // Rust memory, valid until the next call naming the buffer
	length  uintptr
	state   uint32
}

// Buffer is a Rust-owned buffer of [BufferSize] bytes from a pool: bytes read from a
// connection into it never touch the Go heap. Parse a head in place through [Buffer.UnsafeBytes],
// then write head and body out with one writev ([WriteBuffers]).
//
// A read is the only call into Rust: the Buffer keeps the view of its filled bytes that the
// read returned, so UnsafeBytes, Len and Consume cost no cgo call. Consume only counts; the
// next read (or WriteBuffers) drops the counted bytes in Rust, in the same call.
//
// ReadFrom waits for its connection through a poller of its own, as a [Relay] does: it is
// bounded by the buffer's read deadline ([Buffer.SetReadDeadline]), not the connection's,
// which it neither reads nor changes; Close ends it at once.
//
// A Buffer is not safe for concurrent use; Close may be called from any goroutine.
type Buffer struct {
	h     handle
	id    uint64
	io    *bufferIO // in: bytes to consume; out: the read and the view (see library_cgo.go)
	skip  int       // bytes consumed since io's view was taken, not yet in Rust
	stale bool      // io's view is out of date (after WriteBuffers or a failed call): fetch it
	st    uint32
	onRd  func(uintptr) bool
	fill1 func(uintptr)

	mu     sync.Mutex // guards p, src and rd where ReadFrom may wait: Close, SetReadDeadline
	p      poller
	src    watch     // the connection ReadFrom reads
	rd     time.Time // the buffer's read deadline, kept on the poller
	check  waitCheck // a ReadFrom's looks for a connection the caller closed
	closed func()    // wakes a ReadFrom on Close
}

// NewBuffer takes a buffer from the pool.
func NewBuffer() (*Buffer, error) {
	b := &Buffer{io: new(bufferIO)}
	if err := create("NewBuffer", b, &b.h, bufferNew, bufferFree); err != nil {
		return nil, err
	}
	b.onRd = b.readable
	b.fill1 = b.fillFrom
	b.closed = b.wakeClosed
	return b, nil
}

// fill makes one offheap_buffer_fill call: it drops the counted bytes, reads once from fd
// (none when fd is -1) and takes the new view. On failure the view is fetched again next time.
func (b *Buffer) fill(fd int32) uint32 {
	b.io.consume = uintptr(b.skip)
	st := bufferFill(b.id, fd, b.io)
	b.skip = int(b.io.consume) // 0 once Rust dropped them, even when the read failed
	b.stale = st != statusOK
	return st
}

// flush drops the bytes counted by Consume in Rust, for calls that read the buffer's window
// there (WriteBuffers, Engine.SubmitSession). No cgo call when nothing is counted.
func (b *Buffer) flush() uint32 {
	if b.skip == 0 {
		return statusOK
	}
	id, ok := b.h.acquire()
	if !ok {
		return statusInvalidHandle
	}
	defer b.h.release()
	b.id = id
	return b.fill(-1)
}

// readable runs inside the poller's RawConn.Read: at once, then after each event of the
// connection. It reads with the connection's fd, held open by its RawConn.Control.
func (b *Buffer) readable(uintptr) bool {
	if err := b.src.orig.Control(b.fill1); err != nil {
		b.st = statusRelayBadFd
	}
	done := b.st != statusOK || b.io.state != relayStateWantRead
	if !done && !b.check.armed {
		b.check.arm(&b.p, &b.mu, &b.rd, nil, true)
	}
	return done
}

func (b *Buffer) fillFrom(fd uintptr) { b.st = b.fill(int32(fd)) }

// ReadFrom reads once from raw's connection (waiting in the netpoller until it is readable),
// appending after the bytes already in the buffer. It returns io.EOF at end of file, and 0
// with no error when the buffer is full. Get raw once per connection with SyscallConn: the
// first ReadFrom from a connection has the buffer's poller watch it (a few syscalls), later
// ones from the same raw do not. A connection closed by the caller (also while ReadFrom waits)
// fails with [ErrConnClosed]; the buffer's deadline with os.ErrDeadlineExceeded; Close with
// [ErrClosed].
// One cgo call per readiness; it also drops the bytes consumed since the last read.
func (b *Buffer) ReadFrom(raw syscall.RawConn) (int, error) {
	const op = "Buffer.ReadFrom"
	id, ok := b.h.acquire()
	if !ok {
		return 0, opError(op, ErrClosed)
	}
	defer b.h.release()
	if !b.src.is(raw, raw) {
		b.mu.Lock()
		err := b.p.watch(&b.src, &unwatched, raw, raw, watchRead)
		if err == nil {
			err = b.p.setDeadline(b.rd)
		}
		b.mu.Unlock()
		if err != nil {
			return 0, connError(op, err)
		}
	}
	b.id = id
	b.st, b.io.n = statusOK, 0
	var err error
	for {
		err = b.p.raw.Read(b.onRd)
		if err == nil || b.h.closed() || !b.check.tick(err, &b.mu, &b.rd) {
			break
		}
		// A look for a connection the caller closed (its fd reports no event).
		if connClosed(b.src.orig) {
			err, b.st = nil, statusRelayBadFd
			break
		}
		b.check.arm(&b.p, &b.mu, &b.rd, nil, false)
	}
	b.check.done(&b.p, &b.mu, &b.rd, nil)
	runtime.KeepAlive(b)
	switch {
	case err != nil && b.h.closed():
		return 0, opError(op, ErrClosed)
	case err != nil:
		return 0, connError(op, err)
	case b.st == statusRelayBadFd:
		return 0, connError(op, net.ErrClosed)
	case b.st != statusOK:
		return 0, statusError("Buffer.ReadFrom", b.st)
	case b.io.n == 0 && int(b.io.length) < BufferSize:
		return 0, io.EOF
	}
	return int(b.io.n), nil
}

// view returns the filled bytes, fetching the view from Rust only when it is out of date.
// The caller holds the lease.
func (b *Buffer) view(id uint64) []byte {
	if b.stale {
		b.id = id
		st := b.fill(-1)
		runtime.KeepAlive(b)
		if st != statusOK {
			return nil
		}
	}
	if b.io.data == nil || int(b.io.length) <= b.skip {
		return nil
	}
	return unsafe.Slice(b.io.data, int(b.io.length))[b.skip:]
}

// UnsafeBytes returns the buffer's filled bytes as a view into Rust memory, without copying
// and without a cgo call. The view stays valid and unchanged until the next ReadFrom,
// WriteBuffers naming this buffer, or Close (Consume leaves it valid: it only shortens what
// the next UnsafeBytes returns). Do not keep it longer, and do not write to it. Once Close has
// started it returns nil; a view returned before points into memory the pool reuses once Close
// returns (reading it then gives other bytes, or crashes).
func (b *Buffer) UnsafeBytes() []byte {
	id, ok := b.h.acquire()
	if !ok {
		return nil
	}
	defer b.h.release()
	return b.view(id)
}

// Len returns the number of filled bytes (0 once closed).
func (b *Buffer) Len() int {
	id, ok := b.h.acquire()
	if !ok {
		return 0
	}
	defer b.h.release()
	return len(b.view(id))
}

// Consume drops n bytes from the front of the filled bytes (all of them when n is larger).
// It makes no cgo call: the next ReadFrom or WriteBuffers applies it in Rust.
func (b *Buffer) Consume(n int) error {
	id, ok := b.h.acquire()
	if !ok {
		return opError("Buffer.Consume", ErrClosed)
	}
	defer b.h.release()
	if n < 0 {
		return opError("Buffer.Consume", ErrInvalidArgument)
	}
	b.skip += min(n, len(b.view(id)))
	return nil
}

// releaseConn stops watching the connection the buffer read from, for a connection that
// leaves the caller's hands (Engine.SubmitSession): the engine's duplicate keeps the socket,
// and a watch would wake the buffer's poller on every exchange.
func (b *Buffer) releaseConn() {
	if b.src.orig == nil {
		return
	}
	b.mu.Lock()
	b.p.unwatch(&b.src, &unwatched)
	b.mu.Unlock()
}

// SetReadDeadline sets the buffer's read deadline: a ReadFrom waiting past t fails with
// os.ErrDeadlineExceeded (a zero t: none). It stays set for later reads, as a connection's
// does, and changes nothing on the connection itself.
func (b *Buffer) SetReadDeadline(t time.Time) error {
	return setPollerDeadline("Buffer.SetReadDeadline", &b.h, &b.mu, &b.p, &b.rd, t)
}

// Close returns the buffer to the pool and closes its poller (not the connection). Views of it
// become invalid. Idempotent, safe from any goroutine, also while another goroutine uses the
// buffer: a ReadFrom waiting returns at once with [ErrClosed], other calls fail with ErrClosed
// or return a zero value.
func (b *Buffer) Close() error { return b.h.close("Buffer.Close", b.closed) }

func (b *Buffer) wakeClosed() {
	b.mu.Lock()
	b.p.wake()
	b.mu.Unlock()
}

// connError wraps an error of a connection's RawConn for op: [ErrConnClosed] when the
// connection was closed, else [ErrRelayIO], with err kept (a deadline matches
// os.ErrDeadlineExceeded).
func connError(op string, err error) error {
	sentinel := ErrRelayIO
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
		sentinel = ErrConnClosed
	}
	return &Error{Op: op, Err: fmt.Errorf("%w: %w", sentinel, err)}
}

// WriteBuffers writes the filled bytes of up to 16 buffers, in order, to raw with writev
// (one syscall when the socket has room), waiting in the netpoller while it is full, and
// consumes what it wrote. It returns the bytes written. Views of the buffers taken before it
// are invalid after it. The buffers, where the bytes come from, come first.
func WriteBuffers(bufs []*Buffer, raw syscall.RawConn) (int64, error) {
	var ids [writevMax]uint64
	if len(bufs) > len(ids) {
		return 0, &Error{Op: "WriteBuffers", Err: fmt.Errorf("%w: %d buffers, at most %d", ErrTooLarge, len(bufs), writevMax)}
	}
	left := 0
	for i, b := range bufs {
		id, ok := b.h.get()
		if !ok {
			return 0, opError("WriteBuffers", ErrClosed)
		}
		ids[i] = id
		left += b.Len()
		if st := b.flush(); st != statusOK { // Rust writes from its own window
			return 0, statusError("WriteBuffers", st)
		}
	}
	var total int64
	var st, state uint32
	var n int
	defer func() {
		for _, b := range bufs {
			b.stale = true // Rust consumed what it wrote
		}
		runtime.KeepAlive(bufs)
	}()
	for left > 0 {
		err := raw.Write(func(fd uintptr) bool {
			n, state, st = bufferWritev(int32(fd), ids[:len(bufs)])
			return st != statusOK || state != relayStateWantWrite
		})
		if err != nil {
			return total, connError("WriteBuffers", err)
		}
		if st != statusOK {
			return total, statusError("WriteBuffers", st)
		}
		total += int64(n)
		left -= n
	}
	return total, nil
}
