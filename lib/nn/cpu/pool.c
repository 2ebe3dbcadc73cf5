/* The thread pool: nthreads-1 persistent workers plus the caller. A call to
 * nn_pool_for publishes the job and bumps a generation counter; workers spin
 * on it for a short while (decode makes ~10 calls per layer per token, a few
 * microseconds apart), then sleep on a condition variable. Chunks of the
 * range are handed out from an atomic counter (dynamic scheduling: causal
 * attention rows have unequal costs). One nn_pool_for at a time per pool;
 * fn must not call nn_pool_for on the same pool. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/cpu/kern.h"

#define SPIN_WORKER 4000 /* pauses before a worker sleeps (some tens of us) */

typedef struct {
    float *p;
    size_t cap;
    char pad[64 - sizeof(float *) - sizeof(size_t)]; /* no false sharing */
} scratch_slot;

typedef struct {
    struct nn_pool *pool;
    int tid;
} worker_arg;

struct nn_pool {
    int n;
    pthread_t *th;
    worker_arg *args;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nsleep; /* under mu */
    _Atomic unsigned gen;
    _Atomic int stop;
    /* the job */
    nn_range_fn fn;
    void *ctx;
    int64_t items, chunk;
    int stat; /* static split: thread i runs [i*n/size, (i+1)*n/size) */
    _Atomic int64_t next;
    _Atomic int done;
    scratch_slot *scratch;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_chunks(struct nn_pool *p, int tid)
{
    if (p->stat) {
        int64_t b = p->items * tid / p->n, e = p->items * (tid + 1) / p->n;
        if (b < e) p->fn(p->ctx, b, e, tid);
        return;
    }
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed);
        if (b >= p->items) break;
        int64_t e = b + p->chunk < p->items ? b + p->chunk : p->items;
        p->fn(p->ctx, b, e, tid);
    }
}

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    struct nn_pool *p = wa->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN_WORKER) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            p->nsleep++;
            while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen)
                pthread_cond_wait(&p->cv, &p->mu);
            p->nsleep--;
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        run_chunks(p, wa->tid);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

nn_pool *nn_pool_new(int nthreads)
{
    nn_isa_init();
    if (nthreads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = c > 0 ? (int)(c < 1024 ? c : 1024) : 1;
    }
    struct nn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = nthreads;
    p->scratch = calloc((size_t)nthreads, sizeof *p->scratch);
    p->th = calloc((size_t)nthreads, sizeof *p->th);
    p->args = calloc((size_t)nthreads, sizeof *p->args);
    if (!p->scratch || !p->th || !p->args) goto fail;
    if (pthread_mutex_init(&p->mu, NULL)) goto fail;
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        goto fail;
    }
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->done, 0);
    for (int i = 1; i < nthreads; i++) {
        p->args[i].pool = p;
        p->args[i].tid = i;
        if (pthread_create(&p->th[i], NULL, worker, &p->args[i])) {
            nn_pool_free(p);
            return NULL;
        }
        p->started = i;
    }
    return p;
fail:
    free(p->scratch);
    free(p->th);
    free(p->args);
    free(p);
    return NULL;
}

void nn_pool_free(nn_pool *p)
{
    if (!p) return;
    if (p->started > 0) {
        atomic_store_explicit(&p->stop, 1, memory_order_release);
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i <= p->started; i++) pthread_join(p->th[i], NULL);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    for (int i = 0; i < p->n; i++) free(p->scratch[i].p);
    free(p->scratch);
    free(p->th);
    free(p->args);
    free(p);
}

int nn_pool_size(const nn_pool *p) { return p ? p->n : 1; }

float *nn_pool_scratch(nn_pool *p, int tid, size_t nfloats)
{
    if (!p || tid < 0 || tid >= p->n) return NULL;
    scratch_slot *s = &p->scratch[tid];
    if (s->cap >= nfloats && s->p) return s->p;
    size_t bytes = (nfloats * sizeof(float) + 63) & ~(size_t)63;
    float *np = aligned_alloc(64, bytes ? bytes : 64);
    if (!np) return NULL;
    free(s->p);
    s->p = np;
    s->cap = nfloats;
    return np;
}

static void pool_run(nn_pool *p, nn_range_fn fn, void *ctx, int64_t n, int64_t grain, int stat)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (!p || p->n == 1 || n <= grain || (stat && n == 1)) {
        fn(ctx, 0, n, 0);
        return;
    }
    p->stat = stat;
    /* About four chunks per thread, none smaller than grain. */
    int64_t per = (n + (int64_t)p->n * 4 - 1) / ((int64_t)p->n * 4);
    p->chunk = per > grain ? per : grain;
    p->fn = fn;
    p->ctx = ctx;
    p->items = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    if (p->nsleep) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    long spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n - 1) {
        if (++spins < 20000)
            cpu_relax();
        else
            sched_yield(); /* a worker may be waiting for this CPU */
    }
}

void nn_pool_for(nn_pool *p, nn_range_fn fn, void *ctx, int64_t n, int64_t grain)
{
    pool_run(p, fn, ctx, n, grain, 0);
}

void nn_pool_for_static(nn_pool *p, nn_range_fn fn, void *ctx, int64_t n)
{
    pool_run(p, fn, ctx, n, 1, 1);
}
