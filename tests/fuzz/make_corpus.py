#!/usr/bin/python3
"""Regenerates the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

parse:  tests/filecheck/*.jx without their '#' lines, one with them, and hand-written
        functions covering every primitive family (seed_*.jx below).
npy:    small arrays of each dtype (numpy), scalars, empty arrays, format 2.0 and 3.0.
idx:    small IDX files (labels rank 1, images rank 3), plain and gzip'd.
idx_gz: the plain IDX files (the target gzips its input itself).
npz:    small .npz archives by np.savez and np.savez_compressed (zip64 members), one empty.
Also writes parse.dict, the libFuzzer dictionary of the parser target (keywords, every
primitive and attribute name of src/prims.def, dtypes, special literals).
Run from anywhere: /usr/bin/python3 tests/fuzz/make_corpus.py [JXC] (needs python3-numpy).
With the path of a built jxc, the parser seeds also get the jvp, vjp and vmap of the
hand-written functions (larger well-typed programs: seed_<name>_<transform>.jx).
"""
import gzip
import io
import os
import re
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

PARSE_SEEDS = {
    "elementwise": """{ lambda ; a:f32[4] b:f32[4] c:bool[4]. let
    d:f32[4] = mul a b
    e:f32[4] = div d b
    f:f32[4] = pow e a
    g:f32[4] = select c f a
    h:f32[4] = tanh g
    i:f32[4] = logistic h
    j:f32[4] = log1p i
    k:f32[4] = rsqrt j
    two:f32[4] = broadcast_in_dim[shape=(4) broadcast_dimensions=()] 2.0:f32[]
    l:f32[4] = rem k two
    m:bool[4] = lt l a
    n:f32[4] = sign l
  in (l, m, n) }
""",
    "ints": """{ lambda ; a:u32[3] b:i32[3]. let
    three:u32[3] = broadcast_in_dim[shape=(3) broadcast_dimensions=()] 3:u32[]
    c:u32[3] = shift_left a three
    d:u32[3] = shift_right_logical c a
    e:u32[3] = xor c d
    f:i32[3] = convert_element_type e
    g:i32[3] = max f b
    h:f32[3] = bitcast_convert_type g
    i:bool[3] = ne f b
    j:bool[3] = not i
  in (h, j) }
""",
    "shape": """{ lambda ; x:f32[2,3,4]. let
    t:f32[4,3,2] = transpose[permutation=(2,1,0)] x
    r:f32[6,4] = reshape[new_sizes=(6,4)] x
    s:f32[3,2] = slice[start_indices=(1,0) limit_indices=(4,4) strides=(1,2)] r
    p:f32[5,5] = pad[low=(1,0) high=(1,2) interior=(0,1)] s 0.0:f32[]
    c:f32[10,5] = concatenate[dimension=(0)] p p
    v:f32[10,5] = rev[dimensions=(0,1)] c
    m:i32[10] = argmax[axis=(1)] v
    n:f32[5] = reduce_min[axes=(0)] v
  in (t, m, n) }
""",
    "dot": """{ lambda ; a:f64[2,3,4] b:f64[2,4,5]. let
    c:f64[2,3,5] = dot_general[lhs_contract=(2) rhs_contract=(1) lhs_batch=(0) rhs_batch=(0)] a b
    d:f64[] = reduce_sum[axes=(0,1,2)] c
  in (d) }
""",
    "conv": """{ lambda ; x:f32[1,5,5,2]. let
    p:f32[1,3,3,18] = conv_patches[window=(3,3) strides=(1,1) pad_lo=(0,0) pad_hi=(0,0)] x
    q:f32[1,5,5,2] = conv_patches_t[window=(3,3) strides=(1,1) pad_lo=(0,0) pad_hi=(0,0)] p
  in (q) }
""",
    "random": """{ lambda ; k:u32[2]. let
    i:u32[2,3] = iota[dimension=(1)]
    b:u32[2,3] = broadcast_in_dim[shape=(2,3) broadcast_dimensions=(0)] k
    r:u32[2,3] = threefry2x32 b i
  in (r) }
""",
    "literals": """{ lambda ; x:f64[2]. let
    c:f64[2] = constant[value=[nan,-inf]]
    d:f64[2] = add x c
    one:f64[2] = broadcast_in_dim[shape=(2) broadcast_dimensions=()] 1.0:f64[]
    e:f64[2] = mul d one
    f:f64[2] = neg e
    g:f64[2] = neg f
    h:bool[] = eq true:bool[] false:bool[]
    i:f64[2] = stop_gradient g    # model.c:12
  in (i, h, 1.5e-300:f64[]) }
""",
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def parse_seeds():
    fc = os.path.join(ROOT, "tests", "filecheck")
    for n in sorted(os.listdir(fc)):
        if not n.endswith(".jx"):
            continue
        text = open(os.path.join(fc, n)).read()
        body = "".join(l for l in text.splitlines(True) if not l.lstrip().startswith("#"))
        write("parse", n, body.encode())
        if n == "grad_mlp.jx":
            write("parse", "comments_" + n, text.encode())
    for name, text in PARSE_SEEDS.items():
        write("parse", "seed_%s.jx" % name, text.encode())
    if len(sys.argv) > 1:
        transforms = {"jvp": ["jvp"], "vjp": ["vjp"], "vmap": ["vmap", "--size", "2"]}
        for name in PARSE_SEEDS:
            src = os.path.join(CORPUS, "parse", "seed_%s.jx" % name)
            for tx, args in transforms.items():
                out = subprocess.run([sys.argv[1], args[0], src] + args[1:], check=True,
                                     capture_output=True).stdout
                write("parse", "seed_%s_%s.jx" % (name, tx), out)


def parse_dict():
    prims = open(os.path.join(ROOT, "src", "prims.def")).read()
    words = ["{ lambda ; ", ". let", " in (", ") }", ":f32[", ":f64[", ":i32[", ":u32[",
             ":bool[", "[]", " = ", "[value=[", "nan", "-inf", "inf", "true", "false",
             "1e308", "-0.0", "2147483647", "4294967295", "9223372036854775807", "    # f.c:1"]
    for m in re.finditer(r'^X\(\w+,\s*"(\w+)",.*\((\d+)((?:,\s*"\w+")*)', prims, re.M):
        words.append(" %s " % m.group(1))
        words += ["%s=(" % a for a in re.findall(r'"(\w+)"', m.group(3))]
    with open(os.path.join(HERE, "parse.dict"), "w") as f:
        f.write("# libFuzzer dictionary of fuzz_parse; generated by make_corpus.py\n")
        for w in dict.fromkeys(words):
            f.write('"%s"\n' % w.replace("\\", "\\\\").replace('"', '\\"'))


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def npy_seeds():
    arrays = {
        "f4_2x3": np.arange(6, dtype="<f4").reshape(2, 3) / 4,
        "f8_3": np.array([1.5, -0.0, np.inf], dtype="<f8"),
        "i4_4": np.array([-2, 0, 7, 2**31 - 1], dtype="<i4"),
        "u4_2x2": np.array([[0, 1], [2**32 - 1, 5]], dtype="<u4"),
        "b1_5": np.array([True, False, True, True, False]),
        "f4_scalar": np.array(3.25, dtype="<f4"),
        "f8_empty": np.zeros((0, 3), dtype="<f8"),
        "i4_rank4": np.arange(16, dtype="<i4").reshape(2, 2, 2, 2),
    }
    for name, a in arrays.items():
        write("npy", name + ".npy", npy_bytes(a))
    write("npy", "f4_v2.npy", npy_bytes(arrays["f4_2x3"], (2, 0)))
    write("npy", "i4_v3.npy", npy_bytes(arrays["i4_4"], (3, 0)))


def npz_seeds():
    arrays = {"w": np.arange(6, dtype="<f4").reshape(2, 3) / 4, "layers/0/b": np.array([1, -2], "<i4"),
              "s": np.array(True), "e": np.zeros((0, 2), "<f8")}
    for name, save in (("stored", np.savez), ("deflated", np.savez_compressed)):
        buf = io.BytesIO()
        save(buf, **arrays)
        write("npz", name + ".npz", buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, u=np.array([7], "<u4"))
    write("npz", "one.npz", buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf)
    write("npz", "empty.npz", buf.getvalue())


def idx_bytes(a):
    head = struct.pack(">BBBB", 0, 0, 8, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape)
    return head + a.astype(np.uint8).tobytes()


def idx_seeds():
    files = {
        "labels_idx1": np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.uint8),
        "images_idx3": (np.arange(2 * 4 * 3) * 11 % 256).reshape(2, 4, 3),
        "rank2_idx2": np.array([[0, 255], [128, 7]]),
        "empty_idx1": np.zeros(0, dtype=np.uint8),
    }
    for name, a in files.items():
        raw = idx_bytes(a)
        write("idx", name, raw)
        write("idx", name + ".gz", gzip.compress(raw, mtime=0))
        write("idx_gz", name, raw)


if __name__ == "__main__":
    parse_seeds()
    parse_dict()
    npy_seeds()
    idx_seeds()
    npz_seeds()
