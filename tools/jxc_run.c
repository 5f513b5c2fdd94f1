/* jxc run: runs an IR file on .npy inputs, with native code (jx_jit) or the reference
 * interpreter (--interp), and saves the outputs (-o) or prints them briefly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jxc.h"
#include "text/text.h"

/* The command line of jxc run. ins and outs hold n_ins / n_outs file names. */
typedef struct jxc_run_args {
    const char *src;
    int interp;
    const char **ins, **outs;
    int n_ins, n_outs;
} jxc_run_args;

/* Prints an output briefly: its type and up to 16 values. */
static void jxc_show(int i, const jx_array *a) {
    jx_type t = jx_array_type(a);
    char ty[256], v[TXT_VALUE_MAX];
    int64_t n = jx_array_size(a), shown = n < 16 ? n : 16;
    printf("out %d: %s [", i, jx_type_str(&t, ty, sizeof ty));
    for (int64_t k = 0; k < shown; k++)
        printf("%s%s", k ? ", " : "", txt_value_str(t.dtype, jx_array_get(a, k), v));
    if (shown < n) printf(", ... (%lld values)", (long long)n);
    printf("]\n");
}

/* Compiles f with jx_jit and runs it on in, filling out like jx_interp. 0 or -1 with
 * jx_error(). */
static int jxc_native(const jx_fn *f, jx_array **in, jx_array **out) {
    jx_exe *e = jx_jit(f, NULL);
    if (!e) return -1;
    int rc = jx_exe_run(e, in, out);
    jx_exe_free(e);
    return rc;
}

/* Parses the arguments of jxc run into *a (whose ins/outs hold argc + 1 entries). 0, or
 * the usage exit code 2 after printing the usage. */
static int jxc_run_parse(int argc, char **argv, jxc_run_args *a) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--interp")) {
            a->interp = 1;
        } else if (!strcmp(argv[i], "-o")) {
            if (i + 1 >= argc) return jxc_usage_err("-o needs a file name");
            a->outs[a->n_outs++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "jxc: unknown option %s\n", argv[i]);
            return jxc_usage_err(NULL);
        } else if (!a->src) {
            a->src = argv[i];
        } else {
            a->ins[a->n_ins++] = argv[i];
        }
    }
    if (!a->src) return jxc_usage_err("run needs an IR file");
    return 0;
}

/* Loads the .npy inputs named in a into in[0..n_in) and checks each against f's input
 * type. 0, or -1 with a message on stderr (the arrays loaded so far stay in in). */
static int jxc_run_inputs(const jx_fn *f, const jxc_run_args *a, jx_array **in) {
    for (int i = 0; i < jx_fn_n_in(f); i++) {
        if (!(in[i] = jx_npy_load(a->ins[i]))) {
            fprintf(stderr, "jxc: %s: %s\n", a->ins[i], jx_error());
            return -1;
        }
        jx_type have = jx_array_type(in[i]), want = jx_fn_in_type(f, i);
        if (!jx_type_eq(&have, &want)) {
            char x[256], y[256];
            fprintf(stderr, "jxc: input %d (%s) has type %s, %s expects %s\n", i, a->ins[i],
                    jx_type_str(&have, x, sizeof x), a->src, jx_type_str(&want, y, sizeof y));
            return -1;
        }
    }
    return 0;
}

/* Runs f on in (natively or interpreted) and saves or prints the outputs into out.
 * Returns the exit code (0 or 1, with a message on stderr). */
static int jxc_run_outputs(const jx_fn *f, const jxc_run_args *a, jx_array **in,
                           jx_array **out) {
    if ((a->interp ? jx_interp(f, in, out) : jxc_native(f, in, out)) < 0) {
        fprintf(stderr, "jxc: %s\n", jx_error());
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < jx_fn_n_out(f); i++) {
        if (!a->n_outs) {
            jxc_show(i, out[i]);
        } else if (jx_npy_save(a->outs[i], out[i]) < 0) {
            fprintf(stderr, "jxc: %s: %s\n", a->outs[i], jx_error());
            rc = 1;
        }
    }
    return rc;
}

/* jxc run F.jx [IN.npy...] [-o OUT.npy]... [--interp]; the exit code (see jxc.h). */
int jxc_run(int argc, char **argv) {
    jxc_run_args a = {0};
    a.ins = calloc((size_t)argc + 1, sizeof *a.ins);
    a.outs = calloc((size_t)argc + 1, sizeof *a.outs);
    int rc = 1;
    jx_fn *f = NULL;
    jx_array **in = NULL, **out = NULL;
    if (!a.ins || !a.outs) goto done;
    if ((rc = jxc_run_parse(argc, argv, &a)) != 0) goto done;
    rc = 1;
    if (!(f = jxc_load(a.src))) goto done;
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f);
    if (a.n_ins != n_in) {
        fprintf(stderr, "jxc: %s takes %d input(s), got %d\n", a.src, n_in, a.n_ins);
        goto done;
    }
    if (a.n_outs && a.n_outs != n_out) {
        fprintf(stderr, "jxc: %s has %d output(s), got %d -o\n", a.src, n_out, a.n_outs);
        goto done;
    }
    in = calloc((size_t)n_in + 1, sizeof *in);
    out = calloc((size_t)n_out + 1, sizeof *out);
    if (!in || !out) {
        fprintf(stderr, "jxc: out of memory\n");
        goto done;
    }
    if (jxc_run_inputs(f, &a, in) == 0) rc = jxc_run_outputs(f, &a, in, out);
done:
    for (int i = 0; in && i < jx_fn_n_in(f); i++) jx_array_free(in[i]);
    for (int i = 0; out && i < jx_fn_n_out(f); i++) jx_array_free(out[i]);
    free(in);
    free(out);
    jx_fn_free(f);
    free(a.ins);
    free(a.outs);
    return rc;
}
