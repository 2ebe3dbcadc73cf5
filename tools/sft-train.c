/* sft-train: LoRA fine-tuning on the CPU path (lib/nn/train.h). See
 * man/man1/sft-train.1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/hash.h"
#include "core/inputs.h"
#include "core/out.h"
#include "nn/config.h"
#include "nn/model.h"
#include "nn/st_write.h"
#include "nn/train.h"
#include "tok/example.h"
#include "tok/template.h"
#include "tok/tok.h"

enum {
    OPT_TRAIN = SFT_OPT_FIRST_TOOL,
    OPT_OUT,
    OPT_TEMPLATE,
    OPT_MAX_SEQ,
    OPT_OVER,
    OPT_BATCH,
    OPT_ACCUM,
    OPT_NO_SHUFFLE,
    OPT_SEED,
    OPT_TARGETS,
    OPT_R,
    OPT_ALPHA,
    OPT_DROPOUT,
    OPT_RSLORA,
    OPT_INIT_ADAPTER,
    OPT_LR,
    OPT_BETAS,
    OPT_EPS,
    OPT_WD,
    OPT_SCHEDULE,
    OPT_WARMUP_STEPS,
    OPT_WARMUP_RATIO,
    OPT_MAX_GRAD_NORM,
    OPT_EPOCHS,
    OPT_MAX_STEPS,
    OPT_VAL,
    OPT_BATCH_TOKENS,
    OPT_GRAD_CKPT,
    OPT_EVAL_STEPS,
    OPT_PATIENCE,
    OPT_SAVE_STEPS,
    OPT_RESUME,
    OPT_DEVICE,
    OPT_QUANT,
    OPT_GPU_MEM,
};

static const struct option long_options[] = {
    {"model", required_argument, NULL, 'm'},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"out", required_argument, NULL, OPT_OUT},
    {"template", required_argument, NULL, OPT_TEMPLATE},
    {"max-seq-len", required_argument, NULL, OPT_MAX_SEQ},
    {"over", required_argument, NULL, OPT_OVER},
    {"batch-size", required_argument, NULL, OPT_BATCH},
    {"grad-accum", required_argument, NULL, OPT_ACCUM},
    {"no-shuffle", no_argument, NULL, OPT_NO_SHUFFLE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"targets", required_argument, NULL, OPT_TARGETS},
    {"r", required_argument, NULL, OPT_R},
    {"alpha", required_argument, NULL, OPT_ALPHA},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"rslora", no_argument, NULL, OPT_RSLORA},
    {"init-adapter", required_argument, NULL, OPT_INIT_ADAPTER},
    {"lr", required_argument, NULL, OPT_LR},
    {"betas", required_argument, NULL, OPT_BETAS},
    {"eps", required_argument, NULL, OPT_EPS},
    {"weight-decay", required_argument, NULL, OPT_WD},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"warmup-steps", required_argument, NULL, OPT_WARMUP_STEPS},
    {"warmup-ratio", required_argument, NULL, OPT_WARMUP_RATIO},
    {"max-grad-norm", required_argument, NULL, OPT_MAX_GRAD_NORM},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"max-steps", required_argument, NULL, OPT_MAX_STEPS},
    {"val", required_argument, NULL, OPT_VAL},
    {"batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS},
    {"grad-checkpoint", no_argument, NULL, OPT_GRAD_CKPT},
    {"eval-steps", required_argument, NULL, OPT_EVAL_STEPS},
    {"patience", required_argument, NULL, OPT_PATIENCE},
    {"save-steps", required_argument, NULL, OPT_SAVE_STEPS},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"quant", required_argument, NULL, OPT_QUANT},
    {"gpu-mem", required_argument, NULL, OPT_GPU_MEM},
    {"threads", required_argument, NULL, 't'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("Usage: sft-train --model DIR --train FILE --out DIR [OPTION]...\n"
          "       sft-train plan --model DIR [--max-seq-len N] [--batch-tokens N] [OPTION]...\n"
          "Train a LoRA adapter on SFT examples, Alpaca pairs or {\"ids\",\"mask\"} records and\n"
          "write it in the PEFT layout, with a log of every step (OUT/log.jsonl). 'plan'\n"
          "prints the memory a run will need, before loading anything.\n"
          "\n"
          "Data:\n"
          "  -m, --model DIR         base model directory (Hugging Face layout)\n"
          "      --train FILE        training records (JSONL)\n"
          "      --val FILE          validation records, scored every --eval-steps; OUT\n"
          "                          keeps the adapter with the lowest eval_loss\n"
          "      --out DIR           adapter_config.json, adapter_model.safetensors, log.jsonl\n"
          "      --template NAME     chat template: auto (default: the model's) or a name\n"
          "      --max-seq-len N     longest example in tokens (default 2048)\n"
          "      --over drop|truncate  what happens to longer ones (default drop)\n"
          "      --batch-size N      examples per micro-batch (default 1)\n"
          "      --batch-tokens N    or pack examples into micro-batches of at most N tokens\n"
          "      --grad-accum K      micro-batches per optimizer step (default 1)\n"
          "      --no-shuffle        keep the file's order (default: shuffled per epoch)\n"
          "      --seed N            shuffling, LoRA initialisation, dropout (default 0)\n"
          "LoRA:\n"
          "      --targets LIST      layers to adapt (default all: q_proj,k_proj,v_proj,\n"
          "                          o_proj,gate_proj,up_proj,down_proj)\n"
          "      --r N               rank (default 16)\n"
          "      --alpha F           alpha (default 32)\n"
          "      --dropout F         dropout on the adapter's input (default 0)\n"
          "      --rslora            scale by alpha/sqrt(r) instead of alpha/r\n"
          "      --init-adapter DIR  start from this PEFT adapter\n"
          "      --grad-checkpoint   recompute activations in the backward pass (less memory)\n"
          "Optimisation:\n"
          "      --lr F              peak learning rate (default 2e-4)\n"
          "      --betas B1,B2       AdamW betas (default 0.9,0.999)\n"
          "      --eps F             AdamW epsilon (default 1e-8)\n"
          "      --weight-decay F    AdamW weight decay (default 0)\n"
          "      --schedule NAME     constant, linear (default) or cosine\n"
          "      --warmup-steps N    linear warm-up steps (default 0)\n"
          "      --warmup-ratio F    warm-up as a fraction of the steps\n"
          "      --max-grad-norm F   clip the gradient norm (default 1; 0: off)\n"
          "      --epochs N          passes over the data (default 1)\n"
          "      --max-steps N       optimizer steps (instead of --epochs)\n"
          "      --eval-steps N      evaluate on --val every N steps (default: at the end)\n"
          "      --patience N        stop after N evaluations without a better eval_loss\n"
          "                          and keep the best adapter (default 0: off)\n"
          "      --save-steps N      a checkpoint every N steps in OUT/checkpoint-STEP/\n"
          "      --resume DIR        go on from the latest checkpoint in DIR (or that checkpoint)\n"
          "plan:\n"
          "      --device cpu|cuda   where the run would go (default cpu)\n"
          "      --quant none|nf4    base weights as stored, or 4-bit NF4 (cuda)\n"
          "      --gpu-mem SIZE      the card's memory (default: what nvidia-smi reports)\n"
          "\n"
          "  -t, --threads N         threads (default: all cores)\n" SFT_COMMON_OPTIONS_HELP,
          f);
}

typedef struct {
    int32_t *ids, *target;
    int64_t n, ntrain;
} example;

typedef struct {
    example *ex;
    size_t n, cap;
} dataset;

typedef struct {
    sft_example_enc *enc;
    dataset *ds;
    size_t max_seq;
    int truncate;
    uint64_t dropped, truncated, no_train;
} load_ctx;

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

/* ids/mask record, or an SFT example / Alpaca pair through the template */
static int load_one(void *vctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                    const jsonl_error *jerr)
{
    load_ctx *c = vctx;
    run->in++;
    if (kind != JSONL_RECORD)
        return sft_run_reject(run, jsonl_name(r), jerr->line, jerr->col, rec->text, rec->len, jerr->reason);
    jsonl_error perr;
    cJSON *obj = jsonl_parse(rec, &perr);
    if (!obj) return sft_run_reject(run, jsonl_name(r), perr.line, perr.col, rec->text, rec->len, perr.reason);
    char err[600] = "";
    const int32_t *ids = NULL;
    int32_t *own_ids = NULL;
    uint8_t *own_mask = NULL;
    const uint8_t *mask = NULL;
    size_t n = 0;
    const cJSON *jids = cJSON_GetObjectItemCaseSensitive(obj, "ids");
    int status = 0;
    if (jids) {
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(obj, "mask");
        n = cJSON_IsArray(jids) ? (size_t)cJSON_GetArraySize(jids) : 0;
        own_ids = malloc((n ? n : 1) * sizeof *own_ids);
        own_mask = malloc(n ? n : 1);
        if (!own_ids || !own_mask) {
            status = out_of_memory();
            goto done;
        }
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, jids)
        {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX) {
                snprintf(err, sizeof err, "ids[%zu] is not a token id", i);
                break;
            }
            own_ids[i++] = (int32_t)e->valuedouble;
        }
        if (!err[0] && jm && (!cJSON_IsArray(jm) || (size_t)cJSON_GetArraySize(jm) != n))
            snprintf(err, sizeof err, "\"mask\" must be an array as long as \"ids\"");
        for (i = 0; !err[0] && i < n; i++) own_mask[i] = jm ? cJSON_GetArrayItem(jm, (int)i)->valuedouble == 1 : 1;
        if (!err[0] && n < 2) snprintf(err, sizeof err, "fewer than 2 tokens");
        ids = own_ids;
        mask = own_mask;
        if (!err[0] && n > c->max_seq) {
            if (!c->truncate) {
                c->dropped++;
                run->filtered++;
                goto done;
            }
            n = c->max_seq;
            c->truncated++;
        }
    } else {
        if (!c->enc) {
            snprintf(err, sizeof err, "the model has no tokenizer or chat template for this record");
        } else {
            sft_example ex;
            int e = sft_example_encode(c->enc, rec->text, rec->len, &ex, err, sizeof err);
            if (e == -2) {
                status = out_of_memory();
                goto done;
            }
            if (e == 0) {
                if (ex.fate == SFT_EX_DROPPED) {
                    c->dropped++;
                    run->filtered++;
                    goto done;
                }
                if (ex.fate == SFT_EX_TRUNCATED) c->truncated++;
                ids = ex.ids;
                mask = ex.mask;
                n = ex.n;
            }
        }
    }
    if (err[0]) {
        status = sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len, err);
        goto done;
    }
    example x = {0};
    x.n = (int64_t)n;
    x.ids = malloc(n * sizeof *x.ids);
    x.target = malloc(n * sizeof *x.target);
    if (!x.ids || !x.target) {
        free(x.ids);
        free(x.target);
        status = out_of_memory();
        goto done;
    }
    memcpy(x.ids, ids, n * sizeof *x.ids);
    for (size_t i = 0; i < n; i++) {
        int trained = i + 1 < n && mask[i + 1];
        x.target[i] = trained ? ids[i + 1] : -1;
        x.ntrain += trained;
    }
    if (!x.ntrain) {
        /* nothing to learn from: counted, not trained on */
        free(x.ids);
        free(x.target);
        c->no_train++;
        run->filtered++;
        goto done;
    }
    if (c->ds->n == c->ds->cap) {
        size_t cap = c->ds->cap ? 2 * c->ds->cap : 256;
        example *p = realloc(c->ds->ex, cap * sizeof *p);
        if (!p) {
            free(x.ids);
            free(x.target);
            status = out_of_memory();
            goto done;
        }
        c->ds->ex = p;
        c->ds->cap = cap;
    }
    c->ds->ex[c->ds->n++] = x;
    run->out++;
done:
    free(own_ids);
    free(own_mask);
    cJSON_Delete(obj);
    return status;
}

static void dataset_free(dataset *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->ex[i].ids);
        free(d->ex[i].target);
    }
    free(d->ex);
}

static int load(const char *path, const char *what, load_ctx *c, sft_run *run)
{
    char *paths[1] = {(char *)path};
    size_t n;
    sft_input *in = sft_inputs_new(paths, 1, &n);
    if (!in) return out_of_memory();
    int status = sft_inputs_check(in, n);
    if (!status) status = sft_each_record(run, in, n, load_one, c);
    sft_inputs_free(in, n);
    if (!status && c->ds->n == 0) {
        sft_error("%s: no example with a trained token in the %s data", path, what);
        status = SFT_EX_DATAERR;
    }
    return status;
}

/* ---- schedule (transformers' get_scheduler; step counts from 0) ---- */

enum schedule { SCHED_CONSTANT, SCHED_LINEAR, SCHED_COSINE };

static double lr_factor(enum schedule s, int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup) return (double)step / (double)(warmup > 1 ? warmup : 1);
    if (s == SCHED_CONSTANT) return 1;
    double rest = (double)(total - warmup > 1 ? total - warmup : 1);
    if (s == SCHED_LINEAR) {
        double f = (double)(total - step) / rest;
        return f > 0 ? f : 0;
    }
    double progress = (double)(step - warmup) / rest;
    double f = 0.5 * (1 + cos(M_PI * progress));
    return f > 0 ? f : 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The order of epoch e's examples: the file's, or a Fisher-Yates shuffle
 * seeded from (seed, e). */
static void epoch_order(size_t *order, size_t n, int shuffle, uint64_t seed, uint64_t epoch)
{
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (!shuffle) return;
    uint64_t s = seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&s) % i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

static int parse_targets(const char *s, unsigned *out)
{
    static const char *names[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    *out = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int found = 0;
        for (int k = 0; k < 7; k++)
            if (strlen(names[k]) == len && memcmp(names[k], p, len) == 0) {
                *out |= 1u << k;
                found = 1;
            }
        if (len == 3 && memcmp(p, "all", 3) == 0) *out |= NN_TARGET_ALL, found = 1;
        if (!found) return -1;
        p += len + (e != NULL);
    }
    return *out ? 0 : -1;
}

/* ---- the run ---- */

typedef struct {
    const char *model_dir, *train_path, *val_path, *out_dir, *tpl_name, *init_adapter, *resume, *device, *quant;
    uint64_t gpu_mem;
    uint64_t max_seq, batch, batch_tokens, accum, seed, r, epochs, max_steps, warmup_steps, threads, eval_steps,
        patience, save_steps;
    double alpha, dropout, lr, b1, b2, eps, wd, warmup_ratio, max_grad_norm;
    int shuffle, rslora, truncate, grad_ckpt, max_seq_set;
    unsigned targets;
    enum schedule sched;
} train_opts;

/* Where the run is: what a checkpoint saves besides the tensors. */
typedef struct {
    int64_t step;       /* optimizer steps done */
    uint64_t consumed;  /* examples taken from the stream */
    uint64_t calls;     /* the trainer's accumulate calls (dropout masks) */
    double best_eval;   /* lowest eval_loss so far (INFINITY: none) */
    uint64_t bad_evals; /* evaluations since the best */
} run_pos;

typedef struct {
    const train_opts *o;
    nn_model *m;
    nn_trainer *t;
    nn_pool *pool;
    dataset *train, *val;
    size_t *order;      /* the cached epoch's order */
    uint64_t order_epoch;
    uint64_t fingerprint; /* of the options and data a resumed run must share */
    sft_out *log;
    char log_path[4096];
    /* a micro-batch packed into one sequence */
    int32_t *ids, *target, *pos;
    int64_t *kv_first;
    nn_state *vs;       /* evaluation */
    int64_t val_max;
} trainer_run;

#define STATE_MAGIC "SFTTRAIN"
#define STATE_VERSION 1u

static size_t example_at(trainer_run *r, uint64_t k)
{
    size_t N = r->train->n;
    uint64_t e = k / N;
    if (e != r->order_epoch) epoch_order(r->order, N, r->o->shuffle, r->o->seed, r->order_epoch = e);
    return r->order[k % N];
}

/* How many examples micro-batch starting at stream position k takes. */
static size_t micro_count(trainer_run *r, uint64_t k)
{
    if (!r->o->batch_tokens) return (size_t)r->o->batch;
    int64_t tokens = 0;
    size_t n = 0;
    for (;; n++) {
        int64_t len = r->train->ex[example_at(r, k + n)].n;
        if (n > 0 && tokens + len > (int64_t)r->o->batch_tokens) break;
        tokens += len;
        if (n + 1 >= r->train->n * 4 + 1) break; /* never loop forever on tiny data */
    }
    return n;
}

/* The examples of a step: accum micro-batches. */
static uint64_t step_examples(trainer_run *r, uint64_t k)
{
    uint64_t n = 0;
    for (uint64_t j = 0; j < r->o->accum; j++) n += micro_count(r, k + n);
    return n;
}

static int64_t total_steps(trainer_run *r)
{
    if (r->o->max_steps) return (int64_t)r->o->max_steps;
    uint64_t want = r->o->epochs * r->train->n, k = 0;
    int64_t steps = 0;
    while (k < want) {
        k += step_examples(r, k);
        steps++;
    }
    return steps;
}

static int write_state(trainer_run *r, const run_pos *pos, const char *path, char *err, size_t errlen)
{
    size_t n = nn_trainer_nparams(r->t);
    sft_buf b = {0};
    uint32_t version = STATE_VERSION;
    uint64_t nparams = n;
    int ok = buf_append(&b, STATE_MAGIC, 8) == 0 && buf_append(&b, &version, 4) == 0 &&
             buf_append(&b, &r->fingerprint, 8) == 0 && buf_append(&b, &nparams, 8) == 0 &&
             buf_append(&b, pos, sizeof *pos) == 0 &&
             buf_append(&b, nn_trainer_params(r->t), n * sizeof(float)) == 0 &&
             buf_append(&b, nn_trainer_moment1(r->t), n * sizeof(float)) == 0 &&
             buf_append(&b, nn_trainer_moment2(r->t), n * sizeof(float)) == 0;
    int rc = -1;
    if (!ok) snprintf(err, errlen, "out of memory");
    else rc = sft_stw_write_bytes(path, b.p, b.len, err, errlen) == 0 ? 0 : -1;
    buf_free(&b);
    return rc;
}

/* Removes a checkpoint directory sft-train wrote (its three files). */
static void remove_checkpoint_dir(const char *dir)
{
    static const char *const files[] = {"trainer_state.bin", "adapter_model.safetensors", "adapter_config.json"};
    char path[4500];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* OUT/checkpoint-STEP/: the adapter and trainer_state.bin, made in a
 * temporary directory and renamed, so a checkpoint is whole or absent. */
static int save_checkpoint(trainer_run *r, const run_pos *pos)
{
    char dir[4200], tmp[4300], path[4400], err[600];
    snprintf(dir, sizeof dir, "%s/checkpoint-%" PRId64, r->o->out_dir, pos->step);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
    if (mkdir(tmp, 0777) != 0) {
        sft_error("%s: cannot create: %s", tmp, strerror(errno));
        return SFT_EX_CANTCREAT;
    }
    snprintf(path, sizeof path, "%s/trainer_state.bin", tmp);
    if (nn_trainer_save_adapter(r->t, tmp, r->o->model_dir, err, sizeof err) != 0 ||
        write_state(r, pos, path, err, sizeof err) != 0) {
        sft_error("%s (the last whole checkpoint is kept)", err);
        remove_checkpoint_dir(tmp);
        return SFT_EX_IOERR;
    }
    /* a run resumed from an earlier checkpoint replaces the later ones it
     * writes again: the old one is moved aside first, so one whole
     * checkpoint of that step exists at every moment */
    char old[4400];
    snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
    int had = rename(dir, old) == 0;
    if (rename(tmp, dir) != 0) {
        sft_error("%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
        if (had) rename(old, dir);
        return SFT_EX_IOERR;
    }
    if (had) remove_checkpoint_dir(old);
    return 0;
}

/* The checkpoint to resume from: DIR itself, or DIR's highest checkpoint-N. */
static int find_checkpoint(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s/trainer_state.bin", dir);
    if (access(out, R_OK) == 0) {
        snprintf(out, n, "%s", dir);
        return 0;
    }
    long best = -1;
    {
        char path[4300];
        struct stat st;
        DIR *d = opendir(dir);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d))) {
            char *end;
            if (strncmp(e->d_name, "checkpoint-", 11) != 0) continue;
            long v = strtol(e->d_name + 11, &end, 10);
            if (*end || v < 0) continue;
            snprintf(path, sizeof path, "%s/%s/trainer_state.bin", dir, e->d_name);
            if (stat(path, &st) == 0 && v > best) best = v;
        }
        closedir(d);
    }
    if (best < 0) return -1;
    snprintf(out, n, "%s/checkpoint-%ld", dir, best);
    return 0;
}

static int load_state(trainer_run *r, const char *ckpt, run_pos *pos)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/trainer_state.bin", ckpt);
    sft_buf b = {0};
    if (buf_read_file(&b, path, (size_t)1 << 36) != 0) {
        sft_error("%s: %s", path, strerror(errno));
        return SFT_EX_NOINPUT;
    }
    size_t n = nn_trainer_nparams(r->t), need = 8 + 4 + 8 + 8 + sizeof *pos + 3 * n * sizeof(float);
    uint32_t version;
    uint64_t fp, nparams;
    int status = 0;
    if (b.len < 28 || memcmp(b.p, STATE_MAGIC, 8) != 0) {
        sft_error("%s: not a trainer state of sft-train", path);
        status = SFT_EX_DATAERR;
    } else if (memcpy(&version, b.p + 8, 4), version != STATE_VERSION) {
        sft_error("%s: version %u; this sft-train reads version %u", path, version, STATE_VERSION);
        status = SFT_EX_DATAERR;
    } else if (memcpy(&fp, b.p + 12, 8), memcpy(&nparams, b.p + 20, 8), nparams != n || b.len != need) {
        sft_error("%s: the adapter of this run has %zu parameters, the checkpoint %" PRIu64
                  " (a different --r, --targets or model?)", path, n, nparams);
        status = SFT_EX_DATAERR;
    } else if (fp != r->fingerprint) {
        sft_error("%s: the checkpoint was made with other data or options (model, data, batching, "
                  "seed, LoRA or optimizer settings); resume with the same ones", path);
        status = SFT_EX_DATAERR;
    } else {
        const char *q = b.p + 28;
        memcpy(pos, q, sizeof *pos);
        q += sizeof *pos;
        memcpy(nn_trainer_params(r->t), q, n * sizeof(float));
        memcpy(nn_trainer_moment1(r->t), q + n * sizeof(float), n * sizeof(float));
        memcpy(nn_trainer_moment2(r->t), q + 2 * n * sizeof(float), n * sizeof(float));
        nn_trainer_set_calls(r->t, pos->calls);
    }
    buf_free(&b);
    return status;
}

/* Keeps the lines of OUT/log.jsonl up to step (a resumed run writes the
 * rest again). */
static int trim_log(const char *path, int64_t step)
{
    sft_buf b = {0}, keep = {0};
    if (buf_read_file(&b, path, (size_t)1 << 32) != 0) return errno == ENOENT ? 0 : -1;
    for (size_t i = 0; i < b.len;) {
        char *nl = memchr(b.p + i, '\n', b.len - i);
        if (!nl) break; /* a torn last line */
        size_t len = (size_t)(nl - (b.p + i)) + 1;
        long long s;
        if (sscanf(b.p + i, "{\"step\":%lld", &s) == 1 && s <= step) buf_append(&keep, b.p + i, len);
        i += len;
    }
    int rc = sft_stw_write_bytes(path, keep.p ? keep.p : "", keep.len, (char[200]){0}, 200);
    buf_free(&b);
    buf_free(&keep);
    return rc == 0 ? 0 : -1;
}

static int log_line(trainer_run *r, const char *line, size_t len)
{
    sft_out_write(r->log, line, len);
    if (sft_out_flush(r->log) != 0) return sft_write_error(r->log_path, sft_out_error(r->log));
    return 0;
}

/* Mean -log p of the validation set's trained tokens (the adapter as it is). */
static int evaluate(trainer_run *r, double *loss, int64_t *ntok)
{
    double sum = 0;
    int64_t n = 0;
    char err[600];
    for (size_t i = 0; i < r->val->n; i++) {
        const example *x = &r->val->ex[i];
        nn_state_reset(r->vs);
        for (int64_t at = 0; at < x->n; at += 256) {
            int64_t k = x->n - at < 256 ? x->n - at : 256;
            if (nn_forward(r->m, r->vs, r->pool, x->ids + at, k, err, sizeof err) != 0 ||
                nn_chunk_nll(r->m, r->vs, r->pool, x->target + at, k, &sum, &n) != 0) {
                sft_error("evaluation: %s", err);
                return SFT_EX_SOFTWARE;
            }
        }
    }
    *loss = n ? sum / (double)n : 0;
    *ntok = n;
    return 0;
}

static int train(trainer_run *r, sft_run *run)
{
    const train_opts *o = r->o;
    run_pos pos = {.best_eval = INFINITY};
    char err[1024];
    int status = 0;
    if (o->resume) {
        char ckpt[4096];
        if (find_checkpoint(o->resume, ckpt, sizeof ckpt) != 0) {
            sft_error("%s: no checkpoint to resume from (checkpoint-STEP/trainer_state.bin)", o->resume);
            return SFT_EX_NOINPUT;
        }
        if ((status = load_state(r, ckpt, &pos)) != 0) return status;
        if (trim_log(r->log_path, pos.step) != 0) {
            sft_error("%s: cannot rewrite: %s", r->log_path, strerror(errno));
            return SFT_EX_IOERR;
        }
        if (run->verbose) sft_error("resuming from %s (step %" PRId64 ")", ckpt, pos.step);
    }
    /* appended and flushed line by line: a killed run leaves whole lines */
    int fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0 || !(r->log = sft_out_fd(fd, r->log_path))) {
        sft_error("%s: cannot open: %s", r->log_path, strerror(errno));
        if (fd >= 0) close(fd);
        return SFT_EX_CANTCREAT;
    }
    const int64_t total = total_steps(r);
    const int64_t warmup = o->warmup_ratio >= 0 ? (int64_t)ceil(o->warmup_ratio * (double)total)
                                                 : (int64_t)o->warmup_steps;
    const size_t N = r->train->n;
    nn_adamw h = {.lr = o->lr, .beta1 = o->b1, .beta2 = o->b2, .eps = o->eps, .weight_decay = o->wd};
    int stopped_early = 0, evaluated_last = 0;
    while (pos.step < total && !status) {
        int64_t step = pos.step + 1;
        double t0 = now();
        /* the step's micro-batches and their trained tokens */
        uint64_t k = pos.consumed, nex = step_examples(r, k);
        int64_t ntok = 0, tokens = 0, n = 0;
        for (uint64_t j = 0; j < nex; j++) ntok += r->train->ex[example_at(r, k + j)].ntrain;
        nn_trainer_zero_grad(r->t);
        double nll = 0;
        for (uint64_t mb = 0; mb < o->accum && !status; mb++) {
            size_t cnt = micro_count(r, k);
            if (!o->batch_tokens) {
                for (size_t j = 0; j < cnt && !status; j++) {
                    const example *x = &r->train->ex[example_at(r, k + j)];
                    if (nn_trainer_accumulate(r->t, r->pool, x->ids, x->target, NULL, NULL, x->n,
                                              1.0f / (float)ntok, &nll, &n, err, sizeof err) != 0)
                        status = SFT_EX_DATAERR;
                    tokens += x->n;
                }
            } else {
                /* one sequence: the examples one after the other, positions
                 * restarting, attention kept inside each */
                int64_t T = 0;
                for (size_t j = 0; j < cnt; j++) {
                    const example *x = &r->train->ex[example_at(r, k + j)];
                    for (int64_t i = 0; i < x->n; i++) {
                        r->ids[T + i] = x->ids[i];
                        r->target[T + i] = x->target[i];
                        r->pos[T + i] = (int32_t)i;
                        r->kv_first[T + i] = T;
                    }
                    T += x->n;
                }
                if (nn_trainer_accumulate(r->t, r->pool, r->ids, r->target, r->pos, r->kv_first, T,
                                          1.0f / (float)ntok, &nll, &n, err, sizeof err) != 0)
                    status = SFT_EX_DATAERR;
                tokens += T;
            }
            k += cnt;
        }
        if (status) {
            sft_error("%s", err);
            break;
        }
        double loss = n ? nll / (double)n : 0;
        if (!isfinite(loss)) {
            sft_error("step %" PRId64 ": the loss is %g: stopping; the last checkpoint%s is kept (try a lower --lr)",
                      step, loss, o->save_steps ? "" : " (none: no --save-steps)");
            status = SFT_EX_DATAERR;
            break;
        }
        double norm = nn_trainer_grad_norm(r->t);
        double clip = o->max_grad_norm > 0 && norm > o->max_grad_norm ? o->max_grad_norm / (norm + 1e-6) : 1.0;
        h.lr = o->lr * lr_factor(o->sched, step - 1, warmup, total);
        nn_trainer_adamw(r->t, &h, step, clip);
        pos.step = step;
        pos.consumed = k;
        pos.calls = nn_trainer_calls(r->t);
        double dt = now() - t0;
        char line[512];
        int len = snprintf(line, sizeof line,
                           "{\"step\":%" PRId64 ",\"epoch\":%.6g,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,"
                           "\"tokens\":%" PRId64 ",\"tokens_per_s\":%.1f}\n",
                           step, (double)pos.consumed / (double)N, loss, h.lr, norm, tokens, (double)tokens / dt);
        if ((status = log_line(r, line, (size_t)len)) != 0) break;
        sft_run_progress_text(run, "step %" PRId64 "/%" PRId64 ", epoch %.2f, loss %.4f, %.0f tokens/s", step,
                              total, (double)pos.consumed / (double)N, loss, (double)tokens / dt);
        if (run->verbose) sft_error("step %" PRId64 "/%" PRId64 ": loss %.4f", step, total, loss);
        evaluated_last = 0;
        if (r->val && ((o->eval_steps && step % (int64_t)o->eval_steps == 0) || step == total)) {
            double el;
            int64_t et;
            if ((status = evaluate(r, &el, &et)) != 0) break;
            evaluated_last = 1;
            len = snprintf(line, sizeof line,
                           "{\"step\":%" PRId64 ",\"epoch\":%.6g,\"eval_loss\":%.9g,\"eval_tokens\":%" PRId64 "}\n",
                           step, (double)pos.consumed / (double)N, el, et);
            if ((status = log_line(r, line, (size_t)len)) != 0) break;
            if (el < pos.best_eval) {
                pos.best_eval = el;
                pos.bad_evals = 0;
                if (nn_trainer_save_adapter(r->t, o->out_dir, o->model_dir, err, sizeof err) != 0) {
                    sft_error("%s", err);
                    status = SFT_EX_IOERR;
                    break;
                }
            } else if (o->patience && ++pos.bad_evals >= o->patience) {
                stopped_early = 1;
            }
        }
        if (o->save_steps && (step % (int64_t)o->save_steps == 0 || step == total || stopped_early) &&
            (status = save_checkpoint(r, &pos)) != 0)
            break;
        if (stopped_early) {
            if (run->verbose)
                sft_error("early stop at step %" PRId64 ": eval_loss has not improved for %" PRIu64 " evaluations",
                          step, o->patience);
            break;
        }
    }
    (void)evaluated_last;
    if (!status && !r->val && nn_trainer_save_adapter(r->t, o->out_dir, o->model_dir, err, sizeof err) != 0) {
        sft_error("%s", err);
        status = SFT_EX_IOERR;
    }
    int e = sft_out_close(r->log, 1);
    r->log = NULL;
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (e && !status) status = sft_write_error(r->log_path, e);
    return status;
}

/* A fingerprint of what decides the trajectory: data, model shape, LoRA,
 * optimizer and batching options (not the step count, threads or logging). */
static uint64_t fingerprint(const train_opts *o, const dataset *d, const nn_config *c)
{
    uint64_t h = 0;
    for (size_t i = 0; i < d->n; i++) {
        h = xxh64(d->ex[i].ids, (size_t)d->ex[i].n * sizeof(int32_t), h);
        h = xxh64(d->ex[i].target, (size_t)d->ex[i].n * sizeof(int32_t), h);
    }
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "%s|%lld|%lld|%llu|%llu|%llu|%llu|%d|%llu|%u|%llu|%.17g|%.17g|%d|%s|%.17g|%.17g|%.17g|%.17g|"
                     "%.17g|%d|%llu|%llu|%.17g|%.17g|%llu",
                     c->model_type, (long long)c->hidden_size, (long long)c->num_layers,
                     (unsigned long long)o->batch, (unsigned long long)o->batch_tokens,
                     (unsigned long long)o->accum, (unsigned long long)o->seed, o->shuffle,
                     (unsigned long long)o->r, o->targets, (unsigned long long)o->epochs, o->alpha, o->dropout,
                     o->rslora, o->init_adapter ? o->init_adapter : "", o->lr, o->b1, o->b2, o->eps, o->wd,
                     (int)o->sched, (unsigned long long)o->warmup_steps, (unsigned long long)o->max_steps,
                     o->warmup_ratio, o->max_grad_norm, (unsigned long long)o->max_seq);
    return xxh64(text, (size_t)n, h);
}

/* Parameters of the checkpoint by its config (when its files are not there
 * to be measured). */
static double config_params(const nn_config *c)
{
    int64_t H = c->hidden_size, I = c->intermediate_size, qd = c->num_heads * c->head_dim,
            kvd = c->num_kv_heads * c->head_dim;
    return (double)c->num_layers * (double)(2 * H * qd + 2 * H * kvd + 3 * H * I + 4 * H + 2 * c->head_dim) +
           (double)(c->vocab_size * H * (c->tie_word_embeddings ? 1 : 2)) + (double)H;
}

static int plan(const train_opts *o, int quiet)
{
    nn_config c;
    char err[1024];
    if (nn_config_load(o->model_dir, &c, err, sizeof err) != 0) {
        sft_error("%s", err);
        return sft_dir_lacks(o->model_dir, "config.json") ? SFT_EX_NOINPUT : SFT_EX_DATAERR;
    }
    int cuda = o->device && strcmp(o->device, "cuda") == 0, nf4 = o->quant && strcmp(o->quant, "nf4") == 0;
    if (o->device && !cuda && strcmp(o->device, "cpu") != 0)
        return sft_usage_error("invalid value '%s' for --device: use cpu or cuda", o->device);
    if (o->quant && !nf4 && strcmp(o->quant, "none") != 0)
        return sft_usage_error("invalid value '%s' for --quant: use none or nf4", o->quant);
    if (nf4 && !cuda) return sft_usage_error("--quant nf4 goes with --device cuda");
    /* the weights: the checkpoint files, mapped */
    uint64_t weights = 0;
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/model.safetensors", o->model_dir);
    if (stat(path, &st) == 0) {
        weights = (uint64_t)st.st_size;
    } else {
        DIR *d = opendir(o->model_dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l > 12 && strcmp(e->d_name + l - 12, ".safetensors") == 0 && strncmp(e->d_name, "model", 5) == 0) {
                snprintf(path, sizeof path, "%s/%s", o->model_dir, e->d_name);
                if (stat(path, &st) == 0) weights += (uint64_t)st.st_size;
            }
        }
        if (d) closedir(d);
    }
    if (!weights) weights = (uint64_t)(config_params(&c) * (strcmp(c.torch_dtype, "float32") == 0 ? 4 : 2));
    if (nf4) {
        /* QLoRA: the blocks' linear weights in NF4 with double quantization
         * (4 bits + an 8-bit absmax per 64 + an fp32 scale per 256 absmax:
         * 0.5159 bytes a weight); embeddings, head and norms stay 16-bit */
        int64_t H = c.hidden_size, I = c.intermediate_size, qd = c.num_heads * c.head_dim,
                kvd = c.num_kv_heads * c.head_dim;
        double lin = (double)c.num_layers * (double)(2 * H * qd + 2 * H * kvd + 3 * H * I);
        double rest = (double)(c.vocab_size * H * (c.tie_word_embeddings ? 1 : 2)) +
                      (double)c.num_layers * (double)(4 * H + 2 * c.head_dim) + (double)H;
        weights = (uint64_t)(lin * (0.5 + 1.0 / 64 + 4.0 / (64 * 256)) + rest * 2);
    }
    int64_t T = o->batch_tokens ? (int64_t)o->batch_tokens : (int64_t)o->max_seq;
    nn_lora_cfg lc = {.targets = o->targets, .r = (int64_t)o->r, .alpha = o->alpha, .rslora = o->rslora};
    nn_train_mem mem;
    nn_train_plan(&c, T, &lc, o->grad_ckpt, o->dropout, &mem);
    uint64_t total = weights + mem.total_bytes;
    uint64_t avail = 0;
    const char *where = "MemAvailable";
    if (cuda) {
        /* the card: --gpu-mem, else the first GPU nvidia-smi reports */
        where = "the GPU's memory";
        if (o->gpu_mem) {
            avail = o->gpu_mem;
        } else {
            FILE *q = popen("nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null", "r");
            unsigned long long mib;
            if (q && fscanf(q, "%llu", &mib) == 1) avail = (uint64_t)mib << 20;
            if (q) pclose(q);
        }
    } else {
        FILE *f = fopen("/proc/meminfo", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            unsigned long long kb;
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) avail = (uint64_t)kb * 1024;
        }
        if (f) fclose(f);
    }
#define MB(x) ((double)(x) / 1048576.0)
    if (quiet) {
        /* a training run: refuse up front what will not fit */
        if (avail && total > avail) {
            sft_error("this run needs about %.0f MiB (weights %.0f, activations %.0f%s) and %.0f MiB are "
                      "available; see 'sft-train plan'%s", MB(total), MB(weights),
                      MB(o->grad_ckpt ? mem.activation_ckpt_bytes : mem.activation_bytes),
                      o->grad_ckpt ? " with --grad-checkpoint" : "", MB(avail),
                      o->grad_ckpt ? "; lower --max-seq-len or --batch-tokens" : "; try --grad-checkpoint");
            return SFT_EX_DATAERR;
        }
        return 0;
    }
    printf("model        %s (%s), %lld layers, hidden %lld, vocab %lld\n", o->model_dir, c.model_type,
           (long long)c.num_layers, (long long)c.hidden_size, (long long)c.vocab_size);
    printf("sequence     %lld tokens per micro-batch%s\n", (long long)T, o->batch_tokens ? " (packed)" : "");
    printf("lora         r %llu, %zu parameters\n", (unsigned long long)o->r, mem.lora_params);
    printf("weights      %10.1f MiB  (%s)\n", MB(weights),
           nf4 ? "NF4 blocks, 16-bit embeddings and head" : cuda ? "as stored" : "the checkpoint, mapped");
    printf("adapter      %10.1f MiB  (values, gradients, AdamW moments)\n", MB(mem.adapter_bytes));
    printf("activations  %10.1f MiB  (%10.1f MiB with --grad-checkpoint)\n", MB(mem.activation_bytes),
           MB(mem.activation_ckpt_bytes));
    printf("scratch      %10.1f MiB\n", MB(mem.scratch_bytes));
    printf("logits       %10.1f MiB\n", MB(mem.logits_bytes));
    printf("total        %10.1f MiB%s\n", MB(total), o->grad_ckpt ? " (with --grad-checkpoint)" : "");
    if (cuda) printf("(not counted: the CUDA context and library workspaces, a few hundred MiB)\n");
    if (!avail) printf("available    unknown%s\n", cuda ? ": no nvidia-smi; give the card's memory with --gpu-mem SIZE" : "");
    if (avail) {
        printf("available    %10.1f MiB  (%s): %s\n", MB(avail), where,
               total <= avail ? "fits"
               : (weights + mem.total_bytes - mem.activation_bytes + mem.activation_ckpt_bytes <= avail && !o->grad_ckpt)
                   ? "does not fit; fits with --grad-checkpoint"
                   : "does not fit");
    }
#undef MB
    if (fflush(stdout) != 0 || ferror(stdout)) return sft_write_error("<stdout>", errno);
    return avail && total > avail ? SFT_EX_DATAERR : 0;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    train_opts o = {.max_seq = 2048, .batch = 1, .accum = 1, .r = 16, .epochs = 1, .alpha = 32, .lr = 2e-4,
                    .b1 = 0.9, .b2 = 0.999, .eps = 1e-8, .warmup_ratio = -1, .max_grad_norm = 1, .shuffle = 1,
                    .targets = NN_TARGET_ALL, .sched = SCHED_LINEAR};
    int planning = argc > 1 && strcmp(argv[1], "plan") == 0;
    if (planning) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    int opt;
    while ((opt = getopt_long(argc, argv, "m:t:vhV", long_options, NULL)) != -1) {
        int rc = sft_standard_option(opt, usage);
        if (rc >= 0) return rc;
        rc = sft_run_option(&run, opt, optarg);
        if (rc > 0) return rc;
        if (rc == 0) continue;
        switch (opt) {
        case 'm': o.model_dir = optarg; break;
        case OPT_TRAIN: o.train_path = optarg; break;
        case OPT_VAL: o.val_path = optarg; break;
        case OPT_OUT: o.out_dir = optarg; break;
        case OPT_TEMPLATE: o.tpl_name = optarg; break;
        case OPT_INIT_ADAPTER: o.init_adapter = optarg; break;
        case OPT_RESUME: o.resume = optarg; break;
        case OPT_DEVICE: o.device = optarg; break;
        case OPT_QUANT: o.quant = optarg; break;
        case OPT_GPU_MEM:
            if (sft_parse_size(optarg, 1 << 20, UINT64_MAX, &o.gpu_mem)) return sft_bad_option_value("gpu-mem", optarg);
            break;
        case OPT_NO_SHUFFLE: o.shuffle = 0; break;
        case OPT_RSLORA: o.rslora = 1; break;
        case OPT_GRAD_CKPT: o.grad_ckpt = 1; break;
        case OPT_OVER:
            if (strcmp(optarg, "drop") == 0) o.truncate = 0;
            else if (strcmp(optarg, "truncate") == 0) o.truncate = 1;
            else return sft_usage_error("invalid value '%s' for --over: use drop or truncate", optarg);
            break;
        case OPT_SCHEDULE:
            if (strcmp(optarg, "constant") == 0) o.sched = SCHED_CONSTANT;
            else if (strcmp(optarg, "linear") == 0) o.sched = SCHED_LINEAR;
            else if (strcmp(optarg, "cosine") == 0) o.sched = SCHED_COSINE;
            else return sft_usage_error("invalid value '%s' for --schedule: use constant, linear or cosine", optarg);
            break;
        case OPT_TARGETS:
            if (parse_targets(optarg, &o.targets))
                return sft_usage_error("invalid value '%s' for --targets: a comma-separated list of q_proj, "
                                       "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (or all)", optarg);
            break;
        case OPT_BETAS: {
            char *end;
            errno = 0;
            o.b1 = strtod(optarg, &end);
            if (errno || end == optarg || *end != ',' || sft_parse_double(end + 1, &o.b2) || o.b1 < 0 ||
                o.b1 >= 1 || o.b2 < 0 || o.b2 >= 1)
                return sft_usage_error("invalid value '%s' for --betas: B1,B2 in [0, 1)", optarg);
            break;
        }
#define U64(OPTV, NAME, MIN, MAX, DST)                                                        \
    case OPTV:                                                                                \
        if (sft_parse_u64(optarg, MIN, MAX, DST)) return sft_bad_option_value(NAME, optarg); \
        break;
#define DBL(OPTV, NAME, DST, COND)                      \
    case OPTV:                                          \
        if (sft_parse_double(optarg, DST) || !(COND)) { \
            errno = ERANGE;                             \
            return sft_bad_option_value(NAME, optarg);  \
        }                                               \
        break;
        case OPT_MAX_SEQ:
            if (sft_parse_u64(optarg, 2, 1 << 20, &o.max_seq)) return sft_bad_option_value("max-seq-len", optarg);
            o.max_seq_set = 1;
            break;
        U64(OPT_BATCH, "batch-size", 1, 1 << 20, &o.batch)
        U64(OPT_BATCH_TOKENS, "batch-tokens", 2, 1 << 22, &o.batch_tokens)
        U64(OPT_ACCUM, "grad-accum", 1, 1 << 20, &o.accum)
        U64(OPT_SEED, "seed", 0, UINT64_MAX, &o.seed)
        U64(OPT_R, "r", 1, 4096, &o.r)
        U64(OPT_EPOCHS, "epochs", 1, 1 << 20, &o.epochs)
        U64(OPT_MAX_STEPS, "max-steps", 1, UINT32_MAX, &o.max_steps)
        U64(OPT_WARMUP_STEPS, "warmup-steps", 0, UINT32_MAX, &o.warmup_steps)
        U64(OPT_EVAL_STEPS, "eval-steps", 1, UINT32_MAX, &o.eval_steps)
        U64(OPT_PATIENCE, "patience", 0, UINT32_MAX, &o.patience)
        U64(OPT_SAVE_STEPS, "save-steps", 1, UINT32_MAX, &o.save_steps)
        U64('t', "threads", 1, 1024, &o.threads)
        DBL(OPT_ALPHA, "alpha", &o.alpha, o.alpha > 0)
        DBL(OPT_DROPOUT, "dropout", &o.dropout, o.dropout >= 0 && o.dropout < 1)
        DBL(OPT_LR, "lr", &o.lr, o.lr >= 0)
        DBL(OPT_EPS, "eps", &o.eps, o.eps > 0)
        DBL(OPT_WD, "weight-decay", &o.wd, o.wd >= 0)
        DBL(OPT_WARMUP_RATIO, "warmup-ratio", &o.warmup_ratio, o.warmup_ratio >= 0 && o.warmup_ratio <= 1)
        DBL(OPT_MAX_GRAD_NORM, "max-grad-norm", &o.max_grad_norm, o.max_grad_norm >= 0)
#undef U64
#undef DBL
        default: return sft_usage_error("unexpected option");
        }
    }
    if (optind < argc) return sft_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.model_dir) return sft_usage_error("--model DIR is required");
    if (o.batch_tokens && !o.max_seq_set) o.max_seq = o.batch_tokens < 2048 ? o.batch_tokens : 2048;
    if (o.batch_tokens && o.max_seq > o.batch_tokens)
        return sft_usage_error("--max-seq-len (%llu) must not exceed --batch-tokens (%llu)",
                               (unsigned long long)o.max_seq, (unsigned long long)o.batch_tokens);
    if (planning) return plan(&o, 0);
    if (!o.train_path || !o.out_dir) return sft_usage_error("--train FILE and --out DIR are required");
    if ((o.eval_steps || o.patience) && !o.val_path) return sft_usage_error("--eval-steps and --patience need --val");
    if (o.resume && o.init_adapter) return sft_usage_error("--resume goes on from its checkpoint; drop --init-adapter");

    char err[1024];
    int status = plan(&o, 1);
    if (status) return status;
    nn_model *m = nn_model_load(o.model_dir, err, sizeof err);
    if (!m) {
        sft_error("%s", err);
        return sft_dir_lacks(o.model_dir, "config.json") ? SFT_EX_NOINPUT : SFT_EX_DATAERR;
    }
    sft_tok *tok = sft_tok_load(o.model_dir, err, sizeof err);
    const sft_template *tpl = NULL;
    nn_trainer *t = NULL;
    nn_pool *pool = NULL;
    dataset train_ds = {0}, val_ds = {0};
    trainer_run r = {.o = &o, .m = m};
    sft_example_cfg ecfg = {.tok = tok, .max_tokens = (size_t)o.max_seq,
                            .over = o.truncate ? SFT_OVER_TRUNCATE : SFT_OVER_DROP};
    load_ctx lc = {.ds = &train_ds, .max_seq = (size_t)o.max_seq, .truncate = o.truncate};
    if (tok) {
        if (o.tpl_name && strcmp(o.tpl_name, "auto") != 0) {
            if (!(tpl = sft_template_by_name(o.tpl_name))) {
                status = sft_usage_error("unknown template '%s' for --template: use auto or one of: %s", o.tpl_name,
                                         sft_template_names());
                goto done;
            }
        } else {
            const char *jinja = sft_tok_config(tok, "chat_template");
            if (jinja) tpl = sft_template_detect(jinja, strlen(jinja));
        }
        ecfg.tpl = tpl;
        ecfg.opts.bos_token = sft_tok_config(tok, "bos_token");
        ecfg.opts.eos_token = sft_tok_config(tok, "eos_token");
        if (tpl && !(lc.enc = sft_example_enc_new(&ecfg))) {
            status = out_of_memory();
            goto done;
        }
    }
    if ((status = sft_run_start(&run)) != 0 || (status = load(o.train_path, "training", &lc, &run)) != 0) goto done;
    if (run.verbose || lc.dropped || lc.truncated || lc.no_train)
        sft_error("%s: %zu training examples; over %" PRIu64 " tokens: %" PRIu64 " dropped, %" PRIu64
                  " truncated; %" PRIu64 " without a trained token (not trained on)",
                  o.train_path, train_ds.n, o.max_seq, lc.dropped, lc.truncated, lc.no_train);
    if (o.val_path) {
        load_ctx vc = lc;
        vc.ds = &val_ds;
        vc.dropped = vc.truncated = vc.no_train = 0;
        if ((status = load(o.val_path, "validation", &vc, &run)) != 0) goto done;
        lc.enc = vc.enc;
    }
    int64_t maxT = 2;
    for (size_t i = 0; i < train_ds.n; i++)
        if (train_ds.ex[i].n > maxT) maxT = train_ds.ex[i].n;
    if (o.batch_tokens) maxT = (int64_t)o.batch_tokens;
    nn_train_opts to = {.max_T = maxT, .grad_checkpoint = o.grad_ckpt, .dropout = o.dropout};
    if (o.init_adapter) {
        t = nn_trainer_from_adapter(m, o.init_adapter, &to, err, sizeof err);
    } else {
        nn_lora_cfg lcfg = {.targets = o.targets, .r = (int64_t)o.r, .alpha = o.alpha, .rslora = o.rslora,
                            .seed = o.seed};
        t = nn_trainer_new(m, &lcfg, &to, err, sizeof err);
    }
    if (!t) {
        sft_error("%s", err);
        status = o.init_adapter && sft_dir_lacks(o.init_adapter, "adapter_config.json") ? SFT_EX_NOINPUT
                                                                                         : SFT_EX_DATAERR;
        goto done;
    }
    if (!(pool = nn_pool_new((int)o.threads))) {
        sft_error("cannot start threads");
        status = SFT_EX_SOFTWARE;
        goto done;
    }
    if (mkdir(o.out_dir, 0777) != 0 && errno != EEXIST) {
        sft_error("%s: cannot create: %s", o.out_dir, strerror(errno));
        status = SFT_EX_CANTCREAT;
        goto done;
    }
    r.t = t;
    r.pool = pool;
    r.train = &train_ds;
    r.val = o.val_path ? &val_ds : NULL;
    r.fingerprint = fingerprint(&o, &train_ds, nn_model_config(m));
    snprintf(r.log_path, sizeof r.log_path, "%s/log.jsonl", o.out_dir);
    if (!o.resume) unlink(r.log_path);
    r.order = malloc(train_ds.n * sizeof *r.order);
    r.ids = malloc((size_t)maxT * sizeof *r.ids);
    r.target = malloc((size_t)maxT * sizeof *r.target);
    r.pos = malloc((size_t)maxT * sizeof *r.pos);
    r.kv_first = malloc((size_t)maxT * sizeof *r.kv_first);
    if (r.val) {
        for (size_t i = 0; i < val_ds.n; i++)
            if (val_ds.ex[i].n > r.val_max) r.val_max = val_ds.ex[i].n;
        r.vs = nn_state_new(m, r.val_max, 256);
    }
    if (!r.order || !r.ids || !r.target || !r.pos || !r.kv_first || (r.val && !r.vs)) {
        status = out_of_memory();
        goto done;
    }
    epoch_order(r.order, train_ds.n, o.shuffle, o.seed, 0);
    status = train(&r, &run);
done:
    free(r.order);
    free(r.ids);
    free(r.target);
    free(r.pos);
    free(r.kv_first);
    nn_state_free(r.vs);
    nn_pool_free(pool);
    nn_trainer_free(t);
    dataset_free(&train_ds);
    dataset_free(&val_ds);
    sft_example_enc_free(lc.enc);
    sft_tok_free(tok);
    nn_model_free(m);
    return sft_run_finish(&run, status);
}
