/* hello_trace: trace the notebook MLP's per-example predict, print its IR, check the text
 * round trip, and run it on the reference interpreter.
 *   hello_trace [--help] [--seed N] [--smoke]
 * (--smoke is accepted like every example's; this one is always that small.) */
#include <jx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* predict(W1,b1,W2,b2,W3,b3,x): relu MLP, log-softmax output (the JAX notebook's). */
static void predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val a = in[6];
    for (int l = 0; l < 2; l++) a = jx_relu(jx_add(jx_matvec(in[2 * l], a), in[2 * l + 1]));
    jx_val logits = jx_add(jx_matvec(in[4], a), in[5]);
    out[0] = jx_sub(logits, jx_logsumexp(logits, 0));
}

/* A tiny LCG for reproducible weights without a PRNG dependency. */
static double lcg_normalish(unsigned long long *s) {
    double acc = 0;
    for (int i = 0; i < 4; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        acc += (double)(*s >> 11) / 9007199254740992.0;
    }
    return (acc - 2.0) * 1.7320508;
}

int main(int argc, char **argv) {
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: hello_trace [--seed N] [--smoke]\n");
            return 0;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--smoke")) {
            continue; /* already a smoke run */
        } else {
            fprintf(stderr, "hello_trace: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    const int sizes[4] = {784, 512, 512, 10};
    jx_type types[7];
    for (int l = 0; l < 3; l++) {
        types[2 * l] = JX_TYPE(JX_F32, sizes[l + 1], sizes[l]);
        types[2 * l + 1] = JX_TYPE(JX_F32, sizes[l + 1]);
    }
    types[6] = JX_TYPE(JX_F32, 784);
    jx_fn *f = jx_trace(predict, 7, types, 1, NULL);
    if (!f) {
        fprintf(stderr, "%s\n", jx_error());
        return 1;
    }
    jx_fn_print(f, stdout);
    char *text = jx_fn_to_string(f);
    jx_fn *g = jx_fn_parse(text);
    char *text2 = g ? jx_fn_to_string(g) : NULL;
    printf("text round trip: %s\n", text2 && !strcmp(text, text2) ? "identical" : "DIFFERENT");
    jx_array *in[7], *out[1] = {NULL};
    unsigned long long s = seed * 2654435761ULL + 1;
    for (int i = 0; i < 7; i++) {
        in[i] = jx_array_new_type(&types[i]);
        for (int64_t k = 0; k < jx_array_size(in[i]); k++)
            jx_array_set(in[i], k, (i == 6 ? 1.0 : 0.05) * lcg_normalish(&s));
    }
    int rc = jx_interp(f, in, out);
    if (rc == 0) {
        double total = 0;
        printf("log-probabilities:");
        for (int k = 0; k < 10; k++) {
            double lp = jx_array_get(out[0], k);
            total += __builtin_exp(lp);
            printf(" %.3f", lp);
        }
        printf("\nsum of probabilities: %.6f\n", total);
    } else {
        fprintf(stderr, "%s\n", jx_error());
    }
    for (int i = 0; i < 7; i++) jx_array_free(in[i]);
    jx_array_free(out[0]);
    free(text);
    free(text2);
    jx_fn_free(g);
    jx_fn_free(f);
    return rc == 0 ? 0 : 1;
}
