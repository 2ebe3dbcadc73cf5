#!/usr/bin/env bash
# Accuracy of pii-mask on the labelled fixtures (fixtures/pii/, made by
# fixtures/gen-pii.py; tests/pii/SPEC.md is the interface).
#
#   tests/pii/eval.sh BIN_DIR
#
# Runs BIN_DIR/pii-mask --field text --report R --spans on each corpus,
# scores the report with tests/pii/score.py and prints TAP:
#   labelled.jsonl (--types +url --names names.txt): recall >= 99% for rrn,
#     frn, phone, email, card, brn, passport, driver; 100% for name
#   chat.jsonl (default types, names learnt from speakers): 100% for name,
#     and no speaker name (first word of a speaker, and its given name;
#     회원님 is an alias) left in any output text
#   clean.jsonl (default types): at most 1 false positive per 10,000 words
#   spoken.jsonl (--types +spoken): recall >= 95%, no mask on the lines
#     without labels
#   nameguess.jsonl (--types +name-guess): precision of name masks >= 0.9
#     (recall printed)
# For every corpus: pii-mask exits 0, every output line is a JSON object,
# one per input record, and no value the report says it masked is still in
# the output text. Recall counts a label as found when the masks of any type
# cover it (score.py); every figure is printed as a TAP comment too.
set -u
bin=${1:?usage: tests/pii/eval.sh BIN_DIR}
bin=$(cd "$bin" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BIN_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
fx=fixtures/pii
py=/usr/bin/python3

if [ ! -x "$bin/pii-mask" ]; then
    echo "1..1"
    echo "not ok 1 - $bin/pii-mask not found or not executable"
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pii-eval.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

echo "1..22"
n=0 failed=0
# tap STATUS DESCRIPTION: one TAP line, ok when STATUS is 0
tap() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# mask NAME CORPUS ARGS...: runs pii-mask on CORPUS, scores it into
# $work/NAME.json, prints the table as comments, and reports the run as one test.
mask() {
    local name=$1 corpus=$2 rc
    shift 2
    "$bin/pii-mask" --field text "$@" --report "$work/$name.report" --spans "$corpus" \
        >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    if ! $py tests/pii/score.py "$corpus" "$work/$name.report" --out "$work/$name.out" --json \
        >"$work/$name.json" 2>"$work/$name.score.err"; then
        echo '{}' >"$work/$name.json"
        sed 's/^/# score.py: /' "$work/$name.score.err" | tail -5
    else
        $py tests/pii/score.py "$corpus" "$work/$name.report" --out "$work/$name.out" | sed 's/^/# /'
    fi
    [ $rc -eq 0 ] || sed 's/^/# stderr: /' "$work/$name.err" | tail -5
    local ok
    ok=$(q "$name" 'o=d.get("out",{}); int(o.get("lines",0)>0 and o.get("invalid",1)==0 and o.get("records_match",False) and d.get("bad_spans",1)==0)')
    [ $rc -eq 0 ] && [ "$ok" = 1 ]
    tap $? "$name: pii-mask${*:+ $*} exits 0 (got $rc), writes one JSON object per record, report spans in range"
}

# q NAME EXPR: evaluates the Python expression EXPR over d, the score of NAME
# (the last line of EXPR, after ';', is printed); prints 0 when it fails.
q() {
    $py - "$work/$1.json" "$2" <<'EOF' 2>/dev/null || echo 0
import json, sys
d = json.load(open(sys.argv[1]))
*stmts, expr = sys.argv[2].split(";")
for s in stmts:
    exec(s.strip())
print(eval(expr.strip()))
EOF
}

# fig NAME TYPE: "FOUND LABELS" (recall of TYPE)
fig() {
    q "$1" "r=d.get('types',{}).get('$2',{}); '%d %d' % (r.get('recalled',0), r.get('labels',0))"
}

# recall NAME TYPE PCT: asserts recall of TYPE >= PCT% (and at least one label)
recall() {
    local a b
    read -r a b < <(fig "$1" "$2")
    [ "${b:-0}" -gt 0 ] && [ $((a * 100)) -ge $(($3 * b)) ]
    tap $? "$1: $2 recall $(pct "$a" "$b") ($a/$b), want >= $3%"
}

pct() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f%%\n", 100 * a / b }'; }

# consistent NAME: no value the report says it masked is left in the output text
consistent() {
    local left all
    left=$(q "$1" 'd["out"]["left_masked"]')
    all=$(q "$1" 'd["out"]["left"]')
    echo "# $1: labelled values left in the output text: $all (of them masked by the report: $left)"
    [ -s "$work/$1.out" ] && [ "$(q "$1" 'int("out" in d)')" = 1 ] && [ "$left" -eq 0 ]
    tap $? "$1: values the report masked are gone from the output text ($left left)"
}

# labelled.jsonl: every type, names from names.txt
mask labelled $fx/labelled.jsonl --types +url --names $fx/names.txt
for t in rrn frn phone email card brn passport driver; do
    recall labelled $t 99
done
recall labelled name 100
consistent labelled

# chat.jsonl: names learnt from the speakers only
mask chat $fx/chat.jsonl
recall chat name 100
left=$(q chat 'd["out"]["speaker_left"]')
ex=$(q chat '" ".join(d.get("out",{}).get("speaker_left_examples",[]))')
[ "$(q chat 'int(d["out"]["speaker_names"] > 0)')" = 1 ] && [ "$left" -eq 0 ]
tap $? "chat: no speaker name left in any text ($left left${ex:+: $ex})"
consistent chat

# clean.jsonl: no personal data at all
mask clean $fx/clean.jsonl
read -r fp words < <(q clean '"%d %d" % (d.get("fp",0), d.get("words",0))')
[ "${words:-0}" -gt 0 ] && [ $((fp * 10000)) -le "$words" ]
tap $? "clean: $fp false positives in $words words ($(q clean 'd["fp_per_10k_words"]') per 10,000), want <= 1 per 10,000"

# spoken.jsonl: numbers read out as Korean digit words
mask spoken $fx/spoken.jsonl --types +spoken
read -r a b < <(q spoken 't=d.get("total",{}); "%d %d" % (t.get("recalled",0), t.get("labels",0))')
[ "${b:-0}" -gt 0 ] && [ $((a * 100)) -ge $((95 * b)) ]
tap $? "spoken: recall $(pct "$a" "$b") ($a/$b), want >= 95%"
u=$(q spoken 'd["unlabelled_masks"]')
[ "$(q spoken 'int(d["records"] > 0)')" = 1 ] && [ "$u" -eq 0 ]
tap $? "spoken: no mask on lines without spoken numbers ($u)"

# nameguess.jsonl: unknown names next to honorifics and particles
mask nameguess $fx/nameguess.jsonl --types +name-guess
read -r m fp < <(q nameguess 'r=d.get("types",{}).get("name",{}); "%d %d" % (r.get("masks",0), r.get("fp",0))')
read -r a b < <(fig nameguess name)
echo "# nameguess: name masks $m, of them on no label $fp; recall $(pct "$a" "$b") ($a/$b)"
[ "${m:-0}" -gt 0 ] && [ $(((m - fp) * 10)) -ge $((9 * m)) ]
tap $? "nameguess: name precision $(pct $((m - fp)) "$m") ($((m - fp))/$m), want >= 90%; recall $(pct "$a" "$b") ($a/$b)"

[ $n -eq 22 ] || echo "# ran $n tests, planned 22"
[ $failed -eq 0 ]
