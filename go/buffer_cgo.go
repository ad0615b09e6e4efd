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

import "unsafe"

// The constants and the mirror of buffer.go have the header's values and layout.
var (
	_ equal = [C.OFFHEAP_BUFFER_SIZE - BufferSize]struct{}{}
	_ equal = [C.OFFHEAP_WRITEV_MAX - writevMax]struct{}{}

	_ equal = [C.sizeof_offheap_buffer_io - unsafe.Sizeof(bufferIO{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_buffer_io{}.consume) - unsafe.Offsetof(bufferIO{}.consume)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_buffer_io{}.n) - unsafe.Offsetof(bufferIO{}.n)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_buffer_io{}.data) - unsafe.Offsetof(bufferIO{}.data)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_buffer_io{}.len) - unsafe.Offsetof(bufferIO{}.length)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_buffer_io{}.state) - unsafe.Offsetof(bufferIO{}.state)]struct{}{}
)

func bufferNew() (uint64, uint32) {
	var id C.uint64_t
	st := C.offheap_buffer_new(&id)
	return uint64(id), uint32(st)
}

func bufferFree(id uint64) uint32 { return uint32(C.offheap_buffer_free(C.uint64_t(id))) }

func bufferFill(id uint64, fd int32, io *bufferIO) uint32 {
	return uint32(C.offheap_buffer_fill(C.uint64_t(id), C.int32_t(fd), (*C.offheap_buffer_io)(unsafe.Pointer(io))))
}

// bufferWritev writes the filled bytes of the buffers ids to fd with one writev
// (offheap_buffer_writev) and returns the bytes written and the relay state.
func bufferWritev(fd int32, ids []uint64) (n int, state, st uint32) {
	var written C.size_t
	var s C.uint32_t
	st = uint32(C.offheap_buffer_writev(C.int32_t(fd), u64Ptr(ids), C.size_t(len(ids)), &written, &s))
	return int(written), uint32(s), st
}
