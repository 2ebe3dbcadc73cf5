/* The scalar reference kernels: plain C, one obvious loop each, fp32 math
 * with libm's expf/tanhf. The SIMD versions are tested against these. */
#include <math.h>
#include <string.h>

#include "nn/cpu/kern.h"

static float wget(const nn_mat *w, int64_t n, int64_t k)
{
    const int64_t i = n * w->cols + k;
    switch (w->dtype) {
    case NN_BF16: return nn_bf16_to_f32(((const uint16_t *)w->data)[i]);
    case NN_F16: return nn_f16_to_f32(((const uint16_t *)w->data)[i]);
    case NN_F32: break;
    }
    return ((const float *)w->data)[i];
}

static void ref_matmul_task(const nn_mm_args *a, int64_t t0, int64_t t1, int64_t n0, int64_t n1,
                            float *scratch)
{
    (void)scratch;
    for (int64_t t = t0; t < t1; t++) {
        const float *xt = a->x + t * a->K;
        for (int64_t n = n0; n < n1; n++) {
            float s = 0.0f;
            for (int64_t k = 0; k < a->K; k++)
                s += xt[k] * (a->trans ? wget(a->w, k, n) : wget(a->w, n, k));
            float *o = &a->out[t * a->N + n];
            float r = a->alpha * s;
            if (a->accumulate) r = *o + r;
            if (a->bias) r += a->bias[n];
            *o = r;
        }
    }
}

static void ref_cvt_row(float *out, const void *src, enum nn_dtype dt, int64_t n)
{
    const uint16_t *h = src;
    switch (dt) {
    case NN_F32: memcpy(out, src, (size_t)n * sizeof(float)); return;
    case NN_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = nn_bf16_to_f32(h[i]);
        return;
    case NN_F16:
        for (int64_t i = 0; i < n; i++) out[i] = nn_f16_to_f32(h[i]);
        return;
    }
}

static void ref_rmsnorm_row(float *out, const float *x, const float *w, int64_t n, float eps,
                            int add_one)
{
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * r) * (add_one ? 1.0f + w[i] : w[i]);
}

static void ref_rope_row(float *x, int64_t half, const float *cos, const float *sin)
{
    for (int64_t i = 0; i < half; i++) {
        float a = x[i], b = x[i + half];
        x[i] = a * cos[i] - b * sin[i];
        x[i + half] = b * cos[i] + a * sin[i];
    }
}

/* Online softmax, one key at a time: o accumulates sum p_j v_j with p_j
 * relative to the running maximum m, rescaled when m grows. */
static void ref_attn_row(float *o, float *lse, const float *q, const float *k, const float *v,
                         int64_t j0, int64_t j1, int64_t kv_stride, int64_t hd, float scale,
                         float softcap)
{
    float m = -INFINITY, l = 0.0f;
    for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (int64_t j = j0; j < j1; j++) {
        const float *kj = k + j * kv_stride, *vj = v + j * kv_stride;
        float s = 0.0f;
        for (int64_t d = 0; d < hd; d++) s += q[d] * kj[d];
        s *= scale;
        if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
        if (s > m) {
            float corr = expf(m - s);
            l *= corr;
            for (int64_t d = 0; d < hd; d++) o[d] *= corr;
            m = s;
        }
        float pj = expf(s - m);
        l += pj;
        for (int64_t d = 0; d < hd; d++) o[d] += pj * vj[d];
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t d = 0; d < hd; d++) o[d] *= inv;
    if (lse) *lse = l > 0.0f ? m + logf(l) : -INFINITY;
}

static void ref_silu_mul(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void ref_gelu_tanh_mul(float *g, const float *u, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        g[i] = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * u[i];
    }
}

static void ref_softcap(float *x, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

static float ref_max(const float *x, int64_t n)
{
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

static void ref_softmax(float *x, int64_t n)
{
    const float m = ref_max(x, n);
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    const float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

static float ref_logsumexp(const float *x, int64_t n)
{
    const float m = ref_max(x, n);
    if (isinf(m)) return m;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += expf(x[i] - m);
    return m + logf(s);
}

static void ref_axpy(float *y, const float *x, float a, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* ---- backward ---- */

static void ref_matmul_dw_tile(const nn_dw_args *a, int64_t n0, int64_t n1, int64_t k0, int64_t k1)
{
    for (int64_t n = n0; n < n1; n++)
        for (int64_t k = k0; k < k1; k++) {
            float s = 0.0f;
            for (int64_t t = 0; t < a->T; t++) s += a->dy[t * a->N + n] * a->x[t * a->K + k];
            float *o = &a->dw[n * a->K + k];
            *o = a->accumulate ? *o + a->alpha * s : a->alpha * s;
        }
}

static void ref_rmsnorm_bwd_row(float *dx, const float *dy, const float *x, const float *w,
                                int64_t n, float eps, int add_one, int accumulate)
{
    float ss = 0.0f, sd = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float g = add_one ? 1.0f + w[i] : w[i];
        ss += x[i] * x[i];
        sd += g * dy[i] * x[i];
    }
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    const float c = r * r * r / (float)n * sd;
    for (int64_t i = 0; i < n; i++) {
        const float g = add_one ? 1.0f + w[i] : w[i];
        const float d = r * (g * dy[i]) - x[i] * c;
        dx[i] = accumulate ? dx[i] + d : d;
    }
}

static void ref_rope_bwd_row(float *x, int64_t half, const float *cos, const float *sin)
{
    for (int64_t i = 0; i < half; i++) {
        float a = x[i], b = x[i + half];
        x[i] = a * cos[i] + b * sin[i];
        x[i + half] = b * cos[i] - a * sin[i];
    }
}

/* The score of one key as the forward computes it: (q.k) * scale, then the
 * soft cap. */
static float ref_score(const float *q, const float *kj, int64_t hd, float scale, float softcap)
{
    float s = 0.0f;
    for (int64_t d = 0; d < hd; d++) s += q[d] * kj[d];
    s *= scale;
    if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
    return s;
}

/* d(loss)/d(raw score * scale) from p = exp(s - lse), dp = dout.v_j and
 * D = dout.out: ds = p (dp - D), times 1 - (s/c)^2 under a soft cap. */
static float ref_dscore(float s, float lse, float dp, float D, float softcap)
{
    float ds = expf(s - lse) * (dp - D);
    if (softcap > 0.0f) {
        const float u = s / softcap;
        ds *= 1.0f - u * u;
    }
    return ds;
}

static float ref_dot(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void ref_attn_bwd_q(float *dq, float *D, const float *q, const float *dout, const float *o,
                           float lse, const float *k, const float *v, int64_t j0, int64_t j1,
                           int64_t kv_stride, int64_t hd, float scale, float softcap)
{
    const float Dv = ref_dot(dout, o, hd);
    *D = Dv;
    for (int64_t d = 0; d < hd; d++) dq[d] = 0.0f;
    for (int64_t j = j0; j < j1; j++) {
        const float *kj = k + j * kv_stride, *vj = v + j * kv_stride;
        const float s = ref_score(q, kj, hd, scale, softcap);
        const float ds = ref_dscore(s, lse, ref_dot(dout, vj, hd), Dv, softcap) * scale;
        for (int64_t d = 0; d < hd; d++) dq[d] += ds * kj[d];
    }
}

static void ref_attn_bwd_kv(float *dk, float *dv, const float *kj, const float *vj, const float *q,
                            const float *dout, const float *D, const float *lse, int64_t t0,
                            int64_t t1, const int64_t *kv_first, int64_t j, int64_t qs,
                            int64_t ls, int64_t hd, float scale, float softcap)
{
    for (int64_t t = t0; t < t1; t++) {
        if (kv_first && kv_first[t] > j) continue;
        const float *qt = q + t * qs, *dot_ = dout + t * qs;
        const float s = ref_score(qt, kj, hd, scale, softcap);
        const float p = expf(s - lse[t * ls]);
        const float ds = ref_dscore(s, lse[t * ls], ref_dot(dot_, vj, hd), D[t * ls], softcap) * scale;
        for (int64_t d = 0; d < hd; d++) {
            dv[d] += p * dot_[d];
            dk[d] += ds * qt[d];
        }
    }
}

static void ref_silu_mul_bwd(float *dg, float *du, const float *dy, const float *g, const float *u,
                             int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i], up = u[i], d = dy[i];
        const float sg = 1.0f / (1.0f + expf(-x));
        /* silu'(x) = sg (1 + x (1 - sg)) */
        dg[i] = d * up * (sg * (1.0f + x * (1.0f - sg)));
        du[i] = d * (x * sg);
    }
}

static void ref_gelu_tanh_mul_bwd(float *dg, float *du, const float *dy, const float *g,
                                  const float *u, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i], up = u[i], d = dy[i];
        const float th = tanhf(c * (x + 0.044715f * x * x * x));
        const float a = 0.5f * x * (1.0f + th);
        /* gelu'(x) = 0.5 (1 + th) + 0.5 x (1 - th^2) c (1 + 3 * 0.044715 x^2) */
        const float da = 0.5f * (1.0f + th) +
                         0.5f * x * (1.0f - th * th) * c * (1.0f + 0.134145f * x * x);
        dg[i] = d * up * da;
        du[i] = d * a;
    }
}

static void ref_softcap_bwd(float *dx, const float *dy, const float *x, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++) {
        const float th = tanhf(x[i] / cap);
        dx[i] = dy[i] * (1.0f - th * th);
    }
}

static void ref_softmax_scaled(float *dx, const float *x, int64_t n, float lse, float scale)
{
    for (int64_t i = 0; i < n; i++) dx[i] = scale * expf(x[i] - lse);
}

const nn_kern nn_kern_scalar = {
    .mr = 1,
    .nr = 1,
    .matmul_task = ref_matmul_task,
    .cvt_row = ref_cvt_row,
    .rmsnorm_row = ref_rmsnorm_row,
    .rope_row = ref_rope_row,
    .attn_row = ref_attn_row,
    .silu_mul = ref_silu_mul,
    .gelu_tanh_mul = ref_gelu_tanh_mul,
    .softcap = ref_softcap,
    .softmax = ref_softmax,
    .logsumexp = ref_logsumexp,
    .axpy = ref_axpy,
    .dw_nr = 1,
    .dw_kc = 1,
    .matmul_dw_tile = ref_matmul_dw_tile,
    .rmsnorm_bwd_row = ref_rmsnorm_bwd_row,
    .rope_bwd_row = ref_rope_bwd_row,
    .attn_bwd_q = ref_attn_bwd_q,
    .attn_bwd_kv = ref_attn_bwd_kv,
    .silu_mul_bwd = ref_silu_mul_bwd,
    .gelu_tanh_mul_bwd = ref_gelu_tanh_mul_bwd,
    .softcap_bwd = ref_softcap_bwd,
    .softmax_scaled = ref_softmax_scaled,
};
