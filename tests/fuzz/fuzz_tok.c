/* libFuzzer target for the tokenizers (lib/tok, through tok.h).
 *
 * The first input byte picks the mode; the rest is the payload.
 *  - bit 0x80 set: the payload is a tokenizer.json (written to a file, since
 *    sft_tok_load takes a path). It must load or give a reason; when it
 *    loads, a few fixed texts and the payload itself are encoded and decoded.
 *  - else: the payload is a text, encoded with a tokenizer of fixtures/tok/
 *    (bits 0-1: byte-level, Gemma-style, SentencePiece BPE, unigram; bits
 *    2-4: SFT_TOK_ADD_SPECIAL, SFT_TOK_SPECIAL_TEXT, SFT_TOK_NO_OFFSETS).
 *    The fixtures load once, relative to the repository root (smoke.sh runs
 *    from there).
 * Oracles, beyond "no crash, no leak, no sanitizer report, no hang":
 *  - every id is in the vocabulary and, unless the post-processor added it
 *    (a file may name an id without a token there), has a piece; ranges lie
 *    in the text, starts and ends in order; decoding ids that all have
 *    pieces succeeds;
 *  - SFT_TOK_NO_OFFSETS gives the same ids;
 *  - byte-level: the ranges leave no byte out, and the decoded text (NFC,
 *    bad UTF-8 as U+FFFD) encodes to the same ids;
 *  - Gemma-style: valid UTF-8 without a ▁ of its own decodes to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "tok/tok.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixture[4] = {
    "fixtures/tok/bytelevel/tokenizer.json",
    "fixtures/tok/spmbpe/tokenizer.json",
    "fixtures/tok/spm_bpe.model",
    "fixtures/tok/spm_unigram.model",
};
static sft_tok *fix_tok[4];
static sft_tok_worker *fix_w[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[512];
    for (int i = 0; i < 4; i++) {
        if (!(fix_tok[i] = sft_tok_load(fixture[i], err, sizeof err))) {
            fprintf(stderr, "fuzz_tok: %s (run from the repository root)\n", err);
            exit(1);
        }
        if (!(fix_w[i] = sft_tok_worker_new(fix_tok[i]))) abort();
    }
    return 0;
}

/* Encodes text and checks the tokens (in out, emptied first). Returns
 * whether every id has a piece: one the post-processor adds may have none
 * (a file may name any id there; HF's decoder then skips it). */
static int check_encode(const sft_tok *t, sft_tok_worker *w, const char *s, size_t n,
                        unsigned flags, int covers, sft_tokens *out)
{
    const uint32_t base = 5;
    int whole = 1;
    out->n = 0;
    if (sft_tok_encode(w, s, n, flags, base, out) != 0) abort();
    size_t vocab = sft_tok_vocab_size(t);
    uint32_t reach = base;
    for (size_t i = 0; i < out->n; i++) {
        size_t len;
        if (out->ids[i] < 0 || (size_t)out->ids[i] >= vocab) abort();
        if (!sft_tok_piece(t, out->ids[i], &len)) {
            if (!(flags & SFT_TOK_ADD_SPECIAL)) abort();
            whole = 0;
        }
        if (out->start[i] < base || out->start[i] > out->end[i] || out->end[i] > base + n) abort();
        if (i > 0 && (out->start[i] < out->start[i - 1] || out->end[i] < out->end[i - 1])) abort();
        if (covers && out->start[i] > reach) abort();
        if (out->end[i] > reach) reach = out->end[i];
    }
    if (covers && reach != base + n) abort();
    return whole;
}

static void check_decode(const sft_tok *t, const sft_tokens *tk, sft_buf *d)
{
    d->len = 0;
    if (sft_tok_decode(t, tk->ids, tk->n, 0, d) != 0) abort();
    sft_buf s = {0};
    if (sft_tok_decode(t, tk->ids, tk->n, 1, &s) != 0) abort();
    buf_free(&s);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    /* named tokenizer.json, so that a payload that is no JSON is not taken
     * for a SentencePiece model; gone before anything can fail (libFuzzer
     * ends without atexit handlers) */
    char dir[] = "/tmp/fuzz_tok.XXXXXX", path[sizeof dir + 16];
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
    char err[512] = "";
    sft_tok *t = sft_tok_load(path, err, sizeof err);
    if (unlink(path) != 0 || rmdir(dir) != 0) abort();
    if (!t) {
        if (!err[0]) abort(); /* a failure always says why */
        return;
    }
    sft_tok_worker *w = sft_tok_worker_new(t);
    if (!w) abort();
    int32_t bos = sft_tok_bos(t), eos = sft_tok_eos(t);
    if (bos < -1 || eos < -1 || bos >= (int32_t)sft_tok_vocab_size(t) || eos >= (int32_t)sft_tok_vocab_size(t))
        abort();
    static const char *const texts[] = {
        "Hello, world! 안녕하세요 😀 <|im_start|>user\n\t 123  ",
        "",
        "a\xff\xc3(b\xe2\x96\x81 \xcc\x81",
    };
    sft_tokens tk = {0};
    sft_buf d = {0};
    for (size_t i = 0; i < 4; i++) {
        const char *s = i < 3 ? texts[i] : (const char *)data;
        size_t n = i < 3 ? strlen(s) : size;
        if (check_encode(t, w, s, n, i & 1 ? SFT_TOK_ADD_SPECIAL : 0, 0, &tk)) check_decode(t, &tk, &d);
    }
    buf_free(&d);
    sft_tokens_free(&tk);
    sft_tok_worker_free(w);
    sft_tok_free(t);
}

static int same_ids(const sft_tokens *a, const sft_tokens *b)
{
    return a->n == b->n && (!a->n || memcmp(a->ids, b->ids, a->n * sizeof *a->ids) == 0);
}

static void fuzz_text(unsigned mode, const char *s, size_t n)
{
    int k = mode & 3;
    unsigned flags = (mode & 4 ? SFT_TOK_ADD_SPECIAL : 0) | (mode & 8 ? SFT_TOK_SPECIAL_TEXT : 0);
    const sft_tok *t = fix_tok[k];
    sft_tokens tk = {0}, again = {0};
    sft_buf d = {0};
    if (!check_encode(t, fix_w[k], s, n, flags, k == 0, &tk)) abort();
    if (mode & 16) {
        again.n = 0;
        if (sft_tok_encode(fix_w[k], s, n, flags | SFT_TOK_NO_OFFSETS, 0, &again) != 0 || !same_ids(&tk, &again))
            abort();
    }
    check_decode(t, &tk, &d);
    if (k == 0) {
        check_encode(t, fix_w[k], d.p ? d.p : "", d.len, flags, 1, &again);
        if (!same_ids(&tk, &again)) abort();
    } else if (k == 1 && !(flags & SFT_TOK_ADD_SPECIAL) && utf8_invalid_offset((const uint8_t *)s, n) == n &&
               !memmem(s, n, "\xe2\x96\x81", 3)) {
        if (d.len != n || (n && memcmp(d.p, s, n) != 0)) abort();
    }
    buf_free(&d);
    sft_tokens_free(&tk);
    sft_tokens_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 0x80) fuzz_json(data + 1, size - 1);
    else fuzz_text(data[0], (const char *)data + 1, size - 1);
    return 0;
}
