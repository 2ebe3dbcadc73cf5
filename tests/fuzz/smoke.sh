#!/bin/sh
# TAP: a short run of one fuzz target from its seed corpus.
#   tests/fuzz/smoke.sh BUILD/fuzz/fuzz_NAME   (FUZZ_SMOKE_TIME seconds, default 20)
set -u
fuzzer=$1
name=$(basename "$fuzzer")
seeds=$(dirname "$0")/corpus/${name#fuzz_}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "1..1"
if "$fuzzer" -max_total_time="${FUZZ_SMOKE_TIME:-20}" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" "$seeds" >"$work/log" 2>&1; then
    echo "ok 1 - $name ran ${FUZZ_SMOKE_TIME:-20}s: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log" | sed 's/.*: //') inputs"
else
    echo "not ok 1 - $name found a failure"
    tail -40 "$work/log" | sed 's/^/# /'
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$a" ] && echo "# input (base64): $(base64 -w0 "$a")"
    done
fi
