/* http-drive: runs chat-completions requests through lib/net/http for the
 * tests (tests/net/http.sh).
 *
 *   http-drive [-j N] [--rpm R] [--tpm T] [--max-retries N] [--timeout S]
 *              [--connect-timeout S] [--allow-insecure-http] [--est-tokens N]
 *              [--stop-after N] [--trace] [--no-check] URL [FILE]
 *   http-drive --check URL [--allow-insecure-http]
 *
 * Each line of FILE (or stdin) is one user prompt, POSTed to URL as
 * {"model":"fake","messages":[{"role":"user","content":LINE}]} with
 * "Authorization: Bearer $OPENAI_API_KEY" when that is set. Prints one line
 * per request, in input order:
 *
 *   req=I status=S attempts=A verdict=DONE|RETRY|QUOTA cancelled=0|1 elapsed=SECONDS bytes=N [error=...]
 *
 * then "total elapsed=SECONDS requests=… retries=… transport_errors=…
 * http_429=… http_5xx=…". --trace prints every attempt on stderr;
 * --no-check skips sft_http_check_url (to test the refusal at send). --check prints "ok" or "refused: REASON" (exit 1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "net/http.h"

typedef struct {
    int done, status, attempts, cancelled;
    enum sft_http_verdict verdict;
    double elapsed;
    size_t bytes;
    char *error;
} outcome;

typedef struct {
    sft_http *h;
    outcome *out;
    double t0;
    int ndone, stop_after;
} drive;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_done(void *ctx, const sft_http_result *res)
{
    drive *d = ctx;
    outcome *o = &d->out[(size_t)res->user];
    o->done = 1;
    o->status = res->r->status;
    o->attempts = res->attempts;
    o->verdict = res->verdict;
    o->cancelled = res->cancelled;
    o->elapsed = now_s() - d->t0;
    o->bytes = res->r->body_len;
    if (res->r->transport_error) o->error = strdup(res->r->transport_error);
    if (res->r->status == 200) {
        cJSON *j = cJSON_ParseWithLength(res->r->body, res->r->body_len);
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(u, "total_tokens");
        if (cJSON_IsNumber(t)) sft_http_tokens(d->h, t->valuedouble);
        cJSON_Delete(j);
    }
    if (d->stop_after > 0 && ++d->ndone == d->stop_after) sft_http_stop(d->h);
}

static int trace;
static double trace_t0;

/* --trace: every attempt on stderr (status, error, waits asked for) */
static enum sft_http_verdict classify(void *ctx, const sft_http_response *r)
{
    enum sft_http_verdict v = sft_http_classify_openai(ctx, r);
    if (trace)
        fprintf(stderr, "attempt t=%.3f status=%d verdict=%d timed_out=%d error=%s retry-after=%s "
                "retry-after-ms=%s reset-requests=%s reset-tokens=%s\n", now_s() - trace_t0,
                r->status, (int)v, r->timed_out, r->transport_error ? r->transport_error : "-",
                r->retry_after ? r->retry_after : "-", r->retry_after_ms ? r->retry_after_ms : "-",
                r->reset_requests ? r->reset_requests : "-", r->reset_tokens ? r->reset_tokens : "-");
    return v;
}

static void usage(FILE *f)
{
    fputs("usage: http-drive [-j N] [--rpm R] [--tpm T] [--max-retries N] [--timeout S]\n"
          "                  [--connect-timeout S] [--allow-insecure-http] [--est-tokens N]\n"
          "                  [--stop-after N] [--trace] [--no-check] URL [FILE]\n"
          "       http-drive --check URL [--allow-insecure-http]\n", f);
}

int main(int argc, char **argv)
{
    sft_http_opts o = {.max_inflight = 8, .max_retries = 6, .seed = 1};
    int check = 0, stop_after = 0, no_check = 0;
    double est = 0;
    static const struct option lo[] = {
        {"rpm", required_argument, 0, 'r'},       {"tpm", required_argument, 0, 'T'},
        {"max-retries", required_argument, 0, 'm'}, {"timeout", required_argument, 0, 't'},
        {"connect-timeout", required_argument, 0, 'c'},
        {"allow-insecure-http", no_argument, 0, 'a'}, {"est-tokens", required_argument, 0, 'e'},
        {"stop-after", required_argument, 0, 's'}, {"check", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'}, {"trace", no_argument, 0, 'x'},
        {"no-check", no_argument, 0, 'n'},            {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "j:h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': o.max_inflight = atoi(optarg); break;
        case 'r': o.rpm = atof(optarg); break;
        case 'T': o.tpm = atof(optarg); break;
        case 'm': o.max_retries = atoi(optarg); break;
        case 't': o.timeout_s = atof(optarg); break;
        case 'c': o.connect_timeout_s = atof(optarg); break;
        case 'a': o.allow_insecure_http = 1; break;
        case 'e': est = atof(optarg); break;
        case 's': stop_after = atoi(optarg); break;
        case 'C': check = 1; break;
        case 'x': trace = 1; break;
        case 'n': no_check = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *url = argv[optind];
    char err[512];
    sft_http *h = sft_http_new(&o, classify, NULL, err, sizeof err);
    if (!h) {
        fprintf(stderr, "http-drive: %s\n", err);
        return 70;
    }
    if (!no_check && sft_http_check_url(h, url, err, sizeof err) != 0) {
        printf("refused: %s\n", err);
        sft_http_free(h);
        return 1;
    }
    if (check) {
        printf("ok\n");
        sft_http_free(h);
        return 0;
    }
    FILE *in = optind + 1 < argc ? fopen(argv[optind + 1], "r") : stdin;
    if (!in) {
        perror(argv[optind + 1]);
        sft_http_free(h);
        return 66;
    }
    const char *key = getenv("OPENAI_API_KEY");
    char *auth = NULL;
    if (key && *key) {
        auth = malloc(strlen(key) + 32);
        if (!auth) return 70;
        sprintf(auth, "Authorization: Bearer %s", key);
    }
    const char *headers[] = {auth, NULL};

    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t k;
    while ((k = getline(&line, &cap, in)) > 0) {
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r')) line[--k] = '\0';
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "model", "fake");
        cJSON *msgs = cJSON_AddArrayToObject(req, "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", line);
        cJSON_AddItemToArray(msgs, m);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        if (!body || sft_http_post(h, url, auth ? headers : headers + 1, body, strlen(body), est,
                                   (void *)n) != 0) {
            fprintf(stderr, "http-drive: out of memory\n");
            return 70;
        }
        free(body);
        n++;
    }
    free(line);
    if (in != stdin) fclose(in);

    drive d = {.h = h, .out = calloc(n ? n : 1, sizeof(outcome)), .t0 = trace_t0 = now_s(),
               .stop_after = stop_after};
    if (!d.out) return 70;
    int rc = sft_http_run(h, on_done, &d);
    double total = now_s() - d.t0;
    static const char *vname[] = {"DONE", "RETRY", "QUOTA"};
    for (size_t i = 0; i < n; i++) {
        outcome *x = &d.out[i];
        printf("req=%zu status=%d attempts=%d verdict=%s cancelled=%d elapsed=%.3f bytes=%zu", i,
               x->status, x->attempts, x->done ? vname[x->verdict] : "NONE", x->cancelled,
               x->elapsed, x->bytes);
        if (x->error) printf(" error=%s", x->error);
        printf("\n");
        free(x->error);
    }
    sft_http_stats st;
    sft_http_get_stats(h, &st);
    printf("total elapsed=%.3f requests=%llu retries=%llu transport_errors=%llu http_429=%llu "
           "http_5xx=%llu\n",
           total, (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.transport_errors, (unsigned long long)st.http_429,
           (unsigned long long)st.http_5xx);
    free(d.out);
    free(auth);
    sft_http_free(h);
    return rc == 0 ? 0 : 70;
}
