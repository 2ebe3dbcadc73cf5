#include "core/textin.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/utf8.h"

#define READ_CHUNK ((size_t)1 << 20)
#define DETECT_BYTES ((size_t)64 << 10)
#define DEFAULT_MAX_LINE ((size_t)64 << 20)

struct textin {
    int fd;              /* -1 when reading memory */
    int close_fd;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    int src_eof;
    uint64_t bytes_read;

    text_encoding enc;
    text_encoding forced; /* detection waits for the first read when forced */
    int detected;
    const char *detect_error;
    int had_bom;
    iconv_t cd;          /* (iconv_t)-1 for UTF-8 */
    unsigned char *raw;  /* input not yet converted */
    size_t raw_start, raw_end, raw_cap;
    uint64_t replaced;

    char *buf;           /* UTF-8 text */
    size_t cap, start, end;
    uint64_t buf_offset; /* offset of buf[0] in the text (the input, for UTF-8) */
    size_t valid_end;    /* buf[start..valid_end) is known to be valid UTF-8 */
    uint64_t line;
    size_t max_line;
    char *name;
};

const char *text_encoding_name(text_encoding enc)
{
    switch (enc) {
    case TEXT_ENC_UTF8: return "utf-8";
    case TEXT_ENC_UTF16LE: return "utf-16le";
    case TEXT_ENC_UTF16BE: return "utf-16be";
    case TEXT_ENC_CP949: return "cp949";
    default: return "auto";
    }
}

int text_encoding_parse(const char *name, text_encoding *out)
{
    static const struct {
        const char *name;
        text_encoding enc;
    } names[] = {
        {"auto", TEXT_ENC_AUTO},        {"utf-8", TEXT_ENC_UTF8},       {"utf8", TEXT_ENC_UTF8},
        {"utf-16le", TEXT_ENC_UTF16LE}, {"utf-16be", TEXT_ENC_UTF16BE}, {"cp949", TEXT_ENC_CP949},
        {"euc-kr", TEXT_ENC_CP949},     {"uhc", TEXT_ENC_CP949},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].enc;
            return 0;
        }
    }
    return -1;
}

/* Reads up to n input bytes into dst. Returns the count, 0 at end of
 * input, -1 on a read error (errno set). */
static ssize_t src_read(textin *t, void *dst, size_t n)
{
    if (t->src_eof || n == 0) return 0;
    if (t->fd < 0) {
        size_t left = t->mem_len - t->mem_pos;
        if (n > left) n = left;
        memcpy(dst, t->mem + t->mem_pos, n);
        t->mem_pos += n;
        if (t->mem_pos == t->mem_len) t->src_eof = 1;
        t->bytes_read += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t got = read(t->fd, dst, n);
        if (got > 0) {
            t->bytes_read += (uint64_t)got;
            return got;
        }
        if (got == 0) {
            t->src_eof = 1;
            return 0;
        }
        if (errno != EINTR) return -1;
    }
}

/* Whether s[0..n) is UTF-8 apart from a sequence cut off at the end. */
static int looks_utf8(const unsigned char *s, size_t n, int at_eof)
{
    size_t bad = utf8_invalid_offset(s, n);
    if (bad == n) return 1;
    if (at_eof || n - bad > 3) return 0;
    /* A lead byte and continuation bytes that the buffer end cut short. */
    unsigned char c = s[bad];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!need || n - bad >= need) return 0;
    for (size_t i = bad + 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return 1;
}

/* UTF-16 without BOM: text in Korean or English has a zero byte in most
 * code units of one parity (ASCII) and none in the other. */
static text_encoding guess_utf16(const unsigned char *s, size_t n)
{
    size_t zero_even = 0, zero_odd = 0, units = n / 2;
    if (units < 8) return TEXT_ENC_AUTO;
    for (size_t i = 0; i + 1 < n; i += 2) {
        zero_even += s[i] == 0;
        zero_odd += s[i + 1] == 0;
    }
    if (zero_odd * 3 >= units && zero_even * 20 < units) return TEXT_ENC_UTF16LE;
    if (zero_even * 3 >= units && zero_odd * 20 < units) return TEXT_ENC_UTF16BE;
    return TEXT_ENC_AUTO;
}

static const char *iconv_name(text_encoding enc)
{
    switch (enc) {
    case TEXT_ENC_UTF16LE: return "UTF-16LE";
    case TEXT_ENC_UTF16BE: return "UTF-16BE";
    default: return "CP949";
    }
}

/* Whether iconv converts s[0..n) from CP949 without an invalid sequence
 * (one cut off by the buffer end is fine). */
static int converts_cp949(const unsigned char *s, size_t n)
{
    iconv_t cd = iconv_open("UTF-8", "CP949");
    if (cd == (iconv_t)-1) return 0;
    char out[4096];
    char *in = (char *)(uintptr_t)s;
    size_t inleft = n;
    int ok = 1;
    while (inleft > 0) {
        char *o = out;
        size_t oleft = sizeof out;
        if (iconv(cd, &in, &inleft, &o, &oleft) == (size_t)-1) {
            if (errno == E2BIG) continue;
            ok = errno == EINVAL && inleft < 2;
            break;
        }
    }
    iconv_close(cd);
    return ok;
}

/* Reads the first bytes and settles the encoding. Returns 0 or an errno. */
static int detect(textin *t, text_encoding forced)
{
    t->raw_cap = READ_CHUNK;
    if (!(t->raw = malloc(t->raw_cap))) return ENOMEM;
    while (t->raw_end < DETECT_BYTES && !t->src_eof) {
        ssize_t got = src_read(t, t->raw + t->raw_end, DETECT_BYTES - t->raw_end);
        if (got < 0) return errno;
        t->raw_end += (size_t)got;
    }
    const unsigned char *s = t->raw;
    size_t n = t->raw_end;
    text_encoding enc = forced;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 && (!forced || forced == TEXT_ENC_UTF8)) {
        enc = TEXT_ENC_UTF8;
        t->raw_start = 3;
    } else if (n >= 2 && s[0] == 0xFF && s[1] == 0xFE && (!forced || forced == TEXT_ENC_UTF16LE)) {
        enc = TEXT_ENC_UTF16LE;
        t->raw_start = 2;
    } else if (n >= 2 && s[0] == 0xFE && s[1] == 0xFF && (!forced || forced == TEXT_ENC_UTF16BE)) {
        enc = TEXT_ENC_UTF16BE;
        t->raw_start = 2;
    }
    t->had_bom = t->raw_start > 0;
    t->buf_offset = t->raw_start;
    t->detected = 1;
    if (!enc) {
        if (looks_utf8(s, n, t->src_eof)) enc = TEXT_ENC_UTF8;
        else if ((enc = guess_utf16(s, n)) != TEXT_ENC_AUTO) {
        } else if (memchr(s, 0, n)) t->detect_error = "binary data (NUL bytes), not a text file";
        else if (converts_cp949(s, n)) enc = TEXT_ENC_CP949;
        else t->detect_error = "not text in UTF-8, UTF-16 or CP949";
    }
    t->enc = enc ? enc : TEXT_ENC_UTF8;
    if (t->enc != TEXT_ENC_UTF8) {
        t->cd = iconv_open("UTF-8", iconv_name(t->enc));
        if (t->cd == (iconv_t)-1) return errno;
    }
    return 0;
}

static int textin_new(textin **out, const char *name, size_t max_line)
{
    textin *t = calloc(1, sizeof *t);
    if (!t) return ENOMEM;
    if (!(t->name = strdup(name))) {
        free(t);
        return ENOMEM;
    }
    t->fd = -1;
    t->cd = (iconv_t)-1;
    t->max_line = max_line ? max_line : DEFAULT_MAX_LINE;
    t->cap = READ_CHUNK;
    if (!(t->buf = malloc(t->cap))) {
        free(t->name);
        free(t);
        return ENOMEM;
    }
    *out = t;
    return 0;
}

/* An open reader: with auto-detection the first bytes are read now, so that
 * textin_detect_error() can answer; a forced encoding waits for the first
 * textin_next() (a read error is then a read error, not an open error). */
static int finish_open(textin **out, textin *t, text_encoding enc)
{
    t->forced = enc;
    int rc = enc == TEXT_ENC_AUTO ? detect(t, enc) : 0;
    if (rc) {
        textin_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

int textin_open_fd(textin **out, int fd, int close_fd, const char *name, text_encoding enc,
                   size_t max_line)
{
    textin *t;
    int rc = textin_new(&t, name, max_line);
    if (rc) return rc;
    t->fd = fd;
    t->close_fd = close_fd;
    return finish_open(out, t, enc);
}

int textin_open(textin **out, const char *path, text_encoding enc, size_t max_line)
{
    if (!path || strcmp(path, "-") == 0) return textin_open_fd(out, 0, 0, "<stdin>", enc, max_line);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = textin_open_fd(out, fd, 1, path, enc, max_line);
    if (rc) close(fd);
    return rc;
}

int textin_open_mem(textin **out, const void *mem, size_t len, const char *name,
                    text_encoding enc, size_t max_line)
{
    textin *t;
    int rc = textin_new(&t, name, max_line);
    if (rc) return rc;
    t->mem = mem;
    t->mem_len = len;
    t->src_eof = len == 0;
    return finish_open(out, t, enc);
}

const char *textin_detect_error(const textin *t) { return t->detect_error; }
text_encoding textin_encoding(const textin *t) { return t->detected ? t->enc : t->forced; }
int textin_had_bom(const textin *t) { return t->had_bom; }
const char *textin_name(const textin *t) { return t->name; }
uint64_t textin_bytes_read(const textin *t) { return t->bytes_read; }
uint64_t textin_replaced(const textin *t) { return t->replaced; }

void textin_close(textin *t)
{
    if (!t) return;
    if (t->cd != (iconv_t)-1) iconv_close(t->cd);
    if (t->close_fd) close(t->fd);
    free(t->raw);
    free(t->buf);
    free(t->name);
    free(t);
}

/* Appends U+FFFD for an invalid sequence of a converted encoding. */
static void put_replacement(textin *t)
{
    memcpy(t->buf + t->end, "\xEF\xBF\xBD", 3);
    t->end += 3;
    t->replaced++;
}

/* Converts pending raw bytes into buf, reading more input when none are
 * pending. Returns 1 when text was added, 0 at end of input, -1 on error. */
static int convert_more(textin *t)
{
    for (;;) {
        if (t->raw_start == t->raw_end || (t->raw_end - t->raw_start < 4 && !t->src_eof)) {
            size_t pending = t->raw_end - t->raw_start;
            memmove(t->raw, t->raw + t->raw_start, pending);
            t->raw_start = 0;
            t->raw_end = pending;
            ssize_t got = src_read(t, t->raw + t->raw_end, t->raw_cap - t->raw_end);
            if (got < 0) return -1;
            t->raw_end += (size_t)got;
            if (t->raw_end == 0) return 0;
        }
        char *in = (char *)t->raw + t->raw_start;
        size_t inleft = t->raw_end - t->raw_start;
        char *o = t->buf + t->end;
        size_t oleft = t->cap - t->end - 3; /* room for a U+FFFD */
        size_t rc = iconv(t->cd, &in, &inleft, &o, &oleft);
        int err = rc == (size_t)-1 ? errno : 0;
        size_t added = (size_t)(o - (t->buf + t->end));
        t->end += added;
        t->raw_start = t->raw_end - inleft;
        if (err == EILSEQ || (err == EINVAL && t->src_eof)) {
            size_t unit = t->enc == TEXT_ENC_CP949 ? 1 : 2;
            if (unit > inleft) unit = inleft;
            t->raw_start += unit;
            put_replacement(t);
            return 1;
        }
        if (added) return 1;
        if (err == E2BIG) return 1; /* buf full: the caller grows it */
        if (err == EINVAL || inleft == 0) {
            if (t->src_eof && t->raw_start == t->raw_end) return 0;
            continue;
        }
        errno = err ? err : EIO;
        return -1;
    }
}

/* Reads more text after t->end, first moving unconsumed text to the front
 * and growing the buffer (up to max_line plus a chunk) when the line in it
 * fills it. Returns 1 when text came, 0 at end of input, -1 on error. */
static int refill(textin *t)
{
    if (t->start > 0) {
        memmove(t->buf, t->buf + t->start, t->end - t->start);
        t->end -= t->start;
        t->buf_offset += t->start;
        t->valid_end = t->valid_end > t->start ? t->valid_end - t->start : 0;
        t->start = 0;
    }
    if (t->cap - t->end < 16) {
        size_t want = t->cap * 2;
        size_t most = t->max_line + READ_CHUNK;
        if (want > most) want = most;
        if (want <= t->cap) return 1; /* full: the caller sees a too-long line */
        char *p = realloc(t->buf, want);
        if (!p) {
            errno = ENOMEM;
            return -1;
        }
        t->buf = p;
        t->cap = want;
    }
    if (t->enc != TEXT_ENC_UTF8) return convert_more(t);
    if (t->raw) { /* the bytes read while detecting come first */
        size_t n = t->raw_end - t->raw_start;
        if (n > t->cap - t->end) n = t->cap - t->end;
        memcpy(t->buf + t->end, t->raw + t->raw_start, n);
        t->end += n;
        t->raw_start += n;
        if (t->raw_start == t->raw_end) {
            free(t->raw);
            t->raw = NULL;
        }
        if (n) return 1;
    }
    ssize_t got = src_read(t, t->buf + t->end, t->cap - t->end);
    if (got < 0) return -1;
    t->end += (size_t)got;
    return got > 0;
}

static int input_done(const textin *t)
{
    return t->src_eof && (!t->raw || t->raw_start == t->raw_end);
}

/* Consumes the rest of a line too long to hold. */
static int discard_line(textin *t, text_line *ln)
{
    uint64_t len = 0;
    ln->offset = t->buf_offset + t->start;
    for (;;) {
        char *nl = memchr(t->buf + t->start, '\n', t->end - t->start);
        if (nl) {
            len += (uint64_t)(nl - (t->buf + t->start));
            t->start = (size_t)(nl - t->buf) + 1;
            break;
        }
        len += t->end - t->start;
        t->start = t->end;
        int got = refill(t);
        if (got < 0) {
            ln->line = t->line;
            return TEXT_IOERR;
        }
        if (got == 0) break;
    }
    ln->text = NULL;
    ln->len = (size_t)len;
    ln->line = t->line;
    ln->col = 0;
    ln->reason = "line too long (use --max-line)";
    return TEXT_BAD;
}

int textin_next(textin *t, text_line *ln)
{
    if (!t->detected) {
        int rc = detect(t, t->forced);
        if (rc) {
            errno = rc;
            ln->line = t->line + 1;
            return TEXT_IOERR;
        }
    }
    for (;;) {
        char *line = t->buf + t->start;
        size_t avail = t->end - t->start;
        char *nl = avail ? memchr(line, '\n', avail) : NULL;
        size_t len;
        if (nl) {
            len = (size_t)(nl - line);
        } else if (input_done(t) && t->enc == TEXT_ENC_UTF8) {
            if (avail == 0) return TEXT_EOF;
            len = avail;
        } else {
            if (avail > t->max_line + 1) {
                t->line++;
                return discard_line(t, ln);
            }
            int got = refill(t);
            if (got < 0) {
                ln->line = t->line + 1;
                return TEXT_IOERR;
            }
            if (got == 0) {
                if (t->end - t->start == 0) return TEXT_EOF;
                line = t->buf + t->start;
                len = t->end - t->start;
                nl = NULL;
            } else {
                continue;
            }
        }
        t->line++;
        ln->offset = t->buf_offset + (uint64_t)(line - t->buf);
        t->start += len + (nl != NULL);
        if (len && line[len - 1] == '\r') len--;
        ln->text = line;
        ln->len = len;
        ln->line = t->line;
        ln->col = 0;
        ln->reason = NULL;
        if (len > t->max_line) {
            ln->text = NULL;
            ln->reason = "line too long (use --max-line)";
            return TEXT_BAD;
        }
        if (t->enc == TEXT_ENC_UTF8 && (size_t)(line + len - t->buf) > t->valid_end) {
            /* Check all complete lines buffered at once: one long run of the
             * SIMD validator instead of a short one per line. */
            size_t from = (size_t)(line - t->buf);
            char *last_nl = memrchr(line, '\n', (size_t)(t->buf + t->end - line));
            size_t upto = last_nl ? (size_t)(last_nl - t->buf) : from + len;
            if (upto < from + len) upto = from + len;
            size_t bad = utf8_invalid_offset((const unsigned char *)line, upto - from);
            t->valid_end = from + bad;
            if (bad < len) {
                ln->col = bad + 1;
                ln->reason = "invalid UTF-8";
                return TEXT_BAD;
            }
        }
        return TEXT_LINE;
    }
}
