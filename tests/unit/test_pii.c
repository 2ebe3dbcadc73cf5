/* lib/pii through its API: type lists, names from speakers, spans and
 * their code-point offsets, field paths, pseudonyms and record rewriting.
 * The detectors' many written forms are tested as data in
 * tests/data/pii-mask.test and measured on the corpus by tests/pii/eval.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"
#include "pii/pii.h"

/* Masks text with m and returns the result (static buffer). */
static const char *masked(pii_masker *m, const char *text)
{
    static sft_buf out;
    const pii_span *spans;
    int k = pii_find(m, text, strlen(text), &spans);
    assert_true(k >= 0);
    out.len = 0;
    assert_int_equal(pii_replace(m, text, strlen(text), spans, k, &out), 0);
    assert_int_equal(buf_putc(&out, '\0'), 0);
    return out.p;
}

static void test_parse_types(void **state)
{
    (void)state;
    unsigned mask;
    char err[300];
    assert_int_equal(pii_parse_types("default", &mask, err, sizeof err), 0);
    assert_int_equal(mask, PII_DEFAULT_DETECTORS);
    assert_false(mask & PII_BIT(PII_URL));
    assert_int_equal(pii_parse_types("phone,email", &mask, err, sizeof err), 0);
    assert_int_equal(mask, PII_BIT(PII_PHONE) | PII_BIT(PII_EMAIL));
    assert_int_equal(pii_parse_types("+url,spoken", &mask, err, sizeof err), 0);
    assert_int_equal(mask, PII_DEFAULT_DETECTORS | PII_BIT(PII_URL) | PII_BIT(PII_DET_SPOKEN));
    assert_int_equal(pii_parse_types("-address,name", &mask, err, sizeof err), 0);
    assert_int_equal(mask, PII_DEFAULT_DETECTORS & ~PII_BIT(PII_ADDRESS) & ~PII_BIT(PII_NAME));
    assert_int_equal(pii_parse_types("all,-name-guess", &mask, err, sizeof err), 0);
    assert_int_equal(mask, PII_ALL_DETECTORS & ~PII_BIT(PII_DET_NAME_GUESS));
    assert_int_equal(pii_parse_types("phone,fax", &mask, err, sizeof err), -1);
    assert_non_null(strstr(err, "'fax'"));
    assert_int_equal(pii_parse_types("", &mask, err, sizeof err), -1);
    assert_int_equal(pii_parse_types("-all", &mask, err, sizeof err), -1);
}

/* A speaker's full name brings its given name; titles and teams after it
 * are not names; aliases are nobody. */
static void test_speakers(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS);
    assert_non_null(m);
    assert_int_equal(pii_add_speaker(m, "회원님", strlen("회원님")), 0);
    assert_int_equal(pii_add_speaker(m, "you", 3), 0);
    assert_int_equal(pii_add_speaker(m, "서우석 멘토님", strlen("서우석 멘토님")), 2);
    assert_int_equal(pii_add_speaker(m, "수ㅈ", strlen("수ㅈ")), 1);
    assert_int_equal(pii_add_speaker(m, "Jay Park", 8), 3); /* the label, Jay, Park */
    assert_string_equal(masked(m, "우석아 멘토님께 수ㅈ랑 서우석멘토님 회원님"),
                        "[NAME]아 멘토님께 [NAME]랑 [NAME]멘토님 회원님");
    /* Latin names match in any case: "Park" is also the park. */
    assert_string_equal(masked(m, "ask jay park or JAY, not the park"), "ask [NAME] or [NAME], not the [NAME]");
    assert_int_equal(pii_name_count(m), 6);
    pii_masker_free(m);
}

static void test_names_given(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS);
    assert_int_equal(pii_add_name(m, "  남궁민수 ", strlen("  남궁민수 ")), 2);
    assert_int_equal(pii_add_name(m, "김솔", strlen("김솔")), 1); /* one-syllable given name: alone, too short */
    assert_string_equal(masked(m, "남궁민수님, 민수야! 김솔 씨와 솔직히"), "[NAME]님, [NAME]야! [NAME] 씨와 솔직히");
    pii_masker_free(m);
}

/* Offsets of a record's masks count code points of the decoded string. */
static void test_record_offsets_and_paths(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS);
    const char *rec = "{\"id\":\"010-1234-5678\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00 "
                      "\\uc804\\ud654 010-1234-5678\"},{\"role\":\"assistant\",\"content\":\"ok\"}],\"n\":1.5e3}";
    sft_buf out = {0};
    pii_record_result res;
    assert_int_equal(pii_mask_record(m, rec, strlen(rec), &out, &res), 1);
    assert_int_equal(buf_putc(&out, '\0'), 0);
    assert_string_equal(out.p, "{\"id\":\"010-1234-5678\",\"messages\":[{\"role\":\"user\",\"content\":\"😀 전화 "
                               "[PHONE]\"},{\"role\":\"assistant\",\"content\":\"ok\"}],\"n\":1.5e3}");
    json_error err;
    assert_int_equal(json_validate(out.p, out.len - 1, &err), 0);
    assert_int_equal(res.nmasks, 1);
    assert_string_equal(res.masks[0].path, "messages[0].content");
    assert_string_equal(res.masks[0].field, "messages[].content");
    assert_int_equal(res.masks[0].type, PII_PHONE);
    assert_int_equal(res.masks[0].start, 5); /* 😀, space, 전, 화, space */
    assert_int_equal(res.masks[0].end, 18);
    assert_int_equal(res.strings, 2);
    assert_int_equal(res.strings_masked, 1);

    /* Nothing found: out is left alone. */
    out.len = 0;
    const char *plain = "{\"text\":\"12:30에 만나요\"}";
    assert_int_equal(pii_mask_record(m, plain, strlen(plain), &out, &res), 0);
    assert_int_equal(out.len, 0);
    buf_free(&out);
    pii_masker_free(m);
}

static void test_fields(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS);
    assert_int_equal(pii_add_field(m, "messages[1].content"), 0);
    assert_int_equal(pii_add_field(m, "meta.id"), 0);
    assert_int_equal(pii_add_field(m, "a..b"), -1);
    assert_int_equal(pii_add_field(m, "a[x]"), -1);
    assert_int_equal(pii_add_field(m, "a["), -1);
    assert_int_equal(pii_add_field(m, "a."), -1);
    const char *rec = "{\"text\":\"010-1111-2222\",\"messages\":[{\"content\":\"010-1111-2222\"},"
                      "{\"content\":\"010-1111-2222\"}],\"meta\":{\"id\":\"010-1111-2222\"}}";
    sft_buf out = {0};
    pii_record_result res;
    assert_int_equal(pii_mask_record(m, rec, strlen(rec), &out, &res), 1);
    assert_int_equal(buf_putc(&out, '\0'), 0);
    /* Only the named values; meta.id is named, so its skipped key counts not. */
    assert_string_equal(out.p, "{\"text\":\"010-1111-2222\",\"messages\":[{\"content\":\"010-1111-2222\"},"
                               "{\"content\":\"[PHONE]\"}],\"meta\":{\"id\":\"[PHONE]\"}}");
    buf_free(&out);
    pii_masker_free(m);
}

/* One value, one pseudonym: however the number is written, and a given
 * name gets its full name's; another key gives others. */
static void test_pseudonyms(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS), *k2 = pii_masker_new(PII_DEFAULT_DETECTORS);
    assert_int_equal(pii_set_style(m, PII_STYLE_PSEUDO, "", 0), -1);
    assert_int_equal(pii_set_style(m, PII_STYLE_PSEUDO, "secret", 6), 0);
    assert_int_equal(pii_set_style(k2, PII_STYLE_PSEUDO, "other", 5), 0);
    assert_int_equal(pii_add_name(m, "홍길동", strlen("홍길동")), 2);
    char a[64], b[64], c[64];
    strcpy(a, masked(m, "010-1234-5678"));
    strcpy(b, masked(m, "+82 10 1234 5678"));
    strcpy(c, masked(m, "01012345678"));
    assert_int_equal(strlen(a), strlen("[PHONE_123456]"));
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    assert_string_not_equal(a, masked(m, "010-1234-5679"));
    assert_string_not_equal(a, masked(k2, "010-1234-5678"));
    strcpy(a, masked(m, "홍길동"));
    strcpy(b, masked(m, "길동"));
    assert_string_equal(a, b);
    assert_memory_equal(a, "[NAME_", 6);
    pii_masker_free(m);
    pii_masker_free(k2);
}

static void test_learn_speaker(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS);
    const char *rec = "{\"chat\":\"c\",\"speaker\":\"\\ubc15\\uc601\\uc6b0 \\uc18c\\ub9c8\",\"text\":\"x\"}";
    assert_int_equal(pii_learn_speaker(m, rec, strlen(rec)), 2); /* 박영우, 영우 */
    assert_int_equal(pii_learn_speaker(m, rec, strlen(rec)), 0); /* seen */
    assert_int_equal(pii_learn_speaker(m, "{\"text\":\"x\"}", 12), 0);
    assert_string_equal(masked(m, "영우는 박영우 소마"), "[NAME]는 [NAME] 소마");
    pii_masker_free(m);
}

/* Join and invite lines name people who may never speak. */
static void test_system_names(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_DEFAULT_DETECTORS);
    const char *ko = "박영우 소마님이 김민기님과 수ㅈ님을 초대했습니다.";
    assert_int_equal(pii_add_system_names(m, ko, strlen(ko)), 5); /* 박영우 영우 김민기 민기 수ㅈ */
    const char *en = "Jay Park invited 이서연, Tom and 회원님.";
    assert_int_equal(pii_add_system_names(m, en, strlen(en)), 6); /* Jay Park Jay Park 이서연 서연 Tom */
    const char *left = "Stewie left this chatroom.";
    assert_int_equal(pii_add_system_names(m, left, strlen(left)), 1);
    const char *other = "민기님이 좋아합니다.";
    assert_int_equal(pii_add_system_names(m, other, strlen(other)), 0);
    assert_string_equal(masked(m, "민기형, 서연아, tom이랑 stewie"), "[NAME]형, [NAME]아, [NAME]이랑 [NAME]");
    pii_masker_free(m);
}

/* Detectors that are off find nothing, but a recognised number still
 * keeps its digits from being taken for something else. */
static void test_detectors_off(void **state)
{
    (void)state;
    pii_masker *m = pii_masker_new(PII_BIT(PII_PHONE));
    assert_string_equal(masked(m, "0101234567890 a@b.com 010-1234-5678"), "0101234567890 a@b.com [PHONE]");
    pii_masker_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_types),
        cmocka_unit_test(test_speakers),
        cmocka_unit_test(test_names_given),
        cmocka_unit_test(test_record_offsets_and_paths),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_pseudonyms),
        cmocka_unit_test(test_learn_speaker),
        cmocka_unit_test(test_system_names),
        cmocka_unit_test(test_detectors_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
