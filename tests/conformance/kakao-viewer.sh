#!/usr/bin/env bash
# Conformance: kakao-parse against the kakaotalk-viewer parser tests.
#
#   tests/conformance/kakao-viewer.sh BIN_DIR
#
# Reads ../shared/external/kakaotalk/kakaotalk-viewer/parser-tests/
# (relative to the repository root; third-party vitest files, never copied
# into the repository) and runs each of their tests with
# tests/conformance/kakao_viewer.mjs, which puts kakao-parse behind the
# viewer's parser functions. Prints TAP, one result per vitest test; known,
# documented differences are listed (with their reasons) in kakao_viewer.mjs.
# Without the material directory it prints a single skipped test. Needs
# node (v18 or later, no packages).
set -u
bin=${1:?usage: tests/conformance/kakao-viewer.sh BIN_DIR}
bin=$(cd "$bin" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BIN_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.."
ext=../shared/external/kakaotalk
dir=$ext/kakaotalk-viewer/parser-tests

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
if ! command -v node >/dev/null 2>&1; then
    echo "1..1"
    echo "ok 1 - # SKIP node not installed"
    exit 0
fi
if [ ! -x "$bin/kakao-parse" ]; then
    echo "1..1"
    echo "not ok 1 - $bin/kakao-parse not found or not executable"
    exit 1
fi
exec node tests/conformance/kakao_viewer.mjs "$bin" "$dir"
