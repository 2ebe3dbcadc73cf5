/* The safetensors writer: see st_write.h. */
#include "nn/st_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"

typedef struct {
    char *name;
    enum sft_st_dtype dtype;
    int ndim;
    int64_t shape[SFT_ST_MAX_DIMS];
    uint64_t nbytes;
    const void *data;
    sft_stw_fill_fn fill;
    void *ctx;
    char *file; /* sft_stw_set_file, or NULL */
} stw_tensor;

struct sft_stw {
    stw_tensor *t;
    size_t n, cap;
    size_t *sorted; /* indices by name, for duplicate checks */
    size_t nfiles_set;
};


sft_stw *sft_stw_new(void)
{
    return calloc(1, sizeof(sft_stw));
}

void sft_stw_free(sft_stw *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].file);
    }
    free(w->t);
    free(w->sorted);
    free(w);
}

size_t sft_stw_count(const sft_stw *w) { return w->n; }

uint64_t sft_stw_data_bytes(const sft_stw *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n; i++) n += w->t[i].nbytes;
    return n;
}

/* position of name in w->sorted (where it is or would go); *found */
static size_t find_sorted(const sft_stw *w, const char *name, int *found)
{
    size_t lo = 0, hi = w->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->t[w->sorted[mid]].name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static long add(sft_stw *w, const char *name, enum sft_st_dtype dtype, int ndim, const int64_t *shape,
                const void *data, sft_stw_fill_fn fill, void *ctx, char *err, size_t errlen)
{
    if (!sft_st_dtype_size(dtype)) {
        snprintf(err, errlen, "tensor \"%s\": unknown dtype", name);
        return -1;
    }
    if (ndim < 0 || ndim > SFT_ST_MAX_DIMS) {
        snprintf(err, errlen, "tensor \"%s\": %d dimensions (at most %d)", name, ndim, SFT_ST_MAX_DIMS);
        return -1;
    }
    uint64_t elems = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            snprintf(err, errlen, "tensor \"%s\": negative dimension", name);
            return -1;
        }
        if (shape[i] && elems > UINT64_MAX / 8 / (uint64_t)shape[i]) {
            snprintf(err, errlen, "tensor \"%s\": too large", name);
            return -1;
        }
        elems *= (uint64_t)shape[i];
    }
    int found;
    size_t pos = find_sorted(w, name, &found);
    if (found) {
        snprintf(err, errlen, "tensor \"%s\" added twice", name);
        return -1;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        stw_tensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) goto oom;
        w->t = t;
        size_t *s = realloc(w->sorted, cap * sizeof *s);
        if (!s) goto oom;
        w->sorted = s;
        w->cap = cap;
    }
    stw_tensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) goto oom;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = elems * sft_st_dtype_size(dtype);
    t->data = data;
    t->fill = fill;
    t->ctx = ctx;
    memmove(w->sorted + pos + 1, w->sorted + pos, (w->n - pos) * sizeof *w->sorted);
    w->sorted[pos] = w->n;
    return (long)w->n++;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

long sft_stw_add(sft_stw *w, const char *name, enum sft_st_dtype dtype, int ndim, const int64_t *shape,
                 const void *data, char *err, size_t errlen)
{
    return add(w, name, dtype, ndim, shape, data, NULL, NULL, err, errlen);
}

long sft_stw_add_fill(sft_stw *w, const char *name, enum sft_st_dtype dtype, int ndim,
                      const int64_t *shape, sft_stw_fill_fn fill, void *ctx, char *err, size_t errlen)
{
    return add(w, name, dtype, ndim, shape, NULL, fill, ctx, err, errlen);
}

int sft_stw_set_file(sft_stw *w, size_t i, const char *file, char *err, size_t errlen)
{
    if (i >= w->n) {
        snprintf(err, errlen, "no tensor %zu", i);
        return -1;
    }
    char *f = strdup(file);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!w->t[i].file) w->nfiles_set++;
    free(w->t[i].file);
    w->t[i].file = f;
    return 0;
}

/* ---- JSON ---- */

static int json_string(sft_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_putc(b, '"')) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[7] = {0};
        switch (*p) {
        case '"': strcpy(e, "\\\""); break;
        case '\\': strcpy(e, "\\\\"); break;
        case '\n': strcpy(e, "\\n"); break;
        case '\r': strcpy(e, "\\r"); break;
        case '\t': strcpy(e, "\\t"); break;
        case '\b': strcpy(e, "\\b"); break;
        case '\f': strcpy(e, "\\f"); break;
        default:
            if (*p < 0x20) {
                e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[*p >> 4], e[5] = hex[*p & 15];
            } else {
                e[0] = (char)*p;
            }
        }
        if (buf_append(b, e, strlen(e))) return -1;
    }
    return buf_putc(b, '"');
}

static int json_printf(sft_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int json_printf(sft_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) return -1;
    return buf_append(b, tmp, (size_t)n);
}

/* ---- files ---- */

static void set_io_err(char *err, size_t errlen, const char *path, const char *what, int e)
{
    snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        size_t k = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t w = write(fd, c, k);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* the directory part of path ("." when none) into buf */
static void dir_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, n, ".");
    else if (slash == path) snprintf(buf, n, "/");
    else snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

static void fsync_dir(const char *path)
{
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse it on directories */
        close(fd);
    }
}

typedef struct {
    char path[4096], tmp[4200];
    int fd;
} atomic_file;

static int af_open(atomic_file *f, const char *path, char *err, size_t errlen)
{
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        set_io_err(err, errlen, path, "cannot create", errno);
        return SFT_STW_ECREATE;
    }
    return 0;
}

static void af_abort(atomic_file *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
}

static int af_write(atomic_file *f, const void *p, size_t n, char *err, size_t errlen)
{
    if (write_all(f->fd, p, n) != 0) {
        set_io_err(err, errlen, f->path, "write error", errno);
        return SFT_STW_EIO;
    }
    return 0;
}

static int af_commit(atomic_file *f, char *err, size_t errlen)
{
    if (fsync(f->fd) != 0) {
        set_io_err(err, errlen, f->path, "write error", errno);
        return SFT_STW_EIO;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        set_io_err(err, errlen, f->path, "write error", errno);
        return SFT_STW_EIO;
    }
    if (rename(f->tmp, f->path) != 0) {
        set_io_err(err, errlen, f->path, "cannot rename the temporary file into place", errno);
        return SFT_STW_EIO;
    }
    fsync_dir(f->path);
    return 0;
}

int sft_stw_write_bytes(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    atomic_file f;
    int rc = af_open(&f, path, err, errlen);
    if (rc) return rc;
    if ((rc = af_write(&f, data, len, err, errlen)) || (rc = af_commit(&f, err, errlen))) af_abort(&f);
    return rc;
}

/* ---- one file ---- */

/* the order of the data: element size, largest first, then name */
static int cmp_tensor(const void *a, const void *b, void *ctx)
{
    const stw_tensor *base = ctx;
    const stw_tensor *x = &base[*(const size_t *)a], *y = &base[*(const size_t *)b];
    size_t sx = sft_st_dtype_size(x->dtype), sy = sft_st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Writes tensors idx[0..n) of w into path. */
static int write_file(const sft_stw *w, const size_t *idx_in, size_t n, const char *path, uint64_t *bytes,
                      char *err, size_t errlen)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    sft_buf h = {0};
    atomic_file f = {.fd = -1};
    int rc = SFT_STW_EFILL;
    if (!idx) goto oom;
    memcpy(idx, idx_in, n * sizeof *idx);
    qsort_r(idx, n, sizeof *idx, cmp_tensor, w->t);
    if (buf_append(&h, "{\"__metadata__\":{\"format\":\"pt\"}", 31)) goto oom;
    uint64_t off = 0;
    for (size_t k = 0; k < n; k++) {
        const stw_tensor *t = &w->t[idx[k]];
        if (buf_putc(&h, ',') || json_string(&h, t->name) ||
            json_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", sft_st_dtype_name(t->dtype)))
            goto oom;
        for (int d = 0; d < t->ndim; d++)
            if (json_printf(&h, d ? ",%" PRId64 : "%" PRId64, t->shape[d])) goto oom;
        if (json_printf(&h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + t->nbytes)) goto oom;
        off += t->nbytes;
    }
    if (buf_putc(&h, '}')) goto oom;
    while (h.len % 8)
        if (buf_putc(&h, ' ')) goto oom;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));

    if ((rc = af_open(&f, path, err, errlen))) goto done;
    if ((rc = af_write(&f, len8, 8, err, errlen)) || (rc = af_write(&f, h.p, h.len, err, errlen))) goto fail;
    for (size_t k = 0; k < n; k++) {
        const stw_tensor *t = &w->t[idx[k]];
        if (!t->nbytes) continue;
        if (t->fill) {
            if (t->nbytes > SIZE_MAX) goto fail_oom;
            void *buf = malloc((size_t)t->nbytes);
            if (!buf) goto fail_oom;
            if (t->fill(t->ctx, buf, (size_t)t->nbytes, err, errlen) != 0) {
                free(buf);
                rc = SFT_STW_EFILL;
                goto fail;
            }
            rc = af_write(&f, buf, (size_t)t->nbytes, err, errlen);
            free(buf);
            if (rc) goto fail;
        } else if ((rc = af_write(&f, t->data, (size_t)t->nbytes, err, errlen))) {
            goto fail;
        }
    }
    if ((rc = af_commit(&f, err, errlen))) goto fail;
    if (bytes) *bytes += 8 + h.len + off;
    rc = 0;
    goto done;
fail_oom:
    snprintf(err, errlen, "%s: out of memory", path);
    rc = SFT_STW_EFILL;
fail:
    af_abort(&f);
    goto done;
oom:
    snprintf(err, errlen, "%s: out of memory", path);
    rc = SFT_STW_EFILL;
done:
    buf_free(&h);
    free(idx);
    return rc;
}

int sft_stw_write(const sft_stw *w, const char *path, char *err, size_t errlen)
{
    size_t *idx = malloc((w->n ? w->n : 1) * sizeof *idx);
    if (!idx) {
        snprintf(err, errlen, "%s: out of memory", path);
        return SFT_STW_EFILL;
    }
    for (size_t i = 0; i < w->n; i++) idx[i] = i;
    int rc = write_file(w, idx, w->n, path, NULL, err, errlen);
    free(idx);
    return rc;
}

/* ---- a checkpoint directory ---- */

static int write_index(const sft_stw *w, const char *dir, const char *prefix, char *const *file_of,
                       char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors.index.json", dir, prefix);
    sft_buf b = {0};
    int rc = SFT_STW_EFILL;
    if (json_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %" PRIu64 "\n  },\n  \"weight_map\": {",
                    sft_stw_data_bytes(w)))
        goto done;
    for (size_t k = 0; k < w->n; k++) {
        size_t i = w->sorted[k];
        if (buf_append(&b, k ? ",\n    " : "\n    ", k ? 6 : 5) || json_string(&b, w->t[i].name) ||
            buf_append(&b, ": ", 2) || json_string(&b, file_of[i]))
            goto done;
    }
    if (buf_append(&b, "\n  }\n}\n", 7)) goto done;
    rc = sft_stw_write_bytes(path, b.p, b.len, err, errlen);
done:
    if (rc == SFT_STW_EFILL) snprintf(err, errlen, "%s: out of memory", path);
    buf_free(&b);
    return rc;
}

/* a failed checkpoint leaves none of its files */
static void remove_files(const char *dir, char *const *names, size_t n)
{
    char path[4096];
    for (size_t k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        unlink(path);
    }
}

int sft_stw_write_dir(const sft_stw *w, const char *dir, const char *prefix, uint64_t max_shard,
                      size_t *nfiles, uint64_t *bytes, char *err, size_t errlen)
{
    char path[4096];
    uint64_t written = 0;
    if (!max_shard) max_shard = SFT_STW_DEFAULT_SHARD;
    if (w->nfiles_set && w->nfiles_set != w->n) {
        snprintf(err, errlen, "%s: some tensors have no file", dir);
        return SFT_STW_EFILL;
    }
    if (!w->nfiles_set && sft_stw_data_bytes(w) <= max_shard) {
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, prefix);
        size_t *idx = malloc((w->n ? w->n : 1) * sizeof *idx);
        if (!idx) {
            snprintf(err, errlen, "%s: out of memory", path);
            return SFT_STW_EFILL;
        }
        for (size_t i = 0; i < w->n; i++) idx[i] = i;
        int rc = write_file(w, idx, w->n, path, &written, err, errlen);
        free(idx);
        if (!rc) {
            if (nfiles) *nfiles = 1;
            if (bytes) *bytes = written;
        }
        return rc;
    }
    /* file_of[i]: the file of tensor i; shard k's tensors are listed in files order */
    char **file_of = calloc(w->n ? w->n : 1, sizeof *file_of);
    size_t *idx = malloc((w->n ? w->n : 1) * sizeof *idx);
    char **names = NULL; /* distinct files, in order of first use */
    size_t nnames = 0;
    int rc = SFT_STW_EFILL;
    if (!file_of || !idx) goto oom;
    if (w->nfiles_set) {
        names = calloc(w->n ? w->n : 1, sizeof *names);
        if (!names) goto oom;
        for (size_t i = 0; i < w->n; i++) {
            size_t k = 0;
            while (k < nnames && strcmp(names[k], w->t[i].file) != 0) k++;
            if (k == nnames) names[nnames++] = w->t[i].file;
            file_of[i] = names[k];
        }
    } else {
        /* shard k is given by the tensors' positions: count the shards first */
        size_t *shard = calloc(w->n ? w->n : 1, sizeof *shard);
        if (!shard) goto oom;
        uint64_t cur = 0;
        size_t ns = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (ns == 0 || (cur > 0 && cur + w->t[i].nbytes > max_shard)) {
                ns++;
                cur = 0;
            }
            cur += w->t[i].nbytes;
            shard[i] = ns - 1;
        }
        if (ns == 0) ns = 1;
        names = calloc(ns, sizeof *names);
        if (!names) {
            free(shard);
            goto oom;
        }
        for (size_t k = 0; k < ns; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s-%05zu-of-%05zu.safetensors", prefix, k + 1, ns);
            if (!(names[k] = strdup(name))) {
                nnames = k;
                free(shard);
                goto oom_owned;
            }
        }
        nnames = ns;
        for (size_t i = 0; i < w->n; i++) file_of[i] = names[shard[i]];
        free(shard);
    }
    for (size_t k = 0; k < nnames; k++) {
        size_t n = 0;
        for (size_t i = 0; i < w->n; i++)
            if (file_of[i] == names[k]) idx[n++] = i;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if ((rc = write_file(w, idx, n, path, &written, err, errlen))) {
            remove_files(dir, names, k);
            goto done;
        }
    }
    if ((rc = write_index(w, dir, prefix, file_of, err, errlen))) {
        remove_files(dir, names, nnames);
        goto done;
    }
    if (nfiles) *nfiles = nnames;
    if (bytes) *bytes = written;
    rc = 0;
    goto done;
oom_owned:
oom:
    snprintf(err, errlen, "%s: out of memory", dir);
    rc = SFT_STW_EFILL;
done:
    if (!w->nfiles_set && names)
        for (size_t k = 0; k < nnames; k++) free(names[k]);
    free(names);
    free(idx);
    free(file_of);
    return rc;
}
