#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/hash.h"
#include "core/out.h"
#include "core/utf8.h"

/* An sft_out (and a record writer on it) writing into a temporary file,
 * and a way to read it back. */
typedef struct {
    FILE *f;
    sft_out *o;
    jw w;
} capture;

static void cap_open(capture *c)
{
    c->f = tmpfile();
    assert_non_null(c->f);
    c->o = sft_out_fd(fileno(c->f), "capture");
    assert_non_null(c->o);
    jw_init(&c->w, c->o);
}

/* Closes the output and returns what was written (caller frees). */
static char *cap_close(capture *c)
{
    assert_int_equal(sft_out_close(c->o, 1), 0);
    off_t n = lseek(fileno(c->f), 0, SEEK_END);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(pread(fileno(c->f), s, (size_t)n, 0), n);
    s[n] = '\0';
    fclose(c->f);
    return s;
}

static void test_escape_table(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    const char in[] = "q\" b\\ s/ \b\f\n\r\t \x01\x1f\x7f é 한";
    sft_out_json_string(c.o, in, sizeof in - 1);
    char *s = cap_close(&c);
    assert_string_equal(s, "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f é 한\"");
    free(s);
}

/* Random valid UTF-8 (no NUL: cJSON strings end there) through the escaper
 * and back through cJSON must come out unchanged. */
static void test_escape_roundtrip_random(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    for (int iter = 0; iter < 2000; iter++) {
        char in[300];
        size_t n = 0, want = splitmix64(&rng) % 200;
        while (n < want) {
            uint64_t r = splitmix64(&rng);
            uint32_t cp;
            switch (r % 4) {
            case 0: cp = 1 + (uint32_t)(r >> 8) % 0x3F; break; /* controls, punctuation */
            case 1: cp = 0x20 + (uint32_t)(r >> 8) % 0x60; break;
            case 2: cp = 0xAC00 + (uint32_t)(r >> 8) % 11172; break;
            default:
                cp = 0x80 + (uint32_t)(r >> 8) % 0x10FF80;
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;
            }
            n += utf8_encode(cp, in + n);
        }
        capture c;
        cap_open(&c);
        sft_out_json_string(c.o, in, n);
        char *s = cap_close(&c);
        cJSON *j = cJSON_Parse(s);
        assert_non_null(j);
        assert_true(cJSON_IsString(j));
        assert_int_equal(strlen(j->valuestring), n);
        assert_memory_equal(j->valuestring, in, n);
        cJSON_Delete(j);
        free(s);
    }
}

static void test_record_writer(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    jw *w = &c.w;
    jw_object(w);
    jw_key(w, "id");
    jw_cstr(w, "a\"1");
    jw_key(w, "n");
    jw_int(w, -42);
    jw_key(w, "list");
    jw_array(w);
    jw_double(w, 0.1);
    jw_double(w, 1e300);
    jw_double(w, 3);
    jw_double(w, 0.0 / 0.0);
    jw_array(w);
    jw_end(w);
    jw_object(w);
    jw_end(w);
    jw_bool(w, 1);
    jw_null(w);
    jw_end(w);
    jw_key(w, "raw");
    jw_raw(w, "{\"x\":[1]}", 9);
    jw_end(w);
    jw_newline(w);
    jw_object(w);
    jw_end(w);
    jw_newline(w);
    char *s = cap_close(&c);
    assert_string_equal(s, "{\"id\":\"a\\\"1\",\"n\":-42,\"list\":[0.1,1e+300,3,null,[],{},true,null],"
                           "\"raw\":{\"x\":[1]}}\n{}\n");
    free(s);
}

static void test_double_shortest_roundtrip(void **state)
{
    (void)state;
    uint64_t rng = 99;
    for (int i = 0; i < 10000; i++) {
        uint64_t bits = splitmix64(&rng);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (d != d || d - d != 0) continue;
        capture c;
        cap_open(&c);
        jw_double(&c.w, d);
        char *s = cap_close(&c);
        assert_true(strtod(s, NULL) == d);
        free(s);
    }
}

static void test_cjson_tree(void **state)
{
    (void)state;
    const char *src = "{\"a\":[1,2.5,\"x\\n\\u0001\",true,false,null,{}],\"b\":{\"c\":\"한\"}}";
    cJSON *j = cJSON_Parse(src);
    capture c;
    cap_open(&c);
    jw_cjson(&c.w, j);
    char *s = cap_close(&c);
    cJSON *back = cJSON_Parse(s);
    assert_true(cJSON_Compare(j, back, 1));
    cJSON_Delete(j);
    cJSON_Delete(back);
    free(s);
}

static void test_big_writes(void **state)
{
    (void)state;
    size_t n = 3 * SFT_OUT_BUFSIZE + 17;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
    capture c;
    cap_open(&c);
    sft_out_write(c.o, "xy", 2);
    sft_out_write(c.o, big, n);
    for (size_t i = 0; i < SFT_OUT_BUFSIZE + 5; i++) sft_out_putc(c.o, 'z');
    char *s = cap_close(&c);
    assert_memory_equal(s, "xy", 2);
    assert_memory_equal(s + 2, big, n);
    assert_int_equal(strlen(s), 2 + n + SFT_OUT_BUFSIZE + 5);
    free(s);
    free(big);
}

static void test_full_disk(void **state)
{
    (void)state;
    sft_out *o = sft_out_open("/dev/full");
    assert_non_null(o);
    sft_out_write(o, "x\n", 2);
    assert_int_equal(sft_out_flush(o), ENOSPC);
    assert_int_equal(sft_out_error(o), ENOSPC);
    assert_int_equal(sft_out_close(o, 1), ENOSPC);
}

static void test_closed_pipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    sft_out *o = sft_out_fd(p[1], "pipe");
    sft_out_write(o, "x", 1);
    assert_int_equal(sft_out_close(o, 1), EPIPE);
    close(p[1]);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_atomic_replace(void **state)
{
    (void)state;
    char dir[] = "/tmp/sft-out-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f.jsonl", dir);

    sft_out *o = sft_out_open(path);
    sft_out_write(o, "new\n", 4);
    sft_out_flush(o);
    assert_false(exists(path)); /* still under its temporary name */
    assert_int_equal(sft_out_close(o, 0), 0);
    assert_false(exists(path));

    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    o = sft_out_open(path);
    sft_out_write(o, "new\n", 4);
    assert_int_equal(sft_out_close(o, 0), 0); /* aborted: old content stays */
    char buf[16] = {0};
    f = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old\n");

    o = sft_out_open(path);
    sft_out_write(o, "new\n", 4);
    assert_int_equal(sft_out_close(o, 1), 0);
    f = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "new\n");

    /* Only f.jsonl is left: no temporary files behind. */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) = 1", dir);
    assert_int_equal(system(cmd), 0);
    unlink(path);
    rmdir(dir);
}

/* A link to a file: the file gets the new content, the link stays a link
 * (renaming over the link's name would replace it). */
static void test_replace_through_link(void **state)
{
    (void)state;
    char dir[] = "/tmp/sft-out-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], link[64];
    snprintf(path, sizeof path, "%s/f.jsonl", dir);
    snprintf(link, sizeof link, "%s/l.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(symlink("f.jsonl", link), 0);
    sft_out *o = sft_out_open(link);
    assert_non_null(o);
    sft_out_write(o, "new\n", 4);
    assert_int_equal(sft_out_close(o, 1), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char buf[16] = {0};
    f = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "new\n");
    unlink(link);
    unlink(path);
    rmdir(dir);
}

/* The SSE2 scan against its scalar reference: random buffers of awkward
 * lengths and offsets, mostly plain bytes (ASCII and UTF-8 high bytes) with
 * a few that need escaping, at every position of a 16-byte block. */
static void test_escape_scan_matches_scalar(void **state)
{
    (void)state;
    uint64_t rng = 42;
    char buf[300];
    static const char special[] = {'"', '\\', '\n', 0x01, 0x1F, '\t', 0x00};
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(splitmix64(&rng) % 260);
        size_t off = (size_t)(splitmix64(&rng) % 17);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = splitmix64(&rng);
            buf[off + i] = (char)(r % 3 == 0 ? 0x20 + r % 95 : 0x80 + (r >> 8) % 128);
            if (r % 97 == 0) buf[off + i] = special[(r >> 16) % sizeof special];
        }
        assert_int_equal(json_escape_scan(buf + off, n), json_escape_scan_scalar(buf + off, n));
    }
    for (size_t pos = 0; pos < 40; pos++) { /* one special byte at each position */
        memset(buf, 'a', 40);
        buf[pos] = '"';
        for (size_t n = 0; n <= 40; n++)
            assert_int_equal(json_escape_scan(buf, n), n <= pos ? n : pos);
    }
}

static void test_cannot_create(void **state)
{
    (void)state;
    errno = 0;
    assert_null(sft_out_open("/nonexistent-dir/x.jsonl"));
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_roundtrip_random),
        cmocka_unit_test(test_escape_scan_matches_scalar),
        cmocka_unit_test(test_record_writer),
        cmocka_unit_test(test_double_shortest_roundtrip),
        cmocka_unit_test(test_cjson_tree),
        cmocka_unit_test(test_big_writes),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_closed_pipe),
        cmocka_unit_test(test_atomic_replace),
        cmocka_unit_test(test_replace_through_link),
        cmocka_unit_test(test_cannot_create),
    };
    return cmocka_run_group_tests_name("out", tests, NULL, NULL);
}
