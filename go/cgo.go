//go:build cgo

package offheap

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#cgo noescape offheap_stats
#cgo nocallback offheap_stats
#cgo nocallback offheap_abi_version
#cgo nocallback offheap_version_str
#cgo nocallback offheap_status_str
#cgo nocallback offheap_debug_inject_panics
#include "offheap.h"
*/
import "C"

import (
	"fmt"
)

// initErr is set at init when the linked library cannot be used; constructors return it.
var initErr = checkABI(uint32(C.offheap_abi_version()), uint32(C.OFFHEAP_ABI_VERSION))

var libVersion = C.GoString(C.offheap_version_str())

// checkABI compares the ABI version of the linked library with the header's.
func checkABI(library, header uint32) error {
	if library == header {
		return nil
	}
	return &Error{Op: "offheap init", Err: fmt.Errorf("%w: the library speaks ABI %d, the header ABI %d: "+
		"rebuild the library (`make build`) from the same checkout as this Go package", ErrABIMismatch, library, header)}
}

// Available reports whether the library is linked and usable: nil, or the error every
// constructor would return ([ErrUnavailable] without cgo, [ErrABIMismatch] on a stale library).
func Available() error { return initErr }

// Version returns the linked library's version, such as "0.1.0" ("" without cgo).
func Version() string { return libVersion }

// ABIVersion calls into the library and returns the C ABI version it was built with (0 without
// cgo). It is the cheapest call into the library.
func ABIVersion() uint32 { return uint32(C.offheap_abi_version()) }

// statusError maps a non-OK status to an *Error wrapping its sentinel.
func statusError(op string, st C.offheap_status) error {
	var sentinel error
	switch st {
	case C.OFFHEAP_STATUS_PANIC:
		sentinel = ErrPanic
	case C.OFFHEAP_STATUS_INVALID_HANDLE:
		sentinel = ErrClosed
	case C.OFFHEAP_STATUS_NULL_POINTER, C.OFFHEAP_STATUS_INVALID_ARGUMENT, C.OFFHEAP_STATUS_MISALIGNED_POINTER:
		sentinel = ErrInvalidArgument
	case C.OFFHEAP_STATUS_TOO_LARGE:
		sentinel = ErrTooLarge
	case C.OFFHEAP_STATUS_POISONED:
		sentinel = ErrPoisoned
	case C.OFFHEAP_STATUS_BUFFER_TOO_SMALL:
		sentinel = ErrBufferTooSmall
	case C.OFFHEAP_STATUS_OUT_OF_MEMORY, C.OFFHEAP_STATUS_HANDLE_TABLE_FULL:
		sentinel = ErrOutOfMemory
	default:
		if s := subsystemSentinel(uint32(st)); s != nil {
			sentinel = s
		} else {
			sentinel = ErrInternal
		}
	}
	return &Error{Op: op, Status: uint32(st), Err: sentinel}
}

// statusMessage returns the library's own message for a status.
func statusMessage(st uint32) string { return C.GoString(C.offheap_status_str(C.uint32_t(st))) }

// readRustStats reads the library's heap and handle counters.
func readRustStats() (RustStats, error) {
	var c C.offheap_counters
	if st := C.offheap_stats(&c); st != C.OFFHEAP_STATUS_OK {
		return RustStats{}, statusError("ReadRustStats", st)
	}
	s := RustStats{
		LiveBytes:   uint64(c.heap_live_bytes),
		PeakBytes:   uint64(c.heap_peak_bytes),
		Allocations: uint64(c.heap_allocations),
		Frees:       uint64(c.heap_frees),
		LiveHandles: uint64(c.handles_live),
	}
	for i := range s.HandlesByKind {
		s.HandlesByKind[i] = uint64(c.handles_by_kind[i])
	}
	return s, nil
}

// injectPanics makes the next n library calls panic inside the boundary (tests only).
func injectPanics(n uint32) { C.offheap_debug_inject_panics(C.uint32_t(n)) }
