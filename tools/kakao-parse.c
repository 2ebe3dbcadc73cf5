/* kakao-parse: KakaoTalk chat exports to chat messages or SFT examples. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/textin.h"
#include "kakao/emit.h"
#include "kakao/kakao.h"

#define MAX_ME 16

static void usage(FILE *f)
{
    fprintf(f, "Usage: %s [OPTION]... [FILE]...\n", sft_prog);
    fputs("Read KakaoTalk chat exports (PC, Mac/CSV, Android, iOS; Korean or English UI)\n"
          "and write chat messages or SFT examples as JSONL.\n"
          "\n"
          "  -e, --emit MODE         messages (default), pairs or conversations\n"
          "  -m, --me NAME           the export's owner (repeatable; the first is written;\n"
          "                          회원님, You, you and 나 are aliases); needed by pairs\n"
          "                          and conversations\n"
          "      --gap DURATION      silence that ends a conversation (default 1h;\n"
          "                          e.g. 90s, 30m, 2h, 1h30m, or seconds)\n"
          "      --context N         pairs: up to N earlier turns kept as history, from a\n"
          "                          user turn on (default 0)\n"
          "      --keep-media        pairs, conversations: keep photo, video, emoticon,\n"
          "                          file and voice placeholders as text\n"
          "      --min-chars N       drop pairs whose reply, conversations whose text,\n"
          "      --max-chars N       has fewer / more characters than N\n"
          "      --tz ±HH:MM         offset written in timestamps (default +09:00)\n"
          "  -f, --format FMT        auto (default), windows, csv, android or ios\n"
          "      --encoding ENC      auto (default), utf-8, utf-16le, utf-16be or cp949\n"
          "      --chat NAME         chat name in the records (default: the room name in\n"
          "                          the header, else the file name)\n"
          "      --date YYYY-MM-DD   date of time-only lines before the first day line\n"
          "                          (fragments of PC or older iOS exports)\n"
          "  -o, --output FILE       write to FILE instead of standard output\n" SFT_COMMON_OPTIONS_HELP
          "\n"
          "With no FILE, or when FILE is -, read standard input.\n"
          "Exit status: 0 ok, 1 some records rejected (--on-error=skip), 2 usage error,\n"
          "65 bad input (not a KakaoTalk export), 66 input not found, 73 output not\n"
          "created, 74 I/O error.\n",
          f);
}

enum {
    OPT_GAP = SFT_OPT_FIRST_TOOL,
    OPT_CONTEXT,
    OPT_KEEP_MEDIA,
    OPT_MIN_CHARS,
    OPT_MAX_CHARS,
    OPT_TZ,
    OPT_ENCODING,
    OPT_CHAT,
    OPT_DATE,
};

static const struct option long_options[] = {
    {"emit", required_argument, NULL, 'e'},
    {"me", required_argument, NULL, 'm'},
    {"gap", required_argument, NULL, OPT_GAP},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"keep-media", no_argument, NULL, OPT_KEEP_MEDIA},
    {"min-chars", required_argument, NULL, OPT_MIN_CHARS},
    {"max-chars", required_argument, NULL, OPT_MAX_CHARS},
    {"tz", required_argument, NULL, OPT_TZ},
    {"format", required_argument, NULL, 'f'},
    {"encoding", required_argument, NULL, OPT_ENCODING},
    {"chat", required_argument, NULL, OPT_CHAT},
    {"date", required_argument, NULL, OPT_DATE},
    {"output", required_argument, NULL, 'o'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* "1h30m", "90s", "45m", "3600": seconds, at most a year. */
static int parse_duration(const char *s, int64_t *out)
{
    uint64_t v;
    if (sft_parse_u64(s, 0, 366 * 86400, &v) == 0) {
        *out = (int64_t)v;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    if (!*p) return -1;
    while (*p) {
        if (*p < '0' || *p > '9') return -1;
        int64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (*p++ - '0');
            if (n > 366 * 86400) return -1;
        }
        int64_t unit = *p == 'd' ? 86400 : *p == 'h' ? 3600 : *p == 'm' ? 60 : *p == 's' ? 1 : 0;
        if (!unit) return -1;
        p++;
        total += n * unit;
        if (total > 366 * 86400) return -1;
    }
    *out = total;
    return 0;
}

/* "+09:00", "-05:30", "Z" (written as +00:00). */
static int parse_tz(const char *s, char out[8])
{
    if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
        strcpy(out, "+00:00");
        return 0;
    }
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return -1;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (s[i] < '0' || s[i] > '9')) return -1;
    int h = (s[1] - '0') * 10 + (s[2] - '0'), m = (s[4] - '0') * 10 + (s[5] - '0');
    if (h > 14 || m > 59) return -1;
    memcpy(out, s, 7);
    return 0;
}

static int parse_date(const char *s, kakao_config *cfg)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
        s[7] != '-')
        return -1;
    if (!kakao_valid_date(y, m, d)) return -1;
    cfg->has_start_date = 1;
    cfg->start_year = y, cfg->start_month = m, cfg->start_day = d;
    return 0;
}

/* The chat name of a file: --chat, the header's room, else the file's
 * base name without extension. */
static char *chat_name(const char *forced, const char *room, const char *file)
{
    if (forced) return strdup(forced);
    if (room && *room) return strdup(room);
    if (strcmp(file, "<stdin>") == 0) return strdup("stdin");
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    const char *dot = strrchr(base, '.');
    return strndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}

typedef struct {
    kakao_config parse;
    text_encoding encoding;
    const char *chat;
} file_options;

/* Reads one export into the emitter. Returns 0 or the exit status. */
static int parse_file(const char *path, const file_options *fo, kakao_emitter *em, sft_run *run,
                      sft_out *out)
{
    textin *in;
    int err = textin_open(&in, path, fo->encoding, run->max_line);
    const char *name = path && strcmp(path, "-") ? path : "<stdin>";
    if (err) {
        sft_error("%s: cannot open: %s", name, strerror(err));
        return err == ENOMEM ? SFT_EX_SOFTWARE : SFT_EX_NOINPUT;
    }
    int status = 0;
    kakao_parser *p = NULL;
    const char *why = textin_detect_error(in);
    if (why) {
        run->in++;
        status = sft_run_reject(run, name, 0, 0, NULL, 0, why);
        textin_close(in);
        return status;
    }
    if (kakao_open(&p, in, &fo->parse)) {
        textin_close(in);
        sft_error("out of memory");
        return SFT_EX_SOFTWARE;
    }
    int started = 0;
    for (;;) {
        kakao_msg m;
        kakao_bad bad;
        int rc = kakao_next(p, &m, &bad);
        if (rc == KAKAO_EOF) break;
        if (rc == KAKAO_IOERR) {
            sft_error("%s: read error: %s", name, strerror(errno));
            status = errno == ENOMEM ? SFT_EX_SOFTWARE : SFT_EX_IOERR;
            break;
        }
        if (rc == KAKAO_NOT_EXPORT) {
            run->in++;
            status = sft_run_reject(run, name, 0, 0, NULL, 0, bad.reason);
            break;
        }
        if (!started) {
            started = 1;
            char *chat = chat_name(fo->chat, kakao_room(p), name);
            if (!chat || kakao_emit_begin(em, chat, name)) {
                free(chat);
                sft_error("out of memory");
                status = SFT_EX_SOFTWARE;
                break;
            }
            free(chat);
            if (run->verbose)
                sft_error("%s: %s export (%s), %s", name, kakao_format_name(kakao_detected(p)),
                          kakao_form_name(p), text_encoding_name(textin_encoding(in)));
        }
        run->in++;
        if (rc == KAKAO_BAD) {
            if ((status = sft_run_reject(run, name, bad.line, bad.col, bad.text, bad.len, bad.reason)))
                break;
            continue;
        }
        if (kakao_emit_message(em, &m)) {
            sft_error("out of memory");
            status = SFT_EX_SOFTWARE;
            break;
        }
        if (sft_out_error(out)) break;
        sft_run_progress(run, textin_bytes_read(in), run->in);
    }
    if (started && !status && kakao_emit_end(em)) {
        sft_error("out of memory");
        status = SFT_EX_SOFTWARE;
    }
    if (!status) {
        if (kakao_skipped_lines(p))
            sft_error("%s: warning: %" PRIu64 " line%s outside any message skipped (text before "
                      "the first message, or not part of an export)",
                      name, kakao_skipped_lines(p), kakao_skipped_lines(p) == 1 ? "" : "s");
        if (textin_replaced(in))
            sft_error("%s: warning: %" PRIu64 " invalid %s sequence%s replaced by U+FFFD", name,
                      textin_replaced(in), text_encoding_name(textin_encoding(in)),
                      textin_replaced(in) == 1 ? "" : "s");
        if (!started && kakao_detected(p) != KAKAO_AUTO)
            sft_error("%s: warning: a KakaoTalk export header but no messages", name);
        if (kakao_recovered(p))
            sft_error("%s: warning: %" PRIu64 " CSV record%s with an unclosed quote ended at the "
                      "next record or the end of the file",
                      name, kakao_recovered(p), kakao_recovered(p) == 1 ? "" : "s");
    }
    kakao_close(p);
    textin_close(in);
    return status;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    kakao_emit_config ec = {.mode = KAKAO_EMIT_MESSAGES, .gap = 3600};
    file_options fo = {0};
    const char *me[MAX_ME];
    const char *output = "-";
    char tz[8] = "+09:00";
    uint64_t v;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "e:m:f:o:vhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'e':
            if (strcmp(optarg, "messages") == 0) ec.mode = KAKAO_EMIT_MESSAGES;
            else if (strcmp(optarg, "pairs") == 0) ec.mode = KAKAO_EMIT_PAIRS;
            else if (strcmp(optarg, "conversations") == 0) ec.mode = KAKAO_EMIT_CONVERSATIONS;
            else
                return sft_usage_error("invalid value '%s' for --emit: expected messages, pairs "
                                       "or conversations",
                                       optarg);
            break;
        case 'm':
            if (!*optarg) return sft_usage_error("--me needs a name");
            if (ec.nme == MAX_ME) return sft_usage_error("at most %d --me options", MAX_ME);
            me[ec.nme++] = optarg;
            break;
        case OPT_GAP:
            if (parse_duration(optarg, &ec.gap) != 0)
                return sft_usage_error("invalid value '%s' for --gap: expected a duration like "
                                       "90s, 30m, 1h or 1h30m (at most 366d)",
                                       optarg);
            break;
        case OPT_CONTEXT:
            if (sft_parse_u64(optarg, 0, 1000, &v) != 0) return sft_bad_option_value("context", optarg);
            ec.context = (size_t)v;
            break;
        case OPT_KEEP_MEDIA: ec.keep_media = 1; break;
        case OPT_MIN_CHARS:
            if (sft_parse_u64(optarg, 0, UINT32_MAX, &ec.min_chars) != 0)
                return sft_bad_option_value("min-chars", optarg);
            break;
        case OPT_MAX_CHARS:
            if (sft_parse_u64(optarg, 1, UINT32_MAX, &ec.max_chars) != 0)
                return sft_bad_option_value("max-chars", optarg);
            break;
        case OPT_TZ:
            if (parse_tz(optarg, tz) != 0)
                return sft_usage_error("invalid value '%s' for --tz: expected +HH:MM or -HH:MM", optarg);
            break;
        case 'f':
            if (kakao_format_parse(optarg, &fo.parse.format) != 0)
                return sft_usage_error("invalid value '%s' for --format: expected auto, windows, "
                                       "csv, android or ios",
                                       optarg);
            break;
        case OPT_ENCODING:
            if (text_encoding_parse(optarg, &fo.encoding) != 0)
                return sft_usage_error("invalid value '%s' for --encoding: expected auto, utf-8, "
                                       "utf-16le, utf-16be or cp949",
                                       optarg);
            break;
        case OPT_CHAT: fo.chat = optarg; break;
        case OPT_DATE:
            if (parse_date(optarg, &fo.parse) != 0)
                return sft_usage_error("invalid value '%s' for --date: expected a date YYYY-MM-DD", optarg);
            break;
        case 'o': output = optarg; break;
        default:
            if ((rc = sft_standard_option(opt, usage)) >= 0) return rc;
            if ((rc = sft_run_option(&run, opt, optarg)) != 0) return rc;
        }
    }
    ec.me = me;
    ec.tz = tz;
    if (ec.mode != KAKAO_EMIT_MESSAGES && ec.nme == 0)
        return sft_usage_error("--emit %s needs --me NAME (the export's owner, whose replies are "
                               "the assistant turns)",
                               ec.mode == KAKAO_EMIT_PAIRS ? "pairs" : "conversations");
    if (ec.max_chars && ec.min_chars > ec.max_chars)
        return sft_usage_error("--min-chars is larger than --max-chars");
    if (ec.mode == KAKAO_EMIT_MESSAGES &&
        (ec.context || ec.keep_media || ec.min_chars || ec.max_chars))
        return sft_usage_error("--context, --keep-media, --min-chars and --max-chars apply to "
                               "--emit pairs and conversations");

    char **inputs = argv + optind;
    int ninputs = argc - optind;
    static char *stdin_only[] = {"-"};
    if (ninputs == 0) inputs = stdin_only, ninputs = 1;
    for (int k = 0; k < ninputs; k++) {
        if (strcmp(output, "-") && sft_same_file(output, inputs[k]))
            return sft_usage_error("output '%s' is also an input", output);
        if (run.rejects_path && sft_same_file(run.rejects_path, inputs[k]))
            return sft_usage_error("--rejects '%s' is also an input", run.rejects_path);
    }
    if (run.rejects_path && strcmp(output, "-") && sft_same_file(run.rejects_path, output))
        return sft_usage_error("--rejects '%s' is also the output", output);

    fo.parse.max_message = run.max_line; /* a message is held whole, like a line */
    int status = sft_run_start(&run);
    if (status) return sft_run_finish(&run, status);
    sft_out *out = sft_out_open(output);
    if (!out) {
        sft_error("%s: cannot create: %s", output, strerror(errno));
        return sft_run_finish(&run, SFT_EX_CANTCREAT);
    }
    kakao_emitter *em = kakao_emitter_new(&ec, out);
    if (!em) {
        sft_error("out of memory");
        status = SFT_EX_SOFTWARE;
    }
    for (int k = 0; k < ninputs && !status; k++) {
        status = parse_file(inputs[k], &fo, em, &run, out);
        const kakao_emit_stats *st = kakao_emit_get_stats(em);
        if (!status && ec.nme && st->messages && st->chat_me_messages == 0)
            sft_error("%s: warning: no message from %s (--me) or its aliases", inputs[k], me[0]);
        if (!status && sft_out_error(out)) break;
    }
    if (em) {
        const kakao_emit_stats *st = kakao_emit_get_stats(em);
        run.out = st->used;
        run.filtered = st->dropped_system + st->dropped_deleted + st->dropped_media +
                       st->dropped_no_reply + st->dropped_no_prompt + st->dropped_length;
        if (run.verbose && ec.mode != KAKAO_EMIT_MESSAGES && !status)
            sft_error("%" PRIu64 " examples from %" PRIu64 " messages; dropped: %" PRIu64
                      " system, %" PRIu64 " deleted, %" PRIu64 " media, %" PRIu64
                      " unanswered, %" PRIu64 " without a prompt, %" PRIu64 " by length",
                      st->records, st->used, st->dropped_system, st->dropped_deleted,
                      st->dropped_media, st->dropped_no_reply, st->dropped_no_prompt,
                      st->dropped_length);
    }
    int err = sft_out_close(out, status == 0 || status == SFT_EX_REJECTED);
    if (err && !status) status = sft_write_error(strcmp(output, "-") ? output : "<stdout>", err);
    kakao_emitter_free(em);
    return sft_run_finish(&run, status);
}
