#!/usr/bin/env bash
# tok-bench.sh BUILD_DIR [SIZE] — the `make bench` benchmark of tokcount.
#
# Generates (once, cached) SIZE bytes (default $TOK_BENCH_BYTES or 48M; K, M,
# G suffixes are powers of 1024) of a Korean + English chat corpus of
# {"text": ...} records with BUILD_DIR/bench/gen-tok-chat, then, with the
# input warm in the page cache, measures
#   a) tokcount --tokenizer qwen3/tokenizer.json --template none --field text
#      --ids -j 1 FILE, pinned to one CPU         (best of N, tokens/s, RSS)
#   b) Hugging Face tokenizers' Rust core (npm @anush008/tokenizers, through
#      tests/bench/tok_baseline.js) on the same texts, pinned to the same CPU,
#      with no Rayon pool: the encoding alone is timed, best of N passes
#   c) tokcount -j 2 on two CPUs                   (scaling over -j 1)
#   d) tokcount --tokenizer llama2_spm/tokenizer.model -j 1 and
#      BUILD_DIR/bench/spm_baseline (libsentencepiece's Encode, timed alone,
#      on the same texts, extracted once to a NUL-separated file)
#   e) tokcount on a one-line input: the time to load Qwen3's tokenizer.json
#      (the whole run, nothing subtracted)
#   f) tokcount --tokenizer qwen3/ (template auto) on SFT examples
#      (gen-tok-chat --sft, SIZE/8; for information)
# and compares the ids: every record's ids must equal the reference's (for
# Qwen3 and for Llama 2's SentencePiece model), and -j 2 must write the same
# bytes as -j 1.  tokcount's time is the whole run (loading the tokenizer,
# reading and parsing the JSONL, writing records with their ids to
# /dev/null); the baselines' is the encoding alone, so they are as strong as
# they can be.
#
# Targets (exit 1 when one fails):
#   Qwen3 ids identical to HF tokenizers' (0 records differ)
#   Llama 2 SentencePiece ids identical to libsentencepiece's
#   tokcount -j 1 tokens/s >= 2 x HF tokenizers' on one core (SFT_BENCH_MIN_SPEEDUP)
#   tokcount (SentencePiece) time <= 1.2 x libsentencepiece's (SFT_BENCH_MAX_SPM_RATIO)
#   -j 2 >= 1.5 x as fast as -j 1, the same output  (SFT_BENCH_MIN_SCALING; the
#   reading, JSON checking and writing stay on the main thread)
#   loading Qwen3's tokenizer.json <= 0.3 s         (SFT_BENCH_MAX_LOAD_S)
#
# Needs ../shared/external/ (relative to the repository root; third-party
# tokenizers, never copied into the repository): without it the benchmark
# says why and skips (exit 0).  The reference is installed when missing:
#   npm install --prefix BUILD_DIR/tokref @anush008/tokenizers@VERSION
# with VERSION from ../shared/external/reference/package.json
# (TOKREF_NODE_MODULES names an existing node_modules to use instead).
#
# Environment: TOK_BENCH_BYTES (default SIZE), SFT_BENCH_DIR (data cache,
# default BUILD_DIR/bench/data; the temporary outputs, about 8x the input,
# go to a directory under it), SFT_BENCH_REPS (runs per case, default 3),
# SFT_BENCH_CPU (default 0), SFT_BENCH_CPU2 (the second CPU for -j 2,
# default the next one), SFT_BENCH_SEED (generator seed, default 0).
#
# Exit status: 0 all targets met (or skipped), 1 a target or a correctness
# check failed, 2 usage or setup error (or a command that failed to run).

set -u -o pipefail
export LC_ALL=C

prog=tok-bench
. "$(dirname "$0")/bench-lib.sh"
usage() { echo "usage: $0 BUILD_DIR [SIZE]   (SIZE: bytes with K/M/G suffix, default \$TOK_BENCH_BYTES or 48M)" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$(cd "$1" 2>/dev/null && pwd) || die "BUILD_DIR $1 not found"
size=${2:-${TOK_BENCH_BYTES:-48M}}
reps=${SFT_BENCH_REPS:-3}
cpu=${SFT_BENCH_CPU:-0}
seed=${SFT_BENCH_SEED:-0}
min_speedup=${SFT_BENCH_MIN_SPEEDUP:-2}
max_spm_ratio=${SFT_BENCH_MAX_SPM_RATIO:-1.2}
min_scaling=${SFT_BENCH_MIN_SCALING:-1.5}
max_load_s=${SFT_BENCH_MAX_LOAD_S:-0.3}

[[ $reps =~ ^[1-9][0-9]?$ ]] || die "SFT_BENCH_REPS must be 1..99, not '$reps'"
[[ $cpu =~ ^[0-9]+$ ]] || die "SFT_BENCH_CPU must be a CPU number, not '$cpu'"
[[ $seed =~ ^[0-9]+$ ]] || die "SFT_BENCH_SEED must be an unsigned integer, not '$seed'"
for v in min_speedup max_spm_ratio min_scaling max_load_s; do
    [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad value '${!v}' for $v"
done

size_bytes "$size" $((64 << 10))

here=$(cd "$(dirname "$0")" && pwd) || die "cannot find the script's directory"
root=$(cd "$here/../.." && pwd)
ext=$root/../shared/external
qwen_dir=$ext/tokenizers/qwen3
qwen=$qwen_dir/tokenizer.json
llama=$ext/tokenizers/llama2_spm/tokenizer.model
refpkg=$ext/reference/package.json

# ---- third-party material: skip without it ---------------------------------
for f in "$qwen" "$llama" "$refpkg"; do
    if [ ! -f "$f" ]; then
        echo "$prog: SKIP: $f not present (the third-party tokenizers live in ../shared/external/, next to the repository; never copied into it)"
        exit 0
    fi
done

tc=$build/bin/tokcount
gen=$build/bench/gen-tok-chat
spm=$build/bench/spm_baseline
baseline=$here/tok_baseline.js
python=/usr/bin/python3
[ -x "$tc" ] || die "$tc not found: run 'make' first (this script builds nothing)"
[ -x "$gen" ] || die "$gen not found: run 'make bench-tok' (it builds it)"
[ -x "$spm" ] || die "$spm not found: run 'make bench-tok' (it builds it)"
[ -f "$baseline" ] || die "$baseline is missing"
[ -x "$python" ] || die "$python is missing (the comparisons need Python 3, stdlib only)"

# ---- tools --------------------------------------------------------------------
bench_tools awk wc df stat node cmp
cpu2=${SFT_BENCH_CPU2:-$((cpu + 1))}
[[ $cpu2 =~ ^[0-9]+$ ]] || die "SFT_BENCH_CPU2 must be a CPU number, not '$cpu2'"
pin2=()
if [ ${#pin[@]} -gt 0 ] && [ "$cpu2" != "$cpu" ] && taskset -c "$cpu,$cpu2" true 2>/dev/null; then
    pin2=(taskset -c "$cpu,$cpu2")
fi

# the reference: HF tokenizers' Rust core through npm, installed when missing
nm=${TOKREF_NODE_MODULES:-$build/tokref/node_modules}
if [ ! -f "$nm/@anush008/tokenizers/package.json" ]; then
    command -v npm >/dev/null || die "npm is missing (needed once to install the reference @anush008/tokenizers)"
    ver=$(node -p "require(process.argv[1]).dependencies['@anush008/tokenizers']" "$refpkg") ||
        die "cannot read the version of @anush008/tokenizers from $refpkg"
    echo "$prog: installing the reference: npm install --prefix $build/tokref @anush008/tokenizers@$ver"
    mkdir -p "$build/tokref" || die "cannot create $build/tokref"
    npm install --prefix "$build/tokref" --no-save --no-audit --no-fund "@anush008/tokenizers@$ver" >&2 ||
        die "npm install of @anush008/tokenizers@$ver failed"
    nm=$build/tokref/node_modules
    [ -f "$nm/@anush008/tokenizers/package.json" ] || die "npm install left no $nm/@anush008/tokenizers"
fi
refver=$(node -p "require(process.argv[1]).version" "$nm/@anush008/tokenizers/package.json") || refver=?

# ---- data (cached) --------------------------------------------------------------
datadir=${SFT_BENCH_DIR:-$build/bench/data}
mkdir -p "$datadir" || die "cannot create $datadir"
genver=$("$gen" --version) || die "$gen --version failed"

avail() { df -P -B1 "$datadir" | awk 'NR == 2 { print $4 }'; }

# gen_cached FILE BYTES [GEN-OPTION...]: makes FILE (seed $seed) unless a
# matching one is there; its stamp keeps the generator's counts (line 3)
gen_cached() {
    local file=$1 n=$2 stamp=$1.stamp want t0 t1 free
    shift 2
    want="$genver bytes=$n seed=$seed $*"
    if [ -f "$file" ] && [ -f "$stamp" ] &&
       [ "$(head -n 1 "$stamp")" = "$want" ] &&
       [ "$(sed -n 2p "$stamp")" = "size=$(stat -c %s "$file")" ]; then
        echo "$prog: using cached $file"
        return
    fi
    rm -f "$file" "$stamp"
    free=$(avail)
    (( free > n + n / 4 )) || die "not enough disk space in $datadir for the input ($free bytes free)"
    echo "$prog: generating $n bytes of JSONL into $file"
    t0=$EPOCHREALTIME
    "$gen" --bytes "$n" --seed "$seed" --stats "$@" > "$file.tmp" 2> "$file.tmp.stats" ||
        { rm -f "$file.tmp" "$file.tmp.stats"; die "gen-tok-chat failed"; }
    t1=$EPOCHREALTIME
    mv "$file.tmp" "$file" || die "cannot rename $file.tmp"
    printf '%s\nsize=%s\n%s\n' "$want" "$(stat -c %s "$file")" "$(head -n 1 "$file.tmp.stats")" > "$stamp"
    rm -f "$file.tmp.stats"
    awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%s: generated in %.2f s (%.0f MB/s)\n", "'$prog'", b - a, n / 1e6 / (b - a) }'
}

data=$datadir/tok-chat-$size-s$seed.jsonl
sft=$datadir/tok-sft-$size-s$seed.eighth.jsonl
gen_cached "$data" "$bytes"
gen_cached "$sft" $(( bytes / 8 )) --sft
in_bytes=$(stat -c %s "$data")
gen_stats=$(sed -n 3p "$data.stamp")

# the texts of the corpus, JSON-decoded, each ended by a NUL byte: the input
# of spm_baseline (made once, next to the data)
texts=$data.texts
if [ ! -f "$texts" ] || [ "$data" -nt "$texts" ]; then
    echo "$prog: extracting the texts into $texts"
    "$python" - "$data" > "$texts.tmp" <<'EOF' || { rm -f "$texts.tmp"; die "extracting the texts failed"; }
import json, sys
out = sys.stdout.buffer
with open(sys.argv[1], 'rb') as f:
    for line in f:
        if line.strip():
            t = json.loads(line).get('text')
            out.write((t if isinstance(t, str) else '').encode('utf-8', 'surrogatepass') + b'\0')
EOF
    mv "$texts.tmp" "$texts" || die "cannot rename $texts.tmp"
fi

# outputs with ids (about 3x the input each, two at a time) go next to the data
free=$(avail)
(( free > 8 * in_bytes + (64 << 20) )) ||
    die "not enough disk space in $datadir: need about $(( (8 * in_bytes) >> 20 )) MiB free, have $(( free >> 20 )) MiB"
tmp=$(mktemp -d "$datadir/run.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- measuring ----------------------------------------------------------------

n_lines=$(wc -l < "$data")
echo
echo "tokcount benchmark: $in_bytes bytes ($(mbps "$in_bytes" 1) MB), $n_lines records of Korean + English chat text, seed $seed"
echo "  generator: ${gen_stats#gen-tok-chat: }"
echo "  cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null), $pinned; runs per case: $reps (best wall clock)"
echo "  reference: @anush008/tokenizers $refver (HF tokenizers' Rust core) in $nm; libsentencepiece $(pkg-config --modversion sentencepiece 2>/dev/null || echo '?')"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo

qwen_args=(--tokenizer "$qwen" --template none --field text --ids)
llama_args=(--tokenizer "$llama" --template none --field text --ids)

# e) the load time: a one-line input, the whole run
printf '{"text":"안녕하세요, tokenizer! 오늘 회의는 3시예요 😊"}\n' > "$tmp/one.jsonl"
measure "$tmp/one.jsonl" /dev/null "$tc" "${qwen_args[@]}" "$tmp/one.jsonl"
t_load=$best rss_load=$rss

# a) tokcount -j 1, Qwen3, one CPU
measure "$data" /dev/null "$tc" "${qwen_args[@]}" -j 1 "$data"
t_tc=$best rss_tc=$rss
"${pin[@]}" "$tc" "${qwen_args[@]}" -j 1 "$data" > "$tmp/tc.jsonl" 2> "$tmp/tc.err" ||
    { echo "$prog: tokcount failed (exit $?)" >&2; head -n 20 "$tmp/tc.err" >&2; exit 2; }

# b) the reference, same CPU, no thread pools
echo "$prog: running the reference (HF tokenizers, $reps pass(es) over the corpus)"
TOKREF_NODE_MODULES=$nm TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 UV_THREADPOOL_SIZE=1 \
    "${pin[@]}" node "$baseline" --reps "$reps" --ids "$tmp/hf.ids" "$qwen" "$data" > "$tmp/hf.out" 2> "$tmp/hf.err" ||
    { echo "$prog: the reference failed (exit $?)" >&2; head -n 20 "$tmp/hf.err" >&2; exit 2; }
hf_line=$(grep '^baseline: api=' "$tmp/hf.out" | tail -n 1)
[ -n "$hf_line" ] || die "the reference printed no result: $(head -c 500 "$tmp/hf.out")"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"; }
t_hf=$(field encode_s "$hf_line")
tok_hf=$(field tokens "$hf_line")
cpu_hf=$(field cpu_s "$hf_line")
cpus_hf=$(field cpus "$hf_line")
api_hf=$(field api "$hf_line")
load_hf=$(field load_s "$hf_line")
grep '^baseline: api auto' "$tmp/hf.out" | sed 's/^baseline:/  reference:/'

# c) tokcount -j 2 on two CPUs, and its output
t_j2=- rss_j2=0 same_j2=-
if [ ${#pin2[@]} -gt 0 ]; then
    save=("${pin[@]}")
    pin=("${pin2[@]}")
    measure "$data" /dev/null "$tc" "${qwen_args[@]}" -j 2 "$data"
    t_j2=$best rss_j2=$rss
    "${pin[@]}" "$tc" "${qwen_args[@]}" -j 2 "$data" > "$tmp/tc2.jsonl" 2> "$tmp/tc2.err" ||
        { echo "$prog: tokcount -j 2 failed (exit $?)" >&2; head -n 20 "$tmp/tc2.err" >&2; exit 2; }
    pin=("${save[@]}")
    same_j2=0
    cmp -s "$tmp/tc.jsonl" "$tmp/tc2.jsonl" && same_j2=1
    rm -f "$tmp/tc2.jsonl"
else
    echo "$prog: note: cannot pin to two CPUs ($cpu,$cpu2); -j 2 is not measured" >&2
fi

# the ids, Qwen3: tokcount's records against the reference's lines
# compare_ids LABEL OURS.jsonl REF.ids -> prints a summary; sets ndiff, ntok
cat > "$tmp/cmp.py" <<'EOF'
import json, sys

label, ours_path, ref_path = sys.argv[1:4]
n = differ = tokens = bad_n = 0
shown = []
with open(ours_path, 'rb') as fo, open(ref_path, 'rb') as fr:
    for lo in fo:
        lr = fr.readline()
        n += 1
        try:
            rec = json.loads(lo)
            ids = rec['ids']
        except (ValueError, KeyError, TypeError) as e:
            differ += 1
            if len(shown) < 3:
                shown.append('record %d: no "ids" in tokcount\'s output (%s): %s' % (n, e, lo[:200]))
            continue
        tokens += len(ids)
        if rec.get('n_tokens') != len(ids):
            bad_n += 1
        ref = [int(x) for x in lr.split()]
        if ids != ref:
            differ += 1
            if len(shown) < 3:
                k = next((i for i, (a, b) in enumerate(zip(ids, ref)) if a != b), min(len(ids), len(ref)))
                shown.append('record %d (text %s): first difference at id %d: tokcount %s, reference %s'
                             % (n, json.dumps(rec.get('text', ''), ensure_ascii=False)[:120], k,
                                ids[max(0, k - 2):k + 4], ref[max(0, k - 2):k + 4]))
    extra = sum(1 for _ in fr)
if extra:
    shown.append('the reference has %d more records than tokcount wrote' % extra)
    differ += extra
print('  %s: %d records, %d tokens; %d record(s) with ids other than the reference\'s%s'
      % (label, n, tokens, differ,
         '' if not bad_n else '; %d record(s) with n_tokens != len(ids)' % bad_n))
for s in shown:
    print('    MISMATCH: ' + s)
print('result: records=%d differ=%d tokens=%d bad_n=%d' % (n, differ, tokens, bad_n))
EOF
compare_ids() {
    local out
    out=$("$python" "$tmp/cmp.py" "$@") || { echo "$prog: the comparison script failed" >&2; exit 2; }
    grep -v '^result: ' <<< "$out"
    local res
    res=$(grep '^result: ' <<< "$out")
    ndiff=$(( $(field differ "$res") + $(field bad_n "$res") ))
    nrec=$(field records "$res")
    ntok=$(field tokens "$res")
}

echo "comparing ids with the references'"
compare_ids "Qwen3 tokenizer.json vs HF tokenizers" "$tmp/tc.jsonl" "$tmp/hf.ids"
diff_qwen=$ndiff rec_qwen=$nrec tok_tc=$ntok
n_err=$(wc -l < "$tmp/tc.err")
rm -f "$tmp/tc.jsonl" "$tmp/hf.ids"

# d) SentencePiece: tokcount on the .model against libsentencepiece
measure "$data" /dev/null "$tc" "${llama_args[@]}" -j 1 "$data"
t_tcs=$best rss_tcs=$rss
"${pin[@]}" "$tc" "${llama_args[@]}" -j 1 "$data" > "$tmp/tcs.jsonl" 2> "$tmp/tcs.err" ||
    { echo "$prog: tokcount (SentencePiece) failed (exit $?)" >&2; head -n 20 "$tmp/tcs.err" >&2; exit 2; }
"${pin[@]}" "$spm" --reps "$reps" --ids "$tmp/spm.ids" "$llama" "$texts" > "$tmp/spm.out" 2> "$tmp/spm.err" ||
    { echo "$prog: spm_baseline failed (exit $?)" >&2; head -n 20 "$tmp/spm.err" >&2; exit 2; }
spm_line=$(grep '^spm-baseline: ' "$tmp/spm.out" | tail -n 1)
t_spm=$(field encode_s "$spm_line")
tok_spm=$(field tokens "$spm_line")
compare_ids "Llama 2 tokenizer.model vs libsentencepiece" "$tmp/tcs.jsonl" "$tmp/spm.ids"
diff_spm=$ndiff rec_spm=$nrec tok_tcs=$ntok
n_err=$(( n_err + $(wc -l < "$tmp/tcs.err") ))
rm -f "$tmp/tcs.jsonl" "$tmp/spm.ids"

# f) for information: SFT examples through Qwen3's chat template
soft=1
sft_bytes=$(stat -c %s "$sft")
n_sft=$(wc -l < "$sft")
measure "$sft" "$tmp/out.sft" "$tc" --tokenizer "$qwen_dir" "$sft"
t_sft=$best rss_sft=$rss
tok_sft=-
[ "$t_sft" != failed ] &&
    tok_sft=$(grep -o '"n_tokens":[0-9]*' "$tmp/out.sft" | awk -F: '{ s += $2 } END { print s + 0 }')
rm -f "$tmp"/out.*
soft=0

if (( n_err != 0 )); then
    echo "  warning: tokcount wrote $n_err line(s) to stderr on valid input:"
    cat "$tmp/tc.err" "$tmp/tcs.err" | head -n 5 | sed 's/^/    /'
fi
echo

# ---- report ---------------------------------------------------------------------
tps() { awk -v n="$1" -v t="$2" 'BEGIN { if (t + 0 > 0 && n ~ /^[0-9]+$/) printf "%.0f", n / t; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
rowt() { printf '  %-50s %9s %12s %8s %8s  %s\n' "$@"; }
tps_tc=$(tps "$tok_tc" "$t_tc")
tps_hf=$(tps "$tok_hf" "$t_hf")
tps_j2=$(tps "$tok_tc" "$t_j2")
tps_tcs=$(tps "$tok_tcs" "$t_tcs")
tps_spm=$(tps "$tok_spm" "$t_spm")
rowt "case" "best s" "tokens/s" "MB/s" "RSS MiB" "note"
rowt "tokcount qwen3 tokenizer.json -j 1" "$t_tc" "$tps_tc" "$(mbps "$in_bytes" "$t_tc")" "$(kib_mb "$rss_tc")" "whole run, 1 CPU"
rowt "HF tokenizers $refver (Rust core, node)" "$t_hf" "$tps_hf" "$(mbps "$in_bytes" "$t_hf")" "-" "encoding only, $api_hf, cpu ${cpu_hf}s on CPU(s) $cpus_hf"
rowt "tokcount qwen3 tokenizer.json -j 2" "$t_j2" "$tps_j2" "$(mbps "$in_bytes" "$t_j2")" "$(kib_mb "$rss_j2")" "whole run, CPUs $cpu,$cpu2"
rowt "tokcount llama2 tokenizer.model -j 1" "$t_tcs" "$tps_tcs" "$(mbps "$in_bytes" "$t_tcs")" "$(kib_mb "$rss_tcs")" "whole run, 1 CPU"
rowt "libsentencepiece Encode (spm_baseline)" "$t_spm" "$tps_spm" "$(mbps "$in_bytes" "$t_spm")" "-" "encoding only"
rowt "tokcount qwen3 load (one-line input)" "$t_load" "-" "-" "$(kib_mb "$rss_load")" "whole run; HF fromFile: ${load_hf}s"
rowt "tokcount qwen3/ --template auto (SFT)" "$t_sft" "$(tps "$tok_sft" "$t_sft")" "$(mbps "$sft_bytes" "$t_sft")" "$(kib_mb "$rss_sft")" "$n_sft examples, $tok_sft tokens (information)"
echo

speedup=$(ratio "$tps_tc" "$tps_hf")
spm_ratio=$(ratio "$t_tcs" "$t_spm")
check "correctness: Qwen3 ids identical to HF tokenizers' ($diff_qwen of $rec_qwen records differ; $n_lines in the input)" \
    "$(( diff_qwen == 0 && rec_qwen == n_lines ))"
check "correctness: Llama 2 SentencePiece ids identical to libsentencepiece's ($diff_spm of $rec_spm records differ)" \
    "$(( diff_spm == 0 && rec_spm == n_lines ))"
check "the reference ran on one core (CPU(s) $cpus_hf, CPU time ${cpu_hf}s for ${t_hf}s of encoding)" \
    "$(awk -v l="$cpus_hf" -v c="$cpu" -v u="$cpu_hf" -v t="$t_hf" 'BEGIN { print (l == c && u <= t * 1.05) ? 1 : 0 }')"
check "speed vs HF tokenizers on one core: $tps_tc vs $tps_hf tokens/s = ${speedup}x (target >= $min_speedup)" \
    "$(awk -v a="$speedup" -v m="$min_speedup" 'BEGIN { print (a + 0 >= m) ? 1 : 0 }')"
check "SentencePiece through tokcount vs libsentencepiece: ${t_tcs}s vs ${t_spm}s = ${spm_ratio}x the time (target <= $max_spm_ratio)" \
    "$(awk -v a="$spm_ratio" -v m="$max_spm_ratio" 'BEGIN { print (a != "-" && a + 0 <= m) ? 1 : 0 }')"
if [ "$t_j2" != - ]; then
    scaling=$(ratio "$t_tc" "$t_j2")
    check "-j 2 scales: ${t_tc}s / ${t_j2}s = ${scaling}x (target >= $min_scaling), output identical to -j 1: $([ "$same_j2" = 1 ] && echo yes || echo NO)" \
        "$(awk -v a="$scaling" -v m="$min_scaling" -v s="$same_j2" 'BEGIN { print (a + 0 >= m && s == 1) ? 1 : 0 }')"
else
    echo "bench: -j 2 scaling: not measured (one CPU)"
fi
check "loading Qwen3's tokenizer.json: ${t_load}s for a one-line input (target <= ${max_load_s}s)" \
    "$(awk -v a="$t_load" -v m="$max_load_s" 'BEGIN { print (a + 0 <= m) ? 1 : 0 }')"
finish_checks
