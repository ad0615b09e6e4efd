#!/usr/bin/env bash
# Fully static binaries (`make test-static`, in `make test`): Go teams ship scratch and
# distroless images, so a service linked with -extldflags -static must build, carry no dynamic
# section, and run. Two binaries are checked:
#  1. the Go package's own tests, linked statically, run for the paths that need the Rust
#     runtime most (a panic caught at the C ABI boundary unwinds through the static unwinder,
#     the relay, the parser, the aggregator);
#  2. tests/consumer, a module outside go/ importing the package by its module path.
# The tags netgo and osusergo keep Go's own resolvers out of glibc (whose static getaddrinfo
# and getpwnam would need the shared libraries at run time), as for any static Go binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-tags 'netgo osusergo' -ldflags '-linkmode external -extldflags "-static"')

# static_only fails unless $1 is an ELF executable without an interpreter or a dynamic section.
static_only() {
  local hdr
  hdr=$(readelf -lW "$1")
  if grep -qE '^\s+(INTERP|DYNAMIC)\s' <<<"$hdr"; then
    echo "$1 is not fully static:"; grep -E '^\s+(INTERP|DYNAMIC)\s' <<<"$hdr"; exit 1
  fi
  readelf -d "$1" | grep -q "no dynamic section" || { echo "$1 has a dynamic section"; exit 1; }
}

cd "$root/go"
go test -c -o "$work/offheap.test" "${flags[@]}" . 2>"$work/link.log" || { cat "$work/link.log"; exit 1; }
if grep -q "statically linked applications requires at runtime" "$work/link.log"; then
  cat "$work/link.log"; exit 1
fi
static_only "$work/offheap.test"
tests=(TestPanicsBecomeErrorsAndTheProcessLivesOn TestRelayFramingsMatchReference
  TestRelayPendingBytesAndTheFallback TestCorpusAgainstNetHTTP TestWindowIngestAndSnapshot
  TestCloseWakesBlockedCalls)
run=$(IFS='|'; echo "^(${tests[*]})\$")
"$work/offheap.test" -test.count=1 -test.v -test.run "$run" >"$work/run.log" || { cat "$work/run.log"; exit 1; }
passed=$(grep -c '^--- PASS' "$work/run.log" || true)
[ "$passed" = "${#tests[@]}" ] || { cat "$work/run.log"; echo "ran $passed of ${#tests[@]} tests"; exit 1; }

cp -r "$root/tests/consumer" "$work/consumer"
cd "$work/consumer"
go mod edit -replace "github.com/offheap/offheap/go=$root/go"
go build -o consumer "${flags[@]}" .
static_only consumer
# Its run includes the relay checks (TLS among them: crypto in a static binary).
out=$(./consumer) || { echo "$out"; echo "the static consumer failed"; exit 1; }
grep -q "linked" <<<"$out"
echo "static: the package's tests and a consumer module, linked with -extldflags -static: no dynamic section, run: 2 passed, 0 failed"
