/* Buffered output and JSON writing.
 *
 * An sft_out collects bytes in a buffer and writes them with write(2). The
 * first error sticks: later writes are dropped, sft_out_error() reports it
 * and sft_out_close() returns it, so a full disk or a closed pipe is noticed
 * (callers check sft_out_error() per record to stop early).
 *
 * Regular files are written under a temporary name beside the target and
 * renamed into place by sft_out_close(o, 1), so a failed run never leaves a
 * half-written file that looks complete (to make, say). Other targets
 * (stdout, /dev/full, FIFOs) are written directly. */
#ifndef SFT_OUT_H
#define SFT_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

#define SFT_OUT_BUFSIZE ((size_t)1 << 16)

typedef struct sft_out {
    int fd;
    int close_fd;
    int err;       /* errno of the first failure, 0 while all is well */
    char *name;    /* path for diagnostics */
    char *tmpname; /* temporary path while writing a regular file, or NULL */
    size_t len;
    char buf[SFT_OUT_BUFSIZE];
} sft_out;

/* Opens path for writing ("-" is stdout). Returns NULL with errno set when
 * it cannot be created. */
sft_out *sft_out_open(const char *path);

/* Makes SIGINT, SIGTERM and SIGHUP remove the temporary files of open
 * outputs before the program dies of the signal. */
void sft_out_cleanup_on_signals(void);

/* Writes to fd (not closed at the end); name is used in diagnostics. */
sft_out *sft_out_fd(int fd, const char *name);

/* Flushes, then closes; with commit set a temporary file is renamed into
 * place, otherwise it is removed. Frees o. Returns 0, or the errno of the
 * first failure. */
int sft_out_close(sft_out *o, int commit);

/* Writes out the buffer. Returns 0 or the sticky errno. */
int sft_out_flush(sft_out *o);

static inline int sft_out_error(const sft_out *o) { return o->err; }
static inline const char *sft_out_name(const sft_out *o) { return o->name; }

void sft_out_write_slow(sft_out *o, const void *p, size_t n);

static inline void sft_out_write(sft_out *o, const void *p, size_t n)
{
    if (SFT_OUT_BUFSIZE - o->len >= n) {
        memcpy(o->buf + o->len, p, n);
        o->len += n;
    } else {
        sft_out_write_slow(o, p, n);
    }
}

static inline void sft_out_putc(sft_out *o, char c)
{
    if (o->len == SFT_OUT_BUFSIZE) sft_out_flush(o);
    o->buf[o->len++] = c;
}

/* Writes s[0..n), which must be valid UTF-8, as a quoted JSON string:
 * '"', '\\' and control characters escaped, everything else as is. */
void sft_out_json_string(sft_out *o, const char *s, size_t n);

/* The same, appended to a buffer. Returns 0, or -1 when out of memory. */
int buf_json_string(sft_buf *b, const char *s, size_t n);

/* Length of the longest prefix of s[0..n) that needs no JSON escaping (no
 * '"', '\\' or control character); SSE2 where the CPU is x86-64. */
size_t json_escape_scan(const char *s, size_t n);
/* The plain C reference json_escape_scan() must agree with. */
size_t json_escape_scan_scalar(const char *s, size_t n);

/* ---- JSON records, written field by field ----
 *
 *   jw w; jw_init(&w, out);
 *   jw_object(&w); jw_key(&w, "id"); jw_str(&w, id, n); jw_end(&w);
 *   jw_newline(&w);
 *
 * Commas and colons are placed by the writer; the caller only keeps keys
 * and values in turn. */
#define JW_MAX_DEPTH 64

typedef struct {
    sft_out *o;
    int depth;
    char close[JW_MAX_DEPTH + 1];           /* '}' or ']' per open level */
    unsigned char need_comma[JW_MAX_DEPTH + 1];
    unsigned char after_key;
} jw;

void jw_init(jw *w, sft_out *o);
/* Nesting deeper than JW_MAX_DEPTH sets the output's error to EOVERFLOW. */
void jw_object(jw *w);
void jw_array(jw *w);
void jw_end(jw *w);
void jw_key(jw *w, const char *key);
void jw_str(jw *w, const char *s, size_t n);
void jw_cstr(jw *w, const char *s);
void jw_int(jw *w, int64_t v);
/* Shortest text that reads back as the same double; NaN and infinities,
 * which JSON cannot hold, are written as null. */
void jw_double(jw *w, double v);
void jw_bool(jw *w, int v);
void jw_null(jw *w);
/* Writes json[0..n) as the next value; it must be valid JSON. */
void jw_raw(jw *w, const char *json, size_t n);
/* Writes a cJSON tree as the next value, without cJSON's print buffers. */
void jw_cjson(jw *w, const cJSON *item);
/* Ends a record: writes "\n". The writer must be back at depth 0. */
void jw_newline(jw *w);

#endif
