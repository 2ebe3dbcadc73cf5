/* Examples → ids and label mask (see example.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tok/example.h"

struct sft_example_enc {
    const sft_example_cfg *cfg;
    sft_tok_worker *w;
    sft_buf text;
    sft_tokens toks;
    uint8_t *mask;
    size_t mask_cap;
    sft_chat_turn *turns;
    size_t turns_cap;
};

sft_example_enc *sft_example_enc_new(const sft_example_cfg *cfg)
{
    sft_example_enc *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->cfg = cfg;
    if (!(e->w = sft_tok_worker_new(cfg->tok))) {
        free(e);
        return NULL;
    }
    return e;
}

void sft_example_enc_free(sft_example_enc *e)
{
    if (!e) return;
    sft_tok_worker_free(e->w);
    buf_free(&e->text);
    sft_tokens_free(&e->toks);
    free(e->mask);
    free(e->turns);
    free(e);
}

static int grow_mask(sft_example_enc *e, size_t n)
{
    if (n <= e->mask_cap) return 0;
    size_t c = e->mask_cap ? e->mask_cap : 1024;
    while (c < n) c *= 2;
    uint8_t *m = realloc(e->mask, c);
    if (!m) return -1;
    e->mask = m;
    e->mask_cap = c;
    return 0;
}

/* Whether a token's bytes [s, t) fall in the span [a, b); a token of no
 * bytes (a prefix the model added) counts where it stands. */
static int in_span(uint32_t s, uint32_t t, size_t a, size_t b)
{
    return t > s ? s < b && t > a : s >= a && s < b;
}

/* Renders msgs[0..n), encodes the text and fills ids and mask. Returns 0,
 * -1 (err says why) or -2 (memory). */
static int encode_chat(sft_example_enc *e, const sft_chat_msg *msgs, size_t n, size_t *ntrain,
                       char *err, size_t errlen)
{
    const sft_example_cfg *c = e->cfg;
    if (n > e->turns_cap) {
        sft_chat_turn *t = realloc(e->turns, n * sizeof *t);
        if (!t) return -2;
        e->turns = t;
        e->turns_cap = n;
    }
    e->text.len = 0;
    e->toks.n = 0;
    if (sft_chat_render(c->tpl, &c->opts, msgs, n, &e->text, e->turns, err, errlen) != 0) return -1;
    if (e->text.len >= UINT32_MAX) {
        snprintf(err, errlen, "rendered conversation over 4 GB");
        return -1;
    }
    if (sft_tok_encode(e->w, e->text.p ? e->text.p : "", e->text.len, SFT_TOK_SPECIAL_TEXT, 0, &e->toks) != 0 ||
        grow_mask(e, e->toks.n) != 0)
        return -2;
    /* turns are in order, and so are tokens: one pass over both */
    size_t k = 0, trained = 0;
    for (size_t i = 0; i < e->toks.n; i++) {
        uint32_t s = e->toks.start[i], t = e->toks.end[i];
        while (k < n && (e->turns[k].train_end <= e->turns[k].train_start || e->turns[k].train_end <= s))
            k++;
        int on = 0;
        for (size_t j = k; j < n && !on && e->turns[j].start <= t; j++)
            on = e->turns[j].train_end > e->turns[j].train_start &&
                 in_span(s, t, e->turns[j].train_start, e->turns[j].train_end);
        e->mask[i] = (uint8_t)on;
        trained += (size_t)on;
    }
    *ntrain = trained;
    return 0;
}

static int encode_template(sft_example_enc *e, const char *json, size_t len, sft_example *out,
                           char *err, size_t errlen)
{
    const sft_example_cfg *c = e->cfg;
    cJSON *rec = cJSON_ParseWithLength(json, len);
    if (!rec) return -2; /* the reader validated it: only memory can fail */
    sft_chat chat = {0};
    int rc = sft_chat_from_json(rec, &chat, err, errlen);
    if (rc == 0 && chat.n == 0) {
        snprintf(err, errlen, "no messages");
        rc = -1;
    }
    size_t ntrain = 0;
    if (rc == 0) rc = encode_chat(e, chat.msgs, chat.n, &ntrain, err, errlen);
    if (rc != 0) goto done;
    out->full_n = e->toks.n;
    out->full_ntrain = ntrain;
    out->fate = SFT_EX_FITS;
    if (c->max_tokens && e->toks.n > c->max_tokens) {
        out->fate = c->over == SFT_OVER_KEEP ? SFT_EX_OVER_KEPT : SFT_EX_DROPPED;
        if (c->over == SFT_OVER_TRUNCATE) {
            /* the longest prefix of whole turns that fits and ends with an
             * assistant turn; the full rendering's tokens up to a turn's end
             * bound it from below (re-rendering replaces them: copy) */
            size_t full = e->toks.n;
            uint32_t *ends = malloc((full + chat.n) * sizeof *ends);
            if (!ends) {
                rc = -2;
                goto done;
            }
            uint32_t *turn_end = ends + full;
            memcpy(ends, e->toks.end, full * sizeof *ends);
            for (size_t k = 0; k < chat.n; k++) turn_end[k] = (uint32_t)e->turns[k].end;
            size_t before = full;
            for (size_t k = chat.n - 1; k >= 1 && out->fate == SFT_EX_DROPPED; k--) {
                if (chat.msgs[k - 1].role != SFT_ROLE_ASSISTANT) continue;
                while (before > 0 && ends[before - 1] > turn_end[k - 1]) before--;
                if (before > c->max_tokens) continue;
                size_t nt;
                int r = encode_chat(e, chat.msgs, k, &nt, err, errlen);
                if (r == -2) {
                    free(ends);
                    rc = -2;
                    goto done;
                }
                if (r == 0 && e->toks.n <= c->max_tokens && nt > 0) {
                    out->fate = SFT_EX_TRUNCATED;
                    out->nmsgs = k;
                    ntrain = nt;
                }
            }
            free(ends);
        }
    }
    out->ids = e->toks.ids;
    out->mask = e->mask;
    out->n = e->toks.n;
    out->ntrain = ntrain;
done:
    sft_chat_free(&chat);
    cJSON_Delete(rec);
    return rc;
}

static int encode_plain(sft_example_enc *e, const char *json, size_t len, sft_example *out, char *err,
                        size_t errlen)
{
    const sft_example_cfg *c = e->cfg;
    json_value v;
    if (!json_get(json, len, c->field, &v) || v.type != JSON_STRING) {
        snprintf(err, errlen, "no string at the field to encode");
        return -1;
    }
    e->text.len = 0;
    e->toks.n = 0;
    if (json_string_decode(&v, &e->text) != 0) return -2;
    if (e->text.len >= UINT32_MAX) {
        snprintf(err, errlen, "text over 4 GB");
        return -1;
    }
    /* offsets only matter to a cut */
    unsigned flags = c->flags | (c->over == SFT_OVER_TRUNCATE ? 0 : SFT_TOK_NO_OFFSETS);
    if (sft_tok_encode(e->w, e->text.p ? e->text.p : "", e->text.len, flags, 0, &e->toks) != 0 ||
        grow_mask(e, e->toks.n) != 0)
        return -2;
    memset(e->mask, 1, e->toks.n);
    out->full_n = out->full_ntrain = e->toks.n;
    out->fate = SFT_EX_FITS;
    size_t n = e->toks.n;
    if (c->max_tokens && n > c->max_tokens) {
        out->fate = c->over == SFT_OVER_KEEP ? SFT_EX_OVER_KEPT
                  : c->over == SFT_OVER_DROP ? SFT_EX_DROPPED : SFT_EX_TRUNCATED;
        if (out->fate == SFT_EX_TRUNCATED) {
            /* cut after the last token that ends on a character boundary
             * (a byte-level token may end inside one) */
            n = c->max_tokens;
            while (n > 0 && e->toks.end[n - 1] < e->text.len &&
                   ((unsigned char)e->text.p[e->toks.end[n - 1]] & 0xC0) == 0x80)
                n--;
            out->text_len = n ? e->toks.end[n - 1] : 0;
        }
    }
    out->ids = e->toks.ids;
    out->mask = e->mask;
    out->n = out->ntrain = n;
    return 0;
}

int sft_example_encode(sft_example_enc *e, const char *json, size_t len, sft_example *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    return e->cfg->tpl ? encode_template(e, json, len, out, err, errlen)
                       : encode_plain(e, json, len, out, err, errlen);
}
