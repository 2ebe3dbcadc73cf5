/* libFuzzer target for the config.json reader (lib/nn/config.h).
 *
 * The input is the text of a config.json, given to nn_config_parse. It must
 * be accepted or refused with a reason; when accepted, the invariants the
 * model core relies on are checked: sizes positive and bounded, heads
 * divisible by KV heads, head_dim even, 1 <= num_layers <= NN_MAX_LAYERS,
 * per-layer sliding flags 0/1 and none past the last layer (none at all for
 * the families without sliding windows), RoPE parameters positive, token
 * ids in range, strings NUL-terminated, the family's fixed traits set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nn_config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    if (nn_config_parse((const char *)data, size, &cfg, err, sizeof err) != 0) {
        if (!err[0]) abort();
        return 0;
    }
    const nn_config *c = &cfg;
    if ((unsigned)c->family > NN_GEMMA3) abort();
    if (!memchr(c->model_type, 0, sizeof c->model_type) || !memchr(c->torch_dtype, 0, sizeof c->torch_dtype)) abort();
    if (c->vocab_size <= 0 || c->hidden_size <= 0 || c->intermediate_size <= 0 || c->num_heads <= 0 ||
        c->num_kv_heads <= 0 || c->head_dim <= 0 || c->max_position_embeddings <= 0)
        abort();
    if (c->vocab_size > (1 << 24) || c->hidden_size > (1 << 24) || c->head_dim > (1 << 24)) abort();
    if (c->num_layers < 1 || c->num_layers > NN_MAX_LAYERS) abort();
    if (c->num_heads % c->num_kv_heads || c->head_dim % 2) abort();
    if (!(c->rms_norm_eps > 0 && c->rms_norm_eps < 1)) abort();
    if (!(c->rope_theta > 0) || !(c->rope_local_theta > 0)) abort();
    if (!(c->query_pre_attn_scalar > 0) || c->attn_softcap < 0 || c->final_softcap < 0) abort();
    if (c->sliding_window < 0) abort();
    switch (c->rope_scaling) {
    case NN_ROPE_NONE: break;
    case NN_ROPE_LINEAR:
        if (!(c->rope_factor > 0)) abort();
        break;
    case NN_ROPE_LLAMA3:
        if (!(c->rope_factor > 0) || !(c->rope_low_freq_factor > 0) ||
            !(c->rope_high_freq_factor > c->rope_low_freq_factor) || c->rope_original_max_pos <= 0)
            abort();
        break;
    default: abort();
    }
    int nslide = 0;
    for (int i = 0; i < NN_MAX_LAYERS; i++) {
        if (c->layer_sliding[i] > 1 || (i >= c->num_layers && c->layer_sliding[i])) abort();
        nslide += c->layer_sliding[i];
    }
    int gemma = c->family == NN_GEMMA || c->family == NN_GEMMA2 || c->family == NN_GEMMA3;
    if (nslide && (c->family == NN_LLAMA || c->family == NN_GEMMA)) abort();
    if (nslide && !c->sliding_window && c->family != NN_GEMMA3) abort();
    if ((c->family == NN_LLAMA || c->family == NN_GEMMA) && c->sliding_window) abort();
    if (c->family != NN_GEMMA3 && c->rope_local_theta != c->rope_theta) abort();
    /* a Gemma config may name another activation (hidden_activation "silu" runs as transformers runs it) */
    if (gemma != (c->norm_add_one && c->embed_scale)) abort();
    if (c->act != NN_ACT_GELU_TANH && c->act != NN_ACT_SILU) abort();
    if ((c->family == NN_GEMMA2 || c->family == NN_GEMMA3) != c->sandwich_norms) abort();
    if ((c->family == NN_QWEN3 || c->family == NN_GEMMA3) != c->qk_norm) abort();
    if (c->family == NN_QWEN2 && (!c->attention_bias || c->o_bias)) abort();
    if (c->family != NN_QWEN2 && c->attention_bias != c->o_bias) abort();
    if (c->mlp_bias && c->family != NN_LLAMA) abort();
    if (c->n_eos < 0 || c->n_eos > 8 || c->bos_token_id < -1) abort();
    for (int i = 0; i < 8; i++)
        if (i < c->n_eos ? c->eos_token_ids[i] < 0 : c->eos_token_ids[i] != -1) abort();
    const char *fam = nn_family_name(c->family);
    if (strcmp(c->model_type, fam) != 0 && !(c->family == NN_GEMMA3 && strcmp(c->model_type, "gemma3") == 0))
        abort();
    return 0;
}
