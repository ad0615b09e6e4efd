//go:build cgo

package offheap

// #include "offheap.h"
import "C"

import "unsafe"

// headersParse parses input into recs and hdrs (offheap_headers_parse: request heads, or
// response heads) and returns the heads recorded and where the input was consumed to.
func headersParse(request bool, input []byte, offsets []uint32, cfg *headersConfig, recs []headRecord,
	hdrs []headerRecord) (n, consumed int, st uint32) {
	kind := C.uint32_t(headKindResponse)
	if request {
		kind = headKindRequest
	}
	var res C.offheap_headers_result
	in, inLen := bytesPtr(input), C.size_t(len(input))
	offs, offsLen := u32Ptr(offsets), C.size_t(len(offsets))
	c := (*C.offheap_headers_config)(unsafe.Pointer(cfg))
	r, rLen := (*C.offheap_head)(unsafe.Pointer(unsafe.SliceData(recs))), C.size_t(len(recs))
	h, hLen := (*C.offheap_header)(unsafe.Pointer(unsafe.SliceData(hdrs))), C.size_t(len(hdrs))
	st = uint32(C.offheap_headers_parse(kind, in, inLen, offs, offsLen, c, r, rLen, h, hLen, &res))
	return int(res.heads), int(res.consumed), st
}

// headersRewriteRequest writes the rewritten head rec into out (offheap_headers_rewrite_request)
// and returns the bytes written, or the bytes needed with statusBufferTooSmall.
func headersRewriteRequest(input []byte, rec *headRecord, hdrs []headerRecord, args []byte, opts *rewriteOptions,
	out []byte) (int, uint32) {
	var written C.size_t
	st := C.offheap_headers_rewrite_request(bytesPtr(input), C.size_t(len(input)),
		(*C.offheap_head)(unsafe.Pointer(rec)), (*C.offheap_header)(unsafe.Pointer(unsafe.SliceData(hdrs))),
		C.size_t(len(hdrs)), bytesPtr(args), C.size_t(len(args)), (*C.offheap_rewrite_options)(unsafe.Pointer(opts)),
		bytesPtr(out), C.size_t(len(out)), &written)
	return int(written), uint32(st)
}

// headersRewriteResponse is headersRewriteRequest for a response head
// (offheap_headers_rewrite_response).
func headersRewriteResponse(input []byte, rec *headRecord, hdrs []headerRecord, via string, out []byte) (int, uint32) {
	var written C.size_t
	st := C.offheap_headers_rewrite_response(bytesPtr(input), C.size_t(len(input)),
		(*C.offheap_head)(unsafe.Pointer(rec)), (*C.offheap_header)(unsafe.Pointer(unsafe.SliceData(hdrs))),
		C.size_t(len(hdrs)), stringPtr(via), C.size_t(len(via)), bytesPtr(out), C.size_t(len(out)), &written)
	return int(written), uint32(st)
}
