/* Unit tests of the SentencePiece wrapper (lib/tok/spm.cc) on the models of
 * fixtures/tok/ (made by fixtures/gen-tok.sh): ids equal to spm_encode's
 * golden files, byte ranges, decoding, the vocabulary, bad files. Run from
 * the repository root, as tests/run.sh does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tok/spm.h"

#define FIX "fixtures/tok/"

typedef struct {
    int32_t id[4096];
    uint32_t start[4096], end[4096];
    size_t n;
    size_t stop_at; /* emit returns non-zero at this token, when non-zero */
} toks;

static int collect(void *ctx, int32_t id, uint32_t start, uint32_t end)
{
    toks *t = ctx;
    if (t->stop_at && t->n + 1 == t->stop_at) return 1;
    assert_true(t->n < 4096);
    t->id[t->n] = id;
    t->start[t->n] = start;
    t->end[t->n] = end;
    t->n++;
    return 0;
}

static toks *encode(const sft_spm *m, const char *text, size_t len)
{
    static toks t;
    memset(&t, 0, sizeof t);
    assert_int_equal(sft_spm_encode(m, text, len, collect, &t), 0);
    return &t;
}

static sft_spm *load(const char *path)
{
    char err[256] = "";
    sft_spm *m = sft_spm_load(path, err, sizeof err);
    if (!m) fail_msg("%s (run from the repository root)", err);
    return m;
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

/* The ids of t as a golden line: "12 7 300". */
static const char *ids_text(const toks *t)
{
    static char s[65536];
    size_t o = 0;
    s[0] = '\0';
    for (size_t i = 0; i < t->n; i++)
        o += (size_t)snprintf(s + o, sizeof s - o, "%s%d", i ? " " : "", t->id[i]);
    return s;
}

/* Appends the text a piece stands for: ▁ as a space, <0xNN> as its byte. */
static size_t piece_text(const sft_spm *m, int32_t id, char *out)
{
    size_t len, o = 0;
    const char *p = sft_spm_piece(m, id, &len);
    assert_non_null(p);
    if (sft_spm_is_byte(m, id)) {
        out[0] = (char)strtol(p + 3, NULL, 16);
        return 1;
    }
    for (size_t i = 0; i < len;) {
        if (len - i >= 3 && memcmp(p + i, "\xe2\x96\x81", 3) == 0) {
            out[o++] = ' ';
            i += 3;
        } else {
            out[o++] = p[i++];
        }
    }
    return o;
}

/* Byte ranges: inside the text and in order; with the BPE model (no
 * normalization, whitespace kept) they also tile the text, and the pieces
 * spell it with the dummy-prefix space in front. */
static void check_ranges(const sft_spm *m, const toks *t, const char *text, size_t len, int tiles)
{
    uint32_t prev_start = 0, prev_end = 0;
    for (size_t i = 0; i < t->n; i++) {
        assert_true(t->start[i] <= t->end[i]);
        assert_true(t->end[i] <= len);
        assert_true(t->start[i] >= prev_start);
        if (tiles) {
            int same_char = sft_spm_is_byte(m, t->id[i]) && i > 0 && t->start[i] == prev_start &&
                            t->end[i] == prev_end && sft_spm_is_byte(m, t->id[i - 1]);
            assert_true(t->start[i] == prev_end || same_char);
        }
        prev_start = t->start[i];
        prev_end = t->end[i];
    }
    if (!tiles) return;
    assert_int_equal(prev_end, len);
    static char spelled[65536];
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) o += piece_text(m, t->id[i], spelled + o);
    if (len == 0) {
        assert_int_equal(o, 0);
    } else {
        assert_int_equal(o, len + 1);
        assert_true(spelled[0] == ' ' && memcmp(spelled + 1, text, len) == 0);
    }
}

/* Every line of text encodes to the ids spm_encode gave (the golden file). */
static void check_golden(const char *model, const char *text, const char *golden, int tiles)
{
    sft_spm *m = load(model);
    lines in = read_lines(text), want = read_lines(golden);
    assert_int_equal(in.n, want.n);
    assert_true(in.n >= 100);
    for (size_t i = 0; i < in.n; i++) {
        const toks *t = encode(m, in.line[i], in.len[i]);
        if (strcmp(ids_text(t), want.line[i]) != 0)
            fail_msg("%s line %zu: got [%s], spm_encode [%s]", text, i + 1, ids_text(t), want.line[i]);
        check_ranges(m, t, in.line[i], in.len[i], tiles);
    }
    free_lines(&in);
    free_lines(&want);
    sft_spm_free(m);
}

static void test_golden_bpe(void **state)
{
    (void)state;
    check_golden(FIX "spm_bpe.model", FIX "awkward.txt", FIX "spm_bpe.awkward.ids", 1);
    check_golden(FIX "spm_bpe.model", FIX "varied.txt", FIX "spm_bpe.varied.ids", 1);
}

static void test_golden_unigram(void **state)
{
    (void)state;
    check_golden(FIX "spm_unigram.model", FIX "awkward.txt", FIX "spm_unigram.awkward.ids", 0);
    check_golden(FIX "spm_unigram.model", FIX "varied.txt", FIX "spm_unigram.varied.ids", 0);
}

static void test_specials(void **state)
{
    (void)state;
    sft_spm *m = load(FIX "spm_bpe.model");
    assert_string_equal(sft_spm_model_type(m), "bpe");
    assert_int_equal(sft_spm_vocab_size(m), 1500);
    assert_int_equal(sft_spm_unk(m), 0);
    assert_int_equal(sft_spm_bos(m), 1);
    assert_int_equal(sft_spm_eos(m), 2);
    assert_int_equal(sft_spm_pad(m), 3);
    assert_true(sft_spm_is_unknown(m, 0));
    assert_false(sft_spm_is_unknown(m, 1));
    assert_true(sft_spm_is_control(m, 1));
    assert_true(sft_spm_is_control(m, 2));
    assert_true(sft_spm_is_control(m, 3));
    assert_false(sft_spm_is_control(m, 0));
    int32_t im = sft_spm_piece_id(m, "<|im_start|>", 12);
    assert_true(im > 3);
    assert_true(sft_spm_is_user_defined(m, im));
    assert_false(sft_spm_is_control(m, im));
    int32_t b = sft_spm_piece_id(m, "<0x41>", 6);
    assert_true(b > 0);
    assert_true(sft_spm_is_byte(m, b));
    assert_false(sft_spm_is_user_defined(m, b));
    /* A user-defined symbol is matched in the text; a control one is not. */
    const toks *t = encode(m, "<|im_start|><s>", 15);
    assert_int_equal(t->id[1], im);
    for (size_t i = 2; i < t->n; i++) assert_int_not_equal(t->id[i], 1);
    /* Out of range: no piece, no kind. */
    for (int32_t id = -1; id <= 1500; id += 1501) {
        assert_null(sft_spm_piece(m, id, NULL));
        assert_false(sft_spm_is_control(m, id));
        assert_false(sft_spm_is_unknown(m, id));
        assert_false(sft_spm_is_byte(m, id));
        assert_false(sft_spm_is_user_defined(m, id));
    }
    sft_spm_free(m);

    m = load(FIX "spm_unigram.model");
    assert_string_equal(sft_spm_model_type(m), "unigram");
    assert_int_equal(sft_spm_vocab_size(m), 1500);
    assert_int_equal(sft_spm_bos(m), -1);
    assert_int_equal(sft_spm_eos(m), 1);
    assert_int_equal(sft_spm_pad(m), -1);
    int32_t mask = sft_spm_piece_id(m, "<mask>", 6);
    assert_true(mask > 0);
    assert_true(sft_spm_is_control(m, mask));
    assert_false(sft_spm_is_user_defined(m, mask));
    sft_spm_free(m);
}

static void test_pieces(void **state)
{
    (void)state;
    sft_spm *m = load(FIX "spm_bpe.model");
    for (int32_t id = 0; id < (int32_t)sft_spm_vocab_size(m); id++) {
        size_t len = 0;
        const char *p = sft_spm_piece(m, id, &len);
        assert_non_null(p);
        assert_int_equal(strlen(p), len);
        assert_int_equal(sft_spm_piece_id(m, p, len), id);
    }
    size_t len;
    assert_string_equal(sft_spm_piece(m, 0, &len), "<unk>");
    assert_int_equal(len, 5);
    assert_int_equal(sft_spm_piece_id(m, "</s>", 4), 2);
    /* Unknown pieces are -1, not <unk>'s id as in libsentencepiece. */
    assert_int_equal(sft_spm_piece_id(m, "no-such-piece", 13), -1);
    assert_int_equal(sft_spm_piece_id(m, "", 0), -1);
    assert_int_equal(sft_spm_piece_id(m, "<unk>x", 5), 0); /* length, not NUL */
    sft_spm_free(m);
}

/* Characters outside the vocabulary become byte pieces, each with the
 * whole character's range. */
static void test_byte_fallback(void **state)
{
    (void)state;
    sft_spm *m = load(FIX "spm_bpe.model");
    const char *s = "a\xf0\xa0\x9c\x8e"; /* a𠜎 */
    const toks *t = encode(m, s, strlen(s));
    assert_int_equal(t->n, 5);
    assert_int_equal(t->start[0], 0);
    assert_int_equal(t->end[0], 1);
    static const char *const bytes[] = {"<0xF0>", "<0xA0>", "<0x9C>", "<0x8E>"};
    for (size_t i = 1; i < 5; i++) {
        assert_int_equal(t->id[i], sft_spm_piece_id(m, bytes[i - 1], 6));
        assert_int_equal(t->start[i], 1);
        assert_int_equal(t->end[i], 5);
    }
    /* Two unknown characters in a row keep their own ranges. */
    t = encode(m, "\xf0\xa0\x9c\x8e\xf0\xa0\x9c\xb1", 8);
    assert_int_equal(t->n, 9); /* ▁, then 4 + 4 bytes */
    assert_int_equal(t->start[0], 0);
    assert_int_equal(t->end[0], 0);
    for (size_t i = 1; i < 9; i++) {
        assert_int_equal(t->start[i], i < 5 ? 0 : 4);
        assert_int_equal(t->end[i], i < 5 ? 4 : 8);
    }
    sft_spm_free(m);
}

static void check_decode(const sft_spm *m, const char *text, const char *want)
{
    const toks *t = encode(m, text, strlen(text));
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sft_spm_decode(m, t->id, t->n, &out, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
    free(out);
}

static void test_decode(void **state)
{
    (void)state;
    sft_spm *m = load(FIX "spm_bpe.model");
    lines in = read_lines(FIX "awkward.txt");
    for (size_t i = 0; i < in.n; i++) {
        const toks *t = encode(m, in.line[i], in.len[i]);
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(sft_spm_decode(m, t->id, t->n, &out, &len), 0);
        if (len != in.len[i] || memcmp(out, in.line[i], len) != 0)
            fail_msg("awkward.txt line %zu does not decode to itself: [%s]", i + 1, out);
        free(out);
    }
    free_lines(&in);
    check_decode(m, "", "");
    /* Control pieces decode to nothing. */
    int32_t ids[] = {1, sft_spm_piece_id(m, "\xe2\x96\x81" "a", 4), 2};
    char *out;
    size_t len;
    assert_int_equal(sft_spm_decode(m, ids, 3, &out, &len), 0);
    assert_string_equal(out, "a");
    free(out);
    /* A bad id is refused. */
    int32_t bad[] = {5, 1500};
    out = NULL;
    assert_int_equal(sft_spm_decode(m, bad, 2, &out, &len), -1);
    bad[1] = -1;
    assert_int_equal(sft_spm_decode(m, bad, 2, &out, &len), -1);
    assert_null(out);
    sft_spm_free(m);

    /* The unigram model normalizes: NFKC, and extra whitespace removed. */
    m = load(FIX "spm_unigram.model");
    check_decode(m, "Hello world", "Hello world");
    check_decode(m, "  two   spaces  ", "two spaces");
    check_decode(m, "\xef\xbc\xa1\xef\xbc\xa2", "AB"); /* fullwidth ＡＢ */
    sft_spm_free(m);
}

static void test_empty_and_stop(void **state)
{
    (void)state;
    sft_spm *m = load(FIX "spm_bpe.model");
    assert_int_equal(encode(m, "", 0)->n, 0);
    assert_int_equal(encode(m, NULL, 0)->n, 0);
    /* Only the given length is read. */
    assert_int_equal(encode(m, "ab", 1)->n, encode(m, "a", 1)->n);
    /* An emit that says stop ends the encoding with -1. */
    toks t;
    memset(&t, 0, sizeof t);
    t.stop_at = 2;
    assert_int_equal(sft_spm_encode(m, "hello world again", 17, collect, &t), -1);
    assert_int_equal(t.n, 1);
    sft_spm_free(m);
}

static void expect_load_error(const char *path, const char *reason)
{
    char err[256] = "";
    assert_null(sft_spm_load(path, err, sizeof err));
    if (!strstr(err, reason)) fail_msg("%s: error \"%s\" lacks \"%s\"", path, err, reason);
    assert_non_null(strstr(err, path));
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_bad_files(void **state)
{
    (void)state;
    expect_load_error(FIX "no-such.model", "No such file");
    expect_load_error(FIX, "Is a directory");
    expect_load_error("/dev/null", "not a SentencePiece model");
    expect_load_error(FIX "awkward.txt", "SentencePiece model");

    char tmpl[] = "/tmp/test_spm.XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    close(fd);
    /* Random bytes, then the front half and the back half of a real model. */
    unsigned char junk[4096];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        junk[i] = (unsigned char)x;
    }
    write_file(tmpl, junk, sizeof junk);
    expect_load_error(tmpl, "SentencePiece model");

    FILE *mf = fopen(FIX "spm_bpe.model", "rb");
    assert_non_null(mf);
    static unsigned char model[1 << 20];
    size_t n = fread(model, 1, sizeof model, mf);
    fclose(mf);
    assert_true(n > 1000 && n < sizeof model);
    write_file(tmpl, model, n / 2);
    expect_load_error(tmpl, "SentencePiece model");
    write_file(tmpl, model + n / 2, n - n / 2);
    expect_load_error(tmpl, "SentencePiece model");
    /* A NULL or short err buffer is fine. */
    assert_null(sft_spm_load(tmpl, NULL, 0));
    char small[4];
    assert_null(sft_spm_load(tmpl, small, sizeof small));
    assert_int_equal(strlen(small), 3);
    remove(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_bpe),
        cmocka_unit_test(test_golden_unigram),
        cmocka_unit_test(test_specials),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_byte_fallback),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_empty_and_stop),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
