/* Unit tests of lib/nn/config: the config.json of real checkpoints of each
 * family (written inline, as published on the Hugging Face Hub), the
 * transformers defaults for absent keys, and refusals with reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nn/config.h"

static nn_config cfg; /* large: not on the stack */

static void parse_ok(const char *json)
{
    char err[512] = "";
    if (nn_config_parse(json, strlen(json), &cfg, err, sizeof err) != 0) fail_msg("%s\nin %s", err, json);
}

static void expect_error(const char *json, const char *frag)
{
    char err[512] = "";
    int rc = nn_config_parse(json, strlen(json), &cfg, err, sizeof err);
    if (rc == 0 || !strstr(err, frag)) fail_msg("expected an error with \"%s\", got rc %d \"%s\"\nin %s", frag, rc, err, json);
}

static int count_sliding(void)
{
    int n = 0;
    for (int i = 0; i < NN_MAX_LAYERS; i++) n += cfg.layer_sliding[i];
    return n;
}

static void test_qwen25_05b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"Qwen2ForCausalLM\"],\"attention_dropout\":0.0,\"bos_token_id\":151643,"
             "\"eos_token_id\":151645,\"hidden_act\":\"silu\",\"hidden_size\":896,\"initializer_range\":0.02,"
             "\"intermediate_size\":4864,\"max_position_embeddings\":32768,\"max_window_layers\":21,"
             "\"model_type\":\"qwen2\",\"num_attention_heads\":14,\"num_hidden_layers\":24,\"num_key_value_heads\":2,"
             "\"rms_norm_eps\":1e-06,\"rope_theta\":1000000.0,\"sliding_window\":32768,\"tie_word_embeddings\":true,"
             "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.43.1\",\"use_cache\":true,"
             "\"use_sliding_window\":false,\"vocab_size\":151936}");
    assert_int_equal(cfg.family, NN_QWEN2);
    assert_string_equal(cfg.model_type, "qwen2");
    assert_string_equal(nn_family_name(cfg.family), "qwen2");
    assert_int_equal(cfg.vocab_size, 151936);
    assert_int_equal(cfg.hidden_size, 896);
    assert_int_equal(cfg.intermediate_size, 4864);
    assert_int_equal(cfg.num_layers, 24);
    assert_int_equal(cfg.num_heads, 14);
    assert_int_equal(cfg.num_kv_heads, 2);
    assert_int_equal(cfg.head_dim, 64);
    assert_int_equal(cfg.max_position_embeddings, 32768);
    assert_true(cfg.rms_norm_eps == 1e-6);
    assert_true(cfg.rope_theta == 1e6);
    assert_true(cfg.rope_local_theta == 1e6);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_NONE);
    assert_int_equal(cfg.tie_word_embeddings, 1);
    assert_int_equal(cfg.attention_bias, 1);
    assert_int_equal(cfg.o_bias, 0);
    assert_int_equal(cfg.mlp_bias, 0);
    assert_int_equal(cfg.qk_norm, 0);
    assert_int_equal(cfg.sandwich_norms, 0);
    assert_int_equal(cfg.norm_add_one, 0);
    assert_int_equal(cfg.embed_scale, 0);
    assert_int_equal(cfg.act, NN_ACT_SILU);
    assert_true(cfg.query_pre_attn_scalar == 64);
    assert_true(cfg.attn_softcap == 0 && cfg.final_softcap == 0);
    assert_int_equal(cfg.sliding_window, 0); /* use_sliding_window false */
    assert_int_equal(count_sliding(), 0);
    assert_int_equal(cfg.bos_token_id, 151643);
    assert_int_equal(cfg.n_eos, 1);
    assert_int_equal(cfg.eos_token_ids[0], 151645);
    assert_int_equal(cfg.eos_token_ids[1], -1);
    assert_string_equal(cfg.torch_dtype, "bfloat16");
}

static void test_qwen2_sliding(void **state)
{
    (void)state;
    /* transformers' Qwen2: with use_sliding_window, layers >= max_window_layers slide */
    parse_ok("{\"model_type\":\"qwen2\",\"hidden_size\":896,\"num_attention_heads\":14,\"num_hidden_layers\":24,"
             "\"num_key_value_heads\":2,\"use_sliding_window\":true,\"sliding_window\":1024,\"max_window_layers\":21}");
    assert_int_equal(cfg.sliding_window, 1024);
    assert_int_equal(count_sliding(), 3);
    assert_int_equal(cfg.layer_sliding[20], 0);
    assert_int_equal(cfg.layer_sliding[21], 1);
    assert_int_equal(cfg.layer_sliding[23], 1);
    /* defaults: sliding_window 4096, max_window_layers 28 (no layer reaches it here) */
    parse_ok("{\"model_type\":\"qwen2\",\"num_hidden_layers\":30,\"use_sliding_window\":true}");
    assert_int_equal(cfg.sliding_window, 4096);
    assert_int_equal(count_sliding(), 2);
    /* layer_types only matter with use_sliding_window */
    parse_ok("{\"model_type\":\"qwen2\",\"num_hidden_layers\":2,\"layer_types\":[\"sliding_attention\",\"full_attention\"]}");
    assert_int_equal(count_sliding(), 0);
    parse_ok("{\"model_type\":\"qwen2\",\"num_hidden_layers\":2,\"use_sliding_window\":true,"
             "\"layer_types\":[\"sliding_attention\",\"full_attention\"]}");
    assert_int_equal(cfg.layer_sliding[0], 1);
    assert_int_equal(cfg.layer_sliding[1], 0);
    /* the class defaults */
    parse_ok("{\"model_type\":\"qwen2\"}");
    assert_int_equal(cfg.vocab_size, 151936);
    assert_int_equal(cfg.hidden_size, 4096);
    assert_int_equal(cfg.intermediate_size, 22016);
    assert_int_equal(cfg.num_layers, 32);
    assert_int_equal(cfg.num_kv_heads, 32);
    assert_int_equal(cfg.head_dim, 128);
    assert_int_equal(cfg.max_position_embeddings, 32768);
    assert_true(cfg.rope_theta == 10000.0);
    assert_int_equal(cfg.tie_word_embeddings, 0);
    assert_int_equal(cfg.bos_token_id, -1);
    assert_int_equal(cfg.n_eos, 0);
    assert_string_equal(cfg.torch_dtype, "");
}

static void test_qwen3_06b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"Qwen3ForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
             "\"bos_token_id\":151643,\"eos_token_id\":151645,\"head_dim\":128,\"hidden_act\":\"silu\","
             "\"hidden_size\":1024,\"initializer_range\":0.02,\"intermediate_size\":3072,"
             "\"max_position_embeddings\":40960,\"max_window_layers\":28,\"model_type\":\"qwen3\","
             "\"num_attention_heads\":16,\"num_hidden_layers\":28,\"num_key_value_heads\":8,\"rms_norm_eps\":1e-06,"
             "\"rope_scaling\":null,\"rope_theta\":1000000,\"sliding_window\":null,\"tie_word_embeddings\":true,"
             "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.51.0\",\"use_cache\":true,"
             "\"use_sliding_window\":false,\"vocab_size\":151936}");
    assert_int_equal(cfg.family, NN_QWEN3);
    assert_int_equal(cfg.head_dim, 128); /* not 1024/16 */
    assert_int_equal(cfg.num_kv_heads, 8);
    assert_int_equal(cfg.qk_norm, 1);
    assert_int_equal(cfg.attention_bias, 0);
    assert_int_equal(cfg.o_bias, 0);
    assert_int_equal(cfg.max_position_embeddings, 40960);
    assert_int_equal(cfg.sliding_window, 0);
    assert_int_equal(cfg.tie_word_embeddings, 1);
    assert_true(cfg.query_pre_attn_scalar == 128);
    /* default head_dim 128; attention_bias gives all four biases */
    parse_ok("{\"model_type\":\"qwen3\",\"hidden_size\":1024,\"num_attention_heads\":16,\"num_key_value_heads\":8,\"attention_bias\":true}");
    assert_int_equal(cfg.head_dim, 128);
    assert_int_equal(cfg.attention_bias, 1);
    assert_int_equal(cfg.o_bias, 1);
    /* head_dim null: hidden / heads */
    parse_ok("{\"model_type\":\"qwen3\",\"hidden_size\":1024,\"num_attention_heads\":16,\"num_key_value_heads\":null,\"head_dim\":null}");
    assert_int_equal(cfg.head_dim, 64);
}

static void test_llama32_1b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"LlamaForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
             "\"bos_token_id\":128000,\"eos_token_id\":[128001,128008,128009],\"head_dim\":64,\"hidden_act\":\"silu\","
             "\"hidden_size\":2048,\"initializer_range\":0.02,\"intermediate_size\":8192,"
             "\"max_position_embeddings\":131072,\"mlp_bias\":false,\"model_type\":\"llama\","
             "\"num_attention_heads\":32,\"num_hidden_layers\":16,\"num_key_value_heads\":8,\"pretraining_tp\":1,"
             "\"rms_norm_eps\":1e-05,\"rope_scaling\":{\"factor\":32.0,\"high_freq_factor\":4.0,"
             "\"low_freq_factor\":1.0,\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"},"
             "\"rope_theta\":500000.0,\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\","
             "\"transformers_version\":\"4.45.0.dev0\",\"use_cache\":true,\"vocab_size\":128256}");
    assert_int_equal(cfg.family, NN_LLAMA);
    assert_int_equal(cfg.vocab_size, 128256);
    assert_int_equal(cfg.head_dim, 64);
    assert_int_equal(cfg.num_layers, 16);
    assert_true(cfg.rms_norm_eps == 1e-5);
    assert_true(cfg.rope_theta == 500000.0);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_LLAMA3);
    assert_true(cfg.rope_factor == 32.0);
    assert_true(cfg.rope_low_freq_factor == 1.0);
    assert_true(cfg.rope_high_freq_factor == 4.0);
    assert_int_equal(cfg.rope_original_max_pos, 8192);
    assert_int_equal(cfg.n_eos, 3);
    assert_int_equal(cfg.eos_token_ids[2], 128009);
    assert_int_equal(cfg.bos_token_id, 128000);
    assert_int_equal(cfg.attention_bias, 0);
    assert_int_equal(cfg.act, NN_ACT_SILU);
    /* LlamaConfig defaults, "type" for "rope_type", biases */
    parse_ok("{\"model_type\":\"llama\",\"attention_bias\":true,\"mlp_bias\":true,"
             "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}");
    assert_int_equal(cfg.vocab_size, 32000);
    assert_int_equal(cfg.hidden_size, 4096);
    assert_int_equal(cfg.intermediate_size, 11008);
    assert_int_equal(cfg.num_layers, 32);
    assert_int_equal(cfg.num_kv_heads, 32);
    assert_int_equal(cfg.head_dim, 128);
    assert_int_equal(cfg.max_position_embeddings, 2048);
    assert_int_equal(cfg.tie_word_embeddings, 0);
    assert_int_equal(cfg.bos_token_id, 1);
    assert_int_equal(cfg.n_eos, 1);
    assert_int_equal(cfg.eos_token_ids[0], 2);
    assert_int_equal(cfg.attention_bias, 1);
    assert_int_equal(cfg.o_bias, 1);
    assert_int_equal(cfg.mlp_bias, 1);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_LINEAR);
    assert_true(cfg.rope_factor == 2.0);
    /* rope_scaling "default", bos null, dtype under its newer name */
    parse_ok("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"default\"},\"bos_token_id\":null,"
             "\"eos_token_id\":null,\"dtype\":\"float16\"}");
    assert_int_equal(cfg.rope_scaling, NN_ROPE_NONE);
    assert_int_equal(cfg.bos_token_id, -1);
    assert_int_equal(cfg.n_eos, 0);
    assert_string_equal(cfg.torch_dtype, "float16");
    /* the newer rope_parameters */
    parse_ok("{\"model_type\":\"llama\",\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,"
             "\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
             "\"original_max_position_embeddings\":8192}}");
    assert_true(cfg.rope_theta == 500000.0);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_LLAMA3);
    assert_true(cfg.rope_factor == 8.0);
    parse_ok("{\"model_type\":\"llama\",\"rope_parameters\":{\"rope_theta\":123.0}}");
    assert_true(cfg.rope_theta == 123.0);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_NONE);
}

static void test_gemma_2b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"GemmaForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
             "\"bos_token_id\":2,\"eos_token_id\":1,\"head_dim\":256,\"hidden_act\":\"gelu\",\"hidden_size\":2048,"
             "\"initializer_range\":0.02,\"intermediate_size\":16384,\"max_position_embeddings\":8192,"
             "\"model_type\":\"gemma\",\"num_attention_heads\":8,\"num_hidden_layers\":18,\"num_key_value_heads\":1,"
             "\"pad_token_id\":0,\"rms_norm_eps\":1e-06,\"rope_scaling\":null,\"rope_theta\":10000.0,"
             "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.38.0.dev0\",\"use_cache\":true,"
             "\"vocab_size\":256000}");
    assert_int_equal(cfg.family, NN_GEMMA);
    assert_int_equal(cfg.head_dim, 256);
    assert_int_equal(cfg.num_kv_heads, 1);
    assert_int_equal(cfg.act, NN_ACT_GELU_TANH); /* hidden_act "gelu" is not what transformers runs */
    assert_int_equal(cfg.norm_add_one, 1);
    assert_int_equal(cfg.embed_scale, 1);
    assert_int_equal(cfg.tie_word_embeddings, 1); /* GemmaConfig default */
    assert_int_equal(cfg.sandwich_norms, 0);
    assert_int_equal(cfg.qk_norm, 0);
    assert_true(cfg.query_pre_attn_scalar == 256);
    assert_int_equal(cfg.sliding_window, 0);
    assert_int_equal(count_sliding(), 0);
    assert_int_equal(cfg.bos_token_id, 2);
    assert_int_equal(cfg.eos_token_ids[0], 1);
    /* GemmaConfig defaults (gemma-7b) */
    parse_ok("{\"model_type\":\"gemma\"}");
    assert_int_equal(cfg.vocab_size, 256000);
    assert_int_equal(cfg.hidden_size, 3072);
    assert_int_equal(cfg.intermediate_size, 24576);
    assert_int_equal(cfg.num_layers, 28);
    assert_int_equal(cfg.num_heads, 16);
    assert_int_equal(cfg.num_kv_heads, 16);
    assert_int_equal(cfg.head_dim, 256);
    assert_int_equal(cfg.max_position_embeddings, 8192);
}

static void test_gemma2_2b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"Gemma2ForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
             "\"attn_logit_softcapping\":50.0,\"bos_token_id\":2,\"cache_implementation\":\"hybrid\","
             "\"eos_token_id\":1,\"final_logit_softcapping\":30.0,\"head_dim\":256,\"hidden_act\":\"gelu_pytorch_tanh\","
             "\"hidden_activation\":\"gelu_pytorch_tanh\",\"hidden_size\":2304,\"initializer_range\":0.02,"
             "\"intermediate_size\":9216,\"max_position_embeddings\":8192,\"model_type\":\"gemma2\","
             "\"num_attention_heads\":8,\"num_hidden_layers\":26,\"num_key_value_heads\":4,\"pad_token_id\":0,"
             "\"query_pre_attn_scalar\":256,\"rms_norm_eps\":1e-06,\"rope_theta\":10000.0,\"sliding_window\":4096,"
             "\"torch_dtype\":\"float32\",\"transformers_version\":\"4.42.4\",\"use_cache\":true,\"vocab_size\":256000}");
    assert_int_equal(cfg.family, NN_GEMMA2);
    assert_int_equal(cfg.sandwich_norms, 1);
    assert_int_equal(cfg.qk_norm, 0);
    assert_true(cfg.attn_softcap == 50.0);
    assert_true(cfg.final_softcap == 30.0);
    assert_true(cfg.query_pre_attn_scalar == 256);
    assert_int_equal(cfg.sliding_window, 4096);
    /* even layers slide */
    for (int i = 0; i < 26; i++) assert_int_equal(cfg.layer_sliding[i], i % 2 == 0);
    assert_int_equal(count_sliding(), 13);
    assert_string_equal(cfg.torch_dtype, "float32");
    /* defaults, softcaps switched off, layer_types */
    parse_ok("{\"model_type\":\"gemma2\",\"num_hidden_layers\":3,\"attn_logit_softcapping\":null,"
             "\"final_logit_softcapping\":null,"
             "\"layer_types\":[\"full_attention\",\"full_attention\",\"sliding_attention\"]}");
    assert_true(cfg.attn_softcap == 0 && cfg.final_softcap == 0);
    assert_int_equal(cfg.layer_sliding[0], 0);
    assert_int_equal(cfg.layer_sliding[2], 1);
    parse_ok("{\"model_type\":\"gemma2\"}");
    assert_int_equal(cfg.vocab_size, 256000);
    assert_int_equal(cfg.hidden_size, 2304);
    assert_int_equal(cfg.num_layers, 26);
    assert_int_equal(cfg.num_kv_heads, 4);
    assert_true(cfg.attn_softcap == 50.0);
    assert_true(cfg.final_softcap == 30.0);
    assert_int_equal(cfg.sliding_window, 4096);
    /* no window: no sliding layers */
    parse_ok("{\"model_type\":\"gemma2\",\"sliding_window\":null}");
    assert_int_equal(cfg.sliding_window, 0);
    assert_int_equal(count_sliding(), 0);
}

static void test_gemma3_1b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"Gemma3ForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
             "\"attn_logit_softcapping\":null,\"bos_token_id\":2,\"cache_implementation\":\"hybrid\","
             "\"eos_token_id\":[1,106],\"final_logit_softcapping\":null,\"head_dim\":256,"
             "\"hidden_activation\":\"gelu_pytorch_tanh\",\"hidden_size\":1152,\"initializer_range\":0.02,"
             "\"intermediate_size\":6912,\"max_position_embeddings\":32768,\"model_type\":\"gemma3_text\","
             "\"num_attention_heads\":4,\"num_hidden_layers\":26,\"num_key_value_heads\":1,\"pad_token_id\":0,"
             "\"query_pre_attn_scalar\":256,\"rms_norm_eps\":1e-06,\"rope_local_base_freq\":10000,"
             "\"rope_scaling\":null,\"rope_theta\":1000000,\"sliding_window\":512,\"sliding_window_pattern\":6,"
             "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.50.0.dev0\",\"use_cache\":true,"
             "\"vocab_size\":262144}");
    assert_int_equal(cfg.family, NN_GEMMA3);
    assert_string_equal(cfg.model_type, "gemma3_text");
    assert_string_equal(nn_family_name(cfg.family), "gemma3_text");
    assert_int_equal(cfg.vocab_size, 262144);
    assert_int_equal(cfg.hidden_size, 1152);
    assert_int_equal(cfg.head_dim, 256);
    assert_int_equal(cfg.num_heads, 4);
    assert_int_equal(cfg.num_kv_heads, 1);
    assert_int_equal(cfg.qk_norm, 1);
    assert_int_equal(cfg.sandwich_norms, 1);
    assert_int_equal(cfg.norm_add_one, 1);
    assert_int_equal(cfg.embed_scale, 1);
    assert_int_equal(cfg.act, NN_ACT_GELU_TANH);
    assert_true(cfg.attn_softcap == 0 && cfg.final_softcap == 0);
    assert_true(cfg.rope_theta == 1e6);
    assert_true(cfg.rope_local_theta == 1e4);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_NONE);
    assert_int_equal(cfg.sliding_window, 512);
    /* five local layers, then a global one */
    for (int i = 0; i < 26; i++) assert_int_equal(cfg.layer_sliding[i], (i + 1) % 6 != 0);
    assert_int_equal(cfg.layer_sliding[5], 0);
    assert_int_equal(cfg.layer_sliding[11], 0);
    assert_int_equal(cfg.n_eos, 2);
    assert_int_equal(cfg.eos_token_ids[1], 106);
    assert_int_equal(cfg.tie_word_embeddings, 1);
    /* Gemma3TextConfig defaults */
    parse_ok("{\"model_type\":\"gemma3_text\"}");
    assert_int_equal(cfg.vocab_size, 262208);
    assert_int_equal(cfg.hidden_size, 2304);
    assert_int_equal(cfg.intermediate_size, 9216);
    assert_int_equal(cfg.num_layers, 26);
    assert_int_equal(cfg.num_heads, 8);
    assert_int_equal(cfg.num_kv_heads, 4);
    assert_int_equal(cfg.max_position_embeddings, 131072);
    assert_int_equal(cfg.sliding_window, 4096);
    assert_true(cfg.query_pre_attn_scalar == 256);
    assert_int_equal(cfg.bos_token_id, 2);
    /* layer_types win over the pattern; another pattern */
    parse_ok("{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":2,"
             "\"layer_types\":[\"full_attention\",\"sliding_attention\"],\"sliding_window_pattern\":6}");
    assert_int_equal(cfg.layer_sliding[0], 0);
    assert_int_equal(cfg.layer_sliding[1], 1);
    parse_ok("{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":4,\"sliding_window_pattern\":2}");
    assert_int_equal(cfg.layer_sliding[0], 1);
    assert_int_equal(cfg.layer_sliding[1], 0);
    assert_int_equal(cfg.layer_sliding[2], 1);
    assert_int_equal(cfg.layer_sliding[3], 0);
    /* newer rope_parameters, per layer type */
    parse_ok("{\"model_type\":\"gemma3_text\",\"rope_parameters\":{"
             "\"full_attention\":{\"rope_type\":\"linear\",\"factor\":8.0,\"rope_theta\":1000000.0},"
             "\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000.0}}}");
    assert_int_equal(cfg.rope_scaling, NN_ROPE_LINEAR);
    assert_true(cfg.rope_factor == 8.0);
    assert_true(cfg.rope_theta == 1e6);
    assert_true(cfg.rope_local_theta == 1e4);
}

static void test_gemma3_4b(void **state)
{
    (void)state;
    parse_ok("{\"architectures\":[\"Gemma3ForConditionalGeneration\"],\"boi_token_index\":255999,"
             "\"eoi_token_index\":256000,\"eos_token_id\":[1,106],\"image_token_index\":262144,"
             "\"initializer_range\":0.02,\"mm_tokens_per_image\":256,\"model_type\":\"gemma3\","
             "\"text_config\":{\"hidden_size\":2560,\"intermediate_size\":10240,\"model_type\":\"gemma3_text\","
             "\"num_hidden_layers\":34,\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"linear\"},"
             "\"sliding_window\":1024},\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.50.0.dev0\","
             "\"vision_config\":{\"hidden_size\":1152,\"image_size\":896,\"intermediate_size\":4304,"
             "\"model_type\":\"siglip_vision_model\",\"num_attention_heads\":16,\"num_hidden_layers\":27,"
             "\"patch_size\":14,\"vision_use_head\":false}}");
    assert_int_equal(cfg.family, NN_GEMMA3);
    assert_string_equal(cfg.model_type, "gemma3");
    assert_int_equal(cfg.hidden_size, 2560);
    assert_int_equal(cfg.intermediate_size, 10240);
    assert_int_equal(cfg.num_layers, 34);
    assert_int_equal(cfg.vocab_size, 262208); /* Gemma3TextConfig defaults */
    assert_int_equal(cfg.num_heads, 8);
    assert_int_equal(cfg.num_kv_heads, 4);
    assert_int_equal(cfg.head_dim, 256);
    assert_int_equal(cfg.sliding_window, 1024);
    assert_int_equal(cfg.rope_scaling, NN_ROPE_LINEAR); /* global layers only */
    assert_true(cfg.rope_factor == 8.0);
    assert_true(cfg.rope_theta == 1e6);
    assert_true(cfg.rope_local_theta == 1e4);
    assert_int_equal(cfg.n_eos, 2); /* from the outer config */
    assert_int_equal(cfg.eos_token_ids[1], 106);
    assert_int_equal(cfg.bos_token_id, 2);
    assert_string_equal(cfg.torch_dtype, "bfloat16");
    assert_int_equal(cfg.tie_word_embeddings, 1);
    assert_int_equal(cfg.layer_sliding[5], 0);
    assert_int_equal(cfg.layer_sliding[33], 1);
    /* without text_config: all defaults */
    parse_ok("{\"model_type\":\"gemma3\"}");
    assert_int_equal(cfg.hidden_size, 2304);
    expect_error("{\"model_type\":\"gemma3\",\"text_config\":{\"model_type\":\"llama\"}}",
                 "\"text_config.model_type\" is \"llama\", expected \"gemma3_text\"");
    expect_error("{\"model_type\":\"gemma3\",\"text_config\":[]}", "\"text_config\" must be an object");
    expect_error("{\"model_type\":\"gemma3\",\"text_config\":{\"hidden_size\":\"2560\"}}",
                 "\"text_config.hidden_size\" must be an integer");
}

static void test_rejections(void **state)
{
    (void)state;
    expect_error("{\"model_type\":", "not valid JSON");
    expect_error("[]", "not a JSON object");
    expect_error("{\"hidden_size\":8}", "\"model_type\" is missing");
    expect_error("{\"model_type\":3}", "\"model_type\" must be a string");
    expect_error("{\"model_type\":\"mistral\"}",
                 "model_type \"mistral\" is not supported (llama, qwen2, qwen3, gemma, gemma2, gemma3_text, gemma3)");
    expect_error("{\"model_type\":\"llama\",\"hidden_size\":\"896\"}", "\"hidden_size\" must be an integer");
    expect_error("{\"model_type\":\"llama\",\"hidden_size\":896.5}", "\"hidden_size\" must be an integer");
    expect_error("{\"model_type\":\"llama\",\"hidden_size\":null}", "\"hidden_size\" must be an integer");
    expect_error("{\"model_type\":\"llama\",\"hidden_size\":0}", "\"hidden_size\" is 0");
    expect_error("{\"model_type\":\"llama\",\"vocab_size\":-5}", "\"vocab_size\" is -5");
    expect_error("{\"model_type\":\"llama\",\"num_hidden_layers\":600}", "\"num_hidden_layers\" is 600; it must be between 1 and 512");
    expect_error("{\"model_type\":\"llama\",\"num_hidden_layers\":0}", "\"num_hidden_layers\" is 0");
    expect_error("{\"model_type\":\"llama\",\"num_attention_heads\":14,\"num_key_value_heads\":3,\"hidden_size\":896}",
                 "\"num_attention_heads\" (14) is not a multiple of \"num_key_value_heads\" (3)");
    expect_error("{\"model_type\":\"llama\",\"num_attention_heads\":4,\"hidden_size\":900}", "head_dim is 225");
    expect_error("{\"model_type\":\"llama\",\"num_attention_heads\":64,\"hidden_size\":32}", "head_dim is 0");
    expect_error("{\"model_type\":\"llama\",\"rms_norm_eps\":0}", "\"rms_norm_eps\" must be in (0, 1)");
    expect_error("{\"model_type\":\"llama\",\"rms_norm_eps\":\"x\"}", "\"rms_norm_eps\" must be a number");
    expect_error("{\"model_type\":\"llama\",\"rope_theta\":-1}", "\"rope_theta\" must be positive");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}}",
                 "rope_scaling type \"yarn\" is not supported (default, linear, llama3)");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2.0}}",
                 "rope_scaling type \"dynamic\" is not supported");
    expect_error("{\"model_type\":\"qwen2\",\"rope_scaling\":{\"rope_type\":\"longrope\"}}",
                 "type \"longrope\" is not supported");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,"
                 "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}",
                 "\"rope_scaling\" of type \"llama3\" needs \"low_freq_factor\"");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,"
                 "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0}}",
                 "needs \"original_max_position_embeddings\"");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"linear\"}}",
                 "\"rope_scaling\" of type \"linear\" needs \"factor\"");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":-2}}",
                 "\"rope_scaling.factor\" must be a positive number");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"factor\":2}}", "\"rope_scaling\" has no \"rope_type\"");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":4}", "\"rope_scaling\" must be an object or null");
    expect_error("{\"model_type\":\"llama\",\"eos_token_id\":[1,\"2\"]}", "\"eos_token_id\" must hold non-negative integers");
    expect_error("{\"model_type\":\"llama\",\"eos_token_id\":[1,2,3,4,5,6,7,8,9]}", "more than 8 ids");
    expect_error("{\"model_type\":\"llama\",\"eos_token_id\":\"</s>\"}", "\"eos_token_id\" must be an integer");
    expect_error("{\"model_type\":\"llama\",\"bos_token_id\":1.5}", "\"bos_token_id\" must be a non-negative integer");
    expect_error("{\"model_type\":\"llama\",\"tie_word_embeddings\":\"yes\"}", "\"tie_word_embeddings\" must be true or false");
    expect_error("{\"model_type\":\"llama\",\"hidden_act\":\"relu\"}", "\"hidden_act\" \"relu\" is not supported");
    expect_error("{\"model_type\":\"llama\",\"torch_dtype\":7}", "\"torch_dtype\" must be a dtype name");
    expect_error("{\"model_type\":\"gemma2\",\"num_hidden_layers\":2,\"layer_types\":[\"full_attention\"]}",
                 "\"layer_types\" has 1 entries for 2 layers");
    expect_error("{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":1,\"layer_types\":[\"chunked_attention\"]}",
                 "\"layer_types[0]\" is \"chunked_attention\"");
    expect_error("{\"model_type\":\"gemma3_text\",\"sliding_window_pattern\":0}",
                 "\"sliding_window_pattern\" must be a positive integer");
    expect_error("{\"model_type\":\"gemma2\",\"sliding_window\":-1}", "\"sliding_window\" must be a positive integer or null");
    expect_error("{\"model_type\":\"gemma3_text\",\"use_bidirectional_attention\":true}", "only causal models");
    expect_error("{\"model_type\":\"gemma3_text\",\"rope_parameters\":{\"sliding_attention\":"
                 "{\"rope_type\":\"linear\",\"factor\":2.0}}}",
                 "scaling of the local RoPE is not supported");
    expect_error("{\"model_type\":\"qwen2\",\"use_sliding_window\":true,\"sliding_window\":0}",
                 "\"sliding_window\" must be positive");
    /* a short err buffer is cut, never overrun */
    char small[8];
    assert_int_equal(nn_config_parse("{", 1, &cfg, small, sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/sft-nncfg-test.XXXXXX", path[128], err[512];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(nn_config_load(dir, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "/config.json: No such file"));
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"model_type\":\"qwen3\",\"num_hidden_layers\":2}\n", f);
    fclose(f);
    assert_int_equal(nn_config_load(dir, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.num_layers, 2);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"model_type\":\"phi3\"}", f);
    fclose(f);
    assert_int_equal(nn_config_load(dir, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "/config.json: model_type \"phi3\" is not supported"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen25_05b), cmocka_unit_test(test_qwen2_sliding), cmocka_unit_test(test_qwen3_06b),
        cmocka_unit_test(test_llama32_1b), cmocka_unit_test(test_gemma_2b),      cmocka_unit_test(test_gemma2_2b),
        cmocka_unit_test(test_gemma3_1b),  cmocka_unit_test(test_gemma3_4b),     cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
