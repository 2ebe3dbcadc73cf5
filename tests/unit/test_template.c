#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tok/template.h"

#define MSG(r, c) {.role = SFT_ROLE_##r, .content = (c), .content_len = sizeof(c) - 1} /* c: a literal */

static const sft_chat_msg sys_user_asst[] = {MSG(SYSTEM, "Be brief."), MSG(USER, " Hi "), MSG(ASSISTANT, "Hello!\n")};

static sft_buf out;
static sft_chat_turn turns[16];
static char err[256];

/* Renders msgs with template name; returns the text (NUL-terminated in out)
 * or NULL with the reason in err. */
static const char *render(const char *name, const sft_chat_opts *o, const sft_chat_msg *m, size_t n)
{
    const sft_template *t = sft_template_by_name(name);
    assert_non_null(t);
    out.len = 0;
    memset(turns, 0xff, sizeof turns);
    err[0] = '\0';
    if (sft_chat_render(t, o, m, n, &out, turns, err, sizeof err) != 0) return NULL;
    assert_int_equal(buf_putc(&out, '\0'), 0);
    out.len--;
    return out.p;
}

/* The trained bytes of turn i. */
static char *trained(size_t i)
{
    static char s[512];
    size_t n = turns[i].train_end - turns[i].train_start;
    assert_true(n < sizeof s);
    memcpy(s, out.p + turns[i].train_start, n);
    s[n] = '\0';
    return s;
}

static void check(const char *name, const sft_chat_opts *o, const sft_chat_msg *m, size_t n, const char *want)
{
    const char *got = render(name, o, m, n);
    if (!got) fail_msg("%s: %s", name, err);
    assert_string_equal(got, want);
}

static int teardown(void **state)
{
    (void)state;
    buf_free(&out);
    return 0;
}

static void test_chatml_family(void **state)
{
    (void)state;
    sft_chat_opts gen = {.add_generation_prompt = 1};
    check("chatml", &gen, sys_user_asst + 1, 2,
          "<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello!\n<|im_end|>\n<|im_start|>assistant\n");
    check("qwen2", NULL, sys_user_asst + 1, 1,
          "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n");
    check("qwen2.5", NULL, sys_user_asst + 1, 1,
          "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
          "<|im_start|>user\n Hi <|im_end|>\n");
    /* A system message replaces the default one. */
    check("qwen2.5", NULL, sys_user_asst, 3,
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n"
          "<|im_start|>assistant\nHello!\n<|im_end|>\n");
    assert_int_equal(turns[0].start, 0);
    assert_int_equal(turns[1].start, turns[0].end);
    assert_int_equal(turns[1].train_start, turns[1].train_end);
    assert_string_equal(trained(2), "Hello!\n<|im_end|>");
    assert_int_equal(turns[2].end, out.len);
}

static void test_qwen3(void **state)
{
    (void)state;
    /* The last assistant turn gets an empty think block, which is the
     * template's: the trained bytes start at the content after it. */
    check("qwen3", NULL, sys_user_asst, 3,
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n"
          "<|im_start|>assistant\n<think>\n\n</think>\n\nHello!\n<|im_end|>\n");
    assert_string_equal(trained(2), "Hello!\n<|im_end|>");
    assert_int_equal(turns[2].train_start, turns[2].start + strlen("<|im_start|>assistant\n<think>\n\n</think>\n\n"));

    /* Reasoning before the last query is dropped; after it, kept. */
    sft_chat_msg m[] = {MSG(USER, "1+1?"), MSG(ASSISTANT, "<think>\none\n</think>\n\n2"), MSG(USER, "2+2?"),
                        MSG(ASSISTANT, "4")};
    m[3].reasoning = "\n\nadd\n";
    m[3].reasoning_len = strlen(m[3].reasoning);
    check("qwen3", NULL, m, 4,
          "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n"
          "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nadd\n</think>\n\n4<|im_end|>\n");
    /* No think block: trained from the header on; with reasoning, the think
     * block is trained too. */
    assert_string_equal(trained(1), "2<|im_end|>");
    assert_int_equal(turns[1].train_start, turns[1].start + strlen("<|im_start|>assistant\n"));
    assert_string_equal(trained(3), "<think>\nadd\n</think>\n\n4<|im_end|>");
    assert_int_equal(turns[3].train_start, turns[3].start + strlen("<|im_start|>assistant\n"));

    sft_chat_opts off = {.add_generation_prompt = 1, .enable_thinking = SFT_THINK_OFF};
    check("qwen3", &off, m, 1, "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    sft_chat_opts on = {.add_generation_prompt = 1, .enable_thinking = SFT_THINK_ON};
    check("qwen3", &on, m, 1, "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n");
    /* lstrip('\n') strips newlines only, as in Python. */
    sft_chat_msg lead[] = {MSG(USER, "q"), MSG(ASSISTANT, "\n  a")};
    check("qwen3", NULL, lead, 2,
          "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n  a<|im_end|>\n");
    assert_string_equal(trained(1), "  a<|im_end|>");
}

static void test_qwen35(void **state)
{
    (void)state;
    sft_chat_part parts[] = {{SFT_PART_IMAGE, "a.png", 5}, {SFT_PART_TEXT, " What? ", 7}};
    sft_chat_msg m[] = {MSG(SYSTEM, " sys "), MSG(USER, ""), MSG(ASSISTANT, " It is a cat. ")};
    m[1].parts = parts;
    m[1].nparts = 2;
    sft_chat_opts gen = {.add_generation_prompt = 1};
    check("qwen3.5", &gen, m, 3,
          "<|im_start|>system\nsys<|im_end|>\n"
          "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|> What?<|im_end|>\n"
          "<|im_start|>assistant\n<think>\n\n</think>\n\nIt is a cat.<|im_end|>\n<|im_start|>assistant\n<think>\n");
    /* The empty think block is the template's and is not trained. */
    assert_string_equal(trained(2), "It is a cat.<|im_end|>");
    assert_int_equal(turns[2].train_start, turns[2].start + strlen("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    /* Reasoning is trained, from right after the header; reasoning that
     * trims to nothing gives the empty block, which is not. */
    sft_chat_msg r[] = {MSG(USER, "q"), MSG(ASSISTANT, "a")};
    r[1].reasoning = " why ";
    r[1].reasoning_len = strlen(r[1].reasoning);
    check("qwen3.5", NULL, r, 2,
          "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nwhy\n</think>\n\na<|im_end|>\n");
    assert_string_equal(trained(1), "<think>\nwhy\n</think>\n\na<|im_end|>");
    assert_int_equal(turns[1].train_start, turns[1].start + strlen("<|im_start|>assistant\n"));
    r[1].reasoning = " \n ";
    r[1].reasoning_len = strlen(r[1].reasoning);
    check("qwen3.5", NULL, r, 2,
          "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\na<|im_end|>\n");
    assert_string_equal(trained(1), "a<|im_end|>");

    assert_null(render("qwen3.5", NULL, m + 2, 1));
    assert_non_null(strstr(err, "No user query found"));
    sft_chat_msg late[] = {MSG(USER, "a"), MSG(SYSTEM, "b")};
    assert_null(render("qwen3.5", NULL, late, 2));
    assert_non_null(strstr(err, "System message must be at the beginning"));
    sft_chat_msg img_sys[] = {MSG(SYSTEM, ""), MSG(USER, "a")};
    img_sys[0].parts = parts;
    img_sys[0].nparts = 1;
    assert_null(render("qwen3.5", NULL, img_sys, 2));
    assert_non_null(strstr(err, "cannot contain images"));
}

static void test_gemma(void **state)
{
    (void)state;
    sft_chat_opts gen = {.add_generation_prompt = 1};
    check("gemma2", &gen, sys_user_asst + 1, 2,
          "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>model\n");
    assert_null(render("gemma2", NULL, sys_user_asst, 3));
    assert_non_null(strstr(err, "System role not supported"));

    /* Gemma 3 folds the system message, untrimmed, into the first user turn. */
    sft_chat_msg m[] = {MSG(SYSTEM, " Be brief. "), MSG(USER, " Hi "), MSG(ASSISTANT, "Hello!\n")};
    check("gemma", NULL, m, 3,
          "<bos><start_of_turn>user\n Be brief. \n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n");
    assert_int_equal(turns[0].start, turns[0].end);
    assert_string_equal(trained(2), "Hello!<end_of_turn>");
    assert_string_equal(out.p + turns[2].train_end, "\n");

    sft_chat_part parts[] = {{SFT_PART_TEXT, " Look: ", 7}, {SFT_PART_IMAGE, NULL, 0}};
    sft_chat_msg img[] = {MSG(USER, "")};
    img[0].parts = parts;
    img[0].nparts = 2;
    sft_chat_opts bos = {.bos_token = ""};
    check("gemma3", &bos, img, 1, "<start_of_turn>user\nLook:<start_of_image><end_of_turn>\n");

    sft_chat_msg twice[] = {MSG(USER, "a"), MSG(USER, "b")};
    out.len = 0;
    assert_int_equal(buf_append(&out, "kept", 4), 0);
    assert_int_equal(sft_chat_render(sft_template_by_name("gemma3"), NULL, twice, 2, &out, turns, err, sizeof err), -1);
    assert_non_null(strstr(err, "Conversation roles must alternate"));
    assert_int_equal(out.len, 4); /* out as it was */
}

static void test_gemma4(void **state)
{
    (void)state;
    sft_chat_msg m[] = {MSG(SYSTEM, " sys "), MSG(USER, " Hi "), MSG(ASSISTANT, "A<|channel>thought<channel|>B "),
                        MSG(ASSISTANT, "C")};
    sft_chat_opts gen = {.add_generation_prompt = 1};
    check("gemma4", &gen, m, 4,
          "<bos><|turn>system\nsys<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\nAB<turn|>\n"
          "C<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
    assert_string_equal(trained(2), "AB<turn|>");
    assert_string_equal(trained(3), "C<turn|>"); /* continues the model turn: no header */
    sft_chat_opts think = {.add_generation_prompt = 1, .enable_thinking = SFT_THINK_ON};
    check("gemma4", &think, m + 1, 1, "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
}

static void test_llama(void **state)
{
    (void)state;
    sft_chat_opts o = {.add_generation_prompt = 1, .date_string = "26 Jul 2024"};
    check("llama3", &o, sys_user_asst, 3,
          "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
          "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    assert_string_equal(trained(2), "Hello!<|eot_id|>");
    /* Without date_string: today, as strftime_now("%d %b %Y"). */
    const char *s = render("llama3", NULL, sys_user_asst + 1, 1);
    assert_non_null(s);
    const char *d = strstr(s, "Today Date: ");
    assert_non_null(d);
    int day, year;
    char mon[4];
    assert_int_equal(sscanf(d, "Today Date: %2d %3s %4d\n\n", &day, mon, &year), 3);
    assert_non_null(strstr("JanFebMarAprMayJunJulAugSepOctNovDec", mon));

    check("llama2", NULL, sys_user_asst, 3, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi [/INST] Hello! </s>");
    assert_int_equal(turns[0].start, turns[0].end);
    assert_string_equal(trained(2), " Hello! </s>");
    sft_chat_msg m[] = {MSG(USER, "a"), MSG(ASSISTANT, "b"), MSG(USER, " c ")};
    sft_chat_opts eos = {.eos_token = "<eos>", .add_generation_prompt = 1};
    check("llama2", &eos, m, 3, "<s>[INST] a [/INST] b <eos><s>[INST] c [/INST]");
}

static void test_alpaca(void **state)
{
    (void)state;
    sft_chat_opts o = {.add_generation_prompt = 1, .eos_token = "<|endoftext|>"};
    check("alpaca", &o, sys_user_asst + 1, 2,
          "Below is an instruction that describes a task. Write a response that appropriately completes the "
          "request.\n\n### Instruction:\n Hi \n\n### Response:\nHello!\n<|endoftext|>\n\n### Response:\n");
    assert_string_equal(trained(1), "Hello!\n<|endoftext|>");
}

static void test_errors(void **state)
{
    (void)state;
    assert_null(render("qwen3", NULL, sys_user_asst, 0));
    assert_non_null(strstr(err, "no messages"));
    sft_chat_part p = {SFT_PART_TEXT, "x", 1};
    sft_chat_msg m[] = {MSG(USER, "")};
    m[0].parts = &p;
    m[0].nparts = 1;
    assert_null(render("llama3", NULL, m, 1));
    assert_non_null(strstr(err, "content parts"));
    assert_null(sft_template_by_name("vicuna"));
    assert_string_equal(sft_template_name(sft_template_by_name("gemma")), "gemma3");
    assert_non_null(strstr(sft_template_names(), "qwen3.5"));
}

/* Python's str.strip(): Unicode spaces, \x1c-\x1f too, but not U+FEFF. */
static void test_trim(void **state)
{
    (void)state;
    sft_chat_msg m[] = {MSG(USER, "\xe3\x80\x80\xc2\xa0 \x1f" "a b\t\xe2\x80\xa8"), MSG(ASSISTANT, "\xef\xbb\xbf" "x")};
    sft_chat_opts o = {.bos_token = ""};
    check("gemma2", &o, m, 2, "<start_of_turn>user\na b<end_of_turn>\n<start_of_turn>model\n\xef\xbb\xbfx<end_of_turn>\n");
}

static void test_detect(void **state)
{
    (void)state;
    static const struct {
        const char *jinja, *want;
    } cases[] = {
        {"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
         "You are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
         "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
         "qwen2"},
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
         "'<|im_end|>' + '\\n'}}{% endfor %}",
         "chatml"},
        {"{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
         "qwen2.5"},
        {"{%- if enable_thinking is false %}{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' }}", "qwen3"},
        {"{{- '<|vision_start|><|image_pad|><|vision_end|>' }}{{- '<|im_start|>assistant\\n<think>\\n' }}", "qwen3.5"},
        {"{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
         "{{ '<start_of_turn>' + role }}",
         "gemma2"},
        {"{{ bos_token }}{{ '<start_of_turn>' + role + '\\n' + first_user_prefix }}", "gemma3"},
        {"{{- '<|turn>' + role + '\\n' }}{{- '<turn|>\\n' -}}", "gemma4"},
        {"{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}",
         "llama3"},
        {"{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% set c = '<<SYS>>\\n' %}", "llama2"},
        {"### Instruction:\n{{ instruction }}\n\n### Response:\n", "alpaca"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sft_template *t = sft_template_detect(cases[i].jinja, strlen(cases[i].jinja));
        if (!t) fail_msg("case %zu: nothing detected", i);
        assert_string_equal(sft_template_name(t), cases[i].want);
    }
    /* Llama 3.0 has no date preamble: not ours to guess. */
    const char *l30 = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}";
    assert_null(sft_template_detect(l30, strlen(l30)));
    assert_null(sft_template_detect("{{ messages }}", 14));
    assert_null(sft_template_detect("", 0));
}

static int from_json(const char *json, sft_chat *c)
{
    cJSON *rec = cJSON_Parse(json);
    assert_non_null(rec);
    int rc = sft_chat_from_json(rec, c, err, sizeof err);
    if (rc == 0) {
        /* The strings point into the record: render before freeing it. */
        if (!render("qwen3.5", NULL, c->msgs, c->n)) fail_msg("%s", err);
    }
    cJSON_Delete(rec);
    return rc;
}

static void test_from_json(void **state)
{
    (void)state;
    sft_chat c;
    assert_int_equal(from_json("{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":"
                               "[{\"type\":\"image\",\"path\":\"a.png\"},{\"type\":\"text\",\"text\":\"t\"}]},"
                               "{\"role\":\"assistant\",\"content\":\"a\",\"reasoning_content\":\"r\"}]}",
                               &c),
                     0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.msgs[1].nparts, 2);
    assert_int_equal(c.msgs[1].parts[0].type, SFT_PART_IMAGE);
    assert_int_equal(c.msgs[1].parts[0].len, 5);
    assert_string_equal(out.p, "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\n"
                               "<|vision_start|><|image_pad|><|vision_end|>t<|im_end|>\n"
                               "<|im_start|>assistant\n<think>\nr\n</think>\n\na<|im_end|>\n");
    sft_chat_free(&c);

    assert_int_equal(from_json("{\"instruction\":\"Sum up.\",\"input\":\"Long text.\",\"output\":\"Short.\"}", &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.msgs[0].role, SFT_ROLE_USER);
    assert_int_equal(c.msgs[0].content_len, strlen("Sum up.\n\nLong text."));
    assert_memory_equal(c.msgs[0].content, "Sum up.\n\nLong text.", c.msgs[0].content_len);
    sft_chat_free(&c);
    assert_int_equal(from_json("{\"instruction\":\"Name one.\",\"input\":\"\",\"output\":\"Blue.\"}", &c), 0);
    assert_memory_equal(c.msgs[0].content, "Name one.", c.msgs[0].content_len);
    assert_int_equal(c.msgs[0].content_len, 9);
    sft_chat_free(&c);

    static const struct {
        const char *json, *reason;
    } bad[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"b\"}]}",
         "messages[1].role: unknown role \"tool\""},
        {"{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content: missing"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}", "unknown part type \"audio\""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}", "content[0].text: missing"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[]}]}", "empty list of parts"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[]}]}", "tool calls are not supported"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":1}]}", "reasoning_content: not a string"},
        {"{\"messages\":[]}", "messages: empty"},
        {"{\"messages\":{}}", "messages: not an array"},
        {"{\"messages\":[1]}", "messages[0]: not an object"},
        {"{\"text\":\"x\"}", "no \"messages\""},
        {"{\"instruction\":\"x\"}", "output: missing"},
        {"[]", "not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&c, 0x5a, sizeof c);
        assert_int_equal(from_json(bad[i].json, &c), -1);
        if (!strstr(err, bad[i].reason)) fail_msg("%s: got \"%s\", want \"%s\"", bad[i].json, err, bad[i].reason);
        assert_null(c.msgs);
        sft_chat_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatml_family), cmocka_unit_test(test_qwen3),     cmocka_unit_test(test_qwen35),
        cmocka_unit_test(test_gemma),         cmocka_unit_test(test_gemma4),    cmocka_unit_test(test_llama),
        cmocka_unit_test(test_alpaca),        cmocka_unit_test(test_errors),    cmocka_unit_test(test_trim),
        cmocka_unit_test(test_detect),        cmocka_unit_test(test_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
