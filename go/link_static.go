//go:build cgo && !offheap_shared && !offheap_pkgconfig

package offheap

// Static link (the default): the service binary carries the library. The flags are those
// `rustc --print native-static-libs` lists for the staticlib on Linux.

// #cgo LDFLAGS: ${SRCDIR}/../target/release/liboffheap.a -lgcc_eh -lutil -lrt -lpthread -lm -ldl
import "C"
