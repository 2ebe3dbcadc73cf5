#!/usr/bin/env bash
# pii-bench.sh BUILD_DIR [SIZE] — the `make bench` benchmark of pii-mask.
#
# Generates (once, cached) SIZE bytes (default 100M; K, M, G suffixes are
# powers of 1024) of chat-message JSONL with personal data in it, and a
# SIZE/8 prefix of it, with BUILD_DIR/bench/gen-pii-chat, then, pinned to
# one CPU with the input warm in the page cache, measures
#   a) pii-mask FILE, the default types                (best of N, MB/s, RSS)
#   b) the same on the 1/8-size input                  (RSS must stay flat)
#   c) tests/bench/pii_baseline.py, Python json + re doing the same job
#      (best of N, or one run when a run takes 10 s or more)
#   d) pii-mask --style pseudo (the key in PII_MASK_KEY, set in the
#      environment) and --types all                    (for information)
# and checks pii-mask's output against the input and the baseline's: as
# many lines, the same structure, and the number of records where something
# was masked (in all, and in "text") within SFT_BENCH_MAX_DIFF_PCT % of the
# baseline's.  The masks of each type are counted in both outputs and shown
# next to what the generator wrote (for information).  MB = 10^6 bytes of
# input.
#
# Targets (exit 1 when one fails):
#   throughput >= 100 MB/s                        (SFT_BENCH_MIN_MBPS)
#   RSS(full) <= 1.5 * RSS(1/8) + 4 MiB           (memory flat)
#   RSS(full) < 64 MiB                            (SFT_BENCH_MAX_RSS_MIB)
#   speedup over the Python baseline >= 20        (SFT_BENCH_MIN_SPEEDUP)
#
# Environment: SFT_BENCH_DIR (data cache, default BUILD_DIR/bench/data; the
# temporary outputs, about 2x the input, go to a directory under it),
# SFT_BENCH_REPS (runs per case, default 3), SFT_BENCH_CPU (default 0),
# SFT_BENCH_SEED (generator seed, default 0), SFT_BENCH_MAX_DIFF_PCT
# (default 3).
#
# Exit status: 0 all targets met, 1 a target or a correctness check failed,
# 2 usage or setup error (or a command that failed to run).

set -u -o pipefail
export LC_ALL=C

prog=pii-bench
. "$(dirname "$0")/bench-lib.sh"
usage() { echo "usage: $0 BUILD_DIR [SIZE]   (SIZE: bytes with K/M/G suffix, default 100M)" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$1
size=${2:-100M}
reps=${SFT_BENCH_REPS:-3}
cpu=${SFT_BENCH_CPU:-0}
seed=${SFT_BENCH_SEED:-0}
min_mbps=${SFT_BENCH_MIN_MBPS:-100}
min_speedup=${SFT_BENCH_MIN_SPEEDUP:-20}
max_rss_mib=${SFT_BENCH_MAX_RSS_MIB:-64}
max_diff_pct=${SFT_BENCH_MAX_DIFF_PCT:-3}
slow_s=10           # a baseline run this long is not repeated

[[ $reps =~ ^[1-9][0-9]?$ ]] || die "SFT_BENCH_REPS must be 1..99, not '$reps'"
[[ $cpu =~ ^[0-9]+$ ]] || die "SFT_BENCH_CPU must be a CPU number, not '$cpu'"
[[ $seed =~ ^[0-9]+$ ]] || die "SFT_BENCH_SEED must be an unsigned integer, not '$seed'"
[[ $min_mbps =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad SFT_BENCH_MIN_MBPS '$min_mbps'"
[[ $min_speedup =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad SFT_BENCH_MIN_SPEEDUP '$min_speedup'"
[[ $max_rss_mib =~ ^[0-9]+$ ]] || die "bad SFT_BENCH_MAX_RSS_MIB '$max_rss_mib'"
[[ $max_diff_pct =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad SFT_BENCH_MAX_DIFF_PCT '$max_diff_pct'"

size_bytes "$size" $((64 << 10))

pm=$build/bin/pii-mask
gen=$build/bench/gen-pii-chat
here=$(cd "$(dirname "$0")" && pwd) || die "cannot find the script's directory"
baseline=$here/pii_baseline.py
python=/usr/bin/python3
[ -x "$pm" ] || die "$pm not found: run 'make' first (this script builds nothing)"
[ -x "$gen" ] || die "$gen not found: run 'make bench-pii' (it builds it)"
[ -f "$baseline" ] || die "$baseline is missing"
[ -x "$python" ] || die "$python is missing (the baseline needs Python 3, stdlib only)"

# the key for --style pseudo goes in the environment, never on a command
# line; no other case sees one
unset PII_MASK_KEY

# ---- tools --------------------------------------------------------------------
bench_tools awk wc df stat grep

# ---- data (cached) --------------------------------------------------------------
datadir=${SFT_BENCH_DIR:-$build/bench/data}
mkdir -p "$datadir" || die "cannot create $datadir"
genver=$("$gen" --version) || die "$gen --version failed"

avail() { df -P -B1 "$datadir" | awk 'NR == 2 { print $4 }'; }

# gen_cached FILE BYTES: makes FILE (seed $seed) unless a matching one is
# there; its stamp keeps the generator's counts (line 3)
gen_cached() {
    local file=$1 n=$2 stamp=$1.stamp want t0 t1 free
    want="$genver bytes=$n seed=$seed"
    if [ -f "$file" ] && [ -f "$stamp" ] &&
       [ "$(head -n 1 "$stamp")" = "$want" ] &&
       [ "$(sed -n 2p "$stamp")" = "size=$(stat -c %s "$file")" ]; then
        echo "$prog: using cached $file"
        return
    fi
    rm -f "$file" "$stamp"
    free=$(avail)
    (( free > n + n / 4 )) || die "not enough disk space in $datadir for the input ($free bytes free)"
    echo "$prog: generating $n bytes of chat-message JSONL into $file"
    t0=$EPOCHREALTIME
    "$gen" --bytes "$n" --seed "$seed" --stats > "$file.tmp" 2> "$file.tmp.stats" ||
        { rm -f "$file.tmp" "$file.tmp.stats"; die "gen-pii-chat failed"; }
    t1=$EPOCHREALTIME
    mv "$file.tmp" "$file" || die "cannot rename $file.tmp"
    printf '%s\nsize=%s\n%s\n' "$want" "$(stat -c %s "$file")" "$(head -n 1 "$file.tmp.stats")" > "$stamp"
    rm -f "$file.tmp.stats"
    awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%s: generated in %.2f s (%.0f MB/s)\n", "'$prog'", b - a, n / 1e6 / (b - a) }'
}

data=$datadir/pii-chat-$size-s$seed.jsonl
small=$datadir/pii-chat-$size-s$seed.eighth.jsonl
gen_cached "$data" "$bytes"
gen_cached "$small" $(( bytes / 8 ))
in_bytes=$(stat -c %s "$data")
small_bytes=$(stat -c %s "$small")
gen_stats=$(sed -n 3p "$data.stamp")

# two JSONL outputs of about the input's size go next to the data
free=$(avail)
(( free > 3 * in_bytes + (64 << 20) )) ||
    die "not enough disk space in $datadir: need about $(( (3 * in_bytes) >> 20 )) MiB free, have $(( free >> 20 )) MiB"
tmp=$(mktemp -d "$datadir/run.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- measuring ----------------------------------------------------------------

n_lines=$(wc -l < "$data")
echo
echo "pii-mask benchmark: $in_bytes bytes ($(mbps "$in_bytes" 1) MB), $n_lines lines of chat messages, seed $seed"
echo "  generator: ${gen_stats#gen-pii-chat: }"
echo "  cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null), $pinned; runs per case: $reps (best wall clock)"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
(( bytes == 100 << 20 )) ||
    echo "  note: the targets are set for SIZE=100M; with $size the verdicts are only indicative"
echo

# a) default types, full input, to /dev/null
measure "$data" /dev/null "$pm" "$data"
t_pm=$best rss_pm=$rss
# b) the same, 1/8-size input
measure "$small" /dev/null "$pm" "$small"
t_small=$best rss_small=$rss
# once more to a file, for the comparison
"${pin[@]}" "$pm" "$data" > "$tmp/pm.jsonl" 2> "$tmp/pm.err" ||
    { echo "$prog: pii-mask failed (exit $?)" >&2; head -n 20 "$tmp/pm.err" >&2; exit 2; }

# c) the Python baseline
stop_after=$slow_s
measure "$data" /dev/null "$python" "$baseline" "$data"
t_py=$best rss_py=$rss runs_py=$runs
stop_after=0
"${pin[@]}" "$python" "$baseline" "$data" > "$tmp/py.jsonl" 2> "$tmp/py.err" ||
    { echo "$prog: the Python baseline failed (exit $?)" >&2; head -n 20 "$tmp/py.err" >&2; exit 2; }

# d) for information (a failure here is only reported): pseudonyms, with
# the key in the environment, then counted; every type
soft=1
n_pseudo=-
export PII_MASK_KEY=sftkit-bench-pseudonym-key
measure "$data" /dev/null "$pm" --style pseudo "$data" &&
    n_pseudo=$("$pm" --style pseudo "$data" 2>/dev/null | grep -c '\[[A-Z]*_[0-9a-f]\{6\}\]')
t_pseudo=$best rss_pseudo=$rss
unset PII_MASK_KEY
measure "$data" /dev/null "$pm" --types all "$data"
t_all=$best rss_all=$rss
soft=0

# ---- correctness ------------------------------------------------------------------
# pii-mask's output must have the input's lines and structure (keys in order,
# numbers, the values under skipped keys), and mask about as many records as
# the baseline (in all, and in "text").
echo "comparing pii-mask's output with the input and with the baseline's"
lines="$n_lines $(wc -l < "$tmp/pm.jsonl") $(wc -l < "$tmp/py.jsonl")"
"$python" - "$data" "$tmp/pm.jsonl" "$tmp/py.jsonl" "$lines" "$max_diff_pct" "$gen_stats" > "$tmp/cmp" 2>&1 <<'EOF'
import collections, json, re, sys

in_path, pm_path, py_path, lines, max_diff, gen_stats = sys.argv[1:7]
lines = [int(x) for x in lines.split()]
max_diff = float(max_diff)
SKIP = frozenset(('id', 'ts', 'src', 'kind', 'role', 'type', 'lang', 'model',
                  'source_id', 'conversation', 'path', 'video', 'start', 'end'))
TYPES = ('name', 'phone', 'email', 'rrn', 'frn', 'card', 'account', 'address',
         'ip', 'brn', 'passport', 'driver')
TAG = re.compile(r'\[(RRN|FRN|PHONE|EMAIL|URL|IP|CARD|BRN|PASSPORT|DRIVER|ACCOUNT|ADDRESS|NAME)\]')
problems, more = [], [0]

def problem(msg):
    if len(problems) < 8:
        problems.append(msg)
    else:
        more[0] += 1

def same_shape(a, b, skipped=False):
    """b has a's structure: keys in order, non-strings and skipped values equal"""
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b) and
                all(same_shape(a[k], b[k], skipped or k in SKIP) for k in a))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(
            same_shape(x, y, skipped) for x, y in zip(a, b))
    if isinstance(a, str) and not skipped:
        return isinstance(b, str)
    return type(a) is type(b) and a == b

class Side:
    def __init__(self):
        self.changed = self.text_changed = 0
        self.tags = collections.Counter()

def count(side, a, b, line_b, tags_in):
    if a != b:
        side.changed += 1
        if isinstance(a, dict) and isinstance(b, dict) and a.get('text') != b.get('text'):
            side.text_changed += 1
    if '[' in line_b:
        c = collections.Counter(t.lower() for t in TAG.findall(line_b))
        c.subtract(tags_in)
        side.tags.update(c)

pm, py = Side(), Side()
n = identical = rewritten = 0
with open(in_path, encoding='utf-8') as fi, open(pm_path, encoding='utf-8') as fm, \
        open(py_path, encoding='utf-8') as fp:
    for li, lm, lp in zip(fi, fm, fp):
        n += 1
        a = json.loads(li)
        tags_in = collections.Counter(t.lower() for t in TAG.findall(li)) if '[' in li else {}
        try:
            b = json.loads(lm)
        except ValueError as e:
            problem('line %d: pii-mask wrote no JSON (%s): %s' % (n, e, lm.strip()[:200]))
            continue
        if not same_shape(a, b):
            problem('line %d: the structure changed:\n      in:  %s\n      out: %s' % (n, li.strip()[:300], lm.strip()[:300]))
        elif a == b and li != lm:
            rewritten += 1
            if rewritten <= 3:
                problem('line %d: nothing masked, but not copied byte for byte:\n      in:  %s\n      out: %s'
                        % (n, li.strip()[:300], lm.strip()[:300]))
        count(pm, a, b, lm, tags_in)
        count(py, a, json.loads(lp), lp, tags_in)
        identical += lm == lp
if len(set(lines)) != 1:
    problem('line counts differ: input %d, pii-mask %d, baseline %d' % tuple(lines))
if rewritten > 3:
    problem('%d records in all copied other than byte for byte' % rewritten)

def pct(x, y):
    return 100.0 * abs(x - y) / y if y else (0.0 if x == y else 100.0)

wrote = dict(kv.split('=', 1) for kv in gen_stats.split()[1:] if '=' in kv)
wrote['name'] = wrote.get('names', '-')
print('  lines: input %d, pii-mask %d, baseline %d; pii-mask and the baseline wrote %d identical lines (%.1f%%)'
      % (lines[0], lines[1], lines[2], identical, 100.0 * identical / max(n, 1)))
print('  %-28s %12s %12s %8s' % ('', 'pii-mask', 'baseline', 'diff'))
ok = True
for label, x, y in (('records with a mask', pm.changed, py.changed),
                    ('records with a mask in text', pm.text_changed, py.text_changed)):
    d = pct(x, y)
    bad = d > max_diff
    ok &= not bad
    print('  %-28s %12d %12d %7.2f%%%s' % (label, x, y, d, '  <- more than %g%%' % max_diff if bad else ''))
print('  masks by type (information; the generator wrote the last column):')
print('  %-28s %12s %12s %8s' % ('', 'pii-mask', 'baseline', 'written'))
for t in TYPES + tuple(sorted(set(pm.tags) - set(TYPES))):
    print('  %-28s %12d %12d %8s' % (t, pm.tags[t], py.tags[t], wrote.get(t, '-')))
for p in problems:
    print('  MISMATCH: ' + p)
if more[0]:
    print('  ... and %d more mismatches' % more[0])
sys.exit(0 if ok and not problems else 1)
EOF
r=$?
cat "$tmp/cmp"
ok_cmp=0
(( r == 0 )) && ok_cmp=1
(( r == 0 || r == 1 )) || echo "$prog: the comparison script failed (exit $r)" >&2
n_err=$(wc -l < "$tmp/pm.err")
if (( n_err != 0 )); then
    echo "  pii-mask wrote $n_err line(s) to stderr on valid input:"
    head -n 5 "$tmp/pm.err" | sed 's/^/    /'
    ok_cmp=0
fi
if [ "$n_pseudo" = 0 ]; then
    echo "  warning: --style pseudo wrote no [TYPE_xxxxxx] tag"
fi
rm -f "$tmp/pm.jsonl" "$tmp/py.jsonl"
echo

# ---- report ---------------------------------------------------------------------
row "case" "best s" "MB/s" "RSS MiB" "input"
row "pii-mask (default types)" "$t_pm" "$(mbps "$in_bytes" "$t_pm")" "$(kib_mb "$rss_pm")" "full"
row "pii-mask (default types)" "$t_small" "$(mbps "$small_bytes" "$t_small")" "$(kib_mb "$rss_small")" "1/8 size"
row "pii-mask --style pseudo (PII_MASK_KEY)" "$t_pseudo" "$(mbps "$in_bytes" "$t_pseudo")" "$(kib_mb "$rss_pseudo")" "full, $n_pseudo lines with pseudonyms"
row "pii-mask --types all" "$t_all" "$(mbps "$in_bytes" "$t_all")" "$(kib_mb "$rss_all")" "full"
row "pii_baseline.py (Python json + re)" "$t_py" "$(mbps "$in_bytes" "$t_py")" "$(kib_mb "$rss_py")" "full, $runs_py run(s)"
echo

check "correctness: pii-mask keeps lines and structure, masks as many records as the baseline (+-$max_diff_pct%)" "$ok_cmp"
check_speed_memory "" "$(mbps "$in_bytes" "$t_pm")" "$rss_pm" "$rss_small" "$t_pm" "$t_py"
finish_checks
