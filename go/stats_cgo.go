//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

func readStats(s *RustStats) uint32 {
	return uint32(C.offheap_stats((*C.offheap_counters)(unsafe.Pointer(s))))
}
