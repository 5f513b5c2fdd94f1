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
# FileCheck is LLVM 19's (override with $FILECHECK). Since the IR parser does not accept
# comment lines, jxc is given a copy of the file with its whole-line comments blanked
# (line numbers in its messages still match). Every RUN line of a file must succeed
# (pipefail); a file without RUN lines fails.
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

# jxc ARGS...: the real jxc, with the current test file replaced by its stripped copy.
jxc() {
    local args=() a
    for a in "$@"; do
        [ "$a" = "$FC_SRC" ] && a=$FC_IR
        args+=("$a")
    done
    "$JXC" "${args[@]}"
}
FileCheck() { "$FILECHECK" "$@"; }

for f in tests/filecheck/*.jx; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .jx)
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    FC_SRC=$(pwd)/$f
    FC_IR=$T/$name.jx
    sed 's/^[[:space:]]*#.*$//' "$f" >"$FC_IR"
    mapfile -t runs < <(sed -n 's/^[[:space:]]*#[[:space:]]*RUN:[[:space:]]*//p' "$f")
    if [ ${#runs[@]} -eq 0 ]; then
        echo "FAIL $name: no RUN line"
        nfail=$((nfail + 1))
        continue
    fi
    ok=1
    for r in "${runs[@]}"; do
        cmd=${r//%s/$FC_SRC}
        if ! (set -o pipefail; eval "$cmd") >"$T/out.txt" 2>&1; then
            echo "FAIL $name: RUN: $r"
            sed 's/^/    /' "$T/out.txt" | head -n 60
            ok=0
            break
        fi
    done
    if [ $ok -eq 1 ]; then
        echo "PASS $name"
        npass=$((npass + 1))
    else
        nfail=$((nfail + 1))
    fi
done
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
