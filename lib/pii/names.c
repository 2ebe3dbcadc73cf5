/* Names: the ones users give and the chat speakers, found in running text.
 *
 * Patterns are looked up by their first two code points: a bitmap of first
 * code points rejects most positions with one load, the rest take one hash
 * probe and a memcmp per pattern in the chain (longest first, so 홍길동
 * wins over 홍길). Hangul names match anywhere, since Korean glues
 * particles and titles to them (길동아, 길동이가, 길동씨한테); Latin names
 * match whole words. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pii/internal.h"
#include "pii/places.h"

/* Speaker labels that are not names, and words people are called by that
 * are common words too. */
static const char *const not_names[] = {
    "회원님", "나", "저", "내", "you", "me", "알 수 없음", "(알 수 없음)", "(알수없음)", "알수없음", "unknown",
    "방장봇", "오픈채팅봇", "카카오톡", "kakaotalk", "엄마", "아빠", "언니", "오빠", "누나", "형",
    "동생", "여보", "자기", "남편", "아내", "와이프", "할머니", "할아버지", "이모", "삼촌", "고모",
    "친구", "선생님", "팀장님", "사장님", "부장님", "과장님", "대리님", "선배", "후배", "멘토님",
    "멘토", "관리자", "운영자", "방장", "부방장", "봇", "system", NULL,
};

void pii_names_init(pii_names *nm)
{
    memset(nm, 0, sizeof *nm);
}

void pii_names_free(pii_names *nm)
{
    buf_free(&nm->text);
    free(nm->pats);
    free(nm->heads);
    free(nm->next);
    free(nm->keys);
    memset(nm, 0, sizeof *nm);
}

static uint32_t fold(uint32_t cp)
{
    return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/* Key of the first two code points of s[0..n); 0 when there are fewer. */
static uint64_t pair_key(const unsigned char *s, size_t n)
{
    size_t l1, l2;
    if (n == 0) return 0;
    uint32_t c1 = fold(pii_decode(s, n, 0, &l1));
    if (l1 >= n) return 0;
    uint32_t c2 = fold(pii_decode(s, n, l1, &l2));
    return ((uint64_t)c1 << 21 | c2) + 1;
}

static size_t bucket_of(const pii_names *nm, uint64_t key)
{
    /* Fibonacci hashing: the top bits of key * 2^64/φ. */
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - nm->bucket_bits));
}

static void link_pattern(pii_names *nm, int32_t idx)
{
    size_t b = bucket_of(nm, nm->keys[idx]);
    int32_t *link = &nm->heads[b];
    while (*link >= 0 && nm->pats[*link].len >= nm->pats[idx].len) link = &nm->next[*link];
    nm->next[idx] = *link;
    *link = idx;
}

static int rehash(pii_names *nm, size_t nbuckets)
{
    int32_t *heads = malloc(nbuckets * sizeof *heads);
    if (!heads) return -1;
    free(nm->heads);
    nm->heads = heads;
    nm->nbuckets = nbuckets;
    nm->bucket_bits = 0;
    while (((size_t)1 << nm->bucket_bits) < nbuckets) nm->bucket_bits++;
    for (size_t i = 0; i < nbuckets; i++) heads[i] = -1;
    for (size_t i = 0; i < nm->npats; i++) link_pattern(nm, (int32_t)i);
    return 0;
}

/* Whether s[0..n) starts with the folded pattern text[0..len), ASCII
 * letters compared without case. */
static int same_bytes(const char *text, const unsigned char *s, size_t n, size_t len)
{
    if (n < len) return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] != (unsigned char)fold(s[i])) return 0;
    return 1;
}

/* Index of the pattern with exactly these bytes (after folding), or -1. */
static int32_t find_pattern(const pii_names *nm, const unsigned char *s, size_t n, uint64_t key)
{
    if (!nm->nbuckets) return -1;
    for (int32_t i = nm->heads[bucket_of(nm, key)]; i >= 0; i = nm->next[i]) {
        const pii_name_pat *p = &nm->pats[i];
        if (nm->keys[i] == key && p->len == n && same_bytes(nm->text.p + p->off, s, n, n)) return i;
    }
    return -1;
}

/* Adds a pattern (or finds it). canon < 0: it is its own canonical name.
 * Returns its index, -2 when it is too short to be a pattern, -1 on ENOMEM. */
static int32_t add_pattern(pii_names *nm, const unsigned char *s, size_t n, int32_t canon, int latin)
{
    uint64_t key = pair_key(s, n);
    if (key == 0) return -2;
    int32_t found = find_pattern(nm, s, n, key);
    if (found >= 0) return found;
    if (nm->npats == nm->cap) {
        size_t cap = nm->cap ? nm->cap * 2 : 64;
        pii_name_pat *pats = realloc(nm->pats, cap * sizeof *pats);
        if (!pats) return -1;
        nm->pats = pats;
        int32_t *next = realloc(nm->next, cap * sizeof *next);
        if (!next) return -1;
        nm->next = next;
        uint64_t *keys = realloc(nm->keys, cap * sizeof *keys);
        if (!keys) return -1;
        nm->keys = keys;
        nm->cap = cap;
    }
    size_t off = nm->text.len;
    if (buf_reserve(&nm->text, n + 1) != 0) return -1;
    for (size_t i = 0; i < n; i++) nm->text.p[off + i] = (char)fold(s[i]);
    nm->text.len += n;
    nm->text.p[nm->text.len] = '\0';
    int32_t idx = (int32_t)nm->npats++;
    nm->pats[idx] = (pii_name_pat){(uint32_t)off, (uint32_t)n, canon >= 0 ? canon : idx, (uint8_t)latin};
    nm->keys[idx] = key;
    if (nm->npats * 2 > nm->nbuckets) {
        if (rehash(nm, nm->nbuckets ? nm->nbuckets * 4 : 256) != 0) { nm->npats--; return -1; }
    } else {
        link_pattern(nm, idx);
    }
    size_t l1;
    uint32_t c1 = fold(pii_decode(s, n, 0, &l1));
    if (c1 < 0x10000) nm->first_bmp[c1 >> 3] |= (uint8_t)(1u << (c1 & 7));
    else nm->any_astral = 1;
    return idx;
}

static int is_hangul_word(const unsigned char *s, size_t n, size_t *syllables)
{
    size_t i = 0, k = 0, len;
    while (i < n) {
        if (!pii_is_hangul(pii_decode(s, n, i, &len))) return 0;
        i += len;
        k++;
    }
    *syllables = k;
    return 1;
}

static int has_ascii_letters_only(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(pii_is_alnum(s[i]) || s[i] == ' ' || s[i] == '.' || s[i] == '-' || s[i] == '\'')) return 0;
    return 1;
}

static int is_not_name(const unsigned char *s, size_t n)
{
    for (const char *const *w = not_names; *w; w++) {
        size_t len = strlen(*w);
        if (len != n) continue;
        size_t i = 0;
        while (i < n && fold(s[i]) == (unsigned char)(*w)[i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

/* Length of the surname when s[0..n) is a Korean full name (surname + 2
 * syllables, or compound surname + 2), else 0. */
static size_t full_name_surname(const unsigned char *s, size_t n)
{
    size_t syl, sur;
    if (!is_hangul_word(s, n, &syl) || (sur = pii_surname_len(s, n)) == 0) return 0;
    return (syl == 3 && sur == 3) || (syl == 4 && sur == 6) ? sur : 0;
}

/* Adds a name; a Korean full name also adds its given name, which stands
 * for the full name. Returns the full name's pattern index, -2 when it is
 * too short, -1 on ENOMEM. */
static int32_t add_name_forms(pii_names *nm, const unsigned char *s, size_t n, int32_t canon)
{
    int32_t full = add_pattern(nm, s, n, canon, 0);
    if (full < 0) return full;
    size_t sur = full_name_surname(s, n);
    if (sur && add_pattern(nm, s + sur, n - sur, nm->pats[full].canon, 0) == -1) return -1;
    return full;
}

int pii_add_name(pii_masker *m, const char *name, size_t n)
{
    const unsigned char *s = (const unsigned char *)name;
    while (n && (s[0] == ' ' || s[0] == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    if (n == 0) return 0;
    if (has_ascii_letters_only(s, n)) {
        int32_t r = add_pattern(&m->names, s, n, -1, 1);
        return r == -1 ? -1 : r >= 0;
    }
    size_t before = m->names.npats;
    if (add_name_forms(&m->names, s, n, -1) == -1) return -1;
    return (int)(m->names.npats - before);
}

static int token_char(const unsigned char *s, size_t i)
{
    return !(s[i] == ' ' || s[i] == '(' || s[i] == ')' || s[i] == '[' || s[i] == ']' || s[i] == '/' ||
             s[i] == ',' || s[i] == '|' || s[i] == '_' || s[i] == '-' || s[i] == '@');
}

int pii_add_speaker(pii_masker *m, const char *speaker, size_t n)
{
    const unsigned char *s = (const unsigned char *)speaker;
    while (n && s[0] == ' ') s++, n--;
    while (n && s[n - 1] == ' ') n--;
    if (n == 0 || is_not_name(s, n)) return 0;
    pii_names *nm = &m->names;
    int32_t r;
    int full_tokens = 0;
    size_t before = nm->npats;

    /* Korean full names among the words first: they are the person. */
    int32_t canon = -1;
    for (size_t i = 0; i < n;) {
        while (i < n && !token_char(s, i)) i++;
        size_t a = i;
        while (i < n && token_char(s, i)) i++;
        if (i > a && full_name_surname(s + a, i - a)) {
            int32_t full = add_name_forms(nm, s + a, i - a, canon);
            if (full == -1) return -1;
            full_tokens++;
            if (canon < 0) canon = nm->pats[full].canon;
        }
    }
    /* No full name: the label as written, and each word of it that may be
     * a name ("Jay Park", "수ㅈ 🐶"). With one, the rest of the label is a
     * title or a team (서우석 멘토님, 박영우 소마), which stays readable. */
    if (full_tokens == 0) {
        r = add_pattern(nm, s, n, -1, has_ascii_letters_only(s, n));
        if (r == -1) return -1;
        if (r >= 0) canon = r;
        for (size_t i = 0; i < n;) {
            while (i < n && !token_char(s, i)) i++;
            size_t a = i;
            while (i < n && token_char(s, i)) i++;
            size_t len = i - a;
            if (len == 0 || len == n || is_not_name(s + a, len) || (len >= 3 && memcmp(s + i - 3, "님", 3) == 0))
                continue;
            int tlatin = has_ascii_letters_only(s + a, len);
            if (tlatin && (len < 3 || !(s[a] >= 'A' && s[a] <= 'Z'))) continue;
            if (tlatin) {
                size_t k = a;
                while (k < i && pii_is_alpha(s[k])) k++;
                if (k != i) continue;
            }
            if (add_pattern(nm, s + a, len, canon, tlatin) == -1) return -1;
        }
    }
    return (int)(nm->npats - before);
}

size_t pii_name_count(const pii_masker *m)
{
    return m->names.npats;
}

const char *pii_names_canon(const pii_names *nm, int32_t canon, size_t *len)
{
    const pii_name_pat *p = &nm->pats[nm->pats[canon].canon];
    *len = p->len;
    return nm->text.p + p->off;
}

int pii_names_find(pii_masker *m, const unsigned char *s, size_t n, size_t i, size_t *end)
{
    const pii_names *nm = &m->names;
    size_t l1;
    uint32_t c1 = fold(pii_decode(s, n, i, &l1));
    if (c1 < 0x10000 ? !(nm->first_bmp[c1 >> 3] & (1u << (c1 & 7))) : !nm->any_astral) return 0;
    uint64_t key = pair_key(s + i, n - i);
    if (key == 0) return 0;
    for (int32_t k = nm->heads[bucket_of(nm, key)]; k >= 0; k = nm->next[k]) {
        const pii_name_pat *p = &nm->pats[k];
        if (nm->keys[k] != key || !same_bytes(nm->text.p + p->off, s + i, n - i, p->len)) continue;
        size_t e = i + p->len;
        if (p->latin && e < n && (pii_is_alnum(s[e]) || s[e] == '_')) continue;
        *end = e;
        return pii_add_span(m, i, e, PII_NAME, 1, p->canon) ? -1 : 1;
    }
    return 0;
}

/* Adds name[0..n) trimmed of spaces as a speaker. */
static int add_trimmed(pii_masker *m, const char *name, size_t n)
{
    while (n && name[0] == ' ') name++, n--;
    while (n && (name[n - 1] == ' ' || name[n - 1] == '.')) n--;
    return n ? pii_add_speaker(m, name, n) : 0;
}

static int ends_with_text(const char *s, size_t n, const char *suffix)
{
    size_t len = strlen(suffix);
    return n >= len && memcmp(s + n - len, suffix, len) == 0;
}

/* Korean: "A님이 B님과 C님을 초대했습니다." "A님이 나갔습니다." — the names
 * are what stands before 님 + a particle. */
static int system_names_ko(pii_masker *m, const char *s, size_t n)
{
    static const char *const verbs[] = {"초대했습니다.", "초대하였습니다.", "나갔습니다.", "들어왔습니다.",
                                        "내보냈습니다.", "퇴장하셨습니다.", "입장하셨습니다.", NULL};
    const char *const *v;
    for (v = verbs; *v && !ends_with_text(s, n, *v); v++) {}
    if (!*v) return 0;
    int added = 0;
    size_t cut = 0;
    for (size_t i = 0; i + 6 <= n; i++) {
        if (memcmp(s + i, "님", 3) != 0) continue;
        const char *p = s + i + 3;
        size_t rest = n - i - 3;
        size_t len = 0;
        if (rest >= 3 && (memcmp(p, "이", 3) == 0 || memcmp(p, "과", 3) == 0 || memcmp(p, "을", 3) == 0 ||
                          memcmp(p, "와", 3) == 0 || memcmp(p, "를", 3) == 0))
            len = 3;
        else if (rest >= 1 && p[0] == ',')
            len = 1;
        if (!len || (rest > len && p[len] != ' ')) continue;
        int r = add_trimmed(m, s + cut, i - cut);
        if (r < 0) return -1;
        added += r;
        cut = i + 3 + len;
        i = cut - 1;
    }
    return added;
}

/* English: "A invited B, C and D." "A joined this chatroom." */
static int system_names_en(pii_masker *m, const char *s, size_t n)
{
    static const char *const tails[] = {" joined this chatroom.", " left this chatroom.",
                                        " has been removed from this chatroom.", " left the chatroom.", NULL};
    for (const char *const *t = tails; *t; t++)
        if (ends_with_text(s, n, *t)) return add_trimmed(m, s, n - strlen(*t));
    const char *inv = memmem(s, n, " invited ", 9);
    if (!inv) return 0;
    int added = add_trimmed(m, s, (size_t)(inv - s));
    if (added < 0) return -1;
    const char *p = inv + 9, *end = s + n;
    while (p < end) {
        /* the next ", " or " and" ends this name */
        const char *q = p, *stop = end;
        for (; q < end; q++) {
            if ((q[0] == ',' && q + 1 < end && q[1] == ' ') ||
                (end - q >= 4 && memcmp(q, " and", 4) == 0 && (end - q == 4 || q[4] == ' ' || q[4] == '.'))) {
                stop = q;
                break;
            }
        }
        int r = add_trimmed(m, p, (size_t)(stop - p));
        if (r < 0) return -1;
        added += r;
        if (stop == end) break;
        p = stop + (stop[0] == ',' ? 2 : 4);
    }
    return added;
}

int pii_add_system_names(pii_masker *m, const char *text, size_t n)
{
    int r = system_names_ko(m, text, n);
    return r != 0 ? r : system_names_en(m, text, n);
}
