#include "gather.h"

#include <string.h>

/* How many records ahead to fetch: enough to cover a cache miss with the copies between. */
enum { AHEAD = 8 };

static void prefetch_record(const uint8_t *p, uint32_t length) {
  for (uint32_t at = 0; at < length; at += 64) audience_prefetch(p + at);
  audience_prefetch(p + length - 1);
}

size_t audience_gather_fields(uint8_t *out, uint32_t field, const uint8_t *const *records,
                              const uint32_t *lengths, size_t n) {
  uint8_t *at = out;
  for (size_t k = 0; k < n && k < AHEAD; k++)
    if (lengths[k] > 0) prefetch_record(records[k], lengths[k]);
  for (size_t k = 0; k < n; k++) {
    if (k + AHEAD < n && lengths[k + AHEAD] > 0) prefetch_record(records[k + AHEAD], lengths[k + AHEAD]);
    uint32_t key = field << 3 | 2, length = lengths[k];
    while (key >= 0x80) { *at++ = (uint8_t)(key | 0x80); key >>= 7; }
    *at++ = (uint8_t)key;
    while (length >= 0x80) { *at++ = (uint8_t)(length | 0x80); length >>= 7; }
    *at++ = (uint8_t)length;
    if (lengths[k] > 0) memcpy(at, records[k], lengths[k]);
    at += lengths[k];
  }
  return (size_t)(at - out);
}
