#!/usr/bin/env python3
"""Comparisons for tests/conformance/nn-ref.sh (numpy only, no torch, so
that each call is quick). Prints one line for the TAP description; exit
status 0 when within tolerance, 1 when not.

    nn_compare.py logits OURS.f32 REF.f32 T VOCAB [TOL]    max |diff| <= TOL (1e-4)
    nn_compare.py score OURS.jsonl REF.jsonl [RTOL]         per-record loss, rel. diff <= RTOL (1e-5), n_scored equal
    nn_compare.py gen OURS.jsonl REF.json                   generated_ids equal
    nn_compare.py grads OURS.json OURS.safetensors REF.json REF.safetensors [RTOL [GTOL]]
        (for tests/conformance/nn-train.sh) loss rel. diff <= RTOL (1e-5),
        n_tokens equal; the same tensor names and shapes; per tensor
        max |g - g_ref| / max |g_ref| <= GTOL (1e-4)
"""
import json
import math
import os
import sys


def logits(ours, ref, T, V, tol=1e-4):
    import numpy as np
    T, V = int(T), int(V)
    want = T * V * 4
    if os.path.getsize(ours) != want:
        return False, "ours is %d bytes, want %d (%dx%d float32)" % (os.path.getsize(ours), want, T, V)
    a = np.fromfile(ours, dtype="<f4").reshape(T, V)
    b = np.fromfile(ref, dtype="<f4").reshape(T, V)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        return False, "non-finite logit at position %d, token %d" % (bad[0], bad[1])
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    m = float(d[i, j])
    msg = "max |diff| %.2g over %dx%d" % (m, T, V)
    if m > tol:
        msg += " (> %g) at position %d, token %d: ours %.6g, reference %.6g" % (tol, i, j, a[i, j], b[i, j])
        rows = np.nonzero(d.max(axis=1) > tol)[0]
        msg += "; %d positions off, first %d" % (len(rows), rows[0])
    return m <= tol, msg


def read_jsonl(p):
    with open(p, encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def score(ours, ref, rtol=1e-5):
    a, b = read_jsonl(ours), read_jsonl(ref)
    if len(a) != len(b):
        return False, "%d records, reference %d" % (len(a), len(b))
    worst, msgs = 0.0, []
    for k, (x, y) in enumerate(zip(a, b)):
        if "loss" not in x or "n_scored" not in x:
            return False, "record %d lacks loss or n_scored: %s" % (k + 1, json.dumps(x)[:200])
        if x["n_scored"] != y["n_scored"]:
            msgs.append("record %d: n_scored %s, reference %s" % (k + 1, x["n_scored"], y["n_scored"]))
        lx, ly = float(x["loss"]), float(y["loss"])
        r = abs(lx - ly) / max(abs(ly), 1e-30) if math.isfinite(lx) else math.inf
        worst = max(worst, r)
        if r > rtol:
            msgs.append("record %d: loss %.8g, reference %.8g" % (k + 1, lx, ly))
    msg = "loss max rel. diff %.2g over %d records" % (worst, len(a))
    if msgs:
        msg += " (> %g): %s" % (rtol, "; ".join(msgs))
    return not msgs, msg


def gen(ours, ref):
    a = read_jsonl(ours)
    with open(ref) as f:
        b = json.load(f)
    if len(a) != 1 or "generated_ids" not in a[0]:
        return False, "want one record with generated_ids, got: %s" % json.dumps(a)[:200]
    x, y = a[0]["generated_ids"], b["generated_ids"]
    if x == y:
        m = min(t[0][1] - t[1][1] for t in b["top5"])
        return True, "%d tokens equal (smallest top-2 logit margin %.3g)" % (len(y), m)
    k = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
    msg = "ours %s, reference %s; first difference at step %d" % (x, y, k)
    if k < len(b["top5"]) and k < len(x):
        top = b["top5"][k]
        mine = [v for t, v in top if t == x[k]]
        if mine:
            msg += ": reference logit margin of its token over ours %.3g" % (top[0][1] - mine[0])
        else:
            msg += ": our token is not in the reference's top 5 (top-2 margin %.3g)" % (top[0][1] - top[1][1])
    return False, msg


def read_safetensors(path):
    """{name: float64 array} (F32, BF16 or F16)."""
    import numpy as np
    import struct
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        else:
            raise ValueError("%s: tensor %s has dtype %s" % (path, name, dt))
        if a.size != int(np.prod(info["shape"], dtype=np.int64)):
            raise ValueError("%s: tensor %s: %d values for shape %s" % (path, name, a.size, info["shape"]))
        out[name] = a.astype(np.float64).reshape(info["shape"])
    return out


def grads(ours_json, ours, ref_json, ref, rtol=1e-5, gtol=1e-4):
    import numpy as np
    with open(ours_json) as f:
        lines = [x for x in f if x.strip()]
    if len(lines) != 1:
        return False, "stdout: want one JSON line, got %d" % len(lines)
    x = json.loads(lines[0])
    with open(ref_json) as f:
        y = json.load(f)
    if "loss" not in x or "n_tokens" not in x:
        return False, "stdout lacks loss or n_tokens: %s" % lines[0].strip()[:200]
    msgs = []
    lx, ly = float(x["loss"]), float(y["loss"])
    lr = abs(lx - ly) / max(abs(ly), 1e-30) if math.isfinite(lx) else math.inf
    if lr > rtol:
        msgs.append("loss %.8g, reference %.8g" % (lx, ly))
    if x["n_tokens"] != y["n_tokens"]:
        msgs.append("n_tokens %s, reference %s" % (x["n_tokens"], y["n_tokens"]))
    a, b = read_safetensors(ours), read_safetensors(ref)
    missing = sorted(set(b) - set(a))
    extra = sorted(set(a) - set(b))
    if missing:
        msgs.append("%d gradients missing (%s%s)" % (len(missing), missing[0], ", ..." if len(missing) > 1 else ""))
    if extra:
        msgs.append("%d gradients not in the adapter (%s%s)" % (len(extra), extra[0], ", ..." if len(extra) > 1 else ""))
    worst, wname, bad = -1.0, "", 0
    for k in sorted(set(a) & set(b)):
        if a[k].shape != b[k].shape:
            msgs.append("%s: shape %s, reference %s" % (k, list(a[k].shape), list(b[k].shape)))
            continue
        if not np.all(np.isfinite(a[k])):
            msgs.append("%s: non-finite values" % k)
            continue
        r = float(np.abs(a[k] - b[k]).max() / max(float(np.abs(b[k]).max()), 1e-30))
        bad += r > gtol
        if r > worst:
            worst, wname = r, k
    if bad:
        msgs.append("%d tensors over %g" % (bad, gtol))
    short = wname[len("base_model.model."):] if wname.startswith("base_model.model.") else wname
    msg = "loss %.6f (rel. diff %.1e), %d targets; %d gradients, worst %s max |diff| / max |ref| %.2g" % (
        ly, lr, y["n_tokens"], len(b), short, worst)
    if msgs:
        msg += " (> %g / %g): %s" % (rtol, gtol, "; ".join(msgs))
    return not msgs, msg


def main():
    op, args = sys.argv[1], sys.argv[2:]
    try:
        if op == "logits":
            ok, msg = logits(*args[:4], **({"tol": float(args[4])} if len(args) > 4 else {}))
        elif op == "score":
            ok, msg = score(*args[:2], **({"rtol": float(args[2])} if len(args) > 2 else {}))
        elif op == "gen":
            ok, msg = gen(*args[:2])
        elif op == "grads":
            ok, msg = grads(*args[:4], *[float(v) for v in args[4:6]])
        else:
            sys.exit("nn_compare.py: unknown operation %s" % op)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        ok, msg = False, "cannot compare: %s: %s" % (type(e).__name__, e)
    print(msg)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
