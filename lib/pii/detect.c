/* The detectors of personal data, but names (names.c) and addresses
 * (address.c).
 *
 * One pass over the text: bytes that cannot start anything are skipped
 * through a class table, so plain Korean and English text costs a table
 * lookup per byte. A digit starts a number token: digit groups joined by
 * one or two of "-", ".", " ", ")" (and a leading "+" or "("). The number
 * detectors then look at the groups, not at characters: a phone is groups
 * whose digits form a Korean number and whose boundaries fall where such
 * numbers are split (010|1234|5678, never 01|012|345678). A value must start
 * at the token's start or after a space inside it, and end at its end or
 * before a space, so nothing is ever found inside a longer number. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pii/internal.h"
#include "pii/places.h"

enum {
    C_NONE,
    C_DIGIT,
    C_SIGN,   /* + or ( may start a number token */
    C_AT,
    C_COLON,
    C_ALPHA,
    C_HIGH    /* first byte of a multi-byte character */
};

static unsigned char byte_class[256];

static void init_classes(void)
{
    for (int c = '0'; c <= '9'; c++) byte_class[c] = C_DIGIT;
    for (int c = 'a'; c <= 'z'; c++) byte_class[c] = byte_class[c - 32] = C_ALPHA;
    byte_class['+'] = byte_class['('] = C_SIGN;
    byte_class['@'] = C_AT;
    byte_class[':'] = C_COLON;
    for (int c = 0xC2; c <= 0xF4; c++) byte_class[c] = C_HIGH;
}

/* ---- number tokens ---- */

#define MAXG 24

typedef struct {
    const unsigned char *s;
    size_t n;
    size_t start, end;       /* the token, with a leading + or ( */
    uint32_t b[MAXG], e[MAXG];
    int ng;
    int plus;
    int left_ok, right_ok;   /* the token is not glued to other text */
} numtok;

static int is_sep(unsigned char c)
{
    return c == '-' || c == '.' || c == ' ' || c == ')';
}

static size_t build_token(const unsigned char *s, size_t n, size_t i, numtok *t)
{
    t->s = s;
    t->n = n;
    t->start = i;
    t->ng = 0;
    t->plus = s[i] == '+';
    if (!pii_is_digit(s[i])) i++;
    for (;;) {
        t->b[t->ng] = (uint32_t)i;
        while (i < n && pii_is_digit(s[i])) i++;
        t->e[t->ng++] = (uint32_t)i;
        if (t->ng == MAXG) break;
        size_t j = i;
        while (j < n && j - i < 2 && is_sep(s[j])) j++;
        if (j == i || j == n || !pii_is_digit(s[j])) break;
        i = j;
    }
    t->end = i;

    /* Glued on the left: "abc12", "1.5", "12:30", the "567" of "1,567". */
    size_t st = t->start;
    unsigned char p = st ? s[st - 1] : ' ';
    t->left_ok = 1;
    if (pii_is_alnum(p) || p == '@' || p == '_') {
        t->left_ok = 0;
    } else if (st >= 2 && (pii_is_digit(s[st - 2]) || (p == '-' && pii_is_alpha(s[st - 2])))) {
        /* 1.5, 12:30, the 1840 of BFVZ-1840-0156 */
        if (p == '.' || p == ':' || p == '-') t->left_ok = 0;
        if (p == ',' && t->ng == 1 && t->e[0] - t->b[0] == 3) t->left_ok = 0;
    }
    /* Glued on the right: "5678a", "12:30", "1,234", an e-mail's local part. */
    unsigned char q = t->end < n ? s[t->end] : ' ';
    t->right_ok = 1;
    if (pii_is_alnum(q) || q == '@' || q == '_') {
        t->right_ok = 0;
    } else if (t->end + 1 < n && pii_is_digit(s[t->end + 1])) {
        if (q == ':' || q == '.' || q == '-') t->right_ok = 0;
        if (q == ',') {
            /* 1,234: a thousands group is three digits, then no more
             * digit groups. */
            size_t k = t->end + 1;
            while (k < n && pii_is_digit(s[k])) k++;
            if (k - t->end - 1 == 3 && !(k + 1 < n && (s[k] == '-' || s[k] == '.') && pii_is_digit(s[k + 1])))
                t->right_ok = 0;
        }
    }
    return t->end;
}

static int glen(const numtok *t, int g) { return (int)(t->e[g] - t->b[g]); }

/* The separator before group g (g > 0): its first character other than a
 * space, or ' ' when it is only spaces. */
static char sepc(const numtok *t, int g)
{
    for (uint32_t i = t->e[g - 1]; i < t->b[g]; i++)
        if (t->s[i] != ' ') return (char)t->s[i];
    return ' ';
}

static int sep_has_space(const numtok *t, int g)
{
    return memchr(t->s + t->e[g - 1], ' ', t->b[g] - t->e[g - 1]) != NULL;
}

static int start_ok(const numtok *t, int g)
{
    return g == 0 ? t->left_ok : sep_has_space(t, g);
}

/* Whether a value of groups [g, g+k) may end there. */
static int end_ok(const numtok *t, int g, int k)
{
    return g + k == t->ng ? t->right_ok : sep_has_space(t, g + k);
}

/* Digits of groups [g, g+k) into d (at most cap), their group boundaries
 * (cumulative lengths, without the last) into bounds. Returns the count. */
static int gather(const numtok *t, int g, int k, char *d, int cap, int *bounds, int *nb)
{
    int nd = 0;
    *nb = 0;
    for (int i = g; i < g + k; i++) {
        if (i > g) bounds[(*nb)++] = nd;
        for (uint32_t j = t->b[i]; j < t->e[i]; j++) {
            if (nd == cap) return -1;
            d[nd++] = (char)t->s[j];
        }
    }
    return nd;
}

static size_t span_start(const numtok *t, int g) { return g == 0 ? t->start : t->b[g]; }

/* ---- check digits ---- */

static int luhn_ok(const char *d, int nd)
{
    int sum = 0;
    for (int i = 0; i < nd; i++) {
        int v = d[nd - 1 - i] - '0';
        if (i & 1) { v *= 2; if (v > 9) v -= 9; }
        sum += v;
    }
    return sum % 10 == 0;
}

static int rrn_sum(const char *d)
{
    static const int w[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
    int sum = 0;
    for (int i = 0; i < 12; i++) sum += w[i] * (d[i] - '0');
    return sum;
}

static int this_year(void)
{
    static int year;
    if (!year) {
        time_t now = time(NULL);
        struct tm tm;
        year = gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 2026;
    }
    return year;
}

static int days_in_month(int year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 29;
    return dim[month - 1];
}

/* 13 digits of a registration number: a valid birth date and a 7th digit
 * that says century and sex. Returns PII_RRN or PII_FRN, or -1; *strong is
 * set when the check digit holds. */
static int registration_type(const char *d, int *strong)
{
    int g = d[6] - '0';
    int yy = (d[0] - '0') * 10 + (d[1] - '0');
    int mm = (d[2] - '0') * 10 + (d[3] - '0');
    int dd = (d[4] - '0') * 10 + (d[5] - '0');
    static const int century[10] = {1800, 1900, 1900, 2000, 2000, 1900, 1900, 2000, 2000, 1800};
    if (mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(century[g] + yy, mm)) return -1;
    if (century[g] + yy > this_year()) return -1; /* born in the future: a product code */
    int sum = rrn_sum(d), check = d[12] - '0';
    if (g >= 5 && g <= 8) {
        *strong = check == (11 - sum % 11) % 10 || check == (13 - sum % 11) % 10;
        return PII_FRN;
    }
    *strong = check == (11 - sum % 11) % 10;
    return PII_RRN;
}

static int brn_ok(const char *d)
{
    static const int w[9] = {1, 3, 7, 1, 3, 7, 1, 3, 5};
    int sum = 0;
    for (int i = 0; i < 9; i++) sum += w[i] * (d[i] - '0');
    sum += (d[8] - '0') * 5 / 10;
    return (10 - sum % 10) % 10 == d[9] - '0';
}

/* Whether one of the words occurs in s[a..b). */
static int has_word(const unsigned char *s, size_t a, size_t b, const char *const *words)
{
    for (; *words; words++)
        if (memmem(s + a, b - a, *words, strlen(*words))) return 1;
    return 0;
}

/* Whether one of the words occurs in the n bytes before position a. */
static int words_before(const unsigned char *s, size_t a, size_t n, const char *const *words)
{
    return has_word(s, a > n ? a - n : 0, a, words);
}

/* A window of about 16 characters before and 8 after [a, b). */
static void context_window(const numtok *t, size_t a, size_t b, size_t *wa, size_t *wb)
{
    *wa = a > 48 ? a - 48 : 0;
    *wb = b + 24 < t->n ? b + 24 : t->n;
}

static const char *const card_context[] = {"카드", "card", "Card", "CARD", NULL};
/* Labels of numbers that are not personal data: a number right after one
 * is an order, a parcel, a voucher… whatever its shape. */
static const char *const number_labels[] = {
    "주문", "송장", "운송장", "배송", "택배", "예약번호", "접수번호", "거래번호", "회원번호", "승인번호",
    "영수증", "쿠폰", "기프티콘", "상품권", "일련번호", "시리얼", "바코드", "상품코드", "제품코드", "품번",
    "문서번호", "ISBN", "PIN", "order", "Order", "tracking", "serial", "barcode", NULL,
};

/* ---- the number detectors: each returns the groups it took, or 0 ---- */

static int try_registration(pii_masker *m, const numtok *t, int g)
{
    char d[16];
    int bounds[4], nb, k = 0;
    if (glen(t, g) == 13) k = 1;
    else if (glen(t, g) == 6 && g + 1 < t->ng && glen(t, g + 1) == 7 && t->b[g + 1] - t->e[g] == 1 &&
             (sepc(t, g + 1) == '-' || sepc(t, g + 1) == ' '))
        k = 2;
    if (k && end_ok(t, g, k) && gather(t, g, k, d, 13, bounds, &nb) == 13) {
        int strong, type = registration_type(d, &strong);
        if (type < 0) return 0;
        /* An unbroken 13 digits after 바코드, 주문번호…: not a person's. */
        if (k == 1 && words_before(t->s, t->b[g], 24, number_labels)) return 0;
        /* Recognised but not wanted (an FRN when only rrn is on) still
         * claims its digits, so they are not taken for something else. */
        if (!(m->detectors & PII_BIT(type))) return k;
        return pii_add_span(m, span_start(t, g), t->e[g + k - 1], type, strong, -1) ? -1 : k;
    }
    /* Half-masked: 900101-1******, which still tells birth date and sex. */
    if (glen(t, g) == 6 && g + 2 == t->ng && glen(t, g + 1) == 1 && sepc(t, g + 1) == '-' &&
        t->b[g + 1] - t->e[g] == 1) {
        size_t i = t->e[g + 1], j = i;
        while (j < t->n && j - i < 6 && (t->s[j] == '*' || t->s[j] == 'x' || t->s[j] == 'X')) j++;
        if (j - i != 6 || (j < t->n && pii_is_alnum(t->s[j]))) return 0;
        char dd[13];
        if (gather(t, g, 2, dd, 7, bounds, &nb) != 7) return 0;
        memset(dd + 7, '0', 6);
        int strong, type = registration_type(dd, &strong);
        if (type < 0) return 0;
        if (!(m->detectors & PII_BIT(type))) return 2;
        return pii_add_span(m, span_start(t, g), j, type, 0, -1) ? -1 : 2;
    }
    return 0;
}

/* The length of card numbers in the issuer range that p starts with, or 0:
 * Amex 34/37 (15), Diners 30/36/38 (14), Mastercard 2221-2720, and the
 * 16-digit ranges under 3, 4, 5, 6 (Visa, Mastercard, Maestro, JCB,
 * Discover, UnionPay) and 9 (Korean domestic cards). */
static int bare_card_length(const char *p)
{
    int two = (p[0] - '0') * 10 + (p[1] - '0');
    int four = two * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    if (two == 34 || two == 37) return 15;
    if (two == 30 || two == 36 || two == 38) return 14;
    if (two == 35 || (p[0] >= '4' && p[0] <= '6') || p[0] == '9' || (four >= 2221 && four <= 2720)) return 16;
    return 0;
}

/* Words around the number [a, b): "카드" before or after says yes; an
 * order, parcel, coupon or barcode label right before it says no. Returns
 * 1, -1 or 0 (neither). */
static int card_words(const numtok *t, size_t a, size_t b)
{
    size_t wa, wb;
    context_window(t, a, b, &wa, &wb);
    if (has_word(t->s, wa, wb, card_context)) return 1;
    return words_before(t->s, a, 20, number_labels) ? -1 : 0;
}

static int try_card(pii_masker *m, const numtok *t, int g)
{
    char d[24];
    int bounds[8], nb;
    /* Groups with one kind of separator: 4-4-4-4, 4-6-5, 4-4-5, 6-13,
     * 4-4-4-4-3…: 13 to 19 digits that pass Luhn. Without a word about
     * cards nearby, the first digit must be one issuers use. */
    char sep = g + 1 < t->ng ? sepc(t, g + 1) : 0;
    if (sep == '-' || sep == ' ') {
        int nd = glen(t, g), k = 1;
        while (g + k < t->ng && k < 5 && sepc(t, g + k) == sep && t->b[g + k] - t->e[g + k - 1] == 1 &&
               glen(t, g + k) >= 3 && nd + glen(t, g + k) <= 19)
            nd += glen(t, g + k++);
        for (; k >= 2; k--) {
            if (!end_ok(t, g, k)) continue;
            nd = gather(t, g, k, d, 24, bounds, &nb);
            /* 4-… as printed on cards, or 6-13 (19 digits); 900101-1234568
             * is an RRN's shape, never a card's. */
            if (!(glen(t, g) == 4 || (glen(t, g) == 6 && k == 2 && nd == 19))) continue;
            if (nd < 13 || nd > 19 || !luhn_ok(d, nd)) continue;
            int words = card_words(t, t->b[g], t->e[g + k - 1]);
            if (words < 0 || (words == 0 && !strchr("234569", d[0]))) continue;
            return pii_add_span(m, span_start(t, g), t->e[g + k - 1], PII_CARD, 1, -1) ? -1 : k;
        }
    }
    /* Unbroken: the length that the issuer's range uses, or any length
     * from 13 to 19 after a word about cards. */
    int len = glen(t, g);
    if (len >= 13 && len <= 19 && end_ok(t, g, 1)) {
        const char *p = (const char *)t->s + t->b[g];
        int words = card_words(t, t->b[g], t->e[g]);
        if (luhn_ok(p, len) && (words > 0 || (words == 0 && bare_card_length(p) == len)))
            return pii_add_span(m, span_start(t, g), t->e[g], PII_CARD, 1, -1) ? -1 : 1;
    }
    return 0;
}

static const char *const brn_context[] = {"사업자", "등록번호", "BRN", "business", "Business", NULL};

static int try_brn(pii_masker *m, const numtok *t, int g)
{
    char d[16];
    int bounds[4], nb;
    if (g + 3 <= t->ng && glen(t, g) == 3 && glen(t, g + 1) == 2 && glen(t, g + 2) == 5 &&
        sepc(t, g + 1) == sepc(t, g + 2) && (sepc(t, g + 1) == '-' || sepc(t, g + 1) == ' ') &&
        end_ok(t, g, 3) && gather(t, g, 3, d, 10, bounds, &nb) == 10 && brn_ok(d))
        return pii_add_span(m, span_start(t, g), t->e[g + 2], PII_BRN, 1, -1) ? -1 : 3;
    if (glen(t, g) == 10 && end_ok(t, g, 1) && brn_ok((const char *)t->s + t->b[g])) {
        size_t wa, wb;
        context_window(t, t->b[g], t->e[g], &wa, &wb);
        if (has_word(t->s, wa, wb, brn_context))
            return pii_add_span(m, span_start(t, g), t->e[g], PII_BRN, 1, -1) ? -1 : 1;
    }
    return 0;
}

static int try_driver(pii_masker *m, const numtok *t, int g)
{
    /* 11-12-345678-90: a region code 11..26 or 28, then 2-6-2. */
    if (g + 4 <= t->ng && glen(t, g) == 2 && glen(t, g + 1) == 2 && glen(t, g + 2) == 6 &&
        glen(t, g + 3) == 2 && end_ok(t, g, 4)) {
        char sep = sepc(t, g + 1);
        if ((sep == '-' || sep == ' ') && sepc(t, g + 2) == sep && sepc(t, g + 3) == sep) {
            int region = (t->s[t->b[g]] - '0') * 10 + (t->s[t->b[g] + 1] - '0');
            if (region >= 11 && region <= 28 && region != 27)
                return pii_add_span(m, span_start(t, g), t->e[g + 3], PII_DRIVER, 1, -1) ? -1 : 4;
        }
    }
    /* 서울 12-345678-90: the older form with the region's name. */
    if (g == 0 && t->ng >= 3 && glen(t, 0) == 2 && glen(t, 1) == 6 && glen(t, 2) == 2 &&
        sepc(t, 1) == '-' && sepc(t, 2) == '-' && end_ok(t, 0, 3)) {
        size_t a = t->start;
        while (a > 0 && t->s[a - 1] == ' ') a--;
        size_t w = pii_region_before(t->s, a);
        if (w != a) return pii_add_span(m, w, t->e[2], PII_DRIVER, 1, -1) ? -1 : 3;
    }
    return 0;
}

/* A national number (leading 0) split at bounds: the prefix must be a
 * Korean mobile, area or internet-phone code, the length right for it, and
 * every boundary where such numbers are split. */
static int national_ok(const char *d, int nd, const int *bounds, int nb)
{
    int cut1, cut2;
    if (nd < 9 || d[0] != '0') return 0;
    if (d[1] == '1') {                         /* mobile 010, 011, 016-019 */
        if (!strchr("016789", d[2])) return 0;
        if (nd == 11) cut1 = 3, cut2 = 7;
        else if (nd == 10 && d[2] != '0') cut1 = 3, cut2 = 6;
        else return 0;
    } else if (d[1] == '2') {                  /* Seoul */
        if (nd == 9) cut1 = 2, cut2 = 5;
        else if (nd == 10) cut1 = 2, cut2 = 6;
        else return 0;
    } else if (d[1] == '5' && d[2] == '0') {   /* 0502..0508 safe numbers */
        if (nd != 12 || d[3] < '2' || d[3] > '8') return 0;
        cut1 = 4, cut2 = 8;
    } else if (d[1] >= '3' && d[1] <= '6') {   /* area codes 031..064 */
        static const char *const areas = "31 32 33 41 42 43 44 51 52 53 54 55 61 62 63 64";
        char code[3] = {d[1], d[2], 0};
        if (!strstr(areas, code)) return 0;
        if (nd == 10) cut1 = 3, cut2 = 6;
        else if (nd == 11) cut1 = 3, cut2 = 7;
        else return 0;
    } else if (d[1] == '7' && d[2] == '0') {   /* 070 internet phones */
        if (nd != 11) return 0;
        cut1 = 3, cut2 = 7;
    } else {
        return 0;
    }
    for (int i = 0; i < nb; i++)
        if (bounds[i] != cut1 && bounds[i] != cut2) return 0;
    return 1;
}

/* Units that make 1588-1234 a range of years or prices, not a number. */
static const char *const range_units[] = {"년", "원", "명", "개", "건", "회", "m", "k", NULL};

static int company_prefix(const char *d)
{
    static const char *const prefixes = "1522 1533 1544 1551 1566 1577 1588 1599 1600 1611 1644 1661 1666 "
                                        "1668 1670 1688 1800 1811 1833 1855 1866 1877 1899";
    char p[5] = {d[0], d[1], d[2], d[3], 0};
    return strstr(prefixes, p) != NULL;
}

static const char *const phone_words[] = {
    "전화", "연락처", "고객센터", "대표번호", "콜센터", "문의", "번호", "tel", "Tel", "TEL", "phone", "Phone", NULL,
};

static int try_phone(pii_masker *m, const numtok *t, int g)
{
    char d[40], nat[40];
    int bounds[8], nb;
    for (int k = g + 4 <= t->ng ? 4 : t->ng - g; k >= 1; k--) {
        if (!end_ok(t, g, k)) continue;
        int nd = gather(t, g, k, d, 39, bounds, &nb);
        if (nd < 8) continue;
        /* +82 10-1234-5678, 0082-2-123-4567: the country code, then the
         * national number without its 0. */
        int skip = 0;
        if (g == 0 && t->plus && d[0] == '8' && d[1] == '2') skip = 2;
        else if (memcmp(d, "0082", 4) == 0) skip = 4;
        int nn = 0, nbn = 0, nbounds[8];
        if (skip) {
            if (d[skip] != '0') nat[nn++] = '0';
            int shift = nn - skip;
            memcpy(nat + nn, d + skip, (size_t)(nd - skip));
            nn += nd - skip;
            for (int i = 0; i < nb; i++)
                if (bounds[i] > skip) nbounds[nbn++] = bounds[i] + shift;
            if (national_ok(nat, nn, nbounds, nbn))
                return pii_add_span(m, span_start(t, g), t->e[g + k - 1], PII_PHONE, 1, -1) ? -1 : k;
            continue;
        }
        if (national_ok(d, nd, bounds, nb)) {
            /* Unbroken: not after 송장번호 and the like, and a landline's
             * number after the area code starts with 2-9. */
            if (nb == 0 && (words_before(t->s, t->b[g], 24, number_labels) ||
                            (d[1] >= '2' && d[1] <= '6' && !(d[1] == '5' && d[2] == '0') &&
                             d[d[1] == '2' ? 2 : 3] < '2')))
                continue;
            return pii_add_span(m, span_start(t, g), t->e[g + k - 1], PII_PHONE, 1, -1) ? -1 : k;
        }
        /* Company numbers 1588-1234: an assigned prefix, a separator
         * unless a word about phones is near, and no more space-joined
         * groups after it (1534 7082 2298 1622 is a voucher). */
        int voucher = g + k < t->ng && sepc(t, g + 1) == ' ' && glen(t, g + k) == 4;
        if (nd == 8 && company_prefix(d) && !voucher &&
            ((k == 2 && bounds[0] == 4 && t->b[g + 1] - t->e[g] == 1) ||
             (k == 1 && words_before(t->s, t->b[g], 24, phone_words)))) {
            size_t a = span_start(t, g), b = t->e[g + k - 1];
            if (a > 0 && t->s[a - 1] == '~') continue;
            int unit = b + 1 < t->n && t->s[b] == '~' && pii_is_digit(t->s[b + 1]); /* 1500-1600~1700 */
            for (const char *const *u = range_units; *u; u++)
                if (b + strlen(*u) <= t->n && memcmp(t->s + b, *u, strlen(*u)) == 0) unit = 1;
            if (!unit) return pii_add_span(m, a, b, PII_PHONE, 0, -1) ? -1 : k;
        }
    }
    return 0;
}

static const char *const version_words[] = {"버전", "version", "Version", "VERSION", "ver.", "Ver.", NULL};

static int try_ip(pii_masker *m, const numtok *t, int g)
{
    if (g + 4 > t->ng) return 0;
    if (!start_ok(t, g) && !(g == 0 && t->start > 0 && t->s[t->start - 1] == '@')) return 0; /* root@10.0.0.1 */
    /* 192.168.0.1:8080 — a port may follow. */
    int port = g + 4 == t->ng && t->end + 1 < t->n && t->s[t->end] == ':' && pii_is_digit(t->s[t->end + 1]);
    if (!port && !end_ok(t, g, 4)) return 0;
    for (int i = 0; i < 4; i++) {
        if (i > 0 && (t->b[g + i] - t->e[g + i - 1] != 1 || sepc(t, g + i) != '.')) return 0;
        int len = glen(t, g + i);
        const unsigned char *p = t->s + t->b[g + i];
        if (len > 3 || (len > 1 && p[0] == '0')) return 0;
        int v = 0;
        for (int j = 0; j < len; j++) v = v * 10 + (p[j] - '0');
        if (v > 255) return 0;
    }
    size_t a = span_start(t, g);
    if (words_before(t->s, a, 12, version_words)) return 0;
    return pii_add_span(m, a, t->e[g + 3], PII_IP, 1, -1) ? -1 : 4;
}

/* Bank names and words around an account number; the short names that are
 * also common words (우리 "we", 하나 "one") count only right before it. */
static const char *const account_context[] = {
    "계좌", "입금", "송금", "이체", "예금주", "은행", "뱅크", "통장", "농협", "신한", "카뱅",
    "새마을", "우체국은행", "수협", "신협", "씨티", "SC제일", "케이뱅크", "케뱅", "토스뱅크", "account", "Account",
    "KB", "NH", "IBK", NULL,
};
static const char *const account_short[] = {"국민", "우리", "하나", "기업", "산업", "제일", "부산", "대구", "광주", "경남", "전북", "제주", "토스", "우체국", NULL};

static int try_account(pii_masker *m, const numtok *t, int g)
{
    /* Groups joined by "-", or by single spaces right after a bank's name
     * or the word 계좌 (신한 110 123 456789). */
    size_t a0 = span_start(t, g);
    int most = glen(t, g); /* the most digits that "-" or " " could join */
    for (int i = g + 1; i < t->ng && i < g + 5 && t->b[i] - t->e[i - 1] == 1 && sepc(t, i) != '.'; i++)
        most += glen(t, i);
    if (most < 10) return 0;
    int close = words_before(t->s, a0, 16, account_context) ||
                words_before(t->s, a0, 8, account_short);
    int k = 1, nd = glen(t, g);
    while (g + k < t->ng && k < 5 && t->b[g + k] - t->e[g + k - 1] == 1 &&
           (sepc(t, g + k) == '-' || (close && sepc(t, g + k) == ' '))) {
        nd += glen(t, g + k);
        k++;
    }
    while (k > 0 && !end_ok(t, g, k)) nd -= glen(t, g + --k);
    if (k == 0 || nd < 10 || nd > 16 || (k == 1 && nd > 14)) return 0;
    /* 012-393-5209 is a wrong phone number, not an account. */
    if (k == 3 && t->s[t->b[g]] == '0' && glen(t, g) <= 3 && glen(t, g + 2) == 4) return 0;
    size_t a = span_start(t, g), b = t->e[g + k - 1];
    size_t wa = a > 36 ? a - 36 : 0, wb = b + 24 < t->n ? b + 24 : t->n;
    int found = close || has_word(t->s, wa, wb, account_context);
    /* 운송장 4673915930589, 거래번호 2024-0315-123456: named as something
     * else right before it. */
    if (!found || words_before(t->s, a, 24, number_labels)) return 0;
    return pii_add_span(m, a, b, PII_ACCOUNT, 0, -1) ? -1 : k;
}

static int scan_number(pii_masker *m, const unsigned char *s, size_t n, size_t i, size_t *end)
{
    numtok t;
    *end = build_token(s, n, i, &t);
    unsigned det = m->detectors;
    for (int g = 0; g < t.ng;) {
        if (!start_ok(&t, g)) {
            int k = g == 0 && (det & PII_BIT(PII_IP)) ? try_ip(m, &t, g) : 0;
            if (k < 0) return -1;
            g += k ? k : 1;
            continue;
        }
        int k = 0;
        if (det & (PII_BIT(PII_RRN) | PII_BIT(PII_FRN))) k = try_registration(m, &t, g);
        if (!k && (det & PII_BIT(PII_CARD))) k = try_card(m, &t, g);
        if (!k && (det & PII_BIT(PII_BRN))) k = try_brn(m, &t, g);
        if (!k && (det & PII_BIT(PII_DRIVER))) k = try_driver(m, &t, g);
        if (!k && (det & PII_BIT(PII_PHONE))) k = try_phone(m, &t, g);
        if (!k && (det & PII_BIT(PII_IP))) k = try_ip(m, &t, g);
        if (!k && (det & PII_BIT(PII_ACCOUNT))) k = try_account(m, &t, g);
        if (!k && (det & PII_BIT(PII_ADDRESS))) {
            size_t aend;
            k = pii_try_address(m, s, n, t.b[g], &aend);
            if (k > 0) {
                /* The address may go on past this token. */
                if (aend > *end) *end = aend;
                return 0;
            }
        }
        if (k < 0) return -1;
        g += k ? k : 1;
    }
    return 0;
}

/* ---- passports, e-mail, IPv6, URLs ---- */

/* M12345678 (older) and M123A4567 (since 2021); also S, R, O, D. */
static size_t try_passport(pii_masker *m, const unsigned char *s, size_t n, size_t i)
{
    if (!strchr("MSROD", s[i]) || (i > 0 && (pii_is_alnum(s[i - 1]) || s[i - 1] == '_'))) return 0;
    size_t j = i + 1;
    int d = 0;
    while (j < n && pii_is_digit(s[j]) && d < 9) j++, d++;
    if (d == 3 && j + 5 <= n && s[j] >= 'A' && s[j] <= 'Z') {
        size_t k = j + 1;
        while (k < n && k - j - 1 < 5 && pii_is_digit(s[k])) k++;
        if (k - j - 1 == 4 && (k == n || !pii_is_alnum(s[k]))) return pii_add_span(m, i, k, PII_PASSPORT, 1, -1) ? SIZE_MAX : k;
        return 0;
    }
    if (d == 8 && (j == n || (!pii_is_alnum(s[j]) && s[j] != '_')))
        return pii_add_span(m, i, j, PII_PASSPORT, 1, -1) ? SIZE_MAX : j;
    return 0;
}

static int email_local(unsigned char c)
{
    return pii_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int try_email(pii_masker *m, const unsigned char *s, size_t n, size_t at, size_t *end)
{
    size_t a = at, b = at + 1;
    *end = at + 1;
    while (a > 0 && email_local(s[a - 1])) a--;
    while (a < at && s[a] == '.') a++;
    if (a == at) return 0;
    size_t last_dot = 0;
    while (b < n && (pii_is_alnum(s[b]) || s[b] == '-' || s[b] == '.')) {
        if (s[b] == '.') {
            if (s[b - 1] == '.' || s[b - 1] == '@') break;
            last_dot = b;
        }
        b++;
    }
    while (b > at + 1 && (s[b - 1] == '.' || s[b - 1] == '-')) b--;
    if (last_dot == 0 || last_dot >= b) {
        last_dot = 0;
        for (size_t k = at + 1; k < b; k++) if (s[k] == '.') last_dot = k;
    }
    if (last_dot == 0 || b - last_dot - 1 < 2) return 0;
    for (size_t k = last_dot + 1; k < b; k++) if (!pii_is_alpha(s[k])) return 0;
    *end = b;
    return pii_add_span(m, a, b, PII_EMAIL, 1, -1);
}

static int hex_or_colon(unsigned char c)
{
    return pii_is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == ':';
}

static int try_ipv6(pii_masker *m, const unsigned char *s, size_t n, size_t colon, size_t *end)
{
    size_t a = colon, b = colon;
    *end = colon + 1;
    while (a > 0 && hex_or_colon(s[a - 1])) a--;
    while (b < n && (hex_or_colon(s[b]) || (s[b] == '.' && b + 1 < n && pii_is_digit(s[b + 1])))) b++;
    if (b - a < 3 || b - a > 45) return 0;
    if ((a > 0 && (pii_is_alnum(s[a - 1]) || s[a - 1] == '.')) || (b < n && pii_is_alnum(s[b]))) return 0;
    int colons = 0;
    for (size_t k = a; k < b; k++) colons += s[k] == ':';
    if (colons < 2) return 0;
    char buf[48];
    memcpy(buf, s + a, b - a);
    buf[b - a] = 0;
    unsigned char addr[16];
    if (inet_pton(AF_INET6, buf, addr) != 1) return 0;
    *end = b;
    return pii_add_span(m, a, b, PII_IP, 1, -1);
}

static size_t try_url(pii_masker *m, const unsigned char *s, size_t n, size_t i)
{
    size_t b;
    if (i > 0 && (pii_is_alnum(s[i - 1]) || s[i - 1] == '.')) return 0;
    if (n - i > 8 && (memcmp(s + i, "https://", 8) == 0)) b = i + 8;
    else if (n - i > 7 && memcmp(s + i, "http://", 7) == 0) b = i + 7;
    else if (n - i > 4 && (memcmp(s + i, "www.", 4) == 0 || memcmp(s + i, "WWW.", 4) == 0)) b = i + 4;
    else return 0;
    size_t host = b;
    while (b < n && s[b] > ' ' && s[b] < 0x7F && !strchr("\"'<>`", s[b])) b++;
    while (b > host && strchr(".,;:!?)]}", s[b - 1])) b--;
    if (b == host) return 0;
    return pii_add_span(m, i, b, PII_URL, 1, -1) ? SIZE_MAX : b;
}

/* ---- spoken digits: 공일공에 일이삼사에 오육칠팔 ---- */

static int spoken_digit(uint32_t cp)
{
    switch (cp) {
    case 0xACF5: case 0xC601: return 0;   /* 공 영 */
    case 0xC77C: return 1;                 /* 일 */
    case 0xC774: return 2;                 /* 이 */
    case 0xC0BC: return 3;                 /* 삼 */
    case 0xC0AC: return 4;                 /* 사 */
    case 0xC624: return 5;                 /* 오 */
    case 0xC721: case 0xB959: return 6;    /* 육 륙 */
    case 0xCE60: return 7;                 /* 칠 */
    case 0xD314: return 8;                 /* 팔 */
    case 0xAD6C: return 9;                 /* 구 */
    }
    return -1;
}

static size_t try_spoken(pii_masker *m, const unsigned char *s, size_t n, size_t i)
{
    char d[24];
    size_t after[24];
    int nd = 0, words = 0;
    size_t j = i;
    while (j < n && nd < 20) {
        size_t len;
        uint32_t cp = pii_decode(s, n, j, &len);
        int v = cp < 0x80 && pii_is_digit((unsigned char)cp) ? (int)(cp - '0') : spoken_digit(cp);
        if (v >= 0) {
            if (cp >= 0x80) words++;
            d[nd] = (char)('0' + v);
            after[nd++] = j + len;
        } else if (nd > 0 && cp == 0xD558 /* 하 */ && j + 6 <= n && memcmp(s + j + 3, "고", 3) == 0) {
            len = 6; /* 하고: "and" between groups */
        } else if (nd == 0 ||
                   !(cp == ' ' || cp == '-' || cp == ',' || cp == '.' || cp == 0xC5D0 /* 에 */ ||
                     cp == 0xC758 /* 의 */ || cp == 0xB2E4 /* 다(시) */ || cp == 0xC2DC /* (다)시 */)) {
            break;
        }
        j += len;
    }
    if (words < 4) return 0;
    for (int len = nd; len >= 9; len--) {
        int strong, type = -1;
        if (len == 13) type = registration_type(d, &strong);
        else if (national_ok(d, len, NULL, 0)) type = PII_PHONE;
        if (type < 0) continue;
        if (!(m->detectors & PII_BIT(type))) continue;
        return pii_add_span(m, i, after[len - 1], type, 0, -1) ? SIZE_MAX : after[len - 1];
    }
    return 0;
}

/* ---- guessed names: 김민수 씨, 박지영 과장님 ---- */

static const char *const titles[] = {
    "씨", "님", "선생", "과장", "대리", "부장", "팀장", "사장", "교수", "고객", "환자", "원장", "실장",
    "차장", "이사님", "주임", "기자", "변호사", "회장", "대표", "간호사", "의사", "작가", "선배",
    "후배", "학생", "매니저", "상무", "전무", "본부장", "소장", "주무관", "담당자", "군 ", "양 ",
    NULL,
};
static const char *const intro_after[] = {"입니다", "이에요", "예요", "이고", "라고", "이라고", NULL};
/* Common words that begin with a surname's syllable and can stand before a
 * title ("이번주 팀장님 회의"). */
static const char *const not_given[] = {
    "이번", "이제", "이따", "이거", "이건", "이게", "이런", "이분", "이쪽", "지난", "지금", "오늘",
    "오후", "오전", "정말", "한번", "전에", "전체", "조금", "우리", "제가", "제일", "공부", "문제",
    "신규", "기존", "최근", "최고", "강의", "하루", "진짜", "나중", "주말", "방금", "안녕", "고객",
    "담당", "모든", "모두", "유리", "마지", "김치", "박스", "신발", "강아", "장소", "정도", "이상",
    "이하", "이후", "전화", "문의", "연락", "서비", "시간", "성함", "이름", "남자", "여자", "구매",
    "배송", "주문", "상담", "확인", "변경", "장님", "사님", "생님", NULL,
};

static int starts_with_any(const unsigned char *s, size_t n, const char *const *words, size_t *len)
{
    for (; *words; words++) {
        size_t l = strlen(*words);
        if (l <= n && memcmp(s, *words, l) == 0) { if (len) *len = l; return 1; }
    }
    return 0;
}

static size_t try_name_guess(pii_masker *m, const unsigned char *s, size_t n, size_t i)
{
    if (i > 0) {
        size_t p = pii_prev(s, i), len;
        if (pii_is_hangul(pii_decode(s, n, p, &len))) return 0;
    }
    size_t surname = pii_surname_len(s + i, n - i);
    if (!surname) return 0;
    size_t j = i + surname;
    for (int k = 0; k < 2; k++) {
        size_t len;
        if (j >= n || !pii_is_hangul(pii_decode(s, n, j, &len))) return 0;
        j += len;
    }
    if (starts_with_any(s + i, n - i, not_given, NULL)) return 0;
    size_t end = j, k = j;
    if (k < n && s[k] == ' ') k++;
    if (starts_with_any(s + k, n - k, titles, NULL) ||
        (starts_with_any(s + j, n - j, intro_after, NULL) &&
         ((i >= 7 && memcmp(s + i - 7, "저는 ", 7) == 0) || (i >= 10 && memcmp(s + i - 10, "이름은 ", 10) == 0) ||
          (i >= 10 && memcmp(s + i - 10, "성함은 ", 10) == 0))))
        return pii_add_span(m, i, end, PII_NAME, 0, -1) ? SIZE_MAX : end;
    return 0;
}

/* ---- the pass ---- */

int pii_detect_text(pii_masker *m, const unsigned char *s, size_t n)
{
    static int ready;
    if (!ready) { init_classes(); ready = 1; }
    unsigned det = m->detectors;
    int names = (det & PII_BIT(PII_NAME)) && m->names.npats > 0;
    int numbers = (det & (PII_BIT(PII_RRN) | PII_BIT(PII_FRN) | PII_BIT(PII_PHONE) | PII_BIT(PII_IP) |
                          PII_BIT(PII_CARD) | PII_BIT(PII_BRN) | PII_BIT(PII_DRIVER) |
                          PII_BIT(PII_ACCOUNT) | PII_BIT(PII_ADDRESS))) != 0;
    int spoken = (det & PII_BIT(PII_DET_SPOKEN)) != 0;
    int guess = (det & PII_BIT(PII_DET_NAME_GUESS)) != 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t next = i + 1, end;
        switch (byte_class[c]) {
        case C_NONE:
            break;
        case C_SIGN:
            if (!(i + 1 < n && pii_is_digit(s[i + 1]))) break;
            /* fall through */
        case C_DIGIT:
            if (numbers && scan_number(m, s, n, i, &next) != 0) return -1;
            if (!numbers) while (next < n && pii_is_digit(s[next])) next++;
            break;
        case C_AT:
            if ((det & PII_BIT(PII_EMAIL)) && try_email(m, s, n, i, &next) != 0) return -1;
            break;
        case C_COLON:
            if ((det & PII_BIT(PII_IP)) && i > 0 && i + 1 < n && hex_or_colon(s[i + 1]) &&
                hex_or_colon(s[i - 1] == ':' ? s[i + 1] : s[i - 1]) && try_ipv6(m, s, n, i, &next) != 0)
                return -1;
            break;
        case C_ALPHA:
            if (i > 0 && (pii_is_alnum(s[i - 1]) || s[i - 1] == '_')) {
                while (next < n && (pii_is_alnum(s[next]) || s[next] == '_')) next++;
                break;
            }
            if (det & PII_BIT(PII_PASSPORT)) {
                end = try_passport(m, s, n, i);
                if (end == SIZE_MAX) return -1;
                if (end) { next = end; break; }
            }
            if (det & PII_BIT(PII_URL)) {
                end = try_url(m, s, n, i);
                if (end == SIZE_MAX) return -1;
                if (end) { next = end; break; }
            }
            if (names) {
                int r = pii_names_find(m, s, n, i, &end);
                if (r < 0) return -1;
                if (r) { next = end; break; }
            }
            /* The rest of the word cannot start anything (a word's digits
             * are glued to it; '@' and ':' stop the skip). */
            while (next < n && (pii_is_alnum(s[next]) || s[next] == '_')) next++;
            break;
        case C_HIGH: {
            size_t len;
            pii_decode(s, n, i, &len);
            next = i + len;
            if (names) {
                int r = pii_names_find(m, s, n, i, &end);
                if (r < 0) return -1;
                if (r) { next = end; break; }
            }
            if (guess) {
                end = try_name_guess(m, s, n, i);
                if (end == SIZE_MAX) return -1;
                if (end) { next = end; break; }
            }
            if (spoken) {
                end = try_spoken(m, s, n, i);
                if (end == SIZE_MAX) return -1;
                if (end) { next = end; break; }
            }
            break;
        }
        }
        i = next;
    }
    return 0;
}
