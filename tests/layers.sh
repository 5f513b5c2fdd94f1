#!/usr/bin/env bash
# The include layers of src/: every `#include "..."` in src/ names a public header or a
# header of its own folder or of a folder that src/README.md allows for it (the indented
# "folder: allowed..." lines there). Also checks that a planted violation is caught.
cd "$(dirname "$0")/.." || exit 1
nfail=0

# ly_check SRC: prints each include in SRC/ that its folder may not use; 1 if any.
ly_check() {
    local src=$1 bad=0 f dir inc top
    declare -A allow
    while IFS=: read -r dir rest; do
        allow[$dir]=" $dir $rest "
    done < <(sed -n 's/^    \([a-z]*\):\(.*\)$/\1:\2/p' src/README.md)
    [ ${#allow[@]} -ge 6 ] || { echo "layers table not found in src/README.md"; return 1; }
    while IFS= read -r f; do
        dir=${f#"$src"/}; dir=${dir%%/*}
        [ -n "${allow[$dir]}" ] || { echo "$f: folder $dir not in src/README.md"; bad=1; continue; }
        while IFS= read -r inc; do
            case $inc in jx.h|jx/*.h|jx_rt.h) continue ;; esac
            top=${inc%%/*}
            [ "$top" = "$inc" ] && { echo "$f: #include \"$inc\" does not name its folder"; bad=1; continue; }
            [[ ${allow[$dir]} == *" $top "* || ${allow[$dir]} == *" $inc "* ]] && continue
            echo "$f: $dir may not include \"$inc\""; bad=1
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done < <(find "$src" -mindepth 2 -name '*.[ch]' -o -mindepth 2 -name '*.def')
    return $bad
}

if out=$(ly_check src); then echo "PASS layers"; else echo "FAIL layers: $out"; nfail=1; fi

T=$(mktemp -d) && trap 'rm -rf "$T"' EXIT
cp -r src "$T/src"
echo '#include "jit/jit.h"' >> "$T/src/core/ir.h"
if out=$(ly_check "$T/src") || [[ $out != *"core may not include \"jit/jit.h\""* ]]; then
    echo "FAIL layers_catches_violation: $out"; nfail=1
else
    echo "PASS layers_catches_violation"
fi
exit $nfail
