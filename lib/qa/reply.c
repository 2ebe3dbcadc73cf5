/* The QA pairs in an LLM's reply, and the reply in a chat-completions
 * response body.
 *
 * Models wrap the JSON they are asked for in many ways: a bare array, a
 * ``` or ```json fenced block, prose before and after, an object holding
 * the array (JSON mode), "q"/"a" keys. qa_parse_reply tries candidates in
 * order and takes the first JSON array that holds at least one
 * question/answer object:
 *   1. the value at the start of the text (after whitespace and a BOM);
 *   2. the content of each fenced block (at most MAX_FENCES);
 *   3. the value at each '[' of the text, in order.
 * The first QA array found inside a candidate counts too (nested arrays,
 * {"result":{"pairs":[...]}}). A candidate's end is found by lib/core's
 * strict validator (RFC 8259: trailing commas, comments, single quotes are
 * no JSON), and only a valid value is handed to cJSON, once: the '[' inside
 * a value already searched are skipped. At most MAX_ATTEMPTS candidates may
 * fail, so a hostile reply costs at most MAX_ATTEMPTS + 1 passes over it. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/utf8.h"
#include "qa/qa.h"

#define MAX_ATTEMPTS 64
#define MAX_FENCES 16

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

void qa_pairs_free(qa_pairs *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].question);
        free(p->items[i].answer);
    }
    free(p->items);
    p->items = NULL;
    p->n = p->dropped = 0;
}

void qa_pair_id(const char *source_id, const char *type, const char *lang, size_t index, sft_buf *out)
{
    char num[24];
    int k = snprintf(num, sizeof num, "%zu", index);
    const char *part[] = {source_id ? source_id : "", ":", type ? type : "", ":", lang ? lang : "", ":"};
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++)
        if (buf_append(out, part[i], strlen(part[i])) != 0) return;
    if (buf_append(out, num, (size_t)k) != 0) return;
    /* NUL-terminated for the caller's convenience, not counted in len */
    if (buf_putc(out, '\0') == 0) out->len--;
}

/* ---- one candidate ---- */

/* A trimmed copy of a string item's text, or NULL when it is no string,
 * empty after trimming, or not valid UTF-8. */
static char *trimmed(const cJSON *v)
{
    if (!cJSON_IsString(v) || !v->valuestring) return NULL;
    const char *s = v->valuestring, *e = s + strlen(s);
    while (s < e && is_space(*s)) s++;
    while (e > s && is_space(e[-1])) e--;
    size_t n = (size_t)(e - s);
    if (!n || utf8_invalid_offset((const unsigned char *)s, n) != n) return NULL;
    char *r = malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

/* The first member of obj named one of names (any case). */
static const cJSON *member(const cJSON *obj, const char *const *names)
{
    for (; *names; names++)
        for (const cJSON *c = obj->child; c; c = c->next)
            if (c->string && strcasecmp(c->string, *names) == 0) return c;
    return NULL;
}

static const char *const question_keys[] = {"question", "q", NULL};
static const char *const answer_keys[] = {"answer", "a", NULL};

/* Whether v is an object with a question and an answer member (of any
 * type): what an item of a QA array looks like. */
static int qa_shaped(const cJSON *v)
{
    return cJSON_IsObject(v) && member(v, question_keys) && member(v, answer_keys);
}

/* The array a candidate value stands for: itself; an object's one array
 * member that holds objects (JSON mode: {"pairs":[...]}); NULL otherwise. */
static const cJSON *qa_array(const cJSON *v)
{
    if (cJSON_IsArray(v)) return v;
    if (!cJSON_IsObject(v)) return NULL;
    const cJSON *found = NULL;
    for (const cJSON *c = v->child; c; c = c->next) {
        if (!cJSON_IsArray(c)) continue;
        int objects = 0;
        for (const cJSON *e = c->child; e && !objects; e = e->next) objects = cJSON_IsObject(e);
        if (!objects) continue;
        if (found) return NULL; /* two: which one is meant is not clear */
        found = c;
    }
    return found;
}

typedef enum { CAND_NONE, CAND_EMPTY, CAND_NOQA, CAND_OK, CAND_NOMEM } cand_result;

/* Takes the pairs of the QA array arr (or of the one QA object v) into
 * out. */
static cand_result take(const cJSON *v, qa_pairs *out)
{
    const cJSON *arr = qa_array(v);
    const cJSON *single = !arr && qa_shaped(v) ? v : NULL;
    if (!arr && !single) return CAND_NONE;
    size_t n = single ? 1 : (size_t)cJSON_GetArraySize(arr);
    if (n == 0) return CAND_EMPTY;
    qa_pairs p = {0};
    if (!(p.items = calloc(n, sizeof *p.items))) return CAND_NOMEM;
    const cJSON *e = single ? single : arr->child;
    for (; e; e = single ? NULL : e->next) {
        if (!cJSON_IsObject(e)) {
            p.dropped++;
            continue;
        }
        const cJSON *q = member(e, question_keys), *a = member(e, answer_keys);
        char *qs = q ? trimmed(q) : NULL, *as = qs && a ? trimmed(a) : NULL;
        if (!qs || !as) {
            free(qs);
            free(as);
            p.dropped++;
            continue;
        }
        p.items[p.n].question = qs;
        p.items[p.n++].answer = as;
    }
    if (p.n == 0) {
        qa_pairs_free(&p);
        return CAND_NOQA;
    }
    *out = p;
    return CAND_OK;
}

/* ---- the search ---- */

typedef struct {
    const char *text; /* the reply */
    size_t len;
    int failures;      /* candidates that were no JSON */
    cand_result best;  /* the best failure seen: NOQA > EMPTY > NONE */
    size_t noqa_items; /* items of the first array without QA */
    int parsed_any;    /* some candidate was JSON */
    size_t first_bad;  /* offset of the first candidate that was no JSON */
    size_t done_from[1 + MAX_FENCES], done_to[1 + MAX_FENCES]; /* values searched whole */
    int ndone;
} search;

/* The end of the JSON value at s[off..lim), or 0 when none is there. The
 * strict validator of lib/core (no allocation, one pass) finds it; cJSON
 * then parses only values known to be valid, once each. */
static size_t value_end(const char *s, size_t off, size_t lim)
{
    json_error e;
    if (json_validate(s + off, lim - off, &e) == 0) return lim;
    if (e.msg && strcmp(e.msg, "unexpected text after the JSON value") == 0) return off + e.offset;
    return 0;
}

static void note(search *s, cand_result r, const cJSON *v)
{
    if (r == CAND_NOQA && s->best != CAND_NOQA) {
        const cJSON *arr = qa_array(v);
        s->noqa_items = arr ? (size_t)cJSON_GetArraySize(arr) : 1;
    }
    if (r != CAND_OK && r != CAND_NOMEM && r > s->best) s->best = r;
}

/* The first QA array in the tree under v, in document order. */
static cand_result find_nested(search *s, const cJSON *v, qa_pairs *out)
{
    for (const cJSON *c = v->child; c; c = c->next) {
        if (cJSON_IsArray(c)) {
            cand_result r = take(c, out);
            note(s, r, c);
            if (r == CAND_OK || r == CAND_NOMEM) return r;
        }
        if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
            cand_result r = find_nested(s, c, out);
            if (r == CAND_OK || r == CAND_NOMEM) return r;
        }
    }
    return CAND_NONE;
}

/* Tries the value at text[off..lim). *stop gets the offset after the value
 * (0 when it is no JSON). */
static cand_result try_at(search *s, size_t off, size_t lim, qa_pairs *out, size_t *stop)
{
    *stop = 0;
    if (s->failures >= MAX_ATTEMPTS) return CAND_NONE;
    size_t end = value_end(s->text, off, lim);
    /* (valid JSON that cJSON cannot hold, out of memory: as no JSON) */
    cJSON *v = end ? cJSON_ParseWithLength(s->text + off, end - off) : NULL;
    if (!v) {
        if (!s->failures++) s->first_bad = off;
        return CAND_NONE;
    }
    s->parsed_any = 1;
    *stop = end;
    cand_result r = take(v, out);
    note(s, r, v);
    if (r != CAND_OK && r != CAND_NOMEM) r = find_nested(s, v, out);
    if (s->ndone < 1 + MAX_FENCES) {
        s->done_from[s->ndone] = off;
        s->done_to[s->ndone++] = end;
    }
    cJSON_Delete(v);
    return r;
}

int qa_parse_reply(const char *text, size_t len, qa_pairs *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text) len = 0;
    search s = {.text = text, .len = len};
    cand_result r = CAND_NONE;
    size_t stop;

    /* 1. the value at the start */
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) i = 3;
    while (i < len && is_space(text[i])) i++;
    if (i < len && (text[i] == '[' || text[i] == '{')) r = try_at(&s, i, len, out, &stop);

    /* 2. fenced blocks: ``` or ```lang, up to the next ``` */
    size_t from = 0;
    for (int k = 0; r != CAND_OK && r != CAND_NOMEM && k < MAX_FENCES; k++) {
        const char *f = from + 3 <= len ? memmem(text + from, len - from, "```", 3) : NULL;
        if (!f) break;
        size_t a = (size_t)(f - text) + 3;
        while (a < len && text[a] == '`') a++;
        /* the info string (json, JSON, javascript…) ends the line */
        size_t b = a;
        while (b < len && text[b] != '\n' && text[b] != '[' && text[b] != '{') b++;
        const char *g = b + 3 <= len ? memmem(text + b, len - b, "```", 3) : NULL;
        size_t e = g ? (size_t)(g - text) : len; /* an unclosed fence runs to the end */
        while (b < e && is_space(text[b])) b++;
        if (b < e && (text[b] == '[' || text[b] == '{')) r = try_at(&s, b, e, out, &stop);
        if (!g) break;
        from = e + 3;
    }

    /* 3. every '[' in turn, but those inside a value already searched */
    size_t pos = 0;
    while (r != CAND_OK && r != CAND_NOMEM && s.failures < MAX_ATTEMPTS && pos < len) {
        const char *br = memchr(text + pos, '[', len - pos);
        if (!br) break;
        size_t off = (size_t)(br - text);
        int inside = 0;
        for (int d = 0; d < s.ndone && !inside; d++)
            if (off >= s.done_from[d] && off < s.done_to[d]) inside = 1, pos = s.done_to[d];
        if (inside) continue;
        r = try_at(&s, off, len, out, &stop);
        pos = stop > off ? stop : off + 1;
    }

    if (r == CAND_OK) return 0;
    if (r == CAND_NOMEM) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    const char *more = s.failures >= MAX_ATTEMPTS ? " (gave up after 64 candidates that were not JSON)" : "";
    if (s.best == CAND_NOQA)
        seterr(err, errlen, "the array holds no question/answer object (%zu item%s, none with non-empty "
               "string question and answer)%s", s.noqa_items, s.noqa_items == 1 ? "" : "s", more);
    else if (s.best == CAND_EMPTY)
        seterr(err, errlen, "the JSON array in the reply is empty%s", more);
    else if (s.failures)
        seterr(err, errlen, "no valid JSON array in the reply (byte %zu on is not JSON: cut off, trailing "
               "comma or comment?)%s", s.first_bad, more);
    else if (s.parsed_any)
        seterr(err, errlen, "no JSON array of question/answer objects in the reply");
    else
        seterr(err, errlen, "no JSON array in the reply");
    return -1;
}

/* ---- the response body ---- */

static int64_t usage_count(const cJSON *usage, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, name);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9e18) return -1;
    return (int64_t)v->valuedouble;
}

/* Joins the text parts of a content array into one string item that
 * replaces it in msg. Returns that string, or NULL when no part has text. */
static const char *join_parts(cJSON *msg, cJSON *content, int *nomem)
{
    sft_buf b = {0};
    int any = 0;
    *nomem = 0;
    for (const cJSON *p = content->child; p; p = p->next) {
        const cJSON *t = NULL;
        if (cJSON_IsString(p)) {
            t = p;
        } else if (cJSON_IsObject(p)) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
            if (cJSON_IsString(type) && strcmp(type->valuestring, "text") != 0 &&
                strcmp(type->valuestring, "output_text") != 0)
                continue;
            t = cJSON_GetObjectItemCaseSensitive(p, "text");
        }
        if (!cJSON_IsString(t)) continue;
        any = 1;
        if (buf_append(&b, t->valuestring, strlen(t->valuestring)) != 0) goto nomem;
    }
    if (!any) return NULL;
    if (buf_putc(&b, '\0') != 0) goto nomem;
    cJSON *s = cJSON_CreateString(b.p);
    buf_free(&b);
    if (!s) {
        *nomem = 1;
        return NULL;
    }
    cJSON_ReplaceItemViaPointer(msg, content, s);
    return s->valuestring;
nomem:
    buf_free(&b);
    *nomem = 1;
    return NULL;
}

const char *qa_completion_content(const char *body, size_t len, cJSON **json, int64_t *tokens_in,
                                  int64_t *tokens_out, char *err, size_t errlen)
{
    if (tokens_in) *tokens_in = -1;
    if (tokens_out) *tokens_out = -1;
    *json = NULL;
    const char *end = NULL;
    cJSON *root = body ? cJSON_ParseWithLengthOpts(body, len, &end, 0) : NULL;
    if (root && end) /* nothing but whitespace after the value */
        for (size_t i = (size_t)(end - body); i < len; i++)
            if (!is_space(body[i])) {
                cJSON_Delete(root);
                root = NULL;
                break;
            }
    if (!root) {
        seterr(err, errlen, "not JSON");
        return NULL;
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        if (tokens_in) *tokens_in = usage_count(usage, "prompt_tokens");
        if (tokens_out) *tokens_out = usage_count(usage, "completion_tokens");
    }
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    cJSON *choice = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    cJSON *msg = cJSON_IsObject(choice) ? cJSON_GetObjectItemCaseSensitive(choice, "message") : NULL;
    cJSON *content = cJSON_IsObject(msg) ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    const cJSON *finish = cJSON_IsObject(choice) ? cJSON_GetObjectItemCaseSensitive(choice, "finish_reason") : NULL;
    const char *text = NULL;
    if (!choice && error) {
        const cJSON *m = cJSON_IsObject(error) ? cJSON_GetObjectItemCaseSensitive(error, "message") : error;
        seterr(err, errlen, "the API answered with an error: %.200s",
               cJSON_IsString(m) ? m->valuestring : "(no message)");
        goto fail;
    }
    if (!cJSON_IsObject(root) || !cJSON_IsArray(choices)) {
        seterr(err, errlen, "no choices in the response");
        goto fail;
    }
    if (!choice) {
        seterr(err, errlen, "choices is empty");
        goto fail;
    }
    if (cJSON_IsString(finish) && strcmp(finish->valuestring, "length") == 0) {
        seterr(err, errlen, "finish_reason length: the reply was cut");
        goto fail;
    }
    if (cJSON_IsString(content)) {
        text = content->valuestring;
    } else if (cJSON_IsArray(content)) {
        int nomem;
        text = join_parts(msg, content, &nomem);
        if (!text && nomem) {
            seterr(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (!text) {
        const cJSON *refusal = cJSON_IsObject(msg) ? cJSON_GetObjectItemCaseSensitive(msg, "refusal") : NULL;
        if (cJSON_IsString(refusal))
            seterr(err, errlen, "the model refused: %.200s", refusal->valuestring);
        else if (cJSON_IsString(finish) && strcmp(finish->valuestring, "stop") != 0)
            seterr(err, errlen, "no choices[0].message.content (finish_reason %.40s)", finish->valuestring);
        else
            seterr(err, errlen, "no choices[0].message.content");
        goto fail;
    }
    *json = root;
    return text;
fail:
    cJSON_Delete(root);
    return NULL;
}
