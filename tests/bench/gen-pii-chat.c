/* gen-pii-chat: fast, deterministic generator of chat-message JSONL with
 * personal data in it, for the pii-mask benchmark (tests/bench/pii-bench.sh).
 *
 *   gen-pii-chat --bytes N [--seed S] [--stats]
 *
 * Writes records until at least N bytes have been written (the last record
 * is completed), one per line, exactly as kakao-parse --emit messages writes
 * them:
 *
 *   {"chat":"등산 모임","i":0,"ts":"2024-03-01T14:37:00+09:00","speaker":"김민준",
 *    "text":"지영아 내일 몇 시에 와?","kind":"text","src":{"file":"talk-0001.txt","line":6}}
 *
 * The output depends only on the seed; the output for a smaller N is a
 * prefix of the output for a larger N.
 *
 * The data: one chat after another (200 to 3000 messages each), each with a
 * group title, its own file name (talk-0001.txt, ...), i from 0 and line
 * numbers as in an Android export, and 3 to 8 members with made-up names:
 * mostly surname + two syllables (김민준), a few surname + one syllable
 * (김현), compound surnames (남궁민수, 독고준) and romanised names (Daniel Kim);
 * in 40% of the chats one member is the export's owner, written 회원님 (an
 * alias, not a name).  Time moves forward 0 s to 12 h between messages.
 *
 * Of the messages 2% are system lines (speaker "", "김민준님이 이서연님을
 * 초대했습니다."), 5% media placeholders (kind photo, emoticon, video,
 * deleted), 1% a lone link (kind link); the rest are text: Korean, English
 * or mixed words, ㅋㅋ and emoji, some with " and \, 3% with several lines.
 * About 9% of the text messages name another member, by given name with a
 * particle (지영아, 민준이가, 서연씨, 도윤이랑, 하준한테) or by full name
 * (김민준님, @김민준; romanised names only in full).  About 3% of all messages
 * hold one item of personal data, each a kind pii-mask finds by default:
 *
 *   phone     010-1234-5678, 01012345678, 010 1234 5678, 010.1234.5678,
 *             02-123-4567, 031-1234-5678, 070-..., +82 10-..., +82-10-...,
 *             +821012345678, 1588-1234
 *   email     minsu.kim92@naver.com
 *   rrn/frn   YYMMDD-GNNNNNN, a real date, G 1-4 (rrn) or 5-8 (frn)
 *   card      16 digits, Luhn-valid, 4-4-4-4 with - or a space, or bare
 *   account   123456-01-234567, 110-123-456789, ... next to 계좌, 입금,
 *             송금 or a bank's name (within a few characters)
 *   address   [province] 시/군/구 road(로/길) number: 서울특별시 강남구 테헤란로 123
 *   ip        192.168.0.12, 10.0.3.7, public IPv4; IPv6 2001:db8::1 forms
 *   brn       사업자등록번호 123-45-67890 (valid check digit)
 *   passport  여권번호 M12345678 or M123A4567
 *   driver    운전면허 11-23-456789-01 (region 11-26, 28)
 *
 * About 6% of the text messages without personal data hold look-alikes that
 * are not personal data: times (14:30), prices (12,000원, 3만원), dates
 * (2024-03-01, 2024.03.01, 3/15), versions (v2.3.1, 3.11.4), counts, floors,
 * room numbers, 6-digit codes, postcodes, and a few 16-digit order numbers
 * that fail the Luhn check.  No given name of the pool occurs inside the
 * vocabulary or the templates, so names appear only where they are meant to.
 *
 * --stats prints the counts of what was written to stderr, among them
 * names= (every name written: speakers, mentions, names in system lines)
 * and one count per kind of personal data.
 *
 * C11, no dependencies: cc -std=c11 -O2 -o gen-pii-chat gen-pii-chat.c
 * Exit status: 0 ok, 2 usage error, 74 write error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_NAME "gen-pii-chat"
#define GEN_FORMAT_VERSION 1   /* bump when the output for a seed changes */
#include "gen-common.h"
#include "chat-words.h"

#define REC_MAX 8192u           /* one record never takes more than this */

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

static void put_uint(unsigned long long v)
{
    char tmp[24];
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

/* a JSON string (quotes included); escapes as kakao-parse does */
static void put_json(const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    *op++ = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *op++ = '\\';
            *op++ = (char)c;
        } else if (c == '\n') {
            *op++ = '\\';
            *op++ = 'n';
        } else if (c < 0x20) {
            memcpy(op, "\\u00", 4);
            op[4] = hex[c >> 4];
            op[5] = hex[c & 15];
            op += 6;
        } else {
            *op++ = (char)c;
        }
    }
    *op++ = '"';
}

/* ---- a text buffer --------------------------------------------------------- */

static char txt[4096];
static size_t tn;

static void t_put(const char *s, size_t n)
{
    memcpy(txt + tn, s, n);
    tn += n;
}

static void t_str(const char *s)
{
    t_put(s, strlen(s));
}

static void t_ch(char c)
{
    txt[tn++] = c;
}

/* n random decimal digits; the first one nonzero when nz */
static void t_digits(unsigned n, int nz)
{
    unsigned i;
    for (i = 0; i < n; i++)
        t_ch((char)('0' + (i == 0 && nz ? 1 + rnd_below(9) : rnd_below(10))));
}

static void t_uint(unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", v);
    t_put(tmp, (size_t)n);
}

static void t_2d(unsigned v)
{
    t_ch((char)('0' + v / 10 % 10));
    t_ch((char)('0' + v % 10));
}

#define PICK(a) ((a)[rnd_below((uint32_t)NELEM(a))])

/* ---- words (chat-words.h, plus these) ---------------------------------- */

/* rare tokens with JSON-significant characters */
static const char *const special[] = {
    "\"진짜?\"", "\"ok\"", "\"회의실 B\"", "C:\\Users\\share\\보고서.pdf",
    "¯\\_(ツ)_/¯", "\\n", "a\\b", "장소 : 강남역", "참고 : \"v2\""
};

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

    if (r < 4) {                        /* 0.4%: " or \ */
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

/* words of about `target` bytes (at most `cap`, at least one token) appended
 * to txt, no space at either end */
static void t_line(size_t target, size_t cap, enum lang lang)
{
    char tok[72];
    size_t len = 0, n;
    for (;;) {
        n = make_token(tok, lang);
        if (len == 0) {
            t_put(tok, n);
            len = n;
        } else {
            if (len + 1 + n > cap || len + 1 + n > target + 8)
                break;
            t_ch(' ');
            t_put(tok, n);
            len += 1 + n;
        }
        if (len >= target)
            break;
    }
}

static enum lang pick_lang(void)
{
    uint32_t r = rnd_below(100);
    return r < 72 ? LANG_KO : r < 85 ? LANG_EN : LANG_MIXED;
}

/* ---- names --------------------------------------------------------------- */

/* single-syllable surnames, repeated roughly by frequency */
static const char *const surnames[] = {
    "김", "김", "김", "김", "김", "김", "김", "김", "김", "김", "김",
    "이", "이", "이", "이", "이", "이", "이", "이",
    "박", "박", "박", "박", "박", "최", "최", "최", "정", "정", "정",
    "강", "강", "조", "조", "윤", "윤", "장", "장", "임", "임",
    "한", "오", "서", "신", "권", "황", "안", "송", "전", "홍", "유",
    "고", "문", "양", "손", "배", "백", "허", "남", "노", "하", "곽",
    "성", "차", "주", "우", "구", "민", "진"
};

static const char *const compound_surnames[] = {
    "남궁", "선우", "제갈", "황보", "독고", "사공"
};

/* two-syllable given names; none occurs inside a word of the vocabulary or
 * the templates, nor inside a name with a particle after it */
static const char *const given2[] = {
    "민준", "서준", "도윤", "예준", "시우", "하준", "주원", "지호", "지후",
    "준우", "준서", "건우", "현우", "우진", "서진", "연우", "유준", "정우",
    "승우", "승현", "시윤", "준혁", "지환", "승민", "유찬", "민성", "준영",
    "시후", "진우", "지훈", "민재", "현준", "서연", "서윤", "지우", "서현",
    "민서", "하윤", "윤서", "지유", "지민", "채원", "수아", "지아", "지윤",
    "다은", "예은", "수빈", "소율", "예린", "하린", "소윤", "채은", "유나",
    "민지", "수민", "지영", "민수", "영희", "철수", "영호", "미영", "혜진",
    "현정", "상훈", "성민", "동현", "태현", "나연", "다인", "세린", "채아",
    "하늘", "보람", "슬기", "한결", "가람", "재민", "태윤", "도현"
};

static const char *const given1[] = { "현", "준", "솔", "혁", "빈", "결" };

static const char *const latin_names[] = {
    "Daniel Kim", "Emily Park", "Chris Lee", "Sophie Choi", "Alex Cho",
    "Grace Jung", "Kevin Han", "Olivia Yoon"
};

#define ALIAS "회원님"

enum nkind { NK_GIVEN, NK_FULL, NK_LATIN, NK_ALIAS };

struct member {
    char name[40];
    char given[16];             /* "" when the given name is one syllable */
    int kind;
    int batchim;                /* the given name ends in a consonant */
    unsigned weight;
};

/* does the last syllable of s (UTF-8 Hangul) have a final consonant? */
static int has_batchim(const char *s)
{
    size_t n = strlen(s);
    unsigned cp;
    if (n < 3)
        return 0;
    s += n - 3;
    cp = ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (unsigned)(s[2] & 0x3F);
    return cp >= 0xAC00 && cp <= 0xD7A3 && (cp - 0xAC00) % 28 != 0;
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

/* ---- the chat ------------------------------------------------------------ */

static const char *const titles[] = {
    "등산 모임", "3학년 2반", "마케팅팀", "우리 가족", "스터디", "동기방",
    "풋살 멤버", "여행 준비", "개발팀 잡담", "맛집 탐방", "독서 모임",
    "육아 정보방", "동아리 OB", "프로젝트 A", "주말 러닝", "캠핑 가자",
    "Team Alpha", "book club", "이사 준비", "결혼식 준비"
};

#define MAX_MEMBERS 8

static struct {
    unsigned id;                /* 1, 2, ... */
    const char *title;
    int n;
    struct member m[MAX_MEMBERS];
    unsigned wsum;
    unsigned long long left;    /* messages still to write */
    unsigned long long i;
    unsigned long long line;
    int64_t day;                /* days since 1970-01-01, local clock */
    uint32_t sec;               /* seconds into the day */
    int y;
    unsigned mo, d;
    int prev;
    int first;
} ch;

static struct {
    unsigned long long records, chats, members, text, system, placeholders,
                       links, multiline, quotes, mentions, names, pii,
                       negatives, luhn_bad;
    unsigned long long phone, email, rrn, frn, card, account, address, ip,
                       brn, passport, driver;
} st;

static int name_taken(int upto, const char *name, const char *given)
{
    int j;
    for (j = 0; j < upto; j++) {
        if (!strcmp(ch.m[j].name, name))
            return 1;
        if (given[0] && !strcmp(ch.m[j].given, given))
            return 1;
    }
    return 0;
}

static void make_member(int k)
{
    struct member *p = &ch.m[k];
    for (;;) {
        uint32_t r = rnd_below(1000);
        char name[40], given[16] = "";
        int kind;
        if (r < 930) {                  /* 김민준 */
            snprintf(given, sizeof given, "%s", PICK(given2));
            snprintf(name, sizeof name, "%s%s", PICK(surnames), given);
            kind = NK_GIVEN;
        } else if (r < 960) {           /* 김현 */
            snprintf(name, sizeof name, "%s%s", PICK(surnames), PICK(given1));
            kind = NK_FULL;
        } else if (r < 975) {           /* 남궁민수 */
            snprintf(given, sizeof given, "%s", PICK(given2));
            snprintf(name, sizeof name, "%s%s", PICK(compound_surnames), given);
            kind = NK_GIVEN;
        } else if (r < 980) {           /* 독고준 */
            snprintf(name, sizeof name, "%s%s", PICK(compound_surnames), PICK(given1));
            kind = NK_FULL;
        } else {                        /* Daniel Kim, at most one a chat */
            int j, latin = 0;
            for (j = 0; j < k; j++)
                latin |= ch.m[j].kind == NK_LATIN;
            if (latin)
                continue;
            snprintf(name, sizeof name, "%s", PICK(latin_names));
            kind = NK_LATIN;
        }
        if (name_taken(k, name, given))
            continue;
        memcpy(p->name, name, sizeof name);
        memcpy(p->given, given, sizeof given);
        p->kind = kind;
        p->batchim = given[0] ? has_batchim(given) : 0;
        p->weight = 1 + rnd_below(12);
        return;
    }
}

static void new_chat(void)
{
    int k = 0;
    ch.id++;
    ch.title = PICK(titles);
    ch.n = 3 + (int)rnd_below(6);
    if (rnd_below(100) < 40) {          /* the export's owner */
        memset(&ch.m[0], 0, sizeof ch.m[0]);
        snprintf(ch.m[0].name, sizeof ch.m[0].name, "%s", ALIAS);
        ch.m[0].kind = NK_ALIAS;
        ch.m[0].weight = 8 + rnd_below(8);
        k = 1;
    }
    for (; k < ch.n; k++)
        make_member(k);
    ch.wsum = 0;
    for (k = 0; k < ch.n; k++)
        ch.wsum += ch.m[k].weight;
    ch.left = 200 + rnd_below(2801);
    ch.i = 0;
    ch.line = 4;                        /* title, 저장한 날짜, two empty lines */
    ch.day = 19358 + rnd_below(540);    /* 2023-01-01 and on */
    ch.sec = 8 * 3600 + rnd_below(14 * 3600);
    ch.prev = -1;
    ch.first = 1;
    st.chats++;
    st.members += (unsigned long long)ch.n;
}

static void advance_time(void)
{
    uint32_t r = rnd_below(1000), dt;
    if (r < 750)      dt = rnd_below(61);                 /* a burst */
    else if (r < 970) dt = 60 + rnd_below(541);           /* 1 to 10 min */
    else if (r < 997) dt = 600 + rnd_below(3001);         /* 10 to 60 min */
    else              dt = 3600 + rnd_below(39601);       /* 1 to 12 h */
    ch.sec += dt;
    while (ch.sec >= 86400) {
        ch.sec -= 86400;
        ch.day++;
    }
}

static int pick_member(void)
{
    uint32_t r;
    int k;
    if (ch.prev >= 0 && rnd_below(1000) < 350)
        return ch.prev;                 /* people send bursts */
    r = rnd_below(ch.wsum);
    for (k = 0; k + 1 < ch.n && r >= ch.m[k].weight; k++)
        r -= ch.m[k].weight;
    return k;
}

/* a member other than `not` that has a name (not the alias); -1 if none */
static int pick_named(int not, int korean_only)
{
    int cand[MAX_MEMBERS], c = 0, k;
    for (k = 0; k < ch.n; k++)
        if (k != not && ch.m[k].kind != NK_ALIAS &&
            !(korean_only && ch.m[k].kind == NK_LATIN))
            cand[c++] = k;
    return c ? cand[rnd_below((uint32_t)c)] : -1;
}

/* ---- mentions ------------------------------------------------------------ */

/* another member named in a message: given name + particle, or the full name */
static void t_mention(int who, int vocative)
{
    const struct member *p = &ch.m[who];
    st.mentions++;
    st.names++;
    if (p->kind == NK_LATIN) {
        t_str(p->name);
        if (vocative)
            t_ch(rnd_below(2) ? ',' : '!');
        else
            t_str(rnd_below(2) ? " 님" : " 씨");
        return;
    }
    if (p->kind == NK_FULL || rnd_below(100) < 12) {
        uint32_t r = rnd_below(4);
        if (r == 0 && vocative) {
            t_ch('@');
            t_str(p->name);
        } else {
            t_str(p->name);
            t_str(r < 2 ? "님" : r == 2 ? "씨" : " 님");
        }
        return;
    }
    t_str(p->given);
    if (vocative) {
        t_str(p->batchim ? "아" : "야");
        return;
    }
    switch (rnd_below(8)) {
    case 0: t_str(p->batchim ? "이가" : "가"); break;
    case 1: t_str(p->batchim ? "이는" : "는"); break;
    case 2: t_str("씨"); break;
    case 3: t_str("님"); break;
    case 4: t_str(p->batchim ? "이한테" : "한테"); break;
    case 5: t_str(p->batchim ? "이랑" : "랑"); break;
    case 6: t_str(p->batchim ? "이도" : "도"); break;
    default: t_str(p->batchim ? "이" : ""); break;   /* 지영이 왔어 */
    }
}

/* ---- personal data --------------------------------------------------------- */

static void t_mobile(char sep)
{
    t_str(rnd_below(10) < 9 ? "010" : PICK(((const char *const[]){ "011", "016", "017", "019" })));
    if (sep) t_ch(sep);
    t_digits(4, 1);
    if (sep) t_ch(sep);
    t_digits(4, 0);
}

static const char *const areas[] = {
    "031", "032", "033", "041", "042", "043", "044", "051", "052", "053",
    "054", "055", "061", "062", "063", "064"
};

static void t_phone(int en)
{
    uint32_t r = rnd_below(100);
    static const char *const ko_pre[] = {
        "내 번호 ", "연락처 ", "번호 바꿨어 ", "이 번호로 전화줘 ", "급하면 ",
        "핸드폰 ", "집 전화 "
    };
    static const char *const ko_post[] = {
        "", " 로 연락줘", " 여기로 전화해", "입니다", " 문자 줘", " 저장해줘"
    };
    st.phone++;
    if (en)
        t_str(PICK(((const char *const[]){ "call me at ", "my number is ", "text me: ", "phone " })));
    else
        t_str(PICK(ko_pre));
    if (r < 50) {                       /* 010-1234-5678 */
        t_mobile('-');
    } else if (r < 58) {
        t_mobile(0);
    } else if (r < 62) {
        t_mobile(' ');
    } else if (r < 65) {
        t_mobile('.');
    } else if (r < 73) {                /* 02-123-4567 */
        t_str("02-");
        t_digits(3 + rnd_below(2), 1);
        t_ch('-');
        t_digits(4, 0);
    } else if (r < 81) {                /* 031-123-4567 */
        t_str(PICK(areas));
        t_ch('-');
        t_digits(3 + rnd_below(2), 1);
        t_ch('-');
        t_digits(4, 0);
    } else if (r < 84) {                /* 070 */
        t_str("070-");
        t_digits(4, 1);
        t_ch('-');
        t_digits(4, 0);
    } else if (r < 94) {                /* +82 */
        uint32_t f = rnd_below(3);
        t_str(f == 0 ? "+82 10-" : f == 1 ? "+82-10-" : "+8210");
        t_digits(4, 1);
        if (f < 2) t_ch('-');
        t_digits(4, 0);
    } else {                            /* 1588-1234 */
        t_str(PICK(((const char *const[]){ "1588", "1577", "1544", "1600", "1644", "1661", "1899" })));
        t_ch('-');
        t_digits(4, 1);
    }
    if (!en)
        t_str(PICK(ko_post));
}

static void t_email(int en)
{
    static const char *const locals[] = {
        "minsu", "jiyoung", "hana.kim", "dykim", "sy.park", "jhlee", "seoyeon",
        "jun_ho", "mj.choi", "hello", "kimsoo", "yuna.j", "taehyun", "dev.kang"
    };
    static const char *const domains[] = {
        "gmail.com", "naver.com", "daum.net", "kakao.com", "hanmail.net",
        "example.com", "company.co.kr", "univ.ac.kr"
    };
    st.email++;
    t_str(en ? PICK(((const char *const[]){ "email me at ", "my email is ", "send it to " }))
             : PICK(((const char *const[]){ "메일 ", "이메일 주소 ", "여기로 보내줘 ", "메일 주소는 " })));
    t_str(PICK(locals));
    if (rnd_below(2))
        t_uint(rnd_below(100));
    t_ch('@');
    t_str(PICK(domains));
    if (!en)
        t_str(PICK(((const char *const[]){ "", " 으로 보내줘", " 확인 부탁해요", "입니다" })));
}

static const unsigned char mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

/* YYMMDD-GNNNNNN: G 1-4 (rrn) or 5-8 (frn) */
static void t_rrn(int foreign)
{
    int y2000 = rnd_below(5) == 0;
    unsigned yy = y2000 ? rnd_below(8) : 50 + rnd_below(50);
    unsigned mm = 1 + rnd_below(12), dd = 1 + rnd_below(mdays[mm - 1]);
    unsigned g = 1 + rnd_below(2) + (y2000 ? 2 : 0) + (foreign ? 4 : 0);
    if (foreign) {
        st.frn++;
        t_str(PICK(((const char *const[]){ "외국인등록번호 ", "외국인번호 ", "등록번호 " })));
    } else {
        st.rrn++;
        t_str(PICK(((const char *const[]){ "주민번호 ", "주민등록번호 ", "주민번호 뒷자리까지 ", "" })));
    }
    t_2d(yy);
    t_2d(mm);
    t_2d(dd);
    t_ch('-');
    t_ch((char)('0' + g));
    t_digits(6, 0);
    t_str(PICK(((const char *const[]){ "", " 맞아?", " 입니다", " 적어줘" })));
}

static unsigned luhn_sum(const unsigned char *d, int n)  /* d[n-1] is the check digit's place */
{
    unsigned s = 0;
    int i, dbl = 0;
    for (i = n - 1; i >= 0; i--) {
        unsigned v = d[i];
        if (dbl) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        s += v;
        dbl = !dbl;
    }
    return s;
}

static void t_card_digits(int valid, char sep)
{
    unsigned char d[16];
    int i;
    static const unsigned char first[] = { 4, 4, 4, 5, 5, 9, 3 };
    d[0] = first[rnd_below(NELEM(first))];
    for (i = 1; i < 15; i++)
        d[i] = (unsigned char)rnd_below(10);
    if (!valid) {                       /* no group of an order number looks */
        d[4] = (unsigned char)(2 + rnd_below(8));   /* like 1588-1234 or 02-... */
        d[8] = (unsigned char)(2 + rnd_below(8));
        d[12] = (unsigned char)(2 + rnd_below(8));
    }
    d[15] = 0;
    d[15] = (unsigned char)((10 - luhn_sum(d, 16) % 10) % 10);
    if (!valid)
        d[15] = (unsigned char)((d[15] + 1 + rnd_below(9)) % 10);
    for (i = 0; i < 16; i++) {
        if (i && i % 4 == 0 && sep)
            t_ch(sep);
        t_ch((char)('0' + d[i]));
    }
}

static void t_card(int en)
{
    uint32_t r = rnd_below(10);
    st.card++;
    t_str(en ? "card no " : PICK(((const char *const[]){ "카드번호 ", "카드 ", "결제 카드 ", "이 카드로 해줘 " })));
    t_card_digits(1, r < 7 ? '-' : r < 9 ? ' ' : 0);
    if (!en && rnd_below(2)) {
        t_str(" 유효기간 ");
        t_2d(1 + rnd_below(12));
        t_ch('/');
        t_2d(25 + rnd_below(6));
    }
}

/* bank account numbers in the banks' usual shapes; no group starts with 0
 * except the fixed 01 */
static void t_account_number(int *bank)
{
    uint32_t r = rnd_below(8);
    *bank = (int)r;
    switch (r) {
    case 0: t_digits(6, 1); t_str("-01-"); t_digits(6, 1); break;              /* 국민 */
    case 1: t_str("110-"); t_digits(3, 1); t_ch('-'); t_digits(6, 1); break;   /* 신한 */
    case 2: t_str("1002-"); t_digits(3, 1); t_ch('-'); t_digits(6, 1); break;  /* 우리 */
    case 3: t_str("3333-"); t_digits(2, 1); t_ch('-'); t_digits(7, 1); break;  /* 카카오뱅크 */
    case 4: t_str("302-"); t_ch((char)('2' + rnd_below(8)));                  /* 농협 */
            t_digits(3, 0); t_ch('-'); t_digits(4, 1);
            t_ch('-'); t_digits(2, 1); break;
    case 5: t_digits(3, 1); t_ch('-'); t_digits(6, 1); t_ch('-'); t_digits(5, 1); break; /* 하나 */
    case 6: t_digits(3, 1); t_ch('-'); t_digits(6, 1); t_ch('-'); t_digits(2, 1);  /* 기업 */
            t_ch('-'); t_digits(3, 1); break;
    default: t_digits(12, 1); break;                                           /* 토스뱅크 */
    }
}

static void t_account(void)
{
    static const char *const banks[] = {
        "국민", "신한", "우리", "카카오뱅크", "농협", "하나", "기업", "토스뱅크"
    };
    char num[40];
    size_t n0 = tn, nn;
    int b;
    st.account++;
    t_account_number(&b);               /* the number first, then the frame */
    nn = tn - n0;
    memcpy(num, txt + n0, nn);
    tn = n0;
    switch (rnd_below(6)) {
    case 0:
        t_str(banks[b]);
        t_str(b == 3 || b == 7 ? " " : "은행 ");
        t_put(num, nn);
        t_str(" 입금 부탁해");
        break;
    case 1:
        t_str("계좌 ");
        t_put(num, nn);
        t_str(" (");
        t_str(banks[b]);
        t_str(")");
        break;
    case 2:
        t_str("여기로 입금해줘 ");
        t_put(num, nn);
        t_ch(' ');
        t_str(banks[b]);
        break;
    case 3:
        t_str("계좌번호 ");
        t_str(banks[b]);
        t_ch(' ');
        t_put(num, nn);
        break;
    case 4:
        t_str("회비는 ");
        t_put(num, nn);
        t_str(" 으로 송금해주세요");
        break;
    default:
        t_str(banks[b]);
        t_ch(' ');
        t_put(num, nn);
        t_str(" 이체 완료");
        break;
    }
}

/* [province] 시/군/구 road number */
static void t_address(void)
{
    static const struct { const char *full, *shortp, *sgg, *road[3]; } a[] = {
        { "서울특별시", "서울", "강남구", { "테헤란로", "강남대로", "봉은사로" } },
        { "서울특별시", "서울", "마포구", { "월드컵북로", "양화로", "독막로" } },
        { "서울특별시", "서울", "종로구", { "세종대로", "종로", "율곡로" } },
        { "서울특별시", "서울", "송파구", { "올림픽로", "송파대로", "백제고분로" } },
        { "서울특별시", "서울", "서초구", { "반포대로", "서초대로", "강남대로" } },
        { "부산광역시", "부산", "해운대구", { "해운대로", "센텀중앙로", "달맞이길" } },
        { "부산광역시", "부산", "수영구", { "광안해변로", "수영로", "망미번영로" } },
        { "경기도", "경기", "성남시 분당구", { "판교역로", "불정로", "황새울로" } },
        { "경기도", "경기", "수원시 영통구", { "광교중앙로", "월드컵로", "매영로" } },
        { "인천광역시", "인천", "연수구", { "컨벤시아대로", "송도과학로", "인천타워대로" } },
        { "대전광역시", "대전", "유성구", { "대학로", "문지로", "엑스포로" } },
        { "제주특별자치도", "제주", "제주시", { "중앙로", "노형로", "연북로" } },
        { "강원특별자치도", "강원", "춘천시", { "중앙로", "공지로", "후석로" } },
    };
    unsigned k = rnd_below(NELEM(a));
    uint32_t r = rnd_below(10);
    st.address++;
    t_str(PICK(((const char *const[]){ "주소 ", "주소: ", "택배 ", "여기로 와 ", "새 집 주소 ", "" })));
    if (r < 5) {
        t_str(a[k].full);
        t_ch(' ');
    } else if (r < 8) {
        t_str(a[k].shortp);
        t_ch(' ');
    }
    t_str(a[k].sgg);
    t_ch(' ');
    t_str(a[k].road[rnd_below(3)]);
    if (rnd_below(5) == 0) {            /* 테헤란로7길 22 */
        t_uint(1 + rnd_below(60));
        t_str("길");
    }
    t_ch(' ');
    t_uint(1 + rnd_below(700));
    if (rnd_below(5) == 0) {
        t_ch('-');
        t_uint(1 + rnd_below(30));
    }
    t_str(PICK(((const char *const[]){ "", " 3층", " 101동 1203호", " 으로 보내주세요", "이야" })));
}

static void t_ipv4(void)
{
    uint32_t r = rnd_below(3);
    if (r == 0) {
        t_str("192.168.");
        t_uint(rnd_below(256));
        t_ch('.');
        t_uint(1 + rnd_below(254));
    } else if (r == 1) {
        t_str("10.");
        t_uint(rnd_below(256));
        t_ch('.');
        t_uint(rnd_below(256));
        t_ch('.');
        t_uint(1 + rnd_below(254));
    } else {
        t_uint(11 + rnd_below(212));
        t_ch('.');
        t_uint(rnd_below(256));
        t_ch('.');
        t_uint(rnd_below(256));
        t_ch('.');
        t_uint(1 + rnd_below(254));
    }
}

static void t_hex4(void)
{
    char b[8];
    int n = snprintf(b, sizeof b, "%x", (unsigned)rnd_below(0x10000));
    t_put(b, (size_t)n);
}

static void t_ipv6(void)
{
    uint32_t r = rnd_below(3), i;
    if (r == 0) {                       /* 2001:db8::1 */
        t_str("2001:db8::");
        t_hex4();
    } else if (r == 1) {                /* fe80::1c2d:3e4f:5a6b:7c8d */
        t_str("fe80::");
        for (i = 0; i < 4; i++) {
            if (i) t_ch(':');
            t_hex4();
        }
    } else {                            /* full form */
        t_str("2001:db8");
        for (i = 0; i < 6; i++) {
            t_ch(':');
            t_hex4();
        }
    }
}

static void t_ip(int en)
{
    st.ip++;
    t_str(en ? PICK(((const char *const[]){ "server is ", "ssh into ", "ping " }))
             : PICK(((const char *const[]){ "서버 IP ", "접속 주소 ", "공유기 ", "ssh " })));
    if (rnd_below(10) < 8) t_ipv4();
    else t_ipv6();
    if (!en)
        t_str(PICK(((const char *const[]){ "", " 접속 안돼", " 로 들어가봐", " 막혔어" })));
}

static void t_brn(void)
{
    static const unsigned w[9] = { 1, 3, 7, 1, 3, 7, 1, 3, 5 };
    unsigned d[10], s = 0, i;
    st.brn++;
    d[0] = 1 + rnd_below(8);
    for (i = 1; i < 9; i++)
        d[i] = rnd_below(10);
    d[3] = 1 + rnd_below(9);            /* the middle group: 10 to 99 */
    for (i = 0; i < 9; i++)
        s += d[i] * w[i];
    s += d[8] * 5 / 10;
    d[9] = (10 - s % 10) % 10;
    t_str(PICK(((const char *const[]){ "사업자등록번호 ", "사업자번호 ", "사업자 번호는 " })));
    for (i = 0; i < 10; i++) {
        if (i == 3 || i == 5)
            t_ch('-');
        t_ch((char)('0' + d[i]));
    }
}

static void t_passport(void)
{
    st.passport++;
    t_str(PICK(((const char *const[]){ "여권번호 ", "여권 번호 ", "passport " })));
    t_ch(rnd_below(4) ? 'M' : 'S');
    if (rnd_below(2)) {
        t_digits(8, 0);
    } else {
        t_digits(3, 0);
        t_ch((char)('A' + rnd_below(26)));
        t_digits(4, 0);
    }
}

static void t_driver(void)
{
    static const unsigned regions[] = { 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                        21, 22, 23, 24, 25, 26, 28 };
    st.driver++;
    t_str(PICK(((const char *const[]){ "운전면허 ", "면허번호 ", "운전면허번호 " })));
    t_uint(regions[rnd_below(NELEM(regions))]);
    t_ch('-');
    t_2d(rnd_below(100));
    t_ch('-');
    t_digits(6, 0);
    t_ch('-');
    t_2d(rnd_below(100));
}

/* one item of personal data, kinds weighted */
static void t_pii(enum lang lang)
{
    uint32_t r = rnd_below(1000);
    int en = lang == LANG_EN;
    st.pii++;
    if (r < 300)      t_phone(en);
    else if (r < 440) t_email(en);
    else if (r < 500) t_rrn(0);
    else if (r < 520) t_rrn(1);
    else if (r < 600) t_card(en);
    else if (r < 720) t_account();
    else if (r < 840) t_address();
    else if (r < 920) t_ip(en);
    else if (r < 950) t_brn();
    else if (r < 970) t_passport();
    else              t_driver();
}

/* numbers that are not personal data */
static void t_negative(void)
{
    uint32_t r = rnd_below(22);
    st.negatives++;
    switch (r) {
    case 0:                             /* 14:30 */
        t_uint(rnd_below(24)); t_ch(':'); t_2d(rnd_below(60));
        t_str(PICK(((const char *const[]){ "에 보자", "까지", " 도착", "" })));
        break;
    case 1:                             /* 12,000원 */
        t_uint(1 + rnd_below(99)); t_str(",000원");
        break;
    case 2:                             /* 1,250,000원 */
        t_uint(1 + rnd_below(9)); t_ch(','); t_digits(3, 0); t_str(",000원");
        break;
    case 3:
        t_uint(1 + rnd_below(50)); t_str("만원");
        break;
    case 4:                             /* 2024-03-01 */
        t_str("202"); t_uint(3 + rnd_below(2)); t_ch('-'); t_2d(1 + rnd_below(12));
        t_ch('-'); t_2d(1 + rnd_below(28)); t_str(PICK(((const char *const[]){ " 일정", "", " 마감" })));
        break;
    case 5:                             /* 2024.03.01 */
        t_str("2024."); t_2d(1 + rnd_below(12)); t_ch('.'); t_2d(1 + rnd_below(28));
        break;
    case 6:                             /* 3/15 */
        t_uint(1 + rnd_below(12)); t_ch('/'); t_uint(1 + rnd_below(28));
        break;
    case 7:                             /* v2.3.1 */
        t_str("v"); t_uint(rnd_below(10)); t_ch('.'); t_uint(rnd_below(20)); t_ch('.');
        t_uint(rnd_below(30));
        break;
    case 8:                             /* 버전 3.11.4 */
        t_str("버전 3."); t_uint(8 + rnd_below(6)); t_ch('.'); t_uint(rnd_below(10));
        break;
    case 9:
        t_uint(5 + rnd_below(70)); t_str("% 할인");
        break;
    case 10:
        t_uint(1 + rnd_below(30)); t_str("층");
        break;
    case 11:
        t_uint(101 + rnd_below(1900)); t_str("호");
        break;
    case 12:                            /* 인증번호 482913 */
        t_str("인증번호 "); t_digits(6, 0);
        break;
    case 13:
        t_str("우편번호 0"); t_digits(4, 0);
        break;
    case 14:
        t_uint(2 + rnd_below(30)); t_str("명");
        break;
    case 15:                            /* 2024-03-01 14:30 */
        t_str("2024-"); t_2d(1 + rnd_below(12)); t_ch('-'); t_2d(1 + rnd_below(28));
        t_ch(' '); t_2d(rnd_below(24)); t_ch(':'); t_2d(rnd_below(60));
        break;
    case 16:
        t_str("KTX "); t_uint(1 + rnd_below(400)); t_str("호 "); t_uint(1 + rnd_below(18));
        t_str("호차");
        break;
    case 17:
        t_str("오후 "); t_uint(1 + rnd_below(11)); t_str("시 "); t_uint(rnd_below(60)); t_str("분");
        break;
    case 18:                            /* 주문번호 240301-1234 */
        t_str("주문번호 24"); t_2d(1 + rnd_below(12)); t_2d(1 + rnd_below(28)); t_ch('-');
        t_digits(4, 0);
        break;
    case 19:
        t_uint(1 + rnd_below(42)); t_str(".195km");
        break;
    case 20:
        t_str("Python 3."); t_uint(8 + rnd_below(6));
        break;
    default:                            /* a 16-digit number that fails Luhn */
        t_str("주문번호 ");
        t_card_digits(0, '-');
        st.luhn_bad++;
        break;
    }
}

/* ---- records ------------------------------------------------------------- */

static const char *const placeholders[] = {
    "사진", "사진", "사진", "<사진>", "이모티콘", "이모티콘", "이모티콘",
    "동영상", "삭제된 메시지입니다."
};
static const char *const placeholder_kind[] = {
    "photo", "photo", "photo", "photo", "emoticon", "emoticon", "emoticon",
    "video", "deleted"
};

static const char *const links[] = {
    "https://example.com/", "https://example.org/share/", "https://www.example.net/p/"
};

/* a text message into txt */
static void make_text(int who)
{
    enum lang lang = pick_lang();
    double u = rnd_unit();
    size_t target = 2 + (size_t)(150.0 * u * u * u * u);
    int mention = -1, vocative = 0, pii, neg, order;

    if (rnd_below(1000) < 90)
        mention = pick_named(who, 0);
    pii = rnd_below(1000) < 33;
    neg = !pii && rnd_below(1000) < 60;
    if (mention >= 0 && rnd_below(10) < 4)
        vocative = 1;
    order = (int)rnd_below(2);
    if (pii || neg)
        target = target / 2 + 2;

    if (rnd_below(1000) < 30) {         /* 3%: 2 to 5 lines */
        uint32_t k = 2 + rnd_below(4), j;
        if (vocative) {
            t_mention(mention, 1);
            t_ch(' ');
        }
        for (j = 0; j < k; j++) {
            if (j) {
                t_ch('\n');
                if (j + 1 < k && rnd_below(10) == 0)
                    t_ch('\n');
            }
            u = rnd_unit();
            t_line(2 + (size_t)(70.0 * u * u), 80, lang);
            if (j == 0 && mention >= 0 && !vocative) {
                t_ch(' ');
                t_mention(mention, 0);
                t_ch(' ');
                t_line(4, 40, lang);
            }
            if (j == 1 && (pii || neg)) {
                t_ch(' ');
                if (pii) t_pii(lang);
                else t_negative();
            }
        }
        st.multiline++;
        return;
    }
    if (vocative) {
        t_mention(mention, 1);
        t_ch(' ');
    }
    if (order && (pii || neg)) {
        if (pii) t_pii(lang);
        else t_negative();
        t_ch(' ');
    }
    t_line(target, 200, lang);
    if (mention >= 0 && !vocative) {
        t_ch(' ');
        t_mention(mention, 0);
        t_ch(' ');
        t_line(4 + rnd_below(30), 60, lang);
    }
    if (!order && (pii || neg)) {
        t_ch(' ');
        if (pii) t_pii(lang);
        else t_negative();
        if (rnd_below(3) == 0) {
            t_ch(' ');
            t_line(4 + rnd_below(20), 40, lang);
        }
    }
}

static void gen_one(void)
{
    uint32_t r = rnd_below(1000);
    const char *kind = "text", *speaker;
    int64_t day0 = ch.day;
    size_t i;
    int who = -1;

    if (ch.left == 0)
        new_chat();
    if (!ch.first)
        advance_time();
    if (ch.first || ch.day != day0) {
        civil_from_days(ch.day, &ch.y, &ch.mo, &ch.d);
        ch.line += 2;                   /* an empty line, the date line */
    }
    ch.first = 0;
    tn = 0;

    if (r < 20) {                       /* 2%: a system line */
        int a = pick_named(-1, 1), b;
        uint32_t s = rnd_below(10);
        if (a < 0)
            a = pick_named(-1, 0);
        t_str(ch.m[a].name);
        st.names++;
        if (s < 5 && (b = pick_named(a, 1)) >= 0) {
            t_str("님이 ");
            t_str(ch.m[b].name);
            t_str("님을 초대했습니다.");
            st.names++;
        } else if (s < 8) {
            t_str("님이 들어왔습니다.");
        } else {
            t_str("님이 나갔습니다.");
        }
        kind = "system";
        speaker = "";
        st.system++;
    } else {
        who = pick_member();
        ch.prev = who;
        speaker = ch.m[who].name;
        if (ch.m[who].kind != NK_ALIAS)
            st.names++;
        if (r < 70) {                   /* 5%: a media placeholder */
            uint32_t k = rnd_below((uint32_t)NELEM(placeholders) + 2);
            if (k < NELEM(placeholders)) {
                t_str(placeholders[k]);
                kind = placeholder_kind[k];
            } else {
                t_str("사진 ");
                t_uint(2 + rnd_below(29));
                t_str("장");
                kind = "photo";
            }
            st.placeholders++;
        } else if (r < 80) {            /* 1%: a link */
            char b[16];
            t_str(PICK(links));
            t_put(b, (size_t)snprintf(b, sizeof b, "%08llx", (unsigned long long)(rnd() >> 32)));
            kind = "link";
            st.links++;
        } else {
            make_text(who);
            for (i = 0; i < NELEM(placeholders); i++)   /* as kakao-parse classifies */
                if (tn == strlen(placeholders[i]) && !memcmp(txt, placeholders[i], tn))
                    kind = placeholder_kind[i];
            st.text++;
            if (memchr(txt, '"', tn) || memchr(txt, '\\', tn))
                st.quotes++;
        }
    }

    PUTS("{\"chat\":");
    put_json(ch.title, strlen(ch.title));
    PUTS(",\"i\":");
    put_uint(ch.i);
    PUTS(",\"ts\":\"");
    put_uint((unsigned)ch.y);
    *op++ = '-';
    put_2d(ch.mo);
    *op++ = '-';
    put_2d(ch.d);
    *op++ = 'T';
    put_2d(ch.sec / 3600);
    *op++ = ':';
    put_2d(ch.sec / 60 % 60);
    PUTS(":00+09:00\",\"speaker\":");
    put_json(speaker, strlen(speaker));
    PUTS(",\"text\":");
    put_json(txt, tn);
    PUTS(",\"kind\":\"");
    put_str(kind);
    PUTS("\",\"src\":{\"file\":\"talk-");
    {
        char b[16];
        put(b, (size_t)snprintf(b, sizeof b, "%04u", ch.id));
    }
    PUTS(".txt\",\"line\":");
    put_uint(ch.line);
    PUTS("}}\n");

    for (i = 0; i < tn; i++)            /* the next message's first line */
        if (txt[i] == '\n')
            ch.line++;
    ch.line++;
    ch.i++;
    ch.left--;
    st.records++;
}

/* ---- options ------------------------------------------------------------- */

static void usage(FILE *fp)
{
    fputs("Usage: gen-pii-chat --bytes N [--seed S] [--stats]\n"
          "Write synthetic chat-message JSONL (as kakao-parse writes it) with personal\n"
          "data in about 3% of the messages to stdout until at least N bytes.\n"
          "\n"
          "  --bytes N     output size; K, M, G, T suffixes (powers of 1024)\n"
          "  --seed S      PRNG seed, an unsigned decimal integer (default 0)\n"
          "  --stats       print counts of what was written to stderr\n"
          "  --help        show this help and exit\n"
          "  --version     show the version and exit\n", fp);
}

int main(int argc, char **argv)
{
    gen_options opt;
    gen_parse_options(argc, argv, GEN_OPT_STATS, usage, &opt);
    const unsigned long long bytes = opt.bytes;

    init_tables();
    rng_state = opt.seed ^ 0x5049492D43484154ULL;   /* "PII-CHAT" */

    op = outbuf;
    while (total_written + outlen < bytes) {
        if (OUT_CAP - outlen < REC_MAX)
            flush_out();
        op = outbuf + outlen;
        gen_one();
        outlen = (size_t)(op - outbuf);
    }
    flush_out();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gen-pii-chat: write error: %s\n", strerror(errno));
        return 74;
    }
    if (opt.stats)
        fprintf(stderr, "gen-pii-chat: bytes=%llu records=%llu chats=%llu members=%llu "
                "text=%llu system=%llu placeholders=%llu links=%llu multiline=%llu "
                "quotes=%llu names=%llu mentions=%llu pii=%llu negatives=%llu "
                "phone=%llu email=%llu rrn=%llu frn=%llu card=%llu account=%llu "
                "address=%llu ip=%llu brn=%llu passport=%llu driver=%llu luhn_bad=%llu\n",
                total_written, st.records, st.chats, st.members, st.text, st.system,
                st.placeholders, st.links, st.multiline, st.quotes, st.names,
                st.mentions, st.pii, st.negatives, st.phone, st.email, st.rrn,
                st.frn, st.card, st.account, st.address, st.ip, st.brn,
                st.passport, st.driver, st.luhn_bad);
    return 0;
}
