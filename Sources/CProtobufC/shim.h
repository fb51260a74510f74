#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdlib.h>

/* A bump allocator for protobuf-c's unpack: every string, array and sub-message of one
   unpacked message comes from a few large blocks, freed together by
   audience_unpack_arena_free (protobuf-c's free is a no-op here, so never call
   *__free_unpacked on a message unpacked with it). One malloc per 4 KiB..1 MiB instead of one
   per field. */

typedef struct AudienceArenaBlock {
  struct AudienceArenaBlock *next;
  size_t used;
  size_t capacity;
  _Alignas(16) unsigned char data[];
} AudienceArenaBlock;

typedef struct AudienceUnpackArena {
  ProtobufCAllocator allocator; /* pass &arena->allocator to *__unpack */
  AudienceArenaBlock *blocks;
  size_t next_capacity;
} AudienceUnpackArena;

static inline void *audience_unpack_arena_alloc(void *data, size_t size) {
  AudienceUnpackArena *arena = (AudienceUnpackArena *)data;
  size_t need = (size + 15) & ~(size_t)15;
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
  void *p = b->data + b->used;
  b->used += need;
  return p;
}

static inline void audience_unpack_arena_nofree(void *data, void *pointer) {
  (void)data;
  (void)pointer;
}

/* Each thread keeps one emptied arena with its first block for the next message: decoding a
   small request then costs no malloc at all. */
static __thread AudienceUnpackArena *audience_unpack_arena_spare;

/* A new (empty) arena; NULL when out of memory. */
static inline AudienceUnpackArena *audience_unpack_arena_new(void) {
  AudienceUnpackArena *arena = audience_unpack_arena_spare;
  if (arena != NULL) {
    audience_unpack_arena_spare = NULL;
    return arena;
  }
  arena = (AudienceUnpackArena *)malloc(sizeof(AudienceUnpackArena));
  if (arena == NULL) return NULL;
  arena->allocator.alloc = audience_unpack_arena_alloc;
  arena->allocator.free = audience_unpack_arena_nofree;
  arena->allocator.allocator_data = arena;
  arena->blocks = NULL;
  arena->next_capacity = 4096;
  return arena;
}

/* Frees everything unpacked with the arena, and the arena (or keeps it, emptied, as the
   thread's spare: its first block only). */
static inline void audience_unpack_arena_free(AudienceUnpackArena *arena) {
  AudienceArenaBlock *b = arena->blocks;
  AudienceArenaBlock *first = NULL;
  while (b != NULL) {
    AudienceArenaBlock *next = b->next;
    if (next == NULL && b->capacity == 4096 && audience_unpack_arena_spare == NULL) {
      first = b; /* the oldest block: the 4 KiB one */
    } else {
      free(b);
    }
    b = next;
  }
  if (audience_unpack_arena_spare == NULL) {
    if (first != NULL) {
      first->used = 0;
      first->next = NULL;
    }
    arena->blocks = first;
    arena->next_capacity = first != NULL ? 8192 : 4096;
    audience_unpack_arena_spare = arena;
  } else {
    free(arena);
  }
}
