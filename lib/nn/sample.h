/* Choosing the next token from logits, as transformers' generate() does
 * with do_sample: repetition penalty (over the tokens of the context),
 * temperature, top-k, top-p, then a draw from a seeded generator
 * (splitmix64), so the same seed gives the same text. Temperature 0 is
 * greedy (argmax; the lowest id on a tie). */
#ifndef SFT_NN_SAMPLE_H
#define SFT_NN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float temperature;        /* 0: greedy */
    int64_t top_k;            /* 0: off */
    float top_p;              /* 1: off */
    float repetition_penalty; /* 1: off */
} nn_sampler_cfg;

typedef struct nn_sampler nn_sampler;

/* A sampler for a vocabulary of n. NULL when out of memory. */
nn_sampler *nn_sampler_new(const nn_sampler_cfg *cfg, int64_t n, uint64_t seed);
void nn_sampler_free(nn_sampler *s);
/* Picks a token from logits[0..n) (modified in place) given the context
 * ids[0..nctx) for the repetition penalty. */
int32_t nn_sample(nn_sampler *s, float *logits, const int32_t *ctx, size_t nctx);

#endif
