#!/bin/sh
# Makes the seed corpus of fuzz_video (tests/fuzz/corpus/video/): tiny
# synthetic videos in the containers and codecs video-frames meets, most
# under the smoke run's 4096-byte input limit (AVI's headers alone are
# larger: libFuzzer cuts that seed, which makes it a truncated file).
# Needs the ffmpeg CLI.
#   tests/fuzz/gen-seeds-video.sh [OUTDIR]
set -eu
out=${1:-$(dirname "$0")/corpus/video}
mkdir -p "$out"
ff() { ffmpeg -hide_banner -loglevel error -y -fflags +bitexact "$@"; }
src="-f lavfi -i testsrc=size=32x24:rate=10:duration=0.5"
# shellcheck disable=SC2086
{
ff $src -c:v libx264 -preset ultrafast -g 3 -bf 1 -flags +bitexact -movflags +faststart "$out/h264.mp4"
ff $src -c:v libvpx -b:v 20k -g 3 -flags +bitexact -f webm "$out/vp8.webm"
ff $src -c:v libvpx-vp9 -b:v 20k -g 3 -flags +bitexact -f webm "$out/vp9.webm"
ff $src -c:v mpeg4 -q:v 31 -g 3 -bf 1 -frames:v 3 -flags +bitexact -f avi "$out/mpeg4.avi"
ff $src -c:v mpeg2video -q:v 31 -g 3 -frames:v 3 -flags +bitexact -f mpegts "$out/mpeg2.ts"
ff $src -c:v mjpeg -q:v 31 -flags +bitexact -f matroska "$out/mjpeg.mkv"
ff $src -c:v png -pix_fmt rgba -frames:v 2 -flags +bitexact -f mov "$out/png-alpha.mov"
ff $src -c:v libx264 -preset ultrafast -g 3 -flags +bitexact -metadata:s:v:0 rotate=90 -f mp4 "$out/rotated.mp4"
ff $src -c:v gif -frames:v 3 -flags +bitexact -f gif "$out/anim.gif"
ff $src -c:v libvpx -b:v 20k -g 3 -flags +bitexact -f webm pipe:1 > "$out/noduration.webm"
}
for f in "$out"/*; do
    n=$(wc -c < "$f")
    [ "$n" -le 8192 ] || { echo "gen-seeds-video: $f is $n bytes (over 8192)" >&2; exit 1; }
done
