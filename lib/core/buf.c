#include "core/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int buf_reserve(sft_buf *b, size_t n)
{
    if (b->cap - b->len >= n) return 0;
    if (n > SIZE_MAX / 2 - b->len) return -1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void buf_free(sft_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int buf_read_file(sft_buf *b, const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t start = b->len;
    int e = 0;
    for (;;) {
        if (buf_reserve(b, 1 << 14) != 0) {
            e = ENOMEM;
            break;
        }
        size_t got = fread(b->p + b->len, 1, b->cap - b->len, f);
        b->len += got;
        if (b->len - start > max) {
            e = EFBIG;
            break;
        }
        if (got == 0) {
            if (ferror(f)) e = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    if (e) {
        b->len = start;
        errno = e;
        return -1;
    }
    return 0;
}
