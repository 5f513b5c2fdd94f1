#!/usr/bin/env bash
# FileCheck tests of the passes on IR text: runs the RUN lines of every
# tests/filecheck/*.jx (like lit) and prints "PASS name" or "FAIL name: why" per file;
# exits non-zero on any failure. Run by ./tools/test with JX_BUILD_DIR set (default:
# build); ./tests/filecheck.sh NAME runs only files whose name contains NAME.
#
# A test file is an IR function plus '#' comment lines holding the directives:
#   # RUN: jxc simplify %s | FileCheck %s
#   # CHECK: ...
# Substitutions in RUN lines: %s is the test file, jxc is $JX_BUILD_DIR/tools/jxc,
# FileCheck is LLVM 19's (override with $FILECHECK). jxc reads the test file itself (the
# IR parser skips whole-line '#' comments). Every RUN line of a file must succeed
# (pipefail). A test that could not fail is itself a failure: a file without RUN lines,
# a RUN line that does not pipe into FileCheck, or a RUN line whose check prefixes
# (CHECK, or --check-prefix=X) have no positive directive in the file (FileCheck accepts
# a file holding only CHECK-NOT lines). Without a NAME filter, the script also checks
# these rules on synthetic files ("filecheck_rules_*").
set -u
cd "$(dirname "$0")/.." || exit 1
JXC=${JX_BUILD_DIR:-build}/tools/jxc
FILECHECK=${FILECHECK:-/usr/lib/llvm-19/bin/FileCheck}
[ -x "$JXC" ] || { echo "FAIL filecheck_setup: $JXC not found (build first)"; exit 1; }
[ -x "$FILECHECK" ] || command -v "$FILECHECK" >/dev/null 2>&1 ||
    { echo "FAIL filecheck_setup: FileCheck not found (package llvm-19-tools)"; exit 1; }
JXC=$(cd "$(dirname "$JXC")" && pwd)/jxc
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
filter=${1:-}
nfail=0 npass=0

jxc() { "$JXC" "$@"; }
FileCheck() { "$FILECHECK" "$@"; }

# fc_why_cannot_fail FILE RUN...: prints why the RUN lines of FILE could never fail on
# wrong output (nothing if they can).
fc_why_cannot_fail() {
    local f=$1 r p prefixes
    shift
    [ $# -eq 0 ] && { echo "no RUN line"; return; }
    for r in "$@"; do
        [[ $r == *FileCheck* ]] || { echo "RUN line does not pipe into FileCheck: $r"; return; }
        prefixes=CHECK
        [[ $r =~ --check-prefix(es)?[=\ ]([A-Za-z0-9_,-]+) ]] && prefixes=${BASH_REMATCH[2]}
        local found=0
        for p in ${prefixes//,/ }; do
            grep -qE "^[[:space:]]*#[[:space:]]*$p(-NEXT|-SAME|-DAG|-LABEL|-COUNT-[0-9]+)?:" \
                "$f" && found=1
        done
        [ $found -eq 1 ] ||
            { echo "no positive $prefixes line for: $r (the test could not fail)"; return; }
    done
}

# fc_file FILE: runs one test file; prints PASS/FAIL; returns 0 if it passed.
fc_file() {
    local f=$1 name r why
    name=$(basename "$f" .jx)
    local FC_SRC
    FC_SRC=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
    mapfile -t runs < <(sed -n 's/^[[:space:]]*#[[:space:]]*RUN:[[:space:]]*//p' "$f")
    why=$(fc_why_cannot_fail "$f" "${runs[@]}")
    [ -n "$why" ] && { echo "FAIL $name: $why"; return 1; }
    for r in "${runs[@]}"; do
        if ! (set -o pipefail; eval "${r//%s/$FC_SRC}") >"$T/out.txt" 2>&1; then
            echo "FAIL $name: RUN: $r"
            sed 's/^/    /' "$T/out.txt" | head -n 60
            return 1
        fi
    done
    echo "PASS $name"
}

# count RC: adds one pass (RC 0) or failure.
count() { if [ "$1" -eq 0 ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi; }

for f in tests/filecheck/*.jx; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .jx)
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    fc_file "$f"
    count $?
done

# The rules on synthetic files: NAME EXPECT(pass|fail) CONTENT.
rule_case() {
    local name=$1 want=$2 out rc
    mkdir -p "$T/rules"
    printf '%s' "$3" >"$T/rules/$name.jx"
    out=$(fc_file "$T/rules/$name.jx")
    rc=$?
    if { [ "$want" = pass ] && [ $rc -eq 0 ]; } || { [ "$want" = fail ] && [ $rc -ne 0 ]; }; then
        echo "PASS filecheck_rules_$name"
        count 0
    else
        echo "FAIL filecheck_rules_$name: expected the file to $want, got: $(head -c 300 <<<"$out")"
        count 1
    fi
}
if [ -z "$filter" ]; then
    fn=$'{ lambda ; a:f32[2]. let\n    b:f32[2] = neg a\n  in (b) }\n'
    rule_case good pass $'# RUN: jxc print %s | FileCheck %s\n# CHECK: neg a\n'"$fn"
    rule_case wrong_output fail $'# RUN: jxc print %s | FileCheck %s\n# CHECK: exp a\n'"$fn"
    rule_case no_run fail $'# CHECK: neg\n'"$fn"
    rule_case no_filecheck fail $'# RUN: jxc print %s\n# CHECK: neg\n'"$fn"
    rule_case only_check_not fail $'# RUN: jxc print %s | FileCheck %s\n# CHECK-NOT: exp\n'"$fn"
    rule_case no_check_line fail $'# RUN: jxc print %s | FileCheck %s\n'"$fn"
    rule_case prefix_unused fail \
        $'# RUN: jxc print %s | FileCheck %s --check-prefix=NEG\n# CHECK: neg\n'"$fn"
    rule_case prefix_used pass \
        $'# RUN: jxc print %s | FileCheck %s --check-prefix=NEG\n# NEG: neg\n'"$fn"
fi
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
