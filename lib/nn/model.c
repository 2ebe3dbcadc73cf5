/* The forward pass of the supported families (see model.h), written the
 * way transformers computes it in float32:
 *
 *   x = embed[ids] (* sqrt(hidden) for Gemma)
 *   per layer:  h = norm(x); q,k,v = proj(h); q,k = qk_norm (Qwen3, Gemma 3);
 *               rope(q, k); a = o_proj(attention(q, K, V))
 *               Gemma 2/3: a = post_attention_norm(a)
 *               x += a; h = (Gemma 2/3: pre_feedforward_norm | post_attention_norm)(x)
 *               f = down(act(gate(h)) * up(h)); Gemma 2/3: f = post_feedforward_norm(f)
 *               x += f
 *   logits = head(norm(x)) (Gemma 2: final soft-capping)
 *
 * with LoRA added to a linear layer as PEFT does: y = W x + b + (B (A x)) * s. */
#include "nn/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "nn/model_internal.h"
#include "nn/safetensors.h"

const char *const nn_linear_names[L_COUNT] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                              "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                              "mlp.down_proj"};

struct nn_state {
    const nn_model *m;
    int64_t pos, max_ctx, cap_ctx, max_chunk, last_T;
    float *k, *v;                 /* [cap_ctx][layers][kv_dim] */
    float *x, *xb, *q, *kt, *vt, *att, *gate, *up, *lora, *hidden;
    float *cos_g, *sin_g, *cos_l, *sin_l; /* [max_chunk][head_dim/2] */
    float *nll_logits;            /* [NLL_ROWS][vocab] */
    float *nll_hidden;            /* [NLL_ROWS][hidden] */
};

#define NLL_ROWS 8

/* ---- loading ---- */

static float *copy_vector(const sft_st *st, const char *name, int64_t n, char *err, size_t errlen)
{
    nn_mat m;
    if (sft_st_get(st, name, 1, n, &m, err, errlen) != 0) return NULL;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    nn_mat_row(&m, 0, v);
    return v;
}

/* name = prefix + fmt..., for tensor lookups */
static const char *tname(char *buf, size_t n, const nn_model *m, const char *fmt, int layer,
                         const char *what)
{
    int k = snprintf(buf, n, "%s", m->prefix);
    snprintf(buf + k, n - (size_t)k, fmt, layer, what);
    return buf;
}

static int load_linear(nn_model *m, int l, int kind, int64_t rows, int64_t cols, int bias,
                       char *err, size_t errlen)
{
    char name[256];
    nn_linear *lin = &m->layers[l].lin[kind];
    if (sft_st_get(m->st, tname(name, sizeof name, m, "layers.%d.%s.weight", l, nn_linear_names[kind]),
                   rows, cols, &lin->w, err, errlen) != 0)
        return -1;
    if (bias &&
        !(lin->bias = copy_vector(m->st, tname(name, sizeof name, m, "layers.%d.%s.bias", l,
                                               nn_linear_names[kind]),
                                  rows, err, errlen)))
        return -1;
    return 0;
}

static float *load_norm(nn_model *m, int l, const char *what, int64_t n, char *err, size_t errlen)
{
    char name[256];
    return copy_vector(m->st, tname(name, sizeof name, m, "layers.%d.%s.weight", l, what), n, err,
                       errlen);
}

/* inv_freq as transformers computes it in float32 for the default, linear
 * and llama3 RoPE types. */
static float *rope_inv_freq(int64_t dim, double base, enum nn_rope_scaling scaling,
                            const nn_config *c)
{
    float *inv = malloc((size_t)(dim / 2) * sizeof *inv);
    if (!inv) return NULL;
    for (int64_t i = 0; i < dim / 2; i++) {
        float e = (float)(2 * i) / (float)dim;
        inv[i] = 1.0f / (float)pow(base, (double)e);
    }
    if (scaling == NN_ROPE_LINEAR) {
        for (int64_t i = 0; i < dim / 2; i++) inv[i] /= (float)c->rope_factor;
    } else if (scaling == NN_ROPE_LLAMA3) {
        float factor = (float)c->rope_factor, lo = (float)c->rope_low_freq_factor,
              hi = (float)c->rope_high_freq_factor, old = (float)c->rope_original_max_pos;
        float lo_wavelen = old / lo, hi_wavelen = old / hi;
        for (int64_t i = 0; i < dim / 2; i++) {
            float wavelen = 2.0f * (float)M_PI / inv[i];
            float f = wavelen > lo_wavelen ? inv[i] / factor : inv[i];
            if (!(wavelen < hi_wavelen) && !(wavelen > lo_wavelen)) {
                float smooth = (old / wavelen - lo) / (hi - lo);
                f = (1 - smooth) * f / factor + smooth * f;
            }
            inv[i] = f;
        }
    }
    return inv;
}

static int find_prefix(nn_model *m, char *err, size_t errlen)
{
    static const char *const prefixes[] = {"model.", "language_model.model.", "model.language_model."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        char name[96];
        snprintf(name, sizeof name, "%sembed_tokens.weight", prefixes[i]);
        if (sft_st_find(m->st, name)) {
            snprintf(m->prefix, sizeof m->prefix, "%s", prefixes[i]);
            return 0;
        }
    }
    snprintf(err, errlen, "missing tensor \"model.embed_tokens.weight\"");
    return -1;
}

static int load_weights(nn_model *m, char *err, size_t errlen)
{
    const nn_config *c = &m->cfg;
    int64_t H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    int64_t qdim = c->num_heads * hd, kvdim = c->num_kv_heads * hd;
    char name[256];
    if (find_prefix(m, err, errlen) != 0) return -1;
    snprintf(name, sizeof name, "%sembed_tokens.weight", m->prefix);
    if (sft_st_get(m->st, name, c->vocab_size, H, &m->embed, err, errlen) != 0) return -1;
    if (c->tie_word_embeddings) {
        m->head = m->embed;
    } else {
        const char *head = strcmp(m->prefix, "language_model.model.") == 0 ? "language_model.lm_head.weight"
                                                                           : "lm_head.weight";
        if (sft_st_get(m->st, head, c->vocab_size, H, &m->head, err, errlen) != 0) return -1;
    }
    snprintf(name, sizeof name, "%snorm.weight", m->prefix);
    if (!(m->final_norm = copy_vector(m->st, name, H, err, errlen))) return -1;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int qkv_bias = c->attention_bias;
    for (int l = 0; l < (int)c->num_layers; l++) {
        nn_layer *L = &m->layers[l];
        if (load_linear(m, l, L_Q, qdim, H, qkv_bias, err, errlen) ||
            load_linear(m, l, L_K, kvdim, H, qkv_bias, err, errlen) ||
            load_linear(m, l, L_V, kvdim, H, qkv_bias, err, errlen) ||
            load_linear(m, l, L_O, H, qdim, c->o_bias, err, errlen) ||
            load_linear(m, l, L_GATE, I, H, c->mlp_bias, err, errlen) ||
            load_linear(m, l, L_UP, I, H, c->mlp_bias, err, errlen) ||
            load_linear(m, l, L_DOWN, H, I, c->mlp_bias, err, errlen))
            return -1;
        if (!(L->in_norm = load_norm(m, l, "input_layernorm", H, err, errlen)) ||
            !(L->post_attn_norm = load_norm(m, l, "post_attention_layernorm", H, err, errlen)))
            return -1;
        if (c->sandwich_norms &&
            (!(L->pre_ff_norm = load_norm(m, l, "pre_feedforward_layernorm", H, err, errlen)) ||
             !(L->post_ff_norm = load_norm(m, l, "post_feedforward_layernorm", H, err, errlen))))
            return -1;
        if (c->qk_norm && (!(L->q_norm = load_norm(m, l, "self_attn.q_norm", hd, err, errlen)) ||
                           !(L->k_norm = load_norm(m, l, "self_attn.k_norm", hd, err, errlen))))
            return -1;
    }
    return 0;
}

nn_model *nn_model_load(const char *dir, char *err, size_t errlen)
{
    nn_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (nn_config_load(dir, &m->cfg, err, errlen) != 0) goto fail;
    if (!(m->st = sft_st_open_dir(dir, "model", err, errlen))) goto fail;
    if (load_weights(m, err, errlen) != 0) {
        /* name the file: the message is about a tensor */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s: %s", dir, err);
        snprintf(err, errlen, "%s", tmp);
        goto fail;
    }
    const nn_config *c = &m->cfg;
    m->inv_freq_global = rope_inv_freq(c->head_dim, c->rope_theta, c->rope_scaling, c);
    m->inv_freq_local = rope_inv_freq(c->head_dim, c->rope_local_theta,
                                      c->family == NN_GEMMA3 ? NN_ROPE_NONE : c->rope_scaling, c);
    if (!m->inv_freq_global || !m->inv_freq_local) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    m->embed_scale = c->embed_scale ? (float)sqrt((double)c->hidden_size) : 1.0f;
    m->attn_scale = (float)pow(c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar
                                                            : (double)c->head_dim,
                               -0.5);
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

void nn_model_free(nn_model *m)
{
    if (!m) return;
    for (int64_t l = 0; m->layers && l < m->cfg.num_layers; l++) {
        nn_layer *L = &m->layers[l];
        for (int k = 0; k < L_COUNT; k++) free(L->lin[k].bias);
        free(L->in_norm);
        free(L->post_attn_norm);
        free(L->pre_ff_norm);
        free(L->post_ff_norm);
        free(L->q_norm);
        free(L->k_norm);
    }
    free(m->layers);
    free(m->final_norm);
    free(m->loras);
    free(m->inv_freq_global);
    free(m->inv_freq_local);
    sft_st_close(m->adapter_st);
    sft_st_close(m->st);
    free(m);
}

const nn_config *nn_model_config(const nn_model *m) { return &m->cfg; }

static size_t mat_bytes(const nn_mat *w)
{
    return (size_t)(w->rows * w->cols) * (w->dtype == NN_F32 ? 4u : 2u);
}

size_t nn_model_weight_bytes(const nn_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < sft_st_count(m->st); i++) n += sft_st_at(m->st, i)->nbytes;
    return n;
}

size_t nn_model_bytes_per_token(const nn_model *m)
{
    size_t n = mat_bytes(&m->head);
    if (!m->cfg.tie_word_embeddings) n += mat_bytes(&m->embed) / (size_t)m->embed.rows;
    for (int64_t l = 0; l < m->cfg.num_layers; l++)
        for (int k = 0; k < L_COUNT; k++) {
            const nn_linear *lin = &m->layers[l].lin[k];
            n += mat_bytes(&lin->w);
            if (lin->lora) n += mat_bytes(&lin->lora->A) + mat_bytes(&lin->lora->B);
        }
    return n;
}

/* ---- adapters ---- */

static int json_number(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valuedouble;
    return 0;
}

/* A key of adapter_config.json that changes what PEFT computes must be
 * absent, null, false, empty or the given string. */
static int refuse_if_set(const cJSON *cfg, const char *path, const char *key, const char *ok_string,
                         char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return 0;
    if (cJSON_IsObject(v) && !v->child) return 0;
    if (cJSON_IsArray(v) && !v->child) return 0;
    if (ok_string && cJSON_IsString(v) && strcmp(v->valuestring, ok_string) == 0) return 0;
    snprintf(err, errlen, "%s: \"%s\" is set; adapters with it are not supported", path, key);
    return -1;
}

static int read_adapter_config(const char *dir, double *alpha, double *r, int *rslora, char *err,
                               size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    sft_buf text = {0};
    if (buf_read_file(&text, path, (size_t)16 << 20) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    cJSON *cfg = text.p ? cJSON_ParseWithLength(text.p, text.len) : NULL;
    buf_free(&text);
    int rc = -1;
    if (!cJSON_IsObject(cfg)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        goto done;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cfg, "peft_type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "LORA") != 0) {
        snprintf(err, errlen, "%s: peft_type must be \"LORA\"", path);
        goto done;
    }
    if (json_number(cfg, "r", r) != 0 || *r < 1 || json_number(cfg, "lora_alpha", alpha) != 0) {
        snprintf(err, errlen, "%s: \"r\" and \"lora_alpha\" must be numbers (r >= 1)", path);
        goto done;
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(cfg, "use_rslora");
    *rslora = cJSON_IsTrue(rs);
    if (refuse_if_set(cfg, path, "use_dora", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "fan_in_fan_out", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "rank_pattern", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "alpha_pattern", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "modules_to_save", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "layer_replication", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "trainable_token_indices", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "lora_bias", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "use_qalora", NULL, err, errlen) ||
        refuse_if_set(cfg, path, "bias", "none", err, errlen))
        goto done;
    rc = 0;
done:
    cJSON_Delete(cfg);
    return rc;
}

/* module name of layer l, kind k, as PEFT writes it after "base_model.model." */
static int match_module(const nn_model *m, const char *mod, size_t len, int *layer, int *kind)
{
    size_t pl = strlen(m->prefix);
    if (len <= pl + 7 || memcmp(mod, m->prefix, pl) != 0 || memcmp(mod + pl, "layers.", 7) != 0)
        return -1;
    const char *p = mod + pl + 7, *end = mod + len;
    long l = 0;
    if (p == end || *p < '0' || *p > '9') return -1;
    while (p < end && *p >= '0' && *p <= '9') {
        l = l * 10 + (*p++ - '0');
        if (l >= m->cfg.num_layers) return -1;
    }
    if (p == end || *p++ != '.') return -1;
    for (int k = 0; k < L_COUNT; k++)
        if ((size_t)(end - p) == strlen(nn_linear_names[k]) && memcmp(p, nn_linear_names[k], (size_t)(end - p)) == 0) {
            *layer = (int)l;
            *kind = k;
            return 0;
        }
    return -1;
}

int nn_model_add_adapter(nn_model *m, const char *dir, char *err, size_t errlen)
{
    if (m->adapter_st) {
        snprintf(err, errlen, "%s: the model already has an adapter", dir);
        return -1;
    }
    double alpha, r;
    int rslora;
    if (read_adapter_config(dir, &alpha, &r, &rslora, err, errlen) != 0) return -1;
    sft_st *st = sft_st_open_dir(dir, "adapter_model", err, errlen);
    if (!st) return -1;
    size_t n = sft_st_count(st);
    nn_lora *loras = calloc(n ? n : 1, sizeof *loras);
    /* which lora of each linear layer, by index into loras, +1 */
    size_t nlin = (size_t)m->cfg.num_layers * L_COUNT;
    size_t *slot = calloc(nlin, sizeof *slot);
    size_t nl = 0;
    if (!loras || !slot) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    static const char base[] = "base_model.model.";
    for (size_t i = 0; i < n; i++) {
        const sft_st_tensor *t = sft_st_at(st, i);
        size_t len = strlen(t->name), bl = sizeof base - 1;
        static const size_t sl = sizeof ".lora_A.weight" - 1;
        int is_a = len > sl && memcmp(t->name + len - sl, ".lora_A.weight", sl) == 0;
        int is_b = len > sl && memcmp(t->name + len - sl, ".lora_B.weight", sl) == 0;
        int layer, kind;
        if (len <= bl + sl || memcmp(t->name, base, bl) != 0 || (!is_a && !is_b) ||
            match_module(m, t->name + bl, len - bl - sl, &layer, &kind) != 0) {
            snprintf(err, errlen,
                     "%s/adapter_model.safetensors: tensor \"%s\" is not the lora_A or lora_B of a "
                     "linear layer of this model's blocks",
                     dir, t->name);
            goto fail;
        }
        size_t li = (size_t)layer * L_COUNT + (size_t)kind;
        if (!slot[li]) slot[li] = ++nl;
        nn_lora *lo = &loras[slot[li] - 1];
        const nn_mat *w = &m->layers[layer].lin[kind].w;
        nn_mat *dst = is_a ? &lo->A : &lo->B;
        if (dst->data) {
            snprintf(err, errlen, "%s: tensor \"%s\" appears twice", dir, t->name);
            goto fail;
        }
        if (sft_st_get(st, t->name, -1, -1, dst, err, errlen) != 0) goto fail;
        if ((is_a && dst->cols != w->cols) || (is_b && dst->rows != w->rows)) {
            snprintf(err, errlen, "%s: tensor \"%s\" has shape [%lld, %lld], which does not fit %s [%lld, %lld]",
                     dir, t->name, (long long)dst->rows, (long long)dst->cols, nn_linear_names[kind],
                     (long long)w->rows, (long long)w->cols);
            goto fail;
        }
    }
    for (size_t li = 0; li < nlin; li++) {
        if (!slot[li]) continue;
        nn_lora *lo = &loras[slot[li] - 1];
        int layer = (int)(li / L_COUNT), kind = (int)(li % L_COUNT);
        if (!lo->A.data || !lo->B.data || lo->A.rows != lo->B.cols) {
            snprintf(err, errlen, "%s: layers.%d.%s: %s", dir, layer, nn_linear_names[kind],
                     !lo->A.data ? "lora_B without lora_A"
                     : !lo->B.data ? "lora_A without lora_B"
                                   : "lora_A and lora_B ranks differ");
            goto fail;
        }
        /* PEFT's scaling uses r from the config; the tensors must have that rank */
        if ((double)lo->A.rows != r) {
            snprintf(err, errlen, "%s: layers.%d.%s has rank %lld, adapter_config.json says r = %g",
                     dir, layer, nn_linear_names[kind], (long long)lo->A.rows, r);
            goto fail;
        }
        lo->scale = (float)(rslora ? alpha / sqrt(r) : alpha / r);
        m->layers[layer].lin[kind].lora = lo;
        if (lo->A.rows > m->max_r) m->max_r = lo->A.rows;
    }
    if (!nl) {
        snprintf(err, errlen, "%s/adapter_model.safetensors: no LoRA tensors", dir);
        goto fail;
    }
    free(slot);
    m->adapter_st = st;
    m->loras = loras;
    m->nloras = nl;
    m->adapter_alpha = alpha;
    m->adapter_r = r;
    m->adapter_rslora = rslora;
    return 0;
fail:
    for (int64_t l = 0; l < m->cfg.num_layers; l++)
        for (int k = 0; k < L_COUNT; k++) m->layers[l].lin[k].lora = NULL;
    m->max_r = 0;
    free(slot);
    free(loras);
    sft_st_close(st);
    return -1;
}

size_t nn_model_adapted_layers(const nn_model *m) { return m->nloras; }

/* ---- state ---- */

nn_state *nn_state_new(const nn_model *m, int64_t max_ctx, int64_t max_chunk)
{
    const nn_config *c = &m->cfg;
    if (max_ctx < 1) max_ctx = 1;
    if (max_chunk < 1) max_chunk = 1;
    if (max_chunk > max_ctx) max_chunk = max_ctx;
    nn_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->m = m;
    s->max_ctx = max_ctx;
    s->max_chunk = max_chunk;
    size_t C = (size_t)max_chunk, H = (size_t)c->hidden_size, hd = (size_t)c->head_dim;
    size_t qdim = (size_t)c->num_heads * hd, kvdim = (size_t)c->num_kv_heads * hd;
    size_t I = (size_t)c->intermediate_size, r = (size_t)(m->max_r ? m->max_r : 1);
    s->x = malloc(C * H * sizeof(float));
    s->xb = malloc(C * H * sizeof(float));
    s->hidden = malloc(C * H * sizeof(float));
    s->q = malloc(C * qdim * sizeof(float));
    s->att = malloc(C * qdim * sizeof(float));
    s->kt = malloc(C * kvdim * sizeof(float));
    s->vt = malloc(C * kvdim * sizeof(float));
    s->gate = malloc(C * I * sizeof(float));
    s->up = malloc(C * I * sizeof(float));
    s->lora = malloc(C * r * sizeof(float));
    s->cos_g = malloc(C * hd / 2 * sizeof(float));
    s->sin_g = malloc(C * hd / 2 * sizeof(float));
    s->cos_l = malloc(C * hd / 2 * sizeof(float));
    s->sin_l = malloc(C * hd / 2 * sizeof(float));
    if (!s->x || !s->xb || !s->hidden || !s->q || !s->att || !s->kt || !s->vt || !s->gate || !s->up ||
        !s->lora || !s->cos_g || !s->sin_g || !s->cos_l || !s->sin_l) {
        nn_state_free(s);
        return NULL;
    }
    return s;
}

void nn_state_free(nn_state *s)
{
    if (!s) return;
    free(s->k);
    free(s->v);
    free(s->x);
    free(s->xb);
    free(s->hidden);
    free(s->q);
    free(s->att);
    free(s->kt);
    free(s->vt);
    free(s->gate);
    free(s->up);
    free(s->lora);
    free(s->cos_g);
    free(s->sin_g);
    free(s->cos_l);
    free(s->sin_l);
    free(s->nll_logits);
    free(s->nll_hidden);
    free(s);
}

void nn_state_reset(nn_state *s) { s->pos = 0; s->last_T = 0; }
void nn_state_truncate(nn_state *s, int64_t pos)
{
    if (pos >= 0 && pos < s->pos) s->pos = pos;
    s->last_T = 0;
}
int64_t nn_state_pos(const nn_state *s) { return s->pos; }
int64_t nn_state_max_ctx(const nn_state *s) { return s->max_ctx; }
int64_t nn_state_chunk_len(const nn_state *s) { return s->last_T; }

/* Grows the cache to hold need positions (doubling, up to max_ctx). */
static int reserve_cache(nn_state *s, int64_t need)
{
    if (need <= s->cap_ctx) return 0;
    int64_t cap = s->cap_ctx ? s->cap_ctx : 256;
    while (cap < need) cap *= 2;
    if (cap > s->max_ctx) cap = s->max_ctx;
    const nn_config *c = &s->m->cfg;
    size_t row = (size_t)(c->num_layers * c->num_kv_heads * c->head_dim) * sizeof(float);
    float *k = realloc(s->k, (size_t)cap * row);
    if (!k) return -1;
    s->k = k;
    float *v = realloc(s->v, (size_t)cap * row);
    if (!v) return -1;
    s->v = v;
    s->cap_ctx = cap;
    return 0;
}

/* ---- forward ---- */

static void linear(const nn_linear *l, nn_pool *p, float *out, const float *x, int64_t T, float *tmp)
{
    nn_matmul(p, out, x, T, &l->w, l->bias, 1.0f, 0);
    if (l->lora) {
        nn_matmul(p, tmp, x, T, &l->lora->A, NULL, 1.0f, 0);
        nn_matmul(p, out, tmp, T, &l->lora->B, NULL, l->lora->scale, 1);
    }
}

void nn_rope_tables(const float *inv, int64_t half, int64_t pos0, int64_t T, float *cosv, float *sinv)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            float angle = (float)(pos0 + t) * inv[i];
            cosv[t * half + i] = cosf(angle);
            sinv[t * half + i] = sinf(angle);
        }
}

static void add(float *x, const float *y, int64_t n)
{
    nn_axpy(x, y, 1.0f, n);
}

int nn_forward(const nn_model *m, nn_state *s, nn_pool *p, const int32_t *ids, int64_t T, char *err,
               size_t errlen)
{
    const nn_config *c = &m->cfg;
    int64_t H = c->hidden_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    int64_t kvdim = nkv * hd, I = c->intermediate_size, L = c->num_layers, half = hd / 2;
    if (T < 1 || T > s->max_chunk) {
        snprintf(err, errlen, "chunk of %lld tokens (at most %lld)", (long long)T, (long long)s->max_chunk);
        return -1;
    }
    if (s->pos + T > s->max_ctx) {
        snprintf(err, errlen, "the context is full (%lld positions)", (long long)s->max_ctx);
        return -1;
    }
    for (int64_t t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab_size) {
            snprintf(err, errlen, "token id %ld is not in the vocabulary (0..%lld)", (long)ids[t],
                     (long long)c->vocab_size - 1);
            return -1;
        }
    if (reserve_cache(s, s->pos + T) != 0) {
        snprintf(err, errlen, "out of memory for the KV cache");
        return -1;
    }
    for (int64_t t = 0; t < T; t++) {
        nn_mat_row(&m->embed, ids[t], s->x + t * H);
        if (m->embed_scale != 1.0f)
            for (int64_t i = 0; i < H; i++) s->x[t * H + i] *= m->embed_scale;
    }
    nn_rope_tables(m->inv_freq_global, half, s->pos, T, s->cos_g, s->sin_g);
    nn_rope_tables(m->inv_freq_local, half, s->pos, T, s->cos_l, s->sin_l);
    float eps = (float)c->rms_norm_eps;
    int one = c->norm_add_one;
    int64_t kv_stride = L * kvdim;
    for (int64_t l = 0; l < L; l++) {
        const nn_layer *ly = &m->layers[l];
        int sliding = c->layer_sliding[l];
        nn_rmsnorm(s->xb, s->x, ly->in_norm, T, H, eps, one);
        linear(&ly->lin[L_Q], p, s->q, s->xb, T, s->lora);
        linear(&ly->lin[L_K], p, s->kt, s->xb, T, s->lora);
        linear(&ly->lin[L_V], p, s->vt, s->xb, T, s->lora);
        if (ly->q_norm) {
            nn_rmsnorm(s->q, s->q, ly->q_norm, T * nh, hd, eps, one);
            nn_rmsnorm(s->kt, s->kt, ly->k_norm, T * nkv, hd, eps, one);
        }
        const float *cosv = sliding ? s->cos_l : s->cos_g, *sinv = sliding ? s->sin_l : s->sin_g;
        nn_rope(s->q, T, nh, hd, cosv, sinv);
        nn_rope(s->kt, T, nkv, hd, cosv, sinv);
        for (int64_t t = 0; t < T; t++) {
            size_t at = (size_t)((s->pos + t) * kv_stride + l * kvdim);
            memcpy(s->k + at, s->kt + t * kvdim, (size_t)kvdim * sizeof(float));
            memcpy(s->v + at, s->vt + t * kvdim, (size_t)kvdim * sizeof(float));
        }
        nn_attn_shape shape = {.T = T,
                               .pos0 = s->pos,
                               .n_heads = nh,
                               .n_kv_heads = nkv,
                               .head_dim = hd,
                               .kv_stride = kv_stride,
                               .window = sliding ? c->sliding_window : 0,
                               .scale = m->attn_scale,
                               .softcap = (float)c->attn_softcap};
        nn_attention(p, s->att, s->q, s->k + l * kvdim, s->v + l * kvdim, &shape);
        linear(&ly->lin[L_O], p, s->xb, s->att, T, s->lora);
        if (c->sandwich_norms) {
            nn_rmsnorm(s->xb, s->xb, ly->post_attn_norm, T, H, eps, one);
            add(s->x, s->xb, T * H);
            nn_rmsnorm(s->xb, s->x, ly->pre_ff_norm, T, H, eps, one);
        } else {
            add(s->x, s->xb, T * H);
            nn_rmsnorm(s->xb, s->x, ly->post_attn_norm, T, H, eps, one);
        }
        linear(&ly->lin[L_GATE], p, s->gate, s->xb, T, s->lora);
        linear(&ly->lin[L_UP], p, s->up, s->xb, T, s->lora);
        if (c->act == NN_ACT_GELU_TANH) nn_gelu_tanh_mul(s->gate, s->up, T * I);
        else nn_silu_mul(s->gate, s->up, T * I);
        linear(&ly->lin[L_DOWN], p, s->xb, s->gate, T, s->lora);
        if (c->sandwich_norms) nn_rmsnorm(s->xb, s->xb, ly->post_ff_norm, T, H, eps, one);
        add(s->x, s->xb, T * H);
    }
    nn_rmsnorm(s->hidden, s->x, m->final_norm, T, H, eps, one);
    s->pos += T;
    s->last_T = T;
    return 0;
}

void nn_logits(const nn_model *m, nn_state *s, nn_pool *p, int64_t row0, int64_t n, float *out)
{
    const nn_config *c = &m->cfg;
    nn_matmul(p, out, s->hidden + row0 * c->hidden_size, n, &m->head, NULL, 1.0f, 0);
    if (c->final_softcap > 0) nn_softcap(out, n * c->vocab_size, (float)c->final_softcap);
}

int nn_chunk_nll(const nn_model *m, nn_state *s, nn_pool *p, const int32_t *target, int64_t T,
                 double *sum, int64_t *count)
{
    const nn_config *c = &m->cfg;
    int64_t H = c->hidden_size, V = c->vocab_size;
    if (T > s->last_T) return -1;
    for (int64_t t = 0; t < T; t++)
        if (target[t] >= V) return -1;
    if (!s->nll_logits) s->nll_logits = malloc((size_t)(NLL_ROWS * V) * sizeof(float));
    if (!s->nll_hidden) s->nll_hidden = malloc((size_t)(NLL_ROWS * H) * sizeof(float));
    if (!s->nll_logits || !s->nll_hidden) return -1;
    int64_t rows[NLL_ROWS];
    int n = 0;
    for (int64_t t = 0; t <= T; t++) {
        if (t < T && target[t] >= 0) {
            memcpy(s->nll_hidden + n * H, s->hidden + t * H, (size_t)H * sizeof(float));
            rows[n++] = t;
        }
        if (n == NLL_ROWS || (t == T && n > 0)) {
            nn_matmul(p, s->nll_logits, s->nll_hidden, n, &m->head, NULL, 1.0f, 0);
            if (c->final_softcap > 0) nn_softcap(s->nll_logits, n * V, (float)c->final_softcap);
            for (int i = 0; i < n; i++) {
                *sum += (double)nn_cross_entropy(s->nll_logits + i * V, V, target[rows[i]]);
                (*count)++;
            }
            n = 0;
        }
    }
    return 0;
}
