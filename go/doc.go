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
//     object (their calls then return [ErrClosed]). A cleanup attached with runtime.AddCleanup
//     frees objects that are dropped without Close, but only as a backstop: call Close.
//   - Errors are wrapped in [*Error] with the operation (and, for an error of the library, its
//     status and the library's message for it), and match sentinel values such as
//     [ErrClosed], [ErrInvalidArgument] or [ErrTooLarge] with errors.Is. A connection closed
//     during a call is [ErrConnClosed] (also net.ErrClosed), not ErrClosed.
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
// offheap) with their deltas.
package offheap
