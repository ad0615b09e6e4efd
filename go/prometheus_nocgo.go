//go:build !cgo

package offheap

func windowScrape(uint64, uint64, int64, []float64, ExpositionFormat) (uint64, uint32) {
	return 0, statusUnavailable
}

func snapshotRead(uint64, uint64, []byte) (int, uint32) { return 0, statusUnavailable }

func windowSetFamily(uint64, string, MetricType, string) uint32 { return statusUnavailable }
