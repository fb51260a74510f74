#include "unpack_arena.h"

#include <stdint.h>
#include <stdlib.h>

struct AudienceArenaBlock {
  struct AudienceArenaBlock *next;
  size_t used;
  size_t capacity;
  _Alignas(16) unsigned char data[];
};

static _Thread_local AudienceUnpackArena *spare;

/* Each allocation is preceded by a 16-byte header: the size asked for, and a check word (the
   address xor a constant), so that the size of a string protobuf-c unpacked can be read back
   (see audience_unpack_arena_string_length). */
#define HEADER 16
static const uintptr_t CHECK = (uintptr_t)0x5a17c0de5a17c0deULL;

static void *arena_alloc(void *data, size_t size) {
  AudienceUnpackArena *arena = (AudienceUnpackArena *)data;
  if (size > SIZE_MAX - 15 - HEADER - sizeof(AudienceArenaBlock)) return NULL;
  size_t need = ((size + 15) & ~(size_t)15) + HEADER;
  AudienceArenaBlock *b = arena->blocks;
  if (b == NULL || b->capacity - b->used < need) {
    size_t capacity = arena->next_capacity;
    if (capacity < need) capacity = need;
    if (arena->next_capacity < ((size_t)1 << 20)) arena->next_capacity *= 2;
    b = (AudienceArenaBlock *)malloc(sizeof(AudienceArenaBlock) + capacity);
    if (b == NULL) return NULL;
    b->next = arena->blocks;
    b->used = 0;
    b->capacity = capacity;
    arena->blocks = b;
  }
  unsigned char *p = b->data + b->used + HEADER;
  b->used += need;
  ((size_t *)p)[-2] = size;
  ((uintptr_t *)p)[-1] = (uintptr_t)p ^ CHECK;
  return p;
}

long audience_unpack_arena_string_length(const char *s) {
  if (s == NULL || s == protobuf_c_empty_string) return -1;
  const unsigned char *p = (const unsigned char *)s;
  if (((const uintptr_t *)p)[-1] != ((uintptr_t)p ^ CHECK)) return -1;
  size_t size = ((const size_t *)p)[-2];
  return size == 0 ? -1 : (long)(size - 1);
}

static void arena_nofree(void *data, void *pointer) {
  (void)data;
  (void)pointer;
}

AudienceUnpackArena *audience_unpack_arena_new(void) {
  AudienceUnpackArena *arena = spare;
  if (arena != NULL) {
    spare = NULL;
    return arena;
  }
  arena = (AudienceUnpackArena *)malloc(sizeof(AudienceUnpackArena));
  if (arena == NULL) return NULL;
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
    }
    b = next;
  }
  if (spare != NULL) {
    free(arena);
    return;
  }
  if (keep != NULL) keep->used = 0;
  arena->blocks = keep;
  arena->next_capacity = keep != NULL ? 8192 : 4096;
  spare = arena;
}
