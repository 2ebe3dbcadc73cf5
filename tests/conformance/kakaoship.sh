#!/usr/bin/env bash
# Conformance: one group chat exported eight ways must parse to the same chat.
#
#   tests/conformance/kakaoship.sh BIN_DIR
#
# Reads ../shared/external/kakaotalk/kakaoship/ (relative to the repository
# root; third-party material, never copied into the repository): the same
# chat exported by KakaoTalk for Android, iOS, Mac (CSV) and Windows, each in
# the English and the Korean UI. The Android files come from the phone of
# 김민기 (you / 회원님), the iOS files from that of 수ㅈ (You / 회원님), so
# kakao-parse gets --me 김민기 and --me 수ㅈ for them; the Mac and Windows
# files use plain names. Prints TAP (tests/conformance/kakao_compare.py does
# the comparisons): each export parses quietly; each pair of exports agrees,
# minute by minute, where their time ranges overlap; photo placeholders line
# up across formats. Without the material directory it prints a single
# skipped test.
set -u
bin=${1:?usage: tests/conformance/kakaoship.sh BIN_DIR}
bin=$(cd "$bin" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BIN_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.."
here=$PWD
ext=../shared/external/kakaotalk
dir=$ext/kakaoship

if [ ! -d "$ext" ]; then
    echo "1..1"
    echo "ok 1 - # SKIP $ext not present"
    exit 0
fi
if [ ! -d "$dir" ]; then
    echo "1..1"
    echo "ok 1 - # SKIP $dir not present"
    exit 0
fi
if [ ! -x "$bin/kakao-parse" ]; then
    echo "1..1"
    echo "not ok 1 - $bin/kakao-parse not found or not executable"
    exit 1
fi

files=(android_en.txt android_kr.txt ios_en.txt ios_kr.txt mac_en.csv mac_kr.csv windows_en.txt windows_kr.txt)
work=$(mktemp -d "${TMPDIR:-/tmp}/kakaoship.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

for f in "${files[@]}"; do
    case $f in
        android_*) me=(--me 김민기) ;;
        ios_*) me=(--me 수ㅈ) ;;
        *) me=() ;;
    esac
    if [ -f "$dir/$f" ]; then
        "$bin/kakao-parse" --no-progress "${me[@]}" "$dir/$f" >"$work/$f.jsonl" 2>"$work/$f.err"
        echo $? >"$work/$f.rc"
    else
        : >"$work/$f.jsonl"
        echo "$dir/$f is missing" >"$work/$f.err"
        echo missing >"$work/$f.rc"
    fi
done

/usr/bin/python3 "$here/tests/conformance/kakao_compare.py" "$work" "${files[@]}"
