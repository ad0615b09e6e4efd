//go:build cgo && !offheap_shared && !offheap_pkgconfig

package offheap

// Static link (the default): the service binary carries the library. The flags are those
// `rustc --print native-static-libs` lists for the staticlib on Linux, with the static unwinder
// (-lgcc_eh) for libgcc_s, so that binaries linked with -extldflags -static link and run, and
// others do not need libgcc_s.so.

/*
#cgo LDFLAGS: ${SRCDIR}/../target/release/liboffheap.a -lgcc_eh -lutil -lrt -lpthread -lm -ldl
#include "offheap.h"
// The library beside the header (include/../target): found through the include path, so a
// checkout where it was not built stops here rather than in the linker.
#if !defined(OFFHEAP_HEADER_MISSING) && !__has_include("../target/release/liboffheap.a")
#error "offheap: target/release/liboffheap.a is not built: run `make build` in the root of the repository (or link an installed library: -tags offheap_pkgconfig, see the README's Install section)"
#endif
*/
import "C"
