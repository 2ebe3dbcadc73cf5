#!/usr/bin/python3
"""LoRA dropout's gradient against central finite differences of the loss.

    nn-dropout-fd.py NN_GRADS MODEL ADAPTER DATA P

The dropout masks of nn-grads depend only on the seed and the call count,
so every run of nn-grads sees the same masks and the loss is a
deterministic function of the adapter. For the largest gradient entry of
four random tensors, the adapter entry is moved one step up and down (two
representable steps for BF16, a relative 1e-2 for F32) and (L+ - L-) /
(x+ - x-) is compared with nn-grads' gradient. Prints one line per entry and
exits 1 when one differs by more than 5% of the larger magnitude (the
difference quotient of a float32 loss, not the gradient, limits this)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])


def main():
    tool, model, adapter, data, p = sys.argv[1:6]
    tmp = tempfile.mkdtemp()
    try:
        def loss(adir, out):
            r = subprocess.run([tool, "--model", model, "--adapter", adir, data, "--out", out,
                                "--dropout", p], capture_output=True, text=True, check=True)
            return json.loads(r.stdout)["loss"]

        loss(adapter, tmp + "/g.st")
        graw, gn, gh = read(tmp + "/g.st")
        araw, an, ah = read(adapter + "/adapter_model.safetensors")
        names = sorted(k for k in ah if k != "__metadata__")
        bad = 0
        for name in np.random.default_rng(0).choice(names, 4, replace=False):
            gb, ge = gh[name]["data_offsets"]
            g = np.frombuffer(graw[8 + gn + gb:8 + gn + ge], "<f4")
            i = int(np.argmax(np.abs(g)))
            v = ah[name]
            b, e = v["data_offsets"]
            pts = []
            for sgn in (1, -1):
                d = tmp + "/a"
                shutil.rmtree(d, ignore_errors=True)
                shutil.copytree(adapter, d)
                raw = bytearray(araw)
                if v["dtype"] == "F32":
                    a = np.frombuffer(bytes(raw[8 + an + b:8 + an + e]), "<f4").copy()
                    a[i] += sgn * 1e-2 * max(abs(float(a[i])), 1e-2)
                    x = float(a[i])
                    raw[8 + an + b:8 + an + e] = a.tobytes()
                else:
                    u = np.frombuffer(bytes(raw[8 + an + b:8 + an + e]), "<u2").copy()
                    f = float((np.array([u[i]], np.uint32) << 16).view(np.float32)[0])
                    up = (sgn > 0) == (f >= 0)  # sign-magnitude: +2 moves away from zero
                    u[i] = u[i] + 2 if up else u[i] - 2
                    x = float((np.array([u[i]], np.uint32) << 16).view(np.float32)[0])
                    raw[8 + an + b:8 + an + e] = u.tobytes()
                open(d + "/adapter_model.safetensors", "wb").write(raw)
                pts.append((x, loss(d, tmp + "/x.st")))
            fd = (pts[0][1] - pts[1][1]) / (pts[0][0] - pts[1][0])
            rel = abs(fd - float(g[i])) / max(abs(fd), abs(float(g[i])))
            bad += rel > 0.05
            print(f"{name}[{i}]: gradient {float(g[i]):.6g}, finite difference {fd:.6g} (rel. {rel:.1e})")
        sys.exit(1 if bad else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
