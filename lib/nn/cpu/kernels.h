/* The CPU compute kernels of the model core: a plain scalar C reference for
 * each one, and AVX2/FMA (and AVX-512) versions picked at run time from
 * cpuid, all behind the functions below. Math is fp32; BF16/F16 weights are
 * converted as they are read, never copied whole to fp32.
 *
 * Dispatch is process-wide: nn_isa_init() picks the best ISA the CPU has
 * (the environment variable SFT_ISA=scalar|avx2|avx512 may ask for a lower
 * one); tests call nn_set_isa() to run the same inputs through each path.
 * Nothing here allocates per call except where noted; nothing prints. */
#ifndef SFT_NN_KERNELS_H
#define SFT_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum nn_dtype { NN_F32 = 0, NN_BF16, NN_F16 };

/* A row-major matrix [rows][cols] of weights, as a torch Linear stores
 * them ([out_features][in_features]). data is borrowed (an mmap). */
typedef struct {
    const void *data;
    enum nn_dtype dtype;
    int64_t rows, cols;
} nn_mat;

enum nn_isa { NN_ISA_SCALAR = 0, NN_ISA_AVX2, NN_ISA_AVX512 };

/* Picks the ISA: the best the CPU supports, lowered by $SFT_ISA. Returns it.
 * Called by nn_pool_new(); idempotent. */
enum nn_isa nn_isa_init(void);
/* Whether the CPU (and this build) can run isa. */
int nn_isa_supported(enum nn_isa isa);
/* Selects isa for every kernel below; returns -1 (and changes nothing) when
 * unsupported. */
int nn_set_isa(enum nn_isa isa);
enum nn_isa nn_get_isa(void);
const char *nn_isa_name(enum nn_isa isa); /* "scalar", "avx2", "avx512" */

/* ---- thread pool ---- */

typedef struct nn_pool nn_pool;

/* nthreads workers including the caller (1: everything runs on the caller;
 * 0: one per online CPU). NULL when out of memory or threads cannot start. */
nn_pool *nn_pool_new(int nthreads);
void nn_pool_free(nn_pool *p);
int nn_pool_size(const nn_pool *p);
/* Runs fn(ctx, begin, end, tid) over [0, n) in chunks of at least grain,
 * on all threads, and returns when all are done. tid < nn_pool_size(). A
 * NULL pool runs everything on the caller with tid 0. */
typedef void (*nn_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);
void nn_pool_for(nn_pool *p, nn_range_fn fn, void *ctx, int64_t n, int64_t grain);

/* ---- conversions ---- */

float nn_bf16_to_f32(uint16_t h);
float nn_f16_to_f32(uint16_t h);
uint16_t nn_f32_to_bf16(float f); /* round to nearest even, as torch does */
/* Row r of m as fp32 into out[m->cols] (embedding lookups, 1-D tensors). */
void nn_mat_row(const nn_mat *m, int64_t r, float *out);

/* ---- kernels ---- */

/* out[t][n] = (accumulate ? out[t][n] : 0) + alpha * sum_k x[t][k] * w[n][k]
 *             + (bias ? bias[n] : 0)
 * for t < T, n < w->rows, k < w->cols. x is fp32 [T][w->cols], out fp32
 * [T][w->rows]; both dense. Threaded over the pool. */
void nn_matmul(nn_pool *p, float *out, const float *x, int64_t T, const nn_mat *w,
               const float *bias, float alpha, int accumulate);

/* RMSNorm of each of T rows of n values: out = x / sqrt(mean(x^2) + eps) * g,
 * where g = w[i] or, with add_one (Gemma), 1 + w[i]. out may equal x. */
void nn_rmsnorm(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps,
                int add_one);

/* Rotary embedding in Hugging Face's rotate_half layout, in place, on x
 * [T][nheads][head_dim]: for i < head_dim/2, the pair (x[i], x[i+head_dim/2])
 * of row t is rotated by the angle whose cos/sin are cos[t][i], sin[t][i]
 * (tables [T][head_dim/2], built by the caller with its scaling). */
void nn_rope(float *x, int64_t T, int64_t nheads, int64_t head_dim, const float *cos,
             const float *sin);

/* Attention of T queries against a KV cache, with GQA.
 * q: [T][n_heads][head_dim]; query t sits at absolute position pos0 + t.
 * k, v: the cache, key/value of position j for kv-head h at
 *       k + j*kv_stride + h*head_dim (kv_stride >= n_kv_heads*head_dim);
 *       positions 0 .. pos0+T-1 are filled.
 * out: [T][n_heads][head_dim].
 * Query head h uses kv-head h / (n_heads / n_kv_heads). Query at position p
 * sees keys j <= p (causal) with j > p - window when window > 0 (a sliding
 * window of that many positions, itself included). Scores are
 * (q.k) * scale, then softcap*tanh(s/softcap) when softcap > 0, then softmax
 * in fp32. With kv_first, query t also sees no key before kv_first[t]; a
 * query that sees no key gets zeros (and lse -inf). Threaded over (t, head). */
typedef struct {
    int64_t T, pos0, n_heads, n_kv_heads, head_dim, kv_stride, window;
    float scale, softcap;
    const int64_t *kv_first; /* NULL, or per query t: the first key position it may see (packed
                                sequences: the start of its example), on top of causal/window */
} nn_attn_shape;
void nn_attention(nn_pool *p, float *out, const float *q, const float *k, const float *v,
                  const nn_attn_shape *s);

/* Gated MLP activations over n values, in place in gate:
 * gate[i] = silu(gate[i]) * up[i]        (Llama, Qwen)
 * gate[i] = gelu_tanh(gate[i]) * up[i]   (Gemma: 0.5x(1+tanh(√(2/π)(x+0.044715x³)))) */
void nn_silu_mul(float *gate, const float *up, int64_t n);
void nn_gelu_tanh_mul(float *gate, const float *up, int64_t n);

/* x[i] = cap * tanh(x[i] / cap) (Gemma 2 logit soft-capping). */
void nn_softcap(float *x, int64_t n, float cap);

/* In place: softmax of x[0..n). */
void nn_softmax(float *x, int64_t n);
/* log(sum exp x[i]), computed stably (max subtracted). */
float nn_logsumexp(const float *x, int64_t n);
/* Cross-entropy of one row: logsumexp(x) - x[target] (the negative
 * log-likelihood of target). */
float nn_cross_entropy(const float *x, int64_t n, int64_t target);

/* y[i] += a * x[i] */
void nn_axpy(float *y, const float *x, float a, int64_t n);

/* In place: x[i] - logsumexp(x) (log-softmax). */
void nn_log_softmax(float *x, int64_t n);

/* ---- backward (LoRA training) ---- */

/* dx[t][k] = (accumulate ? dx[t][k] : 0) + alpha * sum_n dy[t][n] * w[n][k]
 * for t < T, k < w->cols, n < w->rows: the gradient of y = x·Wᵀ with respect
 * to x (W frozen, BF16/F16/F32). dy fp32 [T][w->rows], dx fp32 [T][w->cols].
 * Threaded over the pool (results independent of the thread count). */
void nn_matmul_dx(nn_pool *p, float *dx, const float *dy, int64_t T, const nn_mat *w, float alpha,
                  int accumulate);
/* dw[n][k] = (accumulate ? dw[n][k] : 0) + alpha * sum_t dy[t][n] * x[t][k]
 * for n < N, k < K: a weight gradient (LoRA's small matrices), all fp32,
 * dy [T][N], x [T][K], dw [N][K]. Threaded over n (and k when N is small);
 * the sum over t is in increasing t order within each thread's work so the
 * result does not depend on the thread count. */
void nn_matmul_dw(nn_pool *p, float *dw, const float *dy, const float *x, int64_t T, int64_t N,
                  int64_t K, float alpha, int accumulate);
/* RMSNorm backward for y = x * r * g, r = 1/sqrt(mean(x²)+eps), g = w or
 * 1+w: dx[t] (=|+=) r*(g*dy) - x * r³/n * sum_i(g_i*dy_i*x_i). The norm's
 * weight is frozen (no dw). dx may not alias dy or x. */
void nn_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *w, int64_t T,
                         int64_t n, float eps, int add_one, int accumulate);
/* The transpose of nn_rope: rotates each pair by the negative angle, in
 * place on dx [T][nheads][head_dim] (same cos/sin tables). */
void nn_rope_backward(float *dx, int64_t T, int64_t nheads, int64_t head_dim, const float *cos,
                      const float *sin);
/* nn_attention, also writing lse[t*n_heads + h] = the log-sum-exp of the
 * (scaled, soft-capped, masked) scores of query t, head h (for backward). */
void nn_attention_lse(nn_pool *p, float *out, float *lse, const float *q, const float *k,
                      const float *v, const nn_attn_shape *s);
/* Attention backward for the T queries of s (pos0 must be 0: training runs
 * whole sequences). Given dout [T][n_heads][head_dim], the forward's q, k,
 * v (k, v with s->kv_stride, T positions), out and lse: writes dq
 * [T][n_heads][head_dim] and dk, dv [T][n_kv_heads][head_dim] (dense,
 * stride n_kv_heads*head_dim; GQA: the query heads of a group add into
 * their kv head). Softcap and window as in the forward. Overwrites dq, dk, dv. */
void nn_attention_backward(nn_pool *p, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *out,
                           const float *lse, const nn_attn_shape *s);
/* Gated activations backward: with a = act(gate), y = a * up:
 * dgate[i] = dy[i] * up[i] * act'(gate[i]), dup[i] = dy[i] * a. */
void nn_silu_mul_backward(float *dgate, float *dup, const float *dy, const float *gate,
                          const float *up, int64_t n);
void nn_gelu_tanh_mul_backward(float *dgate, float *dup, const float *dy, const float *gate,
                               const float *up, int64_t n);
/* Softcap backward: dx[i] = dy[i] * (1 - tanh(x[i]/cap)^2), x the input of the forward. */
void nn_softcap_backward(float *dx, const float *dy, const float *x, int64_t n, float cap);
/* Cross-entropy of one row, and its gradient: returns logsumexp(x) - x[target]
 * and writes dx[i] = scale * (softmax(x)[i] - (i == target)). dx may equal x. */
float nn_cross_entropy_backward(float *dx, const float *x, int64_t n, int64_t target, float scale);

#endif
