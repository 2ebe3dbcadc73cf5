/* UTF-8 validation and encoding (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
#ifndef SFT_UTF8_H
#define SFT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns the offset of the first byte of the first invalid sequence in
 * s[0..n), or n when the whole buffer is valid UTF-8. A sequence cut off by
 * the end of the buffer is invalid. */
size_t utf8_invalid_offset(const unsigned char *s, size_t n);

/* The plain C reference that utf8_invalid_offset() must agree with; it
 * uses AVX2 when the CPU has it (checked once, at the first call). */
size_t utf8_invalid_offset_scalar(const unsigned char *s, size_t n);

/* Nonzero when utf8_invalid_offset() runs the AVX2 kernel. */
int utf8_using_avx2(void);

/* Writes the UTF-8 encoding of code point cp (must be <= 0x10FFFF and not a
 * surrogate) to out and returns its length, 1 to 4. */
size_t utf8_encode(uint32_t cp, char out[4]);

/* Decodes the sequence at s[0..n) into *cp and returns its length (1-4),
 * or -1 when it is not valid UTF-8 (also cut off, overlong, surrogate). */
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
