#!/usr/bin/env bash
# kakao-bench.sh BUILD_DIR [SIZE] — the `make bench` benchmark of kakao-parse.
#
# Generates (once, cached) a synthetic KakaoTalk Android export (Korean UI)
# of SIZE bytes (default 93M; K, M, G suffixes are powers of 1024) and one of
# SIZE/8 with BUILD_DIR/bench/gen-kakao, then, pinned to one CPU with the
# input warm in the page cache, measures
#   a) kakao-parse --emit messages                  (best of N, MB/s, RSS)
#   b) the same on the 1/8-size export              (RSS must stay flat)
#   c) tests/bench/kakao_baseline.py, a plain Python re line parser
#      (best of N, or one run when a run takes 10 s or more)
#   d) kakao-parse --emit pairs / conversations --me 정민준  (for information)
# and checks that kakao-parse and the baseline agree: the same number of
# message records (kind other than system) and, in order, the same speaker,
# text and time for each (the first SFT_BENCH_COMPARE of them; all by
# default).  MB = 10^6 bytes of input.
#
# Targets (exit 1 when one fails):
#   messages throughput >= 300 MB/s               (SFT_BENCH_MIN_MBPS)
#   RSS(full) <= 1.5 * RSS(1/8) + 4 MiB           (memory flat)
#   RSS(full) < 64 MiB                            (SFT_BENCH_MAX_RSS_MIB)
#   speedup over the Python baseline >= 25        (SFT_BENCH_MIN_SPEEDUP)
#
# Environment: SFT_BENCH_DIR (data cache, default BUILD_DIR/bench/data; the
# temporary outputs, about 5x the input, go to a directory under it),
# SFT_BENCH_REPS (runs per case, default 3), SFT_BENCH_CPU (default 0),
# SFT_BENCH_SEED (generator seed, default 0), SFT_BENCH_COMPARE (messages
# compared one by one, default 0 = all).
#
# Exit status: 0 all targets met, 1 a target or a correctness check failed,
# 2 usage or setup error (or a command that failed to run).

set -u -o pipefail
export LC_ALL=C

prog=kakao-bench
. "$(dirname "$0")/bench-lib.sh"
usage() { echo "usage: $0 BUILD_DIR [SIZE]   (SIZE: bytes with K/M/G suffix, default 93M)" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$1
size=${2:-93M}
reps=${SFT_BENCH_REPS:-3}
cpu=${SFT_BENCH_CPU:-0}
seed=${SFT_BENCH_SEED:-0}
min_mbps=${SFT_BENCH_MIN_MBPS:-300}
min_speedup=${SFT_BENCH_MIN_SPEEDUP:-25}
max_rss_mib=${SFT_BENCH_MAX_RSS_MIB:-64}
compare=${SFT_BENCH_COMPARE:-0}
me=정민준           # the export calls its owner 회원님; --me maps that alias
slow_s=10           # a baseline run this long is not repeated

[[ $reps =~ ^[1-9][0-9]?$ ]] || die "SFT_BENCH_REPS must be 1..99, not '$reps'"
[[ $cpu =~ ^[0-9]+$ ]] || die "SFT_BENCH_CPU must be a CPU number, not '$cpu'"
[[ $seed =~ ^[0-9]+$ ]] || die "SFT_BENCH_SEED must be an unsigned integer, not '$seed'"
[[ $min_mbps =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad SFT_BENCH_MIN_MBPS '$min_mbps'"
[[ $min_speedup =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad SFT_BENCH_MIN_SPEEDUP '$min_speedup'"
[[ $max_rss_mib =~ ^[0-9]+$ ]] || die "bad SFT_BENCH_MAX_RSS_MIB '$max_rss_mib'"
[[ $compare =~ ^[0-9]+$ ]] || die "bad SFT_BENCH_COMPARE '$compare' (a count; 0 = all)"

size_bytes "$size" $((64 << 10))

kp=$build/bin/kakao-parse
gen=$build/bench/gen-kakao
here=$(cd "$(dirname "$0")" && pwd) || die "cannot find the script's directory"
baseline=$here/kakao_baseline.py
python=/usr/bin/python3
[ -x "$kp" ] || die "$kp not found: run 'make' first (this script builds nothing)"
[ -x "$gen" ] || die "$gen not found: run 'make bench' (it builds it)"
[ -f "$baseline" ] || die "$baseline is missing"
[ -x "$python" ] || die "$python is missing (the baseline needs Python 3, stdlib only)"

# ---- tools --------------------------------------------------------------------
bench_tools awk wc df stat

# ---- data (cached) --------------------------------------------------------------
datadir=${SFT_BENCH_DIR:-$build/bench/data}
mkdir -p "$datadir" || die "cannot create $datadir"
genver=$("$gen" --version) || die "$gen --version failed"

avail() { df -P -B1 "$datadir" | awk 'NR == 2 { print $4 }'; }

# gen_cached FILE BYTES: makes FILE (android, seed $seed) unless a matching
# one is there; its stamp keeps the generator's counts (line 3)
gen_cached() {
    local file=$1 n=$2 stamp=$1.stamp want t0 t1 free
    want="$genver format=android bytes=$n seed=$seed"
    if [ -f "$file" ] && [ -f "$stamp" ] &&
       [ "$(head -n 1 "$stamp")" = "$want" ] &&
       [ "$(sed -n 2p "$stamp")" = "size=$(stat -c %s "$file")" ]; then
        echo "$prog: using cached $file"
        return
    fi
    rm -f "$file" "$stamp"
    free=$(avail)
    (( free > n + n / 4 )) || die "not enough disk space in $datadir for the input ($free bytes free)"
    echo "$prog: generating $n bytes of KakaoTalk export into $file"
    t0=$EPOCHREALTIME
    "$gen" --bytes "$n" --seed "$seed" --format android --stats > "$file.tmp" 2> "$file.tmp.stats" ||
        { rm -f "$file.tmp" "$file.tmp.stats"; die "gen-kakao failed"; }
    t1=$EPOCHREALTIME
    mv "$file.tmp" "$file" || die "cannot rename $file.tmp"
    printf '%s\nsize=%s\n%s\n' "$want" "$(stat -c %s "$file")" "$(head -n 1 "$file.tmp.stats")" > "$stamp"
    rm -f "$file.tmp.stats"
    awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%s: generated in %.2f s (%.0f MB/s)\n", "'$prog'", b - a, n / 1e6 / (b - a) }'
}

data=$datadir/kakao-$size-s$seed.txt
small=$datadir/kakao-$size-s$seed.eighth.txt
gen_cached "$data" "$bytes"
gen_cached "$small" $(( bytes / 8 ))
in_bytes=$(stat -c %s "$data")
small_bytes=$(stat -c %s "$small")
gen_stats=$(sed -n 3p "$data.stamp")

# two JSONL outputs of about 2.5x the input each go next to the data
free=$(avail)
(( free > 5 * in_bytes + (64 << 20) )) ||
    die "not enough disk space in $datadir: need about $(( (5 * in_bytes) >> 20 )) MiB free, have $(( free >> 20 )) MiB"
tmp=$(mktemp -d "$datadir/run.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- measuring ----------------------------------------------------------------

n_lines=$(wc -l < "$data")
echo
echo "kakao-parse benchmark: $in_bytes bytes ($(mbps "$in_bytes" 1) MB), $n_lines lines, Android export (Korean UI), seed $seed"
echo "  generator: ${gen_stats#gen-kakao: }"
echo "  cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null), $pinned; runs per case: $reps (best wall clock)"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
(( bytes == 93 << 20 )) ||
    echo "  note: the targets are set for SIZE=93M; with $size the verdicts are only indicative"
echo

# a) messages, full input, to /dev/null
measure "$data" /dev/null "$kp" --emit messages "$data"
t_kp=$best rss_kp=$rss
# b) messages, 1/8-size input
measure "$small" /dev/null "$kp" --emit messages "$small"
t_small=$best rss_small=$rss
# once more to a file, for the comparison
"${pin[@]}" "$kp" --emit messages "$data" > "$tmp/kp.jsonl" 2> "$tmp/kp.err" ||
    { echo "$prog: kakao-parse --emit messages failed (exit $?)" >&2; head -n 20 "$tmp/kp.err" >&2; exit 2; }

# c) the Python baseline
stop_after=$slow_s
measure "$data" /dev/null "$python" "$baseline" "$data"
t_py=$best rss_py=$rss runs_py=$runs
stop_after=0
"${pin[@]}" "$python" "$baseline" "$data" > "$tmp/py.jsonl" 2> "$tmp/py.err" ||
    { echo "$prog: the Python baseline failed (exit $?)" >&2; head -n 20 "$tmp/py.err" >&2; exit 2; }

# d) pairs and conversations (information; a failure here is only reported):
# timed to /dev/null, then counted
soft=1
n_pairs=- n_conv=-
measure "$data" /dev/null "$kp" --emit pairs --me "$me" "$data" &&
    n_pairs=$("$kp" --emit pairs --me "$me" "$data" 2>/dev/null | wc -l)
t_pairs=$best rss_pairs=$rss
measure "$data" /dev/null "$kp" --emit conversations --me "$me" "$data" &&
    n_conv=$("$kp" --emit conversations --me "$me" "$data" 2>/dev/null | wc -l)
t_conv=$best rss_conv=$rss
soft=0

# ---- correctness ------------------------------------------------------------------
# kakao-parse and the baseline must agree on the message records (kind other
# than system, in order: speaker, text and the instant of ts); kakao-parse's
# records must have the chat-message fields.  System records are only
# counted: kakao-parse may also emit the day lines as system records.
how_many=$compare
[ "$compare" = 0 ] && how_many=all
echo "comparing kakao-parse --emit messages with the baseline ($how_many messages one by one)"
"$python" - "$tmp/kp.jsonl" "$tmp/py.jsonl" "$compare" > "$tmp/cmp" 2>&1 <<'EOF'
import collections, datetime, functools, json, sys

kp_path, py_path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
KINDS = {'text', 'photo', 'video', 'emoticon', 'file', 'link', 'voice', 'deleted', 'system'}
FIELDS = (('chat', str), ('i', int), ('ts', str), ('speaker', str), ('text', str), ('kind', str))
problems, more = [], [0]

def problem(msg):
    if len(problems) < 8:
        problems.append(msg)
    else:
        more[0] += 1

@functools.lru_cache(maxsize=1024)
def when(ts):
    if not isinstance(ts, str):
        return None
    try:
        return datetime.datetime.fromisoformat(ts[:-1] + '+00:00' if ts.endswith('Z') else ts)
    except ValueError:
        return None

def messages(path, kinds, check):
    last_i = -1
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except ValueError as e:
                problem('%s:%d: not JSON: %s' % (path, n, e))
                continue
            if check:
                bad = [k for k, t in FIELDS if not isinstance(r.get(k), t)]
                if bad or r['kind'] not in KINDS or when(r['ts']) is None or r['i'] <= last_i:
                    problem('%s:%d: bad chat-message record (fields %s): %s' % (path, n, bad or 'kind/ts/i', line.strip()[:300]))
                if isinstance(r.get('i'), int):
                    last_i = r['i']
            kinds[r.get('kind')] += 1
            if r.get('kind') != 'system':
                yield n, r

kk, pk = collections.Counter(), collections.Counter()
ka, pa = messages(kp_path, kk, True), messages(py_path, pk, False)
compared = 0
for a, b in zip(ka, pa):
    if limit and compared >= limit:
        break
    compared += 1
    (na, ra), (nb, rb) = a, b
    for k in ('speaker', 'text'):
        if ra.get(k) != rb.get(k):
            problem('message %d (kakao-parse line %d, baseline line %d, input line %s): %s %r != %r'
                    % (compared, na, nb, rb['src']['line'], k, ra.get(k), rb.get(k)))
    if ra.get('ts') == rb['ts']:
        continue
    ta, tb = when(ra.get('ts')), when(rb['ts'])
    if ta is None or ta.tzinfo is None or ta != tb:
        problem('message %d (input line %s): ts %r is not %r' % (compared, rb['src']['line'], ra.get('ts'), rb['ts']))
for _ in ka: pass       # count the rest
for _ in pa: pass
mk, mp = sum(kk.values()) - kk['system'], sum(pk.values()) - pk['system']
print('  kakao-parse: %d records: %s' % (sum(kk.values()), ', '.join('%s %d' % kv for kv in kk.most_common())))
print('  baseline:    %d records: %d messages, system %d' % (sum(pk.values()), mp, pk['system']))
print('  compared %d messages one by one (speaker, text, ts)' % compared)
if mk != mp:
    print('  MISMATCH: kakao-parse wrote %d message records (kind other than system), the baseline %d' % (mk, mp))
for p in problems:
    print('  MISMATCH: ' + p)
if more[0]:
    print('  ... and %d more mismatches' % more[0])
sys.exit(1 if problems or mk != mp else 0)
EOF
r=$?
cat "$tmp/cmp"
ok_cmp=0
(( r == 0 )) && ok_cmp=1
(( r == 0 || r == 1 )) || echo "$prog: the comparison script failed (exit $r)" >&2
n_err=$(wc -l < "$tmp/kp.err")
if (( n_err != 0 )); then
    echo "  kakao-parse wrote $n_err line(s) to stderr on a valid export:"
    head -n 5 "$tmp/kp.err" | sed 's/^/    /'
    ok_cmp=0
fi
if [ "$n_pairs" = 0 ] || [ "$n_conv" = 0 ]; then
    echo "  warning: --emit pairs/conversations --me $me wrote $n_pairs/$n_conv records: is the alias 회원님 mapped?"
fi
rm -f "$tmp/kp.jsonl" "$tmp/py.jsonl"
echo

# ---- report ---------------------------------------------------------------------
row "case" "best s" "MB/s" "RSS MiB" "input"
row "kakao-parse --emit messages" "$t_kp" "$(mbps "$in_bytes" "$t_kp")" "$(kib_mb "$rss_kp")" "full"
row "kakao-parse --emit messages" "$t_small" "$(mbps "$small_bytes" "$t_small")" "$(kib_mb "$rss_small")" "1/8 size"
row "kakao-parse --emit pairs --me NAME" "$t_pairs" "$(mbps "$in_bytes" "$t_pairs")" "$(kib_mb "$rss_pairs")" "full, --me $me: $n_pairs records"
row "kakao-parse --emit conversations --me NAME" "$t_conv" "$(mbps "$in_bytes" "$t_conv")" "$(kib_mb "$rss_conv")" "full, --me $me: $n_conv records"
row "kakao_baseline.py (Python re, baseline)" "$t_py" "$(mbps "$in_bytes" "$t_py")" "$(kib_mb "$rss_py")" "full, $runs_py run(s)"
echo

check "correctness: kakao-parse agrees with the Python baseline (message count; speaker, text, ts in order)" "$ok_cmp"
check_speed_memory "messages " "$(mbps "$in_bytes" "$t_kp")" "$rss_kp" "$rss_small" "$t_kp" "$t_py"
finish_checks
