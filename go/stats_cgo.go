//go:build cgo

package offheap

/*
#cgo noescape offheap_stats
#cgo nocallback offheap_stats
#include "offheap.h"
*/
import "C"

import "unsafe"

// The handle kinds and RustStats (the mirror of offheap_counters) have the header's values.
var (
	_ equal = [C.OFFHEAP_KIND_DEBUG - HandleKindDebug]struct{}{}
	_ equal = [C.OFFHEAP_KIND_AGGREGATOR - HandleKindAggregator]struct{}{}
	_ equal = [C.OFFHEAP_KIND_SNAPSHOT - HandleKindSnapshot]struct{}{}
	_ equal = [C.OFFHEAP_KIND_BUFFER - HandleKindBuffer]struct{}{}
	_ equal = [C.OFFHEAP_KIND_RELAY - HandleKindRelay]struct{}{}
	_ equal = [C.OFFHEAP_KIND_ENGINE - HandleKindEngine]struct{}{}
	_ equal = [C.OFFHEAP_KIND_SLOTS - len(RustStats{}.HandlesByKind)]struct{}{}

	_ equal = [C.sizeof_offheap_counters - unsafe.Sizeof(RustStats{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_counters{}.heap_live_bytes) - unsafe.Offsetof(RustStats{}.LiveBytes)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_counters{}.heap_peak_bytes) - unsafe.Offsetof(RustStats{}.PeakBytes)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_counters{}.heap_allocations) - unsafe.Offsetof(RustStats{}.Allocations)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_counters{}.heap_frees) - unsafe.Offsetof(RustStats{}.Frees)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_counters{}.handles_live) - unsafe.Offsetof(RustStats{}.LiveHandles)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_counters{}.handles_by_kind) - unsafe.Offsetof(RustStats{}.HandlesByKind)]struct{}{}
)

func readStats(s *RustStats) uint32 {
	return uint32(C.offheap_stats((*C.offheap_counters)(unsafe.Pointer(s))))
}
