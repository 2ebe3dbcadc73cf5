#!/usr/bin/env python3
"""Comparisons for tests/conformance/nn-ref.sh (numpy only, no torch, so
that each call is quick). Prints one line for the TAP description; exit
status 0 when within tolerance, 1 when not.

    nn_compare.py logits OURS.f32 REF.f32 T VOCAB [TOL]    max |diff| <= TOL (1e-4)
    nn_compare.py score OURS.jsonl REF.jsonl [RTOL]         per-record loss, rel. diff <= RTOL (1e-5), n_scored equal
    nn_compare.py gen OURS.jsonl REF.json                   generated_ids equal
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


def main():
    op, args = sys.argv[1], sys.argv[2:]
    try:
        if op == "logits":
            ok, msg = logits(*args[:4], **({"tol": float(args[4])} if len(args) > 4 else {}))
        elif op == "score":
            ok, msg = score(*args[:2], **({"rtol": float(args[2])} if len(args) > 2 else {}))
        elif op == "gen":
            ok, msg = gen(*args[:2])
        else:
            sys.exit("nn_compare.py: unknown operation %s" % op)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        ok, msg = False, "cannot compare: %s: %s" % (type(e).__name__, e)
    print(msg)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
