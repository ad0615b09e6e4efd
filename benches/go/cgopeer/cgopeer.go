// Package cgopeer holds the baseline of a cgo crossing: an empty C function called through a
// Go wrapper, exactly the shape of a small offheap export called through the offheap package.
package cgopeer

/*
#include <stdint.h>
static uint32_t offheap_bench_empty(void) { return 1; }
#cgo nocallback offheap_bench_empty
*/
import "C"

// Empty calls an empty C function.
func Empty() uint32 { return uint32(C.offheap_bench_empty()) }
