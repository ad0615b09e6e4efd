/* Instruction counts of offheap_headers_parse (requests) from C, independent of machine load:
 * `make icount` (benches/icount/run.sh) builds this against target/release/liboffheap.a and
 * runs it under callgrind.
 *
 *   target/icount/headers ITERATIONS k   kittyhell, 16 heads pipelined per call
 *   target/icount/headers ITERATIONS s   REQ_SHORT, 16 heads by offsets per call
 *
 * Instructions per request = (Ir(2N) - Ir(N)) / (16 N) (the difference removes start-up).
 * Each call is checked (status, 16 heads); a wrong result exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "offheap.h"
static const char REQ[] =
"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
"Host: www.kittyhell.com\r\n"
"User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
"Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
"Accept-Encoding: gzip,deflate\r\n"
"Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
"Keep-Alive: 115\r\n"
"Connection: keep-alive\r\n"
"Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral|padding=under256\r\n\r\n";
static const char SHORT[] = "GET / HTTP/1.0\r\nHost: example.com\r\nCookie: session=60; user_id=1\r\n\r\n";
int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 10000;
  int shortreq = argc > 2 && argv[2][0] == 's';
  const char *r = shortreq ? SHORT : REQ;
  size_t rl = strlen(r);
  /* REQ_SHORT is HTTP/1.0 without keep-alive: batch via offsets */
  static char input[16 * 1024]; static uint32_t offs[16];
  for (int i = 0; i < 16; i++) { memcpy(input + i * rl, r, rl); offs[i] = i * rl; }
  static offheap_head heads[16]; static offheap_header hs[16 * 16];
  offheap_headers_result res;
  long tot = 0;
  for (int i = 0; i < iters; i++) {
    int st = offheap_headers_parse(OFFHEAP_HEAD_KIND_REQUEST, (const uint8_t*)input, 16 * rl, shortreq ? offs : NULL, shortreq ? 16 : 0, NULL, heads, 16, hs, 256, &res);
    if (st != 0 || res.heads != 16) { printf("bad %d %lu\n", st, (unsigned long)res.heads); return 1; }
    tot += res.headers;
  }
  printf("%ld\n", tot);
  return 0;
}
