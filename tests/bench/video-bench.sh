#!/usr/bin/env bash
# video-bench.sh BUILD_DIR — the `make bench-video` benchmark of video-frames.
#
# The videos, made once with the ffmpeg CLI into the cache BUILD_DIR/bench/video
# (SFT_BENCH_VIDEO_DIR; made again only when missing, the generation time
# kept next to each and printed):
#   long-720p.mp4   10 minutes, 1280x720, 25 fps (15,000 frames), H.264 by
#                   libx264 -preset veryfast with x264's defaults otherwise
#                   (a keyframe every 250 frames at most, 3 B-frames, CRF 23),
#                   yuv420p, and an AAC sine tone: testsrc2 (it moves and
#                   shows its frame number) averaged with a slow camera pan
#                   over a still Mandelbrot picture, so that every pixel
#                   changes from one frame to the next (a frame off differs
#                   by about 5 on 0..255); about 2.4 Mbit/s, 180 MB, about 4
#                   minutes to make on 2 cores
#   clips/clip-NN.mp4   16 clips of 20 s, 640x360, 25 fps, made the same way
#                   (each with its own picture, pan and hue; under a minute)
#
# Timed, wall clock, best of SFT_BENCH_REPS (3) runs, every run printed,
# the video warm in the page cache, NOT pinned: every contender uses all
# cores by its own default (FFmpeg's frame threads, video-frames' decoder
# threads = cores / jobs, OpenCV's FFmpeg backend):
#   a) decode-all: ffmpeg -threads 0 -i V -map 0:v -f null -   (FFmpeg
#      decoding every frame of the video with its default threads)
#   b) video-frames -n 8 --out-dir D V   (default options: JPEG quality 90,
#      full size)
#   c) video_opencv.py V D 8 with /usr/bin/python3: OpenCV the notebook way,
#      VideoCapture, CAP_PROP_FRAME_COUNT, numpy.linspace(0, total-1, 8),
#      then per frame set(CAP_PROP_POS_FRAMES, i), read(), imwrite (JPEG
#      quality 90); its time is from opening the video to the last file
#      written, measured inside Python (the imports are not counted)
#   d) ffmpeg -i V -vf "select='eq(n\,I0)+...+eq(n\,I7)'" -vsync 0 -q:v 3 D/%d.jpg
#      with the 8 frame indices of (b): Ik = floor(k (F-1) / 7), F = round(
#      duration x fps) from ffprobe (the CLI way; it decodes every frame)
#   e) video-frames -n 8 on the 16 clips given as arguments, -j 1 and -j 2
#      (the speedup; the two runs' records and images must be the same)
# Checked: (b) writes one record with 8 frames whose times are Ik / fps, and
# each of its images is the frame of (d)'s with the same k: both decoded to
# RGB by ffmpeg, mean absolute difference below SFT_BENCH_MAX_FRAME_DIFF (3
# on 0..255; the same source frame, JPEG-encoded twice).  The same
# difference for OpenCV's frames is printed for information only: its
# seeking is known to be inexact on some videos (with OpenCV 4.6 it was
# exact on this one).
#
# Targets (exit 1 when one fails):
#   video-frames / decode-all              <= 0.10  (SFT_BENCH_MAX_DECODE_RATIO)
#   OpenCV seek-per-frame / video-frames   >= 5     (SFT_BENCH_MIN_VIDEO_SPEEDUP)
#   ffmpeg -vf select / video-frames       >= 5     (the same knob)
#   video-frames' frames = select's frames (mean abs diff < 3 each, times right)
#   -j 2 / -j 1 on the 16 clips            >  1.5x  (SFT_BENCH_MIN_SCALING),
#                                             the same output
# A run of video-frames that fails counts as a failed target; the other
# figures are still measured.
#
# Needs the ffmpeg CLI (ffmpeg, ffprobe; with libx264) and /usr/bin/python3
# with cv2 and numpy (apt-get install python3-opencv); without them it stops
# saying what to install.
#
# Exit status: 0 all targets met, 1 a target failed, 2 usage or setup error.
set -u -o pipefail
export LC_ALL=C

prog=video-bench
. "$(dirname "$0")/bench-lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || die "BUILD_DIR $1 not found"
cd "$(dirname "$0")/../.." || exit 2
bin=$build/bin/video-frames
[ -x "$bin" ] || die "$bin is missing (make builds it)"
data=${SFT_BENCH_VIDEO_DIR:-$build/bench/video}
reps=${SFT_BENCH_REPS:-3}
max_ratio=${SFT_BENCH_MAX_DECODE_RATIO:-0.10}
min_speedup=${SFT_BENCH_MIN_VIDEO_SPEEDUP:-5}
min_scaling=${SFT_BENCH_MIN_SCALING:-1.5}
max_diff=${SFT_BENCH_MAX_FRAME_DIFF:-3}
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "bad value '$reps' for SFT_BENCH_REPS"
for v in max_ratio min_speedup min_scaling max_diff; do
    [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad value '${!v}' for $v"
done
nframes=8 nclips=16
py=/usr/bin/python3
[[ ${EPOCHREALTIME:-} =~ ^[0-9]+[.][0-9]+$ ]] || die "bash 5 (EPOCHREALTIME) is needed"
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    die "the ffmpeg CLI is missing: apt-get install ffmpeg"
fi
if ! "$py" -c 'import cv2, numpy' 2>/dev/null; then
    die "OpenCV for /usr/bin/python3 is missing: apt-get install python3-opencv"
fi
[[ $(ffmpeg -hide_banner -encoders 2>/dev/null) == *libx264* ]] || die "this ffmpeg has no libx264 encoder"

sec() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else print "-" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && a + 0 >= b + 0) ? 1 : 0 }'; }

# --- the videos, made once ---
# make_video OUT SECONDS W H N: one video of W x H (even, a multiple of 4):
# testsrc2 averaged with a camera pan over a still Mandelbrot picture 1.5
# times the size (N shifts the picture, the pan's periods and the hue); the
# generation time goes to OUT.gen
make_video() {
    local out=$1 secs=$2 w=$3 h=$4 n=$5 t0 t1 sx graph
    local tw=$(( w * 3 / 2 )) th=$(( h * 3 / 2 )) mx=$(( w / 4 )) my=$(( h / 4 ))
    sx=$(awk -v n="$n" 'BEGIN { printf "%.3f", -0.743 + n / 50 }')
    graph="mandelbrot=size=${tw}x${th}:rate=25:start_x=$sx,"
    graph+="trim=end_frame=1,loop=loop=-1:size=1,setpts=N/25/TB,"
    graph+="crop=w=$w:h=$h:x='$mx+$((mx - 1))*sin(2*PI*t/$((21 + n)))':y='$my+$((my - 1))*sin(2*PI*t/$((15 + n)))'[m];"
    graph+="testsrc2=size=${w}x$h:rate=25[t];[t][m]blend=all_mode=average:shortest=1,hue=h=$(( n * 22 % 360 )),format=yuv420p"
    t0=$EPOCHREALTIME
    ffmpeg -nostdin -v error -y -f lavfi -i "$graph" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t "$secs" -map 0:v -map 1:a -c:v libx264 -preset veryfast -pix_fmt yuv420p \
        -c:a aac -b:a 96k -f mp4 "$out.tmp" || { rm -f "$out.tmp"; die "ffmpeg could not make $out"; }
    t1=$EPOCHREALTIME
    mv "$out.tmp" "$out" || die "cannot write $out"
    sec "$t0" "$t1" > "$out.gen"
}
mkdir -p "$data/clips" || die "cannot create $data"
long=$data/long-720p.mp4
if [ ! -s "$long" ]; then
    echo "$prog: generating $long (10 minutes of 1280x720 H.264; a few minutes)" >&2
    make_video "$long" 600 1280 720 0
    gen_long="generated in $(cat "$long.gen") s just now"
else
    gen_long="cached; generated in $(cat "$long.gen" 2>/dev/null || echo '?') s"
fi
clips=() gen_clips=0 made=0
for (( c = 1; c <= nclips; c++ )); do
    f=$(printf '%s/clips/clip-%02d.mp4' "$data" "$c")
    if [ ! -s "$f" ]; then
        (( made++ == 0 )) && echo "$prog: generating $nclips clips of 20 s 640x360 in $data/clips" >&2
        make_video "$f" 20 640 360 "$c"
    fi
    gen_clips=$(awk -v a="$gen_clips" -v b="$(cat "$f.gen" 2>/dev/null || echo 0)" 'BEGIN { print a + b }')
    clips+=("$f")
done
if (( made )); then gen_clips="generated in $gen_clips s just now"; else gen_clips="cached; generated in $gen_clips s"; fi

# --- what the long video is ---
probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$1" -of default=nw=1:nk=1 "$long"; }
duration=$(probe duration) || die "ffprobe cannot read $long"
rate=$(probe avg_frame_rate)
nb=$(probe nb_frames)
codec=$(probe codec_name)
fps=$(awk -v r="$rate" 'BEGIN { split(r, p, "/"); printf "%.6f", (p[2] + 0 ? p[1] / p[2] : p[1]) }')
total=$(awk -v d="$duration" -v f="$fps" 'BEGIN { printf "%d", d * f + 0.5 }')
(( total >= nframes )) || die "$long: $total frames?"
idx=()
for (( k = 0; k < nframes; k++ )); do idx+=($(( k * (total - 1) / (nframes - 1) ))); done
keys=$(ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$long" | grep -c K)
mbit=$(awk -v s="$(stat -c %s "$long")" -v d="$duration" 'BEGIN { printf "%.1f", s * 8 / d / 1e6 }')

tmp=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# timeit NAME DIR INPUT CMD...: $reps runs of CMD (DIR emptied and INPUT read
# into the page cache before each; stdout to $tmp/NAME.out, stderr to
# $tmp/NAME.err); sets runs_NAME (every time) and best_NAME, or
# best_NAME empty and returns 1 when a run fails.  With inner=1 the time of
# a run is the "seconds S" line CMD prints, not the wall clock.
inner=0
best_decode="" best_vf="" best_cv="" best_sel="" best_j1="" best_j2=""
timeit() {
    local name=$1 dir=$2 input=$3; shift 3
    local i t0 t1 r d all="" best=""
    printf -v "best_$name" '%s' ""
    printf -v "runs_$name" '%s' ""
    for (( i = 1; i <= reps; i++ )); do
        rm -rf "$dir"
        mkdir -p "$dir" || die "cannot create $dir"
        cat "$input" > /dev/null
        t0=$EPOCHREALTIME
        "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
        r=$?
        t1=$EPOCHREALTIME
        if (( r != 0 )); then
            echo "$prog: failed (exit $r): $*" >&2
            head -n 20 "$tmp/$name.err" >&2
            printf -v "runs_$name" '%s' "failed (exit $r)"
            return 1
        fi
        if (( inner )); then
            d=$(awk '$1 == "seconds" { print $2 }' "$tmp/$name.out")
            [ -n "$d" ] || die "no 'seconds' line from $*"
        else
            d=$(sec "$t0" "$t1")
        fi
        all+=" $d"
        best=$(awk -v d="$d" -v b="$best" 'BEGIN { printf "%.3f", (b == "" || d < b) ? d : b }')
    done
    printf -v "best_$name" '%s' "$best"
    printf -v "runs_$name" '%s' "${all# }"
}

load0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
sel=""
for i in "${idx[@]}"; do sel+="${sel:++}eq(n\\,$i)"; done
id=$(basename "$long" .mp4)

# a) decode-all, b) video-frames, c) OpenCV, d) ffmpeg -vf select
timeit decode "$tmp/null" "$long" ffmpeg -nostdin -v error -threads 0 -i "$long" -map 0:v -f null -
timeit vf "$tmp/vf" "$long" "$bin" -n "$nframes" --out-dir "$tmp/vf" "$long"
ok_vf=$?
inner=1
timeit cv "$tmp/cv" "$long" "$py" tests/bench/video_opencv.py "$long" "$tmp/cv" "$nframes"
ok_cv=$?
inner=0
timeit sel "$tmp/sel" "$long" ffmpeg -nostdin -v error -i "$long" -vf "select='$sel'" -vsync 0 -q:v 3 "$tmp/sel/%d.jpg"
ok_sel=$?

# e) -j 1 and -j 2 on the clips
cat "${clips[@]}" > /dev/null
timeit j1 "$tmp/jobs" "${clips[0]}" "$bin" -n "$nframes" --out-dir "$tmp/jobs" -j 1 "${clips[@]}"
ok_j1=$?
[ $ok_j1 = 0 ] && { mv "$tmp/jobs" "$tmp/jobs1"; cp "$tmp/j1.out" "$tmp/jobs1.jsonl"; }
timeit j2 "$tmp/jobs" "${clips[0]}" "$bin" -n "$nframes" --out-dir "$tmp/jobs" -j 2 "${clips[@]}"
ok_j2=$?

# --- the frames: video-frames' record and images against select's (and OpenCV's) ---
rec_note="" times_ok=0 same_ok=0 worst="" cv_note=""
vf_mad=() cv_mad=() times=()
if [ $ok_vf = 0 ]; then
    mapfile -t times < <("$py" - "$tmp/vf.out" "$tmp/vf" "$id" "$nframes" <<'EOF'
import json, sys
out, d, ident, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
recs = [json.loads(l) for l in open(out) if l.strip()]
if len(recs) != 1:
    sys.exit(f"{len(recs)} records, not 1")
fr = recs[0].get("frames", [])
if len(fr) != n:
    sys.exit(f"{len(fr)} frames, not {n}")
for k, f in enumerate(fr):
    want = f"{d}/{ident}/{k}.jpg"
    if f.get("i") != k or f.get("path") != want:
        sys.exit(f"frame {k}: i {f.get('i')} path {f.get('path')} (expected {want})")
    print(f["t"])
EOF
)
    if (( ${#times[@]} != nframes )); then
        rec_note="the record is not as expected: $(tail -1 "$tmp/vf.out" | cut -c1-200)"
    else
        times_ok=1
        for (( k = 0; k < nframes; k++ )); do
            awk -v t="${times[k]}" -v i="${idx[k]}" -v f="$fps" 'BEGIN { d = t - i / f; exit !(d < 0.001 && d > -0.001) }' ||
                times_ok=0
        done
    fi
fi
pairs=() cvpairs=()
for (( k = 0; k < nframes; k++ )); do
    pairs+=("$tmp/vf/$id/$k.jpg" "$tmp/sel/$((k + 1)).jpg")
    cvpairs+=("$tmp/cv/$k.jpg" "$tmp/sel/$((k + 1)).jpg")
done
if [ $ok_vf = 0 ] && [ $ok_sel = 0 ]; then
    mapfile -t vf_mad < <("$py" tests/bench/video_opencv.py --mad "${pairs[@]}" 2>"$tmp/mad.err")
    if (( ${#vf_mad[@]} == nframes )); then
        same_ok=1 worst=0
        for m in "${vf_mad[@]}"; do
            [[ $m =~ ^[0-9.]+$ ]] || { same_ok=0; worst="$m"; break; }
            awk -v m="$m" -v x="$max_diff" 'BEGIN { exit !(m < x) }' || same_ok=0
            worst=$(awk -v m="$m" -v w="$worst" 'BEGIN { print (m > w) ? m : w }')
        done
    else
        worst="not compared: $(head -1 "$tmp/mad.err")"
    fi
fi
if [ $ok_cv = 0 ] && [ $ok_sel = 0 ]; then
    mapfile -t cv_mad < <("$py" tests/bench/video_opencv.py --mad "${cvpairs[@]}" 2>/dev/null)
    cv_same=$(printf '%s\n' "${cv_mad[@]}" | awk -v x="$max_diff" '$1 ~ /^[0-9.]+$/ && $1 < x { n++ } END { print n + 0 }')
    cv_note="$cv_same of $nframes within $max_diff"
    cv_total=$(awk '$1 == "total" { print $2 }' "$tmp/cv.out")
    cv_idx=$(awk '$1 == "idxs" { $1 = ""; print substr($0, 2) }' "$tmp/cv.out")
    cv_backend=$(awk '$1 == "backend" { print $2 }' "$tmp/cv.out")
    cv_threads=$(awk '$1 == "threads" { print $2 }' "$tmp/cv.out")
fi

# for scale, a frame off: select's frame I1 against frame I1 + 1 (ffmpeg -ss, exact)
next_mad=""
if [ $ok_sel = 0 ]; then
    t_next=$(awk -v i=$((idx[1] + 1)) -v f="$fps" 'BEGIN { printf "%.6f", i / f }')
    ffmpeg -nostdin -v error -ss "$t_next" -i "$long" -frames:v 1 -q:v 3 "$tmp/next.jpg" 2>/dev/null &&
        next_mad=$("$py" tests/bench/video_opencv.py --mad "$tmp/next.jpg" "$tmp/sel/2.jpg" 2>/dev/null)
fi

# -j: the same records and the same images
jobs_same=0
if [ $ok_j1 = 0 ] && [ $ok_j2 = 0 ]; then
    cmp -s "$tmp/jobs1.jsonl" "$tmp/j2.out" && diff -r -q "$tmp/jobs1" "$tmp/jobs" >/dev/null && jobs_same=1
    jrecs=$(grep -c . "$tmp/j2.out")
fi

# --- the report ---
cores=$(nproc 2>/dev/null || echo '?')
echo "video-bench: $long ($gen_long)"
printf '  %s %sx%s, %s s, %s fps, %s frames (F = round(duration x fps) = %s), %s keyframes, %s Mbit/s\n' \
    "$codec" "$(probe width)" "$(probe height)" "$duration" "$rate" "${nb:-?}" "$total" "$keys" "$mbit"
echo "  $nclips clips of 20 s 640x360 in $data/clips ($gen_clips)"
echo "  frame indices (floor(k (F-1) / $((nframes - 1)))): ${idx[*]}"
echo "  $(uname -m), $cores cores (nproc), not pinned, load average $load0 at the start, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null) at the end"
echo "  wall clock, best of $reps (every run in brackets)"
show() { # LABEL NAME [UNIT NOTE]
    local b=best_$1 r=runs_$1
    printf '  %-46s %9s s  [%s]\n' "$2" "${!b:--}" "${!r}"
}
show decode "a) decode-all (ffmpeg -threads 0, every frame)"
show vf "b) video-frames -n $nframes"
show cv "c) OpenCV seek per frame (time inside Python)"
show sel "d) ffmpeg -vf select (8 frames)"
show j1 "e) video-frames -n $nframes -j 1, $nclips clips"
show j2 "   the same with -j 2"
r_dec=$(ratio "$best_vf" "$best_decode")
r_cv=$(ratio "$best_cv" "$best_vf")
r_sel=$(ratio "$best_sel" "$best_vf")
r_j=$(ratio "$best_j1" "$best_j2")
echo "ratios:"
printf '  %-46s %9s\n' "video-frames / decode-all" "$r_dec"
printf '  %-46s %9s\n' "OpenCV / video-frames" "$r_cv"
printf '  %-46s %9s\n' "ffmpeg select / video-frames" "$r_sel"
printf '  %-46s %9s\n' "-j 1 / -j 2 (speedup on $cores cores)" "$r_j"
echo "frames (mean abs difference on 0..255 against select's frame of the same k):"
if (( ${#vf_mad[@]} )); then
    echo "  video-frames: ${vf_mad[*]}"
    echo "  its times:    ${times[*]:-?} (expected index / $rate)"
fi
[ -n "$next_mad" ] && echo "  (for scale, one frame off: frame $((idx[1] + 1)) against select's frame ${idx[1]}: $next_mad)"
[ -n "$rec_note" ] && echo "  video-frames: $rec_note"
if [ -n "$cv_note" ]; then
    echo "  OpenCV:       ${cv_mad[*]} ($cv_note; for information)"
    echo "  OpenCV saw $cv_total frames, indices $cv_idx; backend $cv_backend${cv_threads:+, threads $cv_threads}"
fi

echo "targets:"
if [ -n "$best_vf" ]; then
    check "video-frames / decode-all = $r_dec (target <= $max_ratio)" \
        "$(awk -v r="$r_dec" -v m="$max_ratio" 'BEGIN { print (r != "-" && r + 0 <= m + 0) ? 1 : 0 }')"
    [ -n "$best_cv" ] && check "OpenCV / video-frames = ${r_cv}x (target >= $min_speedup)" "$(ge "$r_cv" "$min_speedup")"
    [ -n "$best_sel" ] && check "ffmpeg -vf select / video-frames = ${r_sel}x (target >= $min_speedup)" "$(ge "$r_sel" "$min_speedup")"
    check "video-frames' frames are select's: worst mean abs diff ${worst:-?} (target < $max_diff)" "$same_ok"
    check "video-frames' record: $nframes frames at index / fps${rec_note:+ ($rec_note)}" "$times_ok"
else
    check "video-frames -n $nframes on the long video (it failed)" 0
fi
[ -z "$best_cv" ] && check "OpenCV seek per frame ran (video_opencv.py failed)" 0
[ -z "$best_sel" ] && check "ffmpeg -vf select ran (it failed)" 0
if [ -n "$best_j1" ] && [ -n "$best_j2" ]; then
    check "-j 2 / -j 1 speedup on $nclips clips = ${r_j}x on $cores cores (target > $min_scaling)" \
        "$(awk -v r="$r_j" -v m="$min_scaling" 'BEGIN { print (r != "-" && r + 0 > m + 0) ? 1 : 0 }')"
    check "-j 2 writes what -j 1 writes ($jrecs records, the same images)" "$jobs_same"
else
    check "video-frames -j 1 and -j 2 on the clips (a run failed)" 0
fi
finish_checks
