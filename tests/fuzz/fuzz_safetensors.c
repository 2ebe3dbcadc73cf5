/* libFuzzer target for the safetensors reader (lib/nn/safetensors.h).
 *
 * The input is a whole file image, given to sft_st_from_memory. It must be
 * accepted or refused with a reason. When accepted, every invariant the
 * header promises is checked, and every tensor's bytes are read (ASan sees
 * any read outside the input):
 *  - names are unique, sft_st_find finds each at its own index;
 *  - dtype known, 0 <= ndim <= SFT_ST_MAX_DIMS, dimensions >= 0;
 *  - nbytes = element count x dtype size;
 *  - data lies in the data region (after the 8 + N header bytes), or, for an
 *    F32/BF16/F16 tensor that was not aligned there, in an aligned copy;
 *  - the ranges in the data region do not overlap;
 *  - sft_st_get agrees: usable dtypes give rows x cols of the right size,
 *    others are refused with a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t dsize[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1, 1, 1, 2, 4, 8};

typedef struct {
    size_t b, e;
} rng;

static int rng_cmp(const void *a, const void *b)
{
    const rng *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    sft_st *st = sft_st_from_memory(data, size, err, sizeof err);
    if (!st) {
        if (!err[0] || strncmp(err, "<memory>: ", 10) != 0) abort();
        return 0;
    }
    if (size < 8) abort();
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    if (hlen > size - 8) abort();
    const uint8_t *d0 = data + 8 + hlen, *d1 = data + size;
    size_t n = sft_st_count(st);
    rng *r = malloc((n ? n : 1) * sizeof *r);
    if (!r) abort();
    size_t nr = 0;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        const sft_st_tensor *t = sft_st_at(st, i);
        if (!t || !t->name || sft_st_find(st, t->name) != t) abort();
        if ((unsigned)t->dtype >= sizeof dsize / sizeof dsize[0]) abort();
        if (t->ndim < 0 || t->ndim > SFT_ST_MAX_DIMS || t->file != 0) abort();
        unsigned __int128 count = 1;
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] < 0) abort();
            count *= (unsigned __int128)t->shape[k];
            if (count > ((unsigned __int128)1 << 64)) count = (unsigned __int128)1 << 64; /* saturate */
        }
        if (count * dsize[t->dtype] != t->nbytes) abort();
        const uint8_t *p = t->data;
        if (t->nbytes) {
            if (p >= d0 && p <= d1) {
                if ((size_t)(d1 - p) < t->nbytes) abort();
                r[nr].b = (size_t)(p - d0);
                r[nr].e = r[nr].b + t->nbytes;
                nr++;
            } else {
                /* an aligned copy, only for usable dtypes */
                if (t->dtype > SFT_ST_F16 || (uintptr_t)p % dsize[t->dtype]) abort();
            }
            for (size_t k = 0; k < t->nbytes; k++) sink ^= p[k];
        }
        nn_mat m;
        int rc = sft_st_get(st, t->name, 0, 0, &m, err, sizeof err);
        if (t->dtype <= SFT_ST_F16) {
            int lead = 0;
            while (t->ndim - lead > 2 && t->shape[lead] == 1) lead++;
            if ((rc == 0) != (t->ndim - lead <= 2)) abort();
            if (rc == 0) {
                if (m.rows < 0 || m.cols < 0 || (size_t)m.rows * (size_t)m.cols * dsize[t->dtype] != t->nbytes)
                    abort();
                if ((m.data != t->data) || (uintptr_t)m.data % dsize[t->dtype]) abort();
                if (sft_st_get(st, t->name, m.rows ? m.rows : -1, m.cols ? m.cols : -1, &m, err, sizeof err) != 0)
                    abort();
                if (m.rows > 0 && sft_st_get(st, t->name, m.rows + 1, 0, &m, err, sizeof err) == 0) abort();
            }
        } else if (rc == 0 || !strstr(err, "only F32, BF16 and F16 are supported")) {
            abort();
        }
    }
    qsort(r, nr, sizeof *r, rng_cmp);
    for (size_t i = 1; i < nr; i++)
        if (r[i].b < r[i - 1].e) abort();
    (void)sft_st_metadata(st, "format");
    nn_mat m;
    /* a name the file does not have (the fuzzer can write any name, this
     * one too) is an error */
    if (!sft_st_find(st, "\x01no such tensor") && sft_st_get(st, "\x01no such tensor", 0, 0, &m, err, sizeof err) == 0)
        abort();
    sft_st_close(st);
    free(r);
    (void)sink;
    return 0;
}
