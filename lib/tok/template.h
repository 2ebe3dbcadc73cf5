/* Chat templates: built-in renderers, byte-identical to the Jinja templates
 * of the model families we train (as transformers renders them with
 * jinja2), that also say which bytes of the rendered text are trained (the
 * label mask comes from these spans, never from searching the tokens).
 *
 * Only system, user and assistant messages with string content or text and
 * image parts are rendered; what a template raises an exception for (Gemma's
 * role alternation, a system message where it has none) is an error here
 * too. Nothing here prints or exits; errors are returned with a reason in
 * err. */
#ifndef SFT_TEMPLATE_H
#define SFT_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

typedef struct sft_template sft_template; /* a built-in renderer; static, never freed */

enum sft_chat_part_type { SFT_PART_TEXT, SFT_PART_IMAGE };

typedef struct {
    enum sft_chat_part_type type;
    const char *text; /* SFT_PART_TEXT: the text; SFT_PART_IMAGE: the path (may be NULL) */
    size_t len;
} sft_chat_part;

enum sft_chat_role { SFT_ROLE_SYSTEM, SFT_ROLE_USER, SFT_ROLE_ASSISTANT };

/* One message. Strings are borrowed (not NUL-terminated necessarily). When
 * parts is non-NULL the content was a list of parts and content is unused. */
typedef struct {
    enum sft_chat_role role;
    const char *content;
    size_t content_len;
    const sft_chat_part *parts;
    size_t nparts;
    const char *reasoning; /* "reasoning_content" (Qwen3 think block), or NULL */
    size_t reasoning_len;
} sft_chat_msg;

/* enable_thinking as the templates see it: DEFAULT is not passed at all,
 * which is not the same as false (Qwen3 adds its empty think block only
 * when it is false; Gemma 4 opens a system turn only when it is true). */
enum sft_thinking { SFT_THINK_DEFAULT = 0, SFT_THINK_ON, SFT_THINK_OFF };

/* A zeroed struct (or NULL) means transformers' defaults. */
typedef struct {
    int add_generation_prompt;        /* end with the prompt of an assistant turn */
    enum sft_thinking enable_thinking;
    const char *bos_token;            /* from tokenizer_config.json; NULL: the family's usual one */
    const char *eos_token;            /* Llama 2 and Alpaca end assistant turns with it */
    const char *date_string;          /* Llama 3 "Today Date"; NULL: today, as transformers does */
} sft_chat_opts;

/* Where message i landed in the rendered text, as byte offsets into out->p.
 * [start, end) covers its whole turn (header, content, end-of-turn and the
 * separator after it); a message that the template folds into another turn
 * (Gemma's and Llama 2's system) or drops has start == end.
 * [train_start, train_end) is empty except for assistant messages: from the
 * first byte after the turn's header (the think block when the message
 * has reasoning; an empty think block the template writes is not trained) to the last byte of the end-of-turn marker
 * (<|im_end|>, <end_of_turn>, <turn|>, <|eot_id|>, the EOS of Llama 2 and
 * Alpaca), so the model learns to stop; the separator after the marker
 * ("\n") is not trained. Bytes before turns[0].start are the template's
 * preamble (BOS, default system prompt); bytes after the last turn the
 * generation prompt. */
typedef struct {
    size_t start, end;
    size_t train_start, train_end;
} sft_chat_turn;

/* By name: chatml, qwen2, qwen2.5, qwen3, qwen3.5, gemma2, gemma3 (also
 * "gemma"), gemma4, llama3, llama2, alpaca. NULL when unknown. */
const sft_template *sft_template_by_name(const char *name);
const char *sft_template_name(const sft_template *t);
/* Space-separated list of the names, for messages. */
const char *sft_template_names(void);

/* Picks the renderer for a Jinja chat_template (from tokenizer_config.json):
 * an exact fingerprint (SHA-256, trailing whitespace ignored) of the known
 * templates first, then their markers. NULL when none matches; the caller
 * says how to force one (--template). */
const sft_template *sft_template_detect(const char *jinja, size_t len);

/* Renders msgs into out (appended) and fills turns[0..n) (turns may be
 * NULL). Returns 0, or -1 with a reason in err and out as it was: a role or
 * content the template refuses (alternation, a system message where it has
 * none, content parts in a template that takes strings, no messages), or
 * out of memory. */
int sft_chat_render(const sft_template *t, const sft_chat_opts *opts, const sft_chat_msg *msgs,
                    size_t n, sft_buf *out, sft_chat_turn *turns, char *err, size_t errlen);

/* A conversation read from a record: msgs[0..n) point into the record and
 * into parts and text, which the struct owns. */
typedef struct {
    sft_chat_msg *msgs;
    size_t n;
    sft_chat_part *parts; /* the storage of msgs[].parts */
    char *text;           /* the storage of the Alpaca user turn */
} sft_chat;

/* Reads the conversation of a record: an SFT example ({"messages":[{"role",
 * "content": STRING | [{"type":"text","text"}|{"type":"image","path"}],
 * "reasoning_content"?}]}) or an Alpaca pair ({"instruction","input"?,
 * "output"}: user = instruction, plus "\n\n" + input when non-empty;
 * assistant = output). rec must outlive chat. Returns 0, or -1 with a
 * reason in err ("messages[2].role: unknown role \"tool\"") and chat
 * zeroed. Free with sft_chat_free (also fine on a zeroed chat). */
int sft_chat_from_json(const cJSON *rec, sft_chat *chat, char *err, size_t errlen);
void sft_chat_free(sft_chat *chat);

#endif
