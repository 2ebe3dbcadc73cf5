/* Unit tests of lib/tok through its public API (tok.h) on the tokenizers of
 * fixtures/tok/ (made by fixtures/gen-tok.sh): ids equal to the golden files
 * of the references (Hugging Face tokenizers, spm_encode), byte ranges,
 * decoding, added and special tokens, the vocabulary, model directories and
 * tokenizer_config.json, the flags, bad files. Run from the repository
 * root, as tests/run.sh does. */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "core/buf.h"
#include "tok/tok.h"

#define FIX "fixtures/tok/"

static sft_tok *load(const char *path)
{
    char err[512] = "";
    sft_tok *t = sft_tok_load(path, err, sizeof err);
    if (!t) fail_msg("%s (run from the repository root)", err);
    return t;
}

/* Encodes into out, which is emptied first. */
static void encode(sft_tok_worker *w, const char *s, size_t n, unsigned flags, sft_tokens *out)
{
    out->n = 0;
    assert_int_equal(sft_tok_encode(w, s, n, flags, 0, out), 0);
}

/* The decoded text of ids, NUL-terminated, in b (emptied first). */
static const char *decode(const sft_tok *t, const int32_t *ids, size_t n, int skip_special, sft_buf *b)
{
    b->len = 0;
    assert_int_equal(sft_tok_decode(t, ids, n, skip_special, b), 0);
    assert_int_equal(buf_putc(b, '\0'), 0);
    b->len--;
    return b->p;
}

/* All lines of a file, split at '\n' only (the texts hold \r, \v, U+2028). */
typedef struct {
    char **line;
    size_t *len;
    size_t n;
} lines;

static lines read_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (run from the repository root)", path);
    lines l = {0};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
        l.line = realloc(l.line, (l.n + 1) * sizeof *l.line);
        l.len = realloc(l.len, (l.n + 1) * sizeof *l.len);
        assert_non_null(l.line);
        assert_non_null(l.len);
        l.line[l.n] = malloc((size_t)n + 1);
        assert_non_null(l.line[l.n]);
        memcpy(l.line[l.n], buf, (size_t)n + 1);
        l.len[l.n++] = (size_t)n;
    }
    free(buf);
    fclose(f);
    return l;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->line[i]);
    free(l->line);
    free(l->len);
}

/* ids as a golden line: "12 7 300". */
static const char *ids_text(const int32_t *ids, size_t n, sft_buf *b)
{
    char num[16];
    b->len = 0;
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(num, sizeof num, "%s%d", b->len ? " " : "", ids[i]);
        assert_int_equal(buf_append(b, num, (size_t)k), 0);
    }
    assert_int_equal(buf_putc(b, '\0'), 0);
    return b->p;
}

/* Byte ranges lie in the text, with starts and ends in order; `covers`:
 * together they leave no byte of the text out (tokens of one normalized
 * stretch may share or narrow its range, but never skip bytes). */
static void check_ranges(const sft_tokens *t, size_t len, int covers, const char *where)
{
    uint32_t reach = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->start[i] > t->end[i] || t->end[i] > len)
            fail_msg("%s: token %zu has range [%u, %u) in a text of %zu bytes", where, i, t->start[i],
                     t->end[i], len);
        if (i > 0 && (t->start[i] < t->start[i - 1] || t->end[i] < t->end[i - 1]))
            fail_msg("%s: token %zu [%u, %u) goes back from [%u, %u)", where, i, t->start[i], t->end[i],
                     t->start[i - 1], t->end[i - 1]);
        if (covers && t->start[i] > reach)
            fail_msg("%s: bytes [%u, %u) belong to no token", where, reach, t->start[i]);
        if (t->end[i] > reach) reach = t->end[i];
    }
    if (covers && reach != len) fail_msg("%s: bytes [%u, %zu) belong to no token", where, reach, len);
}

/* A line whose ids differ from spm_encode's with SFT_TOK_SPECIAL_TEXT:
 * then SentencePiece control and unknown pieces ("<s>", "<unk>") written in
 * the text are those tokens, as in HF's slow tokenizers, while spm_encode
 * spells them out. The ids are spm_encode's for the text between them, the
 * pieces' ids in between. */
typedef struct {
    const char *text;
    size_t line;
    const char *ids;
} override;

#define SPM_BPE_L67 "1144 66 1183 743 68 66 1145 743 68 3 0" /* <bos><eos><pad><unk> */
#define SPM_UNI_L67 "259 63 1491 493 65 63 511 493 65 63 785 1044 359 65 0"
#define SPM_UNI_L69 "2 280 259 63 553 1237 859 65" /* <mask> and <0x41> */
static const override spm_bpe_over[] = {
    {"awkward.txt", 67, SPM_BPE_L67},
    {"awkward.txt", 68, "1 916 2 916 0"}, /* <s> </s> <unk> */
    {"varied.txt", 208, SPM_BPE_L67},
    {NULL, 0, NULL},
};
static const override spm_uni_over[] = {
    {"awkward.txt", 67, SPM_UNI_L67},
    {"awkward.txt", 68, "259 63 274 65 1 0"}, /* no <s> in this model */
    {"awkward.txt", 69, SPM_UNI_L69},
    {"varied.txt", 208, SPM_UNI_L67},
    {"varied.txt", 273, SPM_UNI_L69},
    {NULL, 0, NULL},
};

static const char *overridden(const override *ov, const char *text, size_t line)
{
    for (; ov && ov->text; ov++)
        if (ov->line == line && strcmp(ov->text, text) == 0) return ov->ids;
    return NULL;
}

typedef struct {
    const char *tok;       /* the tokenizer to load */
    const char *golden;    /* printf format of the golden file: %s the text's name, %s ".special" */
    int special_golden;    /* the golden file has its own ADD_SPECIAL variant */
    int32_t special_first; /* else: the id ADD_SPECIAL puts in front, -1 none */
    const override *over;  /* SentencePiece: the lines SPECIAL_TEXT changes */
    int covers;
} golden_case;

/* Every line of awkward.txt and varied.txt encodes to the golden ids, with
 * and without SFT_TOK_ADD_SPECIAL and SFT_TOK_SPECIAL_TEXT (which changes
 * nothing for a tokenizer.json), and to the same ids with
 * SFT_TOK_NO_OFFSETS (a .model then leaves every range empty at base). */
static void check_golden(const golden_case *c)
{
    static const unsigned variants[] = {
        0,
        SFT_TOK_ADD_SPECIAL,
        SFT_TOK_SPECIAL_TEXT,
        SFT_TOK_ADD_SPECIAL | SFT_TOK_SPECIAL_TEXT,
        SFT_TOK_NO_OFFSETS,
        SFT_TOK_NO_OFFSETS | SFT_TOK_ADD_SPECIAL,
    };
    static const char *const texts[] = {"awkward.txt", "varied.txt"};
    sft_tok *t = load(c->tok);
    sft_tok_worker *w = sft_tok_worker_new(t);
    assert_non_null(w);
    int spm = strstr(c->tok, ".model") != NULL;
    sft_tokens out = {0};
    sft_buf got = {0}, want = {0};
    for (int x = 0; x < 2; x++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", texts[x]);
        lines in = read_lines(path);
        assert_true(in.n >= 100);
        for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
            unsigned flags = variants[v];
            int special = (flags & SFT_TOK_ADD_SPECIAL) != 0;
            char base[32], gpath[256];
            snprintf(base, sizeof base, "%.*s", (int)(strlen(texts[x]) - 4), texts[x]);
            snprintf(gpath, sizeof gpath, c->golden, base, special && c->special_golden ? ".special" : "");
            lines gold = read_lines(gpath);
            assert_int_equal(gold.n, in.n);
            for (size_t i = 0; i < in.n; i++) {
                encode(w, in.line[i], in.len[i], flags, &out);
                const char *ov = flags & SFT_TOK_SPECIAL_TEXT ? overridden(c->over, texts[x], i + 1) : NULL;
                const char *g = ov ? ov : gold.line[i];
                /* the reference's ids, with what ADD_SPECIAL adds in front */
                want.len = 0;
                int32_t first = special && !c->special_golden ? c->special_first : -1;
                if (first >= 0) {
                    char num[16];
                    int k = snprintf(num, sizeof num, *g ? "%d " : "%d", first);
                    assert_int_equal(buf_append(&want, num, (size_t)k), 0);
                }
                assert_int_equal(buf_append(&want, g, strlen(g) + 1), 0);
                if (strcmp(ids_text(out.ids, out.n, &got), want.p) != 0)
                    fail_msg("%s on %s line %zu (flags %u): got [%s], want [%s]", c->tok, texts[x], i + 1,
                             flags, got.p, want.p);
                for (size_t k = 0; k < out.n; k++)
                    assert_true(out.ids[k] >= 0 && (size_t)out.ids[k] < sft_tok_vocab_size(t));
                if (flags & SFT_TOK_NO_OFFSETS) {
                    for (size_t k = 0; spm && k < out.n; k++)
                        if (out.start[k] != 0 || out.end[k] != 0)
                            fail_msg("%s on %s line %zu: NO_OFFSETS, yet token %zu has [%u, %u)", c->tok,
                                     texts[x], i + 1, k, out.start[k], out.end[k]);
                } else {
                    char where[320];
                    snprintf(where, sizeof where, "%s on %s line %zu (flags %u)", c->tok, texts[x], i + 1,
                             flags);
                    check_ranges(&out, in.len[i], c->covers, where);
                }
            }
            free_lines(&gold);
        }
        free_lines(&in);
    }
    buf_free(&got);
    buf_free(&want);
    sft_tokens_free(&out);
    sft_tok_worker_free(w);
    sft_tok_free(t);
}

static void test_golden_bytelevel(void **state)
{
    (void)state;
    golden_case c = {FIX "bytelevel/tokenizer.json", FIX "bytelevel/%s%s.ids", 1, -1, NULL, 1};
    check_golden(&c);
}

static void test_golden_spmbpe(void **state)
{
    (void)state;
    golden_case c = {FIX "spmbpe/tokenizer.json", FIX "spmbpe/%s%s.ids", 1, -1, NULL, 1};
    check_golden(&c);
}

/* spm_encode adds no BOS; LlamaTokenizer's default (no tokenizer_config.json
 * here) is BOS in front, no EOS. The unigram model has no BOS. */
static void test_golden_spm_bpe(void **state)
{
    (void)state;
    golden_case c = {FIX "spm_bpe.model", FIX "spm_bpe.%s%s.ids", 0, 1, spm_bpe_over, 1};
    check_golden(&c);
}

static void test_golden_spm_unigram(void **state)
{
    (void)state;
    /* NFKC and removed whitespace leave bytes to no token: no cover check */
    golden_case c = {FIX "spm_unigram.model", FIX "spm_unigram.%s%s.ids", 0, -1, spm_uni_over, 0};
    check_golden(&c);
}

/* ---- temporary directories ---- */

static char *tmp_dir(void)
{
    char *dir = strdup("/tmp/test_tok.XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void rm_dir(char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            assert_int_equal(unlink(path), 0);
        }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

static void write_in(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A symbolic link dir/name to the fixture `target` (relative to the root). */
static void link_in(const char *dir, const char *name, const char *target)
{
    char abs[PATH_MAX], path[512];
    assert_non_null(realpath(target, abs));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(symlink(abs, path), 0);
}

/* ids of text through tokenizer t as a string, for comparing two loads. */
static char *ids_of(const sft_tok *t, const char *text, unsigned flags)
{
    sft_tok_worker *w = sft_tok_worker_new(t);
    assert_non_null(w);
    sft_tokens out = {0};
    sft_buf b = {0};
    encode(w, text, strlen(text), flags, &out);
    char *s = strdup(ids_text(out.ids, out.n, &b));
    buf_free(&b);
    sft_tokens_free(&out);
    sft_tok_worker_free(w);
    return s;
}

static void same_as_file(const char *dir, const char *file, const char *text)
{
    sft_tok *a = load(dir), *b = load(file);
    assert_string_equal(sft_tok_describe(a), sft_tok_describe(b));
    assert_int_equal(sft_tok_vocab_size(a), sft_tok_vocab_size(b));
    for (unsigned flags = 0; flags <= SFT_TOK_ADD_SPECIAL; flags += SFT_TOK_ADD_SPECIAL) {
        char *x = ids_of(a, text, flags), *y = ids_of(b, text, flags);
        assert_string_equal(x, y);
        assert_true(strlen(x) > 10);
        free(x);
        free(y);
    }
    sft_tok_free(a);
    sft_tok_free(b);
}

static const char sample[] = "안녕하세요, world! <|im_start|>user\n오늘 날씨 😀 123";

/* A model directory: tokenizer.json, else tokenizer.model. */
static void test_model_dir(void **state)
{
    (void)state;
    same_as_file(FIX "bytelevel", FIX "bytelevel/tokenizer.json", sample);
    same_as_file(FIX "spmbpe/", FIX "spmbpe/tokenizer.json", sample);

    char *dir = tmp_dir();
    link_in(dir, "tokenizer.model", FIX "spm_bpe.model");
    same_as_file(dir, FIX "spm_bpe.model", sample);
    sft_tok *t = load(dir);
    assert_non_null(strstr(sft_tok_describe(t), "sentencepiece (bpe"));
    sft_tok_free(t);
    /* both there: tokenizer.json wins */
    link_in(dir, "tokenizer.json", FIX "bytelevel/tokenizer.json");
    same_as_file(dir, FIX "bytelevel/tokenizer.json", sample);
    rm_dir(dir);
}

/* tokenizer_config.json beside the tokenizer: BOS/EOS, add_bos_token and
 * add_eos_token (SentencePiece), the chat template; chat_template.jinja
 * when the config has none. */
static void test_config(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    link_in(dir, "tokenizer.model", FIX "spm_bpe.model");
    write_in(dir, "tokenizer_config.json",
             "{\"add_bos_token\": false, \"add_eos_token\": true, \"bos_token\": \"<s>\","
             " \"eos_token\": {\"content\": \"</s>\", \"special\": true}, \"chat_template\": \"{{ x }}\"}");
    sft_tok *t = load(dir);
    assert_int_equal(sft_tok_bos(t), 1);
    assert_int_equal(sft_tok_eos(t), 2);
    assert_string_equal(sft_tok_config(t, "chat_template"), "{{ x }}");
    assert_string_equal(sft_tok_config(t, "eos_token"), "</s>");
    assert_string_equal(sft_tok_config(t, "bos_token"), "<s>");
    assert_null(sft_tok_config(t, "no_such_key"));
    char *plain = ids_of(t, "hello", 0), *special = ids_of(t, "hello", SFT_TOK_ADD_SPECIAL);
    char want[256];
    snprintf(want, sizeof want, "%s 2", plain); /* EOS after, no BOS before */
    assert_string_equal(special, want);
    free(plain);
    free(special);
    sft_tok_free(t);
    rm_dir(dir);

    dir = tmp_dir();
    link_in(dir, "tokenizer.json", FIX "bytelevel/tokenizer.json");
    write_in(dir, "tokenizer_config.json", "{\"bos_token\": null, \"eos_token\": \"<|im_end|>\"}");
    write_in(dir, "chat_template.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}");
    t = load(dir);
    assert_int_equal(sft_tok_bos(t), -1);
    assert_int_equal(sft_tok_eos(t), 2058);
    assert_null(sft_tok_config(t, "bos_token"));
    assert_string_equal(sft_tok_config(t, "chat_template"), "{% for m in messages %}{{ m.content }}{% endfor %}");
    sft_tok_free(t);
    /* a config that is not JSON is an error, not ignored */
    write_in(dir, "tokenizer_config.json", "{\"eos_token\": ");
    char err[512] = "";
    assert_null(sft_tok_load(dir, err, sizeof err));
    assert_non_null(strstr(err, "tokenizer_config.json"));
    rm_dir(dir);
}

/* Whether a UTF-8 text is in NFC (ICU): byte-level decoding gives the
 * normalized text back. */
static int is_nfc(const char *s, size_t n)
{
    UErrorCode e = U_ZERO_ERROR;
    int32_t ulen = 0;
    u_strFromUTF8(NULL, 0, &ulen, s, (int32_t)n, &e);
    UChar *u = malloc(((size_t)ulen + 1) * sizeof *u);
    assert_non_null(u);
    e = U_ZERO_ERROR;
    u_strFromUTF8(u, ulen + 1, NULL, s, (int32_t)n, &e);
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&e);
    UBool yes = unorm2_isNormalized(nfc, u, ulen, &e);
    assert_false(U_FAILURE(e));
    free(u);
    return yes;
}

/* decode(encode(x)) == x for the byte-level tokenizer, for every line in
 * NFC; a line that is not comes back normalized, and that text encodes to
 * the same ids. Special tokens are left out with skip_special only. */
static void test_roundtrip_bytelevel(void **state)
{
    (void)state;
    sft_tok *t = load(FIX "bytelevel/tokenizer.json");
    sft_tok_worker *w = sft_tok_worker_new(t);
    sft_tokens a = {0}, b = {0};
    sft_buf d = {0}, e = {0};
    size_t exact = 0, normalized = 0;
    static const char *const texts[] = {FIX "awkward.txt", FIX "varied.txt"};
    for (int x = 0; x < 2; x++) {
        lines in = read_lines(texts[x]);
        for (size_t i = 0; i < in.n; i++) {
            encode(w, in.line[i], in.len[i], SFT_TOK_ADD_SPECIAL, &a);
            decode(t, a.ids, a.n, 0, &d);
            if (is_nfc(in.line[i], in.len[i])) {
                if (d.len != in.len[i] || memcmp(d.p, in.line[i], d.len) != 0)
                    fail_msg("%s line %zu decodes to [%s]", texts[x], i + 1, d.p);
                exact++;
            } else {
                assert_true(is_nfc(d.p, d.len));
                encode(w, d.p, d.len, SFT_TOK_ADD_SPECIAL, &b);
                assert_string_equal(ids_text(a.ids, a.n, &d), ids_text(b.ids, b.n, &e));
                normalized++;
            }
        }
        free_lines(&in);
    }
    assert_true(exact >= 480);
    assert_true(normalized >= 1); /* NFD Hangul */

    const char *s = "<|im_start|>user\n<think>hi</think><|im_end|>";
    encode(w, s, strlen(s), 0, &a);
    assert_string_equal(decode(t, a.ids, a.n, 0, &d), s);
    assert_string_equal(decode(t, a.ids, a.n, 1, &d), "user\n<think>hi</think>"); /* <think> is no special */
    assert_string_equal(decode(t, NULL, 0, 0, &d), "");
    /* a token that is half a character: U+FFFD, as HF's lossy decoding */
    int32_t half = sft_tok_piece_id(t, "\xc3\xac", 2); /* ì: the byte 0xEC, which starts 안 */
    assert_true(half >= 0);
    assert_string_equal(decode(t, &half, 1, 0, &d), "\xef\xbf\xbd");
    /* bad ids */
    int32_t bad[] = {5, (int32_t)sft_tok_vocab_size(t)};
    d.len = 0;
    assert_int_equal(sft_tok_decode(t, bad, 2, 0, &d), -1);
    bad[1] = -1;
    assert_int_equal(sft_tok_decode(t, bad, 2, 0, &d), -1);
    buf_free(&d);
    buf_free(&e);
    sft_tokens_free(&a);
    sft_tokens_free(&b);
    sft_tok_worker_free(w);
    sft_tok_free(t);
}

/* The Gemma-style tokenizer writes spaces as ▁ and decodes ▁ as a space:
 * every line (none holds a ▁ of its own) comes back as it was, after the
 * <bos> that ADD_SPECIAL puts in front; skip_special leaves that out. */
static void test_roundtrip_spmbpe(void **state)
{
    (void)state;
    sft_tok *t = load(FIX "spmbpe/tokenizer.json");
    sft_tok_worker *w = sft_tok_worker_new(t);
    sft_tokens a = {0};
    sft_buf d = {0};
    static const char *const texts[] = {FIX "awkward.txt", FIX "varied.txt"};
    for (int x = 0; x < 2; x++) {
        lines in = read_lines(texts[x]);
        for (size_t i = 0; i < in.n; i++) {
            encode(w, in.line[i], in.len[i], 0, &a);
            decode(t, a.ids, a.n, 0, &d);
            if (d.len != in.len[i] || memcmp(d.p, in.line[i], d.len) != 0)
                fail_msg("%s line %zu decodes to [%s]", texts[x], i + 1, d.p);
            encode(w, in.line[i], in.len[i], SFT_TOK_ADD_SPECIAL, &a);
            assert_int_equal(a.ids[0], 2);
            decode(t, a.ids + 1, a.n - 1, 0, &d);
            assert_true(d.len == in.len[i] && memcmp(d.p, in.line[i], d.len) == 0);
        }
        free_lines(&in);
    }
    int32_t bos_a[] = {2, sft_tok_piece_id(t, "a", 1)};
    assert_string_equal(decode(t, bos_a, 2, 1, &d), "a");
    assert_string_equal(decode(t, bos_a, 2, 0, &d), "<bos>a");
    const char *s = "a\xe2\x96\x81" "b"; /* a▁b: the ▁ comes back as a space */
    encode(w, s, strlen(s), 0, &a);
    assert_string_equal(decode(t, a.ids, a.n, 0, &d), "a b");
    /* a run of byte pieces that is no UTF-8: one U+FFFD per byte, as
     * ByteFallback does ([<0xEC>, <0x41>] is "\ufffd\ufffd", not "\ufffdA") */
    int32_t bytes[] = {sft_tok_piece_id(t, "<0xEC>", 6), sft_tok_piece_id(t, "<0x41>", 6),
                       sft_tok_piece_id(t, "x", 1)};
    assert_string_equal(decode(t, bytes, 3, 0, &d), "\xef\xbf\xbd\xef\xbf\xbd" "x");
    buf_free(&d);
    sft_tokens_free(&a);
    sft_tok_worker_free(w);
    sft_tok_free(t);
}

/* The index of id in t, or -1. */
static long find_id(const sft_tokens *t, int32_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ids[i] == id) return (long)i;
    return -1;
}

static void expect_token(const sft_tokens *t, int32_t id, uint32_t start, uint32_t end)
{
    long i = find_id(t, id);
    if (i < 0) fail_msg("id %d not in the encoding", id);
    assert_int_equal(t->start[i], start);
    assert_int_equal(t->end[i], end);
}

/* Added and special tokens written in the text are their ids, with the
 * match as their range; a partial one is plain text. */
static void test_added_tokens(void **state)
{
    (void)state;
    sft_tokens a = {0};
    sft_tok *t = load(FIX "bytelevel/tokenizer.json");
    sft_tok_worker *w = sft_tok_worker_new(t);
    const char *s = "hi<|im_start|>user\n<think>x</think><|im_end|><|endoftext|>";
    encode(w, s, strlen(s), 0, &a);
    expect_token(&a, 2057, 2, 14);
    expect_token(&a, 2059, 19, 26);
    expect_token(&a, 2060, 27, 35);
    expect_token(&a, 2058, 35, 45);
    expect_token(&a, 2056, 45, 58);
    assert_int_equal(a.ids[a.n - 1], 2056);
    assert_int_equal(sft_tok_piece_id(t, "<|im_start|>", 12), 2057);
    for (int32_t id = 2056; id <= 2058; id++) assert_true(sft_tok_is_special(t, id));
    assert_false(sft_tok_is_special(t, 2059));
    assert_false(sft_tok_is_special(t, 2060));
    assert_false(sft_tok_is_special(t, 0));
    s = "<|im_start|"; /* no closing >: plain text */
    encode(w, s, strlen(s), 0, &a);
    assert_true(a.n > 1);
    assert_int_equal(find_id(&a, 2057), -1);
    sft_tok_worker_free(w);
    sft_tok_free(t);

    t = load(FIX "spmbpe/tokenizer.json");
    w = sft_tok_worker_new(t);
    s = "<start_of_turn>user\n<mask>?<end_of_turn>";
    encode(w, s, strlen(s), SFT_TOK_ADD_SPECIAL, &a);
    assert_int_equal(a.ids[0], 2); /* the post-processor's <bos> */
    assert_int_equal(a.start[0], 0);
    assert_int_equal(a.end[0], 0);
    assert_int_equal(a.ids[1], 5);
    assert_int_equal(a.end[1], 15);
    expect_token(&a, 4, 20, 26);
    expect_token(&a, 6, 27, 40);
    assert_true(sft_tok_is_special(t, 5));
    assert_true(sft_tok_is_special(t, 2));
    assert_false(sft_tok_is_special(t, 4)); /* <mask> is added, not special */
    sft_tok_worker_free(w);
    sft_tok_free(t);

    /* SentencePiece: a user-defined piece is matched in the text, as
     * spm_encode does; a control piece only with SFT_TOK_SPECIAL_TEXT */
    t = load(FIX "spm_bpe.model");
    w = sft_tok_worker_new(t);
    int32_t im = sft_tok_piece_id(t, "<|im_start|>", 12);
    assert_true(im > 3);
    s = "a<|im_start|>b<s>c";
    encode(w, s, strlen(s), 0, &a);
    expect_token(&a, im, 1, 13);
    assert_int_equal(find_id(&a, 1), -1);
    encode(w, s, strlen(s), SFT_TOK_SPECIAL_TEXT, &a);
    expect_token(&a, im, 1, 13);
    expect_token(&a, 1, 14, 17);
    assert_false(sft_tok_is_special(t, im));
    assert_true(sft_tok_is_special(t, 1));
    sft_tok_worker_free(w);
    sft_tok_free(t);
    sft_tokens_free(&a);
}

/* Every id has a piece, which maps back to it; out of range has none. */
static void check_pieces(const char *path, size_t vocab)
{
    sft_tok *t = load(path);
    assert_int_equal(sft_tok_vocab_size(t), vocab);
    for (int32_t id = 0; id < (int32_t)vocab; id++) {
        size_t len = 0;
        const char *p = sft_tok_piece(t, id, &len);
        if (!p) fail_msg("%s: id %d has no piece", path, id);
        if (sft_tok_piece_id(t, p, len) != id)
            fail_msg("%s: piece \"%.*s\" of id %d maps to %d", path, (int)len, p, id,
                     sft_tok_piece_id(t, p, len));
    }
    size_t len;
    assert_null(sft_tok_piece(t, -1, &len));
    assert_null(sft_tok_piece(t, (int32_t)vocab, &len));
    assert_int_equal(sft_tok_piece_id(t, "no such piece", 13), -1);
    assert_int_equal(sft_tok_piece_id(t, "", 0), -1);
    sft_tok_free(t);
}

static void test_pieces(void **state)
{
    (void)state;
    check_pieces(FIX "bytelevel/tokenizer.json", 2061);
    check_pieces(FIX "spmbpe/tokenizer.json", 2138);
    check_pieces(FIX "spm_bpe.model", 1500);
    check_pieces(FIX "spm_unigram.model", 1500);

    size_t len;
    sft_tok *t = load(FIX "bytelevel/tokenizer.json");
    assert_int_equal(sft_tok_piece_id(t, "\xc4\xa0", 2), 220); /* Ġ, the space */
    assert_memory_equal(sft_tok_piece(t, 220, &len), "\xc4\xa0", 2);
    assert_int_equal(len, 2);
    assert_memory_equal(sft_tok_piece(t, 2058, &len), "<|im_end|>", 10);
    assert_int_equal(len, 10);
    assert_int_equal(sft_tok_piece_id(t, "<|im_end|>x", 10), 2058); /* length, not NUL */
    assert_non_null(strstr(sft_tok_describe(t), "byte-level"));
    sft_tok_free(t);
    t = load(FIX "spmbpe/tokenizer.json");
    assert_memory_equal(sft_tok_piece(t, 7, &len), "<0x00>", 6);
    assert_int_equal(sft_tok_piece_id(t, "<0xFF>", 6), 262);
    assert_int_equal(sft_tok_piece_id(t, "\xe2\x96\x81", 3), 263);
    assert_non_null(strstr(sft_tok_describe(t), "byte fallback"));
    sft_tok_free(t);
    t = load(FIX "spm_unigram.model");
    assert_int_equal(sft_tok_piece_id(t, "<unk>", 5), 0);
    assert_int_equal(sft_tok_piece_id(t, "</s>", 4), 1);
    assert_int_equal(sft_tok_piece_id(t, "<mask>", 6), 2);
    assert_non_null(strstr(sft_tok_describe(t), "unigram"));
    sft_tok_free(t);
}

/* BOS/EOS from the tokenizer alone (no tokenizer_config.json): what the
 * post-processor adds, or the SentencePiece model's pieces; and what
 * ADD_SPECIAL adds to an empty text. */
static void check_specials(const char *path, int32_t bos, int32_t eos, const char *empty_special)
{
    sft_tok *t = load(path);
    assert_int_equal(sft_tok_bos(t), bos);
    assert_int_equal(sft_tok_eos(t), eos);
    if (bos >= 0) assert_true(sft_tok_is_special(t, bos));
    if (eos >= 0) assert_true(sft_tok_is_special(t, eos));
    char *x = ids_of(t, "", 0), *y = ids_of(t, "", SFT_TOK_ADD_SPECIAL);
    assert_string_equal(x, "");
    assert_string_equal(y, empty_special);
    free(x);
    free(y);
    sft_tok_free(t);
}

static void test_bos_eos(void **state)
{
    (void)state;
    check_specials(FIX "bytelevel/tokenizer.json", -1, -1, "");
    check_specials(FIX "spmbpe/tokenizer.json", 2, -1, "2");
    check_specials(FIX "spm_bpe.model", 1, 2, "1");
    check_specials(FIX "spm_unigram.model", -1, 1, "");
}

/* Encoding appends and shifts ranges by base; only len bytes are read;
 * invalid UTF-8 is U+FFFD. */
static void test_encode_api(void **state)
{
    (void)state;
    sft_tok *t = load(FIX "bytelevel/tokenizer.json");
    sft_tok_worker *w = sft_tok_worker_new(t);
    sft_tokens a = {0}, b = {0};
    const char *s = "hello <|im_end|> world";
    encode(w, s, strlen(s), 0, &a);
    size_t n = a.n;
    assert_true(n >= 4);
    assert_int_equal(sft_tok_encode(w, s, strlen(s), 0, 1000, &a), 0);
    assert_int_equal(a.n, 2 * n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a.ids[n + i], a.ids[i]);
        assert_int_equal(a.start[n + i], a.start[i] + 1000);
        assert_int_equal(a.end[n + i], a.end[i] + 1000);
    }
    encode(w, "ab", 1, 0, &a);
    encode(w, "a", 1, 0, &b);
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.ids[0], b.ids[0]);
    encode(w, "a\xff" "b", 3, 0, &a);
    encode(w, "a\xef\xbf\xbd" "b", 5, 0, &b);
    sft_buf x = {0}, y = {0};
    assert_string_equal(ids_text(a.ids, a.n, &x), ids_text(b.ids, b.n, &y));
    check_ranges(&a, 3, 1, "a\\xffb");
    /* sft_tokens_push grows the list */
    sft_tokens p = {0};
    for (int i = 0; i < 1000; i++) assert_int_equal(sft_tokens_push(&p, i, (uint32_t)i, (uint32_t)i + 1), 0);
    assert_int_equal(p.n, 1000);
    assert_int_equal(p.ids[999], 999);
    assert_int_equal(p.end[999], 1000);
    sft_tokens_free(&p);
    assert_null(p.ids);
    buf_free(&x);
    buf_free(&y);
    sft_tokens_free(&a);
    sft_tokens_free(&b);
    sft_tok_worker_free(w);
    sft_tok_free(t);
}

/* ---- bad files ---- */

static void expect_error(const char *path, const char *reason)
{
    char err[512] = "";
    sft_tok *t = sft_tok_load(path, err, sizeof err);
    if (t) fail_msg("%s loaded; want an error with \"%s\"", path, reason);
    if (!strstr(err, reason)) fail_msg("%s: error \"%s\" lacks \"%s\"", path, err, reason);
}

/* A tiny tokenizer.json; the variants change one part of it. */
static void write_tokjson(const char *dir, const char *model, const char *pre, const char *merges)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"single_word\": false,"
             " \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}],"
             " \"normalizer\": null, \"pre_tokenizer\": %s, \"post_processor\": null, \"decoder\": null,"
             " \"model\": {\"type\": \"%s\", \"unk_token\": null, \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2,"
             " \" \": 3, \"c\": 4, \"<s>\": 5}, \"merges\": %s}}",
             pre, model, merges);
    write_in(dir, "tokenizer.json", text);
}

#define SPLIT_PRE "{\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Isolated\", \"invert\": false}"

static void test_bad_files(void **state)
{
    (void)state;
    expect_error(FIX "no-such.json", "no-such.json: No such file");
    expect_error(FIX "no-such-dir/", "no-such-dir/");
    char *dir = tmp_dir();
    expect_error(dir, "no tokenizer.json or tokenizer.model");

    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    /* the base file is good: what fails below fails for its change */
    write_tokjson(dir, "BPE", SPLIT_PRE, "[[\"a\", \"b\"]]");
    sft_tok *t = load(dir);
    char *ids = ids_of(t, "ab c<s>ab", 0);
    assert_string_equal(ids, "2 3 4 5 2");
    free(ids);
    sft_tok_free(t);

    write_tokjson(dir, "WordPiece", SPLIT_PRE, "[]");
    expect_error(dir, "unsupported model \"WordPiece\"");
    expect_error(path, "tokenizer.json: unsupported model \"WordPiece\"");
    write_tokjson(dir, "BPE", "{\"type\": \"Whitespace\"}", "[[\"a\", \"b\"]]");
    expect_error(path, "unsupported pre_tokenizer \"Whitespace\"");
    write_tokjson(dir, "BPE", SPLIT_PRE, "[[\"a\", \"b\"], [\"x\", \"ab\"]]");
    expect_error(path, "\"x\" + \"ab\" is not in the vocabulary");
    write_tokjson(dir, "BPE", SPLIT_PRE, "[\"a zz\"]");
    expect_error(path, "not in the vocabulary");
    write_in(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0");
    expect_error(path, "not valid JSON");
    write_in(dir, "tokenizer.json", "[1, 2, 3]");
    expect_error(path, "not a JSON object");
    write_in(dir, "tokenizer.json", "");
    expect_error(path, "tokenizer.json: not valid JSON");
    /* a step that fails after its memory is taken (ASan sees a leak) */
    write_tokjson(dir, "BPE",
                  "{\"type\": \"Split\", \"pattern\": {\"String\": \"\"}, \"behavior\": \"Isolated\"}",
                  "[]");
    expect_error(path, "Split: empty pattern");
    /* post-processor ids must be tokens */
    write_in(dir, "tokenizer.json",
             "{\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"<s>\", 0],"
             " \"sep\": [\"</s>\", -7]}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0},"
             " \"merges\": []}}");
    expect_error(path, "id -7 is not a token");
    /* Metaspace "first" prepends only at the start of the input, not after
     * an added token (HF: "<s>ab" -> 5 4, "ab" -> 3 2) */
    write_in(dir, "tokenizer.json",
             "{\"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"special\": true}],"
             " \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\u2581\","
             " \"prepend_scheme\": \"first\", \"split\": false}, \"model\": {\"type\": \"BPE\","
             " \"vocab\": {\"\u2581\": 0, \"a\": 1, \"b\": 2, \"\u2581a\": 3, \"ab\": 4, \"<s>\": 5},"
             " \"merges\": [[\"\u2581\", \"a\"], [\"a\", \"b\"]]}}");
    t = load(path);
    ids = ids_of(t, "<s>ab", 0);
    assert_string_equal(ids, "5 4");
    free(ids);
    ids = ids_of(t, "ab", 0);
    assert_string_equal(ids, "3 2");
    free(ids);
    sft_tok_free(t);
    /* garbage under another name: taken for a SentencePiece model, refused */
    write_in(dir, "tokenizer.model", "\x01\x02 not a model at all \xff");
    unlink(path);
    expect_error(dir, "tokenizer.model");
    /* a short err buffer is cut, never overrun */
    char small[8];
    assert_null(sft_tok_load(FIX "no-such.json", small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_bytelevel),
        cmocka_unit_test(test_golden_spmbpe),
        cmocka_unit_test(test_golden_spm_bpe),
        cmocka_unit_test(test_golden_spm_unigram),
        cmocka_unit_test(test_model_dir),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_roundtrip_bytelevel),
        cmocka_unit_test(test_roundtrip_spmbpe),
        cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_bos_eos),
        cmocka_unit_test(test_encode_api),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
