package offheap

import (
	"iter"
	"strconv"
)

// HTTP/1.x head parsing: many heads per cgo crossing, zero-copy, strict against request
// smuggling. The Rust parser writes fixed-size records into the batch's own pointer-free
// slices; every accessor returns a sub-slice of the caller's input, so parsing and reading a
// head allocate nothing.

// HeadersConfig holds the parser's limits. The zero value means the defaults.
type HeadersConfig struct {
	// MaxHeadLen is the longest accepted head in bytes (0: 64 KiB; at most 16 MiB).
	MaxHeadLen uint32
	// MaxHeaders is the most header lines per head (0: 100; at most 254).
	MaxHeaders uint16
	// AllowBareLF accepts lines ended by LF alone (off by default: a strict parser rejects
	// them, RFC 9112 §2.2).
	AllowBareLF bool
}

func (c HeadersConfig) maxHeaders() int {
	switch {
	case c.MaxHeaders == 0:
		return 100
	case c.MaxHeaders > 254:
		return 254
	}
	return int(c.MaxHeaders)
}

// Body says how the message body after a head is delimited (RFC 9112 §6.3).
type Body uint8

const (
	BodyNone    Body = 0 // no body
	BodyLength  Body = 1 // exactly ContentLength bytes
	BodyChunked Body = 2 // chunked transfer coding
	BodyClose   Body = 3 // until the connection closes (responses)
)

func (b Body) String() string {
	switch b {
	case BodyNone:
		return "none"
	case BodyLength:
		return "length"
	case BodyChunked:
		return "chunked"
	case BodyClose:
		return "close"
	}
	return "Body(" + strconv.Itoa(int(b)) + ")"
}

// HeadFlags are the framing facts of a head.
type HeadFlags uint32

const (
	FlagKeepAlive         HeadFlags = 1 << 0 // the connection stays open after this message
	FlagUpgrade           HeadFlags = 1 << 1 // HTTP/1.1 Connection: upgrade + Upgrade, or a 101
	FlagExpectContinue    HeadFlags = 1 << 2 // HTTP/1.1 Expect: 100-continue
	FlagConnect           HeadFlags = 1 << 3 // the method is CONNECT
	FlagHeadMethod        HeadFlags = 1 << 4 // the method is HEAD
	FlagHasHost           HeadFlags = 1 << 5 // a Host header is present
	FlagTEOther           HeadFlags = 1 << 6 // Transfer-Encoding has codings besides chunked
	FlagConnectionClose   HeadFlags = 1 << 7 // Connection: close
	FlagLeadingEmptyLines HeadFlags = 1 << 8 // empty lines preceded the start-line
)

// Known is a well-known header name with an O(1) slot in every head.
type Known uint8

// The well-known header names, in slot order (the same as the C ABI's OFFHEAP_KNOWN_*).
const (
	KnownHost Known = iota
	KnownContentLength
	KnownTransferEncoding
	KnownConnection
	KnownUpgrade
	KnownExpect
	KnownKeepAlive
	KnownTE
	KnownTrailer
	KnownProxyConnection
	KnownProxyAuthenticate
	KnownProxyAuthorization
	KnownXForwardedFor
	KnownXForwardedHost
	KnownXForwardedProto
	KnownForwarded
	KnownVia
	KnownContentType
	KnownUserAgent
	KnownAccept
	KnownAcceptEncoding
	KnownCookie
	KnownSetCookie
	KnownAuthorization
	KnownDate
	KnownServer
	KnownLocation
	KnownCacheControl
	KnownOrigin
	KnownReferer
	KnownContentEncoding
	KnownAcceptLanguage
	knownCount
)

var knownNames = [knownCount]string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Expect", "Keep-Alive",
	"Te", "Trailer", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Via", "Content-Type",
	"User-Agent", "Accept", "Accept-Encoding", "Cookie", "Set-Cookie", "Authorization", "Date",
	"Server", "Location", "Cache-Control", "Origin", "Referer", "Content-Encoding", "Accept-Language",
}

// String returns the canonical header name.
func (k Known) String() string {
	if k < knownCount {
		return knownNames[k]
	}
	return "Known(" + strconv.Itoa(int(k)) + ")"
}

// knownByName finds canonical and lower-case spellings without allocating.
var knownByName = func() map[string]Known {
	m := make(map[string]Known, 2*knownCount)
	for i, n := range knownNames {
		m[n] = Known(i)
		m[lowerASCII(n)] = Known(i)
	}
	m["TE"] = KnownTE
	return m
}()

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// equalFold reports whether b equals s in ASCII case-insensitive comparison.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// headRecord mirrors the C offheap_head (128 bytes, checked at build time in headers_cgo.go).
type headRecord struct {
	status, start, length, errorOffset uint32
	methodOff, methodLen               uint32
	targetOff, targetLen               uint32
	reasonOff, reasonLen               uint32
	firstHeader, headerCount           uint32
	contentLength                      uint64
	flags                              uint32
	statusCode                         uint16
	version                            uint8
	bodyKind                           uint8
	known                              [knownCount]uint8
	_                                  [8]uint32
}

// headerRecord mirrors the C offheap_header.
type headerRecord struct {
	nameOff, nameLen, valueOff, valueLen uint32
}

const knownAbsent = 255

// heads is the state and the accessors shared by [RequestBatch] and [ResponseBatch].
type heads struct {
	// Config holds the limits used by the next Parse.
	Config HeadersConfig

	input    []byte
	recs     []headRecord
	hdrs     []headerRecord
	n        int
	consumed int
}

func (h *heads) ensure(minHeads int) {
	if len(h.recs) < minHeads {
		h.recs = make([]headRecord, minHeads)
	}
	if need := h.Config.maxHeaders(); len(h.hdrs) < need {
		h.hdrs = make([]headerRecord, max(need, 16*len(h.recs)))
	}
}

func (h *heads) slice(off, n uint32) []byte {
	return h.input[off : off+n : off+n]
}

// Len returns the number of heads the last Parse recorded (the last may be incomplete or
// invalid: check [heads.Err]).
func (h *heads) Len() int { return h.n }

// Consumed returns where the caller resumes reading after the last pipelined Parse: past
// every complete head and every Content-Length body that was entirely in the input.
func (h *heads) Consumed() int { return h.consumed }

// Complete reports whether head i is complete and valid.
func (h *heads) Complete(i int) bool { return h.recs[i].status == 0 }

// Incomplete reports whether head i needs more bytes.
func (h *heads) Incomplete(i int) bool { return h.recs[i].status == statusHeadersIncomplete }

// Err returns nil for a complete head, or an [*Error] matching [ErrIncomplete],
// [ErrTooLarge] or [ErrMalformed], whose Status names the rule (see [HeadError]) and whose
// offset [HeadError.Offset] gives. It allocates only when it returns an error.
func (h *heads) Err(i int) error {
	r := &h.recs[i]
	if r.status == 0 {
		return nil
	}
	return &HeadError{Status: r.status, Offset: int(r.errorOffset)}
}

// Start returns the offset of head i in the input.
func (h *heads) Start(i int) int { return int(h.recs[i].start) }

// HeadLen returns the length of head i including its final empty line (for an incomplete
// head: the bytes seen).
func (h *heads) HeadLen(i int) int { return int(h.recs[i].length) }

// Head returns the bytes of head i (a sub-slice of the input).
func (h *heads) Head(i int) []byte {
	r := &h.recs[i]
	return h.slice(r.start, r.length)
}

// ProtoMinor returns 0 for HTTP/1.0 and 1 for HTTP/1.1.
func (h *heads) ProtoMinor(i int) int { return int(h.recs[i].version) }

// Flags returns the framing flags of head i.
func (h *heads) Flags(i int) HeadFlags { return HeadFlags(h.recs[i].flags) }

// KeepAlive reports whether the connection stays open after message i (RFC 9112 §9.3).
func (h *heads) KeepAlive(i int) bool { return h.recs[i].flags&uint32(FlagKeepAlive) != 0 }

// Upgrade reports whether message i switches protocols.
func (h *heads) Upgrade(i int) bool { return h.recs[i].flags&uint32(FlagUpgrade) != 0 }

// ExpectContinue reports whether request i asked for 100-continue.
func (h *heads) ExpectContinue(i int) bool {
	return h.recs[i].flags&uint32(FlagExpectContinue) != 0
}

// Body returns how the body after head i is delimited.
func (h *heads) Body(i int) Body { return Body(h.recs[i].bodyKind) }

// ContentLength returns the body length when Body(i) is [BodyLength], else 0.
func (h *heads) ContentLength(i int) int64 { return int64(h.recs[i].contentLength) }

// NumHeaders returns the number of header lines of head i.
func (h *heads) NumHeaders(i int) int { return int(h.recs[i].headerCount) }

// HeaderAt returns line j of head i: the name and the value without surrounding whitespace.
func (h *heads) HeaderAt(i, j int) (name, value []byte) {
	r := &h.recs[i]
	if uint(j) >= uint(r.headerCount) {
		panic("offheap: header index out of range")
	}
	s := &h.hdrs[int(r.firstHeader)+j]
	return h.slice(s.nameOff, s.nameLen), h.slice(s.valueOff, s.valueLen)
}

// Known returns the value of the first line named k in head i (O(1)), or nil.
func (h *heads) Known(i int, k Known) []byte {
	r := &h.recs[i]
	if k >= knownCount || r.known[k] == knownAbsent {
		return nil
	}
	s := &h.hdrs[int(r.firstHeader)+int(r.known[k])]
	return h.slice(s.valueOff, s.valueLen)
}

// Header returns the value of the first line of head i whose name equals name in any ASCII
// case, or nil. Well-known names (canonical or lower case) take O(1); others scan the lines.
func (h *heads) Header(i int, name string) []byte {
	if k, ok := knownByName[name]; ok {
		return h.Known(i, k)
	}
	r := &h.recs[i]
	for _, s := range h.hdrs[r.firstHeader : r.firstHeader+r.headerCount] {
		if equalFold(h.slice(s.nameOff, s.nameLen), name) {
			return h.slice(s.valueOff, s.valueLen)
		}
	}
	return nil
}

// All iterates over the header lines of head i in order, as (name, value) sub-slices of the
// input.
func (h *heads) All(i int) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		r := &h.recs[i]
		for _, s := range h.hdrs[r.firstHeader : r.firstHeader+r.headerCount] {
			if !yield(h.slice(s.nameOff, s.nameLen), h.slice(s.valueOff, s.valueLen)) {
				return
			}
		}
	}
}

// RequestBatch parses HTTP/1.x request heads, many per call, into reusable pointer-free
// slices. Create it with [NewRequestBatch] (the zero value works too, one head per call) and
// reuse it; it is not safe for concurrent use.
//
// The slices its accessors return point into the input of the last Parse: they stay valid
// while the caller keeps that input unchanged, and the next Parse replaces them.
type RequestBatch struct {
	heads
	offsets     []uint32
	rewriteArgs []byte
}

// NewRequestBatch returns a batch that records up to maxHeads heads per call.
func NewRequestBatch(maxHeads int) *RequestBatch {
	b := &RequestBatch{}
	b.ensure(max(maxHeads, 1))
	return b
}

// Method returns the method of request i.
func (b *RequestBatch) Method(i int) []byte {
	r := &b.recs[i]
	return b.slice(r.methodOff, r.methodLen)
}

// Target returns the request-target of request i (the RequestURI).
func (b *RequestBatch) Target(i int) []byte {
	r := &b.recs[i]
	return b.slice(r.targetOff, r.targetLen)
}

// ResponseBatch parses HTTP/1.x response heads, many per call, like [RequestBatch].
type ResponseBatch struct {
	heads
	// HeadRequest says the responses answer HEAD requests, so none has a body.
	HeadRequest bool
	offsets     []uint32
}

// NewResponseBatch returns a batch that records up to maxHeads heads per call.
func NewResponseBatch(maxHeads int) *ResponseBatch {
	b := &ResponseBatch{}
	b.ensure(max(maxHeads, 1))
	return b
}

// StatusCode returns the status code of response i.
func (b *ResponseBatch) StatusCode(i int) int { return int(b.recs[i].statusCode) }

// Reason returns the reason phrase of response i (possibly empty).
func (b *ResponseBatch) Reason(i int) []byte {
	r := &b.recs[i]
	return b.slice(r.reasonOff, r.reasonLen)
}

// RewriteOptions says what [RequestBatch.RewriteRequest] adds and replaces.
type RewriteOptions struct {
	ClientIP string // appended to X-Forwarded-For ("" for none)
	Proto    string // X-Forwarded-Proto: "http" or "https" ("" for none)
	Host     string // the upstream's Host, used when SetHost is true
	SetHost  bool   // replace Host (else the client's Host is forwarded)
	Via      string // this proxy's pseudonym, appended to Via ("" for none)
	// AppendForwarded trusts the client's X-Forwarded-For and appends to it (ReverseProxy
	// with a Director); false drops incoming X-Forwarded-* first (ReverseProxy with Rewrite).
	AppendForwarded bool
}

// Status codes of the header parser (the C ABI's OFFHEAP_STATUS_HEADERS_*).
const (
	statusHeadersIncomplete   = 100
	statusHeadersHeadTooLarge = 101
	statusHeadersTooMany      = 102
	statusHeadersLast         = 199
)

// HeadError is a head the parser did not accept: Status is the library's status code (the
// rule, 100-199, message from the library) and Offset the offending byte in the input.
type HeadError struct {
	Status uint32
	Offset int
}

func (e *HeadError) Error() string {
	msg := statusMessage(e.Status)
	if msg == "" {
		msg = "offheap headers: status " + strconv.Itoa(int(e.Status))
	}
	if e.Status == statusHeadersIncomplete {
		return msg
	}
	return msg + " at byte " + strconv.Itoa(e.Offset)
}

// Is matches the sentinel of the error's class: [ErrIncomplete], [ErrTooLarge] or
// [ErrMalformed].
func (e *HeadError) Is(target error) bool { return target == headersSentinel(e.Status) }

// headersSentinel maps a headers status (100-199) to its sentinel.
func headersSentinel(status uint32) error {
	switch {
	case status == statusHeadersIncomplete:
		return ErrIncomplete
	case status == statusHeadersHeadTooLarge || status == statusHeadersTooMany:
		return ErrTooLarge
	case status > statusHeadersTooMany && status <= statusHeadersLast:
		return ErrMalformed
	}
	return nil
}

// Parse parses the pipelined request heads at the start of input (one connection's bytes):
// one after another, skipping Content-Length bodies, until the batch is full, the input
// ends, or a head is incomplete, invalid, or followed by a body that is not
// length-delimited. It returns where to resume reading ([heads.Consumed]). Per-head problems
// are reported by [heads.Err]; err is about the call itself. One cgo call, no allocation.
func (b *RequestBatch) Parse(input []byte) (consumed int, err error) {
	err = b.parse("RequestBatch.Parse", true, false, input, nil)
	return b.consumed, err
}

// ParseEach parses one request head per region of input: region i is
// input[offsets[i]:offsets[i+1]] (the last runs to the end), so the heads of many
// connections are parsed in one call. Offsets must be non-decreasing.
func (b *RequestBatch) ParseEach(input []byte, offsets []uint32) error {
	return b.parse("RequestBatch.ParseEach", true, false, input, offsets)
}

// Parse parses pipelined response heads, like [RequestBatch.Parse].
func (b *ResponseBatch) Parse(input []byte) (consumed int, err error) {
	err = b.parse("ResponseBatch.Parse", false, b.HeadRequest, input, nil)
	return b.consumed, err
}

// ParseEach parses one response head per region of input, like [RequestBatch.ParseEach].
func (b *ResponseBatch) ParseEach(input []byte, offsets []uint32) error {
	return b.parse("ResponseBatch.ParseEach", false, b.HeadRequest, input, offsets)
}

// RewriteRequest appends to dst request head i rewritten for an upstream, with the semantics
// of httputil.ReverseProxy: hop-by-hop headers (Connection and the headers it names,
// Keep-Alive, Proxy-*, TE, Trailer, Upgrade unless upgrading) dropped, X-Forwarded-For,
// -Host, -Proto and Via set, Host replaced when opts.SetHost. Content-Length and
// Transfer-Encoding are kept, because the body is relayed unchanged. It allocates only when
// dst lacks capacity: reuse dst[:0] for zero allocations.
func (b *RequestBatch) RewriteRequest(dst []byte, i int, opts *RewriteOptions) ([]byte, error) {
	if !b.Complete(i) {
		return dst, &Error{Op: "RequestBatch.RewriteRequest", Err: ErrInvalidArgument}
	}
	return b.rewriteRequest(dst, i, opts)
}

// RewriteResponse appends to dst response head i with its hop-by-hop headers dropped and
// via (unless empty) appended to Via. It allocates only when dst lacks capacity.
func (b *ResponseBatch) RewriteResponse(dst []byte, i int, via string) ([]byte, error) {
	if !b.Complete(i) {
		return dst, &Error{Op: "ResponseBatch.RewriteResponse", Err: ErrInvalidArgument}
	}
	return b.rewriteResponse(dst, i, via)
}
