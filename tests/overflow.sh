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
. tests/testlib.bash
jxc_setup overflow
npy s.npy '<f4' '()' '\x00\x00\x80\x3f'    # the f32 scalar 1.0

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

expect_rc huge_input_print 1 "input\.jx.*f32\[4611686018427387904\].*too large" "$JXC" print input.jx
expect_rc huge_input_fuse 1 "input\.jx.*too large" "$JXC" fuse input.jx
expect_rc huge_intermediate_run 1 \
    "interm\.jx: line 2.*broadcast_in_dim.*result f32\[4611686018427387904\] is too large.*2\^60 bytes" \
    "$JXC" run interm.jx s.npy
expect_rc huge_intermediate_interp 1 "line 2.*broadcast_in_dim.*too large" "$JXC" run --interp interm.jx s.npy
expect_rc huge_intermediate_fuse 1 "line 2.*broadcast_in_dim.*too large" "$JXC" fuse interm.jx
expect_rc huge_empty_strides 1 "f32\[0,1099511627776,1099511627776\].*zero dims counted as 1" "$JXC" print empty.jx
expect_rc huge_convert_widens 1 \
    "line 2.*convert_element_type.*result f64\[288230376151711744\].*operands: f32\[288230376151711744\]" \
    "$JXC" print widen.jx
expect_rc huge_vmap_batch 1 "vmap.*batched 1073741824 times.*too large" "$JXC" vmap vec.jx --size 1073741824

# At the limit: 2^60 bytes per buffer are accepted and sized exactly by the planner (the
# arena cannot be allocated here, which is the error; it used to wrap to 64 bytes).
ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1" \
    expect_rc at_limit_sized_exactly 1 "arena.*1152921504606846976 bytes" "$JXC" fuse limit.jx

[ $nfail -eq 0 ]
