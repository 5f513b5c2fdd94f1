/* A tiny test harness. Each test file defines cases with TEST(name) { ... } and ends with
 * TEST_MAIN(). Every case prints "PASS name" or "FAIL name: file:line: what"; the binary
 * prints a final "N passed, N failed" line and exits non-zero on any failure.
 * ./tools/test sums the PASS/FAIL lines of all test binaries. */
#ifndef JX_CHECK_H
#define JX_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jx.h"

typedef void (*check_fn)(void);
struct check_case {
    const char *name;
    check_fn fn;
};

/* The registered cases (a growing array: registration never drops a case). */
extern struct check_case *check_cases;
extern int check_ncases, check_cap;
extern int check_failed_now;

/* Appends a case to check_cases, growing it; exits with a FAIL line if memory runs out
 * (a case must never be dropped silently). */
static inline void check_register(const char *name, check_fn fn) {
    if (check_ncases == check_cap) {
        int cap = check_cap ? 2 * check_cap : 64;
        struct check_case *c = realloc(check_cases, (size_t)cap * sizeof *c);
        if (!c) {
            printf("FAIL %s: out of memory while registering test cases\n", name);
            exit(1);
        }
        check_cases = c;
        check_cap = cap;
    }
    check_cases[check_ncases++] = (struct check_case){name, fn};
}

/* Registers a case before main runs (GCC/Clang constructor). */
#define TEST(name)                                                                      \
    static void test_##name(void);                                                      \
    __attribute__((constructor)) static void reg_##name(void) {                         \
        check_register(#name, test_##name);                                             \
    }                                                                                   \
    static void test_##name(void)

#define CHECK_FAIL_(...)                                                                \
    do {                                                                                \
        if (!check_failed_now) {                                                        \
            printf("FAIL %s: %s:%d: ", check_current, __FILE__, __LINE__);            \
            printf(__VA_ARGS__);                                                        \
            printf("\n");                                                               \
        }                                                                               \
        check_failed_now = 1;                                                           \
    } while (0)

extern const char *check_current;

/* Fails the case (and goes on) unless cond holds. */
#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) CHECK_FAIL_("%s", #cond);                                          \
    } while (0)
/* Fails unless |a-b| <= tol*(1+|b|) (NaNs equal NaNs, infs must match). */
#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double a_ = (a), b_ = (b);                                                      \
        if (!check_near(a_, b_, (tol)))                                                 \
            CHECK_FAIL_("%s = %.9g, expected %s = %.9g", #a, a_, #b, b_);               \
    } while (0)
/* Fails unless the string s contains sub. */
#define CHECK_CONTAINS(s, sub)                                                          \
    do {                                                                                \
        const char *s_ = (s);                                                           \
        if (!s_ || !strstr(s_, (sub)))                                                  \
            CHECK_FAIL_("\"%s\" does not contain \"%s\"", s_ ? s_ : "(null)", (sub));   \
    } while (0)

static inline int check_near(double a, double b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * (1.0 + fabs(b));
}

#define TEST_MAIN()                                                                     \
    struct check_case *check_cases;                                                     \
    int check_ncases, check_cap, check_failed_now;                                      \
    const char *check_current;                                                          \
    int main(int argc, char **argv) {                                                   \
        int pass = 0, fail = 0;                                                         \
        for (int i = 0; i < check_ncases; i++) {                                        \
            if (argc > 1 && !strstr(check_cases[i].name, argv[1])) continue;            \
            check_current = check_cases[i].name;                                        \
            check_failed_now = 0;                                                       \
            jx_clear_error();                                                           \
            check_cases[i].fn();                                                        \
            if (check_failed_now) fail++;                                               \
            else {                                                                      \
                pass++;                                                                 \
                printf("PASS %s\n", check_current);                                     \
            }                                                                           \
            fflush(stdout);                                                             \
        }                                                                               \
        printf("%d passed, %d failed\n", pass, fail);                                   \
        return fail ? 1 : 0;                                                            \
    }

#endif
