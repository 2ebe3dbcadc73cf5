/* chat-render: the built-in chat templates, for the conformance tests.
 *
 *   chat-render --detect FILE            prints the template detected for a
 *                                        Jinja chat_template file ("none")
 *   chat-render --template NAME [FILE]   renders each record of FILE (or
 *                                        stdin), one JSON line out per line in
 *
 * An input record is an SFT example or an Alpaca pair, plus "opts":
 * {"add_generation_prompt", "enable_thinking" (true/false; absent: not
 * passed), "bos_token", "eos_token", "date_string"}. Output:
 * {"text": ..., "turns": [[start, end, train_start, train_end], ...]} with
 * byte offsets, or {"error": REASON}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tok/template.h"

static char *slurp(FILE *f, size_t *len)
{
    sft_buf b = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, k) != 0) return buf_free(&b), NULL;
    if (buf_putc(&b, '\0') != 0) return buf_free(&b), NULL;
    *len = b.len - 1;
    return b.p;
}

static const char *str_opt(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Renders one record; returns the output line (malloc'ed). */
static char *render_line(const sft_template *t, const char *line)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *rec = cJSON_Parse(line);
    char err[512];
    sft_chat chat = {0};
    if (!rec) {
        cJSON_AddStringToObject(out, "error", "bad JSON");
    } else if (sft_chat_from_json(rec, &chat, err, sizeof err) != 0) {
        cJSON_AddStringToObject(out, "error", err);
    } else {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, "opts");
        const cJSON *think = cJSON_GetObjectItemCaseSensitive(o, "enable_thinking");
        sft_chat_opts opts = {
            .add_generation_prompt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "add_generation_prompt")),
            .enable_thinking = cJSON_IsTrue(think) ? SFT_THINK_ON : cJSON_IsFalse(think) ? SFT_THINK_OFF : SFT_THINK_DEFAULT,
            .bos_token = str_opt(o, "bos_token"),
            .eos_token = str_opt(o, "eos_token"),
            .date_string = str_opt(o, "date_string"),
        };
        sft_buf text = {0};
        sft_chat_turn *turns = calloc(chat.n, sizeof *turns);
        if (!turns) {
            cJSON_AddStringToObject(out, "error", "out of memory");
        } else if (sft_chat_render(t, &opts, chat.msgs, chat.n, &text, turns, err, sizeof err) != 0) {
            cJSON_AddStringToObject(out, "error", err);
        } else {
            /* cJSON strings are NUL-terminated: the text has no NUL (it came from cJSON). */
            if (buf_putc(&text, '\0') == 0) cJSON_AddStringToObject(out, "text", text.p);
            cJSON *ts = cJSON_AddArrayToObject(out, "turns");
            for (size_t i = 0; i < chat.n; i++) {
                double v[4] = {(double)turns[i].start, (double)turns[i].end, (double)turns[i].train_start,
                               (double)turns[i].train_end};
                cJSON_AddItemToArray(ts, cJSON_CreateDoubleArray(v, 4));
            }
        }
        free(turns);
        buf_free(&text);
        sft_chat_free(&chat);
    }
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    cJSON_Delete(rec);
    return s;
}

static int usage(void)
{
    fprintf(stderr, "usage: chat-render --detect FILE | --template NAME [FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--detect") == 0) {
        FILE *f = fopen(argv[2], "rb");
        size_t len;
        char *s = f ? slurp(f, &len) : NULL;
        if (!s) {
            fprintf(stderr, "chat-render: %s: cannot read\n", argv[2]);
            return 66;
        }
        fclose(f);
        const sft_template *t = sft_template_detect(s, len);
        printf("%s\n", t ? sft_template_name(t) : "none");
        free(s);
        return 0;
    }
    if ((argc != 3 && argc != 4) || strcmp(argv[1], "--template") != 0) return usage();
    const sft_template *t = sft_template_by_name(argv[2]);
    if (!t) {
        fprintf(stderr, "chat-render: unknown template %s (one of: %s)\n", argv[2], sft_template_names());
        return 2;
    }
    FILE *in = argc == 4 ? fopen(argv[3], "rb") : stdin;
    if (!in) {
        fprintf(stderr, "chat-render: %s: cannot open\n", argv[3]);
        return 66;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        if (line[0] == '\n') continue;
        char *s = render_line(t, line);
        if (!s) return 70;
        puts(s);
        cJSON_free(s);
    }
    free(line);
    if (in != stdin) fclose(in);
    return ferror(stdout) ? 74 : 0;
}
