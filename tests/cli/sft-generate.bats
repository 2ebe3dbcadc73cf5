#!/usr/bin/env bats
# sft-generate: the CLI contract as a user meets it (man/man1/sft-generate.1):
# generation on SFT examples, Alpaca pairs, ids records and --prompt, --chat,
# --score and its fields, sampling options and seeds, adapters, the model
# errors a user can make, and exit statuses. The models are tiny random
# checkpoints from fixtures/gen-nn.py with the fixture tokenizer's vocabulary
# (so every id has a text); their numbers are checked against the PyTorch
# reference by tests/conformance/nn-ref.sh, not here.

load helpers

setup_file() {
    export M=$BATS_FILE_TMPDIR/m
    /usr/bin/python3 "$ROOT/fixtures/gen-nn.py" "$M" --cases qwen2,gemma2,qwen3 --vocab 2061 >/dev/null
}

gen() { "$SFT_BIN/sft-generate" "$@"; }

# gen_st ARG...: stdout in out, stderr in err, exit status in $st.
gen_st() {
    st=0
    "$SFT_BIN/sft-generate" "$@" > out 2> err || st=$?
}

jqpy() { /usr/bin/python3 -c "import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print($1)"; }

@test "an SFT example gets the assistant reply appended, other fields kept" {
    echo '{"id":"a","messages":[{"role":"user","content":"안녕하세요"}],"meta":{"k":1}}' > in.jsonl
    gen_st -m "$M/qwen2" -n 6 in.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 1 ]
    run jqpy 'r["id"], r["meta"], len(r["messages"]), r["messages"][-1]["role"], r["finish_reason"]' < out
    [ "$output" = "a {'k': 1} 2 assistant length" ]
    # the reply is the decoded text of what the model made: non-empty here
    run jqpy 'len(r["messages"][-1]["content"]) > 0' < out
    [ "$output" = True ]
}

@test "a last assistant turn is taken out of the prompt and kept as reference" {
    echo '{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"the answer"}]}' > in.jsonl
    gen_st -m "$M/qwen2" -n 4 in.jsonl
    [ "$st" -eq 0 ]
    run jqpy 'len(r["messages"]), r["reference"]' < out
    [ "$output" = "2 the answer" ]
    # the same prompt without the answer gives the same reply
    echo '{"messages":[{"role":"user","content":"q"}]}' | gen -m "$M/qwen2" -n 4 > out2
    [ "$(jqpy 'r["messages"][-1]["content"]' < out)" = "$(jqpy 'r["messages"][-1]["content"]' < out2)" ]
}

@test "Alpaca pairs get generated; ids records get generated_ids and their text" {
    printf '%s\n' '{"instruction":"say hi","input":"","output":"hi"}' '{"ids":[5,6,7,8]}' > in.jsonl
    gen_st -m "$M/qwen2" -n 5 in.jsonl
    [ "$st" -eq 0 ]
    run jqpy '"generated" in r, r.get("output"), len(r.get("generated_ids", [])) if "ids" in r else "-"' < out
    [ "${lines[0]}" = "True hi -" ]
    [ "${lines[1]}" = "True None 5" ]
}

@test "greedy by default: the same output every run and for any thread count" {
    echo '{"ids":[10,20,30,40,50,60,70]}' > in.jsonl
    gen -m "$M/qwen3" -n 8 -t 1 in.jsonl > a
    gen -m "$M/qwen3" -n 8 -t 2 in.jsonl > b
    gen -m "$M/qwen3" -n 8 --temperature 0 in.jsonl > c
    cmp a b
    cmp a c
}

@test "sampling: the same seed gives the same text, another seed another" {
    echo '{"ids":[10,20,30]}' > in.jsonl
    gen -m "$M/qwen2" -n 16 --temperature 1.0 --top-p 0.95 --top-k 50 --seed 7 in.jsonl > a
    gen -m "$M/qwen2" -n 16 --temperature 1.0 --top-p 0.95 --top-k 50 --seed 7 in.jsonl > b
    gen -m "$M/qwen2" -n 16 --temperature 1.0 --top-p 0.95 --top-k 50 --seed 8 in.jsonl > c
    cmp a b
    ! cmp -s a c
    # top-k 1 is greedy whatever the seed
    gen -m "$M/qwen2" -n 16 --temperature 1.5 --top-k 1 --seed 3 in.jsonl > d
    gen -m "$M/qwen2" -n 16 in.jsonl > e
    cmp d e
}

@test "--max-new-tokens bounds the reply; a stop token ends it with finish_reason stop" {
    echo '{"ids":[1,2,3]}' > in.jsonl
    gen -m "$M/qwen2" -n 3 in.jsonl > out
    run jqpy 'len(r["generated_ids"]), r["finish_reason"]' < out
    [ "$output" = "3 length" ]
    # make the first greedy token a stop token: it ends the reply at once
    first=$(gen -m "$M/qwen2" -n 1 in.jsonl | jqpy 'r["generated_ids"][0]')
    cp -r "$M/qwen2" stopm
    /usr/bin/python3 - "$first" <<'EOF'
import json, sys
c = json.load(open("stopm/config.json"))
c["eos_token_id"] = [c["eos_token_id"], int(sys.argv[1])]
json.dump(c, open("stopm/config.json", "w"))
EOF
    gen -m stopm -n 5 in.jsonl > out
    run jqpy 'r["generated_ids"], r["finish_reason"]' < out
    [ "$output" = "[] stop" ]
}

@test "--prompt writes one SFT example with the system message" {
    gen_st -m "$M/gemma2" -n 4 --prompt "안녕?" --system "짧게 답해요"
    [ "$st" -eq 0 ]
    run jqpy '[m["role"] for m in r["messages"]], r["messages"][1]["content"]' < out
    [ "$output" = "['system', 'user', 'assistant'] 안녕?" ]
}

@test "--chat answers each line and keeps the conversation" {
    printf 'hello\nand then?\n/reset\nhello\n/exit\nnot read\n' > in.txt
    gen_st -m "$M/qwen2" -n 6 --chat < in.txt
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 3 ]
    # after /reset the same first message gets the same (greedy) reply
    [ "$(sed -n 1p out)" = "$(sed -n 3p out)" ]
    # the second turn saw the first: its reply is that of the whole conversation
    printf 'and then?\n' | gen -m "$M/qwen2" -n 6 --chat > alone
    [ "$(sed -n 2p out)" != "$(cat alone)" ] || [ -z "$(cat alone)" ]
}

@test "--score adds loss and n_scored; ids with and without mask" {
    printf '%s\n' '{"ids":[5,6,7,8,9]}' '{"ids":[5,6,7,8,9],"mask":[1,0,1,1,0]}' '{"ids":[5]}' > in.jsonl
    gen_st -m "$M/qwen2" --score in.jsonl
    [ "$st" -eq 0 ]
    run jqpy 'r["n_scored"], r["loss"] is None or r["loss"] > 0' < out
    [ "${lines[0]}" = "4 True" ]
    [ "${lines[1]}" = "2 True" ]
    [ "${lines[2]}" = "0 True" ]
    run jqpy 'r["loss"]' < out
    [ "${lines[2]}" = None ]
    grep -q 'loss [0-9.]*, perplexity [0-9.]* over 6 tokens of 3 records' err
    # the overall loss is the token-weighted mean of the records'
    /usr/bin/python3 - <<'EOF'
import json, math, re
recs = [json.loads(l) for l in open("out")]
tot = sum(r["loss"] * r["n_scored"] for r in recs if r["n_scored"])
n = sum(r["n_scored"] for r in recs)
m = re.search(r"loss ([0-9.]+), perplexity ([0-9.]+)", open("err").read())
assert abs(float(m.group(1)) - tot / n) < 1e-6, (m.group(1), tot / n)
assert abs(float(m.group(2)) - math.exp(tot / n)) < 1e-3 * math.exp(tot / n)
EOF
}

@test "--score on SFT examples scores the tokens tokcount marks as trained" {
    printf '%s\n' '{"messages":[{"role":"user","content":"안녕"},{"role":"assistant","content":"네 반가워요"},{"role":"user","content":"뭐 해?"},{"role":"assistant","content":"코딩"}]}' > in.jsonl
    gen -m "$M/qwen2" --score in.jsonl > out 2>/dev/null
    "$SFT_BIN/tokcount" -t "$M/qwen2" in.jsonl > counted
    [ "$(jqpy 'r["n_scored"]' < out)" = "$(jqpy 'r["n_train_tokens"]' < counted)" ]
    # and the same as the ids and mask that tokcount --ids writes
    "$SFT_BIN/tokcount" -t "$M/qwen2" --ids in.jsonl | gen -m "$M/qwen2" --score > out2 2>/dev/null
    [ "$(jqpy 'round(r["loss"], 9)' < out)" = "$(jqpy 'round(r["loss"], 9)' < out2)" ]
}

@test "an adapter changes the scores; a bad adapter is refused with the reason" {
    echo '{"ids":[5,6,7,8,9,10]}' > in.jsonl
    gen -m "$M/qwen2" --score in.jsonl > base 2>/dev/null
    gen -m "$M/qwen2" --adapter "$M/qwen2-lora" --score in.jsonl > lora 2>/dev/null
    [ "$(jqpy 'r["loss"]' < base)" != "$(jqpy 'r["loss"]' < lora)" ]
    # a tensor of a module the model does not have (same length: offsets unchanged)
    cp -r "$M/qwen2-lora" bad
    sed -i 's/self_attn\.q_proj\.lora_A/self_attn.x_proj.lora_A/' bad/adapter_model.safetensors
    gen_st -m "$M/qwen2" --adapter bad --score in.jsonl
    [ "$st" -eq 65 ]
    grep -q 'x_proj.lora_A.weight" is not the lora_A or lora_B of a linear layer' err
    # DoRA is not what the loader computes: refused
    cp -r "$M/qwen2-lora" dora
    /usr/bin/python3 -c 'import json; p="dora/adapter_config.json"; c=json.load(open(p)); c["use_dora"]=True; json.dump(c, open(p,"w"))'
    gen_st -m "$M/qwen2" --adapter dora --score in.jsonl
    [ "$st" -eq 65 ]
    grep -q '"use_dora" is set' err
    gen_st -m "$M/qwen2" --adapter nowhere --score in.jsonl
    [ "$st" -eq 66 ]
    grep -q 'nowhere/adapter_config.json' err
}

@test "model errors name the file and what is wrong" {
    echo '{"ids":[1,2]}' > in.jsonl
    gen_st -m nowhere --score in.jsonl
    [ "$st" -eq 66 ]
    grep -q 'nowhere/config.json' err
    cp -r "$M/qwen2" more
    /usr/bin/python3 -c 'import json; p="more/config.json"; c=json.load(open(p)); c["num_hidden_layers"]+=1; json.dump(c, open(p,"w"))'
    gen_st -m more --score in.jsonl
    [ "$st" -eq 65 ]
    grep -q 'model.layers.3.self_attn.q_proj.weight' err
    cp -r "$M/qwen2" other
    /usr/bin/python3 -c 'import json; p="other/config.json"; c=json.load(open(p)); c["model_type"]="mistral"; json.dump(c, open(p,"w"))'
    gen_st -m other --score in.jsonl
    [ "$st" -eq 65 ]
    grep -q 'mistral' err
    cp -r "$M/qwen2" cut
    truncate -s 100000 cut/model.safetensors
    gen_st -m cut --score in.jsonl
    [ "$st" -eq 65 ]
    grep -q 'cut/model.safetensors' err
}

@test "bad records: file:line and exit 65, or skipped and counted with --on-error=skip" {
    printf '%s\n' '{"ids":[1,2,3]}' '{"ids":[1,99999]}' 'not json' '{"x":1}' '{"ids":[4,5,6]}' > in.jsonl
    gen_st -m "$M/qwen2" --score in.jsonl
    [ "$st" -eq 65 ]
    grep -q 'in.jsonl:2: ids\[1\] is not a token id of the model' err
    gen_st -m "$M/qwen2" --score -v --on-error=skip --rejects rej.jsonl in.jsonl
    [ "$st" -eq 1 ]
    [ "$(lines out)" -eq 2 ]
    [ "$(lines rej.jsonl)" -eq 3 ]
    grep -q '5 in, 2 out, 3 rejected, 0 filtered' err
}

@test "a prompt longer than --ctx is refused; usage errors exit 2" {
    echo '{"ids":[1,2,3,4,5,6,7,8,9,10]}' > in.jsonl
    gen_st -m "$M/qwen2" --ctx 8 in.jsonl
    [ "$st" -eq 65 ]
    grep -q 'the context holds 8' err
    gen_st --score in.jsonl
    [ "$st" -eq 2 ]
    gen_st -m "$M/qwen2" --temperature -1 in.jsonl
    [ "$st" -eq 2 ]
    gen_st -m "$M/qwen2" --top-p 0 in.jsonl
    [ "$st" -eq 2 ]
    gen_st -m "$M/qwen2" --system x in.jsonl
    [ "$st" -eq 2 ]
    gen_st -m "$M/qwen2" --prompt x --score
    [ "$st" -eq 2 ]
    gen_st -m "$M/qwen2" -n 0 in.jsonl
    [ "$st" -eq 2 ]
}

@test "a full disk is a write error (74)" {
    echo '{"ids":[1,2,3]}' > in.jsonl
    gen_st -m "$M/qwen2" --score -o /dev/full in.jsonl
    [ "$st" -eq 74 ]
}

# restore DIR OUT MODE: rewrites DIR's model.safetensors into OUT as F32 or
# F16 tensors (MODE f32|f16; BF16 values are exact in both here), or as two
# shards with model.safetensors.index.json (MODE shards).
restore() {
    mkdir -p "$2"
    cp "$1"/*.json "$2/"
    /usr/bin/python3 - "$1/model.safetensors" "$2" "$3" <<'EOF2'
import json, struct, sys
import numpy as np
src, out, mode = sys.argv[1:]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
data = raw[8 + n:]
tensors = {}
for k, v in head.items():
    if k == "__metadata__":
        continue
    b, e = v["data_offsets"]
    a = np.frombuffer(data[b:e], dtype="<u2").astype(np.uint32) << 16
    tensors[k] = (v["shape"], a.view(np.float32))
def write(path, names, dtype):
    h, blobs, off = {}, [], 0
    for k in names:
        shape, a = tensors[k]
        blob = a.astype("<f4" if dtype == "F32" else "<f2").tobytes()
        h[k] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    hb = json.dumps(h).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
names = sorted(tensors)
if mode == "shards":
    half = len(names) // 2
    parts = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    wm = {}
    for f, ns in parts.items():
        write(out + "/" + f, ns, "F32")
        wm.update({k: f for k in ns})
    json.dump({"metadata": {}, "weight_map": wm}, open(out + "/model.safetensors.index.json", "w"))
else:
    write(out + "/model.safetensors", names, "F32" if mode == "f32" else "F16")
EOF2
}

@test "F32, F16 and sharded checkpoints of the same weights score the same" {
    printf '%s\n' '{"ids":[5,6,7,8,9,10,11,12]}' '{"ids":[100,200,300,400]}' > in.jsonl
    gen -m "$M/qwen2" --score in.jsonl > bf16 2>/dev/null
    restore "$M/qwen2" f32 f32
    restore "$M/qwen2" f16 f16
    restore "$M/qwen2" sh shards
    [ -e sh/model-00002-of-00002.safetensors ] && [ ! -e sh/model.safetensors ]
    for d in f32 f16 sh; do
        gen -m $d --score in.jsonl > $d.out 2>/dev/null
        cmp bf16 $d.out
    done
    # a shard missing a tensor of the index is an error naming it
    rm sh/model-00002-of-00002.safetensors
    gen_st -m sh --score in.jsonl
    [ "$st" -ne 0 ]
    grep -q 'model-00002-of-00002.safetensors' err
}
