/* The tokenizer handle: picks the backend (tokenizer.json or a SentencePiece
 * .model), reads tokenizer_config.json beside it, matches added and special
 * tokens in the text before the backend sees it, and adds what the
 * post-processor adds. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "tok/internal.h"
#include "tok/spm.h"
#include "tok/tok.h"

struct tok_trie_node {
    uint32_t child, sibling; /* node indexes, 0 = none (node 0 is the root) */
    int32_t token;           /* index into tok, -1 = not the end of one */
    unsigned char byte;
};

struct sft_tok {
    tok_hf *hf;
    sft_spm *spm;
    tok_added_set added;
    int32_t pre[8], post[8]; /* SentencePiece: BOS/EOS as tokenizer_config.json says */
    size_t npre, npost;
    int32_t bos, eos;
    uint8_t *special;        /* per id: a special token (skipped when decoding with skip_special) */
    char *chat_template, *bos_token, *eos_token;
    char desc[160];
};

struct sft_tok_worker {
    const sft_tok *t;
    tok_hf_worker *hf;
};

/* ---- token lists ---- */

void sft_tokens_free(sft_tokens *t)
{
    free(t->ids);
    free(t->start);
    free(t->end);
    memset(t, 0, sizeof *t);
}

static int tokens_grow(sft_tokens *t)
{
    size_t c = t->cap ? 2 * t->cap : 256;
    int32_t *ids = realloc(t->ids, c * sizeof *ids);
    if (!ids) return -1;
    t->ids = ids;
    uint32_t *s = realloc(t->start, c * sizeof *s);
    if (!s) return -1;
    t->start = s;
    uint32_t *e = realloc(t->end, c * sizeof *e);
    if (!e) return -1;
    t->end = e;
    t->cap = c;
    return 0;
}

int sft_tokens_push(sft_tokens *t, int32_t id, uint32_t start, uint32_t end)
{
    if (t->n == t->cap && tokens_grow(t) != 0) return -1;
    t->ids[t->n] = id;
    t->start[t->n] = start;
    t->end[t->n] = end;
    t->n++;
    return 0;
}

/* ---- added tokens ---- */

int tok_added_add(tok_added_set *a, const tok_added *t, const char *content, size_t len)
{
    if (a->n % 64 == 0) {
        tok_added *p = realloc(a->tok, (a->n + 64) * sizeof *p);
        if (!p) return -1;
        a->tok = p;
    }
    if (a->arena_len + len > a->arena_cap) {
        size_t c = a->arena_cap ? a->arena_cap : 1024;
        while (c < a->arena_len + len) c *= 2;
        char *p = realloc(a->arena, c);
        if (!p) return -1;
        a->arena = p;
        a->arena_cap = c;
    }
    memcpy(a->arena + a->arena_len, content, len);
    a->tok[a->n] = *t;
    a->tok[a->n].off = (uint32_t)a->arena_len;
    a->tok[a->n].len = (uint32_t)len;
    a->arena_len += len;
    a->n++;
    return 0;
}

static long trie_node(tok_added_set *a)
{
    if (a->nnodes == a->nodes_cap) {
        size_t c = a->nodes_cap ? 2 * a->nodes_cap : 256;
        struct tok_trie_node *p = realloc(a->node, c * sizeof *p);
        if (!p) return -1;
        a->node = p;
        a->nodes_cap = c;
    }
    a->node[a->nnodes] = (struct tok_trie_node){0, 0, -1, 0};
    return (long)a->nnodes++;
}

int tok_added_build(tok_added_set *a)
{
    a->nnodes = 0;
    memset(a->first, 0, sizeof a->first);
    if (trie_node(a) < 0) return -1;
    for (size_t i = 0; i < a->n; i++) {
        const unsigned char *s = (const unsigned char *)a->arena + a->tok[i].off;
        uint32_t at = 0;
        a->first[s[0]] = 1;
        for (uint32_t k = 0; k < a->tok[i].len; k++) {
            uint32_t c = a->node[at].child;
            while (c && a->node[c].byte != s[k]) c = a->node[c].sibling;
            if (!c) {
                long nn = trie_node(a);
                if (nn < 0) return -1;
                c = (uint32_t)nn;
                a->node[c].byte = s[k];
                a->node[c].sibling = a->node[at].child;
                a->node[at].child = c;
            }
            at = c;
        }
        if (a->node[at].token < 0) a->node[at].token = (int32_t)i; /* the first definition wins */
    }
    return 0;
}

void tok_added_free(tok_added_set *a)
{
    free(a->tok);
    free(a->arena);
    free(a->node);
    memset(a, 0, sizeof *a);
}

static int word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c >= 0x80;
}

static int space_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

long tok_added_find(const tok_added_set *a, const char *s, size_t n, size_t from, size_t *ms,
                    size_t *me)
{
    if (!a->n) return -1;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t p = from; p < n; p++) {
        if (!a->first[u[p]]) continue;
        uint32_t at = 0;
        long best = -1;
        size_t best_end = 0;
        for (size_t q = p; q < n; q++) {
            uint32_t c = a->node[at].child;
            while (c && a->node[c].byte != u[q]) c = a->node[c].sibling;
            if (!c) break;
            at = c;
            if (a->node[at].token >= 0) {
                best = a->node[at].token;
                best_end = q + 1;
            }
        }
        if (best < 0) continue;
        const tok_added *t = &a->tok[best];
        if (t->single_word && ((p > 0 && word_byte(u[p - 1])) || (best_end < n && word_byte(u[best_end]))))
            continue;
        size_t s0 = p, e0 = best_end;
        if (t->lstrip)
            while (s0 > from && space_byte(u[s0 - 1])) s0--;
        if (t->rstrip)
            while (e0 < n && space_byte(u[e0])) e0++;
        *ms = s0;
        *me = e0;
        return best;
    }
    return -1;
}

/* ---- loading ---- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    sft_buf b = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + k > max || buf_append(&b, chunk, k) != 0) {
            buf_free(&b);
            fclose(f);
            return NULL;
        }
    }
    fclose(f);
    if (buf_putc(&b, '\0') != 0) {
        buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* A token in tokenizer_config.json: "<bos>" or {"content": "<bos>", ...}. */
static char *config_token(const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

/* Reads tokenizer_config.json (and chat_template.jinja, which newer
 * transformers write instead) from dir. Missing files are no error; a
 * config that is not JSON is. */
static int load_config(sft_tok *t, const char *dir, int *add_bos, int *add_eos, char *err,
                       size_t errlen)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= (int)sizeof path) return 0;
    if (exists(path)) {
        char *text = slurp(path, 64u << 20);
        cJSON *cfg = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (!cJSON_IsObject(cfg)) {
            cJSON_Delete(cfg);
            seterr(err, errlen, "%s: not a JSON object", path);
            return -1;
        }
        t->bos_token = config_token(cfg, "bos_token");
        t->eos_token = config_token(cfg, "eos_token");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsString(ct)) {
            t->chat_template = strdup(ct->valuestring);
        } else if (cJSON_IsArray(ct)) { /* [{"name": "default", "template": ...}, ...] */
            const cJSON *e;
            cJSON_ArrayForEach(e, ct)
            {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
                const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(e, "template");
                if (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0 &&
                    cJSON_IsString(tpl))
                    t->chat_template = strdup(tpl->valuestring);
            }
        }
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
        if (cJSON_IsBool(ab)) *add_bos = cJSON_IsTrue(ab);
        if (cJSON_IsBool(ae)) *add_eos = cJSON_IsTrue(ae);
        cJSON_Delete(cfg);
    }
    if (snprintf(path, sizeof path, "%s/chat_template.jinja", dir) >= (int)sizeof path) return 0;
    if (!t->chat_template && exists(path)) t->chat_template = slurp(path, 16u << 20);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A file is a tokenizer.json when its first non-blank byte is '{'. */
static int looks_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t') {}
    fclose(f);
    return c == '{';
}

static int load_spm(sft_tok *t, const char *path, char *err, size_t errlen)
{
    t->spm = sft_spm_load(path, err, errlen);
    if (!t->spm) return -1;
    /* <s>, </s>, <unk> written in the text are those tokens, as in HF's
     * slow tokenizers; sentencepiece itself handles user-defined pieces. */
    size_t n = sft_spm_vocab_size(t->spm);
    for (size_t id = 0; id < n; id++) {
        if (!sft_spm_is_control(t->spm, (int32_t)id) && !sft_spm_is_unknown(t->spm, (int32_t)id))
            continue;
        size_t len;
        const char *piece = sft_spm_piece(t->spm, (int32_t)id, &len);
        if (!piece || !len) continue;
        tok_added a = {.id = (int32_t)id, .special = 1};
        if (tok_added_add(&t->added, &a, piece, len) != 0) return -1;
    }
    if (tok_added_build(&t->added) != 0) return -1;
    snprintf(t->desc, sizeof t->desc, "sentencepiece (%s, %zu pieces)", sft_spm_model_type(t->spm), n);
    return 0;
}

sft_tok *sft_tok_load(const char *path, char *err, size_t errlen)
{
    sft_tok *t = calloc(1, sizeof *t);
    if (!t) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    char file[4200], dir[4096];
    if (is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(file, sizeof file, "%s/tokenizer.json", path);
        if (!exists(file)) snprintf(file, sizeof file, "%s/tokenizer.model", path);
        if (!exists(file)) {
            seterr(err, errlen, "%s: no tokenizer.json or tokenizer.model in this directory", path);
            goto fail;
        }
    } else {
        snprintf(file, sizeof file, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        if (!exists(file)) {
            seterr(err, errlen, "%s: %s", path, errno ? strerror(errno) : "not a regular file");
            goto fail;
        }
    }
    int add_bos = -1, add_eos = -1;
    char why[512] = "";
    if (ends_with(file, ".json") || looks_json(file)) {
        t->hf = tok_hf_load(file, &t->added, why, sizeof why);
        if (!t->hf) {
            seterr(err, errlen, "%s: %s", file, why);
            goto fail;
        }
        snprintf(t->desc, sizeof t->desc, "%s", tok_hf_describe(t->hf));
    } else if (load_spm(t, file, why, sizeof why) != 0) {
        seterr(err, errlen, "%s: %s", file, *why ? why : "out of memory");
        goto fail;
    }
    if (load_config(t, dir, &add_bos, &add_eos, err, errlen) != 0) goto fail;
    size_t nv = sft_tok_vocab_size(t);
    if (!(t->special = calloc(nv ? nv : 1, 1))) {
        seterr(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.tok[i].special && (size_t)t->added.tok[i].id < nv) t->special[t->added.tok[i].id] = 1;
    t->bos = t->bos_token ? sft_tok_piece_id(t, t->bos_token, strlen(t->bos_token)) : -1;
    t->eos = t->eos_token ? sft_tok_piece_id(t, t->eos_token, strlen(t->eos_token)) : -1;
    if (t->hf) {
        if (t->bos < 0) t->bos = tok_hf_special_id(t->hf, 0);
        if (t->eos < 0) t->eos = tok_hf_special_id(t->hf, 1);
    } else {
        if (t->bos < 0) t->bos = sft_spm_bos(t->spm);
        if (t->eos < 0) t->eos = sft_spm_eos(t->spm);
        /* LlamaTokenizer's defaults: BOS yes, EOS no */
        if (add_bos != 0 && t->bos >= 0) t->pre[t->npre++] = t->bos;
        if (add_eos == 1 && t->eos >= 0) t->post[t->npost++] = t->eos;
    }
    return t;
fail:
    sft_tok_free(t);
    return NULL;
}

void sft_tok_free(sft_tok *t)
{
    if (!t) return;
    tok_hf_free(t->hf);
    sft_spm_free(t->spm);
    tok_added_free(&t->added);
    free(t->special);
    free(t->chat_template);
    free(t->bos_token);
    free(t->eos_token);
    free(t);
}

const char *sft_tok_describe(const sft_tok *t) { return t->desc; }

const char *sft_tok_config(const sft_tok *t, const char *key)
{
    if (strcmp(key, "chat_template") == 0) return t->chat_template;
    if (strcmp(key, "bos_token") == 0) return t->bos_token;
    if (strcmp(key, "eos_token") == 0) return t->eos_token;
    return NULL;
}

size_t sft_tok_vocab_size(const sft_tok *t)
{
    return t->hf ? tok_hf_bpe(t->hf)->n : sft_spm_vocab_size(t->spm);
}

int32_t sft_tok_piece_id(const sft_tok *t, const char *piece, size_t len)
{
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.tok[i].len == len && memcmp(t->added.arena + t->added.tok[i].off, piece, len) == 0)
            return t->added.tok[i].id;
    return t->hf ? tok_bpe_lookup_piece(tok_hf_bpe(t->hf), piece, len)
                 : sft_spm_piece_id(t->spm, piece, len);
}

const char *sft_tok_piece(const sft_tok *t, int32_t id, size_t *len)
{
    if (t->spm) return sft_spm_piece(t->spm, id, len);
    const tok_bpe *b = tok_hf_bpe(t->hf);
    if (id < 0 || (size_t)id >= b->n || b->len[id] == UINT32_MAX) return NULL;
    *len = b->len[id];
    return b->arena + b->off[id];
}

int sft_tok_is_special(const sft_tok *t, int32_t id)
{
    return id >= 0 && (size_t)id < sft_tok_vocab_size(t) && t->special[id];
}

int32_t sft_tok_bos(const sft_tok *t) { return t->bos; }
int32_t sft_tok_eos(const sft_tok *t) { return t->eos; }

/* ---- encoding ---- */

sft_tok_worker *sft_tok_worker_new(const sft_tok *t)
{
    sft_tok_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->t = t;
    if (t->hf && !(w->hf = tok_hf_worker_new(t->hf))) {
        free(w);
        return NULL;
    }
    return w;
}

void sft_tok_worker_free(sft_tok_worker *w)
{
    if (!w) return;
    tok_hf_worker_free(w->hf);
    free(w);
}

typedef struct {
    sft_tokens *out;
    uint32_t base;
} spm_ctx;

static int spm_emit(void *c, int32_t id, uint32_t s, uint32_t e)
{
    spm_ctx *x = c;
    return sft_tokens_push(x->out, id, x->base + s, x->base + e);
}

static int encode_plain(sft_tok_worker *w, const char *s, size_t n, uint32_t base, unsigned flags,
                        int at_start, sft_tokens *out)
{
    if (n == 0) return 0;
    if (w->hf) return tok_hf_encode_plain(w->hf, s, n, base, at_start, out);
    spm_ctx x = {out, base};
    return flags & SFT_TOK_NO_OFFSETS ? sft_spm_encode_ids(w->t->spm, s, n, spm_emit, &x)
                                      : sft_spm_encode(w->t->spm, s, n, spm_emit, &x);
}

int sft_tok_encode(sft_tok_worker *w, const char *text, size_t len, unsigned flags, uint32_t base,
                   sft_tokens *out)
{
    const sft_tok *t = w->t;
    if (!text) text = ""; /* NULL with length 0 is an empty text */
    const int32_t *pre = t->pre, *post = t->post;
    size_t npre = t->npre, npost = t->npost;
    if (t->hf) tok_hf_post(t->hf, &pre, &npre, &post, &npost);
    if (flags & SFT_TOK_ADD_SPECIAL)
        for (size_t i = 0; i < npre; i++)
            if (sft_tokens_push(out, pre[i], base, base) != 0) return -1;
    size_t at = 0, ms, me;
    long k;
    int match = t->hf || (flags & SFT_TOK_SPECIAL_TEXT);
    while (match && (k = tok_added_find(&t->added, text, len, at, &ms, &me)) >= 0) {
        if (encode_plain(w, text + at, ms - at, base + (uint32_t)at, flags, at == 0, out) != 0 ||
            sft_tokens_push(out, t->added.tok[k].id, base + (uint32_t)ms, base + (uint32_t)me) != 0)
            return -1;
        at = me;
    }
    if (encode_plain(w, text + at, len - at, base + (uint32_t)at, flags, at == 0, out) != 0) return -1;
    if (flags & SFT_TOK_ADD_SPECIAL)
        for (size_t i = 0; i < npost; i++)
            if (sft_tokens_push(out, post[i], base + (uint32_t)len, base + (uint32_t)len) != 0)
                return -1;
    return 0;
}

int sft_tok_decode(const sft_tok *t, const int32_t *ids, size_t n, int skip_special, sft_buf *out)
{
    if (t->hf) return tok_hf_decode(t->hf, skip_special ? t->special : NULL, ids, n, out);
    int32_t *keep = malloc((n ? n : 1) * sizeof *keep);
    if (!keep) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip_special || !sft_tok_is_special(t, ids[i])) keep[k++] = ids[i];
    char *s = NULL;
    size_t slen = 0;
    int rc = sft_spm_decode(t->spm, keep, k, &s, &slen);
    free(keep);
    if (rc == 0) rc = buf_append(out, s, slen);
    free(s);
    return rc;
}
