/* The row groups of jxbench-all (./tools/bench); each prints its rows through bu_emit and
 * returns 0, or -1 when jx itself failed (the message is printed). A peer that cannot run
 * gives rows marked skipped, with the reason, not an error. */
#ifndef BENCH_ROWS_H
#define BENCH_ROWS_H

#include "bench_util.h"
#include "jx.h"

/* mlp_step (vs hand C, torch, numpy) and mlp_gemm_gflops (vs sgemm 2048^3). */
int br_mlp(const bu_opts *o, bu_peer *p);
/* pe_grads: vmap(grad) vs functorch and vs a jx loop of single-example grads. */
int br_pe_grads(const bu_opts *o, bu_peer *p);
/* cnn_step: the Haiku CNN step (Adam) vs torch. */
int br_cnn(const bu_opts *o, bu_peer *p);
/* epoch: a Fashion-MNIST epoch of the notebook recipe vs torch. */
int br_epoch(const bu_opts *o, bu_peer *p);
/* elt_chain vs memcpy and hand C (bench_elt), numpy and torch. */
int br_elt(const bu_opts *o, bu_peer *p);
/* compile_cold / compile_mem / compile_disk and compile_depth. */
int br_compile(const bu_opts *o, bu_peer *p);
/* dispatch: the per-call overhead vs a C call, torch and numpy. */
int br_dispatch(const bu_opts *o, bu_peer *p);

/* ---- helpers shared by the groups (bench_rows_util in bench_run.c) ---------------------- */

/* Rounds and block size for a row whose iterations take about us microseconds. */
void br_plan(const bu_opts *o, double us, int *rounds, int *block);
/* Makes side s the peer slot id for library lib (setup with json). Returns the checked
 * value the peer answered ("value"), NAN when none; on a skip or failure s is marked
 * skipped with the reason, which is also printed on stderr. */
double br_peer_side(bu_peer *p, bu_side *s, const char *id, const char *lib, const char *json);
/* Makes a scratch directory o->tmp/name into buf. 0 or -1. */
int br_dir(const bu_opts *o, const char *name, char *buf, size_t len);
/* Saves a as dir/name.npy. 0 or -1 (jx_error()). */
int br_save(const char *dir, const char *name, const jx_array *a);
/* Emits a row of jx against side s (skipped or not) with the config (keys[i] = vals[i]). */
void br_emit_side(const bu_opts *o, const char *name, int n_cfg, const char *const *keys,
                  const long long *vals, double jx_us, const bu_side *s, const char *extra);

#endif
