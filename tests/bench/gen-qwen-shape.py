#!/usr/bin/python3
"""Writes a random BF16 checkpoint with the shapes of Qwen2.5-0.5B (24 layers,
hidden 896, MLP 4864, 14 heads / 2 KV heads of 64, vocabulary 151,936, tied
embeddings, q/k/v biases) into OUTDIR: config.json and model.safetensors
(988 MB). Deterministic (numpy seed 0). For `make bench-nn`; no real weights.

    gen-qwen-shape.py OUTDIR [--layers N]
"""
import json
import os
import sys

import numpy as np

H, I, L, NH, NKV, HD, V = 896, 4864, 24, 14, 2, 64, 151936


def bf16(a):
    """float32 array -> bf16 bytes (round to nearest even)"""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype('<u2').tobytes()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    layers = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == '--layers' else L
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    tensors = [('model.embed_tokens.weight', (V, H), 0.02), ('model.norm.weight', (H,), None)]
    for l in range(layers):
        p = f'model.layers.{l}.'
        tensors += [
            (p + 'input_layernorm.weight', (H,), None),
            (p + 'post_attention_layernorm.weight', (H,), None),
            (p + 'self_attn.q_proj.weight', (NH * HD, H), 0.02),
            (p + 'self_attn.q_proj.bias', (NH * HD,), 0.02),
            (p + 'self_attn.k_proj.weight', (NKV * HD, H), 0.02),
            (p + 'self_attn.k_proj.bias', (NKV * HD,), 0.02),
            (p + 'self_attn.v_proj.weight', (NKV * HD, H), 0.02),
            (p + 'self_attn.v_proj.bias', (NKV * HD,), 0.02),
            (p + 'self_attn.o_proj.weight', (H, NH * HD), 0.02),
            (p + 'mlp.gate_proj.weight', (I, H), 0.02),
            (p + 'mlp.up_proj.weight', (I, H), 0.02),
            (p + 'mlp.down_proj.weight', (H, I), 0.02),
        ]
    tensors.sort()
    header, off = {}, 0
    for name, shape, _ in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {'dtype': 'BF16', 'shape': list(shape), 'data_offsets': [off, off + n]}
        off += n
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(os.path.join(out, 'model.safetensors'), 'wb') as f:
        f.write(len(h).to_bytes(8, 'little'))
        f.write(h)
        for name, shape, std in tensors:
            if std is None:
                a = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
            else:
                a = std * rng.standard_normal(shape, dtype=np.float32)
            f.write(bf16(a))
    config = {
        'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2', 'hidden_size': H,
        'intermediate_size': I, 'num_hidden_layers': layers, 'num_attention_heads': NH,
        'num_key_value_heads': NKV, 'vocab_size': V, 'max_position_embeddings': 32768,
        'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0, 'tie_word_embeddings': True,
        'hidden_act': 'silu', 'torch_dtype': 'bfloat16', 'bos_token_id': 151643,
        'eos_token_id': 151645, 'use_sliding_window': False, 'sliding_window': 32768,
        'max_window_layers': 21, 'attention_dropout': 0.0,
    }
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)


if __name__ == '__main__':
    main()
