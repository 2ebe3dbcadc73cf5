/* Test driver: encodes text with lib/tok and prints the ids.
 *
 *   tok-encode [--special] [--lines | --vectors] [--decode] TOKENIZER FILE
 *
 * Default: the whole file is one text. --lines: each line is one text.
 * --vectors: llama.cpp's test inputs (texts separated by
 * "\n__ggml_vocab_test__\n"). Prints one line of space-separated ids per
 * text (--vectors: each id preceded by a space, as llama.cpp's .out files);
 * --decode prints the decoded text of those ids instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tok/tok.h"

static int emit(sft_tok *t, sft_tok_worker *w, const char *s, size_t n, unsigned flags, int vectors,
                int decode)
{
    sft_tokens out = {0};
    if (sft_tok_encode(w, s, n, flags, 0, &out) != 0) return -1;
    if (decode) {
        sft_buf b = {0};
        if (sft_tok_decode(t, out.ids, out.n, 0, &b) != 0) return -1;
        fwrite(b.p ? b.p : "", 1, b.len, stdout);
        putchar('\n');
        buf_free(&b);
    } else {
        for (size_t i = 0; i < out.n; i++)
            printf(vectors ? " %d" : (i ? " %d" : "%d"), out.ids[i]);
        putchar('\n');
    }
    sft_tokens_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned flags = 0;
    int lines = 0, vectors = 0, decode = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--special") == 0) flags |= SFT_TOK_ADD_SPECIAL;
        else if (strcmp(argv[i], "--lines") == 0) lines = 1;
        else if (strcmp(argv[i], "--vectors") == 0) vectors = 1;
        else if (strcmp(argv[i], "--decode") == 0) decode = 1;
        else break;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: tok-encode [--special] [--lines|--vectors] [--decode] TOKENIZER FILE\n");
        return 2;
    }
    char err[512];
    sft_tok *t = sft_tok_load(argv[i], err, sizeof err);
    if (!t) {
        fprintf(stderr, "tok-encode: %s\n", err);
        return 1;
    }
    FILE *f = fopen(argv[i + 1], "rb");
    if (!f) {
        perror(argv[i + 1]);
        return 1;
    }
    sft_buf text = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&text, chunk, k);
    fclose(f);
    buf_putc(&text, '\0');
    text.len--;
    sft_tok_worker *w = sft_tok_worker_new(t);
    int rc = 0;
    if (!lines && !vectors) {
        rc = emit(t, w, text.p, text.len, flags, 0, decode);
    } else {
        const char *sep = vectors ? "\n__ggml_vocab_test__\n" : "\n";
        size_t seplen = strlen(sep), at = 0;
        while (rc == 0 && at <= text.len) {
            /* memmem, not strstr: texts may hold NUL */
            char *hit = memmem(text.p + at, text.len - at, sep, seplen);
            size_t end = hit ? (size_t)(hit - text.p) : text.len;
            if (!hit && end == at && at == text.len) break; /* nothing after the last separator */
            rc = emit(t, w, text.p + at, end - at, flags, vectors, decode);
            at = end + seplen;
            if (!hit) break;
        }
    }
    sft_tok_worker_free(w);
    sft_tok_free(t);
    buf_free(&text);
    return rc ? 1 : 0;
}
