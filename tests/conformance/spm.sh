#!/usr/bin/env bash
# Conformance: our SentencePiece wrapper (lib/tok/spm.cc, through the
# driver tests/tools/spm-encode.c) gives the ids of Debian's spm_encode.
#
#   tests/conformance/spm.sh BUILD_DIR
#
# Models: ../shared/external/tokenizers/ (relative to the repository root;
# third-party, never copied here): Llama 2's tokenizer.model (BPE, byte
# fallback) and sentencepiece's two unigram test models (English, Japanese),
# plus our own fixtures/tok/spm_{bpe,unigram}.model. Texts: fixtures/tok/
# varied.txt (400 lines of Korean, Japanese, English, emoji, whitespace runs)
# and awkward.txt (102 hard lines), one line at a time, no BOS/EOS. Every id
# must agree. Then llama.cpp's vectors for Llama 2's model
# (ggml-vocab-llama-spm.gguf.inp/.out: multi-line strings), all of which
# must match. Prints TAP; skips, saying why, without ../shared or spm_encode.
set -u
build=${1:?usage: tests/conformance/spm.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
ext=../shared/external
drv=$build/tests/tools/spm-encode

if [ ! -d "$ext" ]; then
    echo "1..1"
    echo "ok 1 - # SKIP $ext not present"
    exit 0
fi
if ! command -v spm_encode >/dev/null; then
    echo "1..1"
    echo "ok 1 - # SKIP spm_encode not installed (Debian package sentencepiece)"
    exit 0
fi
if [ ! -x "$drv" ]; then
    echo "1..1"
    echo "not ok 1 - $drv not found or not executable"
    exit 1
fi

models=("$ext/tokenizers/llama2_spm/tokenizer.model"
        "$ext/tokenizers/sentencepiece_test/test_model.model"
        "$ext/tokenizers/sentencepiece_test/test_ja_model.model"
        fixtures/tok/spm_bpe.model fixtures/tok/spm_unigram.model)
texts=(fixtures/tok/varied.txt fixtures/tok/awkward.txt)
vin=$ext/llama_vocab_tests/ggml-vocab-llama-spm.gguf.inp
vout=$ext/llama_vocab_tests/ggml-vocab-llama-spm.gguf.out

work=$(mktemp -d "${TMPDIR:-/tmp}/spm-conf.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# compare OURS THEIRS: prints "LINES IDS DIFFERING_LINES DIFFERING_IDS" and
# the first differing line.
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
             if (first) printf "line %d: ours [%s], reference [%s]\n", first, got[first], want[first]
         }' "$2" "$1"
}

plan=$(( ${#models[@]} * ${#texts[@]} + 1 ))
echo "1..$plan"
t=0
for m in "${models[@]}"; do
    for x in "${texts[@]}"; do
        t=$((t + 1))
        name="$(basename "$(dirname "$m")")/$(basename "$m") on $(basename "$x")"
        if [ ! -f "$m" ]; then
            echo "not ok $t - $name: $m is missing"
            continue
        fi
        "$drv" "$m" "$x" >"$work/ours" 2>"$work/err" || { echo "not ok $t - $name: $(cat "$work/err")"; continue; }
        spm_encode --model="$m" --output_format=id <"$x" >"$work/theirs" 2>"$work/err" ||
            { echo "not ok $t - $name: spm_encode failed: $(head -3 "$work/err")"; continue; }
        compare "$work/ours" "$work/theirs" >"$work/cmp"
        read -r lines ids badlines badids <"$work/cmp"
        if [ "$badlines" -eq 0 ] && [ "$lines" -gt 0 ]; then
            echo "ok $t - $name: $lines lines, $ids ids, 0 differ"
        else
            echo "not ok $t - $name: $lines lines, $ids ids; $badids ids differ on $badlines lines"
            sed -n 2p "$work/cmp" | sed 's/^/#   /'
        fi
    done
done

t=$((t + 1))
name="llama.cpp vectors ggml-vocab-llama-spm (Llama 2 tokenizer.model)"
if [ ! -f "$vin" ] || [ ! -f "$vout" ]; then
    echo "not ok $t - $name: $vin or $vout is missing"
elif ! "$drv" --sep $'\n__ggml_vocab_test__\n' "${models[0]}" "$vin" >"$work/ours" 2>"$work/err"; then
    echo "not ok $t - $name: $(cat "$work/err")"
else
    sed 's/^ //' "$vout" >"$work/theirs"
    compare "$work/ours" "$work/theirs" >"$work/cmp"
    read -r lines ids badlines badids <"$work/cmp"
    if [ "$badlines" -eq 0 ] && [ "$lines" -gt 0 ]; then
        echo "ok $t - $name: $lines/$lines strings, $ids ids, 0 differ"
    else
        echo "not ok $t - $name: $((lines - badlines))/$lines strings; $badids ids differ"
        sed -n 2p "$work/cmp" | sed 's/^/#   /'
    fi
fi
