#include "core/out.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Temporary files of open outputs, for the signal handler. */
#define MAX_TEMPS 256
static char *volatile temps[MAX_TEMPS];

static void track_temp(char *name, char *old)
{
    for (int i = 0; i < MAX_TEMPS; i++) {
        if (temps[i] == old) {
            temps[i] = name;
            return;
        }
    }
}

static void remove_temps(int sig)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i]) unlink(temps[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void sft_out_cleanup_on_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = remove_temps;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

static sft_out *out_new(const char *name)
{
    sft_out *o = malloc(sizeof *o);
    if (!o) return NULL;
    o->name = strdup(name);
    if (!o->name) {
        free(o);
        errno = ENOMEM;
        return NULL;
    }
    o->fd = -1;
    o->close_fd = 0;
    o->err = 0;
    o->tmpname = NULL;
    o->len = 0;
    return o;
}

sft_out *sft_out_fd(int fd, const char *name)
{
    sft_out *o = out_new(name);
    if (o) o->fd = fd;
    return o;
}

sft_out *sft_out_open(const char *path)
{
    if (strcmp(path, "-") == 0) return sft_out_fd(1, "<stdout>");
    struct stat st;
    /* /dev/stdout, /dev/fd/N and /proc/self/fd/N stand for descriptors the
     * caller already holds: written through, appending, never renamed over
     * (that would replace the link). */
    if (strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0) {
        sft_out *o = out_new(path);
        if (!o) return NULL;
        int regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        o->fd = open(path, O_WRONLY | O_CLOEXEC | (regular ? O_APPEND : O_TRUNC));
        if (o->fd < 0) {
            int e = errno;
            free(o->name);
            free(o);
            errno = e;
            return NULL;
        }
        o->close_fd = 1;
        return o;
    }
    /* A link to a file: the file is replaced, the link kept. */
    char *real = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        real = realpath(path, NULL);
    sft_out *o = out_new(real ? real : path);
    free(real);
    if (!o) return NULL;
    path = o->name;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        o->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    } else {
        size_t n = strlen(path);
        o->tmpname = malloc(n + sizeof ".tmp.XXXXXX");
        if (!o->tmpname) {
            errno = ENOMEM;
            goto fail;
        }
        memcpy(o->tmpname, path, n);
        memcpy(o->tmpname + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
        o->fd = mkstemp(o->tmpname);
        if (o->fd >= 0) {
            track_temp(o->tmpname, NULL);
            /* mkstemp makes 0600; give the file the usual umask mode. */
            mode_t mask = umask(0);
            umask(mask);
            if (fchmod(o->fd, 0666 & ~mask) != 0) {
                int e = errno;
                close(o->fd);
                unlink(o->tmpname);
                track_temp(NULL, o->tmpname);
                errno = e;
                goto fail;
            }
        }
    }
    if (o->fd < 0) goto fail;
    o->close_fd = 1;
    return o;
fail:;
    int e = errno;
    free(o->tmpname);
    free(o->name);
    free(o);
    errno = e;
    return NULL;
}

static void write_all(sft_out *o, const char *p, size_t n)
{
    while (n > 0 && !o->err) {
        ssize_t w = write(o->fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EINTR) {
            o->err = errno;
        } else if (w == 0) {
            o->err = EIO;
        }
    }
}

int sft_out_flush(sft_out *o)
{
    if (o->len) {
        write_all(o, o->buf, o->len);
        o->len = 0;
    }
    return o->err;
}

void sft_out_write_slow(sft_out *o, const void *p, size_t n)
{
    if (sft_out_flush(o)) return;
    if (n >= SFT_OUT_BUFSIZE) {
        write_all(o, p, n);
    } else {
        memcpy(o->buf, p, n);
        o->len = n;
    }
}

int sft_out_close(sft_out *o, int commit)
{
    sft_out_flush(o);
    if (o->close_fd && close(o->fd) != 0 && !o->err) o->err = errno;
    int err = o->err;
    if (o->tmpname) {
        if (commit && !err) {
            if (rename(o->tmpname, o->name) != 0) {
                err = errno;
                unlink(o->tmpname);
            }
        } else {
            unlink(o->tmpname);
        }
    }
    if (o->tmpname) track_temp(NULL, o->tmpname);
    free(o->tmpname);
    free(o->name);
    free(o);
    return err;
}

/* 0: copy as is; otherwise the character after the backslash ('u' for the
 * \u00XX form). */
static const char escape_of[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
};

size_t json_escape_scan_scalar(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !escape_of[(unsigned char)s[i]]) i++;
    return i;
}

size_t json_escape_scan(const char *s, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    /* 16 bytes at a time: a byte needs escaping when it is below 0x20
     * (min(x, 0x1F) == x), '"' or '\\'. SSE2 is part of x86-64. */
    const __m128i ctl = _mm_set1_epi8(0x1F), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                _mm_cmpeq_epi8(x, backslash)));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask) return i + (size_t)__builtin_ctz(mask);
    }
#endif
    return i + json_escape_scan_scalar(s + i, n - i);
}

/* The escape sequence of a byte that needs one (json_escape_scan() stopped
 * at it) into out; returns its length, 2 or 6. */
static size_t json_escape_char(unsigned char c, char out[6])
{
    static const char hex[] = "0123456789abcdef";
    char e = escape_of[c];
    out[0] = '\\';
    if (e != 'u') {
        out[1] = e;
        return 2;
    }
    memcpy(out + 1, "u00", 3);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
}

void sft_out_json_string(sft_out *o, const char *s, size_t n)
{
    sft_out_putc(o, '"');
    for (size_t i = 0;;) {
        size_t run = json_escape_scan(s + i, n - i);
        sft_out_write(o, s + i, run);
        i += run;
        if (i == n) break;
        char esc[6];
        sft_out_write(o, esc, json_escape_char((unsigned char)s[i++], esc));
    }
    sft_out_putc(o, '"');
}

int buf_json_string(sft_buf *b, const char *s, size_t n)
{
    int rc = buf_putc(b, '"');
    for (size_t i = 0;;) {
        size_t run = json_escape_scan(s + i, n - i);
        rc |= buf_append(b, s + i, run);
        i += run;
        if (i == n) break;
        char esc[6];
        rc |= buf_append(b, esc, json_escape_char((unsigned char)s[i++], esc));
    }
    return rc | buf_putc(b, '"');
}

void jw_init(jw *w, sft_out *o)
{
    memset(w, 0, sizeof *w);
    w->o = o;
}

/* Writes the comma that separates this value from the previous one. */
static void before_value(jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->need_comma[w->depth]) sft_out_putc(w->o, ',');
    w->need_comma[w->depth] = 1;
}

static void open_container(jw *w, char open, char close)
{
    before_value(w);
    if (w->depth == JW_MAX_DEPTH) {
        if (!w->o->err) w->o->err = EOVERFLOW;
        return;
    }
    sft_out_putc(w->o, open);
    w->depth++;
    w->close[w->depth] = close;
    w->need_comma[w->depth] = 0;
}

void jw_object(jw *w) { open_container(w, '{', '}'); }
void jw_array(jw *w) { open_container(w, '[', ']'); }

void jw_end(jw *w)
{
    if (w->depth == 0) return;
    sft_out_putc(w->o, w->close[w->depth]);
    w->depth--;
}

void jw_key(jw *w, const char *key)
{
    before_value(w);
    size_t n = strlen(key);
    if (json_escape_scan(key, n) == n) { /* the usual plain key */
        sft_out_putc(w->o, '"');
        sft_out_write(w->o, key, n);
        sft_out_putc(w->o, '"');
    } else {
        sft_out_json_string(w->o, key, n);
    }
    sft_out_putc(w->o, ':');
    w->after_key = 1;
}

void jw_str(jw *w, const char *s, size_t n)
{
    before_value(w);
    sft_out_json_string(w->o, s, n);
}

void jw_cstr(jw *w, const char *s) { jw_str(w, s, strlen(s)); }

void jw_int(jw *w, int64_t v)
{
    /* By hand: snprintf showed in profiles of record-per-line tools. */
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    jw_raw(w, p, (size_t)(tmp + sizeof tmp - p));
}

void jw_double(jw *w, double v)
{
    if (v != v || v - v != 0) { /* NaN or infinite */
        jw_null(w);
        return;
    }
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
    jw_raw(w, tmp, (size_t)n);
}

void jw_bool(jw *w, int v) { jw_raw(w, v ? "true" : "false", v ? 4 : 5); }
void jw_null(jw *w) { jw_raw(w, "null", 4); }

void jw_raw(jw *w, const char *json, size_t n)
{
    before_value(w);
    sft_out_write(w->o, json, n);
}

void jw_cjson(jw *w, const cJSON *item)
{
    switch (item->type & 0xFF) {
    case cJSON_False: jw_bool(w, 0); break;
    case cJSON_True: jw_bool(w, 1); break;
    case cJSON_NULL: jw_null(w); break;
    case cJSON_Number: jw_double(w, item->valuedouble); break;
    case cJSON_String: jw_cstr(w, item->valuestring); break;
    case cJSON_Raw: jw_raw(w, item->valuestring, strlen(item->valuestring)); break;
    case cJSON_Array:
    case cJSON_Object: {
        int obj = (item->type & 0xFF) == cJSON_Object;
        if (obj) jw_object(w);
        else jw_array(w);
        for (const cJSON *c = item->child; c; c = c->next) {
            if (obj) jw_key(w, c->string);
            jw_cjson(w, c);
        }
        jw_end(w);
        break;
    }
    default: jw_null(w); break;
    }
}

void jw_newline(jw *w)
{
    sft_out_putc(w->o, '\n');
    w->need_comma[0] = 0;
}
