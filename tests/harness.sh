#!/usr/bin/env bash
# The test harness (tests/check.h) runs every registered case: harness_many registers
# 601 cases, more than the fixed table of an older check.h held (it dropped cases beyond
# 512 silently). Reported as one case so that 600 trivial cases do not inflate the
# suite's count. Prints "PASS name" / "FAIL name: why". Run by ./tools/test.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${JX_BUILD_DIR:-build}/tests/harness_many
[ -x "$BIN" ] || { echo "FAIL harness_setup: $BIN not found (build first)"; exit 1; }
out=$("$BIN" 2>&1)
rc=$?
npass=$(grep -c '^PASS ' <<<"$out")
nfail=$(grep -c '^FAIL ' <<<"$out")
last=$(tail -n 1 <<<"$out")
if [ $rc -eq 0 ] && [ "$npass" -eq 601 ] && [ "$nfail" -eq 0 ] && [ "$last" = "601 passed, 0 failed" ]; then
    echo "PASS harness_runs_601_cases"
else
    echo "FAIL harness_runs_601_cases: exit $rc, $npass PASS and $nfail FAIL lines, last line '$last'"
    exit 1
fi
