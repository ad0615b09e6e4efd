#!/usr/bin/env bash
# `make sanitize`: memory errors and leaks, three ways.
#  1. The Rust unit, integration and FFI-contract tests under AddressSanitizer + LeakSanitizer
#     (stable rustc with RUSTC_BOOTSTRAP for -Zsanitizer; the system allocator, so ASan sees
#     every allocation).
#  2. Every C export called from native callers under full valgrind memcheck (invalid
#     accesses, uninitialised values, leaks), with the library built with the system
#     allocator: the C contract test and the Rust FFI test binaries (tests/ffi_contract.rs,
#     headers_ffi.rs, window_ffi.rs, new_free_pairs.rs and the library's ffi:: unit tests).
#  3. tests/exercise (every Go API, N iterations each, then Rust heap and handles back to their
#     baseline) under valgrind, against the same library. Valgrind cannot follow Go's
#     goroutine-stack switches: when it takes one for a frame push it marks the memory between
#     the two stacks undefined, and values read from it later are reported as uninitialised in
#     whatever code reads them (seen in pure Go code, HeapReport.percentile reading
#     runtime/metrics data, and in exports reading the arguments cgo passes from a goroutine's
#     stack). So this step judges invalid accesses to the library's memory and leaks, and
#     leaves uninitialised values to step 2 (--undef-value-errors=no).
# ITERATIONS (default 1000000) sets step 3's iterations per API; QUICK=1 skips step 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
iterations=${ITERATIONS:-1000000}
triple=$(rustc -vV | sed -n 's/^host: //p')

if [ "${QUICK:-0}" != 1 ]; then
  echo "== sanitize: Rust tests under AddressSanitizer/LeakSanitizer"
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS=detect_leaks=1 \
    cargo test --locked --no-default-features --target "$triple" --target-dir target/asan --lib --tests
fi

command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }
echo "== sanitize: library with the system allocator"
cargo build --locked --release --lib --no-default-features --target-dir target/sysalloc
lib=target/sysalloc/release/liboffheap.a
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)

echo "== sanitize: C contract test under valgrind"
mkdir -p target/sanitize
cc -std=c11 -O1 -g -Wall -Wextra -Werror -Iinclude -o target/sanitize/contract tests/c/contract.c "$lib" \
  -lgcc_s -lutil -lrt -lpthread -lm -ldl
"${vg[@]}" ./target/sanitize/contract

echo "== sanitize: the Rust FFI tests under valgrind"
tests=(--test ffi_contract --test headers_ffi --test window_ffi --test new_free_pairs)
build_log=target/sanitize/ffi-tests.build
cargo test --locked --release --no-default-features --target-dir target/sysalloc --no-run --lib "${tests[@]}" 2>&1 \
  | tee "$build_log"
# cargo prints each test binary as "Executable <source> (<path>)".
mapfile -t bins < <(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' "$build_log")
[ "${#bins[@]}" -eq 5 ] || { echo "sanitize: expected 5 test binaries, found ${#bins[@]}"; exit 1; }
for bin in "${bins[@]}"; do
  filter=()
  case "$bin" in */deps/offheap-*) filter=(ffi::) ;; esac
  echo "-- $bin ${filter[*]}"
  "${vg[@]}" "$bin" --test-threads=2 -q "${filter[@]}"
done

echo "== sanitize: every Go API x $iterations under valgrind"
pc=target/sanitize/pkgconfig
mkdir -p "$pc"
cat > "$pc/offheap-static.pc" <<PC
Name: offheap-static
Description: offheap built with the system allocator, for valgrind
Version: 0
Cflags: -I$root/include
Libs: $root/$lib -lgcc_s -lutil -lrt -lpthread -lm -ldl
PC
(cd tests/exercise && PKG_CONFIG_PATH="$root/$pc" go build -a -tags offheap_pkgconfig -ldflags=-w -o "$root/target/sanitize/exercise" .)  # -a: go does not hash the .a named in the cgo flags
# Valgrind's exit code would count accesses to Go-managed memory it cannot judge: its log goes
# through tests/exercise/vgfilter.awk, which fails on every other error (see there).
log=target/sanitize/exercise.valgrind
"${vg[@]}" --error-exitcode=0 --undef-value-errors=no --error-limit=no --log-file="$log" --suppressions=tests/exercise/go.supp \
  ./target/sanitize/exercise -n "$iterations"
awk -f tests/exercise/vgfilter.awk "$log"
echo "sanitize: ASan/LSan, valgrind C and Rust FFI callers, valgrind Go: 3 passed, 0 failed"
