/* ISA selection, the fp16/bf16 conversions, and the public kernels of
 * kernels.h: argument handling and threading here, the arithmetic in the
 * table of the selected ISA (kernels_ref.c, kernels_avx2.c,
 * kernels_avx512.c). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/kern.h"

#ifdef NN_X86
#include <cpuid.h>
#endif

/* ---- ISA ---- */

static _Atomic(const nn_kern *) g_kern;
static enum nn_isa g_best = NN_ISA_SCALAR;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cpu_has(enum nn_isa isa)
{
#ifdef NN_X86
    if (isa == NN_ISA_SCALAR) return 1;
    __builtin_cpu_init();
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C)) return 0;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    if (isa == NN_ISA_AVX2) return 1;
    return isa == NN_ISA_AVX512 && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq");
#else
    return isa == NN_ISA_SCALAR;
#endif
}

static const nn_kern *table(enum nn_isa isa)
{
#ifdef NN_X86
    if (isa == NN_ISA_AVX512) return &nn_kern_avx512;
    if (isa == NN_ISA_AVX2) return &nn_kern_avx2;
#endif
    (void)isa;
    return &nn_kern_scalar;
}

static void isa_once(void)
{
    enum nn_isa best = NN_ISA_SCALAR;
    if (cpu_has(NN_ISA_AVX512))
        best = NN_ISA_AVX512;
    else if (cpu_has(NN_ISA_AVX2))
        best = NN_ISA_AVX2;
    g_best = best;
    enum nn_isa pick = best;
    const char *e = getenv("SFT_ISA");
    if (e) {
        for (int i = NN_ISA_SCALAR; i <= NN_ISA_AVX512; i++)
            if (!strcmp(e, nn_isa_name((enum nn_isa)i)) && i < (int)pick) pick = (enum nn_isa)i;
    }
    const nn_kern *expect = NULL;
    /* a nn_set_isa() that came first wins */
    atomic_compare_exchange_strong(&g_kern, &expect, table(pick));
}

enum nn_isa nn_isa_init(void)
{
    pthread_once(&g_once, isa_once);
    return nn_get_isa();
}

int nn_isa_supported(enum nn_isa isa)
{
    pthread_once(&g_once, isa_once);
    return (int)isa >= NN_ISA_SCALAR && isa <= g_best;
}

int nn_set_isa(enum nn_isa isa)
{
    if (!nn_isa_supported(isa)) return -1;
    atomic_store(&g_kern, table(isa));
    return 0;
}

static const nn_kern *K(void)
{
    const nn_kern *k = atomic_load_explicit(&g_kern, memory_order_acquire);
    if (!k) {
        nn_isa_init();
        k = atomic_load(&g_kern);
    }
    return k;
}

enum nn_isa nn_get_isa(void)
{
    const nn_kern *k = atomic_load(&g_kern);
    if (!k) {
        pthread_once(&g_once, isa_once);
        k = atomic_load(&g_kern);
    }
#ifdef NN_X86
    if (k == &nn_kern_avx512) return NN_ISA_AVX512;
    if (k == &nn_kern_avx2) return NN_ISA_AVX2;
#endif
    return NN_ISA_SCALAR;
}

const char *nn_isa_name(enum nn_isa isa)
{
    switch (isa) {
    case NN_ISA_SCALAR: return "scalar";
    case NN_ISA_AVX2: return "avx2";
    case NN_ISA_AVX512: return "avx512";
    }
    return "?";
}

/* ---- conversions ---- */

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float nn_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

float nn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13)); /* inf, NaN (payload kept) */
    if (e == 0) {
        if (m == 0) return bits_f32(sign);
        /* subnormal: m * 2^-24, exact in fp32 */
        e = 127 - 15 + 1;
        while (!(m & 0x400)) {
            m <<= 1;
            e--;
        }
        m &= 0x3ff;
        return bits_f32(sign | (e << 23) | (m << 13));
    }
    return bits_f32(sign | ((e + 127 - 15) << 23) | (m << 13));
}

uint16_t nn_f32_to_bf16(float f)
{
    if (isnan(f)) return 0x7fc0; /* as torch: one quiet NaN, sign dropped */
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

void nn_mat_row(const nn_mat *m, int64_t r, float *out)
{
    const char *src = (const char *)m->data + (size_t)(r * m->cols) * nn_dtype_size(m->dtype);
    K()->cvt_row(out, src, m->dtype, m->cols);
}

/* ---- matmul ---- */

int64_t nn_matmul_kc(int64_t K)
{
    if (K <= NN_KC_MAX) return K;
    int64_t nk = (K + NN_KC_MAX - 1) / NN_KC_MAX;
    int64_t kc = (K + nk - 1) / nk;
    return (kc + 15) & ~(int64_t)15;
}

typedef struct {
    nn_mm_args a;
    const nn_kern *k;
    nn_pool *pool;
    float *scratch; /* NULL pool: one buffer for the caller */
    int need_scratch;
    int64_t n_chunks, tw, nw;
} mm_ctx;

static void mm_range(void *vc, int64_t b, int64_t e, int tid)
{
    const mm_ctx *c = vc;
    float *scratch = NULL;
    if (c->need_scratch)
        scratch = c->pool ? nn_pool_scratch(c->pool, tid, NN_MM_SCRATCH) : c->scratch;
    for (int64_t i = b; i < e; i++) {
        int64_t ti = i / c->n_chunks, ni = i % c->n_chunks;
        int64_t t0 = ti * c->tw, n0 = ni * c->nw;
        int64_t t1 = t0 + c->tw < c->a.T ? t0 + c->tw : c->a.T;
        int64_t n1 = n0 + c->nw < c->a.N ? n0 + c->nw : c->a.N;
        if (t0 >= t1 || n0 >= n1) continue;
        if (c->a.trans && c->need_scratch && !scratch) /* out of memory: slow but right */
            nn_kern_scalar.matmul_task(&c->a, t0, t1, n0, n1, NULL);
        else
            c->k->matmul_task(&c->a, t0, t1, n0, n1, scratch);
    }
}

void nn_pack_wt(float *dst, const nn_mm_args *a, int64_t k0, int64_t kc, int64_t n0, int64_t nbn,
                void (*cvt)(float *out, const void *src, enum nn_dtype dt, int64_t n))
{
    /* 16 stored rows (16 values of k) at a time: converted contiguously,
     * then written as columns */
    float tmp[16 * NN_NCB];
    const size_t es = nn_dtype_size(a->w->dtype);
    for (int64_t c0 = 0; c0 < kc; c0 += 16) {
        const int64_t cn = kc - c0 < 16 ? kc - c0 : 16;
        for (int64_t c = 0; c < cn; c++)
            cvt(tmp + c * NN_NCB,
                (const char *)a->w->data + (size_t)((k0 + c0 + c) * a->N + n0) * es,
                a->w->dtype, nbn);
        for (int64_t r = 0; r < nbn; r++) {
            float *d = dst + r * kc + c0;
            for (int64_t c = 0; c < cn; c++) d[c] = tmp[c * NN_NCB + r];
        }
    }
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

static void matmul_any(nn_pool *p, float *out, const float *x, int64_t T, const nn_mat *w,
                       const float *bias, float alpha, int accumulate, int trans)
{
    const int64_t N = trans ? w->cols : w->rows, Kd = trans ? w->rows : w->cols;
    if (T <= 0 || N <= 0) return;
    if (Kd <= 0) {
        for (int64_t t = 0; t < T; t++)
            for (int64_t n = 0; n < N; n++) {
                float r = accumulate ? out[t * N + n] : 0.0f;
                out[t * N + n] = bias ? r + bias[n] : r;
            }
        return;
    }
    /* below ~64K multiply-adds (about a microsecond) waking threads costs more than
     * it saves */
    if ((double)T * (double)N * (double)Kd < 65536.0) p = NULL;
    mm_ctx c = {.a = {out, x, w, bias, alpha, accumulate, T, N, Kd, trans}, .k = K(), .pool = p};
    const int64_t mr = c.k->mr, nr = c.k->nr;
    const int64_t nth = nn_pool_size(p);
    /* Tasks: N cut in chunks of up to 4 blocks of NN_NCB rows of W (a
     * multiple of nth of them while there are few), T cut only when N gives
     * fewer chunks than threads. The cut never changes a result: every
     * output element is computed by the same sequence of operations. */
    int64_t nmax = cdiv(N, nr);
    int64_t nch = cdiv(N, 4 * NN_NCB);
    if (nch < 8 * nth) nch = round_up(nch, nth);
    if (nch > nmax) nch = nmax;
    c.nw = round_up(cdiv(N, nch), nr);
    c.n_chunks = cdiv(N, c.nw);
    int64_t tch = 1;
    if (c.n_chunks < nth) {
        tch = cdiv(nth, c.n_chunks);
        if (tch > cdiv(T, mr)) tch = cdiv(T, mr);
    }
    c.tw = round_up(cdiv(T, tch), mr);
    tch = cdiv(T, c.tw);
    c.need_scratch = (trans || (w->dtype != NN_F32 && T >= mr)) && mr > 1;
    if (c.need_scratch && !p) c.scratch = aligned_alloc(64, NN_MM_SCRATCH * sizeof(float));
    nn_pool_for_static(p, mm_range, &c, tch * c.n_chunks);
    free(c.scratch);
}

void nn_matmul(nn_pool *p, float *out, const float *x, int64_t T, const nn_mat *w,
               const float *bias, float alpha, int accumulate)
{
    matmul_any(p, out, x, T, w, bias, alpha, accumulate, 0);
}

/* dx = dy · W: nn_matmul's code with the logical weight Wᵀ ([cols][rows]),
 * converted (and transposed) block by block into the thread's scratch. */
void nn_matmul_dx(nn_pool *p, float *dx, const float *dy, int64_t T, const nn_mat *w, float alpha,
                  int accumulate)
{
    matmul_any(p, dx, dy, T, w, NULL, alpha, accumulate, 1);
}

typedef struct {
    nn_dw_args a;
    const nn_kern *k;
    int64_t nw, kw, n_kch;
} dw_ctx;

static void dw_range(void *vc, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const dw_ctx *c = vc;
    for (int64_t i = b; i < e; i++) {
        const int64_t n0 = i / c->n_kch * c->nw, k0 = i % c->n_kch * c->kw;
        const int64_t n1 = n0 + c->nw < c->a.N ? n0 + c->nw : c->a.N;
        const int64_t k1 = k0 + c->kw < c->a.K ? k0 + c->kw : c->a.K;
        c->k->matmul_dw_tile(&c->a, n0, n1, k0, k1);
    }
}

void nn_matmul_dw(nn_pool *p, float *dw, const float *dy, const float *x, int64_t T, int64_t N,
                  int64_t Kd, float alpha, int accumulate)
{
    if (N <= 0 || Kd <= 0) return;
    if (T <= 0) {
        for (int64_t i = 0; i < N * Kd; i++) dw[i] = accumulate ? dw[i] : 0.0f;
        return;
    }
    if ((double)T * (double)N * (double)Kd < 65536.0) p = NULL;
    dw_ctx c = {.a = {dw, dy, x, T, N, Kd, alpha, accumulate}, .k = K()};
    /* Tasks of whole tiles (the split never changes a result: each element
     * is one tile's sum over t): about 256 columns by 4 tiles of rows, then
     * cut further while there are fewer tasks than 4 per thread. */
    const int64_t nr = c.k->dw_nr, kr = c.k->dw_kc, nth = nn_pool_size(p);
    c.nw = round_up(N < 4 * nr ? N : 4 * nr, nr);
    c.kw = round_up(Kd < 256 ? Kd : 256, kr);
    while (cdiv(N, c.nw) * cdiv(Kd, c.kw) < 4 * nth) {
        if (c.kw > kr)
            c.kw = round_up(c.kw / 2, kr);
        else if (c.nw > nr)
            c.nw = round_up(c.nw / 2, nr);
        else
            break;
    }
    c.n_kch = cdiv(Kd, c.kw);
    nn_pool_for(p, dw_range, &c, cdiv(N, c.nw) * c.n_kch, 1);
}

/* ---- the rest ---- */

void nn_rmsnorm(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps,
                int add_one)
{
    const nn_kern *k = K();
    for (int64_t t = 0; t < T; t++) k->rmsnorm_row(out + t * n, x + t * n, w, n, eps, add_one);
}

void nn_rope(float *x, int64_t T, int64_t nheads, int64_t head_dim, const float *cos,
             const float *sin)
{
    const nn_kern *k = K();
    const int64_t half = head_dim / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < nheads; h++)
            k->rope_row(x + (t * nheads + h) * head_dim, half, cos + t * half, sin + t * half);
}

typedef struct {
    float *out, *lse;
    const float *q, *k, *v;
    const nn_attn_shape *s;
    const nn_kern *kt;
} attn_ctx;

static int64_t attn_group(const nn_attn_shape *s)
{
    return s->n_kv_heads > 0 && s->n_heads >= s->n_kv_heads ? s->n_heads / s->n_kv_heads : 1;
}

/* The first key query t sees (window, kv_first); the last is pos0 + t. */
static int64_t attn_j0(const nn_attn_shape *s, int64_t t)
{
    const int64_t pos = s->pos0 + t;
    int64_t j0 = s->window > 0 && pos - s->window + 1 > 0 ? pos - s->window + 1 : 0;
    if (s->kv_first && s->kv_first[t] > j0) j0 = s->kv_first[t];
    return j0;
}

static void attn_range(void *vc, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const attn_ctx *c = vc;
    const nn_attn_shape *s = c->s;
    const int64_t H = s->n_heads, hd = s->head_dim;
    const int64_t group = attn_group(s);
    for (int64_t i = b; i < e; i++) {
        int64_t t = i / H, h = i % H;
        int64_t pos = s->pos0 + t;
        int64_t j0 = attn_j0(s, t);
        int64_t kvh = h / group;
        c->kt->attn_row(c->out + i * hd, c->lse ? c->lse + i : NULL, c->q + i * hd,
                        c->k + kvh * hd, c->v + kvh * hd, j0, j0 < pos + 1 ? pos + 1 : j0,
                        s->kv_stride, hd, s->scale, s->softcap);
    }
}

void nn_attention_lse(nn_pool *p, float *out, float *lse, const float *q, const float *k,
                      const float *v, const nn_attn_shape *s)
{
    if (s->T <= 0 || s->n_heads <= 0 || s->head_dim <= 0) return;
    attn_ctx c = {out, lse, q, k, v, s, K()};
    nn_pool_for(p, attn_range, &c, s->T * s->n_heads, 1);
}

void nn_attention(nn_pool *p, float *out, const float *q, const float *k, const float *v,
                  const nn_attn_shape *s)
{
    nn_attention_lse(p, out, NULL, q, k, v, s);
}

/* Attention backward in two race-free passes that both recompute the
 * probabilities from lse (as FlashAttention-2 does): pass 1 over (t, h)
 * rows writes dq and D = dout.out; pass 2 over (key j, kv-head) rows
 * writes dk and dv, summing over the heads of the group in increasing
 * order and the queries in increasing t. Every element is one row's
 * sequence of operations: no result depends on the thread count. */
typedef struct {
    float *dq, *dk, *dv, *D;
    const float *dout, *q, *k, *v, *out, *lse;
    const nn_attn_shape *s;
    const nn_kern *kt;
} attn_bwd_ctx;

static void attn_bwd_q_range(void *vc, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const attn_bwd_ctx *c = vc;
    const nn_attn_shape *s = c->s;
    const int64_t H = s->n_heads, hd = s->head_dim, group = attn_group(s);
    for (int64_t i = b; i < e; i++) {
        const int64_t t = i / H, h = i % H, kvh = h / group, j0 = attn_j0(s, t);
        c->kt->attn_bwd_q(c->dq + i * hd, c->D + i, c->q + i * hd, c->dout + i * hd,
                          c->out + i * hd, c->lse[i], c->k + kvh * hd, c->v + kvh * hd, j0,
                          j0 < t + 1 ? t + 1 : j0, s->kv_stride, hd, s->scale, s->softcap);
    }
}

static void attn_bwd_kv_range(void *vc, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const attn_bwd_ctx *c = vc;
    const nn_attn_shape *s = c->s;
    const int64_t H = s->n_heads, KVH = s->n_kv_heads, hd = s->head_dim, group = attn_group(s);
    for (int64_t i = b; i < e; i++) {
        const int64_t j = i / KVH, kvh = i % KVH;
        float *dk = c->dk + i * hd, *dv = c->dv + i * hd;
        memset(dk, 0, (size_t)hd * sizeof *dk);
        memset(dv, 0, (size_t)hd * sizeof *dv);
        /* the queries that see key j: t >= j, t < j + window */
        const int64_t t1 = s->window > 0 && j + s->window < s->T ? j + s->window : s->T;
        const float *kj = c->k + j * s->kv_stride + kvh * hd, *vj = c->v + j * s->kv_stride + kvh * hd;
        for (int64_t h = kvh * group; h < (kvh + 1) * group && h < H; h++)
            c->kt->attn_bwd_kv(dk, dv, kj, vj, c->q + h * hd, c->dout + h * hd, c->D + h,
                               c->lse + h, j, t1, s->kv_first, j, H * hd, H, hd, s->scale,
                               s->softcap);
    }
}

void nn_attention_backward(nn_pool *p, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *out,
                           const float *lse, const nn_attn_shape *s)
{
    const int64_t T = s->T, H = s->n_heads, KVH = s->n_kv_heads, hd = s->head_dim;
    if (T <= 0 || H <= 0 || KVH <= 0 || hd <= 0) return;
    /* D[t][h] (T*H floats): the one allocation; pos0 != 0 is not supported */
    float *D = s->pos0 == 0 ? malloc((size_t)(T * H) * sizeof *D) : NULL;
    if (!D) { /* out of memory, or pos0 != 0: NaN, which training notices */
        for (int64_t i = 0; i < T * H * hd; i++) dq[i] = NAN;
        for (int64_t i = 0; i < T * KVH * hd; i++) dk[i] = dv[i] = NAN;
        return;
    }
    attn_bwd_ctx c = {dq, dk, dv, D, dout, q, k, v, out, lse, s, K()};
    nn_pool_for(p, attn_bwd_q_range, &c, T * H, 1);
    nn_pool_for(p, attn_bwd_kv_range, &c, T * KVH, 1);
    free(D);
}

void nn_silu_mul(float *gate, const float *up, int64_t n)
{
    if (n > 0) K()->silu_mul(gate, up, n);
}

void nn_gelu_tanh_mul(float *gate, const float *up, int64_t n)
{
    if (n > 0) K()->gelu_tanh_mul(gate, up, n);
}

void nn_softcap(float *x, int64_t n, float cap)
{
    if (n > 0) K()->softcap(x, n, cap);
}

void nn_softmax(float *x, int64_t n)
{
    if (n > 0) K()->softmax(x, n);
}

float nn_logsumexp(const float *x, int64_t n)
{
    return n > 0 ? K()->logsumexp(x, n) : -INFINITY;
}

float nn_cross_entropy(const float *x, int64_t n, int64_t target)
{
    return nn_logsumexp(x, n) - x[target];
}

void nn_axpy(float *y, const float *x, float a, int64_t n)
{
    if (n > 0) K()->axpy(y, x, a, n);
}

void nn_log_softmax(float *x, int64_t n)
{
    if (n <= 0) return;
    const float l = nn_logsumexp(x, n);
    for (int64_t i = 0; i < n; i++) x[i] -= l;
}

/* ---- backward: the rest ---- */

void nn_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *w, int64_t T,
                         int64_t n, float eps, int add_one, int accumulate)
{
    if (n <= 0) return;
    const nn_kern *k = K();
    for (int64_t t = 0; t < T; t++)
        k->rmsnorm_bwd_row(dx + t * n, dy + t * n, x + t * n, w, n, eps, add_one, accumulate);
}

void nn_rope_backward(float *dx, int64_t T, int64_t nheads, int64_t head_dim, const float *cos,
                      const float *sin)
{
    const nn_kern *k = K();
    const int64_t half = head_dim / 2;
    if (half <= 0) return;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < nheads; h++)
            k->rope_bwd_row(dx + (t * nheads + h) * head_dim, half, cos + t * half, sin + t * half);
}

void nn_silu_mul_backward(float *dgate, float *dup, const float *dy, const float *gate,
                          const float *up, int64_t n)
{
    if (n > 0) K()->silu_mul_bwd(dgate, dup, dy, gate, up, n);
}

void nn_gelu_tanh_mul_backward(float *dgate, float *dup, const float *dy, const float *gate,
                               const float *up, int64_t n)
{
    if (n > 0) K()->gelu_tanh_mul_bwd(dgate, dup, dy, gate, up, n);
}

void nn_softcap_backward(float *dx, const float *dy, const float *x, int64_t n, float cap)
{
    if (n > 0) K()->softcap_bwd(dx, dy, x, n, cap);
}

float nn_cross_entropy_backward(float *dx, const float *x, int64_t n, int64_t target, float scale)
{
    if (n <= 0) return NAN;
    const nn_kern *k = K();
    const float lse = k->logsumexp(x, n), xt = x[target];
    k->softmax_scaled(dx, x, n, lse, scale);
    dx[target] = scale * (expf(xt - lse) - 1.0f);
    return lse - xt;
}
