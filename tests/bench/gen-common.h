/* What the benchmark data generators share: the seeded PRNG, the output
 * buffer and strict number parsing. Each generator defines GEN_NAME (for
 * messages) before including this file; they are standalone programs, so
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

#endif
