/* See bench_util.h. */
#include "bench_util.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* See bench_util.h. */
int bu_selected(const bu_opts *o, const char *g) {
    if (!o->only) return 1;
    size_t n = strlen(g);
    for (const char *s = o->only; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && !strncmp(s, g, n)) return 1;
        s += len + (e != NULL);
    }
    return 0;
}

/* See bench_util.h. */
double bu_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* qsort order of doubles. */
static int bu_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* See bench_util.h. */
double bu_median(double *v, int n) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, bu_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* See bench_util.h. */
void bu_blas_threads(int n) {
    openblas_set_num_threads(n);
}

/* ---- rows ------------------------------------------------------------------------------ */

/* A duration for the table: "812 us", "4.52 ms", "1.23 s". */
static void bu_fmt_time(char *buf, size_t len, double us) {
    if (us < 0 || us != us) snprintf(buf, len, "-");
    else if (us < 1e3) snprintf(buf, len, "%.3g us", us);
    else if (us < 1e6) snprintf(buf, len, "%.3g ms", us * 1e-3);
    else snprintf(buf, len, "%.3g s", us * 1e-6);
}

/* See bench_util.h. */
void bu_header(void) {
    printf("%-16s %-34s %9s  %-12s %9s  %s\n", "name", "config", "jx", "peer", "peer time",
           "ratio (jx / peer)");
    fflush(stdout);
}

/* A number for JSON: %.3f, or null when negative or NaN. */
static void bu_json_val(char *buf, size_t len, double v) {
    if (v < 0 || v != v) snprintf(buf, len, "null");
    else snprintf(buf, len, "%.3f", v);
}

/* Writes s as a JSON string (quotes, backslashes and control characters escaped). */
static void bu_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

/* See bench_util.h. */
void bu_emit(const bu_opts *o, const bu_row *r) {
    char cfg[128] = "", jt[32], pt[32], rt[64];
    size_t at = 0;
    for (int i = 0; i < r->n_cfg && at < sizeof cfg; i++)
        at += (size_t)snprintf(cfg + at, sizeof cfg - at, "%s%s=%lld", i ? " " : "",
                               r->cfg_key[i], r->cfg_val[i]);
    int has_peer = r->peer && !r->skip && r->peer_us > 0;
    double ratio = r->ratio_set ? r->ratio : has_peer ? r->jx_us / r->peer_us : NAN;
    bu_fmt_time(jt, sizeof jt, r->jx_us);
    bu_fmt_time(pt, sizeof pt, has_peer ? r->peer_us : -1);
    if (r->skip) snprintf(rt, sizeof rt, "skipped: ");
    else if (ratio == ratio) snprintf(rt, sizeof rt, "%.3f", ratio);
    else snprintf(rt, sizeof rt, "-");
    printf("%-16s %-34s %9s  %-12s %9s  %s%s\n", r->name, cfg, jt, r->peer ? r->peer : "-", pt,
           rt, r->skip ? r->skip : "");
    fflush(stdout);
    if (!o->json) return;
    char jv[32], pv[32], rv[32];
    bu_json_val(jv, sizeof jv, r->jx_us);
    bu_json_val(pv, sizeof pv, has_peer ? r->peer_us : -1);
    bu_json_val(rv, sizeof rv, ratio);
    fprintf(o->json, "{\"name\":\"%s\"", r->name);
    for (int i = 0; i < r->n_cfg; i++) fprintf(o->json, ",\"%s\":%lld", r->cfg_key[i], r->cfg_val[i]);
    fprintf(o->json, ",\"jx_us\":%s,\"peer\":", jv);
    if (r->peer) bu_json_str(o->json, r->peer);
    else fputs("null", o->json);
    fprintf(o->json, ",\"peer_us\":%s,\"ratio\":%s", pv, rv);
    if (r->skip) {
        fputs(",\"skipped\":", o->json);
        bu_json_str(o->json, r->skip);
    }
    if (r->extra) fprintf(o->json, ",%s", r->extra);
    fputs("}\n", o->json);
    fflush(o->json);
}

/* ---- the Python peer ------------------------------------------------------------------- */

/* Reads one line from the peer into buf (newline stripped). 0, or -1 at its end. */
static int bu_peer_line(bu_peer *p, char *buf, size_t len) {
    if (!p->up || !fgets(buf, (int)len, p->from)) {
        if (p->up) snprintf(p->why, sizeof p->why, "the peer process ended (see its stderr)");
        p->up = 0;
        return -1;
    }
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

/* Runs the peer script in the child: stdin from to[0], stdout to from[1]. */
static void bu_peer_exec(const bu_opts *o, int to[2], int from[2]) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[0]), close(to[1]), close(from[0]), close(from[1]);
    const char *py = getenv("JX_BENCH_PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execl(py, py, "-u", o->peer_script, (char *)NULL);
    fprintf(stderr, "bench: cannot run %s: %s\n", py, strerror(errno));
    _exit(127);
}

/* See bench_util.h. */
void bu_peer_start(bu_peer *p, const bu_opts *o) {
    memset(p, 0, sizeof *p);
    if (!o->peers) {
        snprintf(p->why, sizeof p->why, "--no-peers");
        return;
    }
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0) {
        snprintf(p->why, sizeof p->why, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    p->pid = fork();
    if (p->pid == 0) bu_peer_exec(o, to, from);
    close(to[0]), close(from[1]);
    if (p->pid < 0) {
        snprintf(p->why, sizeof p->why, "fork: %s", strerror(errno));
        close(to[1]), close(from[0]);
        return;
    }
    signal(SIGPIPE, SIG_IGN);
    p->to = fdopen(to[1], "w");
    p->from = fdopen(from[0], "r");
    p->up = p->to && p->from;
    char line[512];
    if (bu_peer_line(p, line, sizeof line) < 0 || strncmp(line, "hello ", 6)) {
        snprintf(p->why, sizeof p->why, "the peer (%s) did not start", o->peer_script);
        bu_peer_stop(p);
        return;
    }
    snprintf(p->hello, sizeof p->hello, "%s", line + 6);
}

/* Sends one command line. 0 or -1. */
static int bu_peer_send(bu_peer *p, const char *cmd, const char *id, const char *arg) {
    if (!p->up) return -1;
    if (fprintf(p->to, "%s %s %s\n", cmd, id, arg) < 0 || fflush(p->to) != 0) {
        snprintf(p->why, sizeof p->why, "cannot write to the peer: %s", strerror(errno));
        p->up = 0;
        return -1;
    }
    return 0;
}

/* See bench_util.h. */
int bu_peer_setup(bu_peer *p, const char *id, const char *json, char *reply, size_t len) {
    char line[1024];
    if (bu_peer_send(p, "setup", id, json) < 0 || bu_peer_line(p, line, sizeof line) < 0) {
        snprintf(reply, len, "%s", p->why);
        return -1;
    }
    const char *sp = strchr(line, ' ');
    snprintf(reply, len, "%s", sp ? sp + 1 : "");
    if (!strncmp(line, "ok", 2)) return 0;
    if (!strncmp(line, "skip", 4)) return 1;
    return -1;
}

/* See bench_util.h. */
int bu_peer_run(bu_peer *p, const char *id, int n, double *us) {
    char arg[32];
    snprintf(arg, sizeof arg, "%d", n);
    size_t cap = 64 + (size_t)n * 24;
    char *line = malloc(cap);
    int rc = -1;
    if (line && bu_peer_send(p, "run", id, arg) == 0 && bu_peer_line(p, line, cap) == 0) {
        if (!strncmp(line, "t ", 2)) {
            char *s = line + 2, *end;
            int k = 0;
            for (; k < n; k++, s = end) {
                us[k] = strtod(s, &end);
                if (end == s) break;
            }
            rc = k == n ? 0 : -1;
            if (rc) snprintf(p->why, sizeof p->why, "the peer sent %d of %d samples", k, n);
        } else {
            snprintf(p->why, sizeof p->why, "%.250s", line);
        }
    }
    free(line);
    return rc;
}

/* See bench_util.h. */
void bu_peer_drop(bu_peer *p, const char *id) {
    char line[256];
    if (bu_peer_send(p, "drop", id, "") == 0) bu_peer_line(p, line, sizeof line);
}

/* See bench_util.h. */
void bu_peer_stop(bu_peer *p) {
    if (p->to) {
        if (p->up) fprintf(p->to, "quit\n");
        fclose(p->to);
    }
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
    p->to = p->from = NULL;
    p->pid = 0;
    p->up = 0;
}

/* See bench_util.h. */
void bu_check_fields(char *buf, size_t len, const char *row, const char *what, double jx,
                     double peer, double tol) {
    double rel = fabs(peer - jx) / (fabs(jx) > 1e-30 ? fabs(jx) : 1.0);
    const char *verdict = peer != peer ? "none" : rel <= tol ? "ok" : "FAILED";
    if (peer != peer) snprintf(buf, len, "\"%s_jx\":%.7g,\"%s_peer\":null,\"check\":\"none\"", what, jx, what);
    else snprintf(buf, len, "\"%s_jx\":%.7g,\"%s_peer\":%.7g,\"check\":\"%s\"", what, jx, what, peer, verdict);
    if (verdict[0] == 'F')
        fprintf(stderr, "bench: %s: CHECK FAILED: %s jx %.7g, peer %.7g (relative %.2e > %.0e)\n",
                row, what, jx, peer, rel, tol);
}

/* See bench_util.h. */
double bu_json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *s = strstr(json, pat);
    if (!s) return NAN;
    char *end;
    double v = strtod(s + strlen(pat), &end);
    return end == s + strlen(pat) ? NAN : v;
}

/* ---- interleaved timing -------------------------------------------------------------- */

/* Runs a block of n iterations of side s; keep: store the samples. 0, or -1 (a local side
 * failed: return; a remote side failed: s is marked skipped). */
static int bu_block(bu_peer *p, bu_side *s, int n, int keep) {
    double buf[BU_MAX_SAMPLES];
    if (n > BU_MAX_SAMPLES) n = BU_MAX_SAMPLES;
    if (s->peer_id) {
        if (bu_peer_run(p, s->peer_id, n, buf) < 0) {
            s->skip = 1;
            snprintf(s->why, sizeof s->why, "peer failed: %.200s", p->why);
            return 0;
        }
    } else {
        for (int i = 0; i < n; i++) {
            double t0 = bu_now_us();
            if (s->fn(s->ctx) < 0) return -1;
            buf[i] = bu_now_us() - t0;
        }
    }
    for (int i = 0; keep && i < n && s->n < BU_MAX_SAMPLES; i++) s->t[s->n++] = buf[i];
    return 0;
}

/* See bench_util.h. */
int bu_interleave(bu_peer *p, bu_side *s, int ns, int rounds, int block) {
    for (int k = 0; k < ns; k++) s[k].n = 0, s[k].med = -1;
    for (int r = -1; r < rounds; r++) {
        for (int j = 0; j < ns; j++) {
            bu_side *x = &s[(j + (r < 0 ? 0 : r)) % ns];
            if (x->skip) continue;
            if (bu_block(p, x, r < 0 ? (block + 1) / 2 : block, r >= 0) < 0) return -1;
        }
    }
    for (int k = 0; k < ns; k++)
        if (!s[k].skip) s[k].med = bu_median(s[k].t, s[k].n);
    return 0;
}
