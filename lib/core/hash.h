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

#endif
