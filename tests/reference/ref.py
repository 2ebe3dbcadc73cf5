#!/usr/bin/env python3
"""An independent PyTorch reference of the decoder families sftkit runs
(llama incl. Llama 3.1 rope scaling, qwen2, qwen3, gemma, gemma2, gemma3 /
gemma3_text), with PEFT LoRA adapters, written from the Hugging Face
semantics (see the notes at each function) without transformers or peft.
All math is float32; BF16/F16 weights are upcast to float32 once at load.

    ref.py logits   --model DIR [--adapter DIR] --ids 1,2,3 --out FILE
                    float32 little-endian [T][vocab] logits
    ref.py score    --model DIR [--adapter DIR] [FILE]
                    JSONL {"ids":[...], "mask":[...]?} -> the record plus
                    "loss" (mean NLL of the scored tokens) and "n_scored";
                    stderr: overall loss and perplexity
    ref.py generate --model DIR [--adapter DIR] --ids 1,2,3 --max-new-tokens N
                    greedy continuation up to an eos id (left out), a JSON list
    ref.py bench-prefill --model DIR --tokens N [--threads K] [--last-only]
                    tokens/s of one prefill forward (stdout: the number)
    ref.py selftest [--models DIR]
                    checks this file against a second, naive implementation
                    (float64, token by token with a KV cache, explicit
                    attention loops, LoRA merged into the weights)
    ref.py batch JOBS.json
                    many logits/score/generate jobs in one process
    ref.py prepare DIR
                    the conformance inputs and reference outputs for
                    tests/conformance/nn-ref.sh (DIR/models -> DIR/in, DIR/ref)
    ref.py grads    --model DIR --adapter DIR [FILE] --out OUT.safetensors
                    the loss of all records of FILE as one training step and
                    the gradient of every lora_A / lora_B (F32, PEFT names);
                    stdout {"loss": L, "n_tokens": N}
    ref.py train    --model DIR --init-adapter DIR [FILE] --steps N [--lr 1e-3]
                    [--betas 0.9,0.999] [--eps 1e-8] [--weight-decay 0]
                    [--batch-size 1] [--grad-accum 1] [--max-grad-norm 0]
                    --out DIR
                    LoRA training (AdamW, constant LR, no shuffling); one JSON
                    line per step {"step", "loss", "grad_norm", "tokens"}; the
                    final adapter in the PEFT layout (F32)
    ref.py bench-train --model DIR [--r 16] [--tokens 512] [--threads K]
                    tokens/s of one LoRA training step (stdout: the number)
    ref.py selftest-train [--models DIR]
                    autograd vs float64 finite differences, batch x
                    accumulation, AdamW and clipping (see selftest_train)
    ref.py prepare-train DIR
                    the inputs and reference gradients of
                    tests/conformance/nn-train.sh
    ref.py sft-generate --model DIR [--adapter DIR] (--score FILE |
                    --temperature 0 --max-new-tokens N [FILE])
                    stands in for build/bin/sft-generate (plumbing tests)

The training contract (data, steps, loss, clipping, AdamW) is written out
above LoraTrainer.

Scoring: token i (i >= 1) is scored when mask[i] == 1 (every token after the
first when there is no mask), predicted from tokens < i; mask[0] is ignored.
"""
import argparse
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)

# ---------------------------------------------------------------- safetensors


def read_safetensors(path, keep=lambda name: True):
    """{name: float32 tensor}. Format: u64 LE header length, JSON header
    {name: {dtype, shape, data_offsets: [begin, end)}} (offsets relative to
    the end of the header), "__metadata__" skipped."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or not keep(name):
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        dt = info["dtype"]
        if dt == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            raise ValueError("%s: tensor %s has dtype %s" % (path, name, dt))
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def read_model_tensors(model_dir, keep):
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        out = {}
        for fn in files:
            out.update(read_safetensors(os.path.join(model_dir, fn), keep))
        return out
    return read_safetensors(os.path.join(model_dir, "model.safetensors"), keep)


# ---------------------------------------------------------------- config


class Config:
    """The fields the forward pass needs, with the transformers config
    classes' defaults for absent keys."""

    def __init__(self, raw):
        mt = raw["model_type"]
        t = raw
        if mt == "gemma3":
            t = dict(raw.get("text_config") or {})
            fam = "gemma3"
        elif mt == "gemma3_text":
            fam = "gemma3"
        elif mt in ("llama", "qwen2", "qwen3", "gemma", "gemma2"):
            fam = mt
        else:
            raise ValueError("model_type %r not supported" % mt)
        self.family = fam
        gemma = fam.startswith("gemma")
        self.vocab = t["vocab_size"]
        self.hidden = t["hidden_size"]
        self.inter = t["intermediate_size"]
        self.layers = t["num_hidden_layers"]
        self.nh = t["num_attention_heads"]
        self.nkv = t.get("num_key_value_heads") or self.nh
        hd_default = {"qwen3": 128, "gemma": 256, "gemma2": 256, "gemma3": 256}.get(fam)
        hd = t["head_dim"] if "head_dim" in t else hd_default
        self.hd = hd or self.hidden // self.nh
        self.eps = t.get("rms_norm_eps", 1e-6)
        self.theta = t.get("rope_theta", 1e6 if fam == "gemma3" else 10000.0)
        self.local_theta = t.get("rope_local_base_freq", 10000.0) if fam == "gemma3" else self.theta
        self.rope_scaling = t.get("rope_scaling")
        if self.rope_scaling:
            rt = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            if rt not in ("default", "linear", "llama3"):
                raise ValueError("rope_scaling type %r not supported" % rt)
            if rt == "default":
                self.rope_scaling = None
        tie = t.get("tie_word_embeddings", raw.get("tie_word_embeddings", gemma))
        self.tie = bool(tie)
        # biases: whatever the checkpoint has (qwen2 q/k/v; attention_bias / mlp_bias)
        self.qk_norm = fam in ("qwen3", "gemma3")
        self.sandwich = fam in ("gemma2", "gemma3")
        self.norm_add_one = gemma
        self.embed_scale = gemma
        act = t.get("hidden_activation") or t.get("hidden_act") or ("gelu_pytorch_tanh" if gemma else "silu")
        if gemma and t.get("hidden_activation") is None and fam == "gemma":
            act = "gelu_pytorch_tanh"  # GemmaMLP's fallback when hidden_activation is unset
        if act not in ("silu", "gelu_pytorch_tanh", "gelu_new", "gelu"):
            raise ValueError("activation %r not supported" % act)
        self.act = act
        if fam in ("gemma2", "gemma3"):
            self.scale = float(t.get("query_pre_attn_scalar", 256)) ** -0.5
        else:
            self.scale = self.hd ** -0.5
        self.attn_cap = t.get("attn_logit_softcapping", 50.0 if fam == "gemma2" else None)
        self.final_cap = t.get("final_logit_softcapping", 30.0 if fam == "gemma2" else None)
        # sliding layers
        L = self.layers
        self.window = 0
        self.sliding = [False] * L
        if fam in ("gemma2", "gemma3"):
            self.window = t.get("sliding_window", 4096) or 0
            lt = t.get("layer_types")
            if lt:
                self.sliding = [x == "sliding_attention" for x in lt]
            elif fam == "gemma2":  # Gemma2Attention: layer_idx % 2 == 0 slides
                self.sliding = [i % 2 == 0 for i in range(L)]
            else:  # Gemma3TextConfig: (i + 1) % pattern != 0 slides
                pat = t.get("sliding_window_pattern", 6)
                self.sliding = [bool((i + 1) % pat) for i in range(L)]
        elif fam in ("qwen2", "qwen3") and t.get("use_sliding_window", False) and t.get("sliding_window"):
            lt = t.get("layer_types")
            mwl = t.get("max_window_layers", 28)
            self.window = t["sliding_window"]
            self.sliding = [x == "sliding_attention" for x in lt] if lt else [i >= mwl for i in range(L)]
        if not self.window:
            self.sliding = [False] * L
        eos = raw.get("eos_token_id", t.get("eos_token_id"))
        if eos is None:
            eos = t.get("eos_token_id")
        self.eos = [] if eos is None else (list(eos) if isinstance(eos, list) else [eos])


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        return Config(json.load(f))


# ---------------------------------------------------------------- RoPE


def default_inv_freq(base, dim):
    # transformers _compute_default_rope_parameters: in float32
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def llama3_inv_freq(inv_freq, sc):
    # transformers _compute_llama3_parameters, same float32 operations
    factor = sc["factor"]
    low_ff = sc["low_freq_factor"]
    high_ff = sc["high_freq_factor"]
    old_len = sc["original_max_position_embeddings"]
    low_wavelen = old_len / low_ff
    high_wavelen = old_len / high_ff
    wavelen = 2 * math.pi / inv_freq
    out = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low_ff) / (high_ff - low_ff)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, out)


def layer_inv_freq(cfg, sliding):
    """Gemma 3's sliding layers use rope_local_base_freq, unscaled; every
    other layer uses rope_theta with rope_scaling."""
    if cfg.family == "gemma3" and sliding:
        return default_inv_freq(cfg.local_theta, cfg.hd)
    inv = default_inv_freq(cfg.theta, cfg.hd)
    sc = cfg.rope_scaling
    if sc:
        rt = sc.get("rope_type", sc.get("type"))
        if rt == "linear":
            inv = inv / sc["factor"]
        elif rt == "llama3":
            inv = llama3_inv_freq(inv, sc)
    return inv


def rope_tables(inv_freq, T):
    pos = torch.arange(T, dtype=torch.int64).float()
    freqs = pos[:, None] * inv_freq[None, :]          # [T, hd/2], float32
    emb = torch.cat((freqs, freqs), dim=-1)          # [T, hd]
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


# ---------------------------------------------------------------- model


def canonical_name(name):
    """HF tensor name -> "model.*" / "lm_head.*", or None for tensors a text
    model does not use (vision tower, projector)."""
    for p, q in (("language_model.model.", "model."), ("model.language_model.", "model."),
                 ("language_model.lm_head.", "lm_head.")):
        if name.startswith(p):
            return q + name[len(p):]
    if name.startswith(("model.", "lm_head.")):
        if name.startswith(("model.vision_tower.", "model.multi_modal_projector.")):
            return None
        return name
    return None


def load_adapter(adapter_dir):
    """{module: (A [r,in], B [out,r], scaling)} for a PEFT LoRA directory;
    module as "model.layers.N.self_attn.q_proj"."""
    with open(os.path.join(adapter_dir, "adapter_config.json"), encoding="utf-8") as f:
        ac = json.load(f)
    if ac.get("peft_type", "LORA") != "LORA":
        raise ValueError("%s: peft_type %r" % (adapter_dir, ac.get("peft_type")))
    if ac.get("use_dora") or ac.get("rank_pattern") or ac.get("alpha_pattern") or ac.get("fan_in_fan_out"):
        raise ValueError("%s: dora / rank_pattern / alpha_pattern / fan_in_fan_out not supported" % adapter_dir)
    r = ac["r"]
    alpha = ac["lora_alpha"]
    # peft LoraLayer.update_layer
    scaling = alpha / math.sqrt(r) if ac.get("use_rslora") else alpha / r
    fn = os.path.join(adapter_dir, "adapter_model.safetensors")
    t = read_safetensors(fn)
    mods = {}
    for name, v in t.items():
        if not name.startswith("base_model.model."):
            raise ValueError("%s: unexpected tensor %s" % (fn, name))
        rest = name[len("base_model.model."):]
        for suf, k in ((".lora_A.weight", 0), (".lora_B.weight", 1)):
            if rest.endswith(suf):
                mod = canonical_name(rest[:-len(suf)] + ".weight")
                if mod is None:
                    raise ValueError("%s: tensor %s names no text-model module" % (fn, name))
                mods.setdefault(mod[:-len(".weight")], [None, None])[k] = v
                break
        else:
            raise ValueError("%s: unexpected tensor %s" % (fn, name))
    out = {}
    for m, (a, b) in mods.items():
        if a is None or b is None or a.shape[0] != r or b.shape[1] != r:
            raise ValueError("%s: %s lacks lora_A or lora_B of rank %d" % (fn, m, r))
        out[m] = (a, b, scaling)
    return out, ac


class Model:
    def __init__(self, model_dir, adapter_dir=None):
        self.cfg = load_config(model_dir)
        raw = read_model_tensors(model_dir, lambda n: canonical_name(n) is not None)
        self.w = {canonical_name(k): v for k, v in raw.items()}
        c = self.cfg
        if c.tie or "lm_head.weight" not in self.w:
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.lora = {}
        if adapter_dir:
            self.lora, _ = load_adapter(adapter_dir)
            for m in self.lora:
                if m + ".weight" not in self.w:
                    raise ValueError("adapter module %s not in the model" % m)
        self.inv_freq = [layer_inv_freq(c, c.sliding[i]) for i in range(c.layers)]
        self.dtype = torch.float32  # float64 for the training self-check's finite differences

    def to_double(self):
        """The same model in float64 (weights, LoRA and the computation)."""
        self.w = {k: v.double() for k, v in self.w.items()}
        self.lora = {m: (a.double(), b.double(), s) for m, (a, b, s) in self.lora.items()}
        self.dtype = torch.float64
        return self

    # y = W x + b + (B (A x)) * scaling   (peft Linear.forward, dropout 0)
    def linear(self, x, mod):
        y = F.linear(x, self.w[mod + ".weight"], self.w.get(mod + ".bias"))
        if mod in self.lora:
            a, b, s = self.lora[mod]
            y = y + F.linear(F.linear(x, a), b) * s
        return y

    def rmsnorm(self, x, weight_name):
        # LlamaRMSNorm: w * (x * rsqrt(mean(x^2) + eps)); GemmaRMSNorm: the
        # same in float32 times (1 + w)
        w = self.w[weight_name]
        x = x.to(self.dtype)
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg.eps)
        return y * (1.0 + w) if self.cfg.norm_add_one else w * y

    def act(self, x):
        if self.cfg.act == "silu":
            return F.silu(x)
        if self.cfg.act == "gelu":
            return F.gelu(x)
        return F.gelu(x, approximate="tanh")

    def attention(self, x, i, T):
        c = self.cfg
        p = "model.layers.%d.self_attn." % i
        q = self.linear(x, p + "q_proj").view(T, c.nh, c.hd)
        k = self.linear(x, p + "k_proj").view(T, c.nkv, c.hd)
        v = self.linear(x, p + "v_proj").view(T, c.nkv, c.hd)
        if c.qk_norm:  # per head, before RoPE (Qwen3Attention, Gemma3Attention)
            q = self.rmsnorm(q, p + "q_norm.weight")
            k = self.rmsnorm(k, p + "k_norm.weight")
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)   # [heads, T, hd]
        cos, sin = rope_tables(self.inv_freq[i], T)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = c.nh // c.nkv                       # repeat_kv: head h reads kv head h // rep
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        s = torch.matmul(q, k.transpose(1, 2)) * c.scale
        if c.attn_cap:                             # softcap before the mask
            s = torch.tanh(s / c.attn_cap) * c.attn_cap
        qi = torch.arange(T)[:, None]
        kj = torch.arange(T)[None, :]
        allowed = kj <= qi
        if c.sliding[i]:                           # masking_utils.sliding_window_overlay
            allowed = allowed & (kj > qi - c.window)
        s = s.masked_fill(~allowed, float("-inf"))
        pr = torch.softmax(s, dim=-1, dtype=self.dtype)
        o = torch.matmul(pr, v).transpose(0, 1).reshape(T, c.nh * c.hd)
        return self.linear(o, p + "o_proj")

    def forward(self, ids, last_only=False):
        """logits [T, vocab] (or [1, vocab] for the last position)."""
        c = self.cfg
        ids_t = torch.tensor(ids, dtype=torch.int64)
        if int(ids_t.min()) < 0 or int(ids_t.max()) >= c.vocab:
            raise ValueError("token id out of range [0, %d)" % c.vocab)
        T = len(ids)
        h = self.w["model.embed_tokens.weight"][ids_t]
        if c.embed_scale:  # Gemma: times sqrt(hidden) (a float32 tensor here)
            h = h * torch.tensor(c.hidden ** 0.5, dtype=torch.float32)
        for i in range(c.layers):
            p = "model.layers.%d." % i
            r = h
            x = self.rmsnorm(h, p + "input_layernorm.weight")
            a = self.attention(x, i, T)
            if c.sandwich:
                a = self.rmsnorm(a, p + "post_attention_layernorm.weight")
                h = r + a
                r = h
                x = self.rmsnorm(h, p + "pre_feedforward_layernorm.weight")
            else:
                h = r + a
                r = h
                x = self.rmsnorm(h, p + "post_attention_layernorm.weight")
            m = self.linear(self.act(self.linear(x, p + "mlp.gate_proj")) * self.linear(x, p + "mlp.up_proj"),
                            p + "mlp.down_proj")
            if c.sandwich:
                m = self.rmsnorm(m, p + "post_feedforward_layernorm.weight")
            h = r + m
        h = self.rmsnorm(h, "model.norm.weight")
        if last_only:
            h = h[-1:]
        logits = F.linear(h, self.w["lm_head.weight"])
        if c.final_cap:
            logits = torch.tanh(logits / c.final_cap) * c.final_cap
        return logits


# ---------------------------------------------------------------- operations


def score_record(model, rec):
    ids = rec["ids"]
    mask = rec.get("mask")
    if mask is not None and len(mask) != len(ids):
        raise ValueError("mask and ids differ in length")
    pos = [i for i in range(1, len(ids)) if mask is None or mask[i] == 1]
    if not pos:
        return float("nan"), 0, 0.0
    logits = model.forward(ids)
    lp = torch.log_softmax(logits[:-1].float(), dim=-1)       # row i-1 predicts token i
    nll = [-float(lp[i - 1, ids[i]]) for i in pos]
    total = math.fsum(nll)
    return total / len(nll), len(nll), total


def greedy(model, ids, n, with_top=False):
    ids = list(ids)
    out, tops = [], []
    eos = set(model.cfg.eos)
    for _ in range(n):
        lg = model.forward(ids, last_only=True)[0]
        v, ix = torch.topk(lg, 5)
        tops.append([[int(a), float(b)] for a, b in zip(ix, v)])
        t = int(ix[0])
        if t in eos:  # the stop token ends the reply; sft-generate leaves it out
            break
        out.append(t)
        ids.append(t)
    return (out, tops) if with_top else out


def parse_ids(s):
    return [int(x) for x in s.replace(" ", "").split(",") if x != ""]


def read_jsonl(path):
    f = sys.stdin if path in (None, "-") else open(path, encoding="utf-8-sig")
    recs = []
    for line in f:
        line = line.strip()
        if line:
            recs.append(json.loads(line))
    return recs


def write_logits(path, logits):
    with open(path, "wb") as f:
        f.write(logits.float().contiguous().numpy().astype("<f4").tobytes())


class Cache:
    def __init__(self):
        self.m = {}

    def get(self, model, adapter):
        key = (model, adapter or "")
        if key not in self.m:
            self.m[key] = Model(model, adapter)
        return self.m[key]


def run_job(cache, j):
    m = cache.get(j["model"], j.get("adapter"))
    op = j["op"]
    if op == "logits":
        write_logits(j["out"], m.forward(j["ids"]))
    elif op == "score":
        with open(j["out"], "w") as f:
            for rec in read_jsonl(j["in"]):
                loss, n, _ = score_record(m, rec)
                rec = dict(rec, loss=loss, n_scored=n)
                f.write(json.dumps(rec) + "\n")
    elif op == "generate":
        out, tops = greedy(m, j["ids"], j["max_new_tokens"], with_top=True)
        with open(j["out"], "w") as f:
            json.dump({"generated_ids": out, "top5": tops}, f)
    else:
        raise ValueError("unknown op %r" % op)


# ---------------------------------------------------------------- conformance inputs


CASES = ["llama", "llama3", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gemma3"]


def case_inputs(name, vocab):
    """Deterministic ids for a case: 40 for logits (longer than the window
    8; the whole vocabulary, so ids beyond the fixture tokenizer), three
    score records (one masked), a 10-token generation prompt."""
    g = np.random.Generator(np.random.PCG64(zlib.crc32(name.encode())))
    rid = lambda n: [int(x) for x in g.integers(0, vocab, n)]
    ids = rid(40)
    ids[3] = vocab - 1
    ids[5] = 0
    s1 = rid(24)
    s2 = rid(18)
    mask = [1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1]
    s3 = rid(11)
    score = [{"ids": s1}, {"ids": s2, "mask": mask}, {"ids": s3}]
    gen = {"ids": rid(10)}
    return ids, score, gen


def prepare(d):
    models = os.path.join(d, "models")
    ind = os.path.join(d, "in")
    refd = os.path.join(d, "ref")
    os.makedirs(ind, exist_ok=True)
    os.makedirs(refd, exist_ok=True)
    jobs = []
    for name in CASES:
        md = os.path.join(models, name)
        cfg = load_config(md)
        ids, score, gen = case_inputs(name, cfg.vocab)
        with open(os.path.join(ind, name + ".ids"), "w") as f:
            f.write(",".join(map(str, ids)) + "\n")
        with open(os.path.join(ind, name + ".score.jsonl"), "w") as f:
            for r in score:
                f.write(json.dumps(r) + "\n")
        with open(os.path.join(ind, name + ".gen.jsonl"), "w") as f:
            f.write(json.dumps(gen) + "\n")
        with open(os.path.join(ind, name + ".vocab"), "w") as f:
            f.write("%d\n" % cfg.vocab)
        for ad, tag in ((None, name), (md + "-lora", name + "+lora")):
            jobs.append({"op": "logits", "model": md, "adapter": ad, "ids": ids,
                         "out": os.path.join(refd, tag + ".logits.f32")})
            jobs.append({"op": "score", "model": md, "adapter": ad,
                         "in": os.path.join(ind, name + ".score.jsonl"),
                         "out": os.path.join(refd, tag + ".score.jsonl")})
            jobs.append({"op": "generate", "model": md, "adapter": ad, "ids": gen["ids"], "max_new_tokens": 8,
                         "out": os.path.join(refd, tag + ".gen.json")})
    cache = Cache()
    for j in jobs:
        run_job(cache, j)
        if len(cache.m) > 2:  # keep memory small: one model at a time
            for k in list(cache.m)[:-2]:
                del cache.m[k]


# ---------------------------------------------------------------- self-check


def naive_logits(model, ids):
    """A second implementation for the self-check: float64, one token at a
    time with a KV cache, attention as explicit loops over heads and keys,
    RoPE as explicit rotations of the pairs (d, d + hd/2) with angles from
    frequencies computed in Python floats, LoRA merged into W."""
    c = model.cfg
    W = {}
    for k, v in model.w.items():
        W[k] = v.double()
    for m, (a, b, s) in model.lora.items():
        W[m + ".weight"] = W[m + ".weight"] + s * (b.double() @ a.double())

    def freqs(sliding):
        base = c.local_theta if (c.family == "gemma3" and sliding) else c.theta
        out = []
        for d in range(0, c.hd, 2):
            f = 1.0 / base ** (d / c.hd)
            sc = c.rope_scaling if not (c.family == "gemma3" and sliding) else None
            if sc and sc.get("rope_type", sc.get("type")) == "linear":
                f /= sc["factor"]
            elif sc and sc.get("rope_type", sc.get("type")) == "llama3":
                wl = 2 * math.pi / f
                lo = sc["original_max_position_embeddings"] / sc["low_freq_factor"]
                hi = sc["original_max_position_embeddings"] / sc["high_freq_factor"]
                if wl > lo:
                    f /= sc["factor"]
                elif wl >= hi:
                    sm = (sc["original_max_position_embeddings"] / wl - sc["low_freq_factor"]) / \
                         (sc["high_freq_factor"] - sc["low_freq_factor"])
                    f = (1 - sm) * f / sc["factor"] + sm * f
            out.append(f)
        return out

    fr = [freqs(c.sliding[i]) for i in range(c.layers)]

    def rms(x, name):
        w = W[name]
        y = x / math.sqrt(float((x * x).mean()) + c.eps)
        return y * (1 + w) if c.norm_add_one else y * w

    def lin(x, mod):
        y = W[mod + ".weight"] @ x
        if mod + ".bias" in W:
            y = y + W[mod + ".bias"]
        return y

    def rope(x, pos, f):
        # rotate each pair (x[d], x[d + hd/2]) by the angle pos * f[d]
        half = c.hd // 2
        cs = torch.tensor([math.cos(pos * fd) for fd in f], dtype=torch.float64)
        sn = torch.tensor([math.sin(pos * fd) for fd in f], dtype=torch.float64)
        lo, hi = x[:half], x[half:]
        return torch.cat((lo * cs - hi * sn, hi * cs + lo * sn))

    def act(x):
        if c.act == "silu":
            return x / (1 + torch.exp(-x))
        if c.act == "gelu":
            return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    kc = [[] for _ in range(c.layers)]
    vc = [[] for _ in range(c.layers)]
    rows = []
    for t, tok in enumerate(ids):
        h = W["model.embed_tokens.weight"][tok].clone()
        if c.embed_scale:
            h = h * math.sqrt(c.hidden)
        for i in range(c.layers):
            p = "model.layers.%d." % i
            x = rms(h, p + "input_layernorm.weight")
            q = lin(x, p + "self_attn.q_proj").view(c.nh, c.hd)
            k = lin(x, p + "self_attn.k_proj").view(c.nkv, c.hd)
            v = lin(x, p + "self_attn.v_proj").view(c.nkv, c.hd)
            if c.qk_norm:
                q = torch.stack([rms(q[j], p + "self_attn.q_norm.weight") for j in range(c.nh)])
                k = torch.stack([rms(k[j], p + "self_attn.k_norm.weight") for j in range(c.nkv)])
            q = torch.stack([rope(q[j], t, fr[i]) for j in range(c.nh)])
            k = torch.stack([rope(k[j], t, fr[i]) for j in range(c.nkv)])
            kc[i].append(k)
            vc[i].append(v)
            o = torch.zeros(c.nh, c.hd, dtype=torch.float64)
            for hh in range(c.nh):
                g = hh // (c.nh // c.nkv)
                js = [j for j in range(t + 1) if not c.sliding[i] or t - j < c.window]
                sc = []
                for j in js:
                    s = float(q[hh] @ kc[i][j][g]) * c.scale
                    if c.attn_cap:
                        s = math.tanh(s / c.attn_cap) * c.attn_cap
                    sc.append(s)
                mx = max(sc)
                e = [math.exp(s - mx) for s in sc]
                z = sum(e)
                for j, ej in zip(js, e):
                    o[hh] += (ej / z) * vc[i][j][g]
            a = lin(o.reshape(-1), p + "self_attn.o_proj")
            if c.sandwich:
                a = rms(a, p + "post_attention_layernorm.weight")
                h = h + a
                x = rms(h, p + "pre_feedforward_layernorm.weight")
            else:
                h = h + a
                x = rms(h, p + "post_attention_layernorm.weight")
            m = lin(act(lin(x, p + "mlp.gate_proj")) * lin(x, p + "mlp.up_proj"), p + "mlp.down_proj")
            if c.sandwich:
                m = rms(m, p + "post_feedforward_layernorm.weight")
            h = h + m
        h = rms(h, "model.norm.weight")
        lg = W["lm_head.weight"] @ h
        if c.final_cap:
            lg = torch.tanh(lg / c.final_cap) * c.final_cap
        rows.append(lg)
    return torch.stack(rows)


def selftest(models_dir, tol=2e-4, quick=False):
    """ref.py's batched float32 forward against naive_logits (float64) on
    every case, with and without its adapter (quick: with it only, but
    llama both ways), on 20 tokens (> window 8).
    Also: the adapter changes the logits; the llama3 scaling keeps, smooths
    and divides some frequencies; the sliding layers are as expected."""
    ok = True
    lines = []
    for name in CASES:
        md = os.path.join(models_dir, name)
        if not os.path.isdir(md):
            continue
        for ad in ((None, md + "-lora") if not quick or name == "llama" else (md + "-lora",)):
            m = Model(md, ad)
            ids, _, _ = case_inputs(name, m.cfg.vocab)
            ids = ids[:20]
            a = m.forward(ids)
            b = naive_logits(m, ids)
            d = float((a.double() - b).abs().max())
            good = d <= tol and math.isfinite(d)
            tag = name + ("+lora" if ad else "")
            extra = ""
            if ad:
                base = Model(md).forward(ids)
                ch = float((a - base).abs().max())
                extra = ", adapter moves logits by up to %.3g" % ch
                good = good and ch > 1e-2
            spread = float(a.std())
            good = good and spread > 0.1
            lines.append("%s %s: batched fp32 vs naive fp64 max |diff| %.2e (logit std %.2f%s)"
                         % ("ok" if good else "FAIL", tag, d, spread, extra))
            ok = ok and good
    # the features the fixtures are meant to exercise change the logits
    def effect(name, what, change):
        md = os.path.join(models_dir, name)
        if not os.path.isdir(md):
            return True
        m = Model(md)
        ids, _, _ = case_inputs(name, m.cfg.vocab)
        a = m.forward(ids)
        change(m)
        d = float((a - m.forward(ids)).abs().max())
        lines.append("%s %s: %s changes the logits by up to %.3g" % ("ok" if d > 1e-3 else "FAIL", name, what, d))
        return d > 1e-3

    def no_window(m):
        m.cfg.sliding = [False] * m.cfg.layers

    def no_caps(which):
        def f(m):
            setattr(m.cfg, which, None)
        return f

    def one_base(m):
        m.cfg.local_theta = m.cfg.theta
        m.cfg.rope_scaling = None
        m.inv_freq = [layer_inv_freq(m.cfg, False)] * m.cfg.layers

    def no_llama3(m):
        m.inv_freq = [default_inv_freq(m.cfg.theta, m.cfg.hd)] * m.cfg.layers

    for name, what, ch in (("gemma2", "the sliding window", no_window),
                           ("gemma2", "the attention softcap", no_caps("attn_cap")),
                           ("gemma2", "the final softcap", no_caps("final_cap")),
                           ("gemma3_text", "the sliding window", no_window),
                           ("gemma3_text", "local/global RoPE + linear scaling", one_base),
                           ("gemma3", "the sliding window", no_window),
                           ("llama3", "the llama3 RoPE scaling", no_llama3)):
        ok = effect(name, what, ch) and ok
    # llama3 frequencies: some kept, some divided, some smoothed
    md = os.path.join(models_dir, "llama3")
    if os.path.isdir(md):
        c = load_config(md)
        base = default_inv_freq(c.theta, c.hd)
        sc = layer_inv_freq(c, False)
        r = (sc / base).tolist()
        kept = sum(abs(x - 1) < 1e-6 for x in r)
        div = sum(abs(x - 1 / c.rope_scaling["factor"]) < 1e-6 for x in r)
        mid = len(r) - kept - div
        good = kept > 0 and div > 0 and mid > 0
        lines.append("%s llama3 rope scaling: %d frequencies kept, %d smoothed, %d divided"
                     % ("ok" if good else "FAIL", kept, mid, div))
        ok = ok and good
    for name, want in (("gemma2", [True, False, True, False]),
                       ("gemma3_text", [True, True, False, True, True, False]),
                       ("gemma3", [True, False, True, False]),
                       ("qwen2", [False, False, False])):
        md = os.path.join(models_dir, name)
        if os.path.isdir(md):
            got = load_config(md).sliding
            good = got == want
            lines.append("%s %s sliding layers %s" % ("ok" if good else "FAIL", name,
                                                       [i for i, s in enumerate(got) if s]))
            ok = ok and good
    return ok, lines


# ---------------------------------------------------------------- LoRA training
#
# The contract that lib/nn/train.c implements (and these functions define):
#   data    JSONL {"ids": [...], "mask": [...]?}; one record = one sequence,
#           positions from 0, no packing; token i (i >= 1) is a target when
#           mask[i] == 1 (every token after the first when there is no mask),
#           predicted from tokens < i; mask[0] is ignored.
#   steps   step s (1-based) with batch B, grad-accum K uses records
#           (s-1)*B*K ... s*B*K-1 of the file, modulo its length (wrapping);
#           micro-batch j of the step is B consecutive records of those.
#   loss    of a step = (sum over all its targets of -log p) / (number of
#           targets of the step), so B x K = 8 x 1 and 1 x 8 are the same.
#           A step without targets has loss 0 and zero gradients (AdamW still
#           steps: the moments decay and weight decay applies).
#   LoRA    y = W x + b + (B (A x)) * scaling, dropout 0; only lora_A and
#           lora_B are trained; all in float32 (base weights upcast once).
#   clip    torch.nn.utils.clip_grad_norm_: total = ||(||g_1||, ..., ||g_n||)||_2
#           over every LoRA tensor in float32; coef = max_norm / (total +
#           1e-6); gradients times min(coef, 1). grad_norm reported = total,
#           before clipping. max_norm 0: no clipping (the norm is reported).
#   AdamW   torch.optim.AdamW (single-tensor path), per element, t = step:
#             p  = p * (1 - lr * wd)
#             m  = beta1 * m + (1 - beta1) * g
#             v  = beta2 * v + (1 - beta2) * g * g
#             p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#           (the bias corrections in double, then used as float32 scalars);
#           constant learning rate.


def adapter_names(adapter_dir):
    """{module ("model.layers.N.self_attn.q_proj"): (PEFT name of lora_A,
    PEFT name of lora_B)}, the names as they are in the adapter file."""
    fn = os.path.join(adapter_dir, "adapter_model.safetensors")
    with open(fn, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    out = {}
    for name in header:
        if name == "__metadata__":
            continue
        rest = name[len("base_model.model."):]
        for suf, k in ((".lora_A.weight", 0), (".lora_B.weight", 1)):
            if rest.endswith(suf):
                mod = canonical_name(rest[:-len(suf)] + ".weight")[:-len(".weight")]
                out.setdefault(mod, [None, None])[k] = name
    return {m: tuple(v) for m, v in out.items()}


def write_safetensors_f32(path, tensors):
    """{name: tensor} -> F32 safetensors as the safetensors library writes
    it (header with "__metadata__" {"format": "pt"} first, names sorted,
    padded with spaces to a multiple of 8, data in the same order)."""
    names = sorted(tensors)
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for n in names:
        b = tensors[n].detach().float().contiguous().numpy().astype("<f4").tobytes()
        header[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def targets(rec):
    """The positions i (>= 1) whose token is trained."""
    ids = rec["ids"]
    mask = rec.get("mask")
    if mask is not None and len(mask) != len(ids):
        raise ValueError("mask and ids differ in length")
    return [i for i in range(1, len(ids)) if mask is None or mask[i] == 1]


class LoraTrainer:
    """The adapter's lora_A / lora_B of MODEL as leaf tensors that require
    gradients (in the model's dtype), listed in PEFT-name order."""

    def __init__(self, model, names):
        self.model = model
        self.params = []   # [(PEFT name, tensor)]
        for mod in sorted(model.lora):
            a, b, s = model.lora[mod]
            a = a.detach().clone().requires_grad_(True)
            b = b.detach().clone().requires_grad_(True)
            model.lora[mod] = (a, b, s)
            self.params += [(names[mod][0], a), (names[mod][1], b)]
        self.params.sort(key=lambda x: x[0])

    def tensors(self):
        return [p for _, p in self.params]

    def zero_grad(self):
        for p in self.tensors():
            p.grad = torch.zeros_like(p)

    def backward_step(self, micro_batches):
        """Accumulates into .grad the gradients of the step's loss over
        MICRO_BATCHES (lists of records): one backward per micro-batch of
        sum(-log p of its targets) / (targets of the whole step). Returns
        (loss, targets), the loss summed in float64."""
        self.zero_grad()
        n = sum(len(targets(r)) for mb in micro_batches for r in mb)
        nll_sum = []
        with torch.enable_grad():
            for mb in micro_batches:
                part = None
                for rec in mb:
                    pos = targets(rec)
                    if not pos:
                        continue
                    logits = self.model.forward(rec["ids"])
                    src = torch.tensor([i - 1 for i in pos])
                    tgt = torch.tensor([rec["ids"][i] for i in pos])
                    nll = F.cross_entropy(logits[src], tgt, reduction="none")
                    nll_sum += nll.detach().double().tolist()
                    part = nll.sum() if part is None else part + nll.sum()
                if part is not None:
                    (part / n).backward()
        return (math.fsum(nll_sum) / n if n else 0.0), n


def loss_of(model, recs):
    """The loss of RECS as one step, without autograd (the finite
    differences' function): fsum of -log_softmax over all targets / count."""
    nll, n = [], 0
    for rec in recs:
        pos = targets(rec)
        if not pos:
            continue
        lp = torch.log_softmax(model.forward(rec["ids"]), dim=-1)
        nll += [-float(lp[i - 1, rec["ids"][i]]) for i in pos]
        n += len(pos)
    return math.fsum(nll) / n


def grads(model_dir, adapter_dir, recs, dtype=torch.float32):
    """(loss, targets, {PEFT name: gradient}) of RECS as one step."""
    m = Model(model_dir, adapter_dir)
    if dtype == torch.float64:
        m.to_double()
    tr = LoraTrainer(m, adapter_names(adapter_dir))
    loss, n = tr.backward_step([[r] for r in recs])
    return loss, n, {k: p.grad.detach().clone() for k, p in tr.params}


def step_records(recs, s, bs, accum):
    """The micro-batches of step S (1-based)."""
    base = (s - 1) * bs * accum
    idx = [(base + j) % len(recs) for j in range(bs * accum)]
    return [[recs[i] for i in idx[k * bs:(k + 1) * bs]] for k in range(accum)]


def train(model_dir, init_adapter, recs, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          batch_size=1, grad_accum=1, max_grad_norm=0.0, log=None):
    """Trains the adapter; returns ([{"step", "loss", "grad_norm",
    "tokens"}], {PEFT name: final tensor}). LOG(line) gets each step's JSON."""
    if not recs:
        raise ValueError("no training records")
    m = Model(model_dir, init_adapter)
    tr = LoraTrainer(m, adapter_names(init_adapter))
    opt = torch.optim.AdamW(tr.tensors(), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                            foreach=False)
    hist = []
    for s in range(1, steps + 1):
        loss, n = tr.backward_step(step_records(recs, s, batch_size, grad_accum))
        norm = torch.nn.utils.clip_grad_norm_(tr.tensors(), max_grad_norm if max_grad_norm > 0 else math.inf)
        rec = {"step": s, "loss": loss, "grad_norm": float(norm), "tokens": n}
        hist.append(rec)
        if log:
            log(json.dumps(rec))
        with torch.no_grad():
            opt.step()
    return hist, {k: p.detach().clone() for k, p in tr.params}


def write_adapter(out_dir, init_adapter, tensors):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(init_adapter, "adapter_config.json"), "rb") as f:
        cfg = f.read()
    with open(os.path.join(out_dir, "adapter_config.json"), "wb") as f:
        f.write(cfg)
    write_safetensors_f32(os.path.join(out_dir, "adapter_model.safetensors"), tensors)


def bench_train(model_dir, r=16, tokens=512, repeat=3):
    """Seconds of one training step (forward + backward + AdamW) with LoRA r
    on the 7 linear layers of every block, one random sequence, every token
    after the first trained: the median of REPEAT steps after a warm-up."""
    m = Model(model_dir)
    c = m.cfg
    g = torch.Generator().manual_seed(0)
    params = []
    for i in range(c.layers):
        for mod in ALL_LINEAR:
            name = "model.layers.%d.%s" % (i, mod)
            out_f, in_f = m.w[name + ".weight"].shape
            # A like nn.Linear's kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(in), 1/sqrt(in));
            # B small and non-zero so that every gradient is non-zero
            a = ((torch.rand(r, in_f, generator=g) * 2 - 1) / math.sqrt(in_f)).requires_grad_(True)
            b = (torch.randn(out_f, r, generator=g) * 1e-2).requires_grad_(True)
            m.lora[name] = (a, b, 2.0)   # alpha 32 / r 16
            params += [a, b]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, c.vocab, (tokens,), generator=g)
    tgt = ids[1:]

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            loss = F.cross_entropy(m.forward(ids.tolist())[:-1], tgt)
            loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], sum(p.numel() for p in params)


ALL_LINEAR = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def train_inputs(name, vocab):
    """Three deterministic training records for a case, ids anywhere in the
    vocabulary: 24 tokens; 22 tokens with a mask (mask[0] = 1, which must be
    ignored); 26 tokens."""
    g = np.random.Generator(np.random.PCG64(zlib.crc32(("train:" + name).encode())))
    rid = lambda n: [int(x) for x in g.integers(0, vocab, n)]
    mask = [1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    recs = [{"ids": rid(24)}, {"ids": rid(22), "mask": mask}, {"ids": rid(26)}]
    recs[0]["ids"][2] = vocab - 1
    recs[2]["ids"][4] = 0
    return recs


def prepare_train(d):
    """For tests/conformance/nn-train.sh: DIR/models (gen-nn.py) ->
    DIR/in/CASE.jsonl and DIR/ref/CASE.grads.safetensors, CASE.grads.json."""
    ind = os.path.join(d, "in")
    refd = os.path.join(d, "ref")
    os.makedirs(ind, exist_ok=True)
    os.makedirs(refd, exist_ok=True)
    for name in CASES:
        md = os.path.join(d, "models", name)
        recs = train_inputs(name, load_config(md).vocab)
        fn = os.path.join(ind, name + ".jsonl")
        with open(fn, "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
        loss, n, g = grads(md, md + "-lora", read_jsonl(fn))
        write_safetensors_f32(os.path.join(refd, name + ".grads.safetensors"), g)
        with open(os.path.join(refd, name + ".grads.json"), "w") as f:
            f.write(json.dumps({"loss": loss, "n_tokens": n}) + "\n")


def selftest_train(models_dir, families=("llama", "gemma2", "qwen3")):
    """(ok, lines): autograd gradients (float64) against central finite
    differences of an independent loss (loss_of, float64) on a few
    coordinates per family; float32 gradients against float64 ones; the
    names and shapes of the gradients are the adapter's; batch 2 x accum 1
    against batch 1 x accum 2 (3 steps, with weight decay and clipping);
    train's first loss and grad_norm against grads; AdamW and clipping
    against the formulas written out."""
    ok, lines = True, []

    def check(good, msg):
        nonlocal ok
        ok = ok and bool(good)
        lines.append(("ok " if good else "FAIL ") + msg)

    for name in families:
        md = os.path.join(models_dir, name)
        if not os.path.isdir(md):
            continue
        ad = md + "-lora"
        recs = train_inputs(name, load_config(md).vocab)
        loss64, n, g64 = grads(md, ad, recs, torch.float64)
        loss32, n32, g32 = grads(md, ad, recs)
        hdr = read_safetensors(os.path.join(ad, "adapter_model.safetensors"))
        check(sorted(g32) == sorted(hdr) and all(g32[k].shape == hdr[k].shape for k in hdr),
              "%s: %d gradients, the adapter's names and shapes" % (name, len(g32)))
        want = (len(recs[0]["ids"]) - 1) + sum(recs[1]["mask"][1:]) + (len(recs[2]["ids"]) - 1)
        check(n == n32 == want,
              "%s: %d targets (mask[0] ignored)" % (name, n))
        # finite differences in float64 on: the largest and a random
        # coordinate of lora_A and lora_B of the first and the last module
        m = Model(md, ad).to_double()
        mods = sorted(m.lora, key=lambda x: (int(x.split(".")[2]), x))
        names = adapter_names(ad)
        rng = np.random.Generator(np.random.PCG64(zlib.crc32(name.encode())))
        worst, count = 0.0, 0
        for mod in (mods[0], mods[-1]):
            for k in (0, 1):
                pn = names[mod][k]
                gt = g64[pn]
                coords = [tuple(int(x) for x in np.unravel_index(int(gt.abs().argmax()), gt.shape)),
                          tuple(int(rng.integers(0, s)) for s in gt.shape)]
                for cc in coords:
                    t = m.lora[mod][k]
                    h = 1e-5 * max(1.0, abs(float(t[cc])))
                    old = float(t[cc])
                    t[cc] = old + h
                    lp = loss_of(m, recs)
                    t[cc] = old - h
                    lm = loss_of(m, recs)
                    t[cc] = old
                    fd = (lp - lm) / (2 * h)
                    err = abs(fd - float(gt[cc])) / float(gt.abs().max())
                    worst = max(worst, err)
                    count += 1
        check(worst <= 1e-6, "%s: autograd vs central differences (float64), %d coordinates: "
              "max |diff| / max |grad| %.2e" % (name, count, worst))
        check(abs(loss_of(m, recs) - loss64) <= 1e-12 * abs(loss64),
              "%s: the training loss is the scoring loss (%.6f)" % (name, loss64))
        rel = max(float((g32[k].double() - g64[k]).abs().max() / g64[k].abs().max()) for k in g64)
        check(rel <= 1e-5 and abs(loss32 - loss64) <= 1e-5 * loss64,
              "%s: float32 vs float64 gradients: worst max |diff| / max |grad| %.2e, loss rel. diff %.1e"
              % (name, rel, abs(loss32 - loss64) / loss64))
    # batch 2 x accum 1 == batch 1 x accum 2 (4 records, so that 3 steps wrap)
    name = families[0]
    md = os.path.join(models_dir, name)
    if os.path.isdir(md):
        ad = md + "-lora"
        recs = train_inputs(name, load_config(md).vocab)
        recs.append({"ids": recs[0]["ids"][::-1][:15]})
        kw = dict(lr=1e-2, weight_decay=0.1, max_grad_norm=0.5)
        h1, a1 = train(md, ad, recs, 3, batch_size=2, grad_accum=1, **kw)
        h2, a2 = train(md, ad, recs, 3, batch_size=1, grad_accum=2, **kw)
        dl = max(abs(x["loss"] - y["loss"]) / y["loss"] for x, y in zip(h1, h2))
        dn = max(abs(x["grad_norm"] - y["grad_norm"]) / y["grad_norm"] for x, y in zip(h1, h2))
        da = max(float((a1[k] - a2[k]).abs().max() / a2[k].abs().max()) for k in a2)
        init = read_safetensors(os.path.join(ad, "adapter_model.safetensors"))
        moved = min(float((a1[k] - init[k]).abs().max()) for k in init)
        clipped = sum(x["grad_norm"] > 0.5 for x in h1)
        check(dl <= 1e-6 and dn <= 1e-5 and da <= 1e-5 and moved > 0 and [x["tokens"] for x in h1] ==
              [x["tokens"] for x in h2], "%s: batch 2 x accum 1 vs batch 1 x accum 2, 3 steps (%d clipped): "
              "loss rel. diff %.1e, grad_norm %.1e, adapter max |diff| / max %.1e; every tensor moved"
              % (name, clipped, dl, dn, da))
        l0, n0, g0 = grads(md, ad, recs[:2])
        gn = math.sqrt(math.fsum(float((g.double() ** 2).sum()) for g in g0.values()))
        check(abs(h1[0]["loss"] - l0) <= 1e-6 * l0 and abs(h1[0]["grad_norm"] - gn) <= 1e-5 * gn
              and h1[0]["tokens"] == n0, "%s: train step 1 = grads of records 1-2: loss %.6f, grad_norm %.6f"
              % (name, l0, gn))
        # 1 step of batch 3 from a file of 2 records wraps: records 1, 2, 1
        h3, _ = train(md, ad, recs[:2], 1, batch_size=3)
        l3, n3, _ = grads(md, ad, [recs[0], recs[1], recs[0]])
        check(abs(h3[0]["loss"] - l3) <= 1e-6 * l3 and h3[0]["tokens"] == n3,
              "%s: a step wraps around the file (loss %.6f over %d targets)" % (name, l3, n3))
    # AdamW and clipping as written in the contract above
    g = torch.Generator().manual_seed(1)
    ps = [torch.randn(5, 7, generator=g), torch.randn(3, generator=g)]
    qs = [p.clone().requires_grad_(True) for p in ps]
    lr, b1, b2, eps, wd, mx = 1e-2, 0.9, 0.95, 1e-6, 0.1, 0.7
    opt = torch.optim.AdamW(qs, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)
    mom = [torch.zeros_like(p) for p in ps]
    vel = [torch.zeros_like(p) for p in ps]
    worst = 0.0
    for t in range(1, 5):
        gs = [torch.randn(p.shape, generator=g) * (0.1 if t % 2 else 3.0) for p in ps]
        for q, gg in zip(qs, gs):
            q.grad = gg.clone()
        tot = torch.nn.utils.clip_grad_norm_(qs, mx)
        opt.step()
        mine = torch.stack([gg.norm() for gg in gs]).norm()
        coef = mx / (float(mine) + 1e-6)
        for i, p in enumerate(ps):
            gg = gs[i] * coef if coef < 1 else gs[i]
            p.mul_(1 - lr * wd)
            mom[i] = b1 * mom[i] + (1 - b1) * gg
            vel[i] = b2 * vel[i] + (1 - b2) * gg * gg
            p.sub_((lr / (1 - b1 ** t)) * mom[i] / (vel[i].sqrt() / math.sqrt(1 - b2 ** t) + eps))
        worst = max([worst, abs(float(tot) - float(mine))] +
                    [float((p - q.detach()).abs().max()) for p, q in zip(ps, qs)])
    check(worst <= 1e-6, "AdamW + clip_grad_norm_ = the formulas of the contract, 4 steps: max |diff| %.1e" % worst)
    return ok, lines


# ---------------------------------------------------------------- CLI


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference of sftkit's model families")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, ids=True):
        p.add_argument("--model", required=True)
        p.add_argument("--adapter")
        if ids:
            p.add_argument("--ids", required=True)
        p.add_argument("--threads", type=int)

    p = sub.add_parser("logits")
    common(p)
    p.add_argument("--out", required=True)
    p.add_argument("--chunk", type=int, help="accepted for nn-logits' interface; the result is the same")
    p = sub.add_parser("score")
    common(p, ids=False)
    p.add_argument("file", nargs="?")
    p = sub.add_parser("generate")
    common(p)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p = sub.add_parser("bench-prefill")
    common(p, ids=False)
    p.add_argument("--tokens", type=int, required=True)
    p.add_argument("--last-only", action="store_true", help="logits of the last position only")
    p = sub.add_parser("selftest")
    p.add_argument("--models", help="a gen-nn.py output dir (default: generate one in a temp dir)")
    p.add_argument("--quick", action="store_true", help="the naive comparison with adapters only (and llama)")
    p = sub.add_parser("batch")
    p.add_argument("jobs")
    p = sub.add_parser("prepare")
    p.add_argument("dir")
    p = sub.add_parser("grads")
    p.add_argument("--model", required=True)
    p.add_argument("--adapter", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int)
    p.add_argument("file", nargs="?")
    p = sub.add_parser("train")
    p.add_argument("--model", required=True)
    p.add_argument("--init-adapter", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--betas", default="0.9,0.999")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-grad-norm", type=float, default=0.0, help="0: no clipping")
    p.add_argument("--no-shuffle", action="store_true", help="accepted for sft-train's interface; always so")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int)
    p.add_argument("file", nargs="?")
    p = sub.add_parser("bench-train")
    p.add_argument("--model", required=True)
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--repeat", type=int, default=3, help="timed steps after a warm-up; the median is reported")
    p.add_argument("--threads", type=int)
    p = sub.add_parser("selftest-train")
    p.add_argument("--models", help="a gen-nn.py output dir (default: generate one in a temp dir)")
    p = sub.add_parser("prepare-train")
    p.add_argument("dir")
    p = sub.add_parser("sft-generate")
    common(p, ids=False)
    p.add_argument("--score", metavar="FILE")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("file", nargs="?")
    a = ap.parse_args()
    if getattr(a, "threads", None):
        torch.set_num_threads(a.threads)

    if a.cmd == "logits":
        write_logits(a.out, Model(a.model, a.adapter).forward(parse_ids(a.ids)))
    elif a.cmd == "score":
        m = Model(a.model, a.adapter)
        tot, n = 0.0, 0
        for rec in read_jsonl(a.file):
            loss, k, s = score_record(m, rec)
            tot += s
            n += k
            sys.stdout.write(json.dumps(dict(rec, loss=loss, n_scored=k)) + "\n")
        if n:
            print("loss %.6f over %d tokens, perplexity %.4f" % (tot / n, n, math.exp(tot / n)), file=sys.stderr)
        else:
            print("no scored tokens", file=sys.stderr)
    elif a.cmd == "generate":
        print(json.dumps(greedy(Model(a.model, a.adapter), parse_ids(a.ids), a.max_new_tokens)))
    elif a.cmd == "bench-prefill":
        m = Model(a.model, a.adapter)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, m.cfg.vocab, (a.tokens,), generator=g).tolist()
        m.forward(ids[:8], a.last_only)  # warm-up
        t0 = time.perf_counter()
        m.forward(ids, a.last_only)
        dt = time.perf_counter() - t0
        print("%.1f" % (a.tokens / dt))
        print("ref.py bench-prefill: %d tokens in %.4f s (%d threads%s)"
              % (a.tokens, dt, torch.get_num_threads(), ", last-only logits" if a.last_only else ""),
              file=sys.stderr)
    elif a.cmd == "selftest":
        if a.models:
            ok, lines = selftest(a.models, quick=a.quick)
        else:
            import subprocess
            import tempfile
            gen = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "gen-nn.py")
            with tempfile.TemporaryDirectory(prefix="nnref-selftest.") as d:
                subprocess.run([sys.executable, gen, d], check=True)
                ok, lines = selftest(d, quick=a.quick)
        for ln in lines:
            print(ln)
        sys.exit(0 if ok else 1)
    elif a.cmd == "batch":
        with open(a.jobs) as f:
            jobs = json.load(f)
        cache = Cache()
        for j in jobs:
            run_job(cache, j)
    elif a.cmd == "prepare":
        prepare(a.dir)
    elif a.cmd == "grads":
        loss, n, g = grads(a.model, a.adapter, read_jsonl(a.file))
        write_safetensors_f32(a.out, g)
        print(json.dumps({"loss": loss, "n_tokens": n}))
    elif a.cmd == "train":
        betas = tuple(float(x) for x in a.betas.split(","))
        if len(betas) != 2 or a.steps < 0 or a.batch_size < 1 or a.grad_accum < 1:
            sys.exit("ref.py train: bad --betas, --steps, --batch-size or --grad-accum")

        def log(line):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        _, final = train(a.model, a.init_adapter, read_jsonl(a.file), a.steps, lr=a.lr, betas=betas, eps=a.eps,
                         weight_decay=a.weight_decay, batch_size=a.batch_size, grad_accum=a.grad_accum,
                         max_grad_norm=a.max_grad_norm, log=log)
        write_adapter(a.out, a.init_adapter, final)
    elif a.cmd == "bench-train":
        dt, npar = bench_train(a.model, a.r, a.tokens, a.repeat)
        print("%.1f" % (a.tokens / dt))
        print("ref.py bench-train: %d tokens, LoRA r=%d on 7 linears/block (%d trainable), one step "
              "(forward + backward + AdamW) in %.4f s, median of %d (%d threads)"
              % (a.tokens, a.r, npar, dt, a.repeat, torch.get_num_threads()), file=sys.stderr)
    elif a.cmd == "prepare-train":
        prepare_train(a.dir)
    elif a.cmd == "selftest-train":
        if a.models:
            ok, lines = selftest_train(a.models)
        else:
            import subprocess
            import tempfile
            gen = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "gen-nn.py")
            with tempfile.TemporaryDirectory(prefix="nnref-selftest.") as d:
                subprocess.run([sys.executable, gen, d, "--cases", "llama,gemma2,qwen3"], check=True)
                ok, lines = selftest_train(d)
        for ln in lines:
            print(ln)
        sys.exit(0 if ok else 1)
    elif a.cmd == "sft-generate":
        m = Model(a.model, a.adapter)
        if a.score:
            for rec in read_jsonl(a.score):
                loss, k, _ = score_record(m, rec)
                sys.stdout.write(json.dumps(dict(rec, loss=loss, n_scored=k)) + "\n")
        else:
            if a.temperature != 0:
                sys.exit("ref.py sft-generate: only --temperature 0 (greedy)")
            for rec in read_jsonl(a.file):
                sys.stdout.write(json.dumps(dict(rec, generated_ids=greedy(m, rec["ids"], a.max_new_tokens))) + "\n")


if __name__ == "__main__":
    main()
