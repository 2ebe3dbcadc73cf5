#!/usr/bin/env bash
# Conformance: the real PEFT files of ../shared/external/peft/ (never copied
# into the repository) through our loaders.
#
#   tests/conformance/peft.sh BUILD_DIR
#
#   1  peft-gpt2-lora/adapter_model.safetensors: the tensors our safetensors
#      reader lists (name, dtype, shape, bytes) equal a plain Python reading
#      of the header
#   2  its LoRA tensors have PEFT's names (base_model.model.…lora_A/B.weight),
#      A [r, in] and B [out, r] with r from its adapter_config.json, one B
#      per A (the other tensors are modules PEFT saves whole: the SEQ_CLS
#      head "score")
#   3  the GPT-2 adapter on a Qwen 2 model is refused with a reason (its
#      modules are GPT-2's c_attn and fan_in_fan_out is set)
#   4  qwen3-lora-config-only/adapter_config.json (a real Unsloth/PEFT 0.18
#      config: r 32, alpha 32, all seven targets) with weights we make for a
#      tiny Qwen 3 (fixtures/gen-nn.py): sft-generate --score equals the
#      PyTorch reference (tests/reference/ref.py) within 1e-5 relative, and
#      the adapter changes the loss
# Prints TAP; skips, saying why, without ../shared or torch.
set -u
build=${1:?usage: tests/conformance/peft.sh BUILD_DIR}
cd "$(dirname "$0")/../.." || exit 1
ext=../shared/external/peft
py=/usr/bin/python3
echo "1..4"
if [ ! -d "$ext" ]; then
    for i in 1 2 3 4; do echo "ok $i # skip $ext not found (third-party PEFT files, not in the repository)"; done
    exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
gpt2=$ext/peft-gpt2-lora

"$build/tests/tools/st-list" "$gpt2/adapter_model.safetensors" > "$tmp/ours" 2> "$tmp/err"
"$py" - "$gpt2/adapter_model.safetensors" > "$tmp/theirs" <<'EOF2'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
for k, v in sorted(((k, v) for k, v in h.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0]):
    print(k, v["dtype"], "[" + ",".join(map(str, v["shape"])) + "]", v["data_offsets"][1] - v["data_offsets"][0])
EOF2
if sort "$tmp/ours" | cmp -s - <(sort "$tmp/theirs") && [ -s "$tmp/ours" ]; then
    echo "ok 1 - peft-gpt2-lora: $(wc -l < "$tmp/ours") tensors read as the header says"
else
    echo "not ok 1 - peft-gpt2-lora: our listing differs from the header"
    diff <(sort "$tmp/ours") <(sort "$tmp/theirs") | head -5 | sed 's/^/# /'
    cat "$tmp/err" | sed 's/^/# /'
fi

r=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["r"])' "$gpt2/adapter_config.json")
bad=$(awk -v r="$r" '
    $1 !~ /^base_model\.model\./ { print "name " $1; next }
    $1 !~ /\.lora_[AB]\.weight$/ { next }
    { gsub(/[][]/, "", $3); split($3, d, ","); }
    $1 ~ /lora_A/ { na++; if (d[1] != r) print "A rank " $1 }
    $1 ~ /lora_B/ { nb++; if (d[2] != r) print "B rank " $1 }
    END { if (na == 0 || na != nb) print "A/B counts " na "/" nb }' "$tmp/ours")
whole=$(awk '$1 !~ /\.lora_[AB]\.weight$/ { printf "%s ", $1 }' "$tmp/ours")
if [ -z "$bad" ]; then
    echo "ok 2 - peft-gpt2-lora: $(grep -c lora_A "$tmp/ours") lora_A [r, in] / lora_B [out, r] pairs with r = $r; saved whole: ${whole:-none}"
else
    echo "not ok 2 - peft-gpt2-lora: unexpected tensors"
    echo "$bad" | head -5 | sed 's/^/# /'
fi

if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "ok 3 # skip $py lacks torch or numpy (the tiny models)"
    echo "ok 4 # skip $py lacks torch or numpy"
    exit 0
fi
"$py" fixtures/gen-nn.py "$tmp/m" --cases qwen2,qwen3 > /dev/null || { echo "not ok 3 - gen-nn.py failed"; exit 1; }
echo '{"ids":[5,6,7,8,9,10,11,12,13,14]}' > "$tmp/in.jsonl"
st=0
"$build/bin/sft-generate" -m "$tmp/m/qwen2" --adapter "$gpt2" --score "$tmp/in.jsonl" > /dev/null 2> "$tmp/err" || st=$?
if [ $st -eq 65 ] && grep -qE 'fan_in_fan_out|c_attn' "$tmp/err"; then
    echo "ok 3 - the GPT-2 adapter on Qwen 2 is refused: $(head -1 "$tmp/err")"
else
    echo "not ok 3 - the GPT-2 adapter on Qwen 2: exit $st"
    sed 's/^/# /' "$tmp/err"
fi

# the real Qwen3 config, weights of its rank for the tiny model's shapes
mkdir -p "$tmp/a"
cp "$ext/qwen3-lora-config-only/adapter_config.json" "$tmp/a/"
"$py" - "$tmp/m/qwen3/config.json" "$tmp/a" <<'EOF2'
import json, struct, sys
import numpy as np
c = json.load(open(sys.argv[1]))
a = json.load(open(sys.argv[2] + "/adapter_config.json"))
H, I, hd = c["hidden_size"], c["intermediate_size"], c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
shapes = {"q_proj": (q, H), "k_proj": (kv, H), "v_proj": (kv, H), "o_proj": (H, q),
          "gate_proj": (I, H), "up_proj": (I, H), "down_proj": (H, I)}
rng = np.random.default_rng(5)
r, h, blobs, off = a["r"], {}, [], 0
for l in range(c["num_hidden_layers"]):
    for t in a["target_modules"]:
        out, inp = shapes[t]
        mod = ("self_attn." if t.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp.") + t
        for ab, shape in (("A", (r, inp)), ("B", (out, r))):
            x = (rng.standard_normal(shape) * 0.05).astype("<f4").tobytes()
            h[f"base_model.model.model.layers.{l}.{mod}.lora_{ab}.weight"] = {
                "dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(x)]}
            blobs.append(x)
            off += len(x)
hb = json.dumps(h).encode()
hb += b" " * (-len(hb) % 8)
open(sys.argv[2] + "/adapter_model.safetensors", "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
EOF2
"$build/bin/sft-generate" -m "$tmp/m/qwen3" --score "$tmp/in.jsonl" > "$tmp/base" 2>/dev/null
"$build/bin/sft-generate" -m "$tmp/m/qwen3" --adapter "$tmp/a" --score "$tmp/in.jsonl" > "$tmp/ours" 2> "$tmp/err"
"$py" tests/reference/ref.py score --model "$tmp/m/qwen3" --adapter "$tmp/a" "$tmp/in.jsonl" > "$tmp/ref" 2>/dev/null
if res=$("$py" - "$tmp/base" "$tmp/ours" "$tmp/ref" <<'EOF2'
import json, sys
base, ours, ref = (json.loads(open(p).readline()) for p in sys.argv[1:])
rel = abs(ours["loss"] - ref["loss"]) / abs(ref["loss"])
ok = rel <= 1e-5 and ours["n_scored"] == ref["n_scored"] and abs(base["loss"] - ours["loss"]) > 1e-3
print(f"loss {ours['loss']:.6f} vs reference {ref['loss']:.6f} (rel. {rel:.1e}), without the adapter {base['loss']:.6f}")
sys.exit(0 if ok else 1)
EOF2
); then
    echo "ok 4 - the real qwen3 adapter_config.json (r 32, 7 targets): $res"
else
    echo "not ok 4 - the real qwen3 adapter_config.json: $res"
    sed 's/^/# /' "$tmp/err"
fi
