//go:build cgo && offheap_pkgconfig && !offheap_shared

package offheap

// An installed library (build tag offheap_pkgconfig): `make install PREFIX=...` installs the
// libraries, the header and pkg-config files; this links the static library through
// offheap-static.pc. Use this when the package is vendored or fetched into the module cache,
// where ../target does not exist. Set PKG_CONFIG_PATH to $PREFIX/lib/pkgconfig if PREFIX is not
// a system location.

// #cgo pkg-config: offheap-static
import "C"
