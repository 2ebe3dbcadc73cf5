/* Unit tests of lib/qa (qa.h): prompt templates (every placeholder kind,
 * errors, the templates of fixtures/qa/prompts against every record of
 * fixtures/qa/buildings.jsonl), the QA pairs in a table of replies as real
 * models write them, the content of chat-completions bodies, Naver Local
 * Search items, pair ids. Run from the repository root, as tests/run.sh
 * does. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/hash.h"
#include "qa/qa.h"

#define FIX "fixtures/qa/"

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    if (!j) fail_msg("bad JSON in the test: %s", s);
    return j;
}

/* ---- templates ---- */

/* Renders tpl against the record JSON rec; returns the text (static) or
 * NULL with the reason in err. */
static const char *render(const char *tpl, const char *rec, int count, const char *lang, char *err, size_t errlen)
{
    static sft_buf out;
    cJSON *r = rec ? parse(rec) : NULL;
    out.len = 0;
    err[0] = '\0';
    int rc = qa_render(tpl, strlen(tpl), r, count, lang, &out, err, errlen);
    cJSON_Delete(r);
    if (rc != 0) {
        assert_int_equal(out.len, 0); /* nothing left behind */
        assert_true(err[0] != '\0');
        return NULL;
    }
    assert_int_equal(buf_putc(&out, '\0'), 0);
    out.len--;
    return out.p;
}

static const char *REC = "{\"name\":\"공학관\",\"floors\":7,\"ratio\":0.5,\"open\":true,\"closed\":false,"
                         "\"none\":null,\"tags\":[\"a\",\"b\"],\"geo\":{\"lat\":37.5,\"city\":\"가상시\"},"
                         "\"routes\":[{\"from\":\"정문\",\"distance_m\":450}],\"a.b\":\"dotted\","
                         "\"quote\":\"say \\\"hi\\\"\\n\"}";

static void test_render_kinds(void **state)
{
    (void)state;
    char err[256];
    const char *s;
    s = render("이름: {{name}}, 층: {{floors}}, {{ratio}} {{open}} {{closed}} {{none}}", REC, 10, "ko", err,
               sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "이름: 공학관, 층: 7, 0.5 true false null");
    s = render("{{tags}}|{{geo}}|{{routes}}", REC, 1, "en", err, sizeof err);
    assert_string_equal(s, "[\"a\",\"b\"]|{\"lat\":37.5,\"city\":\"가상시\"}|[{\"from\":\"정문\",\"distance_m\":450}]");
    s = render("{{geo.city}} {{geo.lat}} {{routes.0.from}} {{routes.0.distance_m}} {{tags.1}} {{a\\.b}}", REC, 1,
               "en", err, sizeof err);
    assert_string_equal(s, "가상시 37.5 정문 450 b dotted");
    /* a string is put as it is, not escaped */
    s = render("<{{quote}}>", REC, 1, "en", err, sizeof err);
    assert_string_equal(s, "<say \"hi\"\n>");
    s = render("{{count}} {{lang}} {{language}}", REC, 12, "ko", err, sizeof err);
    assert_string_equal(s, "12 ko Korean");
    s = render("{{count}} {{lang}} {{language}}", REC, 0, "en", err, sizeof err);
    assert_string_equal(s, "0 en English");
    s = render("{{language}}", REC, 0, "xx", err, sizeof err);
    assert_string_equal(s, "xx");
    s = render("{{language}}/{{language}}", REC, 0, "ja", err, sizeof err);
    assert_string_equal(s, "Japanese/Japanese");
}

static void test_render_record(void **state)
{
    (void)state;
    char err[256];
    const char *s = render("R={{record}}.", "{ \"id\" : \"b1\", \"n\" : [1, 2] }", 1, "en", err, sizeof err);
    assert_string_equal(s, "R={\"id\":\"b1\",\"n\":[1,2]}.");
    s = render("{{ record }}", "{}", 1, "en", err, sizeof err);
    assert_string_equal(s, "{}");
    /* fields named like placeholders: the placeholder wins, record.NAME
     * reaches the field */
    s = render("{{count}} {{record.count}} {{record.lang}} {{record.x.y}}",
               "{\"count\":\"many\",\"lang\":[1],\"x\":{\"y\":2}}", 3, "en", err, sizeof err);
    assert_string_equal(s, "3 many [1] 2");
    s = render("{{record.n}}", "{\"record\":{\"n\":\"inner\"},\"n\":\"outer\"}", 3, "en", err, sizeof err);
    assert_string_equal(s, "inner");
    assert_null(render("{{record.nope}}", "{}", 3, "en", err, sizeof err));
    assert_string_equal(err, "{{record.nope}}: no such field in the record");
}

static void test_render_whitespace_and_verbatim(void **state)
{
    (void)state;
    char err[256];
    const char *s = render("{{ name }}|{{\tcount\n}}|{{  geo.city  }}", REC, 3, "ko", err, sizeof err);
    assert_string_equal(s, "공학관|3|가상시");
    /* single braces, a lone }}, JSON examples: verbatim */
    s = render("[{\"question\": \"...\", \"answer\": {}}] } }} {x} {", REC, 3, "ko", err, sizeof err);
    assert_string_equal(s, "[{\"question\": \"...\", \"answer\": {}}] } }} {x} {");
    s = render("", REC, 3, "ko", err, sizeof err);
    assert_string_equal(s, "");
    s = render("no placeholders\r\n", NULL, 3, NULL, err, sizeof err);
    assert_string_equal(s, "no placeholders\r\n");
    /* the text keeps its bytes as they are, including a NUL */
    sft_buf out = {0};
    assert_int_equal(qa_render("a\0b{{count}}", 12, NULL, 5, "en", &out, err, sizeof err), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.p, "a\0b5", 4);
    /* appends to what out holds */
    assert_int_equal(qa_render("{{lang}}", 8, NULL, 5, "en", &out, err, sizeof err), 0);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.p, "a\0b5en", 6);
    /* on error, out keeps what it held */
    assert_int_equal(qa_render("x{{nope}}", 9, NULL, 5, "en", &out, err, sizeof err), -1);
    assert_int_equal(out.len, 6);
    buf_free(&out);
}

static void test_render_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(render("Hello {{building.name}}!", REC, 1, "ko", err, sizeof err));
    assert_string_equal(err, "{{building.name}}: no such field in the record");
    assert_null(render("{{ missing }}", REC, 1, "ko", err, sizeof err));
    assert_string_equal(err, "{{missing}}: no such field in the record");
    assert_null(render("{{routes.5.from}}", REC, 1, "ko", err, sizeof err));
    assert_non_null(strstr(err, "no such field"));
    assert_null(render("{{name.first}}", REC, 1, "ko", err, sizeof err)); /* a string has no fields */
    assert_non_null(strstr(err, "no such field"));
    assert_null(render("{{Name}}", REC, 1, "ko", err, sizeof err)); /* names are case-sensitive */
    assert_null(render("{{name}}", NULL, 1, "ko", err, sizeof err));
    assert_null(render("{{record}}", NULL, 1, "ko", err, sizeof err));
    /* unclosed */
    assert_null(render("line 1\nAsk about {{name", REC, 1, "ko", err, sizeof err));
    assert_non_null(strstr(err, "line 2"));
    assert_non_null(strstr(err, "without a closing"));
    assert_null(render("{{", REC, 1, "ko", err, sizeof err));
    assert_null(render("{{name}} {{count}", REC, 1, "ko", err, sizeof err));
    assert_null(render("{{name}", REC, 1, "ko", err, sizeof err));
    /* empty or not a path */
    assert_null(render("{{}}", REC, 1, "ko", err, sizeof err));
    assert_non_null(strstr(err, "not a placeholder"));
    assert_null(render("{{   }}", REC, 1, "ko", err, sizeof err));
    assert_null(render("{{geo..city}}", REC, 1, "ko", err, sizeof err));
    assert_non_null(strstr(err, "not a field path"));
    assert_null(render("{{{name}}}", REC, 1, "ko", err, sizeof err));
    /* {{lang}} without a language */
    assert_null(render("{{lang}}", REC, 1, NULL, err, sizeof err));
    assert_null(render("{{language}}", REC, 1, "", err, sizeof err));
    /* a small err buffer is never overrun */
    char tiny[8];
    assert_null(render("{{building.name}}", REC, 1, "ko", tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), 7);
}

static char *slurp(const char *path)
{
    sft_buf b = {0};
    if (buf_read_file(&b, path, 1 << 20) != 0) fail_msg("cannot read %s (run from the repository root)", path);
    assert_int_equal(buf_putc(&b, '\0'), 0);
    return b.p;
}

/* Every template of fixtures/qa/prompts renders against every record of
 * fixtures/qa/buildings.jsonl, in both languages, leaving no braces. */
static void test_fixture_templates(void **state)
{
    (void)state;
    static const char *const names[] = {"basic", "route", "location", "complex", "system"};
    char *recs = slurp(FIX "buildings.jsonl");
    size_t nrec = 0;
    for (char *line = strtok(recs, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *r = parse(line);
        assert_true(cJSON_IsString(cJSON_GetObjectItem(r, "id")));
        for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
            char path[128];
            snprintf(path, sizeof path, FIX "prompts/%s.txt", names[t]);
            char *tpl = slurp(path);
            for (int l = 0; l < 2; l++) {
                sft_buf out = {0};
                char err[256] = "";
                if (qa_render(tpl, strlen(tpl), r, 10, l ? "en" : "ko", &out, err, sizeof err) != 0)
                    fail_msg("%s against record %zu: %s", path, nrec + 1, err);
                assert_int_equal(buf_putc(&out, '\0'), 0);
                assert_null(strstr(out.p, "{{"));
                assert_null(strstr(out.p, "}}"));
                if (t < 4) {
                    assert_non_null(strstr(out.p, "10"));
                    assert_non_null(strstr(out.p, l ? "English" : "Korean"));
                    assert_non_null(strstr(out.p, "\"question\""));
                    const char *name = cJSON_GetObjectItem(r, "name")->valuestring;
                    assert_non_null(strstr(out.p, name));
                }
                if (t == 1) assert_non_null(strstr(out.p, "\"distance_m\":"));
                buf_free(&out);
            }
            free(tpl);
        }
        cJSON_Delete(r);
        nrec++;
    }
    assert_int_equal(nrec, 4);
    free(recs);
}

/* ---- replies ---- */

typedef struct {
    const char *name, *text;
    int rc;
    size_t n, dropped;
    const char *q0, *a0; /* the first pair */
    const char *err;     /* a part of the reason */
} reply_case;

#define QA1 "{\"question\": \"공학관은 몇 층인가요?\", \"answer\": \"공학관은 지상 7층 건물입니다.\"}"
#define QA2 "{\"question\": \"Where is the library?\", \"answer\": \"Next to the main gate.\"}"
#define ARR "[\n  " QA1 ",\n  " QA2 "\n]"

static const reply_case replies[] = {
    {"plain array", ARR, 0, 2, 0, "공학관은 몇 층인가요?", "공학관은 지상 7층 건물입니다.", NULL},
    {"plain array, whitespace around", "\n\n  " ARR "  \n", 0, 2, 0, "공학관은 몇 층인가요?", NULL, NULL},
    {"BOM and CRLF", "\xef\xbb\xbf[\r\n" QA2 "\r\n]\r\n", 0, 1, 0, "Where is the library?", NULL, NULL},
    {"fenced json", "```json\n" ARR "\n```", 0, 2, 0, "공학관은 몇 층인가요?", NULL, NULL},
    {"fenced JSON with prose", "Here are the pairs you asked for:\n\n```JSON\n" ARR "\n```\n\nLet me know!", 0,
     2, 0, NULL, NULL, NULL},
    {"fenced without language", "```\n" ARR "\n```", 0, 2, 0, NULL, NULL, NULL},
    {"fence on the same line", "```json[" QA2 "]```", 0, 1, 0, "Where is the library?", NULL, NULL},
    {"unclosed fence", "```json\n" ARR "\n", 0, 2, 0, NULL, NULL, NULL},
    {"first fence is code, second the pairs",
     "To count them:\n```python\nprint(len(pairs))\n```\nThe pairs:\n```json\n[" QA2 "]\n```", 0, 1, 0,
     "Where is the library?", NULL, NULL},
    {"prose before and after", "물론입니다! 요청하신 질문과 답변입니다.\n" ARR "\n위 내용이 도움이 되길 바랍니다.", 0, 2,
     0, NULL, NULL, NULL},
    {"wrapper qa", "{\"qa\": " ARR "}", 0, 2, 0, "공학관은 몇 층인가요?", NULL, NULL},
    {"wrapper pairs with other members", "{\"building\": \"b01\", \"count\": 2, \"pairs\": " ARR "}", 0, 2, 0,
     NULL, NULL, NULL},
    {"wrapper items, fenced", "```json\n{\"items\": [" QA2 "]}\n```", 0, 1, 0, NULL, NULL, NULL},
    {"wrapper in prose", "Sure: {\"pairs\": [" QA2 "]} Done.", 0, 1, 0, NULL, NULL, NULL},
    {"wrapper nested deeper", "{\"result\": {\"pairs\": [" QA2 "]}}", 0, 1, 0, NULL, NULL, NULL},
    {"wrapper with two arrays of objects",
     "{\"pairs\": [" QA2 "], \"sources\": [{\"url\": \"https://example.com\"}]}", 0, 1, 0,
     "Where is the library?", NULL, NULL},
    {"q/a keys", "[{\"q\": \"Q1\", \"a\": \"A1\"}, {\"q\": \"Q2\", \"a\": \"A2\"}]", 0, 2, 0, "Q1", "A1", NULL},
    {"keys in any case", "[{\"Question\": \"Q1\", \"ANSWER\": \"A1\"}, {\"Q\": \"Q2\", \"A\": \"A2\"}]", 0, 2, 0,
     "Q1", "A1", NULL},
    {"extra members are ignored", "[{\"id\": 1, \"question\": \"Q\", \"answer\": \"A\", \"type\": \"basic\"}]",
     0, 1, 0, "Q", "A", NULL},
    {"strings trimmed", "[{\"question\": \"  \\n Q  \\t\", \"answer\": \"\\r\\nA \"}]", 0, 1, 0, "Q", "A", NULL},
    {"mixed valid and invalid",
     "[{\"question\": \"Q1\", \"answer\": \"A1\"}, {\"question\": \"\", \"answer\": \"x\"}, {\"question\": \"Q3\"},"
     " {\"question\": 5, \"answer\": \"x\"}, \"just a string\", null, {\"question\": \"Q\", \"answer\": \"   \"},"
     " {\"question\": \"Q\", \"answer\": [\"A\"]}, {\"question\": \" Q9 \", \"answer\": \" A9 \"}]",
     0, 2, 7, "Q1", "A1", NULL},
    {"nested arrays", "[[" QA1 ", " QA2 "]]", 0, 2, 0, "공학관은 몇 층인가요?", NULL, NULL},
    {"unicode escapes and emoji", "[{\"question\": \"\\uacf5\\ud559\\uad00?\", \"answer\": \"\\ud83d\\ude00 네\"}]",
     0, 1, 0, "공학관?", "😀 네", NULL},
    {"escaped quotes and brackets in strings",
     "[{\"question\": \"What does \\\"[B1]\\\" mean?\", \"answer\": \"The basement: ] } [ {\"}]", 0, 1, 0,
     "What does \"[B1]\" mean?", "The basement: ] } [ {", NULL},
    {"a list of numbers, then the pairs", "Scores: [1, 2, 3]\n\nPairs:\n[" QA2 "]", 0, 1, 0,
     "Where is the library?", NULL, NULL},
    {"a list of strings in a fence, then the pairs",
     "```json\n[\"basic\", \"route\"]\n```\n```json\n[" QA2 "]\n```", 0, 1, 0, NULL, NULL, NULL},
    {"markdown link before the pairs", "See [the map](https://example.com).\n[" QA2 "]", 0, 1, 0, NULL, NULL,
     NULL},
    {"trailing comma in a fence, valid array after", "```json\n[" QA1 ",]\n```\nCorrected:\n[" QA2 "]", 0, 1, 0,
     "Where is the library?", NULL, NULL},
    {"one bare object", "{\"question\": \"Q\", \"answer\": \"A\"}", 0, 1, 0, "Q", "A", NULL},
    {"invalid UTF-8 in an answer", "[{\"question\": \"Q\", \"answer\": \"\xff\"}, " QA2 "]", 0, 1, 1,
     "Where is the library?", NULL, NULL},

    {"truncated", "```json\n[\n  " QA1 ",\n  {\"question\": \"Where is", -1, 0, 0, NULL, NULL, "not JSON"},
    {"trailing comma", "[" QA1 ", " QA2 ",]", -1, 0, 0, NULL, NULL, "no valid JSON array"},
    {"comments", "[\n  // the first pair\n  " QA1 "\n]", -1, 0, 0, NULL, NULL, "no valid JSON array"},
    {"single quotes", "[{'question': 'Q', 'answer': 'A'}]", -1, 0, 0, NULL, NULL, "no valid JSON array"},
    {"empty array", "[]", -1, 0, 0, NULL, NULL, "empty"},
    {"empty fenced array", "```json\n[]\n```", -1, 0, 0, NULL, NULL, "empty"},
    {"no array", "죄송합니다. 요청을 처리할 수 없습니다.", -1, 0, 0, NULL, NULL, "no JSON array in the reply"},
    {"empty reply", "", -1, 0, 0, NULL, NULL, "no JSON array in the reply"},
    {"numbers only", "[1, 2, 3]", -1, 0, 0, NULL, NULL, "no question/answer object"},
    {"all items invalid", "[{\"question\": \"\", \"answer\": \"\"}, {\"q\": 1, \"a\": 2}]", -1, 0, 0, NULL,
     NULL, "no question/answer object (2 items"},
    {"objects of other keys", "{\"pairs\": [{\"instruction\": \"I\", \"output\": \"O\"}]}", -1, 0, 0, NULL,
     NULL, "no question/answer object"},
    {"object without array", "{\"error\": \"too many requests\"}", -1, 0, 0, NULL, NULL, "no JSON array"},
};

static void check_pairs(const qa_pairs *p, const char *where)
{
    for (size_t i = 0; i < p->n; i++) {
        const char *q = p->items[i].question, *a = p->items[i].answer;
        if (!q || !a || !*q || !*a) fail_msg("%s: pair %zu is empty", where, i);
        if (q[0] == ' ' || a[strlen(a) - 1] == ' ') fail_msg("%s: pair %zu is not trimmed", where, i);
    }
}

static void test_reply_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        const reply_case *c = &replies[i];
        qa_pairs p;
        char err[256] = "";
        int rc = qa_parse_reply(c->text, strlen(c->text), &p, err, sizeof err);
        if (rc != c->rc) fail_msg("%s: returned %d, wanted %d (%s)", c->name, rc, c->rc, err);
        if (rc == 0) {
            if (p.n != c->n || p.dropped != c->dropped)
                fail_msg("%s: %zu pairs, %zu dropped; wanted %zu, %zu", c->name, p.n, p.dropped, c->n,
                         c->dropped);
            check_pairs(&p, c->name);
            if (c->q0 && strcmp(p.items[0].question, c->q0) != 0)
                fail_msg("%s: question \"%s\", wanted \"%s\"", c->name, p.items[0].question, c->q0);
            if (c->a0 && strcmp(p.items[0].answer, c->a0) != 0)
                fail_msg("%s: answer \"%s\", wanted \"%s\"", c->name, p.items[0].answer, c->a0);
        } else {
            assert_int_equal(p.n, 0);
            assert_null(p.items);
            if (!err[0]) fail_msg("%s: no reason", c->name);
            if (c->err && !strstr(err, c->err)) fail_msg("%s: reason \"%s\", wanted \"%s\"", c->name, err, c->err);
        }
        qa_pairs_free(&p);
    }
}

/* The text is taken by length: no NUL needed, bytes after it unread. */
static void test_reply_length(void **state)
{
    (void)state;
    const char *s = "[{\"q\":\"Q\",\"a\":\"A\"}]garbage";
    char *t = malloc(19);
    memcpy(t, s, 19); /* no NUL */
    qa_pairs p;
    char err[256];
    assert_int_equal(qa_parse_reply(t, 19, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 1);
    qa_pairs_free(&p);
    assert_int_equal(qa_parse_reply(t, 18, &p, err, sizeof err), -1); /* cut before the ] */
    free(t);
    /* qa_pairs_free on an empty or freed set is harmless */
    qa_pairs_free(&p);
    qa_pairs_free(NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_reply_huge(void **state)
{
    (void)state;
    qa_pairs p;
    char err[256];
    sft_buf b = {0};
    /* 10,000 pairs */
    assert_int_equal(buf_append(&b, "```json\n[", 9), 0);
    for (int i = 0; i < 10000; i++) {
        char item[96];
        int k = snprintf(item, sizeof item, "%s{\"question\":\"Q%d\",\"answer\":\"A%d\"}", i ? "," : "", i, i);
        assert_int_equal(buf_append(&b, item, (size_t)k), 0);
    }
    assert_int_equal(buf_append(&b, "]\n```", 5), 0);
    assert_int_equal(qa_parse_reply(b.p, b.len, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 10000);
    assert_string_equal(p.items[9999].answer, "A9999");
    qa_pairs_free(&p);

    /* 1 MB of prose with brackets, then the pairs */
    b.len = 0;
    for (int i = 0; i < 20000; i++) assert_int_equal(buf_append(&b, "see [note] and [1, 2] here ", 27), 0);
    assert_int_equal(buf_append(&b, "[" QA2 "]", strlen("[" QA2 "]")), 0);
    double t0 = now();
    int rc = qa_parse_reply(b.p, b.len, &p, err, sizeof err);
    /* the candidates are bounded: the pairs past 64 of them are not found */
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "gave up after 64"));

    /* hostile: 4 MB of '[' (each candidate nests to cJSON's limit), of
     * '[{"question":' and of '```' */
    static const char *const hostile[] = {"[", "[{\"question\":", "```", "```json\n[", "{\"a\":["};
    for (size_t h = 0; h < sizeof hostile / sizeof hostile[0]; h++) {
        b.len = 0;
        size_t k = strlen(hostile[h]);
        while (b.len < (4u << 20)) assert_int_equal(buf_append(&b, hostile[h], k), 0);
        assert_int_equal(qa_parse_reply(b.p, b.len, &p, err, sizeof err), -1);
    }
    /* worst case: every candidate valid up to the last byte ('[' 500 deep,
     * then 1 MB of numbers, never closed) */
    b.len = 0;
    for (int k = 0; k < 500; k++) assert_int_equal(buf_putc(&b, '['), 0);
    while (b.len < (1u << 20)) assert_int_equal(buf_append(&b, "1,", 2), 0);
    assert_int_equal(qa_parse_reply(b.p, b.len, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "gave up after 64"));
    double t = now() - t0;
    if (t > 20) fail_msg("hostile replies took %.1f s", t);
    buf_free(&b);
}

/* ---- completion bodies ---- */

static const char *content(const char *body, cJSON **j, int64_t *in, int64_t *out, char *err)
{
    err[0] = '\0';
    const char *s = qa_completion_content(body, strlen(body), j, in, out, err, 256);
    if (!s) {
        assert_null(*j);
        assert_true(err[0] != '\0');
    } else {
        assert_non_null(*j);
    }
    return s;
}

static void test_completion(void **state)
{
    (void)state;
    cJSON *j;
    int64_t in, out;
    char err[256];
    const char *s;
    s = content("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
                "\"message\":{\"role\":\"assistant\",\"content\":\"[{\\\"q\\\":\\\"Q\\\",\\\"a\\\":\\\"A\\\"}]\","
                "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
                "123,\"completion_tokens\":45,\"total_tokens\":168}}",
                &j, &in, &out, err);
    assert_string_equal(s, "[{\"q\":\"Q\",\"a\":\"A\"}]");
    assert_int_equal(in, 123);
    assert_int_equal(out, 45);
    cJSON_Delete(j);

    /* content as parts */
    s = content("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Hel\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},{\"type\":\"text\",\"text\":\"lo 세계\"}]},"
                "\"finish_reason\":\"stop\"}]}",
                &j, &in, &out, err);
    assert_string_equal(s, "Hello 세계");
    assert_int_equal(in, -1);
    assert_int_equal(out, -1);
    cJSON_Delete(j);

    /* no finish_reason, no usage, extra whitespace */
    s = content(" { \"choices\" : [ { \"message\" : { \"content\" : \"\" } } ] } ", &j, &in, &out, err);
    assert_string_equal(s, "");
    cJSON_Delete(j);

    /* cut: an error, but the tokens are counted */
    s = content("{\"choices\":[{\"message\":{\"content\":\"[{\\\"q\\\":\"},\"finish_reason\":\"length\"}],"
                "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":4096}}",
                &j, &in, &out, err);
    assert_null(s);
    assert_string_equal(err, "finish_reason length: the reply was cut");
    assert_int_equal(in, 10);
    assert_int_equal(out, 4096);

    /* missing pieces */
    static const char *const bad[][2] = {
        {"", "not JSON"},
        {"<html>502 Bad Gateway</html>", "not JSON"},
        {"{\"choices\":[{\"message\":{\"content\":\"x\"}}]", "not JSON"},
        {"{\"choices\":[{\"message\":{\"content\":\"x\"}}]}{", "not JSON"},
        {"[]", "no choices"},
        {"{}", "no choices"},
        {"{\"choices\":{}}", "no choices"},
        {"{\"choices\":[]}", "choices is empty"},
        {"{\"choices\":[{}]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{}}]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{\"content\":null}}]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{\"content\":42}}]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{\"content\":[{\"type\":\"image_url\"}]}}]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"content_filter\"}]}", "content_filter"},
        {"{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't help with that.\"}}]}",
         "the model refused: I can't help with that."},
        {"{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\","
         "\"code\":\"insufficient_quota\"}}",
         "You exceeded your current quota"},
        {"{\"error\":\"model not found\"}", "model not found"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = content(bad[i][0], &j, &in, &out, err);
        if (s || !strstr(err, bad[i][1]))
            fail_msg("%s: \"%s\", wanted an error with \"%s\"", bad[i][0], s ? s : err, bad[i][1]);
    }
    /* usage of odd types is absent */
    s = content("{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":\"12\","
                "\"completion_tokens\":-3}}",
                &j, &in, &out, err);
    assert_string_equal(s, "x");
    assert_int_equal(in, -1);
    assert_int_equal(out, -1);
    cJSON_Delete(j);
    /* NULL token pointers are allowed */
    const char *body = "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}";
    s = qa_completion_content(body, strlen(body), &j, NULL, NULL, err, 256);
    assert_string_equal(s, "x");
    cJSON_Delete(j);
}

/* A body, then its content through qa_parse_reply: the path qa-gen takes. */
static void test_completion_then_reply(void **state)
{
    (void)state;
    const char *body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Here you go:\\n```json\\n"
                       "[{\\\"question\\\": \\\"정문에서 공학관까지 얼마나 걸리나요?\\\", \\\"answer\\\": \\\"약 6분 "
                       "걸립니다.\\\"}]\\n```\"},\"finish_reason\":\"stop\"}]}";
    cJSON *j;
    char err[256];
    const char *s = qa_completion_content(body, strlen(body), &j, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    qa_pairs p;
    assert_int_equal(qa_parse_reply(s, strlen(s), &p, err, sizeof err), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].question, "정문에서 공학관까지 얼마나 걸리나요?");
    assert_string_equal(p.items[0].answer, "약 6분 걸립니다.");
    qa_pairs_free(&p);
    cJSON_Delete(j);
}

/* ---- Naver ---- */

static const char *ITEM = "{\"title\":\"<b>한빛</b>대학교 &amp; <B>공학관</B>\","
                          "\"link\":\"https://example.com/place?a=1&amp;b=2\","
                          "\"category\":\"교육,학문&gt;대학교\","
                          "\"description\":\"&quot;공대&quot; 건물 &#39;A&#39; &#x1F600; &#54620;\","
                          "\"telephone\":\"02-000-0000\","
                          "\"address\":\"가상시 새솔구 한빛동 1\","
                          "\"roadAddress\":\"가상시 새솔구 한빛로 100\","
                          "\"mapx\":\"1269783882\",\"mapy\":\"375666103\"}";

static cJSON *naver(const char *item_json, char *err)
{
    cJSON *item = parse(item_json);
    err[0] = '\0';
    cJSON *r = qa_naver_local_item(item, err, 256);
    cJSON_Delete(item);
    if (!r) assert_true(err[0] != '\0');
    return r;
}

static const char *str(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, name);
    if (!cJSON_IsString(v)) fail_msg("no string %s", name);
    return v->valuestring;
}

static double num(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, name);
    if (!cJSON_IsNumber(v)) fail_msg("no number %s", name);
    return v->valuedouble;
}

static void test_naver_item(void **state)
{
    (void)state;
    char err[256];
    cJSON *r = naver(ITEM, err);
    assert_non_null(r);
    assert_string_equal(str(r, "title"), "한빛대학교 & 공학관");
    assert_string_equal(str(r, "link"), "https://example.com/place?a=1&b=2");
    assert_string_equal(str(r, "category"), "교육,학문>대학교");
    assert_string_equal(str(r, "description"), "\"공대\" 건물 'A' 😀 한");
    assert_string_equal(str(r, "telephone"), "02-000-0000");
    assert_string_equal(str(r, "address"), "가상시 새솔구 한빛동 1");
    assert_string_equal(str(r, "road_address"), "가상시 새솔구 한빛로 100");
    assert_string_equal(str(r, "source"), "naver-local");
    assert_true(num(r, "lon") == 126.9783882);
    assert_true(num(r, "lat") == 37.5666103);
    /* the keys, in order */
    static const char *const keys[] = {"id",      "title", "category", "description", "telephone", "address",
                                       "road_address", "lon", "lat", "link", "source"};
    size_t k = 0;
    for (const cJSON *c = r->child; c; c = c->next, k++) {
        assert_true(k < sizeof keys / sizeof keys[0]);
        assert_string_equal(c->string, keys[k]);
    }
    assert_int_equal(k, sizeof keys / sizeof keys[0]);
    /* the coordinates print as the API's digits */
    char *printed = cJSON_PrintUnformatted(r);
    assert_non_null(strstr(printed, "\"lon\":126.9783882,\"lat\":37.5666103"));
    cJSON_free(printed);

    /* the id: "naver:" + 16 hex digits of xxh64(title|roadAddress) */
    const char *id = str(r, "id");
    char want[32];
    const char *key = "한빛대학교 & 공학관|가상시 새솔구 한빛로 100";
    snprintf(want, sizeof want, "naver:%016" PRIx64, xxh64(key, strlen(key), 0));
    assert_string_equal(id, want);
    assert_int_equal(strlen(id), 6 + 16);

    /* stable: other <b> marks (another search term), other fields */
    cJSON *r2 = naver("{\"title\":\"한빛대학교 &amp; 공학<b>관</b>\",\"roadAddress\":\"가상시 새솔구 한빛로 100\","
                      "\"mapx\":\"1269783882\",\"mapy\":\"375666103\",\"telephone\":\"\"}",
                      err);
    assert_non_null(r2);
    assert_string_equal(str(r2, "id"), id);
    cJSON_Delete(r2);
    /* different title or address: a different id */
    r2 = naver("{\"title\":\"한빛대학교 중앙도서관\",\"roadAddress\":\"가상시 새솔구 한빛로 100\"}", err);
    assert_string_not_equal(str(r2, "id"), id);
    cJSON_Delete(r2);
    r2 = naver("{\"title\":\"한빛대학교 & 공학관\",\"roadAddress\":\"가상시 새솔구 한빛로 102\"}", err);
    assert_string_not_equal(str(r2, "id"), id);
    cJSON_Delete(r2);
    /* no road address: the address */
    r2 = naver("{\"title\":\"T\",\"address\":\"가상시 1\",\"roadAddress\":\"\"}", err);
    key = "T|가상시 1";
    snprintf(want, sizeof want, "naver:%016" PRIx64, xxh64(key, strlen(key), 0));
    assert_string_equal(str(r2, "id"), want);
    /* absent strings are empty, absent coordinates null */
    assert_string_equal(str(r2, "category"), "");
    assert_string_equal(str(r2, "link"), "");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r2, "lon")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r2, "lat")));
    cJSON_Delete(r2);
    cJSON_Delete(r);
}

static void test_naver_coordinates(void **state)
{
    (void)state;
    char err[256];
    static const struct {
        const char *mapx, *mapy;
        double lon, lat;
    } ok[] = {
        {"\"1269783882\"", "\"375666103\"", 126.9783882, 37.5666103},
        {"\"1270000000\"", "\"370000000\"", 127, 37},
        {"1269783882", "375666103", 126.9783882, 37.5666103},         /* numbers */
        {"\"126.9783882\"", "\"37.5666103\"", 126.9783882, 37.5666103}, /* degrees already */
        {"126.9783882", "37.5666103", 126.9783882, 37.5666103},
        {"\"1269783882.0\"", "\"375666103.0\"", 126.9783882, 37.5666103},
        {"\"-1234567890\"", "\"-335000000\"", -123.456789, -33.5},
        {"\" 1269783882 \"", "\"375666103\"", 126.9783882, 37.5666103},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char item[256];
        snprintf(item, sizeof item, "{\"title\":\"T\",\"mapx\":%s,\"mapy\":%s}", ok[i].mapx, ok[i].mapy);
        cJSON *r = naver(item, err);
        if (!r) fail_msg("%s: %s", item, err);
        if (num(r, "lon") != ok[i].lon || num(r, "lat") != ok[i].lat)
            fail_msg("%s: %.10f %.10f", item, num(r, "lon"), num(r, "lat"));
        cJSON_Delete(r);
    }
    static const char *const bad[][3] = {
        {"\"311277\"", "\"552097\"", "KATECH"}, /* the API before 2023 */
        {"\"abc\"", "\"375666103\"", "mapx"},
        {"\"1269783882\"", "\"12e5\"", "mapy"},
        {"\"1269783882\"", "\"3756661030\"", "latitude"}, /* 375° */
        {"\"99999999999\"", "\"375666103\"", "longitude"},
        {"\"12.3.4\"", "\"375666103\"", "mapx"},
        {"true", "\"375666103\"", "mapx"},
        {"\"0x10\"", "\"375666103\"", "mapx"},
        {"\"1269783882\"", "\"-\"", "mapy"},
        {"\"1269783882\"", "\"99999999999999999999999999999999999999999999999999999999999999999999\"", "mapy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char item[256];
        snprintf(item, sizeof item, "{\"title\":\"T\",\"mapx\":%s,\"mapy\":%s}", bad[i][0], bad[i][1]);
        cJSON *r = naver(item, err);
        if (r) fail_msg("%s: accepted", item);
        if (!strstr(err, bad[i][2])) fail_msg("%s: \"%s\", wanted \"%s\"", item, err, bad[i][2]);
    }
}

static void test_naver_bad(void **state)
{
    (void)state;
    char err[256];
    assert_null(naver("[]", err));
    assert_null(naver("{\"title\":\"\"}", err));
    assert_non_null(strstr(err, "title"));
    assert_null(naver("{\"title\":\"<b></b>  \"}", err));
    assert_null(naver("{\"title\":5}", err));
    assert_null(naver("{\"link\":\"x\"}", err));
    /* &#NN; must not make invalid UTF-8 out of nothing; raw bad bytes are refused */
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "title", "a\xff");
    assert_null(qa_naver_local_item(item, err, sizeof err));
    assert_non_null(strstr(err, "UTF-8"));
    cJSON_Delete(item);
}

static void test_strip_tags(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"<b>공학관</b>", "공학관"},
        {"<B>a</B><b></b>b", "ab"},
        {"&lt;b&gt;x&lt;/b&gt;", "<b>x</b>"}, /* decoded, not stripped again */
        {"&amp;amp; &quot;&apos;&#39;", "&amp; \"''"},
        {"&#54620;&#xAE00;&#XAE00;", "한글글"},
        {"a&nbsp;b", "a\xc2\xa0" "b"},
        {"&#128512;", "😀"},
        {"&#x7f;&#9;", "\x7f\t"},
        {"&unknown; &amp &#; &#x; &#0; &#xD800; &#1114112; &#x110000; &#12a;", "&unknown; &amp &#; &#x; &#0; &#xD800; &#1114112; &#x110000; &#12a;"},
        {"<br> <i>x</i> <bb> <b <", "<br> <i>x</i> <bb> <b <"},
        {"&", "&"},
        {"&#", "&#"},
        {"<", "<"},
        {"</", "</"},
        {"</b", "</b"},
        {"", ""},
        {"&#00000000000000000000065;", "A"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = strdup(cases[i][0]);
        qa_strip_tags(s);
        if (strcmp(s, cases[i][1]) != 0) fail_msg("\"%s\" -> \"%s\", wanted \"%s\"", cases[i][0], s, cases[i][1]);
        free(s);
    }
    qa_strip_tags(NULL);
}

static void test_pair_id(void **state)
{
    (void)state;
    sft_buf b = {0};
    qa_pair_id("b01", "basic", "ko", 0, &b);
    assert_int_equal(b.len, strlen("b01:basic:ko:0"));
    assert_string_equal(b.p, "b01:basic:ko:0"); /* NUL-terminated past len */
    b.len = 0;
    assert_int_equal(buf_append(&b, "id=", 3), 0);
    qa_pair_id("naver:0123456789abcdef", "complex", "en", 39, &b);
    assert_string_equal(b.p, "id=naver:0123456789abcdef:complex:en:39");
    b.len = 0;
    qa_pair_id("s", "t", "l", (size_t)-1, &b);
    char want[64];
    snprintf(want, sizeof want, "s:t:l:%zu", (size_t)-1);
    assert_string_equal(b.p, want);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_kinds),
        cmocka_unit_test(test_render_record),
        cmocka_unit_test(test_render_whitespace_and_verbatim),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_fixture_templates),
        cmocka_unit_test(test_reply_table),
        cmocka_unit_test(test_reply_length),
        cmocka_unit_test(test_reply_huge),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_completion_then_reply),
        cmocka_unit_test(test_naver_item),
        cmocka_unit_test(test_naver_coordinates),
        cmocka_unit_test(test_naver_bad),
        cmocka_unit_test(test_strip_tags),
        cmocka_unit_test(test_pair_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
