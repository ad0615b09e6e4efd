//go:build cgo

package offheap

/*
#cgo noescape offheap_buffer_new
#cgo nocallback offheap_buffer_new
#cgo nocallback offheap_buffer_free
#cgo noescape offheap_buffer_fill
#cgo nocallback offheap_buffer_fill
#cgo noescape offheap_buffer_writev
#cgo nocallback offheap_buffer_writev
#include "offheap.h"
*/
import "C"

import (
	"fmt"
	"io"
	"runtime"
	"syscall"
	"unsafe"
)

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
	io    C.offheap_buffer_io // in: bytes to consume; out: the read and the view
	skip  int                 // bytes consumed since io's view was taken, not yet in Rust
	stale bool                // io's view is out of date (after WriteBuffers or a failed call): fetch it
	st    C.offheap_status
	onRd  func(uintptr) bool
}

func freeBuffer(id uint64) { C.offheap_buffer_free(C.uint64_t(id)) }

// NewBuffer takes a buffer from the pool.
func NewBuffer() (*Buffer, error) {
	if initErr != nil {
		return nil, initErr
	}
	var id C.uint64_t
	if st := C.offheap_buffer_new(&id); st != C.OFFHEAP_STATUS_OK {
		return nil, statusError("NewBuffer", st)
	}
	b := &Buffer{}
	b.onRd = b.readable
	attach(&b.h, b, uint64(id), freeBuffer)
	return b, nil
}

// fill makes one offheap_buffer_fill call: it drops the counted bytes, reads once from fd
// (none when fd is -1) and takes the new view. On failure the view is fetched again next time.
func (b *Buffer) fill(fd int32) C.offheap_status {
	b.io.consume = C.size_t(b.skip)
	st := C.offheap_buffer_fill(C.uint64_t(b.id), C.int32_t(fd), &b.io)
	b.skip = int(b.io.consume) // 0 once Rust dropped them, even when the read failed
	b.stale = st != C.OFFHEAP_STATUS_OK
	return st
}

// flush drops the bytes counted by Consume in Rust, for calls that read the buffer's window
// there (WriteBuffers, Engine.SubmitSession). No cgo call when nothing is counted.
func (b *Buffer) flush() C.offheap_status {
	if b.skip == 0 {
		return C.OFFHEAP_STATUS_OK
	}
	b.id, _ = b.h.get()
	return b.fill(-1)
}

func (b *Buffer) readable(fd uintptr) bool {
	b.st = b.fill(int32(fd))
	return b.st != C.OFFHEAP_STATUS_OK || b.io.state != C.OFFHEAP_RELAY_STATE_WANT_READ
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
	b.st, b.io.n = C.OFFHEAP_STATUS_OK, 0
	err := raw.Read(b.onRd)
	runtime.KeepAlive(b)
	switch {
	case err != nil:
		return 0, &Error{Op: "Buffer.ReadFrom", Err: fmt.Errorf("%w: %w", ErrRelayIO, err)}
	case b.st != C.OFFHEAP_STATUS_OK:
		return 0, statusError("Buffer.ReadFrom", b.st)
	case b.io.n == 0 && int(b.io.len) < BufferSize:
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
		if st != C.OFFHEAP_STATUS_OK {
			return nil
		}
	}
	if b.io.data == nil || int(b.io.len) <= b.skip {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(b.io.data)), int(b.io.len))[b.skip:]
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
func (b *Buffer) Close() error {
	id, ok := b.h.release()
	if !ok {
		return nil
	}
	if st := C.offheap_buffer_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("Buffer.Close", st)
	}
	return nil
}

// WriteBuffers writes the filled bytes of up to 16 buffers, in order, to raw with writev
// (one syscall when the socket has room), waiting in the netpoller while it is full, and
// consumes what it wrote. It returns the bytes written. Views of the buffers taken before it
// are invalid after it.
func WriteBuffers(raw syscall.RawConn, bufs ...*Buffer) (int64, error) {
	var ids [16]C.uint64_t
	if len(bufs) > len(ids) {
		return 0, opError("WriteBuffers", ErrTooLarge)
	}
	left := 0
	for i, b := range bufs {
		id, ok := b.h.get()
		if !ok {
			return 0, opError("WriteBuffers", ErrClosed)
		}
		ids[i] = C.uint64_t(id)
		left += b.Len()
		if st := b.flush(); st != C.OFFHEAP_STATUS_OK { // Rust writes from its own window
			return 0, statusError("WriteBuffers", st)
		}
	}
	var total int64
	var st C.offheap_status
	var n C.size_t
	var state C.uint32_t
	defer func() {
		for _, b := range bufs {
			b.stale = true // Rust consumed what it wrote
		}
		runtime.KeepAlive(bufs)
	}()
	for left > 0 {
		err := raw.Write(func(fd uintptr) bool {
			st = C.offheap_buffer_writev(C.int32_t(fd), &ids[0], C.size_t(len(bufs)), &n, &state)
			return st != C.OFFHEAP_STATUS_OK || state != C.OFFHEAP_RELAY_STATE_WANT_WRITE
		})
		if err != nil {
			return total, &Error{Op: "WriteBuffers", Err: fmt.Errorf("%w: %w", ErrRelayIO, err)}
		}
		if st != C.OFFHEAP_STATUS_OK {
			return total, statusError("WriteBuffers", st)
		}
		total += int64(n)
		left -= int(n)
	}
	return total, nil
}
