//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import (
	"unsafe"
)

// The debug object and the calls below exist for the package's tests only (they check the
// handle discipline, stale handles and panics independent of any subsystem), so they have no
// !cgo twin: the tests that use them build with cgo only.

// debugObject is the smallest object behind a Rust handle.
type debugObject struct {
	h handle
}

func freeDebugObject(id uint64) uint32 { return uint32(C.offheap_debug_object_free(C.uint64_t(id))) }

func debugObjectNew() (uint64, uint32) {
	var id C.uint64_t
	st := C.offheap_debug_object_new(&id)
	return uint64(id), uint32(st)
}

func newDebugObject() (*debugObject, error) {
	o := &debugObject{}
	if err := create("debugObject.new", o, &o.h, debugObjectNew, freeDebugObject); err != nil {
		return nil, err
	}
	return o, nil
}

// touch counts a use of the object, holding it in Rust for about spin busy-loop iterations.
func (o *debugObject) touch(spin uint32) (uint64, error) {
	var n C.uint64_t
	err := o.h.call("debugObject.touch", func(id uint64) uint32 {
		return uint32(C.offheap_debug_object_touch(C.uint64_t(id), C.uint32_t(spin), &n))
	})
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// touchRaw calls the library with an arbitrary handle value (forged, zero or stale).
func touchRaw(id uint64) error {
	var n C.uint64_t
	if st := C.offheap_debug_object_touch(C.uint64_t(id), 0, &n); st != statusOK {
		return statusError("debugObject.touch", uint32(st))
	}
	return nil
}

// freeRaw frees an arbitrary handle value and returns the status as an error.
func freeRaw(id uint64) error {
	if st := freeDebugObject(id); st != statusOK {
		return statusError("debugObject.free", st)
	}
	return nil
}

// Close frees the object; later calls return ErrClosed. Idempotent, safe from any goroutine.
func (o *debugObject) Close() error { return o.h.close("debugObject.Close", nil) }

// debugSum passes (ptr, n) to the library as given, so tests can pass NULL with a length.
func debugSum(p *byte, n int) (uint64, error) {
	var out C.uint64_t
	if st := C.offheap_debug_sum((*C.uint8_t)(unsafe.Pointer(p)), C.size_t(n), &out); st != statusOK {
		return 0, statusError("debugSum", uint32(st))
	}
	return uint64(out), nil
}

// debugFill fills b (which may be nil) with v in the library.
func debugFill(b []byte, v byte) error {
	if st := C.offheap_debug_fill(bytesPtr(b), C.size_t(len(b)), C.uint8_t(v)); st != statusOK {
		return statusError("debugFill", uint32(st))
	}
	return nil
}

// injectPanics makes the next n library calls panic inside the boundary.
func injectPanics(n uint32) { C.offheap_debug_inject_panics(C.uint32_t(n)) }
