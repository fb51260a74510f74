/* protobuf-c alone on ingest frames: the cost of unpacking each audience.v1.Request (as the
 * server must) and packing it again (what any client must do), with no Swift, no store and no
 * socket. The frames come from `audience-bench wire --dump FILE` (4-byte big-endian length,
 * then the Request). Unpacking uses the server's own arena (Sources/CUnpackArena), one per frame.
 *
 *   cc -O2 -I Sources/CAudienceProto/include -I Sources/CUnpackArena/include -o /tmp/pbfloor \
 *     bench/protobuf-c-floor.c Sources/CAudienceProto/audience/v1/*.c \
 *     Sources/CUnpackArena/unpack_arena.c -lprotobuf-c
 *   /tmp/pbfloor FRAMES RECORDS [PASSES]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audience/v1/envelope.pb-c.h"
#include "unpack_arena.h"

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FRAMES RECORDS [PASSES]\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc(n);
  if (fread(data, 1, n, f) != (size_t)n) { perror("read"); return 1; }
  fclose(f);
  double records = atof(argv[2]);
  int passes = argc > 3 ? atoi(argv[3]) : 5;

  uint8_t *out = malloc(16u << 20);
  double unpack[64], pack[64];
  size_t frames = 0, packed = 0;
  for (int p = 0; p < passes && p < 64; p++) {
    double tu = 0, tp = 0;
    frames = packed = 0;
    for (long at = 0; at + 4 <= n;) {
      uint32_t len = (uint32_t)data[at] << 24 | (uint32_t)data[at + 1] << 16 | (uint32_t)data[at + 2] << 8 | data[at + 3];
      at += 4;
      AudienceUnpackArena *arena = audience_unpack_arena_new();
      if (!arena) { fprintf(stderr, "out of memory\n"); return 1; }
      double t0 = seconds();
      Audience__V1__Request *m = audience__v1__request__unpack(&arena->allocator, len, data + at);
      double t1 = seconds();
      if (!m) { fprintf(stderr, "frame %zu does not unpack\n", frames); return 1; }
      packed += audience__v1__request__pack(m, out);
      double t2 = seconds();
      audience_unpack_arena_free(arena);
      tu += t1 - t0;
      tp += t2 - t1;
      at += len;
      frames++;
    }
    unpack[p] = tu * 1e6 / records;
    pack[p] = tp * 1e6 / records;
  }
  int k = passes < 64 ? passes : 64;
  qsort(unpack, k, sizeof(double), cmp);
  qsort(pack, k, sizeof(double), cmp);
  printf("{\"frames\":%zu,\"records\":%.0f,\"bytes\":%ld,\"repacked_bytes\":%zu,"
         "\"unpack_us_per_record\":%.3f,\"pack_us_per_record\":%.3f}\n",
         frames, records, n, packed, unpack[k / 2], pack[k / 2]);
  return 0;
}
