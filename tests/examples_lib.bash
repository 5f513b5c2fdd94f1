# Shared by the example tests (tests/examples_*.sh), which source it: setup, result
# lines, and checks of an example's exit code, output and messages. Not a test itself
# (./tools/test runs only executable tests/*.sh files).

# ex_setup NAME EXE...: EX = absolute examples build dir (JX_BUILD_DIR, default build);
# every EXE must exist there. T = a scratch dir removed on exit; nfail = 0.
ex_setup() {
    local name=$1
    shift
    EX=${JX_BUILD_DIR:-build}/examples
    for e in "$@"; do
        [ -x "$EX/$e" ] || { echo "FAIL ${name}_setup: $EX/$e not found (build first)"; exit 1; }
    done
    EX=$(cd "$EX" && pwd)
    T=$(mktemp -d) || exit 1
    trap 'rm -rf "$T"' EXIT
    nfail=0
}

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1: $2"
    nfail=$((nfail + 1))
}

# run CMD...: runs CMD with stdout in $T/out, stderr in $T/err; returns its status, or 99
# if stderr holds a sanitizer report.
run() {
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if grep -qE 'Sanitizer|runtime error' "$T/err"; then return 99; fi
    return $rc
}

# check_ok NAME CMD...: CMD must exit 0 without a sanitizer report. 0 if so.
check_ok() {
    local name=$1
    shift
    run "$@"
    local rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name" "exit $rc: $(tail -c 400 "$T/err")"
        return 1
    fi
    return 0
}

# run_ok NAME CMD...: like check_ok, and stderr must also be empty.
run_ok() {
    local name=$1
    check_ok "$@" || return 1
    if [ -s "$T/err" ]; then
        fail "$name" "unexpected stderr: $(head -c 400 "$T/err")"
        return 1
    fi
    return 0
}

# expect_lines NAME PATTERN...: every grep -E PATTERN matches a line of $T/out. 0 if so.
expect_lines() {
    local name=$1
    shift
    for pat in "$@"; do
        if ! grep -qE -- "$pat" "$T/out"; then
            fail "$name" "no line matches '$pat' in: $(head -c 600 "$T/out")"
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
        fail "$name" "sanitizer report: $(head -c 400 "$T/err")"
    elif [ $rc -ne "$want" ]; then
        fail "$name" "exit $rc, expected $want: $(head -c 400 "$T/err")"
    elif ! grep -qE -- "$pat" "$T/err"; then
        fail "$name" "stderr does not match '$pat': $(head -c 400 "$T/err")"
    else
        pass "$name"
    fi
}
