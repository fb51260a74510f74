#ifndef AUDIENCE_UNPACK_ARENA_H
#define AUDIENCE_UNPACK_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* A bump allocator for protobuf-c's unpack: every string, array and sub-message of one
   unpacked message comes from a few large blocks, freed together by
   audience_unpack_arena_free (protobuf-c's free is a no-op here, so never call
   *__free_unpacked on a message unpacked with it). One malloc per 4 KiB..1 MiB instead of one
   per field; each thread keeps one emptied arena for its next message, so decoding a small
   request costs no malloc at all. */

typedef struct AudienceArenaBlock AudienceArenaBlock;

typedef struct AudienceUnpackArena {
  ProtobufCAllocator allocator; /* pass &arena->allocator to *__unpack */
  AudienceArenaBlock *blocks;
  size_t next_capacity;
} AudienceUnpackArena;

/* A new (empty) arena; NULL when out of memory. */
AudienceUnpackArena *audience_unpack_arena_new(void);

/* Frees everything unpacked with the arena, and the arena (or keeps it, emptied, as the
   thread's spare). */
void audience_unpack_arena_free(AudienceUnpackArena *arena);

#endif
