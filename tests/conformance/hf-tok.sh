#!/usr/bin/env bash
# Conformance: lib/tok (through the driver tests/tools/tok-encode.c) against
# the reference tokenizers on real vocabularies.
#
#   tests/conformance/hf-tok.sh BUILD_DIR
#
# Third-party files under ../shared/external (relative to the repository
# root; never copied here):
#  (a) llama.cpp's test vectors ggml-vocab-{qwen2,gemma-4,llama-spm}.gguf.inp
#      and .out with Qwen3's and Gemma 3's tokenizer.json and Llama 2's
#      tokenizer.model: every one of the 46 strings must match;
#  (b) Qwen3 and Gemma 3 against Hugging Face's tokenizers (the Rust core,
#      through node: reference/tok_ref.js and tok_decode.mjs) on a text made
#      by gen-tok-text.py: each line, with and without the special tokens
#      the post-processor adds, then the whole text as one input, then our
#      decoding of our ids; no id and no decoded line may differ;
#  (c) Llama 2's tokenizer.model against spm_encode on the same text.
# The npm package @anush008/tokenizers is installed into BUILD_DIR/tokref on
# first use, unless build/tokref has it or TOKREF_NODE_MODULES names a
# node_modules that does. Prints TAP; skips, saying why, without
# ../shared/external, and skips (b) without node or the package, (c)
# without spm_encode.
set -u
build=${1:?usage: tests/conformance/hf-tok.sh BUILD_DIR}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BUILD_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
ext=../shared/external
vec=$ext/llama_vocab_tests
qwen=$ext/tokenizers/qwen3/tokenizer.json
gemma=$ext/tokenizers/gemma3/tokenizer.json
llama=$ext/tokenizers/llama2_spm/tokenizer.model
drv=$build/tests/tools/tok-encode

if [ ! -d "$ext" ]; then
    echo "1..1"
    echo "ok 1 - # SKIP $ext not present"
    exit 0
fi
if [ ! -x "$drv" ]; then
    echo "1..1"
    echo "not ok 1 - $drv not found or not executable"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hf-tok.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# The reference: why (b) cannot run, or empty when it can.
noref=""
nm=${TOKREF_NODE_MODULES:-}
if ! command -v node >/dev/null 2>&1; then
    noref="node not installed"
elif [ -z "$nm" ]; then
    # The default build's copy serves the others (the ASan build) too.
    nm=$build/tokref/node_modules
    [ -f "$nm/@anush008/tokenizers/package.json" ] ||
        [ ! -f build/tokref/node_modules/@anush008/tokenizers/package.json ] ||
        nm=$PWD/build/tokref/node_modules
    if [ ! -f "$nm/@anush008/tokenizers/package.json" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            noref="npm not installed (needed once for @anush008/tokenizers)"
        elif ! npm install --prefix "$build/tokref" --no-audit --no-fund '@anush008/tokenizers@^0.6.0' \
            >"$build/tokref-tokenizers.log" 2>&1; then
            noref="npm install @anush008/tokenizers failed (see $build/tokref-tokenizers.log)"
        fi
    fi
fi
if [ -z "$noref" ]; then
    # absolute: node resolves a relative require() from the script's folder
    nm=$(cd "$nm" 2>/dev/null && pwd) || noref="$TOKREF_NODE_MODULES not found"
fi
if [ -z "$noref" ]; then
    export TOKREF_NODE_MODULES=$nm
    node -e 'require(process.env.TOKREF_NODE_MODULES + "/@anush008/tokenizers")' >/dev/null 2>&1 ||
        noref="@anush008/tokenizers does not load from $nm"
fi

# compare OURS THEIRS: prints "LINES IDS DIFFERING_LINES DIFFERING_IDS" and
# the first differing line (cut short).
compare() {
    awk 'NR == FNR { want[FNR] = $0; nw = FNR; next }
         { got[FNR] = $0; ng = FNR }
         END {
             n = nw > ng ? nw : ng
             for (i = 1; i <= n; i++) {
                 a = split(got[i], g, " "); b = split(want[i], w, " ")
                 ids += b
                 bad = 0
                 for (k = 1; k <= (a > b ? a : b); k++) if (g[k] != w[k]) bad++
                 if (bad) { badlines++; badids += bad; if (!first) first = i }
             }
             printf "%d %d %d %d\n", n, ids, badlines, badids
             if (first) printf "line %d: ours [%s], reference [%s]\n", first, substr(got[first], 1, 300),
                               substr(want[first], 1, 300)
         }' "$2" "$1"
}

t=0
# verdict NAME UNIT: TAP from the compare output in $work/cmp.
verdict() {
    local lines ids badlines badids
    read -r lines ids badlines badids <"$work/cmp"
    if [ "$badlines" -eq 0 ] && [ "$lines" -gt 0 ] && [ "$ids" -gt 0 ]; then
        echo "ok $t - $1: $lines $2, $ids ids, 0 differ"
    else
        echo "not ok $t - $1: $lines $2, $ids ids; $badids ids differ on $badlines $2"
        sed -n 2p "$work/cmp" | sed 's/^/#   /'
    fi
}

# The reference's JSON ids (an array, or an array of arrays) as lines.
json_lines() {
    /usr/bin/python3 -c 'import json, sys
v = json.load(sys.stdin)
for a in (v if v and isinstance(v[0], list) else [v]):
    print(" ".join(map(str, a)))'
}

echo "1..12"

# (a) llama.cpp's vectors: .out has a space before every id.
for v in "qwen2 $qwen" "gemma-4 $gemma" "llama-spm $llama"; do
    read -r vname vtok <<<"$v"
    t=$((t + 1))
    name="llama.cpp vectors ggml-vocab-$vname ($(basename "$(dirname "$vtok")")/$(basename "$vtok"))"
    if [ ! -f "$vec/ggml-vocab-$vname.gguf.inp" ] || [ ! -f "$vec/ggml-vocab-$vname.gguf.out" ] || [ ! -f "$vtok" ]; then
        echo "not ok $t - $name: a file is missing"
        continue
    fi
    if ! "$drv" --vectors "$vtok" "$vec/ggml-vocab-$vname.gguf.inp" >"$work/ours" 2>"$work/err"; then
        echo "not ok $t - $name: $(head -3 "$work/err")"
        continue
    fi
    sed 's/^ //' "$work/ours" >"$work/ours.s"
    sed 's/^ //' "$vec/ggml-vocab-$vname.gguf.out" >"$work/theirs"
    compare "$work/ours.s" "$work/theirs" >"$work/cmp"
    read -r lines ids badlines badids <"$work/cmp"
    if [ "$badlines" -eq 0 ] && [ "$lines" -eq 46 ]; then
        echo "ok $t - $name: 46/46 strings, $ids ids, 0 differ"
    else
        echo "not ok $t - $name: $((lines - badlines))/$lines strings (want 46/46); $badids ids differ"
        sed -n 2p "$work/cmp" | sed 's/^/#   /'
    fi
done

text=$work/text.txt
/usr/bin/python3 tests/conformance/gen-tok-text.py 3000 1 >"$text"

# (b) Hugging Face tokenizers: 4 results per tokenizer.
for tok in "$qwen" "$gemma"; do
    tname=$(basename "$(dirname "$tok")")
    for mode in lines special whole decode; do
        t=$((t + 1))
        case $mode in
        lines) name="$tname --lines"; ours=(--lines); ref=(--lines) ;;
        special) name="$tname --lines --special"; ours=(--lines --special); ref=(--lines --special) ;;
        whole) name="$tname whole text"; ours=(); ref=() ;;
        decode) name="$tname decode of our ids" ;;
        esac
        if [ -n "$noref" ]; then
            echo "ok $t - $name # SKIP $noref"
            continue
        fi
        if [ ! -f "$tok" ]; then
            echo "not ok $t - $name: $tok is missing"
            continue
        fi
        if [ $mode = decode ]; then
            if ! "$drv" --lines "$tok" "$text" >"$work/ids" 2>"$work/err" ||
                ! "$drv" --lines --decode "$tok" "$text" >"$work/dec" 2>>"$work/err"; then
                echo "not ok $t - $name: $(head -3 "$work/err")"
                continue
            fi
            if ! node tests/conformance/tok_decode.mjs "$TOKREF_NODE_MODULES" "$tok" "$work/ids" "$work/dec" \
                >"$work/cmp" 2>"$work/err"; then
                echo "not ok $t - $name: tok_decode.mjs failed: $(head -3 "$work/err")"
                continue
            fi
            read -r lines badlines <"$work/cmp"
            if [ "$badlines" -eq 0 ] && [ "$lines" -gt 0 ]; then
                echo "ok $t - $name: $lines lines, 0 differ"
            else
                echo "not ok $t - $name: $badlines of $lines lines differ"
                sed -n 2p "$work/cmp" | sed 's/^/#   /'
            fi
            continue
        fi
        if ! "$drv" "${ours[@]}" "$tok" "$text" >"$work/ours" 2>"$work/err"; then
            echo "not ok $t - $name: $(head -3 "$work/err")"
            continue
        fi
        if ! node "$ext/reference/tok_ref.js" "${ref[@]}" "$tok" "$text" 2>"$work/err" |
            json_lines >"$work/theirs"; then
            echo "not ok $t - $name: tok_ref.js failed: $(head -3 "$work/err")"
            continue
        fi
        compare "$work/ours" "$work/theirs" >"$work/cmp"
        verdict "$name" "$([ $mode = whole ] && echo text || echo lines)"
    done
done

# (c) spm_encode: a .model encodes plain text as it does (control pieces
# such as <s> written in the text stay text).
t=$((t + 1))
name="llama2_spm/tokenizer.model --lines vs spm_encode"
if ! command -v spm_encode >/dev/null 2>&1; then
    echo "ok $t - $name # SKIP spm_encode not installed (Debian package sentencepiece)"
elif [ ! -f "$llama" ]; then
    echo "not ok $t - $name: $llama is missing"
elif ! "$drv" --lines "$llama" "$text" >"$work/ours" 2>"$work/err"; then
    echo "not ok $t - $name: $(head -3 "$work/err")"
elif ! spm_encode --model="$llama" --output_format=id <"$text" >"$work/theirs" 2>"$work/err"; then
    echo "not ok $t - $name: spm_encode failed: $(head -3 "$work/err")"
else
    compare "$work/ours" "$work/theirs" >"$work/cmp"
    verdict "$name" lines
fi
