/* matmul-bench: GFLOP/s of nn_matmul (lib/nn/cpu) against OpenBLAS
 * cblas_sgemm (CblasRowMajor, x NoTrans, W Trans: the same product) on the
 * shapes of Qwen2.5-0.5B; cblas_sgemv for T = 1. Driven by
 * tests/bench/matmul-bench.sh, which prints the table and checks targets.
 *
 *   matmul-bench [--threads N] [--impl LIST] [--min-time S] [--max-gflop G]
 *
 * --threads N   our pool and OpenBLAS both get N threads (0: all CPUs)
 * --impl LIST   comma-separated: avx512, avx2 (ours, F32 weights), bf16
 *               (ours, BF16 weights, best ISA), blas (default: all)
 * --min-time S  time each case for at least S seconds (default 0.15), best
 *               of the repetitions
 * --max-gflop G skip shapes of more than G GFLOP per product (default 60)
 * --only T,K,N  that one shape instead of the list
 *
 * Prints one line per case: T K N threads impl gflops seconds, tab-separated;
 * lines starting with # are comments (the OpenBLAS core). Results of ours are
 * checked against OpenBLAS's (exit 1 beyond 1e-4 relative). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "nn/cpu/kernels.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rs = 88172645463325252ull;
static float frand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((rs >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

typedef struct {
    int64_t T, K, N;
    float *x, *w, *out, *ref;
    uint16_t *wb;
    nn_pool *pool;
} bcase;

enum { I_AVX512, I_AVX2, I_BF16, I_BLAS, I_N };
static const char *inames[I_N] = {"ours-avx512", "ours-avx2", "ours-bf16", "blas"};

static void run(const bcase *c, int impl)
{
    if (impl == I_BLAS) {
        if (c->T == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->N, (int)c->K, 1.0f, c->w, (int)c->K,
                        c->x, 1, 0.0f, c->out, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->T, (int)c->N, (int)c->K,
                        1.0f, c->x, (int)c->K, c->w, (int)c->K, 0.0f, c->out, (int)c->N);
        return;
    }
    nn_mat m = {.data = impl == I_BF16 ? (const void *)c->wb : (const void *)c->w,
                .dtype = impl == I_BF16 ? NN_BF16 : NN_F32, .rows = c->N, .cols = c->K};
    nn_matmul(c->pool, c->out, c->x, c->T, &m, NULL, 1.0f, 0);
}

/* Best seconds per product over repetitions lasting min_time in all. */
static double timeit(const bcase *c, int impl, double min_time)
{
    run(c, impl); /* warm up */
    double best = 1e30, t_all = now();
    int reps = 0;
    do {
        double t0 = now();
        run(c, impl);
        double d = now() - t0;
        if (d < best) best = d;
        reps++;
    } while (reps < 2 || now() - t_all < min_time);
    return best;
}

static int check(const bcase *c, int impl)
{
    size_t n = (size_t)(c->T * c->N);
    double maxd = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)c->out[i] - c->ref[i]);
        if (d > maxd) maxd = d;
        if (fabs(c->ref[i]) > scale) scale = fabs(c->ref[i]);
    }
    /* bf16 weights are rounded: compare against OpenBLAS on the rounded
     * weights only for f32; for bf16 allow the rounding (2^-9 relative) */
    double tol = (impl == I_BF16 ? 2e-2 : 1e-4) * (scale > 0 ? scale : 1);
    if (maxd > tol) {
        fprintf(stderr, "matmul-bench: T=%lld K=%lld N=%lld %s differs from OpenBLAS by %g (scale %g)\n",
                (long long)c->T, (long long)c->K, (long long)c->N, inames[impl], maxd, scale);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    int threads = 1, want[I_N] = {1, 1, 1, 1};
    double min_time = 0.15, max_gflop = 60;
    long long only[3] = {0, 0, 0}; /* --only T,K,N: one shape */
    for (int i = 1; i < argc; i++) {
        uint64_t u;
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (sft_parse_u64(argv[++i], 0, 1024, &u)) return sft_usage_error("bad --threads '%s'", argv[i]);
            threads = (int)u;
        } else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) {
            if (sft_parse_double(argv[++i], &min_time) || min_time <= 0)
                return sft_usage_error("bad --min-time '%s'", argv[i]);
        }
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            if (sscanf(argv[++i], "%lld,%lld,%lld", &only[0], &only[1], &only[2]) != 3) only[0] = 0;
        } else if (!strcmp(argv[i], "--max-gflop") && i + 1 < argc)
            max_gflop = atof(argv[++i]);
        else if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
            const char *l = argv[++i];
            for (int j = 0; j < I_N; j++) {
                const char *nm = j == I_AVX512 ? "avx512" : j == I_AVX2 ? "avx2" : j == I_BF16 ? "bf16" : "blas";
                want[j] = 0;
                for (const char *p = l; (p = strstr(p, nm)); p += strlen(nm))
                    if ((p == l || p[-1] == ',') && (p[strlen(nm)] == ',' || !p[strlen(nm)])) want[j] = 1;
            }
        } else {
            fprintf(stderr, "usage: matmul-bench [--threads N] [--impl avx512,avx2,bf16,blas] [--min-time S] [--max-gflop G]\n");
            return 2;
        }
    }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    openblas_set_num_threads(threads);
    nn_pool *pool = nn_pool_new(threads);
    if (!pool) {
        fprintf(stderr, "matmul-bench: cannot start %d threads\n", threads);
        return 2;
    }
    if (!nn_isa_supported(NN_ISA_AVX512)) want[I_AVX512] = 0;
    if (!nn_isa_supported(NN_ISA_AVX2)) want[I_AVX2] = 0;
    enum nn_isa best = nn_isa_init();
    printf("# openblas core %s, threads %d, best isa %s\n", openblas_get_corename(), threads, nn_isa_name(best));
    static const int64_t Ts[] = {1, 16, 128, 512, 2048};
    static const int64_t KN[][2] = {{896, 896}, {896, 128}, {896, 4864}, {4864, 896}, {896, 151936}};
    int bad = 0;
    for (size_t s = 0; s < sizeof KN / sizeof *KN; s++) {
        const int64_t K = only[0] ? only[1] : KN[s][0], N = only[0] ? only[2] : KN[s][1];
        if (only[0] && s > 0) break;
        int64_t Tmax = only[0];
        for (size_t t = 0; t < sizeof Ts / sizeof *Ts; t++)
            if (2.0 * Ts[t] * K * N / 1e9 <= max_gflop) Tmax = Ts[t];
        bcase c = {.K = K, .N = N, .pool = pool};
        c.w = malloc((size_t)(N * K) * sizeof *c.w);
        c.wb = malloc((size_t)(N * K) * sizeof *c.wb);
        c.x = malloc((size_t)(Tmax * K) * sizeof *c.x);
        c.out = malloc((size_t)(Tmax * N) * sizeof *c.out);
        c.ref = malloc((size_t)(Tmax * N) * sizeof *c.ref);
        if (!c.w || !c.wb || !c.x || !c.out || !c.ref) {
            fprintf(stderr, "matmul-bench: out of memory\n");
            return 2;
        }
        for (int64_t i = 0; i < N * K; i++) {
            c.wb[i] = nn_f32_to_bf16(frand());
            c.w[i] = nn_bf16_to_f32(c.wb[i]); /* the same values in both */
        }
        for (int64_t i = 0; i < Tmax * K; i++) c.x[i] = frand();
        for (size_t t = 0; t < sizeof Ts / sizeof *Ts; t++) {
            c.T = only[0] ? only[0] : Ts[t];
            if (only[0] ? t > 0 : c.T > Tmax) continue;
            const double flop = 2.0 * c.T * K * N;
            run(&c, I_BLAS);
            memcpy(c.ref, c.out, (size_t)(c.T * N) * sizeof *c.ref);
            for (int impl = 0; impl < I_N; impl++) {
                if (!want[impl]) continue;
                if (impl == I_AVX512) nn_set_isa(NN_ISA_AVX512);
                if (impl == I_AVX2) nn_set_isa(NN_ISA_AVX2);
                if (impl == I_BF16) nn_set_isa(best);
                double sec = timeit(&c, impl, min_time);
                if (impl != I_BLAS) bad |= check(&c, impl);
                printf("%lld\t%lld\t%lld\t%d\t%s\t%.2f\t%.6f\n", (long long)c.T, (long long)K, (long long)N,
                       threads, inames[impl], flop / sec / 1e9, sec);
                fflush(stdout);
            }
        }
        free(c.w);
        free(c.wb);
        free(c.x);
        free(c.out);
        free(c.ref);
    }
    nn_pool_free(pool);
    return bad;
}
