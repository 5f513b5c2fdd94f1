/* The runtime thread pool for JIT kernels, and the thread-count policy shared with
 * OpenBLAS.
 *
 * One process-wide pool of worker threads, created lazily (up to the largest count ever
 * requested, minus the caller). jx_rt_parallel publishes a job (fn, ctx, n, chunk) under
 * a new generation number and runs chunks itself; chunks are claimed with a CAS on a
 * 64-bit ticket (generation << 32 | first unclaimed << 16 | end of the unclaimed), the
 * caller from the front and the workers from the back, so a worker that wakes late can
 * never claim a chunk of a later job, and a job's fields are only read after a
 * successful claim, while the job is still unfinished and its caller still waiting. The
 * caller returns when every chunk is done.
 *
 * Idle workers spin briefly on the ticket (the next kernel usually follows within
 * microseconds), then sleep on a condition variable. jx_rt_pool_park makes spinning
 * workers sleep at once: it is called before every BLAS call, so our workers never
 * compete with OpenBLAS's threads for the cores while a GEMM runs.
 *
 * One job at a time: a second concurrent caller (another thread running an executable)
 * runs its loop serially instead of waiting, so the pool never oversubscribes. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "jx_rt.h"

/* POOL_SPIN: polls of an idle worker before it sleeps, about 50 us here (5000 polls,
 * 2.6 us, let a batch-1 predict's worker fall asleep between its gemvs and calls, and
 * waking it took longer than the work: 30-60 us on 2 threads against 16 us when it stays
 * awake, as OpenBLAS's own threads do for far longer); jx_rt_pool_park stops the spin
 * before BLAS runs. POOL_CHUNKS_PER_THREAD: chunks are claimed dynamically, so
 * when a worker is preempted (another process on its core) the others take over all
 * but the chunk it holds. */
enum { POOL_MAX = 64, POOL_SPIN = 100000, POOL_CHUNKS_PER_THREAD = 16 };

typedef struct pool_job {
    void (*fn)(void *ctx, int64_t lo, int64_t hi);
    void *ctx;
    int64_t n, chunk;
} pool_job;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER; /* held while a job runs */
static int pool_nworkers, pool_sleepers;
static pool_job pool_cur;
static _Atomic uint64_t pool_ticket;  /* generation << 32 | front << 16 | back */
static _Atomic uint32_t pool_done;    /* chunks finished in the current generation */
static _Atomic int pool_parked;       /* 1: idle workers sleep instead of spinning */

/* Claims the next unclaimed chunk of generation gen, the first one (front) or the last
 * one; returns its index or -1 (job over or newer). The unclaimed chunks are [front,
 * back): the caller takes them from the front and the workers from the back, so with two
 * threads and two chunks each thread gets the same half of the range call after call
 * (a gemv's slice of a weight matrix stays in that core's cache). */
static int64_t pool_claim(uint32_t gen, int front) {
    uint64_t t = atomic_load_explicit(&pool_ticket, memory_order_acquire);
    for (;;) {
        uint64_t f = (t >> 16) & 0xffff, b = t & 0xffff;
        if ((uint32_t)(t >> 32) != gen || f >= b) return -1;
        uint64_t next = front ? t + (1u << 16) : t - 1;
        if (atomic_compare_exchange_weak_explicit(&pool_ticket, &t, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (int64_t)(front ? f : b - 1);
    }
}

/* Runs chunk i of job j. */
static void pool_run_chunk(const pool_job *j, int64_t i) {
    int64_t lo = i * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    j->fn(j->ctx, lo, hi);
}

/* A worker: waits for a new generation, then claims and runs chunks of it. */
static void *pool_worker(void *arg) {
    (void)arg;
    uint32_t seen = (uint32_t)(atomic_load(&pool_ticket) >> 32);
    for (;;) {
        uint32_t gen = seen;
        for (int spin = 0; spin < POOL_SPIN && gen == seen; spin++) {
            if (atomic_load_explicit(&pool_parked, memory_order_relaxed)) break;
            gen = (uint32_t)(atomic_load_explicit(&pool_ticket, memory_order_acquire) >> 32);
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool_mu);
            pool_sleepers++;
            while ((gen = (uint32_t)(atomic_load(&pool_ticket) >> 32)) == seen)
                pthread_cond_wait(&pool_cv, &pool_mu);
            pool_sleepers--;
            pthread_mutex_unlock(&pool_mu);
        }
        seen = gen;
        for (int64_t i; (i = pool_claim(gen, 0)) >= 0;) {
            pool_job j = pool_cur; /* stable: chunk i is unfinished, the caller waits */
            pool_run_chunk(&j, i);
            atomic_fetch_add_explicit(&pool_done, 1, memory_order_release);
        }
    }
    return NULL;
}

/* Starts workers until there are `want` of them (fewer if thread creation fails). */
static void pool_grow(int want) {
    if (want > POOL_MAX) want = POOL_MAX;
    pthread_mutex_lock(&pool_mu);
    while (pool_nworkers < want) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, pool_worker, NULL);
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        pool_nworkers++;
    }
    pthread_mutex_unlock(&pool_mu);
}

/* See jx_rt.h. */
void jx_rt_parallel(void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx, int64_t n,
                    int64_t grain, int32_t nthreads) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (nthreads <= 1 || n <= grain || pthread_mutex_trylock(&pool_busy) != 0) {
        fn(ctx, 0, n);
        return;
    }
    if (pool_nworkers < nthreads - 1) pool_grow(nthreads - 1);
    /* a few chunks per thread (dynamic balance when a core is busy), whole grains */
    int64_t parts = (int64_t)nthreads * POOL_CHUNKS_PER_THREAD;
    int64_t chunk = (n + parts - 1) / parts;
    chunk = (chunk + grain - 1) / grain * grain;
    uint32_t nch = (uint32_t)((n + chunk - 1) / chunk); /* <= parts < 2^16 */
    pool_cur = (pool_job){fn, ctx, n, chunk};
    atomic_store_explicit(&pool_done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool_parked, 0, memory_order_relaxed);
    uint32_t gen = (uint32_t)(atomic_load(&pool_ticket) >> 32) + 1;
    atomic_store_explicit(&pool_ticket, (uint64_t)gen << 32 | (uint64_t)nch,
                          memory_order_release);
    pthread_mutex_lock(&pool_mu);
    if (pool_sleepers > 0) pthread_cond_broadcast(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    for (int64_t i; (i = pool_claim(gen, 1)) >= 0;) {
        pool_run_chunk(&pool_cur, i);
        atomic_fetch_add_explicit(&pool_done, 1, memory_order_release);
    }
    for (int spin = 0; atomic_load_explicit(&pool_done, memory_order_acquire) < nch; spin++)
        if (spin >= 1000) sched_yield(); /* a worker holding a chunk may be preempted */
    pthread_mutex_unlock(&pool_busy);
}

/* See jx_rt.h. */
void jx_rt_pool_park(void) {
    atomic_store_explicit(&pool_parked, 1, memory_order_relaxed);
}

/* See jx_rt.h. */
int jx_rt_threads(int requested) {
    if (requested > 0) return requested > POOL_MAX + 1 ? POOL_MAX + 1 : requested;
    const char *s = getenv("JX_NUM_THREADS");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == 0 && v > 0) return v > POOL_MAX + 1 ? POOL_MAX + 1 : (int)v;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1 : c > POOL_MAX + 1 ? POOL_MAX + 1 : (int)c;
}
