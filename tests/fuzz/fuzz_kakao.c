/* libFuzzer target for the KakaoTalk parser, the text reader beneath it
 * (encoding detection, iconv, line splitting) and the record writers.
 *
 * The first input byte picks the options (format, forced encoding, emit
 * mode, --keep-media, --date); the rest is the export. Oracles, beyond "no
 * crash, no leak, no sanitizer report, no hang":
 *  - every message's speaker and text are valid UTF-8 without a line end
 *    in the speaker, and the text has no trailing "\n";
 *  - message start lines never go backwards, and times never go back by a
 *    minute or more within a stamped export (the lookalike rule);
 *  - messages given to the emitter = used + dropped (nothing lost). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/out.h"
#include "core/textin.h"
#include "core/utf8.h"
#include "kakao/emit.h"
#include "kakao/kakao.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sft_out *devnull(void)
{
    static sft_out *o;
    if (!o) o = sft_out_open("/dev/null");
    if (!o) abort();
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t opts = data[0];
    data++, size--;
    static const kakao_format formats[] = {KAKAO_AUTO, KAKAO_AUTO, KAKAO_AUTO, KAKAO_AUTO,
                                           KAKAO_WINDOWS, KAKAO_CSV, KAKAO_ANDROID, KAKAO_IOS};
    static const text_encoding encs[] = {TEXT_ENC_AUTO, TEXT_ENC_AUTO, TEXT_ENC_UTF16LE,
                                         TEXT_ENC_CP949};
    kakao_config cfg = {.format = formats[opts & 7], .detect_lines = 50, .max_message = 4096};
    if (opts & 0x80) {
        cfg.has_start_date = 1;
        cfg.start_year = 2024, cfg.start_month = 2, cfg.start_day = 29;
    }
    static const char *const me[] = {"정민준"};
    kakao_emit_config ec = {.mode = (kakao_emit_mode)((opts >> 5) % 3), .me = me, .nme = 1,
                            .gap = 3600, .context = 2, .keep_media = (opts >> 4) & 1,
                            .max_chars = 500, .tz = "+09:00"};

    textin *in;
    if (textin_open_mem(&in, data, size, "fuzz", encs[(opts >> 3) & 3], 2048) != 0) abort();
    kakao_parser *p;
    if (kakao_open(&p, in, &cfg) != 0) abort();
    kakao_emitter *em = kakao_emitter_new(&ec, devnull());
    if (!em || kakao_emit_begin(em, "fuzz", "fuzz") != 0) abort();

    uint64_t last_line = 0;
    kakao_time last_time = INT64_MIN;
    for (;;) {
        kakao_msg m;
        kakao_bad bad;
        int rc = kakao_next(p, &m, &bad);
        if (rc == KAKAO_EOF || rc == KAKAO_NOT_EXPORT) break;
        if (rc == KAKAO_IOERR) abort();
        if (rc == KAKAO_BAD) {
            if (bad.text && utf8_invalid_offset((const unsigned char *)bad.text, bad.len) < bad.len &&
                strcmp(bad.reason, "invalid UTF-8") != 0)
                abort();
            continue;
        }
        if (utf8_invalid_offset((const unsigned char *)m.text, m.text_len) != m.text_len ||
            utf8_invalid_offset((const unsigned char *)m.speaker, m.speaker_len) != m.speaker_len ||
            (m.text_len && m.text[m.text_len - 1] == '\n') ||
            memchr(m.speaker, '\n', m.speaker_len))
            abort();
        if (m.line < last_line) abort();
        last_line = m.line;
        if (kakao_detected(p) != KAKAO_WINDOWS && kakao_detected(p) != KAKAO_CSV &&
            last_time != INT64_MIN && m.time / 60 < last_time / 60)
            abort();
        last_time = m.time;
        if (kakao_emit_message(em, &m) != 0) abort();
    }
    if (kakao_emit_end(em) != 0) abort();
    const kakao_emit_stats *st = kakao_emit_get_stats(em);
    if (st->messages != st->used + st->dropped_system + st->dropped_deleted + st->dropped_media +
                            st->dropped_no_reply + st->dropped_no_prompt + st->dropped_length)
        abort();
    kakao_emitter_free(em);
    kakao_close(p);
    textin_close(in);
    return 0;
}
