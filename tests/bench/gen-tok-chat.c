/* gen-tok-chat: fast, deterministic generator of a Korean + English chat
 * corpus as JSONL, for the tokcount benchmark (tests/bench/tok-bench.sh).
 *
 *   gen-tok-chat --bytes N [--seed S] [--format text|sft] [--sft] [--stats]
 *
 * Writes records until at least N bytes have been written (the last record
 * is completed), one per line.  The output depends only on the seed and the
 * format; the output for a smaller N is a prefix of the output for a larger N.
 *
 * --format text (the default) writes {"text":"..."}: what a pretraining or
 * SFT text corpus cut from chats looks like.  Of the records
 *   48%  one chat message (KakaoTalk style: Korean, English or mixed words
 *        from chat-words.h, ㅋㅋㅋ/ㅎㅎ/ㅠㅠ runs of any length, emoji with
 *        skin tones, flags and ZWJ sequences, !!! ??? ~~)
 *   16%  2 to 6 chat messages joined with "\n" (some with a blank line, a
 *        few with "\r\n" as Windows exports have)
 *   11%  English prose (sentences, commas, quotes, numbers)
 *   11%  Korean prose, polite or formal (nouns with the right particle,
 *        endings such as 합니다 / 했어요), some as a Markdown list or with a
 *        **bold** heading; some mix in English terms.  A fifth of the prose
 *        records are 2 to 8 paragraphs between blank lines (up to ~6 KB)
 *    5%  numbers: prices (12,000원, $19.99), dates, times, phone-like and
 *        order numbers, versions, sizes (1.5GB), percentages
 *    4%  code: Python, C, shell, JSON, SQL snippets with indentation of 2 to 8
 *        spaces or a tab, quotes and backslashes, inside ``` fences or not
 *    5%  a link or two in a sentence (https://, www., paths, ?query=&)
 * Spread over all of them: runs of 2 to 4 spaces between words (1%),
 * trailing or leading spaces, tabs, made-up Hangul names (random syllables,
 * so the words are not all from a small vocabulary), random numbers.
 * 2% of the records are written the way Python's json.dumps writes them by
 * default: every non-ASCII character as \uXXXX (emoji as surrogate pairs),
 * and 0.3% of the records hold a Hangul word in NFD (decomposed jamo, as in
 * file names from a Mac), which an NFC normalizer must compose.
 *
 * --format sft (or --sft) writes SFT examples instead:
 *   {"messages":[{"role":"system","content":...}?,{"role":"user","content":Q},
 *                {"role":"assistant","content":A},...]}
 * Q is a chat message or a short request, A a longer answer (prose, lists,
 * code); 20% have a system message, 15% two or three rounds.
 *
 * --stats prints the counts of what was written to stderr.
 *
 * C11, no dependencies: cc -std=c11 -O2 -o gen-tok-chat gen-tok-chat.c
 * Exit status: 0 ok, 2 usage error, 74 write error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_NAME "gen-tok-chat"
#define GEN_FORMAT_VERSION 1   /* bump when the output for a seed changes */
#include "gen-common.h"
#include "chat-words.h"

#define TXT_CAP 12288u          /* one text never takes more than this */
/* a record: at most 7 texts, \uXXXX escaping at most 6 B per input byte */
#define REC_MAX (7u * 6u * TXT_CAP + 1024u)

#define PICK(a) ((a)[rnd_below((uint32_t)NELEM(a))])

static struct {
    unsigned long long records, chat, multi, en_prose, ko_prose, numbers, code,
                       links, ascii_escaped, nfd, texts_bytes, newlines,
                       system, multi_round;
} st;

/* ---- a text buffer --------------------------------------------------------- */

static char txt[TXT_CAP + 1024];
static size_t tn;

/* a piece that does not fit is left out whole (never happens: texts stay
 * far below TXT_CAP), so the text stays valid UTF-8 */
static void t_put(const char *s, size_t n)
{
    if (tn + n > TXT_CAP)
        return;
    memcpy(txt + tn, s, n);
    tn += n;
}

static void t_str(const char *s) { t_put(s, strlen(s)); }
static void t_ch(char c) { if (tn < TXT_CAP) txt[tn++] = c; }

static void t_uint(unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", v);
    t_put(tmp, (size_t)n);
}

static void t_2d(unsigned v)
{
    t_ch((char)('0' + v / 10 % 10));
    t_ch((char)('0' + v % 10));
}

static void t_digits(unsigned n)
{
    while (n--)
        t_ch((char)('0' + rnd_below(10)));
}

/* a UTF-8 code point */
static void t_cp(unsigned cp)
{
    char b[4];
    if (cp < 0x80) {
        t_ch((char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3F));
        t_put(b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        t_put(b, 3);
    } else {
        b[0] = (char)(0xF0 | cp >> 18);
        b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        t_put(b, 4);
    }
}

/* the code point of the Hangul syllable that ends the text, or 0 */
static unsigned last_syllable(void)
{
    const unsigned char *s;
    unsigned cp;
    if (tn < 3)
        return 0;
    s = (const unsigned char *)txt + tn - 3;
    if ((s[0] & 0xF0) != 0xE0)
        return 0;
    cp = ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (unsigned)(s[2] & 0x3F);
    return cp >= 0xAC00 && cp <= 0xD7A3 ? cp : 0;
}

/* ---- words ------------------------------------------------------------------ */

/* more English than chat-words.h has, for prose */
static const char *const en_more[] = {
    "I", "we", "they", "he", "she", "my", "our", "your", "their", "a", "of",
    "at", "by", "from", "about", "into", "over", "after", "before", "between",
    "was", "were", "be", "been", "have", "has", "had", "do", "does", "did",
    "will", "would", "can", "could", "should", "might", "must", "not", "just",
    "also", "only", "very", "really", "still", "already", "maybe", "probably",
    "think", "know", "want", "need", "like", "love", "make", "take", "get",
    "give", "find", "try", "use", "work", "look", "feel", "tell", "ask",
    "help", "start", "finish", "move", "change", "update", "fix", "build",
    "test", "deploy", "review", "share", "upload", "download", "install",
    "people", "friend", "family", "team", "company", "customer", "manager",
    "student", "teacher", "time", "day", "week", "month", "year", "morning",
    "evening", "night", "place", "restaurant", "station", "airport", "hotel",
    "ticket", "price", "order", "delivery", "question", "answer", "problem",
    "idea", "plan", "schedule", "project", "document", "data", "model",
    "training", "dataset", "example", "result", "error", "bug", "feature",
    "version", "server", "database", "password", "account", "screen",
    "phone", "message", "photo", "video", "music", "movie", "book", "game",
    "weather", "rain", "snow", "cold", "hot", "busy", "tired", "happy",
    "excited", "important", "different", "simple", "difficult", "possible",
    "available", "ready", "correct", "wrong", "better", "best", "first",
    "last", "next", "new", "old", "big", "small", "long", "short", "early",
    "Korean", "English", "Korea", "Japan", "Gangnam", "Hongdae", "Jeju",
    "Monday", "Friday", "Saturday", "January", "March", "December",
    "however", "because", "although", "therefore", "instead", "actually",
    "honestly", "basically", "especially", "usually", "sometimes", "always",
    "GPU", "CPU", "API", "JSON", "UTF-8", "LoRA", "SFT", "PyTorch", "Python",
    "GitHub", "Slack", "Notion", "iPhone", "Galaxy", "YouTube", "Netflix",
    "don't", "can't", "it's", "I'm", "you're", "we'll", "they've", "I'd",
    "wasn't", "isn't", "that's", "what's", "let's", "e.g.", "etc.", "vs."
};

static const char *const ko_nouns[] = {
    "데이터", "모델", "학습", "문장", "토큰", "결과", "방법", "질문", "답변",
    "예시", "문제", "설명", "코드", "파일", "서버", "사용자", "시간", "정보",
    "내용", "경우", "부분", "자료", "회의", "일정", "프로젝트", "보고서",
    "고객", "서비스", "주문", "배송", "상품", "가격", "할인", "이벤트", "회원",
    "계정", "비밀번호", "설정", "화면", "버튼", "오류", "버전", "업데이트",
    "기능", "테스트", "성능", "속도", "메모리", "환경", "한국어", "영어",
    "번역", "요약", "문서", "이미지", "동영상", "음식", "여행", "날씨", "건강",
    "운동", "공부", "시험", "학생", "선생님", "부모님", "친구", "회사", "동료",
    "팀", "출장", "휴가", "지하철", "버스", "택시", "병원", "은행", "카드",
    "영수증", "계약", "결제", "환불", "문의", "담당자", "마감일", "발표",
    "자료실", "공지", "댓글", "좋아요", "구독", "알림", "메일", "주소", "위치"
};

/* particle after a noun with (first) or without (second) a final consonant */
static const char *const particles[][2] = {
    { "은", "는" }, { "이", "가" }, { "을", "를" }, { "과", "와" },
    { "으로", "로" }, { "이랑", "랑" }, { "에", "에" }, { "에서", "에서" },
    { "도", "도" }, { "만", "만" }, { "의", "의" }, { "까지", "까지" },
    { "부터", "부터" }, { "에게", "에게" }, { "보다", "보다" }, { "처럼", "처럼" },
    { "하고", "하고" }, { "", "" }
};

static const char *const ko_endings[] = {
    "합니다", "했습니다", "입니다", "있습니다", "없습니다", "됩니다",
    "되었습니다", "필요합니다", "가능합니다", "확인해 주세요", "참고하세요",
    "드립니다", "해요", "했어요", "있어요", "없어요", "할까요?", "인가요?",
    "주세요", "봤어요", "같아요", "좋겠어요", "알려주세요", "하면 돼요",
    "할 수 있어요", "하지 않습니다", "해야 합니다", "했나요?", "이에요", "예요"
};

static const char *const ko_adverbs[] = {
    "그리고", "하지만", "그래서", "따라서", "또한", "먼저", "다음으로",
    "마지막으로", "예를 들어", "특히", "보통", "항상", "가끔", "조금", "많이",
    "매우", "정말", "바로", "다시", "이미", "아직", "혹시", "아마", "꼭"
};

static const char *const more_emoji[] = {
    "👍🏻", "👍🏽", "🇰🇷", "🇺🇸", "✨", "💯", "🤔", "😊", "🙌", "😢", "🥰",
    "💕", "🙇‍♂️", "🤷‍♀️", "✅", "❌", "⚠️", "📌", "🍺", "🎂", "^^", ":)", ";)",
    ":-(", "(╯°□°)╯︵ ┻━┻", "♡", "♥", "★", "→", "※", "·"
};

static const char *const domains[] = {
    "example.com", "www.example.org", "naver.me", "blog.naver.com",
    "m.cafe.daum.net", "github.com", "docs.python.org", "youtu.be",
    "www.youtube.com", "open.kakao.com", "drive.google.com", "huggingface.co",
    "news.example.co.kr", "shop.example.kr"
};

/* ---- pieces -------------------------------------------------------------- */

/* a made-up Hangul syllable, a name made of two or three of them */
static void t_syllable(void)
{
    t_cp(0xAC00 + rnd_below(11172));
}

static void t_name(void)
{
    static const char *const surnames[] = { "김", "이", "박", "최", "정", "강",
        "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황", "안", "송" };
    t_str(PICK(surnames));
    t_syllable();
    if (rnd_below(10))
        t_syllable();
}

/* a Hangul word in NFD: each syllable as its conjoining jamo */
static void t_nfd_word(void)
{
    static const char *const words[] = { "보고서", "사진", "회의록", "한글", "최종",
                                         "수정본", "발표자료", "영수증" };
    const char *w = PICK(words);
    size_t n = strlen(w), i;
    for (i = 0; i + 3 <= n; i += 3) {
        const unsigned char *s = (const unsigned char *)w + i;
        unsigned cp = ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        unsigned k = cp - 0xAC00;
        t_cp(0x1100 + k / 588);
        t_cp(0x1161 + k % 588 / 28);
        if (k % 28)
            t_cp(0x11A7 + k % 28);
    }
    t_str(PICK(((const char *const[]){ ".pdf", "_v2.docx", ".hwp", ".jpg", "" })));
    st.nfd++;
}

static void t_laugh(void)
{
    static const char *const ch[] = { "ㅋ", "ㅋ", "ㅋ", "ㅎ", "ㅠ", "ㅜ", "!", "?", "~", "." };
    const char *c = PICK(ch);
    unsigned n = 2 + rnd_below(rnd_below(4) ? 5 : 14), i;
    for (i = 0; i < n; i++)
        t_str(c);
}

static void t_emoji(void)
{
    if (rnd_below(3))
        t_str(PICK(emoji));
    else
        t_str(PICK(more_emoji));
    if (rnd_below(6) == 0)              /* 😂😂😂 */
        t_str(PICK(emoji));
}

static void t_url(void)
{
    unsigned k, i;
    uint32_t r = rnd_below(10);
    if (r < 8)
        t_str(rnd_below(8) ? "https://" : "http://");
    t_str(PICK(domains));
    k = rnd_below(4);
    for (i = 0; i < k; i++) {
        t_ch('/');
        if (rnd_below(3)) {
            t_str(PICK(en_words));
        } else {
            unsigned shift = 40 + rnd_below(20);
            t_uint(rnd() >> shift);
        }
    }
    if (rnd_below(3) == 0) {
        t_str("?id=");
        t_uint(rnd_below(1000000));
        if (rnd_below(2))
            t_str(PICK(((const char *const[]){ "&ref=kakao", "&utm_source=share&utm_medium=chat",
                                              "&lang=ko", "&t=42s", "&page=2" })));
    }
}

/* a number that is not a word: prices, dates, times, versions, sizes */
static void t_number(void)
{
    switch (rnd_below(16)) {
    case 0:  t_uint(1 + rnd_below(99)); t_str(",000원"); break;
    case 1:  t_uint(1 + rnd_below(50)); t_str("만원"); break;
    case 2:  t_ch('$'); t_uint(rnd_below(200)); t_ch('.'); t_2d(rnd_below(100)); break;
    case 3:  t_str("202"); t_uint(3 + rnd_below(3)); t_ch('-'); t_2d(1 + rnd_below(12));
             t_ch('-'); t_2d(1 + rnd_below(28)); break;
    case 4:  t_uint(1 + rnd_below(12)); t_str("월 "); t_uint(1 + rnd_below(28)); t_str("일"); break;
    case 5:  t_uint(rnd_below(24)); t_ch(':'); t_2d(rnd_below(60)); break;
    case 6:  t_str("오후 "); t_uint(1 + rnd_below(11)); t_str("시"); break;
    case 7:  t_str("010-"); t_digits(4); t_ch('-'); t_digits(4); break;
    case 8:  t_ch('v'); t_uint(rnd_below(5)); t_ch('.'); t_uint(rnd_below(20)); t_ch('.');
             t_uint(rnd_below(30)); break;
    case 9:  t_uint(1 + rnd_below(64)); t_ch('.'); t_uint(rnd_below(10));
             t_str(PICK(((const char *const[]){ "GB", "MB", "km", "kg", "%" }))); break;
    case 10: t_uint(rnd_below(100)); t_ch('%'); break;
    case 11: t_str("주문번호 "); t_digits(8 + rnd_below(9)); break;
    case 12: t_uint(rnd_below(2000000)); break;
    case 13: t_uint(1 + rnd_below(9)); t_ch(','); t_digits(3); t_ch(','); t_digits(3); break;
    case 14: t_uint(rnd_below(10)); t_ch('.'); t_digits(1 + rnd_below(5)); break;
    default: t_uint(1 + rnd_below(30)); t_str(PICK(((const char *const[]){ "명", "개", "층", "번", "시간", "분" })));
             break;
    }
}

/* the space before a word: mostly one, sometimes a run, rarely a tab */
static void t_space(void)
{
    uint32_t r = rnd_below(1000);
    if (r < 10)
        t_put("    ", 2 + rnd_below(3));
    else if (r < 12)
        t_ch('\t');
    else
        t_ch(' ');
}

enum lang { LANG_KO, LANG_EN, LANG_MIXED };

/* one chat token (chat-words.h and friends) */
static void t_chat_token(enum lang lang)
{
    uint32_t r = rnd_below(1000), k;
    int korean;
    if (r < 35) {
        t_emoji();
        return;
    }
    if (r < 60) {
        t_laugh();
        return;
    }
    if (r < 75) {
        t_number();
        return;
    }
    if (r < 80) {
        t_name();
        if (rnd_below(2))
            t_str(PICK(((const char *const[]){ "아", "야", "님", "씨", "이가", "한테" })));
        return;
    }
    k = rnd_below(100);
    korean = lang == LANG_KO ? k < 90 : lang == LANG_EN ? k < 4 : k < 50;
    if (korean) {
        if (rnd_below(4) == 0) {
            unsigned cp;
            t_str(PICK(ko_nouns));
            cp = last_syllable();
            t_str(particles[rnd_below(NELEM(particles))][cp && (cp - 0xAC00) % 28 == 0]);
        } else {
            t_str(PICK(ko_words));
        }
    } else {
        t_str(rnd_below(3) ? PICK(en_words) : PICK(en_more));
    }
    k = rnd_below(100);
    if (k < 5)       t_ch('.');
    else if (k < 8)  t_ch(',');
    else if (k < 12) t_ch('?');
    else if (k < 14) t_ch('!');
    else if (k < 15) t_str("...");
    else if (k < 16) t_str("~~");
}

static enum lang pick_lang(void)
{
    uint32_t r = rnd_below(100);
    return r < 68 ? LANG_KO : r < 84 ? LANG_EN : LANG_MIXED;
}

/* one chat line of about `target` bytes */
static void t_chat_line(size_t target, enum lang lang)
{
    size_t start = tn;
    int first = 1;
    if (rnd_below(200) == 0)
        t_ch(' ');
    while (first || tn - start < target) {
        if (!first)
            t_space();
        first = 0;
        t_chat_token(lang);
        if (tn >= TXT_CAP - 64)
            break;
    }
    if (rnd_below(100) == 0)
        t_ch(' ');
}

static size_t chat_target(void)
{
    double u = rnd_unit();
    return 2 + (size_t)(160.0 * u * u * u);
}

/* a chat line of a random length (halved when half, plus add); the length
 * is drawn here, after lang, so that the output does not depend on the
 * order in which a compiler evaluates arguments */
static void t_chat(enum lang lang, int half, size_t add)
{
    size_t target = chat_target();
    if (half)
        target = target / 2 + 2;
    t_chat_line(target + add, lang);
}

/* ---- prose ----------------------------------------------------------------- */

static void t_en_sentence(void)
{
    unsigned n = 4 + rnd_below(16), i;
    for (i = 0; i < n; i++) {
        const char *w = rnd_below(2) ? PICK(en_more) : PICK(en_words);
        uint32_t r = rnd_below(100);
        if (i) {
            if (r < 6)
                t_ch(',');
            t_space();
        }
        if (i == 0 && w[0] >= 'a' && w[0] <= 'z') {
            t_ch((char)(w[0] - 32));
            t_str(w + 1);
        } else if (r >= 6 && r < 8) {
            t_ch('"');
            t_str(w);
            t_ch('"');
        } else if (r >= 8 && r < 11) {
            t_number();
        } else if (r == 11) {
            t_ch('(');
            t_str(w);
            t_ch(')');
        } else {
            t_str(w);
        }
    }
    t_str(PICK(((const char *const[]){ ".", ".", ".", ".", "?", "!", ":", "..." })));
}

static void t_ko_sentence(int mixed)
{
    unsigned n = 1 + rnd_below(4), i;
    if (rnd_below(3) == 0) {
        t_str(PICK(ko_adverbs));
        t_ch(rnd_below(4) ? ' ' : ',');
        if (tn && txt[tn - 1] == ',')
            t_ch(' ');
    }
    for (i = 0; i < n; i++) {
        uint32_t r = rnd_below(100);
        unsigned cp;
        if (mixed && r < 25) {
            t_str(PICK(en_more));
            t_str(PICK(((const char *const[]){ "를 ", "는 ", "에서 ", "로 ", " ", "의 " })));
            continue;
        }
        if (r < 8) {
            t_number();
            t_ch(' ');
            continue;
        }
        t_str(PICK(ko_nouns));
        cp = last_syllable();
        t_str(particles[rnd_below(NELEM(particles))][cp && (cp - 0xAC00) % 28 == 0]);
        t_ch(' ');
        if (rnd_below(4) == 0) {
            t_str(PICK(ko_adverbs));
            t_ch(' ');
        }
    }
    t_str(PICK(ko_endings));
    if (tn && txt[tn - 1] != '?')
        t_ch('.');
}

/* a paragraph, a list or a heading + paragraph */
static void t_prose(int korean, int mixed)
{
    uint32_t r = rnd_below(100);
    unsigned n, i;
    if (r < 15) {                       /* a Markdown list */
        if (rnd_below(2)) {
            t_str("**");
            if (korean) t_str(PICK(ko_nouns)); else t_str(PICK(en_more));
            t_str(korean ? " 정리**\n" : " summary**\n");
        }
        n = 2 + rnd_below(5);
        for (i = 0; i < n; i++) {
            if (i)
                t_ch('\n');
            if (r < 8) {
                t_uint(i + 1);
                t_str(". ");
            } else {
                t_str(rnd_below(5) ? "- " : "  - ");
            }
            if (korean) t_ko_sentence(mixed); else t_en_sentence();
        }
        return;
    }
    n = 1 + rnd_below(6);
    for (i = 0; i < n; i++) {
        if (i)
            t_str(rnd_below(6) ? " " : rnd_below(2) ? "\n" : "\n\n");
        if (korean) t_ko_sentence(mixed); else t_en_sentence();
    }
}

/* one paragraph, or (one time in five) 2 to 8 of them between blank lines */
static void t_document(int korean, int mixed)
{
    unsigned n = rnd_below(5) ? 1 : 2 + rnd_below(7), i;
    for (i = 0; i < n; i++) {
        if (i)
            t_str("\n\n");
        t_prose(korean, mixed);
    }
}

/* ---- code ------------------------------------------------------------------ */

static const char *const code_snippets[] = {
    "def tokenize(text):\n    ids = tok.encode(text)\n    return [i for i in ids if i != 0]\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(f\"{i}번째 값: {x[i]}\")\n",
    "import json\n\nwith open(\"data.jsonl\", encoding=\"utf-8\") as f:\n    rows = [json.loads(l) for l in f]\nprint(len(rows))",
    "int main(void)\n{\n\tprintf(\"%d\\n\", n);\n\treturn 0;\n}\n",
    "if (x == NULL) {\n        fprintf(stderr, \"error: %s\\n\", strerror(errno));\n        return -1;\n    }",
    "$ git commit -m \"fix: 토큰 수 계산 오류 수정\"\n$ git push origin main",
    "curl -s https://api.example.com/v1/items?limit=10 | jq '.data[] | .name'",
    "{\n  \"name\": \"홍길동\",\n  \"age\": 30,\n  \"tags\": [\"a\", \"b\"]\n}",
    "SELECT user_id, COUNT(*) AS cnt\n  FROM orders\n WHERE created_at >= '2024-01-01'\n GROUP BY user_id;",
    "const res = await fetch(url, { method: 'POST', body: JSON.stringify(data) });",
    "pip install torch==2.3.1 transformers>=4.40 --index-url https://download.pytorch.org/whl/cu121",
    "C:\\Users\\admin\\Desktop\\보고서_최종.xlsx",
    "model.train()\noptimizer.zero_grad()\nloss = criterion(out, y)  # 손실 계산\nloss.backward()",
    "    }\n  ]\n}\n",
    "x = [1, 2, 3]\ny = {k: v ** 2 for k, v in enumerate(x)}\nassert y[2] == 9",
    "ERROR 2024-03-01 14:37:02,114 [worker-3] Connection refused (errno=111)"
};

static void t_code(void)
{
    uint32_t r = rnd_below(10);
    if (r < 4) {
        t_str(PICK(((const char *const[]){ "이거 왜 안 될까요?", "Here is the code:", "코드 공유합니다",
                                          "에러 나요 ㅠㅠ", "This works for me:" })));
        t_ch('\n');
    }
    if (r < 6)
        t_str(PICK(((const char *const[]){ "```python\n", "```\n", "```bash\n", "```c\n", "```json\n" })));
    t_str(PICK(code_snippets));
    if (rnd_below(3) == 0) {
        t_ch('\n');
        t_str(PICK(code_snippets));
    }
    if (r < 6) {
        if (tn && txt[tn - 1] != '\n')
            t_ch('\n');
        t_str("```");
    }
}

/* ---- texts ------------------------------------------------------------------ */

/* one {"text": ...} text into txt */
static void make_text(void)
{
    uint32_t r = rnd_below(1000);
    tn = 0;
    if (r < 480) {
        t_chat(pick_lang(), 0, 0);
        st.chat++;
    } else if (r < 640) {
        unsigned k = 2 + rnd_below(5), j;
        enum lang lang = pick_lang();
        int crlf = rnd_below(100) < 5;
        for (j = 0; j < k; j++) {
            if (j) {
                t_str(crlf ? "\r\n" : "\n");
                if (rnd_below(12) == 0)
                    t_str(crlf ? "\r\n" : "\n");
            }
            t_chat(lang, 0, 0);
        }
        st.multi++;
    } else if (r < 750) {
        t_document(0, 0);
        st.en_prose++;
    } else if (r < 860) {
        t_document(1, rnd_below(4) == 0);
        st.ko_prose++;
    } else if (r < 910) {
        unsigned k = 1 + rnd_below(4), j;
        for (j = 0; j < k; j++) {
            if (j)
                t_space();
            if (rnd_below(2))
                t_chat_token(LANG_KO), t_ch(' ');
            t_number();
        }
        st.numbers++;
    } else if (r < 950) {
        t_code();
        st.code++;
    } else {
        if (rnd_below(2)) {
            t_chat(pick_lang(), 1, 0);
            t_ch(' ');
        }
        t_url();
        if (rnd_below(4) == 0) {
            t_ch(rnd_below(2) ? ' ' : '\n');
            t_url();
        }
        if (rnd_below(3) == 0) {
            t_ch(' ');
            t_chat(pick_lang(), 1, 0);
        }
        st.links++;
    }
    if (rnd_below(1000) < 3) {
        t_ch(' ');
        t_nfd_word();
    }
}

/* ---- JSON output ------------------------------------------------------------ */

static char *op;                /* write position in outbuf */

static inline void put(const char *s, size_t n)
{
    memcpy(op, s, n);
    op += n;
}

#define PUTS(lit) put((lit), sizeof(lit) - 1)

static void put_u4(unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    *op++ = '\\';
    *op++ = 'u';
    *op++ = hex[v >> 12 & 15];
    *op++ = hex[v >> 8 & 15];
    *op++ = hex[v >> 4 & 15];
    *op++ = hex[v & 15];
}

/* a JSON string (quotes included); with ascii, non-ASCII as \uXXXX (the
 * text is valid UTF-8: it is made here) */
static void put_json(const char *s, size_t n, int ascii)
{
    size_t i;
    *op++ = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *op++ = '\\';
            *op++ = (char)c;
        } else if (c == '\n') {
            PUTS("\\n");
        } else if (c == '\r') {
            PUTS("\\r");
        } else if (c == '\t') {
            PUTS("\\t");
        } else if (c < 0x20) {
            put_u4(c);
        } else if (c < 0x80 || !ascii) {
            *op++ = (char)c;
        } else {
            unsigned cp, extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
            cp = c & (0x3F >> extra);
            while (extra--)
                cp = cp << 6 | ((unsigned char)s[++i] & 0x3F);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                put_u4(0xD800 + (cp >> 10));
                put_u4(0xDC00 + (cp & 0x3FF));
            } else {
                put_u4(cp);
            }
        }
    }
    *op++ = '"';
}

static void put_text(int ascii)
{
    size_t i;
    put_json(txt, tn, ascii);
    st.texts_bytes += tn;
    for (i = 0; i < tn; i++)
        st.newlines += txt[i] == '\n';
}

static void gen_text(void)
{
    int ascii = rnd_below(1000) < 20;
    make_text();
    PUTS("{\"text\":");
    put_text(ascii);
    PUTS("}\n");
    st.ascii_escaped += (unsigned long long)ascii;
    st.records++;
}

/* ---- SFT examples ------------------------------------------------------------ */

static const char *const system_prompts[] = {
    "You are a helpful assistant.",
    "당신은 친절한 한국어 상담원입니다. 짧고 정확하게 답하세요.",
    "You are a customer support agent for an online shop. Answer in Korean.",
    "다음 대화에서 사용자의 말투를 그대로 따라 하세요."
};

static const char *const requests_ko[] = {
    "다음 문장을 영어로 번역해 주세요: ", "이 내용 요약해줘\n", "아래 코드 설명 부탁해요\n",
    "이거 무슨 뜻이야? ", "추천 좀 해줘 ", "", "", ""
};

static const char *const requests_en[] = {
    "Translate into Korean: ", "Summarize this:\n", "Can you explain this code?\n",
    "What does this mean? ", "", ""
};

static void make_question(void)
{
    uint32_t r = rnd_below(100);
    tn = 0;
    if (r < 50) {
        t_str(PICK(requests_ko));
        t_chat(rnd_below(4) ? LANG_KO : LANG_MIXED, 0, 0);
    } else if (r < 70) {
        t_str(PICK(requests_en));
        t_chat(LANG_EN, 0, 0);
    } else if (r < 85) {
        t_ko_sentence(rnd_below(3) == 0);
    } else if (r < 95) {
        t_en_sentence();
    } else {
        t_str("이 코드 왜 에러 나요?\n");
        t_code();
    }
}

static void make_answer(void)
{
    uint32_t r = rnd_below(100);
    tn = 0;
    if (r < 30)
        t_chat(pick_lang(), 0, 4);
    else if (r < 70)
        t_document(1, rnd_below(4) == 0);
    else if (r < 90)
        t_document(0, 0);
    else {
        t_prose(rnd_below(2), 0);
        t_str("\n\n");
        t_code();
    }
}

static void put_message(const char *role, int ascii)
{
    PUTS("{\"role\":\"");
    put(role, strlen(role));
    PUTS("\",\"content\":");
    put_text(ascii);
    *op++ = '}';
}

static void gen_sft(void)
{
    int ascii = rnd_below(1000) < 20;
    unsigned rounds = rnd_below(100) < 15 ? 2 + rnd_below(2) : 1, i;
    PUTS("{\"messages\":[");
    if (rnd_below(100) < 20) {
        tn = 0;
        t_str(PICK(system_prompts));
        put_message("system", ascii);
        *op++ = ',';
        st.system++;
    }
    for (i = 0; i < rounds; i++) {
        if (i)
            *op++ = ',';
        make_question();
        put_message("user", ascii);
        *op++ = ',';
        make_answer();
        put_message("assistant", ascii);
    }
    PUTS("]}\n");
    st.multi_round += rounds > 1;
    st.ascii_escaped += (unsigned long long)ascii;
    st.records++;
}

/* ---- options ------------------------------------------------------------- */

static void usage(FILE *fp)
{
    fputs("Usage: gen-tok-chat --bytes N [--seed S] [--format text|sft] [--sft] [--stats]\n"
          "Write a synthetic Korean + English chat corpus as JSONL to stdout until at\n"
          "least N bytes: {\"text\":...} records, or SFT examples ({\"messages\":[...]}).\n"
          "\n"
          "  --bytes N          output size; K, M, G, T suffixes (powers of 1024)\n"
          "  --seed S           PRNG seed, an unsigned decimal integer (default 0)\n"
          "  --format text|sft  text records (default) or SFT examples\n"
          "  --sft              the same as --format sft\n"
          "  --stats            print counts of what was written to stderr\n"
          "  --help             show this help and exit\n"
          "  --version          show the version and exit\n", fp);
}

int main(int argc, char **argv)
{
    gen_options opt;
    int sft = 0, i, n = 1;
    /* --sft is ours; the rest goes to the shared parser */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sft"))
            sft = 1;
        else
            argv[n++] = argv[i];
    }
    argv[n] = NULL;
    gen_parse_options(n, argv, GEN_OPT_STATS | GEN_OPT_FORMAT, usage, &opt);
    if (opt.format) {
        if (!strcmp(opt.format, "sft"))
            sft = 1;
        else if (strcmp(opt.format, "text") != 0)
            die_usage("unknown format '%s' (text or sft)", opt.format);
    }
    const unsigned long long bytes = opt.bytes;

    rng_state = opt.seed ^ (sft ? 0x544F4B2D53465421ULL     /* "TOK-SFT!" */
                                : 0x544F4B2D43484154ULL);   /* "TOK-CHAT" */
    op = outbuf;
    while (total_written + outlen < bytes) {
        if (OUT_CAP - outlen < REC_MAX)
            flush_out();
        op = outbuf + outlen;
        if (sft)
            gen_sft();
        else
            gen_text();
        outlen = (size_t)(op - outbuf);
    }
    flush_out();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, GEN_NAME ": write error: %s\n", strerror(errno));
        return 74;
    }
    if (opt.stats) {
        if (sft)
            fprintf(stderr, GEN_NAME ": format=sft bytes=%llu records=%llu system=%llu "
                    "multi_round=%llu text_bytes=%llu newlines=%llu ascii_escaped=%llu nfd=%llu\n",
                    total_written, st.records, st.system, st.multi_round, st.texts_bytes,
                    st.newlines, st.ascii_escaped, st.nfd);
        else
            fprintf(stderr, GEN_NAME ": format=text bytes=%llu records=%llu text_bytes=%llu "
                    "newlines=%llu chat=%llu multi=%llu en_prose=%llu ko_prose=%llu "
                    "numbers=%llu code=%llu links=%llu ascii_escaped=%llu nfd=%llu\n",
                    total_written, st.records, st.texts_bytes, st.newlines, st.chat,
                    st.multi, st.en_prose, st.ko_prose, st.numbers, st.code, st.links,
                    st.ascii_escaped, st.nfd);
    }
    return 0;
}
