/* Conversations from records: SFT examples and Alpaca pairs (template.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/template.h"

static int bad(sft_chat *c, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    sft_chat_free(c);
    return -1;
}

void sft_chat_free(sft_chat *c)
{
    free(c->msgs);
    free(c->parts);
    free(c->text);
    memset(c, 0, sizeof *c);
}

static int role_of(const char *s, enum sft_chat_role *r)
{
    static const struct {
        const char *name;
        enum sft_chat_role role;
    } roles[] = {{"system", SFT_ROLE_SYSTEM}, {"user", SFT_ROLE_USER}, {"assistant", SFT_ROLE_ASSISTANT}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(s, roles[i].name) == 0) {
            *r = roles[i].role;
            return 0;
        }
    return -1;
}

static int from_alpaca(const cJSON *rec, sft_chat *c, char *err, size_t errlen)
{
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(rec, "instruction");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(rec, "input");
    const cJSON *outp = cJSON_GetObjectItemCaseSensitive(rec, "output");
    if (!cJSON_IsString(ins)) return bad(c, err, errlen, "instruction: not a string");
    if (!cJSON_IsString(outp)) return bad(c, err, errlen, "output: missing or not a string");
    if (in && !cJSON_IsString(in) && !cJSON_IsNull(in))
        return bad(c, err, errlen, "input: not a string");
    size_t ilen = strlen(ins->valuestring);
    size_t nlen = cJSON_IsString(in) ? strlen(in->valuestring) : 0;
    c->text = malloc(ilen + 2 + nlen + 1);
    c->msgs = calloc(2, sizeof *c->msgs);
    if (!c->text || !c->msgs) return bad(c, err, errlen, "out of memory");
    memcpy(c->text, ins->valuestring, ilen);
    size_t len = ilen;
    if (nlen) {
        memcpy(c->text + len, "\n\n", 2);
        memcpy(c->text + len + 2, in->valuestring, nlen);
        len += 2 + nlen;
    }
    c->text[len] = '\0';
    c->msgs[0] = (sft_chat_msg){.role = SFT_ROLE_USER, .content = c->text, .content_len = len};
    c->msgs[1] = (sft_chat_msg){.role = SFT_ROLE_ASSISTANT,
                                .content = outp->valuestring,
                                .content_len = strlen(outp->valuestring)};
    c->n = 2;
    return 0;
}

static int read_parts(const cJSON *arr, size_t i, sft_chat_part *parts, size_t *np, sft_chat *c,
                      char *err, size_t errlen)
{
    size_t k = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, arr)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (!cJSON_IsString(type))
            return bad(c, err, errlen, "messages[%zu].content[%zu].type: missing or not a string", i, k);
        sft_chat_part *d = &parts[*np + k];
        if (strcmp(type->valuestring, "text") == 0) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
            if (!cJSON_IsString(t))
                return bad(c, err, errlen, "messages[%zu].content[%zu].text: missing or not a string", i, k);
            *d = (sft_chat_part){SFT_PART_TEXT, t->valuestring, strlen(t->valuestring)};
        } else if (strcmp(type->valuestring, "image") == 0) {
            const cJSON *path = cJSON_GetObjectItemCaseSensitive(p, "path");
            if (path && !cJSON_IsString(path))
                return bad(c, err, errlen, "messages[%zu].content[%zu].path: not a string", i, k);
            *d = (sft_chat_part){SFT_PART_IMAGE, path ? path->valuestring : NULL,
                                 path ? strlen(path->valuestring) : 0};
        } else {
            return bad(c, err, errlen, "messages[%zu].content[%zu].type: unknown part type \"%s\"", i, k,
                       type->valuestring);
        }
        k++;
    }
    *np += k;
    return 0;
}

int sft_chat_from_json(const cJSON *rec, sft_chat *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(rec)) return bad(c, err, errlen, "record is not an object");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
    if (!msgs) {
        if (cJSON_GetObjectItemCaseSensitive(rec, "instruction")) return from_alpaca(rec, c, err, errlen);
        return bad(c, err, errlen, "no \"messages\" (nor an Alpaca \"instruction\"/\"output\" pair)");
    }
    if (!cJSON_IsArray(msgs)) return bad(c, err, errlen, "messages: not an array");
    size_t n = (size_t)cJSON_GetArraySize(msgs), nparts = 0;
    if (n == 0) return bad(c, err, errlen, "messages: empty");
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsArray(content)) nparts += (size_t)cJSON_GetArraySize(content);
    }
    c->msgs = calloc(n, sizeof *c->msgs);
    c->parts = nparts ? calloc(nparts, sizeof *c->parts) : NULL;
    if (!c->msgs || (nparts && !c->parts)) return bad(c, err, errlen, "out of memory");
    size_t i = 0, np = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        sft_chat_msg *d = &c->msgs[i];
        if (!cJSON_IsObject(m)) return bad(c, err, errlen, "messages[%zu]: not an object", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role)) return bad(c, err, errlen, "messages[%zu].role: missing or not a string", i);
        if (role_of(role->valuestring, &d->role) != 0)
            return bad(c, err, errlen, "messages[%zu].role: unknown role \"%s\" (system, user and assistant only)",
                       i, role->valuestring);
        if (cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
            return bad(c, err, errlen, "messages[%zu].tool_calls: tool calls are not supported", i);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(content)) {
            d->content = content->valuestring;
            d->content_len = strlen(content->valuestring);
        } else if (cJSON_IsArray(content)) {
            size_t first = np;
            if (read_parts(content, i, c->parts, &np, c, err, errlen) != 0) return -1;
            if (np == first) return bad(c, err, errlen, "messages[%zu].content: empty list of parts", i);
            d->parts = &c->parts[first];
            d->nparts = np - first;
        } else {
            return bad(c, err, errlen, "messages[%zu].content: missing, or neither a string nor a list of parts", i);
        }
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reasoning_content");
        if (cJSON_IsString(r)) {
            d->reasoning = r->valuestring;
            d->reasoning_len = strlen(r->valuestring);
        } else if (r && !cJSON_IsNull(r)) {
            return bad(c, err, errlen, "messages[%zu].reasoning_content: not a string", i);
        }
        i++;
    }
    c->n = n;
    return 0;
}
