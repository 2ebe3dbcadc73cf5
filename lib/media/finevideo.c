/* FineVideo metadata → SFT conversations. See finevideo.h for the rules
 * and the exact layout of the assistant text. */
#include "media/finevideo.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- timestamps ---- */

/* Reads 1 or more digits at *p into *v (capped, to stay finite). */
static int read_digits(const char **p, double *v)
{
    const char *s = *p;
    double x = 0;
    size_t n = 0;
    while (*s >= '0' && *s <= '9') {
        if (n < 12) x = x * 10 + (*s - '0');
        s++, n++;
    }
    if (n == 0 || n >= 12) return -1;
    *v = x;
    *p = s;
    return 0;
}

int fv_parse_timestamp(const char *s, double *sec)
{
    if (!s) return -1;
    double f[3];
    int nf = 0;
    const char *p = s;
    for (;;) {
        if (nf == 3 || read_digits(&p, &f[nf]) != 0) return -1;
        nf++;
        if (*p != ':') break;
        p++;
    }
    double frac = 0;
    if (*p == '.') {
        p++;
        double scale = 0.1;
        if (!(*p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (*p != '\0') return -1;
    double t = 0;
    for (int i = 0; i < nf; i++) {
        if (i > 0 && f[i] >= 60) return -1;
        t = t * 60 + f[i];
    }
    *sec = t + frac;
    return 0;
}

/* ---- parsing ---- */

/* The member name of obj, or NULL when absent or null. */
static const cJSON *member(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

/* Reads the optional string obj.name into *out. Returns 0, or -1 (err set,
 * path names the field) when it is not a string. */
static int get_str(const cJSON *obj, const char *name, const char **out, const char *path, char *err, size_t errlen)
{
    const cJSON *v = member(obj, name);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring) {
        set_err(err, errlen, "%s%s is not a string", path, name);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

/* Reads the optional {start_timestamp, end_timestamp} object obj.name into
 * *start and *end (-1 when unknown). */
static int get_span(fv_meta *m, const cJSON *obj, const char *name, double *start, double *end, const char *path,
                    char *err, size_t errlen)
{
    *start = *end = -1;
    const cJSON *o = member(obj, name);
    if (!o) return 0;
    if (!cJSON_IsObject(o)) {
        set_err(err, errlen, "%s%s is not an object", path, name);
        return -1;
    }
    static const char *const keys[2] = {"start_timestamp", "end_timestamp"};
    double *dst[2] = {start, end};
    for (int i = 0; i < 2; i++) {
        const cJSON *t = member(o, keys[i]);
        if (!t) continue;
        if (!cJSON_IsString(t) || !t->valuestring) {
            set_err(err, errlen, "%s%s.%s is not a string", path, name, keys[i]);
            return -1;
        }
        if (fv_parse_timestamp(t->valuestring, dst[i]) != 0) m->nbad_ts++;
    }
    return 0;
}

int fv_parse_resolution(const char *s, int *w, int *h)
{
    long v[2];
    const char *p = s;
    for (int i = 0; i < 2; i++) {
        if (!(*p >= '1' && *p <= '9')) return -1;
        long x = 0;
        while (*p >= '0' && *p <= '9') {
            x = x * 10 + (*p - '0');
            if (x > 1000000) return -1;
            p++;
        }
        v[i] = x;
        if (i == 0 && *p++ != 'x') return -1;
    }
    if (*p != '\0') return -1;
    *w = (int)v[0];
    *h = (int)v[1];
    return 0;
}

static int parse_scene(fv_meta *m, const cJSON *js, fv_scene *sc, size_t idx, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof path, "content_metadata.scenes[%zu].", idx);
    if (!cJSON_IsObject(js)) {
        set_err(err, errlen, "content_metadata.scenes[%zu] is not an object", idx);
        return -1;
    }
    const cJSON *id = member(js, "sceneId");
    sc->id = (id && cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble <= INT_MAX) ? (int)id->valuedouble
                                                                                               : -1;
    if (get_str(js, "title", &sc->title, path, err, errlen) != 0) return -1;
    if (get_span(m, js, "timestamps", &sc->start, &sc->end, path, err, errlen) != 0) return -1;
    const cJSON *acts = member(js, "activities");
    if (!acts) return 0;
    if (!cJSON_IsArray(acts)) {
        set_err(err, errlen, "%sactivities is not an array", path);
        return -1;
    }
    int n = cJSON_GetArraySize(acts);
    if (n <= 0) return 0;
    sc->acts = calloc((size_t)n, sizeof *sc->acts);
    if (!sc->acts) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    const cJSON *a;
    cJSON_ArrayForEach(a, acts)
    {
        char apath[96];
        snprintf(apath, sizeof apath, "%sactivities[%zu].", path, sc->nacts);
        if (!cJSON_IsObject(a)) {
            set_err(err, errlen, "%sactivities[%zu] is not an object", path, sc->nacts);
            return -1;
        }
        fv_activity *act = &sc->acts[sc->nacts++];
        if (get_str(a, "description", &act->description, apath, err, errlen) != 0) return -1;
        if (get_span(m, a, "timestamp", &act->start, &act->end, apath, err, errlen) != 0) return -1;
    }
    return 0;
}

static int parse_content(fv_meta *m, const cJSON *cm, char *err, size_t errlen)
{
    const char *P = "content_metadata.";
    if (get_str(cm, "title", &m->title, P, err, errlen) != 0) return -1;
    if (get_str(cm, "description", &m->description, P, err, errlen) != 0) return -1;

    const cJSON *scenes = member(cm, "scenes");
    if (scenes) {
        if (!cJSON_IsArray(scenes)) {
            set_err(err, errlen, "content_metadata.scenes is not an array");
            return -1;
        }
        int n = cJSON_GetArraySize(scenes);
        if (n > 0) {
            m->scenes = calloc((size_t)n, sizeof *m->scenes);
            if (!m->scenes) {
                set_err(err, errlen, "out of memory");
                return -1;
            }
            const cJSON *s;
            cJSON_ArrayForEach(s, scenes)
            {
                fv_scene *sc = &m->scenes[m->nscenes++];
                if (parse_scene(m, s, sc, m->nscenes - 1, err, errlen) != 0) return -1;
            }
        }
    }

    const cJSON *qa = member(cm, "qAndA");
    if (qa) {
        if (!cJSON_IsArray(qa)) {
            set_err(err, errlen, "content_metadata.qAndA is not an array");
            return -1;
        }
        int n = cJSON_GetArraySize(qa);
        if (n > 0) {
            m->qa = calloc((size_t)n, sizeof *m->qa);
            if (!m->qa) {
                set_err(err, errlen, "out of memory");
                return -1;
            }
            const cJSON *q;
            cJSON_ArrayForEach(q, qa)
            {
                char qpath[64];
                snprintf(qpath, sizeof qpath, "content_metadata.qAndA[%zu].", m->nqa);
                if (!cJSON_IsObject(q)) {
                    set_err(err, errlen, "content_metadata.qAndA[%zu] is not an object", m->nqa);
                    return -1;
                }
                fv_qa *e = &m->qa[m->nqa++];
                if (get_str(q, "question", &e->question, qpath, err, errlen) != 0) return -1;
                if (get_str(q, "answer", &e->answer, qpath, err, errlen) != 0) return -1;
            }
        }
    }
    return 0;
}

int fv_parse(const cJSON *meta, fv_meta *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->duration = -1;
    if (!meta || !cJSON_IsObject(meta)) {
        set_err(err, errlen, "the FineVideo metadata is not a JSON object");
        return -1;
    }
    const cJSON *d = member(meta, "duration_seconds");
    if (d) {
        if (!cJSON_IsNumber(d) || !isfinite(d->valuedouble) || d->valuedouble < 0) {
            set_err(err, errlen, "duration_seconds is not a number >= 0");
            goto fail;
        }
        out->duration = d->valuedouble;
    }
    const cJSON *r = member(meta, "resolution");
    if (r) {
        if (!cJSON_IsString(r) || !r->valuestring || fv_parse_resolution(r->valuestring, &out->width, &out->height)) {
            set_err(err, errlen, "resolution is not a string WIDTHxHEIGHT");
            goto fail;
        }
    }
    if (get_str(meta, "youtube_title", &out->youtube_title, "", err, errlen) != 0) goto fail;
    const cJSON *cm = member(meta, "content_metadata");
    if (cm) {
        if (!cJSON_IsObject(cm)) {
            set_err(err, errlen, "content_metadata is not an object");
            goto fail;
        }
        if (parse_content(out, cm, err, errlen) != 0) goto fail;
    }
    return 0;
fail:
    fv_meta_free(out);
    return -1;
}

void fv_meta_free(fv_meta *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nscenes; i++) free(m->scenes[i].acts);
    free(m->scenes);
    free(m->qa);
    memset(m, 0, sizeof *m);
    m->duration = -1;
}

/* ---- filters ---- */

int fv_filter(const fv_meta *m, double min_dur, double max_dur, int min_w, int min_h, const char **why)
{
    static _Thread_local char reason[128];
    const char *w = NULL;
    if (min_dur > 0 || max_dur > 0) {
        if (m->duration < 0) {
            w = "no duration in the metadata";
        } else if (min_dur > 0 && m->duration < min_dur) {
            snprintf(reason, sizeof reason, "duration %.1f s < %g s", m->duration, min_dur);
            w = reason;
        } else if (max_dur > 0 && m->duration > max_dur) {
            snprintf(reason, sizeof reason, "duration %.1f s > %g s", m->duration, max_dur);
            w = reason;
        }
    }
    if (!w && (min_w > 0 || min_h > 0)) {
        if (m->width <= 0 || m->height <= 0) {
            w = "no resolution in the metadata";
        } else if (m->width < min_w || m->height < min_h) {
            snprintf(reason, sizeof reason, "resolution %dx%d below %dx%d", m->width, m->height,
                     min_w > 0 ? min_w : 0, min_h > 0 ? min_h : 0);
            w = reason;
        }
    }
    if (why) *why = w;
    return w == NULL;
}

/* ---- the conversation ---- */

/* s without its leading and trailing ASCII whitespace, as *p and *n;
 * returns *n (0 for NULL). */
static size_t trim(const char *s, const char **p, size_t *n)
{
    *p = s;
    *n = 0;
    if (!s) return 0;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') s++;
    size_t len = strlen(s);
    while (len > 0 && strchr(" \t\n\r\f\v", s[len - 1])) len--;
    *p = s;
    *n = len;
    return len;
}

static int put_str(sft_buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

/* Appends the time t as MM:SS, or H:MM:SS from one hour on. */
static int put_time(sft_buf *b, double t)
{
    char tmp[48];
    double f = floor(t);
    if (f > 1e12) f = 1e12;
    long long s = (long long)f;
    if (s >= 3600)
        snprintf(tmp, sizeof tmp, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(tmp, sizeof tmp, "%02lld:%02lld", s / 60, s % 60);
    return put_str(b, tmp);
}

/* Starts a new block: a blank line when something came before. */
static int block_sep(sft_buf *b)
{
    return b->len ? buf_append(b, "\n\n", 2) : 0;
}

static int assistant_text(const fv_meta *m, int nscenes, sft_buf *b)
{
    const char *p;
    size_t n;
    if (!trim(m->title, &p, &n)) trim(m->youtube_title, &p, &n);
    if (n && buf_append(b, p, n)) return -1;
    if (trim(m->description, &p, &n) && (block_sep(b) || buf_append(b, p, n))) return -1;

    size_t ns = nscenes < 0 ? m->nscenes : ((size_t)nscenes < m->nscenes ? (size_t)nscenes : m->nscenes);
    for (size_t i = 0; i < ns; i++) {
        const fv_scene *sc = &m->scenes[i];
        char hdr[48];
        snprintf(hdr, sizeof hdr, "Scene %zu", i + 1);
        if (block_sep(b) || put_str(b, hdr)) return -1;
        if (sc->start >= 0 && sc->end >= 0) {
            if (put_str(b, " (") || put_time(b, sc->start) || put_str(b, "\xe2\x80\x93") || put_time(b, sc->end) ||
                put_str(b, ")"))
                return -1;
        }
        if (trim(sc->title, &p, &n) && (put_str(b, ": ") || buf_append(b, p, n))) return -1;
        for (size_t k = 0; k < sc->nacts; k++) {
            const fv_activity *a = &sc->acts[k];
            if (!trim(a->description, &p, &n)) continue;
            if (put_str(b, "\n- ")) return -1;
            if (a->start >= 0 && (put_str(b, "[") || put_time(b, a->start) || put_str(b, "] "))) return -1;
            if (buf_append(b, p, n)) return -1;
        }
    }
    return buf_putc(b, '\0');
}

/* Adds {"role": role, "content": <string p[0..n)>} to msgs. */
static int add_text_turn(cJSON *msgs, const char *role, const char *p, size_t n, sft_buf *tmp)
{
    tmp->len = 0;
    if (buf_append(tmp, p, n) || buf_putc(tmp, '\0')) return -1;
    cJSON *turn = cJSON_CreateObject();
    if (!turn) return -1;
    cJSON_AddItemToArray(msgs, turn);
    if (!cJSON_AddStringToObject(turn, "role", role) || !cJSON_AddStringToObject(turn, "content", tmp->p)) return -1;
    return 0;
}

static cJSON *add_part(cJSON *parts, const char *type, const char *key, const char *val)
{
    cJSON *part = cJSON_CreateObject();
    if (!part) return NULL;
    cJSON_AddItemToArray(parts, part);
    if (!cJSON_AddStringToObject(part, "type", type) || !cJSON_AddStringToObject(part, key, val)) return NULL;
    return part;
}

cJSON *fv_conversation(const fv_meta *m, const char *const *frame_paths, size_t nframes, const char *prompt,
                       int nscenes, int with_qa, char *err, size_t errlen)
{
    for (size_t i = 0; i < nframes; i++) {
        if (!frame_paths || !frame_paths[i] || !frame_paths[i][0]) {
            set_err(err, errlen, "frame %zu has no path", i);
            return NULL;
        }
    }
    if (!prompt) prompt = FV_DEFAULT_PROMPT;

    sft_buf text = {0}, tmp = {0};
    cJSON *msgs = NULL;
    if (assistant_text(m, nscenes, &text) != 0) goto oom;
    if (text.p[0] == '\0') {
        set_err(err, errlen, "no title, description or scene in the metadata");
        goto fail;
    }

    msgs = cJSON_CreateArray();
    cJSON *user = cJSON_CreateObject();
    if (!msgs || !user) {
        cJSON_Delete(user);
        goto oom;
    }
    cJSON_AddItemToArray(msgs, user);
    cJSON *parts = cJSON_CreateArray();
    if (!cJSON_AddStringToObject(user, "role", "user") || !parts) {
        cJSON_Delete(parts);
        goto oom;
    }
    cJSON_AddItemToObject(user, "content", parts);
    for (size_t i = 0; i < nframes; i++)
        if (!add_part(parts, "image", "path", frame_paths[i])) goto oom;
    if (!add_part(parts, "text", "text", prompt)) goto oom;
    if (add_text_turn(msgs, "assistant", text.p, strlen(text.p), &tmp)) goto oom;

    if (with_qa) {
        for (size_t i = 0; i < m->nqa; i++) {
            const char *q, *a;
            size_t nq, na;
            if (!trim(m->qa[i].question, &q, &nq) || !trim(m->qa[i].answer, &a, &na)) continue;
            if (add_text_turn(msgs, "user", q, nq, &tmp) || add_text_turn(msgs, "assistant", a, na, &tmp)) goto oom;
        }
    }
    buf_free(&text);
    buf_free(&tmp);
    return msgs;
oom:
    set_err(err, errlen, "out of memory");
fail:
    cJSON_Delete(msgs);
    buf_free(&text);
    buf_free(&tmp);
    return NULL;
}
