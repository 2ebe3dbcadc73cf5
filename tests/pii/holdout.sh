#!/usr/bin/env bash
# Measures pii-mask on the independent hold-out corpus (fixtures/pii-holdout,
# made by fixtures/gen-pii-holdout.py, which was written without sight of
# the detectors): recall per type and false positives per 10,000 words.
# A measurement for notes and tuning, not a test: it prints the figures.
#
#   tests/pii/holdout.sh BIN_DIR
set -eu
bin=${1:?usage: tests/pii/holdout.sh BIN_DIR}
cd "$(dirname "$0")/../.."
dir=fixtures/pii-holdout
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for c in pii chat clean; do
    args=(--field text)
    [ $c = pii ] && args+=(--names "$dir/names.txt")
    echo "== $dir/$c.jsonl: pii-mask ${args[*]}"
    "$bin/pii-mask" "${args[@]}" --report "$work/$c.json" --spans "$dir/$c.jsonl" > "$work/$c.out"
    /usr/bin/python3 tests/pii/score.py "$dir/$c.jsonl" "$work/$c.json" | grep -v '^missed'
done
