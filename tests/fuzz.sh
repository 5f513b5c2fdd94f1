#!/usr/bin/env bash
# The fuzz targets of tests/fuzz as part of the suite: builds them (tools/fuzz --build, in
# $JX_FUZZ_BUILD_DIR, default build-fuzz; clang-19 with ASan + UBSan + libFuzzer), then per
# target replays every input of tests/fuzz/regress/<target>/ and tests/fuzz/corpus/<target>/
# and fuzzes for $JX_FUZZ_SECONDS (default 5) seconds. Prints "PASS fuzz_<target>: ..." or
# "FAIL fuzz_<target>: why" per target; a crash input found here is kept under
# <build>/fuzz-artifacts/<target>/ (./tools/fuzz saves its finds to tests/fuzz/regress).
# Without clang-19 and its fuzzer runtime it fails with the apt-get line to run.
set -u
cd "$(dirname "$0")/.." || exit 1
dir=${JX_FUZZ_BUILD_DIR:-build-fuzz}
secs=${JX_FUZZ_SECONDS:-5}
targets=(parse npy npz idx idx_gz)
declare -A max_len=([parse]=4096 [npy]=1024 [npz]=4096 [idx]=1024 [idx_gz]=1024)
apt_line="apt-get install -y clang-19 libclang-rt-19-dev (./tools/deps does it as root)"
if ! command -v clang-19 >/dev/null 2>&1; then
    echo "FAIL fuzz_setup: clang-19 not found; run: $apt_line"
    exit 1
fi
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$T/probe.c"
if ! clang-19 -fsanitize=fuzzer,address,undefined "$T/probe.c" -o "$T/probe" >/dev/null 2>&1; then
    echo "FAIL fuzz_setup: clang-19 cannot link a libFuzzer program (runtime missing?); run: $apt_line"
    exit 1
fi
if ! ./tools/fuzz --build >"$T/build.log" 2>&1; then
    echo "FAIL fuzz_setup: building the fuzz targets in $dir failed:"
    tail -n 20 "$T/build.log"
    exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
nfail=0

# The first sanitizer/invariant line of log $1, for a FAIL message.
why() { grep -m1 -E 'INVARIANT|ERROR: |runtime error|SUMMARY' "$1" | cut -c1-200; }

# Replays, then briefly fuzzes, target $1; prints its PASS/FAIL line.
check_target() {
    local t=$1 bin="$dir/tests/fuzz/fuzz_$1" f bad=() n_reg=0 n_seed=0
    for f in tests/fuzz/regress/"$t"/*; do
        [ -f "$f" ] || continue
        n_reg=$((n_reg + 1))
        "$bin" -timeout=10 "$f" >"$T/$t.log" 2>&1 || bad+=("$f: $(why "$T/$t.log")")
    done
    if [ ${#bad[@]} -gt 0 ]; then
        echo "FAIL fuzz_$t: ${#bad[@]} of $n_reg regression input(s) still fail: ${bad[*]}"
        return 1
    fi
    local seeds=(tests/fuzz/corpus/"$t"/*)
    n_seed=${#seeds[@]}
    if ! "$bin" -timeout=10 "${seeds[@]}" >"$T/$t.log" 2>&1; then
        echo "FAIL fuzz_$t: a seed input fails: $(grep '^Running: ' "$T/$t.log" |
            tail -1) $(why "$T/$t.log")"
        return 1
    fi
    local art="$dir/fuzz-artifacts/$t" rc runs dict=()
    mkdir -p "$art" "$T/corpus-$t"
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    "$bin" -max_total_time="$secs" -max_len="${max_len[$t]}" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" \
        -print_final_stats=1 -artifact_prefix="$art/" "$T/corpus-$t" "tests/fuzz/corpus/$t" \
        >"$T/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$t.log" | tail -1)
    if [ $rc -ne 0 ]; then
        echo "FAIL fuzz_$t: crash after ${runs:-?} runs (input kept in $art/): $(why "$T/$t.log")"
        return 1
    fi
    echo "PASS fuzz_$t: $n_reg regression + $n_seed seed inputs replayed, ${runs:-?} runs in ${secs}s"
}

for t in "${targets[@]}"; do check_target "$t" || nfail=$((nfail + 1)); done
[ $nfail -eq 0 ]
