#include "core/utf8.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_KERNEL 1
#include <immintrin.h>
#endif

/* Length of the sequence that starts with lead byte b, 0 when b cannot
 * start one (continuation bytes, C0, C1, F5..FF). */
static int seq_len(unsigned char b)
{
    if (b < 0x80) return 1;
    if (b < 0xC2) return 0;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    if (b < 0xF5) return 4;
    return 0;
}

size_t utf8_invalid_offset_scalar(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Most JSONL is ASCII punctuation and keys: skip 8 bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char b = s[i];
        if (b < 0x80) { i++; continue; }
        int len = seq_len(b);
        if (len == 0 || i + (size_t)len > n) return i;
        unsigned char c1 = s[i + 1];
        /* The second byte's range depends on the lead byte. */
        unsigned char lo = 0x80, hi = 0xBF;
        if (b == 0xE0) lo = 0xA0;
        else if (b == 0xED) hi = 0x9F;
        else if (b == 0xF0) lo = 0x90;
        else if (b == 0xF4) hi = 0x8F;
        if (c1 < lo || c1 > hi) return i;
        for (int k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += (size_t)len;
    }
    return n;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

#ifdef HAVE_AVX2_KERNEL
/* AVX2 validation, 32 bytes a step, after the lookup method of Keiser and
 * Lemire ("Validating UTF-8 in less than one instruction per byte", 2021):
 * three 16-entry tables, indexed by the high and low nibble of the previous
 * byte and the high nibble of the current one, flag every bad pair of
 * adjacent bytes; a separate check requires continuation bytes 2 and 3
 * after 3- and 4-byte leads. The kernel only says whether a block is bad;
 * the scalar code then finds the exact offset. */

#define TOO_SHORT (1 << 0)     /* lead or ASCII where a continuation belongs */
#define TOO_LONG (1 << 1)      /* continuation after ASCII */
#define OVERLONG_3 (1 << 2)    /* E0 80..9F */
#define TOO_LARGE (1 << 3)     /* F4 90..BF, F5.. */
#define SURROGATE (1 << 4)     /* ED A0..BF */
#define OVERLONG_2 (1 << 5)    /* C0, C1 */
#define TOO_LARGE_1000 (1 << 6)
#define OVERLONG_4 (1 << 6)    /* F0 80..8F */
#define TWO_CONTS (1 << 7)     /* continuation after continuation */
#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTS)

__attribute__((target("avx2"))) static inline __m256i table16(const signed char t[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)t));
}

/* The 32 bytes ending N bytes before the end of cur, continuing prev. */
#define PREV(cur, prev, N) \
    _mm256_alignr_epi8(cur, _mm256_permute2x128_si256(prev, cur, 0x21), 16 - (N))

__attribute__((target("avx2"))) static size_t utf8_invalid_offset_avx2(const unsigned char *s, size_t n)
{
    static const signed char byte1_high[16] = {
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
        TOO_SHORT | OVERLONG_2,
        TOO_SHORT,
        TOO_SHORT | OVERLONG_3 | SURROGATE,
        (signed char)(TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4),
    };
    static const signed char byte1_low[16] = {
        (signed char)(CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4),
        (signed char)(CARRY | OVERLONG_2),
        (signed char)CARRY,
        (signed char)CARRY,
        (signed char)(CARRY | TOO_LARGE),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (signed char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
    };
    static const signed char byte2_high[16] = {
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        (signed char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4),
        (signed char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE),
        (signed char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE),
        (signed char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE),
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    };
    const __m256i t1h = table16(byte1_high), t1l = table16(byte1_low), t2h = table16(byte2_high);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    /* A block may not end inside a sequence unless the next block goes on
     * with it: these flag leads too close to the end of the block. */
    const __m256i incomplete_max = _mm256_setr_epi8(
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));

    __m256i prev = _mm256_setzero_si256(), prev_incomplete = _mm256_setzero_si256();
    size_t i = 0;
    for (;; i += 32) {
        __m256i cur;
        if (i + 32 <= n) {
            cur = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
        } else {
            /* The tail, padded with ASCII zeros. */
            unsigned char pad[32] = {0};
            if (i < n) memcpy(pad, s + i, n - i);
            cur = _mm256_loadu_si256((const __m256i *)(const void *)pad);
        }
        __m256i err;
        if (_mm256_movemask_epi8(cur) == 0) {
            err = prev_incomplete; /* ASCII: only a sequence cut off before it */
        } else {
            __m256i prev1 = PREV(cur, prev, 1);
            __m256i sc = _mm256_and_si256(
                _mm256_and_si256(
                    _mm256_shuffle_epi8(t1h, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble)),
                    _mm256_shuffle_epi8(t1l, _mm256_and_si256(prev1, nibble))),
                _mm256_shuffle_epi8(t2h, _mm256_and_si256(_mm256_srli_epi16(cur, 4), nibble)));
            __m256i third = _mm256_subs_epu8(PREV(cur, prev, 2), _mm256_set1_epi8((char)(0xE0 - 0x80)));
            __m256i fourth = _mm256_subs_epu8(PREV(cur, prev, 3), _mm256_set1_epi8((char)(0xF0 - 0x80)));
            __m256i must23 = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
            err = _mm256_xor_si256(must23, sc);
            prev_incomplete = _mm256_subs_epu8(cur, incomplete_max);
        }
        if (!_mm256_testz_si256(err, err)) {
            /* Bad somewhere from the sequence that reaches into this block:
             * back up to the lead byte before it and let the scalar code say
             * exactly where. */
            size_t from = i >= 32 ? i - 32 : 0;
            while (from > 0 && (s[from] & 0xC0) == 0x80) from--;
            return from + utf8_invalid_offset_scalar(s + from, n - from);
        }
        if (i + 32 >= n) break;
        prev = cur;
    }
    /* A sequence cut off by the end of the text. */
    if (!_mm256_testz_si256(prev_incomplete, prev_incomplete)) {
        size_t from = n > 3 ? n - 3 : 0;
        while (from > 0 && (s[from] & 0xC0) == 0x80) from--;
        return from + utf8_invalid_offset_scalar(s + from, n - from);
    }
    return n;
}
#endif

static size_t (*resolve(void))(const unsigned char *, size_t)
{
#ifdef HAVE_AVX2_KERNEL
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return utf8_invalid_offset_avx2;
#endif
    return utf8_invalid_offset_scalar;
}

static size_t (*kernel)(const unsigned char *, size_t);

size_t utf8_invalid_offset(const unsigned char *s, size_t n)
{
    /* Short strings are not worth a vector setup. */
    if (n < 64) return utf8_invalid_offset_scalar(s, n);
    size_t (*k)(const unsigned char *, size_t) = __atomic_load_n(&kernel, __ATOMIC_RELAXED);
    if (!k) __atomic_store_n(&kernel, k = resolve(), __ATOMIC_RELAXED);
    return k(s, n);
}

int utf8_using_avx2(void)
{
#ifdef HAVE_AVX2_KERNEL
    return resolve() == utf8_invalid_offset_avx2;
#else
    return 0;
#endif
}

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return -1;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return -1;
    if ((size_t)len > n) return -1;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
    *cp = v;
    return len;
}
