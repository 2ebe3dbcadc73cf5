/* Unit tests of the text reader (encodings, lines) and the KakaoTalk
 * parser's pieces: kinds, system notices, clocks, and small exports. */
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/textin.h"
#include "kakao/kakao.h"

/* ---- textin ---- */

/* Reads all lines of mem; returns them joined with '|', bad ones as "!". */
static char *read_lines(const void *mem, size_t len, text_encoding enc, text_encoding *found)
{
    textin *t;
    assert_int_equal(textin_open_mem(&t, mem, len, "mem", enc, 64), 0);
    assert_null(textin_detect_error(t));
    if (found) *found = textin_encoding(t);
    static char out[4096];
    size_t o = 0;
    text_line ln;
    int rc;
    while ((rc = textin_next(t, &ln)) != TEXT_EOF) {
        assert_true(rc == TEXT_LINE || rc == TEXT_BAD);
        if (o) out[o++] = '|';
        if (rc == TEXT_BAD) {
            out[o++] = '!';
        } else {
            memcpy(out + o, ln.text, ln.len);
            o += ln.len;
        }
    }
    out[o] = '\0';
    textin_close(t);
    return out;
}

/* UTF-8 text in another encoding, through iconv. */
static size_t encode(const char *utf8, const char *to, char *out, size_t cap)
{
    iconv_t cd = iconv_open(to, "UTF-8");
    assert_true(cd != (iconv_t)-1);
    char *in = (char *)(uintptr_t)utf8, *o = out;
    size_t inleft = strlen(utf8), oleft = cap;
    assert_true(iconv(cd, &in, &inleft, &o, &oleft) != (size_t)-1);
    iconv_close(cd);
    return cap - oleft;
}

static const char sample[] = "2024년 3월 1일 오후 2:37, 김하늘 : 안녕\r\n둘째 줄\n\r\nlast";

static void test_textin_utf8(void **state)
{
    (void)state;
    text_encoding enc;
    assert_string_equal(read_lines(sample, strlen(sample), TEXT_ENC_AUTO, &enc),
                        "2024년 3월 1일 오후 2:37, 김하늘 : 안녕|둘째 줄||last");
    assert_int_equal(enc, TEXT_ENC_UTF8);
    char bom[200] = "\xEF\xBB\xBF";
    strcat(bom, sample);
    assert_string_equal(read_lines(bom, strlen(bom), TEXT_ENC_AUTO, NULL),
                        "2024년 3월 1일 오후 2:37, 김하늘 : 안녕|둘째 줄||last");
}

static void test_textin_utf16_and_cp949(void **state)
{
    (void)state;
    char buf[512];
    text_encoding enc;
    static const struct {
        const char *iconv_name;
        const char *bom;
        size_t bom_len;
        text_encoding enc;
    } cases[] = {
        {"UTF-16LE", "\xFF\xFE", 2, TEXT_ENC_UTF16LE},
        {"UTF-16BE", "\xFE\xFF", 2, TEXT_ENC_UTF16BE},
        {"UTF-16LE", "", 0, TEXT_ENC_UTF16LE}, /* no BOM: found by its zero bytes */
        {"CP949", "", 0, TEXT_ENC_CP949},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(buf, cases[k].bom, cases[k].bom_len);
        size_t n = cases[k].bom_len +
                   encode("[김하늘] [오후 2:37] 안녕하세요 hello\r\n둘째 줄 test line\r\n",
                          cases[k].iconv_name, buf + cases[k].bom_len,
                          sizeof buf - cases[k].bom_len);
        assert_string_equal(read_lines(buf, n, TEXT_ENC_AUTO, &enc),
                            "[김하늘] [오후 2:37] 안녕하세요 hello|둘째 줄 test line");
        assert_int_equal(enc, cases[k].enc);
    }
}

static void test_textin_bad_input(void **state)
{
    (void)state;
    /* An invalid UTF-8 line is bad and reading goes on. */
    static const char mixed[] = "good\nbad \xC3\x28 here\nalso good\n";
    assert_string_equal(read_lines(mixed, sizeof mixed - 1, TEXT_ENC_UTF8, NULL),
                        "good|!|also good");
    /* A line over max_line (64 here) is bad, without being held. */
    char longl[300];
    memset(longl, 'x', 200);
    memcpy(longl + 200, "\nshort\n", 8);
    assert_string_equal(read_lines(longl, strlen(longl), TEXT_ENC_UTF8, NULL), "!|short");
    /* Binary data fails detection. */
    static const char bin[] = "abc\0\x01\x02\xff\xfe\x80";
    textin *t;
    assert_int_equal(textin_open_mem(&t, bin, sizeof bin, "bin", TEXT_ENC_AUTO, 0), 0);
    assert_non_null(textin_detect_error(t));
    textin_close(t);
}

/* The column of an invalid byte, on a later line of a large input (the
 * UTF-8 check runs over many lines at once). */
static void test_textin_bad_column_far_in(void **state)
{
    (void)state;
    size_t n = 200000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = i % 50 == 49 ? '\n' : 'a';
    big[150000 + 7] = (char)0xFF; /* line 3001, column 8 */
    textin *t;
    assert_int_equal(textin_open_mem(&t, big, n, "big", TEXT_ENC_AUTO, 0), 0);
    text_line ln;
    int rc, bad = 0;
    while ((rc = textin_next(t, &ln)) != TEXT_EOF) {
        if (rc == TEXT_BAD) {
            bad++;
            assert_int_equal(ln.line, 3001);
            assert_int_equal(ln.col, 8);
        }
    }
    assert_int_equal(bad, 1);
    textin_close(t);
    free(big);
}

/* ---- kinds, notices, clocks ---- */

static void test_classify(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        kakao_kind kind;
    } cases[] = {
        {"사진", KAKAO_PHOTO},         {"<사진>", KAKAO_PHOTO},      {"(사진)", KAKAO_PHOTO},
        {"사진 3장", KAKAO_PHOTO},     {"<Photo>", KAKAO_PHOTO},     {"photo", KAKAO_PHOTO},
        {"3 photos", KAKAO_PHOTO},     {"(3 Photos)", KAKAO_PHOTO},  {"동영상", KAKAO_VIDEO},
        {"<Video>", KAKAO_VIDEO},      {"이모티콘", KAKAO_EMOTICON}, {"(emoticon) ", KAKAO_EMOTICON},
        {"파일: a.pdf", KAKAO_FILE},   {"File: 보고서.hwp", KAKAO_FILE}, {"음성메시지", KAKAO_VOICE},
        {"Voice Message", KAKAO_VOICE}, {"삭제된 메시지입니다.", KAKAO_DELETED},
        {"This message has been deleted.", KAKAO_DELETED},
        {"https://example.com/a?b=c", KAKAO_LINK},
        {"사진 정리해서 올릴게요", KAKAO_TEXT}, {"앨범 https://example.com/x", KAKAO_TEXT},
        {"photos of the trip", KAKAO_TEXT}, {"사진 3", KAKAO_PHOTO}, {"사진 장", KAKAO_TEXT},
        {"", KAKAO_TEXT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kakao_kind got = kakao_classify(cases[k].text, strlen(cases[k].text));
        if (got != cases[k].kind)
            fail_msg("'%s': %s, expected %s", cases[k].text, kakao_kind_name(got),
                     kakao_kind_name(cases[k].kind));
    }
}

static void test_system_text(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "김하늘님이 들어왔습니다.", "한지우님이 나갔습니다.", "김하늘님이 이도윤님과 박서연님을 초대했습니다.",
        "오세훈님을 내보냈습니다.", "김하늘님이 방장이 되었습니다.", "Stewie left this chatroom.",
        "김하늘 invited 이도윤 and 박서연.", "수아 has been removed from this chatroom.",
    };
    static const char *const no[] = {"나갔습니다.", "invited", "우리 내일 나갔습니다 ㅋㅋ",
                                     "I invited them\nyesterday."};
    for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++)
        if (!kakao_is_system_text(yes[k], strlen(yes[k]))) fail_msg("not a notice: %s", yes[k]);
    for (size_t k = 0; k < sizeof no / sizeof no[0]; k++)
        if (kakao_is_system_text(no[k], strlen(no[k]))) fail_msg("a notice: %s", no[k]);
}

static void test_time_roundtrip(void **state)
{
    (void)state;
    char out[48];
    kakao_time t = kakao_make_time(2024, 2, 29, 0, 5, 9);
    kakao_format_time(t, "+09:00", out, sizeof out);
    assert_string_equal(out, "2024-02-29T00:05:09+09:00");
    kakao_format_time(kakao_make_time(1970, 1, 1, 0, 0, 0), "-05:30", out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00-05:30");
    /* Every day of 1999..2101 formats back to itself. */
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int y = 1999; y <= 2101; y++)
        for (int m = 1; m <= 12; m++) {
            int days = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100) || y % 400 == 0));
            for (int d = 1; d <= days; d++) {
                char want[32];
                snprintf(want, sizeof want, "%04d-%02d-%02dT23:59:58Z", y, m, d);
                kakao_format_time(kakao_make_time(y, m, d, 23, 59, 58), "Z", out, sizeof out);
                assert_string_equal(out, want);
            }
        }
}

/* ---- whole small exports ---- */

typedef struct {
    int n;
    char speaker[8][64];
    char text[8][256];
    char ts[8][48];
    kakao_kind kind[8];
    int bad;
} parsed;

static void parse(const char *export, kakao_format format, parsed *out)
{
    textin *t;
    kakao_parser *p;
    memset(out, 0, sizeof *out);
    assert_int_equal(textin_open_mem(&t, export, strlen(export), "x", TEXT_ENC_AUTO, 0), 0);
    kakao_config cfg = {.format = format};
    assert_int_equal(kakao_open(&p, t, &cfg), 0);
    kakao_msg m;
    kakao_bad bad;
    int rc;
    while ((rc = kakao_next(p, &m, &bad)) != KAKAO_EOF) {
        if (rc != KAKAO_MSG) {
            out->bad++;
            if (rc == KAKAO_NOT_EXPORT) break;
            continue;
        }
        assert_true(out->n < 8);
        snprintf(out->speaker[out->n], 64, "%.*s", (int)m.speaker_len, m.speaker);
        snprintf(out->text[out->n], 256, "%.*s", (int)m.text_len, m.text);
        kakao_format_time(m.time, "", out->ts[out->n], 48);
        out->kind[out->n] = m.kind;
        out->n++;
    }
    kakao_close(p);
    textin_close(t);
}

static void test_noon_and_midnight(void **state)
{
    (void)state;
    parsed r;
    parse("2024년 3월 1일 오전 12:05, A : 자정\n"
          "2024년 3월 1일 오후 12:30, B : 정오\n"
          "2024년 3월 1일 오후 11:59, A : 밤\n",
          KAKAO_AUTO, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.ts[0], "2024-03-01T00:05:00");
    assert_string_equal(r.ts[1], "2024-03-01T12:30:00");
    assert_string_equal(r.ts[2], "2024-03-01T23:59:00");
    parse("12:05am, March 1, 2024, A : x\n12:30pm, March 1, 2024, B : y\n", KAKAO_AUTO, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ts[0], "2024-03-01T00:05:00");
    assert_string_equal(r.ts[1], "2024-03-01T12:30:00");
    /* Newer iOS: a narrow no-break space before PM; Korean dates with AM/PM. */
    parse("Mar 1, 2024, 8:34\xE2\x80\xAFPM, A : x\nMar 1, 2024, 8:35\xC2\xA0PM, B : y\n", KAKAO_AUTO, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ts[1], "2024-03-01T20:35:00");
    parse("2024. 3. 1. PM 8:34, A : x\n2024. 3. 1. 20:35, B : y\n", KAKAO_AUTO, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ts[0], "2024-03-01T20:34:00");
    assert_string_equal(r.ts[1], "2024-03-01T20:35:00");
    /* CSV with a local date form. */
    parse("Date,User,Message\n2024. 3. 1. 오후 8:34,\"A\",\"x\"\n", KAKAO_AUTO, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.ts[0], "2024-03-01T20:34:00");
}

static void test_continuation_and_lookalike(void **state)
{
    (void)state;
    parsed r;
    parse("2024. 3. 2. 오후 1:00, A : 첫 줄\n"
          "Day 1 : 둘째\n"
          "\n"
          "2024. 3. 1. 오후 3:00, B : 어제 일 (quoted: goes back in time)\n"
          "2024. 3. 2. 오후 1:01: A님이 나갔습니다.\n"
          "2024. 3. 2. 오후 1:02, B : 끝\n\n\n",
          KAKAO_AUTO, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0],
                        "첫 줄\nDay 1 : 둘째\n\n2024. 3. 1. 오후 3:00, B : 어제 일 (quoted: goes back in time)");
    assert_int_equal(r.kind[1], KAKAO_SYSTEM);
    assert_string_equal(r.text[2], "끝"); /* trailing blank lines are not text */
}

static void test_windows_and_csv(void **state)
{
    (void)state;
    parsed r;
    parse("테스트 님과 카카오톡 대화\n저장한 날짜 : 2021년 12월 18일 오후 7:17\n\n"
          "--------------- 2021년 12월 29일 수요일 ---------------\n"
          "[테스트] [20:36] ㅎㅇ\n이어지는 줄\n수아님을 초대하였습니다.\n[나] [오후 8:37] 반가워\n",
          KAKAO_AUTO, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0], "ㅎㅇ\n이어지는 줄");
    assert_int_equal(r.kind[1], KAKAO_SYSTEM);
    assert_string_equal(r.ts[2], "2021-12-29T20:37:00");
    /* A wrong weekday makes no day line. */
    parse("--------------- 2021년 12월 29일 목요일 ---------------\n[A] [20:36] x\n", KAKAO_WINDOWS, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.bad, 1); /* no date for the message */

    parse("Date,User,Message\n"
          "2021-12-29 20:36:00,\"테스트\",\"ㅎㅇ\n\"\"인용\"\" 포함\"\n"
          "2021-12-29 20:37:00,\"나\",\"깨진 따옴표\n"
          "2021-12-29 20:38:00,\"A\",\"다음\"\n",
          KAKAO_AUTO, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0], "ㅎㅇ\n\"인용\" 포함");
    assert_string_equal(r.text[1], "깨진 따옴표");
    assert_string_equal(r.speaker[2], "A");
}

static void test_not_an_export(void **state)
{
    (void)state;
    parsed r;
    parse("그냥 글입니다.\n두 번째 줄.\n", KAKAO_AUTO, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.bad, 1);
    /* Forced into the wrong format, an export is not one. */
    parse("2024년 3월 1일 오후 2:37, A : x\n", KAKAO_CSV, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.bad, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_textin_utf8),
        cmocka_unit_test(test_textin_utf16_and_cp949),
        cmocka_unit_test(test_textin_bad_input),
        cmocka_unit_test(test_textin_bad_column_far_in),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_system_text),
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_noon_and_midnight),
        cmocka_unit_test(test_continuation_and_lookalike),
        cmocka_unit_test(test_windows_and_csv),
        cmocka_unit_test(test_not_an_export),
    };
    return cmocka_run_group_tests_name("kakao", tests, NULL, NULL);
}
