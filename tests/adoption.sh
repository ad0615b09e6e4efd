#!/usr/bin/env bash
# The adoption paths of a Go user, as `make test-adoption` runs them:
#  1. `make install PREFIX=...` installs the libraries, the header and pkg-config files;
#  2. a consumer module outside this repository vendors offheap (`go mod vendor`) and builds with
#     -mod=vendor and the offheap_pkgconfig tag against the installed static library, also
#     fully static (-extldflags -static);
#  3. the same with the installed shared library;
#  4. built with CGO_ENABLED=0 it still compiles, and reports ErrUnavailable when run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

prefix="$work/prefix"
make -C "$root" --no-print-directory install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists offheap offheap-static
[ -f "$prefix/include/offheap.h" ] && [ -f "$prefix/lib/liboffheap.a" ] && [ -f "$prefix/lib/liboffheap.so" ]

abi=$(awk '$2 == "OFFHEAP_ABI_VERSION" {print $3}' "$prefix/include/offheap.h")
[ -n "$abi" ]
cp -r "$root/tests/consumer" "$work/consumer"
cd "$work/consumer"
go mod edit -replace "github.com/offheap/offheap/go=$root/go"
go mod vendor
[ -f vendor/github.com/offheap/offheap/go/doc.go ]

go build -mod=vendor -tags offheap_pkgconfig -o consumer-static .
out=$(./consumer-static) && grep -q "ABI $abi) linked" <<<"$out"
deps=$(ldd ./consumer-static)
if grep -q liboffheap <<<"$deps"; then echo "static build links liboffheap.so"; exit 1; fi

# Fully static through the same pkg-config file (scratch and distroless images).
go build -mod=vendor -tags 'offheap_pkgconfig netgo osusergo' -ldflags '-linkmode external -extldflags "-static"' -o consumer-full-static .
if readelf -lW consumer-full-static | grep -qE '^\s+(INTERP|DYNAMIC)\s'; then echo "consumer-full-static is not static"; exit 1; fi
out=$(./consumer-full-static) && grep -q "ABI $abi) linked" <<<"$out"

go build -mod=vendor -tags 'offheap_pkgconfig offheap_shared' -o consumer-shared .
out=$(LD_LIBRARY_PATH="$prefix/lib" ./consumer-shared) && grep -q "ABI $abi) linked" <<<"$out"
deps=$(LD_LIBRARY_PATH="$prefix/lib" ldd ./consumer-shared) && grep -q liboffheap.so <<<"$deps"

CGO_ENABLED=0 go build -mod=vendor -o consumer-nocgo .
set +e
out=$(./consumer-nocgo)
rc=$?
set -e
[ "$rc" = 3 ] && grep -q "CGO_ENABLED=1" <<<"$out"
echo "adoption: install, vendored static, fully static and shared builds, CGO_ENABLED=0: 5 passed, 0 failed"
