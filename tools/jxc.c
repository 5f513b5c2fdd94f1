/* jxc: the command-line front end to jx's IR text form.
 *
 *   jxc print [--fold] F.jx                      parse, verify, print the IR (--fold:
 *                                                sub-functions as "...")
 *   jxc run [--interp] F.jx [IN.npy...] [-o OUT.npy]...
 *                                                run on .npy inputs (native code, or the
 *                                                reference interpreter with --interp)
 *   jxc dot F.jx                                 Graphviz DOT of the graph
 *   jxc opt F.jx [--passes P,Q,..]               the IR after the JIT's IR passes (or
 *                                                the named ones, in order)
 *   jxc passes                                   list the IR passes
 *   jxc fuse F.jx [--donate I,..]                the JIT's plan: kernels, GEMMs, buffers
 *   jxc llvm F.jx [--after] [--donate I,..]      LLVM IR before (or after) O3
 *   jxc asm F.jx [--donate I,..]                 the host assembly
 *   jxc grad|value-and-grad|vjp F.jx [--wrt I,J] reverse mode
 *   jxc jvp F.jx [--wrt I,J]                     forward mode
 *   jxc vmap F.jx --size N [--in-axes A,..] [--out-axes A,..]
 *   jxc simplify F.jx                            DCE, CSE and algebraic simplification
 *
 * The transformations parse F.jx, transform it, verify the result and print it as IR.
 * F.jx may be '-' for stdin. Errors go to stderr with exit code 1; usage errors exit 2.
 * This file holds the usage, the shared helpers (jxc.h), the JIT stages (opt, fuse, llvm,
 * asm) and the dispatch; jxc_run.c holds run, jxc_tx.c the transformations. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/cache.h"
#include "jit/jit.h"
#include "jxc.h"
#include "transform/passes.h"

static const char jxc_usage[] =
    "usage: jxc print [--fold] F.jx\n"
    "       jxc run [--interp] F.jx [IN.npy ...] [-o OUT.npy ...]\n"
    "       jxc dot F.jx\n"
    "       jxc opt F.jx [--passes P,Q,...]\n"
    "       jxc passes\n"
    "       jxc fuse F.jx [--donate I,J,...]\n"
    "       jxc llvm F.jx [--after] [--donate I,J,...]\n"
    "       jxc asm F.jx [--donate I,J,...]\n"
    "       jxc grad F.jx [--wrt I,J,...]\n"
    "       jxc value-and-grad F.jx [--wrt I,J,...]\n"
    "       jxc vjp F.jx [--wrt I,J,...]\n"
    "       jxc jvp F.jx [--wrt I,J,...]\n"
    "       jxc vmap F.jx --size N [--in-axes A,...] [--out-axes A,...]\n"
    "       jxc simplify F.jx\n"
    "       jxc --help\n"
    "\n"
    "  print   parse and verify the IR text F.jx and print it back; --fold prints the\n"
    "          sub-functions of custom_jvp/custom_vjp nodes as '...' (compact, not\n"
    "          parseable)\n"
    "  run     run F.jx on the .npy inputs; with -o (one per output) save the outputs,\n"
    "          otherwise print them; native code (jx_jit), or the reference interpreter\n"
    "          with --interp\n"
    "  dot     write the graph as Graphviz DOT\n"
    "  opt     print the IR the JIT compiles (after its IR passes: inline-custom, simplify,\n"
    "          gemm-fold, drop-barriers); --passes runs the named passes in order instead\n"
    "          ('none': no pass)\n"
    "  passes  list the IR passes and the JIT's pipeline\n"
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
    "          every float input for vjp, every input for jvp)\n"
    "  --size  the batch size (required for vmap)\n"
    "  --in-axes, --out-axes\n"
    "          the batch axis of each input / output, or 'none' (default 0); a single\n"
    "          value applies to all; negative axes count from the end\n"
    "F.jx may be '-' to read standard input.\n";

/* Prints the usage to stderr (with an optional complaint) and returns 2. */
int jxc_usage_err(const char *msg) {
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
jx_fn *jxc_load(const char *path) {
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

/* Parses a decimal integer (optional sign) filling all of s into *v, within [lo, hi]. */
int jxc_int(const char *s, long long lo, long long hi, long long *v) {
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
int jxc_parse_list(const char *opt, const char *s, int allow_none, jxc_list *out) {
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

/* The input mask (n_in + 1 bytes, malloc'd) of the list l of option opt for a function
 * with n_in inputs (shown: its file's name); NULL with a message on stderr. */
unsigned char *jxc_mask(const char *opt, const jxc_list *l, int n_in, const char *shown) {
    unsigned char *mask = calloc((size_t)n_in + 1, 1);
    if (!mask) {
        fprintf(stderr, "jxc: out of memory\n");
        return NULL;
    }
    for (int k = 0; k < l->n; k++) {
        if (l->v[k] < 0 || l->v[k] >= n_in) {
            fprintf(stderr, "jxc: %s index %d out of range (%s has %d inputs)\n", opt, l->v[k],
                    shown, n_in);
            free(mask);
            return NULL;
        }
        mask[l->v[k]] = 1;
    }
    return mask;
}

/* jxc opt|fuse|llvm|asm F.jx [--after] [--donate I,..]: prints one stage of the JIT for
 * F.jx; argv holds the arguments after the command. opt runs only the IR passes; the
 * others compile exactly as jx_jit does (outside the compile cache) and print the plan,
 * the LLVM IR before or after O3, or the assembly. */
static int jxc_inspect(const char *cmd, int argc, char **argv) {
    int opt = !strcmp(cmd, "opt"), llvm = !strcmp(cmd, "llvm"), after = 0;
    const char *src = NULL, *passes = PASS_JIT_PIPELINE;
    jxc_list donate = {-1, NULL};
    jx_fn *f = NULL, *g = NULL;
    jx_exe *e = NULL;
    unsigned char *mask = NULL;
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (llvm && !strcmp(a, "--after")) {
            after = 1;
        } else if (opt && !strncmp(a, "--passes", 8) && (a[8] == 0 || a[8] == '=')) {
            passes = a[8] == '=' ? a + 9 : i + 1 < argc ? argv[++i] : NULL;
            if (!passes) {
                fprintf(stderr, "jxc: --passes needs a value (see jxc passes)\n");
                goto done;
            }
            if (!strcmp(passes, "none")) passes = "";
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
        if (!(g = pass_run_list(f, passes))) {
            fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
            goto done;
        }
        rc = jxc_put(jx_fn_to_string(g), "IR");
        goto done;
    }
    if (donate.n >= 0 && !(mask = jxc_mask("--donate", &donate, jx_fn_n_in(f), shown))) goto done;
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

/* jxc passes: prints the JIT's pipeline and every IR pass with its summary. */
static int jxc_passes(void) {
    int n;
    const pass_info *ps = pass_list(&n);
    printf("the JIT runs: %s\n", PASS_JIT_PIPELINE);
    for (int i = 0; i < n; i++) printf("  %-10s %s\n", ps[i].name, ps[i].summary);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "jxc: cannot write the output\n");
        return 1;
    }
    return 0;
}

/* jxc print [--fold] F.jx | jxc dot F.jx (args after the command, --fold anywhere):
 * prints F.jx's IR (folded with --fold) or its DOT graph. Returns the exit code. */
static int jxc_print(const char *cmd, int argc, char **argv) {
    int is_print = !strcmp(cmd, "print"), fold = 0;
    const char *src = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--fold") && is_print && !fold) {
            fold = 1;
        } else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "jxc: %s does not take the option %s%s\n", cmd, argv[i],
                    fold ? " (again)" : "");
            return jxc_usage_err(NULL);
        } else if (src)
            return jxc_usage_err(is_print ? "print takes [--fold] and one IR file"
                                          : "dot takes one IR file");
        else src = argv[i];
    }
    if (!src) return jxc_usage_err(is_print ? "print needs an IR file" : "dot needs an IR file");
    jx_fn *f = jxc_load(src);
    if (!f) return 1;
    if (is_print) jx_fn_print_opts(f, stdout, fold ? JX_PRINT_FOLD : 0);
    else jx_fn_dot(f, stdout);
    jx_fn_free(f);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "jxc: cannot write the output\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return jxc_usage_err(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(jxc_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "run")) return jxc_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "passes"))
        return argc == 2 ? jxc_passes() : jxc_usage_err("passes takes no arguments");
    if (!strcmp(cmd, "opt") || !strcmp(cmd, "fuse") || !strcmp(cmd, "llvm") || !strcmp(cmd, "asm"))
        return jxc_inspect(cmd, argc - 2, argv + 2);
    const jxc_tx *tx = jxc_tx_find(cmd);
    if (tx) return jxc_transform(tx, argc - 2, argv + 2);
    if (strcmp(cmd, "print") && strcmp(cmd, "dot")) {
        fprintf(stderr, "jxc: unknown command '%s'\n", cmd);
        return jxc_usage_err(NULL);
    }
    return jxc_print(cmd, argc - 2, argv + 2);
}
