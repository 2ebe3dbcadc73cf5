/* Unit tests of lib/nn/sample.h: greedy choice, the seed, and that each
 * processor (repetition penalty, temperature, top-k, top-p) keeps and
 * weighs the tokens transformers' logits processors would. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/sample.h"

static int32_t pick(const nn_sampler_cfg *c, const float *logits, int64_t n, uint64_t seed,
                    const int32_t *ctx, size_t nctx)
{
    float *l = malloc((size_t)n * sizeof *l);
    memcpy(l, logits, (size_t)n * sizeof *l);
    nn_sampler *s = nn_sampler_new(c, n, seed);
    assert_non_null(s);
    int32_t id = nn_sample(s, l, ctx, nctx);
    nn_sampler_free(s);
    free(l);
    return id;
}

static void greedy(void **state)
{
    (void)state;
    nn_sampler_cfg c = {.temperature = 0, .top_p = 1, .repetition_penalty = 1};
    float l[6] = {0.5f, 2.0f, -1.0f, 3.5f, 3.5f, 1.0f};
    assert_int_equal(pick(&c, l, 6, 1, NULL, 0), 3); /* the first of a tie */
    /* the penalty turns 3.5 into 3.5/4 for ids 3 and 4 */
    c.repetition_penalty = 4;
    int32_t ctx[3] = {3, 4, 3};
    assert_int_equal(pick(&c, l, 6, 1, ctx, 3), 1);
    /* a negative logit is multiplied: id 2 falls further */
    float l2[3] = {-1.0f, -2.0f, -1.5f};
    int32_t ctx2[1] = {0};
    assert_int_equal(pick(&c, l2, 3, 1, ctx2, 1), 2);
}

/* Draw counts against the probabilities the processors should leave. */
static void frequencies(const nn_sampler_cfg *c, const float *logits, int64_t n, const double *want)
{
    enum { DRAWS = 40000 };
    int counts[16] = {0};
    nn_sampler *s = nn_sampler_new(c, n, 7);
    float l[16];
    for (int d = 0; d < DRAWS; d++) {
        memcpy(l, logits, (size_t)n * sizeof *l);
        int32_t id = nn_sample(s, l, NULL, 0);
        assert_true(id >= 0 && id < n);
        counts[id]++;
    }
    nn_sampler_free(s);
    for (int64_t i = 0; i < n; i++) {
        double p = (double)counts[i] / DRAWS;
        /* 5 standard deviations of a binomial proportion, or exactly 0 */
        double tol = 5 * sqrt(want[i] * (1 - want[i]) / DRAWS) + 1e-9;
        if (want[i] == 0) assert_int_equal(counts[i], 0);
        else if (fabs(p - want[i]) > tol) fail_msg("token %lld: drawn %.4f, expected %.4f", (long long)i, p, want[i]);
    }
}

static void softmax(const float *l, int n, float t, double *p)
{
    double z = 0;
    for (int i = 0; i < n; i++) z += p[i] = exp(l[i] / t);
    for (int i = 0; i < n; i++) p[i] /= z;
}

static void sampling(void **state)
{
    (void)state;
    float l[5] = {1.0f, 2.0f, 0.5f, 1.5f, -1.0f};
    double p[5];
    nn_sampler_cfg c = {.temperature = 0.7f, .top_p = 1, .repetition_penalty = 1};
    softmax(l, 5, 0.7f, p);
    frequencies(&c, l, 5, p);
    /* top-k 2: ids 1 and 3, renormalised */
    c.top_k = 2;
    double q[5] = {0};
    double z = exp(2.0 / 0.7) + exp(1.5 / 0.7);
    q[1] = exp(2.0 / 0.7) / z;
    q[3] = exp(1.5 / 0.7) / z;
    frequencies(&c, l, 5, q);
    /* top-p: the smallest prefix by probability reaching top_p */
    c.top_k = 0;
    c.temperature = 1;
    softmax(l, 5, 1, p);
    double acc = p[1] + p[3];
    c.top_p = (float)(acc - 0.01); /* ids 1 and 3 reach it */
    double r[5] = {0};
    r[1] = p[1] / acc;
    r[3] = p[3] / acc;
    frequencies(&c, l, 5, r);
    c.top_p = 0.01f; /* only the likeliest */
    double g[5] = {0, 1, 0, 0, 0};
    frequencies(&c, l, 5, g);
}

static void seeds(void **state)
{
    (void)state;
    enum { N = 1000 };
    float *l = malloc(N * sizeof *l);
    for (int i = 0; i < N; i++) l[i] = (float)sin(i * 0.37) * 3;
    nn_sampler_cfg c = {.temperature = 1.0f, .top_p = 0.9f, .top_k = 0, .repetition_penalty = 1.1f};
    int32_t a[50], b[50], d[50];
    nn_sampler *s1 = nn_sampler_new(&c, N, 42), *s2 = nn_sampler_new(&c, N, 42), *s3 = nn_sampler_new(&c, N, 43);
    float *w = malloc(N * sizeof *w);
    int differ = 0;
    for (int k = 0; k < 50; k++) {
        memcpy(w, l, N * sizeof *w);
        a[k] = nn_sample(s1, w, a, (size_t)k);
        memcpy(w, l, N * sizeof *w);
        b[k] = nn_sample(s2, w, b, (size_t)k);
        memcpy(w, l, N * sizeof *w);
        d[k] = nn_sample(s3, w, d, (size_t)k);
        assert_int_equal(a[k], b[k]);
        differ += a[k] != d[k];
    }
    assert_true(differ > 0);
    nn_sampler_free(s1);
    nn_sampler_free(s2);
    nn_sampler_free(s3);
    free(w);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy),
        cmocka_unit_test(sampling),
        cmocka_unit_test(seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
