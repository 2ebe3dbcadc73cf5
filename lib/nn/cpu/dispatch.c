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
        if (t0 < t1 && n0 < n1) c->k->matmul_task(&c->a, t0, t1, n0, n1, scratch);
    }
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

void nn_matmul(nn_pool *p, float *out, const float *x, int64_t T, const nn_mat *w,
               const float *bias, float alpha, int accumulate)
{
    const int64_t N = w->rows, Kd = w->cols;
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
    mm_ctx c = {.a = {out, x, w, bias, alpha, accumulate, T, N, Kd}, .k = K(), .pool = p};
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
    c.need_scratch = w->dtype != NN_F32 && T >= mr && mr > 1;
    if (c.need_scratch && !p) c.scratch = aligned_alloc(64, NN_MM_SCRATCH * sizeof(float));
    nn_pool_for_static(p, mm_range, &c, tch * c.n_chunks);
    free(c.scratch);
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
    float *out;
    const float *q, *k, *v;
    const nn_attn_shape *s;
    const nn_kern *kt;
} attn_ctx;

static void attn_range(void *vc, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const attn_ctx *c = vc;
    const nn_attn_shape *s = c->s;
    const int64_t H = s->n_heads, hd = s->head_dim;
    const int64_t group = s->n_kv_heads > 0 && H >= s->n_kv_heads ? H / s->n_kv_heads : 1;
    for (int64_t i = b; i < e; i++) {
        int64_t t = i / H, h = i % H;
        int64_t pos = s->pos0 + t;
        int64_t j0 = s->window > 0 && pos - s->window + 1 > 0 ? pos - s->window + 1 : 0;
        int64_t kvh = h / group;
        c->kt->attn_row(c->out + i * hd, c->q + i * hd, c->k + kvh * hd, c->v + kvh * hd, j0,
                        pos + 1, s->kv_stride, hd, s->scale, s->softcap);
    }
}

void nn_attention(nn_pool *p, float *out, const float *q, const float *k, const float *v,
                  const nn_attn_shape *s)
{
    if (s->T <= 0 || s->n_heads <= 0 || s->head_dim <= 0) return;
    attn_ctx c = {out, q, k, v, s, K()};
    nn_pool_for(p, attn_range, &c, s->T * s->n_heads, 1);
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
