//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

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
