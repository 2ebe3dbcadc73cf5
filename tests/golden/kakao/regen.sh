#!/usr/bin/env bash
# Regenerates the kakao-parse golden outputs in tests/golden/kakao/.
#
#   make && tests/golden/kakao/regen.sh        (KAKAO_PARSE=... to use another binary)
#
# Run it ONLY when kakao-parse's output is meant to change (a new field, a
# fixed bug, a new fixture), then review every line of `git diff
# tests/golden/kakao` against fixtures/kakao/EXPECTED.md and the semantics
# in lib/kakao/emit.h before committing: these files are what
# tests/cli/kakao-parse.bats holds the program to, byte for byte.
#
# What it writes (always from the repository root, with relative input paths
# fixtures/kakao/FILE, so that src.file is stable; --chat is never given):
#   NAME.messages.jsonl          --me 정민준, for every fixture export that
#                                parses (exit 0); NAME is the file name
#                                without its extension
#   android_ko.pairs.jsonl               --emit pairs --me 정민준 --context 2
#   android_ko.conversations.jsonl       --emit conversations --me 정민준
#   csv_ko.conversations.gap30m.jsonl    --emit conversations --me 정민준 --gap 30m
#   ios_en.pairs.keep-media.jsonl        --emit pairs --me 정민준 --keep-media
#   windows_ko.conversations.minmax.jsonl
#                                --emit conversations --me 정민준 --min-chars 20 --max-chars 400
# Fixtures that are no export (exit 65: garbage.txt, binary.bin, empty.txt)
# get no golden; the script lists them. Keep the emit list above in step
# with EMIT_GOLDENS in tests/cli/kakao-parse.bats.
set -euo pipefail
cd "$(dirname "$0")/../../.."
KP=${KAKAO_PARSE:-build/bin/kakao-parse}
OUT=tests/golden/kakao
FIX=fixtures/kakao
[ -x "$KP" ] || { echo "regen.sh: $KP not found; run make first" >&2; exit 1; }
export LC_ALL=C

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$FIX"/*; do
    name=$(basename "$f")
    case $name in *.md) continue ;; esac
    st=0
    "$KP" --me 정민준 "$f" > "$tmp/${name%.*}.messages.jsonl" 2> "$tmp/err" || st=$?
    if [ "$st" -eq 0 ]; then
        [ -s "$tmp/err" ] && sed "s/^/  ($name) /" "$tmp/err" >&2
    else
        rm -f "$tmp/${name%.*}.messages.jsonl"
        echo "regen.sh: no golden for $name (exit $st: $(head -1 "$tmp/err"))" >&2
    fi
done

emit() { # emit GOLDEN FIXTURE OPTION...
    local golden=$1 fixture=$2
    shift 2
    "$KP" "$@" "$FIX/$fixture" > "$tmp/$golden"
}
emit android_ko.pairs.jsonl android_ko.txt --emit pairs --me 정민준 --context 2
emit android_ko.conversations.jsonl android_ko.txt --emit conversations --me 정민준
emit csv_ko.conversations.gap30m.jsonl csv_ko.csv --emit conversations --me 정민준 --gap 30m
emit ios_en.pairs.keep-media.jsonl ios_en.txt --emit pairs --me 정민준 --keep-media
emit windows_ko.conversations.minmax.jsonl windows_ko.txt --emit conversations --me 정민준 --min-chars 20 --max-chars 400

rm -f "$OUT"/*.jsonl
cp "$tmp"/*.jsonl "$OUT"/
echo "regen.sh: wrote $(ls "$tmp"/*.jsonl | wc -l) goldens to $OUT; now review: git diff --stat $OUT" >&2
