#!/usr/bin/env bats
# split: the CLI contract as a user meets it.

load helpers

@test "90:10 split by --out writes both parts and keeps every record" {
    n_records 1000 > in.jsonl
    run split --ratio 0.9,0.1 --out data in.jsonl
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ $(( $(lines data.train.jsonl) + $(lines data.val.jsonl) )) -eq 1000 ]
    [ "$(lines data.val.jsonl)" -gt 60 ] && [ "$(lines data.val.jsonl)" -lt 140 ]
    [ "$(cat data.train.jsonl data.val.jsonl | sort | md5sum)" = "$(sort in.jsonl | md5sum)" ]
}

@test "a record's part does not depend on input order or other records" {
    n_records 500 > in.jsonl
    split --ratio 0.5,0.5 --seed 3 --out a in.jsonl
    shuf --random-source=<(yes) in.jsonl | head -300 > sub.jsonl
    split --ratio 0.5,0.5 --seed 3 --out b sub.jsonl
    [ "$(sort b.train.jsonl)" = "$(sort a.train.jsonl | grep -Fxf sub.jsonl)" ]
    split --ratio 0.5,0.5 --seed 4 --out c in.jsonl
    ! cmp -s a.train.jsonl c.train.jsonl
}

@test "--key keeps every group in one part, in both modes" {
    n_records 2000 > in.jsonl
    for mode in "" --exact; do
        split --ratio 0.7,0.3 --key g $mode --out s in.jsonl
        grep -o '"g":"[^"]*"' s.train.jsonl | sort -u > tg
        grep -o '"g":"[^"]*"' s.val.jsonl | sort -u > vg
        [ -s tg ] && [ -s vg ]
        [ -z "$(comm -12 tg vg)" ]
    done
}

@test "stdin, '-' and -o NAME=- to stdout" {
    n_records 50 > in.jsonl
    run split --ratio 1,1 -o train=- -o val=v.jsonl < in.jsonl
    [ "$status" -eq 0 ]
    [ $(( ${#lines[@]} + $(lines v.jsonl) )) -eq 50 ]
    split --ratio 1,1 -o train=t2.jsonl -o val=v2.jsonl - < in.jsonl
    cmp v.jsonl v2.jsonl
}

@test "--exact gives largest-remainder sizes; stdin works through a spill file" {
    n_records 7 > in.jsonl
    split --ratio 1,1,1 --exact --out e in.jsonl
    [ "$(lines e.train.jsonl) $(lines e.val.jsonl) $(lines e.test.jsonl)" = "3 2 2" ]
    n_records 1001 | split --ratio 0.9,0.1 --exact --out p
    [ "$(lines p.train.jsonl) $(lines p.val.jsonl)" = "901 100" ]
    n_records 1001 > big.jsonl
    split --ratio 0.9,0.1 --exact --out f big.jsonl
    cmp p.train.jsonl f.train.jsonl
}

@test "--stratify splits each value in the ratio" {
    awk 'BEGIN { for (i = 0; i < 100; i++) printf "{\"id\":%d,\"lang\":\"%s\"}\n", i, i < 80 ? "ko" : "en" }' > in.jsonl
    run split -v --ratio 0.9,0.1 --stratify lang --out s in.jsonl
    [ "$status" -eq 0 ]
    [ "$(grep -c '"ko"' s.val.jsonl) $(grep -c '"en"' s.val.jsonl)" = "8 2" ]
    [[ "$output" == *'stratum ko: train 72, val 8'* ]]
    [[ "$output" == *'stratum en: train 18, val 2'* ]]
}

@test "bad JSON: file:line:col message, exit 65, no part file replaced" {
    printf '{"a":1}\n{"a":2,}\n' > in.jsonl
    echo old > s.train.jsonl
    run split --ratio 1,1 --out s in.jsonl
    [ "$status" -eq 65 ]
    [ "$output" = "split: in.jsonl:2:8: invalid JSON: expected a string key" ]
    [ "$(cat s.train.jsonl)" = old ]
    [ ! -e s.val.jsonl ]
    [ -z "$(ls | grep tmp)" ]
}

@test "invalid UTF-8 is reported with its byte offset" {
    printf '{"a":1}\n{"t":"ab\xff"}\n' > in.jsonl
    run split --ratio 1,1 --out s in.jsonl
    [ "$status" -eq 65 ]
    [ "$output" = "split: in.jsonl:2:9: invalid UTF-8 at byte offset 16" ]
}

@test "a 100 MB line: clear error, not a crash; --max-line lets it through" {
    { printf '{"a":1}\n{"big":"'; head -c 100000000 /dev/zero | tr '\0' x; printf '"}\n{"a":2}\n'; } > in.jsonl
    run split --ratio 1,1 --out s in.jsonl
    [ "$status" -eq 65 ]
    [ "$output" = "split: in.jsonl:2: line longer than 64M (use --max-line)" ]
    run split --ratio 1,1 --on-error=skip --rejects r.jsonl --out s in.jsonl
    [ "$status" -eq 1 ]
    [ $(( $(lines s.train.jsonl) + $(lines s.val.jsonl) )) -eq 2 ]
    [ "$(cat r.jsonl.why)" = '{"src":"in.jsonl","line":2,"reason":"line longer than 64M (use --max-line)","copied":false}' ]
    run split --ratio 1,1 --max-line 128M --out s in.jsonl
    [ "$status" -eq 0 ]
    [ $(( $(lines s.train.jsonl) + $(lines s.val.jsonl) )) -eq 3 ]
}

@test "an empty file: exit 0, empty parts, a warning" {
    : > empty.jsonl
    run split --ratio 1,1 --out s empty.jsonl
    [ "$status" -eq 0 ]
    [ "$output" = "split: warning: no input records" ]
    [ -f s.train.jsonl ] && [ ! -s s.train.jsonl ] && [ -f s.val.jsonl ]
}

@test "a missing input: exit 66 before any output is written" {
    n_records 5 > in.jsonl
    run split --ratio 1,1 --out s in.jsonl nope.jsonl
    [ "$status" -eq 66 ]
    [ "$output" = "split: nope.jsonl: cannot open: No such file or directory" ]
    [ ! -e s.train.jsonl ]
    run split --ratio 1,1 --out s .
    [ "$status" -eq 66 ]
}

@test "an output that cannot be created: exit 73" {
    n_records 5 > in.jsonl
    run split --ratio 1,1 --out no/such/dir/s in.jsonl
    [ "$status" -eq 73 ]
    [[ "$output" == "split: no/such/dir/s.train.jsonl: cannot create: No such file or directory" ]]
}

@test "a full disk (/dev/full): exit 74 with the reason" {
    n_records 100 > in.jsonl
    run split --ratio 1,1 -o train=/dev/full -o val=/dev/null in.jsonl
    [ "$status" -eq 74 ]
    [ "$output" = "split: /dev/full: write error: No space left on device" ]
}

@test "a closed pipe (| head -1): exit 74, reported, and it stops early" {
    n_records 200000 > in.jsonl
    run bash -c "'$SFT_BIN/split' --ratio 1,1 -o train=- -o val=/dev/null in.jsonl | head -1 > /dev/null; echo \"status \${PIPESTATUS[0]}\""
    [[ "$output" == *"split: <stdout>: write error: Broken pipe"* ]]
    [[ "$output" == *"status 74" ]]
}

@test "--on-error=skip: exit 1, each reason, the count, and the rejects files" {
    printf '{"a":1,"g":"x"}\n{"a":\n\n[2]\n{"b":3}\n{"a":4,"g":"y"}\n' > in.jsonl
    run split --ratio 1,1 --key g --on-error=skip --rejects r.jsonl --out s in.jsonl
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "split: in.jsonl:2:6: invalid JSON: unexpected end of text (skipped)" ]
    [ "${lines[1]}" = "split: in.jsonl:4:1: not a JSON object (skipped)" ]
    [ "${lines[2]}" = "split: in.jsonl:5: key field 'g' not found (skipped)" ]
    [ "${lines[3]}" = "split: 3 records rejected" ]
    [ "$(cat r.jsonl)" = "$(printf '{"a":\n[2]\n{"b":3}')" ]
    [ "$(lines r.jsonl.why)" -eq 3 ]
    [ "$(sed -n 3p r.jsonl.why)" = '{"src":"in.jsonl","line":5,"reason":"key field '"'"'g'"'"' not found"}' ]
}

@test "record invariant: in = out + rejected + filtered, and -v says so" {
    { n_records 300; printf '{bad\n[1]\n{"x":"\xc3"}\n'; n_records 10; } > in.jsonl
    run split -v --ratio 0.8,0.2 --key g --on-error=skip --rejects r.jsonl --out s in.jsonl
    [ "$status" -eq 1 ]
    out=$(( $(lines s.train.jsonl) + $(lines s.val.jsonl) ))
    rej=$(lines r.jsonl.why)
    [ "$out" -eq 310 ] && [ "$rej" -eq 3 ]
    [[ "$output" == *"split: 313 in, $out out, $rej rejected, 0 filtered"* ]]
    [[ "$output" == *"split: train: $(lines s.train.jsonl) records"* ]]
}

@test "CRLF, a BOM and blank lines are handled; output is LF" {
    printf '\xef\xbb\xbf{"a":1}\r\n\r\n  \n{"a":2}\r\n' > in.jsonl
    run split --ratio 1,1 -o train=all.jsonl -o val=all2.jsonl in.jsonl
    [ "$status" -eq 0 ]
    [ "$(cat all.jsonl all2.jsonl | sort)" = "$(printf '{"a":1}\n{"a":2}')" ]
    ! grep -q $'\r' all.jsonl all2.jsonl
}

@test "usage errors exit 2 with a hint" {
    for args in "" "--ratio 0.9 --out x" "--ratio 0.9,abc --out x" "--ratio 1,0 --out x" \
                "--ratio 1,1" "--ratio 1,1 --out x --seed -1" "--ratio 1,1 --out x --seed 12x" \
                "--ratio 1,1 -o foo=x --out y" "--ratio 1,1 -o train=a -o val=a" \
                "--ratio 1,1,1,1 --out x" "--ratio 1,1 --out x --max-line 0" \
                "--ratio 1,1 --out x --on-error=ignore" "--ratio 1,1 --out x --key a..b" \
                "--ratio 1,1 --out x --bogus"; do
        run split $args
        echo "args: $args -> $status: $output"
        [ "$status" -eq 2 ]
        [[ "$output" == split:* ]]
    done
}

@test "--help and --version go to stdout and exit 0" {
    run split --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "Usage: split --ratio LIST"* ]]
    run split --version
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^split\ \(sftkit\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    run bash -c "'$SFT_BIN/split' --help > /dev/full"
    [ "$status" -eq 74 ]
}

@test "usage() and man/man1/split.1 list the same options" {
    split --help | grep -oE -- '--[a-z][a-z-]+' | sort -u > help.txt
    sed 's/\\-/-/g' "$ROOT/man/man1/split.1" | awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH / { on = 0 } on' |
        grep -E '^\.(TP|B|BR|BI)|^\\fB' | grep -oE -- '--[a-z][a-z-]+' | sort -u > man.txt
    run diff help.txt man.txt
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(wc -l < help.txt)" -ge 15 ]
}

@test "a progress line only with --progress (stderr is not a terminal here)" {
    gen() { n_records 2000; sleep 0.4; n_records 2000; }
    run bash -c "$(declare -f n_records gen); gen | '$SFT_BIN/split' --ratio 1,1 -o train=/dev/null -o val=/dev/null"
    echo "without --progress: status $status, output: $output"
    [ "$status" -eq 0 ] && [ -z "$output" ]
    run bash -c "$(declare -f n_records gen); gen | '$SFT_BIN/split' --progress --ratio 1,1 -o train=/dev/null -o val=/dev/null"
    echo "with --progress: status $status, output: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"records"* ]]
}

@test "the demo fixture's parts still validate against the SFT example schema" {
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
        skip "python3-jsonschema is not installed"
    split --ratio 0.9,0.1 --key meta.conversation --out d "$ROOT/fixtures/demo/chat.jsonl"
    /usr/bin/python3 "$ROOT/tests/schema/validate.py" "$ROOT/schemas/sft-example.schema.json" d.train.jsonl d.val.jsonl
}

@test "overlapping paths are refused before anything is written" {
    n_records 100 > orig
    run split -r 9,1 -o train=x.jsonl -o val=./x.jsonl orig
    [ "$status" -eq 2 ] && [[ "$output" == *"would both be written to './x.jsonl'"* ]]
    run split -r 9,1 --out q --rejects q.train.jsonl --on-error=skip orig
    [ "$status" -eq 2 ] && [[ "$output" == *"is also a part's output"* ]]
    cp orig d.train.jsonl
    run split -r 9,1 --out d d.train.jsonl
    [ "$status" -eq 2 ] && cmp orig d.train.jsonl
    run split -r 1,1 --rejects - --out o orig
    [ "$status" -eq 2 ]
    [ ! -e o.train.jsonl ]
}

@test "a run that reads nothing keeps an earlier rejects file" {
    n_records 10 > orig
    echo keep > bad.jsonl
    run split -r 1,1 --rejects bad.jsonl --out o orig missing.jsonl
    [ "$status" -eq 66 ] && [ "$(cat bad.jsonl)" = keep ]
}

@test "-o train/val in any order keeps the weights on train,val" {
    n_records 1000 > orig
    split -r 0.9,0.1 -o val=v.jsonl -o train=t.jsonl orig
    [ "$(lines t.jsonl)" -gt "$(lines v.jsonl)" ]
}

@test "SIGTERM leaves no temporary files behind" {
    # A slow writer keeps split running, with its temporary files open.
    (n_records 1000; sleep 5; n_records 1000) | "$SFT_BIN/split" -r 1,1 --out sig &
    pid=$!
    sleep 0.5
    [ -n "$(ls | grep -F .tmp.)" ]  # the run is under way
    kill -TERM "$pid"
    st=0
    wait "$pid" || st=$?
    [ "$st" -eq 143 ]               # it died of the signal
    [ -z "$(ls | grep -F .tmp.)" ]
    [ ! -e sig.train.jsonl ]
}
