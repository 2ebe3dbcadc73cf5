/* Records from chat messages: one chat-message record per message, or SFT
 * examples for "reply like me" (pairs) and whole conversations.
 *
 * Pairs and conversations work per session: a session ends where the gap
 * between two messages exceeds cfg.gap (or after KAKAO_MAX_SESSION
 * messages, which bounds memory). In a session, messages of the owner
 * (--me and its aliases 회원님, You, you, 나) are assistant turns and all
 * others user turns; consecutive messages of one role merge into one turn,
 * joined with "\n". When more than one other person speaks in a session,
 * each run of one speaker's messages in a user turn starts with "NAME: ".
 * Pairs: an assistant turn and the user turn before it, with up to context
 * earlier turns as history (starting with a user turn, so that roles
 * alternate). --min-chars/--max-chars count Unicode characters of the turns
 * as written: the reply (pairs), all turns (conversations). System messages and
 * deleted messages are dropped; so are media placeholders unless
 * keep_media. Every message is accounted for: written in a record (used)
 * or dropped for one reason (kakao_emit_stats). */
#ifndef SFT_KAKAO_EMIT_H
#define SFT_KAKAO_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/out.h"
#include "kakao/kakao.h"

#define KAKAO_MAX_SESSION 5000

typedef enum {
    KAKAO_EMIT_MESSAGES = 0,
    KAKAO_EMIT_PAIRS,
    KAKAO_EMIT_CONVERSATIONS,
} kakao_emit_mode;

typedef struct {
    kakao_emit_mode mode;
    const char *const *me; /* the owner's names; me[0] is written for all of them */
    size_t nme;
    int64_t gap;           /* seconds: a longer silence starts a new session */
    size_t context;        /* pairs: earlier turns kept as history */
    int keep_media;
    uint64_t min_chars, max_chars; /* 0: no bound. Pairs: the reply; conversations: all turns */
    const char *tz;        /* offset written in timestamps, "+09:00" */
} kakao_emit_config;

typedef struct {
    uint64_t messages;          /* given to kakao_emit_message() */
    uint64_t used;              /* in written records */
    uint64_t records;           /* records written */
    uint64_t dropped_system;
    uint64_t dropped_deleted;
    uint64_t dropped_media;
    uint64_t dropped_no_reply;  /* others' turns that I never answered */
    uint64_t dropped_no_prompt; /* my turns that open a session */
    uint64_t dropped_length;    /* outside --min-chars/--max-chars */
    uint64_t chat_me_messages;  /* owner messages in the current chat */
} kakao_emit_stats;

typedef struct kakao_emitter kakao_emitter;

/* Returns NULL when out of memory. cfg's strings must outlive it. */
kakao_emitter *kakao_emitter_new(const kakao_emit_config *cfg, sft_out *out);

/* Starts a chat: ends the previous one's session, restarts the message
 * index. chat and file are copied. Returns 0 or ENOMEM. */
int kakao_emit_begin(kakao_emitter *e, const char *chat, const char *file);

/* Takes the next message of the chat. Returns 0 or ENOMEM; write errors
 * stick in the output (sft_out_error()). */
int kakao_emit_message(kakao_emitter *e, const kakao_msg *m);

/* Ends the chat: writes what its last session makes. Returns 0 or ENOMEM. */
int kakao_emit_end(kakao_emitter *e);

const kakao_emit_stats *kakao_emit_get_stats(const kakao_emitter *e);

/* Whether name is the owner under cfg (one of me, or an alias when me is
 * given). */
int kakao_is_me(const kakao_emit_config *cfg, const char *name, size_t len);

void kakao_emitter_free(kakao_emitter *e);

#endif
