/* The masker: configuration, spans and their replacement. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii/internal.h"

static const char *const detector_names[PII_NDETECTORS] = {
    "rrn", "frn", "phone", "email", "url", "ip", "card", "brn", "passport", "driver", "account",
    "address", "name", "name-guess", "spoken",
};
static const char *const type_tags[PII_NTYPES] = {
    "RRN", "FRN", "PHONE", "EMAIL", "URL", "IP", "CARD", "BRN", "PASSPORT", "DRIVER", "ACCOUNT",
    "ADDRESS", "NAME",
};

const char *pii_detector_name(int d) { return detector_names[d]; }
const char *pii_type_tag(int t) { return type_tags[t]; }

static int detector_by_name(const char *s, size_t n)
{
    for (int d = 0; d < PII_NDETECTORS; d++)
        if (strlen(detector_names[d]) == n && memcmp(detector_names[d], s, n) == 0) return d;
    return -1;
}

int pii_parse_types(const char *list, unsigned *mask, char *err, size_t errlen)
{
    /* A list that starts with + or - changes the default; a sign carries
     * over to the names after it ("+url,spoken"). */
    unsigned result = *list == '+' || *list == '-' ? PII_DEFAULT_DETECTORS : 0;
    char sign = 0;
    const char *p = list;
    if (!*p) { snprintf(err, errlen, "empty type list"); return -1; }
    for (;;) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n && (*p == '+' || *p == '-')) sign = *p, p++, n--;
        unsigned bits;
        int d;
        if (n == 3 && memcmp(p, "all", 3) == 0) bits = PII_ALL_DETECTORS;
        else if (n == 7 && memcmp(p, "default", 7) == 0) bits = PII_DEFAULT_DETECTORS;
        else if ((d = detector_by_name(p, n)) >= 0) bits = PII_BIT(d);
        else {
            snprintf(err, errlen, "unknown type '%.*s' (known: all, default, rrn, frn, phone, email, url, ip, "
                     "card, brn, passport, driver, account, address, name, name-guess, spoken)", (int)n, p);
            return -1;
        }
        if (sign == '-') result &= ~bits;
        else result |= bits;
        if (!q) break;
        p = q + 1;
    }
    if (!result) { snprintf(err, errlen, "no type left"); return -1; }
    *mask = result;
    return 0;
}

/* Keys whose values are identifiers, times, labels or paths, not text. */
static const char *const default_skip[] = {
    "id", "ts", "src", "kind", "role", "type", "lang", "model", "source_id", "conversation", "path",
    "video", "start", "end",
};

pii_masker *pii_masker_new(unsigned detectors)
{
    pii_masker *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->detectors = detectors;
    pii_names_init(&m->names);
    for (size_t i = 0; i < sizeof default_skip / sizeof default_skip[0]; i++) {
        if (pii_skip_key(m, default_skip[i]) != 0) {
            pii_masker_free(m);
            errno = ENOMEM;
            return NULL;
        }
    }
    return m;
}

void pii_masker_free(pii_masker *m)
{
    if (!m) return;
    pii_names_free(&m->names);
    free(m->seen);
    free(m->pseudo_cache);
    free(m->spans);
    for (size_t i = 0; i < m->nskip; i++) free(m->skip[i]);
    free(m->skip);
    free(m->skip_len);
    for (size_t i = 0; i < m->nfields; i++) {
        for (size_t k = 0; k < m->fields[i].nseg; k++) free(m->fields[i].name[k]);
        free(m->fields[i].name);
        free(m->fields[i].index);
    }
    free(m->fields);
    buf_free(&m->scratch);
    buf_free(&m->replaced);
    buf_free(&m->norm);
    buf_free(&m->path);
    buf_free(&m->field);
    buf_free(&m->infos_text);
    free(m->infos);
    memset(&m->hmac, 0, sizeof m->hmac);
    free(m);
}

int pii_set_style(pii_masker *m, enum pii_style style, const void *key, size_t keylen)
{
    if (style == PII_STYLE_PSEUDO && keylen == 0) { errno = EINVAL; return -1; }
    m->style = style;
    if (style == PII_STYLE_PSEUDO) hmac_sha256_key_init(&m->hmac, key, keylen);
    return 0;
}

int pii_add_span(pii_masker *m, size_t start, size_t end, int type, int strong, int32_t name)
{
    if (m->nspans == m->spancap) {
        size_t cap = m->spancap ? m->spancap * 2 : 16;
        pii_span *sp = realloc(m->spans, cap * sizeof *sp);
        if (!sp) { errno = ENOMEM; return -1; }
        m->spans = sp;
        m->spancap = cap;
    }
    m->spans[m->nspans++] = (pii_span){(uint32_t)start, (uint32_t)end, (uint8_t)type, (uint8_t)strong, name};
    return 0;
}

static int span_order(const void *a, const void *b)
{
    const pii_span *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end > y->end ? -1 : x->end < y->end;
}

/* Which of two overlapping spans stays: strong evidence, then length. */
static int beats(const pii_span *a, const pii_span *b)
{
    if (a->strong != b->strong) return a->strong > b->strong;
    return a->end - a->start > b->end - b->start;
}

int pii_find(pii_masker *m, const char *s, size_t n, const pii_span **spans)
{
    m->nspans = 0;
    if (n > UINT32_MAX) { errno = EINVAL; return -1; }
    if (pii_detect_text(m, (const unsigned char *)s, n) != 0) return -1;
    if (m->nspans > 1) {
        qsort(m->spans, m->nspans, sizeof *m->spans, span_order);
        size_t kept = 0;
        for (size_t i = 0; i < m->nspans; i++) {
            pii_span *sp = &m->spans[i];
            if (kept && sp->start < m->spans[kept - 1].end) {
                if (beats(sp, &m->spans[kept - 1])) m->spans[kept - 1] = *sp;
                continue;
            }
            m->spans[kept++] = *sp;
        }
        m->nspans = kept;
    }
    *spans = m->spans;
    return (int)m->nspans;
}

/* The value a pseudonym is derived from: the same person or number written
 * differently gets the same one (010-1234-5678, 01012345678, +82 10…). */
static int normalise(pii_masker *m, const char *s, const pii_span *sp, sft_buf *b)
{
    const char *p = s + sp->start;
    size_t n = sp->end - sp->start, at = b->len;
    switch (sp->type) {
    case PII_NAME:
        if (sp->name >= 0) {
            size_t len;
            const char *canon = pii_names_canon(&m->names, sp->name, &len);
            return buf_append(b, canon, len);
        }
        return buf_append(b, p, n);
    case PII_EMAIL: case PII_URL: case PII_IP: case PII_PASSPORT:
        for (size_t i = 0; i < n; i++)
            if (buf_putc(b, (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i])) != 0) return -1;
        return 0;
    case PII_PHONE: {
        for (size_t i = 0; i < n; i++)
            if ((p[i] >= '0' && p[i] <= '9') || (unsigned char)p[i] >= 0x80)
                if (buf_putc(b, p[i]) != 0) return -1;
        char *d = b->p + at;
        size_t nd = b->len - at;
        size_t cc = n && p[0] == '+' && nd > 2 && memcmp(d, "82", 2) == 0 ? 2
                  : nd > 4 && memcmp(d, "0082", 4) == 0 ? 4 : 0;
        if (cc) {
            /* +82 10… is 010…; +82 010… too. */
            memmove(d + 1, d + cc, nd - cc);
            nd = nd - cc + 1;
            d[0] = '0';
            if (nd > 1 && d[1] == '0') memmove(d, d + 1, --nd);
            b->len = at + nd;
        }
        return 0;
    }
    default:
        for (size_t i = 0; i < n; i++)
            if (p[i] != ' ' && p[i] != '-' && p[i] != '.' && p[i] != ',' && p[i] != '(' && p[i] != ')')
                if (buf_putc(b, p[i]) != 0) return -1;
        return 0;
    }
}

/* "_xxxxxx" for the span: HMAC of "type\0value". Known names keep theirs
 * in a cache by canonical name, since they recur on every line. */
static int pseudonym(pii_masker *m, const char *s, const pii_span *sp, char hex[8])
{
    sft_buf *norm = &m->norm;
    int cached = sp->type == PII_NAME && sp->name >= 0;
    size_t canon = 0;
    if (cached) {
        canon = (size_t)m->names.pats[sp->name].canon;
        if (canon >= m->pseudo_cap) {
            size_t cap = m->pseudo_cap ? m->pseudo_cap : 64;
            while (cap <= canon) cap *= 2;
            char (*p)[8] = realloc(m->pseudo_cache, cap * sizeof *p);
            if (!p) return -1;
            memset(p + m->pseudo_cap, 0, (cap - m->pseudo_cap) * sizeof *p);
            m->pseudo_cache = p;
            m->pseudo_cap = cap;
        }
        if (m->pseudo_cache[canon][0]) {
            memcpy(hex, m->pseudo_cache[canon], 8);
            return 0;
        }
    }
    const char *name = detector_names[sp->type];
    norm->len = 0;
    if (buf_append(norm, name, strlen(name) + 1) != 0 || normalise(m, s, sp, norm) != 0) return -1;
    unsigned char mac[SHA256_DIGEST_LEN];
    hmac_sha256(&m->hmac, norm->p, norm->len, mac);
    snprintf(hex, 8, "_%02x%02x%02x", mac[0], mac[1], mac[2]);
    if (cached) memcpy(m->pseudo_cache[canon], hex, 8);
    return 0;
}

int pii_replace(pii_masker *m, const char *s, size_t n, const pii_span *spans, int nspans, sft_buf *out)
{
    size_t at = 0;
    for (int i = 0; i < nspans; i++) {
        const pii_span *sp = &spans[i];
        const char *tag = type_tags[sp->type];
        if (buf_append(out, s + at, sp->start - at) != 0 || buf_putc(out, '[') != 0 ||
            buf_append(out, tag, strlen(tag)) != 0)
            goto nomem;
        if (m->style == PII_STYLE_PSEUDO) {
            char hex[8];
            if (pseudonym(m, s, sp, hex) != 0 || buf_append(out, hex, 7) != 0) goto nomem;
        }
        if (buf_putc(out, ']') != 0) goto nomem;
        at = sp->end;
    }
    return buf_append(out, s + at, n - at);
nomem:
    errno = ENOMEM;
    return -1;
}

int pii_skip_key(pii_masker *m, const char *key)
{
    char **skip = realloc(m->skip, (m->nskip + 1) * sizeof *skip);
    if (!skip) return -1;
    m->skip = skip;
    size_t *lens = realloc(m->skip_len, (m->nskip + 1) * sizeof *lens);
    if (!lens) return -1;
    m->skip_len = lens;
    if (!(m->skip[m->nskip] = strdup(key))) return -1;
    m->skip_len[m->nskip] = strlen(key);
    m->skip_first[(unsigned char)key[0]] = 1;
    m->nskip++;
    return 0;
}

int pii_add_field(pii_masker *m, const char *spec)
{
    pii_field f = {0};
    size_t cap = 1;
    for (const char *p = spec; *p; p++) cap += *p == '.' || *p == '[';
    f.name = calloc(cap, sizeof *f.name);
    f.index = calloc(cap, sizeof *f.index);
    if (!f.name || !f.index) goto fail;
    const char *p = spec;
    if (!*p) goto bad;
    while (*p) {
        if (*p == '[') {
            const char *q = strchr(p, ']');
            if (!q) goto bad;
            long idx = -1;
            if (q > p + 1) {
                idx = 0;
                for (const char *d = p + 1; d < q; d++) {
                    if (*d < '0' || *d > '9' || idx > 100000000) goto bad;
                    idx = idx * 10 + (*d - '0');
                }
            }
            f.index[f.nseg++] = idx;
            p = q + 1;
            if (*p == '.') {
                p++;
                if (!*p) goto bad;
            } else if (*p && *p != '[') {
                goto bad;
            }
            continue;
        }
        size_t len = strcspn(p, ".[");
        if (len == 0) goto bad;
        if (!(f.name[f.nseg] = strndup(p, len))) goto fail;
        f.nseg++;
        p += len;
        if (*p == '.') {
            p++;
            if (!*p) goto bad;
        }
    }
    if (m->nfields == 64) goto bad; /* the walker keeps them in a 64-bit set */
    pii_field *fields = realloc(m->fields, (m->nfields + 1) * sizeof *fields);
    if (!fields) goto fail;
    m->fields = fields;
    m->fields[m->nfields++] = f;
    return 0;
bad:
    errno = EINVAL;
    goto out;
fail:
    errno = ENOMEM;
out:
    for (size_t k = 0; k < f.nseg; k++) free(f.name[k]);
    free(f.name);
    free(f.index);
    return -1;
}
