//go:build cgo

package offheap

/*
#cgo noescape offheap_engine_new
#cgo nocallback offheap_engine_new
#cgo noescape offheap_engine_ready_fd
#cgo nocallback offheap_engine_ready_fd
#cgo nocallback offheap_engine_submit
#cgo noescape offheap_engine_submit_batch
#cgo nocallback offheap_engine_submit_batch
#cgo nocallback offheap_engine_cancel
#cgo noescape offheap_engine_submit_session
#cgo nocallback offheap_engine_submit_session
#cgo noescape offheap_engine_poll
#cgo nocallback offheap_engine_poll
#cgo noescape offheap_engine_in_flight
#cgo nocallback offheap_engine_in_flight
#cgo nocallback offheap_engine_free
#include "offheap.h"
*/
import "C"

import "unsafe"

// The constants of engine.go have the header's values (submitChunk is at most the batch limit).
var (
	_ equal = [C.OFFHEAP_ENGINE_TUNNEL - engineTunnel]struct{}{}
	_ [C.OFFHEAP_ENGINE_MAX_BATCH - submitChunk]struct{}
	_ equal = [C.OFFHEAP_SESSION_UPSTREAM_REUSABLE - sessionUpstreamReusable]struct{}{}
	_ equal = [C.OFFHEAP_SESSION_HEAD_METHOD - sessionHeadMethod]struct{}{}
	_ equal = [C.OFFHEAP_SESSION_CLOSE_CLIENT - sessionCloseClient]struct{}{}
	_ equal = [C.OFFHEAP_SESSION_SET_HOST - sessionSetHost]struct{}{}
	_ equal = [C.OFFHEAP_SESSION_APPEND_FORWARDED - sessionAppendForwarded]struct{}{}
)

// The mirrors of engine.go have the header's layouts.
var (
	_ equal = [C.sizeof_offheap_engine_job - unsafe.Sizeof(engineJob{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_job{}.id) - unsafe.Offsetof(engineJob{}.id)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_job{}.fd_a) - unsafe.Offsetof(engineJob{}.fdA)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_job{}.fd_b) - unsafe.Offsetof(engineJob{}.fdB)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_job{}.framing) - unsafe.Offsetof(engineJob{}.framing)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_job{}.flags) - unsafe.Offsetof(engineJob{}.flags)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_job{}.length) - unsafe.Offsetof(engineJob{}.length)]struct{}{}

	_ equal = [C.sizeof_offheap_session_options - unsafe.Sizeof(sessionOptions{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.client_ip_len) - unsafe.Offsetof(sessionOptions{}.clientIPLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.proto_len) - unsafe.Offsetof(sessionOptions{}.protoLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.host_len) - unsafe.Offsetof(sessionOptions{}.hostLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.via_len) - unsafe.Offsetof(sessionOptions{}.viaLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.flags) - unsafe.Offsetof(sessionOptions{}.flags)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.request_ms) - unsafe.Offsetof(sessionOptions{}.requestMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.response_ms) - unsafe.Offsetof(sessionOptions{}.responseMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_session_options{}.stall_ms) - unsafe.Offsetof(sessionOptions{}.stallMs)]struct{}{}

	_ equal = [C.sizeof_offheap_engine_completion - unsafe.Sizeof(engineCompletion{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.id) - unsafe.Offsetof(engineCompletion{}.id)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.bytes_forward) - unsafe.Offsetof(engineCompletion{}.bytesForward)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.bytes_backward) - unsafe.Offsetof(engineCompletion{}.bytesBackward)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.spliced) - unsafe.Offsetof(engineCompletion{}.spliced)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.copied) - unsafe.Offsetof(engineCompletion{}.copied)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.status) - unsafe.Offsetof(engineCompletion{}.status)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.os_errno) - unsafe.Offsetof(engineCompletion{}.osErrno)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.session_stop) - unsafe.Offsetof(engineCompletion{}.sessionStop)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.session_flags) - unsafe.Offsetof(engineCompletion{}.sessionFlags)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.requests) - unsafe.Offsetof(engineCompletion{}.requests)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.responses) - unsafe.Offsetof(engineCompletion{}.responses)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.client_fd) - unsafe.Offsetof(engineCompletion{}.clientFd)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_engine_completion{}.upstream_fd) - unsafe.Offsetof(engineCompletion{}.upstreamFd)]struct{}{}
)

func engineNew(workers, maxJobs uint32) (uint64, uint32) {
	var id C.uint64_t
	st := C.offheap_engine_new(C.uint32_t(workers), C.uint32_t(maxJobs), &id)
	return uint64(id), uint32(st)
}

func engineReadyFd(id uint64) (int32, uint32) {
	var fd C.int32_t
	st := C.offheap_engine_ready_fd(C.uint64_t(id), &fd)
	return int32(fd), uint32(st)
}

func engineSubmit(h, id uint64, fdA, fdB int32, framing uint32, length uint64) uint32 {
	return uint32(C.offheap_engine_submit(C.uint64_t(h), C.uint64_t(id), C.int32_t(fdA), C.int32_t(fdB),
		C.uint32_t(framing), C.uint64_t(length), 0))
}

// engineSubmitBatch hands the engine jobs in one call (offheap_engine_submit_batch), one
// status per job into statuses, and returns how many it took.
func engineSubmitBatch(h uint64, jobs []engineJob, statuses []uint32) (int, uint32) {
	var accepted C.size_t
	st := C.offheap_engine_submit_batch(C.uint64_t(h), (*C.offheap_engine_job)(unsafe.Pointer(unsafe.SliceData(jobs))),
		C.size_t(len(jobs)), u32Ptr(statuses), &accepted)
	return int(accepted), uint32(st)
}

func engineSubmitSession(h, id uint64, clientFd, upstreamFd int32, cbuf, ubuf uint64, opts *sessionOptions,
	strings []byte) uint32 {
	return uint32(C.offheap_engine_submit_session(C.uint64_t(h), C.uint64_t(id), C.int32_t(clientFd),
		C.int32_t(upstreamFd), C.uint64_t(cbuf), C.uint64_t(ubuf), (*C.offheap_session_options)(unsafe.Pointer(opts)),
		bytesPtr(strings), C.size_t(len(strings))))
}

func engineCancel(h, id uint64) uint32 {
	return uint32(C.offheap_engine_cancel(C.uint64_t(h), C.uint64_t(id)))
}

// enginePoll moves up to len(out) queued completions into out (offheap_engine_poll) and
// returns how many.
func enginePoll(h uint64, out []engineCompletion) (int, uint32) {
	var n C.size_t
	st := C.offheap_engine_poll(C.uint64_t(h), (*C.offheap_engine_completion)(unsafe.Pointer(unsafe.SliceData(out))),
		C.size_t(len(out)), &n)
	return int(n), uint32(st)
}

func engineInFlight(h uint64) (uint64, uint32) {
	var n C.uint64_t
	st := C.offheap_engine_in_flight(C.uint64_t(h), &n)
	return uint64(n), uint32(st)
}

func engineFree(id uint64) uint32 { return uint32(C.offheap_engine_free(C.uint64_t(id))) }
