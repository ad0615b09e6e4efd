//go:build cgo

package offheap

/*
#cgo noescape offheap_buffer_new
#cgo nocallback offheap_buffer_new
#cgo nocallback offheap_buffer_free
#cgo noescape offheap_buffer_read
#cgo nocallback offheap_buffer_read
#cgo noescape offheap_buffer_view
#cgo nocallback offheap_buffer_view
#cgo nocallback offheap_buffer_consume
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
// A Buffer is not safe for concurrent use; Close may be called from any goroutine.
type Buffer struct {
	h     handle
	id    uint64
	fd    uintptr
	n     C.size_t
	state C.uint32_t
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

func (b *Buffer) readable(fd uintptr) bool {
	b.st = C.offheap_buffer_read(C.uint64_t(b.id), C.int32_t(fd), &b.n, &b.state)
	return b.st != C.OFFHEAP_STATUS_OK || b.state != C.OFFHEAP_RELAY_STATE_WANT_READ
}

// ReadFrom reads once from raw (waiting in the netpoller until it is readable), appending
// after the bytes already in the buffer. It returns io.EOF at end of file, and 0 with no
// error when the buffer is full. Get raw once per connection with SyscallConn.
func (b *Buffer) ReadFrom(raw syscall.RawConn) (int, error) {
	id, ok := b.h.get()
	if !ok {
		return 0, opError("Buffer.ReadFrom", ErrClosed)
	}
	b.id = id
	b.st, b.n = C.OFFHEAP_STATUS_OK, 0
	err := raw.Read(b.onRd)
	runtime.KeepAlive(b)
	switch {
	case err != nil:
		return 0, &Error{Op: "Buffer.ReadFrom", Err: fmt.Errorf("%w: %w", ErrRelayIO, err)}
	case b.st != C.OFFHEAP_STATUS_OK:
		return 0, statusError("Buffer.ReadFrom", b.st)
	case b.n == 0 && b.Len() < BufferSize:
		return 0, io.EOF
	}
	return int(b.n), nil
}

// UnsafeBytes returns the buffer's filled bytes as a view into Rust memory, without copying.
// The view stays valid and unchanged until the next Consume, WriteBuffers naming this buffer,
// or Close; ReadFrom only appends after it, except when the filled bytes reach the end of the
// buffer: ReadFrom then moves them to the front first (so a partial head consumed up to the
// end has room to grow), and the view is stale. Do not keep it longer, and do not write to it.
func (b *Buffer) UnsafeBytes() []byte {
	id, ok := b.h.get()
	if !ok {
		return nil
	}
	var p *C.uint8_t
	var n C.size_t
	st := C.offheap_buffer_view(C.uint64_t(id), &p, &n)
	runtime.KeepAlive(b)
	if st != C.OFFHEAP_STATUS_OK || p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// Len returns the number of filled bytes.
func (b *Buffer) Len() int { return len(b.UnsafeBytes()) }

// Consume drops n bytes from the front of the filled bytes.
func (b *Buffer) Consume(n int) error {
	id, ok := b.h.get()
	if !ok {
		return opError("Buffer.Consume", ErrClosed)
	}
	if n < 0 {
		return opError("Buffer.Consume", ErrInvalidArgument)
	}
	st := C.offheap_buffer_consume(C.uint64_t(id), C.size_t(n))
	runtime.KeepAlive(b)
	if st != C.OFFHEAP_STATUS_OK {
		return statusError("Buffer.Consume", st)
	}
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
// consumes what it wrote. It returns the bytes written.
func WriteBuffers(raw syscall.RawConn, bufs ...*Buffer) (int64, error) {
	var ids [16]C.uint64_t
	if len(bufs) > len(ids) {
		return 0, opError("WriteBuffers", ErrTooLarge)
	}
	for i, b := range bufs {
		id, ok := b.h.get()
		if !ok {
			return 0, opError("WriteBuffers", ErrClosed)
		}
		ids[i] = C.uint64_t(id)
	}
	var total int64
	var st C.offheap_status
	var n C.size_t
	var state C.uint32_t
	for {
		left := 0
		for _, b := range bufs {
			left += b.Len()
		}
		if left == 0 {
			break
		}
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
	}
	runtime.KeepAlive(bufs)
	return total, nil
}
