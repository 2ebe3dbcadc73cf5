#!/usr/bin/env bats
# sft-train: the CLI contract as a user meets it (man/man1/sft-train.1): the
# adapter it writes (PEFT layout, names and shapes) and log.jsonl, that
# sft-generate loads the result and that training lowers the loss, the
# learning-rate schedules, examples that are dropped or have nothing to
# train, a loss that turns NaN, a model/adapter mismatch, a full disk, and
# exit statuses. The models are tiny random checkpoints from
# fixtures/gen-nn.py with the fixture tokenizer's vocabulary; the numbers of
# training are checked against the PyTorch reference by
# tests/conformance/nn-train-steps.sh, not here.

load helpers

setup_file() {
    export M=$BATS_FILE_TMPDIR/m
    /usr/bin/python3 "$ROOT/fixtures/gen-nn.py" "$M" --cases qwen2,gemma2 --vocab 2061 >/dev/null
}

# train_st ARG...: stdout in out, stderr in err, exit status in $st.
train_st() {
    st=0
    "$SFT_BIN/sft-train" "$@" > out 2> err || st=$?
}

jqpy() { /usr/bin/python3 -c "import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print($1)"; }

# sft N: N small SFT examples (user/assistant), cycling through 3 texts
sft() {
    /usr/bin/python3 - "$1" <<'EOF'
import json, sys
qa = [("What is the capital of France?", "Paris."), ("2+2?", "4"), ("안녕하세요", "네, 안녕하세요!")]
for i in range(int(sys.argv[1])):
    q, a = qa[i % len(qa)]
    print(json.dumps({"id": i, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
                     ensure_ascii=False))
EOF
}

# st_header FILE: "name dtype [shape]" per tensor of a safetensors file, sorted
st_header() {
    /usr/bin/python3 - "$1" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
assert 8 + n + max([v["data_offsets"][1] for k, v in h.items() if k != "__metadata__"]) == len(raw), "size"
for k in sorted(h):
    if k != "__metadata__":
        print(k, h[k]["dtype"], ",".join(map(str, h[k]["shape"])))
EOF
}

@test "the adapter is in the PEFT layout: config fields, tensor names and shapes" {
    sft 4 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --targets q_proj,v_proj,down_proj --r 4 --alpha 8 \
        --max-steps 2 --seed 1
    [ "$st" -eq 0 ]
    [ -f o/adapter_config.json ] && [ -f o/adapter_model.safetensors ] && [ -f o/log.jsonl ]
    /usr/bin/python3 - "$M/qwen2" <<'EOF'
import json, sys
c = json.load(open("o/adapter_config.json"))
assert c["peft_type"] == "LORA", c.get("peft_type")
assert c["task_type"] == "CAUSAL_LM", c.get("task_type")
assert c["r"] == 4 and c["lora_alpha"] == 8, (c.get("r"), c.get("lora_alpha"))
assert sorted(c["target_modules"]) == ["down_proj", "q_proj", "v_proj"], c.get("target_modules")
assert c["use_rslora"] is False, c.get("use_rslora")
assert c.get("use_dora", False) is False and c.get("fan_in_fan_out", False) is False
assert isinstance(c["base_model_name_or_path"], str) and c["base_model_name_or_path"], c.get("base_model_name_or_path")
assert c.get("bias", "none") == "none"
EOF
    st_header o/adapter_model.safetensors > names
    # qwen2 fixture: hidden 128, intermediate 320, 3 layers, 4 heads of 32, 2 KV heads
    for i in 0 1 2; do
        p=base_model.model.model.layers.$i
        grep -qx "$p.self_attn.q_proj.lora_A.weight F32 4,128" names
        grep -qx "$p.self_attn.q_proj.lora_B.weight F32 128,4" names
        grep -qx "$p.self_attn.v_proj.lora_A.weight F32 4,128" names
        grep -qx "$p.self_attn.v_proj.lora_B.weight F32 64,4" names
        grep -qx "$p.mlp.down_proj.lora_A.weight F32 4,320" names
        grep -qx "$p.mlp.down_proj.lora_B.weight F32 128,4" names
    done
    [ "$(lines names)" -eq 18 ]
}

@test "--rslora and the default targets are written as PEFT writes them" {
    sft 2 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --rslora --r 8 --max-steps 1
    [ "$st" -eq 0 ]
    run /usr/bin/python3 -c 'import json; c = json.load(open("o/adapter_config.json"))
print(c["use_rslora"], c["r"], c["lora_alpha"], sorted(c["target_modules"]))'
    [ "$output" = "True 8 32 ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']" ]
    [ "$(st_header o/adapter_model.safetensors | wc -l)" -eq $((3 * 7 * 2)) ]
}

@test "adapter_config.json has the keys of a real PEFT adapter config" {
    ext=$ROOT/../shared/external/peft
    [ -d "$ext" ] || skip "$ext not found (third-party PEFT files, not in the repository)"
    real=$ext/qwen3-lora-config-only/adapter_config.json
    [ -f "$real" ] || skip "$real not found"
    sft 2 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-steps 1
    [ "$st" -eq 0 ]
    # the same key set as PEFT 0.18's (Unsloth's qwen3 adapter); the older
    # GPT-2 adapter's keys must all be there too
    run /usr/bin/python3 - "$real" "$ext/peft-gpt2-lora/adapter_config.json" <<'EOF'
import json, sys
ours = set(json.load(open("o/adapter_config.json")))
real = set(json.load(open(sys.argv[1])))
old = set(json.load(open(sys.argv[2])))
print("missing", sorted(real - ours), "extra", sorted(ours - real), "missing-old", sorted(old - ours))
EOF
    [ "$output" = "missing [] extra [] missing-old []" ]
}

@test "log.jsonl: one line per step with its fields; epoch and tokens count the data" {
    sft 4 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --epochs 2 --batch-size 2 --no-shuffle --lr 1e-3
    [ "$st" -eq 0 ]
    [ "$(lines o/log.jsonl)" -eq 4 ]
    run jqpy 'r["step"], "%g" % r["epoch"], sorted(r)' < o/log.jsonl
    [ "${lines[0]}" = "1 0.5 ['epoch', 'grad_norm', 'loss', 'lr', 'step', 'tokens', 'tokens_per_s']" ]
    [ "${lines[1]}" = "2 1 ['epoch', 'grad_norm', 'loss', 'lr', 'step', 'tokens', 'tokens_per_s']" ]
    [ "${lines[3]}" = "4 2 ['epoch', 'grad_norm', 'loss', 'lr', 'step', 'tokens', 'tokens_per_s']" ]
    run jqpy 'r["loss"] > 0 and r["grad_norm"] > 0 and r["tokens"] > 0 and r["tokens_per_s"] > 0 and isinstance(r["tokens"], int)' < o/log.jsonl
    [ "$output" = "$(printf 'True\nTrue\nTrue\nTrue')" ]
    # the same example pairs in epoch 1 and 2 (--no-shuffle): same token counts
    run jqpy 'r["tokens"]' < o/log.jsonl
    [ "${lines[0]}" = "${lines[2]}" ] && [ "${lines[1]}" = "${lines[3]}" ]
    # stdout carries nothing
    [ ! -s out ]
}

@test "learning-rate schedules: linear with warm-up, cosine, constant (as transformers' get_scheduler)" {
    sft 4 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out lin --max-steps 4 --lr 1e-3 --warmup-steps 2
    [ "$st" -eq 0 ]
    run jqpy '"%.6g" % r["lr"]' < lin/log.jsonl
    [ "$output" = "$(printf '0\n0.0005\n0.001\n0.0005')" ]
    train_st --model "$M/qwen2" --train train.jsonl --out cos --max-steps 4 --lr 1e-3 --schedule cosine
    [ "$st" -eq 0 ]
    run jqpy '"%.6g" % r["lr"]' < cos/log.jsonl
    [ "$output" = "$(printf '0.001\n0.000853553\n0.0005\n0.000146447')" ]
    train_st --model "$M/qwen2" --train train.jsonl --out con --max-steps 3 --lr 1e-3 --schedule constant --warmup-ratio 0.5
    [ "$st" -eq 0 ]
    run jqpy '"%.6g" % r["lr"]' < con/log.jsonl
    [ "$output" = "$(printf '0\n0.0005\n0.001')" ]
}

@test "sft-generate --adapter loads the result, and training lowered the loss" {
    sft 6 > train.jsonl
    "$SFT_BIN/sft-generate" -m "$M/qwen2" --score train.jsonl > before 2>/dev/null
    train_st --model "$M/qwen2" --train train.jsonl --out o --lr 1e-2 --epochs 4 --batch-size 2 --seed 5
    [ "$st" -eq 0 ]
    "$SFT_BIN/sft-generate" -m "$M/qwen2" --adapter o --score train.jsonl > after 2>/dev/null
    b=$(jqpy 'r["loss"] * r["n_scored"]' < before | awk '{ s += $1 } END { print s }')
    a=$(jqpy 'r["loss"] * r["n_scored"]' < after | awk '{ s += $1 } END { print s }')
    echo "loss sum before $b after $a"
    awk -v a="$a" -v b="$b" 'BEGIN { exit !(a < 0.8 * b) }'
    # the log says so too
    first=$(head -1 o/log.jsonl | jqpy 'r["loss"]')
    last=$(tail -1 o/log.jsonl | jqpy 'r["loss"]')
    awk -v a="$last" -v b="$first" 'BEGIN { exit !(a < b) }'
    # and it generates with it
    echo '{"messages":[{"role":"user","content":"2+2?"}]}' | "$SFT_BIN/sft-generate" -m "$M/qwen2" --adapter o -n 4 > gen
    [ "$(lines gen)" -eq 1 ]
}

@test "a new adapter starts as the base model (B zero): the first loss is the base model's" {
    sft 2 > train.jsonl
    "$SFT_BIN/sft-generate" -m "$M/qwen2" --score train.jsonl > base 2>/dev/null
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-steps 1 --batch-size 2 --no-shuffle
    [ "$st" -eq 0 ]
    /usr/bin/python3 - <<'EOF'
import json
recs = [json.loads(l) for l in open("base")]
want = sum(r["loss"] * r["n_scored"] for r in recs) / sum(r["n_scored"] for r in recs)
got = json.loads(open("o/log.jsonl").readline())["loss"]
assert abs(got - want) <= 1e-5 * want, (got, want)
EOF
}

@test "--over drop: a too-long example is counted, reported and not trained on" {
    sft 2 > train.jsonl
    long=$(printf 'word %.0s' $(seq 200))
    # a first exchange that fits, then a long one: truncation keeps whole
    # turns (lib/tok/example.h), so --over truncate trains on the first
    echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"},{\"role\":\"user\",\"content\":\"say it\"},{\"role\":\"assistant\",\"content\":\"$long\"}]}" >> train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-seq-len 64 --epochs 1 --batch-size 1 --no-shuffle -v
    [ "$st" -eq 0 ]
    # 2 examples trained: 2 steps, not 3
    [ "$(lines o/log.jsonl)" -eq 2 ]
    grep -Eiq '1 (example[s]? )?dropped|dropped: 1|dropped 1' err
    # --over truncate trains it, cut
    train_st --model "$M/qwen2" --train train.jsonl --out t --max-seq-len 64 --over truncate --epochs 1 --no-shuffle -v
    [ "$st" -eq 0 ]
    [ "$(lines t/log.jsonl)" -eq 3 ]
    grep -Eiq '1 (example[s]? )?truncated|truncated: 1|truncated 1' err
}

@test "an example with no assistant turn is counted and not trained on" {
    sft 2 > train.jsonl
    echo '{"messages":[{"role":"user","content":"hello?"}]}' >> train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --epochs 1 --no-shuffle -v
    [ "$st" -eq 0 ]
    [ "$(lines o/log.jsonl)" -eq 2 ]
    grep -Eiq '1 (example[s]? )?without|no assistant|nothing to train|not trained' err
    # only such examples: nothing to train, a data error
    echo '{"messages":[{"role":"user","content":"hello?"}]}' > none.jsonl
    train_st --model "$M/qwen2" --train none.jsonl --out n
    [ "$st" -eq 65 ]
    grep -q 'none.jsonl' err
}

@test "a loss that turns NaN/Inf stops with a clear message and keeps the last good checkpoint" {
    sft 4 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --lr 1e30 --schedule constant --max-grad-norm 0 \
        --max-steps 5 --save-steps 1 --no-shuffle
    [ "$st" -ne 0 ]
    [ "$st" -ne 70 ]
    grep -Eiq '\bnan\b|\binf\b|infinite|not finite' err
    grep -Eq 'step [0-9]' err
    # the log is valid JSON with finite losses only, and names fewer than 5 steps
    /usr/bin/python3 - <<'EOF'
import json, math, os, struct
steps = [json.loads(l, parse_constant=lambda c: float("nan")) for l in open("o/log.jsonl")]
assert all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in steps if "loss" in r), steps
assert len(steps) < 5, len(steps)
cks = sorted(int(d.split("-")[1]) for d in os.listdir("o") if d.startswith("checkpoint-"))
assert cks, "no checkpoint kept"
# no checkpoint of the failed step or later; the kept ones hold finite numbers
assert cks[-1] <= len(steps), (cks, len(steps))
import numpy as np
for d in ["o/checkpoint-%d" % cks[-1]] + (["o"] if os.path.exists("o/adapter_model.safetensors") else []):
    raw = open(d + "/adapter_model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    a = np.frombuffer(raw[8 + n:], dtype="<f4")
    assert np.all(np.isfinite(a)), d + " holds NaN/Inf"
EOF
}

@test "an adapter of another model family is refused (65) with the reason" {
    sft 2 > train.jsonl
    train_st --model "$M/qwen2" --init-adapter "$M/gemma2-lora" --train train.jsonl --out o --max-steps 1
    [ "$st" -eq 65 ]
    grep -q 'gemma2-lora' err
    [ ! -e o/adapter_model.safetensors ]
    # a missing adapter directory cannot be opened (66)
    train_st --model "$M/qwen2" --init-adapter nowhere --train train.jsonl --out o2 --max-steps 1
    [ "$st" -eq 66 ]
}

@test "--init-adapter: its config (r, alpha, targets) is kept in the output" {
    sft 2 > train.jsonl
    train_st --model "$M/qwen2" --init-adapter "$M/qwen2-lora" --train train.jsonl --out o --max-steps 1
    [ "$st" -eq 0 ]
    run /usr/bin/python3 - "$M/qwen2-lora" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1] + "/adapter_config.json"))
b = json.load(open("o/adapter_config.json"))
print([k for k in ("r", "lora_alpha", "use_rslora", "peft_type", "task_type") if a[k] != b[k]],
      sorted(a["target_modules"]) == sorted(b["target_modules"]))
EOF
    [ "$output" = "[] True" ]
    diff <(st_header "$M/qwen2-lora/adapter_model.safetensors" | cut -d' ' -f1,3) \
         <(st_header o/adapter_model.safetensors | cut -d' ' -f1,3)
}

@test "--val and --eval-steps: eval_loss lines in the log, equal to sft-generate --score of the adapter" {
    sft 4 > train.jsonl
    printf '%s\n' '{"messages":[{"role":"user","content":"3+3?"},{"role":"assistant","content":"6"}]}' \
        '{"instruction":"Capital of Korea?","input":"","output":"Seoul."}' > val.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --val val.jsonl --out o --max-steps 4 --eval-steps 2 --lr 1e-2
    [ "$st" -eq 0 ]
    run jqpy 'r["step"]' < <(grep eval_loss o/log.jsonl)
    [ "$output" = "$(printf '2\n4')" ]
    [ "$(grep -vc eval_loss o/log.jsonl)" -eq 4 ]
    "$SFT_BIN/sft-generate" -m "$M/qwen2" --adapter o --score val.jsonl > scored 2>/dev/null
    /usr/bin/python3 - <<'EOF'
import json
recs = [json.loads(l) for l in open("scored")]
want = sum(r["loss"] * r["n_scored"] for r in recs) / sum(r["n_scored"] for r in recs)
ev = [json.loads(l) for l in open("o/log.jsonl") if "eval_loss" in l]
got = ev[-1]["eval_loss"]
assert abs(got - want) <= 1e-5 * want, (got, want)
assert "epoch" in ev[-1], ev[-1]
EOF
}

@test "--save-steps writes checkpoints; --resume of a finished run changes nothing" {
    sft 4 > train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-steps 4 --save-steps 2 --seed 2
    [ "$st" -eq 0 ]
    [ -d o/checkpoint-2 ] && [ -d o/checkpoint-4 ]
    [ -f o/checkpoint-2/adapter_model.safetensors ] && [ -f o/checkpoint-2/adapter_config.json ]
    # no temporary files left behind
    [ -z "$(find o -name '*.tmp*')" ]
    cp o/adapter_model.safetensors a.st
    cp o/log.jsonl a.log
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-steps 4 --save-steps 2 --seed 2 --resume o
    [ "$st" -eq 0 ]
    cmp a.st o/adapter_model.safetensors
    [ "$(lines o/log.jsonl)" -eq 4 ]
    # a checkpoint directory itself: from step 2
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-steps 4 --save-steps 2 --seed 2 --resume o/checkpoint-2
    [ "$st" -eq 0 ]
    cmp a.st o/adapter_model.safetensors
    # something that is not a checkpoint
    mkdir junk
    train_st --model "$M/qwen2" --train train.jsonl --out o3 --max-steps 4 --resume junk
    [ "$st" -ne 0 ]
    [ "$st" -ne 70 ]
    [ -s err ]
}

@test "a full disk while saving is a write error (74) that leaves no partial adapter" {
    sft 2 > train.jsonl
    mkdir small
    if ! mount -t tmpfs -o size=300k tmpfs small 2>/dev/null; then
        skip "cannot mount a tmpfs here (not root?)"
    fi
    st=0
    # r 64 on every linear layer: an adapter of ~1.7 MB
    "$SFT_BIN/sft-train" --model "$M/qwen2" --train train.jsonl --out small/o --r 64 --max-steps 1 > out 2> err || st=$?
    partial=no
    if [ -e small/o/adapter_model.safetensors ]; then
        /usr/bin/python3 - small/o/adapter_model.safetensors <<'EOF' || partial=yes
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
assert 8 + n + max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__") == len(raw)
EOF
    fi
    tmps=$(find small -name '*.tmp*' | wc -l)
    umount small
    [ "$st" -eq 74 ]
    grep -Eiq 'no space left on device' err
    [ "$partial" = no ]
    [ "$tmps" -eq 0 ]
}

@test "bad records: file:line and exit 65, or skipped and counted with --on-error=skip" {
    sft 2 > train.jsonl
    echo '{"ids": "nope"}' >> train.jsonl
    echo 'not json' >> train.jsonl
    train_st --model "$M/qwen2" --train train.jsonl --out o --max-steps 1
    [ "$st" -eq 65 ]
    grep -q 'train.jsonl:3' err
    train_st --model "$M/qwen2" --train train.jsonl --out o --epochs 1 --no-shuffle --on-error=skip --rejects rej.jsonl -v
    [ "$st" -eq 1 ]
    [ "$(lines rej.jsonl)" -eq 2 ]
    [ "$(lines o/log.jsonl)" -eq 2 ]
}

@test "usage errors exit 2; a missing model or training file 66; --help 0" {
    sft 2 > train.jsonl
    train_st --train train.jsonl --out o
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --out o
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --over sometimes
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --lr fast
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --batch-size 0
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --schedule sometimes
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --targets q_proj,c_attn
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --betas 0.9
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o --no-such-option
    [ "$st" -eq 2 ]
    train_st --model "$M/qwen2" --train train.jsonl --out o extra.jsonl
    [ "$st" -eq 2 ]
    [ ! -e o ]
    train_st --model nowhere --train train.jsonl --out o
    [ "$st" -eq 66 ]
    grep -q nowhere err
    train_st --model "$M/qwen2" --train missing.jsonl --out o
    [ "$st" -eq 66 ]
    grep -q missing.jsonl err
    train_st --help
    [ "$st" -eq 0 ]
    grep -q -- --batch-tokens out
    grep -q -- --resume out
}

@test "--patience stops when eval_loss stops improving and keeps the best adapter" {
    head -2 "$ROOT/fixtures/demo/chat.jsonl" > train.jsonl
    sed -n 41,50p "$ROOT/fixtures/demo/chat.jsonl" > val.jsonl
    # two examples at a high constant rate: the model overfits and the
    # validation loss turns up
    train_st -m "$M/qwen2" --train train.jsonl --val val.jsonl --out o --max-steps 60 --lr 0.05 \
        --schedule constant --max-grad-norm 0 --eval-steps 2 --patience 2 -v
    [ "$st" -eq 0 ]
    grep -q 'early stop at step' err
    last=$(jqpy 'r["step"]' < o/log.jsonl | tail -1)
    [ "$last" -lt 60 ]
    best=$(jqpy '"%.6f" % r["eval_loss"] if "eval_loss" in r else ""' < o/log.jsonl | grep . | sort -n | head -1)
    "$SFT_BIN/sft-generate" -m "$M/qwen2" --adapter o --score val.jsonl > /dev/null 2> score
    grep -q "loss $best," score
}
