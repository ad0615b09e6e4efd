// Package offheap moves the garbage-heavy hot paths of a Go service onto Rust-owned heaps
// that Go's garbage collector never scans: batched HTTP/1.x head parsing, buffer relay between
// sockets, and windowed metric aggregation.
//
// The package calls a Rust library through cgo, one crossing per batch. State lives on the
// Rust heap behind small handles; Go keeps reusable, pointer-free batch slices, so hot calls
// allocate nothing on the Go heap.
//
// # Building
//
// The package needs cgo (CGO_ENABLED=1 and a C compiler) and the Rust library built by `make
// build` in the repository root. It links target/release/liboffheap.a statically by default, so
// a service stays one binary; the build tag offheap_shared links target/release/liboffheap.so
// instead. Built with CGO_ENABLED=0 the package still compiles with the same exported API, and
// every constructor returns [ErrUnavailable].
//
// # Conventions
//
//   - Objects (an aggregator, a relay, a buffer) own a Rust handle. Close frees it; Close is
//     idempotent and safe to call from any goroutine, also while other goroutines use the
//     object: a call blocked on it (Relay.Copy, Buffer.ReadFrom, Engine.Wait) returns at once,
//     and every call then returns [ErrClosed], or, for a method without an error, the zero
//     value of its results (a closed Snapshot has no rows). Close waits for calls reading the
//     object's Rust memory to finish first, so none of them panics; a view (Unsafe...) taken
//     before Close must not be read after it. A cleanup attached with runtime.AddCleanup frees
//     objects that are dropped without Close, but only as a backstop: call Close.
//   - Relays and buffers wait for connections through a poller of their own (Go's netpoller
//     does the waiting; no OS thread blocks), not on the connections: their own deadlines
//     ([Relay.SetDeadline], [Buffer.SetReadDeadline]) and Close bound a wait, and the
//     connections' deadlines are neither read nor changed. A connection without a file
//     descriptor (*tls.Conn) goes through [Relay.Bind]'s fallback.
//   - Errors are wrapped in [*Error] with the operation (and, for an error of the library, its
//     status and the library's message for it), and match sentinel values such as
//     [ErrClosed], [ErrInvalidArgument] or [ErrTooLarge] with errors.Is. A connection closed
//     during a call is [ErrConnClosed] (also net.ErrClosed), not ErrClosed.
//   - Calls that move bytes from a source to a destination take the source first, in the
//     order the bytes flow: [Relay.Bind](src, dst), [Engine.SubmitBody](id, src, dst, f), an
//     [EngineJob]'s A then B, [WriteBuffers](bufs, raw). (Append methods, such as
//     [Snapshot.AppendKey], follow Go's append instead: the slice appended to comes first.)
//   - Accessors taking an index (a head of a batch, a row of a snapshot) panic when it is out
//     of range, as a slice index does: results past Len are never left-overs of an earlier call.
//   - Accessors that return views into Rust memory are named Unsafe... and say how long the
//     view stays valid; the default accessors copy.
//   - A panic inside the library never crashes the process: the call returns [ErrPanic] and the
//     object involved is poisoned ([ErrPoisoned]) until it is closed.
//
// # Seeing the effect
//
// [ReadHeapReport] reads Go's heap and GC statistics and offheap's Rust heap in one call;
// [HeapReport.WriteSideBySide] prints two reports (say, before and after moving a hot path onto
// offheap) with their deltas, below rows of the caller's own ([SideBySideRow]: the time each
// run took, its throughput).
package offheap

//go:generate go run ./internal/abigen
