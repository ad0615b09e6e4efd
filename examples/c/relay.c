/*
 * examples/c/relay.c: offheap from C. A tiny proxy step: read a request head and the start of
 * its body from one socket into a Rust-owned buffer, look at the head in place (no copy), write
 * it on with writev, then relay the rest of the body (Content-Length) socket to socket with an
 * offheap relay. Every status is checked; everything is freed; offheap_stats() shows the Rust
 * heap and handles back where they started.
 *
 * Build (from the repository root, after `make build`):
 *   cc -std=c11 -Wall -Wextra -Werror -Iinclude -o relay examples/c/relay.c \
 *      target/release/liboffheap.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "offheap.h"

static void fail(const char *what) {
  fprintf(stderr, "relay example: %s\n", what);
  exit(1);
}

/* Waits until fd is ready for `events` (the relay never blocks; the caller waits). */
static void wait_for(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  if (poll(&p, 1, 5000) != 1) fail("poll timed out");
}

static void nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) fail("fcntl");
}

int main(void) {
  if (offheap_abi_version() != OFFHEAP_ABI_VERSION) fail("library and header ABI versions differ");
  offheap_counters before;
  CHECK(offheap_stats(&before));

  /* client <-> src is the incoming connection, dst <-> server the upstream one. */
  int in[2], up[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, in) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, up) != 0)
    fail("socketpair");
  int client = in[0], src = in[1], dst = up[0], server = up[1];
  nonblocking(src);
  nonblocking(dst);

  /* A body of 200,000 bytes: more than one buffer, so the relay has real work to do. */
  enum { BODY = 200000 };
  char head[128];
  int head_len = snprintf(head, sizeof head, "POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: %d\r\n\r\n", BODY);
  unsigned char *body = malloc(BODY);
  if (!body) fail("malloc");
  for (int i = 0; i < BODY; i++) body[i] = (unsigned char)(i * 31 + 7);
  if (write(client, head, (size_t)head_len) != head_len) fail("write head");

  /* 1. Read the head into a Rust-owned buffer and look at it in place. */
  uint64_t buf = 0;
  CHECK(offheap_buffer_new(&buf));
  size_t filled = 0;
  while (filled < (size_t)head_len) {
    size_t n = 0;
    uint32_t state = 0;
    wait_for(src, POLLIN);
    CHECK(offheap_buffer_read(buf, src, &n, &state));
    filled += n;
  }
  const uint8_t *view = NULL;
  size_t view_len = 0;
  CHECK(offheap_buffer_view(buf, &view, &view_len));
  if (view_len != (size_t)head_len || memcmp(view, "POST /upload ", 13) != 0) fail("unexpected head");
  const uint8_t *eol = memchr(view, '\r', view_len);
  if (!eol) fail("no request line");
  printf("head: %zu bytes in a Rust buffer, request line \"%.*s\"\n", view_len, (int)(eol - view), (const char *)view);

  /* 2. Write the head upstream with one writev, straight from the Rust buffer. */
  size_t written = 0;
  uint32_t wstate = 0;
  CHECK(offheap_buffer_writev(dst, &buf, 1, &written, &wstate));
  if (written != (size_t)head_len) fail("short writev");
  CHECK(offheap_buffer_free(buf));

  /* 3. Relay the body: the client writes it while the relay moves it src -> dst. */
  uint64_t relay = 0;
  CHECK(offheap_relay_new(OFFHEAP_FRAMING_EXACT, BODY, 0, &relay));
  size_t sent = 0, received = 0;
  unsigned char *got = malloc(BODY + 256);
  if (!got) fail("malloc");
  nonblocking(client);
  nonblocking(server);
  offheap_relay_progress p = {0};
  while (p.state != OFFHEAP_RELAY_STATE_DONE || received < (size_t)head_len + BODY) {
    if (sent < BODY) {
      ssize_t n = write(client, body + sent, BODY - sent);
      if (n > 0) sent += (size_t)n;
    }
    if (p.state != OFFHEAP_RELAY_STATE_DONE) CHECK(offheap_relay_step(relay, src, dst, &p));
    ssize_t n = read(server, got + received, BODY + 256 - received);
    if (n > 0) received += (size_t)n;
    if (n <= 0 && p.state != OFFHEAP_RELAY_STATE_DONE) {
      struct pollfd fds[2] = {{.fd = src, .events = POLLIN}, {.fd = server, .events = POLLIN}};
      poll(fds, 2, 10);
    }
  }
  if (received != (size_t)head_len + BODY || memcmp(got, head, (size_t)head_len) != 0 ||
      memcmp(got + head_len, body, BODY) != 0)
    fail("upstream did not receive the exact request");
  printf("body: %llu bytes relayed (%llu spliced, %llu copied)\n", (unsigned long long)p.bytes_out,
         (unsigned long long)p.spliced, (unsigned long long)p.copied);
  CHECK(offheap_relay_free(relay));
  if (offheap_relay_free(relay) != OFFHEAP_STATUS_INVALID_HANDLE) fail("double free not rejected");

  /* 4. Everything freed: handles and the Rust heap are back where they started. */
  CHECK(offheap_relay_trim());
  offheap_counters after;
  CHECK(offheap_stats(&after));
  if (after.handles_live != before.handles_live) fail("a handle is still live");
  if (after.heap_live_bytes > before.heap_live_bytes + 32 * 1024) fail("Rust heap did not return to its baseline");
  printf("Rust heap %llu -> %llu bytes, live handles %llu -> %llu\n", (unsigned long long)before.heap_live_bytes,
         (unsigned long long)after.heap_live_bytes, (unsigned long long)before.handles_live,
         (unsigned long long)after.handles_live);
  free(body);
  free(got);
  close(client);
  close(src);
  close(dst);
  close(server);
  return 0;
}
