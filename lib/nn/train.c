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
} layer_acts;

struct nn_trainer {
    nn_model *m;
    nn_lora_cfg cfg;
    int64_t max_T;
    size_t n;                /* parameters */
    float *p, *g, *m1, *m2;
    nn_lora_slot *slots;
    nn_lora *bound;          /* the model's view of each slot */
    size_t nslots;
    int slot_of[4096][L_COUNT]; /* unused entries -1; bounded by NN_MAX_LAYERS below */
    layer_acts *acts;
    float *x_last, *hidden, *cos_g, *sin_g, *cos_l, *sin_l;
    /* backward scratch */
    float *dx, *dh, *dq, *dk, *dv, *datt, *dgate, *dup, *dact, *tmp, *dtmp_r;
    float *rows_h, *rows_d, *logits, *z; /* the head, CE_ROWS rows at a time */
};

#define CE_ROWS 16

const char *nn_trainer_kind_name(int kind) { return kind >= 0 && kind < L_COUNT ? nn_linear_names[kind] : "?"; }

/* ---- setup ---- */

static float *fbuf(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

static int alloc_acts(nn_trainer *t)
{
    const nn_config *c = &t->m->cfg;
    size_t T = (size_t)t->max_T, H = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    size_t qd = (size_t)(c->num_heads * c->head_dim), kvd = (size_t)(c->num_kv_heads * c->head_dim);
    size_t half = (size_t)c->head_dim / 2, V = (size_t)c->vocab_size;
    size_t maxr = 1;
    for (size_t i = 0; i < t->nslots; i++)
        if ((size_t)t->slots[i].r > maxr) maxr = (size_t)t->slots[i].r;
    t->acts = calloc((size_t)c->num_layers, sizeof *t->acts);
    if (!t->acts) return -1;
    for (int64_t l = 0; l < c->num_layers; l++) {
        layer_acts *a = &t->acts[l];
        if (!(a->x_in = fbuf(T * H)) || !(a->h1 = fbuf(T * H)) || !(a->q = fbuf(T * qd)) ||
            !(a->k = fbuf(T * kvd)) || !(a->v = fbuf(T * kvd)) || !(a->att = fbuf(T * qd)) ||
            !(a->lse = fbuf(T * (size_t)c->num_heads)) || !(a->x_mid = fbuf(T * H)) ||
            !(a->h2 = fbuf(T * H)) || !(a->gate = fbuf(T * I)) || !(a->up = fbuf(T * I)) ||
            !(a->act = fbuf(T * I)))
            return -1;
        if (c->qk_norm && (!(a->q_proj = fbuf(T * qd)) || !(a->k_proj = fbuf(T * kvd)))) return -1;
        if (c->sandwich_norms && (!(a->o = fbuf(T * H)) || !(a->down = fbuf(T * H)))) return -1;
        for (int k = 0; k < L_COUNT; k++) {
            int s = t->slot_of[l][k];
            if (s >= 0 && !(a->ax[k] = fbuf(T * (size_t)t->slots[s].r))) return -1;
        }
    }
    size_t wide = I > qd ? I : qd;
    if (wide < H) wide = H;
    if (!(t->x_last = fbuf(T * H)) || !(t->hidden = fbuf(T * H)) || !(t->cos_g = fbuf(T * half)) ||
        !(t->sin_g = fbuf(T * half)) || !(t->cos_l = fbuf(T * half)) || !(t->sin_l = fbuf(T * half)) ||
        !(t->dx = fbuf(T * H)) || !(t->dh = fbuf(T * H)) || !(t->dq = fbuf(T * qd)) ||
        !(t->dk = fbuf(T * kvd)) || !(t->dv = fbuf(T * kvd)) || !(t->datt = fbuf(T * qd)) ||
        !(t->dgate = fbuf(T * I)) || !(t->dup = fbuf(T * I)) || !(t->dact = fbuf(T * I)) ||
        !(t->tmp = fbuf(T * wide)) || !(t->dtmp_r = fbuf(T * maxr)) || !(t->rows_h = fbuf(CE_ROWS * H)) ||
        !(t->rows_d = fbuf(CE_ROWS * H)) || !(t->logits = fbuf(CE_ROWS * V)) || !(t->z = fbuf(CE_ROWS * V)))
        return -1;
    return 0;
}

/* Lays out the slots for the targets (ranks from rank_of, or cfg->r) and
 * binds them into the model. */
static nn_trainer *create(nn_model *m, const nn_lora_cfg *cfg, int64_t max_T, const nn_lora *from,
                          char *err, size_t errlen)
{
    const nn_config *c = &m->cfg;
    if (c->num_layers > 4096) {
        snprintf(err, errlen, "too many layers");
        return NULL;
    }
    nn_trainer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->m = m;
    t->cfg = *cfg;
    t->max_T = max_T;
    memset(t->slot_of, -1, sizeof t->slot_of);
    t->slots = calloc((size_t)c->num_layers * L_COUNT, sizeof *t->slots);
    t->bound = calloc((size_t)c->num_layers * L_COUNT, sizeof *t->bound);
    if (!t->slots || !t->bound) goto oom;
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
            for (int64_t o = 0; o < s->out; o++) nn_mat_row(&src->B, o, B + o * s->r);
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
    for (size_t i = 0; i < t->nslots; i++) m->layers[t->slots[i].layer].lin[t->slots[i].kind].lora = &t->bound[i];
    if (t->bound[0].A.rows > m->max_r) m->max_r = t->bound[0].A.rows;
    return t;
oom:
    snprintf(err, errlen, "out of memory for the trainer");
    nn_trainer_free(t);
    return NULL;
}

nn_trainer *nn_trainer_new(nn_model *m, const nn_lora_cfg *cfg, int64_t max_T, char *err, size_t errlen)
{
    if (m->nloras) {
        snprintf(err, errlen, "the model already has an adapter");
        return NULL;
    }
    if (cfg->r < 1 || cfg->alpha <= 0 || !(cfg->targets & NN_TARGET_ALL)) {
        snprintf(err, errlen, "LoRA needs r >= 1, alpha > 0 and a target");
        return NULL;
    }
    return create(m, cfg, max_T, NULL, err, errlen);
}

nn_trainer *nn_trainer_from_adapter(nn_model *m, const char *dir, int64_t max_T, char *err, size_t errlen)
{
    if (nn_model_add_adapter(m, dir, err, errlen) != 0) return NULL;
    nn_lora_cfg cfg = {.r = (int64_t)m->adapter_r, .alpha = m->adapter_alpha, .rslora = m->adapter_rslora};
    for (int64_t l = 0; l < m->cfg.num_layers; l++)
        for (int k = 0; k < L_COUNT; k++)
            if (m->layers[l].lin[k].lora) cfg.targets |= 1u << k;
    return create(m, &cfg, max_T, m->loras, err, errlen);
}

void nn_trainer_free(nn_trainer *t)
{
    if (!t) return;
    nn_model *m = t->m;
    for (size_t i = 0; i < t->nslots; i++) m->layers[t->slots[i].layer].lin[t->slots[i].kind].lora = NULL;
    for (int64_t l = 0; t->acts && l < m->cfg.num_layers; l++) {
        layer_acts *a = &t->acts[l];
        float *all[] = {a->x_in, a->h1, a->q_proj, a->k_proj, a->q, a->k, a->v, a->att, a->lse,
                        a->o, a->x_mid, a->h2, a->gate, a->up, a->act, a->down};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
        for (int k = 0; k < L_COUNT; k++) free(a->ax[k]);
    }
    free(t->acts);
    float *bufs[] = {t->p, t->g, t->m1, t->m2, t->x_last, t->hidden, t->cos_g, t->sin_g, t->cos_l,
                     t->sin_l, t->dx, t->dh, t->dq, t->dk, t->dv, t->datt, t->dgate, t->dup,
                     t->dact, t->tmp, t->dtmp_r, t->rows_h, t->rows_d, t->logits, t->z};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(t->slots);
    free(t->bound);
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

/* ---- forward ---- */

/* y = W x + b (+ s B (A x), with A x kept in ax) */
static void lin_fwd(nn_pool *p, const nn_linear *l, float *y, const float *x, int64_t T, float *ax)
{
    nn_matmul(p, y, x, T, &l->w, l->bias, 1.0f, 0);
    if (l->lora) {
        nn_matmul(p, ax, x, T, &l->lora->A, NULL, 1.0f, 0);
        nn_matmul(p, y, ax, T, &l->lora->B, NULL, l->lora->scale, 1);
    }
}

/* dx (=|+=) Wᵀ dy + s Aᵀ (Bᵀ dy); the adapter's gradients += */
static void lin_bwd(nn_trainer *t, nn_pool *p, int layer, int kind, float *dx, const float *dy,
                    const float *x, int64_t T, int accumulate)
{
    const nn_linear *l = &t->m->layers[layer].lin[kind];
    nn_matmul_dx(p, dx, dy, T, &l->w, 1.0f, accumulate);
    int s = t->slot_of[layer][kind];
    if (s < 0) return;
    const nn_lora_slot *sl = &t->slots[s];
    const nn_lora *lo = &t->bound[s];
    float *dAx = t->dtmp_r; /* s Bᵀ dy, [T][r] */
    nn_matmul_dx(p, dAx, dy, T, &lo->B, lo->scale, 0);
    nn_matmul_dw(p, t->g + sl->b_off, dy, t->acts[layer].ax[kind], T, sl->out, sl->r, lo->scale, 1);
    nn_matmul_dw(p, t->g + sl->a_off, dAx, x, T, sl->r, sl->in, 1.0f, 1);
    nn_matmul_dx(p, dx, dAx, T, &lo->A, 1.0f, 1);
}

int nn_trainer_accumulate(nn_trainer *t, nn_pool *p, const int32_t *ids, const int32_t *target,
                          const int64_t *kv_first, int64_t T, float loss_scale, double *nll,
                          int64_t *n, char *err, size_t errlen)
{
    nn_model *m = t->m;
    const nn_config *c = &m->cfg;
    const int64_t H = c->hidden_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    const int64_t kvd = nkv * hd, I = c->intermediate_size, V = c->vocab_size;
    const int64_t half = hd / 2;
    const float eps = (float)c->rms_norm_eps;
    const int one = c->norm_add_one;
    if (T < 1 || T > t->max_T) {
        snprintf(err, errlen, "a sequence of %lld tokens (at most %lld)", (long long)T, (long long)t->max_T);
        return -1;
    }
    for (int64_t i = 0; i < T; i++)
        if (ids[i] < 0 || ids[i] >= V || target[i] >= V) {
            snprintf(err, errlen, "token id %ld is not in the vocabulary", (long)(ids[i] < 0 || ids[i] >= V ? ids[i] : target[i]));
            return -1;
        }
    /* embeddings */
    float *x = t->dx; /* the residual stream during the forward pass */
    for (int64_t i = 0; i < T; i++) {
        nn_mat_row(&m->embed, ids[i], x + i * H);
        if (m->embed_scale != 1.0f)
            for (int64_t j = 0; j < H; j++) x[i * H + j] *= m->embed_scale;
    }
    nn_rope_tables(m->inv_freq_global, half, 0, T, t->cos_g, t->sin_g);
    nn_rope_tables(m->inv_freq_local, half, 0, T, t->cos_l, t->sin_l);
    for (int64_t l = 0; l < c->num_layers; l++) {
        const nn_layer *ly = &m->layers[l];
        layer_acts *a = &t->acts[l];
        const int sliding = c->layer_sliding[l];
        memcpy(a->x_in, x, (size_t)(T * H) * sizeof *x);
        nn_rmsnorm(a->h1, x, ly->in_norm, T, H, eps, one);
        float *qp = c->qk_norm ? a->q_proj : a->q, *kp = c->qk_norm ? a->k_proj : a->k;
        lin_fwd(p, &ly->lin[L_Q], qp, a->h1, T, a->ax[L_Q]);
        lin_fwd(p, &ly->lin[L_K], kp, a->h1, T, a->ax[L_K]);
        lin_fwd(p, &ly->lin[L_V], a->v, a->h1, T, a->ax[L_V]);
        if (c->qk_norm) {
            nn_rmsnorm(a->q, qp, ly->q_norm, T * nh, hd, eps, one);
            nn_rmsnorm(a->k, kp, ly->k_norm, T * nkv, hd, eps, one);
        }
        const float *cs = sliding ? t->cos_l : t->cos_g, *sn = sliding ? t->sin_l : t->sin_g;
        nn_rope(a->q, T, nh, hd, cs, sn);
        nn_rope(a->k, T, nkv, hd, cs, sn);
        nn_attn_shape shape = {.T = T, .pos0 = 0, .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd,
                               .kv_stride = kvd, .window = sliding ? c->sliding_window : 0,
                               .scale = m->attn_scale, .softcap = (float)c->attn_softcap,
                               .kv_first = kv_first};
        nn_attention_lse(p, a->att, a->lse, a->q, a->k, a->v, &shape);
        float *o = c->sandwich_norms ? a->o : t->tmp;
        lin_fwd(p, &ly->lin[L_O], o, a->att, T, a->ax[L_O]);
        if (c->sandwich_norms) {
            nn_rmsnorm(t->tmp, o, ly->post_attn_norm, T, H, eps, one);
            o = t->tmp;
        }
        nn_axpy(x, o, 1.0f, T * H);
        memcpy(a->x_mid, x, (size_t)(T * H) * sizeof *x);
        nn_rmsnorm(a->h2, x, c->sandwich_norms ? ly->pre_ff_norm : ly->post_attn_norm, T, H, eps, one);
        lin_fwd(p, &ly->lin[L_GATE], a->gate, a->h2, T, a->ax[L_GATE]);
        lin_fwd(p, &ly->lin[L_UP], a->up, a->h2, T, a->ax[L_UP]);
        memcpy(a->act, a->gate, (size_t)(T * I) * sizeof *x);
        if (c->act == NN_ACT_GELU_TANH) nn_gelu_tanh_mul(a->act, a->up, T * I);
        else nn_silu_mul(a->act, a->up, T * I);
        float *d = c->sandwich_norms ? a->down : t->tmp;
        lin_fwd(p, &ly->lin[L_DOWN], d, a->act, T, a->ax[L_DOWN]);
        if (c->sandwich_norms) {
            nn_rmsnorm(t->tmp, d, ly->post_ff_norm, T, H, eps, one);
            d = t->tmp;
        }
        nn_axpy(x, d, 1.0f, T * H);
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
    for (int64_t l = c->num_layers - 1; l >= 0; l--) {
        const nn_layer *ly = &m->layers[l];
        layer_acts *a = &t->acts[l];
        const int sliding = c->layer_sliding[l];
        int li = (int)l;
        /* MLP */
        const float *dd = dx;
        if (c->sandwich_norms) {
            nn_rmsnorm_backward(t->dh, dx, a->down, ly->post_ff_norm, T, H, eps, one, 0);
            dd = t->dh;
        }
        lin_bwd(t, p, li, L_DOWN, t->dact, dd, a->act, T, 0);
        if (c->act == NN_ACT_GELU_TANH) nn_gelu_tanh_mul_backward(t->dgate, t->dup, t->dact, a->gate, a->up, T * I);
        else nn_silu_mul_backward(t->dgate, t->dup, t->dact, a->gate, a->up, T * I);
        lin_bwd(t, p, li, L_GATE, t->tmp, t->dgate, a->h2, T, 0);
        lin_bwd(t, p, li, L_UP, t->tmp, t->dup, a->h2, T, 1);
        nn_rmsnorm_backward(dx, t->tmp, a->x_mid, c->sandwich_norms ? ly->pre_ff_norm : ly->post_attn_norm,
                            T, H, eps, one, 1);
        /* attention */
        const float *dout = dx;
        if (c->sandwich_norms) {
            nn_rmsnorm_backward(t->dh, dx, a->o, ly->post_attn_norm, T, H, eps, one, 0);
            dout = t->dh;
        }
        lin_bwd(t, p, li, L_O, t->datt, dout, a->att, T, 0);
        nn_attn_shape shape = {.T = T, .pos0 = 0, .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd,
                               .kv_stride = kvd, .window = sliding ? c->sliding_window : 0,
                               .scale = m->attn_scale, .softcap = (float)c->attn_softcap,
                               .kv_first = kv_first};
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
        lin_bwd(t, p, li, L_Q, dh1, dqp, a->h1, T, 0);
        lin_bwd(t, p, li, L_K, dh1, dkp, a->h1, T, 1);
        lin_bwd(t, p, li, L_V, dh1, t->dv, a->h1, T, 1);
        nn_rmsnorm_backward(dx, dh1, a->x_in, ly->in_norm, T, H, eps, one, 1);
    }
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
    /* the fields of a PEFT LoraConfig that change what is computed */
    cJSON *c = cJSON_CreateObject(), *targets = cJSON_CreateArray();
    unsigned seen = 0;
    for (size_t i = 0; i < t->nslots; i++) {
        int k = t->slots[i].kind;
        if (seen & (1u << k)) continue;
        seen |= 1u << k;
        const char *dot = strchr(nn_linear_names[k], '.');
        cJSON_AddItemToArray(targets, cJSON_CreateString(dot + 1));
    }
    cJSON_AddItemToObject(c, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(c, "auto_mapping");
    cJSON_AddStringToObject(c, "base_model_name_or_path", base_model ? base_model : "");
    cJSON_AddStringToObject(c, "bias", "none");
    cJSON_AddFalseToObject(c, "fan_in_fan_out");
    cJSON_AddTrueToObject(c, "inference_mode");
    cJSON_AddTrueToObject(c, "init_lora_weights");
    cJSON_AddNullToObject(c, "layers_pattern");
    cJSON_AddNullToObject(c, "layers_to_transform");
    cJSON_AddNumberToObject(c, "lora_alpha", t->cfg.alpha);
    cJSON_AddNumberToObject(c, "lora_dropout", 0.0);
    cJSON_AddNullToObject(c, "modules_to_save");
    cJSON_AddStringToObject(c, "peft_type", "LORA");
    cJSON_AddNumberToObject(c, "r", (double)t->cfg.r);
    cJSON_AddItemToObject(c, "rank_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(c, "revision");
    cJSON_AddItemToObject(c, "target_modules", targets);
    cJSON_AddStringToObject(c, "task_type", "CAUSAL_LM");
    cJSON_AddFalseToObject(c, "use_dora");
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
