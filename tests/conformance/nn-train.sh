#!/usr/bin/env bash
# Conformance: the LoRA gradients of the trainer core (lib/nn/train.c,
# through tests/tools/nn-grads) against the PyTorch reference,
# tests/reference/ref.py grads, on tiny random checkpoints of every family.
#
#   tests/conformance/nn-train.sh BUILD_DIR
#
# fixtures/gen-nn.py writes the checkpoints (llama, llama3, qwen2, qwen3,
# gemma, gemma2, gemma3_text, gemma3, each with a LoRA adapter) into
# BUILD_DIR/nn-train/models, again when gen-nn.py is newer; ref.py
# prepare-train writes, in one process, the inputs (BUILD_DIR/nn-train/in:
# 3 records of 22-26 ids anywhere in the vocabulary, one with a mask) and
# the reference's loss and gradients (BUILD_DIR/nn-train/ref), again when
# ref.py or the models are newer. Then, for every case, with its adapter as
# the one trained:
#   nn-grads --model DIR --adapter DIR FILE --out OUT.safetensors
#            (the loss of all records as one step, stdout {"loss", "n_tokens"},
#            and the gradient of every lora_A / lora_B, F32, PEFT names):
#            loss relative difference <= 1e-5, n_tokens equal, every
#            gradient present with its shape, and per tensor
#            max |g - g_ref| / max |g_ref| <= 1e-4 (the worst tensor is named)
# Test 1 is ref.py's own training self-check (autograd against finite
# differences in float64, batch x accumulation, AdamW and clipping). The
# last three: --grad-checkpoint gives byte-identical gradients (with and
# without dropout), and LoRA dropout's gradient against finite differences
# of our own loss (tests/conformance/nn-dropout-fd.py; no reference has our
# masks).
# Prints TAP. Skips, saying why, when /usr/bin/python3 lacks torch or numpy;
# the cases skip when tests/tools/nn-grads is not built.
# NN_TRAIN_OURS=ref puts ref.py grads in the place of the C tool (plumbing check).
set -u
build=${1:?usage: tests/conformance/nn-train.sh BUILD_DIR}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BUILD_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
py=/usr/bin/python3
ref=tests/reference/ref.py
cmp=tests/reference/nn_compare.py
cases=(llama llama3 qwen2 qwen3 gemma gemma2 gemma3_text gemma3)

. tests/conformance/torch-lib.sh

notool=""
if [ "${NN_TRAIN_OURS:-}" = ref ]; then
    grads_cmd=("$py" "$ref" grads)
else
    grads_cmd=("$build/tests/tools/nn-grads")
    [ -x "${grads_cmd[0]}" ] || notool="tests/tools/nn-grads not built"
fi

dir=$build/nn-train
if [ ! -f "$dir/models/.stamp" ] || [ fixtures/gen-nn.py -nt "$dir/models/.stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/models" || fail_all "cannot create $dir"
    "$py" fixtures/gen-nn.py "$dir/models" >"$dir/gen-nn.log" 2>&1 ||
        fail_all "fixtures/gen-nn.py failed" "$dir/gen-nn.log"
    touch "$dir/models/.stamp"
fi
# the reference's gradients only when there is something to compare them with
if [ -z "$notool" ] && { [ ! -f "$dir/ref/.stamp" ] || [ "$ref" -nt "$dir/ref/.stamp" ] ||
                         [ "$dir/models/.stamp" -nt "$dir/ref/.stamp" ]; }; then
    rm -rf "$dir/ref" "$dir/in"
    "$py" "$ref" prepare-train "$dir" >"$dir/prepare.log" 2>&1 || fail_all "ref.py prepare-train failed" "$dir/prepare.log"
    touch "$dir/ref/.stamp"
fi
mkdir -p "$dir/ref"
if [ ! -f "$dir/ref/selftest.rc" ] || [ "$ref" -nt "$dir/ref/selftest.rc" ] || [ "$dir/models/.stamp" -nt "$dir/ref/selftest.rc" ]; then
    "$py" "$ref" selftest-train --models "$dir/models" >"$dir/ref/selftest.out" 2>&1
    echo $? >"$dir/ref/selftest.rc"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nn-train.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

echo "1..$((4 + ${#cases[@]}))"

t=1
nchecks=$(grep -c '^ok ' "$dir/ref/selftest.out")
fd=$(sed -n 's/.*central differences.*max |diff| \/ max |grad| \([^ ]*\).*/\1/p' "$dir/ref/selftest.out" | sort -g | tail -1)
if [ "$(cat "$dir/ref/selftest.rc")" = 0 ]; then
    echo "ok $t - ref.py selftest-train: $nchecks checks; autograd vs float64 central differences max rel. diff ${fd:-?}"
else
    echo "not ok $t - ref.py selftest-train failed (see $dir/ref/selftest.out)"
    grep -v '^ok ' "$dir/ref/selftest.out" | head -10 | sed 's/^/#   /'
fi

for c in "${cases[@]}"; do
    t=$((t + 1))
    name="$c+lora grads"
    if [ -n "$notool" ]; then
        echo "ok $t - $name # skip $notool"
        continue
    fi
    m=$dir/models/$c
    rm -f "$work/grads.safetensors"
    "${grads_cmd[@]}" --model "$m" --adapter "$m-lora" "$dir/in/$c.jsonl" --out "$work/grads.safetensors" \
        >"$work/out.json" 2>"$work/err"
    rc=$?
    if [ $rc != 0 ]; then
        echo "not ok $t - $name: exit $rc: $(head -3 "$work/err" | tr '\n' ' ')"
        continue
    fi
    msg=$("$py" "$cmp" grads "$work/out.json" "$work/grads.safetensors" "$dir/ref/$c.grads.json" \
        "$dir/ref/$c.grads.safetensors")
    if [ $? = 0 ]; then
        echo "ok $t - $name: $msg"
    else
        echo "not ok $t - $name: $msg"
    fi
done

# --grad-checkpoint recomputes each layer: the same gradients, byte for byte;
# LoRA dropout: its gradient against finite differences of the loss (the
# masks depend on the seed and the call count only, so each run sees the
# same ones), through a BF16 and an F32 adapter
ckpt_cases=(gemma2 qwen3)
t=$((t + 1))
if [ -n "$notool" ] || [ "${NN_TRAIN_OURS:-}" = ref ]; then
    echo "ok $t - --grad-checkpoint gives the same gradients # skip ${notool:-NN_TRAIN_OURS=ref}"
else
    same=1
    for c in "${ckpt_cases[@]}"; do
        m=$dir/models/$c
        for d in 0 0.2; do
            "${grads_cmd[@]}" --model "$m" --adapter "$m-lora" "$dir/in/$c.jsonl" --dropout $d --out "$work/a.st" >/dev/null 2>&1 &&
                "${grads_cmd[@]}" --model "$m" --adapter "$m-lora" "$dir/in/$c.jsonl" --dropout $d --grad-checkpoint \
                    --out "$work/b.st" >/dev/null 2>&1 && cmp -s "$work/a.st" "$work/b.st" || same=0
        done
    done
    if [ $same = 1 ]; then
        echo "ok $t - --grad-checkpoint gives byte-identical gradients (${ckpt_cases[*]}, dropout 0 and 0.2)"
    else
        echo "not ok $t - --grad-checkpoint changes the gradients"
    fi
fi
for c in gemma2 qwen2; do
    t=$((t + 1))
    if [ -n "$notool" ] || [ "${NN_TRAIN_OURS:-}" = ref ]; then
        echo "ok $t - $c dropout gradient # skip ${notool:-NN_TRAIN_OURS=ref}"
        continue
    fi
    m=$dir/models/$c
    if out=$("$py" tests/conformance/nn-dropout-fd.py "${grads_cmd[0]}" "$m" "$m-lora" "$dir/in/$c.jsonl" 0.3 2>&1); then
        echo "ok $t - $c LoRA dropout 0.3: gradient vs finite differences within 5% on 4 entries"
    else
        echo "not ok $t - $c LoRA dropout 0.3: gradient vs finite differences"
    fi
    echo "$out" | sed 's/^/#   /'
done
