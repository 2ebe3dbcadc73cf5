#!/usr/bin/env bats
# tokcount: the CLI contract as a user meets it (man/man1/tokcount.1): the
# fields it adds, the label mask, plain text against the fixtures' golden
# ids, --max-tokens, the statistics, threads, and errors and exit statuses.
# Only fixtures/tok is used (CI has no ../shared).

load helpers

FIX=$ROOT/fixtures/tok
BL=$FIX/bytelevel/tokenizer.json
GB=$FIX/spmbpe/tokenizer.json

tc() { "$SFT_BIN/tokcount" "$@"; }

# tc_st ARG...: runs tokcount with stdout in out, stderr in err, and its
# exit status in $st (a failing status does not end the test).
tc_st() {
    st=0
    "$SFT_BIN/tokcount" "$@" > out 2> err || st=$?
}

py() { python3 "$@"; }

# model DIR: a model directory with the byte-level fixture tokenizer and a
# tokenizer_config.json whose chat_template is ChatML.
model() {
    mkdir -p "$1"
    cp "$BL" "$1/"
    cat > "$1/tokenizer_config.json" <<'EOF'
{"bos_token": null, "eos_token": "<|im_end|>",
 "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"}
EOF
}

# added_id TOKEN: the id of an added token of the byte-level fixture.
added_id() {
    py -c 'import json, sys
v = json.load(open(sys.argv[1]))
print(next(a["id"] for a in v["added_tokens"] if a["content"] == sys.argv[2]))' "$BL" "$1"
}

# text_jsonl FILE: each line of FILE (split at \n only) as {"text": LINE}.
text_jsonl() {
    py -c 'import json, sys
for l in open(sys.argv[1], encoding="utf-8", newline="").read().split("\n")[:-1]:
    print(json.dumps({"text": l}, ensure_ascii=False))' "$1"
}

# ids_lines: the ids of each record on stdin, space-separated, one line each.
ids_lines() {
    py -c 'import json, sys
for l in sys.stdin: print(" ".join(map(str, json.loads(l)["ids"])))'
}

# counts TEXT: sets IN OUT REJ FILT from the "N in, M out, R rejected, F filtered" line.
counts() {
    local re='tokcount: ([0-9]+) in, ([0-9]+) out, ([0-9]+) rejected, ([0-9]+) filtered'
    [[ $1 =~ $re ]] || { echo "no counts line in: $1"; return 1; }
    IN=${BASH_REMATCH[1]} OUT=${BASH_REMATCH[2]} REJ=${BASH_REMATCH[3]} FILT=${BASH_REMATCH[4]}
    echo "in $IN, out $OUT, rejected $REJ, filtered $FILT"
}

# conv: one five-message conversation (system, user, assistant, user,
# assistant) and a short one.
conv() {
    cat <<'EOF'
{"id":"long","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"},{"role":"assistant","content":"hello there"},{"role":"user","content":"how are you today my friend"},{"role":"assistant","content":"fine thanks, and you?"}],"meta":{"conversation":"c1"}}
{"id":"short","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}
EOF
}

# --------------------------------------------------------- records and fields

@test "n_tokens and n_train_tokens are added and the rest of the record is byte for byte" {
    cat > in.jsonl <<'EOF'
{"id":"a","messages":[{"role":"user","content":"caf\u00e9 \"quoted\" \\ slash"},{"role":"assistant","content":"안녕하세요 👍"}],"meta":{"k":[1,2.50,null,true]}}
{ "id" : "b" , "messages" : [ {"role":"user","content":"x"}, {"role":"assistant","content":"y"} ] }
{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}],"src":{"file":"f.txt","line":3}}
EOF
    tc_st -t "$BL" --template chatml in.jsonl
    [ "$st" -eq 0 ] && [ ! -s err ]
    [ "$(lines out)" -eq 3 ]
    # the output line is the input line less its "}" plus the two fields
    sed -E 's/,"n_tokens":[0-9]+,"n_train_tokens":[0-9]+\}$//' out > stripped
    # the second record has a space before its "}": it is kept
    sed -E 's/\}$//' in.jsonl > want2
    diff -u want2 stripped
    grep -c '"n_tokens":[1-9][0-9]*,"n_train_tokens":[1-9][0-9]*}$' out | grep -qx 3
}

@test "the chat template comes from tokenizer_config.json of a model directory" {
    model m
    conv > in.jsonl
    tc_st -t m --ids in.jsonl
    [ "$st" -eq 0 ]
    tc -t "$BL" -T chatml --ids in.jsonl > want
    cmp out want
    # and not every template gives the same ids
    tc -t "$BL" -T gemma3 --ids in.jsonl > other || true
    ! cmp -s out other
}

@test "--ids: ids and mask of n_tokens entries, the mask summing to n_train_tokens" {
    conv > in.jsonl
    printf '{"instruction":"Add","input":"1 and 2","output":"3"}\n' >> in.jsonl
    tc -t "$BL" -T chatml --ids in.jsonl > out
    py - out <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert len(r["ids"]) == len(r["mask"]) == r["n_tokens"] > 0, r
    assert set(r["mask"]) <= {0, 1}, r
    assert sum(r["mask"]) == r["n_train_tokens"] > 0, r
    assert r["n_train_tokens"] < r["n_tokens"], r
    n += 1
assert n == 3, n
EOF
}

@test "the mask is 1 on exactly the assistant contents and their <|im_end|>" {
    conv | head -1 > in.jsonl
    end=$(added_id '<|im_end|>')
    start=$(added_id '<|im_start|>')
    [ "$end" -gt 0 ] && [ "$start" -gt 0 ]
    tc -t "$BL" -T chatml --ids in.jsonl > out
    # each assistant content encoded alone as plain text
    printf '{"text":"hello there"}\n{"text":"fine thanks, and you?"}\n' > contents.jsonl
    tc -t "$BL" -T none --ids contents.jsonl > plain
    py - out plain "$start" "$end" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
plain = [json.loads(l)["ids"] for l in open(sys.argv[2])]
start, end = int(sys.argv[3]), int(sys.argv[4])
ids, mask = r["ids"], r["mask"]
# runs of trained tokens
runs, i = [], 0
while i < len(ids):
    if mask[i]:
        j = i
        while j < len(ids) and mask[j]:
            j += 1
        runs.append((i, j))
        i = j
    else:
        i += 1
assert len(runs) == 2, runs
for (a, b), content in zip(runs, plain):
    assert ids[a:b] == content + [end], (ids[a:b], content)
    assert b < len(ids) and ids[b] == 198 and mask[b] == 0   # the "\n" after it is not trained
    assert ids[a - 1] == 198                                  # the header's "\n" is not trained
# five turns: five <|im_start|>, none trained; five <|im_end|>, two trained
assert ids.count(start) == 5 and not any(m for t, m in zip(ids, mask) if t == start)
assert ids.count(end) == 5
assert sum(m for t, m in zip(ids, mask) if t == end) == 2
assert r["n_train_tokens"] == sum(len(c) + 1 for c in plain)
EOF
}

@test "Qwen3's empty think block is rendered but not trained" {
    conv | tail -1 > in.jsonl
    tc -t "$BL" -T qwen3 --ids in.jsonl > q3
    tc -t "$BL" -T chatml --ids in.jsonl > ml
    think=$(added_id '<think>') endthink=$(added_id '</think>')
    py - q3 ml "$think" "$endthink" <<'EOF'
import json, sys
q, c = (json.loads(open(f).readline()) for f in sys.argv[1:3])
think, endthink = int(sys.argv[3]), int(sys.argv[4])
assert think in q["ids"] and endthink in q["ids"], q["ids"]
assert think not in c["ids"]
assert q["n_tokens"] > c["n_tokens"]
trained = lambda r: [t for t, m in zip(r["ids"], r["mask"]) if m]
assert trained(q) == trained(c), (trained(q), trained(c))
assert q["n_train_tokens"] == c["n_train_tokens"] == 2
EOF
}

@test "an Alpaca pair counts as user = instruction (+ blank line + input), assistant = output" {
    cat > pairs.jsonl <<'EOF'
{"instruction":"Add the numbers","input":"1 and 2","output":"3"}
{"instruction":"Say hi","input":"","output":"hi!"}
EOF
    cat > msgs.jsonl <<'EOF'
{"messages":[{"role":"user","content":"Add the numbers\n\n1 and 2"},{"role":"assistant","content":"3"}]}
{"messages":[{"role":"user","content":"Say hi"},{"role":"assistant","content":"hi!"}]}
EOF
    tc -t "$BL" -T chatml --ids pairs.jsonl | grep -o '"n_tokens".*' > a
    tc -t "$BL" -T chatml --ids msgs.jsonl | grep -o '"n_tokens".*' > b
    [ "$(lines a)" -eq 2 ]
    diff -u b a
    # the pair's own fields are kept
    tc -t "$BL" -T chatml pairs.jsonl | head -1 | grep -q '^{"instruction":"Add the numbers","input":"1 and 2","output":"3","n_tokens":'
}

# ------------------------------------------------------------------ plain text

@test "--template none: the ids of the fixtures' golden files, with and without --special" {
    for txt in awkward varied; do
        text_jsonl "$FIX/$txt.txt" > $txt.jsonl
        [ "$(lines $txt.jsonl)" -eq "$(lines "$FIX/bytelevel/$txt.ids")" ]
        for tk in bytelevel spmbpe; do
            tc -t "$FIX/$tk/tokenizer.json" --template none --field text --ids $txt.jsonl | ids_lines > got
            diff -u "$FIX/$tk/$txt.ids" got
            tc -t "$FIX/$tk/tokenizer.json" --template none --special --ids $txt.jsonl | ids_lines > got
            diff -u "$FIX/$tk/$txt.special.ids" got
        done
    done
}

@test "plain text: every token trained, --field takes a dotted path" {
    printf '{"a":{"b":"손님이 오늘 시장에서 hello"}}\n' > in.jsonl
    printf '{"text":"손님이 오늘 시장에서 hello"}\n' > t.jsonl
    tc -t "$BL" -f a.b --ids in.jsonl > out
    tc -t "$BL" -T none --ids t.jsonl > want
    [ "$(grep -o '"n_tokens".*' out)" = "$(grep -o '"n_tokens".*' want)" ]
    py -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["n_tokens"] > 3 and r["n_train_tokens"] == r["n_tokens"] and set(r["mask"]) == {1}' out
    # a record without the field is rejected with a reason
    printf '{"a":{"c":"x"}}\n' > nofield.jsonl
    tc_st -t "$BL" -f a.b nofield.jsonl
    [ "$st" -eq 65 ]
    grep -q '^tokcount: nofield.jsonl:1: ' err
}

@test "--special adds Gemma's <bos> on the spmbpe fixture" {
    printf '{"text":"hello world"}\n' > in.jsonl
    tc -t "$GB" -T none --ids in.jsonl > plain
    tc -t "$GB" -T none --special --ids in.jsonl > special
    py - plain special <<'EOF'
import json, sys
p, s = (json.loads(open(f).readline()) for f in sys.argv[1:3])
assert p["ids"][0] != 2, p
assert s["ids"] == [2] + p["ids"], (s, p)
assert s["n_tokens"] == p["n_tokens"] + 1
EOF
}

# ------------------------------------------------------------------ --max-tokens

@test "--max-tokens with --over drop (the default) filters long records; -v counts add up" {
    conv > in.jsonl
    tc -t "$BL" -T chatml in.jsonl > full
    long=$(sed -n 1p full | grep -o '"n_tokens":[0-9]*' | cut -d: -f2)
    short=$(sed -n 2p full | grep -o '"n_tokens":[0-9]*' | cut -d: -f2)
    [ "$short" -lt "$long" ]
    printf '{"id":3,,}\n' >> in.jsonl
    tc_st -t "$BL" -T chatml --max-tokens "$short" --on-error=skip -v in.jsonl
    [ "$st" -eq 1 ]
    [ "$(cat out)" = "$(sed -n 2p full)" ]
    counts "$(cat err)"
    [ "$IN" -eq 3 ] && [ "$OUT" -eq 1 ] && [ "$REJ" -eq 1 ] && [ "$FILT" -eq 1 ]
    [ "$IN" -eq $((OUT + REJ + FILT)) ]
    grep -q "over $short tokens: 1 (dropped 1, truncated 0)" err
    # at exactly the length it fits
    tc_st -t "$BL" -T chatml --max-tokens "$long" --over drop -v in.jsonl --on-error=skip
    [ "$(lines out)" -eq 2 ]
}

@test "--over truncate keeps whole turns up to the last assistant turn that fits" {
    conv | head -1 > in.jsonl
    tc -t "$BL" -T chatml --ids in.jsonl > full
    # the record cut to its first 3 messages (system, user, assistant)
    py -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline())
r["messages"] = r["messages"][:3]
print(json.dumps(r, ensure_ascii=False, separators=(",", ":")))' in.jsonl > three.jsonl
    tc -t "$BL" -T chatml --ids three.jsonl > three.out
    n3=$(grep -o '"n_tokens":[0-9]*' three.out | cut -d: -f2)
    nfull=$(grep -o '"n_tokens":[0-9]*' full | cut -d: -f2)
    [ "$n3" -lt "$nfull" ]
    # any limit from n3 to nfull-1 gives the three-message record
    for max in "$n3" $((n3 + 1)) $((nfull - 1)); do
        tc_st -t "$BL" -T chatml --ids --max-tokens $max --over truncate -v in.jsonl
        [ "$st" -eq 0 ]
        cmp out three.out
        counts "$(cat err)"
        [ "$IN" -eq 1 ] && [ "$OUT" -eq 1 ] && [ "$FILT" -eq 0 ]
        grep -q "over $max tokens: 1 (dropped 0, truncated 1)" err
    done
    py -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
assert r["meta"] == {"conversation": "c1"} and r["id"] == "long"
assert r["mask"][-2] == 1 and r["mask"][-1] == 0' out
    # a limit below the first assistant turn: nothing to keep, dropped
    tc_st -t "$BL" -T chatml --max-tokens $((n3 - 1)) --over truncate -v in.jsonl
    [ "$st" -eq 0 ] && [ ! -s out ]
    counts "$(cat err)"
    [ "$IN" -eq 1 ] && [ "$OUT" -eq 0 ] && [ "$FILT" -eq 1 ]
}

@test "--over keep writes long records whole and counts them" {
    conv > in.jsonl
    tc -t "$BL" -T chatml in.jsonl > full
    tc_st -t "$BL" -T chatml --max-tokens 20 --over keep -v in.jsonl
    [ "$st" -eq 0 ]
    cmp out full
    grep -q 'over 20 tokens: 1 (dropped 0, truncated 0)' err
}

@test "plain text --over truncate keeps the record's text whole characters" {
    printf '{"text":"héllo"}\n' > in.jsonl
    tc_st -t "$BL" -T none --max-tokens 2 --over truncate in.jsonl
    [ "$st" -eq 0 ]
    # the text is a prefix of the original, and tokcount reads its own output
    grep -q '^{"text":"h[^"]*","n_tokens":[12],' out
    tc -t "$BL" -T none out > again
}

# ------------------------------------------------------------------ statistics

# sized N: N records whose assistant replies grow, so lengths spread.
sized() {
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            s = ""
            for (k = 0; k < (i * 7) % 113; k++) s = s " word" (k % 10)
            printf "{\"id\":%d,\"messages\":[{\"role\":\"user\",\"content\":\"q%d\"},{\"role\":\"assistant\",\"content\":\"a%s\"}]}\n", i, i, s
        }
    }'
}

@test "--stats prints records, total, min, mean, p50/p90/p99, max and a histogram instead of records" {
    sized 200 > in.jsonl
    tc -t "$BL" -T chatml in.jsonl > recs
    tc_st -t "$BL" -T chatml --stats in.jsonl
    [ "$st" -eq 0 ]
    ! grep -q '^{' out
    py - recs out <<'EOF'
import json, math, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
text = open(sys.argv[2]).read()
lines = text.split("\n")
assert lines[0].split() == ["records", str(len(recs))], lines[0]
def rank(v, p):
    v = sorted(v)
    return v[max(math.ceil(p * len(v)), 1) - 1]
for key, col in (("n_tokens", 1), ("n_train_tokens", 2)):
    v = [r[key] for r in recs]
    want = {"total": sum(v), "min": min(v), "p50": rank(v, .5), "p90": rank(v, .9),
            "p99": rank(v, .99), "max": max(v)}
    for name, val in want.items():
        row = next(l for l in lines if l.split()[:1] == [name]).split()
        assert int(row[col]) == val, (key, name, row, val)
    row = next(l for l in lines if l.split()[:1] == ["mean"]).split()
    assert abs(float(row[col]) - sum(v) / len(v)) < 0.051, row
assert "n_tokens histogram:" in lines
# bucket rows "lo-hi count pct% ###": counts add up to the records
rows = [l.split() for l in lines if re.match(r"^ +[0-9]+-[0-9]+ +[0-9]+ ", l)]
assert len(rows) >= 2, rows
assert sum(int(r[1]) for r in rows) == len(recs)
for r in rows:
    lo, hi = map(int, r[0].split("-"))
    assert int(r[1]) == sum(lo <= x["n_tokens"] <= hi for x in recs), r
EOF
}

@test "--stats-json writes valid JSON with the same statistics; -o still gets the records" {
    sized 150 > in.jsonl
    tc -t "$BL" -T chatml in.jsonl > recs
    tc_st -t "$BL" -T chatml --stats --stats-json s.json -o recs.out in.jsonl
    [ "$st" -eq 0 ]
    cmp recs recs.out
    grep -q '^records  150$' out
    py - recs s.json <<'EOF'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
s = json.load(open(sys.argv[2]))
assert s["records"] == len(recs) == 150
def rank(v, p):
    v = sorted(v)
    return v[max(math.ceil(p * len(v)), 1) - 1]
for key in ("n_tokens", "n_train_tokens"):
    v = [r[key] for r in recs]
    got = s[key]
    assert got["total"] == sum(v) and got["min"] == min(v) and got["max"] == max(v), got
    assert (got["p50"], got["p90"], got["p99"]) == (rank(v, .5), rank(v, .9), rank(v, .99)), got
    assert abs(got["mean"] - sum(v) / len(v)) < 1e-6, got
assert sum(b["count"] for b in s["histogram"]) == 150
for b in s["histogram"]:
    assert b["count"] == sum(b["from"] <= r["n_tokens"] <= b["to"] for r in recs), b
EOF
    # --stats-json alone: the records still go to stdout
    tc -t "$BL" -T chatml --stats-json s2.json in.jsonl > recs2
    cmp recs recs2
    cmp s.json s2.json
}

# ------------------------------------------------------------------ threads

@test "-j 2 and -j 4 write the same bytes as -j 1" {
    sized 3000 > in.jsonl
    conv >> in.jsonl
    printf 'not json\n' >> in.jsonl
    sized 500 | sed 's/"id":/"n_tokens":1,"id":/' >> in.jsonl
    [ "$(lines in.jsonl)" -eq 3503 ]
    for opts in "--ids" "--max-tokens 40 --over truncate --ids" "--stats"; do
        tc_st -t "$BL" -T chatml $opts --on-error=skip -v -j 1 in.jsonl
        [ "$st" -eq 1 ]
        mv out out1; mv err err1
        [ -s out1 ]
        for j in 2 4; do
            tc_st -t "$BL" -T chatml $opts --on-error=skip -v -j $j in.jsonl
            [ "$st" -eq 1 ]
            cmp out1 out
            cmp err1 err
        done
    done
}

# ------------------------------------------------------------------ errors

@test "a bad JSON line stops the run with 65 and 'tokcount: FILE:LINE:'" {
    conv > in.jsonl
    printf '{"id":3,\n' >> in.jsonl
    conv >> in.jsonl
    tc_st -t "$BL" -T chatml in.jsonl
    [ "$st" -eq 65 ]
    grep -q '^tokcount: in.jsonl:3:[0-9]*: invalid JSON' err
    ! grep -q '"id":"long".*"id":"long"' out
    [ "$(lines out)" -le 2 ]
    tc_st -t "$BL" -T chatml < in.jsonl
    [ "$st" -eq 65 ]
    grep -q '^tokcount: <stdin>:3:' err
}

@test "--on-error=skip with --rejects keeps bad lines and their reasons" {
    conv > in.jsonl
    printf '{"id":3,,}\n' >> in.jsonl
    printf '{"id":"robot","messages":[{"role":"robot","content":"x"}]}\n' >> in.jsonl
    printf '{"id":"last","messages":[{"role":"user","content":"c"},{"role":"assistant","content":"d"}]}\n' >> in.jsonl
    tc_st -t "$BL" -T chatml --on-error=skip --rejects rej.jsonl -v in.jsonl
    [ "$st" -eq 1 ]
    [ "$(lines out)" -eq 3 ]
    [ "$(grep -o '"id":"[a-z]*"' out | tr '\n' ' ')" = '"id":"long" "id":"short" "id":"last" ' ]
    diff <(sed -n 3,4p in.jsonl) rej.jsonl
    py - rej.jsonl.why <<'EOF'
import json, sys
w = [json.loads(l) for l in open(sys.argv[1])]
assert [(x["src"], x["line"]) for x in w] == [("in.jsonl", 3), ("in.jsonl", 4)], w
assert "invalid JSON" in w[0]["reason"] and "role" in w[1]["reason"], w
EOF
    grep -q '^tokcount: in.jsonl:4: .*role.*(skipped)$' err
    counts "$(cat err)"
    [ "$IN" -eq 5 ] && [ "$OUT" -eq 3 ] && [ "$REJ" -eq 2 ] && [ "$FILT" -eq 0 ]
}

@test "an unknown template is a usage error listing the names" {
    conv > in.jsonl
    tc_st -t "$BL" --template chatml3 in.jsonl
    [ "$st" -eq 2 ] && [ ! -s out ]
    grep -q "unknown template 'chatml3'" err
    for name in chatml qwen2.5 qwen3 gemma3 llama3 llama2 alpaca; do
        grep -q " $name\b" err
    done
}

@test "auto with no chat template says to use --template" {
    conv > in.jsonl
    tc_st -t "$BL" in.jsonl
    [ "$st" -ne 0 ] && [ "$st" -ne 2 ] && [ ! -s out ]
    grep -q 'no chat_template' err
    grep -q -- '--template NAME' err
    # the same in a model directory without tokenizer_config.json
    mkdir m && cp "$BL" m/
    tc_st -t m in.jsonl
    [ "$st" -ne 0 ] && grep -q -- '--template' err
}

@test "a missing tokenizer or input file exits 66" {
    conv > in.jsonl
    tc_st -t nope/tokenizer.json -T chatml in.jsonl
    [ "$st" -eq 66 ] && [ ! -s out ]
    grep -q '^tokcount: .*nope' err
    tc_st -t "$BL" -T chatml missing.jsonl
    [ "$st" -eq 66 ]
    grep -q 'missing.jsonl' err
}

@test "usage errors exit 2" {
    conv > in.jsonl
    tc_st -t "$BL" -T chatml --over truncate in.jsonl
    [ "$st" -eq 2 ] && grep -q -- '--over needs --max-tokens' err
    tc_st -t "$BL" -T chatml --field text in.jsonl
    [ "$st" -eq 2 ] && grep -q -- '--field' err
    tc_st -t "$BL" -T chatml --special in.jsonl
    [ "$st" -eq 2 ] && grep -q -- '--special' err
    tc_st -T chatml in.jsonl
    [ "$st" -eq 2 ] && grep -q -- '--tokenizer' err
    for bad in "--max-tokens 0" "--max-tokens 12x" "--max-tokens -5" "--over cut --max-tokens 9" "-j 0" "-j two" "--bogus"; do
        tc_st -t "$BL" -T chatml $bad in.jsonl
        [ "$st" -eq 2 ] || { echo "$bad: status $st"; false; }
        [ ! -s out ]
    done
    tc_st --help
    [ "$st" -eq 0 ] && grep -q -- '--max-tokens' out
}

@test "fields from an earlier run are replaced, not duplicated" {
    conv > in.jsonl
    tc -t "$BL" -T chatml --ids in.jsonl > once
    tc -t "$BL" -T chatml --ids once > twice
    cmp once twice
    # stale values anywhere in the record, a nested n_tokens kept
    printf '{"n_tokens":999,"id":"s","mask":[1],"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"n_train_tokens":0,"meta":{"n_tokens":5}}\n' > stale.jsonl
    tc -t "$BL" -T chatml stale.jsonl > out
    py -c 'import json, sys
def pairs(kv):
    keys = [k for k, _ in kv]
    assert len(keys) == len(set(keys)), keys
    return dict(kv)
r = json.loads(open(sys.argv[1]).readline(), object_pairs_hook=pairs)
assert r["n_tokens"] != 999 and r["n_train_tokens"] == 2, r
assert "mask" not in r and r["meta"] == {"n_tokens": 5} and r["id"] == "s", r' out
    # the counts are those of the record without the stale fields
    [ "$(grep -o ',"n_tokens":[0-9]*,"n_train_tokens":[0-9]*}$' out)" = \
      "$(sed -n 2p once | grep -o ',"n_tokens":[0-9]*,"n_train_tokens":[0-9]*')}" ]
}

@test "a full disk or closed stdout exits 74; an output that cannot be created 73" {
    conv > in.jsonl
    st=0; tc -t "$BL" -T chatml in.jsonl > /dev/full 2> err || st=$?
    [ "$st" -eq 74 ] && grep -q 'write error' err
    st=0; tc -t "$BL" -T chatml in.jsonl >&- 2> err || st=$?
    [ "$st" -eq 74 ]
    st=0; tc -t "$BL" -T chatml --stats in.jsonl > /dev/full 2> err || st=$?
    [ "$st" -eq 74 ]
    tc_st -t "$BL" -T chatml --stats-json /dev/full in.jsonl
    [ "$st" -eq 74 ]
    tc_st -t "$BL" -T chatml -o no/such/dir.jsonl in.jsonl
    [ "$st" -eq 73 ]
}
