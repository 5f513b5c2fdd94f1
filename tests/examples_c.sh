#!/usr/bin/env bash
# Tests of the control-flow examples (issue 11): examples/rnn (an Elman RNN over image rows
# with jx_scan) and mnist_mlp --scan (an epoch as one scan over the batches). Each --smoke
# run must exit 0 and print the expected lines; the scan forms must compute what their
# loop forms compute: rnn's scan and --unroll print the same loss and accuracies, and
# mnist_mlp's --scan epoch the same as its per-step loop (2048 smoke examples are whole
# batches of 128, shuffled alike, so no batch is dropped).
# Prints one "PASS name" or "FAIL name: why" line per case and exits non-zero on any
# failure. Run by ./tools/test with JX_BUILD_DIR set (default: build).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
ex_setup examples_c rnn mnist_mlp

# numbers: the output's loss and accuracy figures (timings dropped), one per line.
numbers() {
    grep -E '^(Epoch|Training set|Test set)' "$T/out.txt" | sed -E 's/ in [0-9.]+ sec//'
}

# same NAME CMD1 -- CMD2: both succeed and print the same numbers().
same() {
    local name=$1 a=() b=()
    shift
    while [ "$1" != -- ]; do a+=("$1"); shift; done
    shift
    b=("$@")
    check_ok "$name" "${a[@]}" || return 1
    local first
    first=$(numbers)
    check_ok "$name" "${b[@]}" || return 1
    if [ -z "$first" ]; then
        fail "$name" "no loss or accuracy lines: $(head -c 400 "$T/out.txt")"
    elif [ "$first" != "$(numbers)" ]; then
        fail "$name" "the two runs differ: $(echo "$first" | tr '\n' ' ') vs $(numbers | tr '\n' ' ')"
    else
        pass "$name"
    fi
}

if check_ok rnn_smoke "$EX/rnn" --smoke; then
    expect_lines rnn_smoke '^rnn: 2048 train / 512 test examples, batch 128, hidden 128, .* scan$' \
        '^Epoch 1 in .* mean loss' '^Training set accuracy' '^Test set accuracy' &&
        pass rnn_smoke
fi
same rnn_scan_equals_unrolled "$EX/rnn" --smoke --hidden 32 -- "$EX/rnn" --smoke --hidden 32 --unroll
same mlp_scan_epoch_equals_loop "$EX/mnist_mlp" --smoke --epochs 2 -- \
    "$EX/mnist_mlp" --smoke --epochs 2 --scan
expect_rc mlp_scan_no_save 2 "does not take --save" "$EX/mnist_mlp" --smoke --scan --save "$T/x.npz"

[ $nfail -eq 0 ]
