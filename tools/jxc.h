/* jxc's internal interface: the helpers tools/jxc.c shares with the command files
 * jxc_run.c (jxc run) and jxc_tx.c (the transformations that print IR). */
#ifndef JXC_H
#define JXC_H

#include "jx.h"

/* A list of integers from the command line; n < 0 when the option was not given. */
typedef struct jxc_list {
    int n;
    int *v;
} jxc_list;

/* A transformation that prints IR (grad, vjp, vmap, ...); defined in jxc_tx.c. */
typedef struct jxc_tx jxc_tx;

/* Prints the usage to stderr (with an optional complaint) and returns 2. */
int jxc_usage_err(const char *msg);

/* Parses and verifies the IR file at path ('-' is stdin); NULL with a message on stderr. */
jx_fn *jxc_load(const char *path);

/* Parses a decimal integer (optional sign) filling all of s into *v, within [lo, hi];
 * 0, or -1 without a message. */
int jxc_int(const char *s, long long lo, long long hi, long long *v);

/* Parses "0,2" (or "none" entries when allow_none: JX_NONE) into *out (malloc'd).
 * Returns 0, or prints a usage complaint for option opt and returns -1. */
int jxc_parse_list(const char *opt, const char *s, int allow_none, jxc_list *out);

/* The input mask (n_in + 1 bytes, malloc'd) of the list l of option opt (--donate,
 * --wrt) for a function with n_in inputs (shown: its file's name); NULL with a message
 * on stderr for an index out of range. */
unsigned char *jxc_mask(const char *opt, const jxc_list *l, int n_in, const char *shown);

/* jxc run: argv holds the arguments after "run". Returns the exit code. */
int jxc_run(int argc, char **argv);

/* The transformation named cmd, or NULL if cmd names none. */
const jxc_tx *jxc_tx_find(const char *cmd);

/* jxc <transformation> F.jx [options]: argv holds the arguments after the command.
 * Returns the exit code. */
int jxc_transform(const jxc_tx *tx, int argc, char **argv);

#endif
