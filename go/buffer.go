package offheap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// BufferSize is the size of every Rust-owned [Buffer].
const BufferSize = 64 << 10

// writevMax is the most buffers one WriteBuffers call takes (OFFHEAP_WRITEV_MAX).
const writevMax = 16

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
// A Buffer is not safe for concurrent use; Close may be called from any goroutine.
type Buffer struct {
	h     handle
	id    uint64
	io    *bufferIO // in: bytes to consume; out: the read and the view (see library_cgo.go)
	skip  int       // bytes consumed since io's view was taken, not yet in Rust
	stale bool      // io's view is out of date (after WriteBuffers or a failed call): fetch it
	st    uint32
	onRd  func(uintptr) bool
}

// NewBuffer takes a buffer from the pool.
func NewBuffer() (*Buffer, error) {
	if initErr != nil {
		return nil, initErr
	}
	id, st := bufferNew()
	if st != statusOK {
		return nil, statusError("NewBuffer", st)
	}
	b := &Buffer{io: new(bufferIO)}
	b.onRd = b.readable
	attach(&b.h, b, id, bufferFree)
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
	b.id, _ = b.h.get()
	return b.fill(-1)
}

func (b *Buffer) readable(fd uintptr) bool {
	b.st = b.fill(int32(fd))
	return b.st != statusOK || b.io.state != relayStateWantRead
}

// ReadFrom reads once from raw (waiting in the netpoller until it is readable), appending
// after the bytes already in the buffer. It returns io.EOF at end of file, and 0 with no
// error when the buffer is full. Get raw once per connection with SyscallConn.
// One cgo call per readiness; it also drops the bytes consumed since the last read.
func (b *Buffer) ReadFrom(raw syscall.RawConn) (int, error) {
	id, ok := b.h.get()
	if !ok {
		return 0, opError("Buffer.ReadFrom", ErrClosed)
	}
	b.id = id
	b.st, b.io.n = statusOK, 0
	err := raw.Read(b.onRd)
	runtime.KeepAlive(b)
	switch {
	case err != nil:
		return 0, connError("Buffer.ReadFrom", err)
	case b.st != statusOK:
		return 0, statusError("Buffer.ReadFrom", b.st)
	case b.io.n == 0 && int(b.io.length) < BufferSize:
		return 0, io.EOF
	}
	return int(b.io.n), nil
}

// view returns the filled bytes, fetching the view from Rust only when it is out of date.
func (b *Buffer) view() []byte {
	id, ok := b.h.get()
	if !ok {
		return nil
	}
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
// the next UnsafeBytes returns). Do not keep it longer, and do not write to it.
func (b *Buffer) UnsafeBytes() []byte { return b.view() }

// Len returns the number of filled bytes.
func (b *Buffer) Len() int { return len(b.view()) }

// Consume drops n bytes from the front of the filled bytes (all of them when n is larger).
// It makes no cgo call: the next ReadFrom or WriteBuffers applies it in Rust.
func (b *Buffer) Consume(n int) error {
	if _, ok := b.h.get(); !ok {
		return opError("Buffer.Consume", ErrClosed)
	}
	if n < 0 {
		return opError("Buffer.Consume", ErrInvalidArgument)
	}
	b.skip += min(n, len(b.view()))
	return nil
}

// Close returns the buffer to the pool. Views of it become invalid.
func (b *Buffer) Close() error { return b.h.close("Buffer.Close") }

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
// are invalid after it.
func WriteBuffers(raw syscall.RawConn, bufs ...*Buffer) (int64, error) {
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
