/* Tokenizers behind one handle: a Hugging Face tokenizer.json (our own BPE,
 * lib/tok/hf.c) or a SentencePiece .model (libsentencepiece, lib/tok/spm.cc).
 *
 * A tokenizer.json encodes as Hugging Face's tokenizers do: added and
 * special tokens written in the text ("<|im_start|>", "<bos>") are matched
 * before the model sees the text and become their ids; the rest is
 * normalized, pre-tokenized and run through the model. A .model encodes as
 * libsentencepiece (spm_encode) does, unless SFT_TOK_SPECIAL_TEXT asks for
 * its control tokens written in the text ("<s>", "</s>") to be matched the
 * same way, as HF's slow tokenizers do: chat templates write them.
 * SFT_TOK_ADD_SPECIAL adds what the post-processor adds (Gemma's <bos>,
 * Llama 2's <s>).
 *
 * A loaded sft_tok is read-only and may be shared by threads; each thread
 * encodes through its own sft_tok_worker (caches and scratch space, so that
 * encoding allocates nothing per token). */
#ifndef SFT_TOK_H
#define SFT_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct sft_tok sft_tok;
typedef struct sft_tok_worker sft_tok_worker;

/* Token ids with the byte range [start, end) of the input each one came
 * from (an added token: its match; a byte-fallback token: its character).
 * Grown by the encoder; the owner frees with sft_tokens_free(). */
typedef struct {
    int32_t *ids;
    uint32_t *start, *end;
    size_t n, cap;
} sft_tokens;

void sft_tokens_free(sft_tokens *t);
/* Appends one token; returns 0 or -1 when out of memory. */
int sft_tokens_push(sft_tokens *t, int32_t id, uint32_t start, uint32_t end);

enum {
    SFT_TOK_ADD_SPECIAL = 1,  /* run the post-processor (BOS/EOS as the file says) */
    SFT_TOK_SPECIAL_TEXT = 2, /* .model: match control tokens in the text too */
    SFT_TOK_NO_OFFSETS = 4,   /* offsets not wanted (a .model encodes faster): left at base */
};

/* Loads PATH: a tokenizer.json, a SentencePiece .model, or a model directory
 * (tokenizer.json preferred over tokenizer.model). Returns NULL and writes a
 * reason to err (e.g. "tokenizer.json: unsupported pre_tokenizer
 * \"Metaspace\"") on failure. */
sft_tok *sft_tok_load(const char *path, char *err, size_t errlen);
void sft_tok_free(sft_tok *t);

/* From tokenizer_config.json (or chat_template.jinja) beside the tokenizer
 * or in the model directory: "chat_template", "bos_token", "eos_token".
 * NULL when absent. */
const char *sft_tok_config(const sft_tok *t, const char *key);

/* "tokenizer.json (BPE, byte-level)", "sentencepiece (unigram)", ... */
const char *sft_tok_describe(const sft_tok *t);
size_t sft_tok_vocab_size(const sft_tok *t);
/* The id of a token string (added tokens included), or -1. */
int32_t sft_tok_piece_id(const sft_tok *t, const char *piece, size_t len);
/* The token string of id (as stored: "Ġhello", "▁hello", "<0x0A>"), or NULL. */
const char *sft_tok_piece(const sft_tok *t, int32_t id, size_t *len);
/* Whether id is a special token (skipped when decoding with skip_special). */
int sft_tok_is_special(const sft_tok *t, int32_t id);
/* Special ids from the tokenizer file, -1 when it has none. */
int32_t sft_tok_bos(const sft_tok *t);
int32_t sft_tok_eos(const sft_tok *t);

sft_tok_worker *sft_tok_worker_new(const sft_tok *t);
void sft_tok_worker_free(sft_tok_worker *w);

/* Appends the tokens of text[0..len) to out; offsets are relative to text
 * plus base. Invalid UTF-8 is encoded as the reference does (U+FFFD).
 * Returns 0, or -1 when out of memory. */
int sft_tok_encode(sft_tok_worker *w, const char *text, size_t len, unsigned flags,
                   uint32_t base, sft_tokens *out);

/* Appends the text of ids to out, as the tokenizer's decoder does;
 * skip_special leaves special tokens out. Returns 0, or -1 when out of
 * memory or an id is out of range. */
int sft_tok_decode(const sft_tok *t, const int32_t *ids, size_t n, int skip_special, sft_buf *out);

#endif
