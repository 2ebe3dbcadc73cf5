/* config.json of a Hugging Face model directory, read into the fields the
 * model core uses, for the families it runs. Family defaults follow the
 * transformers configuration classes (a key absent from the file takes the
 * class's default), so a config that transformers loads means the same
 * here. Nothing prints or exits. */
#ifndef SFT_NN_CONFIG_H
#define SFT_NN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum nn_family { NN_LLAMA, NN_QWEN2, NN_QWEN3, NN_GEMMA, NN_GEMMA2, NN_GEMMA3 };

enum nn_rope_scaling { NN_ROPE_NONE, NN_ROPE_LINEAR, NN_ROPE_LLAMA3 };

enum nn_act { NN_ACT_SILU, NN_ACT_GELU_TANH };

#define NN_MAX_LAYERS 512

typedef struct {
    enum nn_family family;
    char model_type[32];       /* as written: "gemma3" for a multimodal config whose text_config was read */
    int64_t vocab_size, hidden_size, intermediate_size, num_layers;
    int64_t num_heads, num_kv_heads, head_dim;   /* head_dim: explicit, else hidden/heads */
    int64_t max_position_embeddings;
    double rms_norm_eps;
    double rope_theta;         /* global layers */
    double rope_local_theta;   /* Gemma 3 sliding layers (rope_local_base_freq); others: = rope_theta */
    enum nn_rope_scaling rope_scaling; /* applies to global layers (Gemma 3: not to local ones) */
    double rope_factor;        /* linear, llama3 */
    double rope_low_freq_factor, rope_high_freq_factor; /* llama3 */
    int64_t rope_original_max_pos;                       /* llama3: original_max_position_embeddings */
    int tie_word_embeddings;
    int attention_bias;        /* q/k/v (and o for llama with attention_bias) biases: qwen2 q/k/v only */
    int o_bias;                /* o_proj has a bias (llama attention_bias) */
    int mlp_bias;              /* llama mlp_bias */
    int qk_norm;               /* qwen3, gemma3 */
    int sandwich_norms;        /* gemma2, gemma3: post-attention and pre/post-feedforward norms */
    int norm_add_one;          /* gemma: weight applied as (1 + w) */
    int embed_scale;           /* gemma: embeddings times sqrt(hidden_size), computed in fp32 (we run fp32; not rounded to a dtype) */
    enum nn_act act;
    double query_pre_attn_scalar; /* attention scale = query_pre_attn_scalar^-0.5 (gemma2/3); else head_dim */
    double attn_softcap;       /* 0: none */
    double final_softcap;      /* 0: none */
    int64_t sliding_window;    /* 0: none */
    /* per layer: 1 when the layer uses the sliding window (and, Gemma 3, the local RoPE base) */
    unsigned char layer_sliding[NN_MAX_LAYERS];
    int64_t bos_token_id, eos_token_ids[8]; /* -1 when absent */
    int n_eos;
    char torch_dtype[16];      /* "bfloat16" … as written, or "" */
} nn_config;

/* Parses the text of a config.json. Returns 0, or -1 with a reason in err:
 * not JSON, a missing key without a default ("hidden_size"), an unknown
 * model_type ("model_type \"mistral\" is not supported (llama, qwen2,
 * qwen3, gemma, gemma2, gemma3_text, gemma3)"), an unsupported rope_scaling
 * type, values out of range (sizes must be positive, heads divide evenly,
 * num_layers <= NN_MAX_LAYERS). */
int nn_config_parse(const char *json, size_t len, nn_config *cfg, char *err, size_t errlen);
/* Reads DIR/config.json and parses it. */
int nn_config_load(const char *dir, nn_config *cfg, char *err, size_t errlen);
const char *nn_family_name(enum nn_family f);

#endif
