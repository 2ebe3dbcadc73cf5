/* One training example → token ids and the label mask, as tokcount reports
 * them and sft-train trains on them.
 *
 * With a chat template the record is an SFT example or an Alpaca pair: it is
 * rendered, the whole text encoded at once (no special tokens added: the
 * template writes them), and a token is trained when its bytes overlap an
 * assistant turn's trained span (its content and end-of-turn marker).
 * Without a template a text field is encoded and every token is trained.
 *
 * Over --max-tokens an example is kept, dropped or truncated; truncation
 * keeps the longest run of whole turns from the start that fits and ends
 * with an assistant turn, so no turn is ever cut in half. */
#ifndef SFT_EXAMPLE_H
#define SFT_EXAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "tok/template.h"
#include "tok/tok.h"

enum sft_over { SFT_OVER_KEEP, SFT_OVER_DROP, SFT_OVER_TRUNCATE };

typedef struct {
    const sft_tok *tok;
    const sft_template *tpl;    /* NULL: plain text from field */
    sft_chat_opts opts;
    const json_path *field;     /* plain text: the string to encode */
    unsigned flags;             /* plain text: SFT_TOK_ADD_SPECIAL or 0 */
    size_t max_tokens;          /* 0: no limit */
    enum sft_over over;
} sft_example_cfg;

enum sft_example_fate {
    SFT_EX_FITS,       /* within max_tokens (or no limit) */
    SFT_EX_OVER_KEPT,  /* over, kept whole */
    SFT_EX_DROPPED,    /* over, dropped */
    SFT_EX_TRUNCATED,  /* over, cut to its first nmsgs messages (plain: to its first text_len bytes) */
};

/* The result; the arrays belong to the encoder and live until its next call. */
typedef struct {
    const int32_t *ids;
    const uint8_t *mask;       /* 1: a trained token */
    size_t n, ntrain;
    size_t full_n, full_ntrain; /* before truncation */
    enum sft_example_fate fate;
    size_t nmsgs;              /* SFT_EX_TRUNCATED with a template: messages kept */
    size_t text_len;           /* SFT_EX_TRUNCATED without: bytes of the text kept */
} sft_example;

typedef struct sft_example_enc sft_example_enc; /* one per thread */

sft_example_enc *sft_example_enc_new(const sft_example_cfg *cfg);
void sft_example_enc_free(sft_example_enc *e);

/* Encodes the JSON object json[0..len) (already validated). Returns 0, -1
 * with a reason in err for a record that cannot be encoded ("messages[1]:
 * unknown role", "no string at field text"), or -2 when out of memory. */
int sft_example_encode(sft_example_enc *e, const char *json, size_t len, sft_example *out, char *err,
                       size_t errlen);

#endif
