/* sft-merge's work: see merge.h. */
#include "nn/merge.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/st_write.h"

/* The files of a model directory copied next to the weights, when they exist. */
static const char *const copied_files[] = {
    "tokenizer.json",        "tokenizer.model",     "tokenizer_config.json",  "special_tokens_map.json",
    "generation_config.json", "chat_template.jinja", "chat_template.json",     "added_tokens.json",
    "vocab.json",            "merges.txt",          "preprocessor_config.json", "processor_config.json",
};

uint16_t nn_merge_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* NaN, quiet */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (and inf): infinity */
    if (ax < 0x38800000u) {
        /* below 2^-14: a subnormal half, in units of 2^-24 (1024 units is
         * the smallest normal, whose encoding is the same number) */
        float v;
        memcpy(&v, &ax, 4);
        return (uint16_t)(sign | (uint16_t)nearbyintf(v * 16777216.0f));
    }
    uint32_t m = ax - 0x38000000u; /* exponent rebased from 127 to 15 */
    m += 0xfffu + ((m >> 13) & 1u);
    return (uint16_t)(sign | (uint16_t)(m >> 13));
}

/* ---- filling the output tensors ---- */

static enum nn_dtype nn_dtype_of(enum sft_st_dtype d)
{
    return d == SFT_ST_BF16 ? NN_BF16 : d == SFT_ST_F16 ? NN_F16 : NN_F32;
}

static int is_float(enum sft_st_dtype d)
{
    return d == SFT_ST_F32 || d == SFT_ST_BF16 || d == SFT_ST_F16;
}

/* n fp32 values into dst as out */
static void store(void *dst, const float *src, size_t n, enum sft_st_dtype out)
{
    if (out == SFT_ST_F32) {
        memcpy(dst, src, n * sizeof *src);
    } else if (out == SFT_ST_BF16) {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = nn_f32_to_bf16(src[i]);
    } else {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = nn_merge_f32_to_f16(src[i]);
    }
}

typedef struct {
    const sft_st_tensor *base;
    nn_mat w, A, B;         /* A, B: NULL data when the tensor is only converted */
    const char *a_name, *b_name;
    float scale;
    enum sft_st_dtype out;
    nn_pool *pool;
} fill_ctx;

typedef struct {
    const fill_ctx *c;
    const float *A; /* fp32 [r][in] */
    float *scratch; /* per thread: w row, delta row, B row */
    char *dst;
} merge_job;

static void merge_rows(void *ctx, int64_t begin, int64_t end, int tid)
{
    const merge_job *j = ctx;
    const fill_ctx *c = j->c;
    int64_t in = c->w.cols, r = c->A.rows;
    float *wrow = j->scratch + (size_t)tid * (size_t)(2 * in + r), *d = wrow + in, *brow = d + in;
    size_t osize = sft_st_dtype_size(c->out);
    for (int64_t o = begin; o < end; o++) {
        nn_mat_row(&c->w, o, wrow);
        nn_mat_row(&c->B, o, brow);
        memset(d, 0, (size_t)in * sizeof *d);
        /* delta = (B A)[o] * scale, as PEFT's get_delta_weight, in fp32 */
        for (int64_t k = 0; k < r; k++) nn_axpy(d, j->A + k * in, brow[k], in);
        for (int64_t i = 0; i < in; i++) wrow[i] += d[i] * c->scale;
        store(j->dst + (size_t)o * (size_t)in * osize, wrow, (size_t)in, c->out);
    }
}

static int fill_merged(void *ctx, void *dst, size_t nbytes, char *err, size_t errlen)
{
    const fill_ctx *c = ctx;
    int64_t in = c->w.cols, r = c->A.rows;
    (void)nbytes;
    int nt = nn_pool_size(c->pool);
    float *A = malloc((size_t)(r * in) * sizeof *A);
    float *scratch = malloc((size_t)nt * (size_t)(2 * in + r) * sizeof *scratch);
    if (!A || !scratch) {
        free(A);
        free(scratch);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int64_t k = 0; k < r; k++) nn_mat_row(&c->A, k, A + k * in);
    merge_job j = {c, A, scratch, dst};
    int64_t grain = 65536 / (in * r > 0 ? in * r : 1);
    nn_pool_for(c->pool, merge_rows, &j, c->w.rows, grain > 0 ? grain : 1);
    free(A);
    free(scratch);
    return 0;
}

#define CONVERT_CHUNK 16384

static int fill_converted(void *ctx, void *dst, size_t nbytes, char *err, size_t errlen)
{
    const fill_ctx *c = ctx;
    size_t isize = sft_st_dtype_size(c->base->dtype), osize = sft_st_dtype_size(c->out);
    size_t n = c->base->nbytes / isize;
    (void)nbytes;
    float *buf = malloc(CONVERT_CHUNK * sizeof *buf);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i += CONVERT_CHUNK) {
        size_t k = n - i < CONVERT_CHUNK ? n - i : CONVERT_CHUNK;
        nn_mat m = {.data = (const char *)c->base->data + i * isize,
                    .dtype = nn_dtype_of(c->base->dtype), .rows = 1, .cols = (int64_t)k};
        nn_mat_row(&m, 0, buf);
        store((char *)dst + i * osize, buf, k, c->out);
    }
    free(buf);
    return 0;
}

/* ---- reading the inputs ---- */

static cJSON *read_json(const char *path, int *enoent, char *err, size_t errlen)
{
    sft_buf b = {0};
    if (buf_read_file(&b, path, (size_t)256 << 20) != 0) {
        if (enoent) *enoent = errno == ENOENT;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cJSON *j = b.p ? cJSON_ParseWithLength(b.p, b.len) : NULL;
    buf_free(&b);
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* alpha / r (or / sqrt(r)), as nn_model_add_adapter computes it (which has
 * checked the file already) */
static int adapter_scale(const char *dir, float *scale, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    cJSON *j = read_json(path, NULL, err, errlen);
    if (!j) return -1;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "r");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
    int rs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "use_rslora"));
    int ok = cJSON_IsNumber(r) && cJSON_IsNumber(a) && r->valuedouble >= 1;
    if (ok) *scale = (float)(rs ? a->valuedouble / sqrt(r->valuedouble) : a->valuedouble / r->valuedouble);
    else snprintf(err, errlen, "%s: \"r\" and \"lora_alpha\" must be numbers (r >= 1)", path);
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

typedef struct {
    const char *name, *file;
} name_file;

static int cmp_name_file(const void *a, const void *b)
{
    return strcmp(((const name_file *)a)->name, ((const name_file *)b)->name);
}

/* ---- the output directory ---- */

/* -1: does not exist; 0: an empty directory; 1: a non-empty directory;
 * 2: something else */
static int dir_state(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return errno == ENOENT ? -1 : 2;
    if (!S_ISDIR(sb.st_mode)) return 2;
    DIR *d = opendir(path);
    if (!d) return 1;
    int state = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            state = 1;
            break;
        }
    closedir(d);
    return state;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static enum nn_merge_status stw_status(int rc)
{
    return rc == SFT_STW_ECREATE ? NN_MERGE_ECREATE : rc == SFT_STW_EIO ? NN_MERGE_EIO : NN_MERGE_ENOMEM;
}

/* Rewrites the string values of "torch_dtype" and "dtype" keys that name a
 * floating-point dtype to name, keeping the rest of the text as it is. */
static int set_config_dtype(const char *s, size_t n, const char *name, sft_buf *out)
{
    static const char *const known[] = {"float32", "bfloat16", "float16", "float", "half"};
    size_t i = 0, copied = 0;
    while (i < n) {
        if (s[i] != '"') {
            i++;
            continue;
        }
        size_t ks = ++i;
        while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
        if (i >= n) break;
        size_t ke = i++;
        size_t j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
        if (j >= n || s[j] != ':') continue;
        int is_key = (ke - ks == 11 && memcmp(s + ks, "torch_dtype", 11) == 0) ||
                     (ke - ks == 5 && memcmp(s + ks, "dtype", 5) == 0);
        j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
        if (!is_key || j >= n || s[j] != '"') continue;
        size_t vs = j + 1, ve = vs;
        while (ve < n && s[ve] != '"') ve += s[ve] == '\\' ? 2 : 1;
        if (ve >= n) break;
        int known_value = 0;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++)
            if (ve - vs == strlen(known[k]) && memcmp(s + vs, known[k], ve - vs) == 0) known_value = 1;
        if (known_value) {
            if (buf_append(out, s + copied, vs - copied) || buf_append(out, name, strlen(name))) return -1;
            copied = ve;
        }
        i = ve + 1;
    }
    return buf_append(out, s + copied, n - copied);
}

/* Copies (or, with dtype_name, rewrites) the files of the model directory
 * into tmp. */
static enum nn_merge_status copy_files(const char *model_dir, const char *tmp, const char *dtype_name,
                                       size_t *copied, char *err, size_t errlen)
{
    char src[4400], dst[4400];
    for (size_t k = 0; k <= sizeof copied_files / sizeof *copied_files; k++) {
        const char *name = k == 0 ? "config.json" : copied_files[k - 1];
        snprintf(src, sizeof src, "%s/%s", model_dir, name);
        snprintf(dst, sizeof dst, "%s/%s", tmp, name);
        sft_buf b = {0};
        if (buf_read_file(&b, src, (size_t)1 << 31) != 0) {
            if (errno == ENOENT && k > 0) continue;
            snprintf(err, errlen, "%s: %s", src, strerror(errno));
            return errno == ENOMEM ? NN_MERGE_ENOMEM : NN_MERGE_ENOENT;
        }
        sft_buf out = {0};
        const sft_buf *w = &b;
        if (k == 0 && dtype_name) {
            if (set_config_dtype(b.p ? b.p : "", b.len, dtype_name, &out) != 0) {
                buf_free(&b);
                buf_free(&out);
                snprintf(err, errlen, "out of memory");
                return NN_MERGE_ENOMEM;
            }
            w = &out;
        }
        int rc = sft_stw_write_bytes(dst, w->p ? w->p : "", w->len, err, errlen);
        buf_free(&b);
        buf_free(&out);
        if (rc) return stw_status(rc);
        (*copied)++;
    }
    return NN_MERGE_OK;
}

/* Puts tmp in the place of out (state: dir_state(out) before). */
static enum nn_merge_status put_in_place(const char *tmp, const char *out, int state, char *err, size_t errlen)
{
    if (state <= 0) {
        if (rename(tmp, out) == 0) return NN_MERGE_OK;
        snprintf(err, errlen, "%s: cannot rename %s to it: %s", out, tmp, strerror(errno));
        return NN_MERGE_ECREATE;
    }
    /* --force over an existing output: swap, then remove the old one */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE) == 0) {
        remove_tree(tmp);
        return NN_MERGE_OK;
    }
    char old[4200];
    snprintf(old, sizeof old, "%s.old.%ld", out, (long)getpid());
    if (rename(out, old) != 0) {
        snprintf(err, errlen, "%s: cannot move it aside: %s", out, strerror(errno));
        return NN_MERGE_ECREATE;
    }
    if (rename(tmp, out) != 0) {
        int e = errno;
        rename(old, out);
        snprintf(err, errlen, "%s: cannot rename %s to it: %s", out, tmp, strerror(e));
        return NN_MERGE_ECREATE;
    }
    remove_tree(old);
    return NN_MERGE_OK;
}

/* ---- the merge ---- */

static const char *torch_dtype_name(enum nn_merge_dtype d)
{
    return d == NN_MERGE_BF16 ? "bfloat16" : d == NN_MERGE_F16 ? "float16" : "float32";
}

static enum sft_st_dtype st_dtype(enum nn_merge_dtype d)
{
    return d == NN_MERGE_BF16 ? SFT_ST_BF16 : d == NN_MERGE_F16 ? SFT_ST_F16 : SFT_ST_F32;
}

/* A file that cannot be opened, or bad data: errno is not reliable after
 * the loaders (a probe for an index file leaves ENOENT behind), the reason
 * is. */
static enum nn_merge_status missing(const char *err)
{
    return strstr(err, strerror(ENOENT)) || strstr(err, strerror(EACCES)) ? NN_MERGE_ENOENT : NN_MERGE_EDATA;
}

enum nn_merge_status nn_merge(const nn_merge_opts *o, nn_merge_stats *stats, char *err, size_t errlen)
{
    enum nn_merge_status status = NN_MERGE_ENOMEM;
    nn_model *m = NULL;
    sft_st *st = NULL, *ast = NULL;
    nn_pool *pool = NULL;
    sft_stw *w = NULL;
    fill_ctx *ctx = NULL;
    name_file *pairs = NULL, *shards = NULL;
    size_t npairs = 0, nshards = 0;
    cJSON *index = NULL;
    char out[4096], tmp[4200], path[4300];
    int made_tmp = 0;
    memset(stats, 0, sizeof *stats);

    /* the output's name without trailing slashes */
    snprintf(out, sizeof out, "%s", o->out_dir);
    for (size_t l = strlen(out); l > 1 && out[l - 1] == '/'; l--) out[l - 1] = 0;

    /* the checks of the model core: the same refusals as sft-generate */
    if (!(m = nn_model_load(o->model_dir, err, errlen)) || nn_model_add_adapter(m, o->adapter_dir, err, errlen) != 0) {
        status = missing(err);
        goto done;
    }
    stats->pairs = nn_model_adapted_layers(m);
    float scale;
    if (adapter_scale(o->adapter_dir, &scale, err, errlen) != 0) {
        status = NN_MERGE_EDATA;
        goto done;
    }
    if (!(st = sft_st_open_dir(o->model_dir, "model", err, errlen)) ||
        !(ast = sft_st_open_dir(o->adapter_dir, "adapter_model", err, errlen))) {
        status = missing(err);
        goto done;
    }

    /* the pairs: base_model.model.X.lora_A.weight -> X.weight */
    size_t na = sft_st_count(ast), n = sft_st_count(st);
    if (!(pairs = calloc(na ? na : 1, sizeof *pairs)) || !(ctx = calloc(n ? n : 1, sizeof *ctx))) goto oom;
    static const char pre[] = "base_model.model.", sa[] = ".lora_A.weight";
    for (size_t i = 0; i < na; i++) {
        const char *an = sft_st_at(ast, i)->name;
        size_t len = strlen(an);
        /* checked by nn_model_add_adapter: the prefix, a lora_A or lora_B suffix */
        if (len <= sizeof pre - 1 + sizeof sa - 1 || memcmp(an, pre, sizeof pre - 1) != 0) continue;
        if (memcmp(an + len - (sizeof sa - 1), sa, sizeof sa - 1) != 0) continue; /* lora_B: found from A */
        char *base = malloc(len + 1);
        if (!base) goto oom;
        size_t bl = len - (sizeof pre - 1) - (sizeof sa - 1);
        memcpy(base, an + sizeof pre - 1, bl);
        memcpy(base + bl, ".weight", 8);
        pairs[npairs].name = base;
        pairs[npairs++].file = an;
    }
    qsort(pairs, npairs, sizeof *pairs, cmp_name_file);

    /* a sharded input: its files */
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", o->model_dir);
    if (!o->max_shard && access(path, F_OK) == 0) {
        int enoent = 0;
        if (!(index = read_json(path, &enoent, err, errlen))) {
            status = enoent ? NN_MERGE_ENOENT : NN_MERGE_EDATA;
            goto done;
        }
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map"), *e;
        size_t cap = (size_t)cJSON_GetArraySize(wm);
        if (!(shards = calloc(cap ? cap : 1, sizeof *shards))) goto oom;
        cJSON_ArrayForEach(e, wm) if (cJSON_IsString(e) && e->string)
            shards[nshards++] = (name_file){e->string, e->valuestring};
        qsort(shards, nshards, sizeof *shards, cmp_name_file);
    }

    int nt = o->threads;
    if (!(pool = nn_pool_new(nt)) || !(w = sft_stw_new())) goto oom;
    for (size_t i = 0; i < n; i++) {
        const sft_st_tensor *t = sft_st_at(st, i);
        fill_ctx *c = &ctx[i];
        c->base = t;
        c->pool = pool;
        c->out = o->dtype != NN_MERGE_AUTO && is_float(t->dtype) ? st_dtype(o->dtype) : t->dtype;
        name_file key = {t->name, NULL};
        name_file *p = npairs ? bsearch(&key, pairs, npairs, sizeof *pairs, cmp_name_file) : NULL;
        long id;
        if (p) {
            char bname[4096];
            size_t al = strlen(p->file);
            snprintf(bname, sizeof bname, "%.*s.lora_B.weight", (int)(al - (sizeof sa - 1)), p->file);
            if (sft_st_get(st, t->name, -1, -1, &c->w, err, errlen) != 0 ||
                sft_st_get(ast, p->file, -1, -1, &c->A, err, errlen) != 0 ||
                sft_st_get(ast, bname, -1, -1, &c->B, err, errlen) != 0) {
                status = NN_MERGE_EDATA;
                goto done;
            }
            if (c->A.cols != c->w.cols || c->B.rows != c->w.rows || c->A.rows != c->B.cols) {
                snprintf(err, errlen, "%s: \"%s\" does not fit \"%s\"", o->adapter_dir, p->file, t->name);
                status = NN_MERGE_EDATA;
                goto done;
            }
            c->scale = scale;
            stats->merged++;
            id = sft_stw_add_fill(w, t->name, c->out, t->ndim, t->shape, fill_merged, c, err, errlen);
        } else if (c->out != t->dtype) {
            id = sft_stw_add_fill(w, t->name, c->out, t->ndim, t->shape, fill_converted, c, err, errlen);
        } else {
            id = sft_stw_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, err, errlen);
        }
        if (id < 0) {
            status = NN_MERGE_EDATA;
            goto done;
        }
        if (index) {
            name_file *s = bsearch(&key, shards, nshards, sizeof *shards, cmp_name_file);
            if (!s) {
                snprintf(err, errlen, "%s: tensor \"%s\" is not in the weight_map", path, t->name);
                status = NN_MERGE_EDATA;
                goto done;
            }
            if (strchr(s->file, '/')) {
                snprintf(err, errlen, "%s: file \"%s\" is not in the model directory", path, s->file);
                status = NN_MERGE_EDATA;
                goto done;
            }
            if (sft_stw_set_file(w, (size_t)id, s->file, err, errlen) != 0) goto done;
        }
    }
    if (stats->merged != npairs) {
        snprintf(err, errlen, "%s: %zu lora_A tensors, %zu of them name a tensor of %s", o->adapter_dir, npairs,
                 stats->merged, o->model_dir);
        status = NN_MERGE_EDATA;
        goto done;
    }
    stats->tensors = n;

    /* the output */
    int state = dir_state(out);
    if (state > 0 && !o->force) {
        snprintf(err, errlen, "%s: %s (use --force to replace it)", out,
                 state == 1 ? "exists and is not empty" : "exists and is not a directory");
        status = NN_MERGE_ECREATE;
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    remove_tree(tmp); /* one left by a killed run of the same pid */
    if (mkdir(tmp, 0755) != 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        status = NN_MERGE_ECREATE;
        goto done;
    }
    made_tmp = 1;
    int rc = sft_stw_write_dir(w, tmp, "model", o->max_shard, &stats->files, &stats->bytes, err, errlen);
    if (rc) {
        status = stw_status(rc);
        goto done;
    }
    if ((status = copy_files(o->model_dir, tmp, o->dtype != NN_MERGE_AUTO ? torch_dtype_name(o->dtype) : NULL,
                             &stats->copied, err, errlen)) != NN_MERGE_OK)
        goto done;
    fsync_path(tmp);
    if ((status = put_in_place(tmp, out, state, err, errlen)) != NN_MERGE_OK) goto done;
    made_tmp = 0;
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", out);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    fsync_path(slash ? (parent[0] ? parent : "/") : ".");
    status = NN_MERGE_OK;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
    status = NN_MERGE_ENOMEM;
done:
    if (made_tmp) remove_tree(tmp);
    for (size_t i = 0; i < npairs; i++) free((char *)(uintptr_t)pairs[i].name);
    free(pairs);
    free(shards);
    cJSON_Delete(index);
    sft_stw_free(w);
    free(ctx);
    nn_pool_free(pool);
    sft_st_close(ast);
    sft_st_close(st);
    nn_model_free(m);
    return status;
}
