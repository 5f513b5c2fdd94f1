#!/usr/bin/env bash
# `meson install` into a scratch DESTDIR, then build and run a program against the
# installed headers and jx.pc, as a user of the library would: statically linked, and
# with README's command (shared). The build tree's jx-uninstalled.pc: tests/pkgconfig.sh.
set -uo pipefail
build=${JX_BUILD_DIR:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if DESTDIR="$tmp/root" meson install -C "$(cd "$root" && realpath -m "$build")" --no-rebuild >"$tmp/log" 2>&1; then
  echo "PASS install_runs"
else
  echo "FAIL install_runs: $(tail -3 "$tmp/log")"; exit 1
fi
pc=$(dirname "$(find "$tmp/root" -name jx.pc | head -1)")
inc=$(find "$tmp/root" -name jx.h | head -1)
[ -n "$pc" ] && [ -n "$inc" ] && echo "PASS installed_header_and_pc" || { echo "FAIL installed_header_and_pc"; exit 1; }
cat >"$tmp/use.c" <<'C'
#include <jx.h>
#include <stdio.h>
static void f(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sum_all(jx_mul(in[0], in[0]));
}
int main(void) {
    jx_type ty = JX_TYPE(JX_F32, 3);
    jx_fn *fn = jx_trace(f, 1, &ty, 1, NULL), *g = fn ? jx_grad(fn, 0, NULL) : NULL;
    if (!g) { fprintf(stderr, "%s\n", jx_error()); return 1; }
    float v[3] = {1, 2, 3};
    int64_t n = 3;
    jx_array *x = jx_array_from(JX_F32, 1, &n, v), *o[1] = {0};
    int rc = jx_interp(g, &x, o);
    printf("%g %g %g\n", jx_array_get(o[0], 0), jx_array_get(o[0], 1), jx_array_get(o[0], 2));
    jx_array_free(x), jx_array_free(o[0]), jx_fn_free(g), jx_fn_free(fn);
    return rc;
}
C
prefix_pc() { PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$tmp/root" pkg-config "$@"; }
# shellcheck disable=SC2086  # JX_SANITIZE: the sanitizer flags of a --sanitize build
if cc -std=c11 ${JX_SANITIZE:-} "$tmp/use.c" -o "$tmp/use" $(prefix_pc --cflags jx) \
     -L"$(prefix_pc --variable=libdir jx)" -Wl,-Bstatic -ljx -Wl,-Bdynamic \
     $(prefix_pc --libs --static jx | sed 's/-ljx//') 2>"$tmp/cc.log"; then
  echo "PASS link_against_installed_jx"
else
  echo "FAIL link_against_installed_jx: $(head -5 "$tmp/cc.log")"; exit 1
fi
out=$("$tmp/use")
[ "$out" = "2 4 6" ] && echo "PASS installed_program_runs" || { echo "FAIL installed_program_runs: got '$out'"; exit 1; }
# README's installed command ("Using jx from your own program"): the shared libjx and
# every public header (tests/pkgconfig_app.c); LD_LIBRARY_PATH stands in for ldconfig.
libdir="$tmp/root$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir jx)"
# shellcheck disable=SC2046,SC2086
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror ${JX_SANITIZE:-} "$root/tests/pkgconfig_app.c" \
     -o "$tmp/app" $(prefix_pc --cflags --libs jx) 2>"$tmp/cc.log"; then
  echo "PASS installed_documented_command"
else
  echo "FAIL installed_documented_command: $(head -5 "$tmp/cc.log")"; exit 1
fi
out=$(cd "$tmp" && LD_LIBRARY_PATH="$libdir" ./app 2>&1)
want="loss 18.6667 w 0.133333 0.533333 1.2"
[ "$out" = "$want" ] && echo "PASS installed_shared_program_runs" || { echo "FAIL installed_shared_program_runs: got '$out'"; exit 1; }
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/app" 2>&1)
grep -qF "libjx.so => $libdir/libjx.so" <<<"$deps" && echo "PASS installed_shared_lib_used" \
  || { echo "FAIL installed_shared_lib_used: $(grep -F libjx <<<"$deps")"; exit 1; }
