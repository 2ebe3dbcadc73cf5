#!/usr/bin/env bash
# qa-bench.sh BUILD_DIR — the `make bench-qa` benchmark of qa-gen.
#
# Against tests/net/fake_openai.py on 127.0.0.1 answering every request in
# 0.5 s (FAKE_DELAY), with QA_BENCH_N source records (default 1000) of one
# item each (--plan basic:3, one language):
#   a) qa-gen -j 32: wall clock of the whole run (reading, 1000 requests,
#      parsing, writing) against the ideal N x 0.5 s / 32
#   b) the approach it replaces (tests/bench/qa_baseline.py: one request at
#      a time, time.sleep(1) after each, a new connection each time) on the
#      first QA_BENCH_BASE_N requests (default 40; all 1000 would take 25
#      minutes): its requests per second, measured in the same run
# and checks the output: N x 3 records, every id once.
#
# Targets (exit 1 when one fails):
#   qa-gen -j 32 wall clock <= 1.3 x the ideal          (SFT_BENCH_MAX_IDEAL_RATIO)
#   qa-gen requests/s >= 25 x the baseline's requests/s  (SFT_BENCH_MIN_QA_SPEEDUP)
set -u
prog=qa-bench
build=${1:?usage: qa-bench.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
n=${QA_BENCH_N:-1000}
base_n=${QA_BENCH_BASE_N:-40}
max_ratio=${SFT_BENCH_MAX_IDEAL_RATIO:-1.3}
min_speedup=${SFT_BENCH_MIN_QA_SPEEDUP:-25}
command -v python3 >/dev/null || { echo "$prog: python3 is needed for the fake server" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
FAKE_DELAY=0.5 python3 tests/net/fake_openai.py > "$tmp/port" 2> "$tmp/server.err" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(head -1 "$tmp/port")
[ -n "$port" ] || { echo "$prog: the fake server did not start" >&2; cat "$tmp/server.err" >&2; exit 2; }
mkdir "$tmp/p"
printf 'Write {{count}} question-answer pairs about building {{id}}: {{name}}.\n' > "$tmp/p/basic.txt"
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":\"b%05d\",\"name\":\"Building %d\"}\n", i, i }' > "$tmp/src.jsonl"

export OPENAI_API_KEY=sk-bench
t0=$EPOCHREALTIME
"$build/bin/qa-gen" --prompt-dir "$tmp/p" --plan basic:3 --api-base "http://127.0.0.1:$port/v1" -j 32 \
    -o "$tmp/qa.jsonl" "$tmp/src.jsonl" || { echo "$prog: qa-gen failed" >&2; exit 2; }
t1=$EPOCHREALTIME
ours=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
ideal=$(awk -v n="$n" 'BEGIN { printf "%.3f", n * 0.5 / 32 }')
records=$(wc -l < "$tmp/qa.jsonl")
unique=$(python3 -c 'import json, sys; print(len({json.loads(l)["id"] for l in open(sys.argv[1])}))' "$tmp/qa.jsonl")

"$build/bin/qa-gen" --prompt-dir "$tmp/p" --plan basic:3 --dry-run "$tmp/src.jsonl" > "$tmp/requests.jsonl"
read -r bn bsec brps < <(python3 tests/bench/qa_baseline.py "http://127.0.0.1:$port/v1/chat/completions" "$base_n" < "$tmp/requests.jsonl")
ours_rps=$(awk -v n="$n" -v s="$ours" 'BEGIN { printf "%.2f", n / s }')
speedup=$(awk -v a="$ours_rps" -v b="$brps" 'BEGIN { printf "%.1f", a / b }')

echo "qa-bench: fake OpenAI server on loopback answering in 0.5 s; $n requests"
printf '  qa-gen -j 32            %8.3f s  (ideal %.3f s: %.3fx)  %s requests/s\n' "$ours" "$ideal" \
    "$(awk -v a="$ours" -v b="$ideal" 'BEGIN { print a / b }')" "$ours_rps"
printf '  one at a time + sleep 1 %8.3f s for %d requests: %s requests/s\n' "$bsec" "$bn" "$brps"
printf '  speedup                 %8.1fx\n' "$speedup"
echo "  output: $records records, $unique distinct ids"
fails=0
check() { if awk "BEGIN { exit !($2) }"; then echo "bench: $1: PASS"; else echo "bench: $1: FAIL"; fails=$((fails + 1)); fi; }
check "every record once ($records = $unique = $((n * 3)))" "$records == $n * 3 && $unique == $n * 3"
check "wall clock <= $max_ratio x ideal" "$ours <= $max_ratio * $ideal"
check "requests/s >= $min_speedup x the one-at-a-time baseline" "$speedup >= $min_speedup"
[ $fails -eq 0 ] || exit 1
