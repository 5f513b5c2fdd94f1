/* LLVM 19 ORC through the C API.
 *
 * One LLJIT per process (created once with pthread_once): building an LLJIT costs
 * milliseconds and each executable only needs its own resource tracker, which removes
 * its code on jx_exe_free. Modules are added and looked up under a mutex (ORC is
 * thread-safe, but serializing compiles keeps materialization simple); running compiled
 * code needs no lock. Each compile uses its own thread-safe context and its own target
 * machine for the optimization pipeline (a NULL target machine would silently disable
 * vectorization) and for code generation (PIC, small code model: position-independent
 * objects that JITLink can place anywhere). Runtime functions are defined as absolute
 * symbols (they may live in a static libjx inside an executable that exports nothing);
 * libc/libm symbols come from a process search generator. Environment: JX_CPU and
 * JX_CPU_FEATURES override the host CPU name and feature string; JX_PASSES replaces the
 * optimization pipeline; JX_JIT_TIMING=1 (or =cpu) prints each phase's time. */
#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jit/jit.h"
#include "jx_rt.h"
#include "core/util.h"

static pthread_once_t orc_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t orc_mu = PTHREAD_MUTEX_INITIALIZER;
static LLVMOrcLLJITRef orc_jit;
static char *orc_triple, *orc_cpu_name, *orc_feat;
static char orc_init_err[512];
static unsigned long long orc_counter;

/* Copies an LLVM error's message into buf and consumes the error. */
static void orc_errmsg(LLVMErrorRef e, char *buf, size_t len) {
    char *m = LLVMGetErrorMessage(e);
    snprintf(buf, len, "%s", m ? m : "unknown LLVM error");
    LLVMDisposeErrorMessage(m);
}

/* A target machine for the host (or the JX_CPU / JX_CPU_FEATURES override); NULL on
 * failure with a message in err. */
static LLVMTargetMachineRef orc_make_tm(char *err, size_t errlen) {
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(orc_triple, &target, &msg)) {
        snprintf(err, errlen, "no LLVM target for %s: %s", orc_triple, msg ? msg : "");
        LLVMDisposeMessage(msg);
        return NULL;
    }
    return LLVMCreateTargetMachine(target, orc_triple, orc_cpu_name, orc_feat,
                                   LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelSmall);
}

/* One-time process setup: targets, host description, the LLJIT, symbol resolution. */
static void orc_init(void) {
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    char *t = LLVMGetDefaultTargetTriple();
    orc_triple = strdup(t);
    LLVMDisposeMessage(t);
    const char *cpu = getenv("JX_CPU"), *feat = getenv("JX_CPU_FEATURES");
    char *hc = LLVMGetHostCPUName(), *hf = LLVMGetHostCPUFeatures();
    orc_cpu_name = strdup(cpu && *cpu ? cpu : hc);
    orc_feat = strdup(feat ? feat : hf);
    LLVMDisposeMessage(hc);
    LLVMDisposeMessage(hf);
    if (!orc_triple || !orc_cpu_name || !orc_feat) {
        snprintf(orc_init_err, sizeof orc_init_err, "out of memory");
        return;
    }
    LLVMTargetMachineRef tm = orc_make_tm(orc_init_err, sizeof orc_init_err);
    if (!tm) return;
    LLVMOrcJITTargetMachineBuilderRef jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm);
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&orc_jit, builder);
    if (e) {
        orc_errmsg(e, orc_init_err, sizeof orc_init_err);
        orc_jit = NULL;
        return;
    }
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(orc_jit);
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(orc_jit), NULL, NULL);
    if (e) {
        orc_errmsg(e, orc_init_err, sizeof orc_init_err);
        return;
    }
    LLVMOrcJITDylibAddGenerator(jd, gen);
    const jx_rt_sym *syms = jx_rt_symbols();
    size_t n = 0;
    while (syms[n].name) n++;
    LLVMOrcCSymbolMapPair *pairs = calloc(n + 1, sizeof *pairs);
    if (!pairs) {
        snprintf(orc_init_err, sizeof orc_init_err, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(orc_jit, syms[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)syms[i].fn;
        pairs[i].Sym.Flags.GenericFlags =
            LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, n);
    free(pairs);
    e = LLVMOrcJITDylibDefine(jd, mu);
    if (e) orc_errmsg(e, orc_init_err, sizeof orc_init_err);
}

/* Runs the one-time setup; 0 or -1 with jx_error(). */
static int orc_ready(void) {
    pthread_once(&orc_once, orc_init);
    if (!orc_jit || orc_init_err[0])
        return util_err("jit: LLVM initialization failed: %s",
                        orc_init_err[0] ? orc_init_err : "unknown error");
    return 0;
}

/* See jit.h (both accessors). */
const char *orc_cpu(void) {
    return orc_ready() == 0 ? orc_cpu_name : "";
}

const char *orc_features(void) {
    return orc_ready() == 0 ? orc_feat : "";
}

/* 1 if the comma-separated feature string f lists the feature `name` with sign `sign`
 * ('+' or '-'). */
static int orc_has_feature(const char *f, char sign, const char *name) {
    size_t n = strlen(name);
    for (const char *s = f; s && *s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
        if (s[0] == sign && !strncmp(s + 1, name, n) && (s[1 + n] == ',' || s[1 + n] == 0))
            return 1;
    return 0;
}

/* See jit.h. */
int orc_vector_bits(void) {
    const char *f = orc_features();
    if (orc_has_feature(f, '+', "avx512f") && !orc_has_feature(f, '-', "evex512")) return 512;
    return orc_has_feature(f, '+', "avx") ? 256 : 128;
}

/* The optimization pipeline. The kernels are plain counted loops over buffers, so a
 * short function pipeline does what default<O3> did for them at a quarter of its cost:
 * promote accumulators (sroa), clean up index arithmetic (early-cse, instcombine),
 * rotate loops and hoist invariants (licm), canonicalize induction variables, then
 * vectorize and interleave with the target machine's cost model. Kernels stay separate
 * functions (no inliner: nothing to gain from inlining a loop nest into a call
 * sequence). JX_PASSES overrides it (e.g. "default<O3>"). */
static const char orc_passes[] =
    "function(sroa,early-cse,simplifycfg,instcombine<no-verify-fixpoint>,"
    "loop-mssa(loop-rotate,licm),indvars,loop-vectorize,instcombine<no-verify-fixpoint>,"
    "simplifycfg)";

/* strdup of an LLVM message (disposing it). */
static char *orc_take(char *m) {
    char *r = m ? strdup(m) : NULL;
    LLVMDisposeMessage(m);
    return r;
}

/* Milliseconds on the monotonic clock (the thread's CPU clock with JX_JIT_TIMING=cpu). */
static double orc_ms(void) {
    struct timespec ts;
    const char *how = getenv("JX_JIT_TIMING");
    clock_gettime(how && !strcmp(how, "cpu") ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Links obj (consumed) under a fresh resource tracker and looks up the entry `name`.
 * Returns 0 or -1 with jx_error(). */
static int orc_link(LLVMMemoryBufferRef obj, const char *name, jit_entry_fn *entry,
                    void **tracker) {
    char err[512];
    pthread_mutex_lock(&orc_mu);
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(orc_jit);
    LLVMOrcResourceTrackerRef rt = LLVMOrcJITDylibCreateResourceTracker(jd);
    LLVMErrorRef e = LLVMOrcLLJITAddObjectFileWithRT(orc_jit, rt, obj);
    LLVMOrcExecutorAddress addr = 0;
    if (!e) e = LLVMOrcLLJITLookup(orc_jit, &addr, name);
    if (e) {
        orc_errmsg(e, err, sizeof err);
        LLVMErrorRef e2 = LLVMOrcResourceTrackerRemove(rt);
        if (e2) LLVMConsumeError(e2);
        LLVMOrcReleaseResourceTracker(rt);
        pthread_mutex_unlock(&orc_mu);
        return util_err("jit: code generation failed: %s", err);
    }
    pthread_mutex_unlock(&orc_mu);
    *entry = (jit_entry_fn)(uintptr_t)addr;
    *tracker = rt;
    return 0;
}

/* See jit.h. */
int orc_load(const void *data, size_t len, const char *name, jit_entry_fn *entry,
             void **tracker) {
    if (orc_ready() < 0) return -1;
    LLVMMemoryBufferRef obj = LLVMCreateMemoryBufferWithMemoryRangeCopy(data, len, name);
    if (!obj) return util_err("jit: out of memory copying a %zu-byte object file", len);
    return orc_link(obj, name, entry, tracker);
}

/* Verifies m; 0, or -1 with jx_error() (printing the module to stderr with JX_DEBUG_IR). */
static int orc_verify(LLVMModuleRef m) {
    char *vmsg = NULL;
    int rc = 0;
    if (LLVMVerifyModule(m, LLVMReturnStatusAction, &vmsg)) {
        if (getenv("JX_DEBUG_IR")) {
            char *s = LLVMPrintModuleToString(m);
            fprintf(stderr, "%s\n", s);
            LLVMDisposeMessage(s);
        }
        rc = util_err("jit: internal error: invalid LLVM IR: %.400s", vmsg ? vmsg : "");
    }
    LLVMDisposeMessage(vmsg);
    return rc;
}

/* Runs the optimization pipeline (orc_passes, or JX_PASSES) on m for tm, recording the
 * start and end times in t[0], t[1]. 0, or -1 with jx_error(). */
static int orc_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, double t[2]) {
    char err[512];
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
    const char *passes = getenv("JX_PASSES");
    t[0] = orc_ms();
    LLVMErrorRef e = LLVMRunPasses(m, passes && *passes ? passes : orc_passes, tm, po);
    t[1] = orc_ms();
    LLVMDisposePassBuilderOptions(po);
    if (!e) return 0;
    orc_errmsg(e, err, sizeof err);
    return util_err("jit: optimization failed: %s", err);
}

/* Fills texts->llvm_after and texts->asm_text from the optimized m (a clone is emitted
 * as assembly; m is untouched). A text that cannot be made stays NULL. */
static void orc_texts_after(LLVMModuleRef m, LLVMTargetMachineRef tm, jit_texts *texts) {
    texts->llvm_after = orc_take(LLVMPrintModuleToString(m));
    LLVMModuleRef clone = LLVMCloneModule(m);
    LLVMMemoryBufferRef mb = NULL;
    char *emsg = NULL;
    if (!LLVMTargetMachineEmitToMemoryBuffer(tm, clone, LLVMAssemblyFile, &emsg, &mb)) {
        size_t len = LLVMGetBufferSize(mb);
        texts->asm_text = malloc(len + 1);
        if (texts->asm_text) {
            memcpy(texts->asm_text, LLVMGetBufferStart(mb), len);
            texts->asm_text[len] = 0;
        }
        LLVMDisposeMemoryBuffer(mb);
    }
    LLVMDisposeMessage(emsg);
    LLVMDisposeModule(clone);
}

/* Lowers p into a module whose entry is `name`, verifies and optimizes it, fills texts
 * (when non-NULL) and emits the object file into *obj (the caller's). t[0..2] get the
 * times at which optimization started, ended, and code generation ended. 0, or -1 with
 * jx_error(); every LLVM object made here except *obj is disposed of on either path. */
static int orc_emit(const jit_plan *p, const char *name, jit_texts *texts,
                    LLVMMemoryBufferRef *obj, double t[3]) {
    char err[512] = "", *emsg = NULL;
    int rc = -1;
    LLVMTargetMachineRef tm = NULL;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef m = jit_lower(p, LLVMOrcThreadSafeContextGetContext(tsc), name);
    if (!m) goto done;
    LLVMSetTarget(m, LLVMOrcLLJITGetTripleString(orc_jit));
    LLVMSetDataLayout(m, LLVMOrcLLJITGetDataLayoutStr(orc_jit));
    if (orc_verify(m) < 0) goto done;
    if (texts) texts->llvm_before = orc_take(LLVMPrintModuleToString(m));
    if (!(tm = orc_make_tm(err, sizeof err))) {
        util_err("jit: %s", err);
        goto done;
    }
    if (orc_optimize(m, tm, t) < 0) goto done;
    if (texts) orc_texts_after(m, tm, texts);
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMObjectFile, &emsg, obj)) {
        snprintf(err, sizeof err, "%s", emsg ? emsg : "unknown error");
        LLVMDisposeMessage(emsg);
        util_err("jit: code generation failed: %s", err);
        goto done;
    }
    rc = 0;
done:
    t[2] = orc_ms();
    if (tm) LLVMDisposeTargetMachine(tm);
    if (m) LLVMDisposeModule(m);
    LLVMOrcDisposeThreadSafeContext(tsc);
    return rc;
}

/* See jit.h. */
int orc_compile(const jit_plan *p, const char *entry_name, jit_entry_fn *entry, void **tracker,
                jit_texts *texts, jit_obj *obj_copy) {
    double t0 = orc_ms();
    if (orc_ready() < 0) return -1;
    double t1 = orc_ms(), t[3];
    char name[64];
    pthread_mutex_lock(&orc_mu);
    if (entry_name) snprintf(name, sizeof name, "%s", entry_name);
    else snprintf(name, sizeof name, "jx_entry_%llu", ++orc_counter);
    pthread_mutex_unlock(&orc_mu);
    LLVMMemoryBufferRef obj = NULL;
    if (orc_emit(p, name, texts, &obj, t) < 0) return -1;
    if (obj_copy) {
        obj_copy->len = LLVMGetBufferSize(obj);
        obj_copy->data = malloc(obj_copy->len ? obj_copy->len : 1);
        if (!obj_copy->data) {
            LLVMDisposeMemoryBuffer(obj);
            return util_err("jit: out of memory copying the %zu-byte object file for the disk "
                            "cache", obj_copy->len);
        }
        memcpy(obj_copy->data, LLVMGetBufferStart(obj), obj_copy->len);
    }
    if (orc_link(obj, name, entry, tracker) < 0) {
        if (obj_copy) {
            free(obj_copy->data);
            obj_copy->data = NULL;
        }
        return -1;
    }
    if (getenv("JX_JIT_TIMING"))
        fprintf(stderr, "jx jit: init %.1f ms, lower+verify %.1f ms, opt %.1f ms, codegen %.1f ms, "
                "link %.1f ms\n", t1 - t0, t[0] - t1, t[1] - t[0], t[2] - t[1], orc_ms() - t[2]);
    return 0;
}

/* See jit.h. */
void orc_release(void *tracker) {
    if (!tracker) return;
    pthread_mutex_lock(&orc_mu);
    LLVMErrorRef e = LLVMOrcResourceTrackerRemove((LLVMOrcResourceTrackerRef)tracker);
    if (e) LLVMConsumeError(e);
    LLVMOrcReleaseResourceTracker((LLVMOrcResourceTrackerRef)tracker);
    pthread_mutex_unlock(&orc_mu);
}
