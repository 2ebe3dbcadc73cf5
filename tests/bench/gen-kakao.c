/* gen-kakao: fast, deterministic generator of a synthetic KakaoTalk chat
 * export (Korean UI) for the kakao-parse benchmark (tests/bench/kakao-bench.sh).
 *
 *   gen-kakao --bytes N [--seed S] [--format android|windows|csv] [--stats]
 *
 * Writes one group chat to stdout until at least N bytes have been written
 * (the last message is completed).  The output depends only on the seed and
 * the format: for one seed and format, the output for a smaller N is a
 * prefix of the output for a larger N.
 *
 * android (default): UTF-8 with a BOM; CRLF ends every line except inside a
 * multi-line message, whose lines are joined by a bare LF:
 *
 *   대화방 님과 카카오톡 대화
 *   저장한 날짜 : 2024년 3월 3일 오후 9:10
 *   (empty)
 *   (empty)
 *   2024년 3월 1일 오후 2:37                      <- bare date line, each new day
 *   2024년 3월 1일 오후 2:37, 김하늘 : text          (after an empty line)
 *   2024년 3월 1일 오후 2:38, 김하늘님이 이도윤님을 초대했습니다.
 *
 * windows: PC export, CRLF everywhere (also between the lines of a message):
 *
 *   대화방 님과 카카오톡 대화
 *   저장한 날짜 : 2024-03-03 21:10:00
 *   (empty)
 *   --------------- 2024년 3월 1일 금요일 ---------------
 *   [김하늘] [오후 2:37] text
 *   김하늘님이 이도윤님을 초대했습니다.
 *
 * csv: "Date,User,Message", then 2024-03-01 14:37:05,"김하늘","text" with
 * RFC 4180 quoting (" doubled; LF inside quotes), CRLF after each record;
 * system lines carry the acting member as User.
 *
 * The chat: 9 made-up members, the export's owner written as 회원님 (about a
 * quarter of the messages; kakao-parse --me NAME maps the alias), starting
 * 2024-03-01 14:37 (+09:00), time advancing by 0 s to 12 h between messages
 * (mean about 4 minutes), 12-hour clock (오전 12:05 is 00:05).  Of the
 * messages about 3% have 2 to 5 lines (a few with an empty middle line), 2%
 * are system lines (invite, join, leave), 5% media placeholders (사진,
 * 사진 3장, <사진>, 이모티콘, 동영상, 삭제된 메시지입니다.), 1% a lone link;
 * texts mix Korean, English, ㅋㅋ and emoji, 2 to 200 bytes (mean about 40),
 * some with " and \, some with " : " inside.  No text line ever looks like a
 * message or date line, starts or ends with a space, or holds a CR.
 *
 * --stats prints the counts of what was written to stderr.
 *
 * C11, no dependencies: cc -std=c11 -O2 -o gen-kakao gen-kakao.c
 * Exit status: 0 ok, 2 usage error, 74 write error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_NAME "gen-kakao"
#define GEN_FORMAT_VERSION 1   /* bump when the output for a seed changes */
#include "gen-common.h"
#include "chat-words.h"

#define MSG_MAX   8192u         /* one message never takes more than this */

static char *op;                /* write position in outbuf */

static inline void put(const char *s, size_t n)
{
    memcpy(op, s, n);
    op += n;
}

#define PUTS(lit) put((lit), sizeof(lit) - 1)

static inline void put_str(const char *s)
{
    put(s, strlen(s));
}

static void put_uint(unsigned v)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *op++ = tmp[--n];
}

static void put_2d(unsigned v)
{
    *op++ = (char)('0' + v / 10 % 10);
    *op++ = (char)('0' + v % 10);
}

/* ---- members --------------------------------------------------------------- */

/* made-up names; 회원님 is how an Android export (Korean UI) names the owner */
static const char *const members[] = {
    "회원님", "김하늘", "이도윤", "박서연", "최지호", "오세린", "임준서",
    "윤채아", "Alex Cho", "수아🌷"
};
/* cumulative weights out of 1000 */
static const uint16_t member_cum[NELEM(members)] = {
    250, 400, 520, 620, 710, 790, 860, 920, 965, 1000
};
#define OWNER 0

/* ---- text (the words are in chat-words.h) ---------------------------------- */

/* rare tokens with JSON-significant characters or a " : " inside */
static const char *const special[] = {
    "\"진짜?\"", "\"ok\"", "\"회의실 B\"", "C:\\Users\\share\\보고서.pdf",
    "¯\\_(ツ)_/¯", "\\n", "a\\b", "장소 : 강남역", "시간 : 7시", "참고 : \"v2\""
};

static const char *const links[] = {
    "https://example.com/", "https://example.org/share/", "https://www.example.net/p/"
};

static const char *const sys_invite = "님이 ";
static const char *const sys_invite2 = "님을 초대했습니다.";
static const char *const sys_join = "님이 들어왔습니다.";
static const char *const sys_leave = "님이 나갔습니다.";

static unsigned char ko_len[NELEM(ko_words)], en_len[NELEM(en_words)],
                     emoji_len[NELEM(emoji)], special_len[NELEM(special)];

static void init_tables(void)
{
    size_t i;
    for (i = 0; i < NELEM(ko_words); i++) ko_len[i] = (unsigned char)strlen(ko_words[i]);
    for (i = 0; i < NELEM(en_words); i++) en_len[i] = (unsigned char)strlen(en_words[i]);
    for (i = 0; i < NELEM(emoji); i++)    emoji_len[i] = (unsigned char)strlen(emoji[i]);
    for (i = 0; i < NELEM(special); i++)  special_len[i] = (unsigned char)strlen(special[i]);
}

/* uniform in [0, n) from 16 random bits x (n <= 1000; the bias is small) */
#define SLICE(x, n) ((uint32_t)((((x) & 0xFFFFu) * (uint32_t)(n)) >> 16))

enum lang { LANG_KO, LANG_EN, LANG_MIXED };

/* one token (no spaces at its ends) at w, at most 64 bytes; returns its length */
static size_t make_token(char *w, enum lang lang)
{
    uint64_t x = rnd();                 /* four 16-bit slices */
    uint32_t r = SLICE(x, 1000), i;
    const char *s;
    size_t n;
    int korean;

    if (r < 4) {                        /* 0.4%: " \ or " : " */
        i = SLICE(x >> 16, NELEM(special));
        memcpy(w, special[i], special_len[i]);
        return special_len[i];
    }
    if (r < 40) {                       /* 3.6%: an emoji */
        i = SLICE(x >> 16, NELEM(emoji));
        memcpy(w, emoji[i], emoji_len[i]);
        return emoji_len[i];
    }
    r = SLICE(x >> 16, 100);
    switch (lang) {
    case LANG_KO: korean = r < 92; break;
    case LANG_EN: korean = r < 5;  break;
    default:      korean = r < 55; break;
    }
    if (korean) {
        i = SLICE(x >> 32, NELEM(ko_words));
        s = ko_words[i];
        n = ko_len[i];
    } else {
        i = SLICE(x >> 32, NELEM(en_words));
        s = en_words[i];
        n = en_len[i];
    }
    memcpy(w, s, n);
    r = SLICE(x >> 48, 100);
    if (r < 5)       w[n++] = '.';
    else if (r < 8)  w[n++] = ',';
    else if (r < 12) w[n++] = '?';
    else if (r < 14) w[n++] = '!';
    else if (r < 15) { memcpy(w + n, "...", 3); n += 3; }
    else if (r < 16) { memcpy(w + n, "~~", 2); n += 2; }
    return n;
}

/* one line of text of about `target` bytes (at most `cap`, at least one
 * token), no leading or trailing space; returns its length */
static size_t make_line(char *t, size_t target, size_t cap, enum lang lang)
{
    char tok[72];
    size_t len = 0, n;
    for (;;) {
        n = make_token(tok, lang);
        if (len == 0) {
            memcpy(t, tok, n);
            len = n;
        } else {
            if (len + 1 + n > cap || len + 1 + n > target + 8)
                break;
            t[len++] = ' ';
            memcpy(t + len, tok, n);
            len += n;
        }
        if (len >= target)
            break;
    }
    return len;
}

static enum lang pick_lang(void)
{
    uint32_t r = rnd_below(100);
    return r < 72 ? LANG_KO : r < 85 ? LANG_EN : LANG_MIXED;
}

/* ---- time ---------------------------------------------------------------- */

/* days since 1970-01-01 -> civil date (H. Hinnant's algorithm) */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static const char *const weekday_ko[7] = {   /* 1970-01-01 was a Thursday */
    "목요일", "금요일", "토요일", "일요일", "월요일", "화요일", "수요일"
};

static int64_t cur_day;         /* days since 1970-01-01, local clock */
static uint32_t cur_sec;        /* seconds into the day */
static int cur_y;
static unsigned cur_mo, cur_d;

static void advance_time(void)
{
    uint32_t r = rnd_below(1000), dt;
    if (r < 750)      dt = rnd_below(61);                 /* a burst */
    else if (r < 970) dt = 60 + rnd_below(541);           /* 1 to 10 min */
    else if (r < 997) dt = 600 + rnd_below(3001);         /* 10 to 60 min */
    else              dt = 3600 + rnd_below(39601);       /* 1 to 12 h */
    cur_sec += dt;
    while (cur_sec >= 86400) {
        cur_sec -= 86400;
        cur_day++;
    }
}

/* "2024년 3월 1일" */
static void put_date_ko(void)
{
    put_uint((unsigned)cur_y);
    PUTS("년 ");
    put_uint(cur_mo);
    PUTS("월 ");
    put_uint(cur_d);
    PUTS("일");
}

/* "오후 2:37", 12-hour clock: 00:05 is 오전 12:05, 12:30 is 오후 12:30 */
static void put_clock_ko(void)
{
    unsigned h = cur_sec / 3600, mi = cur_sec / 60 % 60;
    if (h < 12) PUTS("오전 ");
    else        PUTS("오후 ");
    put_uint(h % 12 == 0 ? 12 : h % 12);
    *op++ = ':';
    put_2d(mi);
}

/* "2024-03-01 14:37:05" */
static void put_iso_local(void)
{
    put_uint((unsigned)cur_y);
    *op++ = '-';
    put_2d(cur_mo);
    *op++ = '-';
    put_2d(cur_d);
    *op++ = ' ';
    put_2d(cur_sec / 3600);
    *op++ = ':';
    put_2d(cur_sec / 60 % 60);
    *op++ = ':';
    put_2d(cur_sec % 60);
}

/* ---- formats ------------------------------------------------------------- */

enum fmt { FMT_ANDROID, FMT_WINDOWS, FMT_CSV };

static void put_header(enum fmt f)
{
    PUTS("\xEF\xBB\xBF");
    switch (f) {
    case FMT_ANDROID:
        PUTS("대화방 님과 카카오톡 대화\r\n"
             "저장한 날짜 : 2024년 3월 3일 오후 9:10\r\n"
             "\r\n");      /* the first day's separator adds the second */
        break;
    case FMT_WINDOWS:
        PUTS("대화방 님과 카카오톡 대화\r\n"
             "저장한 날짜 : 2024-03-03 21:10:00\r\n"
             "\r\n");
        break;
    case FMT_CSV:
        PUTS("Date,User,Message\r\n");
        break;
    }
}

/* the line(s) that start a new day */
static void put_day(enum fmt f)
{
    switch (f) {
    case FMT_ANDROID:
        PUTS("\r\n");
        put_date_ko();
        *op++ = ' ';
        put_clock_ko();
        PUTS("\r\n");
        break;
    case FMT_WINDOWS:
        PUTS("--------------- ");
        put_date_ko();
        *op++ = ' ';
        put_str(weekday_ko[((cur_day % 7) + 7) % 7]);
        PUTS(" ---------------\r\n");
        break;
    case FMT_CSV:
        break;
    }
}

/* text t (lines joined by LF) as the body of a record */
static void put_body(enum fmt f, const char *t, size_t n)
{
    size_t i;
    switch (f) {
    case FMT_ANDROID:
        put(t, n);
        break;
    case FMT_WINDOWS:
        for (i = 0; i < n; i++) {
            if (t[i] == '\n')
                *op++ = '\r';
            *op++ = t[i];
        }
        break;
    case FMT_CSV:
        *op++ = '"';
        for (i = 0; i < n; i++) {
            if (t[i] == '"')
                *op++ = '"';
            *op++ = t[i];
        }
        *op++ = '"';
        break;
    }
}

/* a message of member m */
static void put_message(enum fmt f, unsigned m, const char *t, size_t n)
{
    switch (f) {
    case FMT_ANDROID:
        put_date_ko();
        *op++ = ' ';
        put_clock_ko();
        PUTS(", ");
        put_str(members[m]);
        PUTS(" : ");
        break;
    case FMT_WINDOWS:
        *op++ = '[';
        put_str(members[m]);
        PUTS("] [");
        put_clock_ko();
        PUTS("] ");
        break;
    case FMT_CSV:
        put_iso_local();
        PUTS(",\"");
        put_str(members[m]);
        PUTS("\",");
        break;
    }
    put_body(f, t, n);
    PUTS("\r\n");
}

/* a system line; actor a does it */
static void put_system(enum fmt f, unsigned a, const char *t, size_t n)
{
    switch (f) {
    case FMT_ANDROID:
        put_date_ko();
        *op++ = ' ';
        put_clock_ko();
        PUTS(", ");
        break;
    case FMT_WINDOWS:
        break;
    case FMT_CSV:
        put_iso_local();
        PUTS(",\"");
        put_str(members[a]);
        PUTS("\",");
        break;
    }
    put_body(f, t, n);
    PUTS("\r\n");
}

/* ---- the chat ------------------------------------------------------------ */

static struct {
    unsigned long long messages, owner, system, placeholders, links,
                       multiline, quotes, days;
} st;

static unsigned pick_member(unsigned prev)
{
    uint32_t r = rnd_below(1000);
    unsigned i;
    if (r < 350)
        return prev;                    /* people send bursts */
    r = rnd_below(1000);
    for (i = 0; i + 1 < NELEM(members) && r >= member_cum[i]; i++)
        ;
    return i;
}

/* a member other than the owner and other than `not` */
static unsigned pick_other(unsigned not)
{
    unsigned m;
    do
        m = 1 + rnd_below((uint32_t)NELEM(members) - 1);
    while (m == not);
    return m;
}

static const char *const placeholders[] = {
    "사진", "사진", "사진", "<사진>", "이모티콘", "이모티콘", "이모티콘",
    "동영상", "삭제된 메시지입니다."
};

static char txt[4096];

/* text of a normal message into txt; returns its length */
static size_t make_text(void)
{
    enum lang lang = pick_lang();
    double u = rnd_unit();
    size_t target = 2 + (size_t)(186.0 * u * u * u * u), n;

    if (rnd_below(1000) < 30) {         /* 3%: 2 to 5 lines */
        uint32_t k = 2 + rnd_below(4), j;
        n = 0;
        for (j = 0; j < k; j++) {
            if (j) {
                txt[n++] = '\n';
                if (j + 1 < k && rnd_below(10) == 0)
                    txt[n++] = '\n';    /* an empty line between two */
            }
            u = rnd_unit();
            n += make_line(txt + n, 2 + (size_t)(78.0 * u * u), 80, lang);
        }
        st.multiline++;
        return n;
    }
    return make_line(txt, target, 200, lang);
}

static int has_quote(const char *t, size_t n)
{
    return memchr(t, '"', n) != NULL || memchr(t, '\\', n) != NULL;
}

/* one record (message or system line) */
static void gen_one(enum fmt f, unsigned *prev)
{
    uint32_t r = rnd_below(1000);
    size_t n;
    int64_t day0 = cur_day;

    if (st.days)                        /* the first one is at 14:37:05 */
        advance_time();
    if (cur_day != day0 || st.days == 0) {
        civil_from_days(cur_day, &cur_y, &cur_mo, &cur_d);
        put_day(f);
        st.days++;
    }

    if (r < 20) {                       /* 2%: a system line */
        unsigned a = pick_other(0), b;
        uint32_t s = rnd_below(10);
        n = strlen(members[a]);
        memcpy(txt, members[a], n);
        if (s < 5) {
            b = pick_other(a);
            n += (size_t)sprintf(txt + n, "%s%s%s", sys_invite, members[b], sys_invite2);
        } else if (s < 8) {
            n += (size_t)sprintf(txt + n, "%s", sys_join);
        } else {
            n += (size_t)sprintf(txt + n, "%s", sys_leave);
        }
        put_system(f, a, txt, n);
        st.system++;
        return;
    }

    *prev = pick_member(*prev);
    if (r < 70) {                       /* 5%: a media placeholder */
        uint32_t i = rnd_below((uint32_t)NELEM(placeholders) + 2);
        if (i < NELEM(placeholders))
            n = (size_t)sprintf(txt, "%s", placeholders[i]);
        else
            n = (size_t)sprintf(txt, "사진 %u장", 2 + rnd_below(29));
        st.placeholders++;
    } else if (r < 80) {                /* 1%: a link */
        uint32_t i = rnd_below((uint32_t)NELEM(links));
        n = (size_t)sprintf(txt, "%s%08llx", links[i], (unsigned long long)(rnd() >> 32));
        st.links++;
    } else {
        n = make_text();
        if (has_quote(txt, n))
            st.quotes++;
    }
    put_message(f, *prev, txt, n);
    st.messages++;
    if (*prev == OWNER)
        st.owner++;
}

/* ---- options ------------------------------------------------------------- */

static void usage(FILE *fp)
{
    fputs("Usage: gen-kakao --bytes N [--seed S] [--format android|windows|csv] [--stats]\n"
          "Write a synthetic KakaoTalk chat export (Korean UI) to stdout until at\n"
          "least N bytes.\n"
          "\n"
          "  --bytes N     output size; K, M, G, T suffixes (powers of 1024)\n"
          "  --seed S      PRNG seed, an unsigned decimal integer (default 0)\n"
          "  --format F    android (default), windows or csv\n"
          "  --stats       print counts of what was written to stderr\n"
          "  --help        show this help and exit\n"
          "  --version     show the version and exit\n", fp);
}

int main(int argc, char **argv)
{
    static const char *const fmt_names[] = { "android", "windows", "csv" };
    enum fmt f = FMT_ANDROID;
    unsigned prev = 1;

    gen_options opt;
    gen_parse_options(argc, argv, GEN_OPT_STATS | GEN_OPT_FORMAT, usage, &opt);
    const unsigned long long bytes = opt.bytes;
    if (opt.format) {
        unsigned k = 0;
        while (k < NELEM(fmt_names) && strcmp(opt.format, fmt_names[k]) != 0) k++;
        if (k == NELEM(fmt_names)) die_usage("unknown format '%s' (android, windows or csv)", opt.format);
        f = (enum fmt)k;
    }

    init_tables();
    rng_state = opt.seed ^ 0x4B414B414F2D3031ULL;
    cur_day = 19783;                    /* 2024-03-01 */
    cur_sec = 14 * 3600 + 37 * 60 + 5;  /* 14:37:05 */

    op = outbuf;
    put_header(f);
    outlen = (size_t)(op - outbuf);
    while (total_written + outlen < bytes) {
        if (OUT_CAP - outlen < MSG_MAX)
            flush_out();
        op = outbuf + outlen;
        gen_one(f, &prev);
        outlen = (size_t)(op - outbuf);
    }
    flush_out();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gen-kakao: write error: %s\n", strerror(errno));
        return 74;
    }
    if (opt.stats)
        fprintf(stderr, "gen-kakao: format=%s bytes=%llu messages=%llu owner=%llu "
                "system=%llu placeholders=%llu links=%llu multiline=%llu "
                "quotes=%llu days=%llu last=%04d-%02u-%02u\n",
                fmt_names[f], total_written, st.messages, st.owner, st.system,
                st.placeholders, st.links, st.multiline, st.quotes, st.days,
                cur_y, cur_mo, cur_d);
    return 0;
}
