#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/jsonl.h"

typedef struct {
    int kind;
    uint64_t line, col;
    char text[64];
    char reason[200];
} got;

/* Reads every record of r into out[]; returns how many. */
static size_t read_all(jsonl_reader *r, got *out, size_t max)
{
    size_t n = 0;
    jsonl_record rec;
    jsonl_error err;
    int kind;
    while (n < max && (kind = jsonl_next(r, &rec, &err)) != JSONL_EOF) {
        memset(&out[n], 0, sizeof out[n]);
        out[n].kind = kind;
        if (kind == JSONL_RECORD) {
            out[n].line = rec.line;
            snprintf(out[n].text, sizeof out[n].text, "%.*s", (int)rec.len, rec.text);
        } else {
            out[n].line = err.line;
            out[n].col = err.col;
            snprintf(out[n].reason, sizeof out[n].reason, "%s", err.reason);
            if (kind == JSONL_IOERR) return n + 1;
        }
        n++;
    }
    return n;
}

static size_t read_mem(const char *s, got *out, size_t max)
{
    jsonl_reader *r;
    assert_int_equal(jsonl_open_mem(&r, s, strlen(s), "mem", 0), 0);
    size_t n = read_all(r, out, max);
    jsonl_close(r);
    return n;
}

static void test_line_ends_bom_blank(void **state)
{
    (void)state;
    got g[8];
    size_t n = read_mem("\xEF\xBB\xBF{\"a\":1}\r\n\n   \r\n\t\n{\"b\":2}\n{\"c\":3}", g, 8);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].text, "{\"a\":1}");
    assert_int_equal(g[0].line, 1);
    assert_string_equal(g[1].text, "{\"b\":2}");
    assert_int_equal(g[1].line, 5);
    assert_string_equal(g[2].text, "{\"c\":3}"); /* no final newline */
    assert_int_equal(g[2].line, 6);
}

static void test_bad_records_and_recovery(void **state)
{
    (void)state;
    got g[8];
    size_t n = read_mem("{\"a\":1,}\n[1]\n{\"s\":\"\xC3\x28\"}\n\xEF\xBB\xBF{}\n{\"ok\":true}\n", g, 8);
    assert_int_equal(n, 5);
    assert_int_equal(g[0].kind, JSONL_BAD);
    assert_int_equal(g[0].line, 1);
    assert_int_equal(g[0].col, 8);
    assert_string_equal(g[0].reason, "invalid JSON: expected a string key");
    assert_int_equal(g[1].kind, JSONL_BAD);
    assert_string_equal(g[1].reason, "not a JSON object");
    assert_int_equal(g[2].kind, JSONL_BAD);
    assert_int_equal(g[2].col, 7);
    assert_string_equal(g[2].reason, "invalid UTF-8 at byte offset 19");
    /* A BOM is only skipped at the start of the input. */
    assert_int_equal(g[3].kind, JSONL_BAD);
    assert_string_equal(g[3].reason, "invalid JSON: expected a value");
    assert_int_equal(g[4].kind, JSONL_RECORD);
    assert_int_equal(g[4].line, 5);
}

static void test_bom_shifts_column(void **state)
{
    (void)state;
    got g[2];
    assert_int_equal(read_mem("\xEF\xBB\xBF{\"a\" 1}\n", g, 2), 1);
    assert_int_equal(g[0].col, 9); /* the '1', counting the BOM's 3 bytes */
}

/* An fd-backed reader over the bytes s[0..n). */
static jsonl_reader *fd_reader(const char *s, size_t n, size_t max_line)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, n, f), n);
    fflush(f);
    int fd = dup(fileno(f));
    fclose(f);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    jsonl_reader *r;
    assert_int_equal(jsonl_open_fd(&r, fd, 1, "tmp", max_line), 0);
    return r;
}

/* {"s":"xxx...x"} of total length len, followed by "\n". */
static char *long_record(size_t len)
{
    char *s = malloc(len + 2);
    memset(s, 'x', len);
    memcpy(s, "{\"s\":\"", 6);
    memcpy(s + len - 2, "\"}", 2);
    s[len] = '\n';
    s[len + 1] = '\0';
    return s;
}

static void test_long_lines_fd(void **state)
{
    (void)state;
    /* 3 MB fits under a 4M limit although the buffer starts at 1 MiB. */
    size_t big = (size_t)3 << 20;
    char *rec = long_record(big);
    size_t total = big + 1 + 9;
    char *s = malloc(total + 1);
    memcpy(s, rec, big + 1);
    memcpy(s + big + 1, "{\"n\":1}\n", 9);
    jsonl_reader *r = fd_reader(s, total - 1, (size_t)4 << 20);
    jsonl_record rr;
    jsonl_error err;
    assert_int_equal(jsonl_next(r, &rr, &err), JSONL_RECORD);
    assert_int_equal(rr.len, big);
    assert_int_equal(jsonl_next(r, &rr, &err), JSONL_RECORD);
    assert_int_equal(rr.line, 2);
    assert_int_equal(rr.offset, big + 1);
    assert_int_equal(jsonl_next(r, &rr, &err), JSONL_EOF);
    jsonl_close(r);

    /* The same line with a 1M limit is rejected and skipped whole. */
    r = fd_reader(s, total - 1, (size_t)1 << 20);
    assert_int_equal(jsonl_next(r, &rr, &err), JSONL_BAD);
    assert_null(rr.text);
    assert_int_equal(rr.len, big);
    assert_string_equal(err.reason, "line longer than 1M (use --max-line)");
    assert_int_equal(jsonl_next(r, &rr, &err), JSONL_RECORD);
    assert_int_equal(rr.line, 2);
    assert_int_equal(jsonl_next(r, &rr, &err), JSONL_EOF);
    jsonl_close(r);
    free(s);
    free(rec);
}

static void test_max_line_boundary(void **state)
{
    (void)state;
    for (size_t limit = 100; limit <= 101; limit++) {
        char *rec = long_record(101);
        jsonl_reader *r = fd_reader(rec, 102, limit);
        jsonl_record rr;
        jsonl_error err;
        assert_int_equal(jsonl_next(r, &rr, &err), limit >= 101 ? JSONL_RECORD : JSONL_BAD);
        jsonl_close(r);
        /* CRLF does not count against the limit. */
        rec[101] = '\r';
        r = fd_reader(rec, 102, 101);
        assert_int_equal(jsonl_next(r, &rr, &err), JSONL_RECORD);
        assert_int_equal(rr.len, 101);
        jsonl_close(r);
        free(rec);
    }
}

static void test_read_error(void **state)
{
    (void)state;
    int fd = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    jsonl_reader *r;
    assert_int_equal(jsonl_open_fd(&r, fd, 1, "dir", 0), 0);
    jsonl_record rec;
    jsonl_error err;
    assert_int_equal(jsonl_next(r, &rec, &err), JSONL_IOERR);
    assert_non_null(strstr(err.reason, "read error"));
    jsonl_close(r);
}

static void test_open_missing(void **state)
{
    (void)state;
    jsonl_reader *r;
    assert_int_equal(jsonl_open(&r, "/nonexistent/x.jsonl", 0), ENOENT);
}

static void test_parse(void **state)
{
    (void)state;
    const char *s = "{\"a\":[1,\"\\u00e9\"]}\n";
    jsonl_reader *r;
    assert_int_equal(jsonl_open_mem(&r, s, strlen(s), "mem", 0), 0);
    jsonl_record rec;
    jsonl_error err;
    assert_int_equal(jsonl_next(r, &rec, &err), JSONL_RECORD);
    cJSON *j = jsonl_parse(&rec, &err);
    assert_non_null(j);
    cJSON *a = cJSON_GetObjectItem(j, "a");
    assert_int_equal(cJSON_GetArraySize(a), 2);
    assert_string_equal(cJSON_GetArrayItem(a, 1)->valuestring, "\xC3\xA9");
    cJSON_Delete(j);
    jsonl_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_ends_bom_blank),
        cmocka_unit_test(test_bad_records_and_recovery),
        cmocka_unit_test(test_bom_shifts_column),
        cmocka_unit_test(test_long_lines_fd),
        cmocka_unit_test(test_max_line_boundary),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests_name("jsonl", tests, NULL, NULL);
}
