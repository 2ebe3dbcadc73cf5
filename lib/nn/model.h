/* The model core: a Hugging Face checkpoint of one of the supported
 * families (lib/nn/config.h), optionally with a PEFT LoRA adapter, run in
 * fp32 on the CPU kernels (lib/nn/cpu/kernels.h) exactly as transformers
 * runs it in float32.
 *
 * Weights stay in the mapped safetensors files (BF16/F16/F32) and are
 * converted as the kernels read them; only the small 1-D tensors (norms,
 * biases) are copied to fp32. An nn_model is read-only once loaded and
 * may be shared; each sequence runs in its own nn_state (KV cache and
 * scratch space).
 *
 * Errors: NULL or -1 with a reason in err ("model.layers.3.mlp.up_proj.weight:
 * missing tensor"). Nothing prints or exits. */
#ifndef SFT_NN_MODEL_H
#define SFT_NN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/config.h"
#include "nn/cpu/kernels.h"

typedef struct nn_model nn_model;
typedef struct nn_state nn_state;

/* Loads DIR/config.json and DIR's safetensors (one file or shards). */
nn_model *nn_model_load(const char *dir, char *err, size_t errlen);
void nn_model_free(nn_model *m);
const nn_config *nn_model_config(const nn_model *m);
/* Bytes of the mapped checkpoint files. */
size_t nn_model_weight_bytes(const nn_model *m);
/* Bytes of weights one decoded token reads (every matrix once, the
 * embedding as one row unless tied to the head). */
size_t nn_model_bytes_per_token(const nn_model *m);

/* Applies a PEFT LoRA adapter (DIR/adapter_config.json and
 * DIR/adapter_model.safetensors): every lora_A/lora_B pair must belong to a
 * linear layer of the blocks (q/k/v/o, gate/up/down), with matching shapes;
 * scaling lora_alpha/r, or lora_alpha/sqrt(r) with use_rslora. What PEFT
 * would apply differently is refused (DoRA, bias training, rank or alpha
 * patterns, fan_in_fan_out, modules_to_save, other peft_types). At most one
 * adapter per model. */
int nn_model_add_adapter(nn_model *m, const char *dir, char *err, size_t errlen);
/* Number of linear layers the adapter changes (0 without one). */
size_t nn_model_adapted_layers(const nn_model *m);

/* A sequence: KV cache for up to max_ctx positions (grown as needed), and
 * scratch for chunks of up to max_chunk tokens. */
nn_state *nn_state_new(const nn_model *m, int64_t max_ctx, int64_t max_chunk);
void nn_state_free(nn_state *s);
/* Forgets the cached positions (the next token is at position 0). */
void nn_state_reset(nn_state *s);
/* Drops cached positions from pos on (pos <= current). */
void nn_state_truncate(nn_state *s, int64_t pos);
int64_t nn_state_pos(const nn_state *s);
int64_t nn_state_max_ctx(const nn_state *s);
/* Tokens of the last nn_forward chunk (the rows nn_logits can read). */
int64_t nn_state_chunk_len(const nn_state *s);

/* Runs ids[0..T) (T <= max_chunk) at the next positions, appending their
 * keys and values to the cache; the final normalized hidden states of the
 * chunk are kept for nn_logits. Returns 0, or -1 with a reason (an id out
 * of the vocabulary, the context full, out of memory). */
int nn_forward(const nn_model *m, nn_state *s, nn_pool *p, const int32_t *ids, int64_t T,
               char *err, size_t errlen);
/* Logits of rows [row0, row0+n) of the last chunk into out[n][vocab]
 * (final soft-capping applied). */
void nn_logits(const nn_model *m, nn_state *s, nn_pool *p, int64_t row0, int64_t n, float *out);

/* For scoring: over rows i < T of the last chunk with target[i] >= 0, adds
 * -log p(target[i] | the tokens up to row i) into *sum and counts them in
 * *count. Computes logits a few rows at a time (no [T][vocab] buffer).
 * Returns 0, or -1 when out of memory, a target is not in the vocabulary
 * or T exceeds the last chunk. */
int nn_chunk_nll(const nn_model *m, nn_state *s, nn_pool *p, const int32_t *target, int64_t T,
                  double *sum, int64_t *count);

#endif
