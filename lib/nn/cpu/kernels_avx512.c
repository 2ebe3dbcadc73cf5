/* AVX-512 (F, BW, VL, DQ) + FMA + F16C kernels. Every function carries its
 * target attribute (no per-file flags); tails use masked loads and stores.
 *
 * nn_matmul: out[t][n] = sum_k x[t][k] w[n][k], computed as dot products
 * along k (both operands are rows, so W is never transposed): a 4x6
 * register tile (4 rows of x, 6 rows of W: 24 zmm accumulators) and a 1x8
 * tile for the rows of x that remain and for T < 4 (the decode GEMV, which
 * streams W once, converting BF16/F16 as it is read). K is blocked
 * (nn_matmul_kc); for T >= 4, BF16/F16 rows of W are converted to fp32 once
 * per block of NN_NCB rows into the thread's scratch and reused by every
 * row of x. Every output element gets the same sequence of operations in
 * either tile (one accumulator per element, 16 lanes over k, the same
 * reduction tree), so results do not depend on how the work is cut. */
#include "nn/cpu/kern.h"

#ifdef NN_X86
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TGT NN_TGT_AVX512

TGT static inline __mmask16 tmask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

TGT static inline __m512 cvt_bf16(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

TGT static inline __m512 ld_f32(const float *p) { return _mm512_loadu_ps(p); }
TGT static inline __m512 ld_bf16(const uint16_t *p)
{
    return cvt_bf16(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
TGT static inline __m512 ld_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
TGT static inline __m512 ldm_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
TGT static inline __m512 ldm_bf16(const uint16_t *p, __mmask16 m)
{
    return cvt_bf16(_mm256_maskz_loadu_epi16(m, p));
}
TGT static inline __m512 ldm_f16(const uint16_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

/* The sums of 8 accumulators, in one order for every tile. */
TGT static inline __m256 hsum8(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 a4, __m512 a5,
                               __m512 a6, __m512 a7)
{
#define H2(a) _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1))
    __m256 h01 = _mm256_hadd_ps(H2(a0), H2(a1)), h23 = _mm256_hadd_ps(H2(a2), H2(a3));
    __m256 h45 = _mm256_hadd_ps(H2(a4), H2(a5)), h67 = _mm256_hadd_ps(H2(a6), H2(a7));
#undef H2
    __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
    __m128 r0 = _mm_add_ps(_mm256_castps256_ps128(q0), _mm256_extractf128_ps(q0, 1));
    __m128 r1 = _mm_add_ps(_mm256_castps256_ps128(q1), _mm256_extractf128_ps(q1, 1));
    return _mm256_set_m128(r1, r0);
}

/* c[0..nv) = (loadc ? c : 0) + alpha * s (+ bias) */
TGT static inline void store_c(float *c, __m256 s, int nv, float alpha, int loadc,
                               const float *bias)
{
    const __mmask8 m = (__mmask8)((1u << nv) - 1u);
    __m256 r = _mm256_mul_ps(_mm256_set1_ps(alpha), s);
    if (loadc) r = _mm256_add_ps(_mm256_maskz_loadu_ps(m, c), r);
    if (bias) r = _mm256_add_ps(r, _mm256_maskz_loadu_ps(m, bias));
    _mm256_mask_storeu_ps(c, m, r);
}

/* One row of x against nv <= 8 rows of W (stride ldw elements). */
#define ROW1(NAME, TYPE, LD, LDM)                                                              \
    TGT static void NAME(int64_t kc, const float *x, const TYPE *w, int64_t ldw, int nv,       \
                         float *c, float alpha, int loadc, const float *bias)                  \
    {                                                                                          \
        const TYPE *w0 = w, *w1 = w + (nv > 1 ? 1 : 0) * ldw, *w2 = w + (nv > 2 ? 2 : 0) * ldw, \
                   *w3 = w + (nv > 3 ? 3 : 0) * ldw, *w4 = w + (nv > 4 ? 4 : 0) * ldw,         \
                   *w5 = w + (nv > 5 ? 5 : 0) * ldw, *w6 = w + (nv > 6 ? 6 : 0) * ldw,         \
                   *w7 = w + (nv > 7 ? 7 : 0) * ldw;                                           \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, \
               a7 = a0;                                                                        \
        int64_t k = 0;                                                                         \
        for (; k + 16 <= kc; k += 16) {                                                        \
            __m512 xv = _mm512_loadu_ps(x + k);                                                \
            a0 = _mm512_fmadd_ps(xv, LD(w0 + k), a0);                                          \
            a1 = _mm512_fmadd_ps(xv, LD(w1 + k), a1);                                          \
            a2 = _mm512_fmadd_ps(xv, LD(w2 + k), a2);                                          \
            a3 = _mm512_fmadd_ps(xv, LD(w3 + k), a3);                                          \
            a4 = _mm512_fmadd_ps(xv, LD(w4 + k), a4);                                          \
            a5 = _mm512_fmadd_ps(xv, LD(w5 + k), a5);                                          \
            a6 = _mm512_fmadd_ps(xv, LD(w6 + k), a6);                                          \
            a7 = _mm512_fmadd_ps(xv, LD(w7 + k), a7);                                          \
        }                                                                                      \
        if (k < kc) {                                                                          \
            const __mmask16 m = tmask(kc - k);                                                 \
            __m512 xv = _mm512_maskz_loadu_ps(m, x + k);                                       \
            a0 = _mm512_fmadd_ps(xv, LDM(w0 + k, m), a0);                                      \
            a1 = _mm512_fmadd_ps(xv, LDM(w1 + k, m), a1);                                      \
            a2 = _mm512_fmadd_ps(xv, LDM(w2 + k, m), a2);                                      \
            a3 = _mm512_fmadd_ps(xv, LDM(w3 + k, m), a3);                                      \
            a4 = _mm512_fmadd_ps(xv, LDM(w4 + k, m), a4);                                      \
            a5 = _mm512_fmadd_ps(xv, LDM(w5 + k, m), a5);                                      \
            a6 = _mm512_fmadd_ps(xv, LDM(w6 + k, m), a6);                                      \
            a7 = _mm512_fmadd_ps(xv, LDM(w7 + k, m), a7);                                      \
        }                                                                                      \
        store_c(c, hsum8(a0, a1, a2, a3, a4, a5, a6, a7), nv, alpha, loadc, bias);             \
    }
ROW1(row1_f32, float, ld_f32, ldm_f32)
ROW1(row1_bf16, uint16_t, ld_bf16, ldm_bf16)
ROW1(row1_f16, uint16_t, ld_f16, ldm_f16)
#undef ROW1

/* 4 rows of x (stride ldx) against nv <= 6 rows of fp32 W (stride ldw). */
TGT static void k4x6(int64_t kc, const float *x, int64_t ldx, const float *w, int64_t ldw, int nv,
                     float *c, int64_t ldc, float alpha, int loadc, const float *bias)
{
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    const float *w0 = w, *w1 = w + (nv > 1 ? 1 : 0) * ldw, *w2 = w + (nv > 2 ? 2 : 0) * ldw,
                *w3 = w + (nv > 3 ? 3 : 0) * ldw, *w4 = w + (nv > 4 ? 4 : 0) * ldw,
                *w5 = w + (nv > 5 ? 5 : 0) * ldw;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00, c24 = c00, c25 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00, c34 = c00, c35 = c00;
#define ROW(i, xv)                                \
    c##i##0 = _mm512_fmadd_ps(xv, b0, c##i##0);   \
    c##i##1 = _mm512_fmadd_ps(xv, b1, c##i##1);   \
    c##i##2 = _mm512_fmadd_ps(xv, b2, c##i##2);   \
    c##i##3 = _mm512_fmadd_ps(xv, b3, c##i##3);   \
    c##i##4 = _mm512_fmadd_ps(xv, b4, c##i##4);   \
    c##i##5 = _mm512_fmadd_ps(xv, b5, c##i##5);
    int64_t k = 0;
    for (; k + 16 <= kc; k += 16) {
        __m512 b0 = _mm512_loadu_ps(w0 + k), b1 = _mm512_loadu_ps(w1 + k),
               b2 = _mm512_loadu_ps(w2 + k), b3 = _mm512_loadu_ps(w3 + k),
               b4 = _mm512_loadu_ps(w4 + k), b5 = _mm512_loadu_ps(w5 + k);
        __m512 xv = _mm512_loadu_ps(x0 + k);
        ROW(0, xv)
        xv = _mm512_loadu_ps(x1 + k);
        ROW(1, xv)
        xv = _mm512_loadu_ps(x2 + k);
        ROW(2, xv)
        xv = _mm512_loadu_ps(x3 + k);
        ROW(3, xv)
    }
    if (k < kc) {
        const __mmask16 m = tmask(kc - k);
        __m512 b0 = _mm512_maskz_loadu_ps(m, w0 + k), b1 = _mm512_maskz_loadu_ps(m, w1 + k),
               b2 = _mm512_maskz_loadu_ps(m, w2 + k), b3 = _mm512_maskz_loadu_ps(m, w3 + k),
               b4 = _mm512_maskz_loadu_ps(m, w4 + k), b5 = _mm512_maskz_loadu_ps(m, w5 + k);
        __m512 xv = _mm512_maskz_loadu_ps(m, x0 + k);
        ROW(0, xv)
        xv = _mm512_maskz_loadu_ps(m, x1 + k);
        ROW(1, xv)
        xv = _mm512_maskz_loadu_ps(m, x2 + k);
        ROW(2, xv)
        xv = _mm512_maskz_loadu_ps(m, x3 + k);
        ROW(3, xv)
    }
#undef ROW
    store_c(c, hsum8(c00, c01, c02, c03, c04, c05, c04, c05), nv, alpha, loadc, bias);
    store_c(c + ldc, hsum8(c10, c11, c12, c13, c14, c15, c14, c15), nv, alpha, loadc, bias);
    store_c(c + 2 * ldc, hsum8(c20, c21, c22, c23, c24, c25, c24, c25), nv, alpha, loadc, bias);
    store_c(c + 3 * ldc, hsum8(c30, c31, c32, c33, c34, c35, c34, c35), nv, alpha, loadc, bias);
}

TGT static void cvt_row(float *out, const void *src, enum nn_dtype dt, int64_t n)
{
    const uint16_t *h = src;
    int64_t i = 0;
    switch (dt) {
    case NN_F32: memcpy(out, src, (size_t)n * sizeof(float)); return;
    case NN_BF16:
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, ld_bf16(h + i));
        if (i < n) _mm512_mask_storeu_ps(out + i, tmask(n - i), ldm_bf16(h + i, tmask(n - i)));
        return;
    case NN_F16:
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, ld_f16(h + i));
        if (i < n) _mm512_mask_storeu_ps(out + i, tmask(n - i), ldm_f16(h + i, tmask(n - i)));
        return;
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
                    for (int64_t j = 0; j < nbn; j += 6) {
                        const int nv = nbn - j < 6 ? (int)(nbn - j) : 6;
                        const float *bj = bias ? bias + nb + j : NULL;
                        int64_t t = tb;
                        for (; t + 4 <= te; t += 4)
                            k4x6(kc, a->x + t * K + k0, K, wf + j * ldw, ldw, nv,
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
                    for (int64_t j = 0; j < nbn; j += 8) {
                        const int nv = nbn - j < 8 ? (int)(nbn - j) : 8;
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

/* exp: Cephes' expf (range reduction by ln 2 in two parts, degree-6
 * polynomial), about 1 ulp; scalef scales by 2^n with correct overflow,
 * underflow and subnormals. */
TGT static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x); /* NaN stays NaN (second operand) */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, z, x);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, fx);
}

/* tanh: Cephes' tanhf: an odd polynomial below |x| = 0.625, else
 * 1 - 2/(exp(2|x|) + 1) with the sign of x; a few 1e-7 relative. */
TGT static inline __m512 tanh512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 ax = _mm512_abs_ps(x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745E-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954E-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531E-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036E-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422E-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 e = exp512(_mm512_add_ps(ax, ax));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    big = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(big), _mm512_and_si512(_mm512_castps_si512(x),
                                                                   _mm512_set1_epi32(INT32_MIN))));
    __mmask16 ms = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(ms, big, small);
}

TGT static void rmsnorm_row(float *out, const float *x, const float *w, int64_t n, float eps,
                            int add_one)
{
    __m512 s = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        s = _mm512_fmadd_ps(v, v, s);
    }
    if (i < n) {
        __m512 v = _mm512_maskz_loadu_ps(tmask(n - i), x + i);
        s = _mm512_fmadd_ps(v, v, s);
    }
    const __m512 r = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(s) / (float)n + eps));
    const __m512 one = _mm512_set1_ps(add_one ? 1.0f : 0.0f);
    for (i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tmask(n - i);
        __m512 g = _mm512_add_ps(one, _mm512_maskz_loadu_ps(m, w + i));
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r), g);
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

TGT static void rope_row(float *x, int64_t half, const float *cos, const float *sin)
{
    for (int64_t i = 0; i < half; i += 16) {
        __mmask16 m = half - i >= 16 ? (__mmask16)0xffff : tmask(half - i);
        __m512 a = _mm512_maskz_loadu_ps(m, x + i), b = _mm512_maskz_loadu_ps(m, x + i + half);
        __m512 c = _mm512_maskz_loadu_ps(m, cos + i), s = _mm512_maskz_loadu_ps(m, sin + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_fmsub_ps(a, c, _mm512_mul_ps(b, s)));
        _mm512_mask_storeu_ps(x + i + half, m, _mm512_fmadd_ps(b, c, _mm512_mul_ps(a, s)));
    }
}

TGT static inline float dot(const float *a, const float *b, int64_t n)
{
    __m512 s = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s);
    if (i < n) {
        __mmask16 m = tmask(n - i);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s);
    }
    return _mm512_reduce_add_ps(s);
}

TGT static inline void scale_row(float *o, float f, int64_t n)
{
    const __m512 fv = _mm512_set1_ps(f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tmask(n - i);
        _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + i), fv));
    }
}

TGT static void axpy(float *y, const float *x, float a, int64_t n)
{
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tmask(n - i);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* Online softmax over blocks of 16 keys (no buffer of scores). */
TGT static void attn_row(float *o, float *lse, const float *q, const float *k, const float *v,
                         int64_t j0, int64_t j1, int64_t ks, int64_t hd, float scale,
                         float softcap)
{
    float m = -INFINITY, l = 0.0f;
    float sc[16];
    for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (int64_t jb = j0; jb < j1; jb += 16) {
        const int nb = j1 - jb < 16 ? (int)(j1 - jb) : 16;
        for (int jj = 0; jj < nb; jj++) sc[jj] = dot(q, k + (jb + jj) * ks, hd);
        const __mmask16 mk = tmask(nb);
        __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, sc), _mm512_set1_ps(scale));
        if (softcap > 0.0f) {
            const __m512 cv = _mm512_set1_ps(softcap);
            s = _mm512_mul_ps(cv, tanh512(_mm512_div_ps(s, cv)));
        }
        s = _mm512_mask_blend_ps(mk, _mm512_set1_ps(-INFINITY), s);
        const float bm = _mm512_reduce_max_ps(s);
        const float mn = bm > m ? bm : m;
        const float corr = expf(m - mn);
        __m512 p = _mm512_maskz_mov_ps(mk, exp512(_mm512_sub_ps(s, _mm512_set1_ps(mn))));
        l = l * corr + _mm512_reduce_add_ps(p);
        _mm512_storeu_ps(sc, p);
        if (corr != 1.0f) scale_row(o, corr, hd);
        for (int jj = 0; jj < nb; jj++) axpy(o, v + (jb + jj) * ks, sc[jj], hd);
        m = mn;
    }
    scale_row(o, l > 0.0f ? 1.0f / l : 0.0f, hd);
    if (lse) *lse = l > 0.0f ? m + logf(l) : -INFINITY;
}

/* Elementwise loops: full vectors, then one masked tail. */
#define ELEMENTWISE(...)                                                     \
    for (int64_t i = 0; i < n; i += 16) {                                   \
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tmask(n - i); \
        __VA_ARGS__                                                                \
    }

TGT static void silu_mul(float *g, const float *u, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    ELEMENTWISE({
        __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        __m512 r = _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + i));
        _mm512_mask_storeu_ps(g + i, m, r);
    })
}

TGT static void gelu_tanh_mul(float *g, const float *u, int64_t n)
{
    const __m512 c = _mm512_set1_ps(0.7978845608028654f), k3 = _mm512_set1_ps(0.044715f);
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    ELEMENTWISE({
        __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        __m512 t = tanh512(_mm512_mul_ps(c, _mm512_fmadd_ps(k3, x3, x)));
        __m512 r = _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, t));
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, u + i)));
    })
}

TGT static void softcap(float *x, int64_t n, float cap)
{
    const __m512 cv = _mm512_set1_ps(cap);
    ELEMENTWISE({
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(cv, tanh512(_mm512_div_ps(v, cv))));
    })
}

TGT static float vmax(const float *x, int64_t n)
{
    __m512 mx = _mm512_set1_ps(x[0]);
    ELEMENTWISE({ mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + i)); })
    return _mm512_reduce_max_ps(mx);
}

TGT static void softmax(float *x, int64_t n)
{
    const __m512 mv = _mm512_set1_ps(vmax(x, n));
    __m512 s = _mm512_setzero_ps();
    ELEMENTWISE({
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv));
        e = _mm512_maskz_mov_ps(m, e);
        s = _mm512_add_ps(s, e);
        _mm512_mask_storeu_ps(x + i, m, e);
    })
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(s));
    ELEMENTWISE({ _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv)); })
}

TGT static float logsumexp(const float *x, int64_t n)
{
    const float mx = vmax(x, n);
    if (isinf(mx)) return mx;
    const __m512 mv = _mm512_set1_ps(mx);
    __m512 s = _mm512_setzero_ps();
    ELEMENTWISE({
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv));
        s = _mm512_add_ps(s, _mm512_maskz_mov_ps(m, e));
    })
    return mx + logf(_mm512_reduce_add_ps(s));
}

/* ---- backward ---- */

/* nn_matmul_dw: a tile of 6 rows of dw (n) by 4 vectors of 16 columns (k),
 * 24 accumulators, summed over t in increasing order from 0: per t, 4 loads
 * of x[t], 6 broadcasts of dy[t][n..]. Rows past n1 repeat row n0 (not
 * stored); columns past k1 are masked to zero. Every element gets the
 * same operations in either variant (4 vectors, or 1 for narrow tiles). */
#define DW_NR 6
#define DW_KC 64
TGT static inline __mmask16 kmask(int64_t k, int64_t k1)
{
    return k1 - k >= 16 ? (__mmask16)0xffff : k1 <= k ? (__mmask16)0 : tmask(k1 - k);
}

TGT static inline void dw_store(const nn_dw_args *a, int64_t n, int64_t k, __mmask16 m, __m512 c)
{
    float *o = a->dw + n * a->K + k;
    __m512 r = _mm512_mul_ps(_mm512_set1_ps(a->alpha), c);
    if (a->accumulate) r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), r);
    _mm512_mask_storeu_ps(o, m, r);
}

TGT static void dw_6x4(const nn_dw_args *a, int64_t n, int nr, int64_t k, int64_t k1)
{
    const __mmask16 m0 = kmask(k, k1), m1 = kmask(k + 16, k1), m2 = kmask(k + 32, k1),
                    m3 = kmask(k + 48, k1);
    const int64_t N = a->N, K = a->K;
    const int64_t r1 = nr > 1 ? 1 : 0, r2 = nr > 2 ? 2 : 0, r3 = nr > 3 ? 3 : 0,
                  r4 = nr > 4 ? 4 : 0, r5 = nr > 5 ? 5 : 0;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00,
           c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00,
           c31 = c00, c32 = c00, c33 = c00, c40 = c00, c41 = c00, c42 = c00, c43 = c00,
           c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    const float *dy = a->dy + n, *x = a->x + k;
    for (int64_t t = 0; t < a->T; t++, dy += N, x += K) {
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, x), x1 = _mm512_maskz_loadu_ps(m1, x + 16),
                     x2 = _mm512_maskz_loadu_ps(m2, x + 32), x3 = _mm512_maskz_loadu_ps(m3, x + 48);
#define ROW(i, ri)                                 \
    {                                              \
        const __m512 b = _mm512_set1_ps(dy[ri]);   \
        c##i##0 = _mm512_fmadd_ps(b, x0, c##i##0); \
        c##i##1 = _mm512_fmadd_ps(b, x1, c##i##1); \
        c##i##2 = _mm512_fmadd_ps(b, x2, c##i##2); \
        c##i##3 = _mm512_fmadd_ps(b, x3, c##i##3); \
    }
        ROW(0, 0) ROW(1, r1) ROW(2, r2) ROW(3, r3) ROW(4, r4) ROW(5, r5)
#undef ROW
    }
#define ST(i)                                       \
    if (nr > i) {                                   \
        dw_store(a, n + i, k, m0, c##i##0);         \
        if (m1) dw_store(a, n + i, k + 16, m1, c##i##1); \
        if (m2) dw_store(a, n + i, k + 32, m2, c##i##2); \
        if (m3) dw_store(a, n + i, k + 48, m3, c##i##3); \
    }
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5)
#undef ST
}

TGT static void dw_6x1(const nn_dw_args *a, int64_t n, int nr, int64_t k, int64_t k1)
{
    const __mmask16 m0 = kmask(k, k1);
    const int64_t N = a->N, K = a->K;
    const int64_t r1 = nr > 1 ? 1 : 0, r2 = nr > 2 ? 2 : 0, r3 = nr > 3 ? 3 : 0,
                  r4 = nr > 4 ? 4 : 0, r5 = nr > 5 ? 5 : 0;
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    const float *dy = a->dy + n, *x = a->x + k;
    for (int64_t t = 0; t < a->T; t++, dy += N, x += K) {
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, x);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(dy[0]), x0, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(dy[r1]), x0, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(dy[r2]), x0, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(dy[r3]), x0, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(dy[r4]), x0, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(dy[r5]), x0, c5);
    }
    dw_store(a, n, k, m0, c0);
    if (nr > 1) dw_store(a, n + 1, k, m0, c1);
    if (nr > 2) dw_store(a, n + 2, k, m0, c2);
    if (nr > 3) dw_store(a, n + 3, k, m0, c3);
    if (nr > 4) dw_store(a, n + 4, k, m0, c4);
    if (nr > 5) dw_store(a, n + 5, k, m0, c5);
}

TGT static void matmul_dw_tile(const nn_dw_args *a, int64_t n0, int64_t n1, int64_t k0, int64_t k1)
{
    for (int64_t n = n0; n < n1; n += DW_NR) {
        const int nr = n1 - n < DW_NR ? (int)(n1 - n) : DW_NR;
        for (int64_t k = k0; k < k1; k += DW_KC) {
            if (k1 - k <= 16)
                dw_6x1(a, n, nr, k, k1);
            else
                dw_6x4(a, n, nr, k, k1);
        }
    }
}

TGT static void rmsnorm_bwd_row(float *dx, const float *dy, const float *x, const float *w,
                                int64_t n, float eps, int add_one, int accumulate)
{
    const __m512 one = _mm512_set1_ps(add_one ? 1.0f : 0.0f);
    __m512 ss = _mm512_setzero_ps(), sd = ss;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tmask(n - i);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        const __m512 g = _mm512_add_ps(one, _mm512_maskz_loadu_ps(m, w + i));
        ss = _mm512_fmadd_ps(xv, xv, ss);
        sd = _mm512_fmadd_ps(_mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, dy + i)), xv, sd);
    }
    const float r = 1.0f / sqrtf(_mm512_reduce_add_ps(ss) / (float)n + eps);
    const __m512 rv = _mm512_set1_ps(r), cv = _mm512_set1_ps(r * r * r / (float)n * _mm512_reduce_add_ps(sd));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tmask(n - i);
        const __m512 g = _mm512_add_ps(one, _mm512_maskz_loadu_ps(m, w + i));
        __m512 d = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m, x + i), cv,
                                    _mm512_mul_ps(rv, _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, dy + i))));
        if (accumulate) d = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx + i), d);
        _mm512_mask_storeu_ps(dx + i, m, d);
    }
}

TGT static void rope_bwd_row(float *x, int64_t half, const float *cos, const float *sin)
{
    for (int64_t i = 0; i < half; i += 16) {
        __mmask16 m = half - i >= 16 ? (__mmask16)0xffff : tmask(half - i);
        __m512 a = _mm512_maskz_loadu_ps(m, x + i), b = _mm512_maskz_loadu_ps(m, x + i + half);
        __m512 c = _mm512_maskz_loadu_ps(m, cos + i), s = _mm512_maskz_loadu_ps(m, sin + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_fmadd_ps(a, c, _mm512_mul_ps(b, s)));
        _mm512_mask_storeu_ps(x + i + half, m, _mm512_fmsub_ps(b, c, _mm512_mul_ps(a, s)));
    }
}

/* ds of 16 scores at once (lanes beyond mk zero): s = softcapped scaled
 * score, p = exp(s - lse), ds = p (dp - D) (1 - (s/c)^2) scale. */
TGT static inline __m512 attn_ds(__m512 raw, __m512 lse, __m512 dp, __m512 D, float scale,
                                 float softcap, __mmask16 mk, __m512 *pout)
{
    __m512 s = _mm512_mul_ps(raw, _mm512_set1_ps(scale));
    __m512 u = s;
    if (softcap > 0.0f) {
        const __m512 cv = _mm512_set1_ps(softcap);
        u = tanh512(_mm512_div_ps(s, cv));
        s = _mm512_mul_ps(cv, u);
    }
    const __m512 p = _mm512_maskz_mov_ps(mk, exp512(_mm512_sub_ps(s, lse)));
    __m512 ds = _mm512_mul_ps(p, _mm512_sub_ps(dp, D));
    if (softcap > 0.0f) ds = _mm512_mul_ps(ds, _mm512_fnmadd_ps(u, u, _mm512_set1_ps(1.0f)));
    *pout = p;
    return _mm512_mul_ps(ds, _mm512_set1_ps(scale));
}

TGT static void attn_bwd_q(float *dq, float *D, const float *q, const float *dout, const float *o,
                           float lse, const float *k, const float *v, int64_t j0, int64_t j1,
                           int64_t ks, int64_t hd, float scale, float softcap)
{
    const float Dv = dot(dout, o, hd);
    *D = Dv;
    float sc[16], dp[16];
    for (int64_t d = 0; d < hd; d++) dq[d] = 0.0f;
    for (int64_t jb = j0; jb < j1; jb += 16) {
        const int nb = j1 - jb < 16 ? (int)(j1 - jb) : 16;
        for (int jj = 0; jj < nb; jj++) {
            sc[jj] = dot(q, k + (jb + jj) * ks, hd);
            dp[jj] = dot(dout, v + (jb + jj) * ks, hd);
        }
        const __mmask16 mk = tmask(nb);
        __m512 p;
        __m512 ds = attn_ds(_mm512_maskz_loadu_ps(mk, sc), _mm512_set1_ps(lse),
                            _mm512_maskz_loadu_ps(mk, dp), _mm512_set1_ps(Dv), scale, softcap, mk, &p);
        _mm512_storeu_ps(sc, ds);
        for (int jj = 0; jj < nb; jj++) axpy(dq, k + (jb + jj) * ks, sc[jj], hd);
    }
}

TGT static void attn_bwd_kv(float *dk, float *dv, const float *kj, const float *vj, const float *q,
                            const float *dout, const float *D, const float *lse, int64_t t0,
                            int64_t t1, const int64_t *kv_first, int64_t j, int64_t qs,
                            int64_t ls, int64_t hd, float scale, float softcap)
{
    float sc[16], dp[16], lv[16], Dv[16], pv[16];
    int64_t idx[16];
    for (int64_t t = t0; t < t1;) {
        int nb = 0;
        for (; nb < 16 && t < t1; t++)
            if (!kv_first || kv_first[t] <= j) idx[nb++] = t;
        if (!nb) break;
        for (int jj = 0; jj < nb; jj++) {
            sc[jj] = dot(q + idx[jj] * qs, kj, hd);
            dp[jj] = dot(dout + idx[jj] * qs, vj, hd);
            lv[jj] = lse[idx[jj] * ls];
            Dv[jj] = D[idx[jj] * ls];
        }
        const __mmask16 mk = tmask(nb);
        __m512 p;
        __m512 ds = attn_ds(_mm512_maskz_loadu_ps(mk, sc), _mm512_maskz_loadu_ps(mk, lv),
                            _mm512_maskz_loadu_ps(mk, dp), _mm512_maskz_loadu_ps(mk, Dv), scale,
                            softcap, mk, &p);
        _mm512_storeu_ps(sc, ds);
        _mm512_storeu_ps(pv, p);
        for (int jj = 0; jj < nb; jj++) {
            axpy(dv, dout + idx[jj] * qs, pv[jj], hd);
            axpy(dk, q + idx[jj] * qs, sc[jj], hd);
        }
    }
}

TGT static void silu_mul_bwd(float *dg, float *du, const float *dy, const float *g, const float *u,
                             int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    ELEMENTWISE({
        const __m512 x = _mm512_maskz_loadu_ps(m, g + i), up = _mm512_maskz_loadu_ps(m, u + i),
                     d = _mm512_maskz_loadu_ps(m, dy + i);
        const __m512 sg = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        const __m512 da = _mm512_mul_ps(sg, _mm512_fmadd_ps(x, _mm512_sub_ps(one, sg), one));
        _mm512_mask_storeu_ps(dg + i, m, _mm512_mul_ps(_mm512_mul_ps(d, up), da));
        _mm512_mask_storeu_ps(du + i, m, _mm512_mul_ps(d, _mm512_mul_ps(x, sg)));
    })
}

TGT static void gelu_tanh_mul_bwd(float *dg, float *du, const float *dy, const float *g,
                                  const float *u, int64_t n)
{
    const __m512 c = _mm512_set1_ps(0.7978845608028654f), k3 = _mm512_set1_ps(0.044715f);
    const __m512 k3x3 = _mm512_set1_ps(0.134145f);
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    ELEMENTWISE({
        const __m512 x = _mm512_maskz_loadu_ps(m, g + i), up = _mm512_maskz_loadu_ps(m, u + i),
                     d = _mm512_maskz_loadu_ps(m, dy + i);
        const __m512 x2 = _mm512_mul_ps(x, x);
        const __m512 th = tanh512(_mm512_mul_ps(c, _mm512_fmadd_ps(k3, _mm512_mul_ps(x2, x), x)));
        const __m512 opt = _mm512_add_ps(one, th);
        const __m512 a = _mm512_mul_ps(_mm512_mul_ps(half, x), opt);
        const __m512 sech2 = _mm512_fnmadd_ps(th, th, one);
        const __m512 da = _mm512_fmadd_ps(
            _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(half, x), sech2), c), _mm512_fmadd_ps(k3x3, x2, one),
            _mm512_mul_ps(half, opt));
        _mm512_mask_storeu_ps(dg + i, m, _mm512_mul_ps(_mm512_mul_ps(d, up), da));
        _mm512_mask_storeu_ps(du + i, m, _mm512_mul_ps(d, a));
    })
}

TGT static void softcap_bwd(float *dx, const float *dy, const float *x, int64_t n, float cap)
{
    const __m512 cv = _mm512_set1_ps(cap), one = _mm512_set1_ps(1.0f);
    ELEMENTWISE({
        const __m512 th = tanh512(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), cv));
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), _mm512_fnmadd_ps(th, th, one)));
    })
}

TGT static void softmax_scaled(float *dx, const float *x, int64_t n, float lse, float scale)
{
    const __m512 lv = _mm512_set1_ps(lse), sv = _mm512_set1_ps(scale);
    ELEMENTWISE({
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), lv));
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(sv, e));
    })
}
#undef ELEMENTWISE

const nn_kern nn_kern_avx512 = {
    .mr = 4,
    .nr = 6,
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
