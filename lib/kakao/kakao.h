/* KakaoTalk chat exports: detects the format of an export and turns its
 * lines into messages.
 *
 * Formats (one per file, detected from its first lines, or forced):
 *   windows  PC: "--------------- 2015년 8월 1일 토요일 ---------------" day
 *            lines, "[NAME] [오후 2:37] text", system lines without prefix
 *   csv      Mac / newer PC: "Date,User,Message", RFC 4180 quoting; broken
 *            quoting recovers at the next line that starts a record
 *   android  "2015년 7월 9일 오후 8:34, NAME : text" and the English forms
 *            ("8:34pm, July 9, 2015, …", "July 9, 2015, 8:34 PM, …",
 *            "14 October 2018, 7:31 PM, …"); system lines without " : "
 *   ios      "2026. 2. 1. 오후 8:29, NAME : text", "Jul 9, 2015, 8:34 PM, …",
 *            "Feb 1, 2026 at 20:35, …", system lines "STAMP: text", and the
 *            older form with the time only ("오후 8:36, NAME : text") after
 *            day lines ("2021년 12월 29일 수요일", "Thursday, July 9, 2015")
 * A stamped file (android, ios) is read in the one timestamp form that most
 * of its first lines use, so text in another form never starts a message.
 * A line that starts no message continues the previous one; so does a line
 * in the file's own form whose time is earlier than the message before it
 * (exports are in time order; such a line is quoted text).
 *
 * Nothing here prints or exits: errors come back as values. */
#ifndef SFT_KAKAO_H
#define SFT_KAKAO_H

#include <stddef.h>
#include <stdint.h>

#include "core/textin.h"

typedef enum {
    KAKAO_AUTO = 0,
    KAKAO_WINDOWS,
    KAKAO_CSV,
    KAKAO_ANDROID,
    KAKAO_IOS,
} kakao_format;

const char *kakao_format_name(kakao_format f);
/* Returns 0, or -1 for an unknown name. */
int kakao_format_parse(const char *name, kakao_format *out);

typedef enum {
    KAKAO_TEXT = 0,
    KAKAO_PHOTO,
    KAKAO_VIDEO,
    KAKAO_EMOTICON,
    KAKAO_FILE,
    KAKAO_LINK,
    KAKAO_VOICE,
    KAKAO_DELETED,
    KAKAO_SYSTEM,
} kakao_kind;

const char *kakao_kind_name(kakao_kind k);

/* The kind of a message from its text: media placeholders of both UI
 * languages ("사진", "사진 3장", "<Photo>", "동영상", "이모티콘",
 * "파일: a.pdf", …), deleted or hidden messages, a lone URL (link);
 * anything else is text. */
kakao_kind kakao_classify(const char *text, size_t len);

/* Whether a line is a system notice (join, leave, invite, kick, new room
 * owner) in either UI language. Used where the export gives system lines
 * no mark of their own (PC exports, CSV). */
int kakao_is_system_text(const char *text, size_t len);

/* A local date and time (the export's clock) as seconds since
 * 1970-01-01T00:00:00 of that clock. */
typedef int64_t kakao_time;

kakao_time kakao_make_time(int year, int month, int day, int hour, int min, int sec);
/* Whether year-month-day is a date of the calendar, in 1970..2200. */
int kakao_valid_date(int year, int month, int day);
/* Writes "YYYY-MM-DDTHH:MM:SS" + tz ("+09:00") and returns its length. */
size_t kakao_format_time(kakao_time t, const char *tz, char *out, size_t outlen);

typedef struct {
    const char *speaker; /* "" for system lines without one */
    size_t speaker_len;
    const char *text;    /* lines joined with "\n" */
    size_t text_len;
    kakao_kind kind;
    kakao_time time;
    int has_seconds;     /* the export gave seconds (CSV) */
    uint64_t line;       /* first line of the message */
} kakao_msg;

typedef struct {
    kakao_format format;   /* KAKAO_AUTO: detect */
    int detect_lines;      /* lines looked at to detect (0: 1000) */
    size_t max_message;    /* longest message kept (0: 64 MiB) */
    int has_start_date;    /* start_* date for time-only lines before the first day line */
    int start_year, start_month, start_day;
} kakao_config;

typedef struct kakao_parser kakao_parser;

enum {
    KAKAO_EOF = 0,
    KAKAO_MSG = 1,       /* *msg is the next message */
    KAKAO_BAD = 2,       /* *bad is a line or message that cannot be used; go on */
    KAKAO_NOT_EXPORT = 3,/* not a KakaoTalk export: *bad->reason says why */
    KAKAO_IOERR = -1,    /* reading failed; errno set */
};

typedef struct {
    uint64_t line;
    uint64_t col;
    const char *text;    /* the offending input (may be NULL), valid until the next call */
    size_t len;
    char reason[160];
} kakao_bad;

/* Creates a parser reading from in (which the caller keeps and closes
 * after kakao_close()). Returns 0 or ENOMEM. */
int kakao_open(kakao_parser **out, textin *in, const kakao_config *cfg);

/* Returns KAKAO_MSG, KAKAO_BAD, KAKAO_NOT_EXPORT (once, then KAKAO_EOF),
 * KAKAO_EOF or KAKAO_IOERR. The first call detects the format. */
int kakao_next(kakao_parser *p, kakao_msg *msg, kakao_bad *bad);

/* After the first kakao_next(): the format found and a short description
 * of its timestamp form ("android 2015년 7월 9일 오후 8:34"). */
kakao_format kakao_detected(const kakao_parser *p);
const char *kakao_form_name(const kakao_parser *p);

/* The room name from the export's header, or NULL when it has none. */
const char *kakao_room(const kakao_parser *p);

/* Lines that were neither header nor part of a message: text before the
 * first message (a fragment cut mid-message), or junk. */
uint64_t kakao_skipped_lines(const kakao_parser *p);
/* CSV records whose quoting was broken and recovered. */
uint64_t kakao_recovered(const kakao_parser *p);

void kakao_close(kakao_parser *p);

#endif
