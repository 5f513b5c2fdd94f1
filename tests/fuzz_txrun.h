/* The differential fuzzer of the transformations, part 5: running a case, reporting and
 * writing out a failure, and the run's summary. Used by tests/t_fuzz_tx.c and
 * tools/jxfuzz_tx.c.
 *
 * A failing case is written into a directory as
 *   fuzztx_<seed>_s<k>.jx    every stage k (s0: the generated program);
 *   fuzztx_<seed>.jx         the function under test (the last stage);
 *   fuzztx_<seed>_in<i>.npy  its inputs;
 *   fuzztx_<seed>.sh         the chain as jxc commands (stages jxc cannot make, the sum
 *                            adapter and the Jacobians, are the written files), then
 *                            `jxc run --interp` and `jxc run` of the function under test. */
#ifndef JX_FUZZ_TXRUN_H
#define JX_FUZZ_TXRUN_H

#include <sys/stat.h>

#include "fuzz_txcheck.h"

typedef struct ft_opts {
    const char *dump; /* directory for failing cases, or NULL */
    int jit;          /* compile the function under test */
    int verbose;      /* print each seed and chain before running it */
    int max_reports;  /* failures reported in full (the rest: one line) */
    int write_all;    /* write every case into dump, not only failing ones */
} ft_opts;

/* Writes f as IR text to path; 0 or -1. */
static int ft_write_fn(const jx_fn *f, const char *path) {
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    jx_fn_print(f, fp);
    return fclose(fp);
}

/* Appends the jxc command (or a note) that makes stage k of c from stage k-1. */
static void ft_script_stage(FILE *sh, const ft_case *c, int k, const char *pre) {
    const ft_stage *s = &c->st[k];
    const jx_fn *h = c->st[k - 1].fn;
    char d[512] = "", list[256] = "";
    ft_stage_str(s, h->n_in, h->n_out, d, sizeof d);
    fprintf(sh, "# stage %d: %s\n", k, d);
    size_t m = 0;
    static const char *const cmd[FT_NKINDS] = {NULL, "jvp", "vjp", "grad", "value-and-grad", "vmap"};
    if (s->kind > FT_VMAP) {
        fprintf(sh, "#   (not a jxc command: %s_s%d.jx is the function the fuzzer made)\n", pre, k);
        return;
    }
    fprintf(sh, "$JXC %s \"$D/%s_s%d.jx\"", cmd[s->kind], pre, k - 1);
    if (s->kind == FT_VJP && !s->default_wrt) {
        for (int i = 0, n = 0; i < h->n_in && m < sizeof list; i++)
            if (s->mask[i]) m += (size_t)snprintf(list + m, sizeof list - m, "%s%d", n++ ? "," : "", i);
        fprintf(sh, " --wrt %s", list);
    }
    if ((s->kind == FT_GRAD || s->kind == FT_VAG) && !s->default_wrt) {
        for (int e = 0; e < s->n_wrt && m < sizeof list; e++)
            m += (size_t)snprintf(list + m, sizeof list - m, "%s%d", e ? "," : "", s->wrt[e]);
        fprintf(sh, " --wrt %s", list);
    }
    if (s->kind == FT_VMAP) {
        fprintf(sh, " --size %lld --in-axes ", (long long)s->bsize);
        for (int i = 0; i < h->n_in; i++) {
            if (s->in_axes[i] == JX_NONE) fprintf(sh, "%snone", i ? "," : "");
            else fprintf(sh, "%s%d", i ? "," : "", s->in_axes[i]);
        }
        for (int j = 0; j < h->n_out && !s->default_out_axes; j++) {
            if (s->out_axes[j] == JX_NONE) fprintf(sh, "%snone", j ? "," : " --out-axes ");
            else fprintf(sh, "%s%d", j ? "," : " --out-axes ", s->out_axes[j]);
        }
    }
    fprintf(sh, " > \"$D/%s_s%d.jx\"\n", pre, k);
}

/* Writes case c (a failure described by what) into dir; prints where. */
static void ft_dump(ft_case *c, const char *dir, const char *what) {
    char pre[64], path[1200];
    mkdir(dir, 0777);
    snprintf(pre, sizeof pre, "fuzztx_%llu", (unsigned long long)c->seed);
    for (int k = 0; k < c->n; k++) {
        snprintf(path, sizeof path, "%s/%s_s%d.jx", dir, pre, k);
        ft_write_fn(c->st[k].fn, path);
    }
    const jx_fn *F = c->st[c->n - 1].fn;
    snprintf(path, sizeof path, "%s/%s.jx", dir, pre);
    ft_write_fn(F, path);
    jx_array *in[FT_MAX_ARGS];
    ft_inputs(c, c->n - 1, 0, in);
    for (int i = 0; i < F->n_in; i++) {
        snprintf(path, sizeof path, "%s/%s_in%d.npy", dir, pre, i);
        jx_npy_save(path, in[i]);
    }
    ft_free_all(F->n_in, in);
    snprintf(path, sizeof path, "%s/%s.sh", dir, pre);
    FILE *sh = fopen(path, "w");
    if (!sh) return;
    char chain[1024];
    ft_chain_str(c, chain, sizeof chain);
    fprintf(sh, "#!/bin/sh\n# jx transformation fuzzer, seed %llu\n# chain: %s\n# failure: ",
            (unsigned long long)c->seed, chain);
    for (const char *p = what; *p; p++) {
        fputc(*p, sh);
        if (*p == '\n') fputs("#   ", sh);
    }
    fprintf(sh, "\n# rerun the case: build/tools/jxfuzz-tx --seed %llu\nset -e\n"
            "JXC=${JXC:-build/tools/jxc}\nD=$(dirname \"$0\")\n", (unsigned long long)c->seed);
    for (int k = 1; k < c->n; k++) ft_script_stage(sh, c, k, pre);
    fprintf(sh, "# the function under test (%s.jx is stage %d)\ncmp \"$D/%s.jx\" \"$D/%s_s%d.jx\" || "
            "echo 'note: jxc made another function than the fuzzer'\n", pre, c->n - 1, pre, pre, c->n - 1);
    for (int pass = 0; pass < 2; pass++) {
        fprintf(sh, "echo '== jxc run%s'\n$JXC run%s \"$D/%s.jx\"", pass ? "" : " --interp",
                pass ? "" : " --interp", pre);
        for (int i = 0; i < F->n_in; i++) fprintf(sh, " \"$D/%s_in%d.npy\"", pre, i);
        fprintf(sh, "\n");
    }
    fclose(sh);
    chmod(path, 0755);
    printf("  written to %s/%s.jx (function under test), %s_s*.jx (stages), %s.sh (the chain with jxc)\n",
           dir, pre, pre, pre);
}

/* Counts the case's stages into st. */
static void ft_count(const ft_case *c, ft_stats *st) {
    int depth = 0;
    for (int k = 1; k < c->n; k++) {
        st->stages[c->st[k].kind]++;
        depth += c->st[k].kind != FT_SUM;
    }
    if (depth <= 3) st->depth[depth]++;
}

/* Runs the case of `seed` (build, every check); returns its number of failed checks. */
static inline int ft_run_case(uint64_t seed, ft_stats *st, const ft_opts *o, int *nreports) {
    ft_case c;
    int rc = ft_build(seed, &c);
    ft_ctx x;
    memset(&x, 0, sizeof x);
    x.c = &c, x.st = st;
    st->cases++;
    if (o->verbose) {
        char chain[1024];
        ft_chain_str(&c, chain, sizeof chain);
        printf("  seed %llu: %s%s\n", (unsigned long long)seed, chain, rc == 1 ? " (no transformation fits)" : "");
        fflush(stdout);
    }
    if (rc == 1) st->no_chain++;
    if (rc < 0 && !c.prog.fn) st->gen_failed++;
    if (rc < 0) ft_fail(&x, FTC_BUILD, "%s", c.error);
    if (rc == 0) {
        ft_count(&c, st);
        st->ctl_cases += ft_has_ctl(c.prog.fn);
        st->run[FTC_BUILD]++;
        ft_check_final(&x, o->jit);
        for (int k = 1; k < c.n; k++) {
            x.stage = k;
            if (c.st[k].kind == FT_VMAP) ft_check_vmap(&x, k);
            else if (c.st[k].kind != FT_SUM) ft_check_ad(&x, k);
        }
    }
    if (!x.nfail && o->write_all && o->dump && c.n > 0) ft_dump(&c, o->dump, "none (written with --write)");
    if (x.nfail) {
        char chain[1024];
        ft_chain_str(&c, chain, sizeof chain);
        printf("FUZZTX seed=%llu %s at stage %d: %s\n  chain: %s\n", (unsigned long long)seed,
               ftc_names[x.what_check], x.what_stage, x.what, chain);
        if ((*nreports)++ < o->max_reports) {
            printf("  reproduce: build/tools/jxfuzz-tx --seed %llu\n", (unsigned long long)seed);
            if (c.prog.fn) {
                printf("  program:\n");
                jx_fn_print(c.prog.fn, stdout);
            }
            if (o->dump && c.n > 0) ft_dump(&c, o->dump, x.what);
        }
        fflush(stdout);
    }
    ft_case_free(&c);
    return x.nfail;
}

/* Prints the run's summary. */
static inline void ft_stats_print(const ft_stats *st, FILE *out) {
    fprintf(out, "  %ld cases: %ld with no fitting transformation, %ld generator failures; chains of "
            "depth 1/2/3: %ld/%ld/%ld; %ld transformed programs with control flow\n"
            "  transformations applied:", st->cases, st->no_chain, st->gen_failed, st->depth[1],
            st->depth[2], st->depth[3], st->ctl_cases);
    long total = 0;
    for (int k = 1; k < FT_NKINDS; k++) {
        fprintf(out, " %s=%ld", ft_kind_names[k], st->stages[k]);
        total += k == FT_SUM ? 0 : st->stages[k];
    }
    fprintf(out, " (%ld transformations, sum = adapters)\n", total);
    fprintf(out, "  %-17s %8s %8s %7s %10s %9s %8s %8s\n", "check", "run", "skipped", "failed", "elements",
            "differ", "unknown", "worst");
    for (int k = 0; k < FTC_N; k++)
        fprintf(out, "  %-17s %8ld %8ld %7ld %10ld %9ld %8ld %8.3g\n", ftc_names[k], st->run[k], st->skipped[k],
                st->failed[k], st->elems[k], st->differ[k], st->unknown[k], st->worst[k]);
    fprintf(out, "  (elements: float elements compared with a tolerance; differ: those not equal; unknown: not\n"
            "  compared, no error estimate; worst: the largest |difference| / allowed among those that passed)\n"
            "  dot products skipped because every term is 0: %ld, because reverse mode's rounding may\n"
            "  move the vjp's side by 10%%: %ld; finite differences skipped where h is not smooth: %ld\n"
            "  derivatives; derivative checks without an f64 form of h: %ld\n",
            st->dot_zero, st->dot_reverse, st->fd_unsmooth, st->retype_failed);
}

#endif
