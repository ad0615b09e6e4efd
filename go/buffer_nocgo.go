//go:build !cgo

package offheap

func bufferNew() (uint64, uint32) { return 0, statusUnavailable }

func bufferFree(uint64) uint32 { return statusUnavailable }

func bufferFill(uint64, int32, *bufferIO) uint32 { return statusUnavailable }

func bufferWritev(int32, []uint64) (int, uint32, uint32) { return 0, 0, statusUnavailable }
