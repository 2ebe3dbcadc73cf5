/* Hashing and seeded random numbers.
 *
 * xxh64 is XXH64 as specified by the xxHash project (implemented here from
 * the published algorithm); its output is stable across versions and
 * machines, so split assignments never change under users' feet. */
#ifndef SFT_HASH_H
#define SFT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t xxh64(const void *data, size_t len, uint64_t seed);

/* splitmix64: advances *state and returns the next 64-bit value. */
uint64_t splitmix64(uint64_t *state);

/* A set of strings (open addressing on xxh64, at most half full) that keeps
 * its own copies. Start from a zeroed sft_strset; free it with
 * sft_strset_free(). */
typedef struct {
    char **slot;
    size_t cap, n;
} sft_strset;

/* Adds a copy of s. Returns 1 when s was new, 0 when it was there already,
 * -1 when out of memory (the set is unchanged). */
int sft_strset_add(sft_strset *set, const char *s);

/* Frees the copies and the table, and empties the set. */
void sft_strset_free(sft_strset *set);

#endif
