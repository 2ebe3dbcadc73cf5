#!/usr/bin/env bats
# video-frames as a user meets it, on the synthetic videos of
# fixtures/gen-videos.sh (made once into build/fixtures/videos, or
# $SFT_VIDEO_FIXTURES, and kept while the script does not change; every
# test is skipped, saying why, without ffmpeg or python3-numpy). Every frame
# of those videos shows its own number, orientation markers, square cells
# and grey levels; tests/media/frameinfo.py reads them back and
# tests/media/vfcheck.py checks whole records against the fixtures' facts
# (MANIFEST.json): which frames the sampling rule of lib/media/frames.h
# takes, t, display size, orientation, square pixels, even sizes,
# --max-side, the colour under transparent pixels, levels.
# Covered: record fields and the schema, -n on every codec and container,
# rotation and mirroring, SAR, VFR, no duration, alpha, streams besides the
# video, interlacing, 10-bit and 4:4:4, full and limited range, --fps,
# --scene, --max-side, --format, --quality, -j, JSONL input and ids, bad
# files and the error contract, FineVideo metadata to messages, filters,
# usage errors.

load helpers

PY=/usr/bin/python3

setup_file() {
    export VFIX=${SFT_VIDEO_FIXTURES:-$ROOT/build/fixtures/videos}
    if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
        # a cache that cannot be written: this run's own folder
        "$ROOT/fixtures/gen-videos.sh" "$VFIX" >&2 ||
            { VFIX=$BATS_FILE_TMPDIR/videos && "$ROOT/fixtures/gen-videos.sh" "$VFIX" >&2; } || true
    fi
}

setup() {
    T=$(mktemp -d)
    cd "$T"
    command -v ffmpeg >/dev/null || skip "ffmpeg is not installed (the fixtures and the checks need it)"
    # ffmpeg is there, so fixtures that could not be made are a failure
    [ -f "$VFIX/MANIFEST.json" ] || { echo "no fixtures: fixtures/gen-videos.sh $VFIX failed" >&2; return 1; }
    "$PY" -c 'import numpy' 2>/dev/null || skip "python3-numpy is not installed"
}

vf() { "$SFT_BIN/video-frames" "$@"; }
# vf_st ARGS...: runs video-frames, stdout to out.jsonl, stderr to err, status in $st.
vf_st() {
    st=0
    "$SFT_BIN/video-frames" "$@" > out.jsonl 2> err || st=$?
}
vcheck() { "$PY" "$ROOT/tests/media/vfcheck.py" "$VFIX/MANIFEST.json" "$@"; }
finfo() { "$PY" "$ROOT/tests/media/frameinfo.py" "$@"; }
fx() { local f; for f; do printf '%s\n' "$VFIX/$f"; done; }
# jqpy EXPR [FILE]: prints EXPR for each record r of the JSONL.
jqpy() {
    "$PY" -c "import json, sys
for line in open(sys.argv[1], encoding='utf-8'):
    if line.strip():
        r = json.loads(line)
        print($1)" "${2:-out.jsonl}"
}
# counts TEXT: sets IN OUT REJ FILT from the "N in, M out, R rejected, F filtered" line.
counts() {
    local re='video-frames: ([0-9]+) (records )?in, ([0-9]+) out, ([0-9]+) rejected, ([0-9]+) filtered'
    [[ $1 =~ $re ]] || { echo "no counts line in: $1"; return 1; }
    IN=${BASH_REMATCH[1]} OUT=${BASH_REMATCH[3]} REJ=${BASH_REMATCH[4]} FILT=${BASH_REMATCH[5]}
    echo "in $IN, out $OUT, rejected $REJ, filtered $FILT"
}
have_jsonschema() { "$PY" -c 'import jsonschema' 2>/dev/null; }
# run_check FILE ARGS...: vcheck on FILE, its report shown on failure.
run_check() {
    run vcheck "$@"
    echo "$output"
    [ "$status" -eq 0 ]
}

# ---------------------------------------------------------------- the reader

@test "frameinfo reads ffmpeg's own decoding and refuses what it cannot read" {
    ffmpeg -nostdin -loglevel error -ss 1.68 -i "$VFIX/h264.mp4" -frames:v 1 f42.png
    ffmpeg -nostdin -loglevel error -ss 1.68 -i "$VFIX/h264.mp4" -frames:v 1 -vf transpose=clock,scale=90:120 f42r.jpg
    run finfo f42.png f42r.jpg
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "f42.png frame=42 orient=upright w=320 h=240 aspect=1.00 bg=808080 corners=red,green,blue,none black=0 white=255 red=f"[de]"0000 greys="* ]]
    [[ ${lines[1]} == "f42r.jpg frame=42 orient=cw90 w=90 h=120 "*" corners=blue,red,none,green "* ]]
    # a grey picture, a woven interlaced frame (cells of two codes), a picture with no markers
    ffmpeg -nostdin -loglevel error -f lavfi -i color=c=gray:s=320x240 -frames:v 1 grey.png
    ffmpeg -nostdin -loglevel error -i "$VFIX/interlaced_h264.mp4" -frames:v 1 woven.png
    ffmpeg -nostdin -loglevel error -i f42.png -vf drawbox=x=0:y=0:w=80:h=80:c=gray:t=fill nored.png
    run finfo f42.png grey.png woven.png nored.png
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"frameinfo: grey.png: orientation markers not found"* ]]
    [[ $output == *"frameinfo: woven.png: code cell"*"neither black nor white"* ]]
    [[ $output == *"frameinfo: nored.png: orientation markers not found"* ]]
    [[ $output == *"f42.png frame=42 "* ]]
}

# ---------------------------------------------------------------- records

@test "one record per video: the documented fields, frames on disk, schema-valid" {
    vf_st --out-dir out "$VFIX/h264.mp4" "$VFIX/rot_cw90.mp4"
    cat err
    [ "$st" -eq 0 ]
    [ ! -s err ]
    [ "$(lines out.jsonl)" -eq 2 ]
    # the schema's fields; no messages, meta or src for a video named on the command line
    run jqpy '{"duration_s", "fps", "frames", "height", "id", "video", "width"} <= set(r), sorted({"messages", "meta", "src"} & set(r))'
    [ "$output" = "$(printf 'True []\nTrue []')" ]
    run jqpy 'r["id"], r["video"], r["duration_s"], r["width"], r["height"], r["fps"], len(r["frames"])'
    [ "${lines[0]}" = "h264 $VFIX/h264.mp4 4 320 240 25 8" ]
    [ "${lines[1]}" = "rot_cw90 $VFIX/rot_cw90.mp4 2 240 320 25 8" ]
    run jqpy '" ".join("%d:%s" % (f["i"], f["path"]) for f in r["frames"])'
    [ "${lines[0]}" = "0:out/h264/0.jpg 1:out/h264/1.jpg 2:out/h264/2.jpg 3:out/h264/3.jpg 4:out/h264/4.jpg 5:out/h264/5.jpg 6:out/h264/6.jpg 7:out/h264/7.jpg" ]
    [ "$(ls out/h264 | sort -n | tr '\n' ' ')" = "0.jpg 1.jpg 2.jpg 3.jpg 4.jpg 5.jpg 6.jpg 7.jpg " ]
    [ -z "$(ls -A out/h264 | grep -v '^[0-7]\.jpg$')" ]
    # JPEG files
    [ "$(head -c 3 out/h264/0.jpg | od -An -tx1 | tr -d ' \n')" = ffd8ff ]
    # t: presentation times in seconds, rounded to microseconds
    run jqpy 'all(f["t"] == round(f["t"], 6) and f["t"] >= 0 for f in r["frames"])'
    [ "$output" = "$(printf 'True\nTrue')" ]
    run_check out.jsonl --out-dir out
    if have_jsonschema; then
        "$PY" "$ROOT/tests/schema/validate.py" "$ROOT/schemas/video-sample.schema.json" out.jsonl
    fi
}

@test "-n 8 on H.264, VP8, VP9, MPEG-4 ASP, 20 s with long GOPs, 1 frame: the linspace frames" {
    vf_st -n 8 --out-dir out $(fx h264.mp4 long.mp4 vp8.webm vp9.webm mpeg4.avi one_frame.mp4)
    cat err
    [ "$st" -eq 0 ]
    [ "$(lines out.jsonl)" -eq 6 ]
    run_check out.jsonl --even 8 --out-dir out
    # h264.mp4: F = 100 frames, sample k = frame floor(k*99/7), shown at frame/25 s
    run jqpy '" ".join("%g" % f["t"] for f in r["frames"])'
    [ "${lines[0]}" = "0 0.56 1.12 1.68 2.24 2.8 3.36 3.96" ]
    # the single frame, 8 times
    [ "${lines[5]}" = "0 0 0 0 0 0 0 0" ]
}

@test "-n 1, -n 3 and more samples than frames" {
    vf_st -n 1 --out-dir o1 "$VFIX/long.mp4"
    [ "$st" -eq 0 ]
    run_check out.jsonl --even 1 --out-dir o1
    vf_st -n 3 --out-dir o3 "$VFIX/long.mp4"
    [ "$st" -eq 0 ]
    run_check out.jsonl --even 3 --out-dir o3
    run jqpy '" ".join("%g" % f["t"] for f in r["frames"])'
    [ "$output" = "0 9.96 19.96" ]
    vf_st -n 70 --format png --out-dir o70 "$VFIX/alpha_png.mov"
    [ "$st" -eq 0 ]
    run_check out.jsonl --even 70 --ext png --out-dir o70
}

@test "10-bit and 4:4:4 H.264 give readable frames" {
    vf_st --out-dir out "$VFIX/h264_10bit.mp4" "$VFIX/h264_444.mp4"
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir out
}

@test "levels: limited- and full-range sources (H.264 8/10-bit, yuvj H.264, MJPEG, VP9, RGB PNG) keep full-range levels in JPEG and PNG frames" {
    set -- $(fx h264.mp4 h264_10bit.mp4 h264_pc.mp4 mjpeg.avi vp9.webm alpha_png.mov)
    vf_st --out-dir j "$@"
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --levels --out-dir j
    vf_st --format png --out-dir p "$@"
    [ "$st" -eq 0 ]
    run_check out.jsonl --levels --ext png --out-dir p
}

@test "display matrix: 90 both ways, 180 and a mirror come out upright; sizes are the displayed ones" {
    vf_st --out-dir out $(fx rot_cw90.mp4 rot_ccw90.mp4 rot180.mp4 mirror.mp4 rot_cw90_sar.mp4)
    cat err
    [ "$st" -eq 0 ]
    run jqpy '"%dx%d" % (r["width"], r["height"])'
    [ "$output" = "$(printf '240x320\n240x320\n320x240\n320x240\n240x640')" ]
    run_check out.jsonl --out-dir out
}

@test "non-square pixels: SAR 2:1, anamorphic MPEG-2 (DAR 16:9, in MKV) and SAR 1:2 are made square" {
    vf_st --out-dir out $(fx sar21.mp4 anamorphic.mkv sar12.avi)
    cat err
    [ "$st" -eq 0 ]
    run jqpy '"%dx%d" % (r["width"], r["height"])'
    [ "$output" = "$(printf '640x240\n320x180\n160x240')" ]
    run_check out.jsonl --out-dir out
}

@test "MPEG-PS and MPEG-TS starting after 0: t from the stream's start and the right frames" {
    vf_st --fps 5 --out-dir out "$VFIX/mpeg2.mpg" "$VFIX/interlaced_mpeg2.ts" "$VFIX/anamorphic_ps.mpg"
    cat err
    [ "$st" -eq 0 ]
    run jqpy '" ".join("%g" % f["t"] for f in r["frames"])'
    echo "$output"
    [ "${lines[0]}" = "0 0.2 0.4 0.6 0.8 1 1.2 1.4 1.6 1.8" ]
    run_check out.jsonl --fps 5 --out-dir out
    vf_st -n 8 --out-dir even "$VFIX/mpeg2.mpg" "$VFIX/interlaced_mpeg2.ts" "$VFIX/anamorphic_ps.mpg"
    [ "$st" -eq 0 ]
    run_check out.jsonl --even 8 --out-dir even
}

@test "variable frame rate (MKV, MP4): t is each frame's own time; the rule on the real timestamps" {
    vf_st --out-dir out "$VFIX/vfr_mkv.mkv" "$VFIX/vfr_mp4.mp4"
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir out
    vf_st --fps 2 --out-dir f "$VFIX/vfr_mkv.mkv"
    [ "$st" -eq 0 ]
    # frames at 0-0.96 every 40 ms, 1.0-2.8 every 200 ms, 3.0-3.98 every 20 ms, 4.0-6.0 every 500 ms
    run jqpy '" ".join("%g" % f["t"] for f in r["frames"])'
    [ "$output" = "0 0.52 1 1.6 2 2.6 3 3.5 4 4.5 5 5.5 6" ]
    run_check out.jsonl --fps 2 --out-dir f
}

@test "WebM written to a pipe (no duration anywhere): duration from the packets, right frames" {
    vf_st --out-dir out "$VFIX/nodur.webm"
    cat err
    [ "$st" -eq 0 ]
    run jqpy 'r["duration_s"]'
    [ "$output" = 3 ] || [ "$output" = 2.96 ]
    run_check out.jsonl --out-dir out
}

@test "alpha (VP9 yuva420p, PNG in MOV): transparent pixels show --background" {
    vf_st --out-dir black "$VFIX/alpha_vp9.webm" "$VFIX/alpha_png.mov"
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir black --bg 000000
    vf_st --background FF00ff --out-dir pink "$VFIX/alpha_vp9.webm" "$VFIX/alpha_png.mov"
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir pink --bg ff00ff
    # PNG output is flattened too (no alpha channel left to hide the background)
    vf_st --format png --background 00ffff --out-dir cyan "$VFIX/alpha_vp9.webm" "$VFIX/alpha_png.mov"
    [ "$st" -eq 0 ]
    run_check out.jsonl --ext png --out-dir cyan --bg 00ffff
    # the opaque parts keep their colour: the red square
    run finfo --at 0.02,0.02 pink/alpha_vp9/3.jpg pink/alpha_png/3.jpg
    echo "$output"
    [[ ${lines[0]} == *" at=f"?"0"?"0"? ]] && [[ ${lines[1]} == *" at=f"?"0"?"0"? ]]
}

@test "streams around the video: audio first, corrupt audio, a cover picture" {
    vf_st -v --out-dir out $(fx audio_first.mp4 audio_bad.mkv cover.mp4)
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir out
}

@test "interlaced H.264 and MPEG-2: frames from the first field, no combing" {
    vf_st --out-dir out "$VFIX/interlaced_h264.mp4" "$VFIX/interlaced_mpeg2.ts"
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir out
}

@test "a WebM cut in the middle: the frames that are there" {
    vf_st --out-dir out "$VFIX/cut.webm"
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir out
}

# ---------------------------------------------------------------- modes

@test "--fps R: frames at k/R seconds, at most --max-frames (64 by default)" {
    vf_st --fps 2 --out-dir a "$VFIX/h264.mp4" "$VFIX/vp9.webm"
    [ "$st" -eq 0 ]
    run jqpy '" ".join("%g" % f["t"] for f in r["frames"])'
    # 0.5 s is between frames 12 (0.48) and 13 (0.52): the first at or after it
    [ "${lines[0]}" = "0 0.52 1 1.52 2 2.52 3 3.52" ]
    run_check out.jsonl --fps 2 --out-dir a
    vf_st --fps 10 --max-frames 5 --out-dir b "$VFIX/h264.mp4"
    [ "$st" -eq 0 ]
    [ "$(jqpy 'len(r["frames"])')" -eq 5 ]
    run_check out.jsonl --fps 10 --max-frames 5 --out-dir b
    vf_st --fps 25 --max-side 64 --out-dir c "$VFIX/long.mp4"
    [ "$st" -eq 0 ]
    [ "$(jqpy 'len(r["frames"])')" -eq 64 ]
    run_check out.jsonl --fps 25 --max-side 64 --out-dir c
    vf_st --fps 0.3 --out-dir d "$VFIX/long.mp4"
    [ "$st" -eq 0 ]
    run_check out.jsonl --fps 0.3 --out-dir d
    # every codec and container: many seeks
    vf_st --fps 5 --out-dir e $(fx vp8.webm mpeg4.avi sar12.avi anamorphic.mkv vfr_mp4.mp4 nodur.webm \
        rot_cw90.mp4 h264_10bit.mp4 interlaced_h264.mp4 audio_first.mp4 alpha_vp9.webm)
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --fps 5 --out-dir e
}

@test "--scene: the first frame and each hard cut; --max-frames, --scene-threshold" {
    vf_st --scene --out-dir a "$VFIX/scene.mp4" "$VFIX/h264.mp4"
    cat err
    [ "$st" -eq 0 ]
    run jqpy '" ".join("%g" % f["t"] for f in r["frames"])'
    [ "${lines[0]}" = "0 1.2 2.2 3.2 4.2" ]
    # frame numbers changing in the grid are no scene change
    [ "${lines[1]}" = "0" ]
    run_check out.jsonl --scene --out-dir a
    vf_st --scene --max-frames 3 --out-dir b "$VFIX/scene.mp4"
    [ "$st" -eq 0 ]
    run_check out.jsonl --scene --max-frames 3 --out-dir b
    vf_st --scene --scene-threshold 0.9 --out-dir c "$VFIX/scene.mp4"
    [ "$st" -eq 0 ]
    [ "$(jqpy '[f["t"] for f in r["frames"]]')" = "[0]" ]
}

@test "--max-side scales down (never up) keeping the display aspect; sides even" {
    vf_st --max-side 100 --out-dir a $(fx h264.mp4 sar21.mp4 rot_cw90.mp4 vp8.webm anamorphic.mkv rot_cw90_sar.mp4 sar12.avi)
    cat err
    [ "$st" -eq 0 ]
    run_check out.jsonl --max-side 100 --out-dir a
    # the record keeps the video's display size
    run jqpy '"%dx%d" % (r["width"], r["height"])'
    [ "$output" = "$(printf '320x240\n640x240\n240x320\n321x241\n320x180\n240x640\n160x240')" ]
    vf_st --max-side 1000 --out-dir b "$VFIX/h264.mp4" "$VFIX/vp8.webm"
    [ "$st" -eq 0 ]
    run_check out.jsonl --max-side 1000 --out-dir b
    run finfo b/h264/0.jpg b/vp8/0.jpg
    [[ ${lines[0]} == *" w=320 h=240 "* ]]
    [[ ${lines[1]} == *" w=32"[02]" h=24"[02]" "* ]]
}

@test "--format png writes PNG files; --quality changes JPEG size" {
    vf_st --format png --out-dir p "$VFIX/h264.mp4"
    [ "$st" -eq 0 ]
    run_check out.jsonl --ext png --out-dir p
    [ "$(head -c 8 p/h264/0.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
    vf_st --quality 10 --out-dir q10 "$VFIX/h264.mp4"
    [ "$st" -eq 0 ]
    vf_st --quality 100 --out-dir q100 "$VFIX/h264.mp4"
    [ "$st" -eq 0 ]
    run_check out.jsonl --out-dir q100
    vf_st --out-dir d "$VFIX/h264.mp4"
    s10=$(cat q10/h264/*.jpg | wc -c)
    s100=$(cat q100/h264/*.jpg | wc -c)
    sd=$(cat d/h264/*.jpg | wc -c)
    echo "bytes: quality 10 $s10, default (90) $sd, 100 $s100"
    [ "$s10" -lt "$sd" ] && [ "$sd" -lt "$s100" ]
}

@test "-j 2 and -j 4: the same records and bytes as -j 1, in input order" {
    set -- $(fx long.mp4 h264.mp4 one_frame.mp4 vp9.webm rot_cw90.mp4 alpha_vp9.webm interlaced_h264.mp4 sar21.mp4 nodur.webm mpeg4.avi)
    vf --out-dir j1 "$@" > j1.jsonl
    vf -j 2 --out-dir j2 "$@" > j2.jsonl
    vf -j 4 --out-dir j4 "$@" > j4.jsonl
    [ "$(lines j1.jsonl)" -eq 10 ]
    [ "$(sed 's#"j2/#"j1/#g' j2.jsonl)" = "$(cat j1.jsonl)" ]
    [ "$(sed 's#"j4/#"j1/#g' j4.jsonl)" = "$(cat j1.jsonl)" ]
    diff -r j1 j2
    diff -r j1 j4
    [ "$(jqpy 'r["id"]' j4.jsonl | tr '\n' ' ')" = "long h264 one_frame vp9 rot_cw90 alpha_vp9 interlaced_h264 sar21 nodur mpeg4 " ]
    # with bad files among them (skip): the same records, reasons and counts
    set -- $(fx long.mp4 text.mp4 h264.mp4 empty.mp4 one_frame.mp4 unknown_codec.mp4 vp9.webm)
    st1=0 st4=0
    vf -v --on-error=skip --out-dir s1 "$@" > s1.jsonl 2> s1.err || st1=$?
    vf -v -j 4 --on-error=skip --out-dir s4 "$@" > s4.jsonl 2> s4.err || st4=$?
    [ "$st1 $st4" = "1 1" ]
    [ "$(sed 's#"s4/#"s1/#g' s4.jsonl)" = "$(cat s1.jsonl)" ]
    cmp s1.err s4.err
    # fail mode: the records before the first bad file, nothing after it
    st=0
    vf -j 4 --out-dir f4 "$@" > f4.jsonl 2> f4.err || st=$?
    [ "$st" -eq 65 ]
    [ "$(jqpy 'r["id"]' f4.jsonl | tr '\n' ' ')" = "long " ]
    grep -q "^video-frames: $VFIX/text.mp4: " f4.err
}

@test "-j 4: a duplicate id that finishes first does not take the frames of the first one" {
    printf '%s\n' '{"id":"d","video":"long.mp4"}' '{"id":"d","video":"one_frame.mp4"}' '{"id":"e","video":"h264.mp4"}' > dup.jsonl
    vf_st -j 4 --on-error=skip -n 8 --video-dir "$VFIX" --out-dir out dup.jsonl
    cat err
    [ "$st" -eq 1 ]
    [ "$(jqpy 'r["id"] + " " + r["video"].rsplit("/", 1)[-1]' | tr '\n' ',')" = "d long.mp4,e h264.mp4," ]
    grep -q "^video-frames: dup.jsonl:2: .*duplicate" err
    run_check out.jsonl --out-dir out
}

# ---------------------------------------------------------------- JSONL input

@test "JSONL input: video paths under --video-dir, ids, meta and src kept, stdin" {
    cat > list.jsonl <<'EOF'
{"id":"clip-a","video":"h264.mp4","meta":{"lang":"ko","n":1}}

{"video":"rot_cw90.mp4","extra":[1,2]}
{"id":"clip-c","video":"vp9.webm"}
EOF
    vf_st -v --video-dir "$VFIX" --out-dir out list.jsonl
    cat err
    [ "$st" -eq 0 ]
    run jqpy 'r["id"], r.get("meta"), r["src"], r.get("extra")'
    [ "${lines[0]}" = "clip-a {'lang': 'ko', 'n': 1} {'file': 'list.jsonl', 'line': 1} None" ]
    [ "${lines[1]}" = "rot_cw90 None {'file': 'list.jsonl', 'line': 3} [1, 2]" ] ||
        [ "${lines[1]}" = "rot_cw90 None {'file': 'list.jsonl', 'line': 3} None" ]
    [ "${lines[2]}" = "clip-c None {'file': 'list.jsonl', 'line': 4} None" ]
    [ -f out/clip-a/7.jpg ] && [ -f out/rot_cw90/7.jpg ] && [ -f out/clip-c/7.jpg ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "3 3 0 0" ]
    run_check out.jsonl --out-dir out
    if have_jsonschema; then
        "$PY" "$ROOT/tests/schema/validate.py" "$ROOT/schemas/video-sample.schema.json" out.jsonl
    fi
    # the same from stdin, with a BOM and CRLF; and with '-'
    printf '\xef\xbb\xbf{"id":"s1","video":"h264.mp4"}\r\n{"id":"s2","video":"sar21.mp4"}\r\n' > crlf.jsonl
    vf --video-dir "$VFIX" --out-dir s < crlf.jsonl > stdin.jsonl
    [ "$(jqpy 'r["id"], r["src"]["file"], r["src"]["line"]' stdin.jsonl | tr '\n' ' ')" = "s1 <stdin> 1 s2 <stdin> 2 " ]
    vf --video-dir "$VFIX" --out-dir s2 - < crlf.jsonl > dash.jsonl
    [ "$(jqpy 'r["id"]' dash.jsonl | tr '\n' ' ')" = "s1 s2 " ]
    # a relative path without --video-dir is relative to the current directory
    mkdir v && cp "$VFIX/h264.mp4" v/x.mp4
    echo '{"id":"rel","video":"v/x.mp4"}' | vf --out-dir r > rel.jsonl
    [ "$(jqpy 'r["id"], len(r["frames"])' rel.jsonl | tr '\n' ' ')" = "rel 8 " ]
}

@test "ids from file names: Korean, spaces, several dots; no records is no error" {
    cp "$VFIX/h264.mp4" "영상 1.mp4"
    cp "$VFIX/vp9.webm" "clip.v2.webm"
    vf_st -v --out-dir out "영상 1.mp4" clip.v2.webm
    cat err
    [ "$st" -eq 0 ]
    [ "$(jqpy 'r["id"] + "|" + r["video"]' | tr '\n' '|')" = "영상 1|영상 1.mp4|clip.v2|clip.v2.webm|" ]
    [ -f "out/영상 1/7.jpg" ] && [ -f out/clip.v2/7.jpg ]
    [ "$(jqpy 'r["frames"][0]["path"]' | head -1)" = "out/영상 1/0.jpg" ]
    run_check out.jsonl --out-dir out
    printf '\n\n' | vf_st -v --out-dir e
    [ "$st" -eq 0 ]
    [ ! -s out.jsonl ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "0 0 0 0" ]
    # a list file (*.jsonl, *.ndjson) with no records, empty or blank lines only
    : > empty.jsonl
    printf '\n\r\n' > blank.ndjson
    vf_st -v --out-dir e empty.jsonl blank.ndjson
    cat err
    [ "$st" -eq 0 ]
    [ ! -s out.jsonl ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "0 0 0 0" ]
}

@test "--id-field and --video-field take nested paths" {
    printf '%s\n' '{"clip":{"file":"h264.mp4","key":"k1"}}' '{"clip":{"file":"vp8.webm","key":"k2"}}' > l.jsonl
    vf_st --id-field clip.key --video-field clip.file --video-dir "$VFIX" --out-dir out l.jsonl
    cat err
    [ "$st" -eq 0 ]
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "k1 k2 " ]
    [ -f out/k1/0.jpg ] && [ -f out/k2/0.jpg ]
    run_check out.jsonl --out-dir out
}

@test "duplicate ids are rejected (JSONL and same-named files), the first one kept" {
    printf '%s\n' '{"id":"d","video":"h264.mp4"}' '{"id":"d","video":"vp9.webm"}' '{"id":"e","video":"vp8.webm"}' > dup.jsonl
    vf_st -v --on-error=skip --video-dir "$VFIX" --out-dir out dup.jsonl
    cat err
    [ "$st" -eq 1 ]
    [ "$(jqpy 'r["id"], r["video"].rsplit("/", 1)[-1]' | tr '\n' ' ')" = "d h264.mp4 e vp8.webm " ]
    grep -q "^video-frames: dup.jsonl:2: .*duplicate" err
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "3 2 1 0" ]
    # the first video's frames were not overwritten
    run finfo out/d/7.jpg
    [[ $output == *" frame=99 "* ]]
    vf_st --video-dir "$VFIX" --out-dir out2 dup.jsonl
    [ "$st" -eq 65 ]
    mkdir a b && cp "$VFIX/h264.mp4" a/x.mp4 && cp "$VFIX/vp9.webm" b/x.mp4
    vf_st --on-error=skip --out-dir o3 a/x.mp4 b/x.mp4
    [ "$st" -eq 1 ]
    [ "$(lines out.jsonl)" -eq 1 ]
    grep -q "^video-frames: b/x.mp4: .*duplicate" err
}

@test "an id cannot write outside --out-dir" {
    mkdir work && cd work
    printf '%s\n' '{"id":"../escape","video":"h264.mp4"}' '{"id":"/tmp/abs","video":"h264.mp4"}' '{"id":"a/b","video":"h264.mp4"}' > l.jsonl
    st=0
    vf --on-error=skip --video-dir "$VFIX" --out-dir out l.jsonl > o.jsonl 2> err || st=$?
    cat err
    [ "$st" -eq 0 ] || [ "$st" -eq 1 ]
    [ ! -e ../escape ] && [ ! -e /tmp/abs/0.jpg ] && [ ! -e out/../escape ]
    # every frame written is under out/
    [ -z "$(find .. -name '*.jpg' | grep -v '^\.\./work/out/')" ]
    while read -r p; do
        case "$p" in out/*) ;; *) echo "frame outside out/: $p"; false ;; esac
        [[ $p != *..* ]]
    done < <(jqpy '"\n".join(f["path"] for f in r["frames"])' o.jsonl)
    # a number as id is the id's text (the schema wants a string)
    echo '{"id":7,"video":"h264.mp4"}' | vf --video-dir "$VFIX" --out-dir out > n.jsonl
    [ "$(jqpy 'repr(r["id"])' n.jsonl)" = "'7'" ]
    [ -f out/7/0.jpg ]
}

# ---------------------------------------------------------------- bad input

@test "bad files under --on-error=skip: one reason each, the rest processed, counts add up" {
    bad=(truncated.mp4 audio_only.m4a pcm_only.wav empty.mp4 text.mp4 random.mp4 unknown_codec.mp4)
    args=("$VFIX/h264.mp4")
    for b in "${bad[@]}"; do args+=("$VFIX/$b"); done
    args+=("$T/missing.mp4" "$VFIX/vp8.webm")
    vf_st -v --on-error=skip --rejects rej.txt --out-dir out "${args[@]}"
    cat err
    [ "$st" -eq 1 ]
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "h264 vp8 " ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "10 2 8 0" ]
    for b in "${bad[@]}"; do
        [ "$(grep -c "^video-frames: $VFIX/$b: ..*" err)" -eq 1 ] || { echo "no single reason for $b"; false; }
    done
    grep -Eq "^video-frames: $T/missing.mp4: .*(No such file|not found|does not exist|cannot open)" err
    grep -iq "^video-frames: $VFIX/audio_only.m4a: .*no video stream" err
    grep -iq "^video-frames: $VFIX/pcm_only.wav: .*no video stream" err
    grep -iq "^video-frames: $VFIX/empty.mp4: .*empty" err
    grep -iq "^video-frames: $VFIX/unknown_codec.mp4: .*codec" err
    grep -iq "^video-frames: $VFIX/text.mp4: .*not a video" err
    grep -iq "^video-frames: $VFIX/random.mp4: .*not a video" err
    # --rejects: the paths, and a reason per path in FILE.why
    [ "$(lines rej.txt)" -eq 8 ]
    grep -qxF "$VFIX/truncated.mp4" rej.txt
    grep -qxF "$T/missing.mp4" rej.txt
    [ "$(lines rej.txt.why)" -eq 8 ]
    run jqpy 'bool(r["reason"]) and "src" in r and "line" in r' rej.txt.why
    [[ $output != *False* ]]
    # no frames for the rejected
    [ ! -e out/empty ] || [ -z "$(ls -A out/empty)" ]
    [ ! -e out/unknown_codec ] || [ -z "$(ls -A out/unknown_codec)" ]
}

@test "--on-error=fail (default): exit 65 at the first bad file, nothing after it" {
    vf_st --out-dir out "$VFIX/h264.mp4" "$VFIX/text.mp4" "$VFIX/vp8.webm"
    cat err
    [ "$st" -eq 65 ]
    grep -q "^video-frames: $VFIX/text.mp4: " err
    [ "$(jqpy 'r["id"]' | grep -c vp8)" -eq 0 ]
    [ ! -e out/vp8 ]
    vf_st --out-dir out2 "$T/nothere.mp4"
    [ "$st" -eq 65 ]
    grep -q "^video-frames: $T/nothere.mp4: " err
}

@test "bad JSONL records: file:line reasons, --rejects keeps the lines; a missing list is 66" {
    cat > l.jsonl <<'EOF'
{"id":"ok1","video":"h264.mp4"}
{"id":"broken", "video":
{"id":"novideo"}
{"id":"gone","video":"no-such-file.mp4"}
{"id":"empty","video":"empty.mp4"}
{"id":"ok2","video":"vp9.webm"}
EOF
    vf_st -v --on-error=skip --rejects rej.jsonl --video-dir "$VFIX" --out-dir out l.jsonl
    cat err
    [ "$st" -eq 1 ]
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "ok1 ok2 " ]
    for n in 2 3 4 5; do grep -q "^video-frames: l.jsonl:$n: " err; done
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "6 2 4 0" ]
    [ "$(cat rej.jsonl)" = "$(sed -n 2,5p l.jsonl)" ]
    [ "$(jqpy 'r["line"]' rej.jsonl.why | tr '\n' ' ')" = "2 3 4 5 " ]
    vf_st --video-dir "$VFIX" --out-dir out2 l.jsonl
    [ "$st" -eq 65 ]
    # a list that does not exist: "an input JSONL file missing" is 66
    vf_st --out-dir out3 nolist.jsonl
    cat err
    [ "$st" -eq 66 ]
}

@test "-o FILE; an output that cannot be created is 73" {
    vf_st -o rec.jsonl --out-dir out "$VFIX/h264.mp4"
    [ "$st" -eq 0 ]
    [ ! -s out.jsonl ]
    [ "$(lines rec.jsonl)" -eq 1 ]
    vf_st -o /nonexistent/dir/rec.jsonl --out-dir out "$VFIX/h264.mp4"
    [ "$st" -eq 73 ]
}

@test "usage errors exit 2 with a message; --help and --version exit 0" {
    run vf --help
    [ "$status" -eq 0 ]
    [[ $output == *"--out-dir"* ]]
    run vf --version
    [ "$status" -eq 0 ]
    [ -n "$output" ]
    for a in "-n 0" "-n -3" "-n x" "-n 8x" "--fps 0" "--fps -1" "--fps abc" "--max-frames 0" \
             "--scene-threshold 2" "--scene-threshold -0.1" "--max-side 0" "--max-side 10x" \
             "--format gif" "--quality 0" "--quality 101" "--background 12345" "--background gg0000" \
             "-j 0" "--on-error maybe" "--min-res 640" "--min-res 0x360" "--min-duration x" \
             "--scenes -2" "--no-such-option"; do
        st=0
        vf $a --out-dir out "$VFIX/h264.mp4" > o 2> e || st=$?
        [ "$st" -eq 2 ] || { echo "$a: exit $st"; false; }
        [ -s e ] && [ ! -s o ] || { echo "$a: no message or some output"; false; }
        grep -q '^video-frames: ' e || { echo "$a: $(cat e)"; false; }
    done
    st=0
    vf "$VFIX/h264.mp4" > o 2> e || st=$?
    [ "$st" -eq 2 ]
    grep -q -- "--out-dir" e
    [ ! -e out ]
}

# ---------------------------------------------------------------- FineVideo

# meta FILE [DURATION] [RES]: small FineVideo-like metadata.
meta() {
    "$PY" - "$1" "${2:-4}" "${3:-320x240}" <<'EOF'
import json, sys
m = {"duration_seconds": float(sys.argv[2]), "resolution": sys.argv[3], "youtube_title": "YT fallback",
     "content_metadata": {
         "title": "  Test pattern clip ", "description": "Cells flip\nevery frame.",
         "scenes": [
             {"sceneId": 1, "title": "Opening",
              "timestamps": {"start_timestamp": "00:00:00.000", "end_timestamp": "00:00:02.500"},
              "activities": [
                  {"description": "The grid counts up.",
                   "timestamp": {"start_timestamp": "00:00:00.500", "end_timestamp": "00:00:01.000"}},
                  {"description": "", "timestamp": {"start_timestamp": "00:00:01.000"}},
                  {"description": "No time here."}]},
             {"sceneId": 2, "title": "Ending",
              "timestamps": {"start_timestamp": "00:00:02.500", "end_timestamp": "00:01:05.000"},
              "activities": [{"description": "The squares stay put.",
                              "timestamp": {"start_timestamp": "00:00:03.000"}}]}],
         "qAndA": [{"question": "Which corner is red?", "answer": "The top-left one."},
                   {"question": "", "answer": "left out"}]}}
json.dump(m, open(sys.argv[1], "w"), ensure_ascii=False)
EOF
}

# msgcheck FILE [N_SCENES] [QA] [PROMPT]: the messages of every record in FILE.
msgcheck() {
    "$PY" - "$@" <<'EOF'
import json, sys
path = sys.argv[1]
nsc = int(sys.argv[2]) if len(sys.argv) > 2 else -1
qa = len(sys.argv) > 3 and sys.argv[3] == "qa"
prompt = sys.argv[4] if len(sys.argv) > 4 else "이 비디오에 대해 설명해주세요."
blocks = ["Test pattern clip", "Cells flip\nevery frame.",
          "Scene 1 (00:00\u201300:02): Opening\n- [00:00] The grid counts up.\n- No time here.",
          "Scene 2 (00:02\u201301:05): Ending\n- [00:03] The squares stay put."]
want_text = "\n\n".join(blocks[:2] + (blocks[2:] if nsc < 0 else blocks[2:2 + nsc]))
n = 0
for line in open(path, encoding="utf-8"):
    r = json.loads(line)
    msgs = r["messages"]
    user = msgs[0]
    assert user["role"] == "user", user
    parts = user["content"]
    want = [{"type": "image", "path": f["path"]} for f in r["frames"]] + [{"type": "text", "text": prompt}]
    assert parts == want, (parts, want)
    assert msgs[1] == {"role": "assistant", "content": want_text}, (msgs[1], want_text)
    rest = msgs[2:]
    if qa:
        assert rest == [{"role": "user", "content": "Which corner is red?"},
                        {"role": "assistant", "content": "The top-left one."}], rest
    else:
        assert rest == [], rest
    n += 1
assert n > 0
print("%d records: messages as expected" % n)
EOF
}

@test "FineVideo metadata in a JSONL record's json field: messages with the frames and the prompt" {
    meta m.json
    "$PY" -c 'import json, sys
m = json.load(open("m.json"))
for i, v in (("a", "h264.mp4"), ("b", "rot_cw90.mp4")):
    print(json.dumps({"id": i, "video": v, "json": m}, ensure_ascii=False))' > fv.jsonl
    vf_st --video-dir "$VFIX" --out-dir out fv.jsonl
    cat err
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl
    echo "$output"
    [ "$status" -eq 0 ]
    run_check out.jsonl --out-dir out
    if have_jsonschema; then
        "$PY" "$ROOT/tests/schema/validate.py" "$ROOT/schemas/video-sample.schema.json" out.jsonl
    fi
    vf_st --scenes 1 --video-dir "$VFIX" --out-dir o1 fv.jsonl
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl 1
    echo "$output"
    [ "$status" -eq 0 ]
    vf_st --scenes 0 --qa --video-dir "$VFIX" --out-dir o0 fv.jsonl
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl 0 qa
    echo "$output"
    [ "$status" -eq 0 ]
    vf_st --qa --prompt "Describe the video." -n 3 --video-dir "$VFIX" --out-dir op fv.jsonl
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl -1 qa "Describe the video."
    echo "$output"
    [ "$status" -eq 0 ]
    vf_st --no-messages --video-dir "$VFIX" --out-dir on fv.jsonl
    [ "$st" -eq 0 ]
    [ "$(jqpy '"messages" in r' | sort -u)" = False ]
    # another field
    sed 's/"json":/"fv":/' fv.jsonl > fv2.jsonl
    vf_st --meta-field fv --video-dir "$VFIX" --out-dir of fv2.jsonl
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl
    [ "$status" -eq 0 ]
}

@test "--meta FILE with {id} for video files; bad metadata is a rejected record" {
    mkdir meta
    meta meta/h264.json
    meta meta/vp9.json
    vf_st --meta 'meta/{id}.json' --out-dir out "$VFIX/h264.mp4" "$VFIX/vp9.webm"
    cat err
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl
    echo "$output"
    [ "$status" -eq 0 ]
    # one file for all
    vf_st --meta meta/h264.json --out-dir o2 "$VFIX/h264.mp4" "$VFIX/vp8.webm"
    [ "$st" -eq 0 ]
    run msgcheck out.jsonl
    [ "$status" -eq 0 ]
    # a field of the wrong type names its path
    echo '{"content_metadata":{"title":"t","scenes":[{"title":5}]}}' > meta/vp8.json
    vf_st -v --on-error=skip --meta 'meta/{id}.json' --out-dir o3 "$VFIX/h264.mp4" "$VFIX/vp8.webm"
    cat err
    [ "$st" -eq 1 ]
    grep -q "^video-frames: $VFIX/vp8.webm: .*scenes\[0\]\.title" err
    [ "$(jqpy 'r["id"]')" = h264 ]
}

@test "filters on the metadata's duration and resolution, else on the video's; counted as filtered" {
    meta short.json 4 320x240
    meta long.json 100 1280x720
    "$PY" -c 'import json
s, l = json.load(open("short.json")), json.load(open("long.json"))
rows = [("s", "h264.mp4", s), ("l", "h264.mp4", l), ("n", "long.mp4", None), ("r", "rot_cw90.mp4", None)]
for i, v, m in rows:
    r = {"id": i, "video": v}
    if m: r["json"] = m
    print(json.dumps(r))' > in.jsonl
    vf_st -v --min-duration 10 --video-dir "$VFIX" --out-dir a in.jsonl
    cat err
    [ "$st" -eq 0 ]
    # s: 4 s in the metadata; l: 100 s in the metadata (the video is 4 s); n: 20 s video; r: 2 s video
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "l n " ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "4 2 0 2" ]
    vf_st -v --max-duration 10 --video-dir "$VFIX" --out-dir b in.jsonl
    [ "$st" -eq 0 ]
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "s r " ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "4 2 0 2" ]
    vf_st -v --min-res 300x300 --video-dir "$VFIX" --out-dir c in.jsonl
    [ "$st" -eq 0 ]
    # s: 320x240 (meta); l: 1280x720 (meta); n: 160x120; r: 240x320
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "l " ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "4 1 0 3" ]
    vf_st -v --min-res 240x320 --video-dir "$VFIX" --out-dir d in.jsonl
    [ "$(jqpy 'r["id"]' | tr '\n' ' ')" = "l r " ]
    vf_st -v --min-duration 1 --max-duration 30 --min-res 100x100 --on-error=skip --video-dir "$VFIX" \
        --out-dir e in.jsonl "$VFIX/text.mp4"
    [ "$st" -eq 1 ]
    counts "$(cat err)"
    [ "$IN $OUT $REJ $FILT" = "5 3 1 1" ]
}

@test "the FineVideo dataset card's example record as --meta" {
    card=$ROOT/../shared/external/finevideo/dataset_card_example_record.json
    [ -f "$card" ] || skip "$card not found (third-party file, not in the repository)"
    vf_st --meta "$card" --out-dir out "$VFIX/h264.mp4"
    cat err
    [ "$st" -eq 0 ]
    "$PY" - "$card" <<'EOF'
import json, sys
card = json.load(open(sys.argv[1]))
r = json.loads(open("out.jsonl").readline())
u, a = r["messages"][0], r["messages"][1]
assert u["role"] == "user" and a["role"] == "assistant"
assert u["content"][:-1] == [{"type": "image", "path": f["path"]} for f in r["frames"]]
assert u["content"][-1] == {"type": "text", "text": "이 비디오에 대해 설명해주세요."}
cm = card["content_metadata"]
text = a["content"]
assert text.startswith(cm["title"].strip() + "\n\n" + cm["description"].strip() + "\n\nScene 1 ("), "start"
sc = cm["scenes"][0]
assert "Scene 1 (00:00\u201300:28): " + sc["title"].strip() in text, "scene header"
assert "- [00:00] " + sc["activities"][0]["description"].strip() in text, "activity"
assert len(r["messages"]) == 2
EOF
    if have_jsonschema; then
        "$PY" "$ROOT/tests/schema/validate.py" "$ROOT/schemas/video-sample.schema.json" out.jsonl
    fi
    # its duration (208 s) and resolution (640x360) are the ones filtered on
    vf_st -v --min-duration 300 --meta "$card" --out-dir o2 "$VFIX/h264.mp4"
    [ "$st" -eq 0 ]
    [ ! -s out.jsonl ]
    counts "$(cat err)"
    [ "$FILT" -eq 1 ]
    vf_st -v --min-res 640x360 --meta "$card" --out-dir o3 "$VFIX/h264.mp4"
    [ "$(lines out.jsonl)" -eq 1 ]
}
