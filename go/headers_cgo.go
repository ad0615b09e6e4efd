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

// The Go records must have the C layout: both differences must be non-negative constants.
var (
	_ [C.sizeof_offheap_head - unsafe.Sizeof(headRecord{})]struct{}
	_ [unsafe.Sizeof(headRecord{}) - C.sizeof_offheap_head]struct{}
	_ [C.sizeof_offheap_header - unsafe.Sizeof(headerRecord{})]struct{}
	_ [unsafe.Sizeof(headerRecord{}) - C.sizeof_offheap_header]struct{}
	_ [C.OFFHEAP_KNOWN_COUNT - knownCount]struct{}
	_ [knownCount - C.OFFHEAP_KNOWN_COUNT]struct{}
	_ [C.OFFHEAP_STATUS_HEADERS_INCOMPLETE - statusHeadersIncomplete]struct{}
	_ [statusHeadersIncomplete - C.OFFHEAP_STATUS_HEADERS_INCOMPLETE]struct{}
)

func (h *heads) parse(op string, request, headRequest bool, input []byte, offsets []uint32) error {
	if initErr != nil {
		return initErr
	}
	h.ensure(1)
	cfg := C.offheap_headers_config{
		max_head_len: C.uint32_t(h.Config.MaxHeadLen),
		max_headers:  C.uint16_t(h.Config.MaxHeaders),
	}
	if h.Config.AllowBareLF {
		cfg.allow_bare_lf = 1
	}
	if headRequest {
		cfg.head_request = 1
	}
	var res C.offheap_headers_result
	in, inLen := bytesPtr(input), C.size_t(len(input))
	offs := (*C.uint32_t)(unsafe.Pointer(unsafe.SliceData(offsets)))
	recs := (*C.offheap_head)(unsafe.Pointer(&h.recs[0]))
	hdrs := (*C.offheap_header)(unsafe.Pointer(&h.hdrs[0]))
	var st C.offheap_status
	if request {
		st = C.offheap_headers_parse_requests(in, inLen, offs, C.size_t(len(offsets)), &cfg,
			recs, C.size_t(len(h.recs)), hdrs, C.size_t(len(h.hdrs)), &res)
	} else {
		st = C.offheap_headers_parse_responses(in, inLen, offs, C.size_t(len(offsets)), &cfg,
			recs, C.size_t(len(h.recs)), hdrs, C.size_t(len(h.hdrs)), &res)
	}
	if st != C.OFFHEAP_STATUS_OK {
		h.n, h.consumed, h.input = 0, 0, nil
		return statusError(op, st)
	}
	h.input = input
	h.n = int(res.heads)
	h.consumed = int(res.consumed)
	return nil
}

func (b *RequestBatch) rewriteRequest(dst []byte, i int, o *RewriteOptions) ([]byte, error) {
	args := append(b.rewriteArgs[:0], o.ClientIP...)
	args = append(args, o.Proto...)
	args = append(args, o.Host...)
	args = append(args, o.Via...)
	b.rewriteArgs = args
	opts := C.offheap_rewrite_options{
		client_ip_off: 0,
		client_ip_len: C.uint32_t(len(o.ClientIP)),
		proto_off:     C.uint32_t(len(o.ClientIP)),
		proto_len:     C.uint32_t(len(o.Proto)),
		host_off:      C.uint32_t(len(o.ClientIP) + len(o.Proto)),
		host_len:      C.uint32_t(len(o.Host)),
		via_off:       C.uint32_t(len(o.ClientIP) + len(o.Proto) + len(o.Host)),
		via_len:       C.uint32_t(len(o.Via)),
	}
	if o.SetHost {
		opts.set_host = 1
	}
	if o.AppendForwarded {
		opts.append_forwarded = 1
	}
	rec := (*C.offheap_head)(unsafe.Pointer(&b.recs[i]))
	hdrs := (*C.offheap_header)(unsafe.Pointer(&b.hdrs[0]))
	for {
		free := dst[len(dst):cap(dst)]
		var written C.size_t
		st := C.offheap_headers_rewrite_request(bytesPtr(b.input), C.size_t(len(b.input)), rec,
			hdrs, C.size_t(len(b.hdrs)), bytesPtr(args), C.size_t(len(args)), &opts,
			bytesPtr(free), C.size_t(len(free)), &written)
		switch st {
		case C.OFFHEAP_STATUS_OK:
			return dst[:len(dst)+int(written)], nil
		case C.OFFHEAP_STATUS_BUFFER_TOO_SMALL:
			dst = grow(dst, int(written))
		default:
			return dst, statusError("RequestBatch.RewriteRequest", st)
		}
	}
}

func (b *ResponseBatch) rewriteResponse(dst []byte, i int, via string) ([]byte, error) {
	rec := (*C.offheap_head)(unsafe.Pointer(&b.recs[i]))
	hdrs := (*C.offheap_header)(unsafe.Pointer(&b.hdrs[0]))
	viaPtr := (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(via)))
	for {
		free := dst[len(dst):cap(dst)]
		var written C.size_t
		st := C.offheap_headers_rewrite_response(bytesPtr(b.input), C.size_t(len(b.input)), rec,
			hdrs, C.size_t(len(b.hdrs)), viaPtr, C.size_t(len(via)),
			bytesPtr(free), C.size_t(len(free)), &written)
		switch st {
		case C.OFFHEAP_STATUS_OK:
			return dst[:len(dst)+int(written)], nil
		case C.OFFHEAP_STATUS_BUFFER_TOO_SMALL:
			dst = grow(dst, int(written))
		default:
			return dst, statusError("ResponseBatch.RewriteResponse", st)
		}
	}
}

// grow returns dst with room for n more bytes.
func grow(dst []byte, n int) []byte {
	out := make([]byte, len(dst), len(dst)+n+n/4)
	copy(out, dst)
	return out
}
