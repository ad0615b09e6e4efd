//go:build cgo && !offheap_shared

package offheap

// Static link (the default): the service binary carries the library. The flags are those
// `rustc --print native-static-libs` lists for the staticlib on Linux.

// #cgo LDFLAGS: ${SRCDIR}/../target/release/liboffheap.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
import "C"
