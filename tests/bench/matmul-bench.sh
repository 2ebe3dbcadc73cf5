#!/usr/bin/env bash
# matmul-bench.sh BUILD_DIR — the `make bench-matmul` benchmark of nn_matmul.
#
# Runs BUILD_DIR/bench/matmul-bench (tests/bench/matmul-bench.c) on the
# matmul shapes of Qwen2.5-0.5B: T in {1, 16, 128, 512, 2048} x (K, N) in
# {(896,896), (896,128), (896,4864), (4864,896), (896,151936)}, shapes of
# more than SFT_BENCH_MAX_GFLOP GFLOP per product left out (default 40: the
# vocabulary projection stops at T = 128), and measures GFLOP/s (best of the
# repetitions of each case, SFT_BENCH_MIN_TIME seconds at least) of
#   ours-avx512  nn_matmul, F32 weights, AVX-512 kernels
#   ours-avx2    nn_matmul, F32 weights, AVX2 kernels
#   ours-bf16    nn_matmul, BF16 weights, best ISA (for information)
#   blas         OpenBLAS cblas_sgemm (RowMajor, x NoTrans, W Trans); for
#                T = 1 cblas_sgemv (the GEMV baseline)
#   blas-hsw     the same with OPENBLAS_CORETYPE=Haswell (its AVX2 kernels)
# a) on one core: pinned to CPU SFT_BENCH_CPU (default 0), our pool of 1
#    and openblas_set_num_threads(1)
# b) on all cores: a pool of nproc threads, and as many OpenBLAS threads.
# Every result of ours is checked against OpenBLAS's (matmul-bench exits 1).
#
# Aggregate: the geometric mean over shapes with T >= 16 of the ratio
# ours/OpenBLAS (AVX-512 vs OpenBLAS's native kernels, AVX2 vs OpenBLAS
# forced to Haswell), and separately the geometric mean over the T = 1
# shapes (GEMV, vs cblas_sgemv).
#
# Targets (exit 1 when one fails; SFT_BENCH_MIN_RATIO, default 0.70):
#   AVX-512 / OpenBLAS >= 0.70, T >= 16, one core and all cores
#   AVX2 / OpenBLAS-Haswell >= 0.70, T >= 16, one core and all cores
#   T = 1: AVX-512 (or AVX2 without it) / sgemv >= 0.70, one core and all
#   T = 1: AVX2 / sgemv (Haswell) >= 0.70, one core and all
# ISAs the CPU lacks are skipped with a note.
#
# Exit status: 0 all targets met, 1 a target or a correctness check
# failed, 2 usage or setup error.

set -u -o pipefail
export LC_ALL=C

prog=matmul-bench
. "$(dirname "$0")/bench-lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || die "BUILD_DIR $1 not found"
bin=$build/bench/matmul-bench
[ -x "$bin" ] || die "$bin is missing (make bench-matmul builds it)"
cpu=${SFT_BENCH_CPU:-0}
min_ratio=${SFT_BENCH_MIN_RATIO:-0.70}
min_time=${SFT_BENCH_MIN_TIME:-0.15}
max_gflop=${SFT_BENCH_MAX_GFLOP:-40}
[[ $cpu =~ ^[0-9]+$ ]] || die "SFT_BENCH_CPU must be a CPU number, not '$cpu'"
for v in min_ratio min_time max_gflop; do
    [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad value '${!v}' for $v"
done
ncpu=$(nproc 2>/dev/null || echo 1)

pin=()
if command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then
    pin=(taskset -c "$cpu")
else
    echo "$prog: warning: cannot pin to CPU $cpu (taskset); running unpinned" >&2
fi

tmp=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

bench_run() { # OUT THREADS [ENV...] -- ARGS...
    local out=$1 th=$2; shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local p=()
    [ "$th" = 1 ] && p=("${pin[@]}")
    env "${envs[@]}" "${p[@]}" "$bin" --threads "$th" --min-time "$min_time" --max-gflop "$max_gflop" "$@" > "$out" 2> "$tmp/err"
    local r=$?
    if (( r == 1 )); then
        cat "$tmp/err" >&2
        check "results of nn_matmul equal OpenBLAS's ($out)" 0
    elif (( r != 0 )); then
        cat "$tmp/err" >&2
        die "matmul-bench failed (exit $r)"
    fi
}

t0=$EPOCHREALTIME
echo "$prog: one core (CPU $cpu) ..."
bench_run "$tmp/one.tsv" 1 -- 
bench_run "$tmp/one-hsw.tsv" 1 OPENBLAS_CORETYPE=Haswell -- --impl blas
echo "$prog: all $ncpu cores ..."
bench_run "$tmp/all.tsv" "$ncpu" -- 
bench_run "$tmp/all-hsw.tsv" "$ncpu" OPENBLAS_CORETYPE=Haswell -- --impl blas

core=$(sed -n 's/^# openblas core \([^,]*\),.*best isa \(.*\)/\1/p' "$tmp/one.tsv")
core_hsw=$(sed -n 's/^# openblas core \([^,]*\),.*/\1/p' "$tmp/one-hsw.tsv")
best=$(sed -n 's/.*best isa \(.*\)/\1/p' "$tmp/one.tsv")
echo "$prog: OpenBLAS core $core (forced: $core_hsw); our best ISA $best; $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"

# table + aggregates: prints the table, then lines "AGG name value"
report() { # TSV HSW_TSV LABEL
    awk -F'\t' -v label="$3" '
        FNR == 1 { file++ }
        /^#/ { next }
        { key = $1 " " $2 " " $3
          if (!(key in seen)) { seen[key] = 1; order[++n] = key; T[key] = $1; K[key] = $2; N[key] = $3 }
          if (file == 1) v[key, $5] = $6; else v[key, "blas-hsw"] = $6 }
        function f(x) { return x == "" ? "-" : sprintf("%.1f", x) }
        function r(a, b) { return (a == "" || b == "" || b == 0) ? "" : a / b }
        function fr(x) { return x == "" ? "-" : sprintf("%.2f", x) }
        END {
            printf "\n%s\n", label
            printf "  %5s %5s %7s %11s %11s %10s %8s %9s %8s %8s\n", "T", "K", "N", "ours-avx512", "ours-avx2", "ours-bf16", "blas", "blas-hsw", "512/blas", "avx2/hsw"
            for (i = 1; i <= n; i++) {
                k = order[i]
                a = v[k, "ours-avx512"]; b = v[k, "ours-avx2"]; c = v[k, "ours-bf16"]; o = v[k, "blas"]; h = v[k, "blas-hsw"]
                r1 = r(a, o); r2 = r(b, h)
                printf "  %5s %5s %7s %11s %11s %10s %8s %9s %8s %8s\n", T[k], K[k], N[k], f(a), f(b), f(c), f(o), f(h), fr(r1), fr(r2)
                g = (T[k] >= 16) ? "gemm" : "gemv"
                if (r1 != "") { s1[g] += log(r1); n1[g]++ }
                if (r2 != "") { s2[g] += log(r2); n2[g]++ }
                if (g == "gemv") { x = (a != "" ? a : b); if (x != "" && o != "") { s3 += log(x / o); n3++ } }
            }
            printf "  (GFLOP/s; T = 1: blas is cblas_sgemv)\n"
            if (n1["gemm"]) printf "AGG avx512_gemm %.3f %d\n", exp(s1["gemm"] / n1["gemm"]), n1["gemm"]
            if (n2["gemm"]) printf "AGG avx2_gemm %.3f %d\n", exp(s2["gemm"] / n2["gemm"]), n2["gemm"]
            if (n3) printf "AGG gemv %.3f %d\n", exp(s3 / n3), n3
            if (n2["gemv"]) printf "AGG avx2_gemv %.3f %d\n", exp(s2["gemv"] / n2["gemv"]), n2["gemv"]
        }' "$1" "$2"
}

for cfg in "one:one core (CPU $cpu), 1 thread each" "all:all cores, $ncpu threads each"; do
    name=${cfg%%:*} label=${cfg#*:}
    report "$tmp/$name.tsv" "$tmp/$name-hsw.tsv" "$label" > "$tmp/$name.rep"
    grep -v '^AGG' "$tmp/$name.rep"
done
echo

agg() { awk -v k="$2" '$1 == "AGG" && $2 == k { print $3 }' "$tmp/$1.rep"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && a + 0 >= b + 0) ? 1 : 0 }'; }
for name in one all; do
    where=$([ $name = one ] && echo "one core" || echo "all $ncpu cores")
    a=$(agg $name avx512_gemm)
    if [ -n "$a" ]; then
        check "$where: AVX-512 / OpenBLAS ($core) geomean over T >= 16: ${a}x (target >= $min_ratio)" "$(ge "$a" "$min_ratio")"
    else
        echo "bench: $where: AVX-512 not supported here: skipped"
    fi
    a=$(agg $name avx2_gemm)
    if [ -n "$a" ]; then
        [ "$core_hsw" = Haswell ] || echo "bench: note: OPENBLAS_CORETYPE=Haswell gave core $core_hsw"
        check "$where: AVX2 / OpenBLAS (Haswell) geomean over T >= 16: ${a}x (target >= $min_ratio)" "$(ge "$a" "$min_ratio")"
    else
        echo "bench: $where: AVX2 not supported here: skipped"
    fi
    a=$(agg $name gemv)
    [ -n "$a" ] && check "$where: T = 1 GEMV ($best) / cblas_sgemv geomean: ${a}x (target >= $min_ratio)" "$(ge "$a" "$min_ratio")"
    a=$(agg $name avx2_gemv)
    [ -n "$a" ] && check "$where: T = 1 GEMV AVX2 / sgemv (Haswell) geomean: ${a}x (target >= $min_ratio)" "$(ge "$a" "$min_ratio")"
done
finish_checks
