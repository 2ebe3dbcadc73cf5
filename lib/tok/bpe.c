/* The BPE model of Hugging Face tokenizers: a vocabulary, merges by rank,
 * byte-level (GPT-2) or character-level with byte fallback (SentencePiece
 * style). A word is merged as HF does: always the pair of lowest rank, the
 * leftmost of equals; short words by scanning, long ones with a heap.
 * Encoded words are cached per thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tok/internal.h"

/* ---- GPT-2 byte-to-unicode: printable bytes stand for themselves, the
 * others (controls, space, 127-160, 173) for 256, 257, ... in order. ---- */

static int byte_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
}

/* The 68 others, in order: 0-32 → 256-288, 127-160 → 289-322, 173 → 323. */
uint32_t tok_byte_to_cp(unsigned b)
{
    if (byte_printable(b)) return b;
    if (b <= 32) return 256 + b;
    if (b >= 127 && b <= 160) return 289 + (b - 127);
    return 323; /* 173 */
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256) return byte_printable(cp) ? (int)cp : -1;
    if (cp <= 288) return (int)(cp - 256);
    if (cp <= 322) return (int)(127 + cp - 289);
    return cp == 323 ? 173 : -1;
}

/* ---- string map ---- */

static int strmap_build(tok_strmap *h, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    h->slot = calloc(cap, sizeof *h->slot);
    h->hash = calloc(cap, sizeof *h->hash);
    h->mask = cap - 1;
    return h->slot && h->hash ? 0 : -1;
}

static void strmap_free(tok_strmap *h)
{
    free(h->slot);
    free(h->hash);
    memset(h, 0, sizeof *h);
}

/* ---- vocabulary ---- */

int tok_bpe_init(tok_bpe *m, size_t nvocab)
{
    memset(m, 0, sizeof *m);
    m->n = nvocab;
    m->unk = -1;
    m->off = calloc(nvocab ? nvocab : 1, sizeof *m->off);
    m->len = calloc(nvocab ? nvocab : 1, sizeof *m->len);
    for (int b = 0; b < 256; b++) m->byte_id[b] = -1;
    if (!m->off || !m->len) return -1;
    for (size_t i = 0; i < nvocab; i++) m->len[i] = UINT32_MAX; /* a hole until set */
    return 0;
}

void tok_bpe_free(tok_bpe *m)
{
    free(m->arena);
    free(m->off);
    free(m->len);
    if (m->raw != m->arena) free(m->raw);
    if (m->raw_off != m->off) free(m->raw_off);
    if (m->raw_len != m->len) free(m->raw_len);
    strmap_free(&m->by_raw);
    free(m->mkey);
    free(m->mrank);
    free(m->mnew);
    memset(m, 0, sizeof *m);
}

static size_t arena_cap(size_t len)
{
    size_t c = 4096;
    while (c < len) c *= 2;
    return c;
}

int tok_bpe_set_token(tok_bpe *m, int32_t id, const char *s, size_t n)
{
    if (id < 0 || (size_t)id >= m->n || n >= UINT32_MAX) return -1;
    size_t need = m->arena_len + n;
    if (!m->arena || arena_cap(need) != arena_cap(m->arena_len)) {
        char *p = realloc(m->arena, arena_cap(need));
        if (!p) return -1;
        m->arena = p;
    }
    memcpy(m->arena + m->arena_len, s, n);
    m->off[id] = (uint32_t)m->arena_len;
    m->len[id] = (uint32_t)n;
    m->arena_len += n;
    return 0;
}

static int32_t strmap_get(const tok_strmap *h, const char *arena, const uint32_t *off,
                          const uint32_t *len, const char *s, size_t n)
{
    if (!h->slot) return -1;
    uint64_t hv = tok_hash(s, n);
    uint32_t h32 = (uint32_t)hv;
    for (size_t i = hv & h->mask;; i = (i + 1) & h->mask) {
        uint32_t v = h->slot[i];
        if (!v) return -1;
        uint32_t id = v - 1;
        if (h->hash[i] == h32 && len[id] == n && memcmp(arena + off[id], s, n) == 0)
            return (int32_t)id;
    }
}

static void strmap_put(tok_strmap *h, const char *arena, const uint32_t *off, const uint32_t *len,
                       int32_t id)
{
    const char *s = arena + off[id];
    size_t n = len[id];
    uint64_t hv = tok_hash(s, n);
    for (size_t i = hv & h->mask;; i = (i + 1) & h->mask) {
        if (!h->slot[i]) {
            h->slot[i] = (uint32_t)id + 1;
            h->hash[i] = (uint32_t)hv;
            return;
        }
        uint32_t o = h->slot[i] - 1;
        if (len[o] == n && memcmp(arena + off[o], s, n) == 0) return; /* first id wins */
    }
}

/* Byte-level tokens are stored as GPT-2 code points; the model works on the
 * bytes they stand for. */
static int build_raw(tok_bpe *m)
{
    m->raw = malloc(m->arena_len ? m->arena_len : 1);
    m->raw_off = malloc(m->n * sizeof *m->raw_off + 1);
    m->raw_len = malloc(m->n * sizeof *m->raw_len + 1);
    if (!m->raw || !m->raw_off || !m->raw_len) return -1;
    size_t at = 0;
    for (size_t id = 0; id < m->n; id++) {
        m->raw_off[id] = (uint32_t)at;
        m->raw_len[id] = UINT32_MAX;
        if (m->len[id] == UINT32_MAX) continue;
        const unsigned char *p = (const unsigned char *)m->arena + m->off[id];
        const unsigned char *e = p + m->len[id];
        size_t start = at;
        int ok = 1;
        while (p < e) {
            uint32_t cp;
            int k = utf8_decode(p, (size_t)(e - p), &cp);
            int b = k > 0 ? tok_cp_to_byte(cp) : -1;
            if (b < 0) {
                ok = 0;
                break;
            }
            m->raw[at++] = (char)b;
            p += k;
        }
        if (ok)
            m->raw_len[id] = (uint32_t)(at - start);
        else
            at = start;
    }
    return 0;
}

int tok_bpe_index(tok_bpe *m, char *err, size_t errlen)
{
    if (m->byte_level) {
        if (build_raw(m) != 0) goto oom;
    } else {
        m->raw = m->arena;
        m->raw_off = m->off;
        m->raw_len = m->len;
    }
    if (strmap_build(&m->by_raw, m->n) != 0) goto oom;
    for (size_t id = 0; id < m->n; id++)
        if (m->raw_len[id] != UINT32_MAX)
            strmap_put(&m->by_raw, m->raw, m->raw_off, m->raw_len, (int32_t)id);
    for (int b = 0; b < 256; b++) {
        char s[8];
        if (m->byte_level) {
            s[0] = (char)b;
            m->byte_id[b] = tok_bpe_lookup_raw(m, s, 1);
            if (m->byte_id[b] < 0) {
                snprintf(err, errlen, "byte-level vocabulary has no token for byte 0x%02X", b);
                return -1;
            }
        } else if (m->byte_fallback) {
            snprintf(s, sizeof s, "<0x%02X>", b);
            m->byte_id[b] = tok_bpe_lookup_raw(m, s, 6);
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int32_t tok_bpe_lookup_raw(const tok_bpe *m, const char *s, size_t n)
{
    return strmap_get(&m->by_raw, m->raw, m->raw_off, m->raw_len, s, n);
}

int32_t tok_bpe_lookup_piece(const tok_bpe *m, const char *s, size_t n)
{
    if (!m->byte_level) return tok_bpe_lookup_raw(m, s, n);
    char buf[256];
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        uint32_t cp;
        int c = utf8_decode(p, (size_t)(e - p), &cp);
        int b = c > 0 ? tok_cp_to_byte(cp) : -1;
        if (b < 0 || k == sizeof buf) return -1;
        buf[k++] = (char)b;
        p += c;
    }
    return tok_bpe_lookup_raw(m, buf, k);
}

/* ---- merges ---- */

static uint64_t pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static size_t pair_slot(uint64_t k, size_t mask)
{
    k *= 0x9e3779b97f4a7c15ull;
    return (size_t)(k >> 20) & mask;
}

int tok_bpe_merges_reserve(tok_bpe *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    free(m->mkey);
    free(m->mrank);
    free(m->mnew);
    m->mkey = malloc(cap * sizeof *m->mkey);
    m->mrank = malloc(cap * sizeof *m->mrank);
    m->mnew = malloc(cap * sizeof *m->mnew);
    if (!m->mkey || !m->mrank || !m->mnew) return -1;
    memset(m->mkey, 0xff, cap * sizeof *m->mkey);
    m->mmask = cap - 1;
    m->nmerges = 0;
    return 0;
}

int tok_bpe_add_merge(tok_bpe *m, const char *a, size_t alen, const char *b, size_t blen)
{
    if (m->nmerges * 2 + 2 > m->mmask) return -1; /* reserve first */
    int32_t ia = tok_bpe_lookup_piece(m, a, alen), ib = tok_bpe_lookup_piece(m, b, blen);
    char stack[512];
    char *ab = alen + blen <= sizeof stack ? stack : malloc(alen + blen);
    if (!ab) return -1;
    memcpy(ab, a, alen);
    memcpy(ab + alen, b, blen);
    int32_t inew = tok_bpe_lookup_piece(m, ab, alen + blen);
    if (ab != stack) free(ab);
    if (ia < 0 || ib < 0 || inew < 0) return -2;
    uint64_t k = pair_key(ia, ib);
    for (size_t i = pair_slot(k, m->mmask);; i = (i + 1) & m->mmask) {
        if (m->mkey[i] == k) return 0; /* a repeated merge keeps its first rank */
        if (m->mkey[i] == UINT64_MAX) {
            m->mkey[i] = k;
            m->mrank[i] = (uint32_t)m->nmerges++;
            m->mnew[i] = inew;
            return 0;
        }
    }
}

/* The rank of merging a and b (UINT32_MAX: none) and its result. */
static inline uint32_t merge_rank(const tok_bpe *m, int32_t a, int32_t b, int32_t *out)
{
    uint64_t k = pair_key(a, b);
    for (size_t i = pair_slot(k, m->mmask);; i = (i + 1) & m->mmask) {
        uint64_t v = m->mkey[i];
        if (v == k) {
            *out = m->mnew[i];
            return m->mrank[i];
        }
        if (v == UINT64_MAX) return UINT32_MAX;
    }
}

/* ---- one word ---- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * size);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* The initial symbols of a word: bytes (byte-level) or characters, with
 * byte fallback or the unknown token. Returns the count, or -1 (memory). */
static long initial_symbols(const tok_bpe *m, tok_bpe_scratch *s, const char *w, size_t n)
{
    if (grow((void **)&s->sym, &s->sym_cap, n + 1, sizeof *s->sym) != 0) return -1;
    tok_sym *sym = s->sym;
    size_t k = 0;
    if (m->byte_level) {
        for (size_t i = 0; i < n; i++)
            sym[k++] = (tok_sym){m->byte_id[(unsigned char)w[i]], (uint32_t)i, 1, 0, 0};
        return (long)k;
    }
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int c = utf8_decode((const unsigned char *)w + i, n - i, &cp);
        if (c <= 0) c = 1;
        int32_t id = tok_bpe_lookup_raw(m, w + i, (size_t)c);
        if (id >= 0) {
            sym[k++] = (tok_sym){id, (uint32_t)i, (uint32_t)c, 0, 0};
        } else {
            int all = m->byte_fallback;
            for (int j = 0; all && j < c; j++) all = m->byte_id[(unsigned char)w[i + j]] >= 0;
            if (all) {
                for (int j = 0; j < c; j++)
                    sym[k++] = (tok_sym){m->byte_id[(unsigned char)w[i + j]], (uint32_t)(i + j), 1, 0, 0};
            } else if (m->unk >= 0) {
                if (m->fuse_unk && k > 0 && sym[k - 1].id == m->unk &&
                    sym[k - 1].start + sym[k - 1].len == i)
                    sym[k - 1].len += (uint32_t)c;
                else
                    sym[k++] = (tok_sym){m->unk, (uint32_t)i, (uint32_t)c, 0, 0};
            }
            /* no unknown token: the character is dropped, as HF does */
        }
        i += (size_t)c;
    }
    return (long)k;
}

/* Short words: scan for the lowest rank each round (a merge only changes
 * the ranks next to it). */
static size_t merge_scan(const tok_bpe *m, tok_sym *sym, size_t k, uint32_t *rank, int32_t *res)
{
    for (size_t i = 0; i + 1 < k; i++) rank[i] = merge_rank(m, sym[i].id, sym[i + 1].id, &res[i]);
    while (k > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < k; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == UINT32_MAX) break;
        sym[best].id = res[best];
        sym[best].len += sym[best + 1].len;
        size_t after = k - best - 2; /* symbols after the merged pair */
        memmove(sym + best + 1, sym + best + 2, after * sizeof *sym);
        if (after > 0) {
            memmove(rank + best + 1, rank + best + 2, (after - 1) * sizeof *rank);
            memmove(res + best + 1, res + best + 2, (after - 1) * sizeof *res);
        }
        k--;
        if (best > 0) rank[best - 1] = merge_rank(m, sym[best - 1].id, sym[best].id, &res[best - 1]);
        if (best + 1 < k) rank[best] = merge_rank(m, sym[best].id, sym[best + 1].id, &res[best]);
    }
    return k;
}

/* Min-heap of (rank << 32 | position): lowest rank, then leftmost. */
static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0, len = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (len) h[i] = v;
    return top;
}

/* Long words: linked symbols and a heap of candidate merges; a popped
 * candidate whose pair has changed since it was pushed is skipped. */
static int merge_heap(const tok_bpe *m, tok_bpe_scratch *s, size_t k)
{
    tok_sym *sym = s->sym;
    if (grow((void **)&s->heap, &s->heap_cap, 2 * k + 2, sizeof *s->heap) != 0) return -1;
    size_t hn = 0;
    for (size_t i = 0; i < k; i++) {
        sym[i].prev = (int32_t)i - 1;
        sym[i].next = i + 1 < k ? (int32_t)i + 1 : -1;
    }
    int32_t res;
    for (size_t i = 0; i + 1 < k; i++) {
        uint32_t r = merge_rank(m, sym[i].id, sym[i + 1].id, &res);
        if (r != UINT32_MAX) heap_push(s->heap, &hn, (uint64_t)r << 32 | i);
    }
    while (hn) {
        uint64_t top = heap_pop(s->heap, &hn);
        uint32_t r = (uint32_t)(top >> 32), pos = (uint32_t)top;
        tok_sym *a = &sym[pos];
        if (a->len == 0 || a->next < 0) continue;
        tok_sym *b = &sym[a->next];
        if (merge_rank(m, a->id, b->id, &res) != r) continue;
        a->id = res;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) sym[a->next].prev = (int32_t)pos;
        if (grow((void **)&s->heap, &s->heap_cap, hn + 2, sizeof *s->heap) != 0) return -1;
        if (a->prev >= 0) {
            uint32_t r2 = merge_rank(m, sym[a->prev].id, a->id, &res);
            if (r2 != UINT32_MAX) heap_push(s->heap, &hn, (uint64_t)r2 << 32 | (uint32_t)a->prev);
        }
        if (a->next >= 0) {
            uint32_t r2 = merge_rank(m, a->id, sym[a->next].id, &res);
            if (r2 != UINT32_MAX) heap_push(s->heap, &hn, (uint64_t)r2 << 32 | pos);
        }
    }
    size_t out = 0;
    for (int32_t i = 0; i >= 0 && (size_t)i < k; i = sym[i].next) sym[out++] = sym[i];
    return (int)out;
}

/* ---- the word cache ---- */

#define CACHE_SLOTS (1u << 15)
#define CACHE_MAX_WORD 96
#define CACHE_MAX_BYTES (8u << 20)

typedef struct {
    uint32_t wlen, ntok;
} cache_head; /* followed by the word, padded to 4, then ntok (id, len) pairs */

static const cache_head *cache_get(const tok_bpe_scratch *s, uint64_t h, const char *w, size_t n)
{
    if (!s->c_hash) return NULL;
    for (size_t i = h & s->c_mask;; i = (i + 1) & s->c_mask) {
        if (!s->c_hash[i]) return NULL;
        if (s->c_hash[i] == h) {
            const cache_head *e = (const cache_head *)(s->c_data.p + s->c_entry[i]);
            if (e->wlen == n && memcmp(e + 1, w, n) == 0) return e;
        }
    }
}

static void cache_put(tok_bpe_scratch *s, uint64_t h, const char *w, size_t n, const tok_sym *sym,
                      size_t k)
{
    if (!s->c_hash) {
        s->c_hash = calloc(CACHE_SLOTS, sizeof *s->c_hash);
        s->c_entry = malloc(CACHE_SLOTS * sizeof *s->c_entry);
        if (!s->c_hash || !s->c_entry) {
            free(s->c_hash);
            free(s->c_entry);
            s->c_hash = NULL;
            s->c_entry = NULL;
            return; /* no cache, still correct */
        }
        s->c_mask = CACHE_SLOTS - 1;
    }
    if (s->c_used * 4 >= CACHE_SLOTS * 3 || s->c_data.len > CACHE_MAX_BYTES) {
        memset(s->c_hash, 0, CACHE_SLOTS * sizeof *s->c_hash);
        s->c_used = 0;
        s->c_data.len = 0;
    }
    size_t wpad = (n + 3) & ~(size_t)3, at = s->c_data.len;
    size_t need = sizeof(cache_head) + wpad + k * 8;
    if (buf_reserve(&s->c_data, need) != 0) return;
    cache_head *e = (cache_head *)(s->c_data.p + at);
    e->wlen = (uint32_t)n;
    e->ntok = (uint32_t)k;
    memcpy(e + 1, w, n);
    uint32_t *t = (uint32_t *)((char *)(e + 1) + wpad);
    for (size_t i = 0; i < k; i++) {
        t[2 * i] = (uint32_t)sym[i].id;
        t[2 * i + 1] = sym[i].len;
    }
    s->c_data.len += need;
    size_t i = h & s->c_mask;
    while (s->c_hash[i]) i = (i + 1) & s->c_mask;
    s->c_hash[i] = h;
    s->c_entry[i] = (uint32_t)at;
    s->c_used++;
}

void tok_bpe_scratch_free(tok_bpe_scratch *s)
{
    free(s->sym);
    free(s->heap);
    free(s->c_hash);
    free(s->c_entry);
    buf_free(&s->c_data);
    memset(s, 0, sizeof *s);
}

int tok_bpe_word(const tok_bpe *m, tok_bpe_scratch *s, const char *w, size_t n, tok_emit_fn emit,
                 void *ctx)
{
    if (n == 0) return 0;
    uint64_t h = 0;
    if (n <= CACHE_MAX_WORD) {
        h = tok_hash(w, n) | 1;
        const cache_head *e = cache_get(s, h, w, n);
        if (e) {
            const uint32_t *t = (const uint32_t *)((const char *)(e + 1) + ((n + 3) & ~(size_t)3));
            uint32_t at = 0;
            for (uint32_t i = 0; i < e->ntok; i++) {
                if (emit(ctx, (int32_t)t[2 * i], at, at + t[2 * i + 1]) != 0) return -1;
                at += t[2 * i + 1];
            }
            return 0;
        }
    }
    long k;
    if (m->ignore_merges && (k = tok_bpe_lookup_raw(m, w, n)) >= 0) {
        if (grow((void **)&s->sym, &s->sym_cap, 1, sizeof *s->sym) != 0) return -1;
        s->sym[0] = (tok_sym){(int32_t)k, 0, (uint32_t)n, 0, 0};
        k = 1;
    } else {
        k = initial_symbols(m, s, w, n);
        if (k < 0) return -1;
        if (k <= 64) {
            uint32_t rank[64];
            int32_t res[64];
            k = (long)merge_scan(m, s->sym, (size_t)k, rank, res);
        } else {
            k = merge_heap(m, s, (size_t)k);
            if (k < 0) return -1;
        }
    }
    for (long i = 0; i < k; i++)
        if (emit(ctx, s->sym[i].id, s->sym[i].start, s->sym[i].start + s->sym[i].len) != 0) return -1;
    if (h) cache_put(s, h, w, n, s->sym, (size_t)k);
    return 0;
}
