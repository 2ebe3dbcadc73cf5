/* Message kinds from text, system notices, and the clock arithmetic shared
 * by the KakaoTalk parser. */
#include <string.h>

#include "kakao/kakao.h"

const char *kakao_kind_name(kakao_kind k)
{
    static const char *const names[] = {"text", "photo", "video", "emoticon", "file",
                                        "link", "voice", "deleted", "system"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "text";
}

static int eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

static int starts(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && memcmp(s, lit, m) == 0;
}

static int ends(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && memcmp(s + n - m, lit, m) == 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Whether s[0..n) is one or more digits. */
static int all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 4) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) return 0;
    return 1;
}

/* Whether s is WORD, "WORD N", "WORD N장", "WORD (N)", or "N WORD" for one
 * of the words (the counted forms of "사진 3장", "3 photos"). */
static int counted(const char *s, size_t n, const char *const *words)
{
    for (const char *const *w = words; *w; w++) {
        size_t m = strlen(*w);
        if (n >= m && memcmp(s, *w, m) == 0) {
            const char *r = s + m;
            size_t k = n - m;
            if (k == 0) return 1;
            if (r[0] != ' ') continue;
            r++, k--;
            if (ends(r, k, "장") && all_digits(r, k - strlen("장"))) return 1;
            if (k >= 3 && r[0] == '(' && r[k - 1] == ')' && all_digits(r + 1, k - 2)) return 1;
            if (all_digits(r, k)) return 1;
        }
        if (n > m + 1 && ends(s, n, *w) && s[n - m - 1] == ' ' && all_digits(s, n - m - 1))
            return 1;
    }
    return 0;
}

kakao_kind kakao_classify(const char *text, size_t len)
{
    static const char *const photo[] = {"사진", "Photo", "photo", "Photos", "photos", "Image",
                                        "image", "이미지", NULL};
    static const char *const video[] = {"동영상", "Video", "video", "Videos", "videos", NULL};
    static const char *const emoticon[] = {"이모티콘", "Emoticon", "emoticon", "Emoticons",
                                           "스티커", "Sticker", "sticker", NULL};
    static const char *const voice[] = {"음성메시지", "음성 메시지", "Voice Message",
                                        "Voice message", "voice message", "Voice Note",
                                        "Voice note", NULL};
    static const char *const deleted[] = {
        "삭제된 메시지입니다.",
        "메시지가 삭제되었습니다.",
        "This message has been deleted.",
        "The message has been deleted.",
        "This message was deleted.",
        "Message deleted.",
        "관리자가 메시지를 가렸습니다.",
        "채팅방 관리자가 메시지를 가렸습니다.",
        "가려진 메시지입니다.",
        "This message has been hidden by the admin.",
        "This message was hidden by the admin.",
        "Message hidden by the admin.",
        NULL,
    };
    const char *s = text;
    size_t n = len;
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
    if (n == 0 || n > 300) return KAKAO_TEXT;

    for (const char *const *d = deleted; *d; d++)
        if (eq(s, n, *d)) return KAKAO_DELETED;
    if (!memchr(s, '\n', n) && (starts(s, n, "http://") || starts(s, n, "https://")) &&
        !memchr(s, ' ', n) && n > 10)
        return KAKAO_LINK;
    if (starts(s, n, "파일: ") || starts(s, n, "File: ") || starts(s, n, "file: "))
        return memchr(s, '\n', n) ? KAKAO_TEXT : KAKAO_FILE;

    /* Placeholders stand alone, sometimes in <> or (). */
    if (n >= 2 && ((s[0] == '<' && s[n - 1] == '>') || (s[0] == '(' && s[n - 1] == ')'))) {
        s++;
        n -= 2;
        if (eq(s, n, "파일") || eq(s, n, "File")) return KAKAO_FILE;
        if (ends(s, n, " 읽지 않음")) n -= strlen(" 읽지 않음"); /* "<사진 읽지 않음>" */
    }
    if (counted(s, n, photo)) return KAKAO_PHOTO;
    if (counted(s, n, video)) return KAKAO_VIDEO;
    if (counted(s, n, emoticon)) return KAKAO_EMOTICON;
    for (const char *const *v = voice; *v; v++)
        if (eq(s, n, *v)) return KAKAO_VOICE;
    return KAKAO_TEXT;
}

int kakao_is_system_text(const char *s, size_t n)
{
    static const char *const ko_ends[] = {
        "들어왔습니다.", "나갔습니다.", "초대했습니다.", "초대하였습니다.",
        "내보냈습니다.", "방장이 되었습니다.", "방장이 되었어요.", "님을 초대했어요.",
        "님이 나갔어요.", "님이 들어왔어요.", NULL,
    };
    static const char *const en_ends[] = {
        " joined this chatroom.", " left this chatroom.", " has left this chatroom.",
        " has been removed from this chatroom.", " was removed from this chatroom.",
        " entered this chatroom.", " is now the host.", " is now the host of this chatroom.", " has been made the host.",
        " became the host.", NULL,
    };
    if (n == 0 || n > 300 || memchr(s, '\n', n)) return 0;
    for (const char *const *e = ko_ends; *e; e++)
        if (ends(s, n, *e) && memmem(s, n, "님", strlen("님"))) return 1;
    for (const char *const *e = en_ends; *e; e++)
        if (ends(s, n, *e) && n > strlen(*e)) return 1;
    /* "A invited B." / "A invited B and C." */
    const char *inv = memmem(s, n, " invited ", 9);
    if (inv && inv > s && s[n - 1] == '.') return 1;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

kakao_time kakao_make_time(int year, int month, int day, int hour, int min, int sec)
{
    return days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 + min * 60 +
           sec;
}

size_t kakao_format_time(kakao_time t, const char *tz, char *out, size_t outlen)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    size_t tzlen = strlen(tz);
    if (y < 0 || y > 9999 || outlen < 20 + tzlen) return 0;
    /* By hand: this runs once per message and snprintf would dominate. */
    char *o = out;
    unsigned yy = (unsigned)y;
    *o++ = (char)('0' + yy / 1000), *o++ = (char)('0' + yy / 100 % 10);
    *o++ = (char)('0' + yy / 10 % 10), *o++ = (char)('0' + yy % 10);
    unsigned fields[5] = {m, d, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                          (unsigned)(secs % 60)};
    static const char sep[5] = {'-', '-', 'T', ':', ':'};
    for (int i = 0; i < 5; i++) {
        *o++ = sep[i];
        *o++ = (char)('0' + fields[i] / 10);
        *o++ = (char)('0' + fields[i] % 10);
    }
    memcpy(o, tz, tzlen + 1);
    return (size_t)(o - out) + tzlen;
}
