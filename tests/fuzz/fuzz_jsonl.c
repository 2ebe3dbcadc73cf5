/* libFuzzer target for the JSONL reader and the JSON scanner.
 *
 * Oracles, beyond "no crash, no sanitizer report":
 *  - every line the reader accepts, cJSON parses (one grammar for all tools);
 *  - a parsed record written back by our escaper reads back equal;
 *  - every value json_get() finds is itself valid JSON, and its key bytes
 *    can be built. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/json.h"
#include "core/jsonl.h"
#include "core/out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_finite(const cJSON *j)
{
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble)) return 0;
    for (const cJSON *c = j->child; c; c = c->next)
        if (!all_finite(c)) return 0;
    return 1;
}

static void check_roundtrip(const cJSON *tree)
{
    static FILE *f;
    if (!f && !(f = tmpfile())) abort();
    if (ftruncate(fileno(f), 0) != 0 || lseek(fileno(f), 0, SEEK_SET) != 0) abort();
    sft_out *o = sft_out_fd(fileno(f), "fuzz");
    jw w;
    jw_init(&w, o);
    jw_cjson(&w, tree);
    if (sft_out_close(o, 1) != 0) abort();
    off_t n = lseek(fileno(f), 0, SEEK_END);
    char *s = malloc((size_t)n + 1);
    if (pread(fileno(f), s, (size_t)n, 0) != n) abort();
    s[n] = '\0';
    json_error err;
    if (json_validate(s, (size_t)n, &err) != 0) abort();
    cJSON *back = cJSON_ParseWithLength(s, (size_t)n);
    if (!back) abort();
    /* cJSON_Compare() mismatches objects with duplicate keys; printing
     * both trees compares them member by member, in order. */
    char *want = cJSON_PrintUnformatted(tree), *got = cJSON_PrintUnformatted(back);
    if (!want || !got || strcmp(want, got) != 0) abort();
    cJSON_free(want);
    cJSON_free(got);
    cJSON_Delete(back);
    free(s);
}

static void check_lookups(const jsonl_record *rec)
{
    /* Look up the first key of the object, and a path under it. */
    const char *q = memchr(rec->text, '"', rec->len);
    if (!q) return;
    const char *e = memchr(q + 1, '"', rec->len - (size_t)(q + 1 - rec->text));
    if (!e || e - q > 40) return;
    char spec[96];
    snprintf(spec, sizeof spec, "%.*s.0.a", (int)(e - q - 1), q + 1);
    json_path path;
    if (json_path_parse(&path, spec) != 0) return;
    sft_buf b = {0};
    for (size_t depth = 1; depth <= path.nseg; depth++) {
        json_path prefix = {depth, path.seg, path.seglen};
        json_value v;
        if (!json_get(rec->text, rec->len, &prefix, &v)) break;
        json_error err;
        if (json_validate(v.p, v.n, &err) != 0) abort();
        b.len = 0;
        if (json_value_key(&v, &b) != 0) abort();
    }
    buf_free(&b);
    json_path_free(&path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks a line limit, so long-line handling is hit too. */
    size_t max_line = size ? 16 + (size_t)data[0] * 16 : 0;
    jsonl_reader *r;
    if (jsonl_open_mem(&r, data, size, "fuzz", max_line) != 0) return 0;
    jsonl_record rec;
    jsonl_error err;
    int kind;
    while ((kind = jsonl_next(r, &rec, &err)) != JSONL_EOF) {
        if (kind != JSONL_RECORD) continue;
        cJSON *tree = jsonl_parse(&rec, &err);
        if (!tree) abort(); /* validated text that cJSON refuses */
        if (all_finite(tree)) check_roundtrip(tree);
        cJSON_Delete(tree);
        check_lookups(&rec);
    }
    jsonl_close(r);
    return 0;
}
