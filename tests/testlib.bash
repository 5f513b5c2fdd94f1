# Shared by the shell tests (tests/*.sh), which source it: setup, result lines, and
# checks of a command's exit code, output and messages. Not a test itself (./tools/test
# runs only executable tests/*.sh files). A command's stdout and stderr land in
# $T/out.txt and $T/err.txt.

# tl_scratch: T = a scratch dir removed on exit; nfail = 0; the compile cache goes there.
tl_scratch() {
    T=$(mktemp -d) || exit 1
    trap 'rm -rf "$T"' EXIT
    export JX_CACHE_DIR="$T/cache"
    unset JX_CACHE JX_DUMP JX_JIT_TIMING
    nfail=0
}

# ex_setup NAME EXE...: EX = absolute examples build dir (JX_BUILD_DIR, default build);
# every EXE must exist there; then tl_scratch.
ex_setup() {
    local name=$1
    shift
    EX=${JX_BUILD_DIR:-build}/examples
    for e in "$@"; do
        [ -x "$EX/$e" ] || { echo "FAIL ${name}_setup: $EX/$e not found (build first)"; exit 1; }
    done
    EX=$(cd "$EX" && pwd)
    tl_scratch
}

# jxc_setup NAME: ROOT = the source tree, JXC = absolute path of the built jxc; then
# tl_scratch and cd into $T.
jxc_setup() {
    ROOT=$(pwd)
    JXC=${JX_BUILD_DIR:-build}/tools/jxc
    [ -x "$JXC" ] || { echo "FAIL $1_setup: $JXC not found (build first)"; exit 1; }
    JXC=$(cd "$(dirname "$JXC")" && pwd)/jxc
    tl_scratch
    cd "$T" || exit 1
}

# npy FILE DESCR SHAPE DATA: writes a version 1.0 .npy by hand; DATA is printf escapes.
npy() {
    local dict="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    local hl=$(((${#dict} + 1 + 10 + 63) / 64 * 64 - 10))
    local pad=$((hl - ${#dict} - 1))
    {
        printf '\x93NUMPY\x01\x00'
        printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
        printf '%s%*s\n' "$dict" "$pad" ''
        printf "$4"
    } >"$1"
}

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1: $2"
    nfail=$((nfail + 1))
}

# run CMD...: runs CMD with stdout in $T/out.txt, stderr in $T/err.txt; returns its
# status, or 99 if stderr holds a sanitizer report (ASan/LSan/MSan "ERROR: ...Sanitizer",
# TSan "WARNING: ThreadSanitizer", UBSan "runtime error"; not ASan's allocator warning
# for a refused huge allocation, which allocator_may_return_null makes a NULL return).
run() {
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    local rc=$?
    if grep -qE 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error' \
        "$T/err.txt"; then
        return 99
    fi
    return $rc
}

# check_ok NAME CMD...: CMD must exit 0 without a sanitizer report. 0 if so.
check_ok() {
    local name=$1
    shift
    run "$@"
    local rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name" "exit $rc: $(tail -c 400 "$T/err.txt")"
        return 1
    fi
    return 0
}

# run_ok NAME CMD...: like check_ok, and stderr must also be empty.
run_ok() {
    local name=$1
    check_ok "$@" || return 1
    if [ -s "$T/err.txt" ]; then
        fail "$name" "unexpected stderr: $(head -c 400 "$T/err.txt")"
        return 1
    fi
    return 0
}

# expect_lines NAME PATTERN...: every grep -E PATTERN matches a line of $T/out.txt. 0 if so.
expect_lines() {
    local name=$1
    shift
    for pat in "$@"; do
        if ! grep -qE -- "$pat" "$T/out.txt"; then
            fail "$name" "no line matches '$pat' in: $(head -c 600 "$T/out.txt")"
            return 1
        fi
    done
    return 0
}

# expect_rc NAME RC PATTERN CMD...: CMD exits with RC and prints a stderr line matching
# PATTERN, without a sanitizer report; passes or fails NAME.
expect_rc() {
    local name=$1 want=$2 pat=$3
    shift 3
    run "$@"
    local rc=$?
    if [ $rc -eq 99 ]; then
        fail "$name" "sanitizer report: $(head -c 400 "$T/err.txt")"
    elif [ $rc -ne "$want" ]; then
        fail "$name" "exit $rc, expected $want: $(head -c 400 "$T/err.txt")"
    elif ! grep -qE -- "$pat" "$T/err.txt"; then
        fail "$name" "stderr does not match '$pat': $(head -c 400 "$T/err.txt")"
    else
        pass "$name"
    fi
}
