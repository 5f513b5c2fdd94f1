/* jxfuzz-tx: the differential fuzzer of the transformations (tests/fuzz_tx*.h), for long
 * runs and for rerunning one seed.
 *
 *   jxfuzz-tx [--seconds S] [--count N] [--seed FIRST] [--dump DIR] [--write] [--no-jit]
 *             [--ctl | --ctl-while] [--verbose]
 *
 * Runs cases FIRST, FIRST+1, ... (default 1) until N cases (default: unbounded with
 * --seconds, else 200) or S seconds have run; `--seed K` alone reruns case K and reports
 * it in full. Each case: a random program (tests/fuzz_gen.h), a chain of 1-3 random
 * transformations, and the checks of tests/fuzz_txcheck.h; with --ctl the programs hold
 * control flow, with --ctl-while while and fori loops (tests/fuzz_txctl.h). Failures print the seed, the
 * chain and what differs, and are written into DIR (default fuzz-tx-failures) as .jx
 * files, .npy inputs and a jxc script (--write: every case). Ends with a summary; exits 1
 * if a case failed, 2 on a usage error. */
#include <time.h>

#include "fuzz_txrun.h"

static const char jft_usage[] =
    "usage: jxfuzz-tx [--seconds S] [--count N] [--seed FIRST] [--dump DIR] [--write] [--no-jit]\n"
    "                 [--ctl | --ctl-while] [--verbose]\n"
    "  --seconds S  stop starting cases after S seconds\n"
    "  --count N    run N cases (default 200 without --seconds; 1 with --seed alone)\n"
    "  --seed K     the first case (default 1)\n"
    "  --dump DIR   where failing cases are written (default fuzz-tx-failures)\n"
    "  --write      write every case there, failing or not\n"
    "  --no-jit     skip the compile of the function under test (faster; no jit check)\n"
    "  --ctl        programs with control flow (cond, scan, checkpoint, dynamic slices;\n"
    "               tests/fuzz_txctl.h: JX_FUZZ_TX_RULES widens their rules)\n"
    "  --ctl-while  programs with while and fori loops (the JIT does not lower while yet:\n"
    "               add --no-jit until it does)\n"
    "  --verbose    print each seed and its chain before running it\n";

/* Seconds since an arbitrary start. */
static double jft_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Parses a non-negative number argument; -1 if it is not one. */
static double jft_num(const char *s) {
    char *end;
    double v = s ? strtod(s, &end) : -1;
    return s && *s && !*end && v >= 0 ? v : -1;
}

int main(int argc, char **argv) {
    double seconds = -1, count = -1, seed = -1;
    ft_opts o = {"fuzz-tx-failures", 1, 0, 10, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seconds") && (seconds = jft_num(v)) >= 0) i++;
        else if (!strcmp(a, "--count") && (count = jft_num(v)) >= 0) i++;
        else if (!strcmp(a, "--seed") && (seed = jft_num(v)) >= 0) i++;
        else if (!strcmp(a, "--dump") && v) o.dump = argv[++i];
        else if (!strcmp(a, "--no-jit")) o.jit = 0;
        else if (!strcmp(a, "--write")) o.write_all = 1;
        else if (!strcmp(a, "--ctl")) ft_mix = &ft_ctl_mix;
        else if (!strcmp(a, "--ctl-while")) ft_mix = &ft_ctl_mix_while;
        else if (!strcmp(a, "--verbose")) o.verbose = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return fputs(jft_usage, stdout), 0;
        else return fprintf(stderr, "jxfuzz-tx: bad argument '%s'\n%s", a, jft_usage), 2;
    }
    if (count < 0) count = seed >= 0 && seconds < 0 ? 1 : seconds >= 0 ? 1e18 : 200;
    uint64_t s0 = seed >= 0 ? (uint64_t)seed : 1;
    if (count == 1) o.verbose = 1;
    ft_stats st;
    memset(&st, 0, sizeof st);
    double t0 = jft_now();
    int nreports = 0;
    long bad = 0, n = 0;
    for (; n < count && (seconds < 0 || jft_now() - t0 < seconds); n++) {
        bad += ft_run_case(s0 + (uint64_t)n, &st, &o, &nreports) > 0;
        if (n % 500 == 499) {
            printf("  ... %ld cases, %ld failed, %.0f s\n", n + 1, bad, jft_now() - t0);
            fflush(stdout);
        }
    }
    printf("jxfuzz-tx: seeds %llu..%llu in %.1f s: %ld of %ld cases failed\n", (unsigned long long)s0,
           (unsigned long long)(s0 + (uint64_t)n - 1), jft_now() - t0, bad, n);
    ft_stats_print(&st, stdout);
    return bad ? 1 : 0;
}
