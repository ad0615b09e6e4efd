package offheap

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Sentinel errors. Errors returned by this package wrap one of them (match with errors.Is)
// in an [*Error] that names the operation.
var (
	// ErrUnavailable: the package was built without cgo, so the Rust library is not linked.
	ErrUnavailable = errors.New("offheap: unavailable: built with CGO_ENABLED=0; offheap needs cgo: " +
		"run `make build` in the offheap repository, then build with CGO_ENABLED=1 and a C compiler " +
		"(README: Building and linking)")
	// ErrABIMismatch: the linked library was built for a different C ABI than the header the
	// package was compiled with (a stale target/release/liboffheap.a or .so).
	ErrABIMismatch = errors.New("offheap: library ABI version differs from the header's")
	// ErrClosed: the offheap object was closed (or its handle is no longer valid). A closed
	// connection is [ErrConnClosed].
	ErrClosed = errors.New("offheap: object is closed")
	// ErrPanic: the library panicked inside the call. The panic was caught at the C ABI
	// boundary and the process is unaffected; the object involved is poisoned.
	ErrPanic = errors.New("offheap: internal panic caught at the C ABI boundary")
	// ErrPoisoned: an earlier call on this object panicked; it only accepts Close.
	ErrPoisoned = errors.New("offheap: object poisoned by an earlier panic; close it")
	// ErrInvalidArgument: an argument is out of its documented range.
	ErrInvalidArgument = errors.New("offheap: invalid argument")
	// ErrTooLarge: an input exceeds a documented size limit.
	ErrTooLarge = errors.New("offheap: input exceeds a size limit")
	// ErrBufferTooSmall: an output buffer given to the library is too small for the result.
	ErrBufferTooSmall = errors.New("offheap: output buffer too small")
	// ErrOutOfMemory: the library could not allocate memory.
	ErrOutOfMemory = errors.New("offheap: out of memory")
	// ErrUnexpectedEOF: a relayed body ended before its declared end (shorter than its
	// Content-Length, or a chunked body without its last chunk).
	ErrUnexpectedEOF = errors.New("offheap: relay: body ended before its declared end")
	// ErrConnectionReset: a peer reset a connection during a relay.
	ErrConnectionReset = errors.New("offheap: relay: connection reset by peer")
	// ErrBrokenPipe: a relay's destination no longer accepts data (its peer closed or shut
	// it down).
	ErrBrokenPipe = errors.New("offheap: relay: destination closed by its peer")
	// ErrConnClosed: a connection a relay, buffer or engine call used was closed on this side
	// during the call (its file descriptor closed). It also matches [net.ErrClosed].
	ErrConnClosed error = connClosedError{}
	// ErrBadChunk: a chunked body is malformed (chunk size not hex or over 64 bits, missing
	// CRLF, extension or trailers too long or invalid); Error.Status names which.
	ErrBadChunk = errors.New("offheap: relay: malformed chunked body")
	// ErrRelayIO: another I/O error during a relay.
	ErrRelayIO = errors.New("offheap: relay: I/O error")
	// ErrCanceled: a relay or engine job was cancelled (context, Engine.Cancel, Close).
	ErrCanceled = errors.New("offheap: relay: canceled")
	// ErrInternal: the library returned a status this package does not know; it indicates a
	// library and package built from different versions.
	ErrInternal = errors.New("offheap: unexpected status from the library")
)

// Sentinels of the header parser (statuses 100-199); a head's [HeadError] matches one.
var (
	// ErrIncomplete: the head is not complete yet; read more bytes and parse again.
	ErrIncomplete = errors.New("offheap: incomplete HTTP head")
	// ErrMalformed: the head breaks HTTP/1.x syntax or a framing rule (request smuggling
	// defences); the connection should be answered with 400 and closed.
	ErrMalformed = errors.New("offheap: malformed HTTP head")
)

// Sentinels of configurations and of the aggregator (statuses 300-399 map to these or to the
// general ones).
var (
	// ErrInvalidConfig: a field of an [AggregatorConfig] or a [HeadersConfig] is out of its
	// range; the error names the field (or the library's message does).
	ErrInvalidConfig = errors.New("offheap: invalid configuration")
	// ErrLengthMismatch: the columns of a batch have different lengths.
	ErrLengthMismatch = errors.New("offheap: batch columns have different lengths")
	// ErrUnknownSeries: no live series has the key or id (never made, deleted or evicted).
	ErrUnknownSeries = errors.New("offheap: no live series for this key or id")
	// ErrBadState: serialized aggregator state is corrupt, of another format version, or was
	// written with a different relative accuracy or sketch setting.
	ErrBadState = errors.New("offheap: bad serialized aggregator state")
)

// connClosedError is the type of [ErrConnClosed]: a sentinel that also matches net.ErrClosed.
type connClosedError struct{}

func (connClosedError) Error() string { return "offheap: connection closed during the call" }

func (connClosedError) Is(target error) bool { return target == net.ErrClosed }

// Error is the error type of this package: the operation, the library's status code (0 for
// errors detected in Go), the input at fault when the error is about one, and the sentinel it
// matches.
type Error struct {
	Op     string // the operation, e.g. "Aggregator.Ingest"
	Status uint32 // the library's offheap_status, 0 if the error was detected in Go
	// Field is the input the library refused, as Go code names it ("AggregatorConfig.Width",
	// "SetFamily's name"), for an error of the library about one field; else "". The
	// library's message names the setting in words.
	Field string
	Err   error // the sentinel: ErrClosed, ErrInvalidArgument, ...
}

// Error returns the operation and, for an error of the library, the field at fault (if any),
// the library's own message for its status (offheap_status_str) and the status; for an error
// detected in Go, Err's text.
func (e *Error) Error() string {
	if e.Status == 0 {
		return e.Op + ": " + e.Err.Error()
	}
	msg := statusMessage(e.Status)
	if msg == "" {
		msg = e.Err.Error()
	}
	op := e.Op
	if e.Field != "" {
		op += ": " + e.Field
	}
	return op + ": " + msg + " (status " + strconv.FormatUint(uint64(e.Status), 10) + ")"
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// opError wraps a sentinel detected on the Go side.
func opError(op string, sentinel error) error {
	return &Error{Op: op, Err: sentinel}
}

// checkIndex panics, as indexing a Go slice does, when i is outside [0, n): an index past the
// last result would otherwise read what an earlier call left behind.
func checkIndex(i, n int) {
	if uint(i) >= uint(n) {
		panicIndex(i, n)
	}
}

func panicIndex(i, n int) {
	panic(fmt.Sprintf("offheap: index %d out of range [0:%d]", i, n))
}
