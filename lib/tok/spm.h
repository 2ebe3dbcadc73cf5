/* SentencePiece .model files through libsentencepiece: a C API over the C++
 * library (spm.cc is the project's only C++ file). Used by tok.c; other code
 * goes through tok.h. A loaded sft_spm is read-only and thread-safe. */
#ifndef SFT_SPM_H
#define SFT_SPM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sft_spm sft_spm;

/* Returns NULL and a reason in err when path cannot be read or parsed. */
sft_spm *sft_spm_load(const char *path, char *err, size_t errlen);
void sft_spm_free(sft_spm *m);

/* Encodes text[0..len) as libsentencepiece does (no BOS/EOS). Calls
 * emit(ctx, id, start, end) for every piece with its byte range in text
 * (0-based, relative to text). Returns 0, -1 on an encoder error or when
 * emit returns non-zero. */
int sft_spm_encode(const sft_spm *m, const char *text, size_t len,
                   int (*emit)(void *ctx, int32_t id, uint32_t start, uint32_t end), void *ctx);

/* The same ids without offsets (every range empty at 0): libsentencepiece's
 * fast path, for callers that need no offsets. */
int sft_spm_encode_ids(const sft_spm *m, const char *text, size_t len,
                       int (*emit)(void *ctx, int32_t id, uint32_t start, uint32_t end), void *ctx);

/* Decodes ids into a malloc'ed NUL-terminated string (*out, *outlen); the
 * caller frees it. Returns 0, or -1 (bad id, out of memory). */
int sft_spm_decode(const sft_spm *m, const int32_t *ids, size_t n, char **out, size_t *outlen);

size_t sft_spm_vocab_size(const sft_spm *m);
int32_t sft_spm_piece_id(const sft_spm *m, const char *piece, size_t len); /* -1: none */
/* The piece string of id; the pointer lives as long as m. NULL if out of range. */
const char *sft_spm_piece(const sft_spm *m, int32_t id, size_t *len);
int sft_spm_is_control(const sft_spm *m, int32_t id);  /* <s>, </s>, ... */
int sft_spm_is_unknown(const sft_spm *m, int32_t id);
int sft_spm_is_byte(const sft_spm *m, int32_t id);     /* <0x0A> */
int sft_spm_is_user_defined(const sft_spm *m, int32_t id);
int32_t sft_spm_bos(const sft_spm *m); /* -1 when the model has none */
int32_t sft_spm_eos(const sft_spm *m);
int32_t sft_spm_unk(const sft_spm *m);
int32_t sft_spm_pad(const sft_spm *m);
/* "unigram", "bpe", "word", "char" */
const char *sft_spm_model_type(const sft_spm *m);

#ifdef __cplusplus
}
#endif
#endif
