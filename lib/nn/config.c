/* config.json reader: see config.h.
 *
 * The defaults below are those of the transformers configuration classes
 * (LlamaConfig, Qwen2Config, Qwen3Config, GemmaConfig, Gemma2Config,
 * Gemma3TextConfig). A key that is absent takes the class default; a key
 * that is null means None, which only some keys allow (head_dim,
 * num_key_value_heads, sliding_window, the softcaps, rope_scaling,
 * bos/eos_token_id, torch_dtype); booleans follow Python truthiness for
 * null. Both the legacy rope_theta/rope_scaling keys and the newer
 * rope_parameters object are read. */
#include "nn/config.h"

#include "core/buf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* sizes beyond these are no real model and would overflow products later */
#define MAX_DIM ((int64_t)1 << 24)
#define MAX_POS ((int64_t)1 << 40)

typedef struct {
    const cJSON *obj;   /* where the model's keys are: the root, or gemma3's text_config */
    const cJSON *outer; /* the root (gemma3: ids and dtype may live there) */
    const char *pfx;    /* "" or "text_config." */
    char *err;
    size_t errlen;
} P;

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *nn_family_name(enum nn_family f)
{
    switch (f) {
    case NN_LLAMA: return "llama";
    case NN_QWEN2: return "qwen2";
    case NN_QWEN3: return "qwen3";
    case NN_GEMMA: return "gemma";
    case NN_GEMMA2: return "gemma2";
    case NN_GEMMA3: return "gemma3_text";
    }
    return "?";
}

/* Result of a lookup: absent, null, or a value. */
enum { K_ABSENT = 0, K_NULL = 1, K_VALUE = 2 };

static int is_int(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

/* An integer key of obj: K_ABSENT, K_NULL (only when nullable), K_VALUE, or -1. */
static int get_int_in(P *p, const cJSON *obj, const char *pfx, const char *key, int nullable, int64_t *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return K_ABSENT;
    if (cJSON_IsNull(j) && nullable) return K_NULL;
    if (!is_int(j, out)) {
        seterr(p->err, p->errlen, "\"%s%s\" must be an integer%s", pfx, key, nullable ? " or null" : "");
        return -1;
    }
    return K_VALUE;
}

static int get_int(P *p, const char *key, int nullable, int64_t *out)
{
    return get_int_in(p, p->obj, p->pfx, key, nullable, out);
}

/* A plain integer with a default. */
static int int_or(P *p, const char *key, int64_t def, int64_t *out)
{
    int r = get_int(p, key, 0, out);
    if (r < 0) return -1;
    if (r == K_ABSENT) *out = def;
    return 0;
}

static int get_num_in(P *p, const cJSON *obj, const char *pfx, const char *key, int nullable, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return K_ABSENT;
    if (cJSON_IsNull(j) && nullable) return K_NULL;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) {
        seterr(p->err, p->errlen, "\"%s%s\" must be a number%s", pfx, key, nullable ? " or null" : "");
        return -1;
    }
    *out = j->valuedouble;
    return K_VALUE;
}

static int num_or(P *p, const char *key, double def, double *out)
{
    int r = get_num_in(p, p->obj, p->pfx, key, 0, out);
    if (r < 0) return -1;
    if (r == K_ABSENT) *out = def;
    return 0;
}

/* A nullable number: absent -> def, null -> 0 (none). */
static int num_or_null(P *p, const char *key, double def, double *out)
{
    int r = get_num_in(p, p->obj, p->pfx, key, 1, out);
    if (r < 0) return -1;
    if (r == K_ABSENT) *out = def;
    else if (r == K_NULL) *out = 0;
    return 0;
}

/* A boolean: true/false; null is false (Python truthiness); absent -> def. */
static int bool_in(P *p, const cJSON *obj, const char *pfx, const char *key, int def, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) *out = def;
    else if (cJSON_IsNull(j)) *out = 0;
    else if (cJSON_IsBool(j)) *out = cJSON_IsTrue(j);
    else {
        seterr(p->err, p->errlen, "\"%s%s\" must be true or false", pfx, key);
        return -1;
    }
    return 0;
}

static int bool_or(P *p, const char *key, int def, int *out)
{
    return bool_in(p, p->obj, p->pfx, key, def, out);
}

/* A string key: NULL when absent or null; -1 on a wrong type. */
static int get_str_in(P *p, const cJSON *obj, const char *pfx, const char *key, const char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsString(j)) {
        seterr(p->err, p->errlen, "\"%s%s\" must be a string", pfx, key);
        return -1;
    }
    *out = j->valuestring;
    return 0;
}

/* ---- RoPE ---- */

static int rope_num(P *p, const cJSON *rs, const char *what, const char *type, const char *key, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(rs, key);
    if (!j) {
        seterr(p->err, p->errlen, "\"%s%s\" of type \"%s\" needs \"%s\"", p->pfx, what, type, key);
        return -1;
    }
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) || j->valuedouble <= 0) {
        seterr(p->err, p->errlen, "\"%s%s.%s\" must be a positive number", p->pfx, what, key);
        return -1;
    }
    *out = j->valuedouble;
    return 0;
}

/* Reads a rope_scaling object (or one set of rope_parameters) into cfg's
 * global scaling. what names it in messages. */
static int parse_scaling(P *p, const cJSON *rs, const char *what, nn_config *cfg)
{
    cfg->rope_scaling = NN_ROPE_NONE;
    cfg->rope_factor = 1.0;
    if (!rs || cJSON_IsNull(rs)) return 0;
    if (!cJSON_IsObject(rs)) {
        seterr(p->err, p->errlen, "\"%s%s\" must be an object or null", p->pfx, what);
        return -1;
    }
    /* transformers: rope_type, else the older "type" */
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!jt) jt = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!jt) {
        seterr(p->err, p->errlen, "\"%s%s\" has no \"rope_type\"", p->pfx, what);
        return -1;
    }
    if (!cJSON_IsString(jt)) {
        seterr(p->err, p->errlen, "\"%s%s.rope_type\" must be a string", p->pfx, what);
        return -1;
    }
    const char *t = jt->valuestring;
    if (strcmp(t, "default") == 0) return 0;
    if (strcmp(t, "linear") == 0) {
        if (rope_num(p, rs, what, t, "factor", &cfg->rope_factor) != 0) return -1;
        cfg->rope_scaling = NN_ROPE_LINEAR;
        return 0;
    }
    if (strcmp(t, "llama3") == 0) {
        if (rope_num(p, rs, what, t, "factor", &cfg->rope_factor) != 0 ||
            rope_num(p, rs, what, t, "low_freq_factor", &cfg->rope_low_freq_factor) != 0 ||
            rope_num(p, rs, what, t, "high_freq_factor", &cfg->rope_high_freq_factor) != 0)
            return -1;
        int64_t om;
        int r = get_int_in(p, rs, "", "original_max_position_embeddings", 0, &om);
        if (r < 0) {
            seterr(p->err, p->errlen, "\"%s%s.original_max_position_embeddings\" must be a positive integer", p->pfx,
                   what);
            return -1;
        }
        if (r == K_ABSENT) {
            seterr(p->err, p->errlen, "\"%s%s\" of type \"llama3\" needs \"original_max_position_embeddings\"",
                   p->pfx, what);
            return -1;
        }
        if (om <= 0 || om > MAX_POS) {
            seterr(p->err, p->errlen, "\"%s%s.original_max_position_embeddings\" must be a positive integer", p->pfx,
                   what);
            return -1;
        }
        if (!(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor)) {
            seterr(p->err, p->errlen, "\"%s%s\": high_freq_factor must be greater than low_freq_factor", p->pfx, what);
            return -1;
        }
        cfg->rope_original_max_pos = om;
        cfg->rope_scaling = NN_ROPE_LLAMA3;
        return 0;
    }
    seterr(p->err, p->errlen, "%s type \"%.40s\" is not supported (default, linear, llama3)", what, t);
    return -1;
}

/* rope_theta of a rope_parameters set, when present. */
static int rope_params_theta(P *p, const cJSON *rp, const char *what, double *theta)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(rp, "rope_theta");
    if (!j) return 0;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) {
        seterr(p->err, p->errlen, "\"%s%s.rope_theta\" must be a number", p->pfx, what);
        return -1;
    }
    *theta = j->valuedouble;
    return 0;
}

/* Global and (Gemma 3) local RoPE: rope_theta + rope_scaling, or the newer
 * rope_parameters (one set, or Gemma 3's {"full_attention", "sliding_attention"}). */
static int parse_rope(P *p, nn_config *cfg, double def_theta, double def_local)
{
    cfg->rope_theta = def_theta;
    cfg->rope_local_theta = def_local;
    cfg->rope_scaling = NN_ROPE_NONE;
    cfg->rope_factor = 1.0;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(p->obj, "rope_parameters");
    if (rp && !cJSON_IsNull(rp)) {
        if (!cJSON_IsObject(rp)) {
            seterr(p->err, p->errlen, "\"%srope_parameters\" must be an object", p->pfx);
            return -1;
        }
        const cJSON *full = cJSON_GetObjectItemCaseSensitive(rp, "full_attention");
        const cJSON *slide = cJSON_GetObjectItemCaseSensitive(rp, "sliding_attention");
        if (full || slide) {
            if (full && cJSON_IsObject(full)) {
                if (rope_params_theta(p, full, "rope_parameters.full_attention", &cfg->rope_theta) != 0 ||
                    parse_scaling(p, full, "rope_parameters.full_attention", cfg) != 0)
                    return -1;
            } else if (full) {
                seterr(p->err, p->errlen, "\"%srope_parameters.full_attention\" must be an object", p->pfx);
                return -1;
            }
            if (slide && cJSON_IsObject(slide)) {
                nn_config tmp;
                memset(&tmp, 0, sizeof tmp);
                if (rope_params_theta(p, slide, "rope_parameters.sliding_attention", &cfg->rope_local_theta) != 0 ||
                    parse_scaling(p, slide, "rope_parameters.sliding_attention", &tmp) != 0)
                    return -1;
                if (tmp.rope_scaling != NN_ROPE_NONE) {
                    seterr(p->err, p->errlen, "\"%srope_parameters.sliding_attention\": scaling of the local RoPE is not supported", p->pfx);
                    return -1;
                }
            } else if (slide) {
                seterr(p->err, p->errlen, "\"%srope_parameters.sliding_attention\" must be an object", p->pfx);
                return -1;
            }
        } else {
            if (rope_params_theta(p, rp, "rope_parameters", &cfg->rope_theta) != 0) return -1;
            if ((cJSON_GetObjectItemCaseSensitive(rp, "rope_type") || cJSON_GetObjectItemCaseSensitive(rp, "type")) &&
                parse_scaling(p, rp, "rope_parameters", cfg) != 0)
                return -1;
        }
        return 0;
    }
    if (num_or(p, "rope_theta", def_theta, &cfg->rope_theta) != 0) return -1;
    return parse_scaling(p, cJSON_GetObjectItemCaseSensitive(p->obj, "rope_scaling"), "rope_scaling", cfg);
}

/* ---- layer types ---- */

/* Reads "layer_types" when present (returns 1), else returns 0. */
static int parse_layer_types(P *p, nn_config *cfg)
{
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(p->obj, "layer_types");
    if (!lt || cJSON_IsNull(lt)) return 0;
    if (!cJSON_IsArray(lt)) {
        seterr(p->err, p->errlen, "\"%slayer_types\" must be a list", p->pfx);
        return -1;
    }
    int n = cJSON_GetArraySize(lt);
    if ((int64_t)n != cfg->num_layers) {
        seterr(p->err, p->errlen, "\"%slayer_types\" has %d entries for %lld layers", p->pfx, n,
               (long long)cfg->num_layers);
        return -1;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, lt)
    {
        const char *s = cJSON_GetStringValue(e);
        if (s && strcmp(s, "sliding_attention") == 0) cfg->layer_sliding[i] = 1;
        else if (s && strcmp(s, "full_attention") == 0) cfg->layer_sliding[i] = 0;
        else {
            seterr(p->err, p->errlen, "\"%slayer_types[%d]\" is %s%.40s%s; only \"sliding_attention\" and \"full_attention\" are supported",
                   p->pfx, i, s ? "\"" : "", s ? s : "not a string", s ? "\"" : "");
            return -1;
        }
        i++;
    }
    return 1;
}

/* ---- token ids, dtype ---- */

/* The key in the model's object, else (gemma3) in the outer one. */
static const cJSON *either(const P *p, const char *key, const char **pfx)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(p->outer, key);
    *pfx = "";
    if (j || p->obj == p->outer) return j;
    j = cJSON_GetObjectItemCaseSensitive(p->obj, key);
    *pfx = p->pfx;
    return j;
}

static int parse_ids(P *p, nn_config *cfg, int64_t def_bos, int64_t def_eos)
{
    const char *pfx;
    const cJSON *j = either(p, "bos_token_id", &pfx);
    int64_t v;
    cfg->bos_token_id = def_bos;
    if (j) {
        if (cJSON_IsNull(j)) cfg->bos_token_id = -1;
        else if (is_int(j, &v) && v >= 0) cfg->bos_token_id = v;
        else {
            seterr(p->err, p->errlen, "\"%sbos_token_id\" must be a non-negative integer or null", pfx);
            return -1;
        }
    }
    j = either(p, "eos_token_id", &pfx);
    cfg->n_eos = 0;
    if (!j) {
        if (def_eos >= 0) cfg->eos_token_ids[cfg->n_eos++] = def_eos;
    } else if (cJSON_IsNull(j)) {
    } else if (is_int(j, &v) && v >= 0) {
        cfg->eos_token_ids[cfg->n_eos++] = v;
    } else if (cJSON_IsArray(j)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, j)
        {
            if (!is_int(e, &v) || v < 0) {
                seterr(p->err, p->errlen, "\"%seos_token_id\" must hold non-negative integers", pfx);
                return -1;
            }
            if (cfg->n_eos == (int)(sizeof cfg->eos_token_ids / sizeof cfg->eos_token_ids[0])) {
                seterr(p->err, p->errlen, "\"%seos_token_id\" has more than %d ids", pfx, cfg->n_eos);
                return -1;
            }
            cfg->eos_token_ids[cfg->n_eos++] = v;
        }
    } else {
        seterr(p->err, p->errlen, "\"%seos_token_id\" must be an integer, a list of integers, or null", pfx);
        return -1;
    }
    for (int i = cfg->n_eos; i < (int)(sizeof cfg->eos_token_ids / sizeof cfg->eos_token_ids[0]); i++)
        cfg->eos_token_ids[i] = -1;
    return 0;
}

static int parse_dtype(P *p, nn_config *cfg)
{
    const char *pfx, *key = "torch_dtype";
    const cJSON *j = either(p, key, &pfx);
    if (!j) j = either(p, key = "dtype", &pfx);
    cfg->torch_dtype[0] = '\0';
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsString(j) || strlen(j->valuestring) >= sizeof cfg->torch_dtype) {
        seterr(p->err, p->errlen, "\"%s%s\" must be a dtype name such as \"bfloat16\"", pfx, key);
        return -1;
    }
    snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", j->valuestring);
    return 0;
}

/* ---- the families ---- */

typedef struct {
    int64_t vocab, hidden, inter, layers, heads, kv, head_dim; /* head_dim 0: hidden/heads */
    int64_t max_pos, bos, eos;
    double theta;
    int tie;
} defaults;

static const defaults D_LLAMA = {32000, 4096, 11008, 32, 32, 0, 0, 2048, 1, 2, 10000.0, 0};
static const defaults D_QWEN2 = {151936, 4096, 22016, 32, 32, 32, 0, 32768, -1, -1, 10000.0, 0};
static const defaults D_QWEN3 = {151936, 4096, 22016, 32, 32, 32, 128, 32768, -1, -1, 10000.0, 0};
static const defaults D_GEMMA = {256000, 3072, 24576, 28, 16, 16, 256, 8192, 2, 1, 10000.0, 1};
static const defaults D_GEMMA2 = {256000, 2304, 9216, 26, 8, 4, 256, 8192, 2, 1, 10000.0, 1};
static const defaults D_GEMMA3 = {262208, 2304, 9216, 26, 8, 4, 256, 131072, 2, 1, 1000000.0, 1};

static int parse_common(P *p, nn_config *cfg, const defaults *d)
{
    int64_t v;
    int r;
    if (int_or(p, "vocab_size", d->vocab, &cfg->vocab_size) != 0 ||
        int_or(p, "hidden_size", d->hidden, &cfg->hidden_size) != 0 ||
        int_or(p, "intermediate_size", d->inter, &cfg->intermediate_size) != 0 ||
        int_or(p, "num_hidden_layers", d->layers, &cfg->num_layers) != 0 ||
        int_or(p, "num_attention_heads", d->heads, &cfg->num_heads) != 0 ||
        int_or(p, "max_position_embeddings", d->max_pos, &cfg->max_position_embeddings) != 0 ||
        num_or(p, "rms_norm_eps", 1e-6, &cfg->rms_norm_eps) != 0)
        return -1;
    /* num_key_value_heads: None means num_attention_heads */
    if ((r = get_int(p, "num_key_value_heads", 1, &v)) < 0) return -1;
    cfg->num_kv_heads = r == K_VALUE ? v : r == K_NULL || d->kv == 0 ? cfg->num_heads : d->kv;
    /* head_dim: explicit, else the class default, else hidden/heads */
    if ((r = get_int(p, "head_dim", 1, &v)) < 0) return -1;
    if (r == K_VALUE) cfg->head_dim = v;
    else if (r == K_ABSENT && d->head_dim) cfg->head_dim = d->head_dim;
    else cfg->head_dim = cfg->num_heads > 0 ? cfg->hidden_size / cfg->num_heads : 0;
    /* tie_word_embeddings: the model's object, else (gemma3) the outer one */
    if (cJSON_GetObjectItemCaseSensitive(p->obj, "tie_word_embeddings"))
        return bool_or(p, "tie_word_embeddings", d->tie, &cfg->tie_word_embeddings);
    return bool_in(p, p->outer, "", "tie_word_embeddings", d->tie, &cfg->tie_word_embeddings);
}

static int parse_act(P *p, nn_config *cfg, const char *key, const char *def)
{
    const char *s;
    if (get_str_in(p, p->obj, p->pfx, key, &s) != 0) return -1;
    if (!s) s = def;
    if (strcmp(s, "silu") == 0 || strcmp(s, "swish") == 0) cfg->act = NN_ACT_SILU;
    else if (strcmp(s, "gelu_pytorch_tanh") == 0 || strcmp(s, "gelu_tanh") == 0) cfg->act = NN_ACT_GELU_TANH;
    else {
        seterr(p->err, p->errlen, "\"%s%s\" \"%.40s\" is not supported (silu, gelu_pytorch_tanh)", p->pfx, key, s);
        return -1;
    }
    return 0;
}

/* Qwen2/Qwen3: sliding only with use_sliding_window, for layers >= max_window_layers (or layer_types). */
static int parse_qwen_sliding(P *p, nn_config *cfg)
{
    int use;
    int64_t sw = 4096, mwl = 28;
    if (bool_or(p, "use_sliding_window", 0, &use) != 0) return -1;
    int r = get_int(p, "sliding_window", 1, &sw);
    if (r < 0) return -1;
    if (r == K_ABSENT) sw = 4096;
    if (int_or(p, "max_window_layers", 28, &mwl) != 0) return -1;
    nn_config tmp; /* layer_types is checked even when no window is used */
    tmp.num_layers = cfg->num_layers;
    if (tmp.num_layers < 0 || tmp.num_layers > NN_MAX_LAYERS) return 0; /* reported later */
    int lt = parse_layer_types(p, &tmp);
    if (lt < 0) return -1;
    if (!use || r == K_NULL) return 0; /* transformers: sliding_window = None */
    if (sw <= 0) {
        seterr(p->err, p->errlen, "\"%ssliding_window\" must be positive", p->pfx);
        return -1;
    }
    cfg->sliding_window = sw;
    for (int64_t i = 0; i < cfg->num_layers; i++)
        cfg->layer_sliding[i] = lt ? tmp.layer_sliding[i] : i >= mwl;
    return 0;
}

static int parse_family(P *p, nn_config *cfg)
{
    enum nn_family f = cfg->family;
    const defaults *d = f == NN_LLAMA   ? &D_LLAMA
                        : f == NN_QWEN2 ? &D_QWEN2
                        : f == NN_QWEN3 ? &D_QWEN3
                        : f == NN_GEMMA ? &D_GEMMA
                        : f == NN_GEMMA2 ? &D_GEMMA2
                                         : &D_GEMMA3;
    if (parse_common(p, cfg, d) != 0) return -1;
    if (cfg->num_layers < 1 || cfg->num_layers > NN_MAX_LAYERS) {
        seterr(p->err, p->errlen, "\"%snum_hidden_layers\" is %lld; it must be between 1 and %d", p->pfx,
               (long long)cfg->num_layers, NN_MAX_LAYERS);
        return -1;
    }
    if (parse_ids(p, cfg, d->bos, d->eos) != 0 || parse_dtype(p, cfg) != 0) return -1;
    int gemma = f == NN_GEMMA || f == NN_GEMMA2 || f == NN_GEMMA3;
    cfg->query_pre_attn_scalar = (double)cfg->head_dim;
    int bias = 0;
    switch (f) {
    case NN_LLAMA:
        if (parse_act(p, cfg, "hidden_act", "silu") != 0 || bool_or(p, "attention_bias", 0, &bias) != 0 ||
            bool_or(p, "mlp_bias", 0, &cfg->mlp_bias) != 0)
            return -1;
        cfg->attention_bias = cfg->o_bias = bias;
        break;
    case NN_QWEN2:
        if (parse_act(p, cfg, "hidden_act", "silu") != 0 || parse_qwen_sliding(p, cfg) != 0) return -1;
        cfg->attention_bias = 1; /* q/k/v always, o never */
        cfg->o_bias = 0;
        break;
    case NN_QWEN3:
        if (parse_act(p, cfg, "hidden_act", "silu") != 0 || bool_or(p, "attention_bias", 0, &bias) != 0 ||
            parse_qwen_sliding(p, cfg) != 0)
            return -1;
        cfg->attention_bias = cfg->o_bias = bias;
        cfg->qk_norm = 1;
        break;
    case NN_GEMMA:
    case NN_GEMMA2:
    case NN_GEMMA3:
        /* every Gemma uses hidden_activation, gelu_pytorch_tanh by default
         * (Gemma 1's "hidden_act": "gelu" is overridden by transformers) */
        if (parse_act(p, cfg, "hidden_activation", "gelu_pytorch_tanh") != 0 ||
            bool_or(p, "attention_bias", 0, &bias) != 0)
            return -1;
        cfg->attention_bias = cfg->o_bias = bias;
        break;
    }
    if (gemma) {
        cfg->norm_add_one = 1;
        cfg->embed_scale = 1;
    }
    if (f == NN_GEMMA2 || f == NN_GEMMA3) {
        int bidir;
        if (bool_or(p, "use_bidirectional_attention", 0, &bidir) != 0) return -1;
        if (bidir) {
            seterr(p->err, p->errlen, "\"%suse_bidirectional_attention\" is true: only causal models are supported", p->pfx);
            return -1;
        }
        cfg->sandwich_norms = 1;
        if (num_or(p, "query_pre_attn_scalar", 256, &cfg->query_pre_attn_scalar) != 0 ||
            num_or_null(p, "attn_logit_softcapping", f == NN_GEMMA2 ? 50.0 : 0, &cfg->attn_softcap) != 0 ||
            num_or_null(p, "final_logit_softcapping", f == NN_GEMMA2 ? 30.0 : 0, &cfg->final_softcap) != 0)
            return -1;
        int64_t sw = 4096;
        int r = get_int(p, "sliding_window", 1, &sw);
        if (r < 0) return -1;
        if (r == K_ABSENT) sw = 4096;
        if (r == K_NULL) sw = 0;
        else if (sw <= 0) {
            seterr(p->err, p->errlen, "\"%ssliding_window\" must be a positive integer or null", p->pfx);
            return -1;
        }
        cfg->sliding_window = sw;
        int lt = parse_layer_types(p, cfg);
        if (lt < 0) return -1;
        if (!lt && f == NN_GEMMA2) {
            for (int64_t i = 0; i < cfg->num_layers; i++) cfg->layer_sliding[i] = (i + 1) % 2 != 0;
        } else if (!lt) {
            int64_t pat = 6;
            if (int_or(p, "sliding_window_pattern", 6, &pat) != 0) return -1;
            if (pat < 1) {
                seterr(p->err, p->errlen, "\"%ssliding_window_pattern\" must be a positive integer", p->pfx);
                return -1;
            }
            for (int64_t i = 0; i < cfg->num_layers; i++) cfg->layer_sliding[i] = (i + 1) % pat != 0;
        }
        /* Gemma 2 without a window has no sliding layers; Gemma 3 keeps
         * them for the local RoPE base, with no window (sliding_window 0) */
        if (f == NN_GEMMA2 && !sw) memset(cfg->layer_sliding, 0, sizeof cfg->layer_sliding);
    }
    if (f == NN_GEMMA3) {
        cfg->qk_norm = 1;
        if (parse_rope(p, cfg, d->theta, 10000.0) != 0) return -1;
        if (!cJSON_GetObjectItemCaseSensitive(p->obj, "rope_parameters") &&
            num_or(p, "rope_local_base_freq", 10000.0, &cfg->rope_local_theta) != 0)
            return -1;
    } else {
        if (parse_rope(p, cfg, d->theta, d->theta) != 0) return -1;
        cfg->rope_local_theta = cfg->rope_theta;
    }
    return 0;
}

static int validate(P *p, const nn_config *c)
{
    const char *x = p->pfx;
#define POS(field, key, max)                                                                              \
    if (c->field <= 0 || c->field > (max)) {                                                              \
        seterr(p->err, p->errlen, "\"%s" key "\" is %lld; it must be between 1 and %lld", x, (long long)c->field, \
               (long long)(max));                                                                         \
        return -1;                                                                                        \
    }
    POS(vocab_size, "vocab_size", MAX_DIM)
    POS(hidden_size, "hidden_size", MAX_DIM)
    POS(intermediate_size, "intermediate_size", MAX_DIM)
    POS(num_heads, "num_attention_heads", MAX_DIM)
    POS(num_kv_heads, "num_key_value_heads", MAX_DIM)
    POS(max_position_embeddings, "max_position_embeddings", MAX_POS)
#undef POS
    if (c->head_dim <= 0 || c->head_dim > MAX_DIM || c->head_dim % 2 != 0) {
        seterr(p->err, p->errlen, "head_dim is %lld; it must be a positive even number (\"%shead_dim\", or hidden_size / num_attention_heads)",
               (long long)c->head_dim, x);
        return -1;
    }
    if (c->num_heads % c->num_kv_heads != 0) {
        seterr(p->err, p->errlen, "\"%snum_attention_heads\" (%lld) is not a multiple of \"%snum_key_value_heads\" (%lld)",
               x, (long long)c->num_heads, x, (long long)c->num_kv_heads);
        return -1;
    }
    if (!(c->rms_norm_eps > 0) || c->rms_norm_eps >= 1) {
        seterr(p->err, p->errlen, "\"%srms_norm_eps\" must be in (0, 1)", x);
        return -1;
    }
    if (!(c->rope_theta > 0) || !(c->rope_local_theta > 0)) {
        seterr(p->err, p->errlen, "\"%srope_theta\" must be positive", x);
        return -1;
    }
    if (!(c->query_pre_attn_scalar > 0)) {
        seterr(p->err, p->errlen, "\"%squery_pre_attn_scalar\" must be positive", x);
        return -1;
    }
    if (c->attn_softcap < 0 || c->final_softcap < 0) {
        seterr(p->err, p->errlen, "\"%s%s_logit_softcapping\" must be positive or null", x,
               c->attn_softcap < 0 ? "attn" : "final");
        return -1;
    }
    return 0;
}

int nn_config_parse(const char *json, size_t len, nn_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->bos_token_id = -1;
    for (int i = 0; i < 8; i++) cfg->eos_token_ids[i] = -1;
    cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
    if (!root) {
        seterr(err, errlen, "not valid JSON");
        return -1;
    }
    int rc = -1;
    P p = {root, root, "", err, errlen};
    if (!cJSON_IsObject(root)) {
        seterr(err, errlen, "not a JSON object");
        goto out;
    }
    const char *mt;
    if (get_str_in(&p, root, "", "model_type", &mt) != 0) goto out;
    if (!mt) {
        seterr(err, errlen, "\"model_type\" is missing");
        goto out;
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt);
    static const struct {
        const char *name;
        enum nn_family f;
    } fam[] = {{"llama", NN_LLAMA}, {"qwen2", NN_QWEN2},   {"qwen3", NN_QWEN3},       {"gemma", NN_GEMMA},
               {"gemma2", NN_GEMMA2}, {"gemma3_text", NN_GEMMA3}, {"gemma3", NN_GEMMA3}};
    size_t k = 0;
    while (k < sizeof fam / sizeof fam[0] && strcmp(fam[k].name, mt) != 0) k++;
    if (k == sizeof fam / sizeof fam[0]) {
        seterr(err, errlen, "model_type \"%.40s\" is not supported (llama, qwen2, qwen3, gemma, gemma2, gemma3_text, gemma3)",
               mt);
        goto out;
    }
    cfg->family = fam[k].f;
    if (strcmp(mt, "gemma3") == 0) {
        /* multimodal: the text model is text_config (all defaults when absent) */
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
        static const char empty_obj[] = "{}";
        cJSON *owned = NULL;
        if (!tc || cJSON_IsNull(tc)) tc = owned = cJSON_Parse(empty_obj);
        if (!tc) {
            seterr(err, errlen, "out of memory");
            goto out;
        }
        if (!cJSON_IsObject(tc)) {
            seterr(err, errlen, "\"text_config\" must be an object");
            goto out;
        }
        const char *tmt;
        p.obj = tc;
        p.pfx = "text_config.";
        if (get_str_in(&p, tc, p.pfx, "model_type", &tmt) != 0) {
            cJSON_Delete(owned);
            goto out;
        }
        if (tmt && strcmp(tmt, "gemma3_text") != 0) {
            seterr(err, errlen, "\"text_config.model_type\" is \"%.40s\", expected \"gemma3_text\"", tmt);
            cJSON_Delete(owned);
            goto out;
        }
        rc = parse_family(&p, cfg) == 0 && validate(&p, cfg) == 0 ? 0 : -1;
        cJSON_Delete(owned);
        goto out;
    }
    rc = parse_family(&p, cfg) == 0 && validate(&p, cfg) == 0 ? 0 : -1;
out:
    cJSON_Delete(root);
    return rc;
}

int nn_config_load(const char *dir, nn_config *cfg, char *err, size_t errlen)
{
    size_t n = strlen(dir) + sizeof "/config.json";
    char *path = malloc(n);
    if (!path) {
        seterr(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    snprintf(path, n, "%s/config.json", dir);
    sft_buf text = {0};
    int rc = -1;
    if (buf_read_file(&text, path, (size_t)64 << 20) != 0) {
        seterr(err, errlen, "%s: %s", path, errno == EFBIG ? "too large for a config" : strerror(errno));
    } else {
        char why[400];
        rc = nn_config_parse(text.p ? text.p : "", text.len, cfg, why, sizeof why);
        if (rc != 0) seterr(err, errlen, "%s: %s", path, why);
    }
    buf_free(&text);
    free(path);
    return rc;
}
