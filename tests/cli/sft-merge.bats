#!/usr/bin/env bats
# sft-merge: the CLI contract as a user meets it (man/man1/sft-merge.1):
# the merged model scores as the base with the adapter does, its weights are
# W + scale * (B A) rounded to the tensor's dtype, every other tensor and
# file is copied unchanged, shards are kept, and the refusals and write
# errors leave nothing behind. The models are tiny random checkpoints from
# fixtures/gen-nn.py (BF16 weights; qwen2's adapter is BF16, qwen3's F32,
# gemma3 is the multimodal layout with vision tensors the model core does
# not use). tests/conformance/nn-merge.sh checks the logits of merged
# models against the PyTorch reference.
#
# A merged BF16 model does not score bit-for-bit as base + adapter: W' is
# rounded to BF16 (8 bits of mantissa) once, where the adapter path adds
# B (A x) in fp32; on these models (LoRA deltas ~0.3 of the weights) the
# loss moves by ~1e-3 relative. With --dtype f32 nothing is rounded and the
# losses agree to ~1e-7.

load helpers

setup_file() {
    export M=$BATS_FILE_TMPDIR/m
    /usr/bin/python3 "$ROOT/fixtures/gen-nn.py" "$M" --cases qwen2,qwen3,gemma3 --vocab 2061 >/dev/null
    printf '%s\n' '{"ids":[5,6,7,8,9,10,11,12,13,14,15,16]}' '{"ids":[100,200,300,400,500,600],"mask":[0,0,1,1,1,1]}' \
        '{"ids":[2000,17,1500,3,999,42,7,1234]}' > "$BATS_FILE_TMPDIR/in.jsonl"
}

merge() { "$SFT_BIN/sft-merge" "$@"; }

# merge_st ARG...: stdout in out, stderr in err, exit status in $st.
merge_st() {
    st=0
    "$SFT_BIN/sft-merge" "$@" > out 2> err || st=$?
}

score() { "$SFT_BIN/sft-generate" --score "$@" "$BATS_FILE_TMPDIR/in.jsonl" 2>/dev/null; }

# losses_close A B RTOL: the records' losses agree within RTOL (relative), n_scored equal
losses_close() {
    /usr/bin/python3 - "$@" <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
tol = float(sys.argv[3])
assert len(a) == len(b) == 3, (len(a), len(b))
worst = 0
for x, y in zip(a, b):
    assert x["n_scored"] == y["n_scored"], (x["n_scored"], y["n_scored"])
    worst = max(worst, abs(x["loss"] - y["loss"]) / abs(y["loss"]))
print("max rel. diff %.2g" % worst)
assert worst <= tol, (worst, tol)
EOF
}

# st.py: reading safetensors files in the tests
st_py() {
    cat > st.py <<'EOF'
import json, os, struct
import numpy as np

def header(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])

def tensors(d):
    """{name: (dtype, shape, bytes, file)} of a model or adapter directory"""
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else \
        [f for f in ("model.safetensors", "adapter_model.safetensors") if os.path.exists(os.path.join(d, f))]
    out = {}
    for f in files:
        raw, n, h = header(os.path.join(d, f))
        for k, v in h.items():
            if k != "__metadata__":
                b, e = v["data_offsets"]
                out[k] = (v["dtype"], v["shape"], raw[8 + n + b:8 + n + e], f)
    return out

def f32(dtype, shape, b):
    if dtype == "F32":
        return np.frombuffer(b, "<f4").reshape(shape)
    if dtype == "F16":
        return np.frombuffer(b, "<f2").astype(np.float32).reshape(shape)
    return (np.frombuffer(b, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)

def bf16(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return ((u + (((u >> 16) & 1) + np.uint32(0x7FFF))) >> 16).astype(np.uint16)
EOF
}

@test "the merged model scores as the base with the adapter (BF16: rounded; f32: ~1e-7)" {
    for c in qwen2 qwen3 gemma3; do
        score -m "$M/$c" --adapter "$M/$c-lora" > lora.$c
        merge -m "$M/$c" --adapter "$M/$c-lora" -o $c.bf16
        merge -m "$M/$c" --adapter "$M/$c-lora" -o $c.f32 --dtype f32
        score -m $c.bf16 > bf16.$c
        score -m $c.f32 > f32.$c
        losses_close bf16.$c lora.$c 5e-3
        losses_close f32.$c lora.$c 1e-6
        # and the merge changed something
        score -m "$M/$c" > base.$c
        ! losses_close base.$c lora.$c 1e-3
    done
}

@test "merged weights are W + scale (B A) in fp32, rounded to nearest even; the rest byte-identical" {
    st_py
    merge -m "$M/qwen2" --adapter "$M/qwen2-lora" -o bf
    merge -m "$M/qwen3" --adapter "$M/qwen3-lora" -o f32 --dtype f32
    merge -m "$M/qwen3" --adapter "$M/qwen3-lora" -o f16 --dtype f16
    /usr/bin/python3 - "$M" <<'EOF'
import json, math, sys
import numpy as np
from st import tensors, f32, bf16, header
M = sys.argv[1]
for case, out, mode in (("qwen2", "bf", "auto"), ("qwen3", "f32", "f32"), ("qwen3", "f16", "f16")):
    base, ad, new = tensors(M + "/" + case), tensors(M + "/" + case + "-lora"), tensors(out)
    ac = json.load(open(M + "/" + case + "-lora/adapter_config.json"))
    s = ac["lora_alpha"] / (math.sqrt(ac["r"]) if ac["use_rslora"] else ac["r"])
    assert sorted(new) == sorted(base), "tensor names differ"
    merged = {k[len("base_model.model."):-len(".lora_A.weight")] + ".weight": k for k in ad if k.endswith("lora_A.weight")}
    for k, (dt, shape, b, _) in base.items():
        ndt, nshape, nb, _ = new[k]
        assert nshape == shape, (k, nshape, shape)
        want_dt = {"auto": dt, "f32": "F32", "f16": "F16"}[mode]
        assert ndt == want_dt, (k, ndt, want_dt)
        if k not in merged:
            if mode == "auto":
                assert nb == b, "%s: bytes differ" % k
            elif mode == "f32":  # BF16 values are exact in F32
                assert np.array_equal(f32(ndt, shape, nb), f32(dt, shape, b)), k
            else:  # and rounded to F16 as numpy (and torch) round them (tiny ones are subnormal)
                want = f32(dt, shape, b).astype(np.float16).view(np.uint16)
                assert np.array_equal(np.frombuffer(nb, "<u2").reshape(shape), want), k
            continue
        A = f32(*ad[merged[k]][:3]).astype(np.float64)
        B = f32(*ad[merged[k].replace("lora_A", "lora_B")][:3]).astype(np.float64)
        ref = f32(dt, shape, b).astype(np.float64) + s * (B @ A)
        got = f32(ndt, shape, nb)
        if mode == "f32":
            assert np.max(np.abs(got - ref)) <= 1e-5 * np.max(np.abs(ref)), k
        elif mode == "f16":
            want = ref.astype(np.float32).astype(np.float16)
            same = np.mean(np.frombuffer(nb, "<u2").reshape(shape) == want.view(np.uint16))
            assert same > 0.999 and np.max(np.abs(got - want.astype(np.float32))) <= 1e-3 * np.max(np.abs(ref)), (k, same)
        else:
            want = bf16(ref.astype(np.float32))
            gotu = np.frombuffer(nb, "<u2").reshape(shape)
            # fp32 sums in another order can round a near-tie the other way: 1 ulp at most, rarely
            assert np.mean(gotu == want) > 0.999, k
            assert np.max(np.abs(gotu.astype(np.int32) - want.astype(np.int32))) <= 1, k
    # the file as the safetensors library writes it
    for f in sorted(set(v[3] for v in new.values())):
        raw, n, h = header(out + "/" + f)
        assert n % 8 == 0 and list(h)[0] == "__metadata__" and h["__metadata__"] == {"format": "pt"}
        names = [k for k in h if k != "__metadata__"]
        assert names == sorted(names), "not sorted"
        off = 0
        for k in names:
            assert h[k]["data_offsets"][0] == off
            off = h[k]["data_offsets"][1]
        assert 8 + n + off == len(raw)
EOF
}

@test "tensors the model core does not use (a vision tower) are copied unchanged" {
    st_py
    merge -m "$M/gemma3" --adapter "$M/gemma3-lora" -o g
    /usr/bin/python3 - "$M/gemma3" <<'EOF'
import sys
from st import tensors
a, b = tensors(sys.argv[1]), tensors("g")
v = [k for k in a if k.startswith("vision_tower.")]
assert len(v) == 2 and all(a[k][:3] == b[k][:3] for k in v)
assert sorted(a) == sorted(b)
changed = [k for k in a if a[k][2] != b[k][2]]
assert len(changed) == 28 and all(k.startswith("language_model.model.layers.") for k in changed), changed
EOF
}

@test "-v says what was merged and written" {
    merge_st -v -m "$M/qwen2" --adapter "$M/qwen2-lora" -o q
    [ "$st" -eq 0 ]
    [ ! -s out ]
    grep -Eq '^sft-merge: merged 21 LoRA pairs into 21 tensors of 38; [0-9.]+ MB written in 1 file to q$' err
}

# shard DIR OUT: DIR's model.safetensors as two shards with an index
shard() {
    mkdir -p "$2"
    cp "$1"/*.json "$2/"
    /usr/bin/python3 - "$1/model.safetensors" "$2" <<'EOF'
import json, struct, sys
src, out = sys.argv[1:]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
names = sorted(k for k in head if k != "__metadata__")
half = len(names) // 2
wm = {}
for i, part in enumerate((names[:half], names[half:])):
    f = "model-%05d-of-00002.safetensors" % (i + 1)
    h, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k in part:
        b, e = head[k]["data_offsets"]
        h[k] = dict(head[k], data_offsets=[off, off + e - b])
        blobs.append(raw[8 + n + b:8 + n + e])
        off += e - b
        wm[k] = f
    hb = json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    open(out + "/" + f, "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, open(out + "/model.safetensors.index.json", "w"))
EOF
}

@test "a sharded model gives a sharded merge with the same files; --max-shard-size shards" {
    st_py
    shard "$M/qwen2" sh
    merge -m sh --adapter "$M/qwen2-lora" -o shm
    merge -m "$M/qwen2" --adapter "$M/qwen2-lora" -o one
    [ -e shm/model-00001-of-00002.safetensors ] && [ -e shm/model-00002-of-00002.safetensors ]
    [ ! -e shm/model.safetensors ]
    score -m one > one.out
    score -m shm > shm.out
    cmp one.out shm.out
    /usr/bin/python3 - <<'EOF'
import json
from st import tensors
a, b = tensors("sh"), tensors("shm")
assert sorted(a) == sorted(b) and all(a[k][3] == b[k][3] for k in a), "shard assignment differs"
idx = json.load(open("shm/model.safetensors.index.json"))
assert idx["metadata"]["total_size"] == sum(len(v[2]) for v in b.values())
assert list(idx["weight_map"]) == sorted(idx["weight_map"])
EOF
    # a size limit: shards of at most 400 KB (1000-based) but the embedding, alone
    merge -m "$M/qwen2" --adapter "$M/qwen2-lora" -o small --max-shard-size 400KB
    [ -e small/model-00001-of-00005.safetensors ] && [ -e small/model.safetensors.index.json ]
    score -m small > small.out
    cmp one.out small.out
    # one file when it fits
    merge -m sh --adapter "$M/qwen2-lora" -o big --max-shard-size 1G
    [ -e big/model.safetensors ] && [ ! -e big/model.safetensors.index.json ]
}

@test "config.json and the tokenizer and generation files are copied; --dtype updates torch_dtype" {
    cp -r "$M/qwen2" mq
    echo '{"do_sample": false, "eos_token_id": 2058}' > mq/generation_config.json
    echo '{"eos_token": "<|im_end|>"}' > mq/special_tokens_map.json
    printf '#version: 0.2\n' > mq/merges.txt
    echo '{{ messages }}' > mq/chat_template.jinja
    echo 'not copied' > mq/README.md
    merge -m mq --adapter "$M/qwen2-lora" -o q
    for f in config.json tokenizer.json tokenizer_config.json generation_config.json special_tokens_map.json \
        merges.txt chat_template.jinja; do
        cmp mq/$f q/$f
    done
    [ ! -e q/README.md ]
    [ "$(ls q | wc -l)" -eq 8 ]
    merge -m mq --adapter "$M/qwen2-lora" -o q32 --dtype f32
    run diff mq/config.json q32/config.json
    [ "$(echo "$output" | grep -c '^[<>]')" -eq 2 ]
    echo "$output" | grep -q '^>   "torch_dtype": "float32",$'
    # bf16 is what it says already: the same bytes
    merge -m mq --adapter "$M/qwen2-lora" -o qbf --dtype bf16
    cmp mq/config.json qbf/config.json
}

@test "an adapter of another model is refused with the reason (65); nothing is written" {
    merge_st -m "$M/qwen2" --adapter "$M/qwen3-lora" -o x
    [ "$st" -eq 65 ]
    grep -q 'qwen3-lora: tensor "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight" has shape' err
    merge_st -m "$M/qwen2" --adapter "$M/gemma3-lora" -o x
    [ "$st" -eq 65 ]
    grep -q 'is not the lora_A or lora_B of a linear layer' err
    cp -r "$M/qwen2-lora" dora
    /usr/bin/python3 -c 'import json; p="dora/adapter_config.json"; c=json.load(open(p)); c["use_dora"]=True; json.dump(c, open(p,"w"))'
    merge_st -m "$M/qwen2" --adapter dora -o x
    [ "$st" -eq 65 ]
    grep -q '"use_dora" is set' err
    [ -z "$(ls -A | grep -v -e '^out$' -e '^err$' -e '^dora$')" ]
}

@test "missing inputs exit 66; an existing --out is refused (73) unless --force" {
    merge_st -m nowhere --adapter "$M/qwen2-lora" -o x
    [ "$st" -eq 66 ]
    grep -q 'nowhere/config.json' err
    merge_st -m "$M/qwen2" --adapter nowhere -o x
    [ "$st" -eq 66 ]
    grep -q 'nowhere/adapter_config.json' err
    [ ! -e x ]
    mkdir x && echo keep > x/file
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o x
    [ "$st" -eq 73 ]
    grep -q 'x: exists and is not empty' err
    [ "$(cat x/file)" = keep ] && [ "$(ls x)" = file ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o x --force
    [ "$st" -eq 0 ]
    [ ! -e x/file ] && [ -e x/model.safetensors ]
    [ -z "$(ls -A | grep -e '\.tmp\.' -e '\.old\.')" ]
    # an empty directory is fine
    mkdir empty
    merge -m "$M/qwen2" --adapter "$M/qwen2-lora" -o empty/
    [ -e empty/model.safetensors ]
}

@test "usage errors exit 2: --out is the model or holds it, bad values, missing options" {
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o "$M/qwen2"
    [ "$st" -eq 2 ]
    grep -q 'is --model' err
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o "$M/qwen2/" --force
    [ "$st" -eq 2 ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o "$M" --force
    [ "$st" -eq 2 ]
    [ -e "$M/qwen2/model.safetensors" ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o "$M/qwen2-lora"
    [ "$st" -eq 2 ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o x --dtype f64
    [ "$st" -eq 2 ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o x --max-shard-size 5XB
    [ "$st" -eq 2 ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o x --max-shard-size 0
    [ "$st" -eq 2 ]
    merge_st -m "$M/qwen2" -o x
    [ "$st" -eq 2 ]
    merge_st -m "$M/qwen2" --adapter "$M/qwen2-lora" -o x extra
    [ "$st" -eq 2 ]
    [ ! -e x ]
}

@test "a full disk is a write error (74) that leaves nothing behind" {
    mkdir small
    if ! mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
        skip "cannot mount a tmpfs here (not root?); the file size limit test covers the path"
    fi
    st=0
    "$SFT_BIN/sft-merge" -m "$M/qwen2" --adapter "$M/qwen2-lora" -o small/q > out 2> err || st=$?
    left=$(ls -A small)
    umount small
    [ "$st" -eq 74 ]
    grep -q 'small/q.tmp.[0-9]*/model.safetensors: write error: No space left on device' err
    [ -z "$left" ]
}

@test "a file size limit is a write error (74) that leaves nothing behind" {
    mkdir lim
    st=0
    (trap '' XFSZ; ulimit -f 500; exec "$SFT_BIN/sft-merge" -m "$M/qwen2" --adapter "$M/qwen2-lora" -o lim/q) \
        > out 2> err || st=$?
    [ "$st" -eq 74 ]
    grep -q 'lim/q.tmp.[0-9]*/model.safetensors: write error: File too large' err
    [ -z "$(ls -A lim)" ]
}
