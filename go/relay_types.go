package offheap

import (
	"syscall"
	"time"
)

// Conn is a connection a relay moves bytes from or to: *net.TCPConn, *net.UnixConn, or any
// connection with a file descriptor (syscall.Conn) and deadlines. The relay waits through the
// connection's own RawConn, so Go's netpoller does the waiting: deadlines apply, closing the
// connection stops the relay, and no OS thread blocks.
type Conn interface {
	syscall.Conn
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Framing says where a relayed body ends. The zero value relays nothing (Exact(0)).
type Framing struct {
	kind   uint32
	length uint64
}

const (
	framingExact     = 0
	framingChunked   = 1
	framingDechunked = 2
	framingUntilEOF  = 3
)

// Exact frames a body of exactly n bytes (Content-Length). Bytes after it stay unread in the
// source, ready for the next message. A negative n is treated as 0.
func Exact(n int64) Framing {
	if n < 0 {
		n = 0
	}
	return Framing{kind: framingExact, length: uint64(n)}
}

// Chunked frames a Transfer-Encoding: chunked body, validated while relaying and forwarded
// verbatim (chunk framing and trailers included). Bytes after the final CRLF stay unread.
func Chunked() Framing { return Framing{kind: framingChunked} }

// Dechunked is [Chunked], but only the payload is written to the destination.
func Dechunked() Framing { return Framing{kind: framingDechunked} }

// UntilEOF frames a body that ends when the source reaches end of file.
func UntilEOF() Framing { return Framing{kind: framingUntilEOF} }

// RelayStats counts the bytes of one relayed body (or one tunnel direction).
type RelayStats struct {
	BytesIn  uint64 // consumed from the source (chunk framing included)
	BytesOut uint64 // written to the destination
	Spliced  uint64 // of BytesOut, moved in the kernel with splice(2)
	Copied   uint64 // of BytesOut, copied through a Rust-owned buffer
}

// RelayCounters are the process-wide relay counters (see [ReadRelayCounters]).
type RelayCounters struct {
	RelaysStarted uint64 // relays started (each tunnel direction counts one)
	RelaysDone    uint64 // relays that completed
	RelaysFailed  uint64 // relays that ended with an error
	BytesSpliced  uint64 // bytes moved with splice(2)
	BytesCopied   uint64 // bytes copied through Rust-owned buffers
	PipesCreated  uint64 // pipes created (pool misses)
	PipesLive     uint64 // pipes alive, in use or pooled
	BuffersLive   uint64 // Rust buffers alive, in use or pooled, bulk buffers included
	// BulkBuffersLive counts, of BuffersLive, the 4 MiB bulk buffers copying relays use for bulk
	// flows (at most 16 alive per process).
	BulkBuffersLive uint64
}

// Completion is the outcome of one [Engine] job.
type Completion struct {
	ID       uint64 // the id given at submission
	Forward  uint64 // bytes written src → dst (tunnels: a → b)
	Backward uint64 // bytes written b → a (tunnels only)
	Spliced  uint64 // of both, bytes moved with splice(2)
	Copied   uint64 // of both, bytes copied through Rust-owned buffers
	Err      error  // nil on success; matches ErrUnexpectedEOF, ErrConnectionReset, ErrCanceled, ...

	// Session jobs only ([Engine.SubmitSession]): where the session stopped, and its counts.
	Session          SessionStop
	UpstreamReusable bool   // the upstream connection is idle and may carry another request
	HeadMethod       bool   // the exchange in progress (SessionResponse) is for a HEAD request
	CloseClient      bool   // the client connection closes after the exchange in progress
	Requests         uint64 // requests forwarded in full
	Responses        uint64 // responses relayed in full
	// ClientFd and UpstreamFd give the two connections back (the engine's duplicates): the
	// caller owns them (net.FileConn(os.NewFile(...)), or syscall.Close). -1 for other jobs.
	ClientFd, UpstreamFd int
}

// SessionStop says where a session job stopped ([Completion.Session]).
type SessionStop uint8

const (
	// SessionNone: not a session job.
	SessionNone SessionStop = iota
	// SessionClientClosed: the client closed (or failed) between requests.
	SessionClientClosed
	// SessionRequest: the next request is the caller's; its bytes (maybe none yet) start the
	// client Buffer and nothing of it was sent.
	SessionRequest
	// SessionResponse: the request was sent; its response is the caller's and its bytes so
	// far start the upstream Buffer.
	SessionResponse
	// SessionDone: an exchange completed and the client connection closes (it asked to).
	SessionDone
	// SessionFailed: failed in the middle of an exchange (Err says why): close both.
	SessionFailed
)

// SessionOptions says how a session job rewrites heads (as [RewriteOptions] does) and when the
// engine hands the connections back.
type SessionOptions struct {
	ClientIP        string // appended to X-Forwarded-For (empty: none)
	Proto           string // X-Forwarded-Proto (empty: none)
	SetHost         bool   // replace the Host header with Host
	Host            string
	Via             string // this proxy's pseudonym for Via (empty: none)
	AppendForwarded bool   // trust and append to the client's X-Forwarded-* headers
	// RequestTimeout: a session waiting this long for a request stops with SessionRequest, so
	// an idle connection waits with its owner (0: never).
	RequestTimeout time.Duration
	// ResponseTimeout: a session waiting this long for a response head stops with
	// SessionResponse (0: never).
	ResponseTimeout time.Duration
	// StallTimeout: a head or body that moves no byte this long fails the session (0: never).
	StallTimeout time.Duration
}

// BufferSize is the size of every Rust-owned [Buffer].
const BufferSize = 64 << 10

// EngineJob is one job of [Engine.SubmitBatch]: a tunnel between A and B (Tunnel set), or one
// body from A to B framed by Framing.
type EngineJob struct {
	ID      uint64 // carried by the job's completion
	A, B    Conn   // tunnel: the two sides; body: source (A) and destination (B)
	Tunnel  bool
	Framing Framing // bodies only
	// Err is set by SubmitBatch: nil when the engine took the job, else why it did not
	// (the errors SubmitTunnel and SubmitBody return).
	Err error
}
