/* LoRA training on the CPU path: the forward pass of the model core with
 * its activations kept, the backward pass through every layer to the LoRA
 * matrices only (frozen weights get no gradient and no optimizer state),
 * and AdamW as torch.optim.AdamW computes it.
 *
 * The trainable parameters live in one fp32 vector (A then B of each
 * adapted linear layer, layer by layer in q, k, v, o, gate, up, down
 * order), with the gradients and the two moments beside it, so that
 * optimizer steps and checkpoints are plain loops and copies. While a
 * trainer exists its matrices are the model's adapter.
 *
 * Errors: NULL or -1 with a reason in err; nothing prints or exits. */
#ifndef SFT_NN_TRAIN_H
#define SFT_NN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model.h"

/* Bits of the linear layers to adapt. */
enum {
    NN_TARGET_Q = 1, NN_TARGET_K = 2, NN_TARGET_V = 4, NN_TARGET_O = 8,
    NN_TARGET_GATE = 16, NN_TARGET_UP = 32, NN_TARGET_DOWN = 64, NN_TARGET_ALL = 127
};

typedef struct {
    unsigned targets; /* NN_TARGET_* bits */
    int64_t r;
    double alpha;
    int rslora;       /* scaling alpha/sqrt(r) instead of alpha/r */
    uint64_t seed;    /* A: Kaiming-uniform as PEFT (bound 1/sqrt(in)); B: zero */
} nn_lora_cfg;

typedef struct nn_trainer nn_trainer;

typedef struct {
    int64_t max_T;       /* longest sequence (a packed micro-batch counts as one) */
    int grad_checkpoint; /* keep only each layer's input; recompute the rest in backward */
    double dropout;      /* PEFT's lora_dropout on the adapter's input (0: none) */
} nn_train_opts;

/* A new adapter on m (which must have none). */
nn_trainer *nn_trainer_new(nn_model *m, const nn_lora_cfg *cfg, const nn_train_opts *o, char *err,
                           size_t errlen);
/* Starts from the PEFT adapter in dir instead (its targets, r, alpha,
 * rslora and values). */
nn_trainer *nn_trainer_from_adapter(nn_model *m, const char *dir, const nn_train_opts *o, char *err,
                                    size_t errlen);

/* What a trainer allocates for a model of config c (the weights aside):
 * computed from the config alone, so that a run can be planned before
 * anything is loaded. */
typedef struct {
    size_t lora_params;
    size_t adapter_bytes;         /* values, gradients, two AdamW moments */
    size_t activation_bytes;      /* every layer's activations kept */
    size_t activation_ckpt_bytes; /* with grad_checkpoint: the layers' inputs and one layer */
    size_t scratch_bytes;         /* the backward pass's buffers */
    size_t logits_bytes;          /* the head, a few rows at a time */
    size_t total_bytes;           /* adapter + activations (as asked) + scratch + logits */
} nn_train_mem;
int nn_train_plan(const nn_config *c, int64_t max_T, const nn_lora_cfg *lora, int grad_checkpoint,
                  double dropout, nn_train_mem *out);
/* Frees the trainer and takes its adapter off the model. */
void nn_trainer_free(nn_trainer *t);
const nn_lora_cfg *nn_trainer_lora(const nn_trainer *t);

/* The parameter vector and its gradient (nn_trainer_nparams floats). */
size_t nn_trainer_nparams(const nn_trainer *t);
float *nn_trainer_params(nn_trainer *t);
float *nn_trainer_grads(nn_trainer *t);
/* The moments of AdamW (for checkpoints). */
float *nn_trainer_moment1(nn_trainer *t);
float *nn_trainer_moment2(nn_trainer *t);

/* Adapted linear layer i (0 .. count-1): its layer, kind (0..6, q..down),
 * rank, shapes and the offsets of A [r][in] and B [out][r] in the vector. */
typedef struct {
    int layer, kind;
    int64_t r, in, out;
    size_t a_off, b_off;
} nn_lora_slot;
size_t nn_trainer_slots(const nn_trainer *t);
const nn_lora_slot *nn_trainer_slot(const nn_trainer *t, size_t i);
/* "self_attn.q_proj" ... for kind */
const char *nn_trainer_kind_name(int kind);

void nn_trainer_zero_grad(nn_trainer *t);

/* One sequence ids[0..T): forward, the loss of the rows i with target[i]
 * >= 0 (target[i] is the id that row i predicts), and backward, adding
 * loss_scale * d(sum of their -log p)/d(parameters) to the gradients.
 * Packed examples: pos (NULL: 0..T-1) gives each token's position (they
 * restart per example) and kv_first (NULL: none) the first row each row may
 * attend to (its example's start). Adds the sum of -log p to *nll and the
 * count to *n. Returns 0, or -1 with a reason (bad id, T > max_T). */
int nn_trainer_accumulate(nn_trainer *t, nn_pool *p, const int32_t *ids, const int32_t *target,
                          const int32_t *pos, const int64_t *kv_first, int64_t T, float loss_scale,
                          double *nll, int64_t *n, char *err, size_t errlen);
/* The number of nn_trainer_accumulate calls so far: the dropout masks
 * depend on it, so a checkpoint saves it and a resumed run sets it back. */
uint64_t nn_trainer_calls(const nn_trainer *t);
void nn_trainer_set_calls(nn_trainer *t, uint64_t calls);

/* The L2 norm of the whole gradient (torch.nn.utils.clip_grad_norm_). */
double nn_trainer_grad_norm(const nn_trainer *t);

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} nn_adamw;

/* One AdamW step (step counts from 1) with the gradients times grad_scale
 * (the clipping coefficient, or 1). */
void nn_trainer_adamw(nn_trainer *t, const nn_adamw *h, int64_t step, double grad_scale);

/* PEFT's tensor name of slot i's lora_A (which 'A') or lora_B ('B'):
 * "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight". */
void nn_trainer_tensor_name(const nn_trainer *t, size_t i, char which, char *buf, size_t n);
/* Writes vec (the parameters, the gradients or a moment: nparams floats)
 * as F32 tensors with PEFT's names to path, atomically. Returns 0 or -1
 * with a reason. */
int nn_trainer_write_tensors(const nn_trainer *t, const float *vec, const char *path, char *err,
                             size_t errlen);
/* The adapter in the PEFT layout: DIR/adapter_config.json and
 * DIR/adapter_model.safetensors (F32), which PeftModel.from_pretrained
 * loads. base_model is written as base_model_name_or_path. */
int nn_trainer_save_adapter(const nn_trainer *t, const char *dir, const char *base_model,
                            char *err, size_t errlen);

#endif
