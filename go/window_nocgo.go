//go:build !cgo

package offheap

func windowNew(*windowConfig, string, string, string) (uint64, uint32) { return 0, statusUnavailable }

func windowFree(uint64) uint32 { return statusUnavailable }

func windowIngest(uint64, uint32, []uint64, []int64, []float64, []uint32, int64, *IngestAccounting) uint32 {
	return statusUnavailable
}

func windowIngestKeys(uint64, []byte, []uint32, []int64, []float64, []uint32, int64, *IngestAccounting) uint32 {
	return statusUnavailable
}

func windowResolveKeys(uint64, []byte, []uint32, []uint64, *IngestAccounting) uint32 {
	return statusUnavailable
}

func windowResolveU64(uint64, []uint64, []uint64, *IngestAccounting) uint32 { return statusUnavailable }

func windowDelete(uint64, uint32, uint64, []byte) uint32 { return statusUnavailable }

func windowRemove(uint64, uint32, int64) (uint64, uint32) { return 0, statusUnavailable }

func windowStats(uint64, *AggregatorStats) uint32 { return statusUnavailable }

func windowExport(uint64, uint64, int64) (uint64, uint32) { return 0, statusUnavailable }

func windowMergeImport(uint64, []byte, int64, *ImportAccounting) uint32 { return statusUnavailable }
