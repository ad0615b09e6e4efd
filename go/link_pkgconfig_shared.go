//go:build cgo && offheap_pkgconfig && offheap_shared

package offheap

// An installed shared library (build tags offheap_pkgconfig and offheap_shared), through
// offheap.pc. The dynamic loader must find liboffheap.so at run time (a system library
// directory, or LD_LIBRARY_PATH).

// #cgo pkg-config: offheap
import "C"
