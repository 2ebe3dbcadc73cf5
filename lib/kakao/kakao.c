#include "kakao/kakao.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define DEFAULT_DETECT_LINES 1000
#define DETECT_MAX_BYTES ((size_t)4 << 20)
#define DEFAULT_MAX_MESSAGE ((size_t)64 << 20)

/* ---- scanning ---- */

typedef struct {
    const char *p, *e;
} scan;

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int sc_litn(scan *s, const char *lit, size_t n)
{
    if ((size_t)(s->e - s->p) < n) return 0;
    for (size_t i = 0; i < n; i++) /* short: a loop beats a call to memcmp */
        if (s->p[i] != lit[i]) return 0;
    s->p += n;
    return 1;
}

/* A literal; its length is known when compiling. */
#define sc_lit(s, lit) sc_litn((s), (lit), sizeof(lit) - 1)

static int sc_word(scan *s, const char *word) { return sc_litn(s, word, strlen(word)); }

/* A number of min to max digits, not followed by another digit. */
static int sc_num(scan *s, int min, int max, int *v)
{
    int n = 0, x = 0;
    while (s->p + n < s->e && n < max && is_digit(s->p[n])) x = x * 10 + (s->p[n++] - '0');
    if (n < min || (s->p + n < s->e && is_digit(s->p[n]))) return 0;
    s->p += n;
    *v = x;
    return 1;
}

static int sc_end(const scan *s) { return s->p == s->e; }

static const char *const month_full[12] = {"January", "February", "March",     "April",
                                           "May",     "June",     "July",      "August",
                                           "September", "October", "November", "December"};
static const char *const month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* An English month name, full or abbreviated ("Sept" too), not followed
 * by another letter. */
static int sc_month(scan *s, int *m)
{
    for (int i = 0; i < 12; i++) {
        scan t = *s;
        if (t.p < t.e && *t.p != month_abbr[i][0]) continue;
        if ((sc_word(&t, month_full[i]) || sc_word(&t, month_abbr[i]) ||
             (i == 8 && sc_lit(&t, "Sept"))) &&
            !(t.p < t.e && is_alpha(*t.p))) {
            sc_lit(&t, ".");
            *s = t;
            *m = i + 1;
            return 1;
        }
    }
    return 0;
}

static const char *const wday_en[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
static const char *const wday_ko[7] = {"일요일", "월요일", "화요일", "수요일",
                                       "목요일", "금요일", "토요일"};

static int sc_weekday(scan *s, const char *const *names, int *wd)
{
    for (int i = 0; i < 7; i++) {
        if (sc_word(s, names[i])) {
            *wd = i;
            return 1;
        }
    }
    return 0;
}

typedef struct {
    int y, mo, d;
    int h, mi, s;
    int has_date, has_time, has_sec;
} civil;

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dim[m - 1];
}

int kakao_valid_date(int y, int m, int d)
{
    return y >= 1970 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static int weekday_of(int y, int m, int d)
{
    int64_t days = kakao_make_time(y, m, d, 0, 0, 0) / 86400;
    return (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

/* A clock time: [오전 |오후 ]H:MM[:SS][ ][AM|PM|am|pm|a.m.|p.m.], or 24-hour. */
static int sc_time(scan *s, civil *c)
{
    scan t = *s;
    int ampm = 0, h, mi, sec = 0, has_sec = 0;
    if (sc_lit(&t, "오전 ") || sc_lit(&t, "AM ")) ampm = 1;
    else if (sc_lit(&t, "오후 ") || sc_lit(&t, "PM ")) ampm = 2;
    if (!sc_num(&t, 1, 2, &h) || !sc_lit(&t, ":") || !sc_num(&t, 2, 2, &mi)) return 0;
    if (t.p < t.e && *t.p == ':') {
        scan u = t;
        u.p++;
        if (sc_num(&u, 2, 2, &sec)) t = u, has_sec = 1;
    }
    if (!ampm) {
        scan u = t;
        /* a space, or the no-break spaces newer iOS puts before AM/PM */
        (void)(sc_lit(&u, " ") || sc_lit(&u, "\xE2\x80\xAF") || sc_lit(&u, "\xC2\xA0"));
        if (sc_lit(&u, "AM") || sc_lit(&u, "am") || sc_lit(&u, "a.m.")) ampm = 1;
        else if (sc_lit(&u, "PM") || sc_lit(&u, "pm") || sc_lit(&u, "p.m.")) ampm = 2;
        if (ampm && u.p < u.e && is_alpha(*u.p)) ampm = 0;
        if (ampm) t = u;
    }
    if (mi > 59 || sec > 59) return 0;
    if (ampm) {
        if (h > 12) return 0;
        h = h % 12 + (ampm == 2 ? 12 : 0); /* 오전 12:05 is 00:05, 오후 12:05 is 12:05 */
    } else if (h > 23) {
        return 0;
    }
    c->h = h, c->mi = mi, c->s = sec, c->has_time = 1, c->has_sec = has_sec;
    *s = t;
    return 1;
}

static int set_date(civil *c, int y, int m, int d)
{
    if (!kakao_valid_date(y, m, d)) return 0;
    c->y = y, c->mo = m, c->d = d, c->has_date = 1;
    return 1;
}

/* 2015년 7월 9일 */
static int sc_ko_ymd(scan *s, civil *c)
{
    int y, m, d;
    return sc_num(s, 4, 4, &y) && sc_lit(s, "년 ") && sc_num(s, 1, 2, &m) && sc_lit(s, "월 ") &&
           sc_num(s, 1, 2, &d) && sc_lit(s, "일") && set_date(c, y, m, d);
}

/* 2015. 7. 9. */
static int sc_ko_dot(scan *s, civil *c)
{
    int y, m, d;
    return sc_num(s, 4, 4, &y) && sc_lit(s, ". ") && sc_num(s, 1, 2, &m) && sc_lit(s, ". ") &&
           sc_num(s, 1, 2, &d) && sc_lit(s, ".") && set_date(c, y, m, d);
}

/* July 9, 2015 / Jul 9, 2015 */
static int sc_en_mdy(scan *s, civil *c)
{
    int y, m, d;
    return sc_month(s, &m) && sc_lit(s, " ") && sc_num(s, 1, 2, &d) && sc_lit(s, ", ") &&
           sc_num(s, 4, 4, &y) && set_date(c, y, m, d);
}

/* 14 October 2018 */
static int sc_en_dmy(scan *s, civil *c)
{
    int y, m, d;
    return sc_num(s, 1, 2, &d) && sc_lit(s, " ") && sc_month(s, &m) && sc_lit(s, " ") &&
           sc_num(s, 4, 4, &y) && set_date(c, y, m, d);
}

/* 2015-07-09 */
static int sc_iso_date(scan *s, civil *c)
{
    int y, m, d;
    return sc_num(s, 4, 4, &y) && sc_lit(s, "-") && sc_num(s, 2, 2, &m) && sc_lit(s, "-") &&
           sc_num(s, 2, 2, &d) && set_date(c, y, m, d);
}

/* ---- timestamp forms of the stamped (android, ios) exports ---- */

enum form {
    F_NONE = 0,
    F_KO_YMD,        /* 2015년 7월 9일 오후 8:34 */
    F_KO_DOT,        /* 2015. 7. 9. 오후 8:34 */
    F_EN_TIME_FIRST, /* 8:34pm, July 9, 2015 */
    F_EN_MDY,        /* July 9, 2015, 8:34 PM / Jul 9, 2015 at 20:34 */
    F_EN_DMY,        /* 14 October 2018, 7:31 PM */
    F_TIME,          /* 오후 8:34 (the date comes from a day line) */
    NFORMS
};

static const char *const form_names[NFORMS] = {
    "",
    "YYYY년 M월 D일 오후 H:MM",
    "YYYY. M. D. 오후 H:MM",
    "H:MMpm, Month D, YYYY",
    "Month D, YYYY, H:MM PM",
    "D Month YYYY, H:MM PM",
    "오후 H:MM after day lines",
};

static int sc_stamp(scan *s, int form, civil *c)
{
    switch (form) {
    case F_KO_YMD: return sc_ko_ymd(s, c) && sc_lit(s, " ") && sc_time(s, c);
    case F_KO_DOT: return sc_ko_dot(s, c) && sc_lit(s, " ") && sc_time(s, c);
    case F_EN_TIME_FIRST: return sc_time(s, c) && sc_lit(s, ", ") && sc_en_mdy(s, c);
    case F_EN_MDY:
        return sc_en_mdy(s, c) && (sc_lit(s, ", ") || sc_lit(s, " at ")) && sc_time(s, c);
    case F_EN_DMY:
        return sc_en_dmy(s, c) && (sc_lit(s, ", ") || sc_lit(s, " at ")) && sc_time(s, c);
    case F_TIME: return sc_time(s, c);
    default: return 0;
    }
}

/* ---- line classification ---- */

typedef enum {
    L_NONE = 0, /* no structure: continues the message before it */
    L_MSG,      /* a message: speaker and text */
    L_SYSTEM,   /* a system notice: text */
    L_MARK,     /* a bare timestamp line (android, before a new time block) */
    L_DAY,      /* a day line */
} line_type;

typedef struct {
    line_type type;
    civil c;
    const char *name, *text;
    size_t name_len, text_len;
} line_info;

static const char *find(const char *p, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - p) >= n ? memmem(p, (size_t)(e - p), lit, n) : NULL;
}

/* The first " : " in [p, e): where a stamped line's name ends. Faster
 * than memmem for this short needle, which runs once per line. */
static const char *find_name_end(const char *p, const char *e)
{
    for (const char *c = p + 1; c + 1 < e; c++) {
        c = memchr(c, ':', (size_t)(e - 1 - c));
        if (!c) return NULL;
        if (c[-1] == ' ' && c[1] == ' ') return c - 1;
    }
    return NULL;
}

/* Day lines: "2021년 12월 29일 수요일", "Thursday, July 9, 2015", and in PC
 * exports between dashes also "2015. 8. 1. 토요일" and "2015-08-01". The
 * weekday, when given, must be the date's. */
static int day_inner(scan s, int pc, civil *c)
{
    int wd = -1;
    scan t = s;
    if (sc_ko_ymd(&t, c) || (pc && (t = s, sc_ko_dot(&t, c)))) {
        if (sc_lit(&t, " ") && !sc_weekday(&t, wday_ko, &wd)) return 0;
        if (wd < 0 && !pc) return 0; /* a bare "2015년 7월 9일" is text */
    } else if (t = s, sc_weekday(&t, wday_en, &wd)) {
        if (!sc_lit(&t, ", ") || !sc_en_mdy(&t, c)) return 0;
    } else if (!(pc && (t = s, sc_iso_date(&t, c)))) {
        return 0;
    }
    if (!sc_end(&t)) return 0;
    return wd < 0 || wd == weekday_of(c->y, c->mo, c->d);
}

static int classify_day(const char *line, size_t len, int pc, line_info *li)
{
    scan s = {line, line + len};
    if (pc) {
        /* --------------- DAY --------------- */
        size_t lead = 0, trail = 0;
        while (lead < len && line[lead] == '-') lead++;
        while (trail < len - lead && line[len - 1 - trail] == '-') trail++;
        if (lead < 3 || trail < 3 || len < lead + trail + 2 || line[lead] != ' ' ||
            line[len - trail - 1] != ' ')
            return 0;
        s.p = line + lead + 1;
        s.e = line + len - trail - 1;
    }
    memset(&li->c, 0, sizeof li->c);
    if (!day_inner(s, pc, &li->c)) return 0;
    li->type = L_DAY;
    return 1;
}

/* "STAMP, NAME : text", "STAMP, notice", "STAMP: notice", or "STAMP". */
static void classify_stamped(const char *line, size_t len, int form, line_info *li)
{
    scan s = {line, line + len};
    li->type = L_NONE;
    memset(&li->c, 0, sizeof li->c);
    if (sc_stamp(&s, form, &li->c)) {
        const char *r = s.p, *e = s.e;
        if (r == e) {
            if (form != F_TIME) li->type = L_MARK;
            return;
        }
        if (e - r >= 2 && r[0] == ',' && r[1] == ' ') {
            /* The name ends at the first " : " (text may hold more). */
            const char *sep = find_name_end(r + 1, e);
            if (sep) {
                li->type = L_MSG;
                li->name = r + 2 <= sep ? r + 2 : sep;
                li->name_len = (size_t)(sep - li->name);
                li->text = sep + 3;
                li->text_len = (size_t)(e - li->text);
            } else if (e - r >= 4 && e[-1] == ':' && e[-2] == ' ') {
                li->type = L_MSG; /* "STAMP, NAME :" with the text's space trimmed */
                li->name = r + 2;
                li->name_len = (size_t)(e - 2 - li->name);
                li->text = e;
                li->text_len = 0;
            } else {
                li->type = L_SYSTEM;
                li->text = r + 2;
                li->text_len = (size_t)(e - li->text);
            }
            return;
        }
        if (r[0] == ':' && (e - r == 1 || r[1] == ' ')) {
            li->type = L_SYSTEM;
            li->text = r + (e - r == 1 ? 1 : 2);
            li->text_len = (size_t)(e - li->text);
        }
        return;
    }
    classify_day(line, len, 0, li);
}

/* "[NAME] [TIME] text", a day line between dashes, or a system notice. */
static void classify_windows(const char *line, size_t len, line_info *li)
{
    const char *e = line + len;
    li->type = L_NONE;
    memset(&li->c, 0, sizeof li->c);
    if (len >= 7 && line[0] == '[') {
        for (const char *q = find(line + 1, e, "] ["); q; q = find(q + 1, e, "] [")) {
            scan s = {q + 3, e};
            civil c = {0};
            if (sc_time(&s, &c) && sc_lit(&s, "]") && (sc_end(&s) || sc_lit(&s, " "))) {
                li->type = L_MSG;
                li->c = c;
                li->name = line + 1;
                li->name_len = (size_t)(q - li->name);
                li->text = s.p;
                li->text_len = (size_t)(e - s.p);
                return;
            }
        }
    }
    if (len >= 10 && line[0] == '-' && classify_day(line, len, 1, li)) return;
    if (kakao_is_system_text(line, len)) {
        li->type = L_SYSTEM;
        li->text = line;
        li->text_len = len;
    }
}

/* CSV: "2015-07-09 20:34:26," starts a record (seconds optional). */
static int csv_record_start(const char *line, size_t len, civil *c, const char **rest)
{
    scan s = {line, line + len};
    memset(c, 0, sizeof *c);
    scan t = s;
    /* 2015-07-09 20:34:26, and the local forms 2015. 7. 9. 오후 8:34 and
     * 2015년 7월 9일 오후 8:34 that some versions may write. */
    if (!((sc_iso_date(&t, c) && (sc_lit(&t, " ") || sc_lit(&t, "T"))) ||
          (t = s, sc_ko_dot(&t, c) && sc_lit(&t, " ")) ||
          (t = s, sc_ko_ymd(&t, c) && sc_lit(&t, " "))) ||
        !sc_time(&t, c) || !sc_lit(&t, ","))
        return 0;
    s = t;
    *rest = s.p;
    return 1;
}

/* Whether the user field that starts at p ends on this line followed by a
 * comma: then a line is surely a record start, even inside a broken quote. */
static int csv_user_field_closes(const char *p, const char *e)
{
    if (p < e && *p == '"') {
        for (const char *q = p + 1; q < e; q++) {
            if (*q != '"') continue;
            if (q + 1 < e && q[1] == '"') {
                q++;
                continue;
            }
            return q + 1 < e && q[1] == ',';
        }
        return 0;
    }
    return memchr(p, ',', (size_t)(e - p)) != NULL && memchr(p, '"', (size_t)(e - p)) == NULL;
}

/* ---- headers ---- */

static int ends_with(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && memcmp(s + n - m, lit, m) == 0;
}

static int starts_with(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && memcmp(s, lit, m) == 0;
}

/* Strips a trailing member count: " (4 people)", " (4명)", " (4)". */
static size_t strip_count(const char *s, size_t n)
{
    if (n < 4 || s[n - 1] != ')') return n;
    size_t open = n - 1;
    while (open > 0 && s[open] != '(') open--;
    if (open == 0 || s[open - 1] != ' ' || !is_digit(s[open + 1])) return n;
    size_t i = open + 1;
    while (i < n && is_digit(s[i])) i++;
    const char *r = s + i;
    size_t k = n - 1 - i;
    if (k == 0 || (k == 7 && memcmp(r, " people", 7) == 0) || (k == 6 && memcmp(r, " person", 6) == 0) ||
        (k == strlen("명") && memcmp(r, "명", k) == 0))
        return open - 1;
    return n;
}

/* The room name of a first line, or 0 when the line is no title. Titles:
 * "ROOM 님과 카카오톡 대화", "ROOM 카카오톡 대화", "ROOM과 카카오톡 대화-1.txt",
 * "KakaoTalk Chats with ROOM", "ROOM with KakaoTalk Chats". A first line
 * like "Talk_2026.2.10 08:50-1.txt" is a title without a room (*n = 0). */
static int title_room(const char *s, size_t n, const char **room, size_t *room_len)
{
    if (ends_with(s, n, ".txt")) {
        n -= 4;
        size_t i = n;
        while (i > 0 && is_digit(s[i - 1])) i--;
        if (i < n && i > 0 && s[i - 1] == '-') n = i - 1;
    }
    *room = s;
    *room_len = 0;
    if (starts_with(s, n, "Talk_")) return 1;
    static const char *const ko_suffix[] = {" 님과 카카오톡 대화", "님과 카카오톡 대화",
                                            "과 카카오톡 대화", "와 카카오톡 대화",
                                            " 카카오톡 대화", NULL};
    for (const char *const *k = ko_suffix; *k; k++) {
        if (ends_with(s, n, *k) && n > strlen(*k)) {
            size_t m = n - strlen(*k);
            if (k == ko_suffix) { /* android: "A,B,C 4 님과" carries the count bare */
                size_t i = m;
                while (i > 0 && is_digit(s[i - 1])) i--;
                if (i < m && i > 1 && s[i - 1] == ' ') m = i - 1;
            }
            *room_len = strip_count(s, m);
            return 1;
        }
    }
    if (starts_with(s, n, "KakaoTalk Chats with ")) {
        size_t k = strlen("KakaoTalk Chats with ");
        *room = s + k;
        *room_len = strip_count(s + k, n - k);
        return 1;
    }
    if (ends_with(s, n, " with KakaoTalk Chats") && n > strlen(" with KakaoTalk Chats")) {
        *room_len = strip_count(s, n - strlen(" with KakaoTalk Chats"));
        return 1;
    }
    return 0;
}

static int is_saved_line(const char *s, size_t n)
{
    return starts_with(s, n, "저장한 날짜 :") || starts_with(s, n, "Date Saved :") ||
           starts_with(s, n, "저장한 날짜:") || starts_with(s, n, "Date Saved:");
}

static int is_csv_header(const char *s, size_t n)
{
    return n == strlen("Date,User,Message") && memcmp(s, "Date,User,Message", n) == 0;
}

/* ---- the parser ---- */

typedef struct {
    char *text;
    size_t len;
    uint64_t line, col;
    const char *reason; /* non-NULL: a bad line */
} queued_line;

/* What the fields of a message hold while it is being read. */
typedef struct {
    sft_buf speaker, text;
    sft_buf first_line; /* the input line the message starts on, for rejects */
    kakao_time time;
    uint64_t line;
    int system;     /* a system notice by its place in the line */
    int undated;    /* time-only, no day line before it */
    int has_seconds;
    int truncated;  /* longer than max_message */
    int csv_incomplete; /* CSV record without a Message field */
} message_buf;

struct kakao_parser {
    textin *in;
    kakao_config cfg;
    int detected, done;
    kakao_format format;
    int form;

    queued_line *queue;
    size_t nqueue, qpos;

    int seen_content;   /* a message or day line came: no more header */
    int title_seen;
    char *room;
    uint64_t skipped, recovered;

    int have_day;
    int day_y, day_m, day_d;
    int have_last;
    kakao_time last_time;

    int pending;
    message_buf cur, out;
    int have_out;
    sft_buf rejected; /* the input lines of a message that cannot be used */

    /* CSV state of the open record */
    int csv_field;      /* 1: User, 2: Message */
    int csv_in_quote;   /* the line ended inside a quoted field */
    int csv_field_start;
};

const char *kakao_format_name(kakao_format f)
{
    switch (f) {
    case KAKAO_WINDOWS: return "windows";
    case KAKAO_CSV: return "csv";
    case KAKAO_ANDROID: return "android";
    case KAKAO_IOS: return "ios";
    default: return "auto";
    }
}

int kakao_format_parse(const char *name, kakao_format *out)
{
    static const kakao_format all[] = {KAKAO_AUTO, KAKAO_WINDOWS, KAKAO_CSV, KAKAO_ANDROID,
                                       KAKAO_IOS};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, kakao_format_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    if (strcmp(name, "mac") == 0) {
        *out = KAKAO_CSV;
        return 0;
    }
    return -1;
}

int kakao_open(kakao_parser **out, textin *in, const kakao_config *cfg)
{
    kakao_parser *p = calloc(1, sizeof *p);
    if (!p) return ENOMEM;
    p->in = in;
    if (cfg) p->cfg = *cfg;
    if (p->cfg.detect_lines <= 0) p->cfg.detect_lines = DEFAULT_DETECT_LINES;
    if (!p->cfg.max_message) p->cfg.max_message = DEFAULT_MAX_MESSAGE;
    if (p->cfg.has_start_date) {
        p->have_day = 1;
        p->day_y = p->cfg.start_year, p->day_m = p->cfg.start_month, p->day_d = p->cfg.start_day;
    }
    *out = p;
    return 0;
}

void kakao_close(kakao_parser *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nqueue; i++) free(p->queue[i].text);
    free(p->queue);
    buf_free(&p->cur.speaker);
    buf_free(&p->cur.text);
    buf_free(&p->cur.first_line);
    buf_free(&p->out.speaker);
    buf_free(&p->out.text);
    buf_free(&p->out.first_line);
    buf_free(&p->rejected);
    free(p->room);
    free(p);
}

kakao_format kakao_detected(const kakao_parser *p) { return p->format; }
const char *kakao_form_name(const kakao_parser *p)
{
    if (p->format == KAKAO_WINDOWS) return "[NAME] [오후 H:MM] text";
    if (p->format == KAKAO_CSV) return "Date,User,Message";
    return form_names[p->form];
}
const char *kakao_room(const kakao_parser *p) { return p->room; }
uint64_t kakao_skipped_lines(const kakao_parser *p) { return p->skipped; }
uint64_t kakao_recovered(const kakao_parser *p) { return p->recovered; }

/* ---- detection ---- */

enum { CAND_WINDOWS, CAND_CSV, CAND_FORM0 };
#define NCAND (CAND_FORM0 + NFORMS - 1)

static int is_header_line(const char *s, size_t n)
{
    const char *room;
    size_t room_len;
    return is_saved_line(s, n) || is_csv_header(s, n) || title_room(s, n, &room, &room_len);
}

/* Reads the first lines into the queue and picks the format with the most
 * message lines. Returns 0, KAKAO_NOT_EXPORT or KAKAO_IOERR. */
static int detect(kakao_parser *p, kakao_bad *bad)
{
    int score[NCAND] = {0};
    int day_lines = 0, header = 0, nonblank = 0;
    size_t bytes = 0, cap = 0;
    while ((int)p->nqueue < p->cfg.detect_lines && bytes < DETECT_MAX_BYTES) {
        text_line ln;
        int rc = textin_next(p->in, &ln);
        if (rc == TEXT_IOERR) return KAKAO_IOERR;
        if (rc == TEXT_EOF) break;
        if (p->nqueue == cap) {
            cap = cap ? cap * 2 : 64;
            queued_line *q = realloc(p->queue, cap * sizeof *q);
            if (!q) {
                errno = ENOMEM;
                return KAKAO_IOERR;
            }
            p->queue = q;
        }
        queued_line *q = &p->queue[p->nqueue++];
        memset(q, 0, sizeof *q);
        q->line = ln.line;
        q->len = ln.len;
        if (rc == TEXT_BAD) {
            q->col = ln.col;
            q->reason = ln.reason;
            if (!ln.text) continue;
        }
        if (!(q->text = malloc(ln.len + 1))) {
            errno = ENOMEM;
            return KAKAO_IOERR;
        }
        memcpy(q->text, ln.text, ln.len);
        q->text[ln.len] = '\0';
        bytes += ln.len;
        if (rc == TEXT_BAD || ln.len == 0) continue;
        nonblank++;
        const char *s = ln.text;
        size_t n = ln.len;
        if (is_header_line(s, n)) header++;
        line_info li;
        classify_windows(s, n, &li);
        score[CAND_WINDOWS] += li.type == L_MSG || li.type == L_DAY;
        civil c;
        const char *rest;
        if (is_csv_header(s, n)) score[CAND_CSV] += 5;
        else if (csv_record_start(s, n, &c, &rest) && csv_user_field_closes(rest, s + n))
            score[CAND_CSV]++;
        /* A line that a dated form reads does not count for the time-only
         * form, which would read "8:34pm, July 9, 2015, A : b" as a
         * message from "July 9, 2015, A". */
        int dated = 0;
        for (int f = F_KO_YMD; f < NFORMS; f++) {
            classify_stamped(s, n, f, &li);
            int hit = li.type == L_MSG || li.type == L_SYSTEM || li.type == L_MARK;
            if (f == F_TIME && dated) hit = 0;
            dated |= hit;
            score[CAND_FORM0 + f - 1] += hit;
            if (f == F_KO_YMD && li.type == L_DAY) day_lines++;
        }
    }
    int best = -1, best_score = 0;
    for (int k = 0; k < NCAND; k++) {
        int allowed;
        switch (p->cfg.format) {
        case KAKAO_WINDOWS: allowed = k == CAND_WINDOWS; break;
        case KAKAO_CSV: allowed = k == CAND_CSV; break;
        case KAKAO_ANDROID: allowed = k >= CAND_FORM0 && k != CAND_FORM0 + F_TIME - 1; break;
        case KAKAO_IOS: allowed = k >= CAND_FORM0; break;
        default: allowed = 1;
        }
        if (allowed && score[k] > best_score) best = k, best_score = score[k];
    }
    p->detected = 1;
    if (best < 0) {
        if (header && p->cfg.format && nonblank <= header + 1)
            best = p->cfg.format == KAKAO_WINDOWS ? CAND_WINDOWS
                                            : p->cfg.format == KAKAO_CSV ? CAND_CSV
                                                                         : CAND_FORM0;
        else if (header && nonblank <= header + 1) best = CAND_FORM0; /* an export with no messages */
    }
    if (best < 0) {
        bad->line = 0;
        bad->col = 0;
        bad->text = NULL;
        bad->len = 0;
        if (nonblank == 0)
            snprintf(bad->reason, sizeof bad->reason, "empty input: no KakaoTalk message lines");
        else
            snprintf(bad->reason, sizeof bad->reason,
                     "not a KakaoTalk export: no KakaoTalk message lines in the first %zu lines%s%s",
                     p->nqueue, p->cfg.format ? " (format forced: " : "",
                     p->cfg.format ? (p->cfg.format == KAKAO_ANDROID  ? "android)"
                                      : p->cfg.format == KAKAO_IOS    ? "ios)"
                                      : p->cfg.format == KAKAO_CSV    ? "csv)"
                                                                      : "windows)")
                                   : "");
        p->done = 1;
        return KAKAO_NOT_EXPORT;
    }
    if (best == CAND_WINDOWS) p->format = KAKAO_WINDOWS;
    else if (best == CAND_CSV) p->format = KAKAO_CSV;
    else {
        p->form = best - CAND_FORM0 + 1;
        if (p->cfg.format == KAKAO_ANDROID || p->cfg.format == KAKAO_IOS) p->format = p->cfg.format;
        else if (p->form == F_KO_DOT || p->form == F_TIME || day_lines > 0) p->format = KAKAO_IOS;
        else p->format = KAKAO_ANDROID;
        if (p->form == F_EN_MDY || p->form == F_EN_DMY) {
            /* English iOS has English day lines ("Thursday, July 9, 2015"). */
            for (size_t i = 0; i < p->nqueue && p->format == KAKAO_ANDROID && !p->cfg.format; i++) {
                line_info li;
                if (p->queue[i].text && classify_day(p->queue[i].text, p->queue[i].len, 0, &li))
                    p->format = KAKAO_IOS;
            }
        }
    }
    return 0;
}

/* ---- reading messages ---- */

static kakao_time day_start(const kakao_parser *p)
{
    return kakao_make_time(p->day_y, p->day_m, p->day_d, 0, 0, 0);
}

/* Appends to the open message, up to max_message bytes. */
static void append_text(kakao_parser *p, sft_buf *b, const char *s, size_t n)
{
    if (p->cur.truncated) return;
    if (b->len + n > p->cfg.max_message || buf_append(b, s, n) != 0) p->cur.truncated = 1;
}

/* Moves the open message to the output slot. */
static void close_pending(kakao_parser *p)
{
    if (!p->pending) return;
    message_buf tmp = p->out;
    p->out = p->cur;
    p->cur = tmp;
    p->cur.speaker.len = p->cur.text.len = 0;
    p->pending = 0;
    p->have_out = 1;
}

static void open_message(kakao_parser *p, const char *s, size_t n, uint64_t line, kakao_time t,
                         int undated, int has_sec)
{
    p->pending = 1;
    p->seen_content = 1;
    message_buf *m = &p->cur;
    m->speaker.len = m->text.len = m->first_line.len = 0;
    m->truncated = 0;
    if (n <= p->cfg.max_message && buf_append(&m->first_line, s, n) != 0) m->truncated = 1;
    m->time = t;
    m->line = line;
    m->system = m->undated = m->csv_incomplete = 0;
    m->has_seconds = has_sec;
    m->undated = undated;
    if (!undated) {
        p->have_last = 1;
        p->last_time = t;
    }
}

/* A continuation line: appended to the open message, else skipped. */
static void continue_message(kakao_parser *p, const char *s, size_t n)
{
    if (p->pending) {
        append_text(p, &p->cur.text, "\n", 1);
        append_text(p, &p->cur.text, s, n);
    } else if (n) {
        if (!p->seen_content && !p->title_seen) {
            const char *room;
            size_t room_len;
            if (title_room(s, n, &room, &room_len)) {
                p->title_seen = 1;
                if (room_len && !p->room) p->room = strndup(room, room_len);
                return;
            }
        }
        if (!p->seen_content && (is_saved_line(s, n) || is_csv_header(s, n))) return;
        p->skipped++;
    }
}

/* Whether time t would go back before the last message (to the minute):
 * then the line is quoted text, not a new message. */
static int goes_back(const kakao_parser *p, kakao_time t)
{
    return p->have_last && t / 60 < p->last_time / 60;
}

static void feed_structured(kakao_parser *p, const char *s, size_t n, uint64_t line)
{
    line_info li;
    if (p->format == KAKAO_WINDOWS) classify_windows(s, n, &li);
    else classify_stamped(s, n, p->form, &li);

    switch (li.type) {
    case L_MSG:
    case L_SYSTEM: {
        int undated = 0;
        kakao_time t;
        if (li.c.has_date) {
            t = kakao_make_time(li.c.y, li.c.mo, li.c.d, li.c.h, li.c.mi, li.c.s);
        } else if (!p->have_day) {
            undated = 1;
            t = 0;
        } else if (li.c.has_time) {
            t = day_start(p) + li.c.h * 3600 + li.c.mi * 60 + li.c.s;
        } else { /* a PC system line has no time: it is no earlier than the last message */
            t = day_start(p);
            if (p->have_last && p->last_time > t) t = p->last_time;
        }
        if (!undated && goes_back(p, t)) break;
        close_pending(p);
        open_message(p, s, n, line, t, undated, li.c.has_sec);
        if (li.type == L_MSG) append_text(p, &p->cur.speaker, li.name, li.name_len);
        p->cur.system = li.type == L_SYSTEM;
        append_text(p, &p->cur.text, li.text, li.text_len);
        if (li.c.has_date) p->have_day = 1, p->day_y = li.c.y, p->day_m = li.c.mo, p->day_d = li.c.d;
        return;
    }
    case L_MARK:
    case L_DAY: {
        kakao_time t = kakao_make_time(li.c.y, li.c.mo, li.c.d, li.c.h, li.c.mi, 0);
        if (p->have_last && t / 86400 < p->last_time / 86400) break;
        if (li.type == L_MARK && goes_back(p, t)) break;
        close_pending(p);
        p->seen_content = 1;
        p->have_day = 1;
        p->day_y = li.c.y, p->day_m = li.c.mo, p->day_d = li.c.d;
        return;
    }
    default: break;
    }
    continue_message(p, s, n);
}

/* Reads CSV fields from s on, into the open record; sets csv_in_quote when
 * the line ends inside a quoted field. */
static void csv_fields(kakao_parser *p, const char *s, const char *e)
{
    for (;;) {
        sft_buf *dst = p->csv_field == 1 ? &p->cur.speaker : &p->cur.text;
        if (p->csv_field_start) {
            p->csv_field_start = 0;
            p->csv_in_quote = s < e && *s == '"';
            s += p->csv_in_quote;
        }
        if (p->csv_in_quote) {
            const char *q = memchr(s, '"', (size_t)(e - s));
            if (!q) {
                append_text(p, dst, s, (size_t)(e - s));
                return; /* the field goes on on the next line */
            }
            append_text(p, dst, s, (size_t)(q - s));
            s = q + 1;
            if (s < e && *s == '"') {
                append_text(p, dst, "\"", 1);
                s++;
                continue;
            }
            p->csv_in_quote = 0;
            if (s == e) {
                if (p->csv_field == 1) p->cur.csv_incomplete = 1;
                return;
            }
            if (*s == ',' && p->csv_field == 1) {
                p->csv_field = 2;
                p->csv_field_start = 1;
                s++;
                continue;
            }
            /* Text after a closing quote: kept, as if unquoted. */
        }
        if (p->csv_field == 1) {
            const char *c = memchr(s, ',', (size_t)(e - s));
            if (!c) {
                append_text(p, dst, s, (size_t)(e - s));
                p->cur.csv_incomplete = 1;
                return;
            }
            append_text(p, dst, s, (size_t)(c - s));
            p->csv_field = 2;
            p->csv_field_start = 1;
            s = c + 1;
            continue;
        }
        append_text(p, dst, s, (size_t)(e - s)); /* the last field: the rest of the line */
        return;
    }
}

static void feed_csv(kakao_parser *p, const char *s, size_t n, uint64_t line)
{
    civil c;
    const char *rest = NULL;
    int start = 0, dated = 0;
    if (n && s[0] == ',' && !p->csv_in_quote) {
        start = 1; /* a row without a date: ",\"\",\"The message has been deleted.\"" */
        rest = s + 1;
    } else if (csv_record_start(s, n, &c, &rest)) {
        kakao_time t = kakao_make_time(c.y, c.mo, c.d, c.h, c.mi, c.s);
        start = !goes_back(p, t) && (!p->csv_in_quote || csv_user_field_closes(rest, s + n));
        dated = 1;
        if (start && p->csv_in_quote) p->recovered++; /* the open quote never closed */
        if (start) {
            close_pending(p);
            open_message(p, s, n, line, t, 0, c.has_sec);
        }
    }
    if (start) {
        if (!dated) {
            close_pending(p);
            open_message(p, s, n, line, p->last_time, !p->have_last, 0);
        }
        p->csv_field = 1;
        p->csv_field_start = 1;
        p->csv_in_quote = 0;
        csv_fields(p, rest, s + n);
        return;
    }
    if (p->csv_in_quote) {
        /* A name never holds a line end: a User field across lines is joined
         * with a space. */
        if (p->csv_field == 1) append_text(p, &p->cur.speaker, " ", 1);
        else append_text(p, &p->cur.text, "\n", 1);
        csv_fields(p, s, s + n);
        return;
    }
    if (!p->seen_content && is_csv_header(s, n)) return;
    continue_message(p, s, n);
}

/* The next line: first those read while detecting, then the input's. */
static int next_line(kakao_parser *p, text_line *ln)
{
    if (p->qpos < p->nqueue) {
        queued_line *q = &p->queue[p->qpos++];
        ln->text = q->text;
        ln->len = q->len;
        ln->line = q->line;
        ln->col = q->col;
        ln->reason = q->reason;
        return q->reason ? TEXT_BAD : TEXT_LINE;
    }
    if (p->queue) { /* all handed out, and the last is no longer in use */
        for (size_t i = 0; i < p->nqueue; i++) free(p->queue[i].text);
        free(p->queue);
        p->queue = NULL;
        p->nqueue = p->qpos = 0;
    }
    return textin_next(p->in, ln);
}

/* Hands out the message in the output slot: as a message, or as bad when
 * it cannot be used. */
static int emit(kakao_parser *p, kakao_msg *msg, kakao_bad *bad)
{
    message_buf *m = &p->out;
    p->have_out = 0;
    while (m->text.len && m->text.p[m->text.len - 1] == '\n') m->text.len--;
    if (buf_putc(&m->text, '\0') != 0 || buf_putc(&m->speaker, '\0') != 0) m->truncated = 1;
    else m->text.len--, m->speaker.len--;
    const char *why = NULL;
    if (m->truncated) why = "message longer than --max-line, or out of memory";
    else if (m->undated) why = "no date for this message: no day line before it (use --date)";
    else if (m->csv_incomplete) why = "CSV record without a Message field";
    if (why) {
        /* The input lines: the first as read, then the rest of the text
         * (continuation lines are kept as they were). */
        const char *nl = m->text.p ? memchr(m->text.p, '\n', m->text.len) : NULL;
        p->rejected.len = 0;
        buf_append(&p->rejected, m->first_line.p, m->first_line.len);
        if (nl && !m->truncated) buf_append(&p->rejected, nl, m->text.len - (size_t)(nl - m->text.p));
        bad->line = m->line;
        bad->col = 0;
        bad->text = p->rejected.p ? p->rejected.p : "";
        bad->len = p->rejected.len;
        snprintf(bad->reason, sizeof bad->reason, "%s", why);
        return KAKAO_BAD;
    }
    msg->speaker = m->speaker.p ? m->speaker.p : "";
    msg->speaker_len = m->speaker.len;
    msg->text = m->text.p ? m->text.p : "";
    msg->text_len = m->text.len;
    msg->time = m->time;
    msg->has_seconds = m->has_seconds;
    msg->line = m->line;
    if (m->system || m->speaker.len == 0) msg->kind = KAKAO_SYSTEM;
    else if (p->format == KAKAO_CSV && kakao_is_system_text(msg->text, msg->text_len))
        msg->kind = KAKAO_SYSTEM;
    else msg->kind = kakao_classify(msg->text, msg->text_len);
    return KAKAO_MSG;
}

int kakao_next(kakao_parser *p, kakao_msg *msg, kakao_bad *bad)
{
    if (!p->detected) {
        int rc = detect(p, bad);
        if (rc) return rc;
    }
    for (;;) {
        if (p->have_out) return emit(p, msg, bad);
        if (p->done) return KAKAO_EOF;
        text_line ln;
        int rc = next_line(p, &ln);
        if (rc == TEXT_IOERR) return KAKAO_IOERR;
        if (rc == TEXT_EOF) {
            if (p->format == KAKAO_CSV && p->csv_in_quote) p->recovered++; /* never closed */
            p->done = 1;
            close_pending(p);
            continue;
        }
        if (rc == TEXT_BAD) {
            bad->line = ln.line;
            bad->col = ln.col;
            bad->text = ln.text;
            bad->len = ln.len;
            snprintf(bad->reason, sizeof bad->reason, "%s", ln.reason);
            return KAKAO_BAD;
        }
        if (p->format == KAKAO_CSV) feed_csv(p, ln.text, ln.len, ln.line);
        else feed_structured(p, ln.text, ln.len, ln.line);
    }
}
