/* safetensors reader: see safetensors.h. */
#include "nn/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* The reference implementation's bound on the header (100 MB). */
#define ST_MAX_HEADER 100000000ull

typedef struct {
    char *path;          /* as opened, for messages */
    const uint8_t *base; /* the whole file image */
    size_t len;
    int mapped;          /* base is an mmap of len bytes */
} st_file;

typedef struct {
    char *key, *value;
} st_meta;

struct sft_st {
    char *name; /* what messages about the whole handle start with */
    st_file *files;
    size_t nfiles;
    sft_st_tensor *t;
    size_t n, cap;
    size_t *sorted; /* indices into t, by name */
    st_meta *meta;
    size_t nmeta;
    void **copies; /* aligned copies of misaligned usable tensors */
    size_t ncopies;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [SFT_ST_F32] = {"F32", 4},         [SFT_ST_BF16] = {"BF16", 2},
    [SFT_ST_F16] = {"F16", 2},         [SFT_ST_F64] = {"F64", 8},
    [SFT_ST_I64] = {"I64", 8},         [SFT_ST_I32] = {"I32", 4},
    [SFT_ST_I16] = {"I16", 2},         [SFT_ST_I8] = {"I8", 1},
    [SFT_ST_U8] = {"U8", 1},           [SFT_ST_BOOL] = {"BOOL", 1},
    [SFT_ST_F8_E4M3] = {"F8_E4M3", 1}, [SFT_ST_F8_E5M2] = {"F8_E5M2", 1},
    [SFT_ST_U16] = {"U16", 2},         [SFT_ST_U32] = {"U32", 4},
    [SFT_ST_U64] = {"U64", 8},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

const char *sft_st_dtype_name(enum sft_st_dtype d)
{
    return (size_t)d < NDTYPES ? dtypes[d].name : "?";
}

size_t sft_st_dtype_size(enum sft_st_dtype d)
{
    return (size_t)d < NDTYPES ? dtypes[d].size : 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static void file_release(st_file *f)
{
    if (f->mapped && f->base) munmap((void *)f->base, f->len);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void sft_st_close(sft_st *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free((char *)st->t[i].name);
    for (size_t i = 0; i < st->nfiles; i++) file_release(&st->files[i]);
    for (size_t i = 0; i < st->nmeta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    for (size_t i = 0; i < st->ncopies; i++) free(st->copies[i]);
    free(st->copies);
    free(st->meta);
    free(st->files);
    free(st->t);
    free(st->sorted);
    free(st->name);
    free(st);
}

static sft_st *st_new(const char *name)
{
    sft_st *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    if (!(st->name = xstrdup(name))) {
        free(st);
        return NULL;
    }
    return st;
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

typedef struct {
    uint64_t begin, end;
    size_t idx;
} st_range;

static int range_cmp(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int st_grow(sft_st *st, size_t more)
{
    if (st->n + more <= st->cap) return 0;
    size_t cap = st->cap ? st->cap : 16;
    while (cap < st->n + more) cap *= 2;
    sft_st_tensor *t = realloc(st->t, cap * sizeof *t);
    if (!t) return -1;
    st->t = t;
    st->cap = cap;
    return 0;
}

static int add_meta(sft_st *st, const char *k, const char *v)
{
    for (size_t i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[i].key, k) == 0) return 0; /* the first shard's wins */
    st_meta *m = realloc(st->meta, (st->nmeta + 1) * sizeof *m);
    if (!m) return -1;
    st->meta = m;
    char *kk = xstrdup(k), *vv = xstrdup(v);
    if (!kk || !vv) {
        free(kk);
        free(vv);
        return -1;
    }
    m[st->nmeta].key = kk;
    m[st->nmeta].value = vv;
    st->nmeta++;
    return 0;
}

/* Parses and validates the file image f (already in st->files[fi]) and
 * appends its tensors to st. */
static int parse_file(sft_st *st, size_t fi, char *err, size_t errlen)
{
    const st_file *f = &st->files[fi];
    const char *fn = f->path;
    if (f->len == 0) {
        seterr(err, errlen, "%s: empty file", fn);
        return -1;
    }
    if (f->len < 8) {
        seterr(err, errlen, "%s: file too short (%zu bytes) for the 8-byte header size", fn, f->len);
        return -1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->base[i];
    if (hlen > ST_MAX_HEADER) {
        seterr(err, errlen, "%s: header size %llu is over the limit of %llu bytes (not a safetensors file?)", fn,
               (unsigned long long)hlen, ST_MAX_HEADER);
        return -1;
    }
    if (hlen > f->len - 8) {
        seterr(err, errlen, "%s: header size %llu is past the end of the file (%zu bytes; truncated?)", fn,
               (unsigned long long)hlen, f->len);
        return -1;
    }
    if (hlen < 2) {
        seterr(err, errlen, "%s: header of %llu bytes is too short for a JSON object", fn, (unsigned long long)hlen);
        return -1;
    }
    const char *h = (const char *)f->base + 8;
    if (h[0] != '{') {
        seterr(err, errlen, "%s: header does not start with '{' (not a safetensors file?)", fn);
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= h && end <= h + hlen ? (size_t)(end - h) : 0;
        seterr(err, errlen, "%s: header is not valid JSON (near byte %zu of the header)", fn, at + 8);
        return -1;
    }
    /* what follows the object may only be padding (spaces) */
    for (const char *p = end; p < h + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            seterr(err, errlen, "%s: header has bytes after its JSON object (at byte %zu)", fn,
                   (size_t)(p - h) + 8);
            cJSON_Delete(root);
            return -1;
        }
    }
    if (!cJSON_IsObject(root)) {
        seterr(err, errlen, "%s: header is not a JSON object", fn);
        cJSON_Delete(root);
        return -1;
    }
    const uint8_t *data = f->base + 8 + hlen;
    uint64_t dlen = f->len - 8 - hlen;
    size_t first = st->n, nt = 0;
    int rc = -1;
    st_range *rg = NULL;
    const cJSON *e;
    int seen_meta = 0;
    cJSON_ArrayForEach(e, root) nt++;
    if (st_grow(st, nt) != 0) goto oom;
    cJSON_ArrayForEach(e, root)
    {
        const char *name = e->string ? e->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            if (seen_meta++) {
                seterr(err, errlen, "%s: \"__metadata__\" appears twice", fn);
                goto out;
            }
            if (!cJSON_IsObject(e)) {
                seterr(err, errlen, "%s: \"__metadata__\" is not an object", fn);
                goto out;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, e)
            {
                if (!cJSON_IsString(m)) {
                    seterr(err, errlen, "%s: \"__metadata__\" value \"%s\" is not a string", fn,
                           m->string ? m->string : "");
                    goto out;
                }
                if (add_meta(st, m->string ? m->string : "", m->valuestring) != 0) goto oom;
            }
            continue;
        }
        if (!cJSON_IsObject(e)) {
            seterr(err, errlen, "%s: tensor \"%s\" is not an object", fn, name);
            goto out;
        }
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(jd)) {
            seterr(err, errlen, "%s: tensor \"%s\": \"dtype\" is %s", fn, name, jd ? "not a string" : "missing");
            goto out;
        }
        size_t d = 0;
        while (d < NDTYPES && strcmp(dtypes[d].name, jd->valuestring) != 0) d++;
        if (d == NDTYPES) {
            seterr(err, errlen, "%s: tensor \"%s\": unknown dtype \"%.32s\"", fn, name, jd->valuestring);
            goto out;
        }
        if (!cJSON_IsArray(js)) {
            seterr(err, errlen, "%s: tensor \"%s\": \"shape\" is %s", fn, name, js ? "not an array" : "missing");
            goto out;
        }
        int nd = cJSON_GetArraySize(js);
        if (nd > SFT_ST_MAX_DIMS) {
            seterr(err, errlen, "%s: tensor \"%s\": shape has %d dimensions, at most %d are supported", fn, name, nd,
                   SFT_ST_MAX_DIMS);
            goto out;
        }
        sft_st_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        t->dtype = (enum sft_st_dtype)d;
        t->ndim = nd;
        t->file = (int)fi;
        /* element count, with overflow checks (an empty dimension makes 0) */
        uint64_t count = 1;
        int over = 0, k = 0;
        const cJSON *dim;
        cJSON_ArrayForEach(dim, js)
        {
            uint64_t v;
            if (!json_uint(dim, &v) || v > INT64_MAX) {
                seterr(err, errlen, "%s: tensor \"%s\": shape[%d] is not a non-negative integer", fn, name, k);
                goto out;
            }
            t->shape[k++] = (int64_t)v;
        }
        for (k = 0; k < nd; k++)
            if (t->shape[k] == 0) count = 0;
        if (count)
            for (k = 0; k < nd; k++) {
                uint64_t v = (uint64_t)t->shape[k];
                if (count > UINT64_MAX / v) over = 1;
                else count *= v;
            }
        uint64_t bytes = 0;
        if (!over && count > UINT64_MAX / dtypes[d].size) over = 1;
        else bytes = count * dtypes[d].size;
        if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2) {
            seterr(err, errlen, "%s: tensor \"%s\": \"data_offsets\" is %s", fn, name,
                   jo ? "not an array of two integers" : "missing");
            goto out;
        }
        uint64_t b0, b1;
        if (!json_uint(jo->child, &b0) || !json_uint(jo->child->next, &b1)) {
            seterr(err, errlen, "%s: tensor \"%s\": \"data_offsets\" are not non-negative integers", fn, name);
            goto out;
        }
        if (b1 < b0) {
            seterr(err, errlen, "%s: tensor \"%s\": data_offsets [%llu, %llu) end before they begin", fn, name,
                   (unsigned long long)b0, (unsigned long long)b1);
            goto out;
        }
        if (over || bytes != b1 - b0) {
            char sh[160];
            size_t pos = 0;
            sh[0] = '\0';
            for (k = 0; k < nd && pos < sizeof sh - 1; k++) {
                int w = snprintf(sh + pos, sizeof sh - pos, "%s%lld", k ? ", " : "", (long long)t->shape[k]);
                if (w < 0) break;
                pos += (size_t)w;
            }
            if (over)
                seterr(err, errlen, "%s: tensor \"%s\": shape [%s] of %s is too large (size overflows)", fn, name,
                       sh, dtypes[d].name);
            else
                seterr(err, errlen,
                       "%s: tensor \"%s\": data_offsets [%llu, %llu) do not match shape [%s] of %s (%llu bytes)", fn,
                       name, (unsigned long long)b0, (unsigned long long)b1, sh, dtypes[d].name,
                       (unsigned long long)bytes);
            goto out;
        }
        if (b1 > dlen) {
            seterr(err, errlen, "%s: tensor \"%s\": data_offsets [%llu, %llu) are past the end of the data (%llu bytes; truncated?)",
                   fn, name, (unsigned long long)b0, (unsigned long long)b1, (unsigned long long)dlen);
            goto out;
        }
        if (!(t->name = xstrdup(name))) goto oom;
        t->data = data + b0;
        t->nbytes = (size_t)bytes;
        st->n++;
    }
    /* no overlaps: sort by begin; empty tensors take no bytes */
    size_t cnt = st->n - first;
    if (cnt) {
        if (!(rg = malloc(cnt * sizeof *rg))) goto oom;
        for (size_t i = 0; i < cnt; i++) {
            const sft_st_tensor *t = &st->t[first + i];
            rg[i].begin = (uint64_t)((const uint8_t *)t->data - data);
            rg[i].end = rg[i].begin + t->nbytes;
            rg[i].idx = first + i;
        }
        qsort(rg, cnt, sizeof *rg, range_cmp);
        uint64_t reach = 0;
        size_t who = SIZE_MAX;
        for (size_t i = 0; i < cnt; i++) {
            if (rg[i].begin == rg[i].end) continue;
            if (who != SIZE_MAX && rg[i].begin < reach) {
                seterr(err, errlen, "%s: tensors \"%s\" and \"%s\" overlap (data_offsets [%llu, %llu) and [%llu, %llu))",
                       fn, st->t[who].name, st->t[rg[i].idx].name, (unsigned long long)(reach - st->t[who].nbytes),
                       (unsigned long long)reach, (unsigned long long)rg[i].begin, (unsigned long long)rg[i].end);
                goto out;
            }
            reach = rg[i].end;
            who = rg[i].idx;
        }
    }
    rc = 0;
    goto out;
oom:
    seterr(err, errlen, "%s: out of memory", fn);
out:
    if (rc != 0) {
        for (size_t i = first; i < st->n; i++) free((char *)st->t[i].name);
        st->n = first;
    }
    free(rg);
    cJSON_Delete(root);
    return rc;
}

static int name_cmp_ctx(const sft_st *st, size_t a, size_t b)
{
    return strcmp(st->t[a].name, st->t[b].name);
}

/* Sorts the name index (a merge sort: qsort has no context argument in C11). */
static void sort_idx(const sft_st *st, size_t *a, size_t *tmp, size_t n)
{
    if (n < 2) return;
    size_t m = n / 2;
    sort_idx(st, a, tmp, m);
    sort_idx(st, a + m, tmp, n - m);
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n) tmp[k++] = name_cmp_ctx(st, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < m) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

/* Builds the name index, rejects duplicate names, and copies misaligned
 * usable tensors so that every F32/BF16/F16 pointer is aligned. */
static int finish(sft_st *st, char *err, size_t errlen)
{
    size_t n = st->n;
    st->sorted = malloc((n ? n : 1) * sizeof *st->sorted);
    size_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!st->sorted || !tmp) {
        free(tmp);
        seterr(err, errlen, "%s: out of memory", st->name);
        return -1;
    }
    for (size_t i = 0; i < n; i++) st->sorted[i] = i;
    sort_idx(st, st->sorted, tmp, n);
    free(tmp);
    for (size_t i = 1; i < n; i++) {
        const sft_st_tensor *a = &st->t[st->sorted[i - 1]], *b = &st->t[st->sorted[i]];
        if (strcmp(a->name, b->name) == 0) {
            if (a->file == b->file)
                seterr(err, errlen, "%s: tensor \"%s\" appears twice in the header", st->files[a->file].path, a->name);
            else
                seterr(err, errlen, "%s: tensor \"%s\" is in two shards (%s and %s)", st->name, a->name,
                       st->files[a->file].path, st->files[b->file].path);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        sft_st_tensor *t = &st->t[i];
        if (t->dtype > SFT_ST_F16) continue;
        size_t al = dtypes[t->dtype].size;
        if ((uintptr_t)t->data % al == 0) continue;
        if (!t->nbytes) { /* nothing to copy; any aligned address will do */
            static const uint64_t empty_aligned[1];
            t->data = empty_aligned;
            continue;
        }
        void **c = realloc(st->copies, (st->ncopies + 1) * sizeof *c);
        if (!c) goto oom;
        st->copies = c;
        void *p = malloc(t->nbytes);
        if (!p) goto oom;
        memcpy(p, t->data, t->nbytes);
        st->copies[st->ncopies++] = p;
        t->data = p;
    }
    return 0;
oom:
    seterr(err, errlen, "%s: out of memory", st->name);
    return -1;
}

static int add_file(sft_st *st, const char *path, char *err, size_t errlen)
{
    st_file *fs = realloc(st->files, (st->nfiles + 1) * sizeof *fs);
    if (!fs) {
        seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st->files = fs;
    st_file *f = &fs[st->nfiles];
    memset(f, 0, sizeof *f);
    if (!(f->path = xstrdup(path))) {
        seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st->nfiles++; /* from here on, close releases it */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        seterr(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        seterr(err, errlen, "%s: file too large to map", path);
        close(fd);
        return -1;
    }
    f->len = (size_t)sb.st_size;
    if (f->len > 0) {
        void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            seterr(err, errlen, "%s: cannot map %zu bytes: %s", path, f->len, strerror(errno));
            close(fd);
            f->len = 0;
            return -1;
        }
        f->base = m;
        f->mapped = 1;
        (void)madvise(m, f->len, MADV_WILLNEED);
    }
    close(fd);
    return parse_file(st, st->nfiles - 1, err, errlen);
}

sft_st *sft_st_open(const char *path, char *err, size_t errlen)
{
    sft_st *st = st_new(path);
    if (!st) {
        seterr(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (add_file(st, path, err, errlen) != 0 || finish(st, err, errlen) != 0) {
        sft_st_close(st);
        return NULL;
    }
    return st;
}

sft_st *sft_st_from_memory(const void *buf, size_t len, char *err, size_t errlen)
{
    const char *nm = "<memory>";
    sft_st *st = st_new(nm);
    if (!st || !(st->files = calloc(1, sizeof *st->files)) || !(st->files[0].path = xstrdup(nm))) {
        sft_st_close(st);
        seterr(err, errlen, "%s: out of memory", nm);
        return NULL;
    }
    st->nfiles = 1;
    st->files[0].base = buf;
    st->files[0].len = buf ? len : 0;
    if (parse_file(st, 0, err, errlen) != 0 || finish(st, err, errlen) != 0) {
        sft_st_close(st);
        return NULL;
    }
    return st;
}

/* Reads a whole small file (the index) into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len, int *enoent, char *err, size_t errlen)
{
    *enoent = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *enoent = errno == ENOENT;
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n + 1 >= cap) {
            if (cap > ((size_t)256 << 20)) {
                seterr(err, errlen, "%s: file too large for an index", path);
                free(b);
                fclose(fp);
                return NULL;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0) break;
    }
    if (!b) {
        seterr(err, errlen, "%s: out of memory", path);
        fclose(fp);
        return NULL;
    }
    if (ferror(fp)) {
        seterr(err, errlen, "%s: read error", path);
        free(b);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    b[n] = '\0';
    *len = n;
    return b;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sft_st *sft_st_open_dir(const char *dir, const char *prefix, char *err, size_t errlen)
{
    if (!prefix || !*prefix) prefix = "model";
    size_t need = strlen(dir) + strlen(prefix) + 64;
    char *single = malloc(need), *index = malloc(need);
    sft_st *st = NULL;
    char *text = NULL, **names = NULL;
    cJSON *root = NULL;
    size_t nnames = 0;
    if (!single || !index) {
        seterr(err, errlen, "%s: out of memory", dir);
        goto fail;
    }
    snprintf(single, need, "%s/%s.safetensors", dir, prefix);
    snprintf(index, need, "%s/%s.safetensors.index.json", dir, prefix);
    struct stat sb;
    if (stat(single, &sb) == 0) { /* as transformers: the single file first */
        free(index);
        st = sft_st_open(single, err, errlen);
        free(single);
        return st;
    }
    size_t len;
    int enoent;
    if (!(text = slurp(index, &len, &enoent, err, errlen))) {
        if (enoent) seterr(err, errlen, "%s: no %s.safetensors or %s.safetensors.index.json", dir, prefix, prefix);
        goto fail;
    }
    root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        seterr(err, errlen, "%s: %s", index, root ? "not a JSON object" : "not valid JSON");
        goto fail;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        seterr(err, errlen, "%s: \"weight_map\" is %s", index, wm ? "not an object" : "missing");
        goto fail;
    }
    const cJSON *e;
    size_t nmap = 0;
    cJSON_ArrayForEach(e, wm)
    {
        if (!cJSON_IsString(e) || !e->valuestring[0]) {
            seterr(err, errlen, "%s: weight_map: \"%s\" does not name a file", index, e->string ? e->string : "");
            goto fail;
        }
        const char *v = e->valuestring;
        if (strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
            seterr(err, errlen, "%s: weight_map: shard \"%s\" is not a file name in the directory", index, v);
            goto fail;
        }
        nmap++;
    }
    if (nmap == 0) {
        seterr(err, errlen, "%s: \"weight_map\" is empty", index);
        goto fail;
    }
    if (!(names = malloc(nmap * sizeof *names))) {
        seterr(err, errlen, "%s: out of memory", index);
        goto fail;
    }
    cJSON_ArrayForEach(e, wm) names[nnames++] = e->valuestring;
    qsort(names, nnames, sizeof *names, str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < nnames; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    nnames = u;
    if (!(st = st_new(index))) {
        seterr(err, errlen, "%s: out of memory", index);
        goto fail;
    }
    for (size_t i = 0; i < nnames; i++) {
        size_t pn = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(pn);
        if (!p) {
            seterr(err, errlen, "%s: out of memory", index);
            goto fail;
        }
        snprintf(p, pn, "%s/%s", dir, names[i]);
        int r = add_file(st, p, err, errlen);
        free(p);
        if (r != 0) goto fail;
    }
    if (finish(st, err, errlen) != 0) goto fail;
    cJSON_ArrayForEach(e, wm)
    {
        const sft_st_tensor *t = sft_st_find(st, e->string ? e->string : "");
        size_t pl = strlen(dir) + 1;
        if (!t || strcmp(st->files[t->file].path + pl, e->valuestring) != 0) {
            if (t)
                seterr(err, errlen, "%s: tensor \"%s\" is not in its shard %s (it is in %s)", index, e->string,
                       e->valuestring, st->files[t->file].path + pl);
            else
                seterr(err, errlen, "%s: tensor \"%s\" is not in its shard %s", index,
                       e->string ? e->string : "", e->valuestring);
            goto fail;
        }
    }
    cJSON_Delete(root);
    free(names);
    free(text);
    free(single);
    free(index);
    return st;
fail:
    sft_st_close(st);
    cJSON_Delete(root);
    free(names);
    free(text);
    free(single);
    free(index);
    return NULL;
}

size_t sft_st_count(const sft_st *st)
{
    return st ? st->n : 0;
}

const sft_st_tensor *sft_st_at(const sft_st *st, size_t i)
{
    return st && i < st->n ? &st->t[i] : NULL;
}

const sft_st_tensor *sft_st_find(const sft_st *st, const char *name)
{
    if (!st || !name || !st->sorted) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[st->sorted[mid]].name, name);
        if (c == 0) return &st->t[st->sorted[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *sft_st_metadata(const sft_st *st, const char *key)
{
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
    return NULL;
}

static void fmt_shape(char *b, size_t n, const int64_t *s, int nd)
{
    size_t pos = 0;
    b[0] = '\0';
    for (int k = 0; k < nd && pos + 1 < n; k++) {
        int w = snprintf(b + pos, n - pos, "%s%lld", k ? ", " : "", (long long)s[k]);
        if (w < 0) return;
        pos += (size_t)w;
    }
}

int sft_st_get(const sft_st *st, const char *name, int64_t rows, int64_t cols, nn_mat *out, char *err,
               size_t errlen)
{
    const sft_st_tensor *t = sft_st_find(st, name);
    if (!t) {
        seterr(err, errlen, "%s: missing tensor \"%s\"", st ? st->name : "?", name ? name : "");
        return -1;
    }
    const char *fn = st->files[t->file].path;
    if (t->dtype > SFT_ST_F16) {
        seterr(err, errlen, "%s: tensor \"%s\" is %s; only F32, BF16 and F16 are supported", fn, name,
               sft_st_dtype_name(t->dtype));
        return -1;
    }
    /* leading dimensions of 1 are dropped down to 2-D */
    int lead = 0;
    while (t->ndim - lead > 2 && t->shape[lead] == 1) lead++;
    int nd = t->ndim - lead;
    char sh[200];
    fmt_shape(sh, sizeof sh, t->shape, t->ndim);
    if (nd > 2) {
        seterr(err, errlen, "%s: tensor \"%s\" has shape [%s], not a matrix or a vector", fn, name, sh);
        return -1;
    }
    int64_t r = nd == 2 ? t->shape[lead] : 1;
    int64_t c = nd == 2 ? t->shape[lead + 1] : nd == 1 ? t->shape[lead] : 1;
    if ((rows > 0 && r != rows) || (cols > 0 && c != cols)) {
        char er[32], ec[32];
        if (rows > 0) snprintf(er, sizeof er, "%lld", (long long)rows);
        else snprintf(er, sizeof er, "?");
        if (cols > 0) snprintf(ec, sizeof ec, "%lld", (long long)cols);
        else snprintf(ec, sizeof ec, "?");
        if (nd == 2 || rows > 1)
            seterr(err, errlen, "%s: tensor \"%s\" has shape [%s], expected [%s, %s]", fn, name, sh, er, ec);
        else
            seterr(err, errlen, "%s: tensor \"%s\" has shape [%s], expected [%s]", fn, name, sh, ec);
        return -1;
    }
    out->data = t->data;
    out->dtype = t->dtype == SFT_ST_F32 ? NN_F32 : t->dtype == SFT_ST_BF16 ? NN_BF16 : NN_F16;
    out->rows = r;
    out->cols = c;
    return 0;
}
