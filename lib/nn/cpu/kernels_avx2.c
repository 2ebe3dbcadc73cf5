/* AVX2 + FMA + F16C kernels. Every function carries its target attribute
 * (no per-file flags). AVX2 has no masked 16-bit loads, so tails are copied
 * into small zero-padded buffers and run through the same vector code.
 *
 * nn_matmul: the dot-product form of kernels_avx512.c with 8 lanes: a 4x3
 * tile (4 rows of x, 3 rows of W: 12 ymm accumulators, 16 registers in all)
 * and a 1x4 tile for the rows of x that remain and for T < 4 (the decode
 * GEMV). The same operations for every output element in both tiles. */
#include "nn/cpu/kern.h"

#ifdef NN_X86
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TGT NN_TGT_AVX2

TGT static inline __m256 ld_f32(const float *p) { return _mm256_loadu_ps(p); }
TGT static inline __m256 ld_bf16(const uint16_t *p)
{
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
TGT static inline __m256 ld_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* The sums of 4 accumulators, in one order for every tile. */
TGT static inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 q = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1));
}

/* c[0..nv) = (loadc ? c : 0) + alpha * s (+ bias), nv <= 4 */
TGT static inline void store_c(float *c, __m128 s, int nv, float alpha, int loadc,
                               const float *bias)
{
    const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(nv), _mm_setr_epi32(0, 1, 2, 3));
    __m128 r = _mm_mul_ps(_mm_set1_ps(alpha), s);
    if (loadc) r = _mm_add_ps(_mm_maskload_ps(c, m), r);
    if (bias) r = _mm_add_ps(r, _mm_maskload_ps(bias, m));
    _mm_maskstore_ps(c, m, r);
}

/* One row of x against nv <= 4 rows of W (stride ldw elements). */
#define ROW1(NAME, TYPE, LD)                                                                    \
    TGT static void NAME(int64_t kc, const float *x, const TYPE *w, int64_t ldw, int nv,        \
                         float *c, float alpha, int loadc, const float *bias)                   \
    {                                                                                           \
        const TYPE *w0 = w, *w1 = w + (nv > 1 ? 1 : 0) * ldw, *w2 = w + (nv > 2 ? 2 : 0) * ldw, \
                   *w3 = w + (nv > 3 ? 3 : 0) * ldw;                                            \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                             \
        int64_t k = 0;                                                                          \
        for (; k + 8 <= kc; k += 8) {                                                           \
            __m256 xv = _mm256_loadu_ps(x + k);                                                 \
            a0 = _mm256_fmadd_ps(xv, LD(w0 + k), a0);                                           \
            a1 = _mm256_fmadd_ps(xv, LD(w1 + k), a1);                                           \
            a2 = _mm256_fmadd_ps(xv, LD(w2 + k), a2);                                           \
            a3 = _mm256_fmadd_ps(xv, LD(w3 + k), a3);                                           \
        }                                                                                       \
        if (k < kc) {                                                                           \
            const size_t r = (size_t)(kc - k);                                                  \
            float xb[8] = {0};                                                                  \
            TYPE wb[4][8];                                                                      \
            memset(wb, 0, sizeof wb);                                                           \
            memcpy(xb, x + k, r * sizeof *x);                                                   \
            memcpy(wb[0], w0 + k, r * sizeof *w);                                               \
            memcpy(wb[1], w1 + k, r * sizeof *w);                                               \
            memcpy(wb[2], w2 + k, r * sizeof *w);                                               \
            memcpy(wb[3], w3 + k, r * sizeof *w);                                               \
            __m256 xv = _mm256_loadu_ps(xb);                                                    \
            a0 = _mm256_fmadd_ps(xv, LD(wb[0]), a0);                                            \
            a1 = _mm256_fmadd_ps(xv, LD(wb[1]), a1);                                            \
            a2 = _mm256_fmadd_ps(xv, LD(wb[2]), a2);                                            \
            a3 = _mm256_fmadd_ps(xv, LD(wb[3]), a3);                                            \
        }                                                                                       \
        store_c(c, hsum4(a0, a1, a2, a3), nv, alpha, loadc, bias);                              \
    }
ROW1(row1_f32, float, ld_f32)
ROW1(row1_bf16, uint16_t, ld_bf16)
ROW1(row1_f16, uint16_t, ld_f16)
#undef ROW1

/* 4 rows of x (stride ldx) against nv <= 3 rows of fp32 W (stride ldw). */
TGT static void k4x3(int64_t kc, const float *x, int64_t ldx, const float *w, int64_t ldw, int nv,
                     float *c, int64_t ldc, float alpha, int loadc, const float *bias)
{
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    const float *w0 = w, *w1 = w + (nv > 1 ? 1 : 0) * ldw, *w2 = w + (nv > 2 ? 2 : 0) * ldw;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
#define STEP(X0, X1, X2, X3, W0, W1, W2)                                        \
    {                                                                           \
        __m256 b0 = _mm256_loadu_ps(W0), b1 = _mm256_loadu_ps(W1),              \
               b2 = _mm256_loadu_ps(W2);                                        \
        __m256 xv = _mm256_loadu_ps(X0);                                        \
        c00 = _mm256_fmadd_ps(xv, b0, c00);                                     \
        c01 = _mm256_fmadd_ps(xv, b1, c01);                                     \
        c02 = _mm256_fmadd_ps(xv, b2, c02);                                     \
        xv = _mm256_loadu_ps(X1);                                               \
        c10 = _mm256_fmadd_ps(xv, b0, c10);                                     \
        c11 = _mm256_fmadd_ps(xv, b1, c11);                                     \
        c12 = _mm256_fmadd_ps(xv, b2, c12);                                     \
        xv = _mm256_loadu_ps(X2);                                               \
        c20 = _mm256_fmadd_ps(xv, b0, c20);                                     \
        c21 = _mm256_fmadd_ps(xv, b1, c21);                                     \
        c22 = _mm256_fmadd_ps(xv, b2, c22);                                     \
        xv = _mm256_loadu_ps(X3);                                               \
        c30 = _mm256_fmadd_ps(xv, b0, c30);                                     \
        c31 = _mm256_fmadd_ps(xv, b1, c31);                                     \
        c32 = _mm256_fmadd_ps(xv, b2, c32);                                     \
    }
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) STEP(x0 + k, x1 + k, x2 + k, x3 + k, w0 + k, w1 + k, w2 + k)
    if (k < kc) {
        const size_t r = (size_t)(kc - k) * sizeof(float);
        float b[7][8];
        memset(b, 0, sizeof b);
        memcpy(b[0], x0 + k, r);
        memcpy(b[1], x1 + k, r);
        memcpy(b[2], x2 + k, r);
        memcpy(b[3], x3 + k, r);
        memcpy(b[4], w0 + k, r);
        memcpy(b[5], w1 + k, r);
        memcpy(b[6], w2 + k, r);
        STEP(b[0], b[1], b[2], b[3], b[4], b[5], b[6])
    }
#undef STEP
    store_c(c, hsum4(c00, c01, c02, c02), nv, alpha, loadc, bias);
    store_c(c + ldc, hsum4(c10, c11, c12, c12), nv, alpha, loadc, bias);
    store_c(c + 2 * ldc, hsum4(c20, c21, c22, c22), nv, alpha, loadc, bias);
    store_c(c + 3 * ldc, hsum4(c30, c31, c32, c32), nv, alpha, loadc, bias);
}

TGT static void cvt_row(float *out, const void *src, enum nn_dtype dt, int64_t n)
{
    const uint16_t *h = src;
    int64_t i = 0;
    if (dt == NN_F32) {
        memcpy(out, src, (size_t)n * sizeof(float));
        return;
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, dt == NN_BF16 ? ld_bf16(h + i) : ld_f16(h + i));
    if (i < n) {
        uint16_t b[8] = {0};
        float o[8];
        memcpy(b, h + i, (size_t)(n - i) * 2);
        _mm256_storeu_ps(o, dt == NN_BF16 ? ld_bf16(b) : ld_f16(b));
        memcpy(out + i, o, (size_t)(n - i) * sizeof(float));
    }
}

TGT static void matmul_task(const nn_mm_args *a, int64_t t0, int64_t t1, int64_t n0, int64_t n1,
                            float *scratch)
{
    const int64_t K = a->K, N = a->N, kcb = nn_matmul_kc(K);
    const enum nn_dtype dt = a->w->dtype;
    const size_t es = nn_dtype_size(dt);
    const int pack = scratch && (a->trans || (dt != NN_F32 && t1 - t0 >= 4));
    for (int64_t k0 = 0; k0 < K; k0 += kcb) {
        const int64_t kc = K - k0 < kcb ? K - k0 : kcb;
        const int loadc = k0 > 0 || a->accumulate;
        const float *bias = k0 + kc == K ? a->bias : NULL;
        for (int64_t nb = n0; nb < n1; nb += NN_NCB) {
            const int64_t nbn = n1 - nb < NN_NCB ? n1 - nb : NN_NCB;
            const char *wsrc = (const char *)a->w->data + (size_t)(nb * K + k0) * es;
            if (pack && a->trans)
                nn_pack_wt(scratch, a, k0, kc, nb, nbn, cvt_row);
            else if (pack)
                for (int64_t r = 0; r < nbn; r++)
                    cvt_row(scratch + r * kc, wsrc + (size_t)(r * K) * es, dt, kc);
            const void *wv = pack ? (const void *)scratch : (const void *)wsrc;
            const int64_t ldw = pack ? kc : K;
            const enum nn_dtype dv = pack ? NN_F32 : dt;
            for (int64_t tb = t0; tb < t1; tb += NN_MC) {
                const int64_t te = t1 - tb < NN_MC ? t1 : tb + NN_MC;
                if (dv == NN_F32 && te - tb >= 4) {
                    const float *wf = wv;
                    for (int64_t j = 0; j < nbn; j += 3) {
                        const int nv = nbn - j < 3 ? (int)(nbn - j) : 3;
                        const float *bj = bias ? bias + nb + j : NULL;
                        int64_t t = tb;
                        for (; t + 4 <= te; t += 4)
                            k4x3(kc, a->x + t * K + k0, K, wf + j * ldw, ldw, nv,
                                 a->out + t * N + nb + j, N, a->alpha, loadc, bj);
                        for (; t < te; t++)
                            row1_f32(kc, a->x + t * K + k0, wf + j * ldw, ldw, nv,
                                     a->out + t * N + nb + j, a->alpha, loadc, bj);
                    }
                    continue;
                }
                for (int64_t t = tb; t < te; t++) {
                    const float *xt = a->x + t * K + k0;
                    float *ot = a->out + t * N + nb;
                    for (int64_t j = 0; j < nbn; j += 4) {
                        const int nv = nbn - j < 4 ? (int)(nbn - j) : 4;
                        const float *bj = bias ? bias + nb + j : NULL;
                        if (dv == NN_F32)
                            row1_f32(kc, xt, (const float *)wv + j * ldw, ldw, nv, ot + j, a->alpha,
                                     loadc, bj);
                        else if (dv == NN_BF16)
                            row1_bf16(kc, xt, (const uint16_t *)wv + j * ldw, ldw, nv, ot + j,
                                      a->alpha, loadc, bj);
                        else
                            row1_f16(kc, xt, (const uint16_t *)wv + j * ldw, ldw, nv, ot + j,
                                     a->alpha, loadc, bj);
                    }
                }
            }
        }
    }
}

/* ---- math ---- */

/* exp: Cephes' expf (see kernels_avx512.c); 2^n applied as two factors
 * 2^(n>>1) * 2^(n - (n>>1)), each a normal float, so that overflow,
 * underflow and subnormal results come out right. */
TGT static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), x); /* NaN stays NaN (second operand) */
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, z, x);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i n = _mm256_cvtps_epi32(fx);
    __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
}

/* tanh: Cephes' tanhf (see kernels_avx512.c). */
TGT static inline __m256 tanh256(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745E-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954E-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531E-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036E-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422E-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 e = exp256(_mm256_add_ps(ax, ax));
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
    __m256 ms = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm256_blendv_ps(big, small, ms);
}

TGT static inline __m256 vload_tail(const float *p, int64_t r)
{
    float b[8] = {0};
    memcpy(b, p, (size_t)r * sizeof(float));
    return _mm256_loadu_ps(b);
}

TGT static inline void vstore_tail(float *p, __m256 v, int64_t r)
{
    float b[8];
    _mm256_storeu_ps(b, v);
    memcpy(p, b, (size_t)r * sizeof(float));
}

TGT static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TGT static inline float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Elementwise loops: full vectors, then the tail through a buffer. V(i, r)
 * loads r values at i, S(i, v, r) stores them. */
#define ELEMENTWISE(...)                                                \
    for (int64_t i = 0; i < n; i += 8) {                               \
        const int64_t r = n - i < 8 ? n - i : 8;                       \
        __VA_ARGS__                                                           \
    }
#define V(p) (r == 8 ? _mm256_loadu_ps(p) : vload_tail(p, r))
#define S(p, v)                           \
    do {                                  \
        if (r == 8)                       \
            _mm256_storeu_ps(p, v);       \
        else                              \
            vstore_tail(p, v, r);         \
    } while (0)

TGT static void rmsnorm_row(float *out, const float *x, const float *w, int64_t n, float eps,
                            int add_one)
{
    __m256 s = _mm256_setzero_ps();
    ELEMENTWISE({
        __m256 v = V(x + i);
        s = _mm256_fmadd_ps(v, v, s);
    })
    const __m256 rv = _mm256_set1_ps(1.0f / sqrtf(hsum(s) / (float)n + eps));
    const __m256 one = _mm256_set1_ps(add_one ? 1.0f : 0.0f);
    ELEMENTWISE({
        __m256 g = _mm256_add_ps(one, V(w + i));
        S(out + i, _mm256_mul_ps(_mm256_mul_ps(V(x + i), rv), g));
    })
}

TGT static void rope_row(float *x, int64_t half, const float *cos, const float *sin)
{
    const int64_t n = half;
    ELEMENTWISE({
        __m256 a = V(x + i), b = V(x + i + half), c = V(cos + i), s = V(sin + i);
        S(x + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
        S(x + i + half, _mm256_fmadd_ps(b, c, _mm256_mul_ps(a, s)));
    })
}

TGT static inline float dot(const float *a, const float *b, int64_t n)
{
    __m256 s = _mm256_setzero_ps();
    ELEMENTWISE({ s = _mm256_fmadd_ps(V(a + i), V(b + i), s); })
    return hsum(s);
}

TGT static inline void scale_row(float *o, float f, int64_t n)
{
    const __m256 fv = _mm256_set1_ps(f);
    ELEMENTWISE({ S(o + i, _mm256_mul_ps(V(o + i), fv)); })
}

TGT static void axpy(float *y, const float *x, float a, int64_t n)
{
    const __m256 av = _mm256_set1_ps(a);
    ELEMENTWISE({ S(y + i, _mm256_fmadd_ps(av, V(x + i), V(y + i))); })
}

/* Online softmax over blocks of 8 keys (no buffer of scores). */
TGT static void attn_row(float *o, float *lse, const float *q, const float *k, const float *v,
                         int64_t j0, int64_t j1, int64_t ks, int64_t hd, float scale,
                         float softcap)
{
    float m = -INFINITY, l = 0.0f;
    float sc[8];
    for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (int64_t jb = j0; jb < j1; jb += 8) {
        const int nb = j1 - jb < 8 ? (int)(j1 - jb) : 8;
        for (int jj = 0; jj < 8; jj++) sc[jj] = jj < nb ? dot(q, k + (jb + jj) * ks, hd) : 0.0f;
        const __m256 valid =
            _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nb), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
        __m256 s = _mm256_mul_ps(_mm256_loadu_ps(sc), _mm256_set1_ps(scale));
        if (softcap > 0.0f) {
            const __m256 cv = _mm256_set1_ps(softcap);
            s = _mm256_mul_ps(cv, tanh256(_mm256_div_ps(s, cv)));
        }
        s = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), s, valid);
        const float bm = hmax(s);
        const float mn = bm > m ? bm : m;
        const float corr = expf(m - mn);
        __m256 p = _mm256_and_ps(valid, exp256(_mm256_sub_ps(s, _mm256_set1_ps(mn))));
        l = l * corr + hsum(p);
        _mm256_storeu_ps(sc, p);
        if (corr != 1.0f) scale_row(o, corr, hd);
        for (int jj = 0; jj < nb; jj++) axpy(o, v + (jb + jj) * ks, sc[jj], hd);
        m = mn;
    }
    scale_row(o, l > 0.0f ? 1.0f / l : 0.0f, hd);
    if (lse) *lse = l > 0.0f ? m + logf(l) : -INFINITY;
}

TGT static void silu_mul(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    ELEMENTWISE({
        __m256 x = V(g + i);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        S(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), V(u + i)));
    })
}

TGT static void gelu_tanh_mul(float *g, const float *u, int64_t n)
{
    const __m256 c = _mm256_set1_ps(0.7978845608028654f), k3 = _mm256_set1_ps(0.044715f);
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    ELEMENTWISE({
        __m256 x = V(g + i);
        __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        __m256 t = tanh256(_mm256_mul_ps(c, _mm256_fmadd_ps(k3, x3, x)));
        __m256 rr = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, t));
        S(g + i, _mm256_mul_ps(rr, V(u + i)));
    })
}

TGT static void softcap(float *x, int64_t n, float cap)
{
    const __m256 cv = _mm256_set1_ps(cap);
    ELEMENTWISE({ S(x + i, _mm256_mul_ps(cv, tanh256(_mm256_div_ps(V(x + i), cv)))); })
}

TGT static float vmax(const float *x, int64_t n)
{
    __m256 mx = _mm256_set1_ps(x[0]);
    /* the tail is padded with x[0], which is no new maximum */
    ELEMENTWISE({
        __m256 v;
        if (r == 8) {
            v = _mm256_loadu_ps(x + i);
        } else {
            float b[8];
            for (int j = 0; j < 8; j++) b[j] = j < r ? x[i + j] : x[0];
            v = _mm256_loadu_ps(b);
        }
        mx = _mm256_max_ps(mx, v);
    })
    return hmax(mx);
}

TGT static void softmax(float *x, int64_t n)
{
    const __m256 mv = _mm256_set1_ps(vmax(x, n));
    __m256 s = _mm256_setzero_ps();
    ELEMENTWISE({
        __m256 e = exp256(_mm256_sub_ps(V(x + i), mv));
        if (r < 8) { /* padding lanes hold exp(0 - max): drop them */
            float b[8];
            _mm256_storeu_ps(b, e);
            for (int j = (int)r; j < 8; j++) b[j] = 0.0f;
            e = _mm256_loadu_ps(b);
        }
        s = _mm256_add_ps(s, e);
        S(x + i, e);
    })
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(s));
    ELEMENTWISE({ S(x + i, _mm256_mul_ps(V(x + i), inv)); })
}

TGT static float logsumexp(const float *x, int64_t n)
{
    const float mx = vmax(x, n);
    if (isinf(mx)) return mx;
    const __m256 mv = _mm256_set1_ps(mx);
    __m256 s = _mm256_setzero_ps();
    ELEMENTWISE({
        __m256 e = exp256(_mm256_sub_ps(V(x + i), mv));
        if (r < 8) {
            float b[8];
            _mm256_storeu_ps(b, e);
            for (int j = (int)r; j < 8; j++) b[j] = 0.0f;
            e = _mm256_loadu_ps(b);
        }
        s = _mm256_add_ps(s, e);
    })
    return mx + logf(hsum(s));
}

/* ---- backward ---- */

TGT static inline __m256i cmask(int64_t r) /* lanes < r (r may be <= 0 or >= 8) */
{
    const int rr = r <= 0 ? 0 : r >= 8 ? 8 : (int)r;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* nn_matmul_dw: a tile of 4 rows of dw (n) by 3 vectors of 8 columns (k),
 * 12 accumulators, summed over t in increasing order from 0 (as in
 * kernels_avx512.c); rows past n1 repeat row n0 and are not stored,
 * columns past k1 are masked to zero. */
#define DW_NR 4
#define DW_KC 24
TGT static inline void dw_store(const nn_dw_args *a, int64_t n, int64_t k, __m256i m, __m256 c)
{
    float *o = a->dw + n * a->K + k;
    __m256 r = _mm256_mul_ps(_mm256_set1_ps(a->alpha), c);
    if (a->accumulate) r = _mm256_add_ps(_mm256_maskload_ps(o, m), r);
    _mm256_maskstore_ps(o, m, r);
}

TGT static void dw_4x3(const nn_dw_args *a, int64_t n, int nr, int64_t k, int64_t k1)
{
    const __m256i m0 = cmask(k1 - k), m1 = cmask(k1 - k - 8), m2 = cmask(k1 - k - 16);
    const int64_t N = a->N, K = a->K;
    const int64_t r1 = nr > 1 ? 1 : 0, r2 = nr > 2 ? 2 : 0, r3 = nr > 3 ? 3 : 0;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
           c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    const float *dy = a->dy + n, *x = a->x + k;
    for (int64_t t = 0; t < a->T; t++, dy += N, x += K) {
        const __m256 x0 = _mm256_maskload_ps(x, m0), x1 = _mm256_maskload_ps(x + 8, m1),
                     x2 = _mm256_maskload_ps(x + 16, m2);
#define ROW(i, ri)                                 \
    {                                              \
        const __m256 b = _mm256_set1_ps(dy[ri]);   \
        c##i##0 = _mm256_fmadd_ps(b, x0, c##i##0); \
        c##i##1 = _mm256_fmadd_ps(b, x1, c##i##1); \
        c##i##2 = _mm256_fmadd_ps(b, x2, c##i##2); \
    }
        ROW(0, 0) ROW(1, r1) ROW(2, r2) ROW(3, r3)
#undef ROW
    }
    const int w1 = k1 - k > 8, w2 = k1 - k > 16;
#define ST(i)                                                \
    if (nr > i) {                                            \
        dw_store(a, n + i, k, m0, c##i##0);                  \
        if (w1) dw_store(a, n + i, k + 8, m1, c##i##1);      \
        if (w2) dw_store(a, n + i, k + 16, m2, c##i##2);     \
    }
    ST(0) ST(1) ST(2) ST(3)
#undef ST
}

TGT static void dw_4x1(const nn_dw_args *a, int64_t n, int nr, int64_t k, int64_t k1)
{
    const __m256i m0 = cmask(k1 - k);
    const int64_t N = a->N, K = a->K;
    const int64_t r1 = nr > 1 ? 1 : 0, r2 = nr > 2 ? 2 : 0, r3 = nr > 3 ? 3 : 0;
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    const float *dy = a->dy + n, *x = a->x + k;
    for (int64_t t = 0; t < a->T; t++, dy += N, x += K) {
        const __m256 x0 = _mm256_maskload_ps(x, m0);
        c0 = _mm256_fmadd_ps(_mm256_set1_ps(dy[0]), x0, c0);
        c1 = _mm256_fmadd_ps(_mm256_set1_ps(dy[r1]), x0, c1);
        c2 = _mm256_fmadd_ps(_mm256_set1_ps(dy[r2]), x0, c2);
        c3 = _mm256_fmadd_ps(_mm256_set1_ps(dy[r3]), x0, c3);
    }
    dw_store(a, n, k, m0, c0);
    if (nr > 1) dw_store(a, n + 1, k, m0, c1);
    if (nr > 2) dw_store(a, n + 2, k, m0, c2);
    if (nr > 3) dw_store(a, n + 3, k, m0, c3);
}

TGT static void matmul_dw_tile(const nn_dw_args *a, int64_t n0, int64_t n1, int64_t k0, int64_t k1)
{
    for (int64_t n = n0; n < n1; n += DW_NR) {
        const int nr = n1 - n < DW_NR ? (int)(n1 - n) : DW_NR;
        for (int64_t k = k0; k < k1; k += DW_KC) {
            if (k1 - k <= 8)
                dw_4x1(a, n, nr, k, k1);
            else
                dw_4x3(a, n, nr, k, k1);
        }
    }
}

TGT static void rmsnorm_bwd_row(float *dx, const float *dy, const float *x, const float *w,
                                int64_t n, float eps, int add_one, int accumulate)
{
    const __m256 one = _mm256_set1_ps(add_one ? 1.0f : 0.0f);
    __m256 ss = _mm256_setzero_ps(), sd = ss;
    ELEMENTWISE({
        const __m256 xv = V(x + i), g = _mm256_add_ps(one, V(w + i));
        ss = _mm256_fmadd_ps(xv, xv, ss);
        sd = _mm256_fmadd_ps(_mm256_mul_ps(g, V(dy + i)), xv, sd);
    })
    const float rs = 1.0f / sqrtf(hsum(ss) / (float)n + eps);
    const __m256 rv = _mm256_set1_ps(rs), cv = _mm256_set1_ps(rs * rs * rs / (float)n * hsum(sd));
    ELEMENTWISE({
        const __m256 g = _mm256_add_ps(one, V(w + i));
        __m256 d = _mm256_fnmadd_ps(V(x + i), cv, _mm256_mul_ps(rv, _mm256_mul_ps(g, V(dy + i))));
        if (accumulate) d = _mm256_add_ps(V(dx + i), d);
        S(dx + i, d);
    })
}

TGT static void rope_bwd_row(float *x, int64_t half, const float *cos, const float *sin)
{
    const int64_t n = half;
    ELEMENTWISE({
        __m256 a = V(x + i), b = V(x + i + half), c = V(cos + i), s = V(sin + i);
        S(x + i, _mm256_fmadd_ps(a, c, _mm256_mul_ps(b, s)));
        S(x + i + half, _mm256_fmsub_ps(b, c, _mm256_mul_ps(a, s)));
    })
}

/* ds of 8 scores at once (lanes outside valid zero), as in kernels_avx512.c */
TGT static inline __m256 attn_ds(__m256 raw, __m256 lse, __m256 dp, __m256 D, float scale,
                                 float softcap, __m256 valid, __m256 *pout)
{
    __m256 s = _mm256_mul_ps(raw, _mm256_set1_ps(scale));
    __m256 u = s;
    if (softcap > 0.0f) {
        const __m256 cv = _mm256_set1_ps(softcap);
        u = tanh256(_mm256_div_ps(s, cv));
        s = _mm256_mul_ps(cv, u);
    }
    const __m256 p = _mm256_and_ps(valid, exp256(_mm256_sub_ps(s, lse)));
    __m256 ds = _mm256_mul_ps(p, _mm256_sub_ps(dp, D));
    if (softcap > 0.0f) ds = _mm256_mul_ps(ds, _mm256_fnmadd_ps(u, u, _mm256_set1_ps(1.0f)));
    *pout = p;
    return _mm256_mul_ps(ds, _mm256_set1_ps(scale));
}

TGT static void attn_bwd_q(float *dq, float *D, const float *q, const float *dout, const float *o,
                           float lse, const float *k, const float *v, int64_t j0, int64_t j1,
                           int64_t ks, int64_t hd, float scale, float softcap)
{
    const float Dv = dot(dout, o, hd);
    *D = Dv;
    float sc[8], dp[8];
    for (int64_t d = 0; d < hd; d++) dq[d] = 0.0f;
    for (int64_t jb = j0; jb < j1; jb += 8) {
        const int nb = j1 - jb < 8 ? (int)(j1 - jb) : 8;
        for (int jj = 0; jj < 8; jj++) {
            sc[jj] = jj < nb ? dot(q, k + (jb + jj) * ks, hd) : 0.0f;
            dp[jj] = jj < nb ? dot(dout, v + (jb + jj) * ks, hd) : 0.0f;
        }
        __m256 p;
        __m256 ds = attn_ds(_mm256_loadu_ps(sc), _mm256_set1_ps(lse), _mm256_loadu_ps(dp),
                            _mm256_set1_ps(Dv), scale, softcap, _mm256_castsi256_ps(cmask(nb)), &p);
        _mm256_storeu_ps(sc, ds);
        for (int jj = 0; jj < nb; jj++) axpy(dq, k + (jb + jj) * ks, sc[jj], hd);
    }
}

TGT static void attn_bwd_kv(float *dk, float *dv, const float *kj, const float *vj, const float *q,
                            const float *dout, const float *D, const float *lse, int64_t t0,
                            int64_t t1, const int64_t *kv_first, int64_t j, int64_t qs,
                            int64_t ls, int64_t hd, float scale, float softcap)
{
    float sc[8], dp[8], lv[8], Dv[8], pv[8];
    int64_t idx[8];
    for (int64_t t = t0; t < t1;) {
        int nb = 0;
        for (; nb < 8 && t < t1; t++)
            if (!kv_first || kv_first[t] <= j) idx[nb++] = t;
        if (!nb) break;
        for (int jj = 0; jj < 8; jj++) {
            sc[jj] = jj < nb ? dot(q + idx[jj] * qs, kj, hd) : 0.0f;
            dp[jj] = jj < nb ? dot(dout + idx[jj] * qs, vj, hd) : 0.0f;
            lv[jj] = jj < nb ? lse[idx[jj] * ls] : 0.0f;
            Dv[jj] = jj < nb ? D[idx[jj] * ls] : 0.0f;
        }
        __m256 p;
        __m256 ds = attn_ds(_mm256_loadu_ps(sc), _mm256_loadu_ps(lv), _mm256_loadu_ps(dp),
                            _mm256_loadu_ps(Dv), scale, softcap, _mm256_castsi256_ps(cmask(nb)), &p);
        _mm256_storeu_ps(sc, ds);
        _mm256_storeu_ps(pv, p);
        for (int jj = 0; jj < nb; jj++) {
            axpy(dv, dout + idx[jj] * qs, pv[jj], hd);
            axpy(dk, q + idx[jj] * qs, sc[jj], hd);
        }
    }
}

TGT static void silu_mul_bwd(float *dg, float *du, const float *dy, const float *g, const float *u,
                             int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    ELEMENTWISE({
        const __m256 x = V(g + i), up = V(u + i), d = V(dy + i);
        const __m256 sg = _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        const __m256 da = _mm256_mul_ps(sg, _mm256_fmadd_ps(x, _mm256_sub_ps(one, sg), one));
        const __m256 rg = _mm256_mul_ps(_mm256_mul_ps(d, up), da), ru = _mm256_mul_ps(d, _mm256_mul_ps(x, sg));
        S(dg + i, rg);
        S(du + i, ru);
    })
}

TGT static void gelu_tanh_mul_bwd(float *dg, float *du, const float *dy, const float *g,
                                  const float *u, int64_t n)
{
    const __m256 c = _mm256_set1_ps(0.7978845608028654f), k3 = _mm256_set1_ps(0.044715f);
    const __m256 k3x3 = _mm256_set1_ps(0.134145f);
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    ELEMENTWISE({
        const __m256 x = V(g + i), up = V(u + i), d = V(dy + i);
        const __m256 x2 = _mm256_mul_ps(x, x);
        const __m256 th = tanh256(_mm256_mul_ps(c, _mm256_fmadd_ps(k3, _mm256_mul_ps(x2, x), x)));
        const __m256 opt = _mm256_add_ps(one, th);
        const __m256 a = _mm256_mul_ps(_mm256_mul_ps(half, x), opt);
        const __m256 sech2 = _mm256_fnmadd_ps(th, th, one);
        const __m256 da = _mm256_fmadd_ps(
            _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), sech2), c), _mm256_fmadd_ps(k3x3, x2, one),
            _mm256_mul_ps(half, opt));
        const __m256 rg = _mm256_mul_ps(_mm256_mul_ps(d, up), da), ru = _mm256_mul_ps(d, a);
        S(dg + i, rg);
        S(du + i, ru);
    })
}

TGT static void softcap_bwd(float *dx, const float *dy, const float *x, int64_t n, float cap)
{
    const __m256 cv = _mm256_set1_ps(cap), one = _mm256_set1_ps(1.0f);
    ELEMENTWISE({
        const __m256 th = tanh256(_mm256_div_ps(V(x + i), cv));
        S(dx + i, _mm256_mul_ps(V(dy + i), _mm256_fnmadd_ps(th, th, one)));
    })
}

TGT static void softmax_scaled(float *dx, const float *x, int64_t n, float lse, float scale)
{
    const __m256 lv = _mm256_set1_ps(lse), sv = _mm256_set1_ps(scale);
    ELEMENTWISE({ S(dx + i, _mm256_mul_ps(sv, exp256(_mm256_sub_ps(V(x + i), lv)))); })
}
#undef ELEMENTWISE
#undef V
#undef S

const nn_kern nn_kern_avx2 = {
    .mr = 4,
    .nr = 3,
    .matmul_task = matmul_task,
    .cvt_row = cvt_row,
    .rmsnorm_row = rmsnorm_row,
    .rope_row = rope_row,
    .attn_row = attn_row,
    .silu_mul = silu_mul,
    .gelu_tanh_mul = gelu_tanh_mul,
    .softcap = softcap,
    .softmax = softmax,
    .logsumexp = logsumexp,
    .axpy = axpy,
    .dw_nr = DW_NR,
    .dw_kc = DW_KC,
    .matmul_dw_tile = matmul_dw_tile,
    .rmsnorm_bwd_row = rmsnorm_bwd_row,
    .rope_bwd_row = rope_bwd_row,
    .attn_bwd_q = attn_bwd_q,
    .attn_bwd_kv = attn_bwd_kv,
    .silu_mul_bwd = silu_mul_bwd,
    .gelu_tanh_mul_bwd = gelu_tanh_mul_bwd,
    .softcap_bwd = softcap_bwd,
    .softmax_scaled = softmax_scaled,
};
#endif
