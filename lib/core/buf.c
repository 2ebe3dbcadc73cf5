#include "core/buf.h"

#include <stdint.h>
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
