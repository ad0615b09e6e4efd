//go:build cgo && offheap_shared

package offheap

// Shared link (build tag offheap_shared): loads target/release/liboffheap.so at run time, found
// through the rpath recorded here or LD_LIBRARY_PATH.

// #cgo LDFLAGS: -L${SRCDIR}/../target/release -loffheap -Wl,-rpath,${SRCDIR}/../target/release
import "C"
