/* tokcount: token counts, ids and label masks of SFT examples, and the
 * statistics to pick max_seq_length from. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/cli.h"
#include "core/inputs.h"
#include "core/json.h"
#include "core/out.h"
#include "tok/example.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: %s --tokenizer PATH [OPTION]... [FILE]...\n", sft_prog);
    fputs("Count the tokens of SFT examples as a model sees them: the chat template\n"
          "rendered, the text encoded, the assistant turns marked as trained. Each record\n"
          "is written back with n_tokens and n_train_tokens.\n"
          "\n"
          "  -t, --tokenizer PATH    a tokenizer.json, a SentencePiece .model, or a model\n"
          "                          directory (with tokenizer_config.json for the template)\n"
          "  -T, --template NAME     auto (default: from tokenizer_config.json), none, or one of\n"
          "                          chatml qwen2 qwen2.5 qwen3 qwen3.5 gemma gemma2 gemma3\n"
          "                          gemma4 llama3 llama2 alpaca\n"
          "  -f, --field FIELD       encode the string at FIELD (a dotted path) as plain text,\n"
          "                          every token trained (implies --template none; default\n"
          "                          field with --template none: text)\n"
          "      --special           plain text: add the tokenizer's BOS/EOS as its\n"
          "                          post-processor says\n"
          "      --date-string TEXT  Llama 3's \"Today Date\" (default: today, as transformers)\n"
          "      --ids               also write ids (all tokens) and mask (1 = trained)\n"
          "      --max-tokens N      the longest sequence wanted\n"
          "      --over ACTION       for longer ones: drop (default), truncate (whole turns\n"
          "                          from the end) or keep; counted either way\n"
          "      --stats             print count, total, min/mean/p50/p90/p99/max and a\n"
          "                          histogram to stdout instead of the records (with -o the\n"
          "                          records still go to the file)\n"
          "      --stats-json FILE   the same statistics as JSON\n"
          "  -j, --jobs N            threads (default 1); the output order is the input's\n"
          "  -o, --output FILE       write the records to FILE (default stdout)\n" SFT_COMMON_OPTIONS_HELP
          "\n"
          "With no FILE, or when FILE is -, read standard input.\n"
          "Exit status: 0 ok, 1 some records rejected (--on-error=skip), 2 usage error,\n"
          "65 bad input, 66 input or tokenizer not found, 73 output not created, 74 I/O error.\n",
          f);
}

enum { OPT_IDS = SFT_OPT_FIRST_TOOL, OPT_SPECIAL, OPT_MAX_TOKENS, OPT_OVER, OPT_STATS, OPT_STATS_JSON,
       OPT_DATE };

static const struct option long_options[] = {
    {"tokenizer", required_argument, NULL, 't'},
    {"template", required_argument, NULL, 'T'},
    {"field", required_argument, NULL, 'f'},
    {"special", no_argument, NULL, OPT_SPECIAL},
    {"date-string", required_argument, NULL, OPT_DATE},
    {"ids", no_argument, NULL, OPT_IDS},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"over", required_argument, NULL, OPT_OVER},
    {"stats", no_argument, NULL, OPT_STATS},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"jobs", required_argument, NULL, 'j'},
    {"output", required_argument, NULL, 'o'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* ---- batches: lines read in order, encoded by the workers, written in order ---- */

enum { ITEM_RECORD, ITEM_BAD, ITEM_FAILED, ITEM_DONE, ITEM_NOMEM };

typedef struct {
    int state;
    const char *src;
    uint64_t line, col;
    size_t off, len;             /* the line in the batch's text */
    size_t out_off, out_len;     /* the output line in the batch's out */
    size_t why_off;              /* ITEM_BAD/FAILED: the reason in the batch's why */
    enum sft_example_fate fate;
    uint32_t n, ntrain, full_n, full_ntrain;
} item;

typedef struct {
    sft_buf text, out, why;
    item *items;
    size_t n, cap;
    int done;
} batch;

#define BATCH_ITEMS 512
#define BATCH_BYTES (1u << 20)

typedef struct {
    sft_example_cfg cfg;
    const json_path *field;
    int ids;
    int nthreads;
    /* the ring of batches in flight */
    batch *ring;
    size_t nring, head, count; /* oldest at head; count in flight (the last may be filling) */
    size_t next_work;          /* the next batch a worker takes */
    size_t submitted;          /* batches handed to the workers so far (ring positions) */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int quit;
    /* output and counts */
    sft_out *out;
    sft_run *run;
    uint64_t over, dropped, truncated;
    uint32_t *stat_n, *stat_train;
    size_t nstat, stat_cap;
    char *last_src;
    char **srcs;
    size_t nsrcs;
} tc_state;

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

static void put_uint(sft_buf *b, uint64_t v)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    buf_append(b, tmp, (size_t)k);
}

/* The fields tokcount adds, after a comma or not. */
static void put_fields(sft_buf *b, const sft_example *ex, int ids, int comma)
{
    if (comma) buf_putc(b, ',');
    buf_append(b, "\"n_tokens\":", 11);
    put_uint(b, ex->n);
    buf_append(b, ",\"n_train_tokens\":", 18);
    put_uint(b, ex->ntrain);
    if (!ids) return;
    buf_append(b, ",\"ids\":[", 8);
    for (size_t i = 0; i < ex->n; i++) {
        if (i) buf_putc(b, ',');
        char tmp[16];
        int k = snprintf(tmp, sizeof tmp, "%" PRId32, ex->ids[i]);
        buf_append(b, tmp, (size_t)k);
    }
    buf_append(b, "],\"mask\":[", 10);
    if (b->cap - b->len < 2 * ex->n + 2) buf_reserve(b, 2 * ex->n + 2);
    for (size_t i = 0; i < ex->n && b->cap - b->len >= 2; i++) {
        if (i) b->p[b->len++] = ',';
        b->p[b->len++] = (char)('0' + ex->mask[i]);
    }
    buf_putc(b, ']');
}

static const char *const added_keys[] = {"n_tokens", "n_train_tokens", "ids", "mask"};

/* Sets the string at path in rec (objects only) to s[0..n). */
static int set_string(cJSON *rec, const json_path *path, const char *s, size_t n)
{
    cJSON *parent = rec;
    for (size_t i = 0; i + 1 < path->nseg; i++) parent = cJSON_GetObjectItemCaseSensitive(parent, path->seg[i]);
    char *copy = malloc(n + 1);
    if (!parent || !copy) {
        free(copy);
        return -1;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    cJSON *v = cJSON_CreateString(copy);
    free(copy);
    return v && cJSON_ReplaceItemInObjectCaseSensitive(parent, path->seg[path->nseg - 1], v) ? 0 : -1;
}

/* Writes the output line of one record into b: the record as it was, with
 * the fields added before its closing brace; rebuilt through cJSON only
 * when it must change (truncated, or carrying our fields from an earlier
 * run). Returns 0 or -1 (memory). */
static int output_line(const tc_state *st, const char *json, size_t len, const sft_example *ex,
                       sft_buf *b)
{
    int rebuild = ex->fate == SFT_EX_TRUNCATED;
    for (size_t k = 0; k < 4 && !rebuild; k++) {
        char pat[24];
        int m = snprintf(pat, sizeof pat, "\"%s\"", added_keys[k]);
        rebuild = memmem(json, len, pat, (size_t)m) != NULL;
    }
    if (!rebuild) {
        size_t end = len;
        while (end > 0 && json[end - 1] != '}') end--;
        size_t open = 0;
        while (open < end && json[open] != '{') open++;
        int empty = 1;
        for (size_t i = open + 1; i + 1 < end && empty; i++)
            empty = json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n';
        if (buf_append(b, json, end - 1) != 0) return -1;
        put_fields(b, ex, st->ids, !empty);
        return buf_putc(b, '}');
    }
    cJSON *rec = cJSON_ParseWithLength(json, len);
    if (!rec) return -1;
    for (size_t k = 0; k < 4; k++) cJSON_DeleteItemFromObjectCaseSensitive(rec, added_keys[k]);
    if (ex->fate == SFT_EX_TRUNCATED) {
        if (st->cfg.tpl) {
            cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
            while (cJSON_GetArraySize(msgs) > (int)ex->nmsgs)
                cJSON_DeleteItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
        } else {
            /* the text decoded again: the encoder's copy is gone by now */
            json_value v;
            sft_buf text = {0};
            int ok = json_get(json, len, st->field, &v) && json_string_decode(&v, &text) == 0 &&
                     set_string(rec, st->field, text.p ? text.p : "", ex->text_len) == 0;
            buf_free(&text);
            if (!ok) {
                cJSON_Delete(rec);
                return -1;
            }
        }
    }
    char *s = cJSON_PrintUnformatted(rec);
    int empty = cJSON_GetArraySize(rec) == 0;
    cJSON_Delete(rec);
    if (!s) return -1;
    size_t n = strlen(s);
    int rc = buf_append(b, s, n - 1);
    free(s);
    put_fields(b, ex, st->ids, !empty);
    return rc == 0 ? buf_putc(b, '}') : -1;
}

static void process_batch(tc_state *st, sft_example_enc *enc, batch *bt)
{
    char err[300];
    for (size_t i = 0; i < bt->n; i++) {
        item *it = &bt->items[i];
        if (it->state != ITEM_RECORD) continue;
        sft_example ex;
        int rc = sft_example_encode(enc, bt->text.p + it->off, it->len, &ex, err, sizeof err);
        if (rc == -2) {
            it->state = ITEM_NOMEM;
            continue;
        }
        if (rc == -1) {
            it->state = ITEM_FAILED;
            it->why_off = bt->why.len;
            if (buf_append(&bt->why, err, strlen(err) + 1) != 0) it->state = ITEM_NOMEM;
            continue;
        }
        it->fate = ex.fate;
        it->n = (uint32_t)ex.n;
        it->ntrain = (uint32_t)ex.ntrain;
        it->full_n = (uint32_t)ex.full_n;
        it->full_ntrain = (uint32_t)ex.full_ntrain;
        it->state = ITEM_DONE;
        if (ex.fate == SFT_EX_DROPPED) continue;
        it->out_off = bt->out.len;
        size_t before = bt->out.len;
        if (output_line(st, bt->text.p + it->off, it->len, &ex, &bt->out) != 0 ||
            buf_putc(&bt->out, '\n') != 0) {
            bt->out.len = before;
            it->state = ITEM_NOMEM;
        }
        it->out_len = bt->out.len - before;
    }
}

static void *worker(void *arg)
{
    tc_state *st = arg;
    sft_example_enc *enc = sft_example_enc_new(&st->cfg);
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->quit && st->next_work == st->submitted) pthread_cond_wait(&st->work, &st->mu);
        if (st->next_work == st->submitted) break; /* quit and nothing left */
        batch *bt = &st->ring[st->next_work++ % st->nring];
        pthread_mutex_unlock(&st->mu);
        if (enc) {
            process_batch(st, enc, bt);
        } else {
            for (size_t i = 0; i < bt->n; i++)
                if (bt->items[i].state == ITEM_RECORD) bt->items[i].state = ITEM_NOMEM;
        }
        pthread_mutex_lock(&st->mu);
        bt->done = 1;
        pthread_cond_broadcast(&st->done);
    }
    pthread_mutex_unlock(&st->mu);
    sft_example_enc_free(enc);
    return NULL;
}

static int stat_add(tc_state *st, uint32_t n, uint32_t ntrain)
{
    if (st->nstat == st->stat_cap) {
        size_t c = st->stat_cap ? 2 * st->stat_cap : 4096;
        uint32_t *a = realloc(st->stat_n, c * sizeof *a);
        if (!a) return -1;
        st->stat_n = a;
        uint32_t *b = realloc(st->stat_train, c * sizeof *b);
        if (!b) return -1;
        st->stat_train = b;
        st->stat_cap = c;
    }
    st->stat_n[st->nstat] = n;
    st->stat_train[st->nstat++] = ntrain;
    return 0;
}

/* Writes a finished batch in input order and accounts for every line. */
static int drain(tc_state *st, batch *bt)
{
    sft_run *run = st->run;
    int status = 0;
    for (size_t i = 0; i < bt->n && !status; i++) {
        item *it = &bt->items[i];
        run->in++;
        switch (it->state) {
        case ITEM_NOMEM:
            return out_of_memory();
        case ITEM_BAD:
        case ITEM_FAILED:
            status = sft_run_reject(run, it->src, it->line, it->col, bt->text.p + it->off, it->len,
                                    bt->why.p + it->why_off);
            break;
        default:
            if (stat_add(st, it->full_n, it->full_ntrain) != 0) return out_of_memory();
            if (it->fate != SFT_EX_FITS) st->over++;
            if (it->fate == SFT_EX_DROPPED) {
                st->dropped++;
                run->filtered++;
                break;
            }
            if (it->fate == SFT_EX_TRUNCATED) st->truncated++;
            if (st->out) sft_out_write(st->out, bt->out.p + it->out_off, it->out_len);
            run->out++;
        }
    }
    if (!status && st->out && sft_out_error(st->out))
        status = sft_write_error(sft_out_name(st->out), sft_out_error(st->out));
    bt->n = 0;
    bt->text.len = bt->out.len = bt->why.len = 0;
    bt->done = 0;
    return status;
}

/* Writes out finished batches, oldest first: while the ring is full, or
 * all of them. */
static int drain_ready(tc_state *st, int all)
{
    int status = 0;
    pthread_mutex_lock(&st->mu);
    while (st->count > 0 && (all || st->count >= st->nring) && !status) {
        batch *old = &st->ring[st->head];
        while (!old->done) pthread_cond_wait(&st->done, &st->mu);
        pthread_mutex_unlock(&st->mu);
        status = drain(st, old);
        pthread_mutex_lock(&st->mu);
        st->head = (st->head + 1) % st->nring;
        st->count--;
    }
    pthread_mutex_unlock(&st->mu);
    return status;
}

/* Hands the filled batch to the workers (with -j 1: encodes and writes it
 * here). */
static int submit(tc_state *st, sft_example_enc *self)
{
    if (st->nthreads <= 1) {
        process_batch(st, self, &st->ring[0]);
        st->count = 0;
        return drain(st, &st->ring[0]);
    }
    pthread_mutex_lock(&st->mu);
    st->submitted++;
    pthread_cond_signal(&st->work);
    pthread_mutex_unlock(&st->mu);
    return drain_ready(st, 0);
}

typedef struct {
    tc_state *st;
    sft_example_enc *self;
    batch *cur;
    size_t cur_index;
} feed_state;

static const char *keep_src(tc_state *st, const char *name)
{
    if (st->last_src && strcmp(st->last_src, name) == 0) return st->last_src;
    char **s = realloc(st->srcs, (st->nsrcs + 1) * sizeof *s);
    if (!s) return NULL;
    st->srcs = s;
    if (!(s[st->nsrcs] = strdup(name))) return NULL;
    return st->last_src = s[st->nsrcs++];
}

static int feed(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                const jsonl_error *err)
{
    (void)run;
    feed_state *fs = ctx;
    tc_state *st = fs->st;
    if (!fs->cur) {
        /* a new batch at the ring's tail (submit keeps a slot free) */
        pthread_mutex_lock(&st->mu);
        fs->cur_index = (st->head + st->count) % st->nring;
        st->count++;
        pthread_mutex_unlock(&st->mu);
        fs->cur = &st->ring[fs->cur_index];
    }
    batch *bt = fs->cur;
    if (bt->n == bt->cap) {
        size_t c = bt->cap ? 2 * bt->cap : BATCH_ITEMS;
        item *p = realloc(bt->items, c * sizeof *p);
        if (!p) return out_of_memory();
        bt->items = p;
        bt->cap = c;
    }
    item *it = &bt->items[bt->n];
    memset(it, 0, sizeof *it);
    it->src = keep_src(st, jsonl_name(r));
    if (!it->src) return out_of_memory();
    it->line = rec->line;
    it->off = bt->text.len;
    it->len = rec->text ? rec->len : 0;
    if (rec->text && buf_append(&bt->text, rec->text, rec->len) != 0) return out_of_memory();
    if (kind != JSONL_RECORD) {
        it->state = ITEM_BAD;
        it->col = err->col;
        it->why_off = bt->why.len;
        if (buf_append(&bt->why, err->reason, strlen(err->reason) + 1) != 0) return out_of_memory();
    }
    bt->n++;
    if (bt->n < BATCH_ITEMS && bt->text.len < BATCH_BYTES) return 0;
    fs->cur = NULL;
    return submit(st, fs->self);
}

/* ---- statistics ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    uint64_t total;
    uint32_t min, max, p50, p90, p99;
    double mean;
} summary;

/* Sorts v; percentiles by the nearest rank. */
static summary summarize(uint32_t *v, size_t n)
{
    summary s = {0};
    if (!n) return s;
    qsort(v, n, sizeof *v, cmp_u32);
    for (size_t i = 0; i < n; i++) s.total += v[i];
    s.min = v[0];
    s.max = v[n - 1];
    s.mean = (double)s.total / (double)n;
    size_t r50 = (size_t)ceil(0.50 * (double)n), r90 = (size_t)ceil(0.90 * (double)n),
           r99 = (size_t)ceil(0.99 * (double)n);
    s.p50 = v[(r50 ? r50 : 1) - 1];
    s.p90 = v[(r90 ? r90 : 1) - 1];
    s.p99 = v[(r99 ? r99 : 1) - 1];
    return s;
}

/* Histogram buckets: [0, 64), then powers of two. */
static size_t bucket_of(uint32_t v)
{
    size_t b = 0;
    while (v >= (64u << b) && b < 26) b++;
    return b;
}

static int write_stats(tc_state *st, const char *json_file, int text, sft_out *text_out)
{
    size_t n = st->nstat;
    uint64_t hist[27] = {0};
    for (size_t i = 0; i < n; i++) hist[bucket_of(st->stat_n[i])]++;
    static const uint32_t fits[] = {512, 1024, 2048, 4096, 8192, 16384, 32768};
    uint64_t fit_count[7] = {0};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 7; k++) fit_count[k] += st->stat_n[i] <= fits[k];
    summary a = summarize(st->stat_n, n), b = summarize(st->stat_train, n);
    size_t top = n ? bucket_of(a.max) : 0;
    if (text) {
        sft_buf o = {0};
        char line[256];
        int k;
#define OUT(...) (k = snprintf(line, sizeof line, __VA_ARGS__), buf_append(&o, line, (size_t)k))
        OUT("records  %" PRIu64 "\n", (uint64_t)n);
        OUT("%-8s %14s %14s\n", "", "n_tokens", "n_train_tokens");
        OUT("%-8s %14" PRIu64 " %14" PRIu64 "\n", "total", a.total, b.total);
        OUT("%-8s %14" PRIu32 " %14" PRIu32 "\n", "min", a.min, b.min);
        OUT("%-8s %14.1f %14.1f\n", "mean", a.mean, b.mean);
        OUT("%-8s %14" PRIu32 " %14" PRIu32 "\n", "p50", a.p50, b.p50);
        OUT("%-8s %14" PRIu32 " %14" PRIu32 "\n", "p90", a.p90, b.p90);
        OUT("%-8s %14" PRIu32 " %14" PRIu32 "\n", "p99", a.p99, b.p99);
        OUT("%-8s %14" PRIu32 " %14" PRIu32 "\n", "max", a.max, b.max);
        OUT("n_tokens histogram:\n");
        uint64_t most = 1;
        for (size_t i = 0; i <= top; i++)
            if (hist[i] > most) most = hist[i];
        for (size_t i = 0; n && i <= top; i++) {
            uint32_t lo = i ? 64u << (i - 1) : 0, hi = (64u << i) - 1;
            int bar = (int)((hist[i] * 40 + most - 1) / most);
            OUT("  %6" PRIu32 "-%-6" PRIu32 " %10" PRIu64 " %5.1f%% ", lo, hi, hist[i],
                100.0 * (double)hist[i] / (double)n);
            for (int c = 0; c < bar; c++) buf_append(&o, "#", 1);
            buf_putc(&o, '\n');
        }
        OUT("fit in max_seq_length:");
        for (int f = 0; f < 7; f++)
            OUT(" %" PRIu32 " %.1f%%", fits[f], n ? 100.0 * (double)fit_count[f] / (double)n : 0.0);
        OUT("\n");
        if (st->cfg.max_tokens)
            OUT("over %zu: %" PRIu64 " (dropped %" PRIu64 ", truncated %" PRIu64 ", kept %" PRIu64 ")\n",
                st->cfg.max_tokens, st->over, st->dropped, st->truncated,
                st->over - st->dropped - st->truncated);
#undef OUT
        sft_out_write(text_out, o.p, o.len);
        buf_free(&o);
    }
    if (!json_file) return 0;
    sft_out *jo = sft_out_open(json_file);
    if (!jo) {
        sft_error("%s: cannot create: %s", json_file, strerror(errno));
        return SFT_EX_CANTCREAT;
    }
    jw w;
    jw_init(&w, jo);
    jw_object(&w);
    jw_key(&w, "records");
    jw_int(&w, (int64_t)n);
    for (int which = 0; which < 2; which++) {
        const summary *s = which ? &b : &a;
        jw_key(&w, which ? "n_train_tokens" : "n_tokens");
        jw_object(&w);
        jw_key(&w, "total"); jw_int(&w, (int64_t)s->total);
        jw_key(&w, "min"); jw_int(&w, s->min);
        jw_key(&w, "mean"); jw_double(&w, s->mean);
        jw_key(&w, "p50"); jw_int(&w, s->p50);
        jw_key(&w, "p90"); jw_int(&w, s->p90);
        jw_key(&w, "p99"); jw_int(&w, s->p99);
        jw_key(&w, "max"); jw_int(&w, s->max);
        jw_end(&w);
    }
    jw_key(&w, "histogram");
    jw_array(&w);
    for (size_t i = 0; n && i <= top; i++) {
        jw_object(&w);
        jw_key(&w, "from"); jw_int(&w, i ? 64 << (i - 1) : 0);
        jw_key(&w, "to"); jw_int(&w, (64 << i) - 1);
        jw_key(&w, "count"); jw_int(&w, (int64_t)hist[i]);
        jw_end(&w);
    }
    jw_end(&w);
    jw_key(&w, "fits");
    jw_object(&w);
    for (int f = 0; f < 7; f++) {
        char key[16];
        snprintf(key, sizeof key, "%" PRIu32, fits[f]);
        jw_key(&w, key);
        jw_int(&w, (int64_t)fit_count[f]);
    }
    jw_end(&w);
    if (st->cfg.max_tokens) {
        jw_key(&w, "max_tokens"); jw_int(&w, (int64_t)st->cfg.max_tokens);
        jw_key(&w, "over"); jw_int(&w, (int64_t)st->over);
        jw_key(&w, "dropped"); jw_int(&w, (int64_t)st->dropped);
        jw_key(&w, "truncated"); jw_int(&w, (int64_t)st->truncated);
    }
    jw_end(&w);
    jw_newline(&w);
    int e = sft_out_close(jo, 1);
    return e ? sft_write_error(json_file, e) : 0;
}

/* ---- main ---- */

static int pick_template(const sft_tok *tok, const char *tok_path, const char *name,
                         const sft_template **tpl)
{
    if (strcmp(name, "none") == 0) {
        *tpl = NULL;
        return 0;
    }
    if (strcmp(name, "auto") != 0) {
        *tpl = sft_template_by_name(name);
        if (!*tpl)
            return sft_usage_error("unknown template '%s' for --template: use auto, none or one of: %s",
                                   name, sft_template_names());
        return 0;
    }
    const char *jinja = sft_tok_config(tok, "chat_template");
    if (!jinja) {
        sft_error("%s: no chat_template (tokenizer_config.json or chat_template.jinja beside the "
                  "tokenizer); name one with --template NAME (%s), or count plain text with "
                  "--template none --field FIELD",
                  tok_path, sft_template_names());
        return SFT_EX_DATAERR;
    }
    *tpl = sft_template_detect(jinja, strlen(jinja));
    if (!*tpl) {
        sft_error("%s: the chat_template is not one tokcount knows; force a renderer with --template "
                  "NAME (%s) if the model was trained with one of them",
                  tok_path, sft_template_names());
        return SFT_EX_DATAERR;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    const char *tok_path = NULL, *tpl_name = NULL, *field_spec = NULL, *output = "-",
               *stats_json = NULL, *date = NULL;
    int ids = 0, special = 0, stats = 0, over_set = 0;
    uint64_t jobs = 1, max_tokens = 0;
    enum sft_over over = SFT_OVER_DROP;
    int opt;
    while ((opt = getopt_long(argc, argv, "t:T:f:j:o:vhV", long_options, NULL)) != -1) {
        int rc = sft_standard_option(opt, usage);
        if (rc >= 0) return rc;
        rc = sft_run_option(&run, opt, optarg);
        if (rc > 0) return rc;
        if (rc == 0) continue;
        switch (opt) {
        case 't': tok_path = optarg; break;
        case 'T': tpl_name = optarg; break;
        case 'f': field_spec = optarg; break;
        case 'o': output = optarg; break;
        case OPT_IDS: ids = 1; break;
        case OPT_SPECIAL: special = 1; break;
        case OPT_DATE: date = optarg; break;
        case OPT_STATS: stats = 1; break;
        case OPT_STATS_JSON: stats_json = optarg; break;
        case 'j':
            if (sft_parse_u64(optarg, 1, 256, &jobs) != 0) return sft_bad_option_value("jobs", optarg);
            break;
        case OPT_MAX_TOKENS:
            if (sft_parse_u64(optarg, 1, UINT32_MAX, &max_tokens) != 0)
                return sft_bad_option_value("max-tokens", optarg);
            break;
        case OPT_OVER:
            over_set = 1;
            if (strcmp(optarg, "drop") == 0) over = SFT_OVER_DROP;
            else if (strcmp(optarg, "truncate") == 0) over = SFT_OVER_TRUNCATE;
            else if (strcmp(optarg, "keep") == 0) over = SFT_OVER_KEEP;
            else return sft_usage_error("invalid value '%s' for --over: use drop, truncate or keep", optarg);
            break;
        default: return sft_usage_error("unexpected option");
        }
    }
    if (!tok_path) return sft_usage_error("--tokenizer PATH is required");
    if (over_set && !max_tokens) return sft_usage_error("--over needs --max-tokens");
    if (field_spec && tpl_name && strcmp(tpl_name, "none") != 0)
        return sft_usage_error("--field encodes a field as plain text; it goes with --template none, "
                               "not --template %s", tpl_name);
    if (special && !field_spec && !(tpl_name && strcmp(tpl_name, "none") == 0))
        return sft_usage_error("--special is for plain text (--template none or --field): a chat "
                               "template writes its own special tokens");
    if (!tpl_name) tpl_name = field_spec ? "none" : "auto";
    if (stats_json && strcmp(output, "-") != 0 && sft_same_file(stats_json, output))
        return sft_usage_error("--stats-json and -o name the same file");

    char err[600];
    sft_tok *tok = sft_tok_load(tok_path, err, sizeof err);
    if (!tok) {
        sft_error("%s", err);
        return errno == ENOENT ? SFT_EX_NOINPUT : SFT_EX_DATAERR;
    }
    tc_state st = {0};
    json_path field = {0};
    sft_input *inputs = NULL;
    size_t ninputs = 0;
    int status = pick_template(tok, tok_path, tpl_name, &st.cfg.tpl);
    pthread_t *threads = NULL;
    int nstarted = 0;
    sft_example_enc *self = NULL;
    if (status) goto done;
    if (!st.cfg.tpl) {
        if (json_path_parse(&field, field_spec ? field_spec : "text") != 0) {
            status = errno == ENOMEM ? out_of_memory()
                                     : sft_usage_error("invalid field path '%s' for --field", field_spec);
            goto done;
        }
        st.cfg.field = st.field = &field;
    }
    st.cfg.tok = tok;
    st.cfg.flags = special ? SFT_TOK_ADD_SPECIAL : 0;
    st.cfg.max_tokens = (size_t)max_tokens;
    st.cfg.over = over;
    st.cfg.opts.bos_token = sft_tok_config(tok, "bos_token");
    st.cfg.opts.eos_token = sft_tok_config(tok, "eos_token");
    st.cfg.opts.date_string = date;
    st.ids = ids;
    st.run = &run;
    st.nthreads = (int)jobs;

    inputs = sft_inputs_new(argv + optind, (size_t)(argc - optind), &ninputs);
    if (!inputs) {
        status = out_of_memory();
        goto done;
    }
    if ((status = sft_inputs_check(inputs, ninputs)) != 0 || (status = sft_run_start(&run)) != 0) goto done;
    if (!stats || strcmp(output, "-") != 0) {
        if (!(st.out = sft_out_open(output))) {
            sft_error("%s: cannot create: %s", output, strerror(errno));
            status = SFT_EX_CANTCREAT;
            goto done;
        }
    }
    st.nring = st.nthreads <= 1 ? 1 : (size_t)st.nthreads * 3;
    st.ring = calloc(st.nring, sizeof *st.ring);
    if (!st.ring) {
        status = out_of_memory();
        goto done;
    }
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.work, NULL);
    pthread_cond_init(&st.done, NULL);
    if (st.nthreads <= 1) {
        if (!(self = sft_example_enc_new(&st.cfg))) {
            status = out_of_memory();
            goto done;
        }
    } else {
        threads = calloc((size_t)st.nthreads, sizeof *threads);
        if (!threads) {
            status = out_of_memory();
            goto done;
        }
        for (; nstarted < st.nthreads; nstarted++)
            if (pthread_create(&threads[nstarted], NULL, worker, &st) != 0) break;
        if (nstarted == 0) {
            sft_error("cannot start threads: %s", strerror(errno));
            status = SFT_EX_SOFTWARE;
            goto done;
        }
    }
    {
        feed_state fs = {&st, self, NULL, 0};
        status = sft_each_record(&run, inputs, ninputs, feed, &fs);
        if (!status && fs.cur) status = submit(&st, self);
        if (!status && st.nthreads > 1) status = drain_ready(&st, 1);
    }
    if (!status && (stats || stats_json)) {
        sft_out *so = stats ? sft_out_open("-") : NULL;
        if (stats && !so) {
            status = out_of_memory();
        } else {
            status = write_stats(&st, stats_json, stats, so);
            if (so) {
                int e = sft_out_close(so, 1);
                if (e && !status) status = sft_write_error("<stdout>", e);
            }
        }
    }
    if (!status && run.verbose && max_tokens)
        sft_error("over %" PRIu64 " tokens: %" PRIu64 " (dropped %" PRIu64 ", truncated %" PRIu64 ")",
                  max_tokens, st.over, st.dropped, st.truncated);
done:
    if (threads) {
        pthread_mutex_lock(&st.mu);
        st.quit = 1;
        pthread_cond_broadcast(&st.work);
        pthread_mutex_unlock(&st.mu);
        for (int i = 0; i < nstarted; i++) pthread_join(threads[i], NULL);
        free(threads);
    }
    if (st.out) {
        int e = sft_out_close(st.out, status == 0);
        if (e && !status) status = sft_write_error(strcmp(output, "-") ? output : "<stdout>", e);
    }
    for (size_t i = 0; st.ring && i < st.nring; i++) {
        buf_free(&st.ring[i].text);
        buf_free(&st.ring[i].out);
        buf_free(&st.ring[i].why);
        free(st.ring[i].items);
    }
    free(st.ring);
    for (size_t i = 0; i < st.nsrcs; i++) free(st.srcs[i]);
    free(st.srcs);
    free(st.stat_n);
    free(st.stat_train);
    sft_example_enc_free(self);
    sft_inputs_free(inputs, ninputs);
    if (field.seg) json_path_free(&field);
    sft_tok_free(tok);
    return sft_run_finish(&run, status);
}
