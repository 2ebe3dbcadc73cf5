/* sft-generate: try a model (generate replies, chat) and evaluate it
 * (--score: loss and perplexity of the trained tokens). See
 * man/man1/sft-generate.1. The model core is lib/nn/model.h. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/inputs.h"
#include "core/out.h"
#include "nn/model.h"
#include "nn/sample.h"
#include "tok/example.h"
#include "tok/template.h"
#include "tok/tok.h"

enum {
    OPT_ADAPTER = SFT_OPT_FIRST_TOOL,
    OPT_SYSTEM,
    OPT_CHAT,
    OPT_SCORE,
    OPT_TEMPERATURE,
    OPT_TOP_P,
    OPT_TOP_K,
    OPT_REP_PENALTY,
    OPT_SEED,
    OPT_CTX,
};

static const struct option long_options[] = {
    {"model", required_argument, NULL, 'm'},
    {"adapter", required_argument, NULL, OPT_ADAPTER},
    {"prompt", required_argument, NULL, 'p'},
    {"system", required_argument, NULL, OPT_SYSTEM},
    {"chat", no_argument, NULL, OPT_CHAT},
    {"score", no_argument, NULL, OPT_SCORE},
    {"template", required_argument, NULL, 'T'},
    {"max-new-tokens", required_argument, NULL, 'n'},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"top-p", required_argument, NULL, OPT_TOP_P},
    {"top-k", required_argument, NULL, OPT_TOP_K},
    {"repetition-penalty", required_argument, NULL, OPT_REP_PENALTY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"ctx", required_argument, NULL, OPT_CTX},
    {"threads", required_argument, NULL, 't'},
    {"output", required_argument, NULL, 'o'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("Usage: sft-generate --model DIR [OPTION]... [FILE]...\n"
          "       sft-generate --model DIR --prompt TEXT [OPTION]...\n"
          "       sft-generate --model DIR --chat [OPTION]...\n"
          "       sft-generate --model DIR --score [OPTION]... [FILE]...\n"
          "Generate the assistant reply of each SFT example (or Alpaca pair, or\n"
          "{\"ids\":[...]} record) of the FILEs (standard input when none or -) with a\n"
          "Hugging Face model and write the record back with the reply; chat with the\n"
          "model; or score records: the mean negative log-likelihood of their trained\n"
          "tokens.\n"
          "\n"
          "  -m, --model DIR         model directory (config.json, *.safetensors, tokenizer)\n"
          "      --adapter DIR       a PEFT LoRA adapter to apply\n"
          "  -p, --prompt TEXT       generate the reply to one user message\n"
          "      --system TEXT       a system message before --prompt or the --chat turns\n"
          "      --chat              an interactive chat on the terminal (/reset, /exit)\n"
          "      --score             no generation: add \"loss\" and \"n_scored\" to each record\n"
          "                          and print the loss and perplexity on stderr\n"
          "  -T, --template NAME     chat template: auto (default: the model's) or a name\n"
          "  -n, --max-new-tokens N  longest reply in tokens (default 256)\n"
          "      --temperature F     0 is greedy (default: generation_config.json, else 0)\n"
          "      --top-p F           nucleus sampling mass (default 1: off)\n"
          "      --top-k N           sample among the N likeliest tokens (default 0: off)\n"
          "      --repetition-penalty F  divide the logits of seen tokens (default 1: off)\n"
          "      --seed N            seed of the sampler (default 0); same seed, same text\n"
          "      --ctx N             longest sequence (default: the model's context)\n"
          "  -t, --threads N         threads (default: all cores)\n"
          "  -o, --output FILE       write records to FILE instead of standard output\n" SFT_COMMON_OPTIONS_HELP,
          f);
}

typedef struct {
    nn_model *m;
    nn_state *s;
    nn_pool *pool;
    sft_tok *tok;
    sft_tok_worker *tw;
    char tok_err[600];
    const sft_template *tpl;
    sft_chat_opts opts;
    nn_sampler_cfg scfg;
    uint64_t seed;
    int64_t max_new, ctx, chunk;
    int32_t stops[16];
    int nstops;
    float *logits;
    /* output and scoring */
    sft_out *out;
    int score;
    double nll_sum;
    int64_t nll_count;
    sft_example_cfg ecfg; /* the encoder keeps a pointer to it */
    sft_example_enc *enc;
    /* scratch */
    int32_t *ids;
    uint8_t *mask;
    size_t nids, cap;
    int32_t *gen;
    sft_buf text;
    size_t streamed; /* --chat: bytes of the reply printed */
} gen_state;

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

/* ---- setup ---- */


static cJSON *read_json_file(const char *path)
{
    sft_buf b = {0};
    cJSON *j = buf_read_file(&b, path, (size_t)16 << 20) == 0 && b.p ? cJSON_ParseWithLength(b.p, b.len) : NULL;
    buf_free(&b);
    return j;
}

static void add_stop(gen_state *g, int64_t id)
{
    if (id < 0 || id >= nn_model_config(g->m)->vocab_size) return;
    for (int i = 0; i < g->nstops; i++)
        if (g->stops[i] == id) return;
    if (g->nstops < (int)(sizeof g->stops / sizeof *g->stops)) g->stops[g->nstops++] = (int32_t)id;
}

/* The sampling defaults of DIR/generation_config.json, as transformers
 * reads them: do_sample false (or absent) means greedy. Also its
 * eos_token_id(s), which end generation. */
static void generation_config(gen_state *g, const char *dir, nn_sampler_cfg *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    cJSON *j = read_json_file(path);
    if (!j) return;
    const cJSON *v;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "do_sample"))) {
        d->temperature = 1.0f;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(j, "temperature")))
            d->temperature = (float)v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(j, "top_p"))) d->top_p = (float)v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(j, "top_k"))) d->top_k = (int64_t)v->valuedouble;
    }
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(j, "repetition_penalty")))
        d->repetition_penalty = (float)v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(j, "eos_token_id");
    if (cJSON_IsNumber(v)) add_stop(g, (int64_t)v->valuedouble);
    const cJSON *e;
    if (cJSON_IsArray(v))
        cJSON_ArrayForEach(e, v) if (cJSON_IsNumber(e)) add_stop(g, (int64_t)e->valuedouble);
    cJSON_Delete(j);
}

/* The token that ends an assistant turn in the template (<|im_end|>,
 * <end_of_turn>, <|eot_id|>...): the last token of a rendered reply's
 * trained span. */
static void template_stop(gen_state *g)
{
    sft_chat_msg msgs[2] = {{.role = SFT_ROLE_USER, .content = "hi", .content_len = 2},
                            {.role = SFT_ROLE_ASSISTANT, .content = "ok", .content_len = 2}};
    sft_chat_turn turns[2];
    sft_buf text = {0};
    sft_tokens t = {0};
    char err[300];
    if (sft_chat_render(g->tpl, &g->opts, msgs, 2, &text, turns, err, sizeof err) == 0 &&
        sft_tok_encode(g->tw, text.p, text.len, 0, 0, &t) == 0)
        for (size_t i = 0; i < t.n; i++)
            if (t.end[i] == turns[1].train_end) add_stop(g, t.ids[i]);
    sft_tokens_free(&t);
    buf_free(&text);
}

static int pick_template(gen_state *g, const char *name)
{
    if (name && strcmp(name, "auto") != 0) {
        if (!(g->tpl = sft_template_by_name(name)))
            return sft_usage_error("unknown template '%s' for --template: use auto or one of: %s", name,
                                   sft_template_names());
        return 0;
    }
    const char *jinja = g->tok ? sft_tok_config(g->tok, "chat_template") : NULL;
    if (jinja) g->tpl = sft_template_detect(jinja, strlen(jinja));
    return 0; /* none found: records with messages are refused with the reason */
}

/* ---- running the model ---- */

static int grow(gen_state *g, size_t n)
{
    if (n <= g->cap) return 0;
    size_t c = g->cap ? g->cap : 1024;
    while (c < n) c *= 2;
    int32_t *ids = realloc(g->ids, c * sizeof *ids);
    if (!ids) return -1;
    g->ids = ids;
    uint8_t *mask = realloc(g->mask, c);
    if (!mask) return -1;
    g->mask = mask;
    g->cap = c;
    return 0;
}

/* Runs ids[from..n) through the model after the cached positions. */
static int prefill(gen_state *g, const int32_t *ids, size_t n, char *err, size_t errlen)
{
    for (size_t t = 0; t < n;) {
        int64_t k = (int64_t)(n - t) < g->chunk ? (int64_t)(n - t) : g->chunk;
        if (nn_forward(g->m, g->s, g->pool, ids + t, k, err, errlen) != 0) return -1;
        t += (size_t)k;
    }
    return 0;
}

static int is_stop(const gen_state *g, int32_t id)
{
    for (int i = 0; i < g->nstops; i++)
        if (g->stops[i] == id) return 1;
    return 0;
}

/* Generates after ids[0..n) (the cache already holds ids[0..cached)).
 * Returns the number of tokens in g->gen, or -1 with a reason; *stopped
 * tells whether a stop token ended it. on_token, when set, is called
 * after each new token (streaming). */
static int64_t generate(gen_state *g, nn_sampler *smp, size_t cached, size_t n, int *stopped,
                        void (*on_token)(gen_state *, int64_t), char *err, size_t errlen)
{
    *stopped = 0;
    if (n == 0) {
        snprintf(err, errlen, "empty prompt");
        return -1;
    }
    if ((int64_t)n >= g->ctx) {
        snprintf(err, errlen, "the prompt has %zu tokens; the context holds %lld (--ctx)", n,
                 (long long)g->ctx);
        return -1;
    }
    nn_state_truncate(g->s, (int64_t)cached);
    if (cached == n) nn_state_truncate(g->s, (int64_t)--cached); /* logits of the last token needed */
    if (prefill(g, g->ids + cached, n - cached, err, errlen) != 0) return -1;
    int64_t k = 0;
    size_t ctxlen = n;
    while (k < g->max_new && (int64_t)ctxlen < g->ctx) {
        /* the last row of the last chunk: the prompt's last token, then each new one */
        nn_logits(g->m, g->s, g->pool, nn_state_chunk_len(g->s) - 1, 1, g->logits);
        int32_t id = nn_sample(smp, g->logits, g->ids, ctxlen);
        if (is_stop(g, id)) {
            *stopped = 1;
            break;
        }
        if (grow(g, ctxlen + 1) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        g->ids[ctxlen++] = id;
        g->gen[k++] = id;
        if (on_token) on_token(g, k);
        if (k == g->max_new || (int64_t)ctxlen >= g->ctx) break;
        if (nn_forward(g->m, g->s, g->pool, &id, 1, err, errlen) != 0) return -1;
    }
    return k;
}

/* ---- records ---- */

static int need_tokenizer(gen_state *g, char *err, size_t errlen)
{
    if (g->tok) return 0;
    snprintf(err, errlen, "the model has no usable tokenizer: %s", g->tok_err);
    return -1;
}

/* Renders msgs with the generation prompt and encodes it into g->ids. */
static int encode_prompt(gen_state *g, const sft_chat_msg *msgs, size_t n, char *err, size_t errlen)
{
    if (need_tokenizer(g, err, errlen) != 0) return -1;
    if (!g->tpl) {
        snprintf(err, errlen, "the model's chat_template is not one sft-generate knows; name one with "
                              "--template (%s)", sft_template_names());
        return -1;
    }
    sft_chat_opts o = g->opts;
    o.add_generation_prompt = 1;
    g->text.len = 0;
    if (sft_chat_render(g->tpl, &o, msgs, n, &g->text, NULL, err, errlen) != 0) return -1;
    sft_tokens t = {0};
    if (sft_tok_encode(g->tw, g->text.p, g->text.len, SFT_TOK_SPECIAL_TEXT | SFT_TOK_NO_OFFSETS, 0, &t) != 0 ||
        grow(g, t.n) != 0) {
        sft_tokens_free(&t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(g->ids, t.ids, t.n * sizeof *t.ids);
    g->nids = t.n;
    sft_tokens_free(&t);
    return 0;
}

/* Reads "ids" (and "mask") of a record into g->ids / g->mask; 0, 1 when the
 * record has no "ids", -1 with a reason. */
static int record_ids(gen_state *g, const cJSON *rec, int *has_mask, char *err, size_t errlen)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(rec, "ids");
    if (!ids) return 1;
    if (!cJSON_IsArray(ids)) {
        snprintf(err, errlen, "\"ids\" is not an array");
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(ids), i = 0;
    if (grow(g, n) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int64_t V = nn_model_config(g->m)->vocab_size;
    const cJSON *e;
    cJSON_ArrayForEach(e, ids)
    {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (d < 0 || d >= (double)V || d != floor(d)) {
            snprintf(err, errlen, "ids[%zu] is not a token id of the model (0..%lld)", i, (long long)V - 1);
            return -1;
        }
        g->ids[i++] = (int32_t)d;
    }
    g->nids = n;
    const cJSON *mask = cJSON_GetObjectItemCaseSensitive(rec, "mask");
    *has_mask = mask != NULL;
    if (mask) {
        if (!cJSON_IsArray(mask) || (size_t)cJSON_GetArraySize(mask) != n) {
            snprintf(err, errlen, "\"mask\" must be an array as long as \"ids\"");
            return -1;
        }
        i = 0;
        cJSON_ArrayForEach(e, mask)
        {
            if (!cJSON_IsNumber(e) || (e->valuedouble != 0 && e->valuedouble != 1)) {
                snprintf(err, errlen, "mask[%zu] is not 0 or 1", i);
                return -1;
            }
            g->mask[i++] = (uint8_t)e->valuedouble;
        }
    }
    return 0;
}

/* Scores g->ids[0..n) with g->mask (token i scored when mask[i], i >= 1). */
static int score_ids(gen_state *g, size_t n, double *sum, int64_t *count, char *err, size_t errlen)
{
    *sum = 0;
    *count = 0;
    if ((int64_t)n > g->ctx) {
        snprintf(err, errlen, "%zu tokens; the context holds %lld (--ctx)", n, (long long)g->ctx);
        return -1;
    }
    nn_state_reset(g->s);
    int32_t *target = g->gen; /* max_new >= chunk is ensured at setup */
    for (size_t t = 0; t + 1 < n;) {
        /* the last token predicts nothing: rows 0 .. n-2 */
        int64_t k = (int64_t)(n - 1 - t) < g->chunk ? (int64_t)(n - 1 - t) : g->chunk;
        if (nn_forward(g->m, g->s, g->pool, g->ids + t, k, err, errlen) != 0) return -1;
        for (int64_t i = 0; i < k; i++) target[i] = g->mask[t + (size_t)i + 1] ? g->ids[t + (size_t)i + 1] : -1;
        if (nn_chunk_nll(g->m, g->s, g->pool, target, k, sum, count) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        t += (size_t)k;
    }
    return 0;
}

static int write_record(gen_state *g, cJSON *rec)
{
    char *s = cJSON_PrintUnformatted(rec);
    if (!s) return out_of_memory();
    sft_out_write(g->out, s, strlen(s));
    sft_out_write(g->out, "\n", 1);
    free(s);
    if (sft_out_error(g->out)) return sft_write_error(sft_out_name(g->out), sft_out_error(g->out));
    return 0;
}

/* The text of ids; ids the tokenizer does not have (the padding rows of a
 * model's vocabulary beyond the tokenizer's) are left out. */
static int decode_text(gen_state *g, const int32_t *ids, size_t n)
{
    int32_t *known = malloc((n ? n : 1) * sizeof *known);
    if (!known) return -1;
    size_t k = 0, vocab = sft_tok_vocab_size(g->tok);
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && (size_t)ids[i] < vocab) known[k++] = ids[i];
    g->text.len = 0;
    int rc = sft_tok_decode(g->tok, known, k, 1, &g->text) != 0 || buf_append(&g->text, "", 1) != 0 ? -1 : 0;
    free(known);
    if (rc == 0) g->text.len--;
    return rc;
}

/* One record (parsed in rec, its text in text[0..len)): generate (or score)
 * and write it back. Returns 0, 1 for a bad record (reason in err) or an
 * exit status (> 1). */
static int do_record(gen_state *g, cJSON *rec, const char *text, size_t len, uint64_t index, char *err,
                     size_t errlen)
{
    int has_mask = 0;
    int rc = record_ids(g, rec, &has_mask, err, errlen);
    if (rc < 0) return 1;
    int from_ids = rc == 0;
    sft_chat chat = {0};
    if (g->score) {
        if (!from_ids) {
            if (need_tokenizer(g, err, errlen) != 0) return 1;
            if (!g->enc) {
                snprintf(err, errlen, "the model's chat_template is not one sft-generate knows; name one "
                                      "with --template (%s)", sft_template_names());
                return 1;
            }
            sft_example ex;
            int e = sft_example_encode(g->enc, text, len, &ex, err, errlen);
            if (e == -2) return out_of_memory();
            if (e != 0) return 1;
            if (grow(g, ex.n) != 0) return out_of_memory();
            memcpy(g->ids, ex.ids, ex.n * sizeof *ex.ids);
            memcpy(g->mask, ex.mask, ex.n);
            g->nids = ex.n;
        } else if (!has_mask) {
            memset(g->mask, 1, g->nids);
        }
        double sum;
        int64_t count;
        if (score_ids(g, g->nids, &sum, &count, err, errlen) != 0) return 1;
        g->nll_sum += sum;
        g->nll_count += count;
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "loss");
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "n_scored");
        if (!(count ? cJSON_AddNumberToObject(rec, "loss", sum / (double)count)
                    : cJSON_AddNullToObject(rec, "loss")) ||
            !cJSON_AddNumberToObject(rec, "n_scored", (double)count))
            return out_of_memory();
        return write_record(g, rec);
    }
    /* generation */
    cJSON *reference = NULL;
    if (!from_ids) {
        if (sft_chat_from_json(rec, &chat, err, errlen) != 0) return 1;
        size_t n = chat.n;
        if (n && chat.msgs[n - 1].role == SFT_ROLE_ASSISTANT) n--; /* the reply to compare with */
        rc = encode_prompt(g, chat.msgs, n, err, errlen);
        if (rc == 0 && n < chat.n) {
            cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
            if (msgs) reference = cJSON_DetachItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
        }
        sft_chat_free(&chat);
        if (rc != 0) return 1;
    }
    nn_sampler *smp = nn_sampler_new(&g->scfg, nn_model_config(g->m)->vocab_size, g->seed + index);
    if (!smp) return out_of_memory();
    int stopped;
    nn_state_reset(g->s);
    int64_t k = generate(g, smp, 0, g->nids, &stopped, NULL, err, errlen);
    nn_sampler_free(smp);
    if (k < 0) {
        cJSON_Delete(reference);
        return 1;
    }
    int have_text = g->tok && decode_text(g, g->gen, (size_t)k) == 0;
    if (from_ids) {
        cJSON *arr = cJSON_AddArrayToObject(rec, "generated_ids");
        if (!arr) return out_of_memory();
        for (int64_t i = 0; i < k; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(g->gen[i]));
        if (have_text) cJSON_AddStringToObject(rec, "generated", g->text.p);
    } else {
        if (!have_text) return out_of_memory();
        cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
        if (msgs) {
            cJSON *m = cJSON_CreateObject();
            if (!m || !cJSON_AddStringToObject(m, "role", "assistant") ||
                !cJSON_AddStringToObject(m, "content", g->text.p))
                return out_of_memory();
            cJSON_AddItemToArray(msgs, m);
            if (reference) {
                cJSON *content = cJSON_DetachItemFromObjectCaseSensitive(reference, "content");
                cJSON_Delete(reference);
                if (content) cJSON_AddItemToObject(rec, "reference", content);
            }
        } else {
            cJSON_AddStringToObject(rec, "generated", g->text.p);
        }
    }
    cJSON_AddStringToObject(rec, "finish_reason", stopped ? "stop" : "length");
    return write_record(g, rec);
}

typedef struct {
    gen_state *g;
    uint64_t index;
} feed_ctx;

static int feed(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                const jsonl_error *jerr)
{
    feed_ctx *fc = ctx;
    run->in++;
    if (kind != JSONL_RECORD)
        return sft_run_reject(run, jsonl_name(r), jerr->line, jerr->col, rec->text, rec->len, jerr->reason);
    jsonl_error perr;
    cJSON *obj = jsonl_parse(rec, &perr);
    if (!obj)
        return sft_run_reject(run, jsonl_name(r), perr.line, perr.col, rec->text, rec->len, perr.reason);
    char err[700] = "";
    int rc = do_record(fc->g, obj, rec->text, rec->len, fc->index++, err, sizeof err);
    cJSON_Delete(obj);
    if (rc == 1) return sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len, err);
    if (rc == 0) run->out++;
    return rc;
}

/* ---- --prompt and --chat ---- */

static int prompt_once(gen_state *g, const char *system, const char *prompt)
{
    char err[700];
    sft_chat_msg msgs[2];
    size_t n = 0;
    if (system) msgs[n++] = (sft_chat_msg){.role = SFT_ROLE_SYSTEM, .content = system, .content_len = strlen(system)};
    msgs[n++] = (sft_chat_msg){.role = SFT_ROLE_USER, .content = prompt, .content_len = strlen(prompt)};
    if (encode_prompt(g, msgs, n, err, sizeof err) != 0) {
        sft_error("%s", err);
        return SFT_EX_DATAERR;
    }
    nn_sampler *smp = nn_sampler_new(&g->scfg, nn_model_config(g->m)->vocab_size, g->seed);
    if (!smp) return out_of_memory();
    int stopped;
    int64_t k = generate(g, smp, 0, g->nids, &stopped, NULL, err, sizeof err);
    nn_sampler_free(smp);
    if (k < 0) {
        sft_error("%s", err);
        return SFT_EX_DATAERR;
    }
    if (decode_text(g, g->gen, (size_t)k) != 0) return out_of_memory();
    cJSON *rec = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(rec, "messages");
    for (size_t i = 0; i <= n; i++) {
        cJSON *m = cJSON_CreateObject();
        const char *role = i == n ? "assistant" : msgs[i].role == SFT_ROLE_SYSTEM ? "system" : "user";
        cJSON_AddStringToObject(m, "role", role);
        cJSON_AddStringToObject(m, "content", i == n ? g->text.p : msgs[i].content);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddStringToObject(rec, "finish_reason", stopped ? "stop" : "length");
    int rc = write_record(g, rec);
    cJSON_Delete(rec);
    return rc;
}

/* Streaming: prints what the new tokens add to the decoded reply, holding
 * back an incomplete UTF-8 character (decoded as U+FFFD until complete). */
static void stream_token(gen_state *g, int64_t k)
{
    size_t streamed = g->streamed;
    if (decode_text(g, g->gen, (size_t)k) != 0) return;
    size_t len = g->text.len;
    if (len >= 3 && memcmp(g->text.p + len - 3, "\xEF\xBF\xBD", 3) == 0) return;
    if (len > streamed) {
        fwrite(g->text.p + streamed, 1, len - streamed, stdout);
        fflush(stdout);
        g->streamed = len;
    }
}

static int chat_loop(gen_state *g, const char *system)
{
    sft_chat_msg *msgs = NULL;
    char **texts = NULL;
    size_t n = 0, cached = 0;
    char *line = NULL;
    size_t lcap = 0;
    int tty = isatty(STDIN_FILENO), status = 0;
    nn_sampler *smp = nn_sampler_new(&g->scfg, nn_model_config(g->m)->vocab_size, g->seed);
    if (!smp) return out_of_memory();
    int32_t *cache_ids = NULL;
    if (tty) fprintf(stderr, "sft-generate: chatting with %s (/reset starts over, /exit or Ctrl-D ends)\n",
                     nn_family_name(nn_model_config(g->m)->family));
    for (;;) {
        if (tty) fputs("> ", stderr);
        ssize_t got = getline(&line, &lcap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (got == 0) continue;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            for (size_t i = 0; i < n; i++) free(texts[i]);
            n = 0;
            cached = 0;
            continue;
        }
        sft_chat_msg *nm = realloc(msgs, (n + 3) * sizeof *nm);
        char **nt = realloc(texts, (n + 3) * sizeof *nt);
        if (nm) msgs = nm;
        if (nt) texts = nt;
        if (!nm || !nt) {
            status = out_of_memory();
            break;
        }
        if (n == 0 && system) {
            texts[n] = strdup(system);
            msgs[n] = (sft_chat_msg){.role = SFT_ROLE_SYSTEM, .content = texts[n], .content_len = strlen(system)};
            n++;
        }
        texts[n] = strdup(line);
        msgs[n] = (sft_chat_msg){.role = SFT_ROLE_USER, .content = texts[n], .content_len = (size_t)got};
        n++;
        char err[700];
        if (encode_prompt(g, msgs, n, err, sizeof err) != 0) {
            sft_error("%s", err);
            free(texts[--n]);
            continue;
        }
        /* reuse the cached prefix of the conversation */
        size_t same = 0;
        while (same < cached && same < g->nids && cache_ids[same] == g->ids[same]) same++;
        int stopped;
        g->streamed = 0;
        int64_t k = generate(g, smp, same, g->nids, &stopped, stream_token, err, sizeof err);
        if (k < 0) {
            sft_error("%s", err);
            free(texts[--n]);
            cached = 0;
            continue;
        }
        if (decode_text(g, g->gen, (size_t)k) != 0) {
            status = out_of_memory();
            break;
        }
        if (g->text.len > g->streamed) fwrite(g->text.p + g->streamed, 1, g->text.len - g->streamed, stdout);
        fputs("\n", stdout);
        fflush(stdout);
        if (ferror(stdout)) {
            status = sft_write_error("<stdout>", EIO);
            break;
        }
        texts[n] = strdup(g->text.p);
        msgs[n] = (sft_chat_msg){.role = SFT_ROLE_ASSISTANT, .content = texts[n], .content_len = g->text.len};
        n++;
        /* the cache holds the prompt and the reply but the last token */
        int32_t *ci = realloc(cache_ids, (g->nids + (size_t)k) * sizeof *ci);
        if (!ci) {
            status = out_of_memory();
            break;
        }
        cache_ids = ci;
        memcpy(cache_ids, g->ids, (g->nids + (size_t)k) * sizeof *ci);
        cached = (size_t)nn_state_pos(g->s); /* prompt and reply, as far as they were run */
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(msgs);
    free(line);
    free(cache_ids);
    nn_sampler_free(smp);
    return status;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    const char *model_dir = NULL, *adapter = NULL, *prompt = NULL, *system = NULL, *tpl_name = NULL,
               *output = "-";
    int chat = 0, score = 0, set_temp = 0, set_top_p = 0, set_top_k = 0, set_rep = 0;
    uint64_t max_new = 256, seed = 0, threads = 0, ctx = 0, top_k = 0;
    double temperature = 0, top_p = 1, rep = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "m:p:T:n:t:o:vhV", long_options, NULL)) != -1) {
        int rc = sft_standard_option(opt, usage);
        if (rc >= 0) return rc;
        rc = sft_run_option(&run, opt, optarg);
        if (rc > 0) return rc;
        if (rc == 0) continue;
        switch (opt) {
        case 'm': model_dir = optarg; break;
        case OPT_ADAPTER: adapter = optarg; break;
        case 'p': prompt = optarg; break;
        case OPT_SYSTEM: system = optarg; break;
        case OPT_CHAT: chat = 1; break;
        case OPT_SCORE: score = 1; break;
        case 'T': tpl_name = optarg; break;
        case 'o': output = optarg; break;
        case 'n':
            if (sft_parse_u64(optarg, 1, 1 << 20, &max_new)) return sft_bad_option_value("max-new-tokens", optarg);
            break;
        case 't':
            if (sft_parse_u64(optarg, 1, 1024, &threads)) return sft_bad_option_value("threads", optarg);
            break;
        case OPT_SEED:
            if (sft_parse_u64(optarg, 0, UINT64_MAX, &seed)) return sft_bad_option_value("seed", optarg);
            break;
        case OPT_CTX:
            if (sft_parse_u64(optarg, 2, 1 << 24, &ctx)) return sft_bad_option_value("ctx", optarg);
            break;
        case OPT_TOP_K:
            if (sft_parse_u64(optarg, 0, 1 << 30, &top_k)) return sft_bad_option_value("top-k", optarg);
            set_top_k = 1;
            break;
        case OPT_TEMPERATURE:
            if (sft_parse_double(optarg, &temperature) || temperature < 0 || temperature > 100) {
                errno = ERANGE;
                return sft_bad_option_value("temperature", optarg);
            }
            set_temp = 1;
            break;
        case OPT_TOP_P:
            if (sft_parse_double(optarg, &top_p) || top_p <= 0 || top_p > 1) {
                errno = ERANGE;
                return sft_bad_option_value("top-p", optarg);
            }
            set_top_p = 1;
            break;
        case OPT_REP_PENALTY:
            if (sft_parse_double(optarg, &rep) || rep <= 0 || rep > 100) {
                errno = ERANGE;
                return sft_bad_option_value("repetition-penalty", optarg);
            }
            set_rep = 1;
            break;
        default: return sft_usage_error("unexpected option");
        }
    }
    if (!model_dir) return sft_usage_error("--model DIR is required");
    if (chat + score + (prompt != NULL) > 1)
        return sft_usage_error("--prompt, --chat and --score do not go together");
    if ((prompt || chat) && optind < argc)
        return sft_usage_error("--%s reads no FILE", prompt ? "prompt" : "chat");
    if (system && !prompt && !chat) return sft_usage_error("--system goes with --prompt or --chat");

    gen_state g = {0};
    char err[1024];
    int status = 0;
    sft_input *inputs = NULL;
    size_t ninputs = 0;
    if (!(g.m = nn_model_load(model_dir, err, sizeof err))) {
        sft_error("%s", err);
        return sft_dir_lacks(model_dir, "config.json") ? SFT_EX_NOINPUT : SFT_EX_DATAERR;
    }
    if (adapter && nn_model_add_adapter(g.m, adapter, err, sizeof err) != 0) {
        sft_error("%s", err);
        status = sft_dir_lacks(adapter, "adapter_config.json") ? SFT_EX_NOINPUT : SFT_EX_DATAERR;
        goto done;
    }
    const nn_config *cfg = nn_model_config(g.m);
    g.tok = sft_tok_load(model_dir, g.tok_err, sizeof g.tok_err);
    if (g.tok && !(g.tw = sft_tok_worker_new(g.tok))) {
        status = out_of_memory();
        goto done;
    }
    if ((status = pick_template(&g, tpl_name)) != 0) goto done;
    if (g.tok) {
        g.opts.bos_token = sft_tok_config(g.tok, "bos_token");
        g.opts.eos_token = sft_tok_config(g.tok, "eos_token");
    }
    /* sampling: generation_config.json, then the options */
    nn_sampler_cfg d = {.temperature = 0, .top_k = 0, .top_p = 1, .repetition_penalty = 1};
    for (int i = 0; i < cfg->n_eos; i++) add_stop(&g, cfg->eos_token_ids[i]);
    generation_config(&g, model_dir, &d);
    if (set_temp) d.temperature = (float)temperature;
    if (set_top_p) d.top_p = (float)top_p;
    if (set_top_k) d.top_k = (int64_t)top_k;
    if (set_rep) d.repetition_penalty = (float)rep;
    g.scfg = d;
    g.seed = seed;
    if (g.tok) {
        add_stop(&g, sft_tok_eos(g.tok));
        const char *eos = sft_tok_config(g.tok, "eos_token");
        if (eos) add_stop(&g, sft_tok_piece_id(g.tok, eos, strlen(eos)));
        if (g.tpl) template_stop(&g);
    }
    g.ctx = ctx ? (int64_t)ctx : cfg->max_position_embeddings;
    g.chunk = 256;
    g.max_new = (int64_t)max_new;
    g.score = score;
    if (!(g.pool = nn_pool_new((int)threads)) || !(g.s = nn_state_new(g.m, g.ctx, g.chunk)) ||
        !(g.logits = malloc((size_t)cfg->vocab_size * sizeof *g.logits)) ||
        !(g.gen = malloc((size_t)(g.max_new > g.chunk ? g.max_new : g.chunk) * sizeof *g.gen))) {
        status = out_of_memory();
        goto done;
    }
    if (score && g.tok && g.tpl) {
        g.ecfg = (sft_example_cfg){.tok = g.tok, .tpl = g.tpl, .opts = g.opts};
        if (!(g.enc = sft_example_enc_new(&g.ecfg))) {
            status = out_of_memory();
            goto done;
        }
    }
    if (chat) {
        if (need_tokenizer(&g, err, sizeof err) != 0) {
            sft_error("%s", err);
            status = SFT_EX_DATAERR;
            goto done;
        }
        status = chat_loop(&g, system);
        goto done;
    }
    if (!(g.out = sft_out_open(output))) {
        sft_error("%s: cannot create: %s", output, strerror(errno));
        status = SFT_EX_CANTCREAT;
        goto done;
    }
    if (prompt) {
        status = prompt_once(&g, system, prompt);
        goto done;
    }
    inputs = sft_inputs_new(argv + optind, (size_t)(argc - optind), &ninputs);
    if (!inputs) {
        status = out_of_memory();
        goto done;
    }
    if ((status = sft_inputs_check(inputs, ninputs)) != 0 || (status = sft_run_start(&run)) != 0) goto done;
    feed_ctx fc = {&g, 0};
    status = sft_each_record(&run, inputs, ninputs, feed, &fc);
    if (!status && score) {
        if (g.nll_count) {
            double loss = g.nll_sum / (double)g.nll_count;
            sft_error("loss %.6f, perplexity %.4f over %" PRId64 " tokens of %" PRIu64 " records", loss,
                      exp(loss), g.nll_count, run.out);
        } else {
            sft_error("no tokens scored");
        }
    }
done:
    if (g.out) {
        int e = sft_out_close(g.out, status == 0 || status == SFT_EX_REJECTED);
        if (e && !status) status = sft_write_error(strcmp(output, "-") ? output : "<stdout>", e);
    }
    sft_inputs_free(inputs, ninputs);
    sft_example_enc_free(g.enc);
    free(g.ids);
    free(g.mask);
    free(g.gen);
    free(g.logits);
    buf_free(&g.text);
    nn_state_free(g.s);
    nn_pool_free(g.pool);
    sft_tok_worker_free(g.tw);
    sft_tok_free(g.tok);
    nn_model_free(g.m);
    return prompt || chat ? status : sft_run_finish(&run, status);
}
