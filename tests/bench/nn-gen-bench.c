/* nn-gen-bench: the generation figures of `make bench-nn`.
 *
 *   nn-gen-bench MODEL_DIR [--prefill N] [--decode N] [-t THREADS]
 *   nn-gen-bench --membw [-t THREADS] [--mib M]
 *
 * --membw: the memcpy bandwidth, the best of 5 copies of an M MiB buffer
 * (default 512; bytes copied per second, THREADS threads each copying its
 * share). Run apart so that its buffers do not count in the model's
 * resident memory.
 *
 * With a model directory (a Qwen2.5-0.5B-shaped random checkpoint from
 * tests/bench/gen-qwen-shape.py), measures:
 *   - prefill: N random token ids through nn_forward in chunks of 256, and
 *     the logits of the last one (wall clock, best of 2),
 *   - decode: N tokens one at a time after a 16-token prompt, each with the
 *     logits and a greedy choice (wall clock of the decode loop),
 *   - the weight bytes one token reads, the checkpoint's bytes and the peak
 *     resident memory (getrusage), after a warm-up pass that maps every page.
 * Prints one "key value" line per figure. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/cli.h"
#include "nn/model.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    char *dst;
    const char *src;
    size_t n;
} copy_job;

static void *copy_part(void *arg)
{
    copy_job *j = arg;
    memcpy(j->dst, j->src, j->n);
    return NULL;
}

/* bytes copied per second, best of 5, on nt threads */
static double memcpy_bandwidth(size_t bytes, int nt)
{
    char *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) return 0;
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        pthread_t th[64];
        copy_job jobs[64];
        size_t part = bytes / (size_t)nt;
        double t0 = now();
        for (int i = 0; i < nt; i++) {
            jobs[i] = (copy_job){b + (size_t)i * part, a + (size_t)i * part, part};
            if (i) pthread_create(&th[i], NULL, copy_part, &jobs[i]);
        }
        copy_part(&jobs[0]);
        for (int i = 1; i < nt; i++) pthread_join(th[i], NULL);
        double bw = (double)(part * (size_t)nt) / (now() - t0);
        if (bw > best) best = bw;
    }
    free(a);
    free(b);
    return best;
}

static int argmax(const float *x, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return (int)b;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    if (argc < 2) {
        fprintf(stderr, "usage: nn-gen-bench MODEL_DIR [--prefill N] [--decode N] [-t T] [--membw-mib M]\n");
        return 2;
    }
    const char *dir = argv[1];
    uint64_t prefill = 512, decode = 32, threads = 0, mib = 512;
    for (int i = 2; i + 1 < argc; i += 2) {
        uint64_t *dst = strcmp(argv[i], "--prefill") == 0 ? &prefill
                        : strcmp(argv[i], "--decode") == 0 ? &decode
                        : strcmp(argv[i], "-t") == 0       ? &threads
                        : strcmp(argv[i], "--mib") == 0    ? &mib
                                                           : NULL;
        if (!dst || sft_parse_u64(argv[i + 1], 0, 1 << 20, dst)) return sft_usage_error("bad option %s", argv[i]);
    }
    if (strcmp(dir, "--membw") == 0) {
        nn_pool *p = nn_pool_new((int)threads);
        int n = p ? nn_pool_size(p) : 1;
        nn_pool_free(p);
        printf("threads %d\nmemcpy_bytes_per_s %.0f\n", n, memcpy_bandwidth((size_t)mib << 20, n));
        return 0;
    }
    char err[1024];
    nn_model *m = nn_model_load(dir, err, sizeof err);
    if (!m) {
        sft_error("%s", err);
        return 65;
    }
    const nn_config *c = nn_model_config(m);
    nn_pool *pool = nn_pool_new((int)threads);
    int nt = nn_pool_size(pool);
    int64_t ctx = (int64_t)(prefill > decode + 16 ? prefill : decode + 16) + 1, chunk = 256;
    nn_state *s = nn_state_new(m, ctx, chunk);
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    int32_t *ids = malloc((size_t)ctx * sizeof *ids);
    if (!pool || !s || !logits || !ids) return 70;
    uint64_t rng = 12345;
    for (int64_t i = 0; i < ctx; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((rng >> 33) % (uint64_t)c->vocab_size);
    }
    printf("isa %s\nthreads %d\n", nn_isa_name(nn_get_isa()), nt);

    /* prefill: best of 2 (the first also maps every page of the weights) */
    double best = 0;
    for (int rep = 0; rep < 2; rep++) {
        nn_state_reset(s);
        double t0 = now();
        for (int64_t t = 0; t < (int64_t)prefill; t += chunk) {
            int64_t n = (int64_t)prefill - t < chunk ? (int64_t)prefill - t : chunk;
            if (nn_forward(m, s, pool, ids + t, n, err, sizeof err)) {
                sft_error("%s", err);
                return 65;
            }
        }
        nn_logits(m, s, pool, nn_state_chunk_len(s) - 1, 1, logits);
        double dt = now() - t0;
        if (!best || dt < best) best = dt;
    }
    printf("prefill_tokens %llu\nprefill_s %.4f\nprefill_tokens_per_s %.2f\n", (unsigned long long)prefill,
           best, (double)prefill / best);

    /* decode */
    nn_state_reset(s);
    if (nn_forward(m, s, pool, ids, 16, err, sizeof err)) {
        sft_error("%s", err);
        return 65;
    }
    nn_logits(m, s, pool, 15, 1, logits);
    int32_t next = argmax(logits, c->vocab_size);
    double t0 = now();
    for (uint64_t k = 0; k < decode; k++) {
        if (nn_forward(m, s, pool, &next, 1, err, sizeof err)) {
            sft_error("%s", err);
            return 65;
        }
        nn_logits(m, s, pool, 0, 1, logits);
        next = argmax(logits, c->vocab_size);
    }
    double dt = now() - t0;
    size_t per_token = nn_model_bytes_per_token(m);
    printf("decode_tokens %llu\ndecode_s %.4f\ndecode_tokens_per_s %.3f\n", (unsigned long long)decode, dt,
           (double)decode / dt);
    printf("bytes_per_token %zu\n", per_token);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("checkpoint_bytes %zu\nmax_rss_bytes %lld\n", nn_model_weight_bytes(m), (long long)ru.ru_maxrss * 1024);
    free(ids);
    free(logits);
    nn_state_free(s);
    nn_pool_free(pool);
    nn_model_free(m);
    return 0;
}
