/*
 * examples/c/check.h: the status check both C examples use. CHECK(call) runs an offheap call
 * and, when it does not return OFFHEAP_STATUS_OK, prints where it failed with the status's
 * message (offheap_status_str) and exits: an example stops at its first failure.
 */
#ifndef OFFHEAP_EXAMPLE_CHECK_H
#define OFFHEAP_EXAMPLE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "offheap.h"

#define CHECK(call)                                                                          \
  do {                                                                                       \
    offheap_status st_ = (call);                                                             \
    if (st_ != OFFHEAP_STATUS_OK) {                                                          \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, offheap_status_str(st_)); \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

#endif
