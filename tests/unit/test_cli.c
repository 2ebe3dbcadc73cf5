#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/cli.h"

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(sft_parse_u64("0", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(sft_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(sft_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
    assert_int_equal(errno, ERANGE);
    const char *bad[] = {"", " 1", "1 ", "-1", "+1", "12x", "0x10", "1e3", "１"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 77;
        assert_int_equal(sft_parse_u64(bad[i], 0, UINT64_MAX, &v), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(v, 77);
    }
    assert_int_equal(sft_parse_u64("5", 1, 4, &v), -1);
    assert_int_equal(errno, ERANGE);
}

static void test_parse_double(void **state)
{
    (void)state;
    double d;
    assert_int_equal(sft_parse_double("0.9", &d), 0);
    assert_true(d == 0.9);
    assert_int_equal(sft_parse_double(".5", &d), 0);
    assert_int_equal(sft_parse_double("-2e3", &d), 0);
    assert_true(d == -2000);
    const char *bad[] = {"", " 1", "1 ", "inf", "nan", "0x1p3", "1,5", "abc", "."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sft_parse_double(bad[i], &d), -1);
    assert_int_equal(sft_parse_double("1e999", &d), -1);
    assert_int_equal(errno, ERANGE);
}

static void test_parse_size(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(sft_parse_size("64M", 1, UINT64_MAX, &v), 0);
    assert_int_equal(v, 64ULL << 20);
    assert_int_equal(sft_parse_size("3k", 1, UINT64_MAX, &v), 0);
    assert_int_equal(v, 3072);
    assert_int_equal(sft_parse_size("1G", 1, UINT64_MAX, &v), 0);
    assert_int_equal(v, 1ULL << 30);
    assert_int_equal(sft_parse_size("100", 1, UINT64_MAX, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(sft_parse_size("M", 1, UINT64_MAX, &v), -1);
    assert_int_equal(sft_parse_size("1.5M", 1, UINT64_MAX, &v), -1);
    assert_int_equal(sft_parse_size("2G", 1, 1ULL << 30, &v), -1);
    assert_int_equal(errno, ERANGE);
    assert_int_equal(sft_parse_size("0", 1, 10, &v), -1);
    assert_int_equal(sft_parse_size("99999999999999999999G", 1, UINT64_MAX, &v), -1);
}

static void test_run_options(void **state)
{
    (void)state;
    sft_run run;
    sft_run_init(&run);
    assert_int_equal(run.on_error, SFT_ON_ERROR_FAIL);
    assert_int_equal(sft_run_option(&run, SFT_OPT_ON_ERROR, "skip"), 0);
    assert_int_equal(run.on_error, SFT_ON_ERROR_SKIP);
    assert_int_equal(sft_run_option(&run, SFT_OPT_ON_ERROR, "ignore"), SFT_EX_USAGE);
    assert_int_equal(sft_run_option(&run, SFT_OPT_MAX_LINE, "1K"), 0);
    assert_int_equal(run.max_line, 1024);
    assert_int_equal(sft_run_option(&run, SFT_OPT_MAX_LINE, "2G"), SFT_EX_USAGE);
    assert_int_equal(sft_run_option(&run, 'v', NULL), 0);
    assert_int_equal(run.verbose, 1);
    assert_int_equal(sft_run_option(&run, 'z', NULL), -1);
}

static void test_finish_status(void **state)
{
    (void)state;
    sft_run run;
    sft_run_init(&run);
    run.progress = 0;
    assert_int_equal(sft_run_finish(&run, 0), SFT_EX_OK);
    run.on_error = SFT_ON_ERROR_SKIP;
    run.rejected = 2;
    assert_int_equal(sft_run_finish(&run, 0), SFT_EX_REJECTED);
    assert_int_equal(sft_run_finish(&run, SFT_EX_IOERR), SFT_EX_IOERR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_run_options),
        cmocka_unit_test(test_finish_status),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
