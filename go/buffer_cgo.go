//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

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
