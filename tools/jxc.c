/* jxc: the command-line front end to jx's IR text form.
 *
 *   jxc print F.jx                               parse, verify, print the IR
 *   jxc run [--interp] F.jx [IN.npy...] [-o OUT.npy]...
 *                                                run on .npy inputs (reference interpreter)
 *   jxc dot F.jx                                 Graphviz DOT of the graph
 *
 * F.jx may be '-' for stdin. Errors go to stderr with exit code 1; usage errors exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jx.h"
#include "text.h"

static const char jxc_usage[] =
    "usage: jxc print F.jx\n"
    "       jxc run [--interp] F.jx [IN.npy ...] [-o OUT.npy ...]\n"
    "       jxc dot F.jx\n"
    "       jxc --help\n"
    "\n"
    "  print   parse and verify the IR text F.jx and print it back\n"
    "  run     run F.jx on the .npy inputs; with -o (one per output) save the outputs,\n"
    "          otherwise print them; --interp selects the reference interpreter\n"
    "          (currently the only mode)\n"
    "  dot     write the graph as Graphviz DOT\n"
    "F.jx may be '-' to read standard input.\n";

/* Prints the usage to stderr (with an optional complaint) and returns 2. */
static int jxc_usage_err(const char *msg) {
    if (msg) fprintf(stderr, "jxc: %s\n", msg);
    fputs(jxc_usage, stderr);
    return 2;
}

/* Reads all of path ('-' is stdin) into a malloc'd NUL-terminated string; NULL with a
 * message on stderr on failure or if the file holds a NUL byte. */
static char *jxc_read(const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "jxc: cannot open %s\n", path);
        return NULL;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);
        len += n;
        if (n == 0) break;
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || bad) {
        free(buf);
        fprintf(stderr, "jxc: cannot read %s\n", path);
        return NULL;
    }
    buf[len] = 0;
    if (strlen(buf) != len) {
        free(buf);
        fprintf(stderr, "jxc: %s contains a NUL byte\n", path);
        return NULL;
    }
    return buf;
}

/* Parses and verifies the IR file at path; NULL with a message on stderr. */
static jx_fn *jxc_load(const char *path) {
    char *text = jxc_read(path);
    if (!text) return NULL;
    jx_fn *f = jx_fn_parse(text);
    free(text);
    if (!f) {
        fprintf(stderr, "jxc: %s: %s\n", strcmp(path, "-") ? path : "<stdin>", jx_error());
        return NULL;
    }
    if (jx_fn_verify(f) < 0) {
        fprintf(stderr, "jxc: %s: %s\n", path, jx_error());
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

/* jxc run: argv holds the arguments after "run". */
static int jxc_run(int argc, char **argv) {
    const char *src = NULL;
    const char **ins = calloc((size_t)argc + 1, sizeof *ins);
    const char **outs = calloc((size_t)argc + 1, sizeof *outs);
    int n_ins = 0, n_outs = 0, rc = 1;
    jx_fn *f = NULL;
    jx_array **in = NULL, **out = NULL;
    if (!ins || !outs) goto done;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--interp")) continue;
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
    if (jx_interp(f, in, out) < 0) {
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

int main(int argc, char **argv) {
    if (argc < 2) return jxc_usage_err(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(jxc_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "run")) return jxc_run(argc - 2, argv + 2);
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
