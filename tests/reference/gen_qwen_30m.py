#!/usr/bin/env python3
"""A ~30M-parameter random checkpoint shaped like Qwen2, for the training
benchmark (sft-train against ref.py bench-train).

    tests/reference/gen_qwen_30m.py OUTDIR [--seed S]

Shape: hidden 512, 8 layers, 8 attention heads / 2 KV heads (head_dim 64,
no head_dim key: hidden / heads), MLP 1408 (SiLU), vocab 8192, q/k/v
biases, untied lm_head, RMSNorm eps 1e-6, rope_theta 1e6. Parameters:

    embed_tokens   8192 x 512                                  4,194,304
    per layer      q 512x512+512, k/v 128x512+128 each,
                   o 512x512, gate/up/down 3 x 512x1408,
                   2 norms of 512                              2,819,840
    8 layers                                                  22,558,720
    final norm                                                       512
    lm_head        8192 x 512                                  4,194,304
    total                                                     30,947,840

Writes OUTDIR/config.json (as transformers writes a Qwen2Config: indent 2,
sorted keys) and OUTDIR/model.safetensors (BF16, HF names, sorted), plus
fixtures/tok/bytelevel's tokenizer.json and a tokenizer_config.json (its
2056-entry vocabulary lies inside the model's 8192, so every text has ids).
Weights as fixtures/gen-nn.py draws them (projections ~ N(0, 1/fan_in),
norms around 1, small non-zero biases); numpy only; deterministic for a
given --seed (numpy's PCG64).
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "..", "fixtures", "tok", "bytelevel", "tokenizer.json")
N_PARAMS = 30947840
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
          " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")

CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 2056,
    "eos_token_id": 2058, "hidden_act": "silu", "hidden_size": 512, "initializer_range": 0.02,
    "intermediate_size": 1408, "max_position_embeddings": 32768, "max_window_layers": 8,
    "model_type": "qwen2", "num_attention_heads": 8, "num_hidden_layers": 8, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": 32768,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.46.0",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 8192,
}


def bf16_bytes(a):
    """float32 -> BF16 bytes, round to nearest even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    u = (u + (((u >> 16) & 1) + np.uint32(0x7FFF))) >> 16
    return u.astype("<u2").tobytes()


def write_safetensors_bf16(path, tensors):
    names = sorted(tensors)
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for n in names:
        size = tensors[n].size * 2
        header[n] = {"dtype": "BF16", "shape": list(tensors[n].shape), "data_offsets": [off, off + size]}
        off += size
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in names:
            f.write(bf16_bytes(tensors[n]))
    os.replace(tmp, path)


def weights(c, rng):
    H, I, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = H // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd

    def normal(shape, std):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def lin(out, inp, scale=1.0):
        return normal((out, inp), scale / np.sqrt(inp))

    def norm_w(n):
        return normal((n,), 0.2) + np.float32(1.0)

    w = {"model.embed_tokens.weight": normal((V, H), 1.2 / np.sqrt(H))}
    for i in range(L):
        p = "model.layers.%d." % i
        w[p + "self_attn.q_proj.weight"] = lin(q, H, 1.5)
        w[p + "self_attn.q_proj.bias"] = normal((q,), 0.5)
        w[p + "self_attn.k_proj.weight"] = lin(kv, H, 1.5)
        w[p + "self_attn.k_proj.bias"] = normal((kv,), 0.5)
        w[p + "self_attn.v_proj.weight"] = lin(kv, H)
        w[p + "self_attn.v_proj.bias"] = normal((kv,), 0.5)
        w[p + "self_attn.o_proj.weight"] = lin(H, q)
        w[p + "mlp.gate_proj.weight"] = lin(I, H)
        w[p + "mlp.up_proj.weight"] = lin(I, H)
        w[p + "mlp.down_proj.weight"] = lin(H, I)
        w[p + "input_layernorm.weight"] = norm_w(H)
        w[p + "post_attention_layernorm.weight"] = norm_w(H)
    w["model.norm.weight"] = norm_w(H)
    w["lm_head.weight"] = normal((V, H), 1.2 / np.sqrt(H))
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=30)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    w = weights(CONFIG, np.random.Generator(np.random.PCG64(a.seed)))
    n = sum(x.size for x in w.values())
    assert n == N_PARAMS, n
    write_safetensors_bf16(os.path.join(a.outdir, "model.safetensors"), w)
    with open(os.path.join(a.outdir, "config.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(CONFIG, indent=2, sort_keys=True) + "\n")
    if os.path.exists(TOKENIZER):
        shutil.copyfile(TOKENIZER, os.path.join(a.outdir, "tokenizer.json"))
        with open(os.path.join(a.outdir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps({"add_bos_token": False, "add_eos_token": False, "bos_token": None,
                                "chat_template": CHATML, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
                                "model_max_length": 32768, "pad_token": "<|endoftext|>",
                                "tokenizer_class": "PreTrainedTokenizerFast"}, indent=2, sort_keys=True) + "\n")
    print("%s: qwen2, %d parameters" % (a.outdir, n))


if __name__ == "__main__":
    main()
