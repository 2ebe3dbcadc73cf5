/* Folding a PEFT LoRA adapter into its base model (sft-merge): a new
 * model directory in the Hugging Face layout whose weights are
 *
 *   W' = W + scale * (B A)      for every lora_A/lora_B pair,
 *
 * computed in fp32 (scale = lora_alpha / r, or lora_alpha / sqrt(r) with
 * use_rslora), then rounded to the output dtype (round to nearest even for
 * BF16 and F16). The adapter is checked by loading it onto the model with
 * nn_model_load + nn_model_add_adapter first, so an adapter that
 * sft-generate refuses is refused here with the same reason.
 *
 * Every other tensor is copied unchanged (its bytes and dtype), including
 * those the model core does not use (a vision tower); the tensor names are
 * the base's. With a dtype asked for, every F32/BF16/F16 tensor is written
 * in that dtype (other dtypes are copied as they are) and config.json's
 * "torch_dtype" (and "dtype") say so; otherwise config.json is copied
 * byte for byte. The tokenizer and generation files of the model directory
 * that exist are copied.
 *
 * The output is written into OUT.tmp.PID, a directory next to OUT, then
 * renamed to OUT: a failed merge leaves nothing half-written (the temp
 * directory is removed). Nothing prints or exits. */
#ifndef SFT_NN_MERGE_H
#define SFT_NN_MERGE_H

#include <stddef.h>
#include <stdint.h>

enum nn_merge_dtype { NN_MERGE_AUTO = 0, NN_MERGE_BF16, NN_MERGE_F16, NN_MERGE_F32 };

/* What a merge failed on. */
enum nn_merge_status {
    NN_MERGE_OK = 0,
    NN_MERGE_EDATA,    /* the model or adapter is bad, or they do not fit */
    NN_MERGE_ENOENT,   /* a file of the model or adapter cannot be opened */
    NN_MERGE_ECREATE,  /* the output cannot be created (OUT exists and is not empty...) */
    NN_MERGE_EIO,      /* a write failed (full disk...) */
    NN_MERGE_ENOMEM,   /* out of memory */
};

typedef struct {
    const char *model_dir, *adapter_dir, *out_dir;
    enum nn_merge_dtype dtype;
    /* 0: like the input (a sharded input's shards, else one file up to
     * 5 GB, shards beyond); else shards of at most this many bytes */
    uint64_t max_shard;
    int force;   /* replace an existing non-empty out_dir */
    int threads; /* 0: one per CPU */
} nn_merge_opts;

typedef struct {
    size_t pairs;      /* lora_A/lora_B pairs folded in */
    size_t merged;     /* tensors changed by them */
    size_t tensors;    /* tensors written */
    size_t files;      /* .safetensors files written */
    size_t copied;     /* other files copied (config.json, tokenizer...) */
    uint64_t bytes;    /* bytes of the .safetensors files */
} nn_merge_stats;

/* Merges; returns NN_MERGE_OK or another status with a reason in err. */
enum nn_merge_status nn_merge(const nn_merge_opts *o, nn_merge_stats *stats, char *err, size_t errlen);

/* f32 -> IEEE half, round to nearest even (overflow to infinity, NaN kept
 * quiet), as torch's .half() does. */
uint16_t nn_merge_f32_to_f16(float f);

#endif
