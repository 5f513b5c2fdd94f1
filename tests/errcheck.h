/* Helpers for tests/t_errors.c and t_errors_values.c, the catalog of bad input: cases
 * isolated in child processes (a crash fails one case instead of ending the binary),
 * message checks, and one-line error cases ERR1/ERR2. Include after check.h. */
#ifndef JX_ERRCHECK_H
#define JX_ERRCHECK_H

#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Runs body in a child; a check failure exits with 3, anything else non-zero or a signal
 * is a crash or a sanitizer report. Without fork the body runs in this process. */
static void err_isolate(void (*body)(void)) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        body();
        return;
    }
    if (pid == 0) {
        body();
        fflush(stdout);
        exit(check_failed_now ? 3 : 0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0) CHECK_FAIL_("waitpid failed");
    else if (WIFSIGNALED(st)) CHECK_FAIL_("crashed with signal %d", WTERMSIG(st));
    else if (WEXITSTATUS(st) == 3) check_failed_now = 1; /* the child printed the FAIL */
    else if (WEXITSTATUS(st) != 0)
        CHECK_FAIL_("child exited with status %d (sanitizer report above?)", WEXITSTATUS(st));
}

/* ITEST(name) { ... }: a case whose body runs isolated in a child process. */
#define ITEST(name)                                                                     \
    static void body_##name(void);                                                      \
    TEST(name) { err_isolate(body_##name); }                                            \
    static void body_##name(void)

/* Fails unless s (an error message) contains every string of the NULL-terminated list. */
static void err_has(int line, const char *s, const char *const *subs) {
    for (int i = 0; subs[i]; i++)
        if (!s || !strstr(s, subs[i])) {
            CHECK_FAIL_("line %d: \"%s\" does not contain \"%s\"", line, s ? s : "(null)",
                        subs[i]);
            return;
        }
}
#define HAS(s, ...) err_has(__LINE__, (s), (const char *const[]){__VA_ARGS__, NULL})

/* Fails unless v is poison and t's error names the calling file and each given string. */
#define POISON(t, v, ...)                                                               \
    do {                                                                                \
        if (!jx_val_bad(v)) CHECK_FAIL_("line %d: expected poison", __LINE__);          \
        HAS(jx_trace_error(t), __FILE__, __VA_ARGS__);                                  \
    } while (0)

/* ERR1(name, type, expr, strings...): traces expr on one input x of the type; expects
 * poison and a trace error containing the strings. ERR2 does the same with x and y. */
#define ERR1(name, ty, expr, ...)                                                       \
    ITEST(name) {                                                                       \
        jx_type ty_ = ty;                                                               \
        jx_trace *t = jx_trace_begin(1, &ty_);                                          \
        jx_val x = jx_trace_input(t, 0);                                                \
        (void)x;                                                                        \
        jx_val r = (expr);                                                              \
        POISON(t, r, __VA_ARGS__);                                                      \
        jx_trace_abort(t);                                                              \
    }
#define ERR2(name, ty0, ty1, expr, ...)                                                 \
    ITEST(name) {                                                                       \
        jx_type ty_[2] = {ty0, ty1};                                                    \
        jx_trace *t = jx_trace_begin(2, ty_);                                           \
        jx_val x = jx_trace_input(t, 0), y = jx_trace_input(t, 1);                      \
        (void)x, (void)y;                                                               \
        jx_val r = (expr);                                                              \
        POISON(t, r, __VA_ARGS__);                                                      \
        jx_trace_abort(t);                                                              \
    }

#endif
