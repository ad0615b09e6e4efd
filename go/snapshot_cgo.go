//go:build cgo

package offheap

/*
#cgo noescape offheap_snapshot_new
#cgo nocallback offheap_snapshot_new
#cgo nocallback offheap_snapshot_free
#cgo noescape offheap_snapshot_take
#cgo nocallback offheap_snapshot_take
#cgo noescape offheap_snapshot_view
#cgo nocallback offheap_snapshot_view
#include "offheap.h"
*/
import "C"

import "unsafe"

// The mirror of snapshot.go has the header's layout.
var (
	_ equal = [C.sizeof_offheap_snapshot_columns - unsafe.Sizeof(windowView{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.rows) - unsafe.Offsetof(windowView{}.rows)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.nquantiles) - unsafe.Offsetof(windowView{}.nquantiles)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.reserved) - unsafe.Offsetof(windowView{}.reserved)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.now) - unsafe.Offsetof(windowView{}.now)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.next_since) - unsafe.Offsetof(windowView{}.nextSince)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.ids) - unsafe.Offsetof(windowView{}.ids)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.kinds) - unsafe.Offsetof(windowView{}.kinds)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.raw_keys) - unsafe.Offsetof(windowView{}.rawKeys)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.key_ends) - unsafe.Offsetof(windowView{}.keyEnds)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.key_bytes) - unsafe.Offsetof(windowView{}.keyBytes)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.key_bytes_len) - unsafe.Offsetof(windowView{}.keyBytesLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.counts) - unsafe.Offsetof(windowView{}.counts)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.sums) - unsafe.Offsetof(windowView{}.sums)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.mins) - unsafe.Offsetof(windowView{}.mins)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.maxs) - unsafe.Offsetof(windowView{}.maxs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.lasts) - unsafe.Offsetof(windowView{}.lasts)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.means) - unsafe.Offsetof(windowView{}.means)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.stddevs) - unsafe.Offsetof(windowView{}.stddevs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.increases) - unsafe.Offsetof(windowView{}.increases)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.rates) - unsafe.Offsetof(windowView{}.rates)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.quantiles) - unsafe.Offsetof(windowView{}.quantiles)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.export_bytes) - unsafe.Offsetof(windowView{}.exportBytes)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_snapshot_columns{}.export_len) - unsafe.Offsetof(windowView{}.exportLen)]struct{}{}
)

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
func windowSnapshotTake(id, snap uint64, now int64, quantiles []float64, since uint64, delta bool) (uint64, uint32) {
	d := C.uint32_t(0)
	if delta {
		d = 1
	}
	var rows C.uint64_t
	st := C.offheap_snapshot_take(C.uint64_t(id), C.uint64_t(snap), C.int64_t(now), f64Ptr(quantiles),
		C.size_t(len(quantiles)), C.uint64_t(since), d, &rows)
	return uint64(rows), uint32(st)
}

func windowSnapshotView(snap uint64, out *windowView) uint32 {
	return uint32(C.offheap_snapshot_view(C.uint64_t(snap), (*C.offheap_snapshot_columns)(unsafe.Pointer(out))))
}
