#!/usr/bin/env bash
# Smoke test of ./tools/bench's runner (build/tools/jxbench-all --smoke: tiny sizes, one
# round, 1 thread, no Python peers; about a second). No timed assertions: it checks that
#   bench_smoke_json    every line of the output file is a JSON object with name, jx_us,
#                       peer, peer_us and ratio; the rows of every group are there
#                       (mlp_step, mlp_gemm_gflops, pe_grads, cnn_step, elt_chain,
#                       compile_depth, dispatch); the MLP step agreed with the hand-written
#                       C step ("check":"ok"); the Python peers' rows say skipped, with the
#                       reason, and the table on stdout shows them;
#   bench_smoke_usage   a bad argument exits 2 with the usage.
# Run by ./tools/test with JX_BUILD_DIR set (default: build).
set -u
cd "$(dirname "$0")/.." || exit 1
B=$(cd "${JX_BUILD_DIR:-build}" 2>/dev/null && pwd) || { echo "FAIL bench_smoke_setup: no build dir"; exit 1; }
. tests/testlib.bash
tl_scratch
RUN=$B/tools/jxbench-all
[ -x "$RUN" ] || { echo "FAIL bench_smoke_setup: $RUN not found (build first)"; exit 1; }

# bench_smoke_json
if JX_BENCH_SOURCE=$PWD "$RUN" --smoke --threads 1 --out "$T/b.jsonl" >"$T/out.txt" 2>"$T/err.txt"; then
    if why=$(python3 - "$T/b.jsonl" "$T/out.txt" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
table = open(sys.argv[2]).read()
assert rows, "no rows"
for r in rows:
    for k in ("name", "jx_us", "peer", "peer_us", "ratio"):
        assert k in r, "row %s has no %s" % (r, k)
    assert isinstance(r["jx_us"], (int, float)) and r["jx_us"] > 0, "jx_us of %s" % r
    if r["peer"] is not None and "skipped" not in r:
        assert r["peer_us"] > 0 and r["ratio"] > 0, "peer figures of %s" % r
names = {r["name"] for r in rows}
for n in ("mlp_step", "mlp_gemm_gflops", "pe_grads", "cnn_step", "elt_chain", "compile_depth", "dispatch"):
    assert n in names, "no %s row" % n
hand = [r for r in rows if r["name"] == "mlp_step" and r["peer"] == "hand_c"]
assert hand and all(r["check"] == "ok" and r["batch"] and r["threads"] == 1 for r in hand), hand
py = [r for r in rows if r["peer"] in ("torch", "numpy", "functorch")]
assert py and all(r.get("skipped") == "--no-peers" and r["peer_us"] is None for r in py), py
assert "skipped: --no-peers" in table and "ratio" in table, "table lacks the skipped rows"
PY
    ); then
        pass bench_smoke_json
    else
        fail bench_smoke_json "$why $(head -c 600 "$T/b.jsonl")"
    fi
else
    fail bench_smoke_json "exit $?: $(tail -n 5 "$T/err.txt")"
fi

# bench_smoke_usage
"$RUN" --threads x >"$T/out.txt" 2>"$T/err.txt"
rc=$?
if [ $rc -eq 2 ] && grep -q "usage: jxbench-all" "$T/err.txt"; then
    pass bench_smoke_usage
else
    fail bench_smoke_usage "exit $rc, stderr: $(head -c 300 "$T/err.txt")"
fi
exit $((nfail > 0))
