//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

func relayNew(framing uint32, length uint64, flags uint32) (uint64, uint32) {
	var id C.uint64_t
	st := C.offheap_relay_new(C.uint32_t(framing), C.uint64_t(length), C.uint32_t(flags), &id)
	return uint64(id), uint32(st)
}

func relayReset(id uint64, framing uint32, length uint64, flags uint32) uint32 {
	return uint32(C.offheap_relay_reset(C.uint64_t(id), C.uint32_t(framing), C.uint64_t(length), C.uint32_t(flags)))
}

func relayStep(id uint64, srcFd, dstFd int32, prog *relayProgress) uint32 {
	return uint32(C.offheap_relay_step(C.uint64_t(id), C.int32_t(srcFd), C.int32_t(dstFd),
		(*C.offheap_relay_progress)(unsafe.Pointer(prog))))
}

func relayAbort(id uint64, status uint32) uint32 {
	return uint32(C.offheap_relay_abort(C.uint64_t(id), C.uint32_t(status)))
}

func relayPending(id uint64, data []byte) uint32 {
	return uint32(C.offheap_relay_pending(C.uint64_t(id), bytesPtr(data), C.size_t(len(data))))
}

func relayPendingBuffer(id, buffer uint64) uint32 {
	return uint32(C.offheap_relay_pending_buffer(C.uint64_t(id), C.uint64_t(buffer)))
}

// relayFeed reports written bytes and feeds data, read by the fallback, to the relay
// (offheap_relay_feed), which frames it in place.
func relayFeed(id, written uint64, data []byte, flags uint32, out *relayFed) uint32 {
	return uint32(C.offheap_relay_feed(C.uint64_t(id), C.uint64_t(written), bytesPtr(data), C.size_t(len(data)),
		C.uint32_t(flags), (*C.offheap_relay_fed)(unsafe.Pointer(out))))
}

func relayFree(id uint64) uint32 { return uint32(C.offheap_relay_free(C.uint64_t(id))) }

func relayGlobalStats(out *RelayCounters) uint32 {
	return uint32(C.offheap_relay_global_stats((*C.offheap_relay_counters)(unsafe.Pointer(out))))
}

func relayTrim() uint32 { return uint32(C.offheap_relay_trim()) }
