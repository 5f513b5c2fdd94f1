/* Concurrency: executables with different thread counts running GEMMs at once (OpenBLAS's
 * thread count is process-wide), and jx_jit_trace functions called from several threads
 * while they compile. Run under ThreadSanitizer by ./tools/test --tsan. */
#include <cblas.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "jit/jit.h"
#include "jitcheck.h"

/* ---- executables with different thread counts ------------------------------------------ */

/* Sizes: x[CM,CK] . w1[CK,CN] is 7.1M multiply-adds (run multithreaded, above jx's 4M
 * cut-off); h[CM,CN] . w2[CN,CS] is 0.6M (one thread in jx, though above OpenBLAS's own
 * 2^18 cut-off, so it would use every thread OpenBLAS is set to). */
enum { CM = 192, CK = 192, CN = 192, CS = 16, ITERS = 200, ROUNDS = 3 };

/* f(x, w1, b, w2) = (relu(x . w1 + b) . w2, sum(h * h)) */
static void net(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_dot_general(in[0], in[1], JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    h = jx_relu(jx_add(h, in[2]));
    out[0] = jx_dot_general(h, in[3], JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[1] = jx_sum_all(jx_mul(h, h));
}

#define NET_TYPES                                                                          \
    {JX_TYPE(JX_F32, CM, CK), JX_TYPE(JX_F32, CK, CN), JX_TYPE(JX_F32, CN),                 \
     JX_TYPE(JX_F32, CN, CS)}

/* One thread's work: run e ITERS times, comparing bit for bit with want. */
typedef struct net_job {
    jx_exe *e;
    jx_array **in, **want;
    int bad; /* iterations whose results differed or failed */
} net_job;

/* 1 if arrays a and b hold the same bytes. */
static int same_bits(jx_array *a, jx_array *b) {
    return jx_array_nbytes(a) == jx_array_nbytes(b) &&
           memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a)) == 0;
}

static void *net_thread(void *arg) {
    net_job *j = arg;
    for (int it = 0; it < ITERS; it++) {
        jx_array *out[2] = {NULL, NULL};
        if (jx_exe_run(j->e, j->in, out) < 0 || !same_bits(out[0], j->want[0]) ||
            !same_bits(out[1], j->want[1]))
            j->bad++;
        free_all(out, 2);
    }
    return NULL;
}

/* Results of GEMMs do not depend on OpenBLAS's thread count (it splits M and N, not K):
 * so results of different thread counts can be compared bit for bit below. */
TEST(gemm_results_independent_of_thread_count) {
    jx_type net_types[4] = NET_TYPES;
    jx_fn *f = jx_trace(net, 4, net_types, 2, NULL);
    jx_array *in[4], *want[2] = {0};
    for (int i = 0; i < 4; i++) in[i] = rand_array(net_types[i], -1, 1, 0);
    for (int nt = 1; nt <= 4 && f; nt++) {
        jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, nt, 1});
        jx_array *out[2] = {NULL, NULL};
        CHECK(e && jx_exe_run(e, in, out) == 0);
        if (nt == 1) {
            want[0] = out[0], want[1] = out[1];
        } else {
            CHECK(out[0] && same_bits(out[0], want[0]));
            CHECK(out[1] && same_bits(out[1], want[1]));
            free_all(out, 2);
        }
        jx_exe_free(e);
    }
    free_all(want, 2);
    free_all(in, 4);
    jx_fn_free(f);
}

/* Two executables with different thread counts (2 and 3) run GEMMs big and small at
 * once from four threads (two on each); every result equals the one-thread executable's, and the
 * user's own OpenBLAS setting (4) is in force again afterwards. */
TEST(two_executables_different_thread_counts) {
    jx_type net_types[4] = NET_TYPES;
    jx_fn *f = jx_trace(net, 4, net_types, 2, NULL);
    jx_exe *ref = jx_jit(f, &(jx_jit_opts){NULL, 1, 1});
    jx_exe *e[2] = {jx_jit(f, &(jx_jit_opts){NULL, 2, 1}), jx_jit(f, &(jx_jit_opts){NULL, 3, 1})};
    CHECK(ref && e[0] && e[1]);
    if (!ref || !e[0] || !e[1]) goto done;
    int user = openblas_get_num_threads();
    openblas_set_num_threads(4);
    net_job job[2];
    jx_array *in[2][4], *want[2][2] = {{0}};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 4; i++) in[k][i] = rand_array(net_types[i], -1, 1, 0);
        CHECK(jx_exe_run(ref, in[k], want[k]) == 0);
        job[k] = (net_job){e[k], in[k], want[k], 0};
    }
    CHECK(openblas_get_num_threads() == 4);
    /* a lost setting stays lost; the old set-call-restore lost it in 9 runs of 10 */
    for (int round = 0; round < ROUNDS; round++) {
        net_job job2[2] = {job[0], job[1]}; /* a second thread on each executable */
        pthread_t th[4];
        for (int k = 0; k < 4; k++)
            CHECK(pthread_create(&th[k], NULL, net_thread, k < 2 ? &job[k] : &job2[k - 2]) == 0);
        for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
        for (int k = 0; k < 2; k++) CHECK(job[k].bad == 0 && job2[k].bad == 0);
        CHECK(openblas_get_num_threads() == 4); /* the user's setting, not a jx count */
    }
    for (int k = 0; k < 2; k++) {
        free_all(in[k], 4);
        free_all(want[k], 2);
    }
    openblas_set_num_threads(user);
done:
    jx_exe_free(e[0]);
    jx_exe_free(e[1]);
    jx_exe_free(ref);
    jx_fn_free(f);
}

/* Big kernels the runtime pool splits: elementwise, a row reduction and a column
 * reduction over x f32[PR, PC]. */
enum { PR = 512, PC = 520, PITERS = 20 }; /* 266240 elements: above the 2 MiB split */
static void big_loops(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(jx_exp(in[0]), jx_tanh(in[0]));
    out[1] = jx_log_softmax(in[0], 1);
    out[2] = jx_reduce_sum(jx_logistic(in[0]), JX_INTS(0));
}

/* One thread's work on the pool test: PITERS calls compared bit for bit. */
static void *pool_thread(void *arg) {
    net_job *j = arg;
    for (int it = 0; it < PITERS; it++) {
        jx_array *out[3] = {NULL, NULL, NULL};
        int bad = jx_exe_run(j->e, j->in, out) < 0;
        for (int o = 0; o < 3 && !bad; o++) bad = !same_bits(out[o], j->want[o]);
        j->bad += bad;
        free_all(out, 3);
    }
    return NULL;
}

/* Executables on 2 and 3 threads share the one runtime pool from four threads at once
 * (one caller gets the pool, the others run their loops serially): every result equals
 * the one-thread executable's bit for bit (each element and each row or column sum is
 * computed by one thread, whatever the split). */
TEST(thread_pool_shared_by_concurrent_callers) {
    jx_type tx = JX_TYPE(JX_F32, PR, PC);
    jx_fn *f = jx_trace(big_loops, 1, &tx, 3, NULL);
    jx_exe *ref = jit_compile_keep(f, &(jx_jit_opts){NULL, 1, 1});
    char *ll = jit_exe_llvm(ref, 0);
    CHECK(ll && strstr(ll, "jx_rt_parallel") != NULL); /* the loops are split */
    free(ll);
    jx_exe *e[2] = {jx_jit(f, &(jx_jit_opts){NULL, 2, 1}), jx_jit(f, &(jx_jit_opts){NULL, 3, 1})};
    CHECK(ref && e[0] && e[1]);
    jx_array *x = rand_array(tx, -3, 3, 0), *want[3] = {NULL, NULL, NULL};
    CHECK(ref && jx_exe_run(ref, &x, want) == 0);
    net_job job[4];
    pthread_t th[4];
    for (int k = 0; k < 4 && e[0] && e[1] && want[0]; k++) {
        job[k] = (net_job){e[k % 2], &x, want, 0};
        CHECK(pthread_create(&th[k], NULL, pool_thread, &job[k]) == 0);
    }
    for (int k = 0; k < 4 && e[0] && e[1] && want[0]; k++) {
        pthread_join(th[k], NULL);
        CHECK(job[k].bad == 0);
    }
    free_all(want, 3);
    jx_array_free(x);
    jx_exe_free(e[0]);
    jx_exe_free(e[1]);
    jx_exe_free(ref);
    jx_fn_free(f);
}

/* ---- jx_jit_trace from several threads ------------------------------------------------- */

/* Shared state of the jitfn tests. */
typedef struct trace_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int tracing;   /* the slow signature's trace has started */
    int hit_done;  /* the other thread's call on a compiled signature has returned */
    int saw_hit;   /* the slow trace saw hit_done before its deadline */
    _Atomic int traces;
} trace_sync;

/* exp(x); tracing f32[5] waits (up to 20 s, so a regression fails instead of hanging)
 * until another thread's call on a compiled signature has returned. */
static void slow_exp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    trace_sync *s = user;
    atomic_fetch_add(&s->traces, 1);
    if (jx_val_type(in[0]).shape[0] == 5) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 20;
        pthread_mutex_lock(&s->mu);
        s->tracing = 1;
        pthread_cond_broadcast(&s->cv);
        while (!s->hit_done && pthread_cond_timedwait(&s->cv, &s->mu, &dl) != ETIMEDOUT) {}
        s->saw_hit = s->hit_done;
        pthread_mutex_unlock(&s->mu);
    }
    out[0] = jx_exp(in[0]);
}

/* Calls jf on a new f32[n] filled with v; 1 if it returns exp(v) everywhere. */
static int call_exp(jx_jitfn *jf, int64_t n, double v) {
    jx_array *x = jx_array_new(JX_F32, 1, &n), *out[1] = {NULL};
    jx_array_fill(x, v);
    int ok = jx_jitfn_run(jf, &x, out) == 0;
    for (int64_t i = 0; ok && i < n; i++) ok = check_near(jx_array_get(out[0], i), exp(v), 1e-6);
    jx_array_free(out[0]);
    jx_array_free(x);
    return ok;
}

typedef struct exp_job {
    jx_jitfn *jf;
    int64_t n;
    int ok;
} exp_job;

static void *exp_thread(void *arg) {
    exp_job *j = arg;
    j->ok = call_exp(j->jf, j->n, 0.5);
    return NULL;
}

/* A call whose signature is compiled runs while another thread traces a new one (it
 * used to wait for the whole trace and compile under the function's lock). */
TEST(jitfn_hit_does_not_wait_for_a_compile) {
    trace_sync s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
    jx_jitfn *jf = jx_jit_trace(slow_exp, 1, 1, &s, &(jx_jit_opts){NULL, 1, 1});
    CHECK(call_exp(jf, 3, 0.25)); /* f32[3] compiled */
    exp_job slow = {jf, 5, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, exp_thread, &slow) == 0);
    pthread_mutex_lock(&s.mu);
    while (!s.tracing) pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    CHECK(call_exp(jf, 3, 1.0)); /* a hit while f32[5] is being traced */
    pthread_mutex_lock(&s.mu);
    s.hit_done = 1;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(th, NULL);
    CHECK(slow.ok);
    CHECK(s.saw_hit);
    CHECK(jx_jitfn_n_compiled(jf) == 2);
    jx_jitfn_free(jf);
}

typedef struct mix_job {
    jx_jitfn *jf;
    int id, ok;
} mix_job;

/* Calls on f32[2], [3], [4] in a thread-dependent order, reading n_compiled between. */
static void *mix_thread(void *arg) {
    mix_job *j = arg;
    j->ok = 1;
    for (int it = 0; it < 12; it++) {
        j->ok &= call_exp(j->jf, 2 + (it + j->id) % 3, 0.125 * it);
        int n = jx_jitfn_n_compiled(j->jf);
        j->ok &= n >= 1 && n <= 3;
    }
    return NULL;
}

/* Three threads compile and call three signatures at once: right results, and each
 * signature traced and compiled exactly once. */
TEST(jitfn_concurrent_signatures) {
    trace_sync s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
    jx_jitfn *jf = jx_jit_trace(slow_exp, 1, 1, &s, &(jx_jit_opts){NULL, 1, 1});
    mix_job j[3];
    pthread_t th[3];
    for (int k = 0; k < 3; k++) {
        j[k] = (mix_job){jf, k, 0};
        CHECK(pthread_create(&th[k], NULL, mix_thread, &j[k]) == 0);
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(th[k], NULL);
        CHECK(j[k].ok);
    }
    CHECK(jx_jitfn_n_compiled(jf) == 3);
    CHECK(atomic_load(&s.traces) == 3);
    jx_jitfn_free(jf);
}

TEST_MAIN()
