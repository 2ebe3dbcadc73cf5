#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/json.h"

static int valid(const char *s)
{
    json_error err;
    return json_validate(s, strlen(s), &err) == 0;
}

static void test_accepts(void **state)
{
    (void)state;
    const char *ok[] = {
        "{}", "[]", " { } ", "0", "-0", "1.5e-3", "-12E+4", "\"\"", "true", "false", "null",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"}",
        "\"\\u00e9\\uD83D\\uDE00\"", "[\"한국어\"]", "{\"a\" : 1 ,\r\n\t\"b\":2}",
        "\"0123456789abcdef0123456789abcdef with a long tail past sixteen bytes\"",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        print_message("# accepts case %zu\n", i);
        assert_true(valid(ok[i]));
    }
}

static void test_rejects_with_offsets(void **state)
{
    (void)state;
    struct {
        const char *s;
        size_t at;
        const char *msg;
    } bad[] = {
        {"", 0, "empty text"},
        {"   ", 3, "empty text"},
        {"{", 1, "unexpected end of text"},
        {"{\"a\":1,}", 7, "expected a string key"},
        {"[1,]", 3, "expected a value"},
        {"{\"a\" 1}", 5, "expected ':' after object key"},
        {"{\"a\":1 \"b\":2}", 7, "expected ',' or '}' in object"},
        {"[1 2]", 3, "expected ',' or ']' in array"},
        {"01", 0, "invalid number"},
        {"1.", 0, "invalid number"},
        {".5", 0, "expected a value"},
        {"-", 0, "invalid number"},
        {"1e", 0, "invalid number"},
        {"+1", 0, "expected a value"},
        {"tru", 0, "invalid literal"},
        {"nul", 0, "invalid literal"},
        {"\"abc", 4, "unterminated string"},
        {"\"a\tb\"", 2, "unescaped control character in string"},
        {"\"\\x\"", 1, "invalid escape in string"},
        {"\"\\u12G4\"", 1, "invalid \\u escape"},
        {"\"\\uDC00\"", 1, "lone surrogate in \\u escape"},
        {"\"\\uD800x\"", 1, "lone surrogate in \\u escape"},
        {"\"\\uD800\\u0041\"", 1, "lone surrogate in \\u escape"},
        {"{} {}", 3, "unexpected text after the JSON value"},
        {"{}x", 2, "unexpected text after the JSON value"},
        {"NaN", 0, "expected a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_error err = {0};
        print_message("# rejects case %zu\n", i);
        assert_int_equal(json_validate(bad[i].s, strlen(bad[i].s), &err), -1);
        assert_int_equal(err.offset, bad[i].at);
        assert_string_equal(err.msg, bad[i].msg);
    }
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *s = malloc(2 * 1001 + 1);
    for (int depth = 1000; depth <= 1001; depth++) {
        memset(s, '[', (size_t)depth);
        memset(s + depth, ']', (size_t)depth);
        s[2 * depth] = '\0';
        json_error err;
        assert_int_equal(json_validate(s, strlen(s), &err), depth <= JSON_MAX_DEPTH ? 0 : -1);
        /* Whatever passes here, cJSON must parse. */
        if (depth <= JSON_MAX_DEPTH) {
            cJSON *j = cJSON_Parse(s);
            assert_non_null(j);
            cJSON_Delete(j);
        }
    }
    free(s);
}

static int get(const char *text, const char *spec, json_value *v)
{
    json_path path;
    assert_int_equal(json_path_parse(&path, spec), 0);
    int found = json_get(text, strlen(text), &path, v);
    json_path_free(&path);
    return found;
}

static void test_get(void **state)
{
    (void)state;
    const char *t = " {\"a\" : {\"b\": [10, {\"c\": \"x\"}, \"s\\\"q\"]}, \"d.e\": true, "
                    "\"k\\u0065y\": 5, \"a\": 99, \"n\": null}";
    json_value v;
    assert_true(get(t, "a.b.0", &v));
    assert_int_equal(v.type, JSON_NUMBER);
    assert_int_equal(v.n, 2);
    assert_memory_equal(v.p, "10", 2);
    assert_true(get(t, "a.b.1.c", &v));
    assert_int_equal(v.type, JSON_STRING);
    assert_memory_equal(v.p, "\"x\"", 3);
    assert_true(get(t, "a.b.2", &v));
    assert_int_equal(v.n, 6);
    assert_true(get(t, "d\\.e", &v));
    assert_int_equal(v.type, JSON_TRUE);
    assert_true(get(t, "key", &v)); /* key spelled with an escape */
    assert_int_equal(v.type, JSON_NUMBER);
    assert_true(get(t, "a", &v)); /* the first of duplicate keys */
    assert_int_equal(v.type, JSON_OBJECT);
    assert_true(get(t, "n", &v));
    assert_int_equal(v.type, JSON_NULL);
    assert_false(get(t, "a.b.3", &v));
    assert_false(get(t, "a.x", &v));
    assert_false(get(t, "a.b.0.z", &v));
    assert_false(get(t, "d.e", &v));
    assert_false(get("{}", "a", &v));
    assert_false(get("{\"a\":[]}", "a.0", &v));
}

static void test_path_parse_errors(void **state)
{
    (void)state;
    json_path p;
    assert_int_equal(json_path_parse(&p, ""), -1);
    assert_int_equal(json_path_parse(&p, "a..b"), -1);
    assert_int_equal(json_path_parse(&p, ".a"), -1);
    assert_int_equal(json_path_parse(&p, "a."), -1);
}

static void key_of(const char *text, const char *spec, sft_buf *b)
{
    json_value v;
    assert_true(get(text, spec, &v));
    b->len = 0;
    assert_int_equal(json_value_key(&v, b), 0);
}

static void test_value_key(void **state)
{
    (void)state;
    sft_buf a = {0}, b = {0};
    key_of("{\"k\":\"ab\"}", "k", &a);
    key_of("{\"k\":\"a\\u0062\"}", "k", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    key_of("{\"k\":\"1\"}", "k", &a);
    key_of("{\"k\":1}", "k", &b);
    assert_false(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    key_of("{\"k\":{\"x\": [1, \"a b\"] }}", "k", &a);
    key_of("{\"k\":{\"x\":[1,\"a b\"]}}", "k", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    key_of("{\"k\":\"\\ud83d\\ude00\\n\"}", "k", &a);
    assert_int_equal(a.len, 1 + 4 + 1);
    assert_memory_equal(a.p + 1, "\xF0\x9F\x98\x80\n", 5);
    buf_free(&a);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects_with_offsets),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_path_parse_errors),
        cmocka_unit_test(test_value_key),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
