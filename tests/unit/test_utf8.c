#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"

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

/* The dispatched kernel (AVX2 where the CPU has it) against the scalar
 * reference: random mixes of 1- to 4-byte characters at every length from
 * 0 to 300 and some long ones, valid and with one or two random bytes
 * changed, so errors land at every position relative to 32-byte blocks. */
static void test_kernel_matches_reference(void **state)
{
    (void)state;
    print_message("# kernel: %s\n", utf8_using_avx2() ? "avx2" : "scalar only");
    uint64_t rng = 2024;
    static unsigned char buf[5000];
    size_t checked = 0, invalid = 0;
    for (int iter = 0; iter < 60000; iter++) {
        size_t want = iter < 30000 ? (size_t)iter % 301 : splitmix64(&rng) % 4900;
        size_t n = 0;
        while (n < want) {
            uint64_t r = splitmix64(&rng);
            uint32_t cp;
            switch (r % 5) {
            case 0: case 1: cp = (uint32_t)(r >> 8) % 0x80; break;
            case 2: cp = 0x80 + (uint32_t)(r >> 8) % 0x780; break;
            case 3: cp = 0x800 + (uint32_t)(r >> 8) % 0xF800; break;
            default: cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000; break;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
            char enc[4];
            size_t len = utf8_encode(cp, enc);
            if (n + len > want) break;
            memcpy(buf + n, enc, len);
            n += len;
        }
        int corrupt = iter % 3;
        for (int k = 0; k < corrupt && n > 0; k++) {
            uint64_t r = splitmix64(&rng);
            buf[r % n] = (unsigned char)(r >> 32);
        }
        size_t ref = utf8_invalid_offset_scalar(buf, n), got = utf8_invalid_offset(buf, n);
        if (ref != got) print_message("# mismatch: n=%zu ref=%zu got=%zu\n", n, ref, got);
        assert_int_equal(got, ref);
        checked++;
        invalid += ref < n;
    }
    assert_true(invalid > 10000 && invalid < checked); /* both kinds were seen */
}

/* Sequences cut off exactly at a 32-byte block boundary and at the end. */
static void test_kernel_block_edges(void **state)
{
    (void)state;
    unsigned char buf[256];
    const char *leads[] = {"\xC3", "\xE4\xB8", "\xE4", "\xF0\x9F\x98", "\xF0"};
    for (size_t end = 60; end <= 200; end++) {
        for (size_t l = 0; l < 5; l++) {
            size_t ll = strlen(leads[l]);
            memset(buf, 'a', sizeof buf);
            memcpy(buf + end - ll, leads[l], ll);
            assert_int_equal(utf8_invalid_offset(buf, end), utf8_invalid_offset_scalar(buf, end));
            assert_int_equal(utf8_invalid_offset(buf, end), end - ll);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_kernel_matches_reference),
        cmocka_unit_test(test_kernel_block_edges),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
