/* Unit tests of lib/media/finevideo.h: FineVideo metadata parsing
 * (timestamps, optional and malformed fields), the filters, and the SFT
 * conversation (the exact assistant text, image parts, scenes limit, Q&A
 * turns), on a made-up record; then the real example record of the dataset
 * card when ../shared/external/finevideo/ is there. Run from the repository
 * root, as tests/run.sh does. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/buf.h"
#include "media/finevideo.h"

#define REAL "../shared/external/finevideo/dataset_card_example_record.json"

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    if (!j) fail_msg("bad JSON in the test: %s", s);
    return j;
}

/* A made-up record: Korean and English text, a scene without times, an
 * activity without a timestamp, one with a malformed timestamp, one
 * without a description, an empty Q&A answer, and fields that are ignored. */
static const char *SYN =
    "{\"duration_seconds\": 95.5, \"resolution\": \"1280x720\", \"youtube_title\": \"YT 제목\","
    " \"content_fine_category\": \"Cooking\","
    " \"content_metadata\": {\"title\": \"  김치찌개 만들기  \","
    "  \"description\": \"A home cook shows how to make kimchi stew.\\n두 번째 줄.\","
    "  \"fps\": 29.97,"
    "  \"scenes\": ["
    "   {\"sceneId\": 1, \"title\": \"재료 준비\","
    "    \"timestamps\": {\"start_timestamp\": \"00:00:00.000\", \"end_timestamp\": \"00:00:31.900\"},"
    "    \"activities\": ["
    "     {\"description\": \"Chopping kimchi\", \"timestamp\": {\"start_timestamp\": \"00:00:02.500\","
    "       \"end_timestamp\": \"00:00:10.000\"}},"
    "     {\"description\": \"두부를 썬다\"},"
    "     {\"timestamp\": {\"start_timestamp\": \"00:00:12.000\"}},"
    "     {\"description\": \"Washing hands\", \"timestamp\": {\"start_timestamp\": \"00:0x:12\"}}]},"
    "   {\"sceneId\": 2, \"title\": \"Cooking\", \"mood\": {\"description\": \"calm\"},"
    "    \"timestamps\": {\"start_timestamp\": \"00:00:31.900\", \"end_timestamp\": \"00:01:35.500\"},"
    "    \"activities\": [{\"description\": \"끓이기 Boiling\", \"timestamp\": {\"start_timestamp\": \"00:01:05.999\","
    "       \"end_timestamp\": \"00:01:30.000\"}}]},"
    "   {\"sceneId\": 3, \"title\": \"Serving\"}"
    "  ],"
    "  \"qAndA\": [{\"question\": \"무엇을 만드나요?\", \"answer\": \"김치찌개입니다.\"},"
    "             {\"question\": \"Skipped?\", \"answer\": \"  \"},"
    "             {\"question\": \"How long does it boil?\", \"answer\": \"About 25 seconds in the video.\"}]}}";

/* The whole assistant text of SYN with every scene. */
static const char *SYN_TEXT = "김치찌개 만들기\n"
                              "\n"
                              "A home cook shows how to make kimchi stew.\n두 번째 줄.\n"
                              "\n"
                              "Scene 1 (00:00\xe2\x80\x93"
                              "00:31): 재료 준비\n"
                              "- [00:02] Chopping kimchi\n"
                              "- 두부를 썬다\n"
                              "- Washing hands\n"
                              "\n"
                              "Scene 2 (00:31\xe2\x80\x93"
                              "01:35): Cooking\n"
                              "- [01:05] 끓이기 Boiling\n"
                              "\n"
                              "Scene 3: Serving";

static const char *FRAMES[] = {"out/v1/0.jpg", "out/v1/1.jpg", "out/v1/2.jpg"};

static void parse_ok(const char *s, cJSON **j, fv_meta *m)
{
    char err[256] = "";
    *j = parse(s);
    if (fv_parse(*j, m, err, sizeof err) != 0) fail_msg("fv_parse: %s", err);
}

/* ---- timestamps ---- */

static void test_timestamps(void **state)
{
    (void)state;
    double t = -7;
    assert_int_equal(fv_parse_timestamp("00:00:09.009", &t), 0);
    assert_true(fabs(t - 9.009) < 1e-9);
    assert_int_equal(fv_parse_timestamp("01:02:03.5", &t), 0);
    assert_true(fabs(t - 3723.5) < 1e-9);
    assert_int_equal(fv_parse_timestamp("123:00:00", &t), 0);
    assert_true(fabs(t - 442800) < 1e-9);
    assert_int_equal(fv_parse_timestamp("02:03", &t), 0);
    assert_true(fabs(t - 123) < 1e-9);
    assert_int_equal(fv_parse_timestamp("7.25", &t), 0);
    assert_true(fabs(t - 7.25) < 1e-9);
    assert_int_equal(fv_parse_timestamp("00:00:00.000", &t), 0);
    assert_true(t == 0);

    static const char *bad[] = {"", ":", "00:00:", ":00:01", "00:60:00", "00:00:60.0", "1:2:3:4", "00:00:01.",
                                "00:00:1a", " 00:00:01", "00:00:01 ", "-00:00:01", "00.5:00", "1e3", "abc",
                                "00:00:00,500", "0000000000000:00"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = -7;
        if (fv_parse_timestamp(bad[i], &t) == 0) fail_msg("accepted \"%s\"", bad[i]);
        assert_true(t == -7); /* unchanged */
    }
    assert_int_equal(fv_parse_timestamp(NULL, &t), -1);
}

/* ---- parsing ---- */

static void test_parse_synthetic(void **state)
{
    (void)state;
    cJSON *j;
    fv_meta m;
    parse_ok(SYN, &j, &m);
    assert_true(m.duration == 95.5);
    assert_int_equal(m.width, 1280);
    assert_int_equal(m.height, 720);
    assert_string_equal(m.youtube_title, "YT 제목");
    assert_string_equal(m.title, "  김치찌개 만들기  "); /* borrowed as is */
    assert_int_equal(m.nscenes, 3);
    assert_int_equal(m.scenes[0].id, 1);
    assert_string_equal(m.scenes[0].title, "재료 준비");
    assert_true(fabs(m.scenes[0].end - 31.9) < 1e-9);
    assert_int_equal(m.scenes[0].nacts, 4);
    assert_true(fabs(m.scenes[0].acts[0].start - 2.5) < 1e-9);
    assert_true(m.scenes[0].acts[1].start < 0 && m.scenes[0].acts[1].end < 0);
    assert_null(m.scenes[0].acts[2].description);
    assert_true(m.scenes[0].acts[3].start < 0); /* malformed: unknown and counted */
    assert_int_equal(m.nbad_ts, 1);
    assert_true(m.scenes[2].start < 0 && m.scenes[2].end < 0);
    assert_int_equal(m.scenes[2].nacts, 0);
    assert_int_equal(m.nqa, 3);
    assert_string_equal(m.qa[0].question, "무엇을 만드나요?");
    /* the strings are borrowed from the tree */
    assert_ptr_equal(m.description,
                     cJSON_GetObjectItem(cJSON_GetObjectItem(j, "content_metadata"), "description")->valuestring);
    fv_meta_free(&m);
    assert_int_equal(m.nscenes, 0);
    fv_meta_free(&m); /* twice is safe */
    cJSON_Delete(j);
}

static void test_parse_missing(void **state)
{
    (void)state;
    cJSON *j;
    fv_meta m;
    parse_ok("{}", &j, &m);
    assert_true(m.duration < 0);
    assert_int_equal(m.width, 0);
    assert_null(m.title);
    assert_int_equal(m.nscenes, 0);
    assert_int_equal(m.nqa, 0);
    fv_meta_free(&m);
    cJSON_Delete(j);

    /* nulls count as absent, an integer duration is fine */
    parse_ok("{\"duration_seconds\": 208, \"resolution\": null, \"content_metadata\": {\"title\": null,"
             " \"scenes\": [{\"sceneId\": \"x\", \"timestamps\": null, \"activities\": null}], \"qAndA\": null}}",
             &j, &m);
    assert_true(m.duration == 208);
    assert_int_equal(m.nscenes, 1);
    assert_int_equal(m.scenes[0].id, -1);
    assert_true(m.scenes[0].start < 0);
    assert_int_equal(m.nbad_ts, 0);
    fv_meta_free(&m);
    cJSON_Delete(j);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"[]", "not a JSON object"},
        {"{\"duration_seconds\": \"208\"}", "duration_seconds is not a number"},
        {"{\"duration_seconds\": -1}", "duration_seconds is not a number"},
        {"{\"resolution\": \"1280*720\"}", "resolution is not a string WIDTHxHEIGHT"},
        {"{\"resolution\": \"0x720\"}", "resolution"},
        {"{\"resolution\": \"1280x\"}", "resolution"},
        {"{\"resolution\": \"1280x720p\"}", "resolution"},
        {"{\"resolution\": [1280, 720]}", "resolution"},
        {"{\"youtube_title\": 5}", "youtube_title is not a string"},
        {"{\"content_metadata\": []}", "content_metadata is not an object"},
        {"{\"content_metadata\": {\"description\": {}}}", "content_metadata.description is not a string"},
        {"{\"content_metadata\": {\"scenes\": {}}}", "content_metadata.scenes is not an array"},
        {"{\"content_metadata\": {\"scenes\": [{}, 3]}}", "content_metadata.scenes[1] is not an object"},
        {"{\"content_metadata\": {\"scenes\": [{\"title\": 1}]}}", "content_metadata.scenes[0].title is not a string"},
        {"{\"content_metadata\": {\"scenes\": [{\"timestamps\": \"00:00:01\"}]}}",
         "content_metadata.scenes[0].timestamps is not an object"},
        {"{\"content_metadata\": {\"scenes\": [{\"timestamps\": {\"end_timestamp\": 3.5}}]}}",
         "content_metadata.scenes[0].timestamps.end_timestamp is not a string"},
        {"{\"content_metadata\": {\"scenes\": [{\"activities\": [{}, {\"timestamp\": []}]}]}}",
         "content_metadata.scenes[0].activities[1].timestamp is not an object"},
        {"{\"content_metadata\": {\"scenes\": [{\"activities\": {}}]}}",
         "content_metadata.scenes[0].activities is not an array"},
        {"{\"content_metadata\": {\"qAndA\": [{\"question\": \"q\", \"answer\": 1}]}}",
         "content_metadata.qAndA[0].answer is not a string"},
        {"{\"content_metadata\": {\"qAndA\": [\"q\"]}}", "content_metadata.qAndA[0] is not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256] = "";
        cJSON *j = parse(cases[i].json);
        fv_meta m;
        if (fv_parse(j, &m, err, sizeof err) == 0) fail_msg("accepted %s", cases[i].json);
        if (!strstr(err, cases[i].want)) fail_msg("%s: got \"%s\", want \"%s\"", cases[i].json, err, cases[i].want);
        assert_null(m.scenes); /* left empty */
        assert_null(m.qa);
        cJSON_Delete(j);
    }
    char err[64];
    fv_meta m;
    assert_int_equal(fv_parse(NULL, &m, err, sizeof err), -1);
    assert_int_equal(fv_parse(NULL, &m, NULL, 0), -1); /* no err buffer */
}

/* ---- filters ---- */

static void test_filter(void **state)
{
    (void)state;
    fv_meta m;
    memset(&m, 0, sizeof m);
    const char *why = "x";

    m.duration = 12;
    m.width = 426;
    m.height = 240;
    assert_int_equal(fv_filter(&m, 0, 0, 0, 0, &why), 1);
    assert_null(why);
    assert_int_equal(fv_filter(&m, 30, 600, 0, 0, &why), 0);
    assert_string_equal(why, "duration 12.0 s < 30 s");
    m.duration = 700.25;
    assert_int_equal(fv_filter(&m, 30, 600, 0, 0, &why), 0);
    assert_string_equal(why, "duration 700.2 s > 600 s");
    m.duration = 600; /* bounds are inclusive */
    assert_int_equal(fv_filter(&m, 30, 600, 0, 0, &why), 1);
    m.duration = 30;
    assert_int_equal(fv_filter(&m, 30, 600, 0, 0, &why), 1);
    assert_int_equal(fv_filter(&m, 30, 600, 640, 360, &why), 0);
    assert_string_equal(why, "resolution 426x240 below 640x360");
    m.width = 640;
    m.height = 359;
    assert_int_equal(fv_filter(&m, 30, 600, 640, 360, &why), 0);
    assert_string_equal(why, "resolution 640x359 below 640x360");
    m.height = 360;
    assert_int_equal(fv_filter(&m, 30, 600, 640, 360, &why), 1);
    assert_null(why);
    assert_int_equal(fv_filter(&m, 0, 0, 641, 0, NULL), 0); /* why may be NULL */

    m.duration = -1;
    assert_int_equal(fv_filter(&m, 0, 600, 0, 0, &why), 0);
    assert_string_equal(why, "no duration in the metadata");
    assert_int_equal(fv_filter(&m, 30, 0, 0, 0, &why), 0);
    assert_string_equal(why, "no duration in the metadata");
    assert_int_equal(fv_filter(&m, 0, 0, 640, 360, &why), 1); /* no duration filter set */
    m.width = m.height = 0;
    assert_int_equal(fv_filter(&m, 0, 0, 640, 360, &why), 0);
    assert_string_equal(why, "no resolution in the metadata");
    assert_int_equal(fv_filter(&m, 0, 0, 0, 0, &why), 1);

    /* duration is checked first */
    m.duration = 5;
    m.width = 100;
    m.height = 100;
    assert_int_equal(fv_filter(&m, 30, 0, 640, 360, &why), 0);
    assert_string_equal(why, "duration 5.0 s < 30 s");
}

/* ---- the conversation ---- */

static const char *text_of(const cJSON *msg)
{
    const cJSON *c = cJSON_GetObjectItem(msg, "content");
    assert_true(cJSON_IsString(c));
    return c->valuestring;
}

static const char *role_of(const cJSON *msg)
{
    return cJSON_GetObjectItem(msg, "role")->valuestring;
}

static void test_conversation_golden(void **state)
{
    (void)state;
    cJSON *j;
    fv_meta m;
    char err[256] = "";
    parse_ok(SYN, &j, &m);
    cJSON *msgs = fv_conversation(&m, FRAMES, 3, NULL, -1, 0, err, sizeof err);
    if (!msgs) fail_msg("%s", err);
    assert_int_equal(cJSON_GetArraySize(msgs), 2);

    const cJSON *user = cJSON_GetArrayItem(msgs, 0);
    assert_string_equal(role_of(user), "user");
    const cJSON *parts = cJSON_GetObjectItem(user, "content");
    assert_true(cJSON_IsArray(parts));
    assert_int_equal(cJSON_GetArraySize(parts), 4);
    for (int i = 0; i < 3; i++) {
        const cJSON *p = cJSON_GetArrayItem(parts, i);
        assert_int_equal(cJSON_GetArraySize(p), 2); /* only type and path */
        assert_string_equal(cJSON_GetObjectItem(p, "type")->valuestring, "image");
        assert_string_equal(cJSON_GetObjectItem(p, "path")->valuestring, FRAMES[i]);
    }
    const cJSON *tp = cJSON_GetArrayItem(parts, 3);
    assert_string_equal(cJSON_GetObjectItem(tp, "type")->valuestring, "text");
    assert_string_equal(cJSON_GetObjectItem(tp, "text")->valuestring, "이 비디오에 대해 설명해주세요.");
    assert_string_equal(FV_DEFAULT_PROMPT, "이 비디오에 대해 설명해주세요.");

    const cJSON *asst = cJSON_GetArrayItem(msgs, 1);
    assert_string_equal(role_of(asst), "assistant");
    assert_string_equal(text_of(asst), SYN_TEXT);

    /* the serialized form, as it goes into the JSONL */
    char *s = cJSON_PrintUnformatted(msgs);
    assert_non_null(s);
    assert_non_null(strstr(s, "[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"path\":\"out/v1/0.jpg\"},"));
    free(s);
    cJSON_Delete(msgs);
    fv_meta_free(&m);
    cJSON_Delete(j);
}

static void test_conversation_scenes_limit(void **state)
{
    (void)state;
    cJSON *j;
    fv_meta m;
    char err[256] = "";
    parse_ok(SYN, &j, &m);

    cJSON *msgs = fv_conversation(&m, FRAMES, 1, "Describe.", 1, 0, err, sizeof err);
    assert_non_null(msgs);
    assert_string_equal(text_of(cJSON_GetArrayItem(msgs, 1)), "김치찌개 만들기\n\n"
                                                              "A home cook shows how to make kimchi stew.\n두 번째 줄.\n\n"
                                                              "Scene 1 (00:00\xe2\x80\x93"
                                                              "00:31): 재료 준비\n"
                                                              "- [00:02] Chopping kimchi\n"
                                                              "- 두부를 썬다\n"
                                                              "- Washing hands");
    const cJSON *parts = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "content");
    assert_int_equal(cJSON_GetArraySize(parts), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(parts, 1), "text")->valuestring, "Describe.");
    cJSON_Delete(msgs);

    msgs = fv_conversation(&m, FRAMES, 0, NULL, 0, 0, err, sizeof err);
    assert_non_null(msgs);
    assert_string_equal(text_of(cJSON_GetArrayItem(msgs, 1)),
                        "김치찌개 만들기\n\nA home cook shows how to make kimchi stew.\n두 번째 줄.");
    /* no frames: the prompt alone */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "content")), 1);
    cJSON_Delete(msgs);

    /* more than there are = all */
    msgs = fv_conversation(&m, FRAMES, 3, NULL, 99, 0, err, sizeof err);
    assert_string_equal(text_of(cJSON_GetArrayItem(msgs, 1)), SYN_TEXT);
    cJSON_Delete(msgs);
    fv_meta_free(&m);
    cJSON_Delete(j);
}

static void test_conversation_qa(void **state)
{
    (void)state;
    cJSON *j;
    fv_meta m;
    char err[256] = "";
    parse_ok(SYN, &j, &m);
    cJSON *msgs = fv_conversation(&m, FRAMES, 2, NULL, 0, 1, err, sizeof err);
    assert_non_null(msgs);
    /* the pair with a blank answer is left out */
    assert_int_equal(cJSON_GetArraySize(msgs), 6);
    static const char *const want[][2] = {{"user", NULL},
                                          {"assistant", NULL},
                                          {"user", "무엇을 만드나요?"},
                                          {"assistant", "김치찌개입니다."},
                                          {"user", "How long does it boil?"},
                                          {"assistant", "About 25 seconds in the video."}};
    for (int i = 0; i < 6; i++) {
        const cJSON *msg = cJSON_GetArrayItem(msgs, i);
        assert_string_equal(role_of(msg), want[i][0]);
        if (want[i][1]) assert_string_equal(text_of(msg), want[i][1]);
    }
    cJSON_Delete(msgs);

    msgs = fv_conversation(&m, FRAMES, 2, NULL, 0, 0, err, sizeof err);
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    cJSON_Delete(msgs);
    fv_meta_free(&m);
    cJSON_Delete(j);
}

static void test_conversation_edges(void **state)
{
    (void)state;
    cJSON *j;
    fv_meta m;
    char err[256] = "";

    /* youtube_title stands in for a missing title; no description; times of
     * an hour and more; a scene with no title; a scene with only a start */
    parse_ok("{\"youtube_title\": \" Long video \", \"content_metadata\": {\"title\": \"\", \"scenes\": ["
             "{\"timestamps\": {\"start_timestamp\": \"00:59:59.999\", \"end_timestamp\": \"01:02:03.000\"},"
             " \"activities\": [{\"description\": \"  late  \", \"timestamp\": {\"start_timestamp\": \"10:00:00\"}}]},"
             "{\"title\": \"half\", \"timestamps\": {\"start_timestamp\": \"00:00:05\"}},"
             "{\"title\": \"bad\", \"timestamps\": {\"start_timestamp\": \"5 s\", \"end_timestamp\": \"00:00:09\"}}]}}",
             &j, &m);
    assert_int_equal(m.nbad_ts, 1);
    cJSON *msgs = fv_conversation(&m, NULL, 0, NULL, -1, 1, err, sizeof err);
    assert_non_null(msgs);
    assert_string_equal(text_of(cJSON_GetArrayItem(msgs, 1)), "Long video\n\n"
                                                              "Scene 1 (59:59\xe2\x80\x93"
                                                              "1:02:03)\n"
                                                              "- [10:00:00] late\n\n"
                                                              "Scene 2: half\n\n"
                                                              "Scene 3: bad");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    cJSON_Delete(msgs);

    /* nothing to say: an error */
    fv_meta_free(&m);
    cJSON_Delete(j);
    parse_ok("{\"youtube_title\": \"  \", \"content_metadata\": {\"description\": \"\\n\"}}", &j, &m);
    err[0] = '\0';
    assert_null(fv_conversation(&m, FRAMES, 3, NULL, -1, 1, err, sizeof err));
    assert_string_equal(err, "no title, description or scene in the metadata");

    /* a bad frame path */
    fv_meta_free(&m);
    cJSON_Delete(j);
    parse_ok(SYN, &j, &m);
    const char *paths[] = {"a.jpg", ""};
    assert_null(fv_conversation(&m, paths, 2, NULL, -1, 0, err, sizeof err));
    assert_string_equal(err, "frame 1 has no path");
    assert_null(fv_conversation(&m, NULL, 1, NULL, -1, 0, err, sizeof err));
    fv_meta_free(&m);
    cJSON_Delete(j);
}

/* ---- the real example record of the dataset card ---- */

static void test_real_record(void **state)
{
    (void)state;
    if (access(REAL, R_OK) != 0) {
        printf("# skip: %s is not there (FineVideo dataset card example)\n", REAL);
        skip();
    }
    sft_buf b = {0};
    assert_int_equal(buf_read_file(&b, REAL, 1 << 24), 0);
    assert_int_equal(buf_putc(&b, '\0'), 0);
    cJSON *j = parse(b.p);
    buf_free(&b);
    fv_meta m;
    char err[256] = "";
    if (fv_parse(j, &m, err, sizeof err) != 0) fail_msg("fv_parse: %s", err);
    assert_true(m.duration > 0);
    assert_true(m.width > 0 && m.height > 0);
    assert_non_null(m.title);
    assert_non_null(m.description);
    assert_true(m.nscenes >= 1);
    assert_int_equal(m.nbad_ts, 0); /* every timestamp of the real record parses */
    for (size_t i = 0; i < m.nscenes; i++) {
        assert_non_null(m.scenes[i].title);
        assert_true(m.scenes[i].start >= 0 && m.scenes[i].end >= m.scenes[i].start);
        for (size_t k = 0; k < m.scenes[i].nacts; k++) assert_true(m.scenes[i].acts[k].start >= 0);
    }
    /* qAndA is optional: count what is there */
    const cJSON *qa = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "content_metadata"), "qAndA");
    assert_int_equal(m.nqa, qa ? (size_t)cJSON_GetArraySize(qa) : 0);

    assert_int_equal(fv_filter(&m, 30, 600, 640, 360, NULL), m.duration >= 30 && m.duration <= 600 &&
                                                                 m.width >= 640 && m.height >= 360);
    cJSON *msgs = fv_conversation(&m, FRAMES, 3, NULL, 2, 1, err, sizeof err);
    if (!msgs) fail_msg("fv_conversation: %s", err);
    const char *text = text_of(cJSON_GetArrayItem(msgs, 1));
    assert_true(strncmp(text, m.title, strlen(m.title)) == 0);
    assert_non_null(strstr(text, "\n\nScene 1 ("));
    assert_int_equal((size_t)cJSON_GetArraySize(msgs), 2 + 2 * m.nqa);
    cJSON_Delete(msgs);
    fv_meta_free(&m);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_parse_synthetic),
        cmocka_unit_test(test_parse_missing),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_conversation_golden),
        cmocka_unit_test(test_conversation_scenes_limit),
        cmocka_unit_test(test_conversation_qa),
        cmocka_unit_test(test_conversation_edges),
        cmocka_unit_test(test_real_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
