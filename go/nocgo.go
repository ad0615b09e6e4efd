//go:build !cgo

package offheap

// Built without cgo: the package compiles, and everything that needs the library reports
// ErrUnavailable.

var initErr error = &Error{Op: "offheap", Err: ErrUnavailable}

// Available reports whether the library is linked and usable: nil, or the error every
// constructor would return ([ErrUnavailable] without cgo, [ErrABIMismatch] on a stale library).
func Available() error { return initErr }

// Version returns the linked library's version, such as "0.1.0" ("" without cgo).
func Version() string { return "" }

// ABIVersion calls into the library and returns the C ABI version it was built with (0 without
// cgo). It is the cheapest call into the library.
func ABIVersion() uint32 { return 0 }

func readRustStats() (RustStats, error) { return RustStats{}, initErr }

func statusMessage(uint32) string { return "" }
