#!/usr/bin/env bash
# make icount: instructions per item of the C ABI's hot calls, counted by callgrind, so the
# numbers do not move with the load of a shared machine (timings on 2 busy cores do).
#
# Each program (benches/icount/*.c) checks every call it makes and exits non-zero on a wrong
# result. Each runs twice, with N and 2N iterations; the difference of the two instruction
# counts, divided by the items of N iterations, is the cost per item without start-up:
#   headers k: offheap_headers_parse (requests), the kittyhell request pipelined 16 per call;
#   headers s: the same with REQ_SHORT, 16 per call by offsets;
#   window:    offheap_aggregator_ingest (uint64_t keys), the 1024-sample batch of BenchmarkWindowIngest.
# The Makefile builds the programs (target/icount/, the rule make test compiles them with);
# valgrind is installed with apt-get when missing, as tests/sanitize.sh does. ICOUNT_N sets N
# (default 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."

n=${ICOUNT_N:-1000}
out=target/icount
mkdir -p "$out"
command -v valgrind >/dev/null || {
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind
}

# Built by the Makefile's rule (the one make test uses too), with the flags of the C tests.
make -s "$out/headers" "$out/window"

# Instructions callgrind counts for one run of "$@" (the program must succeed).
instructions() {
  local log
  log=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) || {
    echo "icount: $* failed:" >&2; echo "$log" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log"
}

# per_item LABEL ITEMS PROGRAM [MODE]: instructions per item, ITEMS items per iteration.
per_item() {
  local label=$1 items=$2 prog=$3
  shift 3
  local a b
  a=$(instructions "$prog" "$n" "$@")
  b=$(instructions "$prog" $((2 * n)) "$@")
  awk -v l="$label" -v a="$a" -v b="$b" -v d=$((n * items)) \
    'BEGIN { printf "%-44s %8.0f instructions\n", l, (b - a) / d }'
}

per_item "headers: kittyhell, 16 pipelined per call" 16 "$out/headers" k
per_item "headers: REQ_SHORT, 16 by offsets per call" 16 "$out/headers" s
per_item "window: ingest, 1024 samples per call" 1024 "$out/window"
