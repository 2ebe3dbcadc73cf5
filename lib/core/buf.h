/* A growable byte buffer. The owner frees p with buf_free(). */
#ifndef SFT_BUF_H
#define SFT_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *p;
    size_t len, cap;
} sft_buf;

/* Makes room for n more bytes. Returns 0, or -1 when out of memory (the
 * buffer is unchanged). */
int buf_reserve(sft_buf *b, size_t n);

static inline int buf_append(sft_buf *b, const void *s, size_t n)
{
    if (b->cap - b->len < n && buf_reserve(b, n) != 0) return -1;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int buf_putc(sft_buf *b, char c)
{
    return buf_append(b, &c, 1);
}

void buf_free(sft_buf *b);

/* Appends the whole file at path (at most max bytes). Returns 0, or -1
 * with errno set: the open or read error, EFBIG when the file is larger
 * than max, ENOMEM; the buffer then holds what it held before. */
int buf_read_file(sft_buf *b, const char *path, size_t max);

#endif
