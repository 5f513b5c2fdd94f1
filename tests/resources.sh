#!/usr/bin/env bash
# Resource tests (short forms of ./tools/soak and ./tools/valgrind) and the
# transformation fuzzer's reproduction path:
#   soak_short          2000 trace + jit + run + free cycles after 500 warm-up ones (a real
#                       LLVM compile every 50th); RSS must not grow by more than 1 MiB (not
#                       checked in an ASan build, whose quarantine keeps freed memory);
#   valgrind_hello_trace  hello_trace --smoke under memcheck: no error, nothing definitely
#                       lost (the JIT examples take minutes under valgrind: ./tools/valgrind;
#                       in a --sanitize build ASan and LSan check the run instead);
#   fuzz_tx_repro       jxfuzz-tx --write writes a case whose jxc script rebuilds the same
#                       transformed function and runs it (interpreter and native).
# Prints one "PASS name" or "FAIL name: why" line per case; exits non-zero on a failure.
# Run by ./tools/test with JX_BUILD_DIR set (default: build).
set -u
cd "$(dirname "$0")/.." || exit 1
B=$(cd "${JX_BUILD_DIR:-build}" 2>/dev/null && pwd) || { echo "FAIL resources_setup: no build dir"; exit 1; }
. tests/testlib.bash
tl_scratch

# soak_short
if out=$("$B/tools/jxsoak" --cycles 2000 --warmup 500 --compile-every 50 --functions 20 \
         --tolerance-kb 1024 --quiet 2>&1); then
    pass soak_short
    echo "  $out"
else
    fail soak_short "$out"
fi

# valgrind_hello_trace (a --sanitize build cannot run under valgrind: there ASan and
# LeakSanitizer check the same run)
if [ -n "${JX_SANITIZE:-}" ]; then
    if "$B/examples/hello_trace" --smoke >"$T/vg.out" 2>&1; then
        echo "PASS valgrind_hello_trace (ASan + LSan in this build instead of valgrind)"
    else
        fail valgrind_hello_trace "under ASan: $(grep -A8 'ERROR' "$T/vg.out" | head -20)"
    fi
elif ! command -v valgrind >/dev/null; then
    fail valgrind_hello_trace "valgrind not installed (tools/deps lists it)"
else
    valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
        --log-file="$T/vg.log" "$B/examples/hello_trace" --smoke >"$T/vg.out" 2>&1
    rc=$?
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$T/vg.log" | tail -1)
    if [ $rc -ne 0 ] || [ "$errors" != 0 ]; then
        fail valgrind_hello_trace "exit $rc, $errors errors: $(grep -A8 'Invalid\|definitely lost in\|uninit' "$T/vg.log" | head -20)"
    elif ! grep -q "All heap blocks were freed\|definitely lost: 0 bytes" "$T/vg.log"; then
        fail valgrind_hello_trace "leak summary: $(grep -A5 'LEAK SUMMARY' "$T/vg.log")"
    else
        pass valgrind_hello_trace
    fi
fi

# fuzz_tx_repro: case 27 is a chain of 5 stages: sum, value_and_grad with a repeated wrt
# entry, vmap with out_axes none, sum, value_and_grad (3 of them jxc commands)
if ! "$B/tools/jxfuzz-tx" --seed 27 --write --dump "$T/w" >"$T/fz.out" 2>&1; then
    fail fuzz_tx_repro "jxfuzz-tx --seed 27 failed: $(tail -5 "$T/fz.out")"
elif ! JXC="$B/tools/jxc" sh "$T/w/fuzztx_27.sh" >"$T/sh.out" 2>&1; then
    fail fuzz_tx_repro "the jxc script failed: $(tail -5 "$T/sh.out")"
elif grep -q "note: jxc made another function" "$T/sh.out"; then
    fail fuzz_tx_repro "jxc made another function than the fuzzer"
elif [ "$(grep -c '^out ' "$T/sh.out")" -lt 2 ] || ! grep -q "vmap.*--size.*none" "$T/w/fuzztx_27.sh" ||
     ! grep -q "value-and-grad.*--wrt 1,2,1" "$T/w/fuzztx_27.sh"; then
    fail fuzz_tx_repro "not the expected chain (did the generator change? pick another seed): $(grep '^# chain' "$T/w/fuzztx_27.sh")"
else
    pass fuzz_tx_repro
fi

[ $nfail -eq 0 ]
