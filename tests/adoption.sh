#!/usr/bin/env bash
# The adoption paths of a Go user, as `make test-adoption` runs them:
#  1. a service in another repository gets the package from a module proxy (a file:// GOPROXY
#     serving a zip of go/, into an empty module cache): without the library the build stops
#     with what to do (install it, build with -tags offheap_pkgconfig), and in a checkout where
#     the library was not built, with `make build`;
#  2. `make install PREFIX=...` installs the libraries, the header and pkg-config files, and the
#     service of 1 builds against them with -tags offheap_pkgconfig and runs (every run of the
#     consumer also passes its relay checks: tests/consumer/relay.go);
#  3. a consumer module outside this repository vendors offheap (`go mod vendor`) and builds with
#     -mod=vendor and the offheap_pkgconfig tag against the installed static library, also
#     fully static (-extldflags -static);
#  4. the same with the installed shared library;
#  5. built with CGO_ENABLED=0 it still compiles, and reports ErrUnavailable when run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT # the module cache is read-only

# 1. From a module proxy, as `go get` fetches it: the module is go/ alone.
mod=github.com/offheap/offheap/go
ver=v0.0.1-adoption
python3 - "$root/go" "$work/proxy/$mod/@v" "$mod@$ver" <<'PY'
import json, os, sys, zipfile
src, out, prefix = sys.argv[1:]
os.makedirs(out)
version = prefix.split("@")[1]
with zipfile.ZipFile(os.path.join(out, version + ".zip"), "w") as z:
    for d, dirs, files in os.walk(src):
        # A directory with a go.mod of its own is another module (go/promcollector): the
        # module's zip leaves it out, as the go command's does.
        dirs[:] = [x for x in dirs if not os.path.exists(os.path.join(d, x, "go.mod"))]
        for f in files:
            z.write(os.path.join(d, f), prefix + "/" + os.path.relpath(os.path.join(d, f), src))
open(os.path.join(out, version + ".mod"), "w").write(open(os.path.join(src, "go.mod")).read())
open(os.path.join(out, version + ".info"), "w").write(json.dumps({"Version": version, "Time": "2026-01-01T00:00:00Z"}))
open(os.path.join(out, "list"), "w").write(version + "\n")
PY
fetch() { GOPROXY="file://$work/proxy" GOSUMDB=off GOMODCACHE="$work/modcache" GOFLAGS=-mod=mod "$@"; }
cp -r "$root/tests/consumer" "$work/fetched"
cd "$work/fetched"
fetch go mod edit -require="$mod@$ver"
if out=$(fetch go build -o consumer . 2>&1); then echo "built without the library"; exit 1; fi
for want in 'make install PREFIX=' '-tags offheap_pkgconfig' "README's Install section"; do
  grep -qF -- "$want" <<<"$out" || { echo "the build without the library does not say $want:"; echo "$out"; exit 1; }
done
# ... and in a checkout where the library was not built.
mkdir "$work/checkout"
cp -r "$root/go" "$root/include" "$work/checkout/"
cp -r "$root/tests/consumer" "$work/unbuilt"
cd "$work/unbuilt"
go mod edit -replace "$mod=$work/checkout/go"
if out=$(go build -o consumer . 2>&1); then echo "built without target/release/liboffheap.a"; exit 1; fi
grep -qF 'run `make build`' <<<"$out" || { echo "the build of an unbuilt checkout does not say make build:"; echo "$out"; exit 1; }

prefix="$work/prefix"
make -C "$root" --no-print-directory install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists offheap offheap-static
[ -f "$prefix/include/offheap.h" ] && [ -f "$prefix/lib/liboffheap.a" ] && [ -f "$prefix/lib/liboffheap.so" ]

abi=$(awk '$2 == "OFFHEAP_ABI_VERSION" {print $3}' "$prefix/include/offheap.h")
[ -n "$abi" ]

# runs BINARY...: runs a consumer build, which must link the installed library's ABI and pass
# its relay checks (Close or a closed connection mid-Copy, the caller's deadlines, a chunked
# upload sent with its head, over TCP and TLS, nothing left behind); prints its output when it
# fails.
runs() {
  local out
  out=$("$@") || { echo "$out"; echo "$* failed"; exit 1; }
  grep -q "ABI $abi) linked" <<<"$out" || { echo "$out"; echo "$* does not link ABI $abi"; exit 1; }
  grep -q "^ok   nothing left behind" <<<"$out" || { echo "$out"; echo "$* ran no relay checks"; exit 1; }
}

# 2. The fetched service, against the installed library (the README's Install section).
cd "$work/fetched"
fetch go build -tags offheap_pkgconfig -o consumer .
runs ./consumer

# 3. Vendored.
cp -r "$root/tests/consumer" "$work/consumer"
cd "$work/consumer"
go mod edit -replace "github.com/offheap/offheap/go=$root/go"
go mod vendor
[ -f vendor/github.com/offheap/offheap/go/doc.go ]

go build -mod=vendor -tags offheap_pkgconfig -o consumer-static .
runs ./consumer-static
deps=$(ldd ./consumer-static)
if grep -q liboffheap <<<"$deps"; then echo "static build links liboffheap.so"; exit 1; fi

# Fully static through the same pkg-config file (scratch and distroless images).
go build -mod=vendor -tags 'offheap_pkgconfig netgo osusergo' -ldflags '-linkmode external -extldflags "-static"' -o consumer-full-static .
if readelf -lW consumer-full-static | grep -qE '^\s+(INTERP|DYNAMIC)\s'; then echo "consumer-full-static is not static"; exit 1; fi
runs ./consumer-full-static

go build -mod=vendor -tags 'offheap_pkgconfig offheap_shared' -o consumer-shared .
LD_LIBRARY_PATH="$prefix/lib" runs ./consumer-shared
deps=$(LD_LIBRARY_PATH="$prefix/lib" ldd ./consumer-shared)
grep -q liboffheap.so <<<"$deps"

CGO_ENABLED=0 go build -mod=vendor -o consumer-nocgo .
set +e
out=$(./consumer-nocgo)
rc=$?
set -e
[ "$rc" = 3 ] && grep -q "CGO_ENABLED=1" <<<"$out"
echo "adoption: from a module proxy (without, then with the library), an unbuilt checkout, install, vendored static, fully static and shared builds, CGO_ENABLED=0: 8 passed, 0 failed"
