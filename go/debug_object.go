//go:build cgo

package offheap

/*
#cgo noescape offheap_debug_object_new
#cgo nocallback offheap_debug_object_new
#cgo noescape offheap_debug_object_touch
#cgo nocallback offheap_debug_object_touch
#cgo nocallback offheap_debug_object_free
#cgo noescape offheap_debug_sum
#cgo nocallback offheap_debug_sum
#cgo noescape offheap_debug_fill
#cgo nocallback offheap_debug_fill
#include "offheap.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// debugObject is the smallest object behind a Rust handle. The package's tests use it to
// check the handle discipline (Close races, stale handles, panics) independent of any subsystem.
type debugObject struct {
	h handle
}

func freeDebugObject(id uint64) { C.offheap_debug_object_free(C.uint64_t(id)) }

func newDebugObject() (*debugObject, error) {
	if initErr != nil {
		return nil, initErr
	}
	var id C.uint64_t
	if st := C.offheap_debug_object_new(&id); st != C.OFFHEAP_STATUS_OK {
		return nil, statusError("debugObject.new", st)
	}
	o := &debugObject{}
	attach(&o.h, o, uint64(id), freeDebugObject)
	return o, nil
}

// touch counts a use of the object, holding it in Rust for about spin busy-loop iterations.
func (o *debugObject) touch(spin uint32) (uint64, error) {
	id, ok := o.h.get()
	if !ok {
		return 0, opError("debugObject.touch", ErrClosed)
	}
	var n C.uint64_t
	st := C.offheap_debug_object_touch(C.uint64_t(id), C.uint32_t(spin), &n)
	runtime.KeepAlive(o)
	if st != C.OFFHEAP_STATUS_OK {
		return 0, statusError("debugObject.touch", st)
	}
	return uint64(n), nil
}

// touchRaw calls the library with an arbitrary handle value (forged, zero or stale).
func touchRaw(id uint64) error {
	var n C.uint64_t
	if st := C.offheap_debug_object_touch(C.uint64_t(id), 0, &n); st != C.OFFHEAP_STATUS_OK {
		return statusError("debugObject.touch", st)
	}
	return nil
}

// freeRaw frees an arbitrary handle value and returns the status as an error.
func freeRaw(id uint64) error {
	if st := C.offheap_debug_object_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("debugObject.free", st)
	}
	return nil
}

// Close frees the object; later calls return ErrClosed. Idempotent, safe from any goroutine.
func (o *debugObject) Close() error {
	id, ok := o.h.release()
	if !ok {
		return nil
	}
	if st := C.offheap_debug_object_free(C.uint64_t(id)); st != C.OFFHEAP_STATUS_OK {
		return statusError("debugObject.Close", st)
	}
	return nil
}

// debugSum passes (ptr, n) to the library as given, so tests can pass NULL with a length.
func debugSum(p *byte, n int) (uint64, error) {
	var out C.uint64_t
	if st := C.offheap_debug_sum((*C.uint8_t)(unsafe.Pointer(p)), C.size_t(n), &out); st != C.OFFHEAP_STATUS_OK {
		return 0, statusError("debugSum", st)
	}
	return uint64(out), nil
}

// debugFill fills b (which may be nil) with v in the library.
func debugFill(b []byte, v byte) error {
	if st := C.offheap_debug_fill((*C.uint8_t)(unsafe.SliceData(b)), C.size_t(len(b)), C.uint8_t(v)); st != C.OFFHEAP_STATUS_OK {
		return statusError("debugFill", st)
	}
	return nil
}
