#include "split/split.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/inputs.h"
#include "core/jsonl.h"

/* Seed of the stratum hash; strata are found by value, not by --seed. */
#define STRATUM_SEED 0x7374726174756dULL

int split_parse_weight(const char *s, uint64_t *weight)
{
    uint64_t whole = 0, frac = 0, scale = SPLIT_WEIGHT_SCALE;
    int digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > SPLIT_WEIGHT_MAX / SPLIT_WEIGHT_SCALE) {
            errno = ERANGE;
            return -1;
        }
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (scale == 1) { /* more than 9 decimals */
                errno = EINVAL;
                return -1;
            }
            scale /= 10;
            frac += (uint64_t)(*p - '0') * scale;
        }
    }
    if (*p || digits == 0) {
        errno = EINVAL;
        return -1;
    }
    uint64_t w = whole * SPLIT_WEIGHT_SCALE + frac;
    if (w == 0 || w > SPLIT_WEIGHT_MAX) {
        errno = ERANGE;
        return -1;
    }
    *weight = w;
    return 0;
}

/* With at most 64 weights of at most 1e15 units each, sums stay below
 * 2^56 and sum * 2^64 below 2^120: unsigned __int128 holds every step. */
typedef unsigned __int128 u128;

void split_cutpoints(const uint64_t *weight, size_t n, uint64_t *cut)
{
    uint64_t sum = 0, acc = 0;
    for (size_t i = 0; i < n; i++) sum += weight[i];
    for (size_t i = 0; i + 1 < n; i++) {
        acc += weight[i];
        cut[i] = (uint64_t)(((u128)acc << 64) / sum);
    }
    cut[n - 1] = UINT64_MAX;
}

size_t split_part_of_hash(const uint64_t *cut, size_t n, uint64_t h)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (h < cut[i]) return i;
    return n - 1;
}

void split_targets(uint64_t total, const uint64_t *weight, size_t n, uint64_t *target)
{
    uint64_t sum = 0, assigned = 0, rem[SPLIT_MAX_PARTS];
    for (size_t i = 0; i < n; i++) sum += weight[i];
    for (size_t i = 0; i < n; i++) {
        u128 q = (u128)total * weight[i];
        target[i] = (uint64_t)(q / sum);
        rem[i] = (uint64_t)(q % sum);
        assigned += target[i];
    }
    /* Fewer than n records are left over: one each to the largest
     * remainders, the earlier part first on a tie. */
    int taken[SPLIT_MAX_PARTS] = {0};
    for (; assigned < total; assigned++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!taken[i] && (best == n || rem[i] > rem[best])) best = i;
        target[best]++;
        taken[best] = 1;
    }
}

static int value_key(const json_path *path, const char *text, size_t len, sft_buf *scratch,
                     const char **key, size_t *keylen)
{
    json_value v;
    if (!json_get(text, len, path, &v)) return -1;
    scratch->len = 0;
    if (json_value_key(&v, scratch) != 0) return -2;
    *key = scratch->p;
    *keylen = scratch->len;
    return 0;
}

int split_key(const split_config *cfg, const char *text, size_t len, sft_buf *scratch,
              const char **key, size_t *keylen)
{
    if (!cfg->key) {
        *key = text;
        *keylen = len;
        return 0;
    }
    return value_key(cfg->key, text, len, scratch, key, keylen);
}

static int reject_missing(sft_run *run, const jsonl_reader *r, const jsonl_record *rec,
                          const char *what, const char *field)
{
    char reason[256];
    snprintf(reason, sizeof reason, "%s field '%s' not found", what, field);
    return sft_run_reject(run, jsonl_name(r), rec->line, 0, rec->text, rec->len, reason);
}

static int write_record(sft_out *o, const jsonl_record *rec)
{
    sft_out_write(o, rec->text, rec->len);
    sft_out_putc(o, '\n');
    return sft_out_error(o) ? sft_write_error(sft_out_name(o), sft_out_error(o)) : 0;
}

/* Counts a line read in a first pass; a bad one is rejected. Returns 1 for
 * a good record, else 0 with *status set. */
static int take_record(sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                       const jsonl_error *err, int *status)
{
    run->in++;
    if (kind == JSONL_RECORD) return 1;
    *status = sft_run_reject(run, jsonl_name(r), err->line, err->col, rec->text, rec->len, err->reason);
    return 0;
}

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

/* ---- streaming mode ---- */

typedef struct {
    const split_config *cfg;
    uint64_t cut[SPLIT_MAX_PARTS];
    sft_buf scratch;
    sft_out **outs;
    uint64_t *counts;
} stream_state;

static int stream_record(void *ctx, sft_run *run, const jsonl_reader *r, int kind,
                         const jsonl_record *rec, const jsonl_error *err)
{
    stream_state *st = ctx;
    int status = 0;
    if (!take_record(run, r, kind, rec, err, &status)) return status;
    const char *key;
    size_t keylen;
    int k = split_key(st->cfg, rec->text, rec->len, &st->scratch, &key, &keylen);
    if (k == -2) return out_of_memory();
    if (k == -1) return reject_missing(run, r, rec, "key", st->cfg->key_spec);
    size_t part = split_part_of_hash(st->cut, st->cfg->nparts, xxh64(key, keylen, st->cfg->seed));
    st->counts[part]++;
    run->out++;
    return write_record(st->outs[part], rec);
}

static int run_streaming(const split_config *cfg, sft_run *run, const sft_input *inputs,
                         size_t ninputs, sft_out **outs, uint64_t *counts)
{
    stream_state st = {.cfg = cfg, .outs = outs, .counts = counts};
    split_cutpoints(cfg->weight, cfg->nparts, st.cut);
    int status = sft_each_record(run, inputs, ninputs, stream_record, &st);
    buf_free(&st.scratch);
    return status;
}

/* ---- exact mode ---- */

typedef struct {
    uint64_t h;        /* xxh64 of the key with the seed */
    uint32_t stratum;
    uint32_t nrec;
} group;

/* Open addressing from a 64-bit hash to an index; 0 marks an empty slot,
 * so slots hold index + 1. */
typedef struct {
    uint32_t *slot;
    size_t mask;
    size_t used;
} index_table;

typedef struct {
    group *g;
    size_t ng, capg;
    index_table gt;

    uint64_t *stratum_h;
    char **stratum_name;
    size_t ns, caps;
    index_table st;

    uint32_t *rec_group; /* per record in input order; NO_GROUP if rejected */
    size_t nrec, caprec;
    uint64_t mixed;      /* records whose stratum differs from their group's */
} exact_state;

#define NO_GROUP UINT32_MAX

static int table_grow(index_table *t, const uint64_t *(*hash_of)(const void *, uint32_t),
                      const void *owner)
{
    size_t cap = t->slot ? (t->mask + 1) * 2 : 1024;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; t->slot && i <= t->mask; i++) {
        if (!t->slot[i]) continue;
        uint64_t h = *hash_of(owner, t->slot[i] - 1);
        size_t j = (size_t)h & (cap - 1);
        while (slot[j]) j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->mask = cap - 1;
    return 0;
}

static const uint64_t *group_hash(const void *owner, uint32_t i)
{
    return &((const exact_state *)owner)->g[i].h;
}

static const uint64_t *stratum_hash(const void *owner, uint32_t i)
{
    return &((const exact_state *)owner)->stratum_h[i];
}

/* Finds h in t; returns the slot (holding 0 when h is absent). */
static uint32_t *table_find(index_table *t, uint64_t h,
                            const uint64_t *(*hash_of)(const void *, uint32_t), const void *owner)
{
    size_t j = (size_t)h & t->mask;
    while (t->slot[j] && *hash_of(owner, t->slot[j] - 1) != h) j = (j + 1) & t->mask;
    return &t->slot[j];
}

static int grow_array(void **p, size_t *cap, size_t elem)
{
    size_t c = *cap ? *cap * 2 : 4096;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Returns the index of the stratum of value key[0..n), adding it if new,
 * or -1 when out of memory. */
static int64_t stratum_of(exact_state *s, const char *key, size_t n)
{
    uint64_t h = xxh64(key, n, STRATUM_SEED);
    if (!s->st.slot || s->st.used * 2 >= s->st.mask)
        if (table_grow(&s->st, stratum_hash, s) != 0) return -1;
    uint32_t *slot = table_find(&s->st, h, stratum_hash, s);
    if (*slot) return *slot - 1;
    if (s->ns == s->caps) {
        size_t cap = s->caps;
        if (grow_array((void **)&s->stratum_h, &cap, sizeof *s->stratum_h) != 0) return -1;
        cap = s->caps;
        if (grow_array((void **)&s->stratum_name, &cap, sizeof *s->stratum_name) != 0) return -1;
        s->caps = cap;
    }
    /* The name, for -v, is the value's canonical text without its type tag. */
    size_t show = n - 1 > 60 ? 60 : n - 1;
    char *name = malloc(show + 1);
    if (!name) return -1;
    memcpy(name, key + 1, show);
    name[show] = '\0';
    s->stratum_h[s->ns] = h;
    s->stratum_name[s->ns] = name;
    *slot = (uint32_t)++s->ns;
    s->st.used++;
    return (int64_t)s->ns - 1;
}

/* Records one good record of group key[0..n) in stratum. Returns 0, or -1
 * when out of memory or past 2^32 records. */
static int add_record(exact_state *s, const char *key, size_t n, uint64_t seed, uint32_t stratum)
{
    uint64_t h = xxh64(key, n, seed);
    if (!s->gt.slot || s->gt.used * 2 >= s->gt.mask)
        if (table_grow(&s->gt, group_hash, s) != 0) return -1;
    uint32_t *slot = table_find(&s->gt, h, group_hash, s);
    uint32_t gi;
    if (*slot) {
        gi = *slot - 1;
        if (s->g[gi].stratum != stratum) s->mixed++;
    } else {
        if (s->ng == s->capg && grow_array((void **)&s->g, &s->capg, sizeof *s->g) != 0) return -1;
        if (s->ng >= NO_GROUP - 1) return -1;
        gi = (uint32_t)s->ng++;
        s->g[gi] = (group){.h = h, .stratum = stratum, .nrec = 0};
        *slot = gi + 1;
        s->gt.used++;
    }
    s->g[gi].nrec++;
    if (s->nrec == s->caprec &&
        grow_array((void **)&s->rec_group, &s->caprec, sizeof *s->rec_group) != 0)
        return -1;
    s->rec_group[s->nrec++] = gi;
    return 0;
}

static int add_rejected(exact_state *s)
{
    if (s->nrec == s->caprec &&
        grow_array((void **)&s->rec_group, &s->caprec, sizeof *s->rec_group) != 0)
        return -1;
    s->rec_group[s->nrec++] = NO_GROUP;
    return 0;
}

typedef struct {
    uint32_t stratum;
    uint32_t g;
    uint64_t h;
} order_entry;

static int order_cmp(const void *a, const void *b)
{
    const order_entry *x = a, *y = b;
    if (x->stratum != y->stratum) return x->stratum < y->stratum ? -1 : 1;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->g < y->g ? -1 : x->g > y->g;
}

/* Sets part_of[g] for every group: per stratum, groups in seeded-hash order
 * fill the parts up to their largest-remainder targets. Adds the records of
 * stratum t placed in part i to per_stratum[t * nparts + i]. */
static int assign_parts(const split_config *cfg, const exact_state *s, uint8_t *part_of,
                        uint64_t *per_stratum)
{
    order_entry *order = malloc((s->ng ? s->ng : 1) * sizeof *order);
    if (!order) return -1;
    for (size_t i = 0; i < s->ng; i++)
        order[i] = (order_entry){.stratum = s->g[i].stratum, .g = (uint32_t)i, .h = s->g[i].h};
    qsort(order, s->ng, sizeof *order, order_cmp);
    for (size_t a = 0; a < s->ng;) {
        size_t b = a;
        uint64_t total = 0;
        while (b < s->ng && order[b].stratum == order[a].stratum) total += s->g[order[b++].g].nrec;
        uint64_t target[SPLIT_MAX_PARTS], upto[SPLIT_MAX_PARTS];
        split_targets(total, cfg->weight, cfg->nparts, target);
        uint64_t acc = 0;
        for (size_t i = 0; i < cfg->nparts; i++) upto[i] = acc += target[i];
        uint64_t pos = 0;
        size_t part = 0;
        for (size_t k = a; k < b; k++) {
            while (part + 1 < cfg->nparts && pos >= upto[part]) part++;
            part_of[order[k].g] = (uint8_t)part;
            pos += s->g[order[k].g].nrec;
            per_stratum[(size_t)order[k].stratum * cfg->nparts + part] += s->g[order[k].g].nrec;
        }
        a = b;
    }
    free(order);
    return 0;
}

static void exact_free(exact_state *s)
{
    free(s->g);
    free(s->gt.slot);
    free(s->stratum_h);
    for (size_t i = 0; i < s->ns; i++) free(s->stratum_name[i]);
    free(s->stratum_name);
    free(s->st.slot);
    free(s->rec_group);
}

/* Pass 1: the group (and stratum) of every record. */
typedef struct {
    const split_config *cfg;
    exact_state *s;
    sft_buf key_buf, strat_buf;
} scan_state;

static int scan_record(void *ctx, sft_run *run, const jsonl_reader *r, int kind,
                       const jsonl_record *rec, const jsonl_error *err)
{
    scan_state *sc = ctx;
    const split_config *cfg = sc->cfg;
    int status = 0;
    if (!take_record(run, r, kind, rec, err, &status))
        return add_rejected(sc->s) == 0 ? status : out_of_memory();
    const char *key, *skey = NULL;
    size_t keylen, skeylen = 0;
    int k = split_key(cfg, rec->text, rec->len, &sc->key_buf, &key, &keylen), sk = 0;
    if (k == 0 && cfg->stratify)
        sk = value_key(cfg->stratify, rec->text, rec->len, &sc->strat_buf, &skey, &skeylen);
    if (k == -2 || sk == -2) return out_of_memory();
    if (k == -1 || sk == -1) {
        status = k == -1 ? reject_missing(run, r, rec, "key", cfg->key_spec)
                         : reject_missing(run, r, rec, "stratify", cfg->stratify_spec);
        return add_rejected(sc->s) == 0 ? status : out_of_memory();
    }
    int64_t stratum = cfg->stratify ? stratum_of(sc->s, skey, skeylen) : 0;
    if (stratum < 0 || add_record(sc->s, key, keylen, cfg->seed, (uint32_t)stratum) != 0)
        return out_of_memory();
    return 0;
}

/* Pass 2: the same lines again, each good record to its group's part. */
typedef struct {
    const exact_state *s;
    const uint8_t *part_of;
    sft_out **outs;
    uint64_t *counts;
    size_t next; /* index of the line in pass 1's order */
} write_state;

static int write_exact_record(void *ctx, sft_run *run, const jsonl_reader *r, int kind,
                              const jsonl_record *rec, const jsonl_error *err)
{
    write_state *w = ctx;
    (void)err;
    if (w->next >= w->s->nrec || (kind == JSONL_BAD && w->s->rec_group[w->next] != NO_GROUP)) {
        sft_error("%s: input changed while it was being split", jsonl_name(r));
        return SFT_EX_IOERR;
    }
    uint32_t g = w->s->rec_group[w->next++];
    if (g == NO_GROUP) return 0; /* rejected in pass 1 */
    size_t part = w->part_of[g];
    w->counts[part]++;
    run->out++;
    return write_record(w->outs[part], rec);
}

/* With -v: how each stratum was split, e.g. "stratum ko: train 90, val 10". */
static void print_strata(const split_config *cfg, const exact_state *s, const uint64_t *per_stratum)
{
    for (size_t t = 0; t < s->ns; t++) {
        if (t == 20) {
            sft_error("(%zu more strata)", s->ns - 20);
            break;
        }
        char line[512];
        size_t n = 0;
        for (size_t i = 0; i < cfg->nparts && n < sizeof line; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %" PRIu64, i ? ", " : "",
                                  cfg->name[i], per_stratum[t * cfg->nparts + i]);
        sft_error("stratum %s: %s", s->stratum_name[t], line);
    }
}

static int run_exact(const split_config *cfg, sft_run *run, const sft_input *inputs, size_t ninputs,
                     sft_out **outs, uint64_t *counts)
{
    exact_state s = {0};
    scan_state sc = {.cfg = cfg, .s = &s};
    int status = sft_each_record(run, inputs, ninputs, scan_record, &sc);
    buf_free(&sc.key_buf);
    buf_free(&sc.strat_buf);
    uint8_t *part_of = NULL;
    uint64_t *per_stratum = NULL;
    if (!status) {
        part_of = malloc(s.ng ? s.ng : 1);
        per_stratum = calloc((s.ns ? s.ns : 1) * cfg->nparts, sizeof *per_stratum);
        if (!part_of || !per_stratum || assign_parts(cfg, &s, part_of, per_stratum) != 0)
            status = out_of_memory();
    }
    if (!status) {
        write_state w = {.s = &s, .part_of = part_of, .outs = outs, .counts = counts};
        status = sft_each_record(run, inputs, ninputs, write_exact_record, &w);
        if (!status && w.next != s.nrec) {
            sft_error("input changed while it was being split");
            status = SFT_EX_IOERR;
        }
    }
    if (!status && s.mixed)
        sft_error("warning: %" PRIu64 " record%s a '%s' value other than %s group's first "
                  "record; each group was placed by the stratum of its first record",
                  s.mixed, s.mixed == 1 ? " carries" : "s carry", cfg->stratify_spec,
                  s.mixed == 1 ? "its" : "their");
    if (!status && run->verbose && cfg->stratify)
        print_strata(cfg, &s, per_stratum);
    free(part_of);
    free(per_stratum);
    exact_free(&s);
    return status;
}

int split_run(const split_config *cfg, sft_run *run, const char *const *paths, size_t npaths,
              sft_out **outs, uint64_t *counts)
{
    size_t n;
    sft_input *inputs = sft_inputs_new((char *const *)paths, npaths, &n);
    if (!inputs) return out_of_memory();
    npaths = n;
    int status = sft_inputs_check(inputs, npaths);
    for (size_t i = 0; i < npaths && !status && cfg->exact; i++) status = sft_input_spill(&inputs[i]);
    if (!status)
        status = cfg->exact ? run_exact(cfg, run, inputs, npaths, outs, counts)
                            : run_streaming(cfg, run, inputs, npaths, outs, counts);
    sft_inputs_free(inputs, npaths);
    if (!status && run->in == 0) sft_error("warning: no input records");
    return status;
}
