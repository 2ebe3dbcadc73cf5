#!/usr/bin/env bash
# Conformance: sft-merge against the PyTorch reference. For three families
# (qwen3, gemma2, and gemma3 with the multimodal tensor names and a vision
# tower), the logits of the merged model (BUILD/tests/tools/nn-logits, no
# adapter) against tests/reference/ref.py's logits of the base model with
# the adapter applied (y = W x + s B (A x), float32):
#   --dtype f32   max |diff| <= 1e-4 (only the fp32 summation order differs)
#   BF16 (auto)   max |diff| <= 1e-3 against the reference's own merge,
#                 W' = (W + s B A in fp32).to(bfloat16), as torch rounds it.
#                 Rounding W' to BF16 moves these tiny random models' logits
#                 by ~5e-2 from the unrounded base+adapter (their LoRA deltas
#                 are ~0.3 of the weights); the TAP line states that
#                 distance too, for information.
# The TAP lines state the measured values.
#
#   tests/conformance/nn-merge.sh BUILD_DIR
#
# fixtures/gen-nn.py writes the checkpoints into BUILD_DIR/nn-merge/models
# (again when gen-nn.py is newer). Skips, saying why, when /usr/bin/python3
# (or $NN_MERGE_PYTHON) lacks torch or numpy, or when the tools are not built.
set -u
build=${1:?usage: tests/conformance/nn-merge.sh BUILD_DIR}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BUILD_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
py=${NN_MERGE_PYTHON:-/usr/bin/python3}
ref=tests/reference/ref.py
cmp=tests/reference/nn_compare.py
cases=(qwen3 gemma2 gemma3)

. tests/conformance/torch-lib.sh
merge=$build/bin/sft-merge
logits=$build/tests/tools/nn-logits
[ -x "$merge" ] || skip_all "$merge not built"
[ -x "$logits" ] || skip_all "$logits not built"

dir=$build/nn-merge
if [ ! -f "$dir/models/.stamp" ] || [ fixtures/gen-nn.py -nt "$dir/models/.stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/models" || fail_all "cannot create $dir"
    "$py" fixtures/gen-nn.py "$dir/models" --cases "$(IFS=,; echo "${cases[*]}")" >"$dir/gen-nn.log" 2>&1 ||
        fail_all "fixtures/gen-nn.py failed" "$dir/gen-nn.log"
    touch "$dir/models/.stamp"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nn-merge.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# 40 ids spread over the first 2000 of the vocabulary (every case has more)
ids=$(awk 'BEGIN { for (i = 1; i <= 40; i++) printf "%s%d", (i > 1 ? "," : ""), (i * 7919) % 2000 + 3 }')
ntok=40

echo "1..$((${#cases[@]} * 2))"
t=0
for c in "${cases[@]}"; do
    m=$dir/models/$c
    vocab=$("$py" -c 'import json, sys
c = json.load(open(sys.argv[1]))
print((c.get("text_config") or c)["vocab_size"])' "$m/config.json")
    rm -f "$work/ref.f32"
    "$py" "$ref" logits --model "$m" --adapter "$m-lora" --ids "$ids" --out "$work/ref.f32" >"$work/ref.log" 2>&1
    refrc=$?
    # the reference's merge, rounded to BF16 by torch
    rm -f "$work/refbf.f32"
    "$py" - "$m" "$ids" "$work/refbf.f32" >>"$work/ref.log" 2>&1 <<'EOF2' || refrc=1
import sys
sys.path.insert(0, "tests/reference")
import torch
import ref
m = ref.Model(sys.argv[1], sys.argv[1] + "-lora")
for mod, (a, b, s) in m.lora.items():
    w = m.w[mod + ".weight"]
    m.w[mod + ".weight"] = (w + (b @ a) * s).to(torch.bfloat16).to(torch.float32)
m.lora = {}
ref.write_logits(sys.argv[3], m.forward([int(x) for x in sys.argv[2].split(",")]))
EOF2
    for mode in f32 auto; do
        t=$((t + 1))
        tol=$([ $mode = f32 ] && echo 1e-4 || echo 1e-3)
        name="$c merged --dtype $mode vs ref.py base+adapter"
        if [ $refrc -ne 0 ]; then
            echo "not ok $t - $name: ref.py logits failed: $(tail -1 "$work/ref.log")"
            continue
        fi
        rm -rf "$work/merged"
        if ! "$merge" -m "$m" --adapter "$m-lora" -o "$work/merged" --dtype $mode 2>"$work/err"; then
            echo "not ok $t - $name: sft-merge failed: $(head -2 "$work/err" | tr '\n' ' ')"
            continue
        fi
        rm -f "$work/ours.f32"
        if ! "$logits" --model "$work/merged" --ids "$ids" --out "$work/ours.f32" >/dev/null 2>"$work/err"; then
            echo "not ok $t - $name: nn-logits failed: $(head -2 "$work/err" | tr '\n' ' ')"
            continue
        fi
        if [ $mode = f32 ]; then
            msg=$("$py" "$cmp" logits "$work/ours.f32" "$work/ref.f32" "$ntok" "$vocab" "$tol")
        else
            name="$c merged (BF16) vs ref.py's merge rounded by torch"
            msg=$("$py" "$cmp" logits "$work/ours.f32" "$work/refbf.f32" "$ntok" "$vocab" "$tol")
        fi
        rc=$?
        [ $mode = auto ] && msg="$msg (<= $tol); vs unrounded base+adapter: $("$py" "$cmp" logits "$work/ours.f32" \
            "$work/ref.f32" "$ntok" "$vocab" 1 | sed 's/ over .*//')" || msg="$msg (<= $tol)"
        if [ $rc -eq 0 ]; then
            echo "ok $t - $name: $msg"
        else
            echo "not ok $t - $name: $msg"
        fi
    done
done
