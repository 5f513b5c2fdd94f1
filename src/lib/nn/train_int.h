/* Internals of the training state (jx/optim.h, jx_train), shared by train.c (construction,
 * steps, epochs), train_trace.c (the traced step) and train_ckpt.c (checkpoints). Private
 * to src/lib/nn. */
#ifndef JX_LIB_TRAIN_INT_H
#define JX_LIB_TRAIN_INT_H

#include <jx/optim.h>

#define TRAIN_TBUF 200 /* room for a type string */

/* The state tree's leaves are [0, ns_opt) the optimizer's state, then the trainer's count
 * when own_count (so "opt/count" is leaf ns - 1 either way), then [ns, ns + nc) the
 * carried leaves. */
struct jx_train {
    jx_optim o;
    jx_trace_cb loss, grads; /* exactly one is set */
    void *user;
    jx_loc loc;       /* the jx_train_new_opts call (file NULL for jx_train_new) */
    jx_tree *params;  /* borrowed */
    jx_tree *state;   /* owned: the optimizer's state, "opt/count", the carry */
    jx_tree *carry0;  /* owned: the carry's initial values (jx_train_reset), or NULL */
    int np, ns_opt, ns, nc, nb, n_aux;
    int own_count;    /* 1: the optimizer keeps no count; leaf ns - 1 is ours */
    char **pnames;    /* "params/<path>" for each param */
    jx_array **in, **out; /* scratch for a run: np + ns + nc + nb and np + ns + nc + 1 + n_aux */
    jx_array *loss_out;   /* the step's loss scalar, kept from step to step (NULL at first) */
    jx_jitfn *jf;
};

/* The step as a jx_jit_trace callback (user: the jx_train): (params..., state...,
 * batch...) -> (params..., state..., loss, aux...), train_trace.c. */
void train_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user);

#endif
