//go:build !cgo

package offheap

func relayNew(uint32, uint64, uint32) (uint64, uint32) { return 0, statusUnavailable }

func relayReset(uint64, uint32, uint64, uint32) uint32 { return statusUnavailable }

func relayStep(uint64, int32, int32, *relayProgress) uint32 { return statusUnavailable }

func relayAbort(uint64, uint32) uint32 { return statusUnavailable }

func relayFree(uint64) uint32 { return statusUnavailable }

func relayGlobalStats(*RelayCounters) uint32 { return statusUnavailable }

func relayTrim() uint32 { return statusUnavailable }
