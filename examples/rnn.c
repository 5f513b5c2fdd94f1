/* rnn: an Elman recurrent net reading each Fashion-MNIST image row by row, with lax.scan.
 *
 * The per-example predict runs the cell h' = tanh(Wx x_t + Wh h + b) over the image's 28
 * rows of 28 pixels as one scan (the cell is traced once, not 28 times) and classifies
 * the final state: log_softmax(Wo h + bo). It is vmapped over the batch like the MLP
 * notebook's predict, and the update step (value_and_grad through the scan, Adam with
 * global-norm clipping) is one compiled function with the params donated. The cell
 * closes over the weights of the predict it is called from, as a lax.scan body does.
 * --unroll traces the 28 steps as 28 copies of the cell instead, the loop a C for loop:
 * same values, for comparing compile time and step time with the scan. */
#include <math.h>
#include <stdio.h>

#include "common.h"

enum { NP = 5, NCLASS = 10, ROWS = 28, COLS = 28 };
enum { WX, WH, B, WO, BO }; /* the params' leaves, in tree order */

/* The cell as a scan body: (h, row) -> h' = tanh(wx row + wh h + b), with the params of
 * the enclosing predict (user) captured. */
static void cell_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_val *p = user;
    out[0] = jx_tanh(jx_add(jx_add(jx_matvec(p[WX], in[1]), jx_matvec(p[WH], in[0])), p[B]));
}

/* predict(params, image[784]) -> log-probabilities [10]; *unroll selects the C loop. */
static void predict_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const int *unroll = user;
    jx_val rows = jx_reshape(in[NP], JX_INTS(ROWS, COLS));
    jx_val h = jx_full(t, JX_TYPE(JX_F32, jx_val_type(in[WH]).shape[0]), 0);
    if (*unroll) {
        for (int r = 0; r < ROWS; r++) {
            jx_val x = jx_reshape(jx_slice(rows, JX_INTS(r, 0), JX_INTS(r + 1, COLS),
                                           JX_INTS(1, 1)), JX_INTS(COLS));
            cell_cb(t, (jx_val[]){h, x}, &h, (void *)in);
        }
    } else if (jx_scan(cell_cb, (void *)in, 1, &h, 1, &rows, ROWS, 0, 0, &h, NULL) < 0) {
        return;
    }
    jx_val logits = jx_add(jx_matvec(in[WO], h), in[BO]);
    out[0] = jx_sub(logits, jx_logsumexp(logits, 0));
}

/* vmap(predict, in_axes=(None, 0))(params, images) into *logp: 0, or -1. */
static int batched_predict(const jx_val *in, int *unroll, jx_val *logp) {
    return jx_call_vmap(predict_cb, unroll, NP + 1, JX_ARGS(NP, 1), (int[]){JX_NONE, 0}, in, 1,
                        NULL, logp);
}

/* loss(params, images, labels): mean softmax cross-entropy of the batch. */
static void loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val logp;
    if (batched_predict(in, user, &logp) == 0)
        out[0] = jx_neg(jx_mul(jx_mean_all(jx_mul(logp, jx_one_hot(in[NP + 1], NCLASS,
                                                                      JX_F32))),
                               jx_full(t, JX_SCALAR(JX_F32), NCLASS)));
}

/* eval(params, images, labels): the number of images whose argmax is the label. */
static void eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val logp;
    if (batched_predict(in, user, &logp) == 0) out[0] = jx_count_correct(logp, in[NP + 1]);
}

/* Glorot-uniform input and output weights, an orthogonal-free recurrent init scaled to
 * keep tanh in its linear range (normal, stddev 1/sqrt(H)), zero biases. 0 or -1. */
static int init_params(jx_tree *p, int64_t hidden, uint32_t seed) {
    jx_key k[3];
    jx_key_split(jx_key_new(seed), 3, k);
    if (jx_tree_put(p, jx_init_glorot_uniform(k[0], JX_TYPE(JX_F32, hidden, COLS)), "wx") < 0 ||
        jx_tree_put(p, jx_init_normal(k[1], JX_TYPE(JX_F32, hidden, hidden),
                                      1.0 / sqrt((double)hidden)), "wh") < 0 ||
        jx_tree_put(p, jx_init_zeros(JX_TYPE(JX_F32, hidden)), "b") < 0 ||
        jx_tree_put(p, jx_init_glorot_uniform(k[2], JX_TYPE(JX_F32, NCLASS, hidden)), "wo") < 0 ||
        jx_tree_put(p, jx_init_zeros(JX_TYPE(JX_F32, NCLASS)), "bo") < 0)
        return -1;
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {.epochs = 5, .batch = 128, .lr = 1e-3, .normalize = 1, .smoke_epochs = 1};
    int64_t hidden = 128;
    int unroll = 0;
    const ex_opt extra[] = {
        {"--hidden H", EX_I64, &hidden, .help = "state size", .min = 1, .max = 4096},
        {"--unroll", EX_FLAG, &unroll, .help = "trace the 28 steps as 28 cells, not one scan"},
        {0}};
    ex_parse(argc, argv, &o, extra,
             "usage: rnn [options]\n"
             "An Elman RNN over the image rows (lax.scan), vmap + grad + jit, Adam.");
    jx_optim opt = jx_adam(o.lr, 0.9, 0.999, 1e-8);
    opt.clip_norm = 1.0;
    const jx_jit_opts jo = {NULL, o.threads, 0};
    jx_tree *params = jx_tree_new();
    jx_train *train = NULL;
    jx_jitfn *eval = NULL;
    ex_data d = {0};
    int rc = 1;
    if (ex_load_mnist(&o, EX_FLAT, &d) < 0 || init_params(params, hidden, o.seed) < 0) goto done;
    if (!(train = jx_train_new(&opt, loss_cb, &unroll, params, 2, 0, &jo))) goto done;
    if (!(eval = jx_jit_trace(eval_cb, NP + 2, 1, &unroll, &jo))) goto done;
    printf("rnn: %lld train / %lld test examples, batch %lld, hidden %lld, Adam lr %g, %s\n",
           (long long)jx_array_dim(d.xtr, 0), (long long)jx_array_dim(d.xte, 0),
           (long long)o.batch, (long long)hidden, o.lr, unroll ? "unrolled" : "scan");
    ex_progress_opts prog = {.epochs = o.epochs, .every = 20};
    jx_epoch_opts eo = {.batch = o.batch, .shuffle = 1, .seed = o.seed, .hook = ex_progress_hook,
                        .user = &prog};
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double seconds, loss;
        if (ex_epoch(train, d.xtr, d.ytr, &eo, &prog, epoch, &seconds, &loss) < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f\n", epoch + 1, seconds, loss);
        if (ex_report(eval, params->n, params->leaves, &d, 1000, EX_TRAIN_SET | EX_TEST_SET) < 0)
            goto done;
    }
    rc = 0;
done:
    if (rc) ex_print_error("rnn");
    jx_train_free(train);
    jx_tree_free(params);
    jx_jitfn_free(eval);
    ex_data_free(&d);
    return rc;
}
