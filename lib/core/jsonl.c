#include "core/jsonl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/textin.h"

/* Lines come from the text reader (core/textin.h) with UTF-8 forced: it
 * splits lines, skips the BOM, holds lines up to max_line and checks UTF-8;
 * this layer adds blank lines, JSON and the messages split's users see. */
struct jsonl_reader {
    textin *in;
    size_t max_line;
};

static int wrap(jsonl_reader **out, textin *in, int rc, size_t max_line)
{
    if (rc) return rc;
    jsonl_reader *r = calloc(1, sizeof *r);
    if (!r) {
        textin_close(in);
        return ENOMEM;
    }
    r->in = in;
    r->max_line = max_line;
    *out = r;
    return 0;
}

int jsonl_open_fd(jsonl_reader **out, int fd, int close_fd, const char *name, size_t max_line)
{
    textin *in = NULL;
    if (!max_line) max_line = JSONL_DEFAULT_MAX_LINE;
    int rc = textin_open_fd(&in, fd, close_fd, name, TEXT_ENC_UTF8, max_line);
    return wrap(out, in, rc, max_line);
}

int jsonl_open(jsonl_reader **out, const char *path, size_t max_line)
{
    textin *in = NULL;
    if (!max_line) max_line = JSONL_DEFAULT_MAX_LINE;
    int rc = textin_open(&in, path, TEXT_ENC_UTF8, max_line);
    return wrap(out, in, rc, max_line);
}

int jsonl_open_mem(jsonl_reader **out, const void *mem, size_t len, const char *name, size_t max_line)
{
    textin *in = NULL;
    if (!max_line) max_line = JSONL_DEFAULT_MAX_LINE;
    int rc = textin_open_mem(&in, mem, len, name, TEXT_ENC_UTF8, max_line);
    return wrap(out, in, rc, max_line);
}

const char *jsonl_name(const jsonl_reader *r) { return textin_name(r->in); }

uint64_t jsonl_bytes_read(const jsonl_reader *r) { return textin_bytes_read(r->in); }

void jsonl_close(jsonl_reader *r)
{
    if (!r) return;
    textin_close(r->in);
    free(r);
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

int jsonl_next(jsonl_reader *r, jsonl_record *rec, jsonl_error *err)
{
    for (;;) {
        text_line ln;
        int rc = textin_next(r->in, &ln);
        if (rc == TEXT_EOF) return JSONL_EOF;
        if (rc == TEXT_IOERR) {
            set_error(err, ln.line, 0, "read error: %s", strerror(errno));
            return JSONL_IOERR;
        }
        rec->text = ln.text;
        rec->len = ln.len;
        rec->line = ln.line;
        rec->offset = ln.offset;
        /* Columns count the BOM, which the reader has skipped. */
        size_t col_base = 1 + (ln.line == 1 && textin_had_bom(r->in) ? 3 : 0);
        if (rc == TEXT_BAD && !ln.text) {
            char size[32];
            format_size(size, sizeof size, r->max_line);
            set_error(err, ln.line, 0, "line longer than %s (use --max-line)", size);
            return JSONL_BAD;
        }
        if (rc == TEXT_BAD) {
            set_error(err, ln.line, col_base + ln.col - 1, "invalid UTF-8 at byte offset %llu",
                      (unsigned long long)(ln.offset + ln.col - 1));
            return JSONL_BAD;
        }
        size_t i = 0;
        while (i < ln.len && (ln.text[i] == ' ' || ln.text[i] == '\t')) i++;
        if (i == ln.len) continue; /* blank */
        json_error jerr;
        if (json_validate(ln.text, ln.len, &jerr) != 0) {
            set_error(err, ln.line, col_base + jerr.offset, "invalid JSON: %s", jerr.msg);
            return JSONL_BAD;
        }
        if (ln.text[i] != '{') {
            set_error(err, ln.line, col_base + i, "not a JSON object");
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
