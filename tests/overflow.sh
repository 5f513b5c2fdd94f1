#!/usr/bin/env bash
# Shell tests of huge shapes through the IR text and tools/jxc: a type past JX_MAX_BYTES
# (2^60 bytes, zero dims counted as 1) in an input or any equation is rejected at parse
# time with exit 1 and a message naming the line, the op and the type; it used to reach
# the planner, where 2^62 * 4 overflowed (UBSan) and `jxc run` died of a segfault with
# no message. Types at the limit still plan. Run under UBSan (build-asan) too: any
# "runtime error" fails the case. Prints "PASS name" / "FAIL name: why" per case.
# Run by ./tools/test with JX_BUILD_DIR set (default: build).
set -u
cd "$(dirname "$0")/.." || exit 1
JXC=${JX_BUILD_DIR:-build}/tools/jxc
[ -x "$JXC" ] || { echo "FAIL overflow_setup: $JXC not found (build first)"; exit 1; }
JXC=$(cd "$(dirname "$JXC")" && pwd)/jxc
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export JX_CACHE_DIR="$T/cache"
unset JX_CACHE JX_DUMP JX_JIT_TIMING
nfail=0

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1: $2"
    nfail=$((nfail + 1))
}

# expect_err NAME "STRINGS|..." CMD...: CMD must exit 1 (not crash) with each string on
# stderr and no sanitizer report.
expect_err() {
    local name=$1 want=$2 s
    shift 2
    "$@" >out.txt 2>err.txt
    local rc=$?
    if [ $rc -ne 1 ]; then
        fail "$name" "exit $rc (expected 1): $(head -c 400 err.txt)"
        return
    fi
    if grep -q "runtime error\|ERROR: [A-Za-z]*Sanitizer" err.txt; then
        fail "$name" "sanitizer report: $(head -c 400 err.txt)"
        return
    fi
    IFS='|' read -ra subs <<<"$want"
    for s in "${subs[@]}"; do
        if ! grep -qF -- "$s" err.txt; then
            fail "$name" "stderr lacks \"$s\": $(head -c 400 err.txt)"
            return
        fi
    done
    pass "$name"
}

# An .npy file holding the f32 scalar 1.0 (format 1.0; header padded to 64 bytes).
npy_scalar() {
    local h="{'descr': '<f4', 'fortran_order': False, 'shape': (), }"
    while [ $(((10 + ${#h} + 1) % 64)) -ne 0 ]; do h="$h "; done
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(((${#h} + 1) % 256)))\\x$(printf %02x $(((${#h} + 1) / 256)))"
      printf '%s\n' "$h"; printf '\x00\x00\x80\x3f'; } >"$1"
}
npy_scalar s.npy

cat >input.jx <<'JX'
{ lambda ; a:f32[4611686018427387904]. let
    b:f32[4611686018427387904] = neg a
  in (b) }
JX
cat >interm.jx <<'JX'
{ lambda ; a:f32[]. let
    b:f32[4611686018427387904] = broadcast_in_dim[shape=(4611686018427387904) broadcast_dimensions=()] a
    c:f32[4611686018427387904] = exp b
    d:f32[4611686018427387904] = rev[dimensions=(0)] c
    e:f32[4611686018427387904] = add c d
    f:f32[] = reduce_sum[axes=(0)] e
  in (f) }
JX
cat >empty.jx <<'JX'
{ lambda ; a:f32[0,1099511627776,1099511627776]. let
    b:f32[0,1099511627776,1099511627776] = neg a
  in (b) }
JX
cat >widen.jx <<'JX'
{ lambda ; a:f32[288230376151711744]. let
    b:f64[288230376151711744] = convert_element_type a
  in (b) }
JX
cat >limit.jx <<'JX'
{ lambda ; a:f32[]. let
    b:f32[288230376151711744] = broadcast_in_dim[shape=(288230376151711744) broadcast_dimensions=()] a
    c:f32[288230376151711744] = exp b
    d:f32[288230376151711744] = rev[dimensions=(0)] c
    e:f32[288230376151711744] = add c d
  in (e) }
JX
cat >vec.jx <<'JX'
{ lambda ; a:f32[1099511627776]. let
    b:f32[1099511627776] = neg a
  in (b) }
JX

expect_err huge_input_print "input.jx|f32[4611686018427387904]|too large" "$JXC" print input.jx
expect_err huge_input_fuse "input.jx|too large" "$JXC" fuse input.jx
expect_err huge_intermediate_run "interm.jx: line 2|broadcast_in_dim|result f32[4611686018427387904] is too large|2^60 bytes" \
    "$JXC" run interm.jx s.npy
expect_err huge_intermediate_interp "line 2|broadcast_in_dim|too large" "$JXC" run --interp interm.jx s.npy
expect_err huge_intermediate_fuse "line 2|broadcast_in_dim|too large" "$JXC" fuse interm.jx
expect_err huge_empty_strides "f32[0,1099511627776,1099511627776]|zero dims counted as 1" "$JXC" print empty.jx
expect_err huge_convert_widens "line 2|convert_element_type|result f64[288230376151711744]|operands: f32[288230376151711744]" \
    "$JXC" print widen.jx
expect_err huge_vmap_batch "vmap|batched 1073741824 times|too large" "$JXC" vmap vec.jx --size 1073741824

# At the limit: 2^60 bytes per buffer are accepted and sized exactly by the planner (the
# arena cannot be allocated here, which is the error; it used to wrap to 64 bytes).
ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1" \
    expect_err at_limit_sized_exactly "arena|1152921504606846976 bytes" "$JXC" fuse limit.jx

[ $nfail -eq 0 ]
