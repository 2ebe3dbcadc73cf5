#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"

static uint64_t xxh_str(const char *s) { return xxh64(s, strlen(s), 0); }

/* Reference values from xxhsum -H1 (Debian's xxhash package). */
static void test_xxh64_vectors(void **state)
{
    (void)state;
    assert_int_equal(xxh_str(""), 0xef46db3751d8e999ULL);
    assert_int_equal(xxh_str("a"), 0xd24ec4f1a98c6e5bULL);
    assert_int_equal(xxh_str("abc"), 0x44bc2cf5ad770999ULL);
    assert_int_equal(xxh_str("Nobody inspects the spammish repetition"), 0xfbcea83c8a378bf1ULL);
    char buf[1000];
    memset(buf, 'x', 100);
    assert_int_equal(xxh64(buf, 100, 0), 0x92f0de5a88a3c094ULL);
    memset(buf, 'y', 1000);
    assert_int_equal(xxh64(buf, 1000, 0), 0x919a4111ff8ce3d1ULL);
}

static void test_xxh64_seed_changes_hash(void **state)
{
    (void)state;
    assert_int_not_equal(xxh64("abc", 3, 0), xxh64("abc", 3, 1));
    assert_int_equal(xxh64("abc", 3, 7), xxh64("abc", 3, 7));
}

/* Every tail length (0..31 bytes after 0 or 1 stripes) goes through a
 * different path; unaligned starts must not change the result. */
static void test_xxh64_unaligned(void **state)
{
    (void)state;
    char a[80], b[81];
    for (int i = 0; i < 80; i++) a[i] = (char)(i * 7 + 1);
    memcpy(b + 1, a, 80);
    for (size_t n = 0; n <= 80; n++) assert_int_equal(xxh64(a, n, 42), xxh64(b + 1, n, 42));
}

static void test_splitmix64(void **state)
{
    (void)state;
    /* First outputs for state 0, from the reference splitmix64.c. */
    uint64_t s = 0;
    assert_int_equal(splitmix64(&s), 0xe220a8397b1dcdafULL);
    assert_int_equal(splitmix64(&s), 0x6e789e6aa1b965f4ULL);
}

/* Enough strings to grow the table several times; each is new once. */
static void test_strset(void **state)
{
    (void)state;
    sft_strset set = {0};
    char buf[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf, "id-%d", i * 7919 % 3001);
        assert_int_equal(sft_strset_add(&set, buf), 1);
    }
    assert_int_equal(set.n, 3000);
    for (int i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf, "id-%d", i * 7919 % 3001);
        assert_int_equal(sft_strset_add(&set, buf), 0);
    }
    assert_int_equal(sft_strset_add(&set, ""), 1);
    assert_int_equal(sft_strset_add(&set, ""), 0);
    assert_int_equal(sft_strset_add(&set, "id-3000x"), 1);
    assert_int_equal(set.n, 3002);
    sft_strset_free(&set);
    assert_null(set.slot);
    assert_int_equal(set.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_vectors),
        cmocka_unit_test(test_xxh64_seed_changes_hash),
        cmocka_unit_test(test_xxh64_unaligned),
        cmocka_unit_test(test_splitmix64),
        cmocka_unit_test(test_strset),
    };
    return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
