#!/usr/bin/env bash
# nn-bench.sh BUILD_DIR — the `make bench-nn` benchmark of the model core.
#
# On a Qwen2.5-0.5B-shaped random BF16 checkpoint (tests/bench/gen-qwen-shape.py,
# made once into the data cache; 988 MB), with all cores (SFT_BENCH_THREADS):
#   a) the memcpy bandwidth (nn-gen-bench --membw: bytes copied per second)
#   b) decode: tokens/s of one-token steps with logits and a greedy pick,
#      after a 16-token prompt, against the bound of the memory bandwidth:
#      bandwidth / weight bytes one token reads (every matrix once, the tied
#      embedding as the head)
#   c) prefill: tokens/s of a PREFILL-token prompt (default 512) through the
#      model, against tests/reference/ref.py bench-prefill (our PyTorch
#      reference, fp32, weights upcast once, torch.set_num_threads = threads,
#      the logits of the last position only, as ours)
#   d) the peak resident memory of (b)+(c), against the checkpoint's bytes
#
# Targets (exit 1 when one fails):
#   decode tokens/s >= 0.80 x the bandwidth bound   (SFT_BENCH_MIN_DECODE_FRAC)
#   prefill tokens/s >= 5 x the PyTorch reference's (SFT_BENCH_MIN_PREFILL_SPEEDUP)
#   peak RSS <= 1.3 x the checkpoint's bytes       (SFT_BENCH_MAX_RSS_RATIO)
#
# Environment: SFT_BENCH_DIR (data cache, default BUILD_DIR/bench/data),
# SFT_BENCH_THREADS (default: all cores), SFT_BENCH_PREFILL (512),
# SFT_BENCH_DECODE (32). Needs /usr/bin/python3 with numpy (the checkpoint)
# and torch (the reference); without torch (c) is skipped, saying why.
set -u
prog=nn-bench
build=${1:?usage: nn-bench.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
data=${SFT_BENCH_DIR:-$build/bench/data}
threads=${SFT_BENCH_THREADS:-$(nproc)}
prefill=${SFT_BENCH_PREFILL:-512}
decode=${SFT_BENCH_DECODE:-32}
min_decode=${SFT_BENCH_MIN_DECODE_FRAC:-0.80}
min_prefill=${SFT_BENCH_MIN_PREFILL_SPEEDUP:-5}
max_rss=${SFT_BENCH_MAX_RSS_RATIO:-1.3}
bin=$build/bench/nn-gen-bench
[ -x "$bin" ] || { echo "$prog: $bin is not built (make bench-nn builds it)" >&2; exit 2; }
model=$data/qwen2.5-0.5b-shape
if [ ! -s "$model/model.safetensors" ] || [ tests/bench/gen-qwen-shape.py -nt "$model/model.safetensors" ]; then
    echo "$prog: generating $model (988 MB)" >&2
    /usr/bin/python3 tests/bench/gen-qwen-shape.py "$model" || { echo "$prog: generator failed" >&2; exit 2; }
fi
cat "$model/model.safetensors" >/dev/null

get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { if awk "BEGIN { exit !($2) }"; then echo "  ok   $1"; else echo "  FAIL $1"; fails=$((fails + 1)); fi; }

"$bin" --membw -t "$threads" >"$tmp/bw" || exit 2
"$bin" "$model" -t "$threads" --prefill "$prefill" --decode "$decode" >"$tmp/gen" || exit 2
bw=$(get memcpy_bytes_per_s "$tmp/bw")
bpt=$(get bytes_per_token "$tmp/gen")
dec=$(get decode_tokens_per_s "$tmp/gen")
pre=$(get prefill_tokens_per_s "$tmp/gen")
rss=$(get max_rss_bytes "$tmp/gen")
ckpt=$(get checkpoint_bytes "$tmp/gen")
isa=$(get isa "$tmp/gen")
bound=$(awk -v b="$bw" -v p="$bpt" 'BEGIN { printf "%.3f", b / p }')
echo "nn-bench: Qwen2.5-0.5B shape (random BF16), $threads threads, kernels $isa, $(uname -m)"
printf '  memcpy bandwidth        %8.2f GB/s\n' "$(awk -v b="$bw" 'BEGIN { print b / 1e9 }')"
printf '  weight bytes per token  %8.1f MB\n' "$(awk -v b="$bpt" 'BEGIN { print b / 1e6 }')"
printf '  decode                  %8.3f tokens/s  (bound %.3f; %.1f%%)\n' "$dec" "$bound" \
    "$(awk -v d="$dec" -v b="$bound" 'BEGIN { print 100 * d / b }')"
printf '  prefill %5d tokens     %8.2f tokens/s\n' "$prefill" "$pre"
ref=""
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    if /usr/bin/python3 tests/reference/ref.py bench-prefill --model "$model" --tokens "$prefill" --last-only \
        --threads "$threads" >"$tmp/ref" 2>"$tmp/ref.err"; then
        ref=$(grep -oE '[0-9]+(\.[0-9]+)?' "$tmp/ref" | head -1)
        printf '  PyTorch reference       %8.2f tokens/s  (ours %.2fx)\n' "$ref" \
            "$(awk -v a="$pre" -v b="$ref" 'BEGIN { print a / b }')"
    else
        echo "$prog: the PyTorch reference failed:" >&2
        tail -5 "$tmp/ref.err" >&2
        fails=$((fails + 1))
    fi
else
    echo "  PyTorch reference: skipped (no torch in /usr/bin/python3; apt-get install python3-torch)"
fi
printf '  peak RSS                %8.1f MB  (checkpoint %.1f MB; %.3fx)\n' \
    "$(awk -v r="$rss" 'BEGIN { print r / 1e6 }')" "$(awk -v r="$ckpt" 'BEGIN { print r / 1e6 }')" \
    "$(awk -v r="$rss" -v c="$ckpt" 'BEGIN { print r / c }')"
echo "targets:"
check "decode >= $min_decode x the bandwidth bound" "$dec >= $min_decode * $bound"
[ -n "$ref" ] && check "prefill >= $min_prefill x the PyTorch reference" "$pre >= $min_prefill * $ref"
check "peak RSS <= $max_rss x the checkpoint" "$rss <= $max_rss * $ckpt"
[ $fails -eq 0 ] || exit 1
