/* gen-jsonl: fast, deterministic generator of synthetic SFT-example JSONL
 * for the split benchmark (tests/bench/split-bench.sh).
 *
 *   gen-jsonl --bytes N [--seed S]
 *
 * Writes records to stdout until at least N bytes have been written (the
 * last record is completed, so the output ends on a record boundary).  The
 * output depends only on the seed: for one seed, the output for a smaller N
 * is a prefix of the output for a larger N.  Each record looks like
 *
 *   {"id":"c000123-0007","messages":[{"role":"system","content":"..."},
 *    {"role":"user","content":"..."},{"role":"assistant","content":"..."}],
 *    "meta":{"conversation":"c000123","lang":"ko","turn":7}}
 *
 * with mixed Korean (Hangul, 3-byte UTF-8) and English text, a few JSON
 * escapes (\n \" \\ \t \u00e9) and the odd emoji (4-byte UTF-8); records are
 * 200 B to 4 KB long (mean about 800 B) and conversations have 1 to 30
 * records, consecutive in the file.
 *
 * C99, no dependencies: cc -O2 -o gen-jsonl gen-jsonl.c
 * Exit status: 0 ok, 2 usage error, 74 write error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_NAME "gen-jsonl"
#define GEN_FORMAT_VERSION 1   /* bump when the output for a seed changes */
#include "gen-common.h"


#define REC_MAX   8192u         /* a record never exceeds this (+ 32 B slack) */

/* ---- text ---------------------------------------------------------------- */

static const char *const en_words[] = {
    "the", "a", "of", "to", "and", "in", "is", "it", "you", "that", "for",
    "on", "with", "as", "this", "be", "are", "can", "not", "your", "data",
    "model", "training", "fine-tuning", "dataset", "example", "question",
    "answer", "please", "explain", "how", "what", "why", "when", "where",
    "would", "should", "could", "about", "which", "there", "their", "then",
    "first", "second", "next", "because", "however", "result", "value",
    "function", "file", "line", "record", "split", "token", "learning",
    "rate", "batch", "size", "memory", "GPU", "CPU", "Seoul", "Busan",
    "meeting", "tomorrow", "today", "yesterday", "weather", "coffee",
    "project", "report", "deadline", "customer", "order", "price", "KRW",
    "thanks", "sure", "okay", "great", "sorry", "maybe", "really", "very",
    "good", "bad", "new", "old", "simple", "complex", "important", "error",
    "check", "run", "build", "test", "JSON", "UTF-8", "Korean", "English",
    "translate", "summary", "step", "by", "from", "into", "more", "less",
    "10", "42", "2024", "3.14", "100%", "v1.2", "e.g.", "i.e."
};

static const char *const ko_words[] = {
    "안녕하세요", "그리고", "하지만", "그래서", "때문에", "데이터", "모델",
    "학습", "질문", "답변", "있습니다", "없습니다", "합니다", "했습니다",
    "오늘", "내일", "어제", "회사", "사람", "시간", "문제", "생각", "정말",
    "이거", "저는", "우리는", "같아요", "어떻게", "무엇을", "설명해", "주세요",
    "감사합니다", "죄송합니다", "네", "아니요", "좋아요", "괜찮아요", "먼저",
    "다음", "결과", "예시", "파일", "한국어", "영어", "번역", "요약", "서울",
    "부산", "회의", "커피", "점심", "저녁", "주말", "프로젝트", "보고서",
    "마감", "고객", "주문", "가격", "원", "확인", "부탁드립니다", "알겠습니다",
    "그런데", "혹시", "아마", "진짜", "너무", "조금", "많이", "빨리", "천천히",
    "ㅋㅋㅋ", "ㅎㅎ", "ㅠㅠ", "대한민국", "인공지능", "미세조정", "토큰"
};

static const char *const emoji[] = {
    "😀", "😂", "👍", "🙏", "🎉", "❤️", "🔥", "😅"
};

static const char *const escapes[] = {
    "\\n", "\\n", "\\n", "\\n", "\\n\\n", "\\\"", "\\\\", "\\t", "\\u00e9"
};

static const char *const system_prompts[] = {
    "You are a helpful assistant.",
    "당신은 친절한 AI 어시스턴트입니다.",
    "You are a helpful assistant. Answer in the language of the user.",
    "당신은 한국어로 정확하고 간결하게 답하는 도우미입니다. 모르면 모른다고 말하세요.",
    "You are a customer support agent for an online shop in Seoul. Be polite and concise.",
    "다음 대화를 참고하여 사용자의 질문에 답하세요.\\n답변은 존댓말로 작성합니다."
};


static size_t sys_len[NELEM(system_prompts)];

enum lang { LANG_KO, LANG_EN, LANG_MIXED };
static const char *const lang_name[] = { "ko", "en", "mixed" };

static inline void put(char **p, const char *s, size_t n)
{
    memcpy(*p, s, n);
    *p += n;
}

static inline void puts_(char **p, const char *s)
{
    put(p, s, strlen(s));
}

/* a random Hangul word of 1..4 syllables (U+AC00..U+D7A3, 3 bytes each) */
static size_t hangul_word(char *w)
{
    uint32_t k = 1 + rnd_below(4), i;
    for (i = 0; i < k; i++) {
        uint32_t cp = 0xAC00 + rnd_below(11172);
        w[3 * i]     = (char)(0xE0 | (cp >> 12));
        w[3 * i + 1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        w[3 * i + 2] = (char)(0x80 | (cp & 0x3F));
    }
    return 3 * k;
}

/* lengths of the table entries, filled in by init_tables() */
static unsigned char en_len[NELEM(en_words)], ko_len[NELEM(ko_words)],
                     emoji_len[NELEM(emoji)], esc_len[NELEM(escapes)];

static void init_tables(void)
{
    size_t i;
    for (i = 0; i < NELEM(en_words); i++) en_len[i] = (unsigned char)strlen(en_words[i]);
    for (i = 0; i < NELEM(ko_words); i++) ko_len[i] = (unsigned char)strlen(ko_words[i]);
    for (i = 0; i < NELEM(emoji); i++)    emoji_len[i] = (unsigned char)strlen(emoji[i]);
    for (i = 0; i < NELEM(escapes); i++)  esc_len[i] = (unsigned char)strlen(escapes[i]);
}

/* uniform in [0, n) from 16 random bits x (n <= 1000; the bias is small) */
#define SLICE(x, n) ((uint32_t)((((x) & 0xFFFFu) * (uint32_t)(n)) >> 16))

/* one token of text (a word plus maybe punctuation), in JSON-escaped form,
 * written at p (at most 32 bytes); returns its length */
static size_t make_word(char *p, enum lang lang)
{
    char *w = p;
    uint64_t x = rnd();                 /* four 16-bit slices */
    uint32_t r = SLICE(x, 1000), i;
    int korean;

    if (r < 25) {                       /* 2.5%: an escape sequence */
        i = SLICE(x >> 16, NELEM(escapes));
        put(&p, escapes[i], esc_len[i]);
        return (size_t)(p - w);
    }
    if (r < 30) {                       /* 0.5%: an emoji */
        i = SLICE(x >> 16, NELEM(emoji));
        put(&p, emoji[i], emoji_len[i]);
        *p++ = ' ';
        return (size_t)(p - w);
    }
    r = SLICE(x >> 16, 100);
    switch (lang) {
    case LANG_KO:    korean = r < 85; break;
    case LANG_EN:    korean = r < 3;  break;
    default:         korean = r < 50; break;
    }
    if (korean) {
        if (SLICE(x >> 32, 100) < 15) {
            p += hangul_word(p);
        } else {
            i = SLICE(x >> 32, NELEM(ko_words));
            put(&p, ko_words[i], ko_len[i]);
        }
    } else {
        const char *s;
        i = SLICE(x >> 32, NELEM(en_words));
        s = en_words[i];
        if (r >= 96 && s[0] >= 'a' && s[0] <= 'z') {  /* 4%: Capitalised */
            *p++ = (char)(s[0] - 'a' + 'A');
            put(&p, s + 1, en_len[i] - 1u);
        } else {
            put(&p, s, en_len[i]);
        }
    }
    r = SLICE(x >> 48, 100);
    if (r < 6)       *p++ = '.';
    else if (r < 10) *p++ = ',';
    else if (r < 12) *p++ = '?';
    else if (r < 13) *p++ = '!';
    *p++ = ' ';
    return (size_t)(p - w);
}

/* text of about `budget` bytes (never more, but at least one token) */
static void put_text(char **p, size_t budget, enum lang lang)
{
    size_t used = 0, n;
    int first = 1;
    for (;;) {
        n = make_word(*p, lang);
        if (!first && used + n > budget)
            break;                      /* drop the word just written */
        *p += n;
        used += n;
        first = 0;
        if (used >= budget)
            break;
    }
    /* no trailing space */
    if ((*p)[-1] == ' ')
        (*p)--;
}

/* ---- records ------------------------------------------------------------- */

#define REC_OVERHEAD 190   /* bytes of a record that are not message text
                              (184 to 188, "mixed" and turns >= 10) */
#define REC_MIN      200
#define REC_MAX_LEN  4096

static void gen_record(char **p, uint32_t conv, uint32_t turn, enum lang lang)
{
    char num[48];
    int n;
    uint32_t target, si, rem, ub, ab;

    /* target length: 200 + 3896 * u^5 or u^6 (even odds), so 200 B to
     * 4 KB with mean 200 + 3896 * (1/12 + 1/14) ~ 800 */
    {
        double u = rnd_unit();
        double x = u * u * u * u * u;
        if (rnd() & 1)
            x *= u;
        target = REC_MIN + (uint32_t)(x * (REC_MAX_LEN - REC_MIN));
    }
    si = rnd_below(NELEM(system_prompts));
    if (target < REC_OVERHEAD + sys_len[si] + 40)
        si = 0;                                 /* the shortest prompt */
    rem = target > REC_OVERHEAD + sys_len[si] + 16
        ? target - REC_OVERHEAD - (uint32_t)sys_len[si] : 16;
    ub = rem * (20 + rnd_below(30)) / 100;
    if (ub < 8) ub = 8;
    ab = rem > ub + 8 ? rem - ub : 8;

    n = snprintf(num, sizeof num, "c%06lu-%04lu", (unsigned long)conv,
                 (unsigned long)turn);
    puts_(p, "{\"id\":\"");
    put(p, num, (size_t)n);
    puts_(p, "\",\"messages\":[{\"role\":\"system\",\"content\":\"");
    put(p, system_prompts[si], sys_len[si]);
    puts_(p, "\"},{\"role\":\"user\",\"content\":\"");
    put_text(p, ub, lang);
    puts_(p, "\"},{\"role\":\"assistant\",\"content\":\"");
    put_text(p, ab, lang);
    puts_(p, "\"}],\"meta\":{\"conversation\":\"");
    put(p, num, (size_t)(n - 5));              /* "c000123": the id less "-0007" */
    puts_(p, "\",\"lang\":\"");
    puts_(p, lang_name[lang]);
    n = snprintf(num, sizeof num, "\",\"turn\":%lu}}\n", (unsigned long)turn);
    put(p, num, (size_t)n);
}

/* ---- options ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("Usage: gen-jsonl --bytes N [--seed S]\n"
          "Write synthetic SFT-example JSONL to stdout until at least N bytes.\n"
          "\n"
          "  --bytes N   output size; K, M, G, T suffixes (powers of 1024)\n"
          "  --seed S    PRNG seed, an unsigned decimal integer (default 0)\n"
          "  --help      show this help and exit\n"
          "  --version   show the version and exit\n", f);
}


int main(int argc, char **argv)
{
    uint32_t conv = 0;
    int i;

    gen_options opt;
    gen_parse_options(argc, argv, 0, usage, &opt);
    const unsigned long long bytes = opt.bytes;

    for (i = 0; i < (int)NELEM(system_prompts); i++)
        sys_len[i] = strlen(system_prompts[i]);
    init_tables();
    /* system_prompts[0] is the shortest: gen_record relies on it */

    rng_state = opt.seed ^ 0x5DEECE66DULL;
    while (total_written + outlen < bytes) {
        /* a conversation: 1..30 records, skewed towards short ones */
        uint32_t u = rnd_below(30), v = rnd_below(30);
        uint32_t nrec = 1 + (u < v ? u : v);
        uint32_t r = rnd_below(100), t;
        enum lang lang = r < 60 ? LANG_KO : r < 90 ? LANG_EN : LANG_MIXED;
        conv++;
        for (t = 0; t < nrec && total_written + outlen < bytes; t++) {
            char *p;
            if (OUT_CAP - outlen < REC_MAX)
                flush_out();
            p = outbuf + outlen;
            gen_record(&p, conv, t, lang);
            outlen = (size_t)(p - outbuf);
        }
    }
    flush_out();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gen-jsonl: write error: %s\n", strerror(errno));
        return 74;
    }
    return 0;
}
