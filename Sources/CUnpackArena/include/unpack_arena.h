#ifndef AUDIENCE_UNPACK_ARENA_H
#define AUDIENCE_UNPACK_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* A bump allocator for protobuf-c's unpack: every string, array and sub-message of one
   unpacked message comes from a few large blocks, freed together by
   audience_unpack_arena_free (protobuf-c's free is a no-op here, so never call
   *__free_unpacked on a message unpacked with it). One malloc per 4 KiB..1 MiB instead of one
   per field; each thread keeps one emptied arena for its next message (freed when the thread
   ends), so decoding a small request costs no malloc at all. */

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

/* The length protobuf-c gave a string it unpacked with an arena (it allocates length + 1
   bytes, copies the bytes and ends them with a NUL), or -1 for protobuf-c's shared empty
   default and for NULL. A string holding a NUL byte is longer than strlen says: protobuf-c
   hands strings over as C strings, so without this check "ab\0cd" would silently be "ab".
   Only for strings of a message unpacked with an arena that is not yet freed. */
long audience_unpack_arena_string_length(const char *s);

/* How many arenas (in use or kept as a thread's spare) and blocks are allocated in this
   process: for tests that check a thread's spare is freed when the thread ends. */
long audience_unpack_arena_live_arenas(void);
long audience_unpack_arena_live_blocks(void);

#endif
