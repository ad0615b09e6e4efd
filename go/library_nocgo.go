//go:build !cgo

package offheap

// Built without cgo: the package compiles, and everything that needs the library reports
// ErrUnavailable.

func libraryError() error { return ErrUnavailable }

func libraryVersion() string { return "" }

func libraryABIVersion() uint32 { return 0 }
