//go:build cgo

package offheap

/*
#cgo noescape offheap_headers_parse_requests
#cgo nocallback offheap_headers_parse_requests
#cgo noescape offheap_headers_parse_responses
#cgo nocallback offheap_headers_parse_responses
#cgo noescape offheap_headers_rewrite_request
#cgo nocallback offheap_headers_rewrite_request
#cgo noescape offheap_headers_rewrite_response
#cgo nocallback offheap_headers_rewrite_response
#include "offheap.h"
*/
import "C"

import "unsafe"

// The constants of headers.go have the header's values.
var (
	_ equal = [C.OFFHEAP_BODY_NONE - BodyNone]struct{}{}
	_ equal = [C.OFFHEAP_BODY_LENGTH - BodyLength]struct{}{}
	_ equal = [C.OFFHEAP_BODY_CHUNKED - BodyChunked]struct{}{}
	_ equal = [C.OFFHEAP_BODY_CLOSE - BodyClose]struct{}{}

	_ equal = [C.OFFHEAP_HEAD_KEEP_ALIVE - FlagKeepAlive]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_UPGRADE - FlagUpgrade]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_EXPECT_CONTINUE - FlagExpectContinue]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_CONNECT - FlagConnect]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_HEAD_METHOD - FlagHeadMethod]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_HAS_HOST - FlagHasHost]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_TE_OTHER - FlagTEOther]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_CONNECTION_CLOSE - FlagConnectionClose]struct{}{}
	_ equal = [C.OFFHEAP_HEAD_LEADING_EMPTY_LINES - FlagLeadingEmptyLines]struct{}{}

	_ equal = [C.OFFHEAP_KNOWN_COUNT - knownCount]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_ABSENT - knownAbsent]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_HOST - KnownHost]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_CONTENT_LENGTH - KnownContentLength]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_TRANSFER_ENCODING - KnownTransferEncoding]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_CONNECTION - KnownConnection]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_UPGRADE - KnownUpgrade]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_EXPECT - KnownExpect]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_KEEP_ALIVE - KnownKeepAlive]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_TE - KnownTE]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_TRAILER - KnownTrailer]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_PROXY_CONNECTION - KnownProxyConnection]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_PROXY_AUTHENTICATE - KnownProxyAuthenticate]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_PROXY_AUTHORIZATION - KnownProxyAuthorization]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_X_FORWARDED_FOR - KnownXForwardedFor]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_X_FORWARDED_HOST - KnownXForwardedHost]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_X_FORWARDED_PROTO - KnownXForwardedProto]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_FORWARDED - KnownForwarded]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_VIA - KnownVia]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_CONTENT_TYPE - KnownContentType]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_USER_AGENT - KnownUserAgent]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_ACCEPT - KnownAccept]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_ACCEPT_ENCODING - KnownAcceptEncoding]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_COOKIE - KnownCookie]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_SET_COOKIE - KnownSetCookie]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_AUTHORIZATION - KnownAuthorization]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_DATE - KnownDate]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_SERVER - KnownServer]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_LOCATION - KnownLocation]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_CACHE_CONTROL - KnownCacheControl]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_ORIGIN - KnownOrigin]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_REFERER - KnownReferer]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_CONTENT_ENCODING - KnownContentEncoding]struct{}{}
	_ equal = [C.OFFHEAP_KNOWN_ACCEPT_LANGUAGE - KnownAcceptLanguage]struct{}{}
)

// The mirrors of headers.go have the header's layouts.
var (
	_ equal = [C.sizeof_offheap_head - unsafe.Sizeof(headRecord{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.status) - unsafe.Offsetof(headRecord{}.status)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.start) - unsafe.Offsetof(headRecord{}.start)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.len) - unsafe.Offsetof(headRecord{}.length)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.error_offset) - unsafe.Offsetof(headRecord{}.errorOffset)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.method_off) - unsafe.Offsetof(headRecord{}.methodOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.method_len) - unsafe.Offsetof(headRecord{}.methodLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.target_off) - unsafe.Offsetof(headRecord{}.targetOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.target_len) - unsafe.Offsetof(headRecord{}.targetLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.reason_off) - unsafe.Offsetof(headRecord{}.reasonOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.reason_len) - unsafe.Offsetof(headRecord{}.reasonLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.first_header) - unsafe.Offsetof(headRecord{}.firstHeader)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.header_count) - unsafe.Offsetof(headRecord{}.headerCount)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.content_length) - unsafe.Offsetof(headRecord{}.contentLength)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.flags) - unsafe.Offsetof(headRecord{}.flags)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.status_code) - unsafe.Offsetof(headRecord{}.statusCode)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.version) - unsafe.Offsetof(headRecord{}.version)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.body_kind) - unsafe.Offsetof(headRecord{}.bodyKind)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.known) - unsafe.Offsetof(headRecord{}.known)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_head{}.reserved) - unsafe.Offsetof(headRecord{}.reserved)]struct{}{}

	_ equal = [C.sizeof_offheap_header - unsafe.Sizeof(headerRecord{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_header{}.name_off) - unsafe.Offsetof(headerRecord{}.nameOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_header{}.name_len) - unsafe.Offsetof(headerRecord{}.nameLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_header{}.value_off) - unsafe.Offsetof(headerRecord{}.valueOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_header{}.value_len) - unsafe.Offsetof(headerRecord{}.valueLen)]struct{}{}

	_ equal = [C.sizeof_offheap_headers_config - unsafe.Sizeof(headersConfig{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_headers_config{}.max_head_len) - unsafe.Offsetof(headersConfig{}.maxHeadLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_headers_config{}.max_headers) - unsafe.Offsetof(headersConfig{}.maxHeaders)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_headers_config{}.allow_bare_lf) - unsafe.Offsetof(headersConfig{}.allowBareLF)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_headers_config{}.head_request) - unsafe.Offsetof(headersConfig{}.headRequest)]struct{}{}

	_ equal = [C.sizeof_offheap_rewrite_options - unsafe.Sizeof(rewriteOptions{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.client_ip_off) - unsafe.Offsetof(rewriteOptions{}.clientIPOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.client_ip_len) - unsafe.Offsetof(rewriteOptions{}.clientIPLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.proto_off) - unsafe.Offsetof(rewriteOptions{}.protoOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.proto_len) - unsafe.Offsetof(rewriteOptions{}.protoLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.host_off) - unsafe.Offsetof(rewriteOptions{}.hostOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.host_len) - unsafe.Offsetof(rewriteOptions{}.hostLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.via_off) - unsafe.Offsetof(rewriteOptions{}.viaOff)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.via_len) - unsafe.Offsetof(rewriteOptions{}.viaLen)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.set_host) - unsafe.Offsetof(rewriteOptions{}.setHost)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.append_forwarded) - unsafe.Offsetof(rewriteOptions{}.appendForwarded)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_rewrite_options{}.reserved) - unsafe.Offsetof(rewriteOptions{}.reserved)]struct{}{}
)

// headersParse parses input into recs and hdrs (offheap_headers_parse_requests or _responses)
// and returns the heads recorded and where the input was consumed to.
func headersParse(request bool, input []byte, offsets []uint32, cfg *headersConfig, recs []headRecord,
	hdrs []headerRecord) (n, consumed int, st uint32) {
	var res C.offheap_headers_result
	in, inLen := bytesPtr(input), C.size_t(len(input))
	offs, offsLen := u32Ptr(offsets), C.size_t(len(offsets))
	c := (*C.offheap_headers_config)(unsafe.Pointer(cfg))
	r, rLen := (*C.offheap_head)(unsafe.Pointer(unsafe.SliceData(recs))), C.size_t(len(recs))
	h, hLen := (*C.offheap_header)(unsafe.Pointer(unsafe.SliceData(hdrs))), C.size_t(len(hdrs))
	if request {
		st = uint32(C.offheap_headers_parse_requests(in, inLen, offs, offsLen, c, r, rLen, h, hLen, &res))
	} else {
		st = uint32(C.offheap_headers_parse_responses(in, inLen, offs, offsLen, c, r, rLen, h, hLen, &res))
	}
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
