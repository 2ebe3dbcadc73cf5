/* What the pii modules share; not for tools. */
#ifndef SFT_PII_INTERNAL_H
#define SFT_PII_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/sha256.h"
#include "pii/pii.h"

/* A name pattern: the bytes to find and the canonical name it stands for
 * (a given name stands for its full name, so both get one pseudonym). */
typedef struct {
    uint32_t off, len;   /* in names.text */
    int32_t canon;       /* index of the canonical pattern */
    uint8_t latin;       /* match as a whole ASCII word, case-insensitively */
} pii_name_pat;

typedef struct {
    sft_buf text;            /* pattern bytes, ASCII letters lowercased */
    pii_name_pat *pats;
    size_t npats, cap;
    /* Hash of the first two code points (folded) → chain of patterns,
     * longest first. */
    int32_t *heads;          /* nbuckets entries, -1 = empty */
    int32_t *next;           /* per pattern */
    uint64_t *keys;          /* per pattern */
    size_t nbuckets;           /* a power of two, 2^bucket_bits */
    unsigned bucket_bits;
    uint8_t first_bmp[0x10000 / 8]; /* first code points of patterns (BMP) */
    uint8_t any_astral;      /* a pattern starts above the BMP */
} pii_names;

/* One field path of --field: segments are names or array steps. */
typedef struct {
    size_t nseg;
    char **name;             /* NULL for an array step */
    long *index;             /* array step: -1 every element, else one */
} pii_field;

typedef struct {
    char *key;
    uint64_t counts[PII_NTYPES];
} pii_field_count;

struct pii_masker {
    unsigned detectors;
    enum pii_style style;
    hmac_sha256_key hmac;

    pii_names names;
    char (*pseudo_cache)[8];  /* pseudonyms of names by canonical index */
    size_t pseudo_cap;
    /* Hashes of the speaker labels already added (open addressing, 0 =
     * empty), so each record's speaker costs one probe. */
    uint64_t *seen;
    size_t nseen, seencap;

    /* found spans of the current text */
    pii_span *spans;
    size_t nspans, spancap;

    /* records */
    char **skip;
    size_t *skip_len;
    size_t nskip;
    uint8_t skip_first[256];  /* first bytes of skipped keys */
    pii_field *fields;
    size_t nfields;
    sft_buf scratch;          /* a decoded string */
    sft_buf replaced;         /* a string with its spans replaced */
    sft_buf norm;             /* the HMAC message of a pseudonym */
    sft_buf path, field;      /* the current path, with and without indices */
    sft_buf infos_text;       /* paths of the masks of the current record */
    pii_mask_info *infos;
    size_t ninfos, infocap;
};

/* detect.c: every detector but names; adds spans with pii_add_span(). */
int pii_detect_text(pii_masker *m, const unsigned char *s, size_t n);
/* names.c */
void pii_names_init(pii_names *nm);
void pii_names_free(pii_names *nm);
int pii_names_find(pii_masker *m, const unsigned char *s, size_t n, size_t i, size_t *end);
const char *pii_names_canon(const pii_names *nm, int32_t canon, size_t *len);

/* Adds a span; overlaps are resolved when pii_find() ends. Returns 0 or -1
 * (ENOMEM). */
int pii_add_span(pii_masker *m, size_t start, size_t end, int type, int strong, int32_t name);

/* UTF-8 helpers over text known to be valid. */
static inline uint32_t pii_decode(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    unsigned char c = s[i];
    if (c < 0x80) { *len = 1; return c; }
    if (c < 0xE0 && i + 1 < n) { *len = 2; return ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F); }
    if (c < 0xF0 && i + 2 < n) {
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    if (i + 3 < n) {
        *len = 4;
        return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
               ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    }
    *len = 1;
    return 0xFFFD;
}

/* Start of the code point before position i (i > 0). */
static inline size_t pii_prev(const unsigned char *s, size_t i)
{
    do i--; while (i > 0 && (s[i] & 0xC0) == 0x80);
    return i;
}

static inline int pii_is_hangul(uint32_t cp) { return cp >= 0xAC00 && cp <= 0xD7A3; }
static inline int pii_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int pii_is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }
static inline int pii_is_alnum(unsigned char c) { return pii_is_digit(c) || pii_is_alpha(c); }

#endif
