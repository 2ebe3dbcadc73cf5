#!/usr/bin/python3
"""The approach video-frames replaces, as a notebook does it: OpenCV's
VideoCapture (Debian's python3-opencv, its FFmpeg backend), then for each
of N frames evenly spaced by numpy.linspace a seek (CAP_PROP_POS_FRAMES)
and a read, each frame written with cv2.imwrite as JPEG quality 90 (what
video-frames writes by default).

    video_opencv.py VIDEO OUT_DIR [N]
        writes OUT_DIR/0.jpg .. OUT_DIR/(N-1).jpg (N defaults to 8) and
        prints "total T" (CAP_PROP_FRAME_COUNT), "idxs I0 I1 ...",
        "backend NAME", "threads K" (when OpenCV tells) and "seconds S": the time from opening
        the video to the last file written (the imports and the
        interpreter's start are not counted)
    video_opencv.py --mad A.jpg B.jpg [A.jpg B.jpg]...
        decodes both images of each pair with the ffmpeg CLI (to RGB) and
        prints their mean absolute difference (0..255), one line a pair,
        or "size WxH WxH" when the sizes differ

Exit status: 0 ok, 1 a frame could not be read or written (or an image
not decoded), 2 usage."""
import subprocess
import sys
import time


def extract(path, out, n):
    import cv2
    import numpy

    t0 = time.perf_counter()
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        print(f"video_opencv.py: {path}: cannot open", file=sys.stderr)
        return 1
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    idxs = numpy.linspace(0, total - 1, n, dtype=int)
    for k, i in enumerate(idxs):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, frame = cap.read()
        if not ok:
            print(f"video_opencv.py: {path}: cannot read frame {i}", file=sys.stderr)
            return 1
        if not cv2.imwrite(f"{out}/{k}.jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90]):
            print(f"video_opencv.py: cannot write {out}/{k}.jpg", file=sys.stderr)
            return 1
    dt = time.perf_counter() - t0
    backend = cap.getBackendName()
    threads = int(cap.get(cv2.CAP_PROP_N_THREADS)) if hasattr(cv2, "CAP_PROP_N_THREADS") else None
    cap.release()
    print(f"total {total}")
    print("idxs " + " ".join(str(int(i)) for i in idxs))
    print(f"backend {backend}")
    if threads is not None:
        print(f"threads {threads}")
    print(f"seconds {dt:.4f}")
    return 0


def rgb(path):
    """(width, height, numpy uint8 array) of an image, decoded by ffmpeg."""
    import numpy

    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-frames:v", "1",
                        "-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "-"],
                       stdout=subprocess.PIPE, check=False)
    data = p.stdout
    if p.returncode != 0 or not data.startswith(b"P6"):
        raise ValueError(f"{path}: ffmpeg could not decode it")
    # P6 <ws> W <ws> H <ws> 255 <one ws> pixels
    fields, pos = [], 2
    while len(fields) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    w, h, _ = fields
    pix = numpy.frombuffer(data, dtype=numpy.uint8, count=w * h * 3, offset=pos + 1)
    return w, h, pix


def mad(paths):
    import numpy

    if not paths or len(paths) % 2:
        print("video_opencv.py: --mad needs pairs of images", file=sys.stderr)
        return 2
    status = 0
    for a, b in zip(paths[0::2], paths[1::2]):
        try:
            wa, ha, pa = rgb(a)
            wb, hb, pb = rgb(b)
        except (ValueError, OSError) as e:
            print(f"video_opencv.py: {e}", file=sys.stderr)
            print("error")
            status = 1
            continue
        if (wa, ha) != (wb, hb):
            print(f"size {wa}x{ha} {wb}x{hb}")
            continue
        d = numpy.abs(pa.astype(numpy.int16) - pb.astype(numpy.int16)).mean()
        print(f"{d:.3f}")
    return status


def main():
    args = sys.argv[1:]
    if args and args[0] == "--mad":
        return mad(args[1:])
    if len(args) not in (2, 3) or args[0].startswith("-"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    n = int(args[2]) if len(args) == 3 else 8
    if n < 1:
        print("video_opencv.py: N must be at least 1", file=sys.stderr)
        return 2
    return extract(args[0], args[1], n)


if __name__ == "__main__":
    sys.exit(main())
