#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

static size_t bad_at(const char *s) { return utf8_invalid_offset((const unsigned char *)s, strlen(s)); }

static void test_valid(void **state)
{
    (void)state;
    const char *ok[] = {"", "plain ascii that is longer than eight bytes",
                        "한국어 텍스트", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
                        "\xEE\x80\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "emoji 😀 end"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) assert_int_equal(bad_at(ok[i]), strlen(ok[i]));
}

static void test_invalid(void **state)
{
    (void)state;
    struct {
        const char *s;
        size_t at;
    } cases[] = {
        {"abc\x80", 3},               /* lone continuation */
        {"\xC0\xAF", 0},              /* overlong '/' */
        {"\xC1\xBF", 0},              /* overlong */
        {"\xE0\x80\xAF", 0},          /* overlong 3-byte */
        {"\xED\xA0\x80", 0},          /* surrogate U+D800 */
        {"\xF0\x80\x80\xAF", 0},      /* overlong 4-byte */
        {"\xF4\x90\x80\x80", 0},      /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 0},
        {"\xFF", 0},
        {"ok \xE4\xB8", 3},           /* cut off at the end */
        {"12345678\xE4\x41\x41", 8},  /* bad continuation after the fast path */
        {"한\xEDglish", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        print_message("# case %zu\n", i);
        assert_int_equal(bad_at(cases[i].s), cases[i].at);
    }
}

static void test_encode_roundtrip(void **state)
{
    (void)state;
    uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
    size_t lens[] = {1, 1, 2, 2, 3, 3, 3, 3, 4, 4};
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        char out[4];
        size_t n = utf8_encode(cps[i], out);
        assert_int_equal(n, lens[i]);
        assert_int_equal(utf8_invalid_offset((unsigned char *)out, n), n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_encode_roundtrip),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
