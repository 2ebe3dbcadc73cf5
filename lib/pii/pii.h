/* Personal data in text and in JSON records: detectors and replacement.
 *
 * A pii_masker holds the configuration (which detectors, which names,
 * which strings of a record, how to replace) and the scratch space of one
 * thread. pii_find() finds personal data in one UTF-8 text; pii_mask_record()
 * rewrites every string value of a JSON record that is in scope and says
 * what it replaced where.
 *
 * Precision comes from structure: digit groups in the shapes that Korean
 * numbers are written in, check digits (RRN, FRN, BRN, Luhn), valid dates
 * and area codes, and boundaries (a phone number glued to more digits is an
 * order number, not a phone). Context words decide only for bank accounts.
 *
 * Nothing here prints or exits; functions return -1 with errno set (ENOMEM,
 * EINVAL) on error. */
#ifndef SFT_PII_H
#define SFT_PII_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* What a span is; also the tag written for it ([PHONE]). */
enum pii_type {
    PII_RRN,
    PII_FRN,
    PII_PHONE,
    PII_EMAIL,
    PII_URL,
    PII_IP,
    PII_CARD,
    PII_BRN,
    PII_PASSPORT,
    PII_DRIVER,
    PII_ACCOUNT,
    PII_ADDRESS,
    PII_NAME,
    PII_NTYPES
};

/* Detectors: one per type, plus the opt-in ones that report as another
 * type (a guessed name is a name; spoken digits are a phone or an RRN). */
enum {
    PII_DET_NAME_GUESS = PII_NTYPES,
    PII_DET_SPOKEN,
    PII_NDETECTORS
};
#define PII_BIT(d) (1u << (d))
#define PII_ALL_DETECTORS ((1u << PII_NDETECTORS) - 1)
#define PII_DEFAULT_DETECTORS \
    (((1u << PII_NTYPES) - 1) & ~PII_BIT(PII_URL))

/* "phone", "name-guess"… for d < PII_NDETECTORS. */
const char *pii_detector_name(int d);
/* "PHONE", "NAME"… for t < PII_NTYPES. */
const char *pii_type_tag(int t);

/* Parses a --types list into a detector mask: "all", "default", names
 * ("phone,email": exactly those) or changes to the default ("+url,-name").
 * Returns 0, or -1 with a message in err. */
int pii_parse_types(const char *list, unsigned *mask, char *err, size_t errlen);

/* One found value: bytes [start, end) of the text. */
typedef struct {
    uint32_t start, end;
    uint8_t type;     /* enum pii_type */
    uint8_t strong;   /* a check digit or other strong evidence held */
    int32_t name;     /* for names: index of the canonical name, else -1 */
} pii_span;

enum pii_style { PII_STYLE_TAG, PII_STYLE_PSEUDO };

typedef struct pii_masker pii_masker;

/* A masker running the detectors in mask (PII_BIT(...) of PII_DET_* and
 * types). Returns NULL with errno ENOMEM. Free with pii_masker_free(). */
pii_masker *pii_masker_new(unsigned detectors);
void pii_masker_free(pii_masker *m);

/* Replacement: PII_STYLE_TAG writes [TYPE]; PII_STYLE_PSEUDO writes
 * [TYPE_xxxxxx], the first 6 hex digits of HMAC-SHA256(key, type name,
 * NUL, normalised value), so one value always gets one pseudonym. The key
 * is copied. Returns 0, or -1 (EINVAL: pseudo without a key). */
int pii_set_style(pii_masker *m, enum pii_style style, const void *key, size_t keylen);

/* Names. pii_add_name() adds a name given by the user; pii_add_speaker()
 * one seen as a chat speaker, which may carry more than a name ("박영우
 * 소마", "서우석 멘토님") and may be an alias that is no name at all
 * (회원님, you). A Korean full name (a known surname and one or two
 * syllables) also yields its given name when that has two syllables or
 * more; Hangul names match anywhere, Latin ones as whole words. Returns
 * the number of patterns added (0: nothing usable), or -1 (ENOMEM). */
int pii_add_name(pii_masker *m, const char *s, size_t n);
int pii_add_speaker(pii_masker *m, const char *s, size_t n);
size_t pii_name_count(const pii_masker *m);

/* Adds the people that a KakaoTalk system message names ("A님이 B님과
 * C님을 초대했습니다.", "A invited B and C.", "A left this chatroom."),
 * which is how the owner of an Android export, never a speaker there,
 * shows up. Returns the patterns added (0 for other texts), -1 (ENOMEM). */
int pii_add_system_names(pii_masker *m, const char *text, size_t n);

/* Finds personal data in the valid UTF-8 text s[0..n). *spans points to
 * the found values, sorted and not overlapping, valid until the next call
 * on m. Returns their number, or -1 (ENOMEM). */
int pii_find(pii_masker *m, const char *s, size_t n, const pii_span **spans);

/* Appends s with the spans replaced to out. Returns 0 or -1 (ENOMEM). */
int pii_replace(pii_masker *m, const char *s, size_t n, const pii_span *spans, int nspans,
                sft_buf *out);

/* ---- records ---- */

/* Keys whose values are not text and are left alone (id, ts, src…; see
 * pii.c). Adds one more. Returns 0 or -1 (ENOMEM). */
int pii_skip_key(pii_masker *m, const char *key);

/* Limits masking to the values at PATH (repeatable): dotted names, "[]" for
 * every element of an array, "[N]" for one ("messages[].content"). Returns
 * 0, or -1 with errno EINVAL when the path is malformed. */
int pii_add_field(pii_masker *m, const char *path);

/* What a record had masked: one entry per span, for reports. path is the
 * JSON path of the string with its indices ("messages[1].content"), field
 * the same with "[]" ("messages[].content"); both NUL-terminated, valid
 * until the next call. start and end count Unicode code points of the
 * decoded string. */
typedef struct {
    const char *path, *field;
    uint8_t type;
    uint32_t start, end;
} pii_mask_info;

typedef struct {
    size_t nmasks;
    const pii_mask_info *masks;
    uint64_t strings;        /* string values looked at */
    uint64_t strings_masked; /* of which changed */
} pii_record_result;

/* Rewrites the record json[0..n) (one JSON object that core/json.c has
 * validated) into out (appended; out is left alone when nothing was found,
 * so callers can write the input line as it is): the string values in
 * scope with their personal data replaced, all other bytes unchanged.
 * Returns 1 when something was replaced, 0 when not, -1 on ENOMEM. */
int pii_mask_record(pii_masker *m, const char *json, size_t n, sft_buf *out,
                    pii_record_result *res);

/* Learns names from a chat-message record json[0..n): its top-level
 * "speaker" (pii_add_speaker()) and, for "kind":"system" records, the
 * people its "text" names (pii_add_system_names()). Returns the patterns
 * added, 0 when there are none, -1 on ENOMEM. */
int pii_learn_speaker(pii_masker *m, const char *json, size_t n);

#endif
