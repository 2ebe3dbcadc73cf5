#!/usr/bin/env bash
# Conformance: sft-train's optimizer steps, end to end through the CLI,
# against the PyTorch reference (tests/reference/ref.py train) and against
# itself, on tiny random checkpoints of every family.
#
#   tests/conformance/nn-train-steps.sh BUILD_DIR
#
# fixtures/gen-nn.py --vocab 2061 writes the checkpoints (llama, llama3,
# qwen2, qwen3, gemma, gemma2, gemma3_text, gemma3, each with a LoRA adapter)
# into BUILD_DIR/nn-train-steps/models, again when gen-nn.py is newer;
# nn-train-steps.py inputs writes the records (BUILD_DIR/nn-train-steps/in),
# and nn-train-steps.py ref runs, in one process, every reference training
# whose inputs changed (BUILD_DIR/nn-train-steps/ref/JOB). The tests:
#   a  per family, from its adapter (--init-adapter), 12 records of 20-30
#      ids anywhere in the vocabulary (some masked), --no-shuffle --schedule
#      constant --max-grad-norm 0 --lr 1e-2 --max-steps 10 --batch-size 2
#      (wrapping around the file) vs ref.py train --steps 10 --batch-size 2:
#      every step's loss within 1e-5 relative, grad_norm within 1e-4, the
#      final adapter's tensors (names, shapes, F32) within 1e-4 (max |diff| /
#      max |ref|, per tensor); then one family with --weight-decay 0.1
#      --max-grad-norm 0.5 (clipping active) --grad-accum 2
#   b  batch 8 x accum 1 vs batch 1 x accum 8 (sft-train both): step losses
#      and adapters within 1e-5 relative
#   c  --batch-tokens 24 (packed) vs --batch-size 2 on records whose
#      consecutive pairs are 24 tokens long: the same step losses within
#      1e-5 (two families, one with a sliding window)
#   d  resume: 6 steps with --save-steps 2 (shuffled, warm-up, clipping,
#      crossing an epoch) vs the same run killed with SIGKILL (once right
#      after checkpoint-2 appears, once at a random point after it) and
#      rerun with --resume OUT: log.jsonl identical but for tokens_per_s,
#      adapter_model.safetensors byte-identical
#   e  EOS labelled: SFT examples through the fixture models' ChatML
#      template: tokcount --ids trains the <|im_end|> closing each assistant
#      turn and no other; sft-train's first-step loss on the SFT examples
#      equals ref.py train's on those ids/mask records (1e-5)
# Prints TAP. Skips, saying why, when /usr/bin/python3 lacks torch or numpy,
# or when bin/sft-train is not built. KEEP_WORK=1 keeps the runs' outputs (printed
# temporary directory) for a look after a failure.
set -u
build=${1:?usage: tests/conformance/nn-train-steps.sh BUILD_DIR}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BUILD_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
py=/usr/bin/python3
helper=tests/conformance/nn-train-steps.py
cases=(llama llama3 qwen2 qwen3 gemma gemma2 gemma3_text gemma3)
train=$build/bin/sft-train
tokcount=$build/bin/tokcount

. tests/conformance/torch-lib.sh
[ -x "$train" ] || skip_all "bin/sft-train not built"

dir=$build/nn-train-steps
if [ ! -f "$dir/models/.stamp" ] || [ fixtures/gen-nn.py -nt "$dir/models/.stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/models" || fail_all "cannot create $dir"
    "$py" fixtures/gen-nn.py "$dir/models" --vocab 2061 >"$dir/gen-nn.log" 2>&1 ||
        fail_all "fixtures/gen-nn.py failed" "$dir/gen-nn.log"
    touch "$dir/models/.stamp"
fi
M=$dir/models
in=$dir/in
"$py" "$helper" inputs "$in" || fail_all "nn-train-steps.py inputs failed"

work=$(mktemp -d "${TMPDIR:-/tmp}/nn-train-steps.XXXXXX") || exit 1
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && echo "# work directory: $work"

# e's ids/mask records, through our tokenizer and template
eos_ids=$in/eos.ids.jsonl
rm -f "$eos_ids"
if [ -x "$tokcount" ]; then
    "$tokcount" --tokenizer "$M/qwen2" --ids "$in/eos.sft.jsonl" >"$eos_ids" 2>"$work/tokcount.err" || rm -f "$eos_ids"
fi

# the reference's jobs, one process
{
    echo "["
    sep=""
    for c in "${cases[@]}"; do
        printf '%s{"model":"%s","init_adapter":"%s","in":"%s","steps":10,"lr":0.01,"batch_size":2,"f64":true,"out":"%s"}\n' \
            "$sep" "$M/$c" "$M/$c-lora" "$in/steps.jsonl" "$dir/ref/$c"
        sep=","
    done
    printf ',{"model":"%s","init_adapter":"%s","in":"%s","steps":10,"lr":0.01,"batch_size":2,"grad_accum":2,"weight_decay":0.1,"max_grad_norm":0.5,"f64":true,"out":"%s"}\n' \
        "$M/qwen3" "$M/qwen3-lora" "$in/steps.jsonl" "$dir/ref/qwen3-wd-clip-accum"
    [ -f "$eos_ids" ] &&
        printf ',{"model":"%s","init_adapter":"%s","in":"%s","steps":1,"lr":0.01,"batch_size":4,"out":"%s"}\n' \
            "$M/qwen2" "$M/qwen2-lora" "$eos_ids" "$dir/ref/eos"
    echo "]"
} >"$dir/jobs.json"
"$py" "$helper" ref "$dir/jobs.json" >"$dir/ref.log" 2>&1 || fail_all "nn-train-steps.py ref failed" "$dir/ref.log"

echo "1..16"
t=0

# report NAME STATUS MESSAGE
report() {
    t=$((t + 1))
    if [ "$2" = 0 ]; then echo "ok $t - $1: $3"; else echo "not ok $t - $1: $3"; fi
}

# st OUT ARGS...: runs sft-train, stderr in OUT.err; "exit N: first lines" on a failure
st() {
    local out=$1
    shift
    rm -rf "$out"
    "$train" "$@" --out "$out" 2>"$out.err"
    local rc=$?
    [ $rc = 0 ] && return 0
    echo "sft-train exit $rc: $(grep -v '^$' "$out.err" | head -3 | tr '\n' ' ')"
    return 1
}

exact=(--no-shuffle --schedule constant --max-grad-norm 0 --lr 1e-2)

# a: every family against the reference
for c in "${cases[@]}"; do
    name="$c: 10 steps, batch 2, lr 1e-2, vs ref.py train"
    if msg=$(st "$work/$c" --model "$M/$c" --init-adapter "$M/$c-lora" --train "$in/steps.jsonl" "${exact[@]}" \
        --max-steps 10 --batch-size 2); then
        msg=$("$py" "$helper" train "$work/$c" "$dir/ref/$c" 10)
        report "$name" $? "$msg"
    else
        report "$name" 1 "$msg"
    fi
done
name="qwen3: --weight-decay 0.1 --max-grad-norm 0.5 (clipping) --grad-accum 2, vs ref.py train"
if msg=$(st "$work/wd" --model "$M/qwen3" --init-adapter "$M/qwen3-lora" --train "$in/steps.jsonl" \
    --no-shuffle --schedule constant --lr 1e-2 --max-steps 10 --batch-size 2 --grad-accum 2 \
    --weight-decay 0.1 --max-grad-norm 0.5); then
    msg=$("$py" "$helper" train "$work/wd" "$dir/ref/qwen3-wd-clip-accum" 10)
    rc=$?
    # the reference's norms must be above 0.5 for this to test clipping
    clipped=$("$py" -c 'import json, sys
print(sum(json.loads(l)["grad_norm"] > 0.5 for l in open(sys.argv[1]) if l.strip()))' "$dir/ref/qwen3-wd-clip-accum/log.jsonl")
    report "$name" $rc "$msg; $clipped of 10 steps clipped"
else
    report "$name" 1 "$msg"
fi

# b: batch 8 x accum 1 vs batch 1 x accum 8
name="llama: batch 8 x accum 1 vs batch 1 x accum 8 (4 steps)"
if msg=$(st "$work/b8" --model "$M/llama" --init-adapter "$M/llama-lora" --train "$in/accum.jsonl" "${exact[@]}" \
    --max-steps 4 --batch-size 8 --grad-accum 1) &&
    msg=$(st "$work/a8" --model "$M/llama" --init-adapter "$M/llama-lora" --train "$in/accum.jsonl" "${exact[@]}" \
        --max-steps 4 --batch-size 1 --grad-accum 8); then
    msg=$("$py" "$helper" same "$work/b8" "$work/a8" 4 1e-5 1e-5)
    report "$name" $? "$msg"
else
    report "$name" 1 "$msg"
fi

# c: packed vs unpacked
for c in qwen2 gemma2; do
    name="$c: --batch-tokens 24 (packed) vs --batch-size 2, 6 steps"
    if msg=$(st "$work/$c-unpacked" --model "$M/$c" --init-adapter "$M/$c-lora" --train "$in/pack.jsonl" \
        "${exact[@]}" --max-steps 6 --batch-size 2) &&
        msg=$(st "$work/$c-packed" --model "$M/$c" --init-adapter "$M/$c-lora" --train "$in/pack.jsonl" \
            "${exact[@]}" --max-steps 6 --batch-tokens 24); then
        msg=$("$py" "$helper" same "$work/$c-packed" "$work/$c-unpacked" 6 1e-5 -1)
        report "$name" $? "$msg"
    else
        report "$name" 1 "$msg"
    fi
done

# d: resume after SIGKILL
rargs=(--model "$M/llama" --train "$in/resume.jsonl" --seed 3 --r 8 --lr 1e-2 --warmup-steps 2
       --max-grad-norm 1 --max-steps 6 --batch-size 2 --save-steps 2 -t 1)
t0=$(date +%s%N)
if ! msg=$(st "$work/whole" "${rargs[@]}"); then
    report "resume after SIGKILL right after checkpoint-2 appears" 1 "uninterrupted run: $msg"
    report "resume after SIGKILL at a random point after checkpoint-2" 1 "uninterrupted run: $msg"
else
    whole_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    # kill_run OUT MODE: starts the run, kills it with SIGKILL (MODE ck2:
    # when checkpoint-2 appears; random: a random delay after that), prints
    # what it killed
    kill_run() {
        local out=$1 mode=$2 p delay i
        rm -rf "$out"
        "$train" "${rargs[@]}" --out "$out" 2>"$out.err1" &
        p=$!
        pids+=("$p")
        for ((i = 0; i < 20000; i++)); do
            [ -d "$out/checkpoint-2" ] && break
            kill -0 "$p" 2>/dev/null || break
            sleep 0.002
        done
        if [ "$mode" = random ]; then
            delay=$(awk -v s="$whole_s" -v r="$RANDOM" 'BEGIN { printf "%.4f", s * 0.6 * r / 32768 }')
            sleep "$delay"
        fi
        if kill -9 "$p" 2>/dev/null; then
            wait "$p" 2>/dev/null
            echo "killed after $(grep -c . "$out/log.jsonl" 2>/dev/null || echo 0) log lines," \
                "checkpoints: $(cd "$out" 2>/dev/null && ls -d checkpoint-* 2>/dev/null | tr '\n' ' ' | sed 's/ $//');"
        else
            wait "$p" 2>/dev/null
            echo "FINISHED"
        fi
    }
    for mode in ck2 random; do
        if [ $mode = ck2 ]; then name="resume after SIGKILL right after checkpoint-2 appears"
        else name="resume after SIGKILL at a random point after checkpoint-2"; fi
        killed=FINISHED
        for try in 1 2 3 4 5; do
            killed=$(kill_run "$work/killed-$mode" $mode)
            [ "$killed" != FINISHED ] && break
            whole_s=$(awk -v s="$whole_s" 'BEGIN { print s / 2 }')
        done
        if [ "$killed" = FINISHED ]; then
            report "$name" 1 "the run always ended before it could be killed (${whole_s}s)"
            continue
        fi
        "$train" "${rargs[@]}" --out "$work/killed-$mode" --resume "$work/killed-$mode" 2>"$work/killed-$mode.err2"
        rc=$?
        if [ $rc != 0 ]; then
            report "$name" 1 "$killed --resume: exit $rc: $(head -3 "$work/killed-$mode.err2" | tr '\n' ' ')"
            continue
        fi
        msg=$("$py" "$helper" ident "$work/whole" "$work/killed-$mode")
        report "$name" $? "$killed $msg"
    done
fi

# e: EOS labelled
name="EOS: tokcount --ids trains the <|im_end|> of each assistant turn"
if [ ! -x "$tokcount" ]; then
    report "$name" 0 "# skip bin/tokcount not built"
elif [ ! -f "$eos_ids" ]; then
    report "$name" 1 "tokcount --ids failed: $(head -3 "$work/tokcount.err" | tr '\n' ' ')"
else
    msg=$("$py" "$helper" eos "$in/eos.sft.jsonl" "$eos_ids")
    report "$name" $? "$msg"
fi
name="EOS: sft-train's first loss on the SFT examples equals ref.py train's on their ids/mask"
if [ ! -f "$eos_ids" ]; then
    report "$name" 0 "# skip no ids/mask records from tokcount"
elif msg=$(st "$work/eos" --model "$M/qwen2" --init-adapter "$M/qwen2-lora" --train "$in/eos.sft.jsonl" \
    "${exact[@]}" --max-steps 1 --batch-size 4); then
    msg=$("$py" "$helper" train "$work/eos" "$dir/ref/eos" 1)
    report "$name" $? "$msg"
else
    report "$name" 1 "$msg"
fi
