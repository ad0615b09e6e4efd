//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

func windowSnapshotNew() (uint64, uint32) {
	var id C.uint64_t
	st := C.offheap_snapshot_new(&id)
	return uint64(id), uint32(st)
}

func windowSnapshotFree(id uint64) uint32 {
	return uint32(C.offheap_snapshot_free(C.uint64_t(id)))
}

// windowSnapshotTake takes the aggregator's snapshot at now into the arena snap
// (offheap_snapshot_take) and returns its number of rows.
func windowSnapshotTake(id, snap uint64, now int64, quantiles []float64, since uint64, flags uint32) (uint64, uint32) {
	var rows C.uint64_t
	st := C.offheap_snapshot_take(C.uint64_t(id), C.uint64_t(snap), C.int64_t(now), f64Ptr(quantiles),
		C.size_t(len(quantiles)), C.uint64_t(since), C.uint32_t(flags), &rows)
	return uint64(rows), uint32(st)
}

func windowSnapshotView(snap uint64, out *windowView) uint32 {
	return uint32(C.offheap_snapshot_view(C.uint64_t(snap), (*C.offheap_snapshot_columns)(unsafe.Pointer(out))))
}
