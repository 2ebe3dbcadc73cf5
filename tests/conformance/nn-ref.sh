#!/usr/bin/env bash
# Conformance: the model core (lib/nn, through tests/tools/nn-logits and
# sft-generate) against an independent PyTorch reference,
# tests/reference/ref.py, on tiny random checkpoints of every family.
#
#   tests/conformance/nn-ref.sh BUILD_DIR
#
# fixtures/gen-nn.py writes the checkpoints (llama, llama3, qwen2, qwen3,
# gemma, gemma2, gemma3_text, gemma3, each with a LoRA adapter) into
# BUILD_DIR/nn-ref/models, again when gen-nn.py is newer; ref.py prepare
# writes the inputs (BUILD_DIR/nn-ref/in) and the reference's outputs
# (BUILD_DIR/nn-ref/ref), again when ref.py or the models are newer. Then,
# for every case, without and with its adapter:
#   logits   nn-logits --ids (40 ids, the whole vocabulary) vs ref.py:
#            max |diff| <= 1e-4; without the adapter also with --chunk 7
#            (the KV cache path, chunks straddling the sliding window)
#   score    sft-generate --score (3 records, one masked): loss relative
#            difference <= 1e-5, n_scored equal
#   greedy   sft-generate --temperature 0 --max-new-tokens 8: generated_ids
#            equal (on a difference, the reference's logit margin)
# Test 1 is ref.py's own self-check (batched float32 against a naive
# float64 token-by-token implementation, and that the features bite).
# Prints TAP. Skips, saying why, when /usr/bin/python3 lacks torch or numpy,
# or when neither C tool is built (each test of a missing tool skips alone).
# NN_REF_OURS=ref puts ref.py in the place of the C tools (plumbing check).
set -u
build=${1:?usage: tests/conformance/nn-ref.sh BUILD_DIR}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BUILD_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
py=/usr/bin/python3
ref=tests/reference/ref.py
cmp=tests/reference/nn_compare.py
cases=(llama llama3 qwen2 qwen3 gemma gemma2 gemma3_text gemma3)

. tests/conformance/torch-lib.sh

nologits="" nogen=""
if [ "${NN_REF_OURS:-}" = ref ]; then
    logits_cmd=("$py" "$ref" logits)
    gen_cmd=("$py" "$ref" sft-generate)
else
    logits_cmd=("$build/tests/tools/nn-logits")
    gen_cmd=("$build/bin/sft-generate")
    [ -x "${logits_cmd[0]}" ] || nologits="${logits_cmd[0]} not built"
    [ -x "${gen_cmd[0]}" ] || nogen="${gen_cmd[0]} not built"
    [ -n "$nologits" ] && [ -n "$nogen" ] && skip_all "neither tests/tools/nn-logits nor bin/sft-generate is built"
fi

dir=$build/nn-ref
if [ ! -f "$dir/models/.stamp" ] || [ fixtures/gen-nn.py -nt "$dir/models/.stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/models" || fail_all "cannot create $dir"
    "$py" fixtures/gen-nn.py "$dir/models" >"$dir/gen-nn.log" 2>&1 ||
        fail_all "fixtures/gen-nn.py failed" "$dir/gen-nn.log"
    touch "$dir/models/.stamp"
fi
if [ ! -f "$dir/ref/.stamp" ] || [ "$ref" -nt "$dir/ref/.stamp" ] || [ "$dir/models/.stamp" -nt "$dir/ref/.stamp" ]; then
    rm -rf "$dir/ref" "$dir/in"
    "$py" "$ref" prepare "$dir" >"$dir/prepare.log" 2>&1 || fail_all "ref.py prepare failed" "$dir/prepare.log"
    touch "$dir/ref/.stamp"
fi
if [ ! -f "$dir/ref/selftest.rc" ]; then
    "$py" "$ref" selftest --quick --models "$dir/models" >"$dir/ref/selftest.out" 2>&1
    echo $? >"$dir/ref/selftest.rc"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nn-ref.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

echo "1..$((1 + ${#cases[@]} * (2 * 3 + 1)))"

t=1
nchecks=$(grep -c '^ok ' "$dir/ref/selftest.out")
worst=$(sed -n 's/.*naive fp64 max |diff| \([^ ]*\).*/\1/p' "$dir/ref/selftest.out" | sort -g | tail -1)
if [ "$(cat "$dir/ref/selftest.rc")" = 0 ]; then
    echo "ok $t - ref.py selftest: $nchecks checks; batched fp32 vs naive fp64 max |diff| $worst"
else
    echo "not ok $t - ref.py selftest failed (see $dir/ref/selftest.out)"
    grep -v '^ok ' "$dir/ref/selftest.out" | head -10 | sed 's/^/#   /'
fi

# report NAME STATUS MESSAGE
report() {
    if [ "$2" = 0 ]; then
        echo "ok $t - $1: $3"
    else
        echo "not ok $t - $1: $3"
    fi
}
# ran NAME STATUS: a C tool's failure as a TAP line; 0 when it succeeded
ran() {
    [ "$2" = 0 ] && return 0
    echo "not ok $t - $1: exit $2: $(head -3 "$work/err" | tr '\n' ' ')"
    return 1
}

for c in "${cases[@]}"; do
    m=$dir/models/$c
    ids=$(cat "$dir/in/$c.ids")
    vocab=$(cat "$dir/in/$c.vocab")
    ntok=$(echo "$ids" | tr ',' '\n' | grep -c .)
    for v in "" "+lora"; do
        name=$c$v
        ad=()
        [ -n "$v" ] && ad=(--adapter "$m-lora")

        t=$((t + 1))
        if [ -n "$nologits" ]; then
            echo "ok $t - $name logits # skip $nologits"
        else
            rm -f "$work/logits.f32"
            "${logits_cmd[@]}" --model "$m" "${ad[@]}" --ids "$ids" --out "$work/logits.f32" >/dev/null 2>"$work/err"
            if ran "$name logits" $?; then
                msg=$("$py" "$cmp" logits "$work/logits.f32" "$dir/ref/$name.logits.f32" "$ntok" "$vocab")
                report "$name logits" $? "$msg"
            fi
        fi

        # the same through the KV cache, 7 tokens at a time (chunks that
        # straddle the sliding window), without the adapter
        if [ -z "$v" ]; then
            t=$((t + 1))
            if [ -n "$nologits" ]; then
                echo "ok $t - $name logits --chunk 7 # skip $nologits"
            else
                rm -f "$work/logits.f32"
                "${logits_cmd[@]}" --model "$m" --chunk 7 --ids "$ids" --out "$work/logits.f32" >/dev/null 2>"$work/err"
                if ran "$name logits --chunk 7" $?; then
                    msg=$("$py" "$cmp" logits "$work/logits.f32" "$dir/ref/$name.logits.f32" "$ntok" "$vocab")
                    report "$name logits --chunk 7" $? "$msg"
                fi
            fi
        fi

        t=$((t + 1))
        if [ -n "$nogen" ]; then
            echo "ok $t - $name score # skip $nogen"
        else
            "${gen_cmd[@]}" --model "$m" "${ad[@]}" --score "$dir/in/$c.score.jsonl" >"$work/score.jsonl" 2>"$work/err"
            if ran "$name score" $?; then
                msg=$("$py" "$cmp" score "$work/score.jsonl" "$dir/ref/$name.score.jsonl")
                report "$name score" $? "$msg"
            fi
        fi

        t=$((t + 1))
        if [ -n "$nogen" ]; then
            echo "ok $t - $name greedy generation # skip $nogen"
        else
            "${gen_cmd[@]}" --model "$m" "${ad[@]}" --temperature 0 --max-new-tokens 8 "$dir/in/$c.gen.jsonl" \
                >"$work/gen.jsonl" 2>"$work/err"
            if ran "$name greedy generation" $?; then
                msg=$("$py" "$cmp" gen "$work/gen.jsonl" "$dir/ref/$name.gen.json")
                report "$name greedy generation" $? "$msg"
            fi
        fi
    done
done
