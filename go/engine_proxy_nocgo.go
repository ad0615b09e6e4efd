//go:build !cgo

package offheap

func engineProxyStart(uint64, *proxyOptions, []byte, []proxyUpstream) uint32 {
	return statusUnavailable
}

func engineProxyListen(uint64, int32, int32) uint32 { return statusUnavailable }

func engineProxyCounters(uint64, *ProxyCounters) uint32 { return statusUnavailable }

func engineProxyShutdown(uint64) uint32 { return statusUnavailable }

func engineProxyClose(uint64) uint32 { return statusUnavailable }

func engineProxyReadyFd(uint64, uint32) (int32, uint32) { return -1, statusUnavailable }

func engineProxyEvents(uint64, uint32, []proxyEvent, []byte) (int, int, uint32) {
	return 0, 0, statusUnavailable
}

func engineProxyReply(uint64, uint32, uint64, uint32, []byte) uint32 { return statusUnavailable }
