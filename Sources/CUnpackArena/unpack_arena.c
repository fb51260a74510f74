#include "unpack_arena.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

struct AudienceArenaBlock {
  struct AudienceArenaBlock *next;
  size_t used;
  size_t capacity;
  _Alignas(16) unsigned char data[];
};

/* Each thread keeps one emptied arena for its next message. The spare is also the value of a
   pthread key whose destructor frees it when the thread ends: a server thread per connection
   would otherwise leave its spare behind for every connection ever opened. */
static _Thread_local AudienceUnpackArena *spare;
static pthread_key_t spare_key;
static pthread_once_t spare_key_once = PTHREAD_ONCE_INIT;
static atomic_long live_arenas;
static atomic_long live_blocks;

static void free_arena(AudienceUnpackArena *arena) {
  AudienceArenaBlock *b = arena->blocks;
  while (b != NULL) {
    AudienceArenaBlock *next = b->next;
    free(b);
    atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
    b = next;
  }
  free(arena);
  atomic_fetch_sub_explicit(&live_arenas, 1, memory_order_relaxed);
}

static void spare_key_destructor(void *value) {
  if (value != NULL) free_arena((AudienceUnpackArena *)value);
  spare = NULL;
}

static void make_spare_key(void) {
  if (pthread_key_create(&spare_key, spare_key_destructor) != 0) abort();
}

static void set_spare(AudienceUnpackArena *arena) {
  pthread_once(&spare_key_once, make_spare_key);
  spare = arena;
  pthread_setspecific(spare_key, arena);
}

long audience_unpack_arena_live_arenas(void) {
  return atomic_load_explicit(&live_arenas, memory_order_relaxed);
}

long audience_unpack_arena_live_blocks(void) {
  return atomic_load_explicit(&live_blocks, memory_order_relaxed);
}

/* Each allocation is 8-byte aligned (enough for protobuf-c's structs: pointers, 64-bit integers,
   doubles) and preceded by an 8-byte header: the size asked for (0 when it does not fit in 32
   bits), and a check word made from the address, so that the size of a string protobuf-c
   unpacked can be read back (see audience_unpack_arena_string_length). */
#define HEADER 8
static uint32_t check_word(const unsigned char *p) {
  uint64_t a = (uint64_t)(uintptr_t)p;
  return (uint32_t)(a ^ (a >> 32)) ^ 0x5a17c0deu;
}

static void *arena_alloc(void *data, size_t size) {
  AudienceUnpackArena *arena = (AudienceUnpackArena *)data;
  if (size > SIZE_MAX - 7 - HEADER - sizeof(AudienceArenaBlock)) return NULL;
  size_t need = ((size + 7) & ~(size_t)7) + HEADER;
  AudienceArenaBlock *b = arena->blocks;
  if (b == NULL || b->capacity - b->used < need) {
    size_t capacity = arena->next_capacity;
    if (capacity < need) capacity = need;
    if (arena->next_capacity < ((size_t)1 << 20)) arena->next_capacity *= 2;
    b = (AudienceArenaBlock *)malloc(sizeof(AudienceArenaBlock) + capacity);
    if (b == NULL) return NULL;
    atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    b->next = arena->blocks;
    b->used = 0;
    b->capacity = capacity;
    arena->blocks = b;
  }
  unsigned char *p = b->data + b->used + HEADER;
  b->used += need;
  ((uint32_t *)p)[-2] = size <= UINT32_MAX ? (uint32_t)size : 0;
  ((uint32_t *)p)[-1] = check_word(p);
  return p;
}

long audience_unpack_arena_string_length(const char *s) {
  if (s == NULL || s == protobuf_c_empty_string) return -1;
  const unsigned char *p = (const unsigned char *)s;
  if (((const uint32_t *)p)[-1] != check_word(p)) return -1;
  uint32_t size = ((const uint32_t *)p)[-2];
  return size == 0 ? -1 : (long)size - 1;
}

static void arena_nofree(void *data, void *pointer) {
  (void)data;
  (void)pointer;
}

AudienceUnpackArena *audience_unpack_arena_new(void) {
  AudienceUnpackArena *arena = spare;
  if (arena != NULL) {
    set_spare(NULL);
    return arena;
  }
  arena = (AudienceUnpackArena *)malloc(sizeof(AudienceUnpackArena));
  if (arena == NULL) return NULL;
  atomic_fetch_add_explicit(&live_arenas, 1, memory_order_relaxed);
  arena->allocator.alloc = arena_alloc;
  arena->allocator.free = arena_nofree;
  arena->allocator.allocator_data = arena;
  arena->blocks = NULL;
  arena->next_capacity = 4096;
  return arena;
}

void audience_unpack_arena_free(AudienceUnpackArena *arena) {
  AudienceArenaBlock *b = arena->blocks;
  AudienceArenaBlock *keep = NULL;
  while (b != NULL) {
    AudienceArenaBlock *next = b->next;
    /* The oldest block, when it is the first 4 KiB one, stays with the spare arena. */
    if (next == NULL && b->capacity == 4096 && spare == NULL) {
      keep = b;
    } else {
      free(b);
      atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
    }
    b = next;
  }
  if (spare != NULL) {
    free(arena);
    atomic_fetch_sub_explicit(&live_arenas, 1, memory_order_relaxed);
    return;
  }
  if (keep != NULL) keep->used = 0;
  arena->blocks = keep;
  arena->next_capacity = keep != NULL ? 8192 : 4096;
  set_spare(arena);
}
