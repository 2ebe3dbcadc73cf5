/* qa-gen: QA pairs (or SFT examples) from source records through an
 * OpenAI-compatible chat-completions API; concurrent, rate-limited,
 * retried, resumable. See man/man1/qa-gen.1. The HTTP engine is
 * lib/net/http.h, prompts and replies lib/qa/qa.h. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/hash.h"
#include "core/inputs.h"
#include "core/json.h"
#include "net/http.h"
#include "qa/qa.h"

enum {
    OPT_PROMPT_DIR = SFT_OPT_FIRST_TOOL,
    OPT_PLAN,
    OPT_LANG,
    OPT_ID_FIELD,
    OPT_API_BASE,
    OPT_MODEL,
    OPT_KEY_FILE,
    OPT_INSECURE,
    OPT_TEMPERATURE,
    OPT_MAX_TOKENS,
    OPT_JSON_MODE,
    OPT_PARSE_RETRIES,
    OPT_EMIT,
    OPT_SYSTEM,
    OPT_RPM,
    OPT_TPM,
    OPT_MAX_RETRIES,
    OPT_TIMEOUT,
    OPT_RESUME,
    OPT_REPORT,
    OPT_PRICES,
    OPT_DRY_RUN,
};

static const struct option long_options[] = {
    {"prompt-dir", required_argument, NULL, OPT_PROMPT_DIR},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"lang", required_argument, NULL, OPT_LANG},
    {"id-field", required_argument, NULL, OPT_ID_FIELD},
    {"api-base", required_argument, NULL, OPT_API_BASE},
    {"model", required_argument, NULL, OPT_MODEL},
    {"api-key-file", required_argument, NULL, OPT_KEY_FILE},
    {"allow-insecure-http", no_argument, NULL, OPT_INSECURE},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"json-mode", optional_argument, NULL, OPT_JSON_MODE},
    {"parse-retries", required_argument, NULL, OPT_PARSE_RETRIES},
    {"emit", required_argument, NULL, OPT_EMIT},
    {"system", required_argument, NULL, OPT_SYSTEM},
    {"jobs", required_argument, NULL, 'j'},
    {"rpm", required_argument, NULL, OPT_RPM},
    {"tpm", required_argument, NULL, OPT_TPM},
    {"max-retries", required_argument, NULL, OPT_MAX_RETRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"report", required_argument, NULL, OPT_REPORT},
    {"prices", required_argument, NULL, OPT_PRICES},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"output", required_argument, NULL, 'o'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("Usage: qa-gen --prompt-dir DIR --plan TYPE:N,... -o OUT.jsonl [OPTION]... [FILE]...\n"
          "Ask an OpenAI-compatible chat-completions API for question-answer pairs about each\n"
          "source record of the FILEs (standard input when none or -): N pairs of each TYPE\n"
          "(the prompt template DIR/TYPE.txt) in each language, written to OUT as QA pair\n"
          "records (or SFT examples). The key comes from OPENAI_API_KEY or --api-key-file.\n"
          "\n"
          "      --prompt-dir DIR    TYPE.txt prompt templates and an optional system.txt\n"
          "      --plan LIST         TYPE:N,... pairs to ask for per record (basic:10,route:12)\n"
          "      --lang LIST         languages, each a run of the plan (default ko)\n"
          "      --id-field FIELD    the source record's id (default id)\n"
          "      --api-base URL      default $OPENAI_BASE_URL, else https://api.openai.com/v1\n"
          "      --model NAME        default gpt-4o-mini\n"
          "      --api-key-file FILE the API key (first line); default $OPENAI_API_KEY\n"
          "      --allow-insecure-http  send the key over plain http to a non-local host\n"
          "      --temperature F     sampling temperature (default: the server's)\n"
          "      --max-tokens N      longest reply (default: the server's)\n"
          "      --json-mode[=object|schema]  ask for JSON (response_format json_object, or\n"
          "                          json_schema with the pairs' schema where servers have it)\n"
          "      --parse-retries N   ask again when a reply has no pairs (default 2)\n"
          "      --emit qa|messages  QA pair records (default) or SFT examples\n"
          "      --system TEXT       with --emit messages: a system message in each example\n"
          "  -j, --jobs N            requests in flight (default 8)\n"
          "      --rpm N             requests per minute at most\n"
          "      --tpm N             tokens per minute at most (from the replies' usage)\n"
          "      --max-retries N     retries of a failed request (default 6)\n"
          "      --timeout SECONDS   one attempt's limit (default 600)\n"
          "      --resume            keep OUT and skip what it already holds\n"
          "      --report FILE       requests, retries, tokens, cost and items as JSON\n"
          "      --prices FILE       {\"MODEL\": {\"input\": USD, \"output\": USD}} per 1M tokens\n"
          "      --dry-run           print the requests (as JSON lines) instead of sending them\n"
          "  -o, --output FILE       the output (required unless --dry-run)\n" SFT_COMMON_OPTIONS_HELP,
          f);
}

/* ---- the run ---- */

typedef struct {
    char *type;
    int count;
    sft_buf tpl;
} plan_entry;

typedef struct {
    cJSON *rec;
    char *id;   /* the id as text */
    int id_is_number;
    const char *src;
    uint64_t line;
} source;

enum item_state { ITEM_PENDING, ITEM_DONE, ITEM_SKIPPED, ITEM_REJECTED, ITEM_CANCELLED };

typedef struct {
    size_t src, plan, lang;
    int parse_attempts;
    enum item_state state;
    char *body; /* the request body */
    size_t body_len;
} item;

typedef struct {
    /* options */
    const char *prompt_dir, *api_base, *model, *output, *report_path, *prices_path, *system_msg;
    char *key;
    double temperature;
    int has_temperature, json_mode, emit_messages, dry_run, resume;
    uint64_t max_tokens, parse_retries;
    char **langs;
    size_t nlangs;
    plan_entry *plan;
    size_t nplan;
    sft_buf system_tpl;
    int has_system_tpl;
    /* data */
    source *src;
    size_t nsrc, capsrc;
    json_path id_path;
    item *items;
    size_t nitems;
    sft_strset ids; /* the sources' ids */
    char **src_names; /* the inputs' names, for diagnostics */
    size_t nsrc_names;
    const char *last_src;
    char **done_keys; /* from --resume: "source\ttype\tlang", sorted */
    size_t ndone;
    /* output */
    int out_fd;
    sft_run *run;
    sft_http *http;
    char url[2048];
    char auth[1200];
    int status;      /* first fatal exit code */
    int quota;
    /* counts */
    uint64_t items_done, items_skipped, items_rejected, items_cancelled, pairs, pairs_dropped, short_items,
        long_items, ok_replies, service_errors;
    int64_t tokens_in, tokens_out;
} qa_run;

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *item_key(const char *src, const char *type, const char *lang)
{
    size_t n = strlen(src) + strlen(type) + strlen(lang) + 3;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s\t%s\t%s", src, type, lang);
    return k;
}

/* ---- options ---- */

static int parse_plan(qa_run *q, const char *s)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (!colon || colon == p) return -1;
        char num[32];
        size_t nl = len - (size_t)(colon + 1 - p);
        if (nl == 0 || nl >= sizeof num) return -1;
        memcpy(num, colon + 1, nl);
        num[nl] = 0;
        uint64_t n;
        if (sft_parse_u64(num, 1, 1000, &n) != 0) return -1;
        plan_entry *pe = realloc(q->plan, (q->nplan + 1) * sizeof *pe);
        if (!pe) return -1;
        q->plan = pe;
        memset(&pe[q->nplan], 0, sizeof *pe);
        pe[q->nplan].type = strndup(p, (size_t)(colon - p));
        pe[q->nplan].count = (int)n;
        /* a type names a file: no path tricks */
        if (!pe[q->nplan].type || strchr(pe[q->nplan].type, '/') || pe[q->nplan].type[0] == '.') return -1;
        q->nplan++;
        p += len + (e != NULL);
    }
    return q->nplan ? 0 : -1;
}

static int parse_langs(qa_run *q, const char *s)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len > 15) return -1;
        for (size_t i = 0; i < len; i++)
            if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
                  p[i] == '-'))
                return -1;
        char **l = realloc(q->langs, (q->nlangs + 1) * sizeof *l);
        if (!l) return -1;
        q->langs = l;
        if (!(l[q->nlangs++] = strndup(p, len))) return -1;
        p += len + (e != NULL);
    }
    return q->nlangs ? 0 : -1;
}

/* The key: --api-key-file's first line, else $OPENAI_API_KEY. Never from
 * argv, never printed. */
static int load_key(qa_run *q, const char *file)
{
    if (file) {
        sft_buf b = {0};
        if (buf_read_file(&b, file, 1 << 16) != 0 || buf_append(&b, "", 1) != 0) {
            /* the path is not echoed: a key given by mistake where the
             * path goes (--api-key sk-... abbreviates --api-key-file)
             * must not reach a log */
            sft_error("cannot read the file of --api-key-file: %s", strerror(errno));
            buf_free(&b);
            return SFT_EX_NOINPUT;
        }
        char *nl = strpbrk(b.p, "\r\n");
        if (nl) *nl = 0;
        q->key = strdup(b.p);
        buf_free(&b);
        if (!q->key) return out_of_memory();
        return 0;
    }
    const char *env = getenv("OPENAI_API_KEY");
    if (env && *env && !(q->key = strdup(env))) return out_of_memory();
    return 0;
}

/* ---- sources and items ---- */

static int read_source(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                       const jsonl_error *jerr)
{
    qa_run *q = ctx;
    run->in++;
    if (kind != JSONL_RECORD)
        return sft_run_reject(run, jsonl_name(r), jerr->line, jerr->col, rec->text, rec->len, jerr->reason);
    json_value v;
    char id[256];
    int is_num = 0;
    if (json_get(rec->text, rec->len, &q->id_path, &v) != 1 || (v.type != JSON_STRING && v.type != JSON_NUMBER))
        return sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len,
                              "no string or number id (--id-field)");
    jsonl_error perr;
    cJSON *obj = jsonl_parse(rec, &perr);
    if (!obj) return sft_run_reject(run, jsonl_name(r), perr.line, perr.col, rec->text, rec->len, perr.reason);
    if (v.type == JSON_STRING) {
        sft_buf b = {0};
        if (json_string_decode(&v, &b) != 0 || buf_append(&b, "", 1) != 0) {
            buf_free(&b);
            cJSON_Delete(obj);
            return out_of_memory();
        }
        snprintf(id, sizeof id, "%s", b.p);
        buf_free(&b);
    } else {
        snprintf(id, sizeof id, "%.*s", (int)(v.n < 200 ? v.n : 200), v.p);
        is_num = 1;
    }
    if (!id[0] || strchr(id, '\t') || strchr(id, '\n')) {
        cJSON_Delete(obj);
        return sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len, "empty or multi-line id");
    }
    if (q->nsrc == q->capsrc) {
        size_t c = q->capsrc ? 2 * q->capsrc : 64;
        source *s = realloc(q->src, c * sizeof *s);
        if (!s) {
            cJSON_Delete(obj);
            return out_of_memory();
        }
        q->src = s;
        q->capsrc = c;
    }
    source *s = &q->src[q->nsrc];
    s->rec = obj;
    s->id = strdup(id);
    s->id_is_number = is_num;
    /* the reader's name dies with it: keep one copy per input */
    if (!q->last_src || strcmp(q->last_src, jsonl_name(r)) != 0) {
        char **names = realloc(q->src_names, (q->nsrc_names + 1) * sizeof *names);
        if (!names) return out_of_memory();
        q->src_names = names;
        if (!(names[q->nsrc_names] = strdup(jsonl_name(r)))) return out_of_memory();
        q->last_src = names[q->nsrc_names++];
    }
    s->src = q->last_src;
    s->line = rec->line;
    if (!s->id) return out_of_memory();
    /* the same id twice would make the same pair ids */
    int fresh = sft_strset_add(&q->ids, s->id);
    if (fresh < 0) return out_of_memory();
    if (!fresh) {
        free(s->id);
        cJSON_Delete(obj);
        return sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len, "duplicate id");
    }
    q->nsrc++;
    run->out++;
    return 0;
}

/* The (source, type, lang) keys an existing output already holds; a torn
 * last line (a killed run) is cut off. */
static int read_done(qa_run *q)
{
    sft_buf b = {0};
    if (buf_read_file(&b, q->output, (size_t)1 << 34) != 0) {
        if (errno == ENOENT) return 0;
        sft_error("%s: %s", q->output, strerror(errno));
        return SFT_EX_NOINPUT;
    }
    size_t keep = 0;
    for (size_t i = 0; i < b.len;) {
        char *nl = memchr(b.p + i, '\n', b.len - i);
        if (!nl) break;
        size_t len = (size_t)(nl - (b.p + i));
        cJSON *r = cJSON_ParseWithLength(b.p + i, len);
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(r, "meta");
        const cJSON *base = cJSON_GetObjectItemCaseSensitive(r, "source_id") ? r : meta;
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(base, "source_id"),
                    *type = cJSON_GetObjectItemCaseSensitive(base, "type"),
                    *lang = cJSON_GetObjectItemCaseSensitive(base, "lang");
        if (sid && cJSON_IsString(type) && cJSON_IsString(lang)) {
            char num[64], *k;
            if (cJSON_IsNumber(sid)) snprintf(num, sizeof num, "%.17g", sid->valuedouble);
            const char *s = cJSON_IsString(sid) ? sid->valuestring : num;
            if (!(k = item_key(s, type->valuestring, lang->valuestring))) {
                cJSON_Delete(r);
                buf_free(&b);
                return out_of_memory();
            }
            char **d = realloc(q->done_keys, (q->ndone + 1) * sizeof *d);
            if (!d) {
                free(k);
                cJSON_Delete(r);
                buf_free(&b);
                return out_of_memory();
            }
            q->done_keys = d;
            d[q->ndone++] = k;
        }
        cJSON_Delete(r);
        i += len + 1;
        keep = i;
    }
    buf_free(&b);
    if (truncate(q->output, (off_t)keep) != 0) {
        sft_error("%s: cannot cut its torn last line: %s", q->output, strerror(errno));
        return SFT_EX_IOERR;
    }
    if (q->ndone) qsort(q->done_keys, q->ndone, sizeof *q->done_keys, cmp_str);
    return 0;
}

static int is_done(const qa_run *q, const char *key)
{
    return q->ndone && bsearch(&key, q->done_keys, q->ndone, sizeof *q->done_keys, cmp_str) != NULL;
}

static int make_body(qa_run *q, item *it, char *err, size_t errlen)
{
    const source *s = &q->src[it->src];
    const plan_entry *pe = &q->plan[it->plan];
    const char *lang = q->langs[it->lang];
    sft_buf prompt = {0}, sys = {0};
    int rc = -1;
    if (qa_render(pe->tpl.p, pe->tpl.len, s->rec, pe->count, lang, &prompt, err, errlen) != 0) goto done;
    if (q->has_system_tpl &&
        qa_render(q->system_tpl.p, q->system_tpl.len, s->rec, pe->count, lang, &sys, err, errlen) != 0)
        goto done;
    cJSON *body = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(body, "messages");
    cJSON_AddStringToObject(body, "model", q->model);
    if (q->has_system_tpl) {
        buf_append(&sys, "", 1);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "system");
        cJSON_AddStringToObject(m, "content", sys.p);
        cJSON_AddItemToArray(msgs, m);
    }
    buf_append(&prompt, "", 1);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", prompt.p);
    cJSON_AddItemToArray(msgs, m);
    if (q->has_temperature) cJSON_AddNumberToObject(body, "temperature", q->temperature);
    if (q->max_tokens) cJSON_AddNumberToObject(body, "max_tokens", (double)q->max_tokens);
    if (q->json_mode == 1) {
        cJSON *rf = cJSON_AddObjectToObject(body, "response_format");
        cJSON_AddStringToObject(rf, "type", "json_object");
    } else if (q->json_mode == 2) {
        /* structured outputs: {"pairs": [{"question", "answer"}]} */
        cJSON *rf = cJSON_Parse("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"qa_pairs\",\"strict\":true,"
                                "\"schema\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"pairs\"],"
                                "\"properties\":{\"pairs\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
                                "\"additionalProperties\":false,\"required\":[\"question\",\"answer\"],\"properties\":"
                                "{\"question\":{\"type\":\"string\"},\"answer\":{\"type\":\"string\"}}}}}}}}");
        cJSON_AddItemToObject(body, "response_format", rf);
    }
    it->body = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!it->body) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    it->body_len = strlen(it->body);
    rc = 0;
done:
    buf_free(&prompt);
    buf_free(&sys);
    return rc;
}

/* ---- results ---- */

/* One write per item: a killed run leaves an item whole or absent. */
static int write_pairs(qa_run *q, const item *it, const qa_pairs *pairs)
{
    const source *s = &q->src[it->src];
    const char *type = q->plan[it->plan].type, *lang = q->langs[it->lang];
    sft_buf out = {0}, id = {0};
    for (size_t i = 0; i < pairs->n; i++) {
        id.len = 0;
        qa_pair_id(s->id, type, lang, i, &id);
        buf_append(&id, "", 1);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", id.p);
        if (!q->emit_messages) {
            if (s->id_is_number) cJSON_AddRawToObject(r, "source_id", s->id);
            else cJSON_AddStringToObject(r, "source_id", s->id);
            cJSON_AddStringToObject(r, "type", type);
            cJSON_AddStringToObject(r, "lang", lang);
            cJSON_AddStringToObject(r, "question", pairs->items[i].question);
            cJSON_AddStringToObject(r, "answer", pairs->items[i].answer);
            cJSON_AddStringToObject(r, "model", q->model);
        } else {
            cJSON *msgs = cJSON_AddArrayToObject(r, "messages");
            const char *roles[3] = {"system", "user", "assistant"};
            const char *texts[3] = {q->system_msg, pairs->items[i].question, pairs->items[i].answer};
            for (int k = q->system_msg ? 0 : 1; k < 3; k++) {
                cJSON *m = cJSON_CreateObject();
                cJSON_AddStringToObject(m, "role", roles[k]);
                cJSON_AddStringToObject(m, "content", texts[k]);
                cJSON_AddItemToArray(msgs, m);
            }
            cJSON *meta = cJSON_AddObjectToObject(r, "meta");
            if (s->id_is_number) cJSON_AddRawToObject(meta, "source_id", s->id);
            else cJSON_AddStringToObject(meta, "source_id", s->id);
            cJSON_AddStringToObject(meta, "type", type);
            cJSON_AddStringToObject(meta, "lang", lang);
            cJSON_AddStringToObject(meta, "model", q->model);
        }
        char *text = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        if (!text || buf_append(&out, text, strlen(text)) != 0 || buf_putc(&out, '\n') != 0) {
            free(text);
            buf_free(&out);
            buf_free(&id);
            return out_of_memory();
        }
        free(text);
    }
    buf_free(&id);
    int rc = 0;
    size_t off = 0;
    while (off < out.len) {
        ssize_t w = write(q->out_fd, out.p + off, out.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = sft_write_error(q->output, w < 0 ? errno : EIO);
            break;
        }
        off += (size_t)w;
    }
    buf_free(&out);
    return rc;
}

static void reject_item(qa_run *q, item *it, const char *reason, const char *reply)
{
    const source *s = &q->src[it->src];
    char why[600];
    snprintf(why, sizeof why, "%s/%s: %s", q->plan[it->plan].type, q->langs[it->lang], reason);
    cJSON *r = cJSON_CreateObject();
    if (s->id_is_number) cJSON_AddRawToObject(r, "source_id", s->id);
    else cJSON_AddStringToObject(r, "source_id", s->id);
    cJSON_AddStringToObject(r, "type", q->plan[it->plan].type);
    cJSON_AddStringToObject(r, "lang", q->langs[it->lang]);
    cJSON_AddStringToObject(r, "reply", reply ? reply : "");
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    it->state = ITEM_REJECTED;
    q->items_rejected++;
    int rc = sft_run_reject(q->run, s->src, s->line, 0, text ? text : "", text ? strlen(text) : 0, why);
    free(text);
    if (rc && !q->status) {
        /* --on-error=fail: stop sending; what is in flight finishes */
        q->status = rc;
        sft_http_stop(q->http);
    }
}

static void on_done(void *ctx, const sft_http_result *res)
{
    qa_run *q = ctx;
    item *it = res->user;
    const sft_http_response *r = res->r;
    if (res->cancelled) {
        it->state = ITEM_CANCELLED;
        q->items_cancelled++;
        return;
    }
    if (res->verdict == SFT_HTTP_QUOTA) {
        q->quota = 1;
        it->state = ITEM_CANCELLED;
        q->items_cancelled++;
        return;
    }
    if (res->verdict == SFT_HTTP_RETRY || r->status < 200 || r->status >= 300) {
        char why[300];
        if (r->status == 0 || r->status >= 500) q->service_errors++;
        if (r->status == 0) snprintf(why, sizeof why, "no answer after %d attempts: %s", res->attempts,
                                     r->transport_error ? r->transport_error : "transport error");
        else snprintf(why, sizeof why, "HTTP %d after %d attempt%s", r->status, res->attempts,
                      res->attempts == 1 ? "" : "s");
        reject_item(q, it, why, r->body);
        return;
    }
    q->ok_replies++;
    char err[300];
    cJSON *json = NULL;
    int64_t tin = -1, tout = -1;
    const char *content = qa_completion_content(r->body, r->body_len, &json, &tin, &tout, err, sizeof err);
    if (tin > 0) q->tokens_in += tin;
    if (tout > 0) q->tokens_out += tout;
    if (tin > 0 || tout > 0) sft_http_tokens(q->http, (double)((tin > 0 ? tin : 0) + (tout > 0 ? tout : 0)));
    qa_pairs pairs = {0};
    if (content && qa_parse_reply(content, strlen(content), &pairs, err, sizeof err) == 0) {
        int rc = write_pairs(q, it, &pairs);
        if (rc && !q->status) {
            q->status = rc;
            sft_http_stop(q->http);
        }
        it->state = ITEM_DONE;
        q->items_done++;
        q->pairs += pairs.n;
        q->pairs_dropped += pairs.dropped;
        int asked = q->plan[it->plan].count;
        if ((int)pairs.n < asked) q->short_items++;
        if ((int)pairs.n > asked) q->long_items++;
    } else if ((uint64_t)++it->parse_attempts <= q->parse_retries) {
        /* ask again */
        if (sft_http_post(q->http, q->url, (const char *const[]){"Content-Type: application/json", q->auth, NULL},
                          it->body, it->body_len, (double)(it->body_len / 3 + 1000), it) != 0 &&
            !q->status)
            q->status = out_of_memory();
    } else {
        char why[400];
        snprintf(why, sizeof why, "no QA pairs after %llu attempts: %s", (unsigned long long)it->parse_attempts, err);
        reject_item(q, it, why, content ? content : r->body);
    }
    qa_pairs_free(&pairs);
    cJSON_Delete(json);
    sft_run_progress_text(q->run, "%" PRIu64 " of %zu items done, %" PRIu64 " pairs, %" PRIu64 " rejected",
                          q->items_done, q->nitems, q->pairs, q->items_rejected);
}

static int write_report(qa_run *q)
{
    sft_http_stats st = {0};
    if (q->http) sft_http_get_stats(q->http, &st);
    cJSON *r = cJSON_CreateObject(), *items = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "model", q->model);
    cJSON_AddNumberToObject(r, "requests", (double)st.requests);
    cJSON_AddNumberToObject(r, "retries", (double)st.retries);
    cJSON_AddNumberToObject(r, "tokens_in", (double)q->tokens_in);
    cJSON_AddNumberToObject(r, "tokens_out", (double)q->tokens_out);
    if (q->prices_path) {
        sft_buf b = {0};
        cJSON *p = buf_read_file(&b, q->prices_path, 1 << 20) == 0 && b.p ? cJSON_ParseWithLength(b.p, b.len) : NULL;
        buf_free(&b);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, q->model);
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(m, "input"), *out = cJSON_GetObjectItemCaseSensitive(m, "output");
        if (cJSON_IsNumber(in) && cJSON_IsNumber(out))
            cJSON_AddNumberToObject(r, "cost_usd",
                                    ((double)q->tokens_in * in->valuedouble + (double)q->tokens_out * out->valuedouble) / 1e6);
        else
            cJSON_AddNullToObject(r, "cost_usd");
        cJSON_Delete(p);
    }
    cJSON_AddItemToObject(r, "items", items);
    cJSON_AddNumberToObject(items, "planned", (double)q->nitems);
    cJSON_AddNumberToObject(items, "done", (double)q->items_done);
    cJSON_AddNumberToObject(items, "skipped", (double)q->items_skipped);
    cJSON_AddNumberToObject(items, "rejected", (double)q->items_rejected);
    cJSON_AddNumberToObject(items, "cancelled", (double)q->items_cancelled);
    cJSON_AddNumberToObject(items, "fewer_pairs", (double)q->short_items);
    cJSON_AddNumberToObject(items, "more_pairs", (double)q->long_items);
    cJSON_AddNumberToObject(r, "pairs", (double)q->pairs);
    cJSON_AddNumberToObject(r, "pairs_dropped", (double)q->pairs_dropped);
    cJSON_AddNumberToObject(r, "http_429", (double)st.http_429);
    cJSON_AddNumberToObject(r, "http_5xx", (double)st.http_5xx);
    cJSON_AddNumberToObject(r, "transport_errors", (double)st.transport_errors);
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    if (!text) return out_of_memory();
    FILE *f = strcmp(q->report_path, "-") == 0 ? stderr : fopen(q->report_path, "w");
    int rc = 0;
    if (!f || fprintf(f, "%s\n", text) < 0 || (f != stderr && fclose(f) != 0)) {
        sft_error("%s: cannot write the report: %s", q->report_path, strerror(errno));
        rc = SFT_EX_CANTCREAT;
    }
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    qa_run q = {.model = "gpt-4o-mini", .parse_retries = 2, .out_fd = -1, .run = &run};
    sft_http_opts ho = {.max_inflight = 8, .max_retries = 6, .timeout_s = 600, .connect_timeout_s = 10};
    const char *plan = NULL, *langs = "ko", *id_field = "id", *key_file = NULL;
    int opt;
    uint64_t u;
    double d;
    while ((opt = getopt_long(argc, argv, "j:o:vhV", long_options, NULL)) != -1) {
        int rc = sft_standard_option(opt, usage);
        if (rc >= 0) return rc;
        rc = sft_run_option(&run, opt, optarg);
        if (rc > 0) return rc;
        if (rc == 0) continue;
        switch (opt) {
        case OPT_PROMPT_DIR: q.prompt_dir = optarg; break;
        case OPT_PLAN: plan = optarg; break;
        case OPT_LANG: langs = optarg; break;
        case OPT_ID_FIELD: id_field = optarg; break;
        case OPT_API_BASE: q.api_base = optarg; break;
        case OPT_MODEL: q.model = optarg; break;
        case OPT_KEY_FILE: key_file = optarg; break;
        case OPT_INSECURE: ho.allow_insecure_http = 1; break;
        case OPT_JSON_MODE:
            if (!optarg || strcmp(optarg, "object") == 0) q.json_mode = 1;
            else if (strcmp(optarg, "schema") == 0) q.json_mode = 2;
            else return sft_usage_error("invalid value '%s' for --json-mode: use object or schema", optarg);
            break;
        case OPT_SYSTEM: q.system_msg = optarg; break;
        case OPT_RESUME: q.resume = 1; break;
        case OPT_REPORT: q.report_path = optarg; break;
        case OPT_PRICES: q.prices_path = optarg; break;
        case OPT_DRY_RUN: q.dry_run = 1; break;
        case 'o': q.output = optarg; break;
        case OPT_EMIT:
            if (strcmp(optarg, "qa") == 0) q.emit_messages = 0;
            else if (strcmp(optarg, "messages") == 0) q.emit_messages = 1;
            else return sft_usage_error("invalid value '%s' for --emit: use qa or messages", optarg);
            break;
        case OPT_TEMPERATURE:
            if (sft_parse_double(optarg, &q.temperature) || q.temperature < 0 || q.temperature > 2) {
                errno = ERANGE;
                return sft_bad_option_value("temperature", optarg);
            }
            q.has_temperature = 1;
            break;
        case OPT_MAX_TOKENS:
            if (sft_parse_u64(optarg, 1, 1 << 24, &q.max_tokens)) return sft_bad_option_value("max-tokens", optarg);
            break;
        case OPT_PARSE_RETRIES:
            if (sft_parse_u64(optarg, 0, 100, &q.parse_retries)) return sft_bad_option_value("parse-retries", optarg);
            break;
        case 'j':
            if (sft_parse_u64(optarg, 1, 1024, &u)) return sft_bad_option_value("jobs", optarg);
            ho.max_inflight = (int)u;
            break;
        case OPT_MAX_RETRIES:
            if (sft_parse_u64(optarg, 0, 100, &u)) return sft_bad_option_value("max-retries", optarg);
            ho.max_retries = (int)u;
            break;
        case OPT_RPM:
        case OPT_TPM:
        case OPT_TIMEOUT:
            if (sft_parse_double(optarg, &d) || !(d > 0)) {
                errno = ERANGE;
                return sft_bad_option_value(opt == OPT_RPM ? "rpm" : opt == OPT_TPM ? "tpm" : "timeout", optarg);
            }
            if (opt == OPT_RPM) ho.rpm = d;
            else if (opt == OPT_TPM) ho.tpm = d;
            else ho.timeout_s = d;
            break;
        default: return sft_usage_error("unexpected option");
        }
    }
    if (!q.prompt_dir || !plan) return sft_usage_error("--prompt-dir and --plan are required");
    if (!q.output && !q.dry_run) return sft_usage_error("-o OUT.jsonl is required (or --dry-run)");
    if (q.output && strcmp(q.output, "-") == 0 && q.resume) return sft_usage_error("--resume needs -o FILE");
    if (parse_plan(&q, plan) != 0)
        return sft_usage_error("invalid value '%s' for --plan: TYPE:N,... with N from 1 to 1000", plan);
    if (parse_langs(&q, langs) != 0) return sft_usage_error("invalid value '%s' for --lang: codes such as ko,en", langs);
    if (q.system_msg && !q.emit_messages) return sft_usage_error("--system goes with --emit messages");
    if (json_path_parse(&q.id_path, id_field) != 0)
        return sft_usage_error("invalid field path '%s' for --id-field", id_field);
    if (!q.api_base) q.api_base = getenv("OPENAI_BASE_URL");
    if (!q.api_base || !*q.api_base) q.api_base = "https://api.openai.com/v1";
    size_t bl = strlen(q.api_base);
    while (bl && q.api_base[bl - 1] == '/') bl--;
    snprintf(q.url, sizeof q.url, "%.*s/chat/completions", (int)bl, q.api_base);
    ho.seed = (uint64_t)time(NULL);

    int status = 0;
    sft_input *inputs = NULL;
    size_t ninputs = 0;
    /* the templates */
    for (size_t i = 0; i < q.nplan && !status; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.txt", q.prompt_dir, q.plan[i].type);
        if (buf_read_file(&q.plan[i].tpl, path, 1 << 20) != 0) {
            sft_error("%s: %s (the prompt of type %s in --plan)", path, strerror(errno), q.plan[i].type);
            status = SFT_EX_NOINPUT;
        }
    }
    if (!status) {
        char path[4096];
        snprintf(path, sizeof path, "%s/system.txt", q.prompt_dir);
        q.has_system_tpl = buf_read_file(&q.system_tpl, path, 1 << 20) == 0;
    }
    if (!status && !q.dry_run && (status = load_key(&q, key_file)) == 0) {
        char err[600];
        if (!(q.http = sft_http_new(&ho, sft_http_classify_openai, NULL, err, sizeof err))) {
            sft_error("%s", err);
            status = SFT_EX_SOFTWARE;
        } else if (sft_http_check_url(q.http, q.url, err, sizeof err) != 0) {
            sft_error("%s", err);
            status = SFT_EX_USAGE;
        }
        snprintf(q.auth, sizeof q.auth, "Authorization: Bearer %s", q.key ? q.key : "");
        if (!status && !q.key && !strstr(q.url, "://localhost") && !strstr(q.url, "://127.") && !strstr(q.url, "://[::1]")) {
            sft_error("no API key: set OPENAI_API_KEY or give --api-key-file FILE (a key is never taken "
                      "from the command line)");
            status = SFT_EX_USAGE;
        }
    }
    if (status) goto done;
    if (!(inputs = sft_inputs_new(argv + optind, (size_t)(argc - optind), &ninputs))) {
        status = out_of_memory();
        goto done;
    }
    if ((status = sft_inputs_check(inputs, ninputs)) != 0 || (status = sft_run_start(&run)) != 0) goto done;
    if ((status = sft_each_record(&run, inputs, ninputs, read_source, &q)) != 0) goto done;
    if (q.resume && (status = read_done(&q)) != 0) goto done;

    /* the items */
    q.items = calloc(q.nsrc * q.nplan * q.nlangs + 1, sizeof *q.items);
    if (!q.items) {
        status = out_of_memory();
        goto done;
    }
    for (size_t s = 0; s < q.nsrc; s++)
        for (size_t l = 0; l < q.nlangs; l++)
            for (size_t p = 0; p < q.nplan; p++) {
                item *it = &q.items[q.nitems++];
                it->src = s;
                it->plan = p;
                it->lang = l;
                char *k = item_key(q.src[s].id, q.plan[p].type, q.langs[l]);
                if (!k) {
                    status = out_of_memory();
                    goto done;
                }
                if (is_done(&q, k)) {
                    it->state = ITEM_SKIPPED;
                    q.items_skipped++;
                }
                free(k);
            }
    /* from here the records counted are the items: in = done + skipped
     * (out) + rejected + cancelled (filtered), with the bad source lines */
    run.in = run.rejected + q.nitems;
    run.out = 0;
    if (!q.dry_run) {
        int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (q.resume ? 0 : O_TRUNC);
        q.out_fd = strcmp(q.output, "-") == 0 ? STDOUT_FILENO : open(q.output, flags, 0666);
        if (q.out_fd < 0) {
            sft_error("%s: cannot create: %s", q.output, strerror(errno));
            status = SFT_EX_CANTCREAT;
            goto done;
        }
    }
    for (size_t i = 0; i < q.nitems && !status; i++) {
        item *it = &q.items[i];
        if (it->state == ITEM_SKIPPED) continue;
        char err[600];
        if (make_body(&q, it, err, sizeof err) != 0) {
            reject_item(&q, it, err, NULL);
            continue;
        }
        if (q.dry_run) {
            printf("{\"url\":\"%s\",\"body\":%s}\n", q.url, it->body);
            continue;
        }
        if (sft_http_post(q.http, q.url, (const char *const[]){"Content-Type: application/json", q.auth, NULL},
                          it->body, it->body_len, (double)(it->body_len / 3 + 1000), it) != 0)
            status = out_of_memory();
    }
    if (q.dry_run) {
        run.out = q.nitems - q.items_rejected - q.items_skipped;
        run.filtered = q.items_skipped;
        if (fflush(stdout) != 0 || ferror(stdout)) status = sft_write_error("<stdout>", errno);
        goto done;
    }
    if (!status && sft_http_run(q.http, on_done, &q) != 0) {
        sft_error("the HTTP engine failed");
        status = SFT_EX_SOFTWARE;
    }
    if (!status) status = q.status;
    if (!status && q.quota) {
        sft_error("the API account is out of quota (insufficient_quota); %" PRIu64 " items are done, %" PRIu64
                  " left: rerun with --resume when it is topped up",
                  q.items_done + q.items_skipped, q.items_cancelled);
        status = SFT_EX_TEMPFAIL;
    }
    if (!status && q.items_rejected && !q.ok_replies && q.service_errors == q.items_rejected) {
        sft_error("the service at %s did not answer a single request successfully", q.api_base);
        status = SFT_EX_UNAVAILABLE;
    }
    run.out = q.items_done + q.items_skipped;
    run.filtered = q.items_cancelled;
    if (run.verbose)
        sft_error("items: %zu planned, %" PRIu64 " done, %" PRIu64 " skipped (--resume), %" PRIu64
                  " rejected, %" PRIu64 " cancelled; %" PRIu64 " pairs written (%" PRIu64
                  " items with fewer than asked, %" PRIu64 " with more, %" PRIu64 " malformed pairs dropped)",
                  q.nitems, q.items_done, q.items_skipped, q.items_rejected, q.items_cancelled, q.pairs,
                  q.short_items, q.long_items, q.pairs_dropped);
done:
    if (q.report_path && !q.dry_run && q.items) {
        int e = write_report(&q);
        if (e && !status) status = e;
    }
    if (q.out_fd >= 0 && q.out_fd != STDOUT_FILENO) {
        if (fsync(q.out_fd) != 0 && errno != EINVAL && !status) status = sft_write_error(q.output, errno);
        if (close(q.out_fd) != 0 && !status) status = sft_write_error(q.output, errno);
    }
    sft_http_free(q.http);
    for (size_t i = 0; i < q.nitems; i++) free(q.items[i].body);
    free(q.items);
    for (size_t i = 0; i < q.nsrc; i++) {
        cJSON_Delete(q.src[i].rec);
        free(q.src[i].id);
    }
    free(q.src);
    sft_strset_free(&q.ids);
    for (size_t i = 0; i < q.nsrc_names; i++) free(q.src_names[i]);
    free(q.src_names);
    for (size_t i = 0; i < q.ndone; i++) free(q.done_keys[i]);
    free(q.done_keys);
    for (size_t i = 0; i < q.nplan; i++) {
        free(q.plan[i].type);
        buf_free(&q.plan[i].tpl);
    }
    free(q.plan);
    for (size_t i = 0; i < q.nlangs; i++) free(q.langs[i]);
    free(q.langs);
    buf_free(&q.system_tpl);
    if (q.key) {
        memset(q.key, 0, strlen(q.key));
        free(q.key);
    }
    memset(q.auth, 0, sizeof q.auth);
    if (q.id_path.seg) json_path_free(&q.id_path);
    sft_inputs_free(inputs, ninputs);
    if (status == SFT_EX_TEMPFAIL || status == SFT_EX_UNAVAILABLE) {
        sft_run_finish(&run, status);
        return status;
    }
    return sft_run_finish(&run, status);
}
