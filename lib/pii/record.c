/* Masking JSON records: a walk over the validated text that copies every
 * byte and rewrites only the string values in scope that hold personal
 * data, so numbers, key order, spacing and untouched strings come out as
 * they went in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/out.h"
#include "pii/internal.h"

typedef struct {
    pii_masker *m;
    const char *s, *end;
    sft_buf *out;
    size_t copied;      /* bytes of s already passed to out */
    int changed;
    pii_record_result *res;
} walk;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int is_skipped(const pii_masker *m, const char *key, size_t n)
{
    if (n == 0 || !(m->skip_first[(unsigned char)key[0]])) return 0;
    for (size_t i = 0; i < m->nskip; i++)
        if (m->skip_len[i] == n && memcmp(m->skip[i], key, n) == 0) return 1;
    return 0;
}

/* Patterns (bit i: m->fields[i]) still matching after one more step at
 * depth: a key (key != NULL) or array index idx. *complete is set when one
 * of them ends there. */
static uint64_t step_fields(const pii_masker *m, uint64_t active, size_t depth, const char *key, size_t klen,
                            long idx, int *complete)
{
    uint64_t next = 0;
    *complete = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        if (!(active >> i & 1)) continue;
        const pii_field *f = &m->fields[i];
        if (depth >= f->nseg) continue;
        const char *name = f->name[depth];
        int match = key ? name && strlen(name) == klen && memcmp(name, key, klen) == 0
                        : !name && (f->index[depth] < 0 || f->index[depth] == idx);
        if (!match) continue;
        next |= (uint64_t)1 << i;
        if (depth + 1 == f->nseg) *complete = 1;
    }
    return next;
}

static int path_push_key(pii_masker *m, const char *key, size_t n)
{
    if (m->path.len && (buf_putc(&m->path, '.') != 0 || buf_putc(&m->field, '.') != 0)) return -1;
    return buf_append(&m->path, key, n) != 0 || buf_append(&m->field, key, n) != 0 ? -1 : 0;
}

static int path_push_index(pii_masker *m, size_t idx)
{
    char num[32];
    int len = snprintf(num, sizeof num, "[%zu]", idx);
    return buf_append(&m->path, num, (size_t)len) != 0 || buf_append(&m->field, "[]", 2) != 0 ? -1 : 0;
}

static size_t count_code_points(const char *s, size_t from, size_t to)
{
    size_t k = 0;
    for (size_t i = from; i < to; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static int note_masks(walk *w, const char *text, const pii_span *spans, int nspans)
{
    pii_masker *m = w->m;
    if (m->ninfos + (size_t)nspans > m->infocap) {
        size_t cap = m->infocap ? m->infocap : 16;
        while (cap < m->ninfos + (size_t)nspans) cap *= 2;
        pii_mask_info *infos = realloc(m->infos, cap * sizeof *infos);
        if (!infos) return -1;
        m->infos = infos;
        m->infocap = cap;
    }
    /* Paths go into infos_text; the pointers are set once the record is
     * done (the buffer may move until then), offsets kept meanwhile. */
    size_t path_off = m->infos_text.len;
    if (buf_append(&m->infos_text, m->path.p ? m->path.p : "", m->path.len) != 0 ||
        buf_putc(&m->infos_text, '\0') != 0)
        return -1;
    size_t field_off = m->infos_text.len;
    if (buf_append(&m->infos_text, m->field.p ? m->field.p : "", m->field.len) != 0 ||
        buf_putc(&m->infos_text, '\0') != 0)
        return -1;
    size_t at = 0, cp = 0;
    for (int i = 0; i < nspans; i++) {
        cp += count_code_points(text, at, spans[i].start);
        size_t start = cp;
        cp += count_code_points(text, spans[i].start, spans[i].end);
        at = spans[i].end;
        m->infos[m->ninfos++] = (pii_mask_info){(const char *)(uintptr_t)path_off,
                                                (const char *)(uintptr_t)field_off, spans[i].type,
                                                (uint32_t)start, (uint32_t)cp};
    }
    return 0;
}

static int mask_string(walk *w, const char *q0, const char *q1, int escaped)
{
    pii_masker *m = w->m;
    const char *text = q0 + 1;
    size_t n = (size_t)(q1 - q0 - 2);
    w->res->strings++;
    if (escaped) {
        json_value v = {JSON_STRING, q0, (size_t)(q1 - q0)};
        m->scratch.len = 0;
        if (json_string_decode(&v, &m->scratch) != 0) return -1;
        text = m->scratch.p ? m->scratch.p : "";
        n = m->scratch.len;
    }
    const pii_span *spans;
    int k = pii_find(m, text, n, &spans);
    if (k <= 0) return k;
    w->res->strings_masked++;
    m->replaced.len = 0;
    if (pii_replace(m, text, n, spans, k, &m->replaced) != 0) return -1;
    if (buf_append(w->out, w->s + w->copied, (size_t)(q0 - w->s) - w->copied) != 0 ||
        buf_json_string(w->out, m->replaced.p, m->replaced.len) != 0)
        return -1;
    w->copied = (size_t)(q1 - w->s);
    w->changed = 1;
    return note_masks(w, text, spans, k);
}

/* Walks the value at p. in_scope: its strings are masked (skipped keys
 * inside it still apply, unless a --field path names them); active: the
 * --field paths (bits of m->fields) that may still match below it, after
 * depth steps. Returns the end of the value, or NULL on ENOMEM. */
static const char *walk_value(walk *w, const char *p, int in_scope, uint64_t active, size_t depth)
{
    pii_masker *m = w->m;
    p = skip_ws(p, w->end);
    if (p >= w->end) return p;
    if (*p == '"') {
        int escaped = 0;
        const char *q = json_string_end(p, w->end, &escaped);
        if (in_scope && mask_string(w, p, q, escaped) != 0) return NULL;
        return q;
    }
    if (*p == '{' || *p == '[') {
        int object = *p == '{';
        char close = object ? '}' : ']';
        size_t path_len = m->path.len, field_len = m->field.len;
        size_t idx = 0;
        p = skip_ws(p + 1, w->end);
        while (p < w->end && *p != close) {
            int child_scope = in_scope, complete = 0;
            uint64_t child_active = 0;
            if (object) {
                int escaped = 0;
                const char *k1 = json_string_end(p, w->end, &escaped);
                const char *key = p + 1;
                size_t klen = (size_t)(k1 - p - 2);
                if (m->nfields) child_active = step_fields(m, active, depth, key, klen, 0, &complete);
                if (complete) child_scope = 1;
                else if (is_skipped(m, key, klen)) child_scope = 0;
                if (path_push_key(m, key, klen) != 0) return NULL;
                p = skip_ws(k1, w->end);
                p++; /* ':' */
            } else {
                if (m->nfields) child_active = step_fields(m, active, depth, NULL, 0, (long)idx, &complete);
                if (complete) child_scope = 1;
                if (path_push_index(m, idx) != 0) return NULL;
            }
            if (child_scope || child_active) {
                p = walk_value(w, p, child_scope, child_active, depth + 1);
                if (!p) return NULL;
            } else {
                p = json_skip_value(skip_ws(p, w->end), w->end); /* nothing to mask in it */
            }
            m->path.len = path_len;
            m->field.len = field_len;
            idx++;
            p = skip_ws(p, w->end);
            if (p < w->end && *p == ',') p = skip_ws(p + 1, w->end);
        }
        return p < w->end ? p + 1 : p;
    }
    return json_skip_value(p, w->end);
}

int pii_mask_record(pii_masker *m, const char *json, size_t n, sft_buf *out, pii_record_result *res)
{
    walk w = {m, json, json + n, out, 0, 0, res};
    memset(res, 0, sizeof *res);
    m->ninfos = 0;
    m->infos_text.len = 0;
    m->path.len = 0;
    m->field.len = 0;
    size_t out_len = out->len;
    uint64_t all = m->nfields == 64 ? ~(uint64_t)0 : ((uint64_t)1 << m->nfields) - 1;
    if (!walk_value(&w, json, m->nfields == 0, all, 0)) {
        out->len = out_len;
        errno = ENOMEM;
        return -1;
    }
    if (!w.changed) return 0;
    if (buf_append(out, json + w.copied, n - w.copied) != 0) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < m->ninfos; i++) {
        m->infos[i].path = m->infos_text.p + (uintptr_t)m->infos[i].path;
        m->infos[i].field = m->infos_text.p + (uintptr_t)m->infos[i].field;
    }
    res->nmasks = m->ninfos;
    res->masks = m->infos;
    return 1;
}

/* Whether a string was already learnt from (one probe in a hash set). */
static int seen_before(pii_masker *m, const char *s, size_t n, int *err)
{
    uint64_t h = xxh64(s, n, 0x7370656b) | 1;
    *err = 0;
    if (m->nseen * 2 >= m->seencap) {
        size_t cap = m->seencap ? m->seencap * 2 : 64;
        uint64_t *seen = calloc(cap, sizeof *seen);
        if (!seen) { *err = 1; return 0; }
        for (size_t i = 0; i < m->seencap; i++) {
            if (!m->seen[i]) continue;
            size_t k = m->seen[i] & (cap - 1);
            while (seen[k]) k = (k + 1) & (cap - 1);
            seen[k] = m->seen[i];
        }
        free(m->seen);
        m->seen = seen;
        m->seencap = cap;
    }
    size_t k = h & (m->seencap - 1);
    while (m->seen[k] && m->seen[k] != h) k = (k + 1) & (m->seencap - 1);
    if (m->seen[k]) return 1;
    m->seen[k] = h;
    m->nseen++;
    return 0;
}

static int learn_string(pii_masker *m, const json_value *v, int system)
{
    m->scratch.len = 0;
    if (json_string_decode(v, &m->scratch) != 0) return -1;
    const char *s = m->scratch.p ? m->scratch.p : "";
    int err;
    if (seen_before(m, s, m->scratch.len, &err)) return 0;
    if (err) return -1;
    return system ? pii_add_system_names(m, s, m->scratch.len) : pii_add_speaker(m, s, m->scratch.len);
}

static int key_is(const char *k, const char *k1, const char *name, size_t len)
{
    return (size_t)(k1 - k) == len + 2 && memcmp(k + 1, name, len) == 0;
}

int pii_learn_speaker(pii_masker *m, const char *json, size_t n)
{
    /* One pass over the top-level members for speaker, kind and text. */
    const char *p = json, *end = json + n;
    json_value speaker = {0}, text = {0};
    int system = 0;
    while (p < end && *p != '{') p++;
    p++;
    for (;;) {
        while (p < end && *p != '"' && *p != '}') p++;
        if (p >= end || *p == '}') break;
        int escaped = 0;
        const char *k = p, *k1 = json_string_end(p, end, &escaped);
        p = k1;
        while (p < end && *p != ':') p++;
        p++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        const char *v1 = json_skip_value(p, end);
        if (*p == '"') {
            json_value v = {JSON_STRING, p, (size_t)(v1 - p)};
            if (key_is(k, k1, "speaker", 7) && !speaker.p) speaker = v;
            else if (key_is(k, k1, "text", 4) && !text.p) text = v;
            else if (key_is(k, k1, "kind", 4) && v.n == 8 && memcmp(p, "\"system\"", 8) == 0) system = 1;
        }
        p = v1;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')) p++;
    }
    int added = 0, r;
    if (speaker.p) {
        if ((r = learn_string(m, &speaker, 0)) < 0) return -1;
        added += r;
    }
    if (system && text.p) {
        if ((r = learn_string(m, &text, 1)) < 0) return -1;
        added += r;
    }
    return added;
}
