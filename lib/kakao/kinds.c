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

static int eqn(const char *s, size_t n, const char *lit, size_t m)
{
    return n == m && memcmp(s, lit, m) == 0;
}

static int endsn(const char *s, size_t n, const char *lit, size_t m)
{
    return n >= m && memcmp(s + n - m, lit, m) == 0;
}

/* For literals, whose lengths are known when compiling. */
#define eq(s, n, lit) eqn((s), (n), (lit), sizeof(lit) - 1)
#define starts(s, n, lit) ((n) >= sizeof(lit) - 1 && memcmp((s), (lit), sizeof(lit) - 1) == 0)
#define ends(s, n, lit) endsn((s), (n), (lit), sizeof(lit) - 1)

/* A string with its length, for the tables below. */
typedef struct {
    const char *s;
    size_t n;
} word;
#define W(lit) {(lit), sizeof(lit) - 1}

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
static int counted(const char *s, size_t n, const word *words)
{
    for (const word *w = words; w->s; w++) {
        size_t m = w->n;
        if (n >= m && s[0] == w->s[0] && memcmp(s, w->s, m) == 0) {
            const char *r = s + m;
            size_t k = n - m;
            if (k == 0) return 1;
            if (r[0] != ' ') continue;
            r++, k--;
            if (ends(r, k, "장") && all_digits(r, k - strlen("장"))) return 1;
            if (k >= 3 && r[0] == '(' && r[k - 1] == ')' && all_digits(r + 1, k - 2)) return 1;
            if (all_digits(r, k)) return 1;
        }
        if (is_digit(s[0]) && n > m + 1 && endsn(s, n, w->s, m) && s[n - m - 1] == ' ' &&
            all_digits(s, n - m - 1))
            return 1;
    }
    return 0;
}

kakao_kind kakao_classify(const char *text, size_t len)
{
    static const word photo[] = {W("사진"), W("Photo"), W("photo"), W("Photos"), W("photos"), W("Image"),
                                        W("image"), W("이미지"), {NULL, 0}};
    static const word video[] = {W("동영상"), W("Video"), W("video"), W("Videos"), W("videos"), {NULL, 0}};
    static const word emoticon[] = {W("이모티콘"), W("Emoticon"), W("emoticon"), W("Emoticons"),
                                           W("스티커"), W("Sticker"), W("sticker"), {NULL, 0}};
    static const word voice[] = {W("음성메시지"), W("음성 메시지"), W("Voice Message"),
                                        W("Voice message"), W("voice message"), W("Voice Note"),
                                        W("Voice note"), {NULL, 0}};
    static const word deleted[] = {
        W("삭제된 메시지입니다."),
        W("메시지가 삭제되었습니다."),
        W("This message has been deleted."),
        W("The message has been deleted."),
        W("This message was deleted."),
        W("Message deleted."),
        W("관리자가 메시지를 가렸습니다."),
        W("채팅방 관리자가 메시지를 가렸습니다."),
        W("가려진 메시지입니다."),
        W("This message has been hidden by the admin."),
        W("This message was hidden by the admin."),
        W("Message hidden by the admin."),
        {NULL, 0},
    };
    const char *s = text;
    size_t n = len;
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
    if (n == 0 || n > 300) return KAKAO_TEXT;
    /* Placeholders are short; only links and file names run longer. */
    if (n > 64 && s[0] != 'h' && s[0] != (char)0xED && s[0] != 'F' && s[0] != 'f')
        return KAKAO_TEXT;

    for (const word *d = deleted; d->s; d++)
        if (eqn(s, n, d->s, d->n)) return KAKAO_DELETED;
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
    if (n > 24) return KAKAO_TEXT; /* longer than any placeholder below */
    if (counted(s, n, photo)) return KAKAO_PHOTO;
    if (counted(s, n, video)) return KAKAO_VIDEO;
    if (counted(s, n, emoticon)) return KAKAO_EMOTICON;
    for (const word *v = voice; v->s; v++)
        if (eqn(s, n, v->s, v->n)) return KAKAO_VOICE;
    return KAKAO_TEXT;
}

int kakao_is_system_text(const char *s, size_t n)
{
    static const word ko_ends[] = {
        W("들어왔습니다."), W("나갔습니다."), W("초대했습니다."), W("초대하였습니다."),
        W("내보냈습니다."), W("방장이 되었습니다."), W("방장이 되었어요."), W("님을 초대했어요."),
        W("님이 나갔어요."), W("님이 들어왔어요."), {NULL, 0},
    };
    static const word en_ends[] = {
        W(" joined this chatroom."), W(" left this chatroom."), W(" has left this chatroom."),
        W(" has been removed from this chatroom."), W(" was removed from this chatroom."),
        W(" entered this chatroom."), W(" is now the host."), W(" is now the host of this chatroom."), W(" has been made the host."),
        W(" became the host."), {NULL, 0},
    };
    if (n == 0 || n > 300 || memchr(s, '\n', n)) return 0;
    for (const word *e = ko_ends; e->s; e++)
        if (endsn(s, n, e->s, e->n) && memmem(s, n, "님", strlen("님"))) return 1;
    for (const word *e = en_ends; e->s; e++)
        if (endsn(s, n, e->s, e->n) && n > e->n) return 1;
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
