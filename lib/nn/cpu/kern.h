/* Internal to lib/nn/cpu: the table of kernels one ISA provides, the
 * blocking constants of nn_matmul, and the pool's per-thread scratch. The
 * public contract is kernels.h. */
#ifndef SFT_NN_CPU_KERN_H
#define SFT_NN_CPU_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/cpu/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define NN_X86 1
/* Every SIMD function, static inline helpers included, carries its target:
 * the library is also compiled in one clang command with no per-file flags. */
#define NN_TGT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define NN_TGT_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#endif

/* nn_matmul, once the pointers are resolved. */
typedef struct {
    float *out;
    const float *x;
    const nn_mat *w;
    const float *bias;
    float alpha;
    int accumulate;
    int64_t T, N, K;
    /* nn_matmul_dx: the logical W[n][k] (n < N, k < K) is stored transposed,
     * at w->data[k*N + n] (w is [K][N]); matmul_task then always converts
     * it into scratch (which must not be NULL for the SIMD tables), and
     * the result is otherwise computed as by nn_matmul. */
    int trans;
} nn_mm_args;

/* nn_matmul_dw: dw[n][k] = (accumulate ? dw : 0) + alpha * sum_t dy[t][n] x[t][k]. */
typedef struct {
    float *dw;
    const float *dy, *x;
    int64_t T, N, K;
    float alpha;
    int accumulate;
} nn_dw_args;

/* Rows r < nbn of the logical (transposed) W of a trans nn_mm_args, columns
 * [k0, k0+kc) of rows [n0, n0+nbn), as fp32 into dst[r*kc + c]; cvt is the
 * ISA's cvt_row. nbn <= NN_NCB. */
void nn_pack_wt(float *dst, const nn_mm_args *a, int64_t k0, int64_t kc, int64_t n0, int64_t nbn,
                void (*cvt)(float *out, const void *src, enum nn_dtype dt, int64_t n));

/* K is cut into blocks of at most NN_KC_MAX, all of the same size (a
 * multiple of 16) but the last: nn_matmul_kc(K). Rows of W are converted
 * (BF16/F16) NN_NCB at a time into a per-thread buffer of NN_NCB*NN_KC_MAX
 * floats; x is read NN_MC rows at a time. NN_NCB is a multiple of every
 * ISA's nr (and of 8, the width of the one-row kernels). */
#define NN_KC_MAX 512
#define NN_NCB 96
#define NN_MC 64
#define NN_MM_SCRATCH ((size_t)NN_NCB * NN_KC_MAX)
int64_t nn_matmul_kc(int64_t K);

typedef struct {
    /* The GEMM tile: tasks are cut at multiples of mr rows of x and nr rows
     * of W (1 and 1 for the scalar code). */
    int mr, nr;
    /* out rows [t0,t1) x columns [n0,n1); scratch: NN_MM_SCRATCH floats or
     * NULL (then nothing is converted ahead, W is read as it is stored). */
    void (*matmul_task)(const nn_mm_args *a, int64_t t0, int64_t t1, int64_t n0, int64_t n1,
                        float *scratch);
    /* n values of type dt at src to fp32. */
    void (*cvt_row)(float *out, const void *src, enum nn_dtype dt, int64_t n);
    void (*rmsnorm_row)(float *out, const float *x, const float *w, int64_t n, float eps,
                        int add_one);
    /* One head of head_dim = 2*half values. */
    void (*rope_row)(float *x, int64_t half, const float *cos, const float *sin);
    /* One query row against keys [j0, j1) of one kv-head (k, v point at
     * that head's slice of position 0). */
    void (*attn_row)(float *o, float *lse, const float *q, const float *k, const float *v,
                     int64_t j0, int64_t j1, int64_t kv_stride, int64_t hd, float scale,
                     float softcap);
    void (*silu_mul)(float *g, const float *u, int64_t n);
    void (*gelu_tanh_mul)(float *g, const float *u, int64_t n);
    void (*softcap)(float *x, int64_t n, float cap);
    void (*softmax)(float *x, int64_t n);
    float (*logsumexp)(const float *x, int64_t n);
    void (*axpy)(float *y, const float *x, float a, int64_t n);

    /* ---- backward ---- */
    /* nn_matmul_dw on the tile dw[n0,n1) x [k0,k1); tiles are cut at
     * multiples of dw_nr rows and dw_kc columns. Each element is a sum
     * from 0 over t in increasing order, then alpha * sum (+ old). */
    int dw_nr, dw_kc;
    void (*matmul_dw_tile)(const nn_dw_args *a, int64_t n0, int64_t n1, int64_t k0, int64_t k1);
    void (*rmsnorm_bwd_row)(float *dx, const float *dy, const float *x, const float *w, int64_t n,
                            float eps, int add_one, int accumulate);
    void (*rope_bwd_row)(float *x, int64_t half, const float *cos, const float *sin);
    /* Attention backward, pass 1: one query row (q, dout, o: its head's
     * slice) against keys [j0, j1) of one kv-head (k, v as in attn_row):
     * writes *D = dout.o and dq = scale * sum_j ds_j k_j. */
    void (*attn_bwd_q)(float *dq, float *D, const float *q, const float *dout, const float *o,
                       float lse, const float *k, const float *v, int64_t j0, int64_t j1,
                       int64_t kv_stride, int64_t hd, float scale, float softcap);
    /* Pass 2: key j of one kv-head (kj, vj) against the queries t in [t0, t1)
     * of one query head with kv_first[t] <= j (kv_first may be NULL); q, dout
     * point at that head's slice of row 0 (row stride qs), D and lse at its
     * value of row 0 (stride ls). Adds into dk, dv, in increasing t. */
    void (*attn_bwd_kv)(float *dk, float *dv, const float *kj, const float *vj, const float *q,
                        const float *dout, const float *D, const float *lse, int64_t t0,
                        int64_t t1, const int64_t *kv_first, int64_t j, int64_t qs, int64_t ls,
                        int64_t hd, float scale, float softcap);
    void (*silu_mul_bwd)(float *dg, float *du, const float *dy, const float *g, const float *u,
                         int64_t n);
    void (*gelu_tanh_mul_bwd)(float *dg, float *du, const float *dy, const float *g,
                              const float *u, int64_t n);
    void (*softcap_bwd)(float *dx, const float *dy, const float *x, int64_t n, float cap);
    /* dx[i] = scale * exp(x[i] - lse) (dx may equal x) */
    void (*softmax_scaled)(float *dx, const float *x, int64_t n, float lse, float scale);
} nn_kern;

extern const nn_kern nn_kern_scalar;
#ifdef NN_X86
extern const nn_kern nn_kern_avx2;
extern const nn_kern nn_kern_avx512;
#endif

/* The pool's buffer of at least nfloats floats (64-byte aligned) for thread
 * tid, grown on demand, freed with the pool; only thread tid may call it
 * (from inside nn_pool_for). NULL when out of memory. */
float *nn_pool_scratch(nn_pool *p, int tid, size_t nfloats);

/* nn_pool_for with a fixed split: thread i runs items
 * [i*n/size, (i+1)*n/size) in one call, so that it sees the same data (in
 * its caches) on every call of the same shape. */
void nn_pool_for_static(nn_pool *p, nn_range_fn fn, void *ctx, int64_t n);

static inline size_t nn_dtype_size(enum nn_dtype dt) { return dt == NN_F32 ? 4 : 2; }

#endif
