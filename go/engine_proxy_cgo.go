//go:build cgo

package offheap

/*
#cgo noescape offheap_engine_proxy_start
#cgo nocallback offheap_engine_proxy_start
#cgo nocallback offheap_engine_proxy_listen
#cgo noescape offheap_engine_proxy_counters
#cgo nocallback offheap_engine_proxy_counters
#cgo nocallback offheap_engine_proxy_shutdown
#cgo nocallback offheap_engine_proxy_close
#cgo noescape offheap_engine_proxy_ready_fd
#cgo nocallback offheap_engine_proxy_ready_fd
#cgo noescape offheap_engine_proxy_events
#cgo nocallback offheap_engine_proxy_events
#cgo noescape offheap_engine_proxy_reply
#cgo nocallback offheap_engine_proxy_reply
#include "offheap.h"
*/
import "C"

import "unsafe"

// The constants of engine_proxy.go have the header's values.
var (
	_ equal = [C.OFFHEAP_PROXY_LEAST_IN_FLIGHT - proxyLeastInFlight]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_SET_HOST - proxySetHost]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_APPEND_FORWARDED - proxyAppendForwarded]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_HOOK - proxyHook]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_ERROR_EVENTS - proxyErrorEvents]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_EVENT_HOOK - proxyEventHook]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_CAUSE_DIAL - uint32(ProxyCauseDial)]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_CAUSE_UPSTREAM - uint32(ProxyCauseUpstream)]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_CAUSE_TIMEOUT - uint32(ProxyCauseTimeout)]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_REPLY_HEAD - proxyReplyHead]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_REPLY_RESPOND - proxyReplyRespond]struct{}{}
	_ equal = [C.OFFHEAP_PROXY_REPLY_RESPOND_CLOSE - proxyReplyRespondClose]struct{}{}
)

// The mirrors of engine_proxy.go (and ProxyCounters, which the library fills directly) have
// the header's layouts.
var (
	_ equal = [C.sizeof_offheap_proxy_upstream - unsafe.Sizeof(proxyUpstream{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_upstream{}.port) - unsafe.Offsetof(proxyUpstream{}.port)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_upstream{}.family) - unsafe.Offsetof(proxyUpstream{}.family)]struct{}{}

	_ equal = [C.sizeof_offheap_proxy_options - unsafe.Sizeof(proxyOptions{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.balance) - unsafe.Offsetof(proxyOptions{}.balance)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.max_idle_per_upstream) - unsafe.Offsetof(proxyOptions{}.maxIdlePerUpstream)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.unhealthy_ms) - unsafe.Offsetof(proxyOptions{}.unhealthyMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.dial_ms) - unsafe.Offsetof(proxyOptions{}.dialMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.read_header_ms) - unsafe.Offsetof(proxyOptions{}.readHeaderMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.idle_ms) - unsafe.Offsetof(proxyOptions{}.idleMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.response_header_ms) - unsafe.Offsetof(proxyOptions{}.responseHeaderMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.body_ms) - unsafe.Offsetof(proxyOptions{}.bodyMs)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.max_head_len) - unsafe.Offsetof(proxyOptions{}.maxHeadLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.max_headers) - unsafe.Offsetof(proxyOptions{}.maxHeaders)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.flags) - unsafe.Offsetof(proxyOptions{}.flags)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.proto_len) - unsafe.Offsetof(proxyOptions{}.protoLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.host_len) - unsafe.Offsetof(proxyOptions{}.hostLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_options{}.via_len) - unsafe.Offsetof(proxyOptions{}.viaLen)]struct{}{}

	_ equal = [C.sizeof_offheap_proxy_event - unsafe.Sizeof(proxyEvent{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_event{}.kind) - unsafe.Offsetof(proxyEvent{}.kind)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_event{}.status) - unsafe.Offsetof(proxyEvent{}.status)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_event{}.cause) - unsafe.Offsetof(proxyEvent{}.cause)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_event{}.head_off) - unsafe.Offsetof(proxyEvent{}.headOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_event{}.head_len) - unsafe.Offsetof(proxyEvent{}.headLen)]struct{}{}

	_ equal = [C.sizeof_offheap_proxy_counters - unsafe.Sizeof(ProxyCounters{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.conns_open) - unsafe.Offsetof(ProxyCounters{}.ConnsOpen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.conns_active) - unsafe.Offsetof(ProxyCounters{}.ConnsActive)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.requests) - unsafe.Offsetof(ProxyCounters{}.Requests)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.responses) - unsafe.Offsetof(ProxyCounters{}.Responses)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.bad_requests) - unsafe.Offsetof(ProxyCounters{}.BadRequests)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.bad_gateway) - unsafe.Offsetof(ProxyCounters{}.BadGateway)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.gateway_timeout) - unsafe.Offsetof(ProxyCounters{}.GatewayTimeout)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upgrades) - unsafe.Offsetof(ProxyCounters{}.Upgrades)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upstream_dials) - unsafe.Offsetof(ProxyCounters{}.UpstreamDials)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upstream_reused) - unsafe.Offsetof(ProxyCounters{}.UpstreamReused)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upstream_retries) - unsafe.Offsetof(ProxyCounters{}.UpstreamRetries)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upstream_failures) - unsafe.Offsetof(ProxyCounters{}.UpstreamFailures)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upstream_open) - unsafe.Offsetof(ProxyCounters{}.UpstreamOpen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.upstream_idle) - unsafe.Offsetof(ProxyCounters{}.UpstreamIdle)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_proxy_counters{}.events) - unsafe.Offsetof(ProxyCounters{}.Events)]struct{}{}
)

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
