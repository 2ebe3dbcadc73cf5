/* See train.h. The forward pass is model.c's, written out again for whole
 * sequences with every activation the backward pass needs kept per layer;
 * the backward pass runs the layers in reverse:
 *
 *   linear  y = W x + b + s B (A x):   dx = Wᵀdy + s Aᵀ(Bᵀdy),
 *           dB += s dy (Ax)ᵀ, dA += s (Bᵀdy) xᵀ
 *   norms, RoPE, attention, gated activations, soft-capping and the
 *   cross-entropy through their kernels' backward functions. */
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/hash.h"
#include "nn/model_internal.h"
#include "nn/st_write.h"

typedef struct {
    float *x_in, *h1, *q_proj, *k_proj, *q, *k, *v, *att, *lse, *o, *x_mid, *h2, *gate, *up, *act,
        *down;
    float *ax[L_COUNT]; /* A x of each adapted linear layer, [T][r] */
    float *xd[L_COUNT]; /* with dropout: the adapter's dropped-out input, [T][in] */
} layer_acts;

struct nn_trainer {
    nn_model *m;
    nn_lora_cfg cfg;
    int64_t max_T;
    int grad_ckpt;
    float dropout;
    uint64_t calls;          /* nn_trainer_accumulate calls: keys the dropout masks */
    size_t n;                /* parameters */
    float *p, *g, *m1, *m2;
    nn_lora_slot *slots;
    nn_lora *bound;          /* the model's view of each slot */
    size_t nslots;
    int (*slot_of)[L_COUNT]; /* [layer][kind]: slot index or -1 */
    layer_acts *acts;        /* per layer; with grad_ckpt one set, reused */
    float **x_in;            /* with grad_ckpt: each layer's input */
    float *x_last, *hidden, *cos_g, *sin_g, *cos_l, *sin_l;
    /* backward scratch */
    float *dx, *dh, *dq, *dk, *dv, *datt, *dgate, *dup, *dact, *tmp, *dtmp_r, *dxd;
    float *rows_h, *rows_d, *logits, *z; /* the head, CE_ROWS rows at a time */
};

#define CE_ROWS 16

const char *nn_trainer_kind_name(int kind) { return kind >= 0 && kind < L_COUNT ? nn_linear_names[kind] : "?"; }

/* ---- memory: what is allocated, also for nn_train_plan ---- */

typedef struct {
    size_t layer_floats; /* activations kept for one layer */
    size_t x_in_floats;  /* one layer's input (grad_ckpt keeps these) */
    size_t scratch_floats;
    size_t head_floats;  /* CE_ROWS rows of logits */
} act_sizes;

/* ranks[k] / ins[k]: the adapter of kind k in every layer (0: none) */
static act_sizes sizes_of(const nn_config *c, int64_t T_, const int64_t *ranks, const int64_t *ins, int dropout)
{
    act_sizes z = {0};
    size_t T = (size_t)T_, H = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    size_t qd = (size_t)(c->num_heads * c->head_dim), kvd = (size_t)(c->num_kv_heads * c->head_dim);
    size_t half = (size_t)c->head_dim / 2, V = (size_t)c->vocab_size, maxr = 1, maxin = 1;
    z.layer_floats = T * (2 * H + 2 * qd + 2 * kvd + (size_t)c->num_heads + H + H + 3 * I);
    if (c->qk_norm) z.layer_floats += T * (qd + kvd);
    if (c->sandwich_norms) z.layer_floats += T * 2 * H;
    for (int k = 0; k < L_COUNT; k++) {
        if (!ranks[k]) continue;
        z.layer_floats += T * (size_t)ranks[k];
        if (dropout) z.layer_floats += T * (size_t)ins[k];
        if ((size_t)ranks[k] > maxr) maxr = (size_t)ranks[k];
        if ((size_t)ins[k] > maxin) maxin = (size_t)ins[k];
    }
    z.x_in_floats = T * H;
    size_t wide = I > qd ? I : qd;
    if (wide < H) wide = H;
    z.scratch_floats = T * (2 * H) + T * 4 * half + T * (2 * H + qd + 2 * kvd + qd + 3 * I + wide + maxr) +
                       (dropout ? T * maxin : 0) + 2 * CE_ROWS * H;
    z.head_floats = 2 * CE_ROWS * V;
    return z;
}

static void slot_shapes(const nn_config *c, int64_t *ins, int64_t *outs)
{
    int64_t H = c->hidden_size, I = c->intermediate_size, qd = c->num_heads * c->head_dim,
            kvd = c->num_kv_heads * c->head_dim;
    int64_t in[L_COUNT] = {H, H, H, qd, H, H, I}, out[L_COUNT] = {qd, kvd, kvd, H, I, I, H};
    for (int k = 0; k < L_COUNT; k++) {
        ins[k] = in[k];
        outs[k] = out[k];
    }
}

int nn_train_plan(const nn_config *c, int64_t T, const nn_lora_cfg *lora, int grad_ckpt, double dropout,
                  nn_train_mem *out)
{
    int64_t ins[L_COUNT], outs[L_COUNT], ranks[L_COUNT] = {0};
    slot_shapes(c, ins, outs);
    size_t params = 0;
    for (int k = 0; k < L_COUNT; k++)
        if (lora->targets & (1u << k)) {
            ranks[k] = lora->r;
            params += (size_t)(lora->r * (ins[k] + outs[k]));
        }
    params *= (size_t)c->num_layers;
    act_sizes z = sizes_of(c, T, ranks, ins, dropout > 0);
    size_t L = (size_t)c->num_layers;
    memset(out, 0, sizeof *out);
    out->lora_params = params;
    out->adapter_bytes = params * 4 * sizeof(float); /* values, gradients, two moments */
    out->activation_bytes = L * z.layer_floats * sizeof(float);
    out->activation_ckpt_bytes = (z.layer_floats + L * z.x_in_floats) * sizeof(float);
    out->scratch_bytes = z.scratch_floats * sizeof(float);
    out->logits_bytes = z.head_floats * sizeof(float);
    out->total_bytes = out->adapter_bytes + (grad_ckpt ? out->activation_ckpt_bytes : out->activation_bytes) +
                       out->scratch_bytes + out->logits_bytes;
    return 0;
}

/* ---- setup ---- */

static float *fbuf(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

static int alloc_layer(nn_trainer *t, layer_acts *a)
{
    const nn_config *c = &t->m->cfg;
    size_t T = (size_t)t->max_T, H = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    size_t qd = (size_t)(c->num_heads * c->head_dim), kvd = (size_t)(c->num_kv_heads * c->head_dim);
    if (!(a->x_in = fbuf(T * H)) || !(a->h1 = fbuf(T * H)) || !(a->q = fbuf(T * qd)) ||
        !(a->k = fbuf(T * kvd)) || !(a->v = fbuf(T * kvd)) || !(a->att = fbuf(T * qd)) ||
        !(a->lse = fbuf(T * (size_t)c->num_heads)) || !(a->x_mid = fbuf(T * H)) || !(a->h2 = fbuf(T * H)) ||
        !(a->gate = fbuf(T * I)) || !(a->up = fbuf(T * I)) || !(a->act = fbuf(T * I)))
        return -1;
    if (c->qk_norm && (!(a->q_proj = fbuf(T * qd)) || !(a->k_proj = fbuf(T * kvd)))) return -1;
    if (c->sandwich_norms && (!(a->o = fbuf(T * H)) || !(a->down = fbuf(T * H)))) return -1;
    /* every kind adapted in some layer gets its buffers (the shared set of
     * grad_ckpt serves all layers) */
    for (size_t i = 0; i < t->nslots; i++) {
        int k = t->slots[i].kind;
        if (!a->ax[k] && !(a->ax[k] = fbuf(T * (size_t)t->slots[i].r))) return -1;
        if (t->dropout > 0 && !a->xd[k] && !(a->xd[k] = fbuf(T * (size_t)t->slots[i].in))) return -1;
    }
    return 0;
}

static void free_layer(layer_acts *a)
{
    float *all[] = {a->x_in, a->h1, a->q_proj, a->k_proj, a->q, a->k, a->v, a->att, a->lse,
                    a->o, a->x_mid, a->h2, a->gate, a->up, a->act, a->down};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    for (int k = 0; k < L_COUNT; k++) {
        free(a->ax[k]);
        free(a->xd[k]);
    }
}

static int alloc_acts(nn_trainer *t)
{
    const nn_config *c = &t->m->cfg;
    size_t T = (size_t)t->max_T, H = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    size_t qd = (size_t)(c->num_heads * c->head_dim), kvd = (size_t)(c->num_kv_heads * c->head_dim);
    size_t half = (size_t)c->head_dim / 2, V = (size_t)c->vocab_size, L = (size_t)c->num_layers;
    size_t maxr = 1, maxin = 1;
    for (size_t i = 0; i < t->nslots; i++) {
        if ((size_t)t->slots[i].r > maxr) maxr = (size_t)t->slots[i].r;
        if ((size_t)t->slots[i].in > maxin) maxin = (size_t)t->slots[i].in;
    }
    size_t nacts = t->grad_ckpt ? 1 : L;
    t->acts = calloc(nacts, sizeof *t->acts);
    if (!t->acts) return -1;
    for (size_t l = 0; l < nacts; l++)
        if (alloc_layer(t, &t->acts[l]) != 0) return -1;
    if (t->grad_ckpt) {
        if (!(t->x_in = calloc(L, sizeof *t->x_in))) return -1;
        for (size_t l = 0; l < L; l++)
            if (!(t->x_in[l] = fbuf(T * H))) return -1;
    }
    size_t wide = I > qd ? I : qd;
    if (wide < H) wide = H;
    if (!(t->x_last = fbuf(T * H)) || !(t->hidden = fbuf(T * H)) || !(t->cos_g = fbuf(T * half)) ||
        !(t->sin_g = fbuf(T * half)) || !(t->cos_l = fbuf(T * half)) || !(t->sin_l = fbuf(T * half)) ||
        !(t->dx = fbuf(T * H)) || !(t->dh = fbuf(T * H)) || !(t->dq = fbuf(T * qd)) ||
        !(t->dk = fbuf(T * kvd)) || !(t->dv = fbuf(T * kvd)) || !(t->datt = fbuf(T * qd)) ||
        !(t->dgate = fbuf(T * I)) || !(t->dup = fbuf(T * I)) || !(t->dact = fbuf(T * I)) ||
        !(t->tmp = fbuf(T * wide)) || !(t->dtmp_r = fbuf(T * maxr)) ||
        (t->dropout > 0 && !(t->dxd = fbuf(T * maxin))) || !(t->rows_h = fbuf(CE_ROWS * H)) ||
        !(t->rows_d = fbuf(CE_ROWS * H)) || !(t->logits = fbuf(CE_ROWS * V)) || !(t->z = fbuf(CE_ROWS * V)))
        return -1;
    return 0;
}

/* Lays out the slots (the adapter's ranks in from, else cfg's targets and r)
 * and binds them into the model. */
static nn_trainer *create(nn_model *m, const nn_lora_cfg *cfg, const nn_train_opts *o, const nn_lora *from,
                          char *err, size_t errlen)
{
    const nn_config *c = &m->cfg;
    nn_trainer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->m = m;
    t->cfg = *cfg;
    t->max_T = o->max_T;
    t->grad_ckpt = o->grad_checkpoint;
    t->dropout = (float)o->dropout;
    t->slot_of = malloc((size_t)c->num_layers * sizeof *t->slot_of);
    t->slots = calloc((size_t)c->num_layers * L_COUNT, sizeof *t->slots);
    t->bound = calloc((size_t)c->num_layers * L_COUNT, sizeof *t->bound);
    if (!t->slots || !t->bound || !t->slot_of) goto oom;
    memset(t->slot_of, -1, (size_t)c->num_layers * sizeof *t->slot_of);
    for (int l = 0; l < (int)c->num_layers; l++)
        for (int k = 0; k < L_COUNT; k++) {
            const nn_lora *src = from ? m->layers[l].lin[k].lora : NULL;
            if (from ? !src : !(cfg->targets & (1u << k))) continue;
            const nn_mat *w = &m->layers[l].lin[k].w;
            nn_lora_slot *s = &t->slots[t->nslots];
            s->layer = l;
            s->kind = k;
            s->r = src ? src->A.rows : cfg->r;
            s->in = w->cols;
            s->out = w->rows;
            s->a_off = t->n;
            t->n += (size_t)(s->r * s->in);
            s->b_off = t->n;
            t->n += (size_t)(s->out * s->r);
            t->slot_of[l][k] = (int)t->nslots++;
        }
    if (!t->nslots) {
        snprintf(err, errlen, "no linear layer to adapt");
        nn_trainer_free(t);
        return NULL;
    }
    t->p = calloc(t->n, sizeof *t->p);
    t->g = calloc(t->n, sizeof *t->g);
    t->m1 = calloc(t->n, sizeof *t->m1);
    t->m2 = calloc(t->n, sizeof *t->m2);
    if (!t->p || !t->g || !t->m1 || !t->m2) goto oom;
    float scale = (float)(cfg->rslora ? cfg->alpha / sqrt((double)cfg->r) : cfg->alpha / (double)cfg->r);
    uint64_t rng = cfg->seed;
    for (size_t i = 0; i < t->nslots; i++) {
        nn_lora_slot *s = &t->slots[i];
        float *A = t->p + s->a_off, *B = t->p + s->b_off;
        const nn_lora *src = from ? m->layers[s->layer].lin[s->kind].lora : NULL;
        if (src) {
            for (int64_t r = 0; r < s->r; r++) nn_mat_row(&src->A, r, A + r * s->in);
            for (int64_t r = 0; r < s->out; r++) nn_mat_row(&src->B, r, B + r * s->r);
            scale = src->scale;
        } else {
            /* PEFT: kaiming_uniform_(a=sqrt(5)) on A, i.e. U(-1/sqrt(in), 1/sqrt(in)); B = 0 */
            double bound = 1.0 / sqrt((double)s->in);
            for (int64_t j = 0; j < s->r * s->in; j++)
                A[j] = (float)((((double)(splitmix64(&rng) >> 11) * 0x1.0p-53) * 2 - 1) * bound);
        }
        t->bound[i] = (nn_lora){.A = {A, NN_F32, s->r, s->in}, .B = {B, NN_F32, s->out, s->r}, .scale = scale};
    }
    if (alloc_acts(t) != 0) goto oom;
    for (size_t i = 0; i < t->nslots; i++) {
        m->layers[t->slots[i].layer].lin[t->slots[i].kind].lora = &t->bound[i];
        if (t->slots[i].r > m->max_r) m->max_r = t->slots[i].r;
    }
    return t;
oom:
    snprintf(err, errlen, "out of memory for the trainer");
    nn_trainer_free(t);
    return NULL;
}

nn_trainer *nn_trainer_new(nn_model *m, const nn_lora_cfg *cfg, const nn_train_opts *o, char *err,
                           size_t errlen)
{
    if (m->nloras) {
        snprintf(err, errlen, "the model already has an adapter");
        return NULL;
    }
    if (cfg->r < 1 || cfg->alpha <= 0 || !(cfg->targets & NN_TARGET_ALL)) {
        snprintf(err, errlen, "LoRA needs r >= 1, alpha > 0 and a target");
        return NULL;
    }
    return create(m, cfg, o, NULL, err, errlen);
}

nn_trainer *nn_trainer_from_adapter(nn_model *m, const char *dir, const nn_train_opts *o, char *err,
                                    size_t errlen)
{
    if (nn_model_add_adapter(m, dir, err, errlen) != 0) return NULL;
    nn_lora_cfg cfg = {.r = (int64_t)m->adapter_r, .alpha = m->adapter_alpha, .rslora = m->adapter_rslora};
    for (int64_t l = 0; l < m->cfg.num_layers; l++)
        for (int k = 0; k < L_COUNT; k++)
            if (m->layers[l].lin[k].lora) cfg.targets |= 1u << k;
    return create(m, &cfg, o, m->loras, err, errlen);
}

void nn_trainer_free(nn_trainer *t)
{
    if (!t) return;
    nn_model *m = t->m;
    for (size_t i = 0; i < t->nslots; i++) m->layers[t->slots[i].layer].lin[t->slots[i].kind].lora = NULL;
    size_t nacts = t->grad_ckpt ? 1 : (size_t)m->cfg.num_layers;
    for (size_t l = 0; t->acts && l < nacts; l++) free_layer(&t->acts[l]);
    free(t->acts);
    for (int64_t l = 0; t->x_in && l < m->cfg.num_layers; l++) free(t->x_in[l]);
    free(t->x_in);
    float *bufs[] = {t->p, t->g, t->m1, t->m2, t->x_last, t->hidden, t->cos_g, t->sin_g, t->cos_l,
                     t->sin_l, t->dx, t->dh, t->dq, t->dk, t->dv, t->datt, t->dgate, t->dup,
                     t->dact, t->tmp, t->dtmp_r, t->dxd, t->rows_h, t->rows_d, t->logits, t->z};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(t->slots);
    free(t->bound);
    free(t->slot_of);
    free(t);
}

const nn_lora_cfg *nn_trainer_lora(const nn_trainer *t) { return &t->cfg; }
size_t nn_trainer_nparams(const nn_trainer *t) { return t->n; }
float *nn_trainer_params(nn_trainer *t) { return t->p; }
float *nn_trainer_grads(nn_trainer *t) { return t->g; }
float *nn_trainer_moment1(nn_trainer *t) { return t->m1; }
float *nn_trainer_moment2(nn_trainer *t) { return t->m2; }
size_t nn_trainer_slots(const nn_trainer *t) { return t->nslots; }
const nn_lora_slot *nn_trainer_slot(const nn_trainer *t, size_t i) { return &t->slots[i]; }
void nn_trainer_zero_grad(nn_trainer *t) { memset(t->g, 0, t->n * sizeof *t->g); }
uint64_t nn_trainer_calls(const nn_trainer *t) { return t->calls; }
void nn_trainer_set_calls(nn_trainer *t, uint64_t calls) { t->calls = calls; }

/* ---- forward ---- */

/* Dropout keeps element i of slot s's input with probability 1 - p; the
 * mask is a hash of (seed, call, slot, i), so the backward pass and a
 * recomputation see the same one. */
static int kept(const nn_trainer *t, size_t slot, size_t i)
{
    uint64_t h = t->cfg.seed ^ (t->calls * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)slot << 40) ^ (uint64_t)i;
    uint64_t r = splitmix64(&h);
    return (double)(r >> 11) * 0x1.0p-53 >= (double)t->dropout;
}

/* y = W x + b (+ s B (A x'), x' = x or its dropout, kept in xd; A x' in ax) */
static void lin_fwd(nn_trainer *t, nn_pool *p, int layer, int kind, layer_acts *a, float *y, const float *x,
                    int64_t T)
{
    const nn_linear *l = &t->m->layers[layer].lin[kind];
    nn_matmul(p, y, x, T, &l->w, l->bias, 1.0f, 0);
    if (!l->lora) return;
    const float *xa = x;
    if (t->dropout > 0) {
        size_t s = (size_t)t->slot_of[layer][kind], n = (size_t)(T * l->w.cols);
        float keep = 1.0f / (1.0f - t->dropout);
        for (size_t i = 0; i < n; i++) a->xd[kind][i] = kept(t, s, i) ? x[i] * keep : 0.0f;
        xa = a->xd[kind];
    }
    nn_matmul(p, a->ax[kind], xa, T, &l->lora->A, NULL, 1.0f, 0);
    nn_matmul(p, y, a->ax[kind], T, &l->lora->B, NULL, l->lora->scale, 1);
}

/* dx (=|+=) Wᵀ dy + s Aᵀ (Bᵀ dy) (through the dropout); the adapter's
 * gradients += */
static void lin_bwd(nn_trainer *t, nn_pool *p, int layer, int kind, layer_acts *a, float *dx, const float *dy,
                    const float *x, int64_t T, int accumulate)
{
    const nn_linear *l = &t->m->layers[layer].lin[kind];
    nn_matmul_dx(p, dx, dy, T, &l->w, 1.0f, accumulate);
    int s = t->slot_of[layer][kind];
    if (s < 0) return;
    const nn_lora_slot *sl = &t->slots[s];
    const nn_lora *lo = &t->bound[s];
    const float *xa = t->dropout > 0 ? a->xd[kind] : x;
    float *dAx = t->dtmp_r; /* s Bᵀ dy, [T][r] */
    nn_matmul_dx(p, dAx, dy, T, &lo->B, lo->scale, 0);
    nn_matmul_dw(p, t->g + sl->b_off, dy, a->ax[kind], T, sl->out, sl->r, lo->scale, 1);
    nn_matmul_dw(p, t->g + sl->a_off, dAx, xa, T, sl->r, sl->in, 1.0f, 1);
    if (t->dropout > 0) {
        size_t n = (size_t)(T * sl->in);
        float keep = 1.0f / (1.0f - t->dropout);
        nn_matmul_dx(p, t->dxd, dAx, T, &lo->A, 1.0f, 0);
        for (size_t i = 0; i < n; i++)
            if (kept(t, (size_t)s, i)) dx[i] += t->dxd[i] * keep;
    } else {
        nn_matmul_dx(p, dx, dAx, T, &lo->A, 1.0f, 1);
    }
}

typedef struct {
    const int64_t *kv_first;
    int64_t T;
} seq_info;

/* One layer forward on the residual stream x (updated in place), keeping
 * what the backward pass needs in a. */
static void layer_forward(nn_trainer *t, nn_pool *p, int l, layer_acts *a, float *x, const seq_info *si)
{
    nn_model *m = t->m;
    const nn_config *c = &m->cfg;
    const nn_layer *ly = &m->layers[l];
    const int64_t T = si->T, H = c->hidden_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    const int64_t kvd = nkv * hd, I = c->intermediate_size;
    const float eps = (float)c->rms_norm_eps;
    const int one = c->norm_add_one, sliding = c->layer_sliding[l];
    memcpy(a->x_in, x, (size_t)(T * H) * sizeof *x);
    nn_rmsnorm(a->h1, x, ly->in_norm, T, H, eps, one);
    float *qp = c->qk_norm ? a->q_proj : a->q, *kp = c->qk_norm ? a->k_proj : a->k;
    lin_fwd(t, p, l, L_Q, a, qp, a->h1, T);
    lin_fwd(t, p, l, L_K, a, kp, a->h1, T);
    lin_fwd(t, p, l, L_V, a, a->v, a->h1, T);
    if (c->qk_norm) {
        nn_rmsnorm(a->q, qp, ly->q_norm, T * nh, hd, eps, one);
        nn_rmsnorm(a->k, kp, ly->k_norm, T * nkv, hd, eps, one);
    }
    const float *cs = sliding ? t->cos_l : t->cos_g, *sn = sliding ? t->sin_l : t->sin_g;
    nn_rope(a->q, T, nh, hd, cs, sn);
    nn_rope(a->k, T, nkv, hd, cs, sn);
    nn_attn_shape shape = {.T = T, .pos0 = 0, .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd,
                           .kv_stride = kvd, .window = sliding ? c->sliding_window : 0,
                           .scale = m->attn_scale, .softcap = (float)c->attn_softcap, .kv_first = si->kv_first};
    nn_attention_lse(p, a->att, a->lse, a->q, a->k, a->v, &shape);
    float *o = c->sandwich_norms ? a->o : t->tmp;
    lin_fwd(t, p, l, L_O, a, o, a->att, T);
    if (c->sandwich_norms) {
        nn_rmsnorm(t->tmp, o, ly->post_attn_norm, T, H, eps, one);
        o = t->tmp;
    }
    nn_axpy(x, o, 1.0f, T * H);
    memcpy(a->x_mid, x, (size_t)(T * H) * sizeof *x);
    nn_rmsnorm(a->h2, x, c->sandwich_norms ? ly->pre_ff_norm : ly->post_attn_norm, T, H, eps, one);
    lin_fwd(t, p, l, L_GATE, a, a->gate, a->h2, T);
    lin_fwd(t, p, l, L_UP, a, a->up, a->h2, T);
    memcpy(a->act, a->gate, (size_t)(T * I) * sizeof *x);
    if (c->act == NN_ACT_GELU_TANH) nn_gelu_tanh_mul(a->act, a->up, T * I);
    else nn_silu_mul(a->act, a->up, T * I);
    float *d = c->sandwich_norms ? a->down : t->tmp;
    lin_fwd(t, p, l, L_DOWN, a, d, a->act, T);
    if (c->sandwich_norms) {
        nn_rmsnorm(t->tmp, d, ly->post_ff_norm, T, H, eps, one);
        d = t->tmp;
    }
    nn_axpy(x, d, 1.0f, T * H);
}

/* One layer backward: dx (d loss / d the layer's output) becomes d loss /
 * d its input; the adapters' gradients are added. */
static void layer_backward(nn_trainer *t, nn_pool *p, int l, layer_acts *a, float *dx, const seq_info *si)
{
    nn_model *m = t->m;
    const nn_config *c = &m->cfg;
    const nn_layer *ly = &m->layers[l];
    const int64_t T = si->T, H = c->hidden_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    const int64_t kvd = nkv * hd, I = c->intermediate_size;
    const float eps = (float)c->rms_norm_eps;
    const int one = c->norm_add_one, sliding = c->layer_sliding[l];
    /* MLP */
    const float *dd = dx;
    if (c->sandwich_norms) {
        nn_rmsnorm_backward(t->dh, dx, a->down, ly->post_ff_norm, T, H, eps, one, 0);
        dd = t->dh;
    }
    lin_bwd(t, p, l, L_DOWN, a, t->dact, dd, a->act, T, 0);
    if (c->act == NN_ACT_GELU_TANH) nn_gelu_tanh_mul_backward(t->dgate, t->dup, t->dact, a->gate, a->up, T * I);
    else nn_silu_mul_backward(t->dgate, t->dup, t->dact, a->gate, a->up, T * I);
    lin_bwd(t, p, l, L_GATE, a, t->tmp, t->dgate, a->h2, T, 0);
    lin_bwd(t, p, l, L_UP, a, t->tmp, t->dup, a->h2, T, 1);
    nn_rmsnorm_backward(dx, t->tmp, a->x_mid, c->sandwich_norms ? ly->pre_ff_norm : ly->post_attn_norm, T, H,
                        eps, one, 1);
    /* attention */
    const float *dout = dx;
    if (c->sandwich_norms) {
        nn_rmsnorm_backward(t->dh, dx, a->o, ly->post_attn_norm, T, H, eps, one, 0);
        dout = t->dh;
    }
    lin_bwd(t, p, l, L_O, a, t->datt, dout, a->att, T, 0);
    nn_attn_shape shape = {.T = T, .pos0 = 0, .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd,
                           .kv_stride = kvd, .window = sliding ? c->sliding_window : 0,
                           .scale = m->attn_scale, .softcap = (float)c->attn_softcap, .kv_first = si->kv_first};
    nn_attention_backward(p, t->dq, t->dk, t->dv, t->datt, a->q, a->k, a->v, a->att, a->lse, &shape);
    const float *cs = sliding ? t->cos_l : t->cos_g, *sn = sliding ? t->sin_l : t->sin_g;
    nn_rope_backward(t->dq, T, nh, hd, cs, sn);
    nn_rope_backward(t->dk, T, nkv, hd, cs, sn);
    float *dqp = t->dq, *dkp = t->dk;
    if (c->qk_norm) {
        /* through the per-head norms, into datt (free now) and tmp */
        nn_rmsnorm_backward(t->datt, t->dq, a->q_proj, ly->q_norm, T * nh, hd, eps, one, 0);
        nn_rmsnorm_backward(t->tmp, t->dk, a->k_proj, ly->k_norm, T * nkv, hd, eps, one, 0);
        dqp = t->datt;
        dkp = t->tmp;
    }
    float *dh1 = t->dh; /* free now */
    lin_bwd(t, p, l, L_Q, a, dh1, dqp, a->h1, T, 0);
    lin_bwd(t, p, l, L_K, a, dh1, dkp, a->h1, T, 1);
    lin_bwd(t, p, l, L_V, a, dh1, t->dv, a->h1, T, 1);
    nn_rmsnorm_backward(dx, dh1, a->x_in, ly->in_norm, T, H, eps, one, 1);
}

/* cos/sin of each token's own position */
static void rope_at(const float *inv, int64_t half, const int32_t *pos, int64_t T, float *cosv, float *sinv)
{
    for (int64_t i = 0; i < T; i++) nn_rope_tables(inv, half, pos[i], 1, cosv + i * half, sinv + i * half);
}

int nn_trainer_accumulate(nn_trainer *t, nn_pool *p, const int32_t *ids, const int32_t *target,
                          const int32_t *pos, const int64_t *kv_first, int64_t T, float loss_scale,
                          double *nll, int64_t *n, char *err, size_t errlen)
{
    nn_model *m = t->m;
    const nn_config *c = &m->cfg;
    const int64_t H = c->hidden_size, V = c->vocab_size, half = c->head_dim / 2, L = c->num_layers;
    const float eps = (float)c->rms_norm_eps;
    const int one = c->norm_add_one;
    if (T < 1 || T > t->max_T) {
        snprintf(err, errlen, "a sequence of %lld tokens (at most %lld)", (long long)T, (long long)t->max_T);
        return -1;
    }
    for (int64_t i = 0; i < T; i++)
        if (ids[i] < 0 || ids[i] >= V || target[i] >= V) {
            snprintf(err, errlen, "token id %ld is not in the vocabulary",
                     (long)(ids[i] < 0 || ids[i] >= V ? ids[i] : target[i]));
            return -1;
        }
    seq_info si = {kv_first, T};
    /* embeddings */
    float *x = t->dx; /* the residual stream during the forward pass */
    for (int64_t i = 0; i < T; i++) {
        nn_mat_row(&m->embed, ids[i], x + i * H);
        if (m->embed_scale != 1.0f)
            for (int64_t j = 0; j < H; j++) x[i * H + j] *= m->embed_scale;
    }
    if (pos) {
        rope_at(m->inv_freq_global, half, pos, T, t->cos_g, t->sin_g);
        rope_at(m->inv_freq_local, half, pos, T, t->cos_l, t->sin_l);
    } else {
        nn_rope_tables(m->inv_freq_global, half, 0, T, t->cos_g, t->sin_g);
        nn_rope_tables(m->inv_freq_local, half, 0, T, t->cos_l, t->sin_l);
    }
    for (int64_t l = 0; l < L; l++) {
        if (t->grad_ckpt) memcpy(t->x_in[l], x, (size_t)(T * H) * sizeof *x);
        layer_forward(t, p, (int)l, &t->acts[t->grad_ckpt ? 0 : l], x, &si);
    }
    memcpy(t->x_last, x, (size_t)(T * H) * sizeof *x);
    nn_rmsnorm(t->hidden, x, m->final_norm, T, H, eps, one);

    /* the loss and d loss / d hidden, CE_ROWS scored rows at a time */
    float *dhidden = t->dh;
    memset(dhidden, 0, (size_t)(T * H) * sizeof *dhidden);
    int64_t rows[CE_ROWS];
    int nr = 0;
    for (int64_t i = 0; i <= T; i++) {
        if (i < T && target[i] >= 0) {
            memcpy(t->rows_h + nr * H, t->hidden + i * H, (size_t)H * sizeof(float));
            rows[nr++] = i;
        }
        if (nr == CE_ROWS || (i == T && nr > 0)) {
            nn_matmul(p, t->z, t->rows_h, nr, &m->head, NULL, 1.0f, 0);
            float *lg = t->z;
            if (c->final_softcap > 0) {
                memcpy(t->logits, t->z, (size_t)(nr * V) * sizeof(float));
                nn_softcap(t->logits, nr * V, (float)c->final_softcap);
                lg = t->logits;
            }
            for (int r = 0; r < nr; r++) {
                *nll += nn_cross_entropy_backward(lg + r * V, lg + r * V, V, target[rows[r]], loss_scale);
                (*n)++;
            }
            if (c->final_softcap > 0) nn_softcap_backward(t->logits, t->logits, t->z, nr * V, (float)c->final_softcap);
            nn_matmul_dx(p, t->rows_d, lg, nr, &m->head, 1.0f, 0);
            for (int r = 0; r < nr; r++) memcpy(dhidden + rows[r] * H, t->rows_d + r * H, (size_t)H * sizeof(float));
            nr = 0;
        }
    }

    /* backward: dx is d loss / d residual stream */
    float *dx = t->dx;
    nn_rmsnorm_backward(dx, dhidden, t->x_last, m->final_norm, T, H, eps, one, 0);
    for (int64_t l = L - 1; l >= 0; l--) {
        layer_acts *a = &t->acts[t->grad_ckpt ? 0 : l];
        if (t->grad_ckpt) {
            /* recompute the layer from its input (the same dropout masks) */
            float *xr = t->x_last; /* free now */
            memcpy(xr, t->x_in[l], (size_t)(T * H) * sizeof *xr);
            layer_forward(t, p, (int)l, a, xr, &si);
        }
        layer_backward(t, p, (int)l, a, dx, &si);
    }
    t->calls++;
    return 0;
}

/* ---- optimizer ---- */

double nn_trainer_grad_norm(const nn_trainer *t)
{
    double s = 0;
    for (size_t i = 0; i < t->n; i++) s += (double)t->g[i] * (double)t->g[i];
    return sqrt(s);
}

void nn_trainer_adamw(nn_trainer *t, const nn_adamw *h, int64_t step, double grad_scale)
{
    const float b1 = (float)h->beta1, b2 = (float)h->beta2, gs = (float)grad_scale;
    const double bc1 = 1 - pow(h->beta1, (double)step), bc2 = 1 - pow(h->beta2, (double)step);
    const float step_size = (float)(h->lr / bc1), bc2_sqrt = (float)sqrt(bc2), eps = (float)h->eps;
    const float decay = (float)(1 - h->lr * h->weight_decay);
    for (size_t i = 0; i < t->n; i++) {
        float g = t->g[i] * gs;
        t->p[i] *= decay;
        t->m1[i] = t->m1[i] * b1 + g * (1 - b1);
        t->m2[i] = t->m2[i] * b2 + g * g * (1 - b2);
        float denom = sqrtf(t->m2[i]) / bc2_sqrt + eps;
        t->p[i] -= step_size * (t->m1[i] / denom);
    }
}

/* ---- saving ---- */

void nn_trainer_tensor_name(const nn_trainer *t, size_t i, char which, char *buf, size_t n)
{
    const nn_lora_slot *s = &t->slots[i];
    snprintf(buf, n, "base_model.model.%slayers.%d.%s.lora_%c.weight", t->m->prefix, s->layer,
             nn_linear_names[s->kind], which);
}

int nn_trainer_write_tensors(const nn_trainer *t, const float *vec, const char *path, char *err,
                             size_t errlen)
{
    sft_stw *w = sft_stw_new();
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < t->nslots && rc == 0; i++) {
        const nn_lora_slot *s = &t->slots[i];
        char name[256];
        int64_t ashape[2] = {s->r, s->in}, bshape[2] = {s->out, s->r};
        nn_trainer_tensor_name(t, i, 'A', name, sizeof name);
        if (sft_stw_add(w, name, SFT_ST_F32, 2, ashape, vec + s->a_off, err, errlen) < 0) rc = -1;
        nn_trainer_tensor_name(t, i, 'B', name, sizeof name);
        if (rc == 0 && sft_stw_add(w, name, SFT_ST_F32, 2, bshape, vec + s->b_off, err, errlen) < 0) rc = -1;
    }
    if (rc == 0 && sft_stw_write(w, path, err, errlen) != 0) rc = -1;
    sft_stw_free(w);
    return rc;
}

int nn_trainer_save_adapter(const nn_trainer *t, const char *dir, const char *base_model, char *err,
                            size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    if (nn_trainer_write_tensors(t, t->p, path, err, errlen) != 0) return -1;
    /* every key of a LoraConfig as PEFT 0.18 writes it (the real adapters of
     * ../shared/external/peft), sorted as its json.dumps(sort_keys) does */
    cJSON *c = cJSON_CreateObject(), *targets = cJSON_CreateArray();
    unsigned seen = 0;
    for (size_t i = 0; i < t->nslots; i++) {
        int k = t->slots[i].kind;
        if (seen & (1u << k)) continue;
        seen |= 1u << k;
        const char *dot = strchr(nn_linear_names[k], '.');
        cJSON_AddItemToArray(targets, cJSON_CreateString(dot + 1));
    }
    cJSON_AddNullToObject(c, "alora_invocation_tokens");
    cJSON_AddItemToObject(c, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(c, "arrow_config");
    cJSON_AddNullToObject(c, "auto_mapping");
    cJSON_AddStringToObject(c, "base_model_name_or_path", base_model ? base_model : "");
    cJSON_AddStringToObject(c, "bias", "none");
    cJSON_AddNullToObject(c, "corda_config");
    cJSON_AddFalseToObject(c, "ensure_weight_tying");
    cJSON_AddNullToObject(c, "eva_config");
    cJSON_AddNullToObject(c, "exclude_modules");
    cJSON_AddFalseToObject(c, "fan_in_fan_out");
    cJSON_AddTrueToObject(c, "inference_mode");
    cJSON_AddTrueToObject(c, "init_lora_weights");
    cJSON_AddNullToObject(c, "layer_replication");
    cJSON_AddNullToObject(c, "layers_pattern");
    cJSON_AddNullToObject(c, "layers_to_transform");
    cJSON_AddItemToObject(c, "loftq_config", cJSON_CreateObject());
    cJSON_AddNumberToObject(c, "lora_alpha", t->cfg.alpha);
    cJSON_AddFalseToObject(c, "lora_bias");
    cJSON_AddNumberToObject(c, "lora_dropout", t->dropout);
    cJSON_AddNullToObject(c, "megatron_config");
    cJSON_AddStringToObject(c, "megatron_core", "megatron.core");
    cJSON_AddNullToObject(c, "modules_to_save");
    cJSON_AddStringToObject(c, "peft_type", "LORA");
    cJSON_AddStringToObject(c, "peft_version", "0.18.0");
    cJSON_AddNumberToObject(c, "qalora_group_size", 16);
    cJSON_AddNumberToObject(c, "r", (double)t->cfg.r);
    cJSON_AddItemToObject(c, "rank_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(c, "revision");
    cJSON_AddItemToObject(c, "target_modules", targets);
    cJSON_AddNullToObject(c, "target_parameters");
    cJSON_AddStringToObject(c, "task_type", "CAUSAL_LM");
    cJSON_AddNullToObject(c, "trainable_token_indices");
    cJSON_AddFalseToObject(c, "use_dora");
    cJSON_AddFalseToObject(c, "use_qalora");
    if (t->cfg.rslora) cJSON_AddTrueToObject(c, "use_rslora");
    else cJSON_AddFalseToObject(c, "use_rslora");
    char *text = cJSON_Print(c);
    cJSON_Delete(c);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    int rc = sft_stw_write_bytes(path, text, strlen(text), err, errlen) == 0 ? 0 : -1;
    free(text);
    return rc;
}
