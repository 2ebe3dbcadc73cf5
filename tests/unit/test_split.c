#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"
#include "split/split.h"

static void test_cutpoints(void **state)
{
    (void)state;
    uint64_t cut[3];
    uint64_t half[] = {1, 1};
    split_cutpoints(half, 2, cut);
    assert_int_equal(cut[0], 1ULL << 63);
    assert_int_equal(cut[1], UINT64_MAX);
    assert_int_equal(split_part_of_hash(cut, 2, (1ULL << 63) - 1), 0);
    assert_int_equal(split_part_of_hash(cut, 2, 1ULL << 63), 1);
    assert_int_equal(split_part_of_hash(cut, 2, UINT64_MAX), 1);
    assert_int_equal(split_part_of_hash(cut, 2, 0), 0);

    /* 0.9,0.1 and 9,1 are exactly the same weights. */
    uint64_t a[2], b[2], ca[2], cb[2];
    assert_int_equal(split_parse_weight("0.9", &a[0]), 0);
    assert_int_equal(split_parse_weight("0.1", &a[1]), 0);
    assert_int_equal(split_parse_weight("9", &b[0]), 0);
    assert_int_equal(split_parse_weight("1", &b[1]), 0);
    split_cutpoints(a, 2, ca);
    split_cutpoints(b, 2, cb);
    assert_int_equal(ca[0], cb[0]);
    assert_int_equal(ca[0], 16602069666338596454ULL); /* floor(0.9 * 2^64) */
}

static void test_parse_weight(void **state)
{
    (void)state;
    uint64_t w;
    assert_int_equal(split_parse_weight("0.7", &w), 0);
    assert_int_equal(w, 700000000);
    assert_int_equal(split_parse_weight(".5", &w), 0);
    assert_int_equal(w, 500000000);
    assert_int_equal(split_parse_weight("1000000", &w), 0);
    assert_int_equal(split_parse_weight("0.000000001", &w), 0);
    assert_int_equal(w, 1);
    const char *bad[] = {"", ".", "0", "0.0", "-1", "1e3", "0.1234567891", "1000000.1", "1,5",
                         " 1", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(split_parse_weight(bad[i], &w), -1);
}

static void check_targets(uint64_t total, const char *const *ws, size_t n, const uint64_t *want)
{
    uint64_t t[SPLIT_MAX_PARTS], w[SPLIT_MAX_PARTS];
    for (size_t i = 0; i < n; i++) assert_int_equal(split_parse_weight(ws[i], &w[i]), 0);
    split_targets(total, w, n, t);
    for (size_t i = 0; i < n; i++) assert_int_equal(t[i], want[i]);
}

static void test_targets_documented_cases(void **state)
{
    (void)state;
    check_targets(10, (const char *const[]){"0.9", "0.1"}, 2, (uint64_t[]){9, 1});
    check_targets(7, (const char *const[]){"1", "1", "1"}, 3, (uint64_t[]){3, 2, 2});
    check_targets(3, (const char *const[]){"1", "1"}, 2, (uint64_t[]){2, 1});
    check_targets(0, (const char *const[]){"1", "1"}, 2, (uint64_t[]){0, 0});
    check_targets(1, (const char *const[]){"0.1", "0.9"}, 2, (uint64_t[]){0, 1});
    check_targets(100, (const char *const[]){"0.8", "0.1", "0.1"}, 3, (uint64_t[]){80, 10, 10});
    check_targets(11, (const char *const[]){"8", "1", "1"}, 3, (uint64_t[]){9, 1, 1});
    check_targets(5, (const char *const[]){"0.7", "0.2", "0.1"}, 3, (uint64_t[]){4, 1, 0});
    check_targets(1000000007, (const char *const[]){"0.9", "0.1"}, 2, (uint64_t[]){900000006, 100000001});
}

static void test_targets_random(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 2 + splitmix64(&rng) % 6;
        uint64_t w[SPLIT_MAX_PARTS];
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += (double)(w[i] = 1 + splitmix64(&rng) % 1000000);
        uint64_t total = splitmix64(&rng) % 100000, t[SPLIT_MAX_PARTS], got = 0;
        split_targets(total, w, n, t);
        for (size_t i = 0; i < n; i++) {
            double exact = (double)total * (double)w[i] / sum;
            assert_true((double)t[i] > exact - 1.0000001 && (double)t[i] < exact + 1.0000001);
            got += t[i];
        }
        assert_int_equal(got, total);
    }
}

static void test_key_extraction(void **state)
{
    (void)state;
    split_config cfg = {0};
    sft_buf scratch = {0};
    const char *key;
    size_t n;
    const char *rec = "{\"meta\":{\"c\":\"abc\"}}";
    assert_int_equal(split_key(&cfg, rec, strlen(rec), &scratch, &key, &n), 0);
    assert_ptr_equal(key, rec);
    assert_int_equal(n, strlen(rec));

    json_path path;
    assert_int_equal(json_path_parse(&path, "meta.c"), 0);
    cfg.key = &path;
    assert_int_equal(split_key(&cfg, rec, strlen(rec), &scratch, &key, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(key + 1, "abc", 3);
    assert_int_equal(split_key(&cfg, "{\"meta\":{}}", 11, &scratch, &key, &n), -1);
    json_path_free(&path);
    buf_free(&scratch);
}

/* The hash spreads keys in the ratio: 200k keys at 0.9/0.1 within 0.5%. */
static void test_distribution(void **state)
{
    (void)state;
    uint64_t cut[2];
    split_cutpoints((uint64_t[]){9, 1}, 2, cut);
    size_t count[2] = {0};
    char key[32];
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(key, sizeof key, "conv-%d", i);
        count[split_part_of_hash(cut, 2, xxh64(key, (size_t)n, 0))]++;
    }
    double frac = (double)count[1] / 200000;
    assert_true(frac > 0.095 && frac < 0.105);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cutpoints),
        cmocka_unit_test(test_parse_weight),
        cmocka_unit_test(test_targets_documented_cases),
        cmocka_unit_test(test_targets_random),
        cmocka_unit_test(test_key_extraction),
        cmocka_unit_test(test_distribution),
    };
    return cmocka_run_group_tests_name("split", tests, NULL, NULL);
}
