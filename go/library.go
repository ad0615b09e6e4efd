package offheap

import "fmt"

// initErr is nil when the linked library can be used, else the error every constructor
// returns: [ErrUnavailable] without cgo, [ErrABIMismatch] for a stale library.
var initErr = libraryError()

var libVersion = libraryVersion()

// checkABI compares the ABI version of the linked library with the header's.
func checkABI(library, header uint32) error {
	if library == header {
		return nil
	}
	return &Error{Op: "offheap init", Err: fmt.Errorf("%w: the library speaks ABI %d, the header ABI %d: "+
		"rebuild the library (`make build`) from the same checkout as this Go package", ErrABIMismatch, library, header)}
}

// Available reports whether the library is linked and usable: nil, or the error every
// constructor would return ([ErrUnavailable] without cgo, [ErrABIMismatch] on a stale library).
func Available() error { return initErr }

// Version returns the linked library's version, such as "0.1.0" ("" without cgo).
func Version() string { return libVersion }

// ABIVersion calls into the library and returns the C ABI version it was built with (0 without
// cgo). It is the cheapest call into the library.
func ABIVersion() uint32 { return libraryABIVersion() }
