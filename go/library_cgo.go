//go:build cgo

package offheap

/*
#cgo CFLAGS: -I${SRCDIR}/../include -I${SRCDIR}/nolib
#include "offheap.h"
*/
import "C"

import "unsafe"

// The header comes from include/ beside this package in a checkout of the repository, or from
// an installed library's include directory (offheap_pkgconfig: pkg-config's flags come first).
// Where neither has it (a module fetched by `go get`, the library not installed), the one in
// nolib/, last on the include path, stops the build with what to do.
//
// The functions of this file and of the other *_cgo.go files are the package's only calls
// into the library: thin, one C call each, with Go types in and out. Their *_nocgo.go twins
// return statusUnavailable (or the zero value), so the exported API, written once over them,
// is the same in both builds.
//
// Each of those files includes the header for the C names it uses; what the package knows of
// the header otherwise is generated from it (go/internal/abigen): its constants, for both
// builds, in abi_gen.go; in abi_cgo_gen.go the #cgo nocallback and noescape directives of
// every call (cgo applies them to the whole package, whichever file names them) and the
// compile-time checks of the constants and of the struct mirrors against the header.
//
// The Go memory a shim passes is a local, a slice's array or an allocation of its own without
// Go pointers (Relay.prog, Buffer.io, Engine.io), never a field of an object: cgocheck checks
// the whole allocation a pointer argument points into, and the objects hold Go pointers (method
// values, the cleanup's free function).

// equal is the type of the compile-time checks against the header: `_ equal = [C.X -
// x]struct{}{}` compiles only when C.X == x (a positive difference makes another array type,
// a negative one an invalid array length). Struct mirrors are checked by size and by the
// offset of every field (abi_cgo_gen.go).
type equal = [0]struct{}

// headerABIVersion is OFFHEAP_ABI_VERSION of the header this package was compiled with.
const headerABIVersion = uint32(C.OFFHEAP_ABI_VERSION)

func libraryError() error {
	return checkABI(libraryABIVersion(), headerABIVersion)
}

func libraryVersion() string { return C.GoString(C.offheap_version_str()) }

func libraryABIVersion() uint32 { return uint32(C.offheap_abi_version()) }

// Pointers to the first element of pointer-free Go slices, for the library's (pointer, length)
// arguments. A nil or empty slice gives (NULL or a valid pointer, 0), which the library treats
// as an empty slice. The library never keeps these pointers after the call returns.

func bytesPtr(b []byte) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func stringPtr(s string) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))) }

func u32Ptr(b []uint32) *C.uint32_t { return (*C.uint32_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func u64Ptr(b []uint64) *C.uint64_t { return (*C.uint64_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func i64Ptr(b []int64) *C.int64_t { return (*C.int64_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func f64Ptr(b []float64) *C.double { return (*C.double)(unsafe.Pointer(unsafe.SliceData(b))) }
