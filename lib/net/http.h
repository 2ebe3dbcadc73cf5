/* HTTP requests to LLM and map APIs over libcurl's multi interface: many
 * requests in flight on reused connections (HTTP/2 where the server speaks
 * it), request-per-minute and token-per-minute limits, and retries as the
 * official OpenAI clients do them.
 *
 * A request is queued with sft_http_post(); sft_http_run() drives the
 * transfers and calls on_done once per request with its final outcome
 * (after its retries). Classification of a response is the caller's
 * (classify callback): OpenAI's rules are sft_http_classify_openai().
 *
 * Retries: exponential backoff from 0.5 s doubling to at most 8 s, times a
 * random jitter in [0.75, 1.0] (as openai-python), unless the response says
 * how long to wait: retry-after-ms, retry-after (seconds or an HTTP date),
 * or x-ratelimit-reset-requests / x-ratelimit-reset-tokens ("1s", "6m0s",
 * "20ms"), the longest of those that are present, capped at 60 s.
 *
 * The x-ratelimit-reset-* headers count only for a 429 (OpenAI sends them
 * with every response, as the time until the window is full again).
 *
 * Limits: rpm allows one request each 60/rpm s (no burst); tpm refills
 * tpm/60 tokens a second with a burst of one second's worth; a request
 * goes when both allow it (a request larger than the burst waits for a
 * full bucket and leaves a debt). Each attempt is charged its est_tokens.
 *
 * Connections: kept alive in the multi handle's cache; https asks for
 * HTTP/2 (ALPN) and waits to multiplex on it; plain http is HTTP/1.1.
 * A response body over 64 MiB is a transport error. A URL that
 * sft_http_check_url() refuses is never sent: its request ends at once
 * (attempts 0, status 0, transport_error "refused: …", DONE).
 *
 * Secrets: header values given here are never logged or put in error
 * messages by this module. Nothing here prints or exits. */
#ifndef SFT_NET_HTTP_H
#define SFT_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sft_http sft_http;

typedef struct {
    int max_inflight;        /* requests in flight at once (-j; default 8) */
    double rpm;              /* requests per minute (0: no limit) */
    double tpm;              /* tokens per minute (0: no limit), fed by sft_http_tokens() */
    int max_retries;         /* retries after the first attempt (0: none; < 0: the default 6) */
    double timeout_s;        /* one attempt, whole transfer (default 600) */
    double connect_timeout_s;/* (default 10) */
    int allow_insecure_http; /* plain http:// to a host that is not loopback */
    uint64_t seed;           /* jitter */
} sft_http_opts;

/* What to do with a finished attempt. */
enum sft_http_verdict {
    SFT_HTTP_DONE,   /* a final answer (success or a permanent failure: on_done gets it) */
    SFT_HTTP_RETRY,  /* try again after the backoff (or the server's wait) */
    SFT_HTTP_QUOTA,  /* the account is out of quota: stop everything (exit 75) */
};

typedef struct {
    int status;              /* HTTP status; 0 when no response (transport error) */
    const char *body;        /* response body (NUL-terminated), may be empty */
    size_t body_len;
    const char *transport_error; /* curl's message when status is 0, else NULL */
    int timed_out;           /* the attempt hit timeout_s */
    /* response headers the retry logic reads (NULL when absent) */
    const char *retry_after, *retry_after_ms, *reset_requests, *reset_tokens;
} sft_http_response;

/* The final outcome of a request, given to on_done. */
typedef struct {
    void *user;                  /* as given to sft_http_post */
    const sft_http_response *r;  /* the last attempt */
    int attempts;                /* 1 + retries used */
    enum sft_http_verdict verdict; /* DONE, or RETRY when retries ran out, or QUOTA */
    int cancelled;               /* never sent or stopped by sft_http_stop() */
    /* Cancelled: attempts 0 and verdict DONE (status 0, transport_error
     * "cancelled") when never sent; else the last attempt and its verdict
     * (a request waiting for its retry, or in flight when a stop came and
     * its answer asked for a retry). r and its strings live until on_done
     * returns. */
} sft_http_result;

typedef enum sft_http_verdict (*sft_http_classify_fn)(void *ctx, const sft_http_response *r);
typedef void (*sft_http_done_fn)(void *ctx, const sft_http_result *res);

/* OpenAI's rules: 2xx done; 408, 409, 429, >= 500 and transport errors and
 * timeouts retried; 429 whose error code is "insufficient_quota" QUOTA;
 * other 4xx done (a permanent failure). */
enum sft_http_verdict sft_http_classify_openai(void *ctx, const sft_http_response *r);

/* NULL with a reason in err when curl cannot be set up. */
sft_http *sft_http_new(const sft_http_opts *o, sft_http_classify_fn classify, void *classify_ctx,
                       char *err, size_t errlen);
void sft_http_free(sft_http *h);

/* Refuses (returns -1 with a reason) a URL that is not http(s), or plain
 * http to a host other than localhost/127.0.0.0/8/::1 without
 * allow_insecure_http (the key would travel in clear). */
int sft_http_check_url(const sft_http *h, const char *url, char *err, size_t errlen);

/* Queues a POST (body copied; headers "Name: value" copied, NULL-ended).
 * est_tokens is what the request may cost against the tpm limit before its
 * usage is known. Returns 0, or -1 when out of memory. */
int sft_http_post(sft_http *h, const char *url, const char *const *headers, const char *body,
                  size_t len, double est_tokens, void *user);
/* The same for a GET (Naver's APIs). */
int sft_http_get(sft_http *h, const char *url, const char *const *headers, void *user);

/* Runs until every queued request is done (on_done may queue more), or
 * sft_http_stop() was called (or a QUOTA verdict came) and the transfers in
 * flight are finished: those still end DONE (or QUOTA) as usual.
 * Returns 0, or -1 when curl fails as a whole. */
int sft_http_run(sft_http *h, sft_http_done_fn on_done, void *ctx);
/* Stops: nothing new is sent; queued requests get on_done with cancelled.
 * Only sets a flag: safe from on_done and from a signal handler. */
void sft_http_stop(sft_http *h);
/* Reports tokens used (from a reply's usage) to the tpm limit. Called from
 * on_done, the count replaces that request's est_tokens charged at send
 * (the last attempt's); elsewhere it is charged as it is. */
void sft_http_tokens(sft_http *h, double tokens);

/* Counts for --report. */
typedef struct {
    uint64_t requests;   /* attempts sent */
    uint64_t retries;
    uint64_t transport_errors, http_429, http_5xx;
} sft_http_stats;
void sft_http_get_stats(const sft_http *h, sft_http_stats *s);

#endif
