/* The .npy reader against numpy itself: thousands of headers (every byte of a few valid
 * headers replaced by interesting characters or flipped bit by bit, deleted, or with a
 * character inserted; hand-picked Python-literal corner cases; dtype spellings) go to
 * numpy.load and to jx_npy_parse, which must agree on each: both refuse, or both read the
 * same dtype, shape and values (jx also refuses what numpy reads into a dtype jx does not
 * have or more than 8 dims). numpy is required (python3-numpy, installed by tools/deps);
 * without it the oracle case fails. Big-endian and Fortran-order files are among the
 * headers compared (values included); the load limit and .npy files that are pipes or
 * devices are tested through jxc in tests/cli.sh. */
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "npy_util.h"

/* A temporary path unique to this process (in $TMPDIR, any extension). */
static void tmp_file(char *buf, size_t cap, const char *tag) {
    const char *dir = getenv("TMPDIR");
    snprintf(buf, cap, "%s/jx_t_npy_%ld_%s", dir && *dir ? dir : "/tmp", (long)getpid(), tag);
}

/* A growable list of images. */
typedef struct imgs {
    unsigned char **b;
    size_t *len, n, cap;
} imgs;

/* 64 data bytes 1..64 follow every header (enough for the shapes used). */
#define DATA_LEN 64

/* Appends an .npy image of format major.0 with header text h[0..hl) as is (no padding). */
static void add_img(imgs *I, int major, const char *h, size_t hl) {
    size_t pre = major == 1 ? 10 : 12;
    if (I->n == I->cap) {
        I->cap = I->cap ? 2 * I->cap : 1024;
        I->b = realloc(I->b, I->cap * sizeof *I->b);
        I->len = realloc(I->len, I->cap * sizeof *I->len);
    }
    unsigned char *b = malloc(pre + hl + DATA_LEN);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t k = 0; k < pre - 8; k++) b[8 + k] = (unsigned char)(hl >> (8 * k));
    memcpy(b + pre, h, hl);
    for (int k = 0; k < DATA_LEN; k++) b[pre + hl + k] = (unsigned char)(k + 1);
    I->b[I->n] = b;
    I->len[I->n++] = pre + hl + DATA_LEN;
}

/* Valid headers whose every byte gets mutated. */
static const struct {
    int major;
    const char *h;
} bases[] = {
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }  \n"},
    {3, "{'descr': '|b1', 'fortran_order': True, 'shape': (3,), }\n"},
    {2, "{'shape': (4L,), \"fortran_order\": False, 'descr': '>i4'}\n"},
};

/* Hand-picked headers (format 1.0 and 3.0 each). */
static const char *const curated[] = {
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3 L, 2L L), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (00, 0_0, 0x3, 0o1, 0b1, 1_0), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (+3, -0, (2), ((1))), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (- -1,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-(2),), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (True,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1+0j,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 0), }",
    "{'descr': 5, 'fortran_order': 1, 'shape': [1], 'descr': '<f4', 'fortran_order': False, "
    "'shape': (3,)}",
    "{'descr': (1, 2.5, -3j, 1-2j, None, [1], {1: 2}, {3}, b'x'), 'descr': '<f4', "
    "'fortran_order': False, 'shape': (3,)}",
    "{'descr': 1+2j+3j, 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
    "{'descr': {[1]: 2}, 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
    " \t{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\n\n# c\n{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\n  {'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\f{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\v{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': False,\f'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': False,\r'shape': (3,), }\r\n",
    "{'descr': '<f4', # comment\n 'fortran_order': False, 'shape': (3,), } # c\n",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), \\\n}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\\\n",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n  ",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n  \n",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n\f",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n# end",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\r  ",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\r\f",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\r #c",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n\t",
    "\r{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\r{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n",
    "#c\r{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\r#c\r{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\r(\n{'descr': '<f4', 'fortran_order': False, 'shape': (3,), })\n",
    "\r{'descr': '<f4',\n 'fortran_order': False, 'shape': (3,), }\n",
    "\f {'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "\n\f{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n  x",
    "{'descr': u'<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': R'<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': b'<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': f'<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': ur'<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<' \"f\"\n '4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<' b'f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '''<f4''', \"\"\"fortran_order\"\"\": False, 'shape': (3,), }",
    "{'descr': '\\x3cf\\64', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '\\u003cf4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '\\N{LESS-THAN SIGN}f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '\\<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '\\x3', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f4\\\n', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': (False), 'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,),, }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
    "{'descr': '<f4', 'fortran_order': False}",
    "{'descr', 'fortran_order', 'shape'}",
    "{**{}, 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} {}",
    "({'descr': '<f4', 'fortran_order': False, 'shape': (3,)})",
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }#\xc3\xa9",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }#\xe9",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\xc2\xa0",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\xed\xa0\x80",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1if 1 else 2,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1_,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (0x,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1.__class__,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }",
    "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2, 2), }",
    "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 4), }",
    "{'descr': '<u4', 'fortran_order': False, 'shape': (), }",
    "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 5), }",
};

/* dtype spellings: every byte order with every body, then comma-string forms. */
static const char *const orders[] = {"", "<", ">", "=", "|", "!"};
static const char *const bodies[] = {
    "f", "d", "i", "I", "?", "l", "L", "b", "B", "u", "e", "g", "q", "h", "F", "D", "x",
    "f4", "f8", "i4", "u4", "b1", "f2", "f16", "i8", "u8", "i2", "i1", "u1", "c8", "b2", "?1",
    "f04", "f 4", "f\t4", "f+4", "f-4", "f+ 4", "f4294967300", "f18446744073709551620",
    "b01", "i004", "u+4", "f0", "f4 ", " f4", "F4", "I4", "d8",
    "float32", "float64", "single", "double", "float", "float_", "half", "int32", "intc",
    "uint32", "uintc", "bool", "bool_", "bool8", "int", "long", "int64", "Float32", "str",
    "\\x00", "\\x05", "\\x06", "\\x07", "\\x08", "\\x0b", "\\x0c", "\\t", "\\x0e", "\\x17",
    "\\x0b\\x0b", "f\\x0b4",
};
static const char *const commas[] = {
    "f4,", "f4 ,", "f4, ", "f4,,", ",f4", "<f4,", ">f4,", "|f4,", "=f4,", "f4,f4", "f,",
    "d,", "float32,", "<float32,", ">float32,", "?,", "b1,", "i,", "I,", "<?,", "f 4,",
    "f04,", "<>f4,", "=()<f4,", "<()>f4,", "|()<f4,", "|()|f4,", "()f4", "<()f4", "( )f4,",
    "() f4,", "()f4 ", " ()f4", "()", "(),", "1f4", "2f4", "0f4", "(1,)f4", "(2)f4",
    "f4,\t", "f4\v,", "\vf4,", "f4[2],", "u4,", ">i4,", "M8[s],", "f4,\x1f", "f4,  ",
};

/* Adds every mutation of every base header. */
static void add_mutations(imgs *I) {
    static const char subs[] = "0123479LlxjeEbTFNfu_()[]{},:'\"\\#.+-<>|=?! "
                               "\t\n\r\f\v\x80\xc3\xff";
    char h[256];
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
        const char *base = bases[b].h;
        size_t n = strlen(base);
        int major = bases[b].major;
        for (size_t i = 0; i < n; i++) {
            memcpy(h, base, n);
            for (const char *c = subs; c < subs + sizeof subs - 1; c++) {
                if (*c == base[i]) continue;
                h[i] = *c;
                add_img(I, major, h, n);
            }
            for (int bit = 0; bit < 8; bit++) {
                h[i] = (char)(base[i] ^ (1 << bit));
                add_img(I, major, h, n);
            }
            h[i] = 0; /* a NUL byte */
            add_img(I, major, h, n);
            memcpy(h, base, i); /* deletion */
            memcpy(h + i, base + i + 1, n - i - 1);
            add_img(I, major, h, n - 1);
            for (const char *c = "0L ,)'#\n\\"; *c; c++) { /* insertion */
                memcpy(h, base, i);
                h[i] = *c;
                memcpy(h + i + 1, base + i, n - i);
                add_img(I, major, h, n + 1);
            }
        }
    }
}

/* Adds the curated headers and the dtype spellings. */
static void add_curated(imgs *I) {
    char h[512];
    for (size_t i = 0; i < sizeof curated / sizeof *curated; i++) {
        add_img(I, 1, curated[i], strlen(curated[i]));
        add_img(I, 3, curated[i], strlen(curated[i]));
    }
    for (size_t o = 0; o < sizeof orders / sizeof *orders; o++)
        for (size_t b = 0; b < sizeof bodies / sizeof *bodies; b++) {
            int k = snprintf(h, sizeof h, "{'descr': '%s%s', 'fortran_order': False, "
                             "'shape': (2,), }", orders[o], bodies[b]);
            add_img(I, 1, h, (size_t)k);
        }
    for (size_t c = 0; c < sizeof commas / sizeof *commas; c++) {
        int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, "
                         "'shape': (2,), }", commas[c]);
        add_img(I, 3, h, (size_t)k);
    }
}

/* numpy's verdict on each image (hex per line on argv[1]): "err", "unsup" (read, but not
 * as a jx dtype: another kind or size, structured, a subarray; or more than 8 dims), or
 * "ok DTYPE RANK DIMS... HEX" with the data
 * in C order, little-endian, bools as 0/1. Warnings are errors, so deprecated spellings
 * count as refused. */
static const char oracle_py[] =
    "import io, sys, warnings\n"
    "import numpy as np\n"
    "warnings.simplefilter('error')\n"
    "names = {('f', 4): 'f32', ('f', 8): 'f64', ('i', 4): 'i32', ('u', 4): 'u32',\n"
    "         ('b', 1): 'bool'}\n"
    "def header_dtype(b):  # a subarray dtype such as (2,)f4 adds dims to the shape\n"
    "    f = io.BytesIO(b)\n"
    "    return np.lib.format._read_array_header(f, np.lib.format.read_magic(f))[2]\n"
    "out = []\n"
    "with open(sys.argv[1]) as lines:\n"
    "  for line in lines:\n"
    "    b = bytes.fromhex(line.strip())\n"
    "    try:\n"
    "        a = np.load(io.BytesIO(b), allow_pickle=False)\n"
    "    except BaseException:\n"
    "        out.append('err'); continue\n"
    "    d = a.dtype\n"
    "    name = names.get((d.kind, d.itemsize))\n"
    "    if name is None or d.names or header_dtype(b).subdtype or a.ndim > 8:\n"
    "        out.append('unsup'); continue\n"
    "    c = np.ascontiguousarray(a)\n"
    "    c = (c != 0).astype(np.uint8) if name == 'bool' else c.astype(d.newbyteorder('<'))\n"
    "    out.append(' '.join(['ok', name, str(a.ndim)] + [str(x) for x in a.shape] +\n"
    "                        [c.tobytes().hex() or '-']))\n"
    "print('\\n'.join(out))\n";

/* Prints header bytes with C escapes (for failure messages). */
static void show_header(const unsigned char *b, size_t len) {
    size_t pre = b[6] == 1 ? 10 : 12;
    printf("  v%d header \"", b[6]);
    for (size_t i = pre; i < len - DATA_LEN; i++) {
        unsigned c = b[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\') putchar((int)c);
        else printf("\\x%02x", c);
    }
    printf("\"\n");
}

/* Compares jx's reading of image b with numpy's verdict line v; 0 if they agree. */
static int agree(const unsigned char *b, size_t len, char *v) {
    jx_clear_error();
    jx_array *a = jx_npy_parse(b, len);
    int ok = 0;
    char *tok = strtok(v, " \n");
    if (!tok) tok = "?";
    if (!strcmp(tok, "err") || !strcmp(tok, "unsup")) {
        ok = a == NULL && strstr(jx_error(), "jx_npy_parse: <buffer>") != NULL;
    } else if (a && !strcmp(tok, "ok")) {
        const char *dt = strtok(NULL, " \n"), *rk = strtok(NULL, " \n");
        ok = dt && rk && !strcmp(dt, jx_dtype_name(jx_array_dtype(a))) &&
             atoi(rk) == jx_array_rank(a);
        for (int i = 0; ok && i < jx_array_rank(a); i++) {
            const char *d = strtok(NULL, " \n");
            ok = d && atoll(d) == jx_array_dim(a, i);
        }
        const char *hex = strtok(NULL, " \n");
        size_t nb = jx_array_nbytes(a);
        const unsigned char *p = jx_array_cdata(a);
        ok = ok && hex && strlen(hex) == (nb ? 2 * nb : 1);
        for (size_t i = 0; ok && i < nb; i++) {
            unsigned x = 0;
            ok = sscanf(hex + 2 * i, "%2x", &x) == 1 && x == p[i];
        }
    }
    if (!ok) {
        show_header(b, len);
        printf("    numpy: %s, jx: %s\n", tok, a ? "read it" : jx_error());
    }
    jx_array_free(a);
    return ok ? 0 : -1;
}

TEST(npy_headers_agree_with_numpy) {
    const char *py = numpy_python();
    if (!py) {
        CHECK_FAIL_("no python3 with numpy: this test needs it as the oracle (install "
                    "python3-numpy; ./tools/deps does)");
        return;
    }
    imgs I = {0};
    add_mutations(&I);
    add_curated(&I);
    char in[256], out[256], script[256], cmd[1024];
    tmp_file(in, sizeof in, "in.txt");
    tmp_file(out, sizeof out, "out.txt");
    tmp_file(script, sizeof script, "oracle.py");
    FILE *f = fopen(in, "w"), *s = fopen(script, "w");
    CHECK(f && s);
    if (!f || !s) return;
    fputs(oracle_py, s);
    fclose(s);
    for (size_t i = 0; i < I.n; i++) {
        for (size_t k = 0; k < I.len[i]; k++) fprintf(f, "%02x", I.b[i][k]);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s %s > %s", py, script, in, out);
    CHECK(system(cmd) == 0);
    f = fopen(out, "r");
    CHECK(f != NULL);
    size_t n = 0, nok = 0, bad = 0;
    char *line = NULL;
    size_t cap = 0;
    while (f && n < I.n && getline(&line, &cap, f) > 0) {
        nok += !strncmp(line, "ok", 2);
        if (agree(I.b[n], I.len[n], line) < 0 && ++bad >= 25) break;
        n++;
    }
    if (f) fclose(f);
    free(line);
    if (bad) CHECK_FAIL_("%zu of the first %zu headers: jx and numpy disagree", bad, n);
    else if (n != I.n) CHECK_FAIL_("numpy answered %zu of %zu images", n, I.n);
    /* The set means something: numpy reads a good share and refuses most. */
    CHECK(nok > 300 && n - nok > 3000);
    printf("  %zu headers, numpy read %zu\n", n, nok);
    for (size_t i = 0; i < I.n; i++) free(I.b[i]);
    free(I.b);
    free(I.len);
    remove(in);
    remove(out);
    remove(script);
}

TEST_MAIN()
