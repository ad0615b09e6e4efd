//go:build !cgo

package offheap

func engineNew(uint32, uint32) (uint64, uint32) { return 0, statusUnavailable }

func engineReadyFd(uint64) (int32, uint32) { return -1, statusUnavailable }

func engineSubmit(uint64, uint64, int32, int32, uint32, uint64) uint32 { return statusUnavailable }

func engineSubmitBatch(uint64, []engineJob, []uint32) (int, uint32) { return 0, statusUnavailable }

func engineSubmitSession(uint64, uint64, int32, int32, uint64, uint64, *sessionOptions, []byte) uint32 {
	return statusUnavailable
}

func engineCancel(uint64, uint64) uint32 { return statusUnavailable }

func enginePoll(uint64, []engineCompletion) (int, uint32) { return 0, statusUnavailable }

func engineInFlight(uint64) (uint64, uint32) { return 0, statusUnavailable }

func engineFree(uint64) uint32 { return statusUnavailable }
