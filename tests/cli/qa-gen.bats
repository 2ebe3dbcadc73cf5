#!/usr/bin/env bats
# qa-gen against a real HTTP server on loopback (tests/net/fake_openai.py,
# started here on a random port): records and ids, replies in prose, the
# retry rules (429 with retry-after, 5xx, dropped and truncated answers),
# insufficient_quota (exit 75) and --resume, kill -9 in the middle of a run
# and --resume (every record exactly once), unparsable replies, a service
# that never answers (69), the key never in any output, --dry-run,
# --emit messages, the report. Faults are chosen per item by markers in a
# source record's text ("FAULT=429 TIMES=2"), which the prompt carries.

load helpers

setup_file() {
    export FAKE_DIR=$BATS_FILE_TMPDIR
    python3 "$ROOT/tests/net/fake_openai.py" --log "$FAKE_DIR/auth.log" > "$FAKE_DIR/port" 2> "$FAKE_DIR/server.err" &
    echo $! > "$FAKE_DIR/pid"
    for _ in $(seq 50); do [ -s "$FAKE_DIR/port" ] && break; sleep 0.1; done
    export PORT=$(head -1 "$FAKE_DIR/port")
    export BASE=http://127.0.0.1:$PORT/v1
    export OPENAI_API_KEY=sk-test-SECRET-4f9a
}

teardown_file() {
    kill "$(cat "$FAKE_DIR/pid")" 2>/dev/null || true
}

# prompts PLAN...: a prompt dir whose templates carry the record's text.
prompts() {
    mkdir -p p
    printf 'Give {{count}} pairs in {{language}} about: {{text}}\n' > p/basic.txt
    printf 'Routes ({{count}}) for {{text}} in {{lang}}\n' > p/route.txt
}

qa() { "$SFT_BIN/qa-gen" "$@"; }
qa_st() {
    st=0
    "$SFT_BIN/qa-gen" "$@" > out 2> err || st=$?
}

jqpy() { /usr/bin/python3 -c "import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print($1)"; }

@test "pairs for every record, plan entry and language, with stable ids" {
    prompts
    printf '%s\n' '{"id":"a","text":"alpha count=2"}' '{"id":7,"text":"beta count=2"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:2,route:2 --lang ko,en --api-base "$BASE" -o qa.jsonl -v src.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines qa.jsonl)" -eq 16 ]
    # items finish in any order; the ids are the plan's, each once
    jqpy 'r["id"]' < qa.jsonl | sort > ids
    for s in a 7; do for t in basic route; do for l in ko en; do for i in 0 1; do
        echo "$s:$t:$l:$i"; done; done; done; done | sort > want
    cmp ids want
    # a numeric id stays a number in source_id
    run jqpy 'type(r["source_id"]).__name__' < qa.jsonl
    [[ "$output" == *int* ]] && [[ "$output" == *str* ]]
    run jqpy 'sorted(r) == sorted(["id","source_id","type","lang","question","answer","model"])' < qa.jsonl
    [[ "$output" != *False* ]]
    grep -q '8 in, 8 out, 0 rejected, 0 filtered' err
    # the records satisfy the schema
    python3 -c 'import json, sys, jsonschema
s = json.load(open(sys.argv[1]))
for l in open("qa.jsonl"): jsonschema.validate(json.loads(l), s)' "$ROOT/schemas/qa-pair.schema.json"
}

@test "a reply in prose and a fence is parsed; an unparsable one is asked again, then rejected with the raw reply" {
    prompts
    printf '%s\n' '{"id":"p","text":"FAULT=prose"}' '{"id":"e","text":"FAULT=empty"}' '{"id":"f","text":"FAULT=badcontent TIMES=1 count=2"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl --on-error=skip --rejects rej.jsonl src.jsonl
    [ "$st" -eq 1 ]
    [ "$(grep -c '"source_id":"p"' qa.jsonl)" -eq 3 ]
    # the broken reply of f was asked again and the second one parsed
    [ "$(grep -c '"source_id":"f"' qa.jsonl)" -eq 2 ]
    [ "$(lines rej.jsonl)" -eq 1 ]
    run jqpy 'r["source_id"], "reply" in r' < rej.jsonl
    [ "$output" = "e True" ]
    grep -q 'no QA pairs after 3 attempts' rej.jsonl.why
}

@test "429 with retry-after, 500s, a dropped and a truncated answer are retried" {
    prompts
    printf '%s\n' '{"id":"r","text":"FAULT=429 TIMES=2 RETRY_AFTER=1"}' '{"id":"s","text":"FAULT=500 TIMES=2"}' \
        '{"id":"d","text":"FAULT=drop TIMES=1"}' '{"id":"t","text":"FAULT=truncated TIMES=1"}' > src.jsonl
    start=$(date +%s.%N)
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl --report rep.json src.jsonl
    end=$(date +%s.%N)
    [ "$st" -eq 0 ]
    [ "$(lines qa.jsonl)" -eq 12 ]
    # two retry-after: 1 waits
    awk -v a="$start" -v b="$end" 'BEGIN { exit !(b - a >= 2.0) }'
    run python3 -c 'import json; r = json.load(open("rep.json")); print(r["retries"], r["http_429"], r["http_5xx"])'
    [ "$output" = "6 2 2" ]
}

@test "retries exhausted: the item is rejected, the run goes on (exit 1); a service that never answers is 69" {
    prompts
    printf '%s\n' '{"id":"x","text":"FAULT=503"}' '{"id":"ok","text":"fine"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl --max-retries 1 --on-error=skip src.jsonl
    [ "$st" -eq 1 ]
    [ "$(lines qa.jsonl)" -eq 3 ]
    grep -q 'HTTP 503 after 2 attempts' err
    # nothing listens on this port
    qa_st --prompt-dir p --plan basic:3 --api-base http://127.0.0.1:9/v1 -o qa2.jsonl --max-retries 1 --on-error=skip src.jsonl
    [ "$st" -eq 69 ]
    grep -q 'did not answer a single request' err
}

@test "insufficient_quota stops with 75; --resume finishes without duplicates" {
    prompts
    for i in $(seq 1 12); do printf '{"id":"q%d","text":"item %d"}\n' $i $i; done > src.jsonl
    printf '{"id":"q13","text":"FAULT=quota TIMES=1"}\n' >> src.jsonl
    for i in $(seq 14 20); do printf '{"id":"q%d","text":"item %d"}\n' $i $i; done >> src.jsonl
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl -j 1 src.jsonl
    [ "$st" -eq 75 ]
    grep -q 'out of quota' err
    grep -q -- '--resume' err
    before=$(lines qa.jsonl)
    [ "$before" -lt 60 ]
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl --resume -v src.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines qa.jsonl)" -eq 60 ]
    [ "$(jqpy 'r["id"]' < qa.jsonl | sort | uniq -d | wc -l)" -eq 0 ]
    grep -q "$((before / 3)) skipped" err
}

@test "kill -9 in the middle of a run, then --resume: every record exactly once" {
    prompts
    for i in $(seq 1 40); do printf '{"id":"k%d","text":"DELAY=0.2 item %d"}\n' $i $i; done > src.jsonl
    "$SFT_BIN/qa-gen" --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl -j 4 src.jsonl 2>/dev/null &
    pid=$!
    sleep 1.1
    kill -9 $pid
    wait $pid || true
    n=$(lines qa.jsonl)
    [ "$n" -gt 0 ] && [ "$n" -lt 120 ]
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl --resume -j 8 src.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines qa.jsonl)" -eq 120 ]
    [ "$(jqpy 'r["id"]' < qa.jsonl | sort -u | wc -l)" -eq 120 ]
    # whole lines only
    jqpy 'r["id"]' < qa.jsonl > /dev/null
}

@test "a torn last line (a kill during a write) is cut by --resume" {
    prompts
    printf '{"id":"a","text":"one"}\n{"id":"b","text":"two"}\n' > src.jsonl
    qa --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl src.jsonl
    head -c -20 qa.jsonl > torn && mv torn qa.jsonl
    qa_st --prompt-dir p --plan basic:3 --api-base "$BASE" -o qa.jsonl --resume src.jsonl
    [ "$st" -eq 0 ]
    jqpy 'r["id"]' < qa.jsonl > ids
    [ "$(sort -u ids | wc -l)" -eq "$(lines ids)" ]
}

@test "the key never appears in outputs, logs, reports or errors; it is sent as the Authorization header" {
    prompts
    printf '%s\n' '{"id":"a","text":"fine"}' '{"id":"b","text":"FAULT=401"}' '{"id":"c","text":"FAULT=badjson"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:2 --api-base "$BASE" -o qa.jsonl --report rep.json --rejects rej.jsonl \
        --on-error=skip --max-retries 1 -v src.jsonl
    ! grep -rq 'SECRET-4f9a' out err qa.jsonl rep.json rej.jsonl rej.jsonl.why
    grep -q 'auth=Bearer sk-test-SECRET-4f9a' "$FAKE_DIR/auth.log"
    # from a file too, and never taken from argv
    printf 'sk-file-SECRET-77\n' > key
    OPENAI_API_KEY= qa_st --prompt-dir p --plan basic:2 --api-base "$BASE" -o qa2.jsonl --api-key-file key \
        --on-error=skip src.jsonl
    grep -q 'auth=Bearer sk-file-SECRET-77' "$FAKE_DIR/auth.log"
    ! grep -q 'SECRET-77' out err qa2.jsonl
    # a key typed where the file goes (--api-key abbreviates --api-key-file)
    # is not echoed in the error
    qa_st --api-key sk-typed-SECRET --prompt-dir p --plan basic:2 -o x src.jsonl
    [ "$st" -eq 66 ]
    ! grep -q 'SECRET' err
}

@test "plain http to a host that is not local is refused unless --allow-insecure-http; no key, no run" {
    prompts
    echo '{"id":"a","text":"x"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:2 --api-base http://example.invalid/v1 -o qa.jsonl src.jsonl
    [ "$st" -eq 2 ]
    grep -qi 'http' err
    OPENAI_API_KEY= qa_st --prompt-dir p --plan basic:2 --api-base https://api.example.invalid/v1 -o qa.jsonl src.jsonl
    [ "$st" -eq 2 ]
    grep -q 'OPENAI_API_KEY' err
}

@test "--dry-run prints the requests; --json-mode and --temperature are in the body" {
    prompts
    printf '%s\n' '{"id":"a","text":"x"}' '{"id":"b","text":"y"}' > src.jsonl
    OPENAI_API_KEY= qa_st --prompt-dir p --plan basic:2,route:1 --lang ko,en --dry-run --json-mode \
        --temperature 0.3 --max-tokens 500 src.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 8 ]
    run jqpy 'r["body"]["response_format"]["type"], r["body"]["temperature"], r["body"]["max_tokens"], r["body"]["messages"][-1]["content"]' < out
    [ "${lines[0]}" = "json_object 0.3 500 Give 2 pairs in Korean about: x" ]
}

@test "--emit messages writes SFT examples with the system message" {
    prompts
    echo '{"id":"a","text":"x count=2"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:2 --api-base "$BASE" -o qa.jsonl --emit messages --system "캠퍼스 안내" src.jsonl
    [ "$st" -eq 0 ]
    run jqpy '[m["role"] for m in r["messages"]], r["messages"][0]["content"], r["meta"]["source_id"]' < qa.jsonl
    [ "${lines[0]}" = "['system', 'user', 'assistant'] 캠퍼스 안내 a" ]
    # and --resume reads them back
    qa_st --prompt-dir p --plan basic:2 --api-base "$BASE" -o qa.jsonl --emit messages --system "캠퍼스 안내" --resume -v src.jsonl
    grep -q '1 skipped' err
    [ "$(lines qa.jsonl)" -eq 2 ]
}

@test "bad source records and usage errors" {
    prompts
    printf '%s\n' '{"id":"a","text":"x"}' '{"text":"no id"}' 'nope' '{"id":"a","text":"dup"}' > src.jsonl
    qa_st --prompt-dir p --plan basic:1 --api-base "$BASE" -o qa.jsonl --on-error=skip src.jsonl
    [ "$st" -eq 1 ]
    grep -q 'src.jsonl:2: no string or number id' err
    grep -q 'src.jsonl:4: duplicate id' err
    qa_st --prompt-dir p --plan basic:x -o qa.jsonl src.jsonl
    [ "$st" -eq 2 ]
    qa_st --prompt-dir p --plan nosuch:2 --api-base "$BASE" -o qa.jsonl src.jsonl
    [ "$st" -eq 66 ]
    grep -q 'p/nosuch.txt' err
    qa_st --prompt-dir p --plan basic:1 src.jsonl
    [ "$st" -eq 2 ]
}
