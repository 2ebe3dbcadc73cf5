#include "core/jsonl.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/utf8.h"

#define READ_CHUNK ((size_t)1 << 20)

struct jsonl_reader {
    int fd;           /* -1 when reading memory */
    int close_fd;
    char *buf;        /* owned unless reading memory */
    size_t cap;
    size_t start;     /* first unconsumed byte */
    size_t end;       /* end of valid data */
    uint64_t buf_offset; /* input offset of buf[0] */
    int eof;
    uint64_t line;
    size_t max_line;
    char *name;
};

static int reader_new(jsonl_reader **out, const char *name, size_t max_line)
{
    jsonl_reader *r = calloc(1, sizeof *r);
    if (!r) return ENOMEM;
    r->name = strdup(name);
    if (!r->name) {
        free(r);
        return ENOMEM;
    }
    r->fd = -1;
    r->max_line = max_line ? max_line : JSONL_DEFAULT_MAX_LINE;
    *out = r;
    return 0;
}

int jsonl_open_fd(jsonl_reader **out, int fd, int close_fd, const char *name, size_t max_line)
{
    jsonl_reader *r;
    int rc = reader_new(&r, name, max_line);
    if (rc) return rc;
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        free(r->name);
        free(r);
        return ENOMEM;
    }
    r->fd = fd;
    r->close_fd = close_fd;
    *out = r;
    return 0;
}

int jsonl_open(jsonl_reader **out, const char *path, size_t max_line)
{
    if (!path || strcmp(path, "-") == 0) return jsonl_open_fd(out, 0, 0, "<stdin>", max_line);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = jsonl_open_fd(out, fd, 1, path, max_line);
    if (rc) close(fd);
    return rc;
}

int jsonl_open_mem(jsonl_reader **out, const void *mem, size_t len, const char *name, size_t max_line)
{
    jsonl_reader *r;
    int rc = reader_new(&r, name, max_line);
    if (rc) return rc;
    r->buf = (char *)(uintptr_t)mem; /* never written to in this mode */
    r->cap = r->end = len;
    r->eof = 1;
    *out = r;
    return 0;
}

const char *jsonl_name(const jsonl_reader *r) { return r->name; }

uint64_t jsonl_bytes_read(const jsonl_reader *r) { return r->buf_offset + r->start; }

void jsonl_close(jsonl_reader *r)
{
    if (!r) return;
    if (r->fd >= 0) {
        free(r->buf);
        if (r->close_fd) close(r->fd);
    }
    free(r->name);
    free(r);
}

/* Reads more input after r->end, first moving unconsumed bytes to the front
 * and growing the buffer (up to max_line plus room for the line end) when
 * the line in it fills it. Returns 1 when bytes came, 0 at end of input,
 * -1 on a read error (errno set). */
static int refill(jsonl_reader *r)
{
    if (r->fd < 0 || r->eof) return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->buf_offset += r->start;
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        size_t want = r->cap * 2;
        size_t most = r->max_line + READ_CHUNK;
        if (want > most) want = most;
        if (want <= r->cap) return 1; /* full: the caller sees a too-long line */
        char *p = realloc(r->buf, want);
        if (!p) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = p;
        r->cap = want;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n > 0) {
            r->end += (size_t)n;
            return 1;
        }
        if (n == 0) {
            r->eof = 1;
            return 0;
        }
        if (errno != EINTR) return -1;
    }
}

static void set_error(jsonl_error *err, uint64_t line, uint64_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(jsonl_error *err, uint64_t line, uint64_t col, const char *fmt, ...)
{
    va_list ap;
    err->line = line;
    err->col = col;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
}

static void format_size(char *out, size_t outlen, size_t n)
{
    if (n % ((size_t)1 << 30) == 0) snprintf(out, outlen, "%zuG", n >> 30);
    else if (n % ((size_t)1 << 20) == 0) snprintf(out, outlen, "%zuM", n >> 20);
    else if (n % 1024 == 0) snprintf(out, outlen, "%zuK", n >> 10);
    else snprintf(out, outlen, "%zu bytes", n);
}

/* Consumes the rest of a line too long to hold, counting its bytes. */
static int discard_line(jsonl_reader *r, jsonl_record *rec, jsonl_error *err)
{
    uint64_t len = 0;
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            len += (uint64_t)(nl - (r->buf + r->start));
            r->start = (size_t)(nl - r->buf) + 1;
            break;
        }
        len += r->end - r->start;
        r->start = r->end;
        int got = refill(r);
        if (got < 0) {
            set_error(err, r->line, 0, "read error: %s", strerror(errno));
            return JSONL_IOERR;
        }
        if (got == 0) break;
    }
    char size[32];
    format_size(size, sizeof size, r->max_line);
    rec->text = NULL;
    rec->len = (size_t)len;
    set_error(err, r->line, 0, "line longer than %s (use --max-line)", size);
    return JSONL_BAD;
}

int jsonl_next(jsonl_reader *r, jsonl_record *rec, jsonl_error *err)
{
    for (;;) {
        char *line = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(line, '\n', avail) : NULL;
        size_t len;
        if (nl) {
            len = (size_t)(nl - line);
        } else if (r->eof || r->fd < 0) {
            if (avail == 0) return JSONL_EOF;
            len = avail;
        } else {
            /* No complete line yet. The +1 allows for a "\r". */
            if (avail > r->max_line + 1) {
                r->line++;
                rec->offset = r->buf_offset + r->start;
                return discard_line(r, rec, err);
            }
            int got = refill(r);
            if (got < 0) {
                set_error(err, r->line + 1, 0, "read error: %s", strerror(errno));
                return JSONL_IOERR;
            }
            continue;
        }

        r->line++;
        uint64_t offset = r->buf_offset + r->start;
        r->start += len + (nl != NULL);
        size_t col_base = 1;
        if (len && line[len - 1] == '\r') len--;
        if (offset == 0 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
            offset += 3;
            col_base += 3;
        }
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == len) continue; /* blank */

        rec->text = line;
        rec->len = len;
        rec->line = r->line;
        rec->offset = offset;
        if (len > r->max_line) {
            char size[32];
            format_size(size, sizeof size, r->max_line);
            rec->text = NULL;
            set_error(err, r->line, 0, "line longer than %s (use --max-line)", size);
            return JSONL_BAD;
        }
        size_t bad = utf8_invalid_offset((const unsigned char *)line, len);
        if (bad < len) {
            set_error(err, r->line, col_base + bad, "invalid UTF-8 at byte offset %llu",
                      (unsigned long long)(offset + bad));
            return JSONL_BAD;
        }
        json_error jerr;
        if (json_validate(line, len, &jerr) != 0) {
            set_error(err, r->line, col_base + jerr.offset, "invalid JSON: %s", jerr.msg);
            return JSONL_BAD;
        }
        if (line[i] != '{') {
            set_error(err, r->line, col_base + i, "not a JSON object");
            return JSONL_BAD;
        }
        return JSONL_RECORD;
    }
}

cJSON *jsonl_parse(const jsonl_record *rec, jsonl_error *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(rec->text, rec->len, &end, 0);
    if (!root)
        set_error(err, rec->line, end ? (uint64_t)(end - rec->text) + 1 : 0,
                  "cannot parse record (out of memory?)");
    return root;
}
