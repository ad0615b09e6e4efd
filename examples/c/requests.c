/*
 * examples/c/requests.c: offheap from C. Parse a batch of pipelined HTTP/1.1 request heads in
 * one call (spans into our own buffer, no copies), then feed one sample per request (its
 * head size, keyed by method) into a windowed aggregator, take a snapshot with quantiles and
 * render it as Prometheus text. Every status is checked; everything is freed.
 *
 * Build (from the repository root, after `make build`):
 *   cc -std=c11 -Wall -Wextra -Werror -Iinclude -o requests examples/c/requests.c \
 *      target/release/liboffheap.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "offheap.h"

static const char *const METHODS[] = {"GET", "POST", "PUT", "DELETE"};

int main(void) {
  /* 1. Thirty pipelined requests on one connection (POSTs carry a small body). */
  static char input[16384];
  size_t len = 0;
  for (int i = 0; i < 30; i++) {
    const char *m = METHODS[i % 4];
    int body = (i % 4 == 1) ? 5 : 0;
    len += (size_t)snprintf(input + len, sizeof input - len,
                            "%s /items/%d HTTP/1.1\r\nHost: example\r\nUser-Agent: c-example\r\n%s\r\n%s", m, i,
                            body ? "Content-Length: 5\r\n" : "", body ? "hello" : "");
  }
  offheap_headers_config cfg = {0}; /* defaults: strict, 64 KiB heads, 100 headers */
  static offheap_head heads[64];
  static offheap_header headers[512];
  offheap_headers_result res;
  CHECK(offheap_headers_parse(OFFHEAP_HEAD_KIND_REQUEST, (const uint8_t *)input, len, NULL, 0, &cfg, heads, 64, headers, 512, &res));
  if (res.heads != 30 || res.consumed != len) {
    fprintf(stderr, "parsed %llu heads, consumed %llu of %zu bytes\n", (unsigned long long)res.heads,
            (unsigned long long)res.consumed, len);
    return 1;
  }

  /* 2. One sample per request: key = method index, value = head length. */
  uint64_t keys[64];
  int64_t ts[64];
  double values[64];
  const int64_t now = 1700000000LL * 1000000000LL;
  for (size_t i = 0; i < res.heads; i++) {
    if (heads[i].status != OFFHEAP_STATUS_OK) return 1;
    keys[i] = 0;
    for (uint64_t k = 0; k < 4; k++)
      if (heads[i].method.len == strlen(METHODS[k]) &&
          memcmp(input + heads[i].method.off, METHODS[k], heads[i].method.len) == 0)
        keys[i] = k;
    ts[i] = now;
    values[i] = (double)heads[i].len;
  }
  printf("parsed %llu heads in one call; first: %.*s %.*s\n", (unsigned long long)res.heads,
         (int)heads[0].method.len, input + heads[0].method.off, (int)heads[0].target.len,
         input + heads[0].target.off);

  offheap_aggregator_config wc = {.mode = OFFHEAP_WINDOW_MODE_CUMULATIVE, .slices = 1, .width_ns = 60000000000ULL, .alpha = 0.01,
                              .max_buckets = 2048, .shards = 4, .max_series = 1000, .idle_ttl_ns = 0,
                              .allowed_lateness_ns = UINT64_MAX, .max_future_ns = 0, .max_key_len = 1024, .sketch = 1};
  const char *name = "request_head_bytes", *label = "method";
  uint64_t agg = 0, snap = 0;
  CHECK(offheap_aggregator_new(&wc, (const uint8_t *)name, strlen(name), NULL, 0, (const uint8_t *)label, strlen(label), &agg));
  offheap_ingest_accounting acc;
  CHECK(offheap_aggregator_ingest(agg, OFFHEAP_SERIES_KEY_U64, keys, ts, values, NULL, res.heads, now, &acc));
  if (acc.accepted != res.heads) return 1;

  /* 3. A snapshot with the median and p99, then the Prometheus text. */
  CHECK(offheap_snapshot_new(&snap));
  const double qs[2] = {0.5, 0.99};
  uint64_t rows = 0;
  CHECK(offheap_snapshot_take(agg, snap, now, qs, 2, 0, 0, &rows));
  offheap_snapshot_columns v;
  CHECK(offheap_snapshot_view(snap, &v));
  uint64_t total = 0;
  for (uint64_t r = 0; r < v.rows; r++) {
    total += v.counts[r];
    printf("method %-6s count %2llu mean %.1f p50 %.1f p99 %.1f\n", METHODS[v.raw_keys[r] % 4],
           (unsigned long long)v.counts[r], v.means[r], v.quantiles[0][r], v.quantiles[1][r]);
  }
  if (rows != 4 || total != res.heads) return 1;
  /* A scrape: a new snapshot rendered as text 0.0.4 (format 0), read in pieces of any size. */
  CHECK(offheap_aggregator_scrape(agg, snap, now, qs, 2, 0, &rows));
  static uint8_t text[4096];
  size_t written = 0, lines = 0;
  do {
    CHECK(offheap_snapshot_read(agg, snap, text, sizeof text, &written));
    for (size_t i = 0; i < written; i++) lines += text[i] == '\n';
  } while (written > 0);
  printf("prometheus: %zu lines\n", lines);

  CHECK(offheap_snapshot_free(snap));
  CHECK(offheap_aggregator_free(agg));
  offheap_counters c;
  CHECK(offheap_stats(&c));
  if (c.handles_live != 0) return 1;
  return 0;
}
