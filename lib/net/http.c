/* HTTP client over libcurl's multi interface: see http.h.
 *
 * One queue of requests that are ready to go (FIFO; a retried request goes
 * back to its head once its wait is over) and one list of requests waiting
 * for their retry time. At most max_inflight transfers run at once, each on
 * an easy handle from a small pool (handles are reused; the connections
 * live in the multi handle's cache, so they are reused too, and HTTP/2
 * streams share one connection where the server speaks it). The rpm and
 * tpm limits are token buckets with continuous refill. */
#include "net/http.h"

#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define BODY_CAP ((size_t)64 << 20)   /* a larger response is a transport error */
#define HDR_CAP 128                   /* captured header values are cut here */
#define BACKOFF_INITIAL 0.5
#define BACKOFF_MAX 8.0
#define SERVER_WAIT_MAX 60.0

/* The current (or last) attempt's response: allocated when a request is
 * first sent, so that a long queue costs little. */
typedef struct rstate {
    sft_http_response resp;
    char *rbody;
    size_t rlen, rcap;
    int too_big;
    char h_retry_after[HDR_CAP], h_retry_after_ms[HDR_CAP];
    char h_reset_requests[HDR_CAP], h_reset_tokens[HDR_CAP];
    char errbuf[CURL_ERROR_SIZE];
} rstate;

typedef struct req {
    struct req *next;
    int is_post;
    char *url;
    struct curl_slist *headers;
    char *body;
    size_t body_len;
    double est_tokens;
    void *user;

    int attempts;
    double not_before;          /* monotonic seconds: when a retry may go */
    enum sft_http_verdict last_verdict;
    CURL *easy;                 /* while in flight */
    struct rstate *s;           /* from the first attempt on */
    int s_spare;                /* s is the handle's spare (out of memory) */
} req;

typedef struct {
    double rate;     /* units per second */
    double cap;      /* most that can be saved up */
    double level;    /* may go below 0 (a debt) */
    double last;
} bucket;

struct sft_http {
    sft_http_opts o;
    sft_http_classify_fn classify;
    void *classify_ctx;
    CURLM *multi;
    CURL **pool;
    int npool;
    req *ready_head, *ready_tail;
    req *waiting;                /* unordered: few at a time */
    req *active;                 /* in flight */
    int inflight;
    volatile sig_atomic_t stopped;
    bucket rpm, tpm;
    uint64_t rng;
    req *cur_done;               /* the request whose on_done runs now */
    rstate spare;                /* a response for on_done when out of memory */
    sft_http_stats st;
};

/* ---- small helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static char *dup_mem(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static int ieq_prefix(const char *s, size_t n, const char *name)
{
    size_t k = strlen(name);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)s[i]) != name[i]) return 0;
    return 1;
}

/* ---- token buckets ---- */

static void bucket_init(bucket *b, double per_minute, double cap, double t)
{
    b->rate = per_minute / 60.0;
    b->cap = cap;
    b->level = cap;
    b->last = t;
}

static void bucket_refill(bucket *b, double t)
{
    if (b->rate <= 0) return;
    if (t > b->last) {
        b->level += (t - b->last) * b->rate;
        if (b->level > b->cap) b->level = b->cap;
        b->last = t;
    }
}

/* Seconds until the bucket allows taking n (0: now). */
static double bucket_wait(bucket *b, double n, double t)
{
    if (b->rate <= 0) return 0;
    bucket_refill(b, t);
    double need = n < b->cap ? n : b->cap;
    if (b->level >= need - 1e-9) return 0;
    return (need - b->level) / b->rate;
}

/* ---- waits from the response ---- */

/* A Go-style duration ("1s", "6m0s", "20ms", "1.5s", "1h2m"): seconds, or
 * -1 when it is not one. A bare number counts as seconds. */
static double parse_duration(const char *s)
{
    double total = 0;
    int any = 0;
    while (*s == ' ') s++;
    while (*s && *s != ' ') {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v) || v < 0) return -1;
        s = end;
        double mul;
        if (!*s || *s == ' ') mul = any ? -1 : 1;
        else if (!strncmp(s, "ms", 2)) mul = 1e-3, s += 2;
        else if (!strncmp(s, "us", 2)) mul = 1e-6, s += 2;
        else if (!strncmp(s, "\xc2\xb5s", 3)) mul = 1e-6, s += 3;
        else if (!strncmp(s, "ns", 2)) mul = 1e-9, s += 2;
        else if (*s == 'h') mul = 3600, s++;
        else if (*s == 'm') mul = 60, s++;
        else if (*s == 's') mul = 1, s++;
        else return -1;
        if (mul < 0) return -1;
        total += v * mul;
        any = 1;
    }
    return any ? total : -1;
}

/* retry-after: seconds (maybe fractional) or an HTTP date. */
static double parse_retry_after(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end != s && !*end && isfinite(v)) return v;
    time_t when = curl_getdate(s, NULL);
    if (when == (time_t)-1) return -1;
    return difftime(when, time(NULL));
}

/* The longest wait the response asks for (capped), or -1 when none. The
 * x-ratelimit-reset-* headers come with every OpenAI response and say when
 * the window is full again, so they count only for a 429. */
static double server_wait(const sft_http_response *r)
{
    double w = -1, v;
    if (r->retry_after_ms) {
        char *end;
        v = strtod(r->retry_after_ms, &end);
        if (end != r->retry_after_ms && isfinite(v) && v / 1000 > w) w = v / 1000;
    }
    if (r->retry_after && (v = parse_retry_after(r->retry_after)) > w) w = v;
    if (r->status == 429) {
        if (r->reset_requests && (v = parse_duration(r->reset_requests)) > w) w = v;
        if (r->reset_tokens && (v = parse_duration(r->reset_tokens)) > w) w = v;
    }
    if (w <= 0) return -1;
    return w > SERVER_WAIT_MAX ? SERVER_WAIT_MAX : w;
}

static double backoff(sft_http *h, int retries_before)
{
    double d = BACKOFF_INITIAL * pow(2.0, retries_before);
    if (d > BACKOFF_MAX) d = BACKOFF_MAX;
    return d * (1.0 - 0.25 * rng_unit(&h->rng));
}

/* ---- classification ---- */

enum sft_http_verdict sft_http_classify_openai(void *ctx, const sft_http_response *r)
{
    (void)ctx;
    int s = r->status;
    if (s == 0) return SFT_HTTP_RETRY;
    if (s >= 200 && s < 300) return SFT_HTTP_DONE;
    if (s == 429) {
        int quota = 0;
        cJSON *j = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
        if ((cJSON_IsString(code) && !strcmp(code->valuestring, "insufficient_quota")) ||
            (cJSON_IsString(type) && !strcmp(type->valuestring, "insufficient_quota")))
            quota = 1;
        cJSON_Delete(j);
        return quota ? SFT_HTTP_QUOTA : SFT_HTTP_RETRY;
    }
    if (s == 408 || s == 409 || s >= 500) return SFT_HTTP_RETRY;
    return SFT_HTTP_DONE;
}

/* ---- URL check ---- */

static int is_loopback(const char *host)
{
    if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost.")) return 1;
    if (!strcmp(host, "[::1]") || !strcmp(host, "::1")) return 1;
    unsigned a, b, c, d;
    char tail;
    if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
        c < 256 && d < 256)
        return 1;
    return 0;
}

static int check_url(int allow_insecure, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1;
    if (!u) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        set_err(err, errlen, "not a valid URL");
    } else if (strcasecmp(scheme, "https") && strcasecmp(scheme, "http")) {
        set_err(err, errlen, "only http:// and https:// URLs are supported");
    } else if (!strcasecmp(scheme, "http") && !allow_insecure && !is_loopback(host)) {
        set_err(err, errlen,
                "plain http:// to a host that is not loopback would send the key in clear "
                "(use https://, or allow insecure http explicitly)");
    } else {
        rc = 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

int sft_http_check_url(const sft_http *h, const char *url, char *err, size_t errlen)
{
    return check_url(h ? h->o.allow_insecure_http : 0, url, err, errlen);
}

/* ---- setup ---- */

static int curl_ready = 0;

sft_http *sft_http_new(const sft_http_opts *o, sft_http_classify_fn classify, void *classify_ctx,
                       char *err, size_t errlen)
{
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            set_err(err, errlen, "curl_global_init failed");
            return NULL;
        }
        curl_ready = 1;
    }
    sft_http *h = calloc(1, sizeof *h);
    if (!h) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    if (o) h->o = *o;
    if (h->o.max_inflight <= 0) h->o.max_inflight = 8;
    if (h->o.max_retries < 0 || !o) h->o.max_retries = 6;
    if (h->o.timeout_s <= 0) h->o.timeout_s = 600;
    if (h->o.connect_timeout_s <= 0) h->o.connect_timeout_s = 10;
    h->classify = classify ? classify : sft_http_classify_openai;
    h->classify_ctx = classify_ctx;
    h->rng = h->o.seed ^ 0x5f74b1c3a2d9e807ULL;
    double t = now_s();
    bucket_init(&h->rpm, h->o.rpm > 0 ? h->o.rpm : 0, 1, t);
    bucket_init(&h->tpm, h->o.tpm > 0 ? h->o.tpm : 0, h->o.tpm > 0 ? h->o.tpm / 60 : 0, t);
    h->pool = calloc((size_t)h->o.max_inflight, sizeof *h->pool);
    h->multi = curl_multi_init();
    if (!h->pool || !h->multi) {
        set_err(err, errlen, "cannot set up curl");
        sft_http_free(h);
        return NULL;
    }
    long conns = h->o.max_inflight + 4;
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, conns);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return h;
}

static void req_free(req *r)
{
    if (!r) return;
    free(r->url);
    curl_slist_free_all(r->headers);
    free(r->body);
    if (r->s && !r->s_spare) {
        free(r->s->rbody);
        free(r->s);
    }
    free(r);
}

static void free_list(req *r)
{
    while (r) {
        req *n = r->next;
        req_free(r);
        r = n;
    }
}

void sft_http_free(sft_http *h)
{
    if (!h) return;
    free_list(h->ready_head);
    free_list(h->waiting);
    /* in flight only when run() failed midway */
    while (h->active) {
        req *r = h->active;
        h->active = r->next;
        curl_multi_remove_handle(h->multi, r->easy);
        curl_easy_cleanup(r->easy);
        req_free(r);
    }
    for (int i = 0; i < h->npool; i++) curl_easy_cleanup(h->pool[i]);
    free(h->pool);
    if (h->multi) curl_multi_cleanup(h->multi);
    free(h);
}

/* ---- queueing ---- */

static void push_ready(sft_http *h, req *r, int front)
{
    if (front) {
        r->next = h->ready_head;
        h->ready_head = r;
        if (!h->ready_tail) h->ready_tail = r;
    } else {
        r->next = NULL;
        if (h->ready_tail) h->ready_tail->next = r;
        else h->ready_head = r;
        h->ready_tail = r;
    }
}

static req *pop_ready(sft_http *h)
{
    req *r = h->ready_head;
    if (r) {
        h->ready_head = r->next;
        if (!h->ready_head) h->ready_tail = NULL;
        r->next = NULL;
    }
    return r;
}

static int queue(sft_http *h, int is_post, const char *url, const char *const *headers,
                 const char *body, size_t len, double est_tokens, void *user)
{
    req *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->is_post = is_post;
    r->est_tokens = est_tokens > 0 ? est_tokens : 0;
    r->user = user;
    r->url = dup_mem(url, strlen(url));
    if (!r->url) goto oom;
    if (is_post) {
        r->body = dup_mem(body ? body : "", body ? len : 0);
        r->body_len = body ? len : 0;
        if (!r->body) goto oom;
    }
    int has_ct = 0;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (ieq_prefix(headers[i], strlen(headers[i]), "content-type:")) has_ct = 1;
        struct curl_slist *n = curl_slist_append(r->headers, headers[i]);
        if (!n) goto oom;
        r->headers = n;
    }
    /* no "Expect: 100-continue" round trip for large bodies */
    const char *extra[] = {"Expect:", is_post && !has_ct ? "Content-Type: application/json" : NULL};
    for (size_t i = 0; i < 2; i++) {
        if (!extra[i]) continue;
        struct curl_slist *n = curl_slist_append(r->headers, extra[i]);
        if (!n) goto oom;
        r->headers = n;
    }
    push_ready(h, r, 0);
    return 0;
oom:
    req_free(r);
    return -1;
}

int sft_http_post(sft_http *h, const char *url, const char *const *headers, const char *body,
                  size_t len, double est_tokens, void *user)
{
    return queue(h, 1, url, headers, body, len, est_tokens, user);
}

int sft_http_get(sft_http *h, const char *url, const char *const *headers, void *user)
{
    return queue(h, 0, url, headers, NULL, 0, 0, user);
}

void sft_http_stop(sft_http *h)
{
    h->stopped = 1;
}

void sft_http_tokens(sft_http *h, double tokens)
{
    if (h->tpm.rate <= 0 || !(tokens >= 0)) return;
    bucket_refill(&h->tpm, now_s());
    /* in on_done: the real count replaces the estimate charged at send */
    double charged = h->cur_done && h->cur_done->attempts > 0 ? h->cur_done->est_tokens : 0;
    h->tpm.level -= tokens - charged;
    if (h->tpm.level > h->tpm.cap) h->tpm.level = h->tpm.cap;
}

void sft_http_get_stats(const sft_http *h, sft_http_stats *s)
{
    *s = h->st;
}

/* ---- transfers ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    rstate *r = ud;
    size_t k = size * n;
    if (r->rlen + k > BODY_CAP) {
        r->too_big = 1;
        return 0;
    }
    if (r->rlen + k + 1 > r->rcap) {
        size_t cap = r->rcap ? r->rcap : 4096;
        while (cap < r->rlen + k + 1) cap *= 2;
        char *q = realloc(r->rbody, cap);
        if (!q) return 0;
        r->rbody = q;
        r->rcap = cap;
    }
    memcpy(r->rbody + r->rlen, p, k);
    r->rlen += k;
    r->rbody[r->rlen] = '\0';
    return k;
}

static void capture(char *dst, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= HDR_CAP) n = HDR_CAP - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static void clear_headers(rstate *r)
{
    r->h_retry_after[0] = r->h_retry_after_ms[0] = '\0';
    r->h_reset_requests[0] = r->h_reset_tokens[0] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    rstate *r = ud;
    size_t k = size * n;
    static const struct { const char *name; size_t off; } want[] = {
        {"retry-after:", offsetof(rstate, h_retry_after)},
        {"retry-after-ms:", offsetof(rstate, h_retry_after_ms)},
        {"x-ratelimit-reset-requests:", offsetof(rstate, h_reset_requests)},
        {"x-ratelimit-reset-tokens:", offsetof(rstate, h_reset_tokens)},
    };
    if (k >= 5 && !memcmp(p, "HTTP/", 5)) {   /* a new response (after a 1xx) */
        clear_headers(r);
        return k;
    }
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t nl = strlen(want[i].name);
        if (ieq_prefix(p, k, want[i].name)) {
            capture((char *)r + want[i].off, p + nl, k - nl);
            break;
        }
    }
    return k;
}

static CURL *get_easy(sft_http *h)
{
    if (h->npool > 0) return h->pool[--h->npool];
    return curl_easy_init();
}

static void put_easy(sft_http *h, CURL *e)
{
    curl_easy_reset(e);
    if (h->npool < h->o.max_inflight) h->pool[h->npool++] = e;
    else curl_easy_cleanup(e);
}

/* Makes r->s ready for a new attempt; -1 when out of memory. */
static int reset_response(req *r)
{
    if (!r->s && !(r->s = calloc(1, sizeof *r->s))) return -1;
    rstate *s = r->s;
    s->rlen = 0;
    if (s->rbody) s->rbody[0] = '\0';
    s->too_big = 0;
    s->errbuf[0] = '\0';
    clear_headers(s);
    memset(&s->resp, 0, sizeof s->resp);
    return 0;
}

/* Starts an attempt; -1 when curl cannot (the request is finished with a
 * transport error by the caller). */
static int start(sft_http *h, req *r)
{
    if (reset_response(r) != 0) return -1;
    CURL *e = get_easy(h);
    if (!e) return -1;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (r->is_post) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Wait for a connection that may multiplex rather than open another.
     * Only for https: h2 is known from ALPN once TLS is up, whereas for a
     * plain http connection curl would wait for its first response's
     * headers, serializing every transfer behind a slow one. */
    if (!strncasecmp(r->url, "https:", 6)) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
#ifdef SFT_VERSION
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sftkit/" SFT_VERSION);
#else
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sftkit");
#endif
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(h->o.timeout_s * 1000 + 0.5));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->o.connect_timeout_s * 1000 + 0.5));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r->s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r->s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->s->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        put_easy(h, e);
        return -1;
    }
    r->easy = e;
    r->next = h->active;
    h->active = r;
    r->attempts++;
    h->inflight++;
    h->st.requests++;
    return 0;
}

/* A fresh response for a request that ends without a (new) attempt. */
static void blank_response(sft_http *h, req *r)
{
    if (reset_response(r) != 0) {
        memset(&h->spare, 0, sizeof h->spare);
        r->s = &h->spare;
        r->s_spare = 1;
    }
}

static void fill_response(req *r)
{
    sft_http_response *p = &r->s->resp;
    p->body = r->s->rbody ? r->s->rbody : "";
    p->body_len = r->s->rlen;
    p->retry_after = r->s->h_retry_after[0] ? r->s->h_retry_after : NULL;
    p->retry_after_ms = r->s->h_retry_after_ms[0] ? r->s->h_retry_after_ms : NULL;
    p->reset_requests = r->s->h_reset_requests[0] ? r->s->h_reset_requests : NULL;
    p->reset_tokens = r->s->h_reset_tokens[0] ? r->s->h_reset_tokens : NULL;
}

static void deliver(sft_http *h, req *r, enum sft_http_verdict v, int cancelled,
                    sft_http_done_fn on_done, void *ctx)
{
    fill_response(r);
    sft_http_result res = {
        .user = r->user, .r = &r->s->resp, .attempts = r->attempts, .verdict = v,
        .cancelled = cancelled,
    };
    h->cur_done = r;
    if (on_done) on_done(ctx, &res);
    h->cur_done = NULL;
    req_free(r);
}

/* Finishes an attempt whose transfer ended with rc (or could not start, or
 * was refused: then error is the reason and the request is not retried). */
static void finish(sft_http *h, req *r, CURLcode rc, const char *error,
                   sft_http_done_fn on_done, void *ctx)
{
    if (r->easy) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        for (req **pp = &h->active; *pp; pp = &(*pp)->next)
            if (*pp == r) {
                *pp = r->next;
                break;
            }
        r->next = NULL;
        curl_multi_remove_handle(h->multi, r->easy);
        put_easy(h, r->easy);
        r->easy = NULL;
        h->inflight--;
        r->s->resp.status = rc == CURLE_OK ? (int)status : 0;
    } else {
        blank_response(h, r);
    }
    fill_response(r);
    enum sft_http_verdict v;
    if (error) {
        r->s->resp.status = 0;
        r->s->resp.transport_error = error;
        v = SFT_HTTP_DONE;
    } else {
        if (rc != CURLE_OK) {
            r->s->resp.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
            if (r->s->too_big)
                r->s->resp.transport_error = "response body larger than 64 MiB";
            else
                r->s->resp.transport_error = r->s->errbuf[0] ? r->s->errbuf : curl_easy_strerror(rc);
            h->st.transport_errors++;
        } else if (r->s->resp.status == 429) {
            h->st.http_429++;
        } else if (r->s->resp.status >= 500) {
            h->st.http_5xx++;
        }
        v = h->classify(h->classify_ctx, &r->s->resp);
    }
    r->last_verdict = v;
    if (v == SFT_HTTP_QUOTA) {
        h->stopped = 1;
        deliver(h, r, v, 0, on_done, ctx);
    } else if (v == SFT_HTTP_RETRY && h->stopped) {
        deliver(h, r, v, 1, on_done, ctx);
    } else if (v == SFT_HTTP_RETRY && r->attempts <= h->o.max_retries) {
        double w = server_wait(&r->s->resp);
        if (w < 0) w = backoff(h, r->attempts - 1);
        r->not_before = now_s() + w;
        h->st.retries++;
        r->next = h->waiting;
        h->waiting = r;
    } else {
        deliver(h, r, v, 0, on_done, ctx);
    }
}

static void cancel_all(sft_http *h, sft_http_done_fn on_done, void *ctx)
{
    while (h->ready_head || h->waiting) {
        req *r;
        if (h->waiting) {
            r = h->waiting;
            h->waiting = r->next;
        } else {
            r = pop_ready(h);
        }
        if (!r->s) {
            blank_response(h, r);
            r->s->resp.transport_error = "cancelled";
            deliver(h, r, SFT_HTTP_DONE, 1, on_done, ctx);
        } else {
            deliver(h, r, r->last_verdict, 1, on_done, ctx);
        }
    }
}

/* Moves the retries that are due to the head of the ready queue; returns
 * the seconds until the next one is due (or a large number). */
static double wake_due(sft_http *h, double t)
{
    double next = 1e9;
    req **pp = &h->waiting, *due = NULL, **due_tail = &due;
    while (*pp) {
        req *r = *pp;
        if (r->not_before <= t) {
            *pp = r->next;
            r->next = NULL;
            *due_tail = r;
            due_tail = &r->next;
        } else {
            if (r->not_before - t < next) next = r->not_before - t;
            pp = &r->next;
        }
    }
    if (due) {   /* retries go first, in the order they came due */
        *due_tail = h->ready_head;
        if (!h->ready_head) {
            req *last = due;
            while (last->next) last = last->next;
            h->ready_tail = last;
        }
        h->ready_head = due;
    }
    return next;
}

int sft_http_run(sft_http *h, sft_http_done_fn on_done, void *ctx)
{
    for (;;) {
        double t = now_s();
        double wait = 1.0;
        if (h->stopped) {
            cancel_all(h, on_done, ctx);
        } else {
            double w = wake_due(h, t);
            if (w < wait) wait = w;
            while (h->ready_head && h->inflight < h->o.max_inflight && !h->stopped) {
                req *r = h->ready_head;
                double wr = bucket_wait(&h->rpm, 1, t);
                double wt = bucket_wait(&h->tpm, r->est_tokens, t);
                if (wr > 0 || wt > 0) {
                    double bw = wr > wt ? wr : wt;
                    if (bw < wait) wait = bw;
                    break;
                }
                pop_ready(h);
                char why[256];
                if (check_url(h->o.allow_insecure_http, r->url, why, sizeof why) != 0) {
                    /* never sent: the key would go in clear */
                    finish(h, r, CURLE_OK, "refused: plain http:// to a host that is not loopback "
                           "or not an http(s) URL", on_done, ctx);
                    continue;
                }
                if (h->rpm.rate > 0) h->rpm.level -= 1;
                if (h->tpm.rate > 0) h->tpm.level -= r->est_tokens;
                if (start(h, r) != 0) {
                    finish(h, r, CURLE_OK, "cannot start a transfer", on_done, ctx);
                    continue;
                }
            }
        }
        if (h->stopped && h->ready_head) continue;   /* on_done queued more: cancel them */
        if (!h->inflight && !h->ready_head && !h->waiting) break;

        int running = 0;
        if (curl_multi_perform(h->multi, &running) != CURLM_OK) return -1;
        int finished = 0;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            req *r = NULL;
            CURLcode rc = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            finish(h, r, rc, NULL, on_done, ctx);
            finished++;
        }
        if (finished) continue;
        if (wait < 0) wait = 0;
        int ms = (int)ceil(wait * 1000);
        if (ms > 1000) ms = 1000;
        if (curl_multi_poll(h->multi, NULL, 0, ms, NULL) != CURLM_OK) return -1;
    }
    return 0;
}
