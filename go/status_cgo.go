//go:build cgo

package offheap

// #include "offheap.h"
import "C"

// statusMessage returns the library's own message for a status (a static string, copied).
func statusMessage(st uint32) string { return C.GoString(C.offheap_status_str(C.uint32_t(st))) }
