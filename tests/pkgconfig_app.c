/* A user's one-file program against the public headers only, built by tests/pkgconfig.sh
 * (against the build tree) and tests/install.sh (against an installed jx.pc) with the
 * commands in README.md's "Using jx from your own program". It takes one jitted SGD step
 * (lr 0.1) on loss(w) = mean((w*x - y)^2) with x = 1,2,3, y = 2x, w = 0 and prints
 * "loss 18.6667 w 0.133333 0.533333 1.2". */
#include <jx.h>
#include <jx/data.h>
#include <jx/nn.h>
#include <jx/optim.h>
#include <stdio.h>

/* loss(w, x, y) = mean((w*x - y)^2) */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mse(jx_mul(in[0], in[1]), in[2]);
}

/* Traces, transforms, jits and runs the step; prints the loss and the new w. */
int main(void) {
    jx_type f3 = JX_TYPE(JX_F32, 3);
    int64_t perm[3], n = 3;
    jx_perm_identity(3, perm); /* jx/data.h */
    float xs[3], ys[3];
    for (int i = 0; i < 3; i++) xs[i] = (float)perm[i] + 1, ys[i] = 2 * xs[i];
    jx_optim sgd = jx_sgd(0.1); /* jx/optim.h */
    jx_fn *lf = jx_trace(loss, 3, (jx_type[]){f3, f3, f3}, 1, NULL);
    jx_fn *step = lf ? jx_optim_train_step(&sgd, lf, 1) : NULL;
    jx_exe *exe = step ? jx_jit(step, NULL) : NULL; /* native code through LLVM */
    if (!exe) {
        fprintf(stderr, "jx: %s\n", jx_error());
        return 1;
    }
    jx_array *in[3] = {jx_init_zeros(f3), jx_array_from(JX_F32, 1, &n, xs), /* jx/nn.h */
                       jx_array_from(JX_F32, 1, &n, ys)};
    jx_array *out[2] = {0};
    int rc = jx_exe_run(exe, in, out);
    if (rc == 0)
        printf("loss %g w %g %g %g\n", jx_array_get(out[1], 0), jx_array_get(out[0], 0),
               jx_array_get(out[0], 1), jx_array_get(out[0], 2));
    else
        fprintf(stderr, "jx: %s\n", jx_error());
    for (int i = 0; i < 3; i++) jx_array_free(in[i]);
    jx_array_free(out[0]), jx_array_free(out[1]);
    jx_exe_free(exe), jx_fn_free(step), jx_fn_free(lf);
    return rc == 0 ? 0 : 1;
}
