#include "core/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WARNINGS 100

const char *sft_prog = "sftkit";

void sft_init(char **argv)
{
    if (argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        sft_prog = slash ? slash + 1 : argv[0];
        argv[0] = (char *)(uintptr_t)sft_prog;
    }
    signal(SIGPIPE, SIG_IGN);
    sft_out_cleanup_on_signals();
}

static void verror(const char *fmt, va_list ap)
{
    /* One fprintf per message keeps lines whole when tools share stderr. */
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%s: %s\n", sft_prog, msg);
}

void sft_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
}

void sft_error_at(const char *file, uint64_t line, uint64_t col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line == 0) /* about the whole file */
        fprintf(stderr, "%s: %s: %s\n", sft_prog, file, msg);
    else if (col)
        fprintf(stderr, "%s: %s:%" PRIu64 ":%" PRIu64 ": %s\n", sft_prog, file, line, col, msg);
    else
        fprintf(stderr, "%s: %s:%" PRIu64 ": %s\n", sft_prog, file, line, msg);
}

int sft_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') {
        errno = EINVAL;
        return -1;
    }
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            errno = EINVAL;
            return -1;
        }
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) {
            errno = ERANGE;
            return -1;
        }
        v = v * 10 + d;
    }
    if (v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int sft_parse_double(const char *s, double *out)
{
    /* strtod alone would take " 1", "0x10", "inf" and "nan". */
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9'))) {
        errno = EINVAL;
        return -1;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        errno = EINVAL;
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || !isfinite(v)) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int sft_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        }
    }
    char digits[32];
    size_t dn = shift ? n - 1 : n;
    if (dn == 0 || dn >= sizeof digits) {
        errno = dn ? ERANGE : EINVAL;
        return -1;
    }
    memcpy(digits, s, dn);
    digits[dn] = '\0';
    uint64_t v;
    if (sft_parse_u64(digits, 0, UINT64_MAX >> shift, &v) != 0) return -1;
    v <<= shift;
    if (v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int sft_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", sft_prog);
    return SFT_EX_USAGE;
}

int sft_bad_option_value(const char *opt, const char *arg)
{
    return sft_usage_error("invalid value '%s' for --%s: %s", arg, opt,
                           errno == ERANGE ? "out of range" : "not a valid number");
}

void sft_run_init(sft_run *run)
{
    memset(run, 0, sizeof *run);
    run->on_error = SFT_ON_ERROR_FAIL;
    run->progress = -1;
}

int sft_standard_option(int opt, void (*usage)(FILE *))
{
    switch (opt) {
    case 'h':
        usage(stdout);
        return fclose(stdout) == 0 ? SFT_EX_OK : SFT_EX_IOERR;
    case 'V':
        printf("%s (sftkit) %s\n", sft_prog, SFT_VERSION);
        return fclose(stdout) == 0 ? SFT_EX_OK : SFT_EX_IOERR;
    case '?':
        fprintf(stderr, "Try '%s --help' for more information.\n", sft_prog);
        return SFT_EX_USAGE;
    }
    return -1;
}

int sft_run_option(sft_run *run, int opt, const char *arg)
{
    uint64_t v;
    switch (opt) {
    case SFT_OPT_ON_ERROR:
        if (strcmp(arg, "fail") == 0) run->on_error = SFT_ON_ERROR_FAIL;
        else if (strcmp(arg, "skip") == 0) run->on_error = SFT_ON_ERROR_SKIP;
        else {
            return sft_usage_error("invalid value '%s' for --on-error: expected fail or skip", arg);
        }
        return 0;
    case SFT_OPT_REJECTS:
        run->rejects_path = arg;
        return 0;
    case SFT_OPT_MAX_LINE:
        /* Up to 1 GiB: the reader holds a whole line in memory. */
        if (sft_parse_size(arg, 1, (uint64_t)1 << 30, &v) != 0)
            return sft_bad_option_value("max-line", arg);
        run->max_line = (size_t)v;
        return 0;
    case SFT_OPT_PROGRESS:
        run->progress = 1;
        return 0;
    case SFT_OPT_NO_PROGRESS:
        run->progress = 0;
        return 0;
    case 'v':
        run->verbose++; /* -vv: more detail where a tool has it */
        return 0;
    default:
        return -1;
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sft_run_start(sft_run *run)
{
    if (run->progress < 0) run->progress = isatty(2);
    run->progress_start = run->progress_last = now();
    if (!run->rejects_path) return 0;
    if (strcmp(run->rejects_path, "-") == 0)
        return sft_usage_error("--rejects needs a file name (it also writes FILE.why)");
    size_t n = strlen(run->rejects_path);
    char *why_path = malloc(n + sizeof ".why");
    if (!why_path) {
        sft_error("out of memory");
        return SFT_EX_SOFTWARE;
    }
    memcpy(why_path, run->rejects_path, n);
    memcpy(why_path + n, ".why", sizeof ".why");
    run->rejects = sft_out_open(run->rejects_path);
    if (!run->rejects) {
        sft_error("%s: cannot create: %s", run->rejects_path, strerror(errno));
        free(why_path);
        return SFT_EX_CANTCREAT;
    }
    run->why = sft_out_open(why_path);
    if (!run->why) {
        sft_error("%s: cannot create: %s", why_path, strerror(errno));
        free(why_path);
        sft_out_close(run->rejects, 0);
        run->rejects = NULL;
        return SFT_EX_CANTCREAT;
    }
    free(why_path);
    return 0;
}

static void clear_progress(sft_run *run)
{
    if (run->progress_shown) {
        fputs("\r\033[K", stderr);
        run->progress_shown = 0;
    }
}

int sft_run_reject(sft_run *run, const char *src, uint64_t line, uint64_t col,
                   const char *text, size_t len, const char *reason)
{
    run->rejected++;
    clear_progress(run);
    int skip = run->on_error == SFT_ON_ERROR_SKIP;
    if (!skip) {
        sft_error_at(src, line, col, "%s", reason);
    } else if (run->warned < MAX_WARNINGS) {
        sft_error_at(src, line, col, "%s (skipped)", reason);
        if (++run->warned == MAX_WARNINGS)
            sft_error("further rejected records are not shown%s",
                      run->rejects ? "; see the rejects file" : "");
    }
    if (run->rejects) {
        if (text) {
            sft_out_write(run->rejects, text, len);
            sft_out_putc(run->rejects, '\n');
        }
        jw w;
        jw_init(&w, run->why);
        jw_object(&w);
        jw_key(&w, "src");
        jw_cstr(&w, src);
        jw_key(&w, "line");
        jw_int(&w, (int64_t)line);
        if (col) {
            jw_key(&w, "col");
            jw_int(&w, (int64_t)col);
        }
        jw_key(&w, "reason");
        jw_cstr(&w, reason);
        if (!text) {
            jw_key(&w, "copied");
            jw_bool(&w, 0);
        }
        jw_end(&w);
        jw_newline(&w);
        sft_out *bad = sft_out_error(run->rejects) ? run->rejects
                     : sft_out_error(run->why)     ? run->why
                                                   : NULL;
        if (bad) return sft_write_error(sft_out_name(bad), sft_out_error(bad));
    }
    return skip ? 0 : SFT_EX_DATAERR;
}

static void human_bytes(char *out, size_t n, double bytes)
{
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

void sft_run_progress(sft_run *run, uint64_t bytes, uint64_t records)
{
    if (!run->progress) return;
    double t = now();
    if (t - run->progress_last < 0.25) return;
    run->progress_last = t;
    char done[32], rate[32];
    human_bytes(done, sizeof done, (double)bytes);
    human_bytes(rate, sizeof rate, (double)bytes / (t - run->progress_start));
    fprintf(stderr, "\r\033[K%s: %s, %" PRIu64 " records, %s/s", sft_prog, done, records, rate);
    run->progress_shown = 1;
}

void sft_run_progress_text(sft_run *run, const char *fmt, ...)
{
    if (!run->progress) return;
    double t = now();
    if (t - run->progress_last < 0.25) return;
    run->progress_last = t;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\r\033[K%s: ", sft_prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    run->progress_shown = 1;
}

int sft_run_finish(sft_run *run, int status)
{
    clear_progress(run);
    if (run->rejects) {
        /* A run that stopped before reading (no input, no output) leaves
         * an earlier rejects file as it was. */
        int keep = status == 0 || status == SFT_EX_DATAERR || status == SFT_EX_IOERR;
        int e1 = sft_out_close(run->rejects, keep);
        int e2 = sft_out_close(run->why, keep);
        run->rejects = run->why = NULL;
        if (e1 || e2) {
            int s = sft_write_error(e1 ? run->rejects_path : "rejects .why file", e1 ? e1 : e2);
            if (!status) status = s;
        }
    }
    if (run->rejected && run->on_error == SFT_ON_ERROR_SKIP)
        sft_error("%" PRIu64 " record%s rejected", run->rejected, run->rejected == 1 ? "" : "s");
    if (run->verbose)
        sft_error("%" PRIu64 " in, %" PRIu64 " out, %" PRIu64 " rejected, %" PRIu64 " filtered",
                  run->in, run->out, run->rejected, run->filtered);
    if (status) return status;
    return run->rejected ? SFT_EX_REJECTED : SFT_EX_OK;
}

int sft_write_error(const char *name, int err)
{
    sft_error("%s: write error: %s", name, strerror(err));
    return SFT_EX_IOERR;
}

/* Identity of path's directory and its last name, for paths not yet
 * created. Returns 0, or -1 when the directory does not exist. */
static int dir_identity(const char *path, struct stat *dir, char *name, size_t n)
{
    char *d = strdup(path), *b = strdup(path);
    int rc = -1;
    if (d && b) {
        snprintf(name, n, "%s", basename(b));
        rc = stat(dirname(d), dir);
    }
    free(d);
    free(b);
    return rc;
}

int sft_same_file(const char *a, const char *b)
{
    if (strcmp(a, "-") == 0 || strcmp(b, "-") == 0) return strcmp(a, b) == 0;
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb) return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb) return 0;
    char na[256], nb[256];
    if (dir_identity(a, &sa, na, sizeof na) != 0 || dir_identity(b, &sb, nb, sizeof nb) != 0)
        return strcmp(a, b) == 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && strcmp(na, nb) == 0;
}

int sft_dir_lacks(const char *dir, const char *name)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return 1;
    return access(path, R_OK) != 0;
}
