/* Prompt templates: {{placeholders}} filled from a source record. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/json.h"
#include "qa/qa.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The 1-based line of offset off in tpl. */
static size_t line_of(const char *tpl, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off; i++) line += tpl[i] == '\n';
    return line;
}

static const struct {
    const char *code, *name;
} languages[] = {
    {"ko", "Korean"},     {"en", "English"},    {"ja", "Japanese"},   {"zh", "Chinese"},
    {"zh-cn", "Chinese"}, {"zh-tw", "Chinese"}, {"fr", "French"},     {"de", "German"},
    {"es", "Spanish"},    {"it", "Italian"},    {"pt", "Portuguese"}, {"ru", "Russian"},
    {"vi", "Vietnamese"}, {"th", "Thai"},       {"id", "Indonesian"}, {"ar", "Arabic"},
    {"hi", "Hindi"},      {"mn", "Mongolian"},  {"uz", "Uzbek"},      {"tr", "Turkish"},
    {"nl", "Dutch"},      {"pl", "Polish"},     {"uk", "Ukrainian"},  {"ms", "Malay"},
};

static const char *language_name(const char *code)
{
    for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++)
        if (strcasecmp(code, languages[i].code) == 0) return languages[i].name;
    return code;
}

/* Whether s[0..n) is all digits (an array index). */
static int all_digits(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* The value at the dotted path name in record, or NULL. *bad is set when
 * the name is no path at all (an empty segment). */
static const cJSON *lookup(const cJSON *record, const char *name, int *bad)
{
    json_path path;
    *bad = 0;
    if (json_path_parse(&path, name) != 0) {
        *bad = errno == EINVAL;
        return NULL;
    }
    const cJSON *v = record;
    for (size_t i = 0; v && i < path.nseg; i++) {
        if (cJSON_IsObject(v)) {
            v = cJSON_GetObjectItemCaseSensitive(v, path.seg[i]);
        } else if (cJSON_IsArray(v) && all_digits(path.seg[i], path.seglen[i]) && path.seglen[i] < 10) {
            v = cJSON_GetArrayItem(v, atoi(path.seg[i]));
        } else {
            v = NULL;
        }
    }
    json_path_free(&path);
    return v;
}

/* Appends v as a placeholder shows it: a string as it is, anything else as
 * compact JSON. */
static int put_value(sft_buf *out, const cJSON *v)
{
    if (cJSON_IsString(v)) return buf_append(out, v->valuestring, strlen(v->valuestring));
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return -1;
    int rc = buf_append(out, s, strlen(s));
    cJSON_free(s);
    return rc;
}

int qa_render(const char *tpl, size_t len, const cJSON *record, int count, const char *lang,
              sft_buf *out, char *err, size_t errlen)
{
    size_t start_len = out->len;
    size_t i = 0;
    char *name = NULL;
    while (i < len) {
        const char *open = len - i >= 2 ? memmem(tpl + i, len - i, "{{", 2) : NULL;
        size_t o = open ? (size_t)(open - tpl) : len;
        if (buf_append(out, tpl + i, o - i) != 0) goto nomem;
        if (!open) break;
        const char *close = len - o >= 4 ? memmem(tpl + o + 2, len - o - 2, "}}", 2) : NULL;
        if (!close) {
            seterr(err, errlen, "line %zu: \"{{\" without a closing \"}}\"", line_of(tpl, o));
            goto fail;
        }
        size_t a = o + 2, b = (size_t)(close - tpl);
        while (a < b && is_space(tpl[a])) a++;
        while (b > a && is_space(tpl[b - 1])) b--;
        size_t n = b - a;
        free(name);
        if (!(name = malloc(n + 1))) goto nomem;
        memcpy(name, tpl + a, n);
        name[n] = '\0';
        if (n == 0 || memchr(tpl + a, '\0', n) || memchr(tpl + a, '{', n)) {
            seterr(err, errlen, "line %zu: {{%.*s}}: not a placeholder name", line_of(tpl, o),
                   (int)(n > 64 ? 64 : n), name);
            goto fail;
        }
        int rc = 0;
        if (strcmp(name, "count") == 0) {
            char num[24];
            int k = snprintf(num, sizeof num, "%d", count);
            rc = buf_append(out, num, (size_t)k);
        } else if (strcmp(name, "lang") == 0 || strcmp(name, "language") == 0) {
            if (!lang || !*lang) {
                seterr(err, errlen, "line %zu: {{%s}}: no language given", line_of(tpl, o), name);
                goto fail;
            }
            const char *s = name[4] ? language_name(lang) : lang;
            rc = buf_append(out, s, strlen(s));
        } else if (strcmp(name, "record") == 0) {
            if (!record) {
                seterr(err, errlen, "line %zu: {{record}}: no record", line_of(tpl, o));
                goto fail;
            }
            rc = put_value(out, record);
        } else {
            int bad;
            const cJSON *v = record ? lookup(record, name, &bad) : (bad = 0, NULL);
            /* {{record.count}}: a field hidden by a placeholder's name */
            if (!v && !bad && record && strncmp(name, "record.", 7) == 0) v = lookup(record, name + 7, &bad);
            if (!v) {
                if (bad)
                    seterr(err, errlen, "line %zu: {{%.*s}}: not a field path", line_of(tpl, o),
                           (int)(n > 64 ? 64 : n), name);
                else
                    seterr(err, errlen, "{{%.*s}}: no such field in the record", (int)(n > 64 ? 64 : n),
                           name);
                goto fail;
            }
            rc = put_value(out, v);
        }
        if (rc != 0) goto nomem;
        i = (size_t)(close - tpl) + 2;
    }
    free(name);
    return 0;
nomem:
    seterr(err, errlen, "out of memory");
fail:
    free(name);
    out->len = start_len;
    return -1;
}
