/* Built-in chat template renderers (template.h).
 *
 * Each renderer is a transcription of one Jinja chat_template, read line by
 * line: the same whitespace, the same trim()/strip('\n') calls (with
 * Python's semantics, as transformers runs them under jinja2), the same
 * exceptions. Tools and tool calls are not rendered. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"
#include "tok/template.h"

typedef struct {
    const char *p;
    size_t n;
} str;

#define S(lit) ((str){(lit), sizeof(lit) - 1})

static str cstr(const char *s)
{
    return (str){s, s ? strlen(s) : 0};
}

static int starts(str s, str pre)
{
    return s.n >= pre.n && memcmp(s.p, pre.p, pre.n) == 0;
}

static int ends(str s, str suf)
{
    return s.n >= suf.n && memcmp(s.p + s.n - suf.n, suf.p, suf.n) == 0;
}

/* Offset of the first (last) occurrence of needle, or -1. */
static ptrdiff_t find(str s, str needle)
{
    const char *q = memmem(s.p, s.n, needle.p, needle.n);
    return q ? q - s.p : -1;
}

static ptrdiff_t rfind(str s, str needle)
{
    for (size_t i = s.n >= needle.n ? s.n - needle.n + 1 : 0; i-- > 0;)
        if (memcmp(s.p + i, needle.p, needle.n) == 0) return (ptrdiff_t)i;
    return -1;
}

/* s.split(sep)[0] and s.split(sep)[-1] */
static str before_first(str s, str sep)
{
    ptrdiff_t i = find(s, sep);
    return i < 0 ? s : (str){s.p, (size_t)i};
}

static str after_last(str s, str sep)
{
    ptrdiff_t i = rfind(s, sep);
    return i < 0 ? s : (str){s.p + i + sep.n, s.n - (size_t)i - sep.n};
}

/* Python's str.isspace() for one code point. */
static int py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Decodes the code point of the UTF-8 sequence at p (n bytes there) and
 * its length; a byte that starts no valid sequence is one non-space unit. */
static uint32_t utf8_at(const unsigned char *p, size_t n, size_t *len)
{
    *len = 1;
    if (p[0] < 0x80) return p[0];
    size_t k = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
    if (k == 0 || k > n) return UINT32_MAX;
    uint32_t c = p[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) return UINT32_MAX;
        c = c << 6 | (p[i] & 0x3f);
    }
    *len = k;
    return c;
}

/* Python's s.strip() (the |trim filter), lstrip() and rstrip(). */
static str py_lstrip(str s)
{
    size_t len;
    while (s.n && py_space(utf8_at((const unsigned char *)s.p, s.n, &len))) s.p += len, s.n -= len;
    return s;
}

static str py_rstrip(str s)
{
    while (s.n) {
        size_t b = s.n - 1, len;
        while (b > 0 && s.n - b < 4 && ((unsigned char)s.p[b] & 0xc0) == 0x80) b--;
        if (!py_space(utf8_at((const unsigned char *)s.p + b, s.n - b, &len)) || b + len != s.n) break;
        s.n = b;
    }
    return s;
}

static str trim(str s)
{
    return py_rstrip(py_lstrip(s));
}

/* s.lstrip('\n'), s.rstrip('\n') */
static str lstrip_nl(str s)
{
    while (s.n && s.p[0] == '\n') s.p++, s.n--;
    return s;
}

static str rstrip_nl(str s)
{
    while (s.n && s.p[s.n - 1] == '\n') s.n--;
    return s;
}

/* ---- rendering state ---- */

typedef struct {
    const sft_template *t;
    const sft_chat_opts *o;
    const sft_chat_msg *m;
    size_t n;
    sft_buf *out;
    sft_chat_turn *turns;
    sft_buf scratch; /* content assembled from parts, before it is trimmed */
    int oom;
    char *err;
    size_t errlen;
} R;

struct sft_template {
    const char *name;
    int (*render)(R *r);
    const char *default_system; /* ChatML family: written when messages[0] is no system */
};

static int fail(R *r, const char *fmt, ...)
{
    int k = snprintf(r->err, r->errlen, "template %s: ", r->t->name);
    if (k >= 0 && (size_t)k < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void put(R *r, str s)
{
    if (!r->oom && buf_append(r->out, s.p, s.n) != 0) r->oom = 1;
}

static void puts_(R *r, const char *s)
{
    put(r, cstr(s));
}

static void begin(R *r, size_t i)
{
    if (r->turns) r->turns[i] = (sft_chat_turn){r->out->len, r->out->len, r->out->len, r->out->len};
}

/* The assistant's trained bytes start here (after the turn's header)... */
static void train(R *r, size_t i)
{
    if (r->turns && r->m[i].role == SFT_ROLE_ASSISTANT) r->turns[i].train_start = r->turns[i].train_end = r->out->len;
}

/* ...and end here, after the end-of-turn marker. */
static void train_end(R *r, size_t i)
{
    if (r->turns && r->m[i].role == SFT_ROLE_ASSISTANT) r->turns[i].train_end = r->out->len;
}

static void end(R *r, size_t i)
{
    if (r->turns) r->turns[i].end = r->out->len;
}

static str content(const R *r, size_t i)
{
    return (str){r->m[i].content, r->m[i].content_len};
}

static const char *role_name(enum sft_chat_role role)
{
    return role == SFT_ROLE_SYSTEM ? "system" : role == SFT_ROLE_USER ? "user" : "assistant";
}

/* Templates that concatenate message.content as a string fail on a list of
 * parts in jinja2 (str + list); so do we, with a better reason. */
static int strings_only(R *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->m[i].parts)
            return fail(r, "messages[%zu].content: content parts are not supported by this template, only strings", i);
    return 0;
}

static const char *bos(const R *r, const char *usual)
{
    return r->o->bos_token ? r->o->bos_token : usual;
}

/* ---- ChatML: chatml, qwen2, qwen2.5 ----
 * Every message as <|im_start|>ROLE\nCONTENT<|im_end|>\n; qwen2 and qwen2.5
 * open with their default system prompt when messages[0] is no system. */
static int render_chatml(R *r)
{
    if (strings_only(r)) return -1;
    if (r->t->default_system && r->m[0].role != SFT_ROLE_SYSTEM) {
        puts_(r, "<|im_start|>system\n");
        puts_(r, r->t->default_system);
        puts_(r, "<|im_end|>\n");
    }
    for (size_t i = 0; i < r->n; i++) {
        begin(r, i);
        puts_(r, "<|im_start|>");
        puts_(r, role_name(r->m[i].role));
        puts_(r, "\n");
        train(r, i);
        put(r, content(r, i));
        puts_(r, "<|im_end|>");
        train_end(r, i);
        puts_(r, "\n");
        end(r, i);
    }
    if (r->o->add_generation_prompt) puts_(r, "<|im_start|>assistant\n");
    return 0;
}


/* ---- Qwen3 (Qwen3-0.6B and its unsloth copy, which renders the same) and
 * Qwen3.5: think blocks after the last user query ---- */

/* The content of message i as Qwen3.5's render_content(...)|trim sees it:
 * parts joined, an image as its vision pad. Points into r->scratch or the
 * message; valid until the next call. */
static int qwen35_content(R *r, size_t i, str *c)
{
    const sft_chat_msg *m = &r->m[i];
    if (!m->parts) {
        *c = trim(content(r, i));
        return 0;
    }
    r->scratch.len = 0;
    for (size_t k = 0; k < m->nparts; k++) {
        str s = S("<|vision_start|><|image_pad|><|vision_end|>");
        if (m->parts[k].type == SFT_PART_IMAGE) {
            if (i == 0 && m->role == SFT_ROLE_SYSTEM) return fail(r, "System message cannot contain images.");
        } else {
            s = (str){m->parts[k].text, m->parts[k].len};
        }
        if (buf_append(&r->scratch, s.p, s.n) != 0) return r->oom = 1, -1;
    }
    *c = trim((str){r->scratch.p, r->scratch.len});
    return 0;
}

/* ns.last_query_index: the last user message that is no tool response
 * (Qwen3.5 looks at its trimmed content), or SIZE_MAX when there is none. */
static int qwen_last_query(R *r, int qwen35, size_t *lq)
{
    *lq = SIZE_MAX;
    for (size_t i = r->n; i-- > 0;) {
        if (r->m[i].role != SFT_ROLE_USER) continue;
        str c = content(r, i);
        if (qwen35 && qwen35_content(r, i, &c) != 0) return -1;
        if (!(starts(c, S("<tool_response>")) && ends(c, S("</tool_response>")))) {
            *lq = i;
            break;
        }
    }
    return 0;
}

/* A think block written into the content ("<think>R</think>C") when no
 * reasoning_content is given: R and C as both templates cut them. */
static void split_think(str *c, str *reasoning)
{
    if (find(*c, S("</think>")) < 0) return;
    *reasoning = lstrip_nl(after_last(rstrip_nl(before_first(*c, S("</think>"))), S("<think>")));
    *c = lstrip_nl(after_last(*c, S("</think>")));
}

static int render_qwen3(R *r)
{
    if (strings_only(r)) return -1;
    size_t lq;
    if (qwen_last_query(r, 0, &lq) != 0) return -1;
    if (lq == SIZE_MAX) lq = r->n - 1;
    for (size_t i = 0; i < r->n; i++) {
        str c = content(r, i);
        begin(r, i);
        puts_(r, "<|im_start|>");
        puts_(r, role_name(r->m[i].role));
        puts_(r, "\n");
        train(r, i);
        if (r->m[i].role == SFT_ROLE_ASSISTANT) {
            str reasoning = S("");
            if (r->m[i].reasoning)
                reasoning = (str){r->m[i].reasoning, r->m[i].reasoning_len};
            else
                split_think(&c, &reasoning);
            /* The last turn always gets a think block, an earlier one after
             * the last query only when it has reasoning. */
            if (i > lq && (i == r->n - 1 || reasoning.n)) {
                puts_(r, "<think>\n");
                put(r, lstrip_nl(rstrip_nl(reasoning)));
                puts_(r, "\n</think>\n\n");
                c = lstrip_nl(c);
                if (!lstrip_nl(rstrip_nl(reasoning)).n) train(r, i); /* an empty block is the template's */
            }
        }
        put(r, c);
        puts_(r, "<|im_end|>");
        train_end(r, i);
        puts_(r, "\n");
        end(r, i);
    }
    if (r->o->add_generation_prompt) {
        puts_(r, "<|im_start|>assistant\n");
        if (r->o->enable_thinking == SFT_THINK_OFF) puts_(r, "<think>\n\n</think>\n\n");
    }
    return 0;
}

static int render_qwen35(R *r)
{
    size_t lq;
    if (qwen_last_query(r, 1, &lq) != 0) return -1;
    if (lq == SIZE_MAX) return fail(r, "No user query found in messages.");
    for (size_t i = 0; i < r->n; i++) {
        const sft_chat_msg *m = &r->m[i];
        if (m->role == SFT_ROLE_SYSTEM && i > 0) return fail(r, "System message must be at the beginning.");
        str c;
        if (qwen35_content(r, i, &c) != 0) return -1;
        begin(r, i);
        puts_(r, "<|im_start|>");
        puts_(r, role_name(m->role));
        puts_(r, "\n");
        train(r, i);
        if (m->role == SFT_ROLE_ASSISTANT) {
            str reasoning = S("");
            if (m->reasoning)
                reasoning = (str){m->reasoning, m->reasoning_len};
            else
                split_think(&c, &reasoning);
            /* Every assistant turn after the last query has a think block. */
            if (i > lq) {
                puts_(r, "<think>\n");
                put(r, trim(reasoning));
                puts_(r, "\n</think>\n\n");
                if (!trim(reasoning).n) train(r, i); /* an empty block is the template's */
            }
        }
        put(r, c);
        puts_(r, "<|im_end|>");
        train_end(r, i);
        puts_(r, "\n");
        end(r, i);
    }
    if (r->o->add_generation_prompt)
        puts_(r, r->o->enable_thinking == SFT_THINK_OFF ? "<|im_start|>assistant\n<think>\n\n</think>\n\n"
                                                         : "<|im_start|>assistant\n<think>\n");
    return 0;
}

/* ---- Gemma 2 and Gemma 3: <start_of_turn>user|model ... <end_of_turn> ---- */

/* Their check, (role == 'user') != (index % 2 == 0): users at even places,
 * anything else at odd ones. */
static int gemma_alternates(R *r, size_t first)
{
    for (size_t i = first; i < r->n; i++)
        if ((r->m[i].role == SFT_ROLE_USER) != ((i - first) % 2 == 0))
            return fail(r, "Conversation roles must alternate user/assistant/user/assistant/... "
                           "(messages[%zu] is %s)",
                        i, role_name(r->m[i].role));
    return 0;
}

static void gemma_header(R *r, size_t i)
{
    begin(r, i);
    puts_(r, "<start_of_turn>");
    puts_(r, r->m[i].role == SFT_ROLE_ASSISTANT ? "model" : role_name(r->m[i].role));
    puts_(r, "\n");
    train(r, i);
}

static void gemma_footer(R *r, size_t i)
{
    puts_(r, "<end_of_turn>");
    train_end(r, i);
    puts_(r, "\n");
    end(r, i);
}

static int render_gemma2(R *r)
{
    if (strings_only(r)) return -1;
    if (r->m[0].role == SFT_ROLE_SYSTEM) return fail(r, "System role not supported");
    if (gemma_alternates(r, 0)) return -1;
    puts_(r, bos(r, "<bos>"));
    for (size_t i = 0; i < r->n; i++) {
        gemma_header(r, i);
        put(r, trim(content(r, i)));
        gemma_footer(r, i);
    }
    if (r->o->add_generation_prompt) puts_(r, "<start_of_turn>model\n");
    return 0;
}

/* Gemma 3 folds the system message, untrimmed, into the first user turn;
 * of a system message in parts only the first part's text is kept. */
static int render_gemma3(R *r)
{
    size_t first = 0;
    str prefix = S("");
    if (r->m[0].role == SFT_ROLE_SYSTEM) {
        const sft_chat_msg *s = &r->m[0];
        if (s->parts && s->parts[0].type != SFT_PART_TEXT)
            return fail(r, "messages[0].content[0]: a system message in parts must start with text");
        prefix = s->parts ? (str){s->parts[0].text, s->parts[0].len} : content(r, 0);
        first = 1;
    }
    if (gemma_alternates(r, first)) return -1;
    puts_(r, bos(r, "<bos>"));
    if (first) {
        begin(r, 0);
        end(r, 0);
    }
    for (size_t i = first; i < r->n; i++) {
        gemma_header(r, i);
        if (i == first && first) {
            put(r, prefix);
            puts_(r, "\n\n");
        }
        const sft_chat_msg *m = &r->m[i];
        if (!m->parts) put(r, trim(content(r, i)));
        for (size_t k = 0; k < m->nparts; k++)
            if (m->parts[k].type == SFT_PART_IMAGE)
                puts_(r, "<start_of_image>");
            else
                put(r, trim((str){m->parts[k].text, m->parts[k].len}));
        gemma_footer(r, i);
    }
    if (r->o->add_generation_prompt) puts_(r, "<start_of_turn>model\n");
    return 0;
}

/* ---- Gemma 4: <|turn>user|model ... <turn|> ---- */

/* strip_thinking(): drops every "<|channel>...<channel|>" thought, then trims. */
static str gemma4_strip_thinking(R *r, str text)
{
    const str close_tag = S("<channel|>");
    r->scratch.len = 0;
    while (1) {
        ptrdiff_t close = find(text, close_tag);
        str part = close < 0 ? text : (str){text.p, (size_t)close};
        part = before_first(part, S("<|channel>"));
        if (buf_append(&r->scratch, part.p, part.n) != 0) r->oom = 1;
        if (close < 0) break;
        text.p += (size_t)close + close_tag.n, text.n -= (size_t)close + close_tag.n;
    }
    return trim((str){r->scratch.p, r->scratch.len});
}

static str gemma4_text(R *r, size_t i, str text)
{
    return r->m[i].role == SFT_ROLE_ASSISTANT ? gemma4_strip_thinking(r, text) : trim(text);
}

static int render_gemma4(R *r)
{
    size_t first = r->m[0].role == SFT_ROLE_SYSTEM;
    /* messages[0]['content'] | trim: a list would be written as its repr. */
    if (first && r->m[0].parts)
        return fail(r, "messages[0].content: the first system message takes a string, not parts");
    puts_(r, bos(r, "<bos>"));
    int think = r->o->enable_thinking == SFT_THINK_ON;
    if (think || first) {
        if (first) begin(r, 0);
        puts_(r, "<|turn>system\n");
        if (think) puts_(r, "<|think|>\n");
        if (first) put(r, trim(content(r, 0)));
        puts_(r, "<turn|>\n");
        if (first) end(r, 0);
    }
    for (size_t i = first; i < r->n; i++) {
        const sft_chat_msg *m = &r->m[i];
        begin(r, i);
        /* An assistant message right after another continues its turn. */
        if (!(m->role == SFT_ROLE_ASSISTANT && i > first && r->m[i - 1].role == SFT_ROLE_ASSISTANT)) {
            puts_(r, "<|turn>");
            puts_(r, m->role == SFT_ROLE_ASSISTANT ? "model" : role_name(m->role));
            puts_(r, "\n");
        }
        train(r, i);
        if (!m->parts) put(r, gemma4_text(r, i, content(r, i)));
        for (size_t k = 0; k < m->nparts; k++)
            if (m->parts[k].type == SFT_PART_IMAGE)
                puts_(r, "<|image|>");
            else
                put(r, gemma4_text(r, i, (str){m->parts[k].text, m->parts[k].len}));
        puts_(r, "<turn|>");
        train_end(r, i);
        puts_(r, "\n");
        end(r, i);
    }
    if (r->o->add_generation_prompt) {
        puts_(r, "<|turn>model\n");
        if (!think) puts_(r, "<|channel>thought\n<channel|>");
    }
    return 0;
}

/* ---- Llama 3.2 ---- */

/* strftime_now("%d %b %Y"), in English whatever the locale. */
static void today(char out[64])
{
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) tm = (struct tm){.tm_mday = 1, .tm_year = 70};
    snprintf(out, 64, "%02d %s %d", tm.tm_mday, mon[(unsigned)tm.tm_mon % 12], tm.tm_year + 1900);
}

static int render_llama3(R *r)
{
    if (strings_only(r)) return -1;
    char date[64];
    if (!r->o->date_string) today(date);
    size_t first = r->m[0].role == SFT_ROLE_SYSTEM;
    puts_(r, bos(r, "<|begin_of_text|>"));
    /* The system turn is always there, with the dates. */
    if (first) begin(r, 0);
    puts_(r, "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ");
    puts_(r, r->o->date_string ? r->o->date_string : date);
    puts_(r, "\n\n");
    if (first) put(r, trim(content(r, 0)));
    puts_(r, "<|eot_id|>");
    if (first) end(r, 0);
    for (size_t i = first; i < r->n; i++) {
        begin(r, i);
        puts_(r, "<|start_header_id|>");
        puts_(r, role_name(r->m[i].role));
        puts_(r, "<|end_header_id|>\n\n");
        train(r, i);
        put(r, trim(content(r, i)));
        puts_(r, "<|eot_id|>");
        train_end(r, i);
        end(r, i);
    }
    if (r->o->add_generation_prompt) puts_(r, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return 0;
}

/* ---- Llama 2: <s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A </s> ----
 * The template of Llama-2-*-chat-hf; it has no generation prompt. */
static int render_llama2(R *r)
{
    if (strings_only(r)) return -1;
    size_t first = r->m[0].role == SFT_ROLE_SYSTEM;
    if (gemma_alternates(r, first)) return -1;
    if (first) {
        begin(r, 0);
        end(r, 0);
    }
    for (size_t i = first; i < r->n; i++) {
        str c = content(r, i);
        if (i == first && first) {
            r->scratch.len = 0;
            str sys = content(r, 0);
            if (buf_append(&r->scratch, "<<SYS>>\n", 8) || buf_append(&r->scratch, sys.p, sys.n) ||
                buf_append(&r->scratch, "\n<</SYS>>\n\n", 11) || buf_append(&r->scratch, c.p, c.n))
                return r->oom = 1, -1;
            c = (str){r->scratch.p, r->scratch.len};
        }
        begin(r, i);
        if (r->m[i].role == SFT_ROLE_USER) {
            puts_(r, bos(r, "<s>"));
            puts_(r, "[INST] ");
            put(r, trim(c));
            puts_(r, " [/INST]");
        } else if (r->m[i].role == SFT_ROLE_ASSISTANT) {
            train(r, i);
            puts_(r, " ");
            put(r, trim(c));
            puts_(r, " ");
            puts_(r, r->o->eos_token ? r->o->eos_token : "</s>");
            train_end(r, i);
        }
        end(r, i);
    }
    return 0;
}

/* ---- Alpaca, for models without a chat template ----
 * [system or the Alpaca preamble]\n\n### Instruction:\nU\n\n### Response:\nA</s>\n\n */
static int render_alpaca(R *r)
{
    if (r->m[0].role != SFT_ROLE_SYSTEM)
        puts_(r, "Below is an instruction that describes a task. "
                 "Write a response that appropriately completes the request.\n\n");
    for (size_t i = 0; i < r->n; i++) {
        const sft_chat_msg *m = &r->m[i];
        begin(r, i);
        if (m->role == SFT_ROLE_USER) puts_(r, "### Instruction:\n");
        if (m->role == SFT_ROLE_ASSISTANT) puts_(r, "### Response:\n");
        train(r, i);
        if (!m->parts) put(r, content(r, i));
        for (size_t k = 0; k < m->nparts; k++) {
            if (m->parts[k].type == SFT_PART_IMAGE)
                return fail(r, "messages[%zu].content[%zu]: images are not supported by this template", i, k);
            put(r, (str){m->parts[k].text, m->parts[k].len});
        }
        if (m->role == SFT_ROLE_ASSISTANT) puts_(r, r->o->eos_token ? r->o->eos_token : "</s>");
        train_end(r, i);
        puts_(r, "\n\n");
        end(r, i);
    }
    if (r->o->add_generation_prompt) puts_(r, "### Response:\n");
    return 0;
}

/* ---- the registry ---- */

static const sft_template templates[] = {
    {"chatml", render_chatml, NULL},
    {"qwen2", render_chatml, "You are a helpful assistant."},
    {"qwen2.5", render_chatml, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."},
    {"qwen3", render_qwen3, NULL},
    {"qwen3.5", render_qwen35, NULL},
    {"gemma2", render_gemma2, NULL},
    {"gemma3", render_gemma3, NULL},
    {"gemma4", render_gemma4, NULL},
    {"llama3", render_llama3, NULL},
    {"llama2", render_llama2, NULL},
    {"alpaca", render_alpaca, NULL},
};

enum { T_CHATML, T_QWEN2, T_QWEN25, T_QWEN3, T_QWEN35, T_GEMMA2, T_GEMMA3, T_GEMMA4, T_LLAMA3, T_LLAMA2, T_ALPACA };

const sft_template *sft_template_by_name(const char *name)
{
    if (strcmp(name, "gemma") == 0) return &templates[T_GEMMA3];
    for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
        if (strcmp(name, templates[i].name) == 0) return &templates[i];
    return NULL;
}

const char *sft_template_name(const sft_template *t)
{
    return t->name;
}

const char *sft_template_names(void)
{
    return "chatml qwen2 qwen2.5 qwen3 qwen3.5 gemma2 gemma3 gemma gemma4 llama3 llama2 alpaca";
}

/* SHA-256 of the chat templates we transcribed (trailing whitespace cut). */
static const struct {
    const char *sha256;
    int t;
} known[] = {
    {"55b2f4a26ac9ee719330a61a0c39d9e538b0e9322212f048326318cff4f8674a", T_QWEN25}, /* Qwen2.5-7B-Instruct */
    {"87a2728cb8dc9fe424d624542f6060ec05a1d285ebbec578bb078900e33396b5", T_QWEN3},  /* Qwen3-0.6B */
    {"96fd16d36fb085260f9eb1e717b2c4e6e8b9e75a5e6504f66c8d6b128d82784d", T_QWEN3},  /* Qwen3, unsloth */
    {"a4aee8afcf2e0711942cf848899be66016f8d14a889ff9ede07bca099c28f715", T_QWEN35}, /* Qwen3.5-4B */
    {"ecd6ae513fe103f0eb62e8ab5bfa8d0fe45c1074fa398b089c93a7e70c15cfd6", T_GEMMA2}, /* gemma-2-2b-it */
    {"8d9e3a3c114fb2053ec500184677af4f7e5f8ec2582443cd535834e68b3ade29", T_GEMMA3}, /* gemma-3 */
    {"1d35a24a2a63cc600c0cab43628a6df4cd3318e959b03307cf5f9f7e29ecf783", T_GEMMA4}, /* gemma-4-31B-it */
    {"d82792f95932f1c9cef5c4bd992f171225e3bf8c7b609b4557c9e1ec96be819f", T_LLAMA3}, /* Llama-3.2-3B-Instruct */
};

static int has(str s, const char *marker)
{
    return find(s, cstr(marker)) >= 0;
}

const sft_template *sft_template_detect(const char *jinja, size_t len)
{
    str s = {jinja, len};
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r'))
        s.n--;
    unsigned char d[SHA256_DIGEST_LEN];
    char hex[2 * SHA256_DIGEST_LEN + 1];
    sha256(s.p, s.n, d);
    for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(hex, known[i].sha256) == 0) return &templates[known[i].t];
    /* Near variants (a changed default prompt, tool handling), by the
     * markers that decide how a conversation renders. */
    if (has(s, "<|turn>") && has(s, "<turn|>")) return &templates[T_GEMMA4];
    if (has(s, "<start_of_turn>"))
        return &templates[has(s, "System role not supported") ? T_GEMMA2 : T_GEMMA3];
    if (has(s, "<|start_header_id|>"))
        return has(s, "Cutting Knowledge Date") ? &templates[T_LLAMA3] : NULL;
    if (has(s, "<|im_start|>")) {
        if (has(s, "<think>")) return &templates[has(s, "<|vision_start|>") ? T_QWEN35 : T_QWEN3];
        if (has(s, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")) return &templates[T_QWEN25];
        if (has(s, "You are a helpful assistant.")) return &templates[T_QWEN2];
        return &templates[T_CHATML];
    }
    if (has(s, "[INST]") && has(s, "<<SYS>>")) return &templates[T_LLAMA2];
    if (has(s, "### Instruction:") && has(s, "### Response:")) return &templates[T_ALPACA];
    return NULL;
}

int sft_chat_render(const sft_template *t, const sft_chat_opts *opts, const sft_chat_msg *msgs,
                    size_t n, sft_buf *out, sft_chat_turn *turns, char *err, size_t errlen)
{
    static const sft_chat_opts defaults;
    R r = {.t = t, .o = opts ? opts : &defaults, .m = msgs, .n = n, .out = out, .turns = turns,
           .err = err, .errlen = errlen};
    if (n == 0) return fail(&r, "no messages");
    size_t len0 = out->len;
    int rc = t->render(&r);
    buf_free(&r.scratch);
    if (r.oom) rc = fail(&r, "out of memory");
    if (rc != 0) out->len = len0;
    return rc;
}
