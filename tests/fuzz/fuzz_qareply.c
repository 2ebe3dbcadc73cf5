/* libFuzzer target for lib/qa (qa.h): the QA pairs in an LLM's reply and
 * the content of a chat-completions body, on the same input; the input as
 * a prompt template, and as a Naver Local Search item when it is a JSON
 * object; qa_strip_tags on it.
 *
 * Oracles, beyond "no crash, no leak, no sanitizer report, no hang":
 *  - qa_parse_reply: on success n >= 1 and every pair has a non-empty,
 *    NUL-terminated, trimmed, valid UTF-8 question and answer; on failure
 *    no pairs and a reason;
 *  - qa_completion_content: on success a string inside *json, whose pairs
 *    are then parsed the same way; on failure *json is NULL and a reason is
 *    given; token counts are -1 or more;
 *  - qa_render: on failure out is as it was, with a reason;
 *  - qa_naver_local_item: an "id" of "naver:" + 16 hex digits, or a reason;
 *  - qa_strip_tags never makes a string longer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "qa/qa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void check_text(const char *s)
{
    if (!s) abort();
    size_t n = strlen(s);
    if (n == 0 || is_space(s[0]) || is_space(s[n - 1])) abort();
    if (utf8_invalid_offset((const unsigned char *)s, n) != n) abort();
}

static void reply(const char *text, size_t len)
{
    qa_pairs p;
    char err[256] = "";
    if (qa_parse_reply(text, len, &p, err, sizeof err) == 0) {
        if (p.n < 1 || !p.items) abort();
        for (size_t i = 0; i < p.n; i++) {
            check_text(p.items[i].question);
            check_text(p.items[i].answer);
        }
    } else {
        if (p.n != 0 || p.items || !err[0]) abort();
    }
    qa_pairs_free(&p);
}

static void completion(const char *body, size_t len)
{
    cJSON *j = (cJSON *)1;
    int64_t in = -7, out = -7;
    char err[256] = "";
    const char *s = qa_completion_content(body, len, &j, &in, &out, err, sizeof err);
    if (in < -1 || out < -1) abort();
    if (!s) {
        if (j || !err[0]) abort();
        return;
    }
    if (!j) abort();
    reply(s, strlen(s));
    cJSON_Delete(j);
}

static void render(const char *tpl, size_t len)
{
    static cJSON *rec;
    if (!rec) {
        rec = cJSON_Parse("{\"id\":\"b01\",\"name\":\"공학관\",\"floors\":7,\"geo\":{\"lat\":37.5},"
                          "\"routes\":[{\"from\":\"정문\",\"distance_m\":450}]}");
        if (!rec) abort();
    }
    sft_buf out = {0};
    if (buf_append(&out, "x", 1) != 0) abort();
    char err[256] = "";
    if (qa_render(tpl, len, rec, 10, len & 1 ? "ko" : "en", &out, err, sizeof err) != 0) {
        if (out.len != 1 || !err[0]) abort();
    }
    buf_free(&out);
}

static void naver(const char *text, size_t len)
{
    cJSON *item = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(item)) {
        cJSON_Delete(item);
        return;
    }
    char err[256] = "";
    cJSON *r = qa_naver_local_item(item, err, sizeof err);
    if (r) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (!cJSON_IsString(id) || strlen(id->valuestring) != 22 || strncmp(id->valuestring, "naver:", 6) != 0)
            abort();
        cJSON_Delete(r);
    } else if (!err[0]) {
        abort();
    }
    cJSON_Delete(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    reply(text, size);
    completion(text, size);
    render(text, size);
    naver(text, size);
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s);
    qa_strip_tags(s);
    if (strlen(s) > n) abort();
    free(s);
    return 0;
}
