# Shell pieces the benchmark scripts share; sourced after they set prog,
# cpu and reps (and, before measuring, tmp).
#
#   size_bytes SIZE MIN       SIZE (digits and one K/M/G suffix) -> $bytes
#   bench_tools CMD...        GNU time (installed when root), bash 5, the
#                             commands named; sets timebin, pin, pinned
#   measure INPUT OUT CMD...  best wall clock and max RSS of $reps runs
#   mbps BYTES SECONDS, kib_mb KIB, check TEXT OK(0/1) (counts $fails)

die() { echo "$prog: $*" >&2; exit 2; }

size_bytes() {
    [[ $1 =~ ^([0-9]{1,12})([KMG]?)$ ]] || die "bad SIZE '$1' (e.g. 64M, 1G)"
    case ${BASH_REMATCH[2]} in
        K) bytes=$(( 10#${BASH_REMATCH[1]} << 10 )) ;;
        M) bytes=$(( 10#${BASH_REMATCH[1]} << 20 )) ;;
        G) bytes=$(( 10#${BASH_REMATCH[1]} << 30 )) ;;
        *) bytes=$(( 10#${BASH_REMATCH[1]} )) ;;
    esac
    (( bytes >= $2 )) || die "SIZE must be at least $2 bytes"
}

bench_tools() {
    timebin=/usr/bin/time
    if [ ! -x "$timebin" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "$prog: installing GNU time (apt-get install time)" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null 2>&1 &&
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null 2>&1; }
        fi
        [ -x "$timebin" ] || die "/usr/bin/time is missing: apt-get install time"
    fi
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "'$t' is missing"
    done
    if ! [[ ${EPOCHREALTIME:-} =~ ^[0-9]+[.][0-9]+$ ]]; then
        die "bash 5 (EPOCHREALTIME) is needed"
    fi
    pin=()
    if command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then
        pin=(taskset -c "$cpu")
        pinned="CPU $cpu (taskset)"
    else
        echo "$prog: warning: cannot pin to CPU $cpu (taskset); running unpinned" >&2
        pinned="not pinned"
    fi
}

# measure INPUT OUT CMD... : runs CMD (stdout to OUT) up to $reps times,
# pinned, with INPUT warm, outputs $tmp/out.* removed and dirty pages synced
# before each run.  Sets best (seconds, wall clock), runs, and rss (KiB, the
# largest of the runs); CMD's stderr of the last run is in $tmp/err.  Stops
# early after a run of $stop_after seconds or more (0: never).  A failing
# CMD exits 2, or with soft=1 sets best to "failed" and returns 1.
stop_after=0 soft=0
measure() {
    local input=$1 out=$2; shift 2
    local i t0 t1 r d
    best='' rss=0 runs=0
    for (( i = 1; i <= reps; i++ )); do
        rm -f "$tmp"/out.*
        sync
        cat "$input" > /dev/null
        t0=$EPOCHREALTIME
        "$timebin" -f '%M' -o "$tmp/rss" "${pin[@]}" "$@" > "$out" 2> "$tmp/err"
        r=$?
        t1=$EPOCHREALTIME
        if (( r != 0 )); then
            echo "$prog: command failed (exit $r): $*" >&2
            head -n 20 "$tmp/err" >&2
            (( soft )) || exit 2
            best=failed rss=0 runs=$i
            return 1
        fi
        runs=$i
        d=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        best=$(awk -v d="$d" -v best="$best" 'BEGIN { if (best == "" || d < best) best = d; printf "%.4f", best }')
        r=$(tail -n 1 "$tmp/rss")
        [[ $r =~ ^[0-9]+$ ]] || die "cannot read max RSS from /usr/bin/time: '$r'"
        (( r > rss )) && rss=$r
        if [ "$stop_after" != 0 ] && awk -v d="$d" -v s="$stop_after" 'BEGIN { exit !(d >= s) }'; then
            break
        fi
    done
}

mbps() { awk -v n="$1" -v t="$2" 'BEGIN { if (t + 0 > 0) printf "%.1f", n / 1e6 / t; else print "-" }'; }
kib_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

fails=0
check() {   # check TEXT OK(0/1)
    if [ "$2" = 1 ]; then echo "bench: $1: PASS"; else echo "bench: $1: FAIL"; fails=$((fails + 1)); fi
}

# One row of the results table: case, best s, MB/s, RSS MiB, input.
row() { printf '  %-44s %10s %10s %10s  %s\n' "$@"; }

# The targets every tool bench has, against a Python baseline:
# check_speed_memory WHAT MBPS RSS_FULL_KIB RSS_EIGHTH_KIB T_TOOL T_BASELINE
# (uses min_mbps, max_rss_mib and min_speedup).
check_speed_memory() {
    local what=$1 mb=$2 rss=$3 rss_small=$4 t_tool=$5 t_py=$6
    local speedup flat_limit
    speedup=$(awk -v a="$t_py" -v b="$t_tool" 'BEGIN { printf "%.1f", a / b }')
    flat_limit=$(( rss_small * 3 / 2 + 4096 ))
    check "${what}throughput: $mb MB/s (target >= $min_mbps)" \
        "$(awk -v a="$mb" -v b="$min_mbps" 'BEGIN { print (a >= b) ? 1 : 0 }')"
    check "memory flat: max RSS $(kib_mb "$rss") MiB on the full input, $(kib_mb "$rss_small") MiB on 1/8 (target <= 1.5x + 4 MiB = $(kib_mb "$flat_limit") MiB)" \
        "$(( rss <= flat_limit ))"
    check "memory bound: max RSS $(kib_mb "$rss") MiB (target < $max_rss_mib MiB)" \
        "$(( rss < max_rss_mib * 1024 ))"
    check "speedup vs the Python baseline: ${speedup}x (target >= $min_speedup)" \
        "$(awk -v a="$speedup" -v m="$min_speedup" 'BEGIN { print (a >= m) ? 1 : 0 }')"
}

# Exit 1 when a check failed, else 0.
finish_checks() {
    (( fails == 0 )) || { echo "bench: $fails target(s) failed"; exit 1; }
    exit 0
}
