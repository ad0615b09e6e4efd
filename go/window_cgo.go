//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

func windowNew(cfg *windowConfig, name, help, keyLabel string) (uint64, uint32) {
	var id C.uint64_t
	st := C.offheap_aggregator_new((*C.offheap_aggregator_config)(unsafe.Pointer(cfg)), stringPtr(name), C.size_t(len(name)),
		stringPtr(help), C.size_t(len(help)), stringPtr(keyLabel), C.size_t(len(keyLabel)), &id)
	return uint64(id), uint32(st)
}

func windowFree(id uint64) uint32 { return uint32(C.offheap_aggregator_free(C.uint64_t(id))) }

func accountingPtr(acc *IngestAccounting) *C.offheap_ingest_accounting {
	return (*C.offheap_ingest_accounting)(unsafe.Pointer(acc))
}

// windowIngest ingests len(keys) samples keyed by uint64 keys or series ids, as key (a
// seriesKey* value) says (offheap_aggregator_ingest); ts, values and weights (nil: every weight
// 1) have as many.
func windowIngest(id uint64, key uint32, keys []uint64, ts []int64, values []float64, weights []uint32, now int64,
	acc *IngestAccounting) uint32 {
	return uint32(C.offheap_aggregator_ingest(C.uint64_t(id), C.uint32_t(key), u64Ptr(keys), i64Ptr(ts), f64Ptr(values),
		u32Ptr(weights), C.size_t(len(keys)), C.int64_t(now), accountingPtr(acc)))
}

// windowIngestKeys is windowIngest for len(ends) samples keyed by byte keys, key i ending at
// ends[i] in keys (offheap_aggregator_ingest_keys).
func windowIngestKeys(id uint64, keys []byte, ends []uint32, ts []int64, values []float64, weights []uint32,
	now int64, acc *IngestAccounting) uint32 {
	return uint32(C.offheap_aggregator_ingest_keys(C.uint64_t(id), bytesPtr(keys), C.size_t(len(keys)), u32Ptr(ends),
		i64Ptr(ts), f64Ptr(values), u32Ptr(weights), C.size_t(len(ends)), C.int64_t(now), accountingPtr(acc)))
}

// windowResolveKeys writes the series ids of len(ends) byte keys to out
// (offheap_aggregator_resolve_keys).
func windowResolveKeys(id uint64, keys []byte, ends []uint32, out []uint64, acc *IngestAccounting) uint32 {
	return uint32(C.offheap_aggregator_resolve_keys(C.uint64_t(id), bytesPtr(keys), C.size_t(len(keys)), u32Ptr(ends),
		C.size_t(len(ends)), u64Ptr(out), accountingPtr(acc)))
}

// windowResolveU64 writes the series ids of the uint64 keys to out (offheap_aggregator_resolve_u64).
func windowResolveU64(id uint64, keys []uint64, out []uint64, acc *IngestAccounting) uint32 {
	return uint32(C.offheap_aggregator_resolve_u64(C.uint64_t(id), u64Ptr(keys), C.size_t(len(keys)), u64Ptr(out),
		accountingPtr(acc)))
}

func windowDelete(id uint64, kind uint32, key uint64, keyBytes []byte) uint32 {
	return uint32(C.offheap_aggregator_delete(C.uint64_t(id), C.uint32_t(kind), C.uint64_t(key), bytesPtr(keyBytes),
		C.size_t(len(keyBytes))))
}

func windowRemove(id uint64, what uint32, now int64) (uint64, uint32) {
	var n C.uint64_t
	st := C.offheap_aggregator_remove(C.uint64_t(id), C.uint32_t(what), C.int64_t(now), &n)
	return uint64(n), uint32(st)
}

func windowStats(id uint64, out *AggregatorStats) uint32 {
	return uint32(C.offheap_aggregator_stats(C.uint64_t(id), (*C.offheap_aggregator_counters)(unsafe.Pointer(out))))
}

// windowExport serializes the state at now into the arena snap (offheap_aggregator_export) and
// returns the number of records.
func windowExport(id, snap uint64, now int64) (uint64, uint32) {
	var records C.uint64_t
	st := C.offheap_aggregator_export(C.uint64_t(id), C.uint64_t(snap), C.int64_t(now), &records)
	return uint64(records), uint32(st)
}

func windowMergeImport(id uint64, data []byte, now int64, out *ImportAccounting) uint32 {
	return uint32(C.offheap_aggregator_merge_import(C.uint64_t(id), bytesPtr(data), C.size_t(len(data)), C.int64_t(now),
		(*C.offheap_import_accounting)(unsafe.Pointer(out))))
}
