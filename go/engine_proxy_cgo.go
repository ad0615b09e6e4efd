//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

func engineProxyStart(h uint64, opts *proxyOptions, strings []byte, ups []proxyUpstream) uint32 {
	return uint32(C.offheap_engine_proxy_start(C.uint64_t(h), (*C.offheap_proxy_options)(unsafe.Pointer(opts)),
		bytesPtr(strings), C.size_t(len(strings)),
		(*C.offheap_proxy_upstream)(unsafe.Pointer(unsafe.SliceData(ups))), C.size_t(len(ups))))
}

func engineProxyListen(h uint64, fd, worker int32) uint32 {
	return uint32(C.offheap_engine_proxy_listen(C.uint64_t(h), C.int32_t(fd), C.int32_t(worker)))
}

func engineProxyCounters(h uint64, out *ProxyCounters) uint32 {
	return uint32(C.offheap_engine_proxy_counters(C.uint64_t(h), (*C.offheap_proxy_counters)(unsafe.Pointer(out))))
}

func engineProxyShutdown(h uint64) uint32 {
	return uint32(C.offheap_engine_proxy_shutdown(C.uint64_t(h)))
}

func engineProxyClose(h uint64) uint32 { return uint32(C.offheap_engine_proxy_close(C.uint64_t(h))) }

func engineProxyReadyFd(h uint64, worker uint32) (int32, uint32) {
	var fd C.int32_t
	st := C.offheap_engine_proxy_ready_fd(C.uint64_t(h), C.uint32_t(worker), &fd)
	return int32(fd), uint32(st)
}

// engineProxyEvents moves worker's queued events into out and their heads into heads
// (offheap_engine_proxy_events): how many, and the heads array a first event too long needs.
func engineProxyEvents(h uint64, worker uint32, out []proxyEvent, heads []byte) (int, int, uint32) {
	var n, needed C.size_t
	st := C.offheap_engine_proxy_events(C.uint64_t(h), C.uint32_t(worker),
		(*C.offheap_proxy_event)(unsafe.Pointer(unsafe.SliceData(out))), C.size_t(len(out)),
		bytesPtr(heads), C.size_t(len(heads)), &n, &needed)
	return int(n), int(needed), uint32(st)
}

func engineProxyReply(h uint64, worker uint32, token uint64, kind uint32, b []byte) uint32 {
	return uint32(C.offheap_engine_proxy_reply(C.uint64_t(h), C.uint32_t(worker), C.uint64_t(token),
		C.uint32_t(kind), bytesPtr(b), C.size_t(len(b))))
}
