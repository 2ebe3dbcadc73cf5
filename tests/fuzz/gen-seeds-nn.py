#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_safetensors and fuzz_nnconfig:
tests/fuzz/corpus/safetensors/*.safetensors (small valid and invalid file
images) and tests/fuzz/corpus/nnconfig/*.json (configs of each family, and
broken ones). Run from the repository root; the output is committed."""
import json
import os
import struct

ST = "tests/fuzz/corpus/safetensors"
NC = "tests/fuzz/corpus/nnconfig"


def st_image(header, data, align=True, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    if align:
        h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def write(path, blob):
    with open(path, "wb") as f:
        f.write(blob)


def main():
    os.makedirs(ST, exist_ok=True)
    os.makedirs(NC, exist_ok=True)
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    bf16 = struct.pack("<4H", 0x3F80, 0x4000, 0x4040, 0x4080)
    f16 = struct.pack("<4H", 0x3C00, 0x4000, 0x4200, 0x4400)
    i64 = struct.pack("<2q", 7, -7)
    valid = {
        "__metadata__": {"format": "pt"},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
        "h": {"dtype": "F16", "shape": [1, 2, 2], "data_offsets": [32, 40]},
        "i": {"dtype": "I64", "shape": [2], "data_offsets": [40, 56]},
        "e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [56, 56]},
    }
    write(f"{ST}/valid.safetensors", st_image(valid, f32 + bf16 + f16 + i64))
    write(f"{ST}/unaligned.safetensors",
          st_image({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, f32[:12], align=False))
    write(f"{ST}/empty-header.safetensors", st_image({}, b""))
    write(f"{ST}/dims.safetensors", st_image(
        {"t": {"dtype": "BF16", "shape": [2, 2, 2], "data_offsets": [0, 16]},
         "u": {"dtype": "U8", "shape": [1, 1, 1, 1, 8], "data_offsets": [16, 24]},
         "s": {"dtype": "F64", "shape": [], "data_offsets": [24, 32]}}, bytes(32)))
    write(f"{ST}/overlap.safetensors", st_image(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}}, bytes(24)))
    write(f"{ST}/mismatch.safetensors", st_image(
        {"lm_head.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 80]}}, bytes(64)))
    write(f"{ST}/truncated.safetensors", st_image(valid, (f32 + bf16)[:20]))
    write(f"{ST}/bad-json.safetensors", st_image(None, b"", raw_header=b'{"a":{"dtype":"F32",'))
    write(f"{ST}/short.safetensors", b"\x10\x00\x00")

    configs = {
        "qwen2.5-0.5b": {"architectures": ["Qwen2ForCausalLM"], "bos_token_id": 151643, "eos_token_id": 151645,
                         "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864,
                         "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2",
                         "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
                         "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
                         "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_sliding_window": False,
                         "vocab_size": 151936},
        "qwen3-0.6b": {"attention_bias": False, "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128,
                       "hidden_act": "silu", "hidden_size": 1024, "intermediate_size": 3072,
                       "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
                       "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
                       "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
                       "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_sliding_window": False,
                       "vocab_size": 151936},
        "llama-3.2-1b": {"attention_bias": False, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
                         "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 8192,
                         "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
                         "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
                         "rms_norm_eps": 1e-05,
                         "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                          "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                         "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
                         "vocab_size": 128256},
        "gemma-2b": {"bos_token_id": 2, "eos_token_id": 1, "head_dim": 256, "hidden_act": "gelu", "hidden_size": 2048,
                     "intermediate_size": 16384, "max_position_embeddings": 8192, "model_type": "gemma",
                     "num_attention_heads": 8, "num_hidden_layers": 18, "num_key_value_heads": 1,
                     "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 10000.0, "vocab_size": 256000},
        "gemma-2-2b": {"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "head_dim": 256,
                       "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2304, "intermediate_size": 9216,
                       "model_type": "gemma2", "num_attention_heads": 8, "num_hidden_layers": 26,
                       "num_key_value_heads": 4, "query_pre_attn_scalar": 256, "sliding_window": 4096,
                       "layer_types": ["sliding_attention", "full_attention"] * 13, "vocab_size": 256000},
        "gemma-3-1b": {"eos_token_id": [1, 106], "head_dim": 256, "hidden_size": 1152, "intermediate_size": 6912,
                       "max_position_embeddings": 32768, "model_type": "gemma3_text", "num_attention_heads": 4,
                       "num_hidden_layers": 26, "num_key_value_heads": 1, "rope_local_base_freq": 10000,
                       "rope_theta": 1000000, "sliding_window": 512, "sliding_window_pattern": 6,
                       "vocab_size": 262144},
        "gemma-3-4b": {"eos_token_id": [1, 106], "model_type": "gemma3", "torch_dtype": "bfloat16",
                       "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                                       "num_hidden_layers": 34,
                                       "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                                       "sliding_window": 1024}},
        "gemma3-rope-parameters": {"model_type": "gemma3_text", "num_hidden_layers": 4, "rope_parameters": {
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}},
        "qwen2-sliding": {"model_type": "qwen2", "num_hidden_layers": 4, "use_sliding_window": True,
                          "max_window_layers": 2, "sliding_window": 128},
        "bad-yarn": {"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}},
        "bad-heads": {"model_type": "llama", "num_attention_heads": 14, "num_key_value_heads": 3},
        "bad-type": {"model_type": "mistral"},
    }
    for name, c in configs.items():
        write(f"{NC}/{name}.json", json.dumps(c, indent=2).encode() + b"\n")


if __name__ == "__main__":
    main()
