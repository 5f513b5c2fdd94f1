/* t_npz.c's numpy interoperability: archives numpy writes (np.savez, np.savez_compressed:
 * zip64 members, big-endian and Fortran-order arrays, rank 0, empty, '/' and non-ASCII
 * names) read by jx exactly, and jx's archives read by np.load(allow_pickle=False)
 * exactly. Each array is also saved as a single .npy, the reference on the other side
 * (both .npy readers are checked against numpy by t_npy.c). Included once, by t_npz.c. */

/* numpy writes <dir>/np0.npz (savez) and np1.npz (savez_compressed) of the same arrays,
 * <dir>/<i>.npy for each, names.txt (the member keys in archive order), empty.npz (one
 * member named ".npy") and noext.npz (a member "x" without ".npy"). */
static const char np_write_py[] =
    "import sys, zipfile, numpy as np\n"
    "d = sys.argv[1]\n"
    "r = np.arange(24)\n"
    "arrs = {'f32': (r * 0.37 - 5).astype('<f4').reshape(2, 3, 4),\n"
    "        'f64_be': (r / 7.0).astype('>f8').reshape(4, 6),\n"
    "        'i32_fortran': np.asfortranarray((r * -1234567).astype('<i4').reshape(4, 6)),\n"
    "        'u32': (r * 178956970).astype('<u4'),\n"
    "        'bool': (r % 3 == 0).reshape(2, 12),\n"
    "        'scalar': np.float64(np.pi),\n"
    "        'empty': np.zeros((0, 5), '<f4'),\n"
    "        'layers/0/w': np.array([[np.nan, -0.0], [np.inf, 1e-45]], '<f4'),\n"
    "        '\\u03b1\\u03b2': np.array([7, -8], '<i4')}\n"
    "np.savez(d + '/np0.npz', **arrs)\n"
    "np.savez_compressed(d + '/np1.npz', **arrs)\n"
    "keys = [n[:-4] for n in zipfile.ZipFile(d + '/np0.npz').namelist()]\n"
    "assert keys == [n[:-4] for n in zipfile.ZipFile(d + '/np1.npz').namelist()]\n"
    "for i, k in enumerate(keys): np.save('%s/%d.npy' % (d, i), arrs[k])\n"
    "open(d + '/names.txt', 'w', encoding='utf-8').write(''.join(k + '\\n' for k in keys))\n"
    "np.savez(d + '/empty.npz', **{'': np.zeros(2)})\n"
    "with zipfile.ZipFile(d + '/noext.npz', 'w') as z: z.writestr('x', b'abc')\n";

/* Reads jx's <dir>/jx0.npz and jx1.npz with np.load(allow_pickle=False) and compares each
 * member (names from names.txt, in order) with <dir>/<i>.npy: dtype, shape and bytes;
 * checks the CRCs (testzip) and the compression of each member. Prints "ok <n>". */
static const char np_read_py[] =
    "import sys, zipfile, numpy as np\n"
    "d = sys.argv[1]\n"
    "names = open(d + '/names.txt', encoding='utf-8').read().split('\\n')[:-1]\n"
    "for c in (0, 1):\n"
    "    p = '%s/jx%d.npz' % (d, c)\n"
    "    zf = zipfile.ZipFile(p)\n"
    "    assert zf.testzip() is None, 'CRC'\n"
    "    assert all(i.compress_type == (8 if c else 0) for i in zf.infolist())\n"
    "    with np.load(p, allow_pickle=False) as z:\n"
    "        assert z.files == names, (z.files, names)\n"
    "        for i, k in enumerate(names):\n"
    "            a, b = z[k], np.load('%s/%d.npy' % (d, i), allow_pickle=False)\n"
    "            assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, a.shape)\n"
    "            assert a.tobytes() == b.tobytes(), k\n"
    "print('ok', len(names))\n";

/* Writes script text to <dir>/<name> and runs it with py on dir; 0 if it succeeded. The
 * output goes to <dir>/<name>.out. */
static int run_py(const char *py, const char *dir, const char *name, const char *text) {
    char sp[512], cmd[2048];
    snprintf(sp, sizeof sp, "%s/%s", dir, name);
    if (spit(sp, text, strlen(text)) < 0) return -1;
    snprintf(cmd, sizeof cmd, "%s '%s' '%s' > '%s.out' 2>&1", py, sp, dir, sp);
    int rc = system(cmd);
    if (rc != 0) {
        char out[600];
        snprintf(out, sizeof out, "cat '%s.out'", sp);
        if (system(out) != 0) printf("  (no output)\n");
    }
    return rc;
}

/* Reads names.txt of dir into names (up to max); returns the count. */
static int read_names(const char *dir, char names[][64], int max) {
    char p[512];
    snprintf(p, sizeof p, "%s/names.txt", dir);
    FILE *f = fopen(p, "r");
    int n = 0;
    while (f && n < max && fgets(names[n], 64, f)) {
        names[n][strcspn(names[n], "\n")] = 0;
        n++;
    }
    if (f) fclose(f);
    return n;
}

/* jx reads numpy's archives: every member equals numpy's .npy of the same array. */
static void numpy_to_jx(const char *py, const char *d) {
    if (run_py(py, d, "write.py", np_write_py) != 0) {
        CHECK_FAIL_("numpy could not write the archives");
        return;
    }
    char names[16][64], p[512];
    int n = read_names(d, names, 16);
    CHECK(n == 9);
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/np%d.npz", d, c);
        jx_tree *z = jx_tree_load(p);
        if (!z) CHECK_FAIL_("jx_tree_load of numpy's %s: %s", p, jx_error());
        CHECK(z && z->n == n);
        for (int i = 0; z && i < n && i < z->n; i++) {
            snprintf(p, sizeof p, "%s/%d.npy", d, i);
            jx_array *want = jx_npy_load(p);
            CHECK(!strcmp(z->paths[i], names[i]));
            if (!same_array(z->leaves[i], want))
                CHECK_FAIL_("numpy's member '%s' (%s) differs", names[i], c ? "deflated" : "stored");
            snprintf(p, sizeof p, "%s/np%d.npz", d, c);
            jx_array *one = jx_npz_load_one(p, names[i]);
            if (!same_array(one, want)) CHECK_FAIL_("load_one '%s': %s", names[i], jx_error());
            jx_array_free(one);
            jx_array_free(want);
        }
        jx_tree_free(z);
    }
    snprintf(p, sizeof p, "%s/empty.npz", d);
    CHECK(jx_tree_load(p) == NULL);
    CHECK_CONTAINS(jx_error(), "member '.npy' has an empty name");
    snprintf(p, sizeof p, "%s/noext.npz", d);
    CHECK(jx_tree_load(p) == NULL);
    CHECK_CONTAINS(jx_error(), "member 'x' is not an .npy member");
}

/* numpy reads jx's archives of the test set, stored and deflated. */
static void jx_to_numpy(const char *py, const char *d) {
    set s;
    make_set(&s);
    char p[512];
    snprintf(p, sizeof p, "%s/names.txt", d);
    FILE *f = fopen(p, "w");
    for (int i = 0; f && i < NSET; i++) fprintf(f, "%s\n", s.names[i]);
    if (f) fclose(f);
    for (int i = 0; i < NSET; i++) {
        snprintf(p, sizeof p, "%s/%d.npy", d, i);
        CHECK(jx_npy_save(p, s.a[i]) == 0);
    }
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/jx%d.npz", d, c);
        CHECK(jx_npz_save(p, NSET, s.names, s.a, c ? JX_NPZ_COMPRESSED : JX_NPZ_STORED) == 0);
    }
    if (run_py(py, d, "read.py", np_read_py) != 0) CHECK_FAIL_("np.load disagrees (above)");
    free_set(&s);
}

TEST(npz_numpy_interop) {
    const char *py = numpy_python();
    if (!py) {
        CHECK_FAIL_("no python3 with numpy: this test needs it (install python3-numpy; "
                    "./tools/deps does)");
        return;
    }
    char d1[256], d2[256];
    tmp_dir(d1, sizeof d1, "np2jx");
    tmp_dir(d2, sizeof d2, "jx2np");
    numpy_to_jx(py, d1);
    jx_to_numpy(py, d2);
    rm_dir(d1);
    rm_dir(d2);
}
