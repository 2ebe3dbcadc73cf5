#!/usr/bin/env python3
"""Helper of tests/conformance/nn-train-steps.sh: its inputs, its reference
jobs (tests/reference/ref.py train, all in one process, cached) and its
comparisons (numpy only, so that each is quick). A comparison prints one
line for the TAP description and exits 0 when within tolerance, 1 when not.

    nn-train-steps.py inputs DIR                 DIR/*.jsonl (deterministic)
    nn-train-steps.py ref JOBS.json              runs the jobs whose output is missing or stale
    nn-train-steps.py train OURS_DIR REF_DIR STEPS [LOSS_RTOL GNORM_RTOL ADAPTER_RTOL]
        OURS_DIR/log.jsonl and adapter_model.safetensors (sft-train) against
        REF_DIR/log.jsonl and adapter_model.safetensors (ref.py train): every
        step's loss (1e-5) and grad_norm (1e-4) relative, the tensors' names
        and shapes equal; against the float64 reference (REF_DIR/f64) when
        there is one: rel. L2 distance <= 1e-4 (all tensors), <= 1e-3 per tensor;
        else per tensor max |diff| / max |ref| (1e-4)
    nn-train-steps.py same A_DIR B_DIR STEPS [LOSS_RTOL ADAPTER_RTOL]
        two sft-train runs that must agree: step losses (1e-5), adapters (1e-5)
    nn-train-steps.py ident A_DIR B_DIR
        log.jsonl identical but for tokens_per_s; adapter_model.safetensors
        byte-identical
    nn-train-steps.py eos SFT.jsonl IDS.jsonl    tokcount --ids masks: the <|im_end|>
        closing each assistant turn is trained, the others not
"""
import hashlib
import json
import math
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
VOCAB = 2061
IM_START, IM_END = 2057, 2058


# ---------------------------------------------------------------- inputs

def write_jsonl(path, recs):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def inputs(d):
    import random
    os.makedirs(d, exist_ok=True)
    g = random.Random(20250707)
    rid = lambda n: [g.randrange(VOCAB) for _ in range(n)]

    def mask(n):
        # mask[0] = 1 must be ignored; a few untrained stretches
        m = [1] + [1 if g.random() < 0.6 else 0 for _ in range(n - 1)]
        m[-1] = 1
        return m

    # a: 12 records of 20-30 tokens, every third with a mask, ids anywhere
    # in the vocabulary (0 and VOCAB-1 included)
    recs = []
    for i in range(12):
        n = g.randint(20, 30)
        r = {"ids": rid(n)}
        if i % 3 == 1:
            r["mask"] = mask(n)
        recs.append(r)
    recs[0]["ids"][3] = VOCAB - 1
    recs[5]["ids"][7] = 0
    write_jsonl(os.path.join(d, "steps.jsonl"), recs)

    # b: 16 records of 12-28 tokens (batch 8 x accum 1 vs batch 1 x accum 8)
    recs = []
    for i in range(16):
        n = g.randint(12, 28)
        r = {"ids": rid(n)}
        if i % 4 == 2:
            r["mask"] = mask(n)
        recs.append(r)
    write_jsonl(os.path.join(d, "accum.jsonl"), recs)

    # c: pairs of lengths summing to exactly 24, every length >= 9, so that
    # --batch-tokens 24 packs the same two consecutive examples as
    # --batch-size 2 (a third never fits)
    lens = [10, 14, 9, 15, 12, 12, 11, 13, 15, 9, 13, 11]
    recs = []
    for i, n in enumerate(lens):
        r = {"ids": rid(n)}
        if i % 3 == 2:
            r["mask"] = mask(n)
        recs.append(r)
    write_jsonl(os.path.join(d, "pack.jsonl"), recs)

    # d: 10 records of 40-60 tokens (resume; steps slow enough to be killed)
    write_jsonl(os.path.join(d, "resume.jsonl"), [{"ids": rid(g.randint(40, 60))} for _ in range(10)])

    # e: SFT examples through ChatML: system, multi-turn, Korean, Alpaca
    sft = [
        {"messages": [{"role": "system", "content": "You are terse."},
                      {"role": "user", "content": "What is 2+2?"},
                      {"role": "assistant", "content": "4"}]},
        {"messages": [{"role": "user", "content": "안녕하세요"},
                      {"role": "assistant", "content": "안녕하세요! 무엇을 도와드릴까요?"},
                      {"role": "user", "content": "날씨 알려줘"},
                      {"role": "assistant", "content": "오늘은 맑아요."}]},
        {"instruction": "Say hi", "input": "politely", "output": "Hello there."},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b c d"},
                      {"role": "user", "content": "e"}, {"role": "assistant", "content": "f"},
                      {"role": "user", "content": "g"}, {"role": "assistant", "content": "h i"}]},
    ]
    write_jsonl(os.path.join(d, "eos.sft.jsonl"), sft)


# ---------------------------------------------------------------- reference jobs

def job_key(j):
    h = hashlib.sha256()
    for p in (os.path.join(ROOT, "tests", "reference", "ref.py"), os.path.join(ROOT, "fixtures", "gen-nn.py"),
              j["in"]):
        with open(p, "rb") as f:
            h.update(f.read())
    h.update(json.dumps(j, sort_keys=True).encode())
    return h.hexdigest()


def train64(ref, torch, j, recs):
    """ref.train in float64 (the same steps, AdamW and clipping)."""
    m = ref.Model(j["model"], j["init_adapter"])
    m.to_double()
    tr = ref.LoraTrainer(m, ref.adapter_names(j["init_adapter"]))
    opt = torch.optim.AdamW(tr.tensors(), lr=j.get("lr", 1e-3), betas=tuple(j.get("betas", (0.9, 0.999))),
                            eps=j.get("eps", 1e-8), weight_decay=j.get("weight_decay", 0.0), foreach=False)
    mgn = j.get("max_grad_norm", 0.0)
    for s in range(1, j["steps"] + 1):
        tr.backward_step(ref.step_records(recs, s, j.get("batch_size", 1), j.get("grad_accum", 1)))
        torch.nn.utils.clip_grad_norm_(tr.tensors(), mgn if mgn > 0 else math.inf)
        with torch.no_grad():
            opt.step()
    return {k: p.detach().clone() for k, p in tr.params}


def ref_jobs(jobs_path):
    with open(jobs_path) as f:
        jobs = json.load(f)
    todo = []
    for j in jobs:
        key = job_key(j)
        stamp = os.path.join(j["out"], ".key")
        try:
            with open(stamp) as f:
                if f.read() == key:
                    continue
        except OSError:
            pass
        todo.append((j, key))
    if not todo:
        return
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
    import ref  # noqa: E402  (torch: only when there is work)
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for j, key in todo:
        recs = ref.read_jsonl(j["in"])
        hist, final = ref.train(j["model"], j["init_adapter"], recs, j["steps"], lr=j.get("lr", 1e-3),
                                betas=tuple(j.get("betas", (0.9, 0.999))), eps=j.get("eps", 1e-8),
                                weight_decay=j.get("weight_decay", 0.0), batch_size=j.get("batch_size", 1),
                                grad_accum=j.get("grad_accum", 1), max_grad_norm=j.get("max_grad_norm", 0.0))
        ref.write_adapter(j["out"], j["init_adapter"], final)
        if j.get("f64"):
            # the same training in float64: how far float32 arithmetic (the
            # reference's own) drifts from the exact result after AdamW has
            # amplified rounding in the smallest gradients
            ref.write_adapter(os.path.join(j["out"], "f64"), j["init_adapter"], train64(ref, torch, j, recs))
        write_jsonl(os.path.join(j["out"], "log.jsonl"), hist)
        with open(os.path.join(j["out"], ".key"), "w") as f:
            f.write(key)
        print("ref.py train: %s (%d steps)" % (j["out"], j["steps"]), file=sys.stderr)


# ---------------------------------------------------------------- comparisons

def read_st(path):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        if v["dtype"] != "F32":
            raise ValueError("%s: %s is %s, not F32" % (path, k, v["dtype"]))
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(v["shape"])
    return out


def read_log(path):
    steps, evals = [], []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            (evals if "eval_loss" in r else steps).append(r)
    return steps, evals


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30) if math.isfinite(a) else math.inf


def cmp_adapters(ours, ref, tol):
    """(ok, message)"""
    import numpy as np
    try:
        a = read_st(ours)
    except (OSError, ValueError) as e:
        return False, "our adapter: %s" % e
    b = read_st(ref)
    if set(a) != set(b):
        miss, extra = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        return False, "tensor names differ: %d missing (%s), %d extra (%s)" % (
            len(miss), " ".join(miss[:2]), len(extra), " ".join(extra[:2]))
    worst, wname = 0.0, ""
    for k in sorted(b):
        if a[k].shape != b[k].shape:
            return False, "%s: shape %s, reference %s" % (k, list(a[k].shape), list(b[k].shape))
        if not np.all(np.isfinite(a[k])):
            return False, "%s: not finite" % k
        d = float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64))))
        r = d / max(float(np.max(np.abs(b[k]))), 1e-30)
        if r > worst:
            worst, wname = r, k
    msg = "%d tensors max rel. diff %.2g" % (len(b), worst)
    if worst > tol:
        return False, msg + " (> %g) in %s" % (tol, wname)
    return True, msg


def l2_cmp(ours, ref, tol):
    import numpy as np
    try:
        a = read_st(ours)
    except (OSError, ValueError) as e:
        return False, "our adapter: %s" % e
    b = read_st(ref)
    if set(a) != set(b):
        miss, extra = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        return False, "tensor names differ: %d missing (%s), %d extra (%s)" % (
            len(miss), " ".join(miss[:2]), len(extra), " ".join(extra[:2]))
    num = den = 0.0
    worst_l2, wl2, worst_mx = 0.0, "", 0.0
    for k in sorted(b):
        if a[k].shape != b[k].shape:
            return False, "%s: shape %s, reference %s" % (k, list(a[k].shape), list(b[k].shape))
        if not np.all(np.isfinite(a[k])):
            return False, "%s: not finite" % k
        d = a[k].astype(np.float64) - b[k].astype(np.float64)
        n2, r2 = float((d * d).sum()), float((b[k].astype(np.float64) ** 2).sum())
        num += n2
        den += r2
        l2 = math.sqrt(n2 / max(r2, 1e-300))
        if l2 > worst_l2:
            worst_l2, wl2 = l2, k
        worst_mx = max(worst_mx, float(np.abs(d).max()) / max(float(np.abs(b[k]).max()), 1e-30))
    tot = math.sqrt(num / max(den, 1e-300))
    msg = "%d tensors, rel. L2 %.2g (worst tensor %.2g), max rel. diff %.2g" % (len(b), tot, worst_l2, worst_mx)
    if tot > tol:
        return False, msg + " (> %g)" % tol
    if worst_l2 > 10 * tol:
        return False, msg + " (> %g in %s)" % (10 * tol, wl2)
    return True, msg


def cmp_steps(a, b, steps, rtol, what="loss", who="reference"):
    if len(a) != steps:
        return False, "%d step lines, want %d" % (len(a), steps), 0
    worst, at = 0.0, 0
    for x, y in zip(a, b):
        if x.get("step") != y.get("step"):
            return False, "step %s where %s has %s" % (x.get("step"), who, y.get("step")), 0
        if what not in x:
            return False, "step %s lacks %s" % (x.get("step"), what), 0
        r = rel(float(x[what]), float(y[what]))
        if r > worst:
            worst, at = r, x["step"]
    if worst > rtol:
        x, y = a[at - 1], b[at - 1]
        return False, "%s rel. diff %.2g (> %g) at step %d: ours %.9g, %s %.9g" % (
            what, worst, rtol, at, x[what], who, y[what]), worst
    return True, "", worst


def train_cmp(ours, refd, steps, lt=1e-5, gt=1e-4, at=1e-4):
    steps, lt, gt, at = int(steps), float(lt), float(gt), float(at)
    try:
        a, _ = read_log(os.path.join(ours, "log.jsonl"))
    except (OSError, ValueError) as e:
        return False, "our log: %s" % e
    b, _ = read_log(os.path.join(refd, "log.jsonl"))
    b = b[:steps]
    ok, msg, wl = cmp_steps(a, b, steps, lt, "loss")
    if not ok:
        return False, msg
    ok, msg, wg = cmp_steps(a, b, steps, gt, "grad_norm")
    if not ok:
        return False, msg
    head = "%d steps: loss max rel. diff %.2g, grad_norm %.2g; " % (steps, wl, wg)
    f64 = os.path.join(refd, "f64", "adapter_model.safetensors")
    if os.path.exists(f64):
        # AdamW divides each gradient by its own root mean square, so the
        # rounding of tiny gradients moves their parameters by up to lr per
        # step whatever their size: after 10 steps at lr 1e-2, float32 torch
        # is itself up to ~2e-3 (max |diff| / max |ref| of a tensor) away
        # from float64. So the adapter is compared with the float64 run in
        # L2, which outliers do not dominate: ||ours - ref|| / ||ref|| over
        # all tensors <= AT, and per tensor <= 10 AT (a wrong tensor is far
        # beyond); max |diff| / max |ref| is reported beside torch float32's.
        ok, msg = l2_cmp(os.path.join(ours, "adapter_model.safetensors"), f64, at)
        _, m32 = l2_cmp(os.path.join(refd, "adapter_model.safetensors"), f64, math.inf)
        return ok, head + "adapter vs float64 reference: " + msg + "; torch float32: " + m32
    ok, msg = cmp_adapters(os.path.join(ours, "adapter_model.safetensors"),
                           os.path.join(refd, "adapter_model.safetensors"), at)
    return ok, head + msg


def same_cmp(x, y, steps, lt=1e-5, at=1e-5):
    steps, lt, at = int(steps), float(lt), float(at)
    try:
        a, _ = read_log(os.path.join(x, "log.jsonl"))
        b, _ = read_log(os.path.join(y, "log.jsonl"))
    except (OSError, ValueError) as e:
        return False, "log: %s" % e
    if len(b) != steps:
        return False, "the second run has %d step lines, want %d" % (len(b), steps)
    ok, msg, wl = cmp_steps(a, b, steps, lt, "loss", who="the other")
    if not ok:
        return False, msg
    if at < 0:
        return True, "%d steps: loss max rel. diff %.2g" % (steps, wl)
    ok, msg = cmp_adapters(os.path.join(x, "adapter_model.safetensors"),
                           os.path.join(y, "adapter_model.safetensors"), at)
    return ok, "%d steps: loss max rel. diff %.2g; %s" % (steps, wl, msg)


def ident(x, y):
    def lines(d):
        out = []
        with open(os.path.join(d, "log.jsonl"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    r.pop("tokens_per_s", None)
                    out.append(json.dumps(r, sort_keys=True))
        return out
    try:
        a, b = lines(x), lines(y)
    except (OSError, ValueError) as e:
        return False, "log: %s" % e
    if a != b:
        for i in range(max(len(a), len(b))):
            u = a[i] if i < len(a) else "(none)"
            v = b[i] if i < len(b) else "(none)"
            if u != v:
                return False, "log.jsonl line %d: uninterrupted %s, resumed %s (%d vs %d lines)" % (
                    i + 1, u, v, len(a), len(b))
    try:
        with open(os.path.join(x, "adapter_model.safetensors"), "rb") as f:
            p = f.read()
        with open(os.path.join(y, "adapter_model.safetensors"), "rb") as f:
            q = f.read()
    except OSError as e:
        return False, "adapter: %s" % e
    if p != q:
        msg = "adapter_model.safetensors differs (%d vs %d bytes)" % (len(p), len(q))
        try:
            ok, m = cmp_adapters(os.path.join(y, "adapter_model.safetensors"),
                                 os.path.join(x, "adapter_model.safetensors"), 0.0)
            msg += ": " + m
        except Exception:  # noqa: BLE001
            pass
        return False, msg
    return True, "%d log lines identical but for tokens_per_s, adapter byte-identical (%d bytes)" % (len(a), len(p))


def eos(sft_path, ids_path):
    with open(sft_path, encoding="utf-8") as f:
        sft = [json.loads(x) for x in f if x.strip()]
    with open(ids_path, encoding="utf-8") as f:
        ids = [json.loads(x) for x in f if x.strip()]
    if len(sft) != len(ids):
        return False, "%d SFT examples, %d ids records" % (len(sft), len(ids))
    n_turns = 0
    for k, (s, r) in enumerate(zip(sft, ids), 1):
        msgs = s.get("messages") or [{"role": "user"}, {"role": "assistant"}]
        roles = [m["role"] for m in msgs]
        t, m = r.get("ids"), r.get("mask")
        if t is None or m is None or len(t) != len(m):
            return False, "record %d: no ids/mask of equal length" % k
        ends = [i for i, x in enumerate(t) if x == IM_END]
        if len(ends) != len(roles):
            return False, "record %d: %d <|im_end|> for %d messages" % (k, len(ends), len(roles))
        for i, role in zip(ends, roles):
            want = 1 if role == "assistant" else 0
            if m[i] != want:
                return False, "record %d: the <|im_end|> closing a %s turn (position %d) has mask %d" % (
                    k, role, i, m[i])
            n_turns += role == "assistant"
        # every trained stretch ends with the <|im_end|> of its turn (or the
        # newline after it), and no <|im_start|> is trained
        for i in range(1, len(t)):
            if m[i] and t[i] == IM_START:
                return False, "record %d: <|im_start|> at %d trained" % (k, i)
    return True, "%d assistant turns, each <|im_end|> trained; system/user ones not" % n_turns


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "inputs":
        inputs(*args)
        return
    if cmd == "ref":
        ref_jobs(*args)
        return
    fn = {"train": train_cmp, "same": same_cmp, "ident": ident, "eos": eos}[cmd]
    try:
        ok, msg = fn(*args)
    except Exception as e:  # noqa: BLE001
        ok, msg = False, "%s: %s" % (type(e).__name__, e)
    print(msg)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
