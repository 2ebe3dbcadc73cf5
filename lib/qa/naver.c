/* Naver Local Search items as source records for qa-gen. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "core/hash.h"
#include "core/utf8.h"
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

/* The entity at s (just after '&'), up to and including ';': its code
 * point, or -1. *n gets the entity's length after the '&'. */
static long entity(const char *s, size_t *n)
{
    static const struct {
        const char *name;
        long cp;
    } named[] = {{"amp;", '&'},  {"lt;", '<'},     {"gt;", '>'},      {"quot;", '"'},
                 {"apos;", '\''}, {"nbsp;", 0xA0}, {"middot;", 0xB7}, {"#39;", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t k = strlen(named[i].name);
        if (strncmp(s, named[i].name, k) == 0) {
            *n = k;
            return named[i].cp;
        }
    }
    if (s[0] != '#') return -1;
    int hex = s[1] == 'x' || s[1] == 'X';
    size_t i = hex ? 2 : 1, start = i;
    long cp = 0;
    for (;; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else break;
        cp = cp * (hex ? 16 : 10) + d;
        if (cp > 0x10FFFF) return -1;
    }
    if (i == start || s[i] != ';') return -1;
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    *n = i + 1;
    return cp;
}

void qa_strip_tags(char *s)
{
    if (!s) return;
    char *w = s;
    const char *r = s;
    while (*r) {
        if (r[0] == '<') {
            size_t k = r[1] == '/' ? 2 : 1;
            if ((r[k] == 'b' || r[k] == 'B') && r[k + 1] == '>') {
                r += k + 2;
                continue;
            }
        } else if (r[0] == '&') {
            size_t n;
            long cp = entity(r + 1, &n);
            if (cp >= 0) {
                char enc[4];
                size_t m = utf8_encode((uint32_t)cp, enc);
                /* the encoding is never longer than the entity: 1 byte up to
                 * U+007F ("&#9;" is 4), 2 from U+0080 (&#128; or &nbsp;), 3
                 * from U+0800 (&#2048;), 4 from U+10000 (&#65536;) */
                memcpy(w, enc, m);
                w += m;
                r += n + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* A string member of item, tags stripped, entities decoded, trimmed: a new
 * string ("" when absent or not a string), or NULL when out of memory. */
static char *field(const cJSON *item, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    const char *s = cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
    char *c = strdup(s);
    if (!c) return NULL;
    qa_strip_tags(c);
    char *a = c, *e = c + strlen(c);
    while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r') a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    *e = '\0';
    memmove(c, a, (size_t)(e - a) + 1);
    return c;
}

/* mapx or mapy as degrees: an integer is WGS84 × 10^7 (the API since
 * 2023), a number with a decimal point is degrees already. Returns 1 and
 * *deg, 0 when absent (or empty), -1 when malformed (err filled). */
static int coordinate(const cJSON *item, const char *name, double limit, double *deg, char *err,
                      size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    char text[64];
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsNumber(v)) {
        snprintf(text, sizeof text, "%.17g", v->valuedouble);
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
            snprintf(text, sizeof text, "%.0f", v->valuedouble);
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        while (*s == ' ') s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ') n--;
        if (n == 0) return 0;
        if (n >= sizeof text) goto bad;
        memcpy(text, s, n);
        text[n] = '\0';
    } else {
        goto bad;
    }
    {
        const char *p = text;
        if (*p == '-' || *p == '+') p++;
        size_t digits = strspn(p, "0123456789");
        int point = p[digits] == '.';
        size_t frac = point ? strspn(p + digits + 1, "0123456789") : 0;
        if (digits + frac == 0 || p[digits + point + frac] != '\0') goto bad;
        errno = 0;
        double d = strtod(text, NULL);
        if (errno || !isfinite(d)) goto bad;
        if (point && fabs(d) > limit) d /= 1e7; /* "1269783882.0" */
        else if (!point) {
            if (fabs(d) < 1e7 && d != 0) {
                seterr(err, errlen, "%s %s: looks like KATECH coordinates (the API before 2023), not WGS84 x 10^7",
                       name, text);
                return -1;
            }
            d /= 1e7;
        }
        if (fabs(d) > limit) goto bad;
        *deg = d;
        return 1;
    }
bad:
    seterr(err, errlen, "%s: not a %s (WGS84 degrees x 10^7)", name, limit > 90 ? "longitude" : "latitude");
    return -1;
}

cJSON *qa_naver_local_item(const cJSON *item, char *err, size_t errlen)
{
    static const struct {
        const char *in, *out;
    } fields[] = {
        {"title", "title"},     {"category", "category"}, {"description", "description"},
        {"telephone", "telephone"}, {"address", "address"}, {"roadAddress", "road_address"},
        {"link", "link"},
    };
    enum { NF = sizeof fields / sizeof fields[0] };
    if (!cJSON_IsObject(item)) {
        seterr(err, errlen, "a Local Search item is a JSON object");
        return NULL;
    }
    char *val[NF] = {0};
    cJSON *rec = NULL;
    for (size_t i = 0; i < NF; i++)
        if (!(val[i] = field(item, fields[i].in))) goto nomem;
    const char *title = val[0], *address = val[4], *road = val[5];
    if (!*title) {
        seterr(err, errlen, "the item has no title");
        goto fail;
    }
    for (size_t i = 0; i < NF; i++) {
        size_t n = strlen(val[i]);
        if (utf8_invalid_offset((const unsigned char *)val[i], n) != n) {
            seterr(err, errlen, "%s: not valid UTF-8", fields[i].in);
            goto fail;
        }
    }
    double lon = 0, lat = 0;
    int hx = coordinate(item, "mapx", 180, &lon, err, errlen);
    if (hx < 0) goto fail;
    int hy = coordinate(item, "mapy", 90, &lat, err, errlen);
    if (hy < 0) goto fail;

    /* the id: title and address after cleaning, so that the <b> marks of
     * the search term do not change it */
    const char *where = *road ? road : address;
    size_t tn = strlen(title), wn = strlen(where);
    char *key = malloc(tn + 1 + wn);
    if (!key) goto nomem;
    memcpy(key, title, tn);
    key[tn] = '|';
    memcpy(key + tn + 1, where, wn);
    char id[32];
    snprintf(id, sizeof id, "naver:%016" PRIx64, xxh64(key, tn + 1 + wn, 0));
    free(key);

    if (!(rec = cJSON_CreateObject())) goto nomem;
    if (!cJSON_AddStringToObject(rec, "id", id)) goto nomem;
    for (size_t i = 0; i < NF - 1; i++)
        if (!cJSON_AddStringToObject(rec, fields[i].out, val[i])) goto nomem;
    if (!(hx ? cJSON_AddNumberToObject(rec, "lon", lon) : cJSON_AddNullToObject(rec, "lon"))) goto nomem;
    if (!(hy ? cJSON_AddNumberToObject(rec, "lat", lat) : cJSON_AddNullToObject(rec, "lat"))) goto nomem;
    if (!cJSON_AddStringToObject(rec, "link", val[NF - 1])) goto nomem;
    if (!cJSON_AddStringToObject(rec, "source", "naver-local")) goto nomem;
    for (size_t i = 0; i < NF; i++) free(val[i]);
    return rec;
nomem:
    seterr(err, errlen, "out of memory");
fail:
    for (size_t i = 0; i < NF; i++) free(val[i]);
    cJSON_Delete(rec);
    return NULL;
}
