/* spm-encode: the ids of each line of a text under a SentencePiece model,
 * through lib/tok/spm.cc, printed as spm_encode --output_format=id does, so
 * that tests/conformance/spm.sh can compare the two.
 *
 *   spm-encode [--sep STRING] MODEL [FILE]
 *
 * Reads FILE (or stdin) and prints one line per input line: its ids
 * separated by spaces. --sep splits the input at STRING instead of "\n"
 * (llama.cpp's vocabulary tests use "\n__ggml_vocab_test__\n"); an empty
 * last piece is dropped. Exit status: 0, 2 usage, 65 an encoder error, 66
 * an unreadable model or input, 74 a write error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/spm.h"

static int print_id(void *ctx, int32_t id, uint32_t start, uint32_t end)
{
    int *first = ctx;
    (void)start;
    (void)end;
    printf(*first ? "%d" : " %d", id);
    *first = 0;
    return 0;
}

static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *sep = "\n";
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--sep") == 0) {
        sep = argv[a + 1];
        a += 2;
    }
    if (argc - a < 1 || argc - a > 2 || !*sep) {
        fprintf(stderr, "usage: spm-encode [--sep STRING] MODEL [FILE]\n");
        return 2;
    }
    char err[512];
    sft_spm *m = sft_spm_load(argv[a], err, sizeof err);
    if (!m) {
        fprintf(stderr, "spm-encode: %s\n", err);
        return 66;
    }
    FILE *in = argc - a == 2 ? fopen(argv[a + 1], "rb") : stdin;
    size_t len = 0;
    char *text = in ? slurp(in, &len) : NULL;
    if (!text) {
        fprintf(stderr, "spm-encode: cannot read %s\n", argc - a == 2 ? argv[a + 1] : "<stdin>");
        return 66;
    }
    const size_t seplen = strlen(sep);
    int rc = 0;
    for (size_t pos = 0; pos < len;) {
        const char *hit = memmem(text + pos, len - pos, sep, seplen);
        size_t n = hit ? (size_t)(hit - (text + pos)) : len - pos;
        int first = 1;
        if (sft_spm_encode(m, text + pos, n, print_id, &first) != 0) {
            fprintf(stderr, "spm-encode: encoder error\n");
            rc = 65;
            break;
        }
        putchar('\n');
        pos += n + (hit ? seplen : 0);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) rc = 74;
    free(text);
    if (in != stdin) fclose(in);
    sft_spm_free(m);
    return rc;
}
