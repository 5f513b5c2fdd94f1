#!/usr/bin/env bash
# Building a user's program against the build tree, with README.md's command ("Using jx
# from your own program"): PKG_CONFIG_PATH=<builddir> makes `pkg-config jx` use the
# generated <builddir>/jx-uninstalled.pc, whose rpath lets the program run without
# LD_LIBRARY_PATH. (The installed jx.pc is checked by tests/install.sh.)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/testlib.bash
build=${JX_BUILD_DIR:-build}
[ -f "$build/jx-uninstalled.pc" ] || { echo "FAIL pc_setup: $build/jx-uninstalled.pc not found (build first)"; exit 1; }
build=$(cd "$build" && pwd)
root=$(pwd)
tl_scratch
cp tests/pkgconfig_app.c "$T/app.c"
cd "$T" || exit 1
unset LD_LIBRARY_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_DISABLE_UNINSTALLED
export PKG_CONFIG_PATH=$build
if flags=$(pkg-config --cflags --libs jx 2>"$T/pc.err"); then
    pass pc_resolves
else
    fail pc_resolves "pkg-config jx: $(head -c 400 "$T/pc.err")"
    exit 1
fi

# the documented command, with the project's warnings
# shellcheck disable=SC2046,SC2086  # word splitting of pkg-config's flags; JX_SANITIZE: a sanitized build's flags
if check_ok pc_compile_link cc -std=c11 -Wall -Wextra -Wpedantic -Werror ${JX_SANITIZE:-} app.c -o app \
        $(pkg-config --cflags --libs jx); then
    pass pc_compile_link
fi
if [ -x app ] && check_ok pc_program_runs ./app; then
    if [ "$(cat "$T/out.txt")" = "loss 18.6667 w 0.133333 0.533333 1.2" ]; then
        pass pc_program_runs
    else
        fail pc_program_runs "got '$(head -c 200 "$T/out.txt")'"
    fi
fi
# the program loads the build tree's library (not an installed one)
deps=$(ldd ./app 2>&1)
if grep -qF "libjx.so => $build/libjx.so" <<<"$deps"; then
    pass pc_uses_build_tree_lib
else
    fail pc_uses_build_tree_lib "$(grep -F libjx <<<"$deps" || head -c 200 <<<"$deps")"
fi
# only the public headers: src/ and runtime/ stay off the include path
# shellcheck disable=SC2086
if echo '#include <jx_rt.h>' | cc -E -x c - $flags >/dev/null 2>&1; then
    fail pc_public_headers_only "runtime/jx_rt.h is on the include path: $flags"
elif [ "$(pkg-config --variable=includedir jx)" != "$root/include" ]; then
    fail pc_public_headers_only "includedir is '$(pkg-config --variable=includedir jx)'"
else
    pass pc_public_headers_only
fi
exit $((nfail > 0))
