/* Internals of lib/tok: shared by tok.c (the handle, added tokens), hf.c
 * (tokenizer.json) and bpe.c (the BPE model). Not for use outside lib/tok. */
#ifndef SFT_TOK_INTERNAL_H
#define SFT_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "tok/tok.h"

/* ---- hashing ---- */

static inline uint64_t tok_hash(const void *p, size_t n)
{
    /* FNV-1a over 8-byte words, then a final mix: keys are short. */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* A string → id table (open addressing; strings live in the caller's arena). */
typedef struct {
    uint32_t *slot;  /* id + 1; 0 = empty */
    uint32_t *hash;  /* low 32 bits of the key's hash, per slot */
    size_t mask;
} tok_strmap;

/* ---- the BPE model (bpe.c) ---- */

typedef struct {
    size_t n;              /* vocabulary size (ids 0..n-1; holes allowed) */
    char *arena;           /* all token strings, as stored in the file */
    size_t arena_len;
    uint32_t *off, *len;   /* token string of id: arena + off[id], len[id] */
    int byte_level;        /* tokens are GPT-2 byte-to-unicode strings */
    /* Byte-level: the raw bytes each token stands for (raw_len UINT32_MAX:
     * not representable). Otherwise raw == the token string. */
    char *raw;
    uint32_t *raw_off, *raw_len;
    tok_strmap by_raw;     /* raw bytes → id */
    /* merges: (left id, right id) → rank and result */
    uint64_t *mkey;        /* UINT64_MAX = empty */
    uint32_t *mrank;
    int32_t *mnew;
    size_t mmask, nmerges;
    int32_t byte_id[256];  /* byte-level: id of each byte; byte fallback: <0xXX> (-1 none) */
    int byte_fallback;
    int32_t unk;           /* -1: none */
    int fuse_unk;
    int ignore_merges;
} tok_bpe;

/* One symbol of a word being merged. */
typedef struct {
    int32_t id;
    uint32_t start, len; /* bytes of the word */
    int32_t prev, next;
} tok_sym;

/* Per-thread scratch of the BPE: symbols, the merge heap and the word cache. */
typedef struct {
    tok_sym *sym;
    size_t sym_cap;
    uint64_t *heap;
    size_t heap_cap;
    /* cache: word → tokens (id, length in bytes), cleared when full */
    uint64_t *c_hash;       /* 0 = empty slot */
    uint32_t *c_entry;      /* offset into c_data */
    size_t c_mask, c_used;
    sft_buf c_data;
} tok_bpe_scratch;

int tok_bpe_init(tok_bpe *m, size_t nvocab);
void tok_bpe_free(tok_bpe *m);
/* Sets token id's string (copied). Returns 0 or -1 (out of memory). */
int tok_bpe_set_token(tok_bpe *m, int32_t id, const char *s, size_t n);
/* After all tokens: builds the raw forms and the lookup table. Returns 0,
 * or -1 with a reason in err. */
int tok_bpe_index(tok_bpe *m, char *err, size_t errlen);
/* The id of a token given by its stored string, or -1. */
int32_t tok_bpe_lookup_piece(const tok_bpe *m, const char *s, size_t n);
int32_t tok_bpe_lookup_raw(const tok_bpe *m, const char *s, size_t n);
/* Adds merge (a, b) with the next rank. Returns 0, -1 (out of memory) or
 * -2 (a, b or a+b not in the vocabulary). */
int tok_bpe_add_merge(tok_bpe *m, const char *a, size_t alen, const char *b, size_t blen);
int tok_bpe_merges_reserve(tok_bpe *m, size_t n);

void tok_bpe_scratch_free(tok_bpe_scratch *s);
/* Encodes one pre-tokenized word (raw bytes: the text with the byte-level
 * mapping not applied) and calls emit for each token with its byte range
 * in the word. Returns 0, -1 when out of memory. */
typedef int (*tok_emit_fn)(void *ctx, int32_t id, uint32_t start, uint32_t end);
int tok_bpe_word(const tok_bpe *m, tok_bpe_scratch *s, const char *w, size_t n, tok_emit_fn emit,
                 void *ctx);

/* ---- GPT-2 byte-to-unicode ---- */

/* The code point that byte b is written as in byte-level vocabularies. */
uint32_t tok_byte_to_cp(unsigned b);
/* The byte for code point cp, or -1. */
int tok_cp_to_byte(uint32_t cp);

/* ---- added tokens (tok.c) ---- */

typedef struct {
    int32_t id;
    uint32_t off, len; /* content in the arena */
    unsigned char special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* Added tokens matched in the text before the model sees it (leftmost,
 * longest), like HF's AddedVocabulary. */
typedef struct {
    tok_added *tok;
    size_t n;
    char *arena;
    size_t arena_len, arena_cap;
    /* a byte trie over the contents */
    struct tok_trie_node *node;
    size_t nnodes, nodes_cap;
    unsigned char first[256]; /* bytes that start some token */
} tok_added_set;

int tok_added_add(tok_added_set *a, const tok_added *t, const char *content, size_t len);
int tok_added_build(tok_added_set *a);
void tok_added_free(tok_added_set *a);
/* Finds the first (then longest) added token in s[from..n); returns its
 * index and the match [*ms, *me) (widened by lstrip/rstrip), or -1. Tokens
 * marked "normalized" are matched in the text as written too: the
 * normalizers we support leave such contents unchanged. */
long tok_added_find(const tok_added_set *a, const char *s, size_t n, size_t from, size_t *ms,
                    size_t *me);

/* ---- the tokenizer.json backend (hf.c) ---- */

typedef struct tok_hf tok_hf;
typedef struct tok_hf_worker tok_hf_worker;

tok_hf *tok_hf_load(const char *path, tok_added_set *added, char *err, size_t errlen);
void tok_hf_free(tok_hf *h);
const char *tok_hf_describe(const tok_hf *h);
const tok_bpe *tok_hf_bpe(const tok_hf *h);
tok_hf_worker *tok_hf_worker_new(const tok_hf *h);
void tok_hf_worker_free(tok_hf_worker *w);
/* Encodes a stretch of text that holds no added token: normalizer,
 * pre-tokenizer, model. Offsets are relative to text plus base; at_start
 * says the stretch begins the input (no added token before it). */
int tok_hf_encode_plain(tok_hf_worker *w, const char *text, size_t len, uint32_t base,
                        int at_start, sft_tokens *out);
/* The post-processor: tokens to put before and after the sequence. */
int tok_hf_post(const tok_hf *h, const int32_t **pre, size_t *npre, const int32_t **post,
                size_t *npost);
/* skip: per id, 1 to leave it out (special tokens), or NULL. */
int tok_hf_decode(const tok_hf *h, const uint8_t *skip, const int32_t *ids, size_t n, sft_buf *out);
int32_t tok_hf_special_id(const tok_hf *h, int which); /* 0 bos, 1 eos */

#endif
