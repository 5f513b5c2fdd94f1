/* jxc: the command-line front end to jx's IR text form.
 *
 *   jxc print F.jx                               parse, verify, print the IR
 *   jxc run [--interp] F.jx [IN.npy...] [-o OUT.npy]...
 *                                                run on .npy inputs (native code, or the
 *                                                reference interpreter with --interp)
 *   jxc dot F.jx                                 Graphviz DOT of the graph
 *   jxc opt F.jx                                 the IR after the JIT's IR passes
 *   jxc fuse F.jx [--donate I,..]                the JIT's plan: kernels, GEMMs, buffers
 *   jxc llvm F.jx [--after] [--donate I,..]      LLVM IR before (or after) O3
 *   jxc asm F.jx [--donate I,..]                 the host assembly
 *   jxc grad|value-and-grad|vjp F.jx [--wrt I,J] reverse mode
 *   jxc jvp F.jx                                 forward mode
 *   jxc vmap F.jx --size N [--in-axes A,..] [--out-axes A,..]
 *   jxc simplify F.jx                            DCE, CSE and algebraic simplification
 *
 * The transformations parse F.jx, transform it, verify the result and print it as IR.
 * F.jx may be '-' for stdin. Errors go to stderr with exit code 1; usage errors exit 2. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/cache.h"
#include "jit/jit.h"
#include "jx.h"
#include "text.h"

static const char jxc_usage[] =
    "usage: jxc print F.jx\n"
    "       jxc run [--interp] F.jx [IN.npy ...] [-o OUT.npy ...]\n"
    "       jxc dot F.jx\n"
    "       jxc opt F.jx\n"
    "       jxc fuse F.jx [--donate I,J,...]\n"
    "       jxc llvm F.jx [--after] [--donate I,J,...]\n"
    "       jxc asm F.jx [--donate I,J,...]\n"
    "       jxc grad F.jx [--wrt I,J,...]\n"
    "       jxc value-and-grad F.jx [--wrt I,J,...]\n"
    "       jxc vjp F.jx [--wrt I,J,...]\n"
    "       jxc jvp F.jx\n"
    "       jxc vmap F.jx --size N [--in-axes A,...] [--out-axes A,...]\n"
    "       jxc simplify F.jx\n"
    "       jxc --help\n"
    "\n"
    "  print   parse and verify the IR text F.jx and print it back\n"
    "  run     run F.jx on the .npy inputs; with -o (one per output) save the outputs,\n"
    "          otherwise print them; native code (jx_jit), or the reference interpreter\n"
    "          with --interp\n"
    "  dot     write the graph as Graphviz DOT\n"
    "  opt     print the IR the JIT compiles (after its IR passes: simplification,\n"
    "          constant folding, CSE, DCE)\n"
    "  fuse    print the JIT's plan: loop kernels with their fused nodes, library calls\n"
    "          (GEMMs), copies, and every buffer with its place (arena offset, input,\n"
    "          output, constant)\n"
    "  llvm    print the LLVM IR of the compiled function, before O3 (default) or after\n"
    "          it (--after)\n"
    "  asm     print the host assembly of the compiled function\n"
    "  --donate  the inputs donated to outputs of the same type (as jx_jit_opts.donate)\n"
    "  grad, value-and-grad, vjp, jvp, vmap, simplify\n"
    "          print the transformed function as IR text\n"
    "  --wrt   the inputs to differentiate (default: 0 for grad and value-and-grad,\n"
    "          every float input for vjp)\n"
    "  --size  the batch size (required for vmap)\n"
    "  --in-axes, --out-axes\n"
    "          the batch axis of each input / output, or 'none' (default 0); a single\n"
    "          value applies to all; negative axes count from the end\n"
    "F.jx may be '-' to read standard input.\n";

/* Prints the usage to stderr (with an optional complaint) and returns 2. */
static int jxc_usage_err(const char *msg) {
    if (msg) fprintf(stderr, "jxc: %s\n", msg);
    fputs(jxc_usage, stderr);
    return 2;
}

/* The largest IR text jxc reads (far above any real function: a 784x512 f32 constant
 * prints in about 10 MB). */
#define JXC_MAX_TEXT ((size_t)64 << 20)

/* Reads all of path ('-' is stdin) into a malloc'd NUL-terminated string; NULL with a
 * message on stderr on failure, if the file holds a NUL byte, or if it is larger than
 * JXC_MAX_TEXT. Pipes and devices are read in chunks up to that bound, never trusting a
 * size: `jxc print /dev/zero` stops at its first NUL, an endless text at the bound. */
static char *jxc_read(const char *path) {
    const char *shown = strcmp(path, "-") ? path : "<stdin>";
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "jxc: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t len = 0, cap = 0;
    char *buf = NULL;
    const char *why = NULL;
    for (;;) {
        if (len + 1 >= cap) {
            size_t nc = cap ? 2 * cap : 65536;
            if (nc > JXC_MAX_TEXT + 2) nc = JXC_MAX_TEXT + 2;
            char *nb = realloc(buf, nc);
            if (!nb) {
                why = "out of memory";
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);
        if (memchr(buf + len, 0, n)) {
            why = "contains a NUL byte (not IR text)";
            break;
        }
        len += n;
        if (len > JXC_MAX_TEXT) {
            why = "larger than the 64 MiB limit for IR text";
            break;
        }
        if (n == 0) break;
    }
    if (!why && ferror(f)) why = strerror(errno);
    if (f != stdin) fclose(f);
    if (why) {
        free(buf);
        fprintf(stderr, "jxc: %s: %s\n", shown, why);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

/* Parses and verifies the IR file at path; NULL with a message on stderr. */
static jx_fn *jxc_load(const char *path) {
    char *text = jxc_read(path);
    if (!text) return NULL;
    const char *shown = strcmp(path, "-") ? path : "<stdin>";
    jx_fn *f = jx_fn_parse(text);
    free(text);
    if (!f) {
        fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
        return NULL;
    }
    if (jx_fn_verify(f) < 0) {
        fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
        jx_fn_free(f);
        return NULL;
    }
    return f;
}

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

/* jxc run: argv holds the arguments after "run". */
static int jxc_run(int argc, char **argv) {
    const char *src = NULL;
    int interp = 0;
    const char **ins = calloc((size_t)argc + 1, sizeof *ins);
    const char **outs = calloc((size_t)argc + 1, sizeof *outs);
    int n_ins = 0, n_outs = 0, rc = 1;
    jx_fn *f = NULL;
    jx_array **in = NULL, **out = NULL;
    if (!ins || !outs) goto done;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--interp")) {
            interp = 1;
            continue;
        }
        if (!strcmp(argv[i], "-o")) {
            if (i + 1 >= argc) {
                rc = jxc_usage_err("-o needs a file name");
                goto done;
            }
            outs[n_outs++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "jxc: unknown option %s\n", argv[i]);
            rc = jxc_usage_err(NULL);
            goto done;
        } else if (!src) {
            src = argv[i];
        } else {
            ins[n_ins++] = argv[i];
        }
    }
    if (!src) {
        rc = jxc_usage_err("run needs an IR file");
        goto done;
    }
    if (!(f = jxc_load(src))) goto done;
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f);
    if (n_ins != n_in) {
        fprintf(stderr, "jxc: %s takes %d input(s), got %d\n", src, n_in, n_ins);
        goto done;
    }
    if (n_outs && n_outs != n_out) {
        fprintf(stderr, "jxc: %s has %d output(s), got %d -o\n", src, n_out, n_outs);
        goto done;
    }
    in = calloc((size_t)n_in + 1, sizeof *in);
    out = calloc((size_t)n_out + 1, sizeof *out);
    if (!in || !out) {
        fprintf(stderr, "jxc: out of memory\n");
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (!(in[i] = jx_npy_load(ins[i]))) {
            fprintf(stderr, "jxc: %s: %s\n", ins[i], jx_error());
            goto done;
        }
        jx_type have = jx_array_type(in[i]), want = jx_fn_in_type(f, i);
        if (!jx_type_eq(&have, &want)) {
            char a[256], b[256];
            fprintf(stderr, "jxc: input %d (%s) has type %s, %s expects %s\n", i, ins[i],
                    jx_type_str(&have, a, sizeof a), src, jx_type_str(&want, b, sizeof b));
            goto done;
        }
    }
    if ((interp ? jx_interp(f, in, out) : jxc_native(f, in, out)) < 0) {
        fprintf(stderr, "jxc: %s\n", jx_error());
        goto done;
    }
    rc = 0;
    for (int i = 0; i < n_out; i++) {
        if (!n_outs) {
            jxc_show(i, out[i]);
        } else if (jx_npy_save(outs[i], out[i]) < 0) {
            fprintf(stderr, "jxc: %s: %s\n", outs[i], jx_error());
            rc = 1;
        }
    }
done:
    for (int i = 0; in && i < jx_fn_n_in(f); i++) jx_array_free(in[i]);
    for (int i = 0; out && i < jx_fn_n_out(f); i++) jx_array_free(out[i]);
    free(in);
    free(out);
    jx_fn_free(f);
    free(ins);
    free(outs);
    return rc;
}

/* The transformations that print IR, and the options each accepts. */
enum { JXC_WRT = 1, JXC_IN_AXES = 2, JXC_OUT_AXES = 4, JXC_SIZE = 8 };
typedef enum { JXC_GRAD, JXC_VALUE_AND_GRAD, JXC_VJP, JXC_JVP, JXC_VMAP, JXC_SIMPLIFY } jxc_kind;
typedef struct jxc_tx {
    const char *name;
    jxc_kind kind;
    unsigned opts;
} jxc_tx;
static const jxc_tx jxc_txs[] = {
    {"grad", JXC_GRAD, JXC_WRT},
    {"value-and-grad", JXC_VALUE_AND_GRAD, JXC_WRT},
    {"vjp", JXC_VJP, JXC_WRT},
    {"jvp", JXC_JVP, 0},
    {"vmap", JXC_VMAP, JXC_IN_AXES | JXC_OUT_AXES | JXC_SIZE},
    {"simplify", JXC_SIMPLIFY, 0},
};

/* A list of integers from the command line; n < 0 when the option was not given. */
typedef struct jxc_list {
    int n;
    int *v;
} jxc_list;

/* Parses a decimal integer (optional sign) filling all of s into *v, within [lo, hi]. */
static int jxc_int(const char *s, long long lo, long long hi, long long *v) {
    char *end;
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || end == s || errno == ERANGE || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

/* Parses "0,2" (or "none" entries when allow_none: JX_NONE) into *out (malloc'd).
 * Returns 0, or prints a usage complaint for option opt and returns -1. */
static int jxc_parse_list(const char *opt, const char *s, int allow_none, jxc_list *out) {
    size_t n = 1;
    for (const char *c = s; *c; c++) n += *c == ',';
    free(out->v);
    out->n = 0;
    out->v = malloc(n * sizeof *out->v);
    if (!out->v) {
        fprintf(stderr, "jxc: out of memory\n");
        return -1;
    }
    const char *p = s;
    for (size_t k = 0; k < n; k++) {
        size_t len = strcspn(p, ",");
        char item[32];
        long long x = 0;
        int ok = len > 0 && len < sizeof item;
        if (ok) {
            memcpy(item, p, len);
            item[len] = 0;
            if (allow_none && !strcmp(item, "none")) x = JX_NONE;
            else ok = jxc_int(item, -(1 << 20), 1 << 20, &x) == 0;
        }
        if (!ok) {
            fprintf(stderr, "jxc: bad value '%s' for %s (expected comma-separated integers%s)\n",
                    s, opt, allow_none ? " or 'none'" : "");
            return -1;
        }
        out->v[out->n++] = (int)x;
        p += len + 1;
    }
    return 0;
}

/* Expands an axes list to n entries: absent -> all 0, one value -> repeated. NULL with a
 * message on stderr if the count does not match. */
static int *jxc_axes(const jxc_list *l, int n, const char *opt, const char *src,
                     const char *what) {
    int *a = calloc((size_t)n + 1, sizeof *a);
    if (!a) {
        fprintf(stderr, "jxc: out of memory\n");
        return NULL;
    }
    if (l->n < 0) return a;
    if (l->n != n && l->n != 1) {
        fprintf(stderr, "jxc: %s has %d value(s) but %s has %d %s(s)\n", opt, l->n, src, n,
                what);
        free(a);
        return NULL;
    }
    for (int i = 0; i < n; i++) a[i] = l->v[l->n == 1 ? 0 : i];
    return a;
}

/* Applies the transformation tx to f with the parsed options. On failure returns NULL
 * with either a message already on stderr (*printed = 1) or one in jx_error(), which
 * names the transformation itself. */
static jx_fn *jxc_apply(const jxc_tx *tx, const jx_fn *f, const char *src, const jxc_list *wrt,
                        const jxc_list *in_axes, const jxc_list *out_axes, long long size,
                        int *printed) {
    int n_in = jx_fn_n_in(f);
    int n_wrt = wrt->n < 0 ? 0 : wrt->n;
    jx_fn *g = NULL;
    *printed = 0;
    switch (tx->kind) {
    case JXC_GRAD:
        return jx_grad(f, n_wrt, wrt->v);
    case JXC_VALUE_AND_GRAD:
        return jx_value_and_grad(f, n_wrt, wrt->v);
    case JXC_VJP: {
        if (wrt->n < 0) return jx_vjp(f, NULL);
        unsigned char *mask = calloc((size_t)n_in + 1, 1);
        if (!mask) break;
        for (int k = 0; k < wrt->n; k++) {
            if (wrt->v[k] < 0 || wrt->v[k] >= n_in) {
                fprintf(stderr, "jxc: --wrt index %d out of range (%s has %d inputs)\n",
                        wrt->v[k], src, n_in);
                *printed = 1;
                free(mask);
                return NULL;
            }
            mask[wrt->v[k]] = 1;
        }
        g = jx_vjp(f, mask);
        free(mask);
        return g;
    }
    case JXC_JVP:
        return jx_jvp(f);
    case JXC_SIMPLIFY:
        return jx_simplify(f);
    case JXC_VMAP: {
        *printed = 1;
        int *ia = jxc_axes(in_axes, n_in, "--in-axes", src, "input");
        int *oa = ia ? jxc_axes(out_axes, jx_fn_n_out(f), "--out-axes", src, "output") : NULL;
        if (ia && oa) {
            *printed = 0;
            g = jx_vmap(f, ia, oa, size);
        }
        free(ia);
        free(oa);
        return g;
    }
    }
    fprintf(stderr, "jxc: out of memory\n");
    *printed = 1;
    return NULL;
}

/* jxc <transformation> F.jx [options]: argv holds the arguments after the command. */
static int jxc_transform(const jxc_tx *tx, int argc, char **argv) {
    static const struct {
        const char *name;
        unsigned bit;
    } opts[] = {{"--wrt", JXC_WRT}, {"--in-axes", JXC_IN_AXES}, {"--out-axes", JXC_OUT_AXES},
                {"--size", JXC_SIZE}};
    jxc_list wrt = {-1, NULL}, in_axes = {-1, NULL}, out_axes = {-1, NULL};
    long long size = -1;
    const char *src = NULL;
    int rc = 2;
    jx_fn *f = NULL, *g = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (src) {
                fprintf(stderr, "jxc: %s takes one IR file, got '%s' and '%s'\n", tx->name,
                        src, a);
                goto usage;
            }
            src = a;
            continue;
        }
        size_t k = 0, nlen = strcspn(a, "=");
        while (k < sizeof opts / sizeof opts[0] &&
               !(strlen(opts[k].name) == nlen && !strncmp(a, opts[k].name, nlen)))
            k++;
        if (k == sizeof opts / sizeof opts[0] || !(tx->opts & opts[k].bit)) {
            fprintf(stderr, "jxc: %s does not take the option %.*s\n", tx->name, (int)nlen, a);
            goto usage;
        }
        const char *val = a[nlen] == '=' ? a + nlen + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!val) {
            fprintf(stderr, "jxc: %s needs a value\n", opts[k].name);
            goto usage;
        }
        int bad = 0;
        switch (opts[k].bit) {
        case JXC_WRT: bad = jxc_parse_list("--wrt", val, 0, &wrt); break;
        case JXC_IN_AXES: bad = jxc_parse_list("--in-axes", val, 1, &in_axes); break;
        case JXC_OUT_AXES: bad = jxc_parse_list("--out-axes", val, 1, &out_axes); break;
        default:
            if (jxc_int(val, 0, LLONG_MAX, &size) < 0) {
                fprintf(stderr, "jxc: bad value '%s' for --size (expected a count >= 0)\n",
                        val);
                bad = -1;
            }
        }
        if (bad) goto usage;
    }
    if (!src) {
        fprintf(stderr, "jxc: %s needs an IR file\n", tx->name);
        goto usage;
    }
    if ((tx->opts & JXC_SIZE) && size < 0) {
        fprintf(stderr, "jxc: %s needs --size N (the batch size)\n", tx->name);
        goto usage;
    }
    rc = 1;
    if (!(f = jxc_load(src))) goto done;
    const char *shown = strcmp(src, "-") ? src : "<stdin>";
    int printed;
    g = jxc_apply(tx, f, shown, &wrt, &in_axes, &out_axes, size, &printed);
    if (!g) {
        if (!printed) fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
        goto done;
    }
    if (jx_fn_verify(g) < 0) {
        fprintf(stderr, "jxc: %s: %s produced an invalid function: %s\n", shown, tx->name,
                jx_error());
        goto done;
    }
    jx_fn_print(g, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "jxc: cannot write the output\n");
        goto done;
    }
    rc = 0;
    goto done;
usage:
    rc = jxc_usage_err(NULL);
done:
    jx_fn_free(g);
    jx_fn_free(f);
    free(wrt.v);
    free(in_axes.v);
    free(out_axes.v);
    return rc;
}

/* Prints text (malloc'd, freed here) to stdout; 0, or 1 with a message if it is missing or
 * cannot be written. */
static int jxc_put(char *text, const char *what) {
    if (!text) {
        fprintf(stderr, "jxc: no %s was produced\n", what);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "jxc: cannot write the output\n");
        return 1;
    }
    return 0;
}

/* jxc opt|fuse|llvm|asm F.jx [--after] [--donate I,..]: prints one stage of the JIT for
 * F.jx; argv holds the arguments after the command. opt runs only the IR passes; the
 * others compile exactly as jx_jit does (outside the compile cache) and print the plan,
 * the LLVM IR before or after O3, or the assembly. */
static int jxc_inspect(const char *cmd, int argc, char **argv) {
    int opt = !strcmp(cmd, "opt"), llvm = !strcmp(cmd, "llvm"), after = 0;
    const char *src = NULL;
    jxc_list donate = {-1, NULL};
    jx_fn *f = NULL, *g = NULL;
    jx_exe *e = NULL;
    unsigned char *mask = NULL;
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (llvm && !strcmp(a, "--after")) {
            after = 1;
        } else if (!opt && !strncmp(a, "--donate", 8) && (a[8] == 0 || a[8] == '=')) {
            const char *val = a[8] == '=' ? a + 9 : i + 1 < argc ? argv[++i] : NULL;
            if (!val) {
                fprintf(stderr, "jxc: --donate needs a value\n");
                goto done;
            }
            if (jxc_parse_list("--donate", val, 0, &donate) < 0) goto done;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "jxc: %s does not take the option %s\n", cmd, a);
            goto done;
        } else if (src) {
            fprintf(stderr, "jxc: %s takes one IR file, got '%s' and '%s'\n", cmd, src, a);
            goto done;
        } else {
            src = a;
        }
    }
    if (!src) {
        fprintf(stderr, "jxc: %s needs an IR file\n", cmd);
        goto done;
    }
    rc = 1;
    if (!(f = jxc_load(src))) goto done;
    const char *shown = strcmp(src, "-") ? src : "<stdin>";
    if (opt) {
        if (!(g = jit_prepare(f))) {
            fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
            goto done;
        }
        rc = jxc_put(jx_fn_to_string(g), "IR");
        goto done;
    }
    int n_in = jx_fn_n_in(f);
    if (donate.n >= 0) {
        if (!(mask = calloc((size_t)n_in + 1, 1))) {
            fprintf(stderr, "jxc: out of memory\n");
            goto done;
        }
        for (int k = 0; k < donate.n; k++) {
            if (donate.v[k] < 0 || donate.v[k] >= n_in) {
                fprintf(stderr, "jxc: --donate index %d out of range (%s has %d inputs)\n",
                        donate.v[k], shown, n_in);
                goto done;
            }
            mask[donate.v[k]] = 1;
        }
    }
    jx_jit_opts o = {.donate = mask};
    if (!(e = jit_compile_keep(f, &o))) {
        fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
        goto done;
    }
    if (!strcmp(cmd, "fuse")) rc = jxc_put(jit_exe_plan(e), "plan");
    else if (llvm) rc = jxc_put(jit_exe_llvm(e, after), "LLVM IR");
    else rc = jxc_put(jit_exe_asm(e), "assembly");
done:
    if (rc == 2) jxc_usage_err(NULL);
    jx_exe_free(e);
    jx_fn_free(g);
    jx_fn_free(f);
    free(mask);
    free(donate.v);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) return jxc_usage_err(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(jxc_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "run")) return jxc_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "opt") || !strcmp(cmd, "fuse") || !strcmp(cmd, "llvm") || !strcmp(cmd, "asm"))
        return jxc_inspect(cmd, argc - 2, argv + 2);
    for (size_t k = 0; k < sizeof jxc_txs / sizeof jxc_txs[0]; k++)
        if (!strcmp(cmd, jxc_txs[k].name)) return jxc_transform(&jxc_txs[k], argc - 2, argv + 2);
    if (strcmp(cmd, "print") && strcmp(cmd, "dot")) {
        fprintf(stderr, "jxc: unknown command '%s'\n", cmd);
        return jxc_usage_err(NULL);
    }
    if (argc != 3) return jxc_usage_err("print and dot take one IR file");
    jx_fn *f = jxc_load(argv[2]);
    if (!f) return 1;
    if (!strcmp(cmd, "print")) jx_fn_print(f, stdout);
    else jx_fn_dot(f, stdout);
    jx_fn_free(f);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "jxc: cannot write the output\n");
        return 1;
    }
    return 0;
}
