/* Vectorizable transcendentals emitted as IR (no libm calls in loops): a math library
 * for the elementwise primitives' lowering rules (src/prims/elt_math.c chooses per op).
 *
 * f64 (and f32 sin, cos, pow) are computed in double precision with branch-free selects
 * for the special cases, then rounded to the result dtype; f32 results use shorter
 * polynomials there (error ~1e-10 before the final rounding, within 1 ulp of the
 * correctly rounded value), f64 results full-length ones (a few ulp). f32 exp, log,
 * log1p, expm1, tanh and logistic are native f32 code (full vector width; Cephes
 * single-precision polynomials, 1-3 ulp), described at the f32_* functions below.
 * Polynomials and range reductions are llvm.fmuladd (fused multiply-adds on FMA hosts,
 * vector and scalar code alike, so every element gets the same bits); the arithmetic
 * between the user's ops is never contracted (lower_elt.c).
 *  exp:   Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Taylor series, 2^n by two
 *         exponent-field multiplies (so n may reach the subnormal range).
 *  log:   x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1).
 *  log1p: Goldberg's trick log(u) * x / (u - 1), u = 1 + x.
 *  expm1: Kahan's trick (u - 1) * x / log(u), u = exp(x).
 *  tanh:  -expm1(-2|x|) / (2 + expm1(-2|x|)) with x's sign (f32: see f32_tanh).
 *  logistic: the interpreter's two-sided formula, one division.
 *  sin, cos: Cephes: reduction by pi/4 in three parts (accurate for |x| < 2^26; larger
 *         arguments lose accuracy), degree-13 polynomials.
 *  pow:   exp(y log|x|) with C99 Annex F special cases.
 * Divisions stay IEEE divisions (tanh, logistic, log1p and expm1 divide once per
 * element): on the AVX-512 host, a reciprocal estimate refined by a Newton step on the
 * quotient (vrcp14ps and three FMA-unit operations) made f32 tanh 6% slower and
 * logistic no faster, since the divider runs beside the 20-40 other vector operations,
 * and the 256-bit estimate (vrcpps, 12 bits) would cost accuracy in epilogue loops.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "jit/lower.h"

/* Shorthands: double and i64 constants, double arithmetic, compare, select, floor, fabs. */
static LLVMValueRef D(lw *L, double c) {
    return LLVMConstReal(L->f64, c);
}
static LLVMValueRef I64(lw *L, long long c) {
    return LLVMConstInt(L->i64, (unsigned long long)c, 1);
}
static LLVMValueRef fadd(lw *L, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFAdd(L->b, a, b, "");
}
static LLVMValueRef fsub(lw *L, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFSub(L->b, a, b, "");
}
static LLVMValueRef fmul(lw *L, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFMul(L->b, a, b, "");
}
static LLVMValueRef fdiv(lw *L, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFDiv(L->b, a, b, "");
}
static LLVMValueRef fcmp(lw *L, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFCmp(L->b, p, a, b, "");
}
static LLVMValueRef sel(lw *L, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(L->b, c, a, b, "");
}
static LLVMValueRef dfloor(lw *L, LLVMValueRef x) {
    return lw_intrin(L, "llvm.floor", L->f64, 1, &x);
}
static LLVMValueRef dabs(lw *L, LLVMValueRef x) {
    return lw_intrin(L, "llvm.fabs", L->f64, 1, &x);
}

/* a * b + c, fused where the target has FMA (llvm.fmuladd: one rounding there, two
 * elsewhere; vectorizes either way). */
static LLVMValueRef fma3(lw *L, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    LLVMValueRef args[3] = {a, b, c};
    return lw_intrin(L, "llvm.fmuladd", LLVMTypeOf(a), 3, args);
}

/* Horner evaluation of c[0] x^(n-1) + ... + c[n-1] in x's float type (f32 or f64; the
 * coefficients are rounded to it), one fma3 per step. */
static LLVMValueRef poly(lw *L, LLVMValueRef x, const double *c, int n) {
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef r = LLVMConstReal(ty, c[0]);
    for (int i = 1; i < n; i++) r = fma3(L, r, x, LLVMConstReal(ty, c[i]));
    return r;
}

/* 2^k for an i64 k in [-1022, 1023] as a double. */
static LLVMValueRef pow2i(lw *L, LLVMValueRef k) {
    LLVMValueRef e = LLVMBuildShl(L->b, LLVMBuildAdd(L->b, k, I64(L, 1023), ""), I64(L, 52), "");
    return LLVMBuildBitCast(L->b, e, L->f64, "");
}

/* exp of a double; `full` selects f64 accuracy. */
static LLVMValueRef f64_exp(lw *L, LLVMValueRef x, int full) {
    LLVMValueRef nan = fcmp(L, LLVMRealUNO, x, x);
    LLVMValueRef xc = sel(L, fcmp(L, LLVMRealOGT, x, D(L, 709.8)), D(L, 709.8), x);
    xc = sel(L, fcmp(L, LLVMRealOLT, xc, D(L, -745.2)), D(L, -745.2), xc);
    xc = sel(L, nan, D(L, 0), xc);
    LLVMValueRef n = dfloor(L, fadd(L, fmul(L, xc, D(L, 1.4426950408889634)), D(L, 0.5)));
    LLVMValueRef r = fsub(L, xc, fmul(L, n, D(L, 6.93147180369123816490e-01)));
    r = fsub(L, r, fmul(L, n, D(L, 1.90821492927058770002e-10)));
    /* Taylor coefficients 1/k!, k = terms .. 0 */
    int terms = full ? 13 : 8;
    double c[16];
    for (int k = terms, i = 0; k >= 0; k--, i++) {
        double f = 1;
        for (int j = 2; j <= k; j++) f *= j;
        c[i] = 1 / f;
    }
    LLVMValueRef pv = poly(L, r, c, terms + 1);
    LLVMValueRef ni = LLVMBuildFPToSI(L->b, n, L->i64, "");
    LLVMValueRef n1 = LLVMBuildAShr(L->b, ni, I64(L, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(L->b, ni, n1, "");
    LLVMValueRef res = fmul(L, fmul(L, pv, pow2i(L, n1)), pow2i(L, n2));
    res = sel(L, fcmp(L, LLVMRealOGT, x, D(L, 709.782712893384)), D(L, INFINITY), res);
    res = sel(L, fcmp(L, LLVMRealOLT, x, D(L, -745.1332191019412)), D(L, 0), res);
    return sel(L, nan, x, res);
}

/* log of a double. */
static LLVMValueRef f64_log(lw *L, LLVMValueRef x, int full) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef small = fcmp(L, LLVMRealOLT, x, D(L, 2.2250738585072014e-308));
    LLVMValueRef xs = sel(L, small, fmul(L, x, D(L, 18014398509481984.0 /* 2^54 */)), x);
    LLVMValueRef bits = LLVMBuildBitCast(B, xs, L->i64, "");
    LLVMValueRef e = LLVMBuildSub(
        B, LLVMBuildAnd(B, LLVMBuildLShr(B, bits, I64(L, 52), ""), I64(L, 0x7ff), ""),
        I64(L, 1023), "");
    e = LLVMBuildSub(B, e, sel(L, small, I64(L, 54), I64(L, 0)), "");
    LLVMValueRef mb = LLVMBuildOr(B, LLVMBuildAnd(B, bits, I64(L, 0x000fffffffffffffLL), ""),
                                  I64(L, 0x3ff0000000000000LL), "");
    LLVMValueRef m = LLVMBuildBitCast(B, mb, L->f64, "");
    LLVMValueRef big = fcmp(L, LLVMRealOGT, m, D(L, 1.4142135623730951));
    m = sel(L, big, fmul(L, m, D(L, 0.5)), m);
    e = sel(L, big, LLVMBuildAdd(B, e, I64(L, 1), ""), e);
    LLVMValueRef s = fdiv(L, fsub(L, m, D(L, 1)), fadd(L, m, D(L, 1)));
    LLVMValueRef z = fmul(L, s, s);
    int terms = full ? 12 : 8;
    double c[16];
    for (int i = 0; i < terms; i++) c[i] = 1.0 / (2 * (terms - 1 - i) + 1);
    LLVMValueRef R = fmul(L, fmul(L, D(L, 2), s), poly(L, z, c, terms));
    LLVMValueRef ed = LLVMBuildSIToFP(B, e, L->f64, "");
    LLVMValueRef res = fadd(L, fmul(L, ed, D(L, 6.93147180369123816490e-01)),
                            fadd(L, R, fmul(L, ed, D(L, 1.90821492927058770002e-10))));
    res = sel(L, fcmp(L, LLVMRealOEQ, x, D(L, INFINITY)), D(L, INFINITY), res);
    res = sel(L, fcmp(L, LLVMRealOEQ, x, D(L, 0)), D(L, -INFINITY), res);
    return sel(L, fcmp(L, LLVMRealULT, x, D(L, 0)), D(L, NAN), res); /* x < 0 or NaN */
}

/* log1p of a double. */
static LLVMValueRef f64_log1p(lw *L, LLVMValueRef x, int full) {
    LLVMValueRef u = fadd(L, D(L, 1), x), d = fsub(L, u, D(L, 1));
    LLVMValueRef r = fmul(L, f64_log(L, u, full), fdiv(L, x, d));
    r = sel(L, fcmp(L, LLVMRealOEQ, d, D(L, 0)), x, r);
    return sel(L, fcmp(L, LLVMRealOEQ, x, D(L, INFINITY)), x, r);
}

/* expm1 of a double. */
static LLVMValueRef f64_expm1(lw *L, LLVMValueRef x, int full) {
    LLVMValueRef u = f64_exp(L, x, full), d = fsub(L, u, D(L, 1));
    LLVMValueRef r = fmul(L, d, fdiv(L, x, f64_log(L, u, full))); /* no overflow near 709 */
    r = sel(L, fcmp(L, LLVMRealOEQ, d, D(L, -1)), D(L, -1), r);
    r = sel(L, fcmp(L, LLVMRealOEQ, u, D(L, 1)), x, r);
    return sel(L, fcmp(L, LLVMRealOEQ, u, D(L, INFINITY)), u, r);
}

/* tanh of a double. */
static LLVMValueRef f64_tanh(lw *L, LLVMValueRef x, int full) {
    LLVMValueRef a = dabs(L, x);
    LLVMValueRef e = f64_expm1(L, fmul(L, a, D(L, -2)), full);
    LLVMValueRef t = fdiv(L, LLVMBuildFNeg(L->b, e, ""), fadd(L, D(L, 2), e));
    LLVMValueRef args[2] = {t, x};
    return lw_intrin(L, "llvm.copysign", L->f64, 2, args);
}

/* logistic of a double: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) otherwise. */
static LLVMValueRef f64_logistic(lw *L, LLVMValueRef x, int full) {
    LLVMValueRef e = f64_exp(L, LLVMBuildFNeg(L->b, dabs(L, x), ""), full);
    LLVMValueRef den = fadd(L, D(L, 1), e);
    return sel(L, fcmp(L, LLVMRealOGE, x, D(L, 0)), fdiv(L, D(L, 1), den), fdiv(L, e, den));
}

/* sin (is_cos = 0) or cos of a double (Cephes sin.c). */
static LLVMValueRef f64_sincos(lw *L, LLVMValueRef x, int is_cos) {
    static const double sincof[6] = {1.58962301576546568060E-10, -2.50507477628578072866E-8,
                                     2.75573136213857245213E-6, -1.98412698295895385996E-4,
                                     8.33333333332211858878E-3, -1.66666666666666307295E-1};
    static const double coscof[6] = {-1.13585365213876817300E-11, 2.08757008419747316778E-9,
                                     -2.75573141792967388112E-7, 2.48015872888517045348E-5,
                                     -1.38888888888730564116E-3, 4.16666666666665929218E-2};
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = dabs(L, x);
    LLVMValueRef finite = fcmp(L, LLVMRealOLT, a, D(L, INFINITY));
    LLVMValueRef a0 = sel(L, finite, a, D(L, 0));
    LLVMValueRef y = dfloor(L, fmul(L, a0, D(L, 1.27323954473516268615)));
    LLVMValueRef jf = fsub(L, y, fmul(L, D(L, 16), dfloor(L, fmul(L, y, D(L, 1.0 / 16)))));
    LLVMValueRef j = LLVMBuildFPToSI(B, jf, L->i32, "");
    LLVMValueRef odd = LLVMBuildAnd(B, j, LLVMConstInt(L->i32, 1, 0), "");
    y = fadd(L, y, LLVMBuildSIToFP(B, odd, L->f64, ""));
    j = LLVMBuildAnd(B, LLVMBuildAdd(B, j, odd, ""), LLVMConstInt(L->i32, 7, 0), "");
    LLVMValueRef z = fsub(L, a0, fmul(L, y, D(L, 7.85398125648498535156E-1)));
    z = fsub(L, z, fmul(L, y, D(L, 3.77489470793079817668E-8)));
    z = fsub(L, z, fmul(L, y, D(L, 2.69515142907905952645E-15)));
    LLVMValueRef zz = fmul(L, z, z);
    LLVMValueRef sp = fadd(L, z, fmul(L, z, fmul(L, zz, poly(L, zz, sincof, 6))));
    LLVMValueRef cp = fadd(L, fsub(L, D(L, 1), fmul(L, zz, D(L, 0.5))),
                           fmul(L, fmul(L, zz, zz), poly(L, zz, coscof, 6)));
    /* j is 0, 2, 4 or 6; bit 2 flips the sign; bit 1 swaps the polynomials */
    LLVMValueRef b1 = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, j, LLVMConstInt(L->i32, 2, 0), ""),
                                    LLVMConstInt(L->i32, 0, 0), "");
    LLVMValueRef b2 = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, j, LLVMConstInt(L->i32, 4, 0), ""),
                                    LLVMConstInt(L->i32, 0, 0), "");
    LLVMValueRef r, neg;
    if (is_cos) {
        r = sel(L, b1, sp, cp);
        neg = LLVMBuildXor(B, b1, b2, "");
    } else {
        r = sel(L, b1, cp, sp);
        LLVMValueRef sx = LLVMBuildICmp(B, LLVMIntSLT, LLVMBuildBitCast(B, x, L->i64, ""),
                                        I64(L, 0), ""); /* sign bit: sin(-0) = -0 */
        neg = LLVMBuildXor(B, b2, sx, "");
    }
    r = sel(L, neg, LLVMBuildFNeg(B, r, ""), r);
    return sel(L, finite, r, D(L, NAN));
}

/* pow of doubles with the C99 special cases. */
static LLVMValueRef f64_pow(lw *L, LLVMValueRef x, LLVMValueRef y, int full) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef ax = dabs(L, x);
    LLVMValueRef mag = f64_exp(L, fmul(L, y, f64_log(L, ax, 1)), full);
    LLVMValueRef yint = fcmp(L, LLVMRealOEQ, dfloor(L, y), y);
    LLVMValueRef h = fmul(L, y, D(L, 0.5));
    LLVMValueRef odd = LLVMBuildAnd(B, yint, fcmp(L, LLVMRealONE, dfloor(L, h), h), "");
    LLVMValueRef xneg = LLVMBuildICmp(B, LLVMIntSLT, LLVMBuildBitCast(B, x, L->i64, ""),
                                      I64(L, 0), ""); /* sign bit, also -0 */
    LLVMValueRef r = sel(L, LLVMBuildAnd(B, xneg, odd, ""), LLVMBuildFNeg(B, mag, ""), mag);
    /* x < 0 finite (not -0, not -inf) and y finite non-integer: NaN */
    LLVMValueRef xnegfin = LLVMBuildAnd(B, fcmp(L, LLVMRealOLT, x, D(L, 0)),
                                        fcmp(L, LLVMRealOGT, x, D(L, -INFINITY)), "");
    LLVMValueRef yfin = fcmp(L, LLVMRealOLT, dabs(L, y), D(L, INFINITY));
    LLVMValueRef bad = LLVMBuildAnd(B, xnegfin,
                                    LLVMBuildAnd(B, yfin, LLVMBuildNot(B, yint, ""), ""), "");
    r = sel(L, bad, D(L, NAN), r);
    /* |x| == 1 and y = +-inf: 1; y == 0 or x == 1: 1 (even for NaN) */
    LLVMValueRef one = LLVMBuildAnd(B, fcmp(L, LLVMRealOEQ, ax, D(L, 1)),
                                    LLVMBuildNot(B, yfin, ""), "");
    one = LLVMBuildAnd(B, one, fcmp(L, LLVMRealORD, y, y), "");
    one = LLVMBuildOr(B, one, fcmp(L, LLVMRealOEQ, y, D(L, 0)), "");
    one = LLVMBuildOr(B, one, fcmp(L, LLVMRealOEQ, x, D(L, 1)), "");
    return sel(L, one, D(L, 1), r);
}

/* ---- native f32 (full vector width; Cephes single-precision algorithms) ---------------- */

/* f32 and i32 constants. */
static LLVMValueRef F(lw *L, double c) {
    return LLVMConstReal(L->f32, (float)c);
}
static LLVMValueRef I32(lw *L, int c) {
    return LLVMConstInt(L->i32, (unsigned long long)(uint32_t)c, 0);
}

/* x clamped to [lo, hi] by two compare-selects (a max and a min on x86); NaN stays. */
static LLVMValueRef clampf(lw *L, LLVMValueRef x, double lo, double hi) {
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef l = LLVMConstReal(ty, lo), h = LLVMConstReal(ty, hi);
    x = sel(L, fcmp(L, LLVMRealOLT, x, l), l, x);
    return sel(L, fcmp(L, LLVMRealOGT, x, h), h, x);
}

/* expf of x in [-120, 120] or NaN: x = n ln2 + r (two-part ln2), e^r - 1 = r + r^2 P(r)
 * (degree 5, |r| <= ln2/2, about 1 ulp), e^x = (e^r - 1) 2^n + 2^n (an FMA: one rounding
 * fewer than adding 1 first). n is rounded by adding
 * 1.5 * 2^23 + bias, after which t's low mantissa bits are n + bias: with `wide`, bias
 * 254 and 2^n = 2^floor(n/2) 2^ceil(n/2) (the halves of n + 254 are the two factors'
 * biased exponents), so that results may be subnormal and overflow to inf or underflow
 * to 0 by themselves; without, for x in [-87, 88] only, bias 127 and one factor. No
 * float-to-int conversion; a NaN flows through the float operations whatever its bits
 * give the factors. */
static LLVMValueRef f32_exp_core(lw *L, LLVMValueRef x, int wide) {
    static const double p[6] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                                4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1};
    const double magic = 12582912.0 + (wide ? 254 : 127);
    LLVMBuilderRef B = L->b;
    LLVMValueRef t = fma3(L, x, F(L, 1.44269504088896341), F(L, magic));
    LLVMValueRef n = fsub(L, t, F(L, magic));
    LLVMValueRef r = fma3(L, n, F(L, -0.693359375), x);
    r = fma3(L, n, F(L, 2.12194440e-4), r);
    LLVMValueRef y = fma3(L, poly(L, r, p, 6), fmul(L, r, r), r); /* e^r - 1 */
    LLVMValueRef m = LLVMBuildBitCast(B, t, L->i32, "");
    if (!wide) {
        LLVMValueRef s = LLVMBuildBitCast(B, LLVMBuildShl(B, m, I32(L, 23), ""), L->f32, "");
        return fma3(L, y, s, s); /* (y + 1) 2^n */
    }
    LLVMValueRef k1 = LLVMBuildLShr(B, m, I32(L, 1), ""), k2 = LLVMBuildSub(B, m, k1, "");
    LLVMValueRef s1 = LLVMBuildBitCast(B, LLVMBuildShl(B, k1, I32(L, 23), ""), L->f32, "");
    LLVMValueRef s2 = LLVMBuildBitCast(B, LLVMBuildShl(B, k2, I32(L, 23), ""), L->f32, "");
    return fmul(L, fma3(L, y, s1, s1), s2);
}

/* 1 if x is -|y| as the lowering emits it (fneg of llvm.fabs): never above 0. */
static int nonpositive(LLVMValueRef x) {
    if (!LLVMIsAInstruction(x) || LLVMGetInstructionOpcode(x) != LLVMFNeg) return 0;
    LLVMValueRef a = LLVMGetOperand(x, 0);
    if (!LLVMIsACallInst(a)) return 0;
    size_t len;
    const char *name = LLVMGetValueName2(LLVMGetCalledValue(a), &len);
    return len >= 9 && !strncmp(name, "llvm.fabs", 9);
}

/* expf: e^x of x clamped to [-120, 120] (e^x is inf or 0 there already; -|y| needs no
 * upper bound, as in exp(-|x|)). */
static LLVMValueRef f32_exp(lw *L, LLVMValueRef x) {
    if (!nonpositive(x)) return f32_exp_core(L, clampf(L, x, -120, 120), 1);
    return f32_exp_core(L, sel(L, fcmp(L, LLVMRealOLT, x, F(L, -120)), F(L, -120), x), 1);
}

/* logf: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = f - f^2/2 + f^3 P(f) with f = m - 1
 * (degree 8, about 1 ulp), plus e ln2 in two parts; subnormals are scaled first. */
static LLVMValueRef f32_log(lw *L, LLVMValueRef x) {
    static const double p[9] = {7.0376836292E-2,  -1.1514610310E-1, 1.1676998740E-1,
                                -1.2420140846E-1, 1.4249322787E-1,  -1.6668057665E-1,
                                2.0000714765E-1,  -2.4999993993E-1, 3.3333331174E-1};
    LLVMBuilderRef B = L->b;
    LLVMValueRef small = fcmp(L, LLVMRealOLT, x, F(L, 1.17549435e-38));
    LLVMValueRef xs = sel(L, small, fmul(L, x, F(L, 8388608.0 /* 2^23 */)), x);
    LLVMValueRef bits = LLVMBuildBitCast(B, xs, L->i32, "");
    LLVMValueRef e = LLVMBuildSub(
        B, LLVMBuildAnd(B, LLVMBuildLShr(B, bits, I32(L, 23), ""), I32(L, 0xff), ""), I32(L, 127), "");
    e = LLVMBuildSub(B, e, sel(L, small, I32(L, 23), I32(L, 0)), "");
    LLVMValueRef mb = LLVMBuildOr(B, LLVMBuildAnd(B, bits, I32(L, 0x007fffff), ""), I32(L, 0x3f800000), "");
    LLVMValueRef m = LLVMBuildBitCast(B, mb, L->f32, ""); /* [1, 2) */
    LLVMValueRef big = fcmp(L, LLVMRealOGT, m, F(L, 1.41421356237309505));
    m = sel(L, big, fmul(L, m, F(L, 0.5)), m);
    e = sel(L, big, LLVMBuildAdd(B, e, I32(L, 1), ""), e);
    LLVMValueRef f = fsub(L, m, F(L, 1)), z = fmul(L, f, f);
    LLVMValueRef ef = LLVMBuildSIToFP(B, e, L->f32, "");
    LLVMValueRef y = fmul(L, fmul(L, poly(L, f, p, 9), f), z);
    y = fadd(L, y, fmul(L, ef, F(L, -2.12194440e-4)));
    y = fsub(L, y, fmul(L, z, F(L, 0.5)));
    LLVMValueRef res = fadd(L, fadd(L, f, y), fmul(L, ef, F(L, 0.693359375)));
    res = sel(L, fcmp(L, LLVMRealOEQ, x, F(L, INFINITY)), F(L, INFINITY), res);
    res = sel(L, fcmp(L, LLVMRealOEQ, x, F(L, 0)), F(L, -INFINITY), res);
    return sel(L, fcmp(L, LLVMRealULT, x, F(L, 0)), F(L, NAN), res); /* x < 0 or NaN */
}

/* log1pf and expm1f: the same tricks as in double, on the f32 exp and log. */
static LLVMValueRef f32_log1p(lw *L, LLVMValueRef x) {
    LLVMValueRef u = fadd(L, F(L, 1), x), d = fsub(L, u, F(L, 1));
    LLVMValueRef r = fmul(L, f32_log(L, u), fdiv(L, x, d));
    r = sel(L, fcmp(L, LLVMRealOEQ, d, F(L, 0)), x, r);
    return sel(L, fcmp(L, LLVMRealOEQ, x, F(L, INFINITY)), x, r);
}
static LLVMValueRef f32_expm1(lw *L, LLVMValueRef x) {
    LLVMValueRef u = f32_exp(L, x), d = fsub(L, u, F(L, 1));
    LLVMValueRef r = fmul(L, d, fdiv(L, x, f32_log(L, u)));
    r = sel(L, fcmp(L, LLVMRealOEQ, d, F(L, -1)), F(L, -1), r);
    r = sel(L, fcmp(L, LLVMRealOEQ, u, F(L, 1)), x, r);
    return sel(L, fcmp(L, LLVMRealOEQ, u, F(L, INFINITY)), u, r);
}

/* tanhf: odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) with x's sign above
 * (|x| clamped to 10, where tanh is 1 in f32: e^2|x| needs one scale factor). */
static LLVMValueRef f32_tanh(lw *L, LLVMValueRef x) {
    static const double p[5] = {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2,
                                1.33314422036E-1, -3.33332819422E-1};
    LLVMValueRef a = lw_intrin(L, "llvm.fabs", L->f32, 1, &x);
    LLVMValueRef z = fmul(L, x, x);
    LLVMValueRef small = fma3(L, fmul(L, poly(L, z, p, 5), z), x, x);
    LLVMValueRef ac = sel(L, fcmp(L, LLVMRealOGT, a, F(L, 10)), F(L, 10), a);
    LLVMValueRef e = f32_exp_core(L, fadd(L, ac, ac), 0);
    LLVMValueRef t = fsub(L, F(L, 1), fdiv(L, F(L, 2), fadd(L, e, F(L, 1))));
    LLVMValueRef args[2] = {t, x};
    LLVMValueRef big = lw_intrin(L, "llvm.copysign", L->f32, 2, args);
    return sel(L, fcmp(L, LLVMRealOGT, a, F(L, 0.625)), big, small);
}

/* logistic in f32: the interpreter's two-sided formula, 1/(1+e^-x) for x >= 0 and
 * e^x/(1+e^x) otherwise, as one division (numerator 1 or e^-|x|; the same bits as
 * dividing twice and selecting). */
static LLVMValueRef f32_logistic(lw *L, LLVMValueRef x) {
    LLVMValueRef e = f32_exp(L, LLVMBuildFNeg(L->b, lw_intrin(L, "llvm.fabs", L->f32, 1, &x), ""));
    LLVMValueRef num = sel(L, fcmp(L, LLVMRealOGE, x, F(L, 0)), F(L, 1), e);
    return fdiv(L, num, fadd(L, F(L, 1), e));
}

/* A double-precision function f of a float value x of dtype dt: f64 at full accuracy;
 * f32 widened, computed with the shorter polynomials, and rounded back. */
typedef LLVMValueRef (*lw_f64_fn)(lw *L, LLVMValueRef x, int full);
static LLVMValueRef lw_in_double(lw *L, jx_dtype dt, lw_f64_fn f, LLVMValueRef x) {
    int full = dt == JX_F64;
    LLVMValueRef d = full ? x : LLVMBuildFPExt(L->b, x, L->f64, "");
    LLVMValueRef r = f(L, d, full);
    return full ? r : LLVMBuildFPTrunc(L->b, r, L->f32, "");
}

/* sin and cos of a double (the polynomials have one accuracy for f32 and f64). */
static LLVMValueRef f64_sin(lw *L, LLVMValueRef x, int full) {
    (void)full;
    return f64_sincos(L, x, 0);
}
static LLVMValueRef f64_cos(lw *L, LLVMValueRef x, int full) {
    (void)full;
    return f64_sincos(L, x, 1);
}

/* See lower.h: native f32 code for exp, log, log1p, expm1, tanh and logistic, double
 * precision rounded to f32 for sin and cos. */
LLVMValueRef lw_exp(lw *L, jx_dtype dt, LLVMValueRef x) {
    return dt == JX_F64 ? f64_exp(L, x, 1) : f32_exp(L, x);
}
LLVMValueRef lw_log(lw *L, jx_dtype dt, LLVMValueRef x) {
    return dt == JX_F64 ? f64_log(L, x, 1) : f32_log(L, x);
}
LLVMValueRef lw_log1p(lw *L, jx_dtype dt, LLVMValueRef x) {
    return dt == JX_F64 ? f64_log1p(L, x, 1) : f32_log1p(L, x);
}
LLVMValueRef lw_expm1(lw *L, jx_dtype dt, LLVMValueRef x) {
    return dt == JX_F64 ? f64_expm1(L, x, 1) : f32_expm1(L, x);
}
LLVMValueRef lw_tanh(lw *L, jx_dtype dt, LLVMValueRef x) {
    return dt == JX_F64 ? f64_tanh(L, x, 1) : f32_tanh(L, x);
}
LLVMValueRef lw_logistic(lw *L, jx_dtype dt, LLVMValueRef x) {
    return dt == JX_F64 ? f64_logistic(L, x, 1) : f32_logistic(L, x);
}
LLVMValueRef lw_sin(lw *L, jx_dtype dt, LLVMValueRef x) { return lw_in_double(L, dt, f64_sin, x); }
LLVMValueRef lw_cos(lw *L, jx_dtype dt, LLVMValueRef x) { return lw_in_double(L, dt, f64_cos, x); }

/* See lower.h. */
LLVMValueRef lw_pow(lw *L, jx_dtype dt, LLVMValueRef a, LLVMValueRef b) {
    int full = dt == JX_F64;
    if (!full) {
        a = LLVMBuildFPExt(L->b, a, L->f64, "");
        b = LLVMBuildFPExt(L->b, b, L->f64, "");
    }
    LLVMValueRef r = f64_pow(L, a, b, full);
    return full ? r : LLVMBuildFPTrunc(L->b, r, L->f32, "");
}
