/* Splitting JSONL records into named parts (train/val/test).
 *
 * Streaming mode: a record's part is a function of the seed and its key
 * only: h = xxh64(key, seed), and part i owns the range [cut[i-1], cut[i])
 * of the 64-bit hash space, sized by its weight. Memory stays flat.
 *
 * Exact mode: all keys are read first (one small entry per record and per
 * group, never the records), the groups are ordered by their seeded hash,
 * and that sequence is cut at the part sizes the weights give, rounded by
 * the largest-remainder method; stratified, each stratum is cut on its own.
 * A second pass writes the records. */
#ifndef SFT_SPLIT_H
#define SFT_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/json.h"
#include "core/out.h"

#define SPLIT_MAX_PARTS 64

/* Weights are decimals held exactly as integers in units of 1e-9, so that
 * 0.7,0.2,0.1 splits exactly like 7,2,1 (binary doubles would not). */
#define SPLIT_WEIGHT_SCALE 1000000000ULL
#define SPLIT_WEIGHT_MAX (1000000ULL * SPLIT_WEIGHT_SCALE)

/* Parses a weight: digits with an optional fraction of up to 9 decimals,
 * greater than 0 and at most 1000000. Returns 0, or -1 (errno EINVAL or
 * ERANGE). */
int split_parse_weight(const char *s, uint64_t *weight);

typedef struct {
    size_t nparts;
    uint64_t weight[SPLIT_MAX_PARTS]; /* from split_parse_weight(); relative */
    const char *name[SPLIT_MAX_PARTS];
    const json_path *key;            /* NULL: the whole line is the key */
    const json_path *stratify;       /* NULL: no strata */
    const char *key_spec, *stratify_spec; /* for messages */
    uint64_t seed;
    int exact;                       /* set whenever stratify is */
} split_config;

/* Fills cut[0..n): part i takes hashes h with cut[i-1] <= h < cut[i]
 * (cut[-1] = 0); the last part also takes UINT64_MAX. */
void split_cutpoints(const uint64_t *weight, size_t n, uint64_t *cut);

/* The part of hash h under cut[0..n). */
size_t split_part_of_hash(const uint64_t *cut, size_t n, uint64_t h);

/* Fills target[0..n) with total * weight[i] / sum rounded by the
 * largest-remainder method: floors first, then the leftover units go one
 * each to the parts with the largest fractional parts, ties to the earlier
 * part. The targets add up to total. */
void split_targets(uint64_t total, const uint64_t *weight, size_t n, uint64_t *target);

/* Puts in *key the bytes that identify the group of the record
 * text[0..len) (valid JSON), using scratch for storage. Returns 0, -1 when
 * the key field is missing, -2 when out of memory. */
int split_key(const split_config *cfg, const char *text, size_t len, sft_buf *scratch,
              const char **key, size_t *keylen);

/* Splits the records of inputs[0..ninputs) (NULL or "-" for stdin) into
 * outs[0..cfg->nparts). Counts records in run and per part in counts
 * (which has nparts entries). Prints its diagnostics and returns the exit
 * code; the caller closes the outputs (committing them only on success). */
int split_run(const split_config *cfg, sft_run *run, const char *const *inputs, size_t ninputs,
              sft_out **outs, uint64_t *counts);

#endif
