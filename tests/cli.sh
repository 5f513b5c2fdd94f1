#!/usr/bin/env bash
# Shell tests of tools/jxc: printing, running on .npy files (native code and the
# interpreter), DOT output, the IR-printing transformations, the JIT inspection commands
# (opt, fuse, llvm, asm, JX_DUMP), and every error path (exit 1 with a message; usage
# errors exit 2). The compile cache goes to a temporary directory.
# Prints one "PASS name" or "FAIL name: why" line per case and exits non-zero on any
# failure. Run by ./tools/test with JX_BUILD_DIR set (default: build).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
jxc_setup cli

# run_same NAME CMD...: every shell command CMD must succeed (as run_ok) with the same
# stdout.
run_same() {
    local name=$1 c first=1
    shift
    for c in "$@"; do
        run_ok "$name" sh -c "$c" || return 1
        if [ $first -eq 1 ]; then
            cp out.txt same.txt
            first=0
        elif ! cmp -s out.txt same.txt; then
            fail "$name" "'$c' printed $(head -c 200 out.txt), not $(head -c 200 same.txt)"
            return 1
        fi
    done
    pass "$name"
}

# const FILE TYPE VALUES: writes FILE.npy holding a constant, through jxc itself.
const() {
    printf '{ lambda ; . let\n    a:%s = constant[value=[%s]]\n  in (a) }\n' "$2" "$3" >"$1.jx"
    "$JXC" run "$1.jx" -o "$1" >/dev/null 2>&1
}

# ---- the IR files --------------------------------------------------------------------
cat >f.jx <<'EOF'
{ lambda ; a:f32[3] b:f32[3]. let
    c:f32[3] = mul a b    # model.c:3
    d:f32[3] = add c a    # model.c:4
  in (d, c) }
EOF
cat >loss.jx <<'EOF'
{ lambda ; a:f32[3] b:f32[3]. let
    c:f32[3] = mul a a
    d:f32[3] = mul c b
    e:f32[] = reduce_sum[axes=(0)] d
  in (e) }
EOF
cat >ex.jx <<'EOF'
{ lambda ; x:f32[3]. let
    y:f32[3] = exp x
    t:f32[3] = broadcast_in_dim[shape=(3) broadcast_dimensions=()] 2.0:f32[]
    z:f32[3] = mul y t
  in (z) }
EOF
cat >ints.jx <<'EOF'
{ lambda ; a:i32[3] b:i32[3]. let
    c:i32[3] = mul a b
    o:i32[3] = broadcast_in_dim[shape=(3) broadcast_dimensions=()] 1:i32[]
    d:i32[3] = sub c o
  in (d) }
EOF
# a = [1, 2, 3], b = [2, 4, 0.5] (f32, written by hand)
npy a.npy '<f4' '(3,)' '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40'
npy b.npy '<f4' '(3,)' '\x00\x00\x00\x40\x00\x00\x80\x40\x00\x00\x00\x3f'
npy ia.npy '<i4' '(3,)' '\x01\x00\x00\x00\xfe\xff\xff\xff\x07\x00\x00\x00'
npy ib.npy '<i4' '(3,)' '\x05\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x80'

# ---- print ---------------------------------------------------------------------------
if run_ok print_round_trip "$JXC" print f.jx; then
    cp out.txt p1.jx
    if ! grep -q 'mul a b' p1.jx || ! grep -q '# model.c:4' p1.jx; then
        fail print_round_trip "printed IR lacks the equations: $(head -c 300 p1.jx)"
    elif run_ok print_round_trip "$JXC" print p1.jx && cmp -s p1.jx out.txt; then
        pass print_round_trip
    else
        fail print_round_trip "second print differs from the first"
    fi
fi
if run_ok print_stdin sh -c "cat f.jx | '$JXC' print -" && cmp -s out.txt p1.jx; then
    pass print_stdin
else
    fail print_stdin "print - differs from print f.jx"
fi
# print --fold: a custom_jvp node's sub-functions become "...", one line per equation;
# the plain print of the same file is the full, parseable form
cat >cj.jx <<'EOF'
{ lambda ; a:f32[3]. let
    b:f32[3] = custom_jvp[
      call={ lambda ; a:f32[3]. let
          b:f32[3] = mul a a
        in (b) }
      jvp={ lambda ; a:f32[3] b:f32[3]. let
          c:f32[3] = mul a a
          d:f32[3] = add a a
          e:f32[3] = mul d b
        in (c, e) }
    ] a    # model.c:7
    c:f32[3] = neg b
  in (c) }
EOF
printf '%s\n' '{ lambda ; a:f32[3]. let' '    b:f32[3] = custom_jvp[...] a    # model.c:7' \
    '    c:f32[3] = neg b' '  in (c) }' >cj_fold_want.txt
run_same print_fold "'$JXC' print --fold cj.jx" "'$JXC' print cj.jx --fold" \
    "'$JXC' print --fold - < cj.jx" "cat cj_fold_want.txt"
if run_ok print_fold_full "$JXC" print cj.jx && cmp -s out.txt cj.jx; then
    pass print_fold_full
else
    fail print_fold_full "plain print of cj.jx is not the file itself: $(head -c 300 out.txt)"
fi

# ---- run -----------------------------------------------------------------------------
const want_d.npy 'f32[3]' '3.0, 10.0, 4.5'
const want_c.npy 'f32[3]' '2.0, 8.0, 1.5'
if run_ok run_npy_outputs "$JXC" run f.jx a.npy b.npy -o d.npy -o c.npy; then
    if cmp -s d.npy want_d.npy && cmp -s c.npy want_c.npy; then
        pass run_npy_outputs
    else
        fail run_npy_outputs "outputs differ from the expected .npy files"
    fi
fi
if run_ok run_print_outputs "$JXC" run --interp f.jx a.npy b.npy; then
    if grep -qF 'out 0: f32[3] [3.0, 10.0, 4.5]' out.txt &&
        grep -qF 'out 1: f32[3] [2.0, 8.0, 1.5]' out.txt; then
        pass run_print_outputs
    else
        fail run_print_outputs "unexpected output: $(head -c 300 out.txt)"
    fi
fi
# int32 wraparound: 7 * INT32_MIN - 1 = INT32_MAX
if run_ok run_i32 "$JXC" run ints.jx ia.npy ib.npy; then
    if grep -qF 'out 0: i32[3] [4, -7, 2147483647]' out.txt; then
        pass run_i32
    else
        fail run_i32 "unexpected output: $(head -c 300 out.txt)"
    fi
fi
# inputs written by jxc itself (through a constant function) read back by jxc
const x.npy 'f32[3]' '0.5, 1.0, -2.0'
if run_ok run_jxc_written_input "$JXC" run ex.jx x.npy -o z.npy; then
    if run_ok run_jxc_written_input "$JXC" run ex.jx x.npy &&
        grep -qE 'out 0: f32\[3\] \[3\.29744[0-9]*, 5\.43656[0-9]*, 0\.27067[0-9]*\]' out.txt; then
        pass run_jxc_written_input
    else
        fail run_jxc_written_input "unexpected output: $(head -c 300 out.txt)"
    fi
fi
# the same numbers through numpy, when a python3 with numpy is around
PY=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' >/dev/null 2>&1; then
        PY=$p
        break
    fi
done
if [ -n "$PY" ]; then
    if "$PY" -c '
import numpy as np, sys
x = np.load("x.npy"); z = np.load("z.npy"); d = np.load("d.npy")
ok = x.dtype == np.float32 and z.dtype == np.float32 and z.shape == (3,)
ok = ok and np.allclose(z, 2 * np.exp(x), rtol=1e-6) and list(d) == [3.0, 10.0, 4.5]
sys.exit(0 if ok else 1)' 2>err.txt; then
        pass run_numpy_check
    else
        fail run_numpy_check "numpy disagrees: $(head -c 300 err.txt)"
    fi
else
    echo "(no python3 with numpy: skipping run_numpy_check)"
fi

# ---- dot -----------------------------------------------------------------------------
if run_ok dot_output "$JXC" dot f.jx; then
    if grep -q 'digraph' out.txt && grep -q 'mul' out.txt; then
        pass dot_output
    else
        fail dot_output "no digraph in: $(head -c 200 out.txt)"
    fi
fi

# ---- transformations: each prints IR that parses back --------------------------------
# tx_case NAME ARGS...: jxc ARGS must print IR that `jxc print -` accepts.
tx_case() {
    local name=$1
    shift
    run_ok "$name" "$JXC" "$@" || return 1
    cp out.txt "$name.jx"
    if ! grep -q 'lambda' "$name.jx"; then
        fail "$name" "no IR printed: $(head -c 200 "$name.jx")"
        return 1
    fi
    if ! "$JXC" print - <"$name.jx" >reprint.txt 2>err.txt; then
        fail "$name" "printed IR does not parse back: $(head -c 300 err.txt)"
        return 1
    fi
    if ! cmp -s reprint.txt "$name.jx"; then
        fail "$name" "printed IR does not print back identically"
        return 1
    fi
    pass "$name"
}
tx_case tx_grad grad loss.jx
tx_case tx_grad_wrt grad loss.jx --wrt 0,1
tx_case tx_value_and_grad value-and-grad loss.jx --wrt=1
tx_case tx_vjp vjp f.jx
tx_case tx_vjp_wrt vjp f.jx --wrt 1
tx_case tx_jvp jvp ex.jx
tx_case tx_vmap vmap f.jx --in-axes 0,none --out-axes 0 --size 2
tx_case tx_vmap_out_axes vmap ex.jx --in-axes 1 --out-axes -1 --size 4
tx_case tx_simplify simplify f.jx
tx_case tx_grad_stdin grad - <loss.jx
# composition: grad of the printed vmap, jvp of the printed grad
tx_case tx_jvp_of_grad jvp tx_grad.jx

# numerics of transformed functions: d/da sum(a*a*b) = 2ab = [4, 16, 3]; d/db = a*a
const want_ga.npy 'f32[3]' '4.0, 16.0, 3.0'
const want_gb.npy 'f32[3]' '1.0, 4.0, 9.0'
if run_ok tx_grad_values "$JXC" run tx_grad_wrt.jx a.npy b.npy -o ga.npy -o gb.npy; then
    if cmp -s ga.npy want_ga.npy && cmp -s gb.npy want_gb.npy; then
        pass tx_grad_values
    else
        fail tx_grad_values "gradients differ from [4,16,3] and [1,4,9]"
    fi
fi
# vmap over a[2,3] with b unbatched: rows [1,2,3]*b+[1,2,3] and [2,2,2]*b+[2,2,2]
const a2.npy 'f32[2,3]' '1.0, 2.0, 3.0, 2.0, 2.0, 2.0'
const want_vd.npy 'f32[2,3]' '3.0, 10.0, 4.5, 6.0, 10.0, 3.0'
if run_ok tx_vmap_values "$JXC" run tx_vmap.jx a2.npy b.npy -o vd.npy -o vc.npy; then
    if cmp -s vd.npy want_vd.npy; then
        pass tx_vmap_values
    else
        fail tx_vmap_values "batched output differs"
    fi
fi

# ---- native code against the interpreter, the disk cache -----------------------------
if run_ok run_native_vs_interp "$JXC" run --interp f.jx a.npy b.npy -o di.npy -o ci.npy; then
    if cmp -s di.npy d.npy && cmp -s ci.npy c.npy; then
        pass run_native_vs_interp
    else
        fail run_native_vs_interp "native and interpreted outputs differ"
    fi
fi
# the native runs above stored objects; a rerun loads them and gives the same bytes
nobj=$(ls "$JX_CACHE_DIR" 2>/dev/null | grep -c '\.jxo$')
if [ "$nobj" -ge 1 ] && run_ok run_disk_cache_rerun "$JXC" run f.jx a.npy b.npy -o d2.npy -o c2.npy &&
    cmp -s d2.npy d.npy && cmp -s c2.npy c.npy; then
    pass run_disk_cache_rerun
else
    fail run_disk_cache_rerun "no object files in the cache directory ($nobj) or outputs differ"
fi
if JX_CACHE=0 JX_CACHE_DIR="$T/cache_off" run_ok run_cache_off "$JXC" run f.jx a.npy b.npy -o d3.npy -o c3.npy; then
    if cmp -s d3.npy d.npy && [ ! -e "$T/cache_off" ]; then
        pass run_cache_off
    else
        fail run_cache_off "JX_CACHE=0 wrote a cache directory or changed the outputs"
    fi
fi

# ---- inspection: opt, fuse, llvm, asm, JX_DUMP --------------------------------------
cat >g.jx <<'EOF'
{ lambda ; w:f32[4,3] x:f32[3,5] b:f32[4]. let
    y:f32[4,5] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] w x
    bb:f32[4,5] = broadcast_in_dim[shape=(4,5) broadcast_dimensions=(0)] b
    z:f32[4,5] = add y bb
    t:f32[4,5] = tanh z
    y2:f32[4,5] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] w x
    one:f32[4,5] = broadcast_in_dim[shape=(4,5) broadcast_dimensions=()] 1.0:f32[]
    u:f32[4,5] = mul t one
    v:f32[4,4] = dot_general[lhs_contract=(1) rhs_contract=(1) lhs_batch=() rhs_batch=()] u u
    s:f32[4] = reduce_sum[axes=(1)] v
  in (s, y2) }
EOF
# opt: the duplicate GEMM and the multiplication by one are gone; the IR parses back
if run_ok opt_simplifies "$JXC" opt g.jx; then
    cp out.txt g_opt.jx
    if [ "$(grep -c dot_general g_opt.jx)" -ne 2 ] || grep -q ' mul ' g_opt.jx; then
        fail opt_simplifies "expected two dot_generals and no mul: $(head -c 600 g_opt.jx)"
    elif ! "$JXC" print g_opt.jx >/dev/null 2>err.txt; then
        fail opt_simplifies "opt output does not parse: $(head -c 300 err.txt)"
    else
        pass opt_simplifies
    fi
fi
# fuse: two GEMM steps, a kernel fusing the bias into tanh, a reduction kernel, and
# arena/input/output buffers
if run_ok fuse_plan "$JXC" fuse g.jx; then
    if grep -q '^plan: ' out.txt && [ "$(grep -c ': gemm' out.txt)" -eq 2 ] &&
        grep -q 'kernel reduce_sum' out.txt && grep -qE 'kernel tanh|fuses.*tanh' out.txt &&
        grep -q '=in0' out.txt && grep -q '=out0' out.txt &&
        grep -qE 'arena\[[0-9]+,\+[0-9]+\)' out.txt; then
        pass fuse_plan
    else
        fail fuse_plan "unexpected plan: $(head -c 600 out.txt)"
    fi
fi
if run_ok fuse_donate "$JXC" fuse f.jx --donate 0 && grep -q 'donated in0' out.txt; then
    pass fuse_donate
else
    fail fuse_donate "no donation in the plan: $(head -c 400 out.txt)"
fi
# llvm: the entry and a kernel before O3; the optimized module differs
if run_ok llvm_before "$JXC" llvm ex.jx; then
    cp out.txt before.ll
    if grep -q '^define void @jx_entry' before.ll && grep -q 'define internal void @k' before.ll; then
        pass llvm_before
    else
        fail llvm_before "no entry or kernel in: $(head -c 400 before.ll)"
    fi
fi
if run_ok llvm_after "$JXC" llvm --after ex.jx; then
    if grep -q '^define void @jx_entry' out.txt && ! cmp -s out.txt before.ll; then
        pass llvm_after
    else
        fail llvm_after "no optimized module: $(head -c 400 out.txt)"
    fi
fi
if run_ok asm_text "$JXC" asm ex.jx; then
    if grep -q '^jx_entry_[0-9]*:' out.txt && grep -qE '^[[:space:]]+ret' out.txt; then
        pass asm_text
    else
        fail asm_text "no assembly for the entry: $(head -c 400 out.txt)"
    fi
fi
# JX_DUMP: every stage of the compile; the native run agrees with the interpreter
const w.npy 'f32[4,3]' '1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 1.0, 2.0, 3.0'
const xin.npy 'f32[3,5]' '1.0, 0.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 0.0, 1.0, 1.0, 0.5'
const bias.npy 'f32[4]' '0.1, 0.2, 0.3, 0.4'
mkdir dump
if JX_DUMP=dump run_ok jx_dump "$JXC" run g.jx w.npy xin.npy bias.npy -o s.npy -o y.npy; then
    missing=""
    for st in ir.txt opt.txt plan.txt before.ll after.ll s; do
        [ -s "dump/jx_0001.$st" ] || missing="$missing $st"
    done
    if [ -z "$missing" ] && grep -q '^plan: ' dump/jx_0001.plan.txt; then
        pass jx_dump
    else
        fail jx_dump "missing stages:$missing ($(ls dump | tr '\n' ' '))"
    fi
fi
# JX_DUMP names a directory that does not exist yet: created with its parents (mkdir -p),
# as XLA's --xla_dump_to does; one that cannot be created (a file is in the way) is one
# warning naming it, and the run still succeeds
if JX_DUMP=newdump/sub/ run_ok jx_dump_creates_dir "$JXC" run ex.jx a.npy -o dx.npy; then
    if [ -s newdump/sub/jx_0001.ir.txt ] && [ -s newdump/sub/jx_0001.s ]; then
        pass jx_dump_creates_dir
    else
        fail jx_dump_creates_dir "nothing dumped into newdump/sub: $(ls -R newdump 2>&1 | tr '\n' ' ')"
    fi
fi
: >dumpfile
if JX_DUMP=dumpfile/sub check_ok jx_dump_warns "$JXC" run ex.jx a.npy -o dw.npy; then
    if [ "$(wc -l <"$T/err.txt")" -eq 1 ] &&
        grep -q '^jx: warning: JX_DUMP: cannot create the directory dumpfile/sub: Not a directory' \
            "$T/err.txt" && cmp -s dw.npy dx.npy; then
        pass jx_dump_warns
    else
        fail jx_dump_warns "expected one warning naming dumpfile/sub: $(head -c 400 "$T/err.txt")"
    fi
fi
if run_ok run_gemm_vs_interp "$JXC" run --interp g.jx w.npy xin.npy bias.npy -o si.npy -o yi.npy; then
    # the GEMM output holds small exact sums in both; the tanh sums are compared by jxc print
    if cmp -s y.npy yi.npy; then
        pass run_gemm_vs_interp
    else
        fail run_gemm_vs_interp "native GEMM output differs from the interpreter's"
    fi
fi

# ---- errors: exit 1 with a message ---------------------------------------------------
printf '{ lambda ; a:f32[3]. let\n    b:f32[3] = frobnicate a\n  in (b) }\n' >badprim.jx
printf '{ lambda ; a:f32[3]. let\n    b:f32[4] = neg a\n  in (b) }\n' >badtype.jx
printf '{ lambda ; a:f32[3] b:f32[2]. let\n    c:f32[3] = add a b\n  in (c) }\n' >badshape.jx
printf '{ lambda ; a:f32[3]. let\n    b:f32[3] = neg a\n' >truncated.jx
printf '{ lambda ; a:f32[3]. let\x00 in (a) }\n' >nul.jx
: >empty.jx
printf 'not an npy file at all' >garbage.npy
head -c 100 a.npy >short.npy
npy trunc_data.npy '<f4' '(3,)' '\x00\x00\x80\x3f'
npy fortran.npy '<f4' '(3,)' '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40'
sed -i 's/False/True /' fortran.npy
npy complex.npy '<c8' '(1,)' '\x00\x00\x00\x00\x00\x00\x00\x00'
npy a4.npy '<f4' '(4,)' '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40'
mkdir -p adir

expect_rc err_missing_file_print 1 'cannot open missing\.jx' "$JXC" print missing.jx
expect_rc err_missing_file_run 1 'cannot open missing\.jx' "$JXC" run missing.jx
expect_rc err_missing_file_dot 1 'cannot open missing\.jx' "$JXC" dot missing.jx
expect_rc err_missing_file_grad 1 'cannot open missing\.jx' "$JXC" grad missing.jx
expect_rc err_directory 1 'adir' "$JXC" print adir
expect_rc err_bad_primitive 1 "badprim\.jx: line 2, column .*unknown primitive 'frobnicate'" \
    "$JXC" print badprim.jx
expect_rc err_declared_type 1 'badtype\.jx: line 2.*declared type f32\[4\]' \
    "$JXC" print badtype.jx
expect_rc err_shape_rule 1 'badshape\.jx: line 2.*add.*f32\[3\], f32\[2\]' \
    "$JXC" run badshape.jx a.npy a.npy
expect_rc err_truncated_ir 1 'truncated\.jx: line [0-9]+, column [0-9]+: ' \
    "$JXC" print truncated.jx
expect_rc err_empty_ir 1 "empty\.jx: line 1, column 1: expected '\{'" "$JXC" dot empty.jx
expect_rc err_nul_byte 1 'NUL byte' "$JXC" print nul.jx
expect_rc err_bad_ir_stdin 1 '<stdin>: line 1' sh -c "echo 'garbage' | '$JXC' grad -"
expect_rc err_npy_missing 1 'nothere\.npy' "$JXC" run f.jx a.npy nothere.npy
expect_rc err_npy_garbage 1 'garbage\.npy.*bad magic' "$JXC" run f.jx a.npy garbage.npy
expect_rc err_npy_short_header 1 'short\.npy.*(truncated|header)' "$JXC" run f.jx short.npy a.npy
expect_rc err_npy_short_data 1 'trunc_data\.npy.*data too short' \
    "$JXC" run f.jx a.npy trunc_data.npy
# numpy reads fortran_order True and big-endian data: so does jxc (same values as C-order,
# little-endian files holding 1, 2, 3).
npy le123.npy '<f4' '(3,)' '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40'
npy be123.npy '>f4' '(3,)' '\x3f\x80\x00\x00\x40\x00\x00\x00\x40\x40\x00\x00'
run_same npy_fortran_be "'$JXC' run f.jx le123.npy a.npy" "'$JXC' run f.jx fortran.npy a.npy" \
    "'$JXC' run f.jx be123.npy a.npy"
expect_rc err_npy_dtype 1 "complex\.npy.*unsupported descr '<c8'" \
    "$JXC" run f.jx a.npy complex.npy
expect_rc err_too_few_inputs 1 'f\.jx takes 2 input\(s\), got 1' "$JXC" run f.jx a.npy
expect_rc err_too_many_inputs 1 'f\.jx takes 2 input\(s\), got 3' \
    "$JXC" run f.jx a.npy a.npy a.npy
expect_rc err_input_dtype 1 'input 1 \(ia\.npy\) has type i32\[3\], f\.jx expects f32\[3\]' \
    "$JXC" run f.jx a.npy ia.npy
expect_rc err_input_shape 1 'input 0 \(a4\.npy\) has type f32\[4\], f\.jx expects f32\[3\]' \
    "$JXC" run f.jx a4.npy a.npy
expect_rc err_output_count 1 'f\.jx has 2 output\(s\), got 1 -o' \
    "$JXC" run f.jx a.npy b.npy -o only.npy
expect_rc err_output_unwritable 1 'nodir/o\.npy' \
    "$JXC" run ex.jx a.npy -o nodir/o.npy
expect_rc err_grad_wrt_range 1 'grad: wrt index 5 out of range' "$JXC" grad loss.jx --wrt 5
expect_rc err_grad_int_input 1 'only float inputs' "$JXC" grad ints.jx
expect_rc err_grad_not_scalar 1 'output 0 must be a float scalar, got f32\[3\]' \
    "$JXC" grad ex.jx
expect_rc err_vjp_wrt_range 1 '--wrt index 2 out of range' "$JXC" vjp f.jx --wrt 2
expect_rc err_vmap_in_axes_count 1 '--in-axes has 3 value\(s\) but f\.jx has 2 input' \
    "$JXC" vmap f.jx --size 2 --in-axes 0,0,0
expect_rc err_vmap_out_axes_count 1 '--out-axes has 3 value\(s\) but f\.jx has 2 output' \
    "$JXC" vmap f.jx --size 2 --out-axes 0,0,0
expect_rc err_vmap_axis_range 1 'in_axes\[0\] = 2 out of range for input type f32\[3\]' \
    "$JXC" vmap ex.jx --size 2 --in-axes 2
expect_rc err_vmap_out_none 1 'output 0 is batched but out_axes\[0\] is none' \
    "$JXC" vmap ex.jx --size 2 --out-axes none
expect_rc err_vmap_huge_size 1 'batch size 9999999999999999 out of range' \
    "$JXC" vmap ex.jx --size 9999999999999999
expect_rc err_fuse_donate_range 1 '--donate index 5 out of range \(f\.jx has 2 inputs\)' \
    "$JXC" fuse f.jx --donate 5
expect_rc err_llvm_missing_file 1 'cannot open missing\.jx' "$JXC" llvm missing.jx
expect_rc err_opt_bad_ir 1 'badprim\.jx: line 2' "$JXC" opt badprim.jx
expect_rc err_run_native_shape_rule 1 'badshape\.jx: line 2' "$JXC" run badshape.jx a.npy a.npy

# ---- bounded readers: devices, pipes, sizes, comments --------------------------------
# (each of these read until memory ran out, or trusted a declared size, before)
expect_rc read_dev_zero_ir 1 '/dev/zero: contains a NUL byte' "$JXC" print /dev/zero
expect_rc read_endless_ir 1 '<stdin>: larger than the 64 MiB limit for IR text' \
    sh -c "yes | '$JXC' print -"
expect_rc read_dev_zero_npy 1 '/dev/zero: bad magic' "$JXC" run f.jx /dev/zero a.npy
{ printf '\x93NUMPY\x02\x00\x60\xea\x00\x00'; head -c 60000 /dev/zero | tr '\0' ' '; } >bighdr.npy
expect_rc read_npy_header_limit 1 "bighdr\.npy: header length 60000 exceeds numpy's limit" \
    "$JXC" run f.jx bighdr.npy a.npy
npy claims400mb.npy '<f4' '(100000000,)' '\x00\x00\x80\x3f'
expect_rc read_npy_declared_size 1 'claims400mb\.npy: data too short: shape needs 400000000 bytes but only 4' \
    "$JXC" run f.jx claims400mb.npy a.npy
npy claims2gb.npy '<f4' '(600000000,)' '\x00\x00\x80\x3f'
expect_rc read_npy_load_limit 1 '/dev/stdin: the array needs 2400000000 bytes, over the load limit' \
    sh -c "cat claims2gb.npy | '$JXC' run f.jx /dev/stdin a.npy"
run_same read_npy_pipe "'$JXC' run f.jx a.npy a.npy" "cat a.npy | '$JXC' run f.jx /dev/stdin a.npy"
# a FileCheck test file is itself valid input (whole-line # comments)
if run_ok print_filecheck_file "$JXC" print "$ROOT/tests/filecheck/simplify_add_zero.jx" &&
    grep -q 'lambda' out.txt; then
    pass print_filecheck_file
fi

# ---- usage errors: exit 2 ------------------------------------------------------------
expect_rc usage_no_args 2 'usage: jxc' "$JXC"
expect_rc usage_unknown_command 2 "unknown command 'frob'" "$JXC" frob f.jx
expect_rc usage_print_no_file 2 'usage: jxc' "$JXC" print
expect_rc usage_print_two_files 2 'usage: jxc' "$JXC" print f.jx f.jx
expect_rc usage_print_fold_twice 2 'print does not take the option --fold \(again\)' \
    "$JXC" print --fold --fold f.jx
expect_rc usage_dot_fold 2 'dot does not take the option --fold' "$JXC" dot --fold f.jx
expect_rc usage_run_no_file 2 'run needs an IR file' "$JXC" run
expect_rc usage_run_o_no_value 2 '-o needs a file name' "$JXC" run f.jx a.npy b.npy -o
expect_rc usage_run_unknown_option 2 'unknown option --fast' "$JXC" run --fast f.jx
expect_rc usage_grad_no_file 2 'grad needs an IR file' "$JXC" grad
expect_rc usage_grad_bad_wrt 2 "bad value 'x' for --wrt" "$JXC" grad loss.jx --wrt x
expect_rc usage_grad_empty_wrt_item 2 "bad value '0,,1' for --wrt" "$JXC" grad loss.jx --wrt 0,,1
expect_rc usage_grad_wrt_no_value 2 '--wrt needs a value' "$JXC" grad loss.jx --wrt
expect_rc usage_grad_two_files 2 'grad takes one IR file' "$JXC" grad loss.jx f.jx
expect_rc usage_simplify_option 2 'simplify does not take the option --wrt' "$JXC" simplify f.jx --wrt 0
# jvp --wrt 1: one tangent input, for b; d = c + a has tangent a*db (a's is zero)
if run_ok tx_jvp_wrt "$JXC" jvp f.jx --wrt 1 &&
    expect_lines tx_jvp_wrt '^\{ lambda ; [a-z]+:f32\[3\] [a-z]+:f32\[3\] [a-z]+:f32\[3\]\. let$' \
        '^  in \([a-z]+, [a-z]+, [a-z]+, [a-z]+\) \}$'; then
    pass tx_jvp_wrt
fi
expect_rc usage_jvp_wrt_range 1 '--wrt index 2 out of range' "$JXC" jvp f.jx --wrt 2
expect_rc usage_vmap_no_size 2 'vmap needs --size' "$JXC" vmap f.jx
expect_rc usage_vmap_bad_size 2 "bad value '-3' for --size" "$JXC" vmap f.jx --size -3
expect_rc usage_vmap_bad_axes 2 "bad value 'zero' for --in-axes" \
    "$JXC" vmap f.jx --size 2 --in-axes zero
expect_rc usage_opt_no_file 2 'opt needs an IR file' "$JXC" opt
expect_rc usage_opt_donate 2 'opt does not take the option --donate' "$JXC" opt f.jx --donate 0
expect_rc usage_fuse_two_files 2 'fuse takes one IR file' "$JXC" fuse f.jx g.jx
expect_rc usage_asm_after 2 'asm does not take the option --after' "$JXC" asm f.jx --after
expect_rc usage_llvm_unknown_option 2 'llvm does not take the option --fast' "$JXC" llvm f.jx --fast
expect_rc usage_fuse_donate_no_value 2 '--donate needs a value' "$JXC" fuse f.jx --donate
expect_rc usage_fuse_donate_bad 2 "bad value 'x' for --donate" "$JXC" fuse f.jx --donate x
if "$JXC" --help >out.txt 2>err.txt && grep -q 'value-and-grad' out.txt; then
    pass usage_help
else
    fail usage_help "jxc --help did not exit 0 with the usage on stdout"
fi

[ "$nfail" -eq 0 ]
