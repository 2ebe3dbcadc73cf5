#include "core/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Bytes that end a run of plain string content: quote, backslash and the
 * control characters, which JSON requires to be escaped. */
static const unsigned char string_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, ['\\'] = 1,
};

static const char *find_string_special(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i ctl_max = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
            _mm_cmpeq_epi8(_mm_min_epu8(x, ctl_max), x));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && !string_special[(unsigned char)*p]) p++;
    return p;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p)) p++;
    return p;
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Reads the escape at p (just after the backslash): sets *cp to the code
 * point it stands for and returns the byte after it, or NULL with *msg. */
static const char *read_escape(const char *p, const char *end, uint32_t *cp, const char **msg)
{
    if (p >= end) { *msg = "unterminated string"; return NULL; }
    switch (*p) {
    case '"': *cp = '"'; return p + 1;
    case '\\': *cp = '\\'; return p + 1;
    case '/': *cp = '/'; return p + 1;
    case 'b': *cp = '\b'; return p + 1;
    case 'f': *cp = '\f'; return p + 1;
    case 'n': *cp = '\n'; return p + 1;
    case 'r': *cp = '\r'; return p + 1;
    case 't': *cp = '\t'; return p + 1;
    case 'u': break;
    default: *msg = "invalid escape in string"; return NULL;
    }
    uint32_t hi;
    if (hex4(p + 1, end, &hi) != 0) { *msg = "invalid \\u escape"; return NULL; }
    p += 5;
    if (hi >= 0xDC00 && hi <= 0xDFFF) { *msg = "lone surrogate in \\u escape"; return NULL; }
    if (hi < 0xD800 || hi > 0xDBFF) { *cp = hi; return p; }
    uint32_t lo;
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) != 0 ||
        lo < 0xDC00 || lo > 0xDFFF) {
        *msg = "lone surrogate in \\u escape";
        return NULL;
    }
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return p + 6;
}

/* p is at the opening quote. Returns the byte after the closing quote, or
 * NULL with *err. */
static const char *scan_string(const char *s, const char *p, const char *end, json_error *err)
{
    p++;
    for (;;) {
        p = find_string_special(p, end);
        if (p >= end) {
            err->offset = (size_t)(end - s);
            err->msg = "unterminated string";
            return NULL;
        }
        if (*p == '"') return p + 1;
        if (*p == '\\') {
            uint32_t cp;
            const char *msg;
            const char *q = read_escape(p + 1, end, &cp, &msg);
            if (!q) {
                err->offset = (size_t)(p - s);
                err->msg = msg;
                return NULL;
            }
            p = q;
            continue;
        }
        err->offset = (size_t)(p - s);
        err->msg = "unescaped control character in string";
        return NULL;
    }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static const char *scan_number(const char *s, const char *p, const char *end, json_error *err)
{
    const char *start = p;
    if (*p == '-') p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) p++;
    } else {
        goto bad;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) goto bad;
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) goto bad;
        while (p < end && is_digit(*p)) p++;
    }
    /* "01" or "1x": the number must end at a delimiter. */
    if (p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '-' || *p == '+'))
        goto bad;
    return p;
bad:
    err->offset = (size_t)(start - s);
    err->msg = "invalid number";
    return NULL;
}

static const char *scan_literal(const char *s, const char *p, const char *end, json_error *err)
{
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(words[i]);
        if (words[i][0] == *p) {
            if ((size_t)(end - p) >= len && memcmp(p, words[i], len) == 0) return p + len;
            break;
        }
    }
    err->offset = (size_t)(p - s);
    err->msg = "invalid literal";
    return NULL;
}

static int fail(json_error *err, const char *s, const char *p, const char *end, const char *msg)
{
    err->offset = (size_t)(p - s);
    err->msg = p >= end ? "unexpected end of text" : msg;
    return -1;
}

int json_validate(const char *s, size_t n, json_error *err)
{
    const char *p = s, *end = s + n;
    unsigned char stack[JSON_MAX_DEPTH]; /* '{' or '[' per open container */
    int depth = 0;

    p = skip_ws(p, end);
    if (p >= end) return fail(err, s, p, p + 1, "empty text");

value:
    if (p >= end) return fail(err, s, p, end, "");
    switch (*p) {
    case '{':
    case '[':
        if (depth == JSON_MAX_DEPTH) return fail(err, s, p, end, "nesting deeper than 1000 levels");
        stack[depth++] = (unsigned char)*p;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
            p++;
            depth--;
            goto after_value;
        }
        if (stack[depth - 1] == '{') goto key;
        goto value;
    case '"':
        if (!(p = scan_string(s, p, end, err))) return -1;
        goto after_value;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (!(p = scan_number(s, p, end, err))) return -1;
        goto after_value;
    case 't': case 'f': case 'n':
        if (!(p = scan_literal(s, p, end, err))) return -1;
        goto after_value;
    default:
        return fail(err, s, p, end, "expected a value");
    }

key:
    if (p >= end || *p != '"') return fail(err, s, p, end, "expected a string key");
    if (!(p = scan_string(s, p, end, err))) return -1;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail(err, s, p, end, "expected ':' after object key");
    p = skip_ws(p + 1, end);
    goto value;

after_value:
    p = skip_ws(p, end);
    if (depth == 0) {
        if (p != end) return fail(err, s, p, end, "unexpected text after the JSON value");
        return 0;
    }
    if (p >= end) return fail(err, s, p, end, "");
    if (*p == ',') {
        p = skip_ws(p + 1, end);
        if (stack[depth - 1] == '{') goto key;
        goto value;
    }
    if (stack[depth - 1] == '{') {
        if (*p != '}') return fail(err, s, p, end, "expected ',' or '}' in object");
    } else if (*p != ']') {
        return fail(err, s, p, end, "expected ',' or ']' in array");
    }
    p++;
    depth--;
    goto after_value;
}

/* ---- lookups on validated text ---- */

const char *json_string_end(const char *p, const char *end, int *escaped)
{
    p++;
    for (;;) {
        p = find_string_special(p, end);
        if (*p == '"') return p + 1;
        *escaped = 1;
        p += 2; /* a backslash and the byte it escapes */
    }
}

static const char *skip_string(const char *p, const char *end)
{
    int escaped;
    return json_string_end(p, end, &escaped);
}

const char *json_skip_value(const char *p, const char *end)
{
    if (*p == '"') return skip_string(p, end);
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p)) p++;
        return p;
    }
    int depth = 0;
    do {
        char c = *p;
        if (c == '"') {
            p = skip_string(p, end);
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        p++;
    } while (depth > 0);
    return p;
}

static json_type type_at(const char *p)
{
    switch (*p) {
    case '{': return JSON_OBJECT;
    case '[': return JSON_ARRAY;
    case '"': return JSON_STRING;
    case 't': return JSON_TRUE;
    case 'f': return JSON_FALSE;
    case 'n': return JSON_NULL;
    default: return JSON_NUMBER;
    }
}

/* Compares the raw key text k[0..kn) (between the quotes, escapes
 * undecoded) with name[0..nn). */
static int key_equals(const char *k, size_t kn, const char *name, size_t nn)
{
    if (!memchr(k, '\\', kn)) return kn == nn && memcmp(k, name, nn) == 0;
    const char *p = k, *end = k + kn;
    size_t i = 0;
    while (p < end) {
        if (*p != '\\') {
            if (i >= nn || name[i] != *p) return 0;
            i++;
            p++;
            continue;
        }
        uint32_t cp;
        const char *msg;
        p = read_escape(p + 1, end, &cp, &msg);
        char enc[4];
        size_t len = utf8_encode(cp, enc);
        if (nn - i < len || memcmp(name + i, enc, len) != 0) return 0;
        i += len;
    }
    return i == nn;
}

static int is_index(const char *seg, size_t len, size_t *idx)
{
    if (len == 0 || len > 18) return 0;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(seg[i])) return 0;
        v = v * 10 + (size_t)(seg[i] - '0');
    }
    *idx = v;
    return 1;
}

/* p is at a value inside a valid text; finds the member or element named
 * by seg in it. Returns its first byte or NULL. */
static const char *child(const char *p, const char *end, const char *seg, size_t seglen)
{
    if (*p == '{') {
        p = skip_ws(p + 1, end);
        if (*p == '}') return NULL;
        for (;;) {
            const char *k = p + 1;
            p = skip_string(p, end);
            int match = key_equals(k, (size_t)(p - 1 - k), seg, seglen);
            p = skip_ws(p, end);
            p = skip_ws(p + 1, end); /* the ':' */
            if (match) return p;
            p = skip_ws(json_skip_value(p, end), end);
            if (*p == '}') return NULL;
            p = skip_ws(p + 1, end); /* the ',' */
        }
    }
    size_t idx;
    if (*p != '[' || !is_index(seg, seglen, &idx)) return NULL;
    p = skip_ws(p + 1, end);
    if (*p == ']') return NULL;
    for (size_t i = 0;; i++) {
        if (i == idx) return p;
        p = skip_ws(json_skip_value(p, end), end);
        if (*p == ']') return NULL;
        p = skip_ws(p + 1, end);
    }
}

int json_get(const char *s, size_t n, const json_path *path, json_value *out)
{
    const char *end = s + n;
    const char *p = skip_ws(s, end);
    for (size_t i = 0; i < path->nseg; i++) {
        p = child(p, end, path->seg[i], path->seglen[i]);
        if (!p) return 0;
    }
    out->type = type_at(p);
    out->p = p;
    out->n = (size_t)(json_skip_value(p, end) - p);
    return 1;
}

int json_string_decode(const json_value *v, sft_buf *b)
{
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    while (p < end) {
        const char *q = memchr(p, '\\', (size_t)(end - p));
        if (!q) q = end;
        if (buf_append(b, p, (size_t)(q - p)) != 0) return -1;
        if (q == end) break;
        uint32_t cp;
        const char *msg;
        p = read_escape(q + 1, end, &cp, &msg);
        char enc[4];
        if (buf_append(b, enc, utf8_encode(cp, enc)) != 0) return -1;
    }
    return 0;
}

int json_value_key(const json_value *v, sft_buf *b)
{
    if (buf_putc(b, (char)('0' + v->type)) != 0) return -1;
    if (v->type == JSON_STRING) return json_string_decode(v, b);
    if (v->type != JSON_OBJECT && v->type != JSON_ARRAY) return buf_append(b, v->p, v->n);
    const char *p = v->p, *end = v->p + v->n;
    while (p < end) {
        if (*p == '"') {
            const char *q = skip_string(p, end);
            if (buf_append(b, p, (size_t)(q - p)) != 0) return -1;
            p = q;
        } else {
            if (!is_ws(*p) && buf_putc(b, *p) != 0) return -1;
            p++;
        }
    }
    return 0;
}

int json_path_parse(json_path *path, const char *spec)
{
    memset(path, 0, sizeof *path);
    size_t n = strlen(spec);
    if (n == 0) { errno = EINVAL; return -1; }
    size_t maxseg = 1;
    for (size_t i = 0; i < n; i++) maxseg += spec[i] == '.';
    path->seg = calloc(maxseg, sizeof *path->seg);
    path->seglen = calloc(maxseg, sizeof *path->seglen);
    if (!path->seg || !path->seglen) goto nomem;
    const char *p = spec;
    for (;;) {
        char *seg = malloc(strlen(p) + 1);
        if (!seg) goto nomem;
        size_t len = 0;
        while (*p && *p != '.') {
            if (p[0] == '\\' && p[1] == '.') p++;
            seg[len++] = *p++;
        }
        seg[len] = '\0';
        path->seg[path->nseg] = seg;
        path->seglen[path->nseg++] = len;
        if (len == 0) {
            json_path_free(path);
            errno = EINVAL;
            return -1;
        }
        if (!*p) break;
        p++;
    }
    return 0;
nomem:
    json_path_free(path);
    errno = ENOMEM;
    return -1;
}

void json_path_free(json_path *path)
{
    for (size_t i = 0; i < path->nseg; i++) free(path->seg[i]);
    free(path->seg);
    free(path->seglen);
    memset(path, 0, sizeof *path);
}
