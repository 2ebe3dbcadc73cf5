/* Unit tests of lib/nn/safetensors: files built here, in memory and in a
 * temporary directory (one file, shards with an index, an adapter), read
 * back through the public API; every way a file can be malformed is
 * refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nn/safetensors.h"

/* ---- a small writer ---- */

typedef struct {
    uint8_t *p;
    size_t len;
} image;

/* 8-byte little-endian header size, the header (padded with pad spaces),
 * then dlen bytes of data. */
static image mk_pad(const char *hdr, size_t pad, const void *data, size_t dlen)
{
    size_t hl = strlen(hdr) + pad;
    image im;
    im.len = 8 + hl + dlen;
    im.p = malloc(im.len ? im.len : 1);
    assert_non_null(im.p);
    for (int i = 0; i < 8; i++) im.p[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(im.p + 8, hdr, strlen(hdr));
    memset(im.p + 8 + strlen(hdr), ' ', pad);
    if (dlen) memcpy(im.p + 8 + hl, data, dlen);
    return im;
}

/* As mk_pad, padding the header so that the data starts 8-byte aligned. */
static image mk(const char *hdr, const void *data, size_t dlen)
{
    size_t hl = strlen(hdr);
    return mk_pad(hdr, (8 - (8 + hl) % 8) % 8, data, dlen);
}

static void write_file(const char *path, const image *im)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (im->len) assert_int_equal(fwrite(im->p, 1, im->len, f), im->len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *s)
{
    image im = {(uint8_t *)(uintptr_t)s, strlen(s)};
    write_file(path, &im);
}

static char *tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/sft-st-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The memory image must be refused with a message holding frag. */
static void expect_mem_error(const char *hdr, const void *data, size_t dlen, const char *frag)
{
    image im = mk(hdr, data, dlen);
    char err[512] = "";
    sft_st *st = sft_st_from_memory(im.p, im.len, err, sizeof err);
    if (st || !strstr(err, frag)) fail_msg("header %s: expected an error with \"%s\", got \"%s\"", hdr, frag, err);
    assert_non_null(strstr(err, "<memory>: "));
    free(im.p);
}

static const float F32DATA[6] = {1, 2, 3, 4, 5, 6};

/* ---- tests ---- */

static void test_valid_memory(void **state)
{
    (void)state;
    uint8_t data[24 + 8 + 8 + 16];
    memcpy(data, F32DATA, 24);
    const uint16_t bf[4] = {0x3f80, 0x4000, 0x4040, 0x4080}; /* 1 2 3 4 */
    memcpy(data + 24, bf, 8);
    const uint16_t hf[4] = {0x3c00, 0x4000, 0x4200, 0x4400}; /* 1 2 3 4 */
    memcpy(data + 32, hf, 8);
    const int64_t ii[2] = {7, -7};
    memcpy(data + 40, ii, 16);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[1,2,2],\"data_offsets\":[32,40]},"
                      "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[40,56]},"
                      "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[56,56]},"
                      "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    /* "s" overlaps "w": refused; without it the file is valid */
    expect_mem_error(hdr, data, sizeof data, "overlap");
    const char *ok = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
                     "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                     "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                     "\"h\":{\"dtype\":\"F16\",\"shape\":[1,2,2],\"data_offsets\":[32,40]},"
                     "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[40,56]},"
                     "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[56,56]}}";
    image im = mk(ok, data, sizeof data);
    char err[512] = "";
    sft_st *st = sft_st_from_memory(im.p, im.len, err, sizeof err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(sft_st_count(st), 5);
    const char *order[] = {"w", "b", "h", "i", "e"};
    for (size_t i = 0; i < 5; i++) assert_string_equal(sft_st_at(st, i)->name, order[i]);
    assert_null(sft_st_at(st, 5));
    assert_string_equal(sft_st_metadata(st, "format"), "pt");
    assert_string_equal(sft_st_metadata(st, "note"), "x");
    assert_null(sft_st_metadata(st, "nope"));
    assert_null(sft_st_find(st, "__metadata__"));
    assert_null(sft_st_find(st, "x"));
    const sft_st_tensor *t = sft_st_find(st, "h");
    assert_non_null(t);
    assert_int_equal(t->dtype, SFT_ST_F16);
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[2], 2);
    assert_int_equal(t->nbytes, 8);
    assert_int_equal(sft_st_find(st, "i")->dtype, SFT_ST_I64);
    assert_int_equal(sft_st_find(st, "e")->nbytes, 0);
    assert_string_equal(sft_st_dtype_name(SFT_ST_BF16), "BF16");
    assert_string_equal(sft_st_dtype_name(SFT_ST_F8_E4M3), "F8_E4M3");

    nn_mat m;
    assert_int_equal(sft_st_get(st, "w", 2, 3, &m, err, sizeof err), 0);
    assert_int_equal(m.dtype, NN_F32);
    assert_int_equal(m.rows, 2);
    assert_int_equal(m.cols, 3);
    assert_memory_equal(m.data, F32DATA, 24);
    assert_int_equal(sft_st_get(st, "w", 0, 0, &m, err, sizeof err), 0);
    assert_int_equal(sft_st_get(st, "b", 1, 4, &m, err, sizeof err), 0);
    assert_int_equal(m.dtype, NN_BF16);
    assert_int_equal(m.rows, 1);
    assert_int_equal(m.cols, 4);
    assert_int_equal(((const uint16_t *)m.data)[1], 0x4000);
    assert_int_equal(sft_st_get(st, "b", -1, 4, &m, err, sizeof err), 0);
    assert_int_equal(sft_st_get(st, "h", 2, 2, &m, err, sizeof err), 0); /* leading 1 dropped */
    assert_int_equal(m.dtype, NN_F16);
    assert_int_equal(m.rows, 2);

    assert_int_equal(sft_st_get(st, "w", 3, 2, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "tensor \"w\" has shape [2, 3], expected [3, 2]"));
    assert_int_equal(sft_st_get(st, "w", 0, 2, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected [?, 2]"));
    assert_int_equal(sft_st_get(st, "b", 0, 5, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "has shape [4], expected [5]"));
    assert_int_equal(sft_st_get(st, "i", 0, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "tensor \"i\" is I64; only F32, BF16 and F16 are supported"));
    assert_int_equal(sft_st_get(st, "model.layers.3.mlp.up_proj.weight", 0, 0, &m, err, sizeof err), -1);
    assert_string_equal(err, "<memory>: missing tensor \"model.layers.3.mlp.up_proj.weight\"");
    sft_st_close(st);
    free(im.p);
}

static void test_three_dims(void **state)
{
    (void)state;
    float d[8] = {0};
    image im = mk("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2,2],\"data_offsets\":[0,32]},"
                  "\"u\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,8],\"data_offsets\":[0,0]}}",
                  d, sizeof d);
    char err[256];
    /* "u" claims 32 bytes in [0,0): refused */
    assert_null(sft_st_from_memory(im.p, im.len, err, sizeof err));
    assert_non_null(strstr(err, "do not match shape [1, 1, 1, 1, 8] of F32 (32 bytes)"));
    free(im.p);
    float d2[16] = {0};
    im = mk("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2,2],\"data_offsets\":[0,32]},"
            "\"u\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,8],\"data_offsets\":[32,64]}}",
            d2, sizeof d2);
    sft_st *st = sft_st_from_memory(im.p, im.len, err, sizeof err);
    if (!st) fail_msg("%s", err);
    nn_mat m;
    assert_int_equal(sft_st_get(st, "t", 0, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "has shape [2, 2, 2], not a matrix or a vector"));
    assert_int_equal(sft_st_get(st, "u", 1, 8, &m, err, sizeof err), 0);
    assert_int_equal(m.rows, 1);
    assert_int_equal(m.cols, 8);
    sft_st_close(st);
    free(im.p);
}

static void test_padding_and_alignment(void **state)
{
    (void)state;
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
    /* header padded with spaces, data at an odd address: the handle hands
     * out an aligned copy */
    size_t hl = strlen(hdr);
    size_t pad = (8 - (8 + hl) % 8) % 8 + 1;
    image im = mk_pad(hdr, pad, F32DATA, 12);
    char err[256];
    sft_st *st = sft_st_from_memory(im.p, im.len, err, sizeof err);
    if (!st) fail_msg("%s", err);
    nn_mat m;
    assert_int_equal(sft_st_get(st, "a", 1, 3, &m, err, sizeof err), 0);
    assert_int_equal((uintptr_t)m.data % 4, 0);
    assert_memory_equal(m.data, F32DATA, 12);
    sft_st_close(st);
    free(im.p);
    /* extra bytes after the data are tolerated, a hole too */
    uint8_t d[40] = {0};
    im = mk("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", d, sizeof d);
    st = sft_st_from_memory(im.p, im.len, err, sizeof err);
    if (!st) fail_msg("%s", err);
    sft_st_close(st);
    free(im.p);
    /* an empty header object and no data */
    im = mk_pad("{}", 0, NULL, 0);
    st = sft_st_from_memory(im.p, im.len, err, sizeof err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(sft_st_count(st), 0);
    assert_null(sft_st_find(st, "a"));
    sft_st_close(st);
    free(im.p);
}

static void test_rejections(void **state)
{
    (void)state;
    uint8_t d[64] = {0};
    char err[256];
    /* short and empty */
    assert_null(sft_st_from_memory(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "empty file"));
    assert_null(sft_st_from_memory(d, 5, err, sizeof err));
    assert_non_null(strstr(err, "too short (5 bytes)"));
    /* header size past the end, and absurd */
    uint8_t h[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_null(sft_st_from_memory(h, sizeof h, err, sizeof err));
    assert_non_null(strstr(err, "header size 100 is past the end of the file (16 bytes"));
    uint8_t big[16] = {0, 0, 0, 0, 0, 0, 0, 1};
    assert_null(sft_st_from_memory(big, sizeof big, err, sizeof err));
    assert_non_null(strstr(err, "over the limit"));
    uint8_t zero[16] = {0};
    assert_null(sft_st_from_memory(zero, sizeof zero, err, sizeof err));
    assert_non_null(strstr(err, "too short for a JSON object"));

    expect_mem_error("[1,2]", d, 0, "does not start with '{'");
    expect_mem_error("{\"a\":", d, 0, "not valid JSON");
    expect_mem_error("{} {}", d, 0, "bytes after its JSON object");
    expect_mem_error("{\"a\":1}", d, 0, "tensor \"a\" is not an object");
    expect_mem_error("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4, "\"dtype\" is missing");
    expect_mem_error("{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4, "\"dtype\" is not a string");
    expect_mem_error("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4, "unknown dtype \"Q4\"");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", d, 4, "\"shape\" is missing");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d, 4,
                     "shape[0] is not a non-negative integer");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2.5],\"data_offsets\":[0,4]}}", d, 4,
                     "shape[1] is not a non-negative integer");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", d, 4,
                     "shape[0] is not a non-negative integer");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", d, 4,
                     "9 dimensions");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", d, 4, "\"data_offsets\" is missing");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", d, 4,
                     "not an array of two integers");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", d, 4,
                     "\"data_offsets\" are not non-negative integers");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", d, 4,
                     "\"data_offsets\" are not non-negative integers");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", d, 16, "end before they begin");
    expect_mem_error("{\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[0,80]}}", d, 64,
                     "tensor \"lm_head.weight\": data_offsets [0, 80) do not match shape [4, 4] of F32 (64 bytes)");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[60,76]}}", d, 64,
                     "past the end of the data (64 bytes");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,4]}}", d,
                     4, "too large");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                     d, 64, "tensors \"a\" and \"b\" overlap");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                     d, 64, "tensor \"a\" appears twice");
    expect_mem_error("{\"__metadata__\":{\"format\":1}}", d, 0, "\"__metadata__\" value \"format\" is not a string");
    expect_mem_error("{\"__metadata__\":[]}", d, 0, "\"__metadata__\" is not an object");
    /* a short err buffer is cut, never overrun */
    char small[8];
    assert_null(sft_st_from_memory(d, 3, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_files(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char path[256], err[512];
    /* one file, mapped */
    image im = mk("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", F32DATA, 24);
    snprintf(path, sizeof path, "%s/one.safetensors", dir);
    write_file(path, &im);
    free(im.p);
    sft_st *st = sft_st_open(path, err, sizeof err);
    if (!st) fail_msg("%s", err);
    nn_mat m;
    assert_int_equal(sft_st_get(st, "w", 2, 3, &m, err, sizeof err), 0);
    assert_memory_equal(m.data, F32DATA, 24);
    assert_int_equal(sft_st_get(st, "v", 2, 3, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "one.safetensors: missing tensor \"v\""));
    assert_int_equal(sft_st_get(st, "w", 3, 3, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "one.safetensors: tensor \"w\" has shape [2, 3], expected [3, 3]"));
    sft_st_close(st);

    /* empty, short, missing, a directory */
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    write_text(path, "");
    assert_null(sft_st_open(path, err, sizeof err));
    assert_non_null(strstr(err, "empty.safetensors: empty file"));
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    write_text(path, "abc");
    assert_null(sft_st_open(path, err, sizeof err));
    assert_non_null(strstr(err, "short.safetensors: file too short (3 bytes)"));
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    assert_null(sft_st_open(path, err, sizeof err));
    assert_non_null(strstr(err, "none.safetensors: No such file"));
    assert_null(sft_st_open(dir, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    /* a truncated file */
    im = mk("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", F32DATA, 20);
    snprintf(path, sizeof path, "%s/trunc.safetensors", dir);
    write_file(path, &im);
    free(im.p);
    assert_null(sft_st_open(path, err, sizeof err));
    assert_non_null(strstr(err, "trunc.safetensors: tensor \"w\": data_offsets [0, 24) are past the end"));
    /* a directory without weights */
    assert_null(sft_st_open_dir(dir, "model", err, sizeof err));
    assert_non_null(strstr(err, "no model.safetensors or model.safetensors.index.json"));
    rm_rf(dir);
}

static void write_shards(const char *dir)
{
    char path[256];
    float d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    image a = mk("{\"__metadata__\":{\"format\":\"pt\"},"
                 "\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                 "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                 d, 24);
    image b = mk("{\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", d + 4, 16);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    write_file(path, &a);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_file(path, &b);
    free(a.p);
    free(b.p);
}

static void write_index(const char *dir, const char *json)
{
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_text(path, json);
}

static void expect_dir_error(const char *dir, const char *frag)
{
    char err[512] = "";
    sft_st *st = sft_st_open_dir(dir, "model", err, sizeof err);
    if (st || !strstr(err, frag)) fail_msg("expected an error with \"%s\", got \"%s\"", frag, err);
}

static void test_sharded(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char err[512], path[256];
    write_shards(dir);
    /* listed in the index in another order than the shards' names */
    write_index(dir, "{\"metadata\":{\"total_size\":40},\"weight_map\":{"
                     "\"lm_head.weight\":\"model-00002-of-00002.safetensors\","
                     "\"model.embed_tokens.weight\":\"model-00001-of-00002.safetensors\","
                     "\"model.norm.weight\":\"model-00001-of-00002.safetensors\"}}");
    sft_st *st = sft_st_open_dir(dir, "model", err, sizeof err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(sft_st_count(st), 3);
    assert_string_equal(sft_st_at(st, 0)->name, "model.embed_tokens.weight");
    assert_string_equal(sft_st_at(st, 2)->name, "lm_head.weight");
    assert_int_equal(sft_st_at(st, 0)->file, 0);
    assert_int_equal(sft_st_at(st, 2)->file, 1);
    assert_string_equal(sft_st_metadata(st, "format"), "pt");
    nn_mat m;
    assert_int_equal(sft_st_get(st, "lm_head.weight", 2, 2, &m, err, sizeof err), 0);
    assert_true(((const float *)m.data)[0] == 5.0f);
    assert_int_equal(sft_st_get(st, "model.norm.weight", 1, 2, &m, err, sizeof err), 0);
    assert_true(((const float *)m.data)[1] == 6.0f);
    assert_int_equal(sft_st_get(st, "nope", 0, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "model.safetensors.index.json: missing tensor \"nope\""));
    sft_st_close(st);

    /* a tensor the map puts in the wrong shard, or in no shard */
    write_index(dir, "{\"weight_map\":{\"lm_head.weight\":\"model-00001-of-00002.safetensors\","
                     "\"model.norm.weight\":\"model-00001-of-00002.safetensors\"}}");
    expect_dir_error(dir, "tensor \"lm_head.weight\" is not in its shard model-00001-of-00002.safetensors");
    write_index(dir, "{\"weight_map\":{\"lm_head.bias\":\"model-00002-of-00002.safetensors\"}}");
    expect_dir_error(dir, "tensor \"lm_head.bias\" is not in its shard");
    /* a missing shard, a path outside the directory, bad index files */
    write_index(dir, "{\"weight_map\":{\"x\":\"model-00003-of-00002.safetensors\"}}");
    expect_dir_error(dir, "model-00003-of-00002.safetensors: No such file");
    write_index(dir, "{\"weight_map\":{\"x\":\"../model.safetensors\"}}");
    expect_dir_error(dir, "is not a file name in the directory");
    write_index(dir, "{\"weight_map\":{\"x\":3}}");
    expect_dir_error(dir, "\"x\" does not name a file");
    write_index(dir, "{\"weight_map\":{}}");
    expect_dir_error(dir, "\"weight_map\" is empty");
    write_index(dir, "{\"metadata\":{}}");
    expect_dir_error(dir, "\"weight_map\" is missing");
    write_index(dir, "{\"weight_map\":");
    expect_dir_error(dir, "not valid JSON");
    /* the same name in two shards */
    float d[4] = {0};
    image c = mk("{\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", d, 16);
    snprintf(path, sizeof path, "%s/model-00003-of-00003.safetensors", dir);
    write_file(path, &c);
    free(c.p);
    write_index(dir, "{\"weight_map\":{\"lm_head.weight\":\"model-00002-of-00002.safetensors\","
                     "\"x\":\"model-00003-of-00003.safetensors\"}}");
    expect_dir_error(dir, "tensor \"lm_head.weight\" is in two shards");
    /* model.safetensors, when present, is taken before the index */
    image one = mk("{\"only\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_file(path, &one);
    st = sft_st_open_dir(dir, "model", err, sizeof err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(sft_st_count(st), 1);
    assert_non_null(sft_st_find(st, "only"));
    sft_st_close(st);
    /* the adapter of a PEFT directory */
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    image ad = mk("{\"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight\":"
                  "{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[0,16]}}",
                  F32DATA, 16);
    write_file(path, &ad);
    free(ad.p);
    st = sft_st_open_dir(dir, "adapter_model", err, sizeof err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(sft_st_get(st, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", 1, 4, &m, err,
                                sizeof err),
                     0);
    sft_st_close(st);
    /* a broken shard file names itself */
    write_file(path, &(image){one.p, 7});
    assert_null(sft_st_open_dir(dir, "adapter_model", err, sizeof err));
    assert_non_null(strstr(err, "adapter_model.safetensors: file too short (7 bytes)"));
    free(one.p);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_memory),
        cmocka_unit_test(test_three_dims),
        cmocka_unit_test(test_padding_and_alignment),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_sharded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
