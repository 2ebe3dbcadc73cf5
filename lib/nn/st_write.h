/* Writing safetensors files (the trainer's adapters and checkpoints,
 * sft-merge's merged models), as the safetensors library writes them:
 *
 *   8 bytes little-endian N, N bytes of JSON header, the data.
 *
 * The header is compact JSON: "__metadata__": {"format": "pt"} first, then
 * one {"dtype", "shape", "data_offsets"} per tensor in data order, padded
 * with spaces so that N is a multiple of 8. The data are contiguous, in the
 * order the safetensors library uses: by element size, largest first (so
 * that every tensor is aligned to its element size), then by name; for
 * tensors of one dtype, that is by name.
 *
 * A file is written atomically: into DIR/NAME.tmp.PID, fsync'ed, renamed to
 * DIR/NAME (and the directory fsync'ed); on any failure the temp file is
 * removed and DIR/NAME is untouched.
 *
 * A tensor's data are either borrowed (a pointer that must stay valid until
 * the list is written, such as a mapped input file) or made when written by
 * a callback (merged or converted weights: one tensor in memory at a time).
 *
 * Errors: -1 (or another negative code, below) with a reason in err, e.g.
 * "out/model.safetensors: write error: No space left on device". Nothing
 * prints or exits. */
#ifndef SFT_NN_ST_WRITE_H
#define SFT_NN_ST_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/safetensors.h"

/* transformers' save_pretrained default: max_shard_size "5GB" */
#define SFT_STW_DEFAULT_SHARD 5000000000ull

/* What a write failed on (returned by the writing functions). */
enum {
    SFT_STW_ECREATE = -1, /* a file cannot be created */
    SFT_STW_EIO = -2,     /* a write, fsync or rename failed (full disk...) */
    SFT_STW_EFILL = -3,   /* out of memory, or a fill callback failed */
};

typedef struct sft_stw sft_stw;

/* Fills dst[0..nbytes) with the tensor's data (little-endian). Returns 0,
 * or -1 with a reason in err. */
typedef int (*sft_stw_fill_fn)(void *ctx, void *dst, size_t nbytes, char *err, size_t errlen);

sft_stw *sft_stw_new(void);
void sft_stw_free(sft_stw *w);


/* Adds a tensor with borrowed data (nbytes = elements * dtype size). The
 * name is copied. Returns its index, or -1 with a reason: a name already
 * added, more than SFT_ST_MAX_DIMS dimensions, a negative dimension, a
 * size that overflows, out of memory. */
long sft_stw_add(sft_stw *w, const char *name, enum sft_st_dtype dtype, int ndim,
                 const int64_t *shape, const void *data, char *err, size_t errlen);
/* The same, with the data made by fill(ctx, ...) when the file is written
 * (ctx must stay valid until then). */
long sft_stw_add_fill(sft_stw *w, const char *name, enum sft_st_dtype dtype, int ndim,
                      const int64_t *shape, sft_stw_fill_fn fill, void *ctx, char *err,
                      size_t errlen);

size_t sft_stw_count(const sft_stw *w);
/* Bytes of all the tensors' data. */
uint64_t sft_stw_data_bytes(const sft_stw *w);

/* Writes every tensor into one file, atomically. Returns 0, or
 * SFT_STW_ECREATE, SFT_STW_EIO or SFT_STW_EFILL with a reason. */
int sft_stw_write(const sft_stw *w, const char *path, char *err, size_t errlen);

/* Names the file (inside the directory of sft_stw_write_dir) tensor i goes
 * to, as in an input's index ("model-00001-of-00002.safetensors"). Either
 * every tensor has one or none has. Returns 0, or -1 when out of memory. */
int sft_stw_set_file(sft_stw *w, size_t i, const char *file, char *err, size_t errlen);

/* Writes a checkpoint into dir, as save_pretrained does:
 *   - when files were named (sft_stw_set_file): those files, plus
 *     DIR/PREFIX.safetensors.index.json;
 *   - else, when the data fit in max_shard bytes (0: SFT_STW_DEFAULT_SHARD),
 *     DIR/PREFIX.safetensors;
 *   - else shards DIR/PREFIX-00001-of-0000N.safetensors, filled in the
 *     order the tensors were added, a new one begun when the next tensor
 *     would take the current one past max_shard (a tensor larger than
 *     max_shard is a shard of its own), plus the index.
 * The index is {"metadata": {"total_size": BYTES}, "weight_map": {tensor:
 * file, ...}} (indent 2, tensors sorted). *nfiles (may be NULL) gets the
 * number of .safetensors files and *bytes (may be NULL) the bytes written. */
int sft_stw_write_dir(const sft_stw *w, const char *dir, const char *prefix, uint64_t max_shard,
                      size_t *nfiles, uint64_t *bytes, char *err, size_t errlen);

/* Writes len bytes of data into path, atomically (the index.json, a
 * copied config.json). Returns 0, SFT_STW_ECREATE or SFT_STW_EIO. */
int sft_stw_write_bytes(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
