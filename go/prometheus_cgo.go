//go:build cgo

package offheap

// #include "offheap.h"
import "C"

// windowScrape takes a snapshot of aggregator id at now into arena snap and starts its
// exposition in format f (offheap_aggregator_scrape); returns the row count.
func windowScrape(id, snap uint64, now int64, quantiles []float64, f ExpositionFormat) (uint64, uint32) {
	var rows C.uint64_t
	st := C.offheap_aggregator_scrape(C.uint64_t(id), C.uint64_t(snap), C.int64_t(now), f64Ptr(quantiles),
		C.size_t(len(quantiles)), C.offheap_expo_format(f), &rows)
	return uint64(rows), uint32(st)
}

// snapshotRead copies the next bytes of the exposition in arena snap into buf
// (offheap_snapshot_read) and returns how many: 0 at the end.
func snapshotRead(id, snap uint64, buf []byte) (int, uint32) {
	var n C.size_t
	st := C.offheap_snapshot_read(C.uint64_t(id), C.uint64_t(snap), bytesPtr(buf), C.size_t(len(buf)), &n)
	return int(n), uint32(st)
}

func windowSetFamily(id uint64, name string, t MetricType, help string) uint32 {
	return uint32(C.offheap_aggregator_set_family(C.uint64_t(id), stringPtr(name), C.size_t(len(name)),
		C.uint32_t(t), stringPtr(help), C.size_t(len(help))))
}
