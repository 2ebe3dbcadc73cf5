/* The insides of an nn_model, shared by the inference path (model.c) and
 * the trainer (train.c); not part of the public interface. */
#ifndef SFT_NN_MODEL_INTERNAL_H
#define SFT_NN_MODEL_INTERNAL_H

#include "nn/model.h"
#include "nn/safetensors.h"

typedef struct {
    nn_mat A, B; /* [r][in], [out][r] */
    float scale;
} nn_lora;

typedef struct {
    nn_mat w;
    float *bias; /* fp32 copy, or NULL */
    const nn_lora *lora;
} nn_linear;

enum { L_Q, L_K, L_V, L_O, L_GATE, L_UP, L_DOWN, L_COUNT };
/* "self_attn.q_proj" ... "mlp.down_proj", as in the checkpoints */
extern const char *const nn_linear_names[L_COUNT];

typedef struct {
    nn_linear lin[L_COUNT];
    float *in_norm, *post_attn_norm, *pre_ff_norm, *post_ff_norm, *q_norm, *k_norm;
} nn_layer;

struct nn_model {
    nn_config cfg;
    sft_st *st, *adapter_st;
    char prefix[32]; /* "model." or the multimodal text model's prefix */
    nn_mat embed, head;
    float *final_norm;
    nn_layer *layers;
    nn_lora *loras;
    size_t nloras;
    float *inv_freq_global, *inv_freq_local; /* [head_dim/2] */
    float embed_scale, attn_scale;
    int64_t max_r;
    double adapter_alpha, adapter_r; /* of the loaded adapter */
    int adapter_rslora;
};

/* The RoPE cos/sin tables [T][head_dim/2] of positions pos0 .. pos0+T-1. */
void nn_rope_tables(const float *inv_freq, int64_t half, int64_t pos0, int64_t T, float *cosv,
                    float *sinv);

#endif
