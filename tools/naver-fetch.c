/* naver-fetch: source records for qa-gen from Naver's APIs: places from the
 * Local Search API, route facts (distance, duration) from the Directions 5
 * API. Concurrent, rate-limited and retried through lib/net/http.h; the
 * items are made by lib/qa/qa.h. See man/man1/naver-fetch.1. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/hash.h"
#include "core/inputs.h"
#include "net/http.h"
#include "qa/qa.h"

#define LOCAL_BASE "https://openapi.naver.com"
#define LOCAL_PATH "/v1/search/local.json"
#define ROUTE_BASE "https://naveropenapi.apigw.ntruss.com"
#define ROUTE_PATH "/map-direction/v1/driving"

enum {
    OPT_QUERY = SFT_OPT_FIRST_TOOL,
    OPT_DISPLAY,
    OPT_START,
    OPT_SORT,
    OPT_FROM,
    OPT_TO,
    OPT_ALL_PAIRS,
    OPT_OPTION,
    OPT_KEY_FILE,
    OPT_API_BASE,
    OPT_INSECURE,
    OPT_RPM,
    OPT_MAX_RETRIES,
    OPT_TIMEOUT,
    OPT_DRY_RUN,
};

static const struct option long_options[] = {
    {"query", required_argument, NULL, OPT_QUERY},
    {"display", required_argument, NULL, OPT_DISPLAY},
    {"start", required_argument, NULL, OPT_START},
    {"sort", required_argument, NULL, OPT_SORT},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"all-pairs", no_argument, NULL, OPT_ALL_PAIRS},
    {"option", required_argument, NULL, OPT_OPTION},
    {"key-file", required_argument, NULL, OPT_KEY_FILE},
    {"api-base", required_argument, NULL, OPT_API_BASE},
    {"allow-insecure-http", no_argument, NULL, OPT_INSECURE},
    {"jobs", required_argument, NULL, 'j'},
    {"rpm", required_argument, NULL, OPT_RPM},
    {"max-retries", required_argument, NULL, OPT_MAX_RETRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"output", required_argument, NULL, 'o'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("Usage: naver-fetch local [--query Q]... [OPTION]... [FILE]...\n"
          "  or:  naver-fetch route [--from LON,LAT --to LON,LAT]... [OPTION]... [FILE]...\n"
          "Fetch source records for qa-gen from Naver's APIs. 'local' searches places with the\n"
          "Local Search API for each --query and each record's \"query\" field, and writes one\n"
          "record per place (title, address, lon/lat degrees, a stable id). 'route' asks the\n"
          "Directions 5 API for each --from/--to pair and each record with \"from\" and \"to\"\n"
          "(objects with lon/lat, or ids of place records in the input), and writes the\n"
          "distance and duration. FILEs are read when given, or standard input when there is\n"
          "no --query (local) or --from (route).\n"
          "Keys: local: NAVER_CLIENT_ID and NAVER_CLIENT_SECRET; route: NCP_API_KEY_ID and\n"
          "NCP_API_KEY; or --key-file FILE (two lines: id, secret). Never on the command line.\n"
          "\n"
          "      --query Q           local: a search (repeatable)\n"
          "      --display N         local: results per query, 1 to 5 (default 5)\n"
          "      --start N           local: the first result (default 1)\n"
          "      --sort random|comment  local: by accuracy (default) or by reviews\n"
          "      --from LON,LAT      route: a start (repeatable; paired with --to in order)\n"
          "      --to LON,LAT        route: a goal\n"
          "      --all-pairs         route: every ordered pair of the input's place records\n"
          "      --option NAME       route: trafast, tracomfort or traoptimal (default)\n"
          "      --key-file FILE     the key's id and secret, one per line\n"
          "      --api-base URL      send to URL instead of Naver's host (a test server)\n"
          "      --allow-insecure-http  send the key over plain http to a non-local host\n"
          "  -j, --jobs N            requests in flight (default 4)\n"
          "      --rpm N             requests per minute at most\n"
          "      --max-retries N     retries of a failed request (default 6)\n"
          "      --timeout SECONDS   one attempt's limit (default 60)\n"
          "      --dry-run           print the requests (as JSON lines) instead of sending them\n"
          "  -o, --output FILE       write the records to FILE (default standard output)\n" SFT_COMMON_OPTIONS_HELP,
          f);
}

/* ---- the run ---- */

enum mode { MODE_LOCAL, MODE_ROUTE };
enum item_state { ITEM_PENDING, ITEM_DONE, ITEM_REJECTED, ITEM_CANCELLED };

typedef struct {
    char *query;          /* local */
    cJSON *from, *to;     /* route: {"id"?, ..., "lon", "lat"} */
    char *src;            /* for diagnostics ("--query", a file name) */
    uint64_t line;
    char *text;           /* what --rejects gets: the input line, or the request as JSON */
    char *url;
    cJSON *recs;          /* the records of its answer, until written */
    enum item_state state;
} item;

typedef struct {
    cJSON *rec; /* a place: {"id", "lon", "lat", ...} */
    const char *id;
} place;

typedef struct {
    enum mode mode;
    const char *api_base, *output, *option, *sort;
    uint64_t display, start;
    int all_pairs, dry_run;
    char *key_id, *key_secret;
    char hdr_id[1200], hdr_secret[1200];
    item *items;
    size_t nitems, capitems;
    place *places;
    size_t nplaces, capplaces;
    /* ids written (open addressing, strings owned) */
    char **seen;
    size_t nseen, capseen;
    int out_fd;
    size_t next_out;      /* answers are written in the order of the requests */
    sft_run *run;
    sft_http *http;
    int status, quota;
    char quota_msg[400];
    uint64_t done, rejected, cancelled, records, duplicates, dropped, ok_replies, service_errors;
} nf_run;

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

/* ---- small helpers ---- */

/* Percent-encodes s (UTF-8) for a query string: unreserved characters kept. */
static int url_escape(sft_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~') {
            if (buf_putc(b, (char)*p) != 0) return -1;
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (buf_append(b, e, 3) != 0) return -1;
        }
    }
    return 0;
}

/* The current time as ISO 8601 with the local offset: 2026-11-22T10:00:00+09:00. */
static void iso_now(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char z[8];
    strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(z, sizeof z, "%z", &tm); /* +0900 */
    size_t l = strlen(out);
    if (strlen(z) == 5) snprintf(out + l, n - l, "%.3s:%.2s", z, z + 3);
    else snprintf(out + l, n - l, "Z");
}

/* "LON,LAT" strictly: two finite numbers in range. */
static cJSON *parse_lonlat(const char *s)
{
    const char *c = strchr(s, ',');
    if (!c || c == s || strchr(c + 1, ',')) return NULL;
    char a[64];
    size_t n = (size_t)(c - s);
    if (n >= sizeof a) return NULL;
    memcpy(a, s, n);
    a[n] = 0;
    double lon, lat;
    if (sft_parse_double(a, &lon) || sft_parse_double(c + 1, &lat) || fabs(lon) > 180 || fabs(lat) > 90) return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "lon", lon) || !cJSON_AddNumberToObject(o, "lat", lat)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* lon/lat numbers of an object in range: 0, or -1. */
static int get_lonlat(const cJSON *o, double *lon, double *lat)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "lon"), *y = cJSON_GetObjectItemCaseSensitive(o, "lat");
    if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y) || !isfinite(x->valuedouble) || !isfinite(y->valuedouble) ||
        fabs(x->valuedouble) > 180 || fabs(y->valuedouble) > 90)
        return -1;
    *lon = x->valuedouble;
    *lat = y->valuedouble;
    return 0;
}

/* The key: --key-file (line 1 the id, line 2 the secret), else the two
 * environment variables. Never from argv, never printed. */
static int load_keys(nf_run *q, const char *file, const char *env_id, const char *env_secret)
{
    if (file) {
        sft_buf b = {0};
        if (buf_read_file(&b, file, 1 << 16) != 0 || buf_append(&b, "", 1) != 0) {
            sft_error("%s: cannot read the key file: %s", file, strerror(errno));
            buf_free(&b);
            return SFT_EX_NOINPUT;
        }
        char *p = b.p, *l1 = p, *l2 = NULL;
        char *nl = strpbrk(p, "\r\n");
        if (nl) {
            *nl = 0;
            l2 = nl + 1;
            l2 += strspn(l2, "\r\n");
            char *nl2 = strpbrk(l2, "\r\n");
            if (nl2) *nl2 = 0;
        }
        if (l1 && *l1) q->key_id = strdup(l1);
        if (l2 && *l2) q->key_secret = strdup(l2);
        memset(b.p, 0, b.len);
        buf_free(&b);
        if (!q->key_id || !q->key_secret) {
            sft_error("%s: the key file must hold two lines: the client id, then the secret", file);
            return SFT_EX_USAGE;
        }
    } else {
        const char *id = getenv(env_id), *secret = getenv(env_secret);
        if (!id || !*id || !secret || !*secret) {
            sft_error("no API key: set %s and %s, or give --key-file FILE (two lines: id, secret); a key "
                      "is never taken from the command line",
                      env_id, env_secret);
            return SFT_EX_USAGE;
        }
        if (!(q->key_id = strdup(id)) || !(q->key_secret = strdup(secret))) return out_of_memory();
    }
    for (const char *k = q->key_id; *k; k++)
        if ((unsigned char)*k < 0x20 || *k == 0x7f) goto bad;
    for (const char *k = q->key_secret; *k; k++)
        if ((unsigned char)*k < 0x20 || *k == 0x7f) goto bad;
    if (strlen(q->key_id) > 1000 || strlen(q->key_secret) > 1000) goto bad;
    return 0;
bad:
    sft_error("the API key holds control characters or is too long");
    return SFT_EX_USAGE;
}

/* ---- items ---- */

static item *new_item(nf_run *q, const char *src, uint64_t line, const char *text, size_t len)
{
    if (q->nitems == q->capitems) {
        size_t c = q->capitems ? 2 * q->capitems : 64;
        item *n = realloc(q->items, c * sizeof *n);
        if (!n) return NULL;
        q->items = n;
        q->capitems = c;
    }
    item *it = &q->items[q->nitems];
    memset(it, 0, sizeof *it);
    it->src = strdup(src);
    it->line = line;
    it->text = strndup(text, len);
    if (!it->src || !it->text) {
        free(it->src);
        free(it->text);
        return NULL;
    }
    q->nitems++;
    return it;
}

static int add_query(nf_run *q, const char *query, const char *src, uint64_t line, const char *text, size_t len)
{
    item *it = new_item(q, src, line, text, len);
    if (!it || !(it->query = strdup(query))) return out_of_memory();
    return 0;
}

static int add_route(nf_run *q, cJSON *from, cJSON *to, const char *src, uint64_t line, const char *text,
                     size_t len)
{
    item *it = new_item(q, src, line, text, len);
    if (!it) {
        cJSON_Delete(from);
        cJSON_Delete(to);
        return out_of_memory();
    }
    it->from = from;
    it->to = to;
    return 0;
}

static const place *find_place(const nf_run *q, const char *id)
{
    for (size_t i = 0; i < q->nplaces; i++)
        if (strcmp(q->places[i].id, id) == 0) return &q->places[i];
    return NULL;
}

/* A route end for the output: a place record's id, title and coordinates. */
static cJSON *end_from_place(const cJSON *rec)
{
    cJSON *o = cJSON_CreateObject();
    double lon = 0, lat = 0;
    get_lonlat(rec, &lon, &lat);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id"), *title = cJSON_GetObjectItemCaseSensitive(rec, "title");
    if (cJSON_IsString(id)) cJSON_AddStringToObject(o, "id", id->valuestring);
    if (cJSON_IsString(title)) cJSON_AddStringToObject(o, "title", title->valuestring);
    cJSON_AddNumberToObject(o, "lon", lon);
    cJSON_AddNumberToObject(o, "lat", lat);
    return o;
}

/* A route end in a record: an object with lon/lat, or a string id of a
 * place record. NULL with a reason. */
static cJSON *resolve_end(const nf_run *q, const cJSON *v, const char *name, char *err, size_t errlen)
{
    double lon, lat;
    if (cJSON_IsObject(v)) {
        if (get_lonlat(v, &lon, &lat) != 0) {
            snprintf(err, errlen, "\"%s\" has no \"lon\" and \"lat\" numbers in range", name);
            return NULL;
        }
        return cJSON_Duplicate(v, 1);
    }
    if (cJSON_IsString(v)) {
        const place *p = find_place(q, v->valuestring);
        if (!p) {
            snprintf(err, errlen, "\"%s\": no place record with the id '%.200s' in the input", name, v->valuestring);
            return NULL;
        }
        return end_from_place(p->rec);
    }
    snprintf(err, errlen, "\"%s\" is neither an object with lon/lat nor the id of a place record", name);
    return NULL;
}

/* The record's line for the second pass (routes by id need every place). */
typedef struct {
    cJSON *rec;
    char *src, *text;
    uint64_t line;
} pending;

typedef struct {
    nf_run *q;
    pending *p;
    size_t np, cap;
} reader_ctx;

static int read_record(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                       const jsonl_error *jerr)
{
    reader_ctx *rc = ctx;
    nf_run *q = rc->q;
    if (kind != JSONL_RECORD) {
        run->in++;
        return sft_run_reject(run, jsonl_name(r), jerr->line, jerr->col, rec->text, rec->len, jerr->reason);
    }
    jsonl_error perr;
    cJSON *obj = jsonl_parse(rec, &perr);
    if (!obj) return out_of_memory();
    if (q->mode == MODE_LOCAL) {
        run->in++;
        const cJSON *qu = cJSON_GetObjectItemCaseSensitive(obj, "query");
        int st;
        if (!cJSON_IsString(qu) || !qu->valuestring[0] || strspn(qu->valuestring, " \t\r\n") == strlen(qu->valuestring))
            st = sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len, "no non-empty string \"query\"");
        else {
            /* counted again as an item below */
            run->in--;
            st = add_query(q, qu->valuestring, jsonl_name(r), rec->line, rec->text, rec->len);
        }
        cJSON_Delete(obj);
        return st;
    }
    /* route: places first, route requests after all are read */
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(obj, "from"), *to = cJSON_GetObjectItemCaseSensitive(obj, "to");
    if (from || to) {
        if (rc->np == rc->cap) {
            size_t c = rc->cap ? 2 * rc->cap : 32;
            pending *n = realloc(rc->p, c * sizeof *n);
            if (!n) {
                cJSON_Delete(obj);
                return out_of_memory();
            }
            rc->p = n;
            rc->cap = c;
        }
        pending *p = &rc->p[rc->np];
        p->rec = obj;
        p->src = strdup(jsonl_name(r));
        p->text = strndup(rec->text, rec->len);
        p->line = rec->line;
        if (!p->src || !p->text) {
            free(p->src);
            free(p->text);
            cJSON_Delete(obj);
            return out_of_memory();
        }
        rc->np++;
        return 0;
    }
    double lon, lat;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (!cJSON_IsString(id) || !id->valuestring[0] || get_lonlat(obj, &lon, &lat) != 0) {
        cJSON_Delete(obj);
        run->in++;
        return sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len,
                              "neither a route request (\"from\" and \"to\") nor a place (string \"id\", "
                              "numbers \"lon\" and \"lat\")");
    }
    if (find_place(q, id->valuestring)) {
        /* the same place twice (two searches found it): the first one counts */
        cJSON_Delete(obj);
        return 0;
    }
    if (q->nplaces == q->capplaces) {
        size_t c = q->capplaces ? 2 * q->capplaces : 64;
        place *n = realloc(q->places, c * sizeof *n);
        if (!n) {
            cJSON_Delete(obj);
            return out_of_memory();
        }
        q->places = n;
        q->capplaces = c;
    }
    q->places[q->nplaces].rec = obj;
    q->places[q->nplaces].id = id->valuestring;
    q->nplaces++;
    return 0;
}

static int route_items(nf_run *q, reader_ctx *rc)
{
    int status = 0;
    for (size_t i = 0; i < rc->np; i++) {
        pending *p = &rc->p[i];
        if (!status) {
            char err[400] = "";
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(p->rec, "from"),
                        *t = cJSON_GetObjectItemCaseSensitive(p->rec, "to");
            cJSON *from = NULL, *to = NULL;
            if (!f || !t) snprintf(err, sizeof err, "a route request needs both \"from\" and \"to\"");
            else if ((from = resolve_end(q, f, "from", err, sizeof err)) && (to = resolve_end(q, t, "to", err, sizeof err)))
                status = add_route(q, from, to, p->src, p->line, p->text, strlen(p->text));
            if (err[0]) {
                cJSON_Delete(from);
                q->run->in++;
                status = sft_run_reject(q->run, p->src, p->line, 0, p->text, strlen(p->text), err);
            }
        }
        cJSON_Delete(p->rec);
        free(p->src);
        free(p->text);
    }
    rc->np = 0;
    if (!status && q->all_pairs)
        for (size_t a = 0; a < q->nplaces && !status; a++)
            for (size_t b = 0; b < q->nplaces && !status; b++) {
                if (a == b) continue;
                cJSON *req = cJSON_CreateObject();
                cJSON_AddStringToObject(req, "from", q->places[a].id);
                cJSON_AddStringToObject(req, "to", q->places[b].id);
                char *text = cJSON_PrintUnformatted(req);
                cJSON_Delete(req);
                if (!text) return out_of_memory();
                status = add_route(q, end_from_place(q->places[a].rec), end_from_place(q->places[b].rec),
                                   "--all-pairs", q->nitems + 1, text, strlen(text));
                free(text);
            }
    return status;
}

static int make_url(nf_run *q, item *it)
{
    sft_buf b = {0};
    const char *base = q->api_base ? q->api_base : q->mode == MODE_LOCAL ? LOCAL_BASE : ROUTE_BASE;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    int rc = buf_append(&b, base, bl);
    char tmp[200];
    if (q->mode == MODE_LOCAL) {
        rc |= buf_append(&b, LOCAL_PATH "?query=", strlen(LOCAL_PATH "?query="));
        rc |= url_escape(&b, it->query);
        snprintf(tmp, sizeof tmp, "&display=%" PRIu64 "&start=%" PRIu64 "&sort=%s", q->display, q->start, q->sort);
    } else {
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        get_lonlat(it->from, &x0, &y0);
        get_lonlat(it->to, &x1, &y1);
        rc |= buf_append(&b, ROUTE_PATH, strlen(ROUTE_PATH));
        snprintf(tmp, sizeof tmp, "?start=%.7f,%.7f&goal=%.7f,%.7f&option=%s", x0, y0, x1, y1, q->option);
    }
    rc |= buf_append(&b, tmp, strlen(tmp));
    rc |= buf_append(&b, "", 1);
    if (rc) {
        buf_free(&b);
        return -1;
    }
    it->url = b.p;
    return 0;
}

/* ---- the answers ---- */

/* Naver's error code and message in a body: the Open API's
 * {"errorCode","errorMessage"} or the NCP gateway's
 * {"error":{"errorCode","message","details"}}. */
static void naver_error(const char *body, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
    code[0] = msg[0] = 0;
    cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *base = j, *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsObject(e)) base = e;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(base, "errorCode");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(base, "errorMessage");
    if (!m) m = cJSON_GetObjectItemCaseSensitive(base, "message");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(base, "details");
    if (cJSON_IsString(c)) snprintf(code, codelen, "%s", c->valuestring);
    else if (cJSON_IsNumber(c)) snprintf(code, codelen, "%.0f", c->valuedouble);
    if (cJSON_IsString(m)) {
        if (cJSON_IsString(d) && d->valuestring[0])
            snprintf(msg, msglen, "%s: %s", m->valuestring, d->valuestring);
        else
            snprintf(msg, msglen, "%s", m->valuestring);
    }
    cJSON_Delete(j);
}

/* 2xx done; errorCode 010 (the Open API's daily quota) or the gateway's
 * 400 "Quota Exceeded" stop everything; 012 (rate limit), other 429s, 408,
 * 5xx and transport errors are retried; other answers are final. */
static enum sft_http_verdict classify(void *ctx, const sft_http_response *r)
{
    (void)ctx;
    int s = r->status;
    if (s == 0) return SFT_HTTP_RETRY;
    if (s >= 200 && s < 300) return SFT_HTTP_DONE;
    char code[32], msg[8];
    naver_error(r->body, r->body_len, code, sizeof code, msg, sizeof msg);
    if (!strcmp(code, "010") || (s == 429 && !strcmp(code, "400"))) return SFT_HTTP_QUOTA;
    if (!strcmp(code, "012") || s == 429 || s == 408 || s >= 500) return SFT_HTTP_RETRY;
    return SFT_HTTP_DONE;
}

static int write_all(nf_run *q, const sft_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(q->out_fd, b->p + off, b->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return sft_write_error(q->output ? q->output : "<stdout>", w < 0 ? errno : EIO);
        off += (size_t)w;
    }
    return 0;
}

/* Whether id was written before; notes it when not. -1: out of memory. */
static int seen_before(nf_run *q, const char *id)
{
    if (2 * (q->nseen + 1) > q->capseen) {
        size_t c = q->capseen ? 2 * q->capseen : 256;
        char **n = calloc(c, sizeof *n);
        if (!n) return -1;
        for (size_t i = 0; i < q->capseen; i++)
            if (q->seen[i]) {
                size_t h = (size_t)xxh64(q->seen[i], strlen(q->seen[i]), 0) & (c - 1);
                while (n[h]) h = (h + 1) & (c - 1);
                n[h] = q->seen[i];
            }
        free(q->seen);
        q->seen = n;
        q->capseen = c;
    }
    size_t h = (size_t)xxh64(id, strlen(id), 0) & (q->capseen - 1);
    while (q->seen[h]) {
        if (strcmp(q->seen[h], id) == 0) return 1;
        h = (h + 1) & (q->capseen - 1);
    }
    if (!(q->seen[h] = strdup(id))) return -1;
    q->nseen++;
    return 0;
}

/* Appends rec as a line to out unless its id was written before. */
static int emit(nf_run *q, const cJSON *rec, sft_buf *out)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    int s = seen_before(q, id->valuestring);
    if (s < 0) return -1;
    if (s) {
        q->duplicates++;
        return 0;
    }
    char *text = cJSON_PrintUnformatted(rec);
    if (!text || buf_append(out, text, strlen(text)) != 0 || buf_putc(out, '\n') != 0) {
        free(text);
        return -1;
    }
    free(text);
    q->records++;
    return 0;
}

/* service: the service failed (5xx, no answer) rather than the request:
 * with --on-error=fail that stops the run with 69, not 65. */
static void reject_item(nf_run *q, item *it, const char *reason, int service)
{
    it->state = ITEM_REJECTED;
    q->rejected++;
    int rc = sft_run_reject(q->run, it->src, it->line, 0, it->text, strlen(it->text), reason);
    if (rc && !q->status) {
        /* --on-error=fail: stop sending; what is in flight finishes */
        q->status = rc == SFT_EX_DATAERR && service ? SFT_EX_UNAVAILABLE : rc;
        sft_http_stop(q->http);
    }
}

static cJSON *meta(void)
{
    char when[40];
    iso_now(when, sizeof when);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "fetched_at", when);
    return m;
}

/* A Local Search answer: its items as place records. Returns 0, or -1 with
 * a reason (then nothing was written). */
static int local_answer(nf_run *q, item *it, const char *body, size_t len, cJSON *out, char *err, size_t errlen)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
    if (!cJSON_IsArray(items)) {
        snprintf(err, errlen, "the answer is not Local Search JSON (no \"items\" array)");
        cJSON_Delete(j);
        return -1;
    }
    int rc = 0;
    size_t k = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, items)
    {
        k++;
        char why[300];
        cJSON *rec = qa_naver_local_item(el, why, sizeof why);
        if (!rec) {
            if (!strcmp(why, "out of memory")) {
                rc = -2;
                break;
            }
            q->dropped++;
            if (q->run->verbose || q->dropped <= 10)
                sft_error_at(it->src, it->line, 0, "query '%s': result %zu dropped: %s", it->query, k, why);
            continue;
        }
        cJSON_AddStringToObject(rec, "query", it->query);
        cJSON_AddItemToObject(rec, "meta", meta());
        cJSON_AddItemToArray(out, rec);
    }
    cJSON_Delete(j);
    if (rc == -2) snprintf(err, errlen, "out of memory");
    return rc;
}

static void end_id(const cJSON *end, char *out, size_t n)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(end, "id");
    if (cJSON_IsString(id) && id->valuestring[0]) snprintf(out, n, "%s", id->valuestring);
    else out[0] = 0;
}

/* A Directions 5 answer: one route record. */
static int route_answer(nf_run *q, item *it, const char *body, size_t len, cJSON *out, char *err, size_t errlen)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code"), *msg = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (!cJSON_IsObject(j) || !cJSON_IsNumber(code)) {
        snprintf(err, errlen, "the answer is not Directions 5 JSON (no \"code\")");
        cJSON_Delete(j);
        return -1;
    }
    if (code->valuedouble != 0) {
        snprintf(err, errlen, "no route (code %.0f): %s", code->valuedouble,
                 cJSON_IsString(msg) ? msg->valuestring : "no message");
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(j, "route");
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(route, q->option);
    if (!opt && cJSON_IsObject(route)) opt = route->child; /* the API names it as asked; be lenient */
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(opt, 0), "summary");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(sum, "distance"),
                *dur = cJSON_GetObjectItemCaseSensitive(sum, "duration");
    if (!cJSON_IsNumber(dist) || !cJSON_IsNumber(dur) || dist->valuedouble < 0 || dur->valuedouble < 0) {
        snprintf(err, errlen, "no route.%s[0].summary with distance and duration in the answer", q->option);
        cJSON_Delete(j);
        return -1;
    }
    char a[256], b[256], id[600];
    end_id(it->from, a, sizeof a);
    end_id(it->to, b, sizeof b);
    const char *suffix = strcmp(q->option, "traoptimal") ? q->option : NULL;
    if (a[0] && b[0]) {
        snprintf(id, sizeof id, "route:%s:%s%s%s", a, b, suffix ? ":" : "", suffix ? suffix : "");
    } else {
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        get_lonlat(it->from, &x0, &y0);
        get_lonlat(it->to, &x1, &y1);
        char key[200];
        int n = snprintf(key, sizeof key, "%.7f,%.7f|%.7f,%.7f|%s", x0, y0, x1, y1, q->option);
        snprintf(id, sizeof id, "route:%016" PRIx64, xxh64(key, (size_t)n, 0));
    }
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddItemToObject(rec, "from", cJSON_Duplicate(it->from, 1));
    cJSON_AddItemToObject(rec, "to", cJSON_Duplicate(it->to, 1));
    cJSON_AddNumberToObject(rec, "distance_m", dist->valuedouble);
    cJSON_AddNumberToObject(rec, "duration_ms", dur->valuedouble);
    static const struct {
        const char *in, *out;
    } extra[] = {{"tollFare", "toll_fare"}, {"taxiFare", "taxi_fare"}, {"fuelPrice", "fuel_price"}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, extra[i].in);
        if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(rec, extra[i].out, v->valuedouble);
    }
    cJSON_AddStringToObject(rec, "option", q->option);
    cJSON_AddStringToObject(rec, "source", "naver-directions");
    cJSON_AddItemToObject(rec, "meta", meta());
    cJSON_AddItemToArray(out, rec);
    cJSON_Delete(j);
    return 0;
}

/* Writes the answers that are next in the order of the requests, each with
 * one write (so its lines are whole), leaving out ids written before. */
static int flush(nf_run *q)
{
    int rc = 0;
    while (q->next_out < q->nitems && q->items[q->next_out].state != ITEM_PENDING) {
        item *it = &q->items[q->next_out++];
        if (!it->recs) continue;
        sft_buf out = {0};
        const cJSON *rec;
        cJSON_ArrayForEach(rec, it->recs)
        {
            if (emit(q, rec, &out) != 0) {
                rc = out_of_memory();
                break;
            }
        }
        if (!rc) rc = write_all(q, &out);
        buf_free(&out);
        cJSON_Delete(it->recs);
        it->recs = NULL;
        if (rc) break;
    }
    return rc;
}

static void on_done(void *ctx, const sft_http_result *res)
{
    nf_run *q = ctx;
    item *it = res->user;
    const sft_http_response *r = res->r;
    if (res->cancelled || res->verdict == SFT_HTTP_QUOTA) {
        if (res->verdict == SFT_HTTP_QUOTA && !q->quota) {
            q->quota = 1;
            char code[32], msg[300];
            naver_error(r->body, r->body_len, code, sizeof code, msg, sizeof msg);
            snprintf(q->quota_msg, sizeof q->quota_msg, "errorCode %s: %s", code[0] ? code : "?",
                     msg[0] ? msg : "quota exceeded");
        }
        it->state = ITEM_CANCELLED;
        q->cancelled++;
        return;
    }
    if (res->verdict == SFT_HTTP_RETRY || r->status < 200 || r->status >= 300) {
        char why[600];
        if (r->status == 0 || r->status >= 500) q->service_errors++;
        if (r->status == 0) {
            snprintf(why, sizeof why, "no answer after %d attempt%s: %s", res->attempts, res->attempts == 1 ? "" : "s",
                     r->transport_error ? r->transport_error : "transport error");
        } else {
            char code[32], msg[400];
            naver_error(r->body, r->body_len, code, sizeof code, msg, sizeof msg);
            snprintf(why, sizeof why, "HTTP %d%s%s%s after %d attempt%s%s%s", r->status, code[0] ? " (errorCode " : "",
                     code, code[0] ? ")" : "", res->attempts, res->attempts == 1 ? "" : "s", msg[0] ? ": " : "", msg);
        }
        reject_item(q, it, why, r->status == 0 || r->status >= 500);
        return;
    }
    q->ok_replies++;
    char err[600];
    cJSON *out = cJSON_CreateArray();
    int rc = !out ? -2
             : q->mode == MODE_LOCAL ? local_answer(q, it, r->body, r->body_len, out, err, sizeof err)
                                     : route_answer(q, it, r->body, r->body_len, out, err, sizeof err);
    if (rc == -2) {
        cJSON_Delete(out);
        it->state = ITEM_CANCELLED;
        q->cancelled++;
        if (!q->status) q->status = out_of_memory();
        sft_http_stop(q->http);
    } else if (rc < 0) {
        cJSON_Delete(out);
        reject_item(q, it, err, 0);
    } else {
        it->recs = out;
        it->state = ITEM_DONE;
        q->done++;
    }
    int w = flush(q);
    if (w && !q->status) {
        q->status = w;
        sft_http_stop(q->http);
    }
    sft_run_progress_text(q->run, "%" PRIu64 " of %zu requests done, %" PRIu64 " records, %" PRIu64 " rejected",
                          q->done, q->nitems, q->records, q->rejected);
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    nf_run q = {.display = 5, .start = 1, .option = "traoptimal", .sort = "random", .out_fd = -1, .run = &run};
    sft_http_opts ho = {.max_inflight = 4, .max_retries = 6, .timeout_s = 60, .connect_timeout_s = 10};
    const char *key_file = NULL;
    const char **queries = NULL;
    size_t nqueries = 0;
    cJSON **froms = NULL, **tos = NULL;
    size_t nfrom = 0, nto = 0;
    int local_opts = 0, route_opts = 0, opt, status = 0, started = 0;
    uint64_t u;
    double d;
    sft_input *inputs = NULL;
    size_t ninputs = 0;
    reader_ctx rc = {.q = &q};
    while ((opt = getopt_long(argc, argv, "j:o:vhV", long_options, NULL)) != -1) {
        int r = sft_standard_option(opt, usage);
        if (r >= 0) {
            status = r;
            goto done;
        }
        r = sft_run_option(&run, opt, optarg);
        if (r > 0) {
            status = r;
            goto done;
        }
        if (r == 0) continue;
        switch (opt) {
        case OPT_QUERY: {
            if (!*optarg) {
                status = sft_usage_error("--query: an empty search");
                goto done;
            }
            const char **n = realloc(queries, (nqueries + 1) * sizeof *n);
            if (!n) {
                status = out_of_memory();
                goto done;
            }
            queries = n;
            queries[nqueries++] = optarg;
            local_opts = 1;
            break;
        }
        case OPT_DISPLAY:
            if (sft_parse_u64(optarg, 1, 5, &q.display)) {
                status = sft_bad_option_value("display", optarg);
                goto done;
            }
            local_opts = 1;
            break;
        case OPT_START:
            if (sft_parse_u64(optarg, 1, 1000, &q.start)) {
                status = sft_bad_option_value("start", optarg);
                goto done;
            }
            local_opts = 1;
            break;
        case OPT_SORT:
            if (strcmp(optarg, "random") && strcmp(optarg, "comment")) {
                status = sft_usage_error("invalid value '%s' for --sort: use random or comment", optarg);
                goto done;
            }
            q.sort = optarg;
            local_opts = 1;
            break;
        case OPT_FROM:
        case OPT_TO: {
            cJSON *p = parse_lonlat(optarg);
            if (!p) {
                status = sft_usage_error("invalid value '%s' for --%s: LON,LAT in degrees (127.0276,37.4979)", optarg,
                                         opt == OPT_FROM ? "from" : "to");
                goto done;
            }
            cJSON ***arr = opt == OPT_FROM ? &froms : &tos;
            size_t *n = opt == OPT_FROM ? &nfrom : &nto;
            cJSON **a = realloc(*arr, (*n + 1) * sizeof *a);
            if (!a) {
                cJSON_Delete(p);
                status = out_of_memory();
                goto done;
            }
            *arr = a;
            a[(*n)++] = p;
            route_opts = 1;
            break;
        }
        case OPT_ALL_PAIRS:
            q.all_pairs = 1;
            route_opts = 1;
            break;
        case OPT_OPTION:
            if (strcmp(optarg, "trafast") && strcmp(optarg, "tracomfort") && strcmp(optarg, "traoptimal")) {
                status = sft_usage_error("invalid value '%s' for --option: use trafast, tracomfort or traoptimal", optarg);
                goto done;
            }
            q.option = optarg;
            route_opts = 1;
            break;
        case OPT_KEY_FILE: key_file = optarg; break;
        case OPT_API_BASE: q.api_base = optarg; break;
        case OPT_INSECURE: ho.allow_insecure_http = 1; break;
        case OPT_DRY_RUN: q.dry_run = 1; break;
        case 'o': q.output = strcmp(optarg, "-") ? optarg : NULL; break;
        case 'j':
            if (sft_parse_u64(optarg, 1, 256, &u)) {
                status = sft_bad_option_value("jobs", optarg);
                goto done;
            }
            ho.max_inflight = (int)u;
            break;
        case OPT_MAX_RETRIES:
            if (sft_parse_u64(optarg, 0, 100, &u)) {
                status = sft_bad_option_value("max-retries", optarg);
                goto done;
            }
            ho.max_retries = (int)u;
            break;
        case OPT_RPM:
        case OPT_TIMEOUT:
            if (sft_parse_double(optarg, &d) || !(d > 0)) {
                errno = ERANGE;
                status = sft_bad_option_value(opt == OPT_RPM ? "rpm" : "timeout", optarg);
                goto done;
            }
            if (opt == OPT_RPM) ho.rpm = d;
            else ho.timeout_s = d;
            break;
        default: status = sft_usage_error("unexpected option"); goto done;
        }
    }
    if (optind >= argc) {
        status = sft_usage_error("which API? give 'local' (Local Search) or 'route' (Directions 5) first");
        goto done;
    }
    const char *mode = argv[optind++];
    if (!strcmp(mode, "local")) q.mode = MODE_LOCAL;
    else if (!strcmp(mode, "route")) q.mode = MODE_ROUTE;
    else {
        status = sft_usage_error("unknown mode '%s': use local or route", mode);
        goto done;
    }
    if (q.mode == MODE_LOCAL && route_opts) {
        status = sft_usage_error("--from, --to, --all-pairs and --option go with 'route'");
        goto done;
    }
    if (q.mode == MODE_ROUTE && local_opts) {
        status = sft_usage_error("--query, --display, --start and --sort go with 'local'");
        goto done;
    }
    if (nfrom != nto) {
        status = sft_usage_error("%zu --from but %zu --to: give them in pairs", nfrom, nto);
        goto done;
    }
    if (q.api_base && !*q.api_base) {
        status = sft_usage_error("--api-base: an empty URL");
        goto done;
    }
    if (q.output)
        for (int i = optind; i < argc; i++)
            if (strcmp(argv[i], "-") && sft_same_file(argv[i], q.output)) {
                status = sft_usage_error("the output %s is also an input", q.output);
                goto done;
            }

    if (!q.dry_run) {
        char err[600];
        if ((status = q.mode == MODE_LOCAL ? load_keys(&q, key_file, "NAVER_CLIENT_ID", "NAVER_CLIENT_SECRET")
                                           : load_keys(&q, key_file, "NCP_API_KEY_ID", "NCP_API_KEY")) != 0)
            goto done;
        snprintf(q.hdr_id, sizeof q.hdr_id, "%s: %s", q.mode == MODE_LOCAL ? "X-Naver-Client-Id" : "X-NCP-APIGW-API-KEY-ID",
                 q.key_id);
        snprintf(q.hdr_secret, sizeof q.hdr_secret, "%s: %s",
                 q.mode == MODE_LOCAL ? "X-Naver-Client-Secret" : "X-NCP-APIGW-API-KEY", q.key_secret);
        ho.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        if (!(q.http = sft_http_new(&ho, classify, NULL, err, sizeof err))) {
            sft_error("%s", err);
            status = SFT_EX_SOFTWARE;
            goto done;
        }
        const char *base = q.api_base ? q.api_base : q.mode == MODE_LOCAL ? LOCAL_BASE : ROUTE_BASE;
        if (sft_http_check_url(q.http, base, err, sizeof err) != 0) {
            status = sft_usage_error("--api-base %s: %s", base, err);
            goto done;
        }
    }

    /* the requests: options first, then the inputs */
    for (size_t i = 0; i < nqueries; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "query", queries[i]);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        status = text ? add_query(&q, queries[i], "--query", i + 1, text, strlen(text)) : out_of_memory();
        free(text);
        if (status) goto done;
    }
    for (size_t i = 0; i < nfrom; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(o, "from", froms[i]);
        cJSON_AddItemReferenceToObject(o, "to", tos[i]);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text) {
            status = out_of_memory();
            goto done;
        }
        status = add_route(&q, froms[i], tos[i], "--from", i + 1, text, strlen(text));
        froms[i] = tos[i] = NULL;
        free(text);
        if (status) goto done;
    }
    int read_inputs = optind < argc || (q.mode == MODE_LOCAL ? nqueries == 0 : nfrom == 0);
    if ((status = sft_run_start(&run)) != 0) goto done;
    started = 1;
    if (read_inputs) {
        if (!(inputs = sft_inputs_new(argv + optind, (size_t)(argc - optind), &ninputs))) {
            status = out_of_memory();
            goto done;
        }
        if ((status = sft_inputs_check(inputs, ninputs)) != 0) goto done;
        if ((status = sft_each_record(&run, inputs, ninputs, read_record, &rc)) != 0) goto done;
    }
    if (q.mode == MODE_ROUTE && (status = route_items(&q, &rc)) != 0) goto done;
    run.in += q.nitems;

    for (size_t i = 0; i < q.nitems; i++)
        if (make_url(&q, &q.items[i]) != 0) {
            status = out_of_memory();
            goto done;
        }
    if (q.dry_run) {
        FILE *f = stdout;
        if (q.output && !(f = fopen(q.output, "w"))) {
            sft_error("%s: cannot create: %s", q.output, strerror(errno));
            status = SFT_EX_CANTCREAT;
            goto done;
        }
        for (size_t i = 0; i < q.nitems; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "method", "GET");
            cJSON_AddStringToObject(o, "url", q.items[i].url);
            char *text = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (text) fprintf(f, "%s\n", text);
            free(text);
        }
        if (fflush(f) != 0 || ferror(f)) status = sft_write_error(q.output ? q.output : "<stdout>", errno);
        if (f != stdout && fclose(f) != 0 && !status) status = sft_write_error(q.output, errno);
        run.out = q.nitems;
        goto done;
    }

    q.out_fd = q.output ? open(q.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : STDOUT_FILENO;
    if (q.out_fd < 0) {
        sft_error("%s: cannot create: %s", q.output, strerror(errno));
        status = SFT_EX_CANTCREAT;
        goto done;
    }
    const char *headers[] = {q.hdr_id, q.hdr_secret, "Accept: application/json", NULL};
    for (size_t i = 0; i < q.nitems; i++)
        if (sft_http_get(q.http, q.items[i].url, headers, &q.items[i]) != 0) {
            status = out_of_memory();
            goto done;
        }
    if (sft_http_run(q.http, on_done, &q) != 0) {
        sft_error("the HTTP engine failed");
        status = SFT_EX_SOFTWARE;
    }
    if (!status) status = q.status;
    if (status != SFT_EX_IOERR) {
        /* what is done is written, also when a rejected item stopped the run */
        int f = flush(&q);
        if (!status) status = f;
    }
    if (!status && q.quota) {
        sft_error("the Naver API quota is exhausted (%s); requests done: %" PRIu64 ", not done: %" PRIu64
                  "; run again when the quota resets (daily quotas reset at midnight KST)",
                  q.quota_msg, q.done, q.cancelled);
        status = SFT_EX_TEMPFAIL;
    }
    if (!status && q.rejected && !q.ok_replies && q.service_errors == q.rejected) {
        sft_error("the service at %s did not answer a single request successfully",
                  q.api_base ? q.api_base : q.mode == MODE_LOCAL ? LOCAL_BASE : ROUTE_BASE);
        status = SFT_EX_UNAVAILABLE;
    }
    run.out = q.done;
    run.filtered = q.cancelled;
    if (run.verbose)
        sft_error("requests: %zu, %" PRIu64 " done, %" PRIu64 " rejected, %" PRIu64 " not sent; %" PRIu64
                  " records written, %" PRIu64 " duplicates left out, %" PRIu64 " results dropped",
                  q.nitems, q.done, q.rejected, q.cancelled, q.records, q.duplicates, q.dropped);
done:
    if (q.out_fd >= 0 && q.out_fd != STDOUT_FILENO) {
        if (fsync(q.out_fd) != 0 && errno != EINVAL && !status) status = sft_write_error(q.output, errno);
        if (close(q.out_fd) != 0 && !status) status = sft_write_error(q.output, errno);
    }
    sft_http_free(q.http);
    for (size_t i = 0; i < q.nitems; i++) {
        free(q.items[i].query);
        cJSON_Delete(q.items[i].from);
        cJSON_Delete(q.items[i].to);
        free(q.items[i].src);
        free(q.items[i].text);
        free(q.items[i].url);
        cJSON_Delete(q.items[i].recs);
    }
    free(q.items);
    for (size_t i = 0; i < q.nplaces; i++) cJSON_Delete(q.places[i].rec);
    free(q.places);
    for (size_t i = 0; i < q.capseen; i++) free(q.seen[i]);
    free(q.seen);
    for (size_t i = 0; i < rc.np; i++) {
        cJSON_Delete(rc.p[i].rec);
        free(rc.p[i].src);
        free(rc.p[i].text);
    }
    free(rc.p);
    for (size_t i = 0; i < nfrom; i++) cJSON_Delete(froms[i]);
    for (size_t i = 0; i < nto; i++) cJSON_Delete(tos[i]);
    free(froms);
    free(tos);
    free(queries);
    if (q.key_id) {
        memset(q.key_id, 0, strlen(q.key_id));
        free(q.key_id);
    }
    if (q.key_secret) {
        memset(q.key_secret, 0, strlen(q.key_secret));
        free(q.key_secret);
    }
    memset(q.hdr_id, 0, sizeof q.hdr_id);
    memset(q.hdr_secret, 0, sizeof q.hdr_secret);
    sft_inputs_free(inputs, ninputs);
    if (!started) return status;
    return sft_run_finish(&run, status);
}
