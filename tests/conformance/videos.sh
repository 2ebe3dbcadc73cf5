#!/usr/bin/env bash
# Conformance: video-frames on real videos against FFmpeg's own tools.
#
#   tests/conformance/videos.sh BUILD_DIR
#
# Reads ../shared/external/videos/ (relative to the repository root;
# third-party files, never copied into the repository): chaplin.mp4 (H.264 +
# MP3), bigbuckbunny.mp4 (H.264 + AAC), testvideo-43.avi (MPEG-4 part 2) and
# big_buck_bunny_432_433.webm (VP8 + Vorbis, no stream duration). For each,
# with BUILD_DIR/bin/video-frames -n 8:
#   1  the record is valid (schemas/video-sample.schema.json, when
#      python3-jsonschema is there) and its duration, display size and fps
#      are what ffprobe says (duration within one frame, fps within 1%)
#   2  8 frames, each file decodable with even sides no larger than the
#      video; t never goes back and stays within the duration; i = 0..7
#   3  frame k is the picture FFmpeg itself shows at t_k: `ffmpeg -ss t_k -i V
#      -frames:v 1` (accurate seek), scaled to the same size, differs by a
#      mean absolute difference of at most 4 (of 255) per channel, and is
#      nearer to it than to the frames FFmpeg shows one frame before and
#      after (where those differ)
# Prints TAP; every test is skipped, saying why, without ../shared or ffmpeg.
set -u
build=${1:?usage: tests/conformance/videos.sh BUILD_DIR}
cd "$(dirname "$0")/../.." || exit 1
ext=../shared/external/videos
py=/usr/bin/python3
videos="chaplin.mp4 bigbuckbunny.mp4 testvideo-43.avi big_buck_bunny_432_433.webm"
n=0
for _ in $videos; do n=$((n + 3)); done
echo "1..$n"

skip_all() {
    local i
    for i in $(seq 1 $n); do echo "ok $i # skip $1"; done
    exit 0
}
[ -d "$ext" ] || skip_all "$ext not found (third-party videos, not in the repository)"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || skip_all "ffmpeg/ffprobe not installed"
"$py" -c 'import numpy' 2>/dev/null || skip_all "python3-numpy not installed"
vf=$build/bin/video-frames
if [ ! -x "$vf" ]; then
    for i in $(seq 1 $n); do echo "not ok $i - $vf not found"; done
    exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
t=0
for v in $videos; do
    path=$ext/$v
    id=${v%.*}
    if [ ! -f "$path" ]; then
        for _ in 1 2 3; do t=$((t + 1)); echo "ok $t # skip $path not found"; done
        continue
    fi
    st=0
    "$vf" -n 8 --out-dir "$tmp/out" "$path" > "$tmp/$id.jsonl" 2> "$tmp/$id.err" || st=$?
    "$py" - "$path" "$tmp/$id.jsonl" "$tmp/$id.err" "$st" "$t" "$tmp" <<'EOF'
import json, os, subprocess, sys
from fractions import Fraction
import numpy as np

path, recfile, errfile, st, t0, tmp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
name = os.path.basename(path)


def tap(k, ok, what, notes=()):
    print("%s %d - %s: %s" % ("ok" if ok else "not ok", t0 + k, name, what))
    for n in notes:
        print("# " + n)


def rgb(args, w=None, h=None):
    """Decodes one picture with ffmpeg to an RGB array (scaled to w x h)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"] + args + ["-frames:v", "1"]
    if w:
        cmd += ["-vf", "scale=%d:%d:flags=bicubic" % (w, h)]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = subprocess.run(cmd, capture_output=True).stdout
    return out


def probe_size(img):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", img], capture_output=True, text=True).stdout.strip()
    w, h = out.split(",")[:2]
    return int(w), int(h)


# what ffprobe says
pj = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-show_format",
                                "-of", "json", path], capture_output=True, text=True).stdout)
s, fmt = pj["streams"][0], pj["format"]
sar = Fraction(s.get("sample_aspect_ratio", "1:1").replace(":", "/")) if s.get("sample_aspect_ratio", "0:1") not in ("0:1", "N/A") else Fraction(1)
W = int(round(s["width"] * sar)) if sar >= 1 else s["width"]
H = s["height"] if sar >= 1 else int(round(s["height"] / sar))
rot = 0
for sd in s.get("side_data_list", []):
    if "rotation" in sd:
        rot = int(sd["rotation"]) % 360
if rot in (90, 270):
    W, H = H, W
fps = float(Fraction(s["avg_frame_rate"])) if s.get("avg_frame_rate", "0/0") != "0/0" else float(Fraction(s["r_frame_rate"]))
dur = float(s["duration"]) if s.get("duration") not in (None, "N/A") else float(fmt["duration"])

notes = []
errtext = open(errfile).read().strip()
recs = [json.loads(l) for l in open(recfile) if l.strip()]
ok1 = st == 0 and len(recs) == 1
if not ok1:
    notes.append("exit %d, %d records; stderr: %s" % (st, len(recs), errtext[:300]))
r = recs[0] if recs else {}
try:
    from jsonschema import Draft202012Validator
    schema = json.load(open("schemas/video-sample.schema.json"))
    errs = [e.message for e in Draft202012Validator(schema).iter_errors(r)]
    if errs:
        ok1 = False
        notes += ["schema: " + e for e in errs[:3]]
except ImportError:
    notes.append("python3-jsonschema not installed: schema not checked")
if (r.get("width"), r.get("height")) != (W, H):
    ok1 = False
    notes.append("display size %sx%s, ffprobe %dx%d" % (r.get("width"), r.get("height"), W, H))
if not isinstance(r.get("fps"), (int, float)) or abs(r["fps"] - fps) > 0.01 * fps:
    ok1 = False
    notes.append("fps %s, ffprobe %s" % (r.get("fps"), fps))
if not isinstance(r.get("duration_s"), (int, float)) or abs(r["duration_s"] - dur) > 1.0 / fps + 1e-6:
    ok1 = False
    notes.append("duration_s %s, ffprobe %s" % (r.get("duration_s"), dur))
tap(1, ok1, "record valid; duration %.3f s, %dx%d, %.3f fps as ffprobe says" % (dur, W, H, fps), notes)

frames = r.get("frames") or []
notes = []
ok2 = len(frames) == 8 and [f.get("i") for f in frames] == list(range(8))
if not ok2:
    notes.append("%d frames, i = %s" % (len(frames), [f.get("i") for f in frames]))
ts = [f.get("t") for f in frames]
if any(not isinstance(x, (int, float)) for x in ts) or any(b < a for a, b in zip(ts, ts[1:])) or \
        any(x < 0 or x > dur for x in ts):
    ok2 = False
    notes.append("t = %s (duration %s)" % (ts, dur))
sizes = []
for f in frames:
    p = f.get("path", "")
    try:
        w, h = probe_size(p)
        data = rgb(["-i", p])
        if len(data) != w * h * 3:
            raise ValueError("cannot decode")
        sizes.append((w, h))
        if w % 2 or h % 2 or w > W + 1 or h > H + 1:
            ok2 = False
            notes.append("%s is %dx%d" % (p, w, h))
    except Exception as e:  # noqa: BLE001
        ok2 = False
        sizes.append(None)
        notes.append("%s: %s" % (p, e))
tap(2, ok2, "8 frames written and decodable, t = %s" % ts, notes)

notes = []
ok3 = len(frames) == 8 and all(sizes)
worst = 0.0
for k, f in enumerate(frames):
    if not (len(frames) == 8 and all(sizes)):
        break
    w, h = sizes[k]
    ours = np.frombuffer(rgb(["-i", f["path"]]), np.uint8).astype(np.float64)

    def at(t):
        d = rgb(["-ss", "%.6f" % max(t, 0.0), "-i", path], w, h)
        return np.frombuffer(d, np.uint8).astype(np.float64) if len(d) == w * h * 3 else None

    t = f["t"]
    ref = at(t - 0.0005)
    if ref is None:
        ok3 = False
        notes.append("ffmpeg decodes nothing at %s" % t)
        break
    mad = float(np.abs(ours - ref).mean())
    worst = max(worst, mad)
    if mad > 4.0:
        ok3 = False
        notes.append("frame %d (t %s): mean abs difference %.2f from ffmpeg's frame" % (k, t, mad))
        continue
    for nb in (t - 1.0 / fps, t + 1.0 / fps):
        if nb < 0 or nb >= dur:
            continue
        other = at(nb - 0.0005)
        if other is None:
            continue
        if float(np.abs(other - ref).mean()) > 2.0 and float(np.abs(ours - other).mean()) <= mad:
            ok3 = False
            notes.append("frame %d (t %s) is as near to ffmpeg's frame at %.3f" % (k, t, nb))
tap(3, ok3, "each frame is ffmpeg's frame at t (worst mean abs difference %.2f)" % worst, notes)
EOF
    t=$((t + 3))
done
