package offheap

import (
	"fmt"
	"iter"
	"strconv"

	"github.com/offheap/offheap/go/internal/ascii"
)

// HTTP/1.x head parsing: many heads per cgo crossing, zero-copy, strict against request
// smuggling. The Rust parser writes fixed-size records into the batch's own pointer-free
// slices; every accessor returns a sub-slice of the caller's input, so parsing and reading a
// head allocate nothing.

// HeadersConfig holds the parser's limits. The zero value means the defaults; a limit above
// its maximum makes Parse fail with [ErrInvalidConfig] naming the field.
type HeadersConfig struct {
	// MaxHeadLen is the longest accepted head in bytes (0: 64 KiB; at most 16 MiB).
	MaxHeadLen uint32
	// MaxHeaders is the most header lines per head (0: 100; at most 254).
	MaxHeaders uint16
	// AllowBareLF accepts lines ended by LF alone (off by default: a strict parser rejects
	// them, RFC 9112 §2.2).
	AllowBareLF bool
}

// The maxima of HeadersConfig (the parser's MAX_HEAD_LEN_LIMIT and MAX_HEADERS_LIMIT, which
// the header does not name: the library would clamp larger values, the package refuses them).
const (
	maxHeadLenLimit = 16 << 20
	maxHeadersLimit = 254
)

func (c *HeadersConfig) maxHeaders() int {
	if c.MaxHeaders == 0 {
		return 100
	}
	return int(c.MaxHeaders)
}

// mirror checks c and returns it as the library's offheap_headers_config.
func (c *HeadersConfig) mirror(headRequest bool) (headersConfig, error) {
	if c.MaxHeadLen > maxHeadLenLimit {
		return headersConfig{}, fmt.Errorf("%w: HeadersConfig.MaxHeadLen is %d, above its limit of %d (16 MiB)",
			ErrInvalidConfig, c.MaxHeadLen, maxHeadLenLimit)
	}
	if c.MaxHeaders > maxHeadersLimit {
		return headersConfig{}, fmt.Errorf("%w: HeadersConfig.MaxHeaders is %d, above its limit of %d",
			ErrInvalidConfig, c.MaxHeaders, maxHeadersLimit)
	}
	m := headersConfig{maxHeadLen: c.MaxHeadLen, maxHeaders: c.MaxHeaders}
	if c.AllowBareLF {
		m.allowBareLF = 1
	}
	if headRequest {
		m.headRequest = 1
	}
	return m, nil
}

// BodyKind says how the message body after a head is delimited (RFC 9112 §6.3).
type BodyKind uint8

const (
	BodyNone    BodyKind = bodyNone    // no body
	BodyLength  BodyKind = bodyLength  // exactly ContentLength bytes
	BodyChunked BodyKind = bodyChunked // chunked transfer coding
	BodyClose   BodyKind = bodyClose   // until the connection closes (responses)
)

func (b BodyKind) String() string {
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
	return "BodyKind(" + strconv.Itoa(int(b)) + ")"
}

// HeadFlags are the framing facts of a head.
type HeadFlags uint32

const (
	FlagKeepAlive         HeadFlags = headKeepAlive         // the connection stays open after this message
	FlagUpgrade           HeadFlags = headUpgrade           // HTTP/1.1 Connection: upgrade + Upgrade, or a 101
	FlagExpectContinue    HeadFlags = headExpectContinue    // HTTP/1.1 Expect: 100-continue
	FlagConnect           HeadFlags = headConnect           // the method is CONNECT
	FlagHeadMethod        HeadFlags = headHeadMethod        // the method is HEAD
	FlagHasHost           HeadFlags = headHasHost           // a Host header is present
	FlagTEOther           HeadFlags = headTEOther           // Transfer-Encoding has codings besides chunked
	FlagConnectionClose   HeadFlags = headConnectionClose   // Connection: close
	FlagLeadingEmptyLines HeadFlags = headLeadingEmptyLines // empty lines preceded the start-line
)

// KnownHeader is a well-known header name with an O(1) slot in every head.
type KnownHeader uint8

// The well-known header names, in slot order: the C ABI's OFFHEAP_KNOWN_* (abi_gen.go).
const (
	KnownHost               KnownHeader = knownHost
	KnownContentLength      KnownHeader = knownContentLength
	KnownTransferEncoding   KnownHeader = knownTransferEncoding
	KnownConnection         KnownHeader = knownConnection
	KnownUpgrade            KnownHeader = knownUpgrade
	KnownExpect             KnownHeader = knownExpect
	KnownKeepAlive          KnownHeader = knownKeepAlive
	KnownTE                 KnownHeader = knownTE
	KnownTrailer            KnownHeader = knownTrailer
	KnownProxyConnection    KnownHeader = knownProxyConnection
	KnownProxyAuthenticate  KnownHeader = knownProxyAuthenticate
	KnownProxyAuthorization KnownHeader = knownProxyAuthorization
	KnownXForwardedFor      KnownHeader = knownXForwardedFor
	KnownXForwardedHost     KnownHeader = knownXForwardedHost
	KnownXForwardedProto    KnownHeader = knownXForwardedProto
	KnownForwarded          KnownHeader = knownForwarded
	KnownVia                KnownHeader = knownVia
	KnownContentType        KnownHeader = knownContentType
	KnownUserAgent          KnownHeader = knownUserAgent
	KnownAccept             KnownHeader = knownAccept
	KnownAcceptEncoding     KnownHeader = knownAcceptEncoding
	KnownCookie             KnownHeader = knownCookie
	KnownSetCookie          KnownHeader = knownSetCookie
	KnownAuthorization      KnownHeader = knownAuthorization
	KnownDate               KnownHeader = knownDate
	KnownServer             KnownHeader = knownServer
	KnownLocation           KnownHeader = knownLocation
	KnownCacheControl       KnownHeader = knownCacheControl
	KnownOrigin             KnownHeader = knownOrigin
	KnownReferer            KnownHeader = knownReferer
	KnownContentEncoding    KnownHeader = knownContentEncoding
	KnownAcceptLanguage     KnownHeader = knownAcceptLanguage
)

var knownNames = [knownCount]string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Expect", "Keep-Alive",
	"Te", "Trailer", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Via", "Content-Type",
	"User-Agent", "Accept", "Accept-Encoding", "Cookie", "Set-Cookie", "Authorization", "Date",
	"Server", "Location", "Cache-Control", "Origin", "Referer", "Content-Encoding", "Accept-Language",
}

// String returns the canonical header name.
func (k KnownHeader) String() string {
	if k < knownCount {
		return knownNames[k]
	}
	return "KnownHeader(" + strconv.Itoa(int(k)) + ")"
}

// knownByName finds canonical and lower-case spellings without allocating.
var knownByName = func() map[string]KnownHeader {
	m := make(map[string]KnownHeader, 2*knownCount)
	for i, n := range knownNames {
		m[n] = KnownHeader(i)
		m[lowerASCII(n)] = KnownHeader(i)
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

// The library's records and options, mirrored field by field (abi_cgo_gen.go pins each
// layout to the header).
type (
	// headRecord is offheap_head (128 bytes).
	headRecord struct {
		status, start, length, errorOffset uint32
		method, target, reason             span
		firstHeader, headerCount           uint32
		contentLength                      uint64
		flags                              uint32
		statusCode                         uint16
		version                            uint8
		bodyKind                           uint8
		known                              [knownCount]uint8
		reserved                           [8]uint32
	}
	// span is offheap_span: input[off : off+length].
	span struct {
		off, length uint32
	}
	// headerRecord is offheap_header.
	headerRecord struct {
		nameOff, nameLen, valueOff, valueLen uint32
	}
	// headersConfig is offheap_headers_config.
	headersConfig struct {
		maxHeadLen  uint32
		maxHeaders  uint16
		allowBareLF uint8
		headRequest uint8
	}
	// rewriteOptions is offheap_rewrite_options: its strings are spans of one byte array.
	rewriteOptions struct {
		clientIP, proto, host, via span
		setHost                    uint8
		appendForwarded            uint8
		reserved                   [6]uint8
	}
)

// heads is the state and the accessors shared by [RequestBatch] and [ResponseBatch]. Every
// accessor taking a head index i panics unless 0 <= i < Len(), as a slice index does.
type heads struct {
	op       string // the Parse that filled the records, for the errors of Err
	input    []byte
	recs     []headRecord
	hdrs     []headerRecord
	n        int
	consumed int
}

// ensure makes room for minHeads heads and for maxHeaders header lines at least.
func (h *heads) ensure(minHeads, maxHeaders int) {
	if len(h.recs) < minHeads {
		h.recs = make([]headRecord, minHeads)
	}
	if need := max(maxHeaders, 16*len(h.recs)); len(h.hdrs) < need {
		h.hdrs = make([]headerRecord, need)
	}
}

// rec returns the record of head i, which must be one of the last Parse's.
func (h *heads) rec(i int) *headRecord {
	checkIndex(i, h.n)
	return &h.recs[i]
}

func (h *heads) slice(off, n uint32) []byte {
	return h.input[off : off+n : off+n]
}

// record appends the four strings of o to strs and returns them with the library's record of
// o (offheap_rewrite_options), which names them as spans of strs: what RewriteRequest,
// Engine.SubmitSession and the engine's proxy pass.
func (o *RewriteOptions) record(strs []byte) ([]byte, rewriteOptions) {
	var r rewriteOptions
	for _, f := range [...]struct {
		s  string
		to *span
	}{{o.ClientIP, &r.clientIP}, {o.Proto, &r.proto}, {o.Host, &r.host}, {o.Via, &r.via}} {
		*f.to = span{uint32(len(strs)), uint32(len(f.s))}
		strs = append(strs, f.s...)
	}
	if o.SetHost {
		r.setHost = 1
	}
	if o.AppendForwarded {
		r.appendForwarded = 1
	}
	return strs, r
}

// Len returns the number of heads the last Parse recorded (the last may be incomplete or
// invalid: check Err).
func (h *heads) Len() int { return h.n }

// Consumed returns where the caller resumes reading after the last pipelined Parse: past
// every complete head and every Content-Length body that was entirely in the input.
func (h *heads) Consumed() int { return h.consumed }

// Complete reports whether head i is complete and valid.
func (h *heads) Complete(i int) bool { return h.rec(i).status == statusOK }

// Incomplete reports whether head i needs more bytes.
func (h *heads) Incomplete(i int) bool { return h.rec(i).status == statusHeadersIncomplete }

// Err returns nil for a complete head, or a [*HeadError] (which wraps an [*Error]) matching
// [ErrIncomplete], [ErrTooLarge] or [ErrMalformed]: its Status names the rule and its Offset
// the offending byte. It allocates only when it returns an error.
func (h *heads) Err(i int) error {
	r := h.rec(i)
	if r.status == statusOK {
		return nil
	}
	e := &HeadError{Status: r.status, Offset: int(r.errorOffset)}
	e.err = Error{Op: h.op, Status: r.status, Err: sentinelOf(r.status)}
	return e
}

// Start returns the offset of head i in the input.
func (h *heads) Start(i int) int { return int(h.rec(i).start) }

// HeadLen returns the length of head i including its final empty line (for an incomplete
// head: the bytes seen).
func (h *heads) HeadLen(i int) int { return int(h.rec(i).length) }

// Head returns the bytes of head i (a sub-slice of the input).
func (h *heads) Head(i int) []byte {
	r := h.rec(i)
	return h.slice(r.start, r.length)
}

// ProtoMinor returns 0 for HTTP/1.0 and 1 for HTTP/1.1.
func (h *heads) ProtoMinor(i int) int { return int(h.rec(i).version) }

// Flags returns the framing flags of head i.
func (h *heads) Flags(i int) HeadFlags { return HeadFlags(h.rec(i).flags) }

// KeepAlive reports whether the connection stays open after message i (RFC 9112 §9.3).
func (h *heads) KeepAlive(i int) bool { return h.rec(i).flags&uint32(FlagKeepAlive) != 0 }

// Upgrade reports whether message i switches protocols.
func (h *heads) Upgrade(i int) bool { return h.rec(i).flags&uint32(FlagUpgrade) != 0 }

// ExpectContinue reports whether request i asked for 100-continue.
func (h *heads) ExpectContinue(i int) bool {
	return h.rec(i).flags&uint32(FlagExpectContinue) != 0
}

// Body returns how the body after head i is delimited.
func (h *heads) Body(i int) BodyKind { return BodyKind(h.rec(i).bodyKind) }

// ContentLength returns the body length when Body(i) is [BodyLength], else 0.
func (h *heads) ContentLength(i int) int64 { return int64(h.rec(i).contentLength) }

// NumHeaders returns the number of header lines of head i.
func (h *heads) NumHeaders(i int) int { return int(h.rec(i).headerCount) }

// HeaderAt returns line j of head i: the name and the value without surrounding whitespace.
// It panics unless 0 <= j < NumHeaders(i).
func (h *heads) HeaderAt(i, j int) (name, value []byte) {
	r := h.rec(i)
	checkIndex(j, int(r.headerCount))
	s := &h.hdrs[int(r.firstHeader)+j]
	return h.slice(s.nameOff, s.nameLen), h.slice(s.valueOff, s.valueLen)
}

// Known returns the value of the first line named k in head i (O(1)), or nil.
func (h *heads) Known(i int, k KnownHeader) []byte {
	r := h.rec(i)
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
	r := h.rec(i)
	for _, s := range h.hdrs[r.firstHeader : r.firstHeader+r.headerCount] {
		if ascii.EqualFold(h.slice(s.nameOff, s.nameLen), name) {
			return h.slice(s.valueOff, s.valueLen)
		}
	}
	return nil
}

// All iterates over the header lines of head i in order, as (name, value) sub-slices of the
// input.
func (h *heads) All(i int) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		r := h.rec(i)
		for _, s := range h.hdrs[r.firstHeader : r.firstHeader+r.headerCount] {
			if !yield(h.slice(s.nameOff, s.nameLen), h.slice(s.valueOff, s.valueLen)) {
				return
			}
		}
	}
}

// parse makes the library parse input (pipelined, or one head per region of offsets) into
// h: one cgo call, and no allocation unless the records must grow.
func (h *heads) parse(op string, request bool, cfg *HeadersConfig, headRequest bool, input []byte, offsets []uint32) error {
	h.n, h.consumed, h.input = 0, 0, nil
	if initErr != nil {
		return initErr
	}
	c, err := cfg.mirror(headRequest)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	h.ensure(max(len(offsets), 1), cfg.maxHeaders())
	for {
		n, consumed, st := headersParse(request, input, offsets, &c, h.recs, h.hdrs)
		if st != statusOK {
			return statusError(op, st)
		}
		if n < len(offsets) {
			// Every region has a record, so the header records ran out: grow them and parse
			// again rather than drop the last regions.
			h.hdrs = make([]headerRecord, 2*len(h.hdrs))
			continue
		}
		h.op, h.input, h.n, h.consumed = op, input, n, consumed
		return nil
	}
}

// RequestBatch parses HTTP/1.x request heads, many per call, into reusable pointer-free
// slices. Create it with [NewRequestBatch] (the zero value works too, one head per call) and
// reuse it; it is not safe for concurrent use.
//
// The slices its accessors return point into the input of the last Parse: they stay valid
// while the caller keeps that input unchanged, and the next Parse replaces them. An accessor
// given a head index outside [0, Len()) panics, as a slice index does.
type RequestBatch struct {
	// Config holds the limits used by the next Parse.
	Config HeadersConfig
	heads
	rewriteArgs []byte
}

// NewRequestBatch returns a batch that records up to maxHeads heads per pipelined Parse.
func NewRequestBatch(maxHeads int) *RequestBatch {
	b := &RequestBatch{}
	b.ensure(max(maxHeads, 1), b.Config.maxHeaders())
	return b
}

// Method returns the method of request i.
func (b *RequestBatch) Method(i int) []byte {
	r := b.rec(i)
	return b.slice(r.method.off, r.method.length)
}

// Target returns the request-target of request i (the RequestURI).
func (b *RequestBatch) Target(i int) []byte {
	r := b.rec(i)
	return b.slice(r.target.off, r.target.length)
}

// ResponseBatch parses HTTP/1.x response heads, many per call, like [RequestBatch].
type ResponseBatch struct {
	// Config holds the limits used by the next Parse.
	Config HeadersConfig
	heads
	// HeadRequest says the responses answer HEAD requests, so none has a body.
	HeadRequest bool
}

// NewResponseBatch returns a batch that records up to maxHeads heads per pipelined Parse.
func NewResponseBatch(maxHeads int) *ResponseBatch {
	b := &ResponseBatch{}
	b.ensure(max(maxHeads, 1), b.Config.maxHeaders())
	return b
}

// StatusCode returns the status code of response i.
func (b *ResponseBatch) StatusCode(i int) int { return int(b.rec(i).statusCode) }

// Reason returns the reason phrase of response i (possibly empty).
func (b *ResponseBatch) Reason(i int) []byte {
	r := b.rec(i)
	return b.slice(r.reason.off, r.reason.length)
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

// HeadError is a head the parser did not accept, as [RequestBatch.Err] and
// [ResponseBatch.Err] return it: Status is the library's status code (the rule, 100-199; the
// error prints the library's message for it) and Offset the offending byte in the input. It
// wraps an [*Error] with the same Status and the Parse as its Op, so errors.As finds either,
// and errors.Is matches [ErrIncomplete], [ErrTooLarge] or [ErrMalformed].
type HeadError struct {
	Status uint32
	Offset int
	err    Error
}

// Error returns the library's message for the rule and, unless the head is incomplete, the
// offset of the offending byte.
func (e *HeadError) Error() string {
	msg := statusMessage(e.Status)
	if msg == "" {
		msg = e.err.Err.Error()
	}
	if e.Status == statusHeadersIncomplete {
		return msg
	}
	return msg + " at byte " + strconv.Itoa(e.Offset)
}

// Unwrap returns the [*Error] of the head's status.
func (e *HeadError) Unwrap() error { return &e.err }

// Parse parses the pipelined request heads at the start of input (one connection's bytes):
// one after another, skipping Content-Length bodies, until the batch is full, the input
// ends, or a head is incomplete, invalid, or followed by a body that is not
// length-delimited. It returns where to resume reading ([RequestBatch.Consumed]). Per-head
// problems are reported by [RequestBatch.Err]; err is about the call itself. One cgo call, no
// allocation.
func (b *RequestBatch) Parse(input []byte) (consumed int, err error) {
	err = b.parse("RequestBatch.Parse", true, &b.Config, false, input, nil)
	return b.consumed, err
}

// ParseEach parses one request head per region of input: region i is
// input[offsets[i]:offsets[i+1]] (the last runs to the end), so the heads of many
// connections are parsed in one call. Offsets must be non-decreasing. Every region gets its
// head: with more regions than the batch holds, the batch grows (the only time it
// allocates), and Len() is len(offsets).
func (b *RequestBatch) ParseEach(input []byte, offsets []uint32) error {
	return b.parse("RequestBatch.ParseEach", true, &b.Config, false, input, offsets)
}

// Parse parses pipelined response heads, like [RequestBatch.Parse].
func (b *ResponseBatch) Parse(input []byte) (consumed int, err error) {
	err = b.parse("ResponseBatch.Parse", false, &b.Config, b.HeadRequest, input, nil)
	return b.consumed, err
}

// ParseEach parses one response head per region of input, like [RequestBatch.ParseEach].
func (b *ResponseBatch) ParseEach(input []byte, offsets []uint32) error {
	return b.parse("ResponseBatch.ParseEach", false, &b.Config, b.HeadRequest, input, offsets)
}

// RewriteRequest appends to dst request head i rewritten for an upstream, with the semantics
// of httputil.ReverseProxy: hop-by-hop headers (Connection and the headers it names,
// Keep-Alive, Proxy-*, TE, Trailer, Upgrade unless upgrading) dropped, X-Forwarded-For,
// -Host, -Proto and Via set, Host replaced when opts.SetHost. Content-Length and
// Transfer-Encoding are kept, because the body is relayed unchanged. It allocates only when
// dst lacks capacity: reuse dst[:0] for zero allocations.
func (b *RequestBatch) RewriteRequest(dst []byte, i int, opts *RewriteOptions) ([]byte, error) {
	const op = "RequestBatch.RewriteRequest"
	if !b.Complete(i) {
		return dst, opError(op, ErrInvalidArgument)
	}
	// The four strings go to the library as spans of one reused byte array.
	args, ro := opts.record(b.rewriteArgs[:0])
	b.rewriteArgs = args
	rec := &b.recs[i]
	for {
		written, st := headersRewriteRequest(b.input, rec, b.hdrs, args, &ro, dst[len(dst):cap(dst)])
		if dst, st = appendWritten(dst, written, st); st != statusBufferTooSmall {
			return dst, rewriteError(op, st)
		}
	}
}

// RewriteResponse appends to dst response head i with its hop-by-hop headers dropped and
// via (unless empty) appended to Via. It allocates only when dst lacks capacity.
func (b *ResponseBatch) RewriteResponse(dst []byte, i int, via string) ([]byte, error) {
	const op = "ResponseBatch.RewriteResponse"
	if !b.Complete(i) {
		return dst, opError(op, ErrInvalidArgument)
	}
	rec := &b.recs[i]
	for {
		written, st := headersRewriteResponse(b.input, rec, b.hdrs, via, dst[len(dst):cap(dst)])
		if dst, st = appendWritten(dst, written, st); st != statusBufferTooSmall {
			return dst, rewriteError(op, st)
		}
	}
}

// appendWritten extends dst by the written bytes of a rewrite into its spare capacity, or, when
// that was too small (written is then the size needed), returns dst grown to fit them.
func appendWritten(dst []byte, written int, st uint32) ([]byte, uint32) {
	switch st {
	case statusOK:
		return dst[:len(dst)+written], st
	case statusBufferTooSmall:
		out := make([]byte, len(dst), len(dst)+written+written/4)
		copy(out, dst)
		return out, st
	}
	return dst, st
}

func rewriteError(op string, st uint32) error {
	if st == statusOK {
		return nil
	}
	return statusError(op, st)
}
