/* What every sftkit program shares on the command line: exit codes,
 * diagnostics, strict number parsing, the common options (--on-error,
 * --rejects, --max-line, -v, --progress) and the record accounting
 * behind them (in = out + rejected + filtered).
 *
 * Diagnostics go to stderr as "PROG: FILE:LINE:COL: reason". Nothing here
 * writes to stdout or exits: functions return an exit code for main(). */
#ifndef SFT_CLI_H
#define SFT_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "core/out.h"

#ifndef SFT_VERSION
#define SFT_VERSION "0.1.0"
#endif

enum sft_exit {
    SFT_EX_OK = 0,
    SFT_EX_REJECTED = 1,    /* finished, but some records were rejected */
    SFT_EX_USAGE = 2,
    SFT_EX_DATAERR = 65,    /* bad input data, stopped */
    SFT_EX_NOINPUT = 66,    /* an input file cannot be opened */
    SFT_EX_UNAVAILABLE = 69,
    SFT_EX_SOFTWARE = 70,   /* internal error */
    SFT_EX_CANTCREAT = 73,  /* an output file cannot be created */
    SFT_EX_IOERR = 74,      /* read or write failed (full disk, closed pipe) */
    SFT_EX_TEMPFAIL = 75
};

/* Program name used in diagnostics. */
extern const char *sft_prog;

/* Sets sft_prog from argv[0] (and argv[0] to it, so that getopt's own
 * messages name the program as ours do) and ignores SIGPIPE, so that a
 * closed pipe is a write error (EPIPE, exit 74) rather than a silent death. */
void sft_init(char **argv);

/* "PROG: message\n" on stderr. */
void sft_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "PROG: FILE:LINE[:COL]: message\n" on stderr; col 0 leaves the column
 * out, line 0 the line (a message about the whole file). */
void sft_error_at(const char *file, uint64_t line, uint64_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Strict number parsing: the whole string must be the number, no sign for
 * unsigned values, no leading or trailing space, in [min, max]. Return 0,
 * or -1 with errno EINVAL (not a number) or ERANGE (out of range). */
int sft_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A finite decimal number. */
int sft_parse_double(const char *s, double *out);
/* A byte count with an optional K, M or G suffix (powers of 1024). */
int sft_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Prints "PROG: message" and "Try 'PROG --help' for more information."
 * and returns SFT_EX_USAGE. */
int sft_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sft_usage_error() for a number that failed to parse (errno says why):
 * "invalid value 'ARG' for --OPT: ...". */
int sft_bad_option_value(const char *opt, const char *arg);

enum { SFT_ON_ERROR_FAIL, SFT_ON_ERROR_SKIP };

/* Option ids of the common options, above any character. */
enum {
    SFT_OPT_ON_ERROR = 0x1000,
    SFT_OPT_REJECTS,
    SFT_OPT_MAX_LINE,
    SFT_OPT_PROGRESS,
    SFT_OPT_NO_PROGRESS,
    SFT_OPT_FIRST_TOOL /* tools number their own long-only options from here */
};

/* Entries for a tool's getopt_long table; -v, -h and -V are its short
 * options. */
#define SFT_COMMON_LONG_OPTIONS                                   \
    {"on-error", required_argument, NULL, SFT_OPT_ON_ERROR},     \
    {"rejects", required_argument, NULL, SFT_OPT_REJECTS},       \
    {"max-line", required_argument, NULL, SFT_OPT_MAX_LINE},     \
    {"progress", no_argument, NULL, SFT_OPT_PROGRESS},           \
    {"no-progress", no_argument, NULL, SFT_OPT_NO_PROGRESS},     \
    {"verbose", no_argument, NULL, 'v'},                         \
    {"help", no_argument, NULL, 'h'},                            \
    {"version", no_argument, NULL, 'V'}

/* Help lines for the common options, for usage() texts. */
#define SFT_COMMON_OPTIONS_HELP                                                             \
    "      --on-error fail|skip  stop at the first bad record (default) or skip it\n"      \
    "      --rejects FILE      write rejected lines to FILE and reasons to FILE.why\n"     \
    "      --max-line SIZE     longest accepted line (default 64M; K, M, G suffixes)\n"    \
    "  -v, --verbose           print counts at the end\n"                                  \
    "      --progress          show a progress line on stderr (default: when a terminal)\n" \
    "      --no-progress       never show it\n"                                            \
    "  -h, --help              show this help and exit\n"                                  \
    "  -V, --version           show the version and exit\n"

/* One run of a program: its common options and its record counts. */
typedef struct {
    int on_error;            /* SFT_ON_ERROR_* */
    const char *rejects_path;
    size_t max_line;         /* 0: the reader's default */
    int verbose;
    int progress;            /* 1 on, 0 off, -1 when stderr is a terminal */

    uint64_t in, out, rejected, filtered;

    /* private */
    sft_out *rejects, *why;
    uint64_t warned;
    double progress_start, progress_last;
    int progress_shown;
} sft_run;

void sft_run_init(sft_run *run);

/* The options every program answers alike: -h/--help (usage(stdout), exit
 * 0), -V/--version ("PROG (sftkit) VERSION") and getopt's '?' (the "Try
 * --help" line, exit 2). Returns the exit status for main() to return, or
 * -1 for any other option. */
int sft_standard_option(int opt, void (*usage)(FILE *));

/* Handles a common option. Returns 0 when handled, SFT_EX_USAGE after
 * printing why its argument is bad, or -1 when opt is not a common option
 * (-v is handled here; -h and -V are left to the tool). */
int sft_run_option(sft_run *run, int opt, const char *arg);

/* Opens the rejects files. Returns 0 or SFT_EX_CANTCREAT (printed). */
int sft_run_start(sft_run *run);

/* Accounts for one bad input record: prints the diagnostic (in skip mode
 * followed by "(skipped)", at most 100 of them) and writes the line and
 * its reason to the rejects files. text may be NULL for a line too long to
 * hold. Returns 0 to go on (skip mode), else the exit code to stop with:
 * SFT_EX_DATAERR (fail mode) or SFT_EX_IOERR (the rejects file failed). */
int sft_run_reject(sft_run *run, const char *src, uint64_t line, uint64_t col,
                   const char *text, size_t len, const char *reason);

/* Notes progress; redraws the progress line at most 4 times a second. */
void sft_run_progress(sft_run *run, uint64_t bytes, uint64_t records);
/* The same with the tool's own words ("step 12/300, loss 1.93, ..."). */
void sft_run_progress_text(sft_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the run: clears the progress line, closes the rejects files, prints
 * the counts with -v and the rejected count whenever it is not 0. Returns
 * the exit code: status when it is not 0, else 1 when records were
 * rejected, else 0. */
int sft_run_finish(sft_run *run, int status);

/* Whether two paths name the same file: the same device and inode when
 * both exist, else the same directory and name (so "x" and "./x" match
 * before x is created). Devices such as /dev/null never count as the same,
 * so several outputs may go there. */
int sft_same_file(const char *a, const char *b);

/* Whether DIR/NAME cannot be read: tells exit 66 (an input missing) from 65
 * (there but wrong) after a loader failed, where errno is no guide (loaders
 * probe for optional files). */
int sft_dir_lacks(const char *dir, const char *name);

/* Prints "PROG: FILE: write error: why" for an output's sticky error and
 * returns SFT_EX_IOERR. */
int sft_write_error(const char *name, int err);

#endif
