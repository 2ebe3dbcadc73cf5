#!/usr/bin/python3
"""Checks video-frames records against the facts of the synthetic videos.

usage: /usr/bin/python3 tests/media/vfcheck.py MANIFEST.json RECORDS.jsonl [OPTION]...

MANIFEST.json is what fixtures/gen-videos.sh writes; each record's video is
looked up by its file name (or, for a renamed copy, by its bytes). Options say how the records were made:
  --even N          -n N (the default mode, N 8)
  --fps R           --fps R         --max-frames M   (default 64)
  --scene           --scene (the frames taken must be the fixture's cuts)
  --max-side PX     --max-side PX
  --ext jpg|png     the images' extension (default jpg)
  --bg RRGGBB       --background (checked on the transparent fixtures)
  --out-dir DIR     the frames must be DIR/ID/K.EXT
  --levels          also check full-range levels (below)

For every record: id, display width/height, fps and duration against the
fixture; then every frame image is read back (tests/media/frameinfo.py): its
frame number must be the one the sampling rule of lib/media/frames.h takes
(within one frame for -n and --fps, exactly for --scene), t must be that
frame's presentation time (within 2 ms), frame numbers must not go back,
the picture must be upright with square pixels, even sides, the display
size scaled down to --max-side (never up), the background the fixture's
colour (or --bg where it is transparent) within 24 levels, and with
--levels full-range levels on frames of 120 pixels and more (black cells
at most 10, white at least 245, the red square R >= 240, G and B <= 20,
the grey halves within 8 of 303030 and d0d0d0).

Prints one line per problem ("ID: what") and exits 1 when there is any;
prints "N records, M frames checked" and exits 0 otherwise.
"""
import json
import math
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frameinfo  # noqa: E402


def first_at_or_after(pts, target):
    for j, p in enumerate(pts):
        if p >= target - 1e-6:
            return j
    return len(pts) - 1


def expected(fx, opt):
    """The frame numbers the rule takes, or None when not checkable."""
    pts = fx["pts"]
    fps, dur = fx["fps"], fx["duration"]
    if opt["mode"] == "even":
        n = opt["n"]
        F = int(math.floor(dur * fps + 0.5))
        idx = [0] * n if n == 1 else [(k * (F - 1)) // (n - 1) for k in range(n)]
        return [first_at_or_after(pts, i / fps) for i in idx]
    if opt["mode"] == "fps":
        out = []
        k = 0
        while k / opt["fps"] < dur - 1e-9 and len(out) < opt["max_frames"]:
            out.append(first_at_or_after(pts, k / opt["fps"]))
            k += 1
        return out
    cuts = fx.get("scene_cuts")
    return cuts[: opt["max_frames"]] if cuts else [0]


def same_bytes(path, manifest, fixtures):
    """The fixture a renamed copy was made from (same bytes), or None."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    for name in manifest:
        p = os.path.join(fixtures, name)
        if os.path.getsize(p) == len(data):
            with open(p, "rb") as f:
                if f.read() == data:
                    return name
    return None


def near(a, b, tol):
    return abs(a - b) <= tol


def check(manifest, records, opt, tmp):
    errs = []
    nframes = 0
    # every image decoded by one ffmpeg run
    allpaths = [fr.get("path", "") for rec in records for fr in (rec.get("frames") or [])]
    decoded = frameinfo.decode_all(sorted(set(p for p in allpaths if os.path.isfile(p))), tmp)
    for rec in records:
        name = os.path.basename(rec.get("video", ""))
        rid = rec.get("id", "?")
        if name not in manifest:
            name = same_bytes(rec.get("video", ""), manifest, opt["fixtures"]) or name
        fx = manifest.get(name)
        if fx is None or fx.get("bad"):
            errs.append("%s: %s is not a good fixture" % (rid, name))
            continue
        e = lambda msg: errs.append("%s (%s): %s" % (rid, name, msg))  # noqa: E731
        W, H, fps = fx["width"], fx["height"], fx["fps"]
        if (rec.get("width"), rec.get("height")) != (W, H):
            e("display size %sx%s, want %dx%d" % (rec.get("width"), rec.get("height"), W, H))
        if not isinstance(rec.get("fps"), (int, float)) or not near(rec["fps"], fps, 0.01 * fps):
            e("fps %s, want %s" % (rec.get("fps"), fps))
        if not fx.get("partial"):
            if not isinstance(rec.get("duration_s"), (int, float)) or not near(rec["duration_s"], fx["duration"],
                                                                                 1.0 / fps + 1e-6):
                e("duration_s %s, want %s (within one frame)" % (rec.get("duration_s"), fx["duration"]))
        frames = rec.get("frames") or []
        want = None if fx.get("partial") else expected(fx, opt)
        if want is not None and len(frames) != len(want):
            e("%d frames, want %d" % (len(frames), len(want)))
        for k, fr in enumerate(frames):
            if fr.get("i") != k:
                e("frames[%d].i is %s" % (k, fr.get("i")))
            p = fr.get("path", "")
            if opt["out_dir"] is not None and p != os.path.join(opt["out_dir"], str(rid), "%d.%s" % (k, opt["ext"])):
                e("frames[%d].path %s, want %s" % (k, p, os.path.join(opt["out_dir"], str(rid),
                                                                       "%d.%s" % (k, opt["ext"]))))
            if not p.endswith("." + opt["ext"]):
                e("frames[%d].path %s is not .%s" % (k, p, opt["ext"]))
        paths = [fr.get("path", "") for fr in frames]
        last = -1
        levels_off = 0
        for k, p in enumerate(paths):
            nframes += 1
            if p not in decoded:
                e("frame %d: no file %s" % (k, p))
                continue
            if isinstance(decoded[p], frameinfo.Unreadable):
                e("frame %d (%s): %s" % (k, p, decoded[p]))
                continue
            img = frameinfo.read_ppm(decoded[p])
            try:
                info = dict(kv.split("=", 1) for kv in frameinfo.analyse(img, []).split())
            except frameinfo.Unreadable as ex:
                e("frame %d (%s): unreadable picture: %s" % (k, p, ex))
                continue
            got = int(info["frame"])
            t = frames[k].get("t")
            if got >= len(fx["pts"]):
                e("frame %d shows frame %d, past the last" % (k, got))
                continue
            if not isinstance(t, (int, float)) or not near(t, fx["pts"][got], fx.get("t_tolerance", 0.002)):
                e("frame %d: t %s but the picture is frame %d shown at %s (within %s)" % (k, t, got, fx["pts"][got], fx.get("t_tolerance", 0.002)))
            if got < last:
                e("frame %d: frame number %d after %d" % (k, got, last))
            last = got
            if fx.get("partial") and got >= fx["frames_present"]:
                e("frame %d shows frame %d, not in the file" % (k, got))
            if want is not None and k < len(want):
                tol = 0 if opt["mode"] == "scene" else 1
                if abs(got - want[k]) > tol:
                    e("frame %d is frame %d, want %d%s" % (k, got, want[k], " (within one)" if tol else ""))
            if info["orient"] != "upright":
                e("frame %d is not upright: %s" % (k, info["orient"]))
            w, h = int(info["w"]), int(info["h"])
            if w % 2 or h % 2:
                e("frame %d is %dx%d: odd" % (k, w, h))
            scale = 1.0
            if opt["max_side"]:
                scale = min(1.0, opt["max_side"] / float(max(W, H)))
                if max(w, h) > opt["max_side"]:
                    e("frame %d is %dx%d, over --max-side %d" % (k, w, h, opt["max_side"]))
            # rounded to an even number: less than 2 away
            if abs(w - W * scale) >= 2.0 or abs(h - H * scale) >= 2.0:
                e("frame %d is %dx%d, want about %.1fx%.1f" % (k, w, h, W * scale, H * scale))
            a = float(info["aspect"])
            if min(w, h) >= 60 and not 0.85 <= a <= 1.18:
                e("frame %d: squares have width/height %.2f (pixels not square)" % (k, a))
            # full-range levels: black cells black, white cells white, the red square red
            lv_black = info["black"] != "-" and int(info["black"]) > 10
            lv_white = info["white"] != "-" and int(info["white"]) < 245
            red = [int(info["red"][i:i + 2], 16) for i in (0, 2, 4)]
            greys = [int(g[i:i + 2], 16) for g in info["greys"].split(",") for i in (0, 2, 4)]
            lv_grey = max(abs(v - 0x30) for v in greys[:3]) > 8 or max(abs(v - 0xd0) for v in greys[3:]) > 8
            if opt["levels"] and min(w, h) >= 120 and (lv_black or lv_white or lv_grey or red[0] < 240 or
                                                       red[1] > 20 or red[2] > 20):
                if not levels_off:
                    e("frame %d: levels off: black cells %s, white cells %s (want about 0 and 255), red square %s "
                      "(want ff0000), greys %s (want 303030,d0d0d0)"
                      % (k, info["black"], info["white"], info["red"], info["greys"]))
                levels_off += 1
            want_bg = opt["bg"] if fx.get("alpha") else fx.get("bg")
            if want_bg:
                got_bg = [int(info["bg"][i:i + 2], 16) for i in (0, 2, 4)]
                ref = [int(want_bg[i:i + 2], 16) for i in (0, 2, 4)]
                if max(abs(x - y) for x, y in zip(got_bg, ref)) > 24:
                    e("frame %d: background %s, want %s" % (k, info["bg"], want_bg))
        if levels_off > 1:
            e("levels off in %d of %d frames" % (levels_off, len(paths)))
    return errs, nframes


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    opt = {"mode": "even", "n": 8, "fps": None, "max_frames": 64, "max_side": 0, "ext": "jpg", "bg": "000000",
           "out_dir": None, "levels": False}
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == "--scene":
            opt["mode"] = "scene"
            i += 1
            continue
        if a == "--levels":
            opt["levels"] = True
            i += 1
            continue
        v = argv[i + 1]
        if a == "--even":
            opt["mode"], opt["n"] = "even", int(v)
        elif a == "--fps":
            opt["mode"], opt["fps"] = "fps", float(v)
        elif a == "--max-frames":
            opt["max_frames"] = int(v)
        elif a == "--max-side":
            opt["max_side"] = int(v)
        elif a == "--ext":
            opt["ext"] = v
        elif a == "--bg":
            opt["bg"] = v.lower()
        elif a == "--out-dir":
            opt["out_dir"] = v
        else:
            sys.stderr.write("vfcheck: unknown option %s\n" % a)
            return 2
        i += 2
    manifest = json.load(open(argv[0]))
    opt["fixtures"] = os.path.dirname(os.path.abspath(argv[0]))
    records = [json.loads(l) for l in open(argv[1], encoding="utf-8") if l.strip()]
    if not records:
        print("no records")
        return 1
    with tempfile.TemporaryDirectory(prefix="vfcheck.") as tmp:
        errs, n = check(manifest, records, opt, tmp)
    for x in errs:
        print(x)
    if errs:
        return 1
    print("%d records, %d frames checked" % (len(records), n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
