/* Instruction counts of offheap_aggregator_ingest (uint64_t keys) from C, independent of machine load: the
 * batch of BenchmarkWindowIngest (benches/go/window_test.go): 1024 samples over 1,000 u64
 * keys, a one-minute sliding window in 6 slices, sketch on, Go's defaults otherwise.
 * `make icount` (benches/icount/run.sh) builds this against target/release/liboffheap.a and
 * runs it under callgrind: target/icount/window ITERATIONS.
 *
 * Instructions per sample = (Ir(2N) - Ir(N)) / (1024 N). Each call is checked (status, every
 * sample accepted); a wrong result exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include "offheap.h"
#define BATCH 1024
#define SERIES 1000
#define SEC 1000000000LL
int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 10000;
  static uint64_t keys[BATCH]; static int64_t ts[BATCH]; static double vals[BATCH];
  uint64_t x = 1;
  for (int i = 0; i < BATCH; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    keys[i] = (x >> 33) % SERIES;
    ts[i] = 10 * SEC;
    vals[i] = 1 + (double)((x >> 20) % 100000) / 100;
  }
  offheap_aggregator_config cfg = {0};
  cfg.mode = OFFHEAP_WINDOW_MODE_SLIDING; cfg.slices = 6; cfg.width_ns = 60 * SEC; cfg.alpha = 0.01; cfg.max_buckets = 2048;
  cfg.shards = 16; cfg.max_series = 1 << 21; cfg.idle_ttl_ns = 0; cfg.allowed_lateness_ns = UINT64_MAX;
  cfg.max_future_ns = 60 * SEC; cfg.max_key_len = 1024; cfg.sketch = 1;
  uint64_t agg;
  const char *name = "w", *label = "key";
  int st = offheap_aggregator_new(&cfg, (const uint8_t *)name, 1, NULL, 0, (const uint8_t *)label, 3, &agg);
  if (st != 0) { printf("new: %d\n", st); return 1; }
  offheap_ingest_accounting acc;
  unsigned long total = 0;
  for (int i = 0; i < iters; i++) {
    st = offheap_aggregator_ingest(agg, OFFHEAP_SERIES_KEY_U64, keys, ts, vals, NULL, BATCH, 10 * SEC, &acc);
    if (st != 0 || acc.accepted != BATCH) { printf("bad %d %lu\n", st, (unsigned long)acc.accepted); return 1; }
    total += acc.accepted;
  }
  offheap_aggregator_free(agg);
  printf("%lu\n", total);
  return 0;
}
