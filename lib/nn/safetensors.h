/* safetensors files, mapped read-only (mmap), and sharded checkpoints.
 *
 * A file is: 8 bytes little-endian N, N bytes of a JSON header (an object:
 * "__metadata__" (string values) and, per tensor, {"dtype", "shape",
 * "data_offsets": [begin, end]} relative to the byte after the header),
 * then the data. Everything is validated before any tensor is handed out:
 * the header fits the file and is a JSON object of that form, dtypes are
 * known (F32, BF16, F16 usable; others are listed with their dtype but
 * rejected by sft_st_get), every shape's element count times the dtype size
 * equals its byte range (no overflow), ranges lie inside the data and do
 * not overlap. A truncated or hostile file is an error, never a crash.
 *
 * Errors: functions return NULL (or -1) and write a reason into err, e.g.
 * "model.safetensors: tensor \"lm_head.weight\": data_offsets [0, 80) do
 * not match shape [4, 4] of F32 (64 bytes)". Nothing prints or exits. */
#ifndef SFT_NN_SAFETENSORS_H
#define SFT_NN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/cpu/kernels.h"

enum sft_st_dtype {
    SFT_ST_F32, SFT_ST_BF16, SFT_ST_F16,           /* usable */
    SFT_ST_F64, SFT_ST_I64, SFT_ST_I32, SFT_ST_I16, SFT_ST_I8, SFT_ST_U8, SFT_ST_BOOL,
    SFT_ST_F8_E4M3, SFT_ST_F8_E5M2, SFT_ST_U16, SFT_ST_U32, SFT_ST_U64, /* listed only */
};

#define SFT_ST_MAX_DIMS 8

typedef struct {
    const char *name;
    enum sft_st_dtype dtype;
    int ndim;
    int64_t shape[SFT_ST_MAX_DIMS];
    const void *data; /* inside the mapping */
    size_t nbytes;
    int file;         /* index of the shard it lives in */
} sft_st_tensor;

typedef struct sft_st sft_st; /* one file or the shards of one checkpoint */

/* Maps one .safetensors file. */
sft_st *sft_st_open(const char *path, char *err, size_t errlen);
/* A model directory: DIR/model.safetensors, or the shards named by
 * DIR/model.safetensors.index.json ("weight_map": tensor -> file; every
 * shard is opened once, every tensor of the map must be in its shard, and a
 * name in two shards is an error). prefix "adapter_model" opens
 * DIR/adapter_model.safetensors the same way. */
sft_st *sft_st_open_dir(const char *dir, const char *prefix, char *err, size_t errlen);
/* Validates a whole file image in memory (header and data), without
 * mapping anything; the handle borrows buf. For tests and the fuzzer. */
sft_st *sft_st_from_memory(const void *buf, size_t len, char *err, size_t errlen);
void sft_st_close(sft_st *st);

size_t sft_st_count(const sft_st *st);
const sft_st_tensor *sft_st_at(const sft_st *st, size_t i); /* in header order, shard by shard */
const sft_st_tensor *sft_st_find(const sft_st *st, const char *name); /* NULL when absent */
/* "__metadata__" value, or NULL. */
const char *sft_st_metadata(const sft_st *st, const char *key);

/* The tensor name as a usable 2-D (or 1-D: rows 1) weight matrix:
 * dtype F32/BF16/F16, and, when rows/cols are > 0, exactly that shape.
 * Returns 0, or -1 with a reason ("missing tensor
 * \"model.layers.3.mlp.up_proj.weight\"", "... has shape [8, 4], expected
 * [4, 8]", "... is I64; only F32, BF16 and F16 are supported"). */
int sft_st_get(const sft_st *st, const char *name, int64_t rows, int64_t cols, nn_mat *out,
               char *err, size_t errlen);

const char *sft_st_dtype_name(enum sft_st_dtype d); /* "BF16"; "?" when out of range */
/* Bytes of one element (1 for BOOL and the F8 types); 0 when out of range. */
size_t sft_st_dtype_size(enum sft_st_dtype d);

#endif
