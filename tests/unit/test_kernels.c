/* Unit tests of lib/nn/cpu (kernels.h): known values of the scalar
 * references, every SIMD kernel of every ISA this CPU has against the
 * scalar reference on random inputs of awkward sizes (ISAs the CPU lacks
 * are skipped, with the reason), the thread pool, and the conversions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/cpu/kernels.h"

#define U 5.9604645e-8 /* 2^-24, the unit roundoff of fp32 */

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
/* uniform in [lo, hi), never exactly 0 */
static float frand(float lo, float hi)
{
    float f = lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f;
    return f == 0.0f ? 1e-3f : f;
}
static float *frand_vec(int64_t n, float lo, float hi)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = frand(lo, hi);
    return v;
}
static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static const enum nn_isa isa_scalar = NN_ISA_SCALAR, isa_avx2 = NN_ISA_AVX2,
                         isa_avx512 = NN_ISA_AVX512;

/* Selects the ISA of the test's state, or skips it with the reason. */
static enum nn_isa use_isa(void **state)
{
    enum nn_isa isa = *(const enum nn_isa *)*state;
    if (!nn_isa_supported(isa)) {
        print_message("# %s: not supported by this CPU (or build); skipped\n", nn_isa_name(isa));
        skip();
    }
    assert_int_equal(nn_set_isa(isa), 0);
    return isa;
}

static void restore_isa(void) { nn_set_isa(NN_ISA_SCALAR); }

static void check_close(const char *what, int64_t i, float got, float want, double tol)
{
    if (isnan(want) && isnan(got)) return;
    double d = fabs((double)got - (double)want);
    if (!(d <= tol) && !(got == want))
        fail_msg("%s[%lld]: got %.9g, want %.9g (|diff| %.3g > tol %.3g)", what, (long long)i,
                 (double)got, (double)want, d, tol);
}

/* ---- ISA selection ---- */

static void test_isa(void **state)
{
    (void)state;
    enum nn_isa best = nn_isa_init();
    assert_true(nn_isa_supported(NN_ISA_SCALAR));
    assert_true(nn_isa_supported(best));
    assert_string_equal(nn_isa_name(NN_ISA_SCALAR), "scalar");
    assert_string_equal(nn_isa_name(NN_ISA_AVX2), "avx2");
    assert_string_equal(nn_isa_name(NN_ISA_AVX512), "avx512");
    for (int i = NN_ISA_SCALAR; i <= NN_ISA_AVX512; i++) {
        if (nn_isa_supported((enum nn_isa)i)) {
            assert_int_equal(nn_set_isa((enum nn_isa)i), 0);
            assert_int_equal(nn_get_isa(), i);
        } else {
            enum nn_isa before = nn_get_isa();
            assert_int_equal(nn_set_isa((enum nn_isa)i), -1);
            assert_int_equal(nn_get_isa(), before);
        }
    }
    assert_int_equal(nn_set_isa((enum nn_isa)99), -1);
    print_message("# best ISA here: %s\n", nn_isa_name(best));
    restore_isa();
}

/* ---- conversions ---- */

/* f16 -> f32 computed arithmetically (independent of the bit tricks). */
static float f16_ref(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexpf((float)m, -24);
    else
        v = ldexpf((float)(1024 + m), e - 25);
    return s ? -v : v;
}

static void check_conv_all(void)
{
    uint16_t *h = malloc(65537 * sizeof *h);
    float *out = malloc(65536 * sizeof *out);
    assert_non_null(h);
    assert_non_null(out);
    for (uint32_t i = 0; i < 65536; i++) h[i + 1] = (uint16_t)i;
    /* starts at an odd offset: nothing may assume alignment */
    nn_mat m = {.data = h + 1, .dtype = NN_BF16, .rows = 1, .cols = 65536};
    nn_mat_row(&m, 0, out);
    for (uint32_t i = 0; i < 65536; i++) {
        if (f32_bits(out[i]) != i << 16) fail_msg("bf16 %04x -> %08x", i, f32_bits(out[i]));
        if (f32_bits(nn_bf16_to_f32((uint16_t)i)) != i << 16) fail_msg("nn_bf16_to_f32(%04x)", i);
    }
    m.dtype = NN_F16;
    nn_mat_row(&m, 0, out);
    for (uint32_t i = 0; i < 65536; i++) {
        float want = f16_ref((uint16_t)i), s = nn_f16_to_f32((uint16_t)i);
        if (isnan(want)) {
            if (!isnan(out[i]) || !isnan(s)) fail_msg("f16 %04x: NaN expected", i);
            if ((f32_bits(s) >> 31) != (i >> 15)) fail_msg("f16 %04x: NaN sign", i);
        } else {
            if (f32_bits(out[i]) != f32_bits(want))
                fail_msg("f16 %04x -> %08x, want %08x", i, f32_bits(out[i]), f32_bits(want));
            if (f32_bits(s) != f32_bits(want)) fail_msg("nn_f16_to_f32(%04x)", i);
        }
    }
    /* rows of a matrix, odd widths (the vector tails) */
    for (int64_t cols = 1; cols <= 40; cols += 3) {
        nn_mat mm = {.data = h + 1, .dtype = NN_BF16, .rows = 3, .cols = cols};
        for (int64_t r = 0; r < 3; r++) {
            float row[40 + 1];
            row[cols] = 12345.0f;
            nn_mat_row(&mm, r, row);
            for (int64_t c = 0; c < cols; c++) assert_int_equal(f32_bits(row[c]), (uint32_t)(r * cols + c) << 16);
            assert_true(row[cols] == 12345.0f); /* nothing written past the row */
        }
    }
    float fr[5] = {1, 2, 3, 4, 5}, o[5];
    nn_mat mf = {.data = fr, .dtype = NN_F32, .rows = 1, .cols = 5};
    nn_mat_row(&mf, 0, o);
    assert_memory_equal(o, fr, sizeof fr);
    free(h);
    free(out);
}

static void test_conv(void **state)
{
    use_isa(state);
    check_conv_all();
    restore_isa();
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_f32_to_bf16(void **state)
{
    (void)state;
    static const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f800000, 0x3f80}, /* 1.0 */
        {0x3f808000, 0x3f80}, /* tie, even below: down */
        {0x3f818000, 0x3f82}, /* tie, odd below: up */
        {0x3f808001, 0x3f81}, /* above the tie: up */
        {0x3f807fff, 0x3f80}, /* below the tie: down */
        {0xbf818000, 0xbf82}, /* negative tie */
        {0x7f800000, 0x7f80}, /* inf */
        {0xff800000, 0xff80}, /* -inf */
        {0x7f7fffff, 0x7f80}, /* FLT_MAX rounds to inf */
        {0x00000001, 0x0000}, /* smallest subnormal: down to 0 */
        {0x00008000, 0x0000}, /* subnormal tie, even: down */
        {0x00018000, 0x0002}, /* subnormal tie, odd: up */
        {0x80000000, 0x8000}, /* -0 */
        {0x7fc00000, 0x7fc0}, /* NaN */
        {0xffc00001, 0x7fc0}, /* negative NaN with payload: torch's one NaN */
        {0x7f800001, 0x7fc0}, /* signalling NaN */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t got = nn_f32_to_bf16(from_bits(cases[i].in));
        if (got != cases[i].out)
            fail_msg("nn_f32_to_bf16(%08x) = %04x, want %04x", cases[i].in, got, cases[i].out);
    }
    /* random finite values: the result is one of the two neighbours, the
     * nearer one (ties to even) */
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rnd() << 16 ^ rnd();
        float f = from_bits(u);
        if (!isfinite(f)) continue;
        uint16_t b = nn_f32_to_bf16(f);
        uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
        /* past the largest bf16, the upper neighbour is inf, at 2^128 */
        double vhi = isinf(from_bits(hi)) ? copysign(ldexp(1.0, 128), f) : (double)from_bits(hi);
        double dlo = fabs((double)f - from_bits(lo)), dhi = fabs(vhi - f);
        uint32_t want = dlo < dhi ? lo : dhi < dlo ? hi : ((lo >> 16) & 1) ? hi : lo;
        if ((uint32_t)b << 16 != want) fail_msg("nn_f32_to_bf16(%08x) = %04x", u, b);
    }
}

/* ---- pool ---- */

typedef struct {
    int *hits;
    int64_t n, grain;
    int size;
    int bad;
} cover_ctx;

static void cover(void *vc, int64_t b, int64_t e, int tid)
{
    cover_ctx *c = vc;
    if (tid < 0 || tid >= c->size || b < 0 || e > c->n || b >= e) __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
    if (e - b < c->grain && e != c->n) __atomic_store_n(&c->bad, 2, __ATOMIC_RELAXED);
    for (int64_t i = b; i < e; i++) __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_pool(void **state)
{
    (void)state;
    static const int sizes[] = {0, 1, 2, 3, 7};
    static const int64_t ns[] = {0, 1, 2, 5, 100, 1000, 12345};
    static const int64_t grains[] = {0, 1, 3, 64, 100000};
    int *hits = malloc(12345 * sizeof *hits);
    assert_non_null(hits);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        nn_pool *p = sizes[s] ? nn_pool_new(sizes[s]) : NULL;
        if (sizes[s]) {
            assert_non_null(p);
            assert_int_equal(nn_pool_size(p), sizes[s]);
        } else {
            assert_int_equal(nn_pool_size(p), 1);
        }
        for (int rep = 0; rep < 3; rep++)
            for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
                for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                    memset(hits, 0, 12345 * sizeof *hits);
                    cover_ctx c = {hits, ns[i], grains[g] < 1 ? 1 : grains[g], nn_pool_size(p), 0};
                    nn_pool_for(p, cover, &c, ns[i], grains[g]);
                    if (c.bad) fail_msg("pool %d, n %lld, grain %lld: bad range or tid (%d)", sizes[s], (long long)ns[i], (long long)grains[g], c.bad);
                    for (int64_t j = 0; j < ns[i]; j++)
                        if (hits[j] != 1) fail_msg("pool %d, n %lld: index %lld run %d times", sizes[s], (long long)ns[i], (long long)j, hits[j]);
                }
        nn_pool_free(p);
    }
    nn_pool *p0 = nn_pool_new(0);
    assert_non_null(p0);
    assert_true(nn_pool_size(p0) >= 1);
    nn_pool_free(p0);
    nn_pool_free(NULL);
    free(hits);
}

/* ---- matmul ---- */

/* Random weights of each dtype, non-zero, and their fp32 values. */
static void *make_w(enum nn_dtype dt, int64_t n, float **vals)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    void *d = malloc((size_t)(n > 0 ? n : 1) * 4);
    assert_non_null(v);
    assert_non_null(d);
    for (int64_t i = 0; i < n; i++) {
        if (dt == NN_F32) {
            v[i] = frand(-1, 1);
            ((float *)d)[i] = v[i];
        } else if (dt == NN_BF16) {
            uint16_t b = nn_f32_to_bf16(frand(-1, 1));
            ((uint16_t *)d)[i] = b;
            v[i] = nn_bf16_to_f32(b);
        } else {
            /* exponents 10..17: |w| in [2^-5, 2^3) */
            uint16_t b = (uint16_t)((rnd() & 1) << 15 | (10 + rnd() % 8) << 10 | (rnd() & 1023));
            ((uint16_t *)d)[i] = b;
            v[i] = nn_f16_to_f32(b);
        }
    }
    *vals = v;
    return d;
}

/* The tolerance between two fp32 evaluations of one output element:
 * summing K products in any two orders differs by at most about
 * (K + 32) u sum|x w| (the bound gamma_K of recursive summation, plus the
 * lanes and blocks of the SIMD order), scaled by |alpha|; then a few
 * roundings of the accumulate and bias adds. A missing or repeated term
 * (|x w| ~ sum/K) is still well above it. */
static double mm_tol(int64_t K, double abssum, float alpha, double rest)
{
    return (double)(K + 32) * U * fabs(alpha) * abssum + 4 * U * rest + 1e-30;
}

typedef struct {
    int64_t T, K, N;
    enum nn_dtype dt;
    int acc, use_bias;
    float alpha;
} mm_case;

static const char *dt_name(enum nn_dtype dt) { return dt == NN_F32 ? "f32" : dt == NN_BF16 ? "bf16" : "f16"; }

/* Runs one case with the current ISA against the scalar reference, and
 * checks that every pool gives the same bits. */
static void mm_check(const mm_case *c, enum nn_isa isa, nn_pool **pools, int npools)
{
    float *wv;
    void *wd = make_w(c->dt, c->N * c->K, &wv);
    nn_mat w = {.data = wd, .dtype = c->dt, .rows = c->N, .cols = c->K};
    float *x = frand_vec(c->T * c->K, -1, 1);
    float *bias = c->use_bias ? frand_vec(c->N, -1, 1) : NULL;
    float *init = frand_vec(c->T * c->N, -2, 2);
    size_t ob = (size_t)(c->T * c->N) * sizeof(float);
    float *ref = malloc(ob), *got = malloc(ob), *got2 = malloc(ob);
    assert_non_null(ref);
    assert_non_null(got);
    assert_non_null(got2);
    memcpy(ref, init, ob);
    memcpy(got, init, ob);
    assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0);
    nn_matmul(NULL, ref, x, c->T, &w, bias, c->alpha, c->acc);
    assert_int_equal(nn_set_isa(isa), 0);
    nn_matmul(NULL, got, x, c->T, &w, bias, c->alpha, c->acc);
    char what[128];
    snprintf(what, sizeof what, "%s matmul T=%lld K=%lld N=%lld %s acc=%d bias=%d alpha=%g",
             nn_isa_name(isa), (long long)c->T, (long long)c->K, (long long)c->N, dt_name(c->dt),
             c->acc, c->use_bias, (double)c->alpha);
    for (int64_t t = 0; t < c->T; t++)
        for (int64_t n = 0; n < c->N; n++) {
            double as = 0;
            for (int64_t k = 0; k < c->K; k++) as += fabs((double)x[t * c->K + k] * wv[n * c->K + k]);
            double rest = fabs(ref[t * c->N + n]) + (c->acc ? fabs(init[t * c->N + n]) : 0) +
                          (bias ? fabs(bias[n]) : 0) + fabs(c->alpha) * as;
            check_close(what, t * c->N + n, got[t * c->N + n], ref[t * c->N + n],
                        mm_tol(c->K, as, c->alpha, rest));
        }
    for (int i = 0; i < npools; i++) {
        memcpy(got2, init, ob);
        nn_matmul(pools[i], got2, x, c->T, &w, bias, c->alpha, c->acc);
        if (memcmp(got, got2, ob)) fail_msg("%s: a pool of %d threads changed the result", what, nn_pool_size(pools[i]));
    }
    free(wd);
    free(wv);
    free(x);
    free(bias);
    free(init);
    free(ref);
    free(got);
    free(got2);
}

static void test_matmul(void **state)
{
    enum nn_isa isa = use_isa(state);
    static const int64_t Ts[] = {1, 2, 3, 7, 13, 33}, Ks[] = {1, 3, 17, 64, 100, 257, 896},
                         Ns[] = {1, 5, 31, 64, 129};
    static const float alphas[] = {1.0f, 0.5f, -2.0f};
    nn_pool *pools[3] = {nn_pool_new(2), nn_pool_new(3), nn_pool_new(7)};
    for (int i = 0; i < 3; i++) assert_non_null(pools[i]);
    unsigned cnt = 0;
    for (size_t ti = 0; ti < 6; ti++)
        for (size_t ki = 0; ki < 7; ki++)
            for (size_t ni = 0; ni < 5; ni++)
                for (int dt = NN_F32; dt <= NN_F16; dt++, cnt++) {
                    mm_case c = {Ts[ti], Ks[ki], Ns[ni], (enum nn_dtype)dt, (int)(cnt & 1),
                                 (int)((cnt >> 1) & 1), alphas[cnt % 3]};
                    mm_check(&c, isa, &pools[cnt % 3], 1);
                }
    /* several K blocks, several blocks of W rows and of x rows, tails of all */
    static const mm_case big[] = {
        {70, 1100, 200, NN_F32, 0, 1, 1.0f}, {70, 1100, 200, NN_BF16, 1, 0, 1.0f},
        {66, 1031, 101, NN_F16, 1, 1, 0.25f}, {5, 4864, 97, NN_BF16, 0, 1, 1.0f},
        {1, 4864, 300, NN_F32, 1, 0, 1.0f},  {9, 513, 390, NN_BF16, 0, 0, -1.0f},
    };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) mm_check(&big[i], isa, pools, 3);
    for (int i = 0; i < 3; i++) nn_pool_free(pools[i]);
    restore_isa();
}

/* The scalar reference against a direct computation in double, and K = 0. */
static void test_matmul_known(void **state)
{
    (void)state;
    assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0);
    const float w[6] = {1, 2, 3, 4, 5, 6}, x[4] = {1, -1, 0.5f, 2};
    nn_mat m = {.data = w, .dtype = NN_F32, .rows = 2, .cols = 3};
    float out[4] = {0};
    const float b[2] = {10, 20};
    float x3[6] = {1, -1, 0.5f, 2, 0, -3};
    nn_matmul(NULL, out, x3, 2, &m, b, 1.0f, 0);
    /* row 0: [1,-1,0.5].[1,2,3] = 0.5, .[4,5,6] = 2 ; row 1: [2,0,-3].[1,2,3] = -7, .[4,5,6] = -10 */
    assert_true(out[0] == 10.5f && out[1] == 22.0f && out[2] == 3.0f && out[3] == 10.0f);
    nn_matmul(NULL, out, x3, 2, &m, NULL, 2.0f, 1);
    assert_true(out[0] == 11.5f && out[1] == 26.0f && out[2] == -11.0f && out[3] == -10.0f);
    (void)x;
    /* K = 0: out = accumulate ? out : 0, plus bias */
    nn_mat e = {.data = w, .dtype = NN_F32, .rows = 2, .cols = 0};
    nn_matmul(NULL, out, x3, 2, &e, b, 1.0f, 0);
    assert_true(out[0] == 10 && out[1] == 20 && out[2] == 10 && out[3] == 20);
    /* random, against double */
    const int64_t T = 5, K = 300, N = 7;
    float *wv, *xx = frand_vec(T * K, -1, 1), o[35];
    void *wd = make_w(NN_BF16, N * K, &wv);
    nn_mat mb = {.data = wd, .dtype = NN_BF16, .rows = N, .cols = K};
    nn_matmul(NULL, o, xx, T, &mb, NULL, 1.0f, 0);
    for (int64_t t = 0; t < T; t++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0, as = 0;
            for (int64_t k = 0; k < K; k++) {
                s += (double)xx[t * K + k] * wv[n * K + k];
                as += fabs((double)xx[t * K + k] * wv[n * K + k]);
            }
            check_close("scalar matmul vs double", t * N + n, o[t * N + n], (float)s, K * U * as + U * fabs(s));
        }
    free(wd);
    free(wv);
    free(xx);
    restore_isa();
}

/* ---- attention ---- */

typedef struct {
    int64_t T, pos0, H, KVH, hd, window;
    float softcap;
} at_case;

static const at_case at_cases[] = {
    {1, 0, 2, 2, 64, 0, 0},    {3, 5, 4, 2, 128, 0, 0},  {7, 10, 4, 1, 40, 4, 0},
    {13, 0, 7, 1, 256, 0, 30}, {5, 20, 14, 2, 64, 8, 50}, {33, 3, 2, 2, 3, 0, 0},
    {17, 40, 8, 4, 64, 16, 20}, {2, 0, 1, 1, 1, 0, 0},   {4, 60, 7, 7, 17, 0, 0},
    {1, 100, 14, 2, 64, 0, 0}, {6, 2, 2, 1, 128, 3, 5},  {9, 25, 4, 4, 33, 1, 0},
};

typedef struct {
    float *q, *k, *v;
    int64_t kv_stride;
    nn_attn_shape s;
} at_data;

static at_data at_make(const at_case *c)
{
    at_data d;
    d.kv_stride = c->KVH * c->hd + 3; /* not dense: the stride is honoured */
    int64_t P = c->pos0 + c->T;
    d.q = frand_vec(c->T * c->H * c->hd, -2, 2); /* sharp enough softmaxes */
    d.k = frand_vec(P * d.kv_stride, -2, 2);
    d.v = frand_vec(P * d.kv_stride, -1, 1);
    d.s = (nn_attn_shape){.T = c->T, .pos0 = c->pos0, .n_heads = c->H, .n_kv_heads = c->KVH,
                          .head_dim = c->hd, .kv_stride = d.kv_stride, .window = c->window,
                          .scale = 1.0f / sqrtf((float)c->hd), .softcap = c->softcap};
    return d;
}

static void at_free(at_data *d)
{
    free(d->q);
    free(d->k);
    free(d->v);
}

/* Direct two-pass attention in double. */
static void at_double(const at_data *d, double *out)
{
    const nn_attn_shape *s = &d->s;
    int64_t group = s->n_heads / s->n_kv_heads;
    double *sc = malloc((size_t)(s->pos0 + s->T) * sizeof *sc);
    assert_non_null(sc);
    for (int64_t t = 0; t < s->T; t++)
        for (int64_t h = 0; h < s->n_heads; h++) {
            int64_t p = s->pos0 + t, kvh = h / group;
            const float *q = d->q + (t * s->n_heads + h) * s->head_dim;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j <= p; j++) {
                sc[j] = -INFINITY;
                if (s->window > 0 && j <= p - s->window) continue;
                double dd = 0;
                for (int64_t e = 0; e < s->head_dim; e++) dd += (double)q[e] * d->k[j * s->kv_stride + kvh * s->head_dim + e];
                dd *= s->scale;
                if (s->softcap > 0) dd = s->softcap * tanh(dd / s->softcap);
                sc[j] = dd;
                if (dd > mx) mx = dd;
            }
            for (int64_t j = 0; j <= p; j++) sum += sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
            double *o = out + (t * s->n_heads + h) * s->head_dim;
            for (int64_t e = 0; e < s->head_dim; e++) {
                double a = 0;
                for (int64_t j = 0; j <= p; j++)
                    if (sc[j] != -INFINITY) a += exp(sc[j] - mx) * d->v[j * s->kv_stride + kvh * s->head_dim + e];
                o[e] = a / sum;
            }
        }
    free(sc);
}

static void test_attention_known(void **state)
{
    (void)state;
    assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0);
    for (size_t i = 0; i < sizeof at_cases / sizeof *at_cases; i++) {
        at_data d = at_make(&at_cases[i]);
        int64_t n = d.s.T * d.s.n_heads * d.s.head_dim;
        float *o = malloc((size_t)n * sizeof *o);
        double *od = malloc((size_t)n * sizeof *od);
        assert_non_null(o);
        assert_non_null(od);
        nn_attention(NULL, o, d.q, d.k, d.v, &d.s);
        at_double(&d, od);
        /* the output is a convex combination of values in [-1, 1]; fp32
         * scores and weights are good to ~1e-6 */
        for (int64_t j = 0; j < n; j++) check_close("scalar attention vs double", j, o[j], (float)od[j], 1e-5);
        free(o);
        free(od);
        at_free(&d);
    }
    /* one key: the output is that value */
    float q[4] = {1, 2, 3, 4}, k[4] = {1, 0, 0, 1}, v[4] = {0.5f, -1, 2, 3}, o[4];
    nn_attn_shape s = {.T = 1, .pos0 = 0, .n_heads = 1, .n_kv_heads = 1, .head_dim = 4, .kv_stride = 4, .scale = 0.5f};
    nn_attention(NULL, o, q, k, v, &s);
    assert_memory_equal(o, v, sizeof v);
    restore_isa();
}

static void test_attention(void **state)
{
    enum nn_isa isa = use_isa(state);
    nn_pool *p3 = nn_pool_new(3);
    assert_non_null(p3);
    for (size_t i = 0; i < sizeof at_cases / sizeof *at_cases; i++) {
        at_data d = at_make(&at_cases[i]);
        int64_t n = d.s.T * d.s.n_heads * d.s.head_dim;
        float *ref = malloc((size_t)n * sizeof *ref), *got = malloc((size_t)n * sizeof *got),
              *got3 = malloc((size_t)n * sizeof *got3);
        assert_non_null(ref);
        assert_non_null(got);
        assert_non_null(got3);
        nn_set_isa(NN_ISA_SCALAR);
        nn_attention(NULL, ref, d.q, d.k, d.v, &d.s);
        nn_set_isa(isa);
        nn_attention(NULL, got, d.q, d.k, d.v, &d.s);
        nn_attention(p3, got3, d.q, d.k, d.v, &d.s);
        char what[96];
        snprintf(what, sizeof what, "%s attention case %zu", nn_isa_name(isa), i);
        /* scores differ by the order of hd products (~hd u |q||k|), the
         * weights by 1-2 ulp of exp and tanh: 1e-5 of the values' scale
         * (|v| <= 1) is ample, and far below any real error */
        for (int64_t j = 0; j < n; j++) check_close(what, j, got[j], ref[j], 1e-5 + 1e-5 * fabs(ref[j]));
        assert_memory_equal(got, got3, (size_t)n * sizeof *got);
        free(ref);
        free(got);
        free(got3);
        at_free(&d);
    }
    nn_pool_free(p3);
    restore_isa();
}

/* ---- rmsnorm, rope ---- */

static void test_norm_rope_known(void **state)
{
    (void)state;
    assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0);
    float x[4] = {1, 2, 3, 4}, w1[4] = {1, 1, 1, 1}, w0[4] = {0, 0, 0, 0}, w2[4] = {2, 0.5f, -1, 0};
    float o[4], o2[4];
    nn_rmsnorm(o, x, w1, 1, 4, 0.0f, 0);
    double r = sqrt(7.5); /* mean of 1, 4, 9, 16 */
    for (int i = 0; i < 4; i++) check_close("rmsnorm", i, o[i], (float)(x[i] / r), 2e-7);
    nn_rmsnorm(o2, x, w0, 1, 4, 0.0f, 1); /* Gemma: 1 + w */
    assert_memory_equal(o, o2, sizeof o);
    nn_rmsnorm(o2, x, w2, 1, 4, 1e-6f, 0);
    for (int i = 0; i < 4; i++) check_close("rmsnorm w", i, o2[i], (float)(x[i] / sqrt(7.5 + 1e-6) * w2[i]), 4e-7);
    nn_rmsnorm(x, x, w1, 1, 4, 0.0f, 0); /* in place */
    assert_memory_equal(x, o, sizeof o);
    /* rope: (1, 0) turned by 90 degrees is (0, 1); by 60 degrees (cos, sin) */
    float v[4] = {1, 3, 0, 4}, c[2] = {0, 0.5f}, s[2] = {1, sqrtf(3) / 2};
    nn_rope(v, 1, 1, 4, c, s);
    check_close("rope", 0, v[0], 0, 1e-7);
    check_close("rope", 2, v[2], 1, 1e-7);
    check_close("rope", 1, v[1], (float)(3 * 0.5 - 4 * sqrt(3) / 2), 1e-6);
    check_close("rope", 3, v[3], (float)(4 * 0.5 + 3 * sqrt(3) / 2), 1e-6);
    restore_isa();
}

static void test_norm_rope(void **state)
{
    enum nn_isa isa = use_isa(state);
    static const int64_t ns[] = {1, 2, 7, 15, 16, 17, 64, 100, 896, 1001};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int64_t n = ns[i], T = 3;
        float *x = frand_vec(T * n, -3, 3), *w = frand_vec(n, -2, 2);
        float *ref = malloc((size_t)(T * n) * sizeof *ref), *got = malloc((size_t)(T * n) * sizeof *got);
        assert_non_null(ref);
        assert_non_null(got);
        for (int add_one = 0; add_one < 2; add_one++) {
            nn_set_isa(NN_ISA_SCALAR);
            nn_rmsnorm(ref, x, w, T, n, 1e-6f, add_one);
            nn_set_isa(isa);
            nn_rmsnorm(got, x, w, T, n, 1e-6f, add_one);
            /* the sum of squares in another order: ~n u relative on the
             * scale, then two roundings per element */
            for (int64_t j = 0; j < T * n; j++)
                check_close("rmsnorm", j, got[j], ref[j], (4 + 0.5 * n) * U * fabs(ref[j]) + 1e-30);
        }
        /* rope on [T][3 heads][2n] */
        int64_t hd = 2 * n, H = 3;
        float *q = frand_vec(T * H * hd, -2, 2), *cs = malloc((size_t)(T * n) * sizeof *cs),
              *sn = malloc((size_t)(T * n) * sizeof *sn);
        float *qr = malloc((size_t)(T * H * hd) * sizeof *qr);
        assert_non_null(cs);
        assert_non_null(sn);
        assert_non_null(qr);
        for (int64_t j = 0; j < T * n; j++) {
            float a = frand(-10, 10);
            cs[j] = cosf(a);
            sn[j] = sinf(a);
        }
        memcpy(qr, q, (size_t)(T * H * hd) * sizeof *q);
        nn_set_isa(NN_ISA_SCALAR);
        nn_rope(qr, T, H, hd, cs, sn);
        nn_set_isa(isa);
        nn_rope(q, T, H, hd, cs, sn);
        for (int64_t j = 0; j < T * H * hd; j++) check_close("rope", j, q[j], qr[j], 3 * U * 4 + 1e-30);
        free(q);
        free(cs);
        free(sn);
        free(qr);
        free(x);
        free(w);
        free(ref);
        free(got);
    }
    restore_isa();
}

/* ---- activations ---- */

static const float specials[] = {0.0f, -0.0f, 1e-3f, -1e-3f, 0.3f, -0.3f, 0.6f, -0.6f, 0.625f, -0.625f,
                                 0.65f, -0.65f, 1, -1, 3, -3, 9, -9, 20, -20, 50, -50, 88, -88, 100, -100, 1e4f, -1e4f};
#define NSPEC (int64_t)(sizeof specials / sizeof *specials)

static float *act_input(int64_t n)
{
    float *g = frand_vec(n, -12, 12);
    for (int64_t i = 0; i < n && i < NSPEC; i++) g[i] = specials[i];
    return g;
}

static void test_activations_known(void **state)
{
    (void)state;
    assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0);
    float g[4] = {0, 1, -2, 10}, u[4] = {1, 1, 2, 0.5f};
    nn_silu_mul(g, u, 4);
    for (int i = 0; i < 4; i++) {
        double x = (double[]){0, 1, -2, 10}[i];
        check_close("silu", i, g[i], (float)(x / (1 + exp(-x)) * u[i]), 2e-7 * fabs(x) + 1e-30);
    }
    float h[3] = {1, -1, 3}, one[3] = {1, 1, 1};
    nn_gelu_tanh_mul(h, one, 3);
    check_close("gelu", 0, h[0], 0.8411919906082768f, 3e-7);
    check_close("gelu", 1, h[1], -0.15880800939172324f, 3e-7);
    check_close("gelu", 2, h[2], 2.99636273904952f, 6e-7);
    float c[3] = {0, 30, -1000};
    nn_softcap(c, 3, 30.0f);
    check_close("softcap", 0, c[0], 0, 0);
    check_close("softcap", 1, c[1], (float)(30 * tanh(1.0)), 1e-5);
    check_close("softcap", 2, c[2], -30, 1e-5);
    restore_isa();
}

static void test_activations(void **state)
{
    enum nn_isa isa = use_isa(state);
    static const int64_t ns[] = {1, 5, 8, 16, 17, 31, 100, 4864, 4867};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int64_t n = ns[i];
        float *g = act_input(n), *u = frand_vec(n, -3, 3);
        float *ref = malloc((size_t)n * sizeof *ref), *got = malloc((size_t)n * sizeof *got);
        assert_non_null(ref);
        assert_non_null(got);
        for (int kind = 0; kind < 3; kind++) {
            memcpy(ref, g, (size_t)n * sizeof *g);
            memcpy(got, g, (size_t)n * sizeof *g);
            nn_set_isa(NN_ISA_SCALAR);
            if (kind == 0) nn_silu_mul(ref, u, n);
            if (kind == 1) nn_gelu_tanh_mul(ref, u, n);
            if (kind == 2) nn_softcap(ref, n, 30.0f);
            nn_set_isa(isa);
            if (kind == 0) nn_silu_mul(got, u, n);
            if (kind == 1) nn_gelu_tanh_mul(got, u, n);
            if (kind == 2) nn_softcap(got, n, 30.0f);
            static const char *names[] = {"silu_mul", "gelu_tanh_mul", "softcap"};
            for (int64_t j = 0; j < n; j++) {
                /* exp and tanh within ~3 ulp, a few more roundings: 2e-6
                 * relative; gelu's 1 + tanh cancels for x << 0, where the
                 * error is relative to 0.5|x u| instead */
                double tol = 2e-6 * fabs(ref[j]) + 1e-37;
                if (kind == 1) tol += 1e-6 * fabs(g[j] * u[j]);
                check_close(names[kind], j, got[j], ref[j], tol);
            }
        }
        free(g);
        free(u);
        free(ref);
        free(got);
    }
    restore_isa();
}

/* ---- softmax, logsumexp, cross-entropy, axpy ---- */

static void test_softmax_known(void **state)
{
    (void)state;
    assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0);
    static const int64_t ns[] = {1, 2, 17, 1000};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int64_t n = ns[i];
        float *x = frand_vec(n, -20, 20), *y = malloc((size_t)n * sizeof *y);
        assert_non_null(y);
        memcpy(y, x, (size_t)n * sizeof *x);
        nn_softmax(y, n);
        double s = 0, mx = -INFINITY, se = 0;
        for (int64_t j = 0; j < n; j++) {
            s += y[j];
            if (x[j] > mx) mx = x[j];
        }
        check_close("softmax sum", 0, (float)s, 1.0f, 1e-5);
        for (int64_t j = 0; j < n; j++) se += exp(x[j] - mx);
        double lse = mx + log(se);
        /* the fp32 sum of n terms: within n u relative */
        for (int64_t j = 0; j < n; j++)
            check_close("softmax", j, y[j], (float)exp(x[j] - lse), (1e-6 + n * U) * exp(x[j] - lse) + 1e-30);
        check_close("logsumexp", 0, nn_logsumexp(x, n), (float)lse, 1e-5 * (1 + fabs(lse)));
        int64_t tgt = n / 2;
        check_close("cross_entropy", 0, nn_cross_entropy(x, n, tgt), (float)(lse - x[tgt]), 1e-5 * (1 + fabs(lse)));
        free(x);
        free(y);
    }
    float e[3] = {-INFINITY, 0, -INFINITY};
    check_close("logsumexp -inf", 0, nn_logsumexp(e, 3), 0, 0);
    nn_softmax(e, 3);
    assert_true(e[0] == 0 && e[1] == 1 && e[2] == 0);
    float a[2] = {-INFINITY, -INFINITY};
    assert_true(nn_logsumexp(a, 2) == -INFINITY);
    float ce[2] = {0, 0};
    check_close("cross_entropy uniform", 0, nn_cross_entropy(ce, 2, 1), (float)log(2.0), 1e-7);
    float y[3] = {1, 2, 3}, xx[3] = {1, 1, -1};
    nn_axpy(y, xx, 2, 3);
    assert_true(y[0] == 3 && y[1] == 4 && y[2] == 1);
    restore_isa();
}

static void test_softmax(void **state)
{
    enum nn_isa isa = use_isa(state);
    static const int64_t ns[] = {1, 3, 8, 16, 17, 100, 1000, 151936};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int64_t n = ns[i];
        float *x = frand_vec(n, -30, 30), *ref = malloc((size_t)n * sizeof *ref),
              *got = malloc((size_t)n * sizeof *got);
        assert_non_null(ref);
        assert_non_null(got);
        if (n > 4) x[3] = -INFINITY; /* a masked logit */
        memcpy(ref, x, (size_t)n * sizeof *x);
        memcpy(got, x, (size_t)n * sizeof *x);
        nn_set_isa(NN_ISA_SCALAR);
        nn_softmax(ref, n);
        float lse_r = nn_logsumexp(x, n), ce_r = nn_cross_entropy(x, n, n - 1);
        nn_set_isa(isa);
        nn_softmax(got, n);
        float lse_g = nn_logsumexp(x, n), ce_g = nn_cross_entropy(x, n, n - 1);
        /* exp within ~2 ulp, and the sum in another order: relative
         * ~n u at worst, ~sqrt(n) u in practice; 1e-6 + 2 u n^0.5 */
        double rt = 2e-6 + 2 * U * sqrt((double)n);
        for (int64_t j = 0; j < n; j++) check_close("softmax", j, got[j], ref[j], rt * fabs(ref[j]) + 1e-38);
        check_close("logsumexp", 0, lse_g, lse_r, rt * (1 + fabs(lse_r)));
        check_close("cross_entropy", 0, ce_g, ce_r, rt * (1 + fabs(lse_r)));
        /* axpy: fma against a multiply and an add: 1 ulp of the terms */
        float *y1 = frand_vec(n, -5, 5), *y2 = malloc((size_t)n * sizeof *y2);
        assert_non_null(y2);
        for (int64_t j = 0; j < n; j++) if (isinf(x[j])) x[j] = 1;
        memcpy(y2, y1, (size_t)n * sizeof *y1);
        nn_set_isa(NN_ISA_SCALAR);
        nn_axpy(y1, x, -0.75f, n);
        nn_set_isa(isa);
        nn_axpy(y2, x, -0.75f, n);
        for (int64_t j = 0; j < n; j++) check_close("axpy", j, y2[j], y1[j], 2 * U * (fabs(y1[j]) + 0.75 * fabs(x[j])) + 1e-38);
        free(y1);
        free(y2);
        free(x);
        free(ref);
        free(got);
    }
    restore_isa();
}

#define PER_ISA(fn)                                                                      \
    cmocka_unit_test_prestate(fn, (void *)&isa_scalar),                                  \
        cmocka_unit_test_prestate(fn, (void *)&isa_avx2),                                \
        cmocka_unit_test_prestate(fn, (void *)&isa_avx512)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa),
        cmocka_unit_test(test_f32_to_bf16),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_matmul_known),
        cmocka_unit_test(test_attention_known),
        cmocka_unit_test(test_norm_rope_known),
        cmocka_unit_test(test_activations_known),
        cmocka_unit_test(test_softmax_known),
        PER_ISA(test_conv),
        cmocka_unit_test_prestate(test_matmul, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_matmul, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_attention, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_attention, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_norm_rope, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_norm_rope, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_activations, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_activations, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_softmax, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_softmax, (void *)&isa_avx512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
