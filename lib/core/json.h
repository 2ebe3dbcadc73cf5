/* Strict JSON (RFC 8259) on raw text, without building a tree.
 *
 * json_validate() is the one grammar every sftkit program accepts: the
 * JSONL reader runs it on each line before anything else sees the line, so
 * every tool rejects the same inputs with the same messages. The lookup
 * functions below only accept text that json_validate() has passed. */
#ifndef SFT_JSON_H
#define SFT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Deepest nesting accepted; the same as cJSON's default limit, so any text
 * that passes here can be handed to cJSON. */
#define JSON_MAX_DEPTH 1000

typedef struct {
    size_t offset;   /* of the offending byte, from the start of the text */
    const char *msg; /* static string */
} json_error;

/* Checks that s[0..n) holds exactly one JSON value with optional
 * whitespace around it. s must be valid UTF-8 (checked before). Strings may
 * not hold unescaped control characters or lone surrogate escapes. Returns 0
 * when valid, -1 otherwise with *err filled. */
int json_validate(const char *s, size_t n, json_error *err);

typedef enum {
    JSON_NONE = 0,
    JSON_OBJECT,
    JSON_ARRAY,
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL
} json_type;

/* A value inside a text: its type and its raw bytes (strings with their
 * quotes). Points into the text it was found in. */
typedef struct {
    json_type type;
    const char *p;
    size_t n;
} json_value;

/* A dotted field path such as meta.conversation or messages.0.role. A
 * segment of digits also indexes arrays; "\." is a literal dot in a name. */
typedef struct {
    size_t nseg;
    char **seg;
    size_t *seglen;
} json_path;

/* Parses spec into path. Returns 0, or -1 when spec is empty or has an
 * empty segment (errno EINVAL) or memory runs out (ENOMEM). The caller
 * frees with json_path_free() after success. */
int json_path_parse(json_path *path, const char *spec);
void json_path_free(json_path *path);

/* Finds path in the validated text s[0..n). Returns 1 and fills *out when
 * found, 0 when some segment is missing (or indexes a scalar). Duplicate
 * object keys: the first one wins, as in cJSON. */
int json_get(const char *s, size_t n, const json_path *path, json_value *out);

/* Appends to b the canonical bytes of v, used as a hash key: a type tag,
 * then for strings the decoded text, for other values their text with the
 * whitespace outside strings removed. Returns 0, or -1 when out of memory. */
int json_value_key(const json_value *v, sft_buf *b);

/* p at the opening quote of a string in validated text: returns the byte
 * after its closing quote, and sets *escaped when it holds an escape. */
const char *json_string_end(const char *p, const char *end, int *escaped);

/* p at the first byte of a value in validated text: returns the byte
 * after it. */
const char *json_skip_value(const char *p, const char *end);

/* Appends the decoded content of the string value v (quotes removed,
 * escapes resolved) to b. Returns 0, or -1 when out of memory. */
int json_string_decode(const json_value *v, sft_buf *b);

#endif
