/* See sample.h. The order of the steps is transformers' logits processors
 * for generate(): repetition penalty, temperature, top-k, top-p. */
#include "nn/sample.h"

#include <math.h>
#include <stdlib.h>

#include "core/hash.h"

struct nn_sampler {
    nn_sampler_cfg cfg;
    int64_t n;
    uint64_t rng;
    int32_t *order; /* candidate ids, by falling logit */
    float *prob;
    unsigned char *seen;
};

nn_sampler *nn_sampler_new(const nn_sampler_cfg *cfg, int64_t n, uint64_t seed)
{
    nn_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *cfg;
    s->n = n;
    s->rng = seed;
    s->order = malloc((size_t)n * sizeof *s->order);
    s->prob = malloc((size_t)n * sizeof *s->prob);
    s->seen = calloc((size_t)n, 1);
    if (!s->order || !s->prob || !s->seen) {
        nn_sampler_free(s);
        return NULL;
    }
    return s;
}

void nn_sampler_free(nn_sampler *s)
{
    if (!s) return;
    free(s->order);
    free(s->prob);
    free(s->seen);
    free(s);
}

static int by_logit_desc(const void *a, const void *b, void *keys)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    float fx = ((const float *)keys)[x], fy = ((const float *)keys)[y];
    if (fx != fy) return fx < fy ? 1 : -1;
    return (x > y) - (x < y);
}

int32_t nn_sample(nn_sampler *s, float *logits, const int32_t *ctx, size_t nctx)
{
    const nn_sampler_cfg *c = &s->cfg;
    int64_t n = s->n;
    if (c->repetition_penalty != 1.0f) {
        /* each distinct context token once, as torch's gather/scatter does */
        for (size_t i = 0; i < nctx; i++) {
            int32_t id = ctx[i];
            if (id < 0 || id >= n || s->seen[id]) continue;
            s->seen[id] = 1;
            float *l = &logits[id];
            *l = *l < 0 ? *l * c->repetition_penalty : *l / c->repetition_penalty;
        }
        for (size_t i = 0; i < nctx; i++)
            if (ctx[i] >= 0 && ctx[i] < n) s->seen[ctx[i]] = 0;
    }
    if (c->temperature <= 0) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (logits[i] > logits[best]) best = i;
        return (int32_t)best;
    }
    for (int64_t i = 0; i < n; i++) logits[i] /= c->temperature;
    float max = logits[0];
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    int64_t m = 0;
    double total = 0;
    if (c->top_k > 0 && c->top_k < n) {
        for (int64_t i = 0; i < n; i++) s->order[m++] = (int32_t)i;
        qsort_r(s->order, (size_t)m, sizeof *s->order, by_logit_desc, logits);
        int64_t k = c->top_k;
        /* transformers keeps every token tied with the k-th */
        while (k < n && logits[s->order[k]] == logits[s->order[c->top_k - 1]]) k++;
        m = k;
        for (int64_t i = 0; i < m; i++) total += s->prob[i] = expf(logits[s->order[i]] - max);
    } else {
        /* all ids; with top-p only those that can be in the nucleus are kept
         * and sorted: a token of probability below (1 - top_p) / (n - 1)
         * never is (the tokens above it would already hold top_p) */
        for (int64_t i = 0; i < n; i++) total += s->prob[i] = expf(logits[i] - max);
        double cutoff = c->top_p < 1.0f && n > 1 ? (1.0 - c->top_p) / (double)(n - 1) * total : 0;
        for (int64_t i = 0; i < n; i++)
            if (s->prob[i] >= cutoff) s->order[m++] = (int32_t)i;
        if (c->top_p < 1.0f) qsort_r(s->order, (size_t)m, sizeof *s->order, by_logit_desc, logits);
        for (int64_t i = 0; i < m; i++) s->prob[i] = expf(logits[s->order[i]] - max);
    }
    if (c->top_p < 1.0f) {
        /* the smallest prefix of the sorted candidates whose mass reaches
         * top_p (at least one token) */
        double acc = 0;
        int64_t keep = 0;
        while (keep < m) {
            acc += s->prob[keep++] / total;
            if (acc >= c->top_p) break;
        }
        m = keep;
    }
    total = 0;
    for (int64_t i = 0; i < m; i++) total += s->prob[i];
    double u = (double)(splitmix64(&s->rng) >> 11) * 0x1.0p-53 * total, acc = 0;
    for (int64_t i = 0; i < m; i++) {
        acc += s->prob[i];
        if (u < acc) return s->order[i];
    }
    return s->order[m - 1];
}
