/* What the benchmark data generators share: the seeded PRNG, the output
 * buffer, strict number parsing and the command line. Each generator
 * defines GEN_NAME (for messages) and GEN_FORMAT_VERSION before including
 * this file; they are standalone programs, so
 * the helpers are static. */
#ifndef GEN_COMMON_H
#define GEN_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- PRNG: splitmix64 ---------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform in [0, n), n > 0 (multiply-shift; the bias is negligible here) */
static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

/* uniform in [0, 1) */
static double rnd_unit(void)
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- output buffer ------------------------------------------------------- */

#define OUT_CAP (4u << 20)

static char outbuf[OUT_CAP];
static size_t outlen;
static unsigned long long total_written;

static void flush_out(void)
{
    if (outlen && fwrite(outbuf, 1, outlen, stdout) != outlen) {
        fprintf(stderr, GEN_NAME ": write error: %s\n", strerror(errno));
        exit(74);
    }
    total_written += outlen;
    outlen = 0;
}

/* ---- options ------------------------------------------------------------- */

static void die_usage(const char *fmt, const char *arg)
{
    fputs(GEN_NAME ": ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry '" GEN_NAME " --help' for more information.\n", stderr);
    exit(2);
}

/* strict unsigned decimal with an optional K/M/G/T suffix */
static unsigned long long parse_num(const char *s, int allow_suffix)
{
    char *end;
    unsigned long long v, mul = 1;
    if (!s || !*s || !(*s >= '0' && *s <= '9'))
        die_usage("invalid number '%s'", s ? s : "");
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        die_usage("number out of range '%s'", s);
    if (*end && allow_suffix && end[1] == '\0') {
        switch (*end) {
        case 'K': case 'k': mul = 1ULL << 10; break;
        case 'M':           mul = 1ULL << 20; break;
        case 'G':           mul = 1ULL << 30; break;
        case 'T':           mul = 1ULL << 40; break;
        default: die_usage("invalid size suffix in '%s'", s);
        }
        end++;
    }
    if (*end)
        die_usage("invalid number '%s'", s);
    if (v > ~0ULL / mul)
        die_usage("number out of range '%s'", s);
    return v * mul;
}

/* The generators' command line: --bytes N (required), --seed S, --help,
 * --version, and, when flags ask for them, --stats and --format F. */
enum { GEN_OPT_STATS = 1, GEN_OPT_FORMAT = 2 };

typedef struct {
    unsigned long long bytes, seed;
    int stats;
    const char *format;     /* --format's value, or NULL */
} gen_options;

/* "--name", "--name=V" or "--name V": 1 and *val (for the last two), else
 * 0. Exits 2 when the value is missing. */
static int gen_option(const char *name, int argc, char **argv, int *i, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return 0;
    if (a[n] == '=')
        *val = a + n + 1;
    else if (*i + 1 < argc)
        *val = argv[++*i];
    else
        die_usage("option '%s' needs a value", a);
    return 1;
}

static void gen_parse_options(int argc, char **argv, unsigned flags, void (*usage)(FILE *), gen_options *o)
{
    int have_bytes = 0;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--version")) {
            printf(GEN_NAME " format %d\n", GEN_FORMAT_VERSION);
            exit(0);
        }
        if ((flags & GEN_OPT_STATS) && !strcmp(a, "--stats")) {
            o->stats = 1;
        } else if (gen_option("--bytes", argc, argv, &i, &val)) {
            o->bytes = parse_num(val, 1);
            have_bytes = 1;
        } else if (gen_option("--seed", argc, argv, &i, &val)) {
            o->seed = parse_num(val, 0);
        } else if ((flags & GEN_OPT_FORMAT) && gen_option("--format", argc, argv, &i, &val)) {
            o->format = val;
        } else {
            die_usage("unknown option '%s'", a);
        }
    }
    if (!have_bytes)
        die_usage("%s", "missing --bytes N");
}

#endif
