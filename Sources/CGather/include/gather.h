#ifndef AUDIENCE_GATHER_H
#define AUDIENCE_GATHER_H

#include <stddef.h>
#include <stdint.h>

/* Asks the CPU to bring the cache line at `p` in (for reading) ahead of its use. */
static inline void audience_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/* Writes each of `n` packed records as a length-delimited field `field` (key, varint length,
   bytes) at `out`, fetching the records some ahead of their copy: a page gathers thousands of
   records scattered over the heap, and one cache miss at a time would dominate. `out` must
   have room for every field. Returns the bytes written. */
size_t audience_gather_fields(uint8_t *out, uint32_t field, const uint8_t *const *records,
                              const uint32_t *lengths, size_t n);

#endif
