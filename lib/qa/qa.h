/* QA generation from source records: prompt templates, the QA pairs in an
 * LLM's reply, and Naver's map APIs' records. Nothing here prints, exits or
 * touches the network (lib/net does). Errors: -1 with a reason in err. */
#ifndef SFT_QA_H
#define SFT_QA_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

/* ---- prompt templates ---- */

/* Renders tpl (a prompt file's text) into out (appended). Placeholders:
 *   {{field.path}}   the value at that path of the source record: a string
 *                    as it is, a number/bool as JSON, an object/array as
 *                    compact JSON; a path that is not there is an error
 *                    ("{{building.name}}: no such field in the record")
 *   {{record}}       the whole record as compact JSON
 *   {{count}}        count
 *   {{lang}}         lang ("ko", "en"), and {{language}} its English name
 *                    ("Korean", "English"; the code itself when unknown)
 * Whitespace inside the braces is allowed ({{ count }}). "{{" without a
 * closing "}}" is an error; text outside placeholders is copied verbatim. */
/* (The names count, lang, language and record are the placeholders above
 * even when the record has a field of that name; {{record.count}} reaches
 * that field. A missing field's error names no line; syntax errors start
 * with "line N: ". On error out is left as it was.) */
int qa_render(const char *tpl, size_t len, const cJSON *record, int count, const char *lang,
              sft_buf *out, char *err, size_t errlen);

/* ---- replies ---- */

typedef struct {
    char *question, *answer; /* owned, NUL-terminated, non-empty after trimming */
} qa_pair;

typedef struct {
    qa_pair *items;
    size_t n;
    size_t dropped; /* array items that were not {question, answer} strings (counted, not kept) */
} qa_pairs;

void qa_pairs_free(qa_pairs *p);

/* Finds the QA pairs in an assistant message: a JSON array of objects with
 * string "question" and "answer" (also "q"/"a"), either the whole text, or
 * inside a ``` or ```json fenced block, or the first array in the text
 * surrounded by prose; an object with one array member (e.g.
 * {"pairs":[...]} from JSON mode) is accepted too. Items with a missing or
 * empty field are dropped and counted. Also taken: the first such array
 * nested inside a JSON value ({"result":{"pairs":[...]}}, [[...]]), and a
 * lone {question, answer} object as the whole text or a fenced block. Only
 * RFC 8259 JSON counts (no trailing commas, comments, single quotes); at
 * most 64 candidates that are not JSON are tried, so hostile text stays
 * linear. Questions and answers are trimmed; invalid UTF-8 in one drops the
 * item. Returns 0 with at least one pair, or
 * -1 with a reason ("no JSON array in the reply", "the array holds no
 * question/answer object"). */
int qa_parse_reply(const char *text, size_t len, qa_pairs *out, char *err, size_t errlen);

/* The content of the first choice's message in a chat-completions response
 * body, and its usage (prompt_tokens, completion_tokens; -1 when absent).
 * Returns a pointer into the parsed JSON (valid until cJSON_Delete(*json)),
 * or NULL with a reason ("not JSON", "no choices[0].message.content",
 * "finish_reason length: the reply was cut"). On failure *json is NULL
 * (nothing to free); usage is filled whenever the body has it, a cut reply
 * included. A content given as an array of parts ({"type":"text","text"})
 * is joined into one string. */
const char *qa_completion_content(const char *body, size_t len, cJSON **json, int64_t *tokens_in,
                                  int64_t *tokens_out, char *err, size_t errlen);

/* The stable id of pair index (0-based) of (source, type, lang):
 * "SOURCE:TYPE:LANG:INDEX". */
void qa_pair_id(const char *source_id, const char *type, const char *lang, size_t index, sft_buf *out);

/* ---- Naver ---- */

/* A Local Search result item (Naver's JSON) as a source record: title and
 * other strings without <b></b> and with HTML entities decoded, mapx/mapy
 * (WGS84 × 10^7 integers, as the API returns since 2023) as "lon"/"lat"
 * degrees, an "id" made from the title and address. Returns a new object
 * or NULL with a reason. */
cJSON *qa_naver_local_item(const cJSON *item, char *err, size_t errlen);

/* Removes <b> and </b> (any case) and decodes &amp; &lt; &gt; &quot; &#39;
 * &apos; and numeric entities, in place. */
void qa_strip_tags(char *s);

#endif
