#!/usr/bin/env bash
# Shell tests of the examples mnist_mlp, mnist_cnn, mlp_momentum and per_example_grads:
# each runs in --smoke mode (exit 0, nothing on stderr, its per-epoch lines, a test
# accuracy above chance), --help (exit 0 with usage and the common options), bad
# arguments and values (exit 2 with a message) and a missing data directory (exit 1 with
# a message); --smoke honours an explicit --epochs and --no-normalize overrides a [0,1]
# default. Prints one "PASS name" or "FAIL name: why" line per
# case and exits non-zero on any failure. Run by ./tools/test with JX_BUILD_DIR set
# (default: build). Needs the Fashion-MNIST files (JX_MNIST_DIR or Debian's location).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
ex_setup examples_a mnist_mlp mnist_cnn mlp_momentum per_example_grads
DATA=${JX_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

# number_after NAME PREFIX OP BOUND: the number following PREFIX on the last line that
# contains it must satisfy (awk) number OP BOUND.
number_after() {
    local name=$1 prefix=$2 op=$3 bound=$4 v
    v=$(grep -F -- "$prefix" "$T/out.txt" | tail -n 1 | sed -E "s/.*$prefix *([-+0-9.eE]+).*/\\1/")
    if [ -z "$v" ] || ! awk -v v="$v" -v b="$bound" "BEGIN { exit !(v $op b) }"; then
        fail "$name" "'$prefix' value '$v' is not $op $bound"
        return 1
    fi
    return 0
}

# common_cases NAME: --help, bad arguments and a missing data directory.
common_cases() {
    local ex=$1
    if run_ok "${ex}_help" "$EX/$ex" --help &&
        expect_lines "${ex}_help" "^usage: $ex" "^common options:$" "^  --smoke +a short run" \
            "^  --normalize " "^  --no-normalize +raw 0\.\.255 pixels" \
            "^  --epochs N +.*\(default [0-9]+\)$"; then
        pass "${ex}_help"
    fi
    # Each bad case also names a missing data directory, so that an argument accepted by
    # mistake fails at once instead of starting a full training.
    local none=(--data "$T/none")
    expect_rc "${ex}_bad_flag" 2 "unknown argument '--bogus'" "$EX/$ex" "${none[@]}" --bogus
    expect_rc "${ex}_bad_number" 2 "^--epochs: 'many' is not a number" \
        "$EX/$ex" "${none[@]}" --epochs many
    expect_rc "${ex}_bad_batch" 2 "^--batch: 0 is out of range \(expected >= 1\)" \
        "$EX/$ex" "${none[@]}" --batch 0
    expect_rc "${ex}_bad_integer" 2 "^--batch: '2.5' is not an integer" \
        "$EX/$ex" "${none[@]}" --batch 2.5
    expect_rc "${ex}_missing_value" 2 "^--lr needs a value" "$EX/$ex" "${none[@]}" --lr
    expect_rc "${ex}_missing_data_value" 2 "^--data needs a value" "$EX/$ex" --data
    expect_rc "${ex}_no_data" 1 "$T/none" "$EX/$ex" --smoke --data "$T/none"
}

# count_lines PATTERN: the number of lines of $T/out.txt matching grep -E PATTERN.
count_lines() { grep -cE -- "$1" "$T/out.txt"; }

if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
    echo "FAIL examples_a_data: no Fashion-MNIST in $DATA (set JX_MNIST_DIR)"
    exit 1
fi

# mnist_mlp: the notebook's net on raw pixels (its default) for one pass over 2048 examples.
if run_ok mnist_mlp_smoke "$EX/mnist_mlp" --smoke --data "$DATA" &&
    expect_lines mnist_mlp_smoke \
        "^mnist_mlp: 2048 train / 512 test examples, batch 128, lr 0.01, raw 0..255 pixels$" \
        "^Epoch 1 in [0-9.]+ sec, mean loss [0-9.]+$" "^Training set accuracy [0-9.]+$" \
        "^Test set accuracy [0-9.]+$" &&
    number_after mnist_mlp_smoke "Test set accuracy" ">" 0.3; then
    pass mnist_mlp_smoke
fi
# --smoke keeps its 1-epoch cap only when --epochs is not given.
if run_ok mnist_mlp_smoke_epochs "$EX/mnist_mlp" --smoke --epochs 2 --batch 512 --data "$DATA" &&
    expect_lines mnist_mlp_smoke_epochs "^Epoch 2 in " "^mnist_mlp: 2048 train / 512 test"; then
    n=$(count_lines '^Epoch [0-9]+ in ')
    if [ "$n" -eq 2 ]; then
        pass mnist_mlp_smoke_epochs
    else
        fail mnist_mlp_smoke_epochs "$n epoch lines, expected 2"
    fi
fi
if run_ok mnist_mlp_smoke_cap "$EX/mnist_mlp" --smoke --batch 512 --data "$DATA"; then
    n=$(count_lines '^Epoch [0-9]+ in ')
    if [ "$n" -eq 1 ]; then
        pass mnist_mlp_smoke_cap
    else
        fail mnist_mlp_smoke_cap "$n epoch lines, expected 1"
    fi
fi
if run_ok mnist_mlp_normalize "$EX/mnist_mlp" --smoke --normalize --batch 512 --data "$DATA" &&
    expect_lines mnist_mlp_normalize "\[0,1\] pixels$"; then
    pass mnist_mlp_normalize
fi
common_cases mnist_mlp

# mnist_cnn: the notebook's recipe (batch 8, Adam 1e-4) for one pass over 2048 examples.
if run_ok mnist_cnn_smoke "$EX/mnist_cnn" --smoke --data "$DATA" &&
    expect_lines mnist_cnn_smoke "^mnist_cnn: 2048 train / 512 test examples, batch 8 " \
        "^Epoch 1 in [0-9.]+ sec \([0-9.]+ us/step\), mean loss [0-9.]+$" \
        "^Training set accuracy [0-9.]+ \(loss [0-9.]+\)$" "^Test set accuracy [0-9.]+ \(loss" &&
    number_after mnist_cnn_smoke "Test set accuracy" ">" 0.3 &&
    number_after mnist_cnn_smoke "mean loss" "<" 2.3026; then
    pass mnist_cnn_smoke
fi
# Another batch size with a partial last batch (2048 = 6 * 300 + 248) and Adam's lr.
if run_ok mnist_cnn_batch300 "$EX/mnist_cnn" --smoke --batch 300 --lr 1e-3 --data "$DATA" &&
    expect_lines mnist_cnn_batch300 "batch 300 \(7 steps/epoch\)" &&
    number_after mnist_cnn_batch300 "Test set accuracy" ">" 0.15; then
    pass mnist_cnn_batch300
fi
# --no-normalize overrides the [0,1] default.
if run_ok mnist_cnn_no_normalize "$EX/mnist_cnn" --smoke --no-normalize --batch 512 --data "$DATA" &&
    expect_lines mnist_cnn_no_normalize "raw 0\.\.255 pixels$" "^Test set accuracy [0-9.]+ \(loss"; then
    pass mnist_cnn_no_normalize
fi
common_cases mnist_cnn

# mlp_momentum: on raw pixels the notebook's net saturates its softmax (Fashion-MNIST stays
# near chance for a while), so the accuracy bound (above chance after 32 small steps: the
# loss is divided by 10) is checked on [0,1] pixels; the raw run must still lower the loss.
if run_ok mlp_momentum_smoke "$EX/mlp_momentum" --smoke --data "$DATA" &&
    expect_lines mlp_momentum_smoke \
        "^mlp_momentum: 2048 train / 512 test examples, batch 64 \(32 steps/epoch\), sgd lr 0.01 momentum 0.6, raw 0..255 pixels$" \
        "^Epoch 1 in [0-9.]+ sec, train loss [0-9.]+$" "^Test set accuracy [0-9.]+ \(loss [0-9.]+\)$" &&
    number_after mlp_momentum_smoke "train loss" "<" 1.62; then
    pass mlp_momentum_smoke
fi
if run_ok mlp_momentum_smoke_norm "$EX/mlp_momentum" --smoke --normalize --data "$DATA" &&
    expect_lines mlp_momentum_smoke_norm "\[0,1\] pixels$" "^Epoch 1 in" &&
    number_after mlp_momentum_smoke_norm "Test set accuracy" ">" 0.15; then
    pass mlp_momentum_smoke_norm
fi
common_cases mlp_momentum

# per_example_grads: vmap(grad) equals one-at-a-time gradients; DP-SGD still learns.
if run_ok per_example_grads_smoke "$EX/per_example_grads" --smoke --data "$DATA" &&
    expect_lines per_example_grads_smoke \
        "^per_example_grads: 2048 train / 512 test examples, batch 64 \(32 steps/epoch\), sgd lr 0.1, clip C 1, noise sigma 1$" \
        "^first batch: vmap\(grad\) vs 64 one-at-a-time gradients: max abs difference " \
        "^  step 0: loss [0-9.]+, per-example grad norm min [0-9.]+ mean [0-9.]+ max [0-9.]+$" \
        "^Epoch 1 in [0-9.]+ sec, mean loss [0-9.]+, grad norms min [0-9.]+ mean [0-9.]+ max [0-9.]+$" \
        "^Training set accuracy [0-9.]+$" "^Test set accuracy [0-9.]+$" &&
    number_after per_example_grads_smoke "max abs difference" "<" 1e-4 &&
    number_after per_example_grads_smoke "Test set accuracy" ">" 0.3; then
    pass per_example_grads_smoke
fi
# Without noise and with a huge clip norm, DP-SGD is plain SGD on the mean gradient.
if run_ok per_example_grads_noclip "$EX/per_example_grads" --smoke --clip 1e9 --sigma 0 --data "$DATA" &&
    expect_lines per_example_grads_noclip "clip C 1e\+09, noise sigma 0$" &&
    number_after per_example_grads_noclip "Test set accuracy" ">" 0.3; then
    pass per_example_grads_noclip
fi
# Its own options: listed by --help, checked like the common ones.
if run_ok per_example_grads_help_own "$EX/per_example_grads" --help &&
    expect_lines per_example_grads_help_own "^options:$" "^  --clip C +.*\(default 1\)$" \
        "^  --sigma S +.*\(default 1\)$" "^  --normalize +scale pixels to \[0,1\] \(default\)$"; then
    pass per_example_grads_help_own
fi
expect_rc per_example_grads_bad_clip 2 "^--clip: 0 is out of range \(expected > 0\)" \
    "$EX/per_example_grads" --data "$T/none" --clip 0
expect_rc per_example_grads_bad_sigma 2 "^--sigma: 'x' is not a number" \
    "$EX/per_example_grads" --data "$T/none" --sigma x
expect_rc per_example_grads_negative_sigma 2 "^--sigma: -1 is out of range \(expected >= 0\)" \
    "$EX/per_example_grads" --data "$T/none" --sigma -1
expect_rc per_example_grads_missing_clip 2 "^--clip needs a value" \
    "$EX/per_example_grads" --data "$T/none" --clip
common_cases per_example_grads

[ "$nfail" -eq 0 ]
