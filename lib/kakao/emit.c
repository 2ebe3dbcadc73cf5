#include "kakao/emit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* A message kept in the open session; its strings live in the session's
 * text buffer. */
typedef struct {
    size_t speaker_off, speaker_len, text_off, text_len;
    uint64_t i, line;
    kakao_time time;
    int me;
} kept;

/* A turn: consecutive kept messages [first, last] of one role. */
typedef struct {
    size_t first, last;
    int me;
} turn;

struct kakao_emitter {
    kakao_emit_config cfg;
    sft_out *out;
    jw w;
    char *chat, *file;
    uint64_t next_i;
    kakao_emit_stats st;

    kept *msgs;
    size_t nmsgs, cap;
    sft_buf text;
    kakao_time last_time;
    int have_last;

    turn *turns;
    size_t nturns, turn_cap;
    sft_buf content; /* a turn's text as written */

    /* Messages mode writes records from parts that stay the same within a
     * chat: {"chat":CHAT,"i": ... ,"src":{"file":FILE,"line": ... */
    sft_buf record_head, src_head;
    kakao_time ts_time; /* the last timestamp formatted, and its text */
    char ts_text[48];
    size_t ts_len;
};

static const char *const owner_aliases[] = {"회원님", "You", "you", "나", NULL};

int kakao_is_me(const kakao_emit_config *cfg, const char *name, size_t len)
{
    if (cfg->nme == 0) return 0;
    for (size_t k = 0; k < cfg->nme; k++)
        if (strlen(cfg->me[k]) == len && memcmp(cfg->me[k], name, len) == 0) return 1;
    for (const char *const *a = owner_aliases; *a; a++)
        if (strlen(*a) == len && memcmp(*a, name, len) == 0) return 1;
    return 0;
}

kakao_emitter *kakao_emitter_new(const kakao_emit_config *cfg, sft_out *out)
{
    kakao_emitter *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->cfg = *cfg;
    if (!e->cfg.tz) e->cfg.tz = "+09:00";
    e->out = out;
    jw_init(&e->w, out);
    return e;
}

void kakao_emitter_free(kakao_emitter *e)
{
    if (!e) return;
    free(e->chat);
    free(e->file);
    free(e->msgs);
    free(e->turns);
    buf_free(&e->text);
    buf_free(&e->content);
    buf_free(&e->record_head);
    buf_free(&e->src_head);
    free(e);
}

const kakao_emit_stats *kakao_emit_get_stats(const kakao_emitter *e) { return &e->st; }

static void write_time(jw *w, kakao_time t, const char *tz)
{
    char ts[48];
    size_t n = kakao_format_time(t, tz, ts, sizeof ts);
    jw_str(w, ts, n);
}

static void write_src(kakao_emitter *e, uint64_t line)
{
    jw_key(&e->w, "src");
    jw_object(&e->w);
    jw_key(&e->w, "file");
    jw_cstr(&e->w, e->file);
    jw_key(&e->w, "line");
    jw_int(&e->w, (int64_t)line);
    jw_end(&e->w);
}

/* Unicode code points of UTF-8 text. */
static uint64_t chars(const char *s, size_t n)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int in_bounds(const kakao_emitter *e, uint64_t c)
{
    return c >= e->cfg.min_chars && (!e->cfg.max_chars || c <= e->cfg.max_chars);
}

/* ---- sessions ---- */

static const char *kept_speaker(const kakao_emitter *e, const kept *k)
{
    return e->text.p + k->speaker_off;
}

/* Whether more than one person other than me speaks in the session. */
static int group_session(const kakao_emitter *e)
{
    const kept *first = NULL;
    for (size_t i = 0; i < e->nmsgs; i++) {
        const kept *k = &e->msgs[i];
        if (k->me) continue;
        if (!first) first = k;
        else if (k->speaker_len != first->speaker_len ||
                 memcmp(kept_speaker(e, k), kept_speaker(e, first), k->speaker_len) != 0)
            return 1;
    }
    return 0;
}

static int build_turns(kakao_emitter *e)
{
    e->nturns = 0;
    for (size_t i = 0; i < e->nmsgs; i++) {
        if (e->nturns && e->turns[e->nturns - 1].me == e->msgs[i].me) {
            e->turns[e->nturns - 1].last = i;
            continue;
        }
        if (e->nturns == e->turn_cap) {
            size_t cap = e->turn_cap ? e->turn_cap * 2 : 64;
            turn *t = realloc(e->turns, cap * sizeof *t);
            if (!t) return ENOMEM;
            e->turns = t;
            e->turn_cap = cap;
        }
        e->turns[e->nturns++] = (turn){i, i, e->msgs[i].me};
    }
    return 0;
}

/* Puts turn t's text into e->content: its messages joined with "\n", each
 * other speaker's run prefixed with "NAME: " in group sessions. */
static int turn_text(kakao_emitter *e, const turn *t, int group)
{
    e->content.len = 0;
    const kept *prev = NULL;
    int rc = 0;
    for (size_t i = t->first; i <= t->last; i++) {
        const kept *k = &e->msgs[i];
        if (prev) rc |= buf_putc(&e->content, '\n');
        if (group && !t->me &&
            (!prev || prev->speaker_len != k->speaker_len ||
             memcmp(kept_speaker(e, prev), kept_speaker(e, k), k->speaker_len) != 0)) {
            rc |= buf_append(&e->content, kept_speaker(e, k), k->speaker_len);
            rc |= buf_append(&e->content, ": ", 2);
        }
        rc |= buf_append(&e->content, e->text.p + k->text_off, k->text_len);
        prev = k;
    }
    return rc ? ENOMEM : 0;
}

static uint64_t turn_messages(const turn *t) { return t->last - t->first + 1; }

static int write_turn(kakao_emitter *e, const turn *t, int group)
{
    if (turn_text(e, t, group)) return ENOMEM;
    jw_object(&e->w);
    jw_key(&e->w, "role");
    jw_cstr(&e->w, t->me ? "assistant" : "user");
    jw_key(&e->w, "content");
    jw_str(&e->w, e->content.p ? e->content.p : "", e->content.len);
    jw_end(&e->w);
    return 0;
}

static void write_id(kakao_emitter *e, const char *key, uint64_t i)
{
    char num[24];
    int n = snprintf(num, sizeof num, "#%llu", (unsigned long long)i);
    e->content.len = 0;
    if (buf_append(&e->content, e->chat, strlen(e->chat)) == 0 &&
        buf_append(&e->content, num, (size_t)n) == 0) {
        jw_key(&e->w, key);
        jw_str(&e->w, e->content.p, e->content.len);
    }
}

static void write_meta(kakao_emitter *e, uint64_t session_i, const kept *from, const kept *to)
{
    jw_key(&e->w, "meta");
    jw_object(&e->w);
    jw_key(&e->w, "chat");
    jw_cstr(&e->w, e->chat);
    write_id(e, "conversation", session_i);
    jw_key(&e->w, "start");
    write_time(&e->w, from->time, e->cfg.tz);
    jw_key(&e->w, "end");
    write_time(&e->w, to->time, e->cfg.tz);
    jw_end(&e->w);
}

static int flush_conversation(kakao_emitter *e, int group)
{
    size_t a = 0, b = e->nturns;
    while (a < b && e->turns[a].me) e->st.dropped_no_prompt += turn_messages(&e->turns[a++]);
    while (b > a && !e->turns[b - 1].me) e->st.dropped_no_reply += turn_messages(&e->turns[--b]);
    if (a == b) return 0;
    uint64_t n = 0, c = 0;
    for (size_t k = a; k < b; k++) { /* characters of the turns as written */
        n += turn_messages(&e->turns[k]);
        if (turn_text(e, &e->turns[k], group)) return ENOMEM;
        c += chars(e->content.p, e->content.len);
    }
    if (!in_bounds(e, c)) {
        e->st.dropped_length += n;
        return 0;
    }
    const kept *first = &e->msgs[e->turns[a].first], *last = &e->msgs[e->turns[b - 1].last];
    jw_object(&e->w);
    write_id(e, "id", e->msgs[0].i);
    jw_key(&e->w, "messages");
    jw_array(&e->w);
    for (size_t k = a; k < b; k++)
        if (write_turn(e, &e->turns[k], group)) return ENOMEM;
    jw_end(&e->w);
    write_meta(e, e->msgs[0].i, first, last);
    write_src(e, first->line);
    jw_end(&e->w);
    jw_newline(&e->w);
    e->st.used += n;
    e->st.records++;
    return 0;
}

static int flush_pairs(kakao_emitter *e, int group)
{
    for (size_t k = 0; k < e->nturns; k++) {
        const turn *t = &e->turns[k];
        if (!t->me) {
            if (k + 1 == e->nturns) e->st.dropped_no_reply += turn_messages(t);
            continue;
        }
        if (k == 0) {
            e->st.dropped_no_prompt += turn_messages(t);
            continue;
        }
        const turn *prompt = &e->turns[k - 1];
        if (turn_text(e, t, group)) return ENOMEM;
        if (!in_bounds(e, chars(e->content.p, e->content.len))) {
            e->st.dropped_length += turn_messages(t) + turn_messages(prompt);
            continue;
        }
        /* History: up to context turns before the prompt, starting with a
         * user turn so that roles alternate. */
        size_t h = k - 1 > e->cfg.context ? k - 1 - e->cfg.context : 0;
        if (h < k - 1 && e->turns[h].me) h++;
        const kept *reply = &e->msgs[t->first];
        jw_object(&e->w);
        write_id(e, "id", reply->i);
        jw_key(&e->w, "messages");
        jw_array(&e->w);
        for (size_t j = h; j <= k; j++)
            if (write_turn(e, &e->turns[j], group)) return ENOMEM;
        jw_end(&e->w);
        write_meta(e, e->msgs[0].i, &e->msgs[e->turns[h].first], &e->msgs[t->last]);
        write_src(e, e->msgs[prompt->first].line);
        jw_end(&e->w);
        jw_newline(&e->w);
        e->st.used += turn_messages(t) + turn_messages(prompt);
        e->st.records++;
    }
    return 0;
}

/* Writes what the open session makes and empties it. */
static int flush_session(kakao_emitter *e)
{
    int rc = 0;
    if (e->nmsgs) {
        int group = group_session(e);
        rc = build_turns(e);
        if (!rc)
            rc = e->cfg.mode == KAKAO_EMIT_PAIRS ? flush_pairs(e, group)
                                                 : flush_conversation(e, group);
    }
    e->nmsgs = 0;
    e->text.len = 0;
    return rc;
}

int kakao_emit_begin(kakao_emitter *e, const char *chat, const char *file)
{
    int rc = kakao_emit_end(e);
    free(e->chat);
    free(e->file);
    e->chat = strdup(chat);
    e->file = strdup(file);
    e->next_i = 0;
    e->have_last = 0;
    e->st.chat_me_messages = 0;
    e->ts_len = 0;
    if (rc || !e->chat || !e->file) return rc ? rc : ENOMEM;
    e->record_head.len = e->src_head.len = 0;
    static const char chat_key[] = "{\"chat\":", i_key[] = ",\"i\":",
                      src_key[] = ",\"src\":{\"file\":", line_key[] = ",\"line\":";
    if (buf_append(&e->record_head, chat_key, sizeof chat_key - 1) ||
        buf_json_string(&e->record_head, chat, strlen(chat)) ||
        buf_append(&e->record_head, i_key, sizeof i_key - 1) ||
        buf_append(&e->src_head, src_key, sizeof src_key - 1) ||
        buf_json_string(&e->src_head, file, strlen(file)) ||
        buf_append(&e->src_head, line_key, sizeof line_key - 1))
        return ENOMEM;
    return 0;
}

int kakao_emit_end(kakao_emitter *e)
{
    return e->cfg.mode == KAKAO_EMIT_MESSAGES ? 0 : flush_session(e);
}

static void write_u64(sft_out *o, uint64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    sft_out_write(o, p, (size_t)(tmp + sizeof tmp - p));
}

#define WRITE_LIT(o, lit) sft_out_write((o), (lit), sizeof(lit) - 1)

/* One chat-message record, written from parts (this is the hot path of
 * messages mode; the layout is that of jw_*). */
static int write_message(kakao_emitter *e, const kakao_msg *m, uint64_t i, int me)
{
    sft_out *o = e->out;
    if (!e->ts_len || m->time / 86400 != e->ts_time / 86400) {
        e->ts_len = kakao_format_time(m->time, e->cfg.tz, e->ts_text, sizeof e->ts_text);
        e->ts_time = m->time;
    } else if (m->time != e->ts_time) { /* the same day: only the clock changes */
        int64_t sec = m->time - m->time / 86400 * 86400;
        unsigned f[3] = {(unsigned)(sec / 3600), (unsigned)(sec / 60 % 60), (unsigned)(sec % 60)};
        for (int k = 0; k < 3; k++) {
            e->ts_text[11 + 3 * k] = (char)('0' + f[k] / 10);
            e->ts_text[12 + 3 * k] = (char)('0' + f[k] % 10);
        }
        e->ts_time = m->time;
    }
    sft_out_write(o, e->record_head.p, e->record_head.len);
    write_u64(o, i);
    WRITE_LIT(o, ",\"ts\":\"");
    sft_out_write(o, e->ts_text, e->ts_len);
    WRITE_LIT(o, "\",\"speaker\":");
    if (me) sft_out_json_string(o, e->cfg.me[0], strlen(e->cfg.me[0]));
    else sft_out_json_string(o, m->speaker, m->speaker_len);
    WRITE_LIT(o, ",\"text\":");
    sft_out_json_string(o, m->text, m->text_len);
    WRITE_LIT(o, ",\"kind\":\"");
    const char *kind = kakao_kind_name(m->kind);
    sft_out_write(o, kind, strlen(kind));
    sft_out_putc(o, '"');
    sft_out_write(o, e->src_head.p, e->src_head.len);
    write_u64(o, m->line);
    WRITE_LIT(o, "}}\n");
    e->st.used++;
    e->st.records++;
    return 0;
}

int kakao_emit_message(kakao_emitter *e, const kakao_msg *m)
{
    uint64_t i = e->next_i++;
    int me = m->kind != KAKAO_SYSTEM && kakao_is_me(&e->cfg, m->speaker, m->speaker_len);
    e->st.messages++;
    e->st.chat_me_messages += me;
    if (e->cfg.mode == KAKAO_EMIT_MESSAGES) return write_message(e, m, i, me);

    /* A long silence ends the session, whatever kind of message breaks it. */
    int rc = 0;
    if (e->nmsgs && ((e->have_last && m->time - e->last_time > e->cfg.gap) ||
                     e->nmsgs >= KAKAO_MAX_SESSION))
        rc = flush_session(e);
    e->last_time = m->time;
    e->have_last = 1;
    if (rc) return rc;

    switch (m->kind) {
    case KAKAO_SYSTEM: e->st.dropped_system++; return 0;
    case KAKAO_DELETED: e->st.dropped_deleted++; return 0;
    case KAKAO_PHOTO:
    case KAKAO_VIDEO:
    case KAKAO_EMOTICON:
    case KAKAO_FILE:
    case KAKAO_VOICE:
        if (!e->cfg.keep_media) {
            e->st.dropped_media++;
            return 0;
        }
        break;
    default: break;
    }
    if (e->nmsgs == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        kept *k = realloc(e->msgs, cap * sizeof *k);
        if (!k) return ENOMEM;
        e->msgs = k;
        e->cap = cap;
    }
    kept *k = &e->msgs[e->nmsgs];
    k->speaker_off = e->text.len;
    k->speaker_len = m->speaker_len;
    if (buf_append(&e->text, m->speaker, m->speaker_len)) return ENOMEM;
    k->text_off = e->text.len;
    k->text_len = m->text_len;
    if (buf_append(&e->text, m->text, m->text_len)) return ENOMEM;
    k->i = i;
    k->line = m->line;
    k->time = m->time;
    k->me = me;
    e->nmsgs++;
    return 0;
}
