/* Hugging Face tokenizer.json: normalizer, pre-tokenizer, BPE model,
 * post-processor and decoder, each step as the Rust `tokenizers` crate does
 * it. Supported: normalizers NFC, NFKC, NFD, NFKD, Replace (string), Prepend,
 * Sequence; pre-tokenizers Split (regex through PCRE2 JIT with Unicode
 * properties, or string; all five behaviors), ByteLevel, Metaspace,
 * Sequence; model BPE; post-processors TemplateProcessing, ByteLevel,
 * RobertaProcessing, BertProcessing, Sequence; decoders ByteLevel, Replace,
 * ByteFallback, Fuse, Strip, Metaspace, Sequence. Anything else is refused
 * with its name.
 *
 * The text is carried through the steps with a byte map back to the input,
 * so every token knows which input bytes it came from. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <cjson/cJSON.h>

#include "core/utf8.h"
#include "tok/internal.h"

enum norm_kind { N_NFC, N_NFKC, N_NFD, N_NFKD, N_REPLACE, N_PREPEND };
enum pre_kind { P_SPLIT, P_BYTELEVEL, P_METASPACE };
enum behavior { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS };
enum prepend_scheme { PS_ALWAYS, PS_FIRST, PS_NEVER };
enum dec_kind { D_BYTELEVEL, D_REPLACE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_METASPACE };

#define MAX_STEPS 8

typedef struct {
    enum norm_kind kind;
    char *pat, *rep; /* Replace: pattern, content; Prepend: rep */
    size_t plen, rlen;
} norm_step;

typedef struct {
    enum pre_kind kind;
    enum behavior behavior;
    pcre2_code *re; /* Split with a regex; ByteLevel with use_regex */
    char *pat;      /* Split with a string */
    size_t plen;
    int add_prefix_space;
    char repl[8];   /* Metaspace */
    size_t repl_len;
    enum prepend_scheme scheme;
    int split;
} pre_step;

typedef struct {
    enum dec_kind kind;
    char *pat, *rep;
    size_t plen, rlen;
    int start, stop; /* Strip */
    enum prepend_scheme scheme;
} dec_step;

struct tok_hf {
    tok_bpe bpe;
    norm_step norm[MAX_STEPS];
    int nnorm;
    pre_step pre[MAX_STEPS];
    int npre;
    dec_step dec[MAX_STEPS];
    int ndec;
    int32_t post_pre[8], post_post[8];
    size_t npost_pre, npost_post;
    char desc[96];
};

/* A pre-token: bytes [start, end) of the current text. */
typedef struct {
    uint32_t start, end;
} piece;

struct tok_hf_worker {
    const tok_hf *h;
    tok_bpe_scratch bpe;
    pcre2_match_data *md;
    pcre2_jit_stack *jit;
    pcre2_match_context *mctx;
    /* the text being worked on and, per byte, its offset in the input */
    sft_buf text, text2;
    uint32_t *map, *map2;
    size_t map_cap, map2_cap;
    piece *pc, *pc2;
    size_t pc_cap, pc2_cap;
    sft_buf tmp;
    int at_start; /* this stretch starts the input (Metaspace "first") */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jbool(const cJSON *o, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* ---- loading the components ---- */

static pcre2_code *compile_regex(const char *pat, char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                   &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        seterr(err, errlen, "pre_tokenizer regex at offset %zu: %s", (size_t)eo, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT, pcre2_match still works */
    return re;
}

/* The Split pattern: {"String": s} or {"Regex": r}. */
static int load_pattern(const cJSON *o, char **str, size_t *len, pcre2_code **re, const char *what,
                        char *err, size_t errlen)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const char *s = jstr(p, "String"), *r = jstr(p, "Regex");
    if (s) {
        *len = strlen(s);
        *str = strdup(s);
        return *str ? 0 : -1;
    }
    if (r) {
        *re = compile_regex(r, err, errlen);
        return *re ? 0 : -1;
    }
    seterr(err, errlen, "%s: pattern is neither a String nor a Regex", what);
    return -1;
}

static int load_normalizer(tok_hf *h, const cJSON *n, char *err, size_t errlen)
{
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = jstr(n, "type");
    if (!type) {
        seterr(err, errlen, "normalizer without a type");
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(n, "normalizers"))
            if (load_normalizer(h, c, err, errlen) != 0) return -1;
        return 0;
    }
    if (h->nnorm == MAX_STEPS) {
        seterr(err, errlen, "normalizer: more than %d steps", MAX_STEPS);
        return -1;
    }
    norm_step *s = &h->norm[h->nnorm++]; /* counted now: free_steps frees it on failure */
    memset(s, 0, sizeof *s);
    if (strcmp(type, "NFC") == 0) s->kind = N_NFC;
    else if (strcmp(type, "NFKC") == 0) s->kind = N_NFKC;
    else if (strcmp(type, "NFD") == 0) s->kind = N_NFD;
    else if (strcmp(type, "NFKD") == 0) s->kind = N_NFKD;
    else if (strcmp(type, "Replace") == 0 || strcmp(type, "Prepend") == 0) {
        s->kind = type[0] == 'R' ? N_REPLACE : N_PREPEND;
        const char *content = jstr(n, type[0] == 'R' ? "content" : "prepend");
        if (!content) {
            seterr(err, errlen, "normalizer %s without its string", type);
            return -1;
        }
        if (s->kind == N_REPLACE) {
            pcre2_code *re = NULL;
            if (load_pattern(n, &s->pat, &s->plen, &re, "normalizer Replace", err, errlen) != 0)
                return -1;
            if (re) {
                pcre2_code_free(re);
                seterr(err, errlen, "unsupported normalizer: Replace with a Regex pattern");
                return -1;
            }
            if (s->plen == 0) {
                seterr(err, errlen, "normalizer Replace: empty pattern");
                return -1;
            }
        }
        s->rlen = strlen(content);
        s->rep = strdup(content);
        if (!s->rep) return -1;
    } else {
        seterr(err, errlen, "unsupported normalizer \"%s\"", type);
        return -1;
    }
    return 0;
}

static int load_behavior(const cJSON *o, enum behavior *b, char *err, size_t errlen)
{
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    const char *s = jstr(o, "behavior");
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *b = (enum behavior)i;
            return 0;
        }
    seterr(err, errlen, "pre_tokenizer Split: unsupported behavior \"%s\"", s ? s : "(none)");
    return -1;
}

static int load_scheme(const cJSON *o, enum prepend_scheme *ps, char *err, size_t errlen)
{
    const char *s = jstr(o, "prepend_scheme");
    if (!s) {
        /* older files: add_prefix_space */
        *ps = jbool(o, "add_prefix_space", 1) ? PS_ALWAYS : PS_NEVER;
        return 0;
    }
    if (strcmp(s, "always") == 0) *ps = PS_ALWAYS;
    else if (strcmp(s, "first") == 0) *ps = PS_FIRST;
    else if (strcmp(s, "never") == 0) *ps = PS_NEVER;
    else {
        seterr(err, errlen, "Metaspace: unsupported prepend_scheme \"%s\"", s);
        return -1;
    }
    return 0;
}

/* GPT-2's own pattern, used by ByteLevel with use_regex. */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int load_pre(tok_hf *h, const cJSON *p, char *err, size_t errlen)
{
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = jstr(p, "type");
    if (!type) {
        seterr(err, errlen, "pre_tokenizer without a type");
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"))
            if (load_pre(h, c, err, errlen) != 0) return -1;
        return 0;
    }
    if (h->npre == MAX_STEPS) {
        seterr(err, errlen, "pre_tokenizer: more than %d steps", MAX_STEPS);
        return -1;
    }
    pre_step *s = &h->pre[h->npre++];
    memset(s, 0, sizeof *s);
    if (strcmp(type, "Split") == 0) {
        s->kind = P_SPLIT;
        if (jbool(p, "invert", 0)) {
            seterr(err, errlen, "unsupported pre_tokenizer: Split with invert");
            return -1;
        }
        if (load_behavior(p, &s->behavior, err, errlen) != 0 ||
            load_pattern(p, &s->pat, &s->plen, &s->re, "pre_tokenizer Split", err, errlen) != 0)
            return -1;
        if (s->pat && s->plen == 0) {
            seterr(err, errlen, "pre_tokenizer Split: empty pattern");
            return -1;
        }
    } else if (strcmp(type, "ByteLevel") == 0) {
        s->kind = P_BYTELEVEL;
        s->add_prefix_space = jbool(p, "add_prefix_space", 1);
        if (jbool(p, "use_regex", 1)) {
            s->re = compile_regex(gpt2_regex, err, errlen);
            if (!s->re) return -1;
        }
        h->bpe.byte_level = 1;
    } else if (strcmp(type, "Metaspace") == 0) {
        s->kind = P_METASPACE;
        const char *r = jstr(p, "replacement");
        if (!r) r = "\xe2\x96\x81";
        s->repl_len = strlen(r);
        if (s->repl_len == 0 || s->repl_len >= sizeof s->repl) {
            seterr(err, errlen, "Metaspace: bad replacement");
            return -1;
        }
        memcpy(s->repl, r, s->repl_len);
        s->split = jbool(p, "split", 1);
        if (load_scheme(p, &s->scheme, err, errlen) != 0) return -1;
    } else {
        seterr(err, errlen, "unsupported pre_tokenizer \"%s\"", type);
        return -1;
    }
    return 0;
}

static int load_decoder(tok_hf *h, const cJSON *d, char *err, size_t errlen)
{
    if (!d || cJSON_IsNull(d)) return 0;
    const char *type = jstr(d, "type");
    if (!type) {
        seterr(err, errlen, "decoder without a type");
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "decoders"))
            if (load_decoder(h, c, err, errlen) != 0) return -1;
        return 0;
    }
    if (h->ndec == MAX_STEPS) {
        seterr(err, errlen, "decoder: more than %d steps", MAX_STEPS);
        return -1;
    }
    dec_step *s = &h->dec[h->ndec++];
    memset(s, 0, sizeof *s);
    if (strcmp(type, "ByteLevel") == 0) s->kind = D_BYTELEVEL;
    else if (strcmp(type, "ByteFallback") == 0) s->kind = D_BYTEFALLBACK;
    else if (strcmp(type, "Fuse") == 0) s->kind = D_FUSE;
    else if (strcmp(type, "Strip") == 0) {
        s->kind = D_STRIP;
        const char *c = jstr(d, "content");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "start");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(d, "stop");
        if (!c || !cJSON_IsNumber(st) || !cJSON_IsNumber(sp)) {
            seterr(err, errlen, "decoder Strip: needs content, start and stop");
            return -1;
        }
        s->rep = strdup(c);
        s->rlen = strlen(c);
        s->start = st->valueint;
        s->stop = sp->valueint;
        if (!s->rep) return -1;
    } else if (strcmp(type, "Replace") == 0) {
        s->kind = D_REPLACE;
        pcre2_code *re = NULL;
        const char *c = jstr(d, "content");
        if (!c || load_pattern(d, &s->pat, &s->plen, &re, "decoder Replace", err, errlen) != 0)
            return -1;
        if (re) {
            pcre2_code_free(re);
            seterr(err, errlen, "unsupported decoder: Replace with a Regex pattern");
            return -1;
        }
        if (s->plen == 0) {
            seterr(err, errlen, "decoder Replace: empty pattern");
            return -1;
        }
        s->rep = strdup(c);
        s->rlen = strlen(c);
        if (!s->rep) return -1;
    } else if (strcmp(type, "Metaspace") == 0) {
        s->kind = D_METASPACE;
        const char *r = jstr(d, "replacement");
        s->pat = strdup(r ? r : "\xe2\x96\x81");
        if (!s->pat) return -1;
        s->plen = strlen(s->pat);
        if (load_scheme(d, &s->scheme, err, errlen) != 0) return -1;
    } else {
        seterr(err, errlen, "unsupported decoder \"%s\"", type);
        return -1;
    }
    return 0;
}

static int32_t token_id(const tok_hf *h, const tok_added_set *added, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < added->n; i++)
        if (added->tok[i].len == n && memcmp(added->arena + added->tok[i].off, s, n) == 0)
            return added->tok[i].id;
    return tok_bpe_lookup_piece(&h->bpe, s, n);
}

/* A special id the post-processor adds must name a token of the vocabulary. */
static int add_post(const tok_hf *h, int32_t *ids, size_t *n, const cJSON *id, char *err,
                    size_t errlen)
{
    double v = cJSON_IsNumber(id) ? id->valuedouble : -1;
    if (v < 0 || v >= (double)h->bpe.n || v != (double)(int64_t)v || h->bpe.len[(size_t)v] == UINT32_MAX) {
        seterr(err, errlen, "post_processor: id %g is not a token of the vocabulary", v);
        return -1;
    }
    if (*n == 8) {
        seterr(err, errlen, "post_processor: too many special tokens");
        return -1;
    }
    ids[(*n)++] = (int32_t)v;
    return 0;
}

static int load_post(tok_hf *h, const cJSON *p, char *err, size_t errlen)
{
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = jstr(p, "type");
    if (!type) {
        seterr(err, errlen, "post_processor without a type");
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "processors"))
            if (load_post(h, c, err, errlen) != 0) return -1;
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) return 0; /* offsets only */
    if (strcmp(type, "TemplateProcessing") == 0) {
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(p, "special_tokens");
        const cJSON *item;
        int seen_seq = 0;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(p, "single"))
        {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
            if (cJSON_GetObjectItemCaseSensitive(item, "Sequence")) {
                seen_seq = 1;
                continue;
            }
            const char *name = jstr(sp, "id");
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(specials, name ? name : ""), "ids");
            if (!name || !cJSON_IsArray(ids)) {
                seterr(err, errlen, "post_processor TemplateProcessing: special token %s not defined",
                       name ? name : "(no id)");
                return -1;
            }
            const cJSON *id;
            cJSON_ArrayForEach(id, ids)
                if (add_post(h, seen_seq ? h->post_post : h->post_pre,
                             seen_seq ? &h->npost_post : &h->npost_pre, id, err, errlen) != 0)
                    return -1;
        }
        return 0;
    }
    if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(p, "cls");
        const cJSON *sep = cJSON_GetObjectItemCaseSensitive(p, "sep");
        if (add_post(h, h->post_pre, &h->npost_pre, cJSON_GetArrayItem(cls, 1), err, errlen) != 0 ||
            add_post(h, h->post_post, &h->npost_post, cJSON_GetArrayItem(sep, 1), err, errlen) != 0)
            return -1;
        return 0;
    }
    seterr(err, errlen, "unsupported post_processor \"%s\"", type);
    return -1;
}

static int load_model(const cJSON *m, char *err, size_t errlen)
{
    const char *type = jstr(m, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (!type && cJSON_IsObject(vocab) && cJSON_IsArray(merges)) type = "BPE";
    if (!type || strcmp(type, "BPE") != 0) {
        seterr(err, errlen, "unsupported model \"%s\" (only BPE)", type ? type : "(no type)");
        return -1;
    }
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
        seterr(err, errlen, "model: vocab must be an object and merges an array");
        return -1;
    }
    const char *pfx = jstr(m, "continuing_subword_prefix"), *sfx = jstr(m, "end_of_word_suffix");
    if ((pfx && *pfx) || (sfx && *sfx)) {
        seterr(err, errlen, "unsupported model option: continuing_subword_prefix/end_of_word_suffix");
        return -1;
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0) {
        seterr(err, errlen, "unsupported model option: dropout");
        return -1;
    }
    size_t maxid = 0, count = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vocab)
    {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e8 ||
            v->valuedouble != (double)(int64_t)v->valuedouble) {
            seterr(err, errlen, "model.vocab: \"%.40s\": id is not a whole number 0..1e8",
                   v->string ? v->string : "");
            return -1;
        }
        if ((size_t)v->valuedouble >= maxid) maxid = (size_t)v->valuedouble + 1;
        count++;
    }
    return count ? (int)maxid : (seterr(err, errlen, "model.vocab is empty"), -1);
}

/* Fills the vocabulary (model plus added tokens) and the merges. */
static int load_vocab(tok_hf *h, const cJSON *m, const tok_added_set *added, size_t nvocab,
                      int byte_level, char *err, size_t errlen)
{
    tok_bpe *b = &h->bpe;
    if (tok_bpe_init(b, nvocab) != 0) goto oom;
    b->byte_level = byte_level;
    b->byte_fallback = jbool(m, "byte_fallback", 0);
    b->fuse_unk = jbool(m, "fuse_unk", 0);
    b->ignore_merges = jbool(m, "ignore_merges", 0);
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(m, "vocab"))
    {
        const char *k = v->string ? v->string : "";
        if (tok_bpe_set_token(b, (int32_t)v->valuedouble, k, strlen(k)) != 0) goto oom;
    }
    /* added tokens outside the model's vocabulary get their ids too */
    for (size_t i = 0; i < added->n; i++) {
        const tok_added *a = &added->tok[i];
        if ((size_t)a->id >= nvocab) {
            seterr(err, errlen, "added token id %d out of range", (int)a->id);
            return -1;
        }
        if (b->len[a->id] == UINT32_MAX &&
            tok_bpe_set_token(b, a->id, added->arena + a->off, a->len) != 0)
            goto oom;
    }
    if (tok_bpe_index(b, err, errlen) != 0) return -1;
    const char *unk = jstr(m, "unk_token");
    if (unk) {
        b->unk = tok_bpe_lookup_piece(b, unk, strlen(unk));
        if (b->unk < 0) b->unk = token_id(h, added, unk);
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (tok_bpe_merges_reserve(b, (size_t)cJSON_GetArraySize(merges)) != 0) goto oom;
    size_t i = 0;
    cJSON_ArrayForEach(v, merges)
    {
        const char *a, *c;
        size_t alen, clen;
        if (cJSON_IsString(v)) {
            /* "a b": the first space separates */
            a = v->valuestring;
            const char *sp = strchr(a, ' ');
            if (!sp) goto bad;
            alen = (size_t)(sp - a);
            c = sp + 1;
            clen = strlen(c);
        } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsString(v->child) &&
                   cJSON_IsString(v->child->next)) {
            a = v->child->valuestring;
            c = v->child->next->valuestring;
            alen = strlen(a);
            clen = strlen(c);
        } else {
            goto bad;
        }
        int rc = tok_bpe_add_merge(b, a, alen, c, clen);
        if (rc == -1) goto oom;
        if (rc == -2) {
            seterr(err, errlen, "model.merges[%zu]: \"%.40s\" + \"%.40s\" is not in the vocabulary", i,
                   a, c);
            return -1;
        }
        i++;
    }
    return 0;
bad:
    seterr(err, errlen, "model.merges[%zu]: not \"a b\" or [\"a\", \"b\"]", i);
    return -1;
oom:
    seterr(err, errlen, "out of memory");
    return -1;
}

static int load_added(const cJSON *list, tok_added_set *added, char *err, size_t errlen)
{
    const cJSON *a;
    size_t i = 0;
    cJSON_ArrayForEach(a, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        const char *content = jstr(a, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8 || !content ||
            !*content) {
            seterr(err, errlen, "added_tokens[%zu]: needs an id and a non-empty content", i);
            return -1;
        }
        tok_added t = {
            .id = (int32_t)id->valuedouble,
            .special = (unsigned char)jbool(a, "special", 0),
            .lstrip = (unsigned char)jbool(a, "lstrip", 0),
            .rstrip = (unsigned char)jbool(a, "rstrip", 0),
            .single_word = (unsigned char)jbool(a, "single_word", 0),
            .normalized = (unsigned char)jbool(a, "normalized", 0),
        };
        if (tok_added_add(added, &t, content, strlen(content)) != 0) {
            seterr(err, errlen, "out of memory");
            return -1;
        }
        i++;
    }
    return 0;
}

static void free_steps(tok_hf *h)
{
    for (int i = 0; i < h->nnorm; i++) {
        free(h->norm[i].pat);
        free(h->norm[i].rep);
    }
    for (int i = 0; i < h->npre; i++) {
        free(h->pre[i].pat);
        if (h->pre[i].re) pcre2_code_free(h->pre[i].re);
    }
    for (int i = 0; i < h->ndec; i++) {
        free(h->dec[i].pat);
        free(h->dec[i].rep);
    }
}

void tok_hf_free(tok_hf *h)
{
    if (!h) return;
    free_steps(h);
    tok_bpe_free(&h->bpe);
    free(h);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    struct stat st;
    char *p = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size < (1ull << 31)) {
        p = malloc((size_t)st.st_size + 1);
        if (p && fread(p, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
            p[st.st_size] = '\0';
            *len = (size_t)st.st_size;
        } else {
            free(p);
            p = NULL;
            seterr(err, errlen, "cannot read the file");
        }
    } else {
        seterr(err, errlen, "not a regular file of a sane size");
    }
    fclose(f);
    return p;
}

tok_hf *tok_hf_load(const char *path, tok_added_set *added, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    if (!text) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    tok_hf *h = calloc(1, sizeof *h);
    if (!root || !h || !cJSON_IsObject(root)) {
        seterr(err, errlen, root ? "not a JSON object" : "not valid JSON");
        goto fail;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    int nvocab = load_model(model, err, errlen);
    if (nvocab < 0 || load_added(cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), added, err,
                                 errlen) != 0)
        goto fail;
    size_t n = (size_t)nvocab;
    for (size_t i = 0; i < added->n; i++)
        if ((size_t)added->tok[i].id >= n) n = (size_t)added->tok[i].id + 1;
    if (load_normalizer(h, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), err, errlen) != 0 ||
        load_pre(h, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), err, errlen) != 0)
        goto fail;
    /* byte-level vocabularies are recognised by the pre-tokenizer or the decoder */
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (dec && jstr(dec, "type") && strcmp(jstr(dec, "type"), "ByteLevel") == 0) h->bpe.byte_level = 1;
    int byte_level = h->bpe.byte_level;
    if (load_vocab(h, model, added, n, byte_level, err, errlen) != 0) goto fail;
    if (load_decoder(h, dec, err, errlen) != 0 ||
        load_post(h, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), err, errlen) != 0 ||
        tok_added_build(added) != 0)
        goto fail;
    snprintf(h->desc, sizeof h->desc, "tokenizer.json (BPE%s, %zu tokens)",
             h->bpe.byte_level ? ", byte-level" : h->bpe.byte_fallback ? ", byte fallback" : "",
             h->bpe.n);
    cJSON_Delete(root);
    return h;
fail:
    cJSON_Delete(root);
    tok_hf_free(h);
    return NULL;
}

const char *tok_hf_describe(const tok_hf *h) { return h->desc; }
const tok_bpe *tok_hf_bpe(const tok_hf *h) { return &h->bpe; }

int32_t tok_hf_special_id(const tok_hf *h, int which)
{
    if (which == 0) return h->npost_pre ? h->post_pre[0] : -1;
    return h->npost_post ? h->post_post[h->npost_post - 1] : -1;
}

int tok_hf_post(const tok_hf *h, const int32_t **pre, size_t *npre, const int32_t **post,
                size_t *npost)
{
    *pre = h->post_pre;
    *npre = h->npost_pre;
    *post = h->post_post;
    *npost = h->npost_post;
    return 0;
}

/* ---- workers ---- */

tok_hf_worker *tok_hf_worker_new(const tok_hf *h)
{
    tok_hf_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->h = h;
    w->md = pcre2_match_data_create(32, NULL);
    w->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    w->mctx = pcre2_match_context_create(NULL);
    if (!w->md || !w->mctx) {
        tok_hf_worker_free(w);
        return NULL;
    }
    if (w->jit) pcre2_jit_stack_assign(w->mctx, NULL, w->jit);
    return w;
}

void tok_hf_worker_free(tok_hf_worker *w)
{
    if (!w) return;
    tok_bpe_scratch_free(&w->bpe);
    pcre2_match_data_free(w->md);
    pcre2_jit_stack_free(w->jit);
    pcre2_match_context_free(w->mctx);
    buf_free(&w->text);
    buf_free(&w->text2);
    buf_free(&w->tmp);
    free(w->map);
    free(w->map2);
    free(w->pc);
    free(w->pc2);
    free(w);
}

static int grow_u32(uint32_t **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    uint32_t *q = realloc(*p, c * sizeof *q);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int grow_pieces(piece **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    piece *q = realloc(*p, c * sizeof *q);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* text2/map2 become the current text. */
static void swap_text(tok_hf_worker *w)
{
    sft_buf t = w->text;
    w->text = w->text2;
    w->text2 = t;
    uint32_t *m = w->map;
    w->map = w->map2;
    w->map2 = m;
    size_t c = w->map_cap;
    w->map_cap = w->map2_cap;
    w->map2_cap = c;
}

/* Appends s[0..n) to text2, every byte mapped to orig. */
static int put2(tok_hf_worker *w, const char *s, size_t n, uint32_t orig)
{
    if (grow_u32(&w->map2, &w->map2_cap, w->text2.len + n + 1) != 0 || buf_append(&w->text2, s, n) != 0)
        return -1;
    for (size_t i = w->text2.len - n; i < w->text2.len; i++) w->map2[i] = orig;
    return 0;
}

/* Starts text/map as the input, with invalid UTF-8 replaced by U+FFFD. */
static int load_text(tok_hf_worker *w, const char *s, size_t n)
{
    w->text.len = 0;
    if (grow_u32(&w->map, &w->map_cap, n + 1) != 0 || buf_reserve(&w->text, n) != 0) return -1;
    size_t i = 0;
    while (i < n) {
        size_t bad = i + utf8_invalid_offset((const unsigned char *)s + i, n - i);
        if (buf_append(&w->text, s + i, bad - i) != 0) return -1;
        for (size_t k = i; k < bad; k++) w->map[w->text.len - (bad - k)] = (uint32_t)k;
        if (bad == n) break;
        if (grow_u32(&w->map, &w->map_cap, w->text.len + 3 + (n - bad) + 1) != 0 ||
            buf_append(&w->text, "\xef\xbf\xbd", 3) != 0)
            return -1;
        for (int k = 0; k < 3; k++) w->map[w->text.len - 3 + (size_t)k] = (uint32_t)bad;
        i = bad + 1;
    }
    w->map[w->text.len] = (uint32_t)n;
    return 0;
}

/* Characters that no normalization form changes and that never combine with
 * what comes before them: a chunk boundary for normalizing piecewise. */
static int norm_stable(uint32_t cp, int compat)
{
    if (cp < 0x80) return 1;
    if (compat) return cp >= 0xAC00 && cp <= 0xD7A3;
    return cp < 0x300 || (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x4E00 && cp <= 0x9FFF);
}

/* HF normalizes with the Unicode data of its unicode-normalization-alignments
 * crate, 9.0: characters assigned later are starters it leaves alone
 * (measured against the reference: U+08D4 of 9.0 is reordered, U+1DF6 of
 * 10.0 is not). */
static int unicode_9(UChar32 c)
{
    UVersionInfo v;
    u_charAge(c, v);
    return v[0] < 9 || (v[0] == 9 && v[1] == 0);
}

/* 0: a stable character (may start a chunk); 1: unstable; 2: a character
 * newer than Unicode 9, which nothing touches and no chunk contains. */
static int char_class(const char *t, size_t n, size_t i, int compat, int decomp, size_t *len)
{
    uint32_t cp;
    int k = utf8_decode((const unsigned char *)t + i, n - i, &cp);
    *len = k > 0 ? (size_t)k : 1;
    if (k <= 0) return 0;
    if (norm_stable(cp, compat) && !(decomp && cp >= 0xAC00 && cp <= 0xD7A3)) return 0;
    return unicode_9((UChar32)cp) ? 1 : 2;
}

static int unstable_at(const char *t, size_t n, size_t i, int compat, int decomp, size_t *len)
{
    return char_class(t, n, i, compat, decomp, len) == 1;
}

/* ICU works in UTF-16: the chunk goes there and back. */
static int normalize_chunk(tok_hf_worker *w, const UNormalizer2 *nf, const char *s, size_t n,
                           uint32_t orig)
{
    UErrorCode e = U_ZERO_ERROR;
    int32_t ulen = 0;
    u_strFromUTF8(NULL, 0, &ulen, s, (int32_t)n, &e);
    if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e)) return -1;
    /* normalized text is at most 3x (NFC/NFD) or 18x (compatibility) longer */
    size_t cap = (size_t)ulen * 18 + 16, need = (size_t)ulen + cap;
    w->tmp.len = 0;
    if (buf_reserve(&w->tmp, need * sizeof(UChar) + 4 * cap) != 0) return -1;
    UChar *in = (UChar *)w->tmp.p, *out = in + ulen;
    char *u8 = (char *)(out + cap);
    e = U_ZERO_ERROR;
    u_strFromUTF8(in, ulen, NULL, s, (int32_t)n, &e);
    int32_t olen = unorm2_normalize(nf, in, ulen, out, (int32_t)cap, &e);
    int32_t blen = 0;
    if (U_SUCCESS(e)) u_strToUTF8(u8, (int32_t)(4 * cap), &blen, out, olen, &e);
    if (U_FAILURE(e)) return -1;
    return put2(w, u8, (size_t)blen, orig);
}

/* Normalizes chunk by chunk: a stable character and the unstable ones after
 * it (which may compose with it or be reordered) go through ICU;
 * stable runs are copied. Every output byte of a chunk maps to the chunk's
 * start. */
static int normalize_unicode(tok_hf_worker *w, enum norm_kind kind)
{
    const char *t = w->text.p;
    size_t n = w->text.len, i = 0, k;
    int compat = kind == N_NFKC || kind == N_NFKD;
    int decomp = kind == N_NFD || kind == N_NFKD;
    while (i < n && !unstable_at(t, n, i, compat, decomp, &k)) i += k;
    if (i == n) return 0; /* most text: nothing to do */
    UErrorCode uerr = U_ZERO_ERROR;
    const UNormalizer2 *nf = kind == N_NFC ? unorm2_getNFCInstance(&uerr)
                           : kind == N_NFKC ? unorm2_getNFKCInstance(&uerr)
                           : kind == N_NFD ? unorm2_getNFDInstance(&uerr)
                                           : unorm2_getNFKDInstance(&uerr);
    if (U_FAILURE(uerr)) return -1;
    w->text2.len = 0;
    size_t at = 0; /* input consumed */
    while (at < n) {
        size_t j = at, prev = at;
        while (j < n && !unstable_at(t, n, j, compat, decomp, &k)) {
            prev = j;
            j += k;
        }
        size_t p = j; /* the chunk starts at the stable character before, if any */
        if (j < n && j > at && char_class(t, n, prev, compat, decomp, &k) == 0) p = prev;
        if (put2(w, t + at, p - at, 0) != 0) return -1;
        memcpy(w->map2 + w->text2.len - (p - at), w->map + at, (p - at) * sizeof *w->map);
        if (p == n) break;
        size_t e = j;
        while (e < n && unstable_at(t, n, e, compat, decomp, &k)) e += k;
        if (normalize_chunk(w, nf, t + p, e - p, w->map[p]) != 0) return -1;
        at = e;
    }
    if (grow_u32(&w->map2, &w->map2_cap, w->text2.len + 1) != 0) return -1;
    w->map2[w->text2.len] = w->map[n];
    swap_text(w);
    return 0;
}

/* Replaces every pat with rep in text (or, for Prepend, prepends rep). */
static int normalize_replace(tok_hf_worker *w, const norm_step *s)
{
    const char *t = w->text.p;
    size_t n = w->text.len;
    w->text2.len = 0;
    if (s->kind == N_PREPEND) {
        if (n == 0) return 0;
        if (put2(w, s->rep, s->rlen, w->map[0]) != 0) return -1;
    } else if (!memmem(t, n, s->pat, s->plen)) {
        return 0;
    }
    size_t i = 0;
    while (i < n) {
        const char *hit = s->kind == N_REPLACE ? memmem(t + i, n - i, s->pat, s->plen) : NULL;
        size_t stop = hit ? (size_t)(hit - t) : n;
        if (grow_u32(&w->map2, &w->map2_cap, w->text2.len + (stop - i) + 1) != 0 ||
            buf_append(&w->text2, t + i, stop - i) != 0)
            return -1;
        memcpy(w->map2 + w->text2.len - (stop - i), w->map + i, (stop - i) * sizeof *w->map);
        if (!hit) break;
        if (put2(w, s->rep, s->rlen, w->map[stop]) != 0) return -1;
        i = stop + s->plen;
    }
    if (grow_u32(&w->map2, &w->map2_cap, w->text2.len + 1) != 0) return -1;
    w->map2[w->text2.len] = w->map[n];
    swap_text(w);
    return 0;
}

/* ---- pre-tokenizers ---- */

/* Calls back for every match of the step's pattern in [s, e): returns the
 * match list in pc2 as pieces, gaps included, each marked by `hit`. */
typedef struct {
    uint32_t start, end;
    int hit;
} span;

static int find_matches(tok_hf_worker *w, const pre_step *st, uint32_t s, uint32_t e,
                        int (*fn)(tok_hf_worker *, span, void *), void *ctx)
{
    const char *t = w->text.p;
    uint32_t at = s, pos = s;
    while (pos < e) {
        uint32_t ms, me;
        if (st->re) {
            int rc = pcre2_jit_match(st->re, (PCRE2_SPTR)t + s, e - s, pos - s, PCRE2_NO_UTF_CHECK,
                                     w->md, w->mctx);
            if (rc == PCRE2_ERROR_JIT_BADOPTION)
                rc = pcre2_match(st->re, (PCRE2_SPTR)t + s, e - s, pos - s, PCRE2_NO_UTF_CHECK, w->md,
                                 w->mctx);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) return -1;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
            ms = s + (uint32_t)ov[0];
            me = s + (uint32_t)ov[1];
            if (me == ms) { /* empty matches split nothing; step one character */
                pos = ms + 1;
                while (pos < e && ((unsigned char)t[pos] & 0xC0) == 0x80) pos++;
                continue;
            }
        } else {
            const char *hit = memmem(t + pos, e - pos, st->pat, st->plen);
            if (!hit) break;
            ms = (uint32_t)(hit - t);
            me = ms + (uint32_t)st->plen;
        }
        if (ms > at && fn(w, (span){at, ms, 0}, ctx) != 0) return -1;
        if (fn(w, (span){ms, me, 1}, ctx) != 0) return -1;
        at = pos = me;
    }
    if (at < e && fn(w, (span){at, e, 0}, ctx) != 0) return -1;
    return 0;
}

typedef struct {
    size_t n;          /* pieces written to pc2 */
    size_t first;      /* the first of them from the current piece */
    enum behavior b;
    int pending;       /* MergedWithNext: a match waiting for what follows */
    uint32_t pstart;
    int last_hit;      /* Contiguous: the kind of the last piece */
} split_state;

static int push2(tok_hf_worker *w, split_state *ss, uint32_t a, uint32_t b)
{
    if (grow_pieces(&w->pc2, &w->pc2_cap, ss->n + 1) != 0) return -1;
    w->pc2[ss->n++] = (piece){a, b};
    return 0;
}

static int on_span(tok_hf_worker *w, span sp, void *ctx)
{
    split_state *ss = ctx;
    switch (ss->b) {
    case B_REMOVED:
        return sp.hit ? 0 : push2(w, ss, sp.start, sp.end);
    case B_ISOLATED:
        return push2(w, ss, sp.start, sp.end);
    case B_MERGED_PREV:
        /* a match joins the piece before it */
        if (sp.hit && ss->n > ss->first && !ss->last_hit) {
            w->pc2[ss->n - 1].end = sp.end;
            ss->last_hit = 1;
            return 0;
        }
        ss->last_hit = sp.hit;
        return push2(w, ss, sp.start, sp.end);
    case B_MERGED_NEXT:
        if (sp.hit) {
            if (ss->pending && push2(w, ss, ss->pstart, sp.start) != 0) return -1;
            ss->pending = 1;
            ss->pstart = sp.start;
            return 0;
        }
        if (ss->pending) {
            ss->pending = 0;
            return push2(w, ss, ss->pstart, sp.end);
        }
        return push2(w, ss, sp.start, sp.end);
    case B_CONTIGUOUS:
        if (sp.hit && ss->n > ss->first && ss->last_hit) {
            w->pc2[ss->n - 1].end = sp.end;
            return 0;
        }
        ss->last_hit = sp.hit;
        return push2(w, ss, sp.start, sp.end);
    }
    return -1;
}

static void swap_pieces(tok_hf_worker *w, size_t *npc, size_t n2)
{
    piece *p = w->pc;
    w->pc = w->pc2;
    w->pc2 = p;
    size_t c = w->pc_cap;
    w->pc_cap = w->pc2_cap;
    w->pc2_cap = c;
    *npc = n2;
}

static int split_pieces(tok_hf_worker *w, const pre_step *st, enum behavior b, size_t *npc)
{
    split_state ss = {.b = b};
    for (size_t i = 0; i < *npc; i++) {
        ss.pending = 0;
        ss.last_hit = 0;
        ss.first = ss.n;
        if (find_matches(w, st, w->pc[i].start, w->pc[i].end, on_span, &ss) != 0) return -1;
        if (ss.pending && push2(w, &ss, ss.pstart, w->pc[i].end) != 0) return -1;
    }
    swap_pieces(w, npc, ss.n);
    return 0;
}

/* Rewrites the text piece by piece (ByteLevel's prefix space, Metaspace's
 * replacement and prefix); pieces keep their places. */
static int rewrite_pieces(tok_hf_worker *w, const pre_step *st, size_t *npc)
{
    const char *t = w->text.p;
    w->text2.len = 0;
    size_t n2 = 0;
    for (size_t i = 0; i < *npc; i++) {
        uint32_t s = w->pc[i].start, e = w->pc[i].end;
        uint32_t ns = (uint32_t)w->text2.len;
        if (st->kind == P_BYTELEVEL) {
            if (st->add_prefix_space && (e == s || t[s] != ' ') && put2(w, " ", 1, w->map[s]) != 0)
                return -1;
            if (put2(w, t + s, e - s, 0) != 0) return -1;
            memcpy(w->map2 + w->text2.len - (e - s), w->map + s, (e - s) * sizeof *w->map);
        } else {
            int starts = e - s >= st->repl_len && memcmp(t + s, st->repl, st->repl_len) == 0;
            int lead_space = e > s && t[s] == ' ';
            int prepend = !starts && !lead_space &&
                          (st->scheme == PS_ALWAYS || (st->scheme == PS_FIRST && w->at_start && w->map[s] == 0));
            if (prepend && put2(w, st->repl, st->repl_len, w->map[s]) != 0) return -1;
            for (uint32_t k = s; k < e; k++) {
                if (t[k] == ' ') {
                    if (put2(w, st->repl, st->repl_len, w->map[k]) != 0) return -1;
                } else if (put2(w, t + k, 1, w->map[k]) != 0) {
                    return -1;
                }
            }
        }
        if (grow_pieces(&w->pc2, &w->pc2_cap, n2 + 1) != 0) return -1;
        w->pc2[n2++] = (piece){ns, (uint32_t)w->text2.len};
    }
    if (grow_u32(&w->map2, &w->map2_cap, w->text2.len + 1) != 0) return -1;
    w->map2[w->text2.len] = w->map[w->text.len];
    swap_text(w);
    swap_pieces(w, npc, n2);
    return 0;
}

static int pre_tokenize(tok_hf_worker *w, size_t *npc)
{
    const tok_hf *h = w->h;
    if (grow_pieces(&w->pc, &w->pc_cap, 1) != 0) return -1;
    w->pc[0] = (piece){0, (uint32_t)w->text.len};
    *npc = w->text.len ? 1 : 0;
    for (int i = 0; i < h->npre; i++) {
        const pre_step *st = &h->pre[i];
        switch (st->kind) {
        case P_SPLIT:
            if (split_pieces(w, st, st->behavior, npc) != 0) return -1;
            break;
        case P_BYTELEVEL:
            if (st->add_prefix_space && rewrite_pieces(w, st, npc) != 0) return -1;
            if (st->re && split_pieces(w, st, B_ISOLATED, npc) != 0) return -1;
            break;
        case P_METASPACE:
            if (rewrite_pieces(w, st, npc) != 0) return -1;
            if (st->split) {
                pre_step sp = {.kind = P_SPLIT, .pat = (char *)st->repl, .plen = st->repl_len};
                if (split_pieces(w, &sp, B_MERGED_NEXT, npc) != 0) return -1;
            }
            break;
        }
    }
    return 0;
}

/* ---- encoding ---- */

typedef struct {
    sft_tokens *out;
    const uint32_t *map;
    uint32_t at, base;
} emit_ctx;

static int emit_token(void *c, int32_t id, uint32_t s, uint32_t e)
{
    emit_ctx *x = c;
    return sft_tokens_push(x->out, id, x->base + x->map[x->at + s], x->base + x->map[x->at + e]);
}

int tok_hf_encode_plain(tok_hf_worker *w, const char *text, size_t len, uint32_t base,
                        int at_start, sft_tokens *out)
{
    w->at_start = at_start;
    const tok_hf *h = w->h;
    if (len == 0) return 0;
    if (load_text(w, text, len) != 0) return -1;
    for (int i = 0; i < h->nnorm; i++) {
        const norm_step *s = &h->norm[i];
        int rc = s->kind == N_REPLACE || s->kind == N_PREPEND ? normalize_replace(w, s)
                                                               : normalize_unicode(w, s->kind);
        if (rc != 0) return -1;
    }
    size_t npc;
    if (pre_tokenize(w, &npc) != 0) return -1;
    /* the map is relative to this stretch; Metaspace "first" looks at base */
    emit_ctx x = {out, w->map, 0, base};
    for (size_t i = 0; i < npc; i++) {
        x.at = w->pc[i].start;
        if (tok_bpe_word(&h->bpe, &w->bpe, w->text.p + w->pc[i].start, w->pc[i].end - w->pc[i].start,
                         emit_token, &x) != 0)
            return -1;
    }
    return 0;
}

/* ---- decoding ---- */

/* The decoder works on a list of token strings, as HF's does. */
typedef struct {
    sft_buf *a;      /* arena */
    uint32_t *off, *len;
    size_t n, cap;
} strlist;

static int sl_push(strlist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 64;
        uint32_t *o = realloc(l->off, c * sizeof *o);
        if (!o) return -1;
        l->off = o;
        uint32_t *q = realloc(l->len, c * sizeof *q);
        if (!q) return -1;
        l->len = q;
        l->cap = c;
    }
    l->off[l->n] = (uint32_t)l->a->len;
    l->len[l->n] = (uint32_t)n;
    l->n++;
    return buf_append(l->a, s, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0xAB>" → 0xAB, or -1 */
static int byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int a = hexval((unsigned char)s[3]), b = hexval((unsigned char)s[4]);
    return a < 0 || b < 0 ? -1 : a * 16 + b;
}

/* The length of the invalid sequence at s[0..n) that String::from_utf8_lossy
 * replaces by one U+FFFD: a lead byte and the continuation bytes that could
 * still have completed it. */
static size_t invalid_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t want;
    unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) want = 2;
    else if (c >= 0xE0 && c <= 0xEF) want = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) want = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 1;
    size_t k = 1;
    if (k < n && s[k] >= lo && s[k] <= hi) k++;
    else return 1;
    while (k < want && k < n && (s[k] & 0xC0) == 0x80) k++;
    return k;
}

/* Appends bytes to out as text, invalid UTF-8 replaced as
 * String::from_utf8_lossy does. */
static int put_lossy(sft_buf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t bad = i + utf8_invalid_offset((const unsigned char *)s + i, n - i);
        if (buf_append(out, s + i, bad - i) != 0) return -1;
        if (bad == n) break;
        if (buf_append(out, "\xef\xbf\xbd", 3) != 0) return -1;
        i = bad + invalid_len((const unsigned char *)s + bad, n - bad);
    }
    return 0;
}

static int dec_step_run(const dec_step *st, strlist *in, strlist *out, sft_buf *tmp)
{
    const char *A = in->a->p;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = A + in->off[i];
        size_t n = in->len[i];
        tmp->len = 0;
        switch (st->kind) {
        case D_BYTELEVEL: {
            /* all characters mapped to bytes, or the token as it is */
            const unsigned char *p = (const unsigned char *)s, *e = p + n;
            int ok = 1;
            while (p < e) {
                uint32_t cp;
                int k = utf8_decode(p, (size_t)(e - p), &cp);
                int b = k > 0 ? tok_cp_to_byte(cp) : -1;
                if (b < 0) {
                    ok = 0;
                    break;
                }
                if (buf_putc(tmp, (char)b) != 0) return -1;
                p += k;
            }
            if (!ok) {
                tmp->len = 0;
                if (buf_append(tmp, s, n) != 0) return -1;
            }
            break;
        }
        case D_REPLACE:
        case D_METASPACE: {
            const char *pat = st->pat, *rep = st->kind == D_REPLACE ? st->rep : " ";
            size_t plen = st->plen, rlen = st->kind == D_REPLACE ? st->rlen : 1;
            size_t k = 0;
            while (k < n) {
                const char *hit = memmem(s + k, n - k, pat, plen);
                size_t stop = hit ? (size_t)(hit - s) : n;
                if (buf_append(tmp, s + k, stop - k) != 0) return -1;
                if (!hit) break;
                if (buf_append(tmp, rep, rlen) != 0) return -1;
                k = stop + plen;
            }
            if (st->kind == D_METASPACE && i == 0 && st->scheme != PS_NEVER && tmp->len &&
                tmp->p[0] == ' ')
                memmove(tmp->p, tmp->p + 1, --tmp->len);
            break;
        }
        case D_BYTEFALLBACK: {
            if (byte_token(s, n) < 0) {
                if (buf_append(tmp, s, n) != 0) return -1;
                break;
            }
            /* a run of byte tokens is one string if it is valid UTF-8, else
             * one U+FFFD per byte */
            size_t j = i;
            sft_buf bytes = {0};
            while (j < in->n && byte_token(A + in->off[j], in->len[j]) >= 0) {
                if (buf_putc(&bytes, (char)byte_token(A + in->off[j], in->len[j])) != 0) {
                    buf_free(&bytes);
                    return -1;
                }
                j++;
            }
            int valid = utf8_invalid_offset((const unsigned char *)bytes.p, bytes.len) == bytes.len;
            for (size_t q = 0; q < j - i; q++) {
                tmp->len = 0;
                if (valid) {
                    if (q == 0 && buf_append(tmp, bytes.p, bytes.len) != 0) goto fail;
                } else if (buf_append(tmp, "\xef\xbf\xbd", 3) != 0) {
                    goto fail;
                }
                if (sl_push(out, tmp->p ? tmp->p : "", tmp->len) != 0) goto fail;
            }
            buf_free(&bytes);
            i = j - 1;
            continue;
        fail:
            buf_free(&bytes);
            return -1;
        }
        case D_FUSE:
            if (buf_append(tmp, s, n) != 0) return -1;
            break;
        case D_STRIP: {
            size_t a = 0, b = n;
            for (int k = 0; k < st->start && b - a >= st->rlen && memcmp(s + a, st->rep, st->rlen) == 0; k++)
                a += st->rlen;
            for (int k = 0; k < st->stop && b - a >= st->rlen && memcmp(s + b - st->rlen, st->rep, st->rlen) == 0; k++)
                b -= st->rlen;
            if (buf_append(tmp, s + a, b - a) != 0) return -1;
            break;
        }
        }
        if (st->kind == D_FUSE && out->n > 0) {
            out->len[0] += (uint32_t)tmp->len;
            if (buf_append(out->a, tmp->p ? tmp->p : "", tmp->len) != 0) return -1;
        } else if (sl_push(out, tmp->p ? tmp->p : "", tmp->len) != 0) {
            return -1;
        }
    }
    return 0;
}

int tok_hf_decode(const tok_hf *h, const uint8_t *skip, const int32_t *ids, size_t n, sft_buf *out)
{
    const tok_bpe *b = &h->bpe;
    sft_buf arena[2] = {{0}, {0}}, tmp = {0};
    strlist l[2] = {{.a = &arena[0]}, {.a = &arena[1]}};
    int cur = 0, rc = -1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= b->n || b->len[ids[i]] == UINT32_MAX) goto done;
        if (skip && skip[ids[i]]) continue;
        if (sl_push(&l[0], b->arena + b->off[ids[i]], b->len[ids[i]]) != 0) goto done;
    }
    for (int s = 0; s < h->ndec; s++) {
        l[!cur].n = 0;
        arena[!cur].len = 0;
        if (dec_step_run(&h->dec[s], &l[cur], &l[!cur], &tmp) != 0) goto done;
        cur = !cur;
    }
    /* the strings joined; byte-level output may be invalid UTF-8 */
    tmp.len = 0;
    for (size_t i = 0; i < l[cur].n; i++)
        if (buf_append(&tmp, arena[cur].p + l[cur].off[i], l[cur].len[i]) != 0) goto done;
    rc = put_lossy(out, tmp.p ? tmp.p : "", tmp.len);
done:
    buf_free(&arena[0]);
    buf_free(&arena[1]);
    buf_free(&tmp);
    free(l[0].off);
    free(l[0].len);
    free(l[1].off);
    free(l[1].len);
    return rc;
}
