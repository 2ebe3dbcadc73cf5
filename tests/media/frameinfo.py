#!/usr/bin/python3
"""Reads back the test pattern of fixtures/gen-videos.sh from frame images.

usage: /usr/bin/python3 tests/media/frameinfo.py [--at FX,FY]... IMAGE...

Every frame of the synthetic videos shows, in display space (what a player
shows):
  - a red square in the top-left corner, a green one top-right and a blue
    one bottom-left, each of side S = 4*floor(min(W,H)/20) pixels; in the
    bottom-right corner a square of side S, its left half grey 303030 and
    its right half grey d0d0d0 (no marker colour);
  - in the middle a square grid of 4x4 cells, side 3*S, each cell black (0)
    or white (1): cell r*4+c (row r, column c, from the top-left) holds bit
    r*4+c of V = N + 4096*((popcount(N) + 5) % 16), N the frame number
    (0..4095) and the top four bits a check;
  - background elsewhere (grey 808080 unless the fixture says otherwise;
    transparent in the alpha fixtures).

For each IMAGE this prints one line
  IMAGE frame=N orient=O w=W h=H aspect=A bg=RRGGBB corners=TL,TR,BL,BR black=L white=L red=RRGGBB
        greys=RRGGBB,RRGGBB [at=RRGGBB...]
where O is how the image is turned relative to the pattern (upright, cw90,
180, cw270, hflip, vflip, transpose, transverse: what was applied to the
upright picture to give this one), W and H the image's size, A the width /
height of the red square (1.00 when pixels are square), bg the mean colour
of the background between the top markers, corners the marker seen in the
image's top-left, top-right, bottom-left and bottom-right corners (red,
green, blue or none), black and white the mean luma (0..255) of the black
and of the white cells ('-' when there is none), red the mean colour of the
middle of the red square (levels: full range gives about 0, 255 and ff0000),
greys the mean colours of the two grey halves (about 303030 and d0d0d0),
and each at= the mean colour
around the point (FX*W', FY*H') of the upright picture (W', H' its size).
The code is read from the picture turned upright.

An image whose markers or code cannot be read with confidence (a cell
neither clearly black nor clearly white, a failed check, a missing marker)
is not guessed: "frameinfo: IMAGE: reason" goes to stderr and the exit
status is 1 (after the other images are printed). Exit 2: usage.

Images are decoded with the ffmpeg command (JPEG, PNG, anything it reads)
to PPM; only numpy is needed (no PIL, no OpenCV).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

PROG = "frameinfo"

CANON = np.array([["red", "green"], ["blue", "none"]], dtype=object)

# name: (apply to the upright picture, undo)
TRANSFORMS = {
    "upright": (lambda a: a, lambda a: a),
    "cw90": (lambda a: np.rot90(a, -1), lambda a: np.rot90(a, 1)),
    "180": (lambda a: np.rot90(a, 2), lambda a: np.rot90(a, 2)),
    "cw270": (lambda a: np.rot90(a, 1), lambda a: np.rot90(a, -1)),
    "hflip": (lambda a: a[:, ::-1], lambda a: a[:, ::-1]),
    "vflip": (lambda a: a[::-1], lambda a: a[::-1]),
    "transpose": (lambda a: np.swapaxes(a, 0, 1), lambda a: np.swapaxes(a, 0, 1)),
    "transverse": (lambda a: np.swapaxes(np.rot90(a, 2), 0, 1), lambda a: np.swapaxes(np.rot90(a, 2), 0, 1)),
}


class Unreadable(Exception):
    pass


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    # P6 <ws> W <ws> H <ws> MAX <one ws> pixels (ffmpeg writes no comments)
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    pos += 1
    if fields[0] != b"P6" or int(fields[3]) != 255:
        raise Unreadable("unexpected PPM from ffmpeg")
    w, h = int(fields[1]), int(fields[2])
    px = np.frombuffer(data, dtype=np.uint8, count=w * h * 3, offset=pos)
    return px.reshape(h, w, 3).astype(np.float64)


def decode_all(paths, tmp):
    """Decodes every image to tmp/K.ppm with one ffmpeg run (one per image
    when that fails, so a bad image does not hide the others)."""
    out = {}
    base = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    cmd = list(base)
    for p in paths:
        cmd += ["-i", p]
    for k, _ in enumerate(paths):
        cmd += ["-map", "%d:v:0" % k, "-frames:v", "1", "-pix_fmt", "rgb24", "-c:v", "ppm",
                "-f", "image2", os.path.join(tmp, "%d.ppm" % k)]
    if paths and subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        for k, p in enumerate(paths):
            out[p] = os.path.join(tmp, "%d.ppm" % k)
        return out
    for k, p in enumerate(paths):
        dst = os.path.join(tmp, "%d.ppm" % k)
        r = subprocess.run(base + ["-i", p, "-frames:v", "1", "-pix_fmt", "rgb24", "-c:v", "ppm", "-f", "image2", dst],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode == 0 and os.path.exists(dst):
            out[p] = dst
        else:
            msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
            out[p] = Unreadable("ffmpeg cannot decode it" + (": " + msg[-1] if msg else ""))
    return out


def mean_box(img, cx, cy, rx, ry):
    h, w, _ = img.shape
    x0, x1 = int(round(cx - rx)), int(round(cx + rx)) + 1
    y0, y1 = int(round(cy - ry)), int(round(cy + ry)) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        raise Unreadable("image too small")
    return img[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)


def colour_name(rgb):
    r, g, b = rgb
    if r > 150 and g < 90 and b < 90:
        return "red"
    if g > 150 and r < 90 and b < 90:
        return "green"
    if b > 150 and r < 90 and g < 90:
        return "blue"
    return "none"


def hexcol(rgb):
    return "%02x%02x%02x" % tuple(int(round(min(max(v, 0), 255))) for v in rgb)


def extent(mask):
    """Rows (or columns) of a 2-D mask that hold at least half of the
    fullest one's count: the marker's size, robust to blurred edges."""
    counts = mask.sum(axis=1)
    if counts.max() == 0:
        return 0
    return int((counts >= counts.max() / 2.0).sum())


def analyse(img, ats):
    h, w, _ = img.shape
    if min(w, h) < 16:
        raise Unreadable("image too small (%dx%d)" % (w, h))
    m = min(w, h)
    # Corner windows: a quarter of the way into a marker of the nominal size;
    # far enough inside to survive a 2:1 aspect error either way.
    s = m / 5.0
    r = max(1.0, s / 10.0)
    c = s / 4.0
    corners = np.empty((2, 2), dtype=object)
    corners[0, 0] = colour_name(mean_box(img, c, c, r, r))
    corners[0, 1] = colour_name(mean_box(img, w - 1 - c, c, r, r))
    corners[1, 0] = colour_name(mean_box(img, c, h - 1 - c, r, r))
    corners[1, 1] = colour_name(mean_box(img, w - 1 - c, h - 1 - c, r, r))
    orient = None
    for name, (fwd, _) in TRANSFORMS.items():
        if (fwd(CANON) == corners).all():
            orient = name
            break
    if orient is None:
        raise Unreadable("orientation markers not found (corners TL=%s TR=%s BL=%s BR=%s)"
                         % (corners[0, 0], corners[0, 1], corners[1, 0], corners[1, 1]))
    up = TRANSFORMS[orient][1](img)
    uh, uw, _ = up.shape
    # The red square's size in the upright picture.
    quad = up[: uh // 2, : uw // 2]
    red = (quad[:, :, 0] > 128) & (quad[:, :, 1] < 100) & (quad[:, :, 2] < 100)
    sy = extent(red)
    sx = extent(red.T)
    if sx < 3 or sy < 3:
        raise Unreadable("red marker too small to measure (%dx%d)" % (sx, sy))
    aspect = sx / float(sy)
    # The code grid: 3 markers wide and high, centred.
    gw, gh = 3.0 * sx, 3.0 * sy
    x0, y0 = (uw - gw) / 2.0, (uh - gh) / 2.0
    if x0 < 0 or y0 < 0:
        raise Unreadable("code grid does not fit the picture")
    v = 0
    lums = {0: [], 1: []}
    for k in range(16):
        row, col = divmod(k, 4)
        cx = x0 + (col + 0.5) * gw / 4.0
        cy = y0 + (row + 0.5) * gh / 4.0
        rgb = mean_box(up, cx, cy, max(0.5, gw / 20.0), max(0.5, gh / 20.0))
        lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        if lum > 185:
            v |= 1 << k
            lums[1].append(lum)
        elif lum < 70:
            lums[0].append(lum)
        else:
            raise Unreadable("code cell %d (row %d, column %d) is neither black nor white (luma %.0f)"
                             % (k, row, col, lum))
    n = v & 0xFFF
    if (v >> 12) != (bin(n).count("1") + 5) % 16:
        raise Unreadable("code check failed (read %d with check %d)" % (n, v >> 12))
    bg = mean_box(up, uw / 2.0, sy / 2.0, max(1.0, sx / 8.0), max(1.0, sy / 8.0))
    redc = mean_box(up, sx / 2.0, sy / 2.0, max(0.5, sx / 8.0), max(0.5, sy / 8.0))
    dark = mean_box(up, uw - 0.75 * sx, uh - sy / 2.0, max(0.5, sx / 16.0), max(0.5, sy / 8.0))
    light = mean_box(up, uw - 0.25 * sx, uh - sy / 2.0, max(0.5, sx / 16.0), max(0.5, sy / 8.0))
    fields = ["frame=%d" % n, "orient=%s" % orient, "w=%d" % w, "h=%d" % h, "aspect=%.2f" % aspect,
              "bg=%s" % hexcol(bg), "corners=%s,%s,%s,%s" % (corners[0, 0], corners[0, 1], corners[1, 0], corners[1, 1]),
              "black=%d" % round(np.mean(lums[0])) if lums[0] else "black=-",
              "white=%d" % round(np.mean(lums[1])) if lums[1] else "white=-", "red=%s" % hexcol(redc),
              "greys=%s,%s" % (hexcol(dark), hexcol(light))]
    for fx, fy in ats:
        rgb = mean_box(up, fx * (uw - 1), fy * (uh - 1), max(1.0, sx / 8.0), max(1.0, sy / 8.0))
        fields.append("at=%s" % hexcol(rgb))
    return " ".join(fields)


def main(argv):
    ats = []
    paths = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--at" and i + 1 < len(argv):
            try:
                fx, fy = (float(x) for x in argv[i + 1].split(","))
            except ValueError:
                sys.stderr.write("%s: --at wants FX,FY (fractions 0..1)\n" % PROG)
                return 2
            ats.append((fx, fy))
            i += 2
            continue
        if a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        if a.startswith("-") and a != "-":
            sys.stderr.write("%s: unknown option %s\n" % (PROG, a))
            return 2
        paths.append(a)
        i += 1
    if not paths:
        sys.stderr.write("usage: /usr/bin/python3 tests/media/frameinfo.py [--at FX,FY]... IMAGE...\n")
        return 2
    status = 0
    with tempfile.TemporaryDirectory(prefix="frameinfo.") as tmp:
        for p in paths:
            if not os.path.isfile(p):
                sys.stderr.write("%s: %s: no such file\n" % (PROG, p))
                status = 1
                paths = [q for q in paths if q != p]
        decoded = decode_all(paths, tmp)
        for p in paths:
            try:
                d = decoded[p]
                if isinstance(d, Unreadable):
                    raise d
                print("%s %s" % (p, analyse(read_ppm(d), ats)))
            except Unreadable as e:
                sys.stderr.write("%s: %s: %s\n" % (PROG, p, e))
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
