/* Unit tests of the backward kernels of lib/nn/cpu (kernels.h, LoRA
 * training): (1) every scalar backward against central finite differences
 * of its forward, written here again in double precision (itself checked
 * against the library's fp32 forward), as the Jacobian-vector product
 * identity <dy, J u> = <J^T dy, u> on random directions u; (2) every SIMD
 * kernel of every ISA this CPU has against the scalar reference on random
 * non-zero inputs of awkward sizes, and the same bits for every thread
 * count; (3) attention with kv_first (packed sequences) equals running each
 * segment alone, forward and backward. */
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

#ifndef TEST_SEED
#define TEST_SEED 0x2545f4914f6cdd1dull
#endif
static uint64_t rng_state = TEST_SEED;
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
static float *fvec(int64_t n, float lo, float hi)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = frand(lo, hi);
    return v;
}
static float *fdup(const float *x, int64_t n)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    memcpy(v, x, (size_t)n * sizeof *v);
    return v;
}
static double *dvec(int64_t n)
{
    double *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    assert_non_null(v);
    return v;
}

static const enum nn_isa isa_avx2 = NN_ISA_AVX2, isa_avx512 = NN_ISA_AVX512;

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

static void scalar(void) { assert_int_equal(nn_set_isa(NN_ISA_SCALAR), 0); }

static void check_close(const char *what, int64_t i, double got, double want, double tol)
{
    double d = fabs(got - want);
    if (!(d <= tol) && !(got == want))
        fail_msg("%s[%lld]: got %.9g, want %.9g (|diff| %.3g > tol %.3g)", what, (long long)i, got,
                 want, d, tol);
}

/* <a, b> of a float gradient and a double direction, and sum |a_i b_i|. */
static double fdot(const float *a, const double *b, int64_t n, double *abssum)
{
    double s = 0, as = 0;
    for (int64_t i = 0; i < n; i++) {
        s += a[i] * b[i];
        as += fabs(a[i] * b[i]);
    }
    if (abssum) *abssum += as;
    return s;
}

/* The JVP identity: analytic = <grad, u>, numeric = central difference of
 * <dy, f>. fp32 gradients are good to ~1e-5 of sum |grad_i u_i| (sums of
 * some hundred terms with |relative error| ~1e-6 each); the double central
 * difference with h = 1e-4 to ~1e-8. A wrong term (a missing factor,
 * window or mask) is off by O(1) of the terms. */
static void check_jvp(const char *what, double analytic, double numeric, double abssum)
{
    double tol = 1e-4 * abssum + 1e-7;
    if (!(fabs(analytic - numeric) <= tol))
        fail_msg("%s: <grad, u> = %.9g but the finite difference is %.9g (tol %.3g)", what,
                 analytic, numeric, tol);
}

#define FD_H 1e-4

static double *to_d(const float *x, int64_t n)
{
    double *d = dvec(n);
    for (int64_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
static double *rand_dir(int64_t n)
{
    double *d = dvec(n);
    for (int64_t i = 0; i < n; i++) d[i] = frand(-1, 1);
    return d;
}
/* x + e u */
static void axpy_d(double *out, const double *x, double e, const double *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = x[i] + e * u[i];
}
static double dot_fd(const float *dy, const double *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += dy[i] * y[i];
    return s;
}

/* ---- forwards in double ---- */

static void rmsnorm_d(double *out, const double *x, const float *w, int64_t T, int64_t n,
                      double eps, int add_one)
{
    for (int64_t t = 0; t < T; t++) {
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += x[t * n + i] * x[t * n + i];
        double r = 1 / sqrt(ss / n + eps);
        for (int64_t i = 0; i < n; i++)
            out[t * n + i] = x[t * n + i] * r * (add_one ? 1.0 + w[i] : (double)w[i]);
    }
}

static void rope_d(double *x, int64_t T, int64_t H, int64_t hd, const float *c, const float *s)
{
    int64_t half = hd / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            double *r = x + (t * H + h) * hd;
            for (int64_t i = 0; i < half; i++) {
                double a = r[i], b = r[i + half];
                r[i] = a * c[t * half + i] - b * s[t * half + i];
                r[i + half] = b * c[t * half + i] + a * s[t * half + i];
            }
        }
}

static double silu_d(double x) { return x / (1 + exp(-x)); }
static double gelu_d(double x)
{
    return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/* Two-pass attention in double, with everything the kernels support. */
static void attn_d(const nn_attn_shape *s, const double *q, const double *k, const double *v,
                   double *out, double *lse)
{
    const int64_t H = s->n_heads, hd = s->head_dim, group = H / s->n_kv_heads;
    const int64_t P = s->pos0 + s->T;
    double *sc = dvec(P);
    for (int64_t t = 0; t < s->T; t++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t p = s->pos0 + t, kvh = h / group;
            const double *qr = q + (t * H + h) * hd;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j <= p; j++) {
                sc[j] = -INFINITY;
                if (s->window > 0 && j <= p - s->window) continue;
                if (s->kv_first && j < s->kv_first[t]) continue;
                double d = 0;
                for (int64_t e = 0; e < hd; e++) d += qr[e] * k[j * s->kv_stride + kvh * hd + e];
                d *= s->scale;
                if (s->softcap > 0) d = s->softcap * tanh(d / s->softcap);
                sc[j] = d;
                if (d > mx) mx = d;
            }
            for (int64_t j = 0; j <= p; j++) sum += sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
            double *o = out + (t * H + h) * hd;
            for (int64_t e = 0; e < hd; e++) {
                double a = 0;
                for (int64_t j = 0; j <= p; j++)
                    if (sc[j] != -INFINITY) a += exp(sc[j] - mx) * v[j * s->kv_stride + kvh * hd + e];
                o[e] = sum > 0 ? a / sum : 0;
            }
            if (lse) lse[t * H + h] = sum > 0 ? mx + log(sum) : -INFINITY;
        }
    free(sc);
}

/* ---- (1) scalar backward against finite differences ---- */

static void test_fd_matmul(void **state)
{
    (void)state;
    scalar();
    /* dx: y = x W^T, linear in x: <dy, u W^T> = <dy W, u> */
    const int64_t T = 5, N = 13, K = 19;
    float *wf = fvec(N * K, -1, 1);
    uint16_t *wb = malloc((size_t)(N * K) * sizeof *wb);
    assert_non_null(wb);
    for (int64_t i = 0; i < N * K; i++) {
        wb[i] = nn_f32_to_bf16(wf[i]);
        wf[i] = nn_bf16_to_f32(wb[i]); /* the same values in both dtypes */
    }
    float *dy = fvec(T * N, -1, 1), *x = fvec(T * K, -1, 1), *init = fvec(T * K, -1, 1);
    for (int dt = 0; dt < 2; dt++) {
        nn_mat w = {.data = dt ? (const void *)wb : (const void *)wf, .dtype = dt ? NN_BF16 : NN_F32,
                    .rows = N, .cols = K};
        float *dx = fdup(init, T * K);
        nn_matmul_dx(NULL, dx, dy, T, &w, -0.5f, dt);
        double *u = rand_dir(T * K), *y = dvec(T * N);
        for (int64_t t = 0; t < T; t++)
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < K; k++) y[t * N + n] += u[t * K + k] * wf[n * K + k];
        double as = 0, an = 0;
        for (int64_t i = 0; i < T * K; i++) {
            double g = dx[i] - (dt ? init[i] : 0); /* accumulate: remove what was there */
            an += g * u[i];
            as += fabs(g * u[i]) + (dt ? fabs(init[i] * u[i]) * 1e-3 : 0);
        }
        check_jvp("matmul_dx", an, -0.5 * dot_fd(dy, y, T * N), as);
        /* also with the library's forward: nn_matmul of u (rounded) */
        free(dx);
        free(u);
        free(y);
    }
    /* dw: y = x W^T, linear in W: <dy, x U^T> = <dw, U> */
    float *dw = fvec(N * K, -1, 1), *dw0 = fdup(dw, N * K);
    for (int acc = 0; acc < 2; acc++) {
        memcpy(dw, dw0, (size_t)(N * K) * sizeof *dw);
        nn_matmul_dw(NULL, dw, dy, x, T, N, K, 2.0f, acc);
        double *u = rand_dir(N * K), *y = dvec(T * N);
        for (int64_t t = 0; t < T; t++)
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < K; k++) y[t * N + n] += x[t * K + k] * u[n * K + k];
        double an = 0, as = 0;
        for (int64_t i = 0; i < N * K; i++) {
            double g = dw[i] - (acc ? dw0[i] : 0);
            an += g * u[i];
            as += fabs(dw[i] * u[i]) + fabs(dw0[i] * u[i]);
        }
        check_jvp("matmul_dw", an, 2.0 * dot_fd(dy, y, T * N), as);
        free(u);
        free(y);
    }
    /* one element by hand */
    float a1[2] = {1, 2}, b1[2] = {3, -1}, w1[1] = {0.5f};
    nn_matmul_dw(NULL, w1, a1, b1, 2, 1, 1, 1.0f, 1); /* 0.5 + 1*3 + 2*(-1) */
    assert_true(w1[0] == 1.5f);
    free(wf);
    free(wb);
    free(dy);
    free(x);
    free(init);
    free(dw);
    free(dw0);
}

static void test_fd_rmsnorm_rope(void **state)
{
    (void)state;
    scalar();
    const int64_t T = 3, n = 37;
    float *x = fvec(T * n, -2, 2), *w = fvec(n, -1.5f, 1.5f), *dy = fvec(T * n, -1, 1);
    double *xd = to_d(x, T * n), *xp = dvec(T * n), *yp = dvec(T * n), *ym = dvec(T * n);
    float *yf = fvec(T * n, 0, 1);
    for (int add_one = 0; add_one < 2; add_one++)
        for (int acc = 0; acc < 2; acc++) {
            /* the double forward is the library's forward */
            nn_rmsnorm(yf, x, w, T, n, 1e-5f, add_one);
            rmsnorm_d(yp, xd, w, T, n, 1e-5, add_one);
            for (int64_t i = 0; i < T * n; i++) check_close("rmsnorm fwd", i, yf[i], yp[i], 1e-5 * (1 + fabs(yp[i])));
            float *dx = fvec(T * n, -1, 1), *dx0 = fdup(dx, T * n);
            nn_rmsnorm_backward(dx, dy, x, w, T, n, 1e-5f, add_one, acc);
            for (int rep = 0; rep < 3; rep++) {
                double *u = rand_dir(T * n);
                if (rep == 2) /* one coordinate */
                    for (int64_t i = 0; i < T * n; i++) u[i] = i == 40 ? 1 : 0;
                axpy_d(xp, xd, FD_H, u, T * n);
                rmsnorm_d(yp, xp, w, T, n, 1e-5, add_one);
                axpy_d(xp, xd, -FD_H, u, T * n);
                rmsnorm_d(ym, xp, w, T, n, 1e-5, add_one);
                double num = (dot_fd(dy, yp, T * n) - dot_fd(dy, ym, T * n)) / (2 * FD_H);
                double an = 0, as = 0;
                for (int64_t i = 0; i < T * n; i++) {
                    double g = (double)dx[i] - (acc ? dx0[i] : 0);
                    an += g * u[i];
                    as += fabs(dx[i] * u[i]) + fabs(dx0[i] * u[i]);
                }
                check_jvp(add_one ? "rmsnorm_backward (1+w)" : "rmsnorm_backward (w)", an, num, as);
                free(u);
            }
            free(dx);
            free(dx0);
        }
    /* rope: orthogonal, its backward is the transpose: <dy, R u> = <R^T dy, u> */
    const int64_t H = 3, hd = 10, half = 5;
    float *cs = fvec(T * half, -1, 1), *sn = fvec(T * half, -1, 1);
    for (int64_t i = 0; i < T * half; i++) {
        double a = frand(-10, 10);
        cs[i] = (float)cos(a);
        sn[i] = (float)sin(a);
    }
    float *g = fvec(T * H * hd, -1, 1), *g0 = fdup(g, T * H * hd);
    nn_rope_backward(g, T, H, hd, cs, sn);
    double *u = rand_dir(T * H * hd), *ru = dvec(T * H * hd);
    memcpy(ru, u, (size_t)(T * H * hd) * sizeof *u);
    rope_d(ru, T, H, hd, cs, sn);
    double as = 0, an = fdot(g, u, T * H * hd, &as);
    check_jvp("rope_backward", an, dot_fd(g0, ru, T * H * hd), as);
    /* and it undoes nn_rope (cos^2 + sin^2 = 1 up to rounding) */
    float *r2 = fdup(g0, T * H * hd);
    nn_rope(r2, T, H, hd, cs, sn);
    nn_rope_backward(r2, T, H, hd, cs, sn);
    for (int64_t i = 0; i < T * H * hd; i++) check_close("rope_backward(rope(x))", i, r2[i], g0[i], 1e-6);
    free(r2);
    free(u);
    free(ru);
    free(g);
    free(g0);
    free(cs);
    free(sn);
    free(x);
    free(w);
    free(dy);
    free(xd);
    free(xp);
    free(yp);
    free(ym);
    free(yf);
}

static void test_fd_elementwise(void **state)
{
    (void)state;
    scalar();
    const int64_t n = 61;
    float *g = fvec(n, -6, 6), *u = fvec(n, -2, 2), *dy = fvec(n, -1, 1);
    g[0] = 0.0f;
    g[1] = 1e-3f;
    g[2] = -20.0f;
    g[3] = 20.0f;
    float *dg = fvec(n, 0, 1), *du = fvec(n, 0, 1);
    for (int kind = 0; kind < 2; kind++) {
        const char *name = kind ? "gelu_tanh_mul_backward" : "silu_mul_backward";
        double (*act)(double) = kind ? gelu_d : silu_d;
        if (kind)
            nn_gelu_tanh_mul_backward(dg, du, dy, g, u, n);
        else
            nn_silu_mul_backward(dg, du, dy, g, u, n);
        float *fw = fdup(g, n);
        if (kind)
            nn_gelu_tanh_mul(fw, u, n);
        else
            nn_silu_mul(fw, u, n);
        for (int64_t i = 0; i < n; i++) {
            double x = g[i];
            check_close(name, i, fw[i], act(x) * u[i], 1e-6 * (fabs(act(x) * u[i]) + fabs(x * u[i])) + 1e-30);
            double d = (act(x + FD_H) - act(x - FD_H)) / (2 * FD_H);
            /* fp32 arithmetic on O(1) values: ~1e-6 relative, plus the
             * difference's ~h^2 error; act' is a sum of terms of size up to
             * 1 + |x| that cancel (1 + tanh for x << 0, the zero of silu'
             * near -1.28), so the error is relative to that size */
            check_close(name, i, dg[i], dy[i] * u[i] * d, 2e-6 * fabs(dy[i] * u[i]) * (1 + fabs(d) + fabs(x)) + 1e-9);
            /* a = act(x): gelu's 1 + tanh cancels for x << 0 (error ~u |x|) */
            check_close(name, i, du[i], dy[i] * act(x), 2e-6 * fabs(dy[i] * act(x)) + 4 * U * fabs(dy[i] * x) + 1e-12);
        }
        free(fw);
    }
    /* softcap: x -> c tanh(x/c) */
    float *dx = fvec(n, 0, 1), *x = fvec(n, -80, 80);
    const double c = 30;
    nn_softcap_backward(dx, dy, x, n, 30.0f);
    for (int64_t i = 0; i < n; i++) {
        double d = (c * tanh((x[i] + FD_H) / c) - c * tanh((x[i] - FD_H) / c)) / (2 * FD_H);
        check_close("softcap_backward", i, dx[i], dy[i] * d, 2e-6 * fabs(dy[i]) + 1e-9);
    }
    /* in place: dgate = gate, dup = up */
    float *g2 = fdup(g, n), *u2 = fdup(u, n);
    nn_silu_mul_backward(g2, u2, dy, g2, u2, n);
    nn_silu_mul_backward(dg, du, dy, g, u, n);
    assert_memory_equal(g2, dg, (size_t)n * sizeof *dg);
    assert_memory_equal(u2, du, (size_t)n * sizeof *du);
    free(g2);
    free(u2);
    free(x);
    free(dx);
    free(g);
    free(u);
    free(dy);
    free(dg);
    free(du);
}

static void test_fd_cross_entropy(void **state)
{
    (void)state;
    scalar();
    static const int64_t ns[] = {1, 2, 17, 300};
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        const int64_t n = ns[c], tgt = n / 3;
        float *x = fvec(n, -8, 8), *dx = fvec(n, 0, 1);
        double mx = -INFINITY, se = 0;
        for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
        for (int64_t i = 0; i < n; i++) se += exp(x[i] - mx);
        const double lse = mx + log(se);
        float loss = nn_cross_entropy_backward(dx, x, n, tgt, 0.25f);
        check_close("cross_entropy_backward loss", 0, loss, lse - x[tgt], 2e-6 * (1 + fabs(lse)));
        assert_true(loss == nn_cross_entropy(x, n, tgt) || fabs(loss - nn_cross_entropy(x, n, tgt)) < 1e-6);
        for (int64_t i = 0; i < n; i++) {
            /* d/dx_i (lse - x_tgt), by central differences in double */
            double sp = 0, sm = 0;
            for (int64_t j = 0; j < n; j++) {
                sp += exp(x[j] + (j == i ? FD_H : 0) - mx);
                sm += exp(x[j] - (j == i ? FD_H : 0) - mx);
            }
            double d = (log(sp) - log(sm)) / (2 * FD_H) - (i == tgt);
            check_close("cross_entropy_backward", i, dx[i], 0.25 * d, 1e-6 * 0.25 * (1 + fabs(d)));
        }
        /* dx may equal x */
        float *y = fdup(x, n);
        float l2 = nn_cross_entropy_backward(y, y, n, tgt, 0.25f);
        assert_true(l2 == loss);
        assert_memory_equal(y, dx, (size_t)n * sizeof *dx);
        /* log-softmax */
        memcpy(y, x, (size_t)n * sizeof *x);
        nn_log_softmax(y, n);
        for (int64_t i = 0; i < n; i++) check_close("log_softmax", i, y[i], x[i] - lse, 2e-6 * (1 + fabs(lse) + fabs(x[i])));
        free(y);
        free(x);
        free(dx);
    }
}

/* ---- attention ---- */

typedef struct {
    int64_t T, H, KVH, hd, window;
    float softcap;
    int nseg; /* > 0: kv_first of that many packed segments */
} at_case;

static const at_case at_cases[] = {
    {1, 2, 2, 8, 0, 0, 0},    {6, 4, 2, 16, 0, 0, 0},   {9, 4, 1, 12, 3, 0, 0},
    {11, 2, 1, 20, 0, 5, 0},  {13, 6, 2, 17, 4, 3, 0},  {10, 2, 2, 8, 0, 0, 3},
    {17, 4, 2, 33, 5, 4, 4},  {21, 3, 3, 5, 0, 0, 2},   {19, 8, 2, 64, 0, 0, 0},
};

typedef struct {
    float *q, *k, *v, *dout;
    int64_t *kv_first;
    nn_attn_shape s;
} at_data;

/* Segment starts: nseg cuts at random positions (one may be empty). */
static int64_t *make_segments(int64_t T, int nseg)
{
    int64_t *f = malloc((size_t)T * sizeof *f);
    assert_non_null(f);
    int64_t start = 0;
    for (int64_t t = 0; t < T; t++) {
        if (t > 0 && (int64_t)(rnd() % (uint32_t)T) < nseg - 1) start = t;
        f[t] = start;
    }
    return f;
}

static at_data at_make(const at_case *c)
{
    at_data d;
    const int64_t kvs = c->KVH * c->hd + 3; /* not dense: the stride is honoured */
    d.q = fvec(c->T * c->H * c->hd, -1.5f, 1.5f);
    d.k = fvec(c->T * kvs, -1.5f, 1.5f);
    d.v = fvec(c->T * kvs, -1, 1);
    d.dout = fvec(c->T * c->H * c->hd, -1, 1);
    d.kv_first = c->nseg ? make_segments(c->T, c->nseg) : NULL;
    d.s = (nn_attn_shape){.T = c->T, .pos0 = 0, .n_heads = c->H, .n_kv_heads = c->KVH,
                          .head_dim = c->hd, .kv_stride = kvs, .window = c->window,
                          .scale = 1.0f / sqrtf((float)c->hd), .softcap = c->softcap,
                          .kv_first = d.kv_first};
    return d;
}

static void at_free(at_data *d)
{
    free(d->q);
    free(d->k);
    free(d->v);
    free(d->dout);
    free(d->kv_first);
}

typedef struct {
    float *out, *lse, *dq, *dk, *dv;
} at_grads;

static at_grads at_run(nn_pool *p, const at_data *d)
{
    const nn_attn_shape *s = &d->s;
    const int64_t nq = s->T * s->n_heads * s->head_dim, nk = s->T * s->n_kv_heads * s->head_dim;
    at_grads g = {fvec(nq, 5, 6), fvec(s->T * s->n_heads, 5, 6), fvec(nq, 5, 6), fvec(nk, 5, 6),
                  fvec(nk, 5, 6)};
    nn_attention_lse(p, g.out, g.lse, d->q, d->k, d->v, s);
    nn_attention_backward(p, g.dq, g.dk, g.dv, d->dout, d->q, d->k, d->v, g.out, g.lse, s);
    return g;
}

static void at_gfree(at_grads *g)
{
    free(g->out);
    free(g->lse);
    free(g->dq);
    free(g->dk);
    free(g->dv);
}

static void test_fd_attention(void **state)
{
    (void)state;
    scalar();
    for (size_t ci = 0; ci < sizeof at_cases / sizeof *at_cases; ci++) {
        at_data d = at_make(&at_cases[ci]);
        const nn_attn_shape *s = &d.s;
        const int64_t nq = s->T * s->n_heads * s->head_dim, nkv = s->T * s->kv_stride;
        at_grads g = at_run(NULL, &d);
        double *qd = to_d(d.q, nq), *kd = to_d(d.k, nkv), *vd = to_d(d.v, nkv);
        double *od = dvec(nq), *ld = dvec(s->T * s->n_heads), *op = dvec(nq), *om = dvec(nq);
        double *xp = dvec(nkv > nq ? nkv : nq);
        /* the forward, and lse, against double */
        attn_d(s, qd, kd, vd, od, ld);
        char what[96];
        snprintf(what, sizeof what, "attention case %zu out", ci);
        for (int64_t i = 0; i < nq; i++) check_close(what, i, g.out[i], od[i], 1e-5);
        snprintf(what, sizeof what, "attention case %zu lse", ci);
        for (int64_t i = 0; i < s->T * s->n_heads; i++) check_close(what, i, g.lse[i], ld[i], 1e-5 * (1 + fabs(ld[i])));
        /* the JVP along q, k, v separately; dk, dv are dense [T][KVH][hd],
         * k, v strided */
        for (int which = 0; which < 3; which++) {
            const int64_t n = which == 0 ? nq : nkv;
            double *u = rand_dir(n);
            const double *base = which == 0 ? qd : which == 1 ? kd : vd;
            double an = 0, as = 0;
            if (which == 0) {
                an = fdot(g.dq, u, nq, &as);
            } else {
                const float *gr = which == 1 ? g.dk : g.dv;
                const int64_t row = s->n_kv_heads * s->head_dim;
                for (int64_t j = 0; j < s->T; j++) {
                    an += fdot(gr + j * row, u + j * s->kv_stride, row, &as);
                    for (int64_t e = row; e < s->kv_stride; e++) u[j * s->kv_stride + e] = 0; /* padding */
                }
            }
            for (int sign = 0; sign < 2; sign++) {
                axpy_d(xp, base, sign ? -FD_H : FD_H, u, n);
                attn_d(s, which == 0 ? xp : qd, which == 1 ? xp : kd, which == 2 ? xp : vd,
                       sign ? om : op, NULL);
            }
            double num = (dot_fd(d.dout, op, nq) - dot_fd(d.dout, om, nq)) / (2 * FD_H);
            snprintf(what, sizeof what, "attention case %zu: d%c (T=%lld H=%lld KVH=%lld hd=%lld w=%lld cap=%g seg=%d)",
                     ci, "qkv"[which], (long long)s->T, (long long)s->n_heads, (long long)s->n_kv_heads,
                     (long long)s->head_dim, (long long)s->window, (double)s->softcap, at_cases[ci].nseg);
            check_jvp(what, an, num, as);
            free(u);
        }
        free(qd);
        free(kd);
        free(vd);
        free(od);
        free(ld);
        free(op);
        free(om);
        free(xp);
        at_gfree(&g);
        at_free(&d);
    }
}

/* (3) packed segments: kv_first equals running each segment alone, bit for
 * bit (the same keys in the same order), forward, lse and backward, for
 * every ISA. */
static void test_kv_first_segments(void **state)
{
    (void)state;
    static const int64_t lens[] = {5, 1, 9, 3};
    const int64_t T = 18, H = 4, KVH = 2, hd = 24;
    for (int isa = NN_ISA_SCALAR; isa <= NN_ISA_AVX512; isa++) {
        if (!nn_isa_supported((enum nn_isa)isa)) continue;
        nn_set_isa((enum nn_isa)isa);
        for (int variant = 0; variant < 3; variant++) {
            at_case c = {T, H, KVH, hd, variant == 1 ? 4 : 0, variant == 2 ? 3.0f : 0.0f, 0};
            at_data d = at_make(&c);
            d.kv_first = malloc((size_t)T * sizeof *d.kv_first);
            assert_non_null(d.kv_first);
            for (int64_t sgi = 0, t0 = 0; sgi < 4; t0 += lens[sgi++])
                for (int64_t t = t0; t < t0 + lens[sgi]; t++) d.kv_first[t] = t0;
            d.s.kv_first = d.kv_first;
            at_grads g = at_run(NULL, &d);
            const int64_t qr = H * hd, kr = KVH * hd, ks = d.s.kv_stride;
            for (int64_t sgi = 0, t0 = 0; sgi < 4; t0 += lens[sgi++]) {
                at_data e = d;
                e.q = d.q + t0 * qr;
                e.k = d.k + t0 * ks;
                e.v = d.v + t0 * ks;
                e.dout = d.dout + t0 * qr;
                e.kv_first = NULL;
                e.s.T = lens[sgi];
                e.s.kv_first = NULL;
                at_grads h = at_run(NULL, &e);
                char what[80];
                snprintf(what, sizeof what, "%s kv_first variant %d segment %lld", nn_isa_name((enum nn_isa)isa), variant, (long long)sgi);
                const size_t nq = (size_t)(lens[sgi] * qr) * sizeof(float), nk = (size_t)(lens[sgi] * kr) * sizeof(float);
                if (memcmp(h.out, g.out + t0 * qr, nq)) fail_msg("%s: out differs", what);
                if (memcmp(h.lse, g.lse + t0 * H, (size_t)(lens[sgi] * H) * sizeof(float))) fail_msg("%s: lse differs", what);
                if (memcmp(h.dq, g.dq + t0 * qr, nq)) fail_msg("%s: dq differs", what);
                if (memcmp(h.dk, g.dk + t0 * kr, nk)) fail_msg("%s: dk differs", what);
                if (memcmp(h.dv, g.dv + t0 * kr, nk)) fail_msg("%s: dv differs", what);
                at_gfree(&h);
            }
            at_gfree(&g);
            at_free(&d);
        }
    }
    scalar();
}

/* ---- (2) SIMD against the scalar reference ---- */

/* Summing m products in two orders differs by at most about (m + 32) u
 * sum|terms| (gamma_m plus the SIMD lanes and blocks); a missing or
 * repeated term (~sum/m) is well above it. */
static double sum_tol(int64_t m, double abssum, double rest) { return (double)(m + 32) * U * abssum + 4 * U * rest + 1e-30; }

static void test_matmul_dx(void **state)
{
    enum nn_isa isa = use_isa(state);
    typedef struct {
        int64_t T, N, K;
        enum nn_dtype dt;
        int acc;
        float alpha;
    } cs;
    static const cs cases[] = {
        {1, 5, 7, NN_F32, 0, 1}, {3, 17, 33, NN_BF16, 1, 0.5f}, {4, 31, 100, NN_F16, 0, -2},
        {7, 96, 97, NN_BF16, 1, 1}, {13, 129, 64, NN_F32, 1, 1}, {33, 600, 200, NN_BF16, 0, 1},
        {70, 1100, 130, NN_BF16, 1, 0.25f}, {5, 700, 390, NN_F16, 0, 1}, {9, 513, 1, NN_F32, 1, 1},
    };
    nn_pool *p2 = nn_pool_new(2), *p3 = nn_pool_new(3);
    assert_non_null(p2);
    assert_non_null(p3);
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const cs *c = &cases[ci];
        float *wv = fvec(c->N * c->K, -1, 1);
        uint16_t *wh = malloc((size_t)(c->N * c->K) * sizeof *wh);
        assert_non_null(wh);
        for (int64_t i = 0; i < c->N * c->K; i++) {
            if (c->dt == NN_BF16) {
                wh[i] = nn_f32_to_bf16(wv[i]);
                wv[i] = nn_bf16_to_f32(wh[i]);
            } else if (c->dt == NN_F16) {
                wh[i] = (uint16_t)((rnd() & 1) << 15 | (10 + rnd() % 8) << 10 | (rnd() & 1023));
                wv[i] = nn_f16_to_f32(wh[i]);
            }
        }
        nn_mat w = {.data = c->dt == NN_F32 ? (const void *)wv : (const void *)wh, .dtype = c->dt,
                    .rows = c->N, .cols = c->K};
        float *dy = fvec(c->T * c->N, -1, 1), *init = fvec(c->T * c->K, -2, 2);
        float *ref = fdup(init, c->T * c->K), *got = fvec(c->T * c->K + 16, 0, 1),
              *got2 = fdup(init, c->T * c->K), *got3 = fdup(init, c->T * c->K);
        memcpy(got, init, (size_t)(c->T * c->K) * sizeof *got);
        for (int64_t i = c->T * c->K; i < c->T * c->K + 16; i++) got[i] = 7.0f;
        scalar();
        nn_matmul_dx(NULL, ref, dy, c->T, &w, c->alpha, c->acc);
        nn_set_isa(isa);
        nn_matmul_dx(NULL, got, dy, c->T, &w, c->alpha, c->acc);
        nn_matmul_dx(p2, got2, dy, c->T, &w, c->alpha, c->acc);
        nn_matmul_dx(p3, got3, dy, c->T, &w, c->alpha, c->acc);
        char what[96];
        snprintf(what, sizeof what, "%s matmul_dx T=%lld N=%lld K=%lld dt=%d", nn_isa_name(isa),
                 (long long)c->T, (long long)c->N, (long long)c->K, (int)c->dt);
        for (int64_t t = 0; t < c->T; t++)
            for (int64_t k = 0; k < c->K; k++) {
                double as = 0;
                for (int64_t n = 0; n < c->N; n++) as += fabs((double)dy[t * c->N + n] * wv[n * c->K + k]);
                const int64_t i = t * c->K + k;
                double rest = fabs(ref[i]) + (c->acc ? fabs(init[i]) : 0) + fabs(c->alpha) * as;
                check_close(what, i, got[i], ref[i], sum_tol(c->N, fabs(c->alpha) * as, rest));
            }
        size_t ob = (size_t)(c->T * c->K) * sizeof(float);
        if (memcmp(got, got2, ob) || memcmp(got, got3, ob)) fail_msg("%s: the thread count changed the result", what);
        for (int64_t i = c->T * c->K; i < c->T * c->K + 16; i++)
            if (got[i] != 7.0f) fail_msg("%s: written past the end", what);
        free(wv);
        free(wh);
        free(dy);
        free(init);
        free(ref);
        free(got);
        free(got2);
        free(got3);
    }
    nn_pool_free(p2);
    nn_pool_free(p3);
    scalar();
}

static void test_matmul_dw(void **state)
{
    enum nn_isa isa = use_isa(state);
    static const int64_t shapes[][3] = {
        /* T, N, K */
        {1, 1, 1}, {3, 5, 7}, {7, 6, 16}, {9, 13, 17}, {17, 8, 64}, {30, 7, 65},
        {64, 100, 8}, {33, 16, 300}, {200, 37, 24}, {5, 896, 16}, {40, 16, 896},
        {11, 9, 120}, {6, 5, 61}, {8, 3, 47}, {9, 3, 47}, {12, 7, 120}, {4, 2, 23},
    };
    nn_pool *p2 = nn_pool_new(2), *p3 = nn_pool_new(3);
    assert_non_null(p2);
    assert_non_null(p3);
    for (size_t ci = 0; ci < sizeof shapes / sizeof *shapes; ci++) {
        const int64_t T = shapes[ci][0], N = shapes[ci][1], K = shapes[ci][2];
        const int acc = (int)(ci & 1);
        const float alpha = ci % 3 == 2 ? -0.5f : 1.0f;
        float *dy = fvec(T * N, -1, 1), *x = fvec(T * K, -1, 1), *init = fvec(N * K, -2, 2);
        float *ref = fdup(init, N * K), *got = fvec(N * K + 16, 0, 1), *got2 = fdup(init, N * K),
              *got3 = fdup(init, N * K);
        memcpy(got, init, (size_t)(N * K) * sizeof *got);
        for (int64_t i = N * K; i < N * K + 16; i++) got[i] = 7.0f; /* nothing written past dw */
        scalar();
        nn_matmul_dw(NULL, ref, dy, x, T, N, K, alpha, acc);
        nn_set_isa(isa);
        nn_matmul_dw(NULL, got, dy, x, T, N, K, alpha, acc);
        nn_matmul_dw(p2, got2, dy, x, T, N, K, alpha, acc);
        nn_matmul_dw(p3, got3, dy, x, T, N, K, alpha, acc);
        char what[96];
        snprintf(what, sizeof what, "%s matmul_dw T=%lld N=%lld K=%lld", nn_isa_name(isa), (long long)T,
                 (long long)N, (long long)K);
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++) {
                double as = 0;
                for (int64_t t = 0; t < T; t++) as += fabs((double)dy[t * N + n] * x[t * K + k]);
                const int64_t i = n * K + k;
                double rest = fabs(ref[i]) + (acc ? fabs(init[i]) : 0) + fabs(alpha) * as;
                check_close(what, i, got[i], ref[i], sum_tol(T, fabs(alpha) * as, rest));
            }
        size_t ob = (size_t)(N * K) * sizeof(float);
        if (memcmp(got, got2, ob) || memcmp(got, got3, ob)) fail_msg("%s: the thread count changed the result", what);
        for (int64_t i = N * K; i < N * K + 16; i++)
            if (got[i] != 7.0f) fail_msg("%s: written past the end", what);
        free(dy);
        free(x);
        free(init);
        free(ref);
        free(got);
        free(got2);
        free(got3);
    }
    nn_pool_free(p2);
    nn_pool_free(p3);
    scalar();
}

static void test_attention_bwd(void **state)
{
    enum nn_isa isa = use_isa(state);
    nn_pool *p3 = nn_pool_new(3);
    assert_non_null(p3);
    for (size_t ci = 0; ci < sizeof at_cases / sizeof *at_cases; ci++) {
        at_data d = at_make(&at_cases[ci]);
        const nn_attn_shape *s = &d.s;
        const int64_t H = s->n_heads, KVH = s->n_kv_heads, hd = s->head_dim, T = s->T;
        const int64_t nq = T * H * hd, nk = T * KVH * hd, group = H / KVH;
        scalar();
        at_grads r = at_run(NULL, &d);
        nn_set_isa(isa);
        at_grads g = at_run(NULL, &d), g3 = at_run(p3, &d);
        /* the same bits for any thread count */
        assert_memory_equal(g.dq, g3.dq, (size_t)nq * sizeof(float));
        assert_memory_equal(g.dk, g3.dk, (size_t)nk * sizeof(float));
        assert_memory_equal(g.dv, g3.dv, (size_t)nk * sizeof(float));
        /* Tolerances from the sizes of the terms, in double from the
         * reference's own quantities: with p = exp(s - lse) and ds = p (dp - D)
         * the errors of dp and D (hd products each, ~hd u |dout||v|) and of p
         * (exp, tanh: a few ulp) make each term of dq, dk good to about
         * (hd + 64) u p (|dp| + |D| + 1) |k| scale; dv's terms p |dout|. */
        double *aq = dvec(nq), *ak = dvec(nk), *av = dvec(nk);
        for (int64_t t = 0; t < T; t++)
            for (int64_t h = 0; h < H; h++) {
                const int64_t kvh = h / group, i = t * H + h;
                const float *q = d.q + i * hd, *dout = d.dout + i * hd, *o = r.out + i * hd;
                double D = 0;
                for (int64_t e = 0; e < hd; e++) D += (double)dout[e] * o[e];
                for (int64_t j = 0; j <= t; j++) {
                    if (s->window > 0 && j <= t - s->window) continue;
                    if (s->kv_first && j < s->kv_first[t]) continue;
                    const float *kj = d.k + j * s->kv_stride + kvh * hd, *vj = d.v + j * s->kv_stride + kvh * hd;
                    double sc = 0, dp = 0;
                    for (int64_t e = 0; e < hd; e++) {
                        sc += (double)q[e] * kj[e];
                        dp += (double)dout[e] * vj[e];
                    }
                    sc *= s->scale;
                    if (s->softcap > 0) sc = s->softcap * tanh(sc / s->softcap);
                    const double p = exp(sc - r.lse[i]), w = p * (fabs(dp) + fabs(D) + 1) * s->scale;
                    for (int64_t e = 0; e < hd; e++) {
                        aq[i * hd + e] += w * fabs(kj[e]);
                        ak[(j * KVH + kvh) * hd + e] += w * fabs(q[e]);
                        av[(j * KVH + kvh) * hd + e] += p * fabs(dout[e]);
                    }
                }
            }
        const double rel = 4.0 * (double)(hd + 64) * U;
        char what[64];
        snprintf(what, sizeof what, "%s attention_backward case %zu dq", nn_isa_name(isa), ci);
        for (int64_t i = 0; i < nq; i++) check_close(what, i, g.dq[i], r.dq[i], rel * aq[i] + 1e-30);
        snprintf(what, sizeof what, "%s attention_backward case %zu dk", nn_isa_name(isa), ci);
        for (int64_t i = 0; i < nk; i++) check_close(what, i, g.dk[i], r.dk[i], rel * ak[i] + 1e-30);
        snprintf(what, sizeof what, "%s attention_backward case %zu dv", nn_isa_name(isa), ci);
        for (int64_t i = 0; i < nk; i++) check_close(what, i, g.dv[i], r.dv[i], rel * av[i] + 1e-30);
        /* the forward with kv_first (as test_kernels.c's attention test:
         * scores in another order, exp and tanh within a few ulp) */
        snprintf(what, sizeof what, "%s attention (kv_first %d) case %zu", nn_isa_name(isa), s->kv_first != NULL, ci);
        for (int64_t i = 0; i < nq; i++) check_close(what, i, g.out[i], r.out[i], 1e-5 + 1e-5 * fabs(r.out[i]));
        assert_memory_equal(g.out, g3.out, (size_t)nq * sizeof(float));
        snprintf(what, sizeof what, "%s attention_lse case %zu", nn_isa_name(isa), ci);
        for (int64_t i = 0; i < T * H; i++) check_close(what, i, g.lse[i], r.lse[i], 1e-6 * (1 + fabs(r.lse[i])));
        free(aq);
        free(ak);
        free(av);
        at_gfree(&r);
        at_gfree(&g);
        at_gfree(&g3);
        at_free(&d);
    }
    nn_pool_free(p3);
    scalar();
}

static void test_rows_bwd(void **state)
{
    enum nn_isa isa = use_isa(state);
    static const int64_t ns[] = {1, 2, 7, 8, 15, 16, 17, 33, 100, 896, 1001};
    for (size_t ci = 0; ci < sizeof ns / sizeof *ns; ci++) {
        const int64_t n = ns[ci], T = 3;
        float *x = fvec(T * n, -3, 3), *w = fvec(n, -2, 2), *dy = fvec(T * n, -1, 1), *init = fvec(T * n, -1, 1);
        for (int add_one = 0; add_one < 2; add_one++) {
            float *ref = fdup(init, T * n), *got = fdup(init, T * n);
            scalar();
            nn_rmsnorm_backward(ref, dy, x, w, T, n, 1e-6f, add_one, add_one);
            nn_set_isa(isa);
            nn_rmsnorm_backward(got, dy, x, w, T, n, 1e-6f, add_one, add_one);
            /* two sums of n terms in another order (~n u relative to their
             * absolute sums), then a few roundings per element */
            for (int64_t t = 0; t < T; t++) {
                double ss = 0, sda = 0;
                for (int64_t i = 0; i < n; i++) {
                    double g = add_one ? 1.0 + w[i] : w[i];
                    ss += (double)x[t * n + i] * x[t * n + i];
                    sda += fabs(g * dy[t * n + i] * x[t * n + i]);
                }
                double r = 1 / sqrt(ss / n + 1e-6);
                for (int64_t i = 0; i < n; i++) {
                    double g = add_one ? 1.0 + w[i] : w[i];
                    double a = fabs(r * g * dy[t * n + i]) + fabs(x[t * n + i]) * r * r * r / n * sda +
                               (add_one ? fabs(init[t * n + i]) : 0);
                    check_close("rmsnorm_backward", t * n + i, got[t * n + i], ref[t * n + i], (8 + 2.0 * n) * U * a + 1e-30);
                }
            }
            free(ref);
            free(got);
        }
        /* rope backward on [T][2 heads][2n] */
        const int64_t hd = 2 * n, H = 2;
        float *cs = fvec(T * n, -1, 1), *sn = fvec(T * n, -1, 1), *g = fvec(T * H * hd, -2, 2);
        float *g2 = fdup(g, T * H * hd);
        scalar();
        nn_rope_backward(g, T, H, hd, cs, sn);
        nn_set_isa(isa);
        nn_rope_backward(g2, T, H, hd, cs, sn);
        for (int64_t i = 0; i < T * H * hd; i++) check_close("rope_backward", i, g2[i], g[i], 3 * U * 8 + 1e-30);
        /* elementwise, over T*n values */
        const int64_t m = T * n;
        float *ga = fvec(m, -12, 12), *up = fvec(m, -3, 3);
        if (m > 3) {
            ga[0] = 0.0f;
            ga[1] = 0.6f; /* near tanh's switch at 0.625 */
            ga[2] = -30.0f;
            ga[3] = 30.0f;
        }
        for (int kind = 0; kind < 4; kind++) {
            static const char *names[] = {"silu_mul_backward", "gelu_tanh_mul_backward", "softcap_backward", "cross_entropy_backward"};
            float *rg = fvec(m, 0, 1), *ru = fvec(m, 0, 1), *gg = fvec(m, 0, 1), *gu = fvec(m, 0, 1);
            float lr = 0, lg = 0;
            for (int pass = 0; pass < 2; pass++) {
                if (pass) nn_set_isa(isa); else scalar();
                float *a = pass ? gg : rg, *b = pass ? gu : ru;
                if (kind == 0) nn_silu_mul_backward(a, b, dy, ga, up, m);
                if (kind == 1) nn_gelu_tanh_mul_backward(a, b, dy, ga, up, m);
                if (kind == 2) nn_softcap_backward(a, dy, ga, m, 5.0f);
                if (kind == 3) *(pass ? &lg : &lr) = nn_cross_entropy_backward(a, ga, m, m / 2, 0.5f);
            }
            for (int64_t i = 0; i < m; i++) {
                /* exp, tanh within a few ulp, some ten roundings: 4e-6 of
                 * the sizes of the products; act' is a sum of terms of size
                 * up to 1 + |x| that cancel (gelu's 1 + tanh for x << 0,
                 * silu' near its zero at -1.28): there the error is
                 * relative to that size instead */
                double sz = fabs(dy[i] * up[i]) * (1 + fabs(ga[i]));
                if (kind == 0 || kind == 1) {
                    check_close(names[kind], i, gg[i], rg[i], 4e-6 * (fabs(rg[i]) + sz) + 1e-37);
                    check_close(names[kind], i, gu[i], ru[i], 4e-6 * (fabs(ru[i]) + (kind ? fabs(dy[i] * ga[i]) : 0)) + 1e-37);
                } else if (kind == 2) {
                    check_close(names[kind], i, gg[i], rg[i], 4e-6 * fabs(dy[i]) + 1e-37);
                } else {
                    check_close(names[kind], i, gg[i], rg[i], 4e-6 * (fabs(rg[i]) + (i == m / 2 ? 0.5 : 0)) + 1e-37);
                }
            }
            if (kind == 3) check_close("cross_entropy_backward loss", 0, lg, lr, 4e-6 * (1 + fabs(lr)));
            free(rg);
            free(ru);
            free(gg);
            free(gu);
        }
        free(ga);
        free(up);
        free(cs);
        free(sn);
        free(g);
        free(g2);
        free(x);
        free(w);
        free(dy);
        free(init);
    }
    scalar();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_matmul),
        cmocka_unit_test(test_fd_rmsnorm_rope),
        cmocka_unit_test(test_fd_elementwise),
        cmocka_unit_test(test_fd_cross_entropy),
        cmocka_unit_test(test_fd_attention),
        cmocka_unit_test(test_kv_first_segments),
        cmocka_unit_test_prestate(test_matmul_dx, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_matmul_dx, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_matmul_dw, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_matmul_dw, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_attention_bwd, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_attention_bwd, (void *)&isa_avx512),
        cmocka_unit_test_prestate(test_rows_bwd, (void *)&isa_avx2),
        cmocka_unit_test_prestate(test_rows_bwd, (void *)&isa_avx512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
