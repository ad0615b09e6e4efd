//go:build !cgo

package offheap

func windowSnapshotNew() (uint64, uint32) { return 0, statusUnavailable }

func windowSnapshotFree(uint64) uint32 { return statusUnavailable }

func windowSnapshotTake(uint64, uint64, int64, []float64, uint64, bool) (uint64, uint32) {
	return 0, statusUnavailable
}

func windowSnapshotView(uint64, *windowView) uint32 { return statusUnavailable }
