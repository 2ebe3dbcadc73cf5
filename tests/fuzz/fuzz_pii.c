/* libFuzzer target for the PII detectors and the record rewriter.
 *
 * The first input byte picks the detectors and the style; the second how
 * much of the rest is a speaker label (fed to pii_add_speaker); the rest is
 * a text and, when it is a JSON object, a record. Oracles, beyond "no
 * crash, no leak, no sanitizer report, no hang":
 *  - spans are in bounds, sorted, not overlapping, on code point
 *    boundaries, of a known type;
 *  - the replaced text is valid UTF-8;
 *  - a rewritten record is valid JSON, and the masks it reports lie inside
 *    their strings (start < end). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "pii/pii.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int boundary(const uint8_t *s, size_t n, size_t i)
{
    return i == n || (s[i] & 0xC0) != 0x80;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    unsigned det = (data[0] & 1) ? PII_ALL_DETECTORS : PII_DEFAULT_DETECTORS;
    if (data[0] & 2) det &= ~PII_BIT(PII_NAME);
    int pseudo = (data[0] >> 2) & 1;
    size_t speaker_len = data[1] % 16;
    data += 2, size -= 2;
    size = utf8_invalid_offset(data, size); /* the detectors take valid UTF-8 */
    if (speaker_len > size) speaker_len = size;
    while (speaker_len < size && !boundary(data, size, speaker_len)) speaker_len++;

    pii_masker *m = pii_masker_new(det);
    if (!m) abort();
    if (pseudo && pii_set_style(m, PII_STYLE_PSEUDO, "k", 1) != 0) abort();
    if (pii_add_name(m, "홍길동", strlen("홍길동")) < 0 || pii_add_name(m, "Jay Park", 8) < 0) abort();
    if (pii_add_speaker(m, (const char *)data, speaker_len) < 0) abort();

    const char *text = (const char *)data + speaker_len;
    size_t n = size - speaker_len;
    const pii_span *spans;
    int k = pii_find(m, text, n, &spans);
    if (k < 0) abort();
    for (int i = 0; i < k; i++) {
        if (spans[i].start >= spans[i].end || spans[i].end > n || spans[i].type >= PII_NTYPES) abort();
        if (i > 0 && spans[i].start < spans[i - 1].end) abort();
        if (!boundary((const uint8_t *)text, n, spans[i].start) || !boundary((const uint8_t *)text, n, spans[i].end))
            abort();
    }
    sft_buf out = {0};
    if (pii_replace(m, text, n, spans, k, &out) != 0) abort();
    if (utf8_invalid_offset((const uint8_t *)out.p, out.len) != out.len) abort();

    json_error jerr;
    if (n > 0 && text[0] == '{' && json_validate(text, n, &jerr) == 0) {
        pii_record_result res;
        out.len = 0;
        int changed = pii_mask_record(m, text, n, &out, &res);
        if (changed < 0) abort();
        if (changed) {
            if (json_validate(out.p, out.len, &jerr) != 0) abort();
            for (size_t i = 0; i < res.nmasks; i++)
                if (res.masks[i].start >= res.masks[i].end || !res.masks[i].path) abort();
        }
    }
    buf_free(&out);
    pii_masker_free(m);
    return 0;
}
