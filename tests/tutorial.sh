#!/usr/bin/env bash
# docs/tutorial.md runs as written: its ```c blocks, concatenated in order, are one
# program (tutorial.c) that must compile against the build tree with README.md's command
# ("Using jx from your own program") and -Wall -Wextra -Wpedantic -Werror; its ```sh
# blocks run in order, verbatim, in a scratch dir where build/ and docs/ point at the
# build and the checkout's docs; and their stdout together must equal, line for line, the
# ```text blocks marked <!-- output --> (in order), so the outputs the tutorial shows
# cannot drift from what the code prints. Prints "PASS name" / "FAIL name: why" lines.
# Run by ./tools/test with JX_BUILD_DIR set (default: build). TUTORIAL_MD=file checks
# another copy of the tutorial (used to check that a broken block fails).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
build=${JX_BUILD_DIR:-build}
[ -f "$build/jx-uninstalled.pc" ] || { echo "FAIL tutorial_setup: $build/jx-uninstalled.pc not found (build first)"; exit 1; }
[ -x "$build/tools/jxc" ] || { echo "FAIL tutorial_setup: $build/tools/jxc not found (build first)"; exit 1; }
build=$(cd "$build" && pwd)
md=$(cd "$(dirname "${TUTORIAL_MD:-docs/tutorial.md}")" && pwd)/$(basename "${TUTORIAL_MD:-docs/tutorial.md}")
[ -f "$md" ] || { echo "FAIL tutorial_setup: $md not found"; exit 1; }
tl_scratch

# tutorial_blocks MD DIR: writes DIR/tutorial.c (the c blocks), DIR/sh_<n>.sh (each sh
# block), DIR/expected.txt (the text blocks right after an "<!-- output -->" line) and
# DIR/bad.txt (a line per block of another kind than c, sh, python (the notebook's lines,
# not run) and marked text, or a marker not followed by a text block).
tutorial_blocks() {
    awk -v dir="$2" '
        function bad(why) { print "line " NR ": " why > (dir "/bad.txt") }
        /^```/ && kind != "" { kind = ""; next }
        marked && NF && !/^```text$/ { bad("<!-- output --> not followed by a text block"); marked = 0 }
        /^```c$/ { kind = "c"; next }
        /^```sh$/ { kind = "sh"; n_sh++; next }
        /^```python$/ { kind = "other"; next }
        /^```text$/ { kind = marked ? "out" : "other"; if (!marked) bad("text block without <!-- output -->"); marked = 0; next }
        /^```/ { kind = "other"; bad("block of unknown kind: " $0); next }
        kind == "c" { print > (dir "/tutorial.c"); next }
        kind == "sh" { print > (dir "/sh_" n_sh ".sh"); next }
        kind == "out" { print > (dir "/expected.txt"); next }
        kind == "" && /^<!-- output -->$/ { marked = 1; next }
        END { if (kind != "") bad("unterminated block") }
    ' "$1"
}
mkdir -p "$T/blocks" "$T/run" || exit 1
tutorial_blocks "$md" "$T/blocks"
touch "$T/blocks/expected.txt"
n_sh=$(find "$T/blocks" -name 'sh_*.sh' | wc -l)
if [ -s "$T/blocks/bad.txt" ]; then
    fail tutorial_blocks "$md: $(head -n 5 "$T/blocks/bad.txt")"
    exit 1
elif [ -s "$T/blocks/tutorial.c" ] && [ "$n_sh" -gt 0 ] && [ -s "$T/blocks/expected.txt" ]; then
    pass tutorial_blocks
else
    fail tutorial_blocks "no c, sh or output blocks in $md"
    exit 1
fi

unset LD_LIBRARY_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_DISABLE_UNINSTALLED JX_NUM_THREADS
# the program on its own, with the project's warnings (a sanitized build's flags too)
cp "$T/blocks/tutorial.c" "$T/tutorial.c"
# shellcheck disable=SC2046,SC2086  # word splitting of pkg-config's flags and JX_SANITIZE
if check_ok tutorial_compile cc -std=c11 -Wall -Wextra -Wpedantic -Werror ${JX_SANITIZE:-} \
        "$T/tutorial.c" -o "$T/tutorial_check" $(PKG_CONFIG_PATH=$build pkg-config --cflags --libs jx); then
    pass tutorial_compile
else
    exit 1
fi

# the sh blocks, verbatim, from a checkout-like dir; cc carries JX_SANITIZE's flags
mkdir -p "$T/run/docs" && ln -s "$build" "$T/run/build" && ln -s "$md" "$T/run/docs/tutorial.md" ||
    exit 1
: >"$T/actual.txt"
ok=1
for ((i = 1; i <= n_sh; i++)); do
    # shellcheck disable=SC2016  # expanded by the inner bash
    (cd "$T/run" && JX_SANITIZE=${JX_SANITIZE:-} bash -e -o pipefail -c \
        'cc() { command cc ${JX_SANITIZE} "$@"; }; . "$1"' bash "$T/blocks/sh_$i.sh") \
        >>"$T/actual.txt" 2>"$T/err.txt"
    rc=$?
    if [ $rc -ne 0 ]; then
        fail tutorial_sh_$i "exit $rc: $(head -c 600 "$T/err.txt")"
        ok=0
        break
    elif [ -s "$T/err.txt" ]; then
        fail tutorial_sh_$i "unexpected stderr: $(head -c 600 "$T/err.txt")"
        ok=0
        break
    fi
done
[ $ok = 1 ] && pass tutorial_sh_blocks
# the program the sh blocks built is the one compiled above
if [ $ok = 1 ] && ! cmp -s "$T/blocks/tutorial.c" "$T/run/tutorial.c"; then
    fail tutorial_same_program "the sh blocks did not build the c blocks as tutorial.c"
    ok=0
fi

if [ $ok = 1 ] && cmp -s "$T/blocks/expected.txt" "$T/actual.txt"; then
    pass tutorial_output
elif [ $ok = 1 ]; then
    fail tutorial_output "the output differs from the tutorial's output blocks (- shown, + printed):
$(diff -u "$T/blocks/expected.txt" "$T/actual.txt" | tail -n +3 | head -n 40)"
fi
exit $((nfail > 0))
