/* The C ABI contract as a C program sees it: compiled with -Wall -Wextra -Werror against
 * include/offheap.h and linked with target/release/liboffheap.a. Prints "N passed, N failed". */
#include <stdio.h>
#include <string.h>
#include "offheap.h"

static int passed, failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

int main(void) {
    CHECK(offheap_abi_version() == OFFHEAP_ABI_VERSION);
    CHECK(offheap_version() == ((OFFHEAP_VERSION_MAJOR << 16) | (OFFHEAP_VERSION_MINOR << 8) | OFFHEAP_VERSION_PATCH));
    CHECK(strcmp(offheap_version_str(), OFFHEAP_VERSION_STRING) == 0);
    CHECK(strcmp(offheap_status_str(OFFHEAP_STATUS_OK), "ok") == 0);
    CHECK(strcmp(offheap_status_str(999999), "offheap: unknown status") == 0);

    /* Out-parameters: NULL is an error, and nothing is written on failure. */
    CHECK(offheap_stats(NULL) == OFFHEAP_STATUS_NULL_POINTER);
    offheap_counters c;
    memset(&c, 0, sizeof c);
    CHECK(offheap_stats(&c) == OFFHEAP_STATUS_OK);

    /* Slices: (NULL, 0) is empty; NULL with a length is an error. */
    uint64_t sum = 42;
    CHECK(offheap_debug_sum(NULL, 0, &sum) == OFFHEAP_STATUS_OK && sum == 0);
    sum = 42;
    CHECK(offheap_debug_sum(NULL, 3, &sum) == OFFHEAP_STATUS_NULL_POINTER && sum == 42);
    uint8_t bytes[4] = {1, 2, 3, 4};
    CHECK(offheap_debug_sum(bytes, 4, &sum) == OFFHEAP_STATUS_OK && sum == 10);

    /* Handles: zero, forged, stale, double free. */
    uint64_t h = 0, n = 0;
    CHECK(offheap_debug_object_new(&h) == OFFHEAP_STATUS_OK && h != 0);
    CHECK(offheap_stats(&c) == OFFHEAP_STATUS_OK && c.handles_by_kind[OFFHEAP_KIND_DEBUG] == 1);
    CHECK(offheap_debug_object_touch(h, 0, &n) == OFFHEAP_STATUS_OK && n == 1);
    CHECK(offheap_debug_object_touch(0, 0, &n) == OFFHEAP_STATUS_INVALID_HANDLE);
    CHECK(offheap_debug_object_touch(h ^ (1ull << 40), 0, &n) == OFFHEAP_STATUS_INVALID_HANDLE);
    CHECK(offheap_debug_object_touch(0xdeadbeefcafef00dull, 0, &n) == OFFHEAP_STATUS_INVALID_HANDLE);
    CHECK(offheap_debug_object_free(h) == OFFHEAP_STATUS_OK);
    CHECK(offheap_debug_object_touch(h, 0, &n) == OFFHEAP_STATUS_INVALID_HANDLE);
    CHECK(offheap_debug_object_free(h) == OFFHEAP_STATUS_INVALID_HANDLE);

    /* Panics never cross the boundary. */
    CHECK(offheap_debug_object_new(&h) == OFFHEAP_STATUS_OK);
    offheap_debug_inject_panics(1);
    CHECK(offheap_debug_object_touch(h, 0, &n) == OFFHEAP_STATUS_PANIC);
    offheap_debug_inject_panics(1);
    CHECK(offheap_abi_version() == 0);
    CHECK(offheap_debug_object_touch(h, UINT32_MAX, &n) == OFFHEAP_STATUS_PANIC);
    CHECK(offheap_debug_object_touch(h, 0, &n) == OFFHEAP_STATUS_POISONED);
    CHECK(offheap_debug_object_free(h) == OFFHEAP_STATUS_OK);
    CHECK(offheap_stats(&c) == OFFHEAP_STATUS_OK && c.handles_by_kind[OFFHEAP_KIND_DEBUG] == 0);

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
