//go:build cgo

package offheap

/*
#cgo noescape offheap_relay_new
#cgo nocallback offheap_relay_new
#cgo nocallback offheap_relay_reset
#cgo noescape offheap_relay_step
#cgo nocallback offheap_relay_step
#cgo nocallback offheap_relay_abort
#cgo nocallback offheap_relay_free
#cgo noescape offheap_relay_global_stats
#cgo nocallback offheap_relay_global_stats
#cgo nocallback offheap_relay_trim
#include "offheap.h"
*/
import "C"

import "unsafe"

// The constants of relay.go have the header's values.
var (
	_ equal = [C.OFFHEAP_FRAMING_EXACT - framingExact]struct{}{}
	_ equal = [C.OFFHEAP_FRAMING_CHUNKED - framingChunked]struct{}{}
	_ equal = [C.OFFHEAP_FRAMING_DECHUNKED - framingDechunked]struct{}{}
	_ equal = [C.OFFHEAP_FRAMING_UNTIL_EOF - framingUntilEOF]struct{}{}

	_ equal = [C.OFFHEAP_RELAY_STEP_LIMIT - relayStepLimit]struct{}{}
	_ equal = [C.OFFHEAP_RELAY_SHUTDOWN_ON_DONE - relayShutdownOnDone]struct{}{}
	_ equal = [C.OFFHEAP_RELAY_SPLICE - relaySplice]struct{}{}

	_ equal = [C.OFFHEAP_RELAY_STATE_WANT_READ - relayStateWantRead]struct{}{}
	_ equal = [C.OFFHEAP_RELAY_STATE_WANT_WRITE - relayStateWantWrite]struct{}{}
	_ equal = [C.OFFHEAP_RELAY_STATE_DONE - relayStateDone]struct{}{}
	_ equal = [C.OFFHEAP_RELAY_STATE_AGAIN - relayStateAgain]struct{}{}
)

// The mirrors of relay.go have the header's layouts.
var (
	_ equal = [C.sizeof_offheap_relay_progress - unsafe.Sizeof(relayProgress{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_progress{}.state) - unsafe.Offsetof(relayProgress{}.state)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_progress{}.os_errno) - unsafe.Offsetof(relayProgress{}.osErrno)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_progress{}.bytes_in) - unsafe.Offsetof(relayProgress{}.stats) - unsafe.Offsetof(RelayStats{}.BytesIn)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_progress{}.bytes_out) - unsafe.Offsetof(relayProgress{}.stats) - unsafe.Offsetof(RelayStats{}.BytesOut)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_progress{}.spliced) - unsafe.Offsetof(relayProgress{}.stats) - unsafe.Offsetof(RelayStats{}.Spliced)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_progress{}.copied) - unsafe.Offsetof(relayProgress{}.stats) - unsafe.Offsetof(RelayStats{}.Copied)]struct{}{}

	_ equal = [C.sizeof_offheap_relay_counters - unsafe.Sizeof(RelayCounters{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.relays_started) - unsafe.Offsetof(RelayCounters{}.RelaysStarted)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.relays_done) - unsafe.Offsetof(RelayCounters{}.RelaysDone)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.relays_failed) - unsafe.Offsetof(RelayCounters{}.RelaysFailed)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.bytes_spliced) - unsafe.Offsetof(RelayCounters{}.BytesSpliced)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.bytes_copied) - unsafe.Offsetof(RelayCounters{}.BytesCopied)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.pipes_created) - unsafe.Offsetof(RelayCounters{}.PipesCreated)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.pipes_live) - unsafe.Offsetof(RelayCounters{}.PipesLive)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.buffers_live) - unsafe.Offsetof(RelayCounters{}.BuffersLive)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_relay_counters{}.bulk_buffers_live) - unsafe.Offsetof(RelayCounters{}.BulkBuffersLive)]struct{}{}
)

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

func relayFree(id uint64) uint32 { return uint32(C.offheap_relay_free(C.uint64_t(id))) }

func relayGlobalStats(out *RelayCounters) uint32 {
	return uint32(C.offheap_relay_global_stats((*C.offheap_relay_counters)(unsafe.Pointer(out))))
}

func relayTrim() uint32 { return uint32(C.offheap_relay_trim()) }
