#!/usr/bin/env bash
# Tests of examples/logreg and examples/experiments: --help, bad arguments (exit 2),
# each --smoke run (exit 0, the expected lines, accuracy above chance, the PNG files),
# and end to end: logistic regression for 1 epoch on the real Fashion-MNIST files must
# reach a test accuracy above 75%.
# Prints one "PASS name" or "FAIL name: why" line per case and exits non-zero on any
# failure. Run by ./tools/test with JX_BUILD_DIR set (default: build).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
ex_setup examples_b logreg experiments

# is_png FILE: FILE exists and starts with the PNG signature.
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

# above LIMIT VALUE: VALUE > LIMIT (decimals).
above() { awk -v v="$2" -v l="$1" 'BEGIN { exit !(v + 0 > l + 0) }'; }

# last_test_acc: the last "Test set accuracy X" value in $T/out.txt.
last_test_acc() { grep -E '^Test set accuracy' "$T/out.txt" | tail -n 1 | awk '{print $4}'; }

# ---- logreg ---------------------------------------------------------------------------
if check_ok logreg_help "$EX/logreg" --help; then
    expect_lines logreg_help '^usage: logreg' '^  --model M +logreg or tanh \(default logreg\)$' \
        '^  --png-dir DIR ' '^  --no-png ' '^  --no-normalize ' '--smoke' && pass logreg_help
fi
expect_rc logreg_bad_arg 2 "unknown argument '--bogus'" "$EX/logreg" --data "$T/none" --bogus
expect_rc logreg_bad_model 2 "unknown model 'resnet'" "$EX/logreg" --data "$T/none" --model resnet
expect_rc logreg_bad_number 2 "is not a number" "$EX/logreg" --data "$T/none" --epochs many
expect_rc logreg_missing_value 2 "^--png-dir needs a value" \
    "$EX/logreg" --data "$T/none" --png-dir

# The notebook's lr 0.001 barely moves the params in the 16 smoke steps: use 0.1.
if check_ok logreg_smoke "$EX/logreg" --smoke --lr 0.1 --png-dir "$T/png"; then
    acc=$(last_test_acc)
    if expect_lines logreg_smoke '^logreg: model logreg \[784,10\]' '^Epoch 1 in' \
        '^Training set accuracy' '^Test set accuracy' 'wrote .*/samples.png' \
        'wrote .*/weights.png' 'wrote .*/weights_change.png'; then
        if ! above 0.2 "$acc"; then
            fail logreg_smoke "test accuracy $acc is not above chance (0.1) by a margin"
        elif ! is_png "$T/png/samples.png" || ! is_png "$T/png/weights.png" ||
            ! is_png "$T/png/weights_change.png"; then
            fail logreg_smoke "missing or malformed PNG files: $(ls "$T/png" 2>&1)"
        else
            pass logreg_smoke
        fi
    fi
fi

if check_ok logreg_tanh_smoke "$EX/logreg" --model tanh --smoke --lr 0.1 --png-dir "$T/png_tanh"; then
    acc=$(last_test_acc)
    if expect_lines logreg_tanh_smoke '^logreg: model tanh \[784,1024,1024,10\]' '^Epoch 1 in' \
        'wrote .*/features.png'; then
        if ! above 0.2 "$acc"; then
            fail logreg_tanh_smoke "test accuracy $acc is not above chance"
        elif ! is_png "$T/png_tanh/features.png" || ! is_png "$T/png_tanh/samples.png"; then
            fail logreg_tanh_smoke "missing PNG files: $(ls "$T/png_tanh" 2>&1)"
        else
            pass logreg_tanh_smoke
        fi
    fi
fi

if check_ok logreg_no_png "$EX/logreg" --smoke --no-png; then
    if grep -q 'wrote ' "$T/out.txt"; then
        fail logreg_no_png "--no-png still wrote images: $(grep 'wrote ' "$T/out.txt")"
    else
        pass logreg_no_png
    fi
fi

# --no-normalize (raw pixels, the notebook's default is [0,1]) and an explicit --epochs
# with --smoke (the 1-epoch cap applies only without it).
if check_ok logreg_raw_epochs "$EX/logreg" --smoke --no-normalize --epochs 2 --no-png; then
    if ! expect_lines logreg_raw_epochs 'raw 0\.\.255 pixels$' '^Epoch 2 in'; then
        :
    elif [ "$(grep -cE '^Epoch [0-9]+ in' "$T/out.txt")" -ne 2 ]; then
        fail logreg_raw_epochs "expected 2 epoch lines: $(grep -E '^Epoch' "$T/out.txt")"
    else
        pass logreg_raw_epochs
    fi
fi

# End to end: 1 epoch over all 60000 training images (lr 0.1 instead of the notebook's
# 0.001, which needs 24 epochs to pass 75%).
if check_ok logreg_e2e_fashion_mnist "$EX/logreg" --epochs 1 --lr 0.1 --no-png; then
    acc=$(last_test_acc)
    if expect_lines logreg_e2e_fashion_mnist '60000 train / 10000 test examples'; then
        if above 0.75 "$acc"; then
            pass logreg_e2e_fashion_mnist
        else
            fail logreg_e2e_fashion_mnist "test accuracy $acc after 1 epoch, expected > 0.75"
        fi
    fi
fi

# ---- experiments ----------------------------------------------------------------------
if check_ok experiments_help "$EX/experiments" --help; then
    expect_lines experiments_help '^usage: experiments' '^  --models LIST ' '^  --lrs LIST ' \
        '^  --repeats N ' '^  --no-softmax-check ' '2000/500 examples' '2 epochs unless --epochs' \
        && pass experiments_help
fi
expect_rc experiments_bad_arg 2 "unknown argument '--bogus'" "$EX/experiments" --data "$T/none" --bogus
expect_rc experiments_bad_model 2 "unknown model 'vgg'" \
    "$EX/experiments" --data "$T/none" --models softmax,vgg
expect_rc experiments_bad_lrs 2 "--lrs: expected" "$EX/experiments" --data "$T/none" --lrs 0.1,fast
expect_rc experiments_zero_epochs 2 "^--epochs: 0 is out of range \(expected >= 1\)" \
  "$EX/experiments" --data "$T/none" --epochs 0
expect_rc experiments_bad_repeats 2 "^--repeats: 0 is out of range \(expected 1\.\.64\)" \
    "$EX/experiments" --data "$T/none" --repeats 0
expect_rc experiments_bad_repeats_int 2 "^--repeats: '1.5' is not an integer" \
    "$EX/experiments" --data "$T/none" --repeats 1.5

models="baseline softmax l2mom softmax_l2mom adamw adagrad dropout augment deep"
if check_ok experiments_smoke "$EX/experiments" --smoke; then
    if expect_lines experiments_smoke '^stable softmax: OK' '10 of 10 not finite' \
        '^model +lr +accuracy'; then
        ok=1
        # One table row per model, each with 2 repeats; every step compiled once.
        for m in $models; do
            if ! grep -qE "^$m +[0-9.e+-]+ +[0-9.]+% ± [0-9.]+ p\.p\. \(n=2\)" "$T/out.txt"; then
                fail experiments_smoke "no table row for $m"
                ok=0
            fi
        done
        n_compiled=$(grep -c '(1 training step compiled for 2 repeats)' "$T/out.txt")
        if [ "$n_compiled" -ne 9 ]; then
            fail experiments_smoke "expected 9 configurations compiled once, got $n_compiled"
            ok=0
        fi
        # The table is sorted by mean accuracy and its best row beats chance.
        accs=$(grep -E '% ± ' "$T/out.txt" | grep -E '^[a-z_]+ +[0-9]' | sed -E 's/.* ([0-9.]+)% ±.*/\1/')
        if [ "$accs" != "$(echo "$accs" | sort -gr)" ]; then
            fail experiments_smoke "table not sorted by accuracy: $accs"
            ok=0
        elif ! above 30 "$(echo "$accs" | head -n 1)"; then
            fail experiments_smoke "best mean accuracy $(echo "$accs" | head -n 1)% is not above chance"
            ok=0
        fi
        [ $ok -eq 1 ] && pass experiments_smoke
    fi
fi

if check_ok experiments_subset "$EX/experiments" --smoke --models softmax,deep --lrs 0.5,1 \
    --repeats 2 --no-softmax-check; then
    rows=$(grep -cE '^(softmax|deep) +(0\.5|1) ' "$T/out.txt")
    if grep -q 'stable softmax' "$T/out.txt"; then
        fail experiments_subset "--no-softmax-check still ran the check"
    elif [ "$rows" -ne 4 ]; then
        fail experiments_subset "expected 4 table rows (2 models x 2 lrs), got $rows"
    elif grep -qE '^(baseline|adamw) ' "$T/out.txt"; then
        fail experiments_subset "models outside --models were trained"
    else
        pass experiments_subset
    fi
fi

[ $nfail -eq 0 ]
