#!/usr/bin/env bash
# mnist_mlp --save / --resume (jx_train_save / jx_train_load): one epoch, save, resume for
# a second gives every member of the checkpoint (params, SGD's step count) bit for bit as
# an uninterrupted two-epoch run, and the same accuracy lines; a resume file from another
# model is refused naming the member. Prints "PASS name" / "FAIL name: why" lines. Run by
# ./tools/test with JX_BUILD_DIR set (default: build). Needs the Fashion-MNIST files
# (JX_MNIST_DIR or Debian's location) and unzip.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
ex_setup train_resume mnist_mlp
DATA=${JX_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
command -v unzip >/dev/null || { echo "FAIL train_resume_setup: unzip not found"; exit 1; }
M=(--smoke --batch 512 --data "$DATA")

# same_members A B: both archives list the same members with the same bytes each.
same_members() {
    local la lb m
    la=$(unzip -Z1 "$1" | sort) && lb=$(unzip -Z1 "$2" | sort) || return 1
    [ "$la" = "$lb" ] && [ -n "$la" ] || return 1
    for m in $la; do cmp -s <(unzip -p "$1" "$m") <(unzip -p "$2" "$m") || return 1; done
}

if run_ok train_resume_full "$EX/mnist_mlp" "${M[@]}" --epochs 2 --save "$T/full.npz"; then
    grep 'accuracy' "$T/out.txt" | tail -n 2 >"$T/full.txt"
    pass train_resume_full
fi
if run_ok train_resume_first "$EX/mnist_mlp" "${M[@]}" --epochs 1 --save "$T/a.npz" &&
    run_ok train_resume_second "$EX/mnist_mlp" "${M[@]}" --epochs 2 --resume "$T/a.npz" \
        --save "$T/b.npz" &&
    expect_lines train_resume_second "^mnist_mlp: resumed from .*a\.npz after 1 epochs$" \
        "^Epoch 2 in "; then
    if ! grep -q '^Epoch 1 ' "$T/out.txt" &&
        grep 'accuracy' "$T/out.txt" | tail -n 2 | cmp -s - "$T/full.txt" &&
        unzip -Z1 "$T/b.npz" | grep -qx 'params/layers/2/b.npy' &&
        unzip -Z1 "$T/b.npz" | grep -qx 'opt/count.npy' &&
        same_members "$T/full.npz" "$T/b.npz" && ! same_members "$T/a.npz" "$T/b.npz"; then
        pass train_resume_same_bits
    else
        fail train_resume_same_bits "the resumed run differs from the uninterrupted one"
    fi
fi
# a checkpoint of another shape: a 1-param archive
if [ -f "$T/a.npz" ]; then
    cp "$T/a.npz" "$T/bad.npz" && zip -qd "$T/bad.npz" 'params/layers/0/w.npy' 2>/dev/null
    if [ $? -eq 0 ]; then
        expect_rc train_resume_bad 1 "no member 'params/layers/0/w'" \
            "$EX/mnist_mlp" "${M[@]}" --resume "$T/bad.npz"
    fi
fi
exit $((nfail > 0))
