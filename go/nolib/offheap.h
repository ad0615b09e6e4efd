/*
 * Found only when the real offheap.h is not (it is last on the include path the Go package
 * sets): the build stops here and says what to do.
 */
#define OFFHEAP_HEADER_MISSING 1
#error "offheap: the C header (offheap.h) and the Rust library of github.com/offheap/offheap are not found. `go get` fetches the Go package, but not the library it links. Build and install the library once, from a checkout of https://github.com/offheap/offheap: `make install PREFIX=/usr/local`; then build this service with `-tags offheap_pkgconfig` (and PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig for a PREFIX that pkg-config does not search). In a checkout of the repository itself, run `make build` first. The README's Install section has the details; CGO_ENABLED=0 builds without the library (every constructor then returns ErrUnavailable)."
#include "offheap: the library is not installed (see the message above)"
