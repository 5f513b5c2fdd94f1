/* Internal helpers of parameter trees (tree.c), shared with the .npz writer. */
#ifndef JX_LIB_TREE_H
#define JX_LIB_TREE_H

#include "jx.h"

/* The longest path: the zip format's limit on a member name (16-bit length) less ".npy". */
#define TREE_PATH_MAX (65535 - 4)

/* What is wrong with path as a leaf path ("is empty", "is not valid UTF-8", "is N bytes,
 * over the limit of M"), or NULL when it is fine. NULL path: "is NULL". */
const char *tree_path_problem(const char *path, char *buf, size_t len);
/* 1 if path is prefix or lies under it ("layers/0" holds "layers/0/w", not "layers/01"). */
int tree_path_under(const char *path, const char *prefix);

#endif
