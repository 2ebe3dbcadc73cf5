/* Korean place names and surnames that the detectors look things up in. */
#ifndef SFT_PII_PLACES_H
#define SFT_PII_PLACES_H
#include <stddef.h>

#include "pii/internal.h"

/* Byte length of the surname that s[0..n) starts with (a compound one such
 * as 남궁 first), or 0. */
size_t pii_surname_len(const unsigned char *s, size_t n);

/* When the word that ends at s[a] (before a space) is a region name of a
 * driving licence (서울, 경기…), its start; else a. */
size_t pii_region_before(const unsigned char *s, size_t a);

/* An address whose building or lot number starts at s[num]: road-name
 * (… 테헤란로 123) or lot (… 서교동 395-166) after at least one province,
 * city, county or district that exists, with what follows (동, 호, 층,
 * (동명)); or a lone apartment unit (101동 1203호). Adds the span and sets
 * *end to its end. Returns 1 when found, 0 when not, -1 on ENOMEM. */
int pii_try_address(pii_masker *m, const unsigned char *s, size_t n, size_t num, size_t *end);

#endif
