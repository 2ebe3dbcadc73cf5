#!/usr/bin/env bats
# kakao-parse: the golden outputs in tests/golden/kakao/ (made by its
# regen.sh), the fixtures of fixtures/kakao/ (their truth is EXPECTED.md
# there), and the CLI contract as a user meets it.

load helpers

FIX=$ROOT/fixtures/kakao
GOLD=$ROOT/tests/golden/kakao
PY=/usr/bin/python3

# The goldens made with options other than --me 정민준: "GOLDEN FIXTURE OPTION...".
# Keep in step with tests/golden/kakao/regen.sh.
EMIT_GOLDENS=(
    "android_ko.pairs.jsonl android_ko.txt --emit pairs --me 정민준 --context 2"
    "android_ko.conversations.jsonl android_ko.txt --emit conversations --me 정민준"
    "csv_ko.conversations.gap30m.jsonl csv_ko.csv --emit conversations --me 정민준 --gap 30m"
    "ios_en.pairs.keep-media.jsonl ios_en.txt --emit pairs --me 정민준 --keep-media"
    "windows_ko.conversations.minmax.jsonl windows_ko.txt --emit conversations --me 정민준 --min-chars 20 --max-chars 400"
)

# Every full export of the one conversation: all formats, UI languages and
# encodings (not the fragments, header_only.txt or the files that are no
# export). lookalike.txt is android_ko.txt plus one message.
FULL=(windows_ko.txt windows_en.txt windows_24h.txt csv_ko.csv csv_en.csv csv_broken.csv
      android_ko.txt android_en_old.txt android_en.txt android_dayfirst.txt
      ios_ko.txt ios_en.txt ios_en_24h.txt ios_timeonly.txt
      enc_utf8_bom.txt enc_utf16le.txt enc_utf16be.txt enc_cp949.txt enc_lf.txt lookalike.txt)
# PC (Windows) exports: their system lines carry no time.
WINDOWS_FAMILY=" windows_ko.txt windows_en.txt windows_24h.txt enc_cp949.txt enc_utf16le.txt "
NOT_EXPORTS=" garbage.txt binary.bin empty.txt "

kp() { "$SFT_BIN/kakao-parse" "$@"; }

# kp_st ARG...: runs kakao-parse with stdout in out, stderr in err, and its
# exit status in $st (a failing status does not end the test).
kp_st() {
    st=0
    "$SFT_BIN/kakao-parse" "$@" > out 2> err || st=$?
}

# The fixture files that are exports (they parse), by file name.
exports() {
    local f
    for f in "$FIX"/*; do
        f=$(basename "$f")
        case $f in *.md) continue ;; esac
        [[ $NOT_EXPORTS == *" $f "* ]] || echo "$f"
    done
}

# Records with src.file blanked, to compare runs on differently named inputs.
no_src_file() { sed 's/"src":{"file":"[^"]*"/"src":{"file":""/' "$@"; }

have_jsonschema() { [ -x "$PY" ] && "$PY" -c 'import jsonschema' 2>/dev/null; }

# counts TEXT: sets IN OUT REJ FILT from the "N in, M out, R rejected, F filtered" line.
counts() {
    local re='kakao-parse: ([0-9]+) in, ([0-9]+) out, ([0-9]+) rejected, ([0-9]+) filtered'
    [[ $1 =~ $re ]] || { echo "no counts line in: $1"; return 1; }
    IN=${BASH_REMATCH[1]} OUT=${BASH_REMATCH[2]} REJ=${BASH_REMATCH[3]} FILT=${BASH_REMATCH[4]}
    echo "in $IN, out $OUT, rejected $REJ, filtered $FILT"
}

# ---------------------------------------------------------------- goldens

@test "goldens: every fixture export's messages (--me 정민준) are byte-identical" {
    n=0
    for f in $(exports); do
        [ -f "$GOLD/${f%.*}.messages.jsonl" ] || { echo "no golden for $f: run tests/golden/kakao/regen.sh"; false; }
        (cd "$ROOT" && "$SFT_BIN/kakao-parse" --me 정민준 "fixtures/kakao/$f") > got.jsonl 2> /dev/null
        diff -u "$GOLD/${f%.*}.messages.jsonl" got.jsonl
        n=$((n + 1))
    done
    [ "$n" -ge 24 ]
}

@test "goldens: pairs and conversations with fixed options are byte-identical" {
    for g in "${EMIT_GOLDENS[@]}"; do
        set -- $g
        golden=$1 fixture=$2
        shift 2
        echo "golden $golden: kakao-parse $* fixtures/kakao/$fixture"
        (cd "$ROOT" && "$SFT_BIN/kakao-parse" "$@" "fixtures/kakao/$fixture") > got.jsonl
        diff -u "$GOLD/$golden" got.jsonl
        [ -s got.jsonl ]
    done
}

@test "goldens: no stale or missing files in tests/golden/kakao" {
    for f in $(exports); do echo "${f%.*}.messages.jsonl"; done > want
    for g in "${EMIT_GOLDENS[@]}"; do echo "${g%% *}"; done >> want
    (cd "$GOLD" && ls *.jsonl) > have
    diff -u <(LC_ALL=C sort want) <(LC_ALL=C sort have)
}

# ---------------------------------------------------------------- determinism

@test "determinism: two runs give byte-identical output in every mode" {
    files=()
    for f in $(exports); do files+=("$FIX/$f"); done
    for mode in "--emit messages" "--emit pairs --context 3 --keep-media" \
                "--emit conversations --gap 30m" "--emit pairs --min-chars 5 --max-chars 100"; do
        kp $mode --me 정민준 "${files[@]}" > a.jsonl 2> /dev/null
        kp $mode --me 정민준 "${files[@]}" > b.jsonl 2> /dev/null
        [ -s a.jsonl ]
        cmp a.jsonl b.jsonl
    done
}

# ---------------------------------------------------------------- schemas

@test "schemas: every export's messages are chat messages; pairs and conversations SFT examples" {
    have_jsonschema || skip "python3-jsonschema is not installed"
    files=()
    for f in $(exports); do files+=("$FIX/$f"); done
    kp --me 정민준 "${files[@]}" > messages.jsonl 2> /dev/null
    kp "${files[@]}" > messages-nome.jsonl 2> /dev/null
    [ "$(lines messages.jsonl)" -gt 800 ]
    "$PY" "$ROOT/tests/schema/validate.py" "$ROOT/schemas/chat-message.schema.json" messages.jsonl messages-nome.jsonl
    : > sft.jsonl
    for mode in "pairs" "pairs --context 4 --keep-media" "conversations" "conversations --keep-media --gap 2h"; do
        kp --emit $mode --me 정민준 "${files[@]}" >> sft.jsonl 2> /dev/null
    done
    [ "$(lines sft.jsonl)" -gt 100 ]
    "$PY" "$ROOT/tests/schema/validate.py" "$ROOT/schemas/sft-example.schema.json" sft.jsonl \
        "$GOLD"/*.pairs*.jsonl "$GOLD"/*.conversations*.jsonl
}

# ---------------------------------------------------------------- cross-format

# sig_cmp REF GOT NAME [windows] [cp949] [lookalike]: compares the sequences
# of (minute, kind, speaker unless system, text for text and link) of two
# messages files; prints each difference.
sig_cmp() {
    "$PY" - "$@" <<'EOF'
import json, sys
ref, got, name = sys.argv[1:4]
opts = set(sys.argv[4:])

def sig(path):
    out = []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        k = r["kind"]
        out.append([r["ts"][:16], k, None if k == "system" else r["speaker"],
                    r["text"] if k in ("text", "link") else None])
    return out

a, b = sig(ref), sig(got)
bad = []
if "lookalike" in opts:
    # L, the message between #37 and #38 (EXPECTED.md), is extra here.
    if len(b) > 37 and (b[37][3] or "").startswith("이거 기억나요?\n"):
        del b[37]
    else:
        bad.append("record 38 is not the look-alike message L")
if "windows" in opts:
    # PC exports carry no time for system lines: compare their kind only.
    for s in a + b:
        if s[1] == "system":
            s[0] = None
if "cp949" in opts:
    # CP949 has no emoji: #5 reads "저도 갈게요 ^^" there.
    if len(b) > 4 and b[4][3] == "저도 갈게요 ^^":
        b[4][3] = a[4][3]
    else:
        bad.append("record 5 is not '저도 갈게요 ^^'")
if len(a) != len(b):
    bad.append("%d records, want %d" % (len(b), len(a)))
for i, (x, y) in enumerate(zip(a, b)):
    if x != y:
        bad.append("record %d: got %s, want %s" % (i + 1, y, x))
for m in bad:
    print("%s: %s" % (name, m))
sys.exit(1 if bad else 0)
EOF
}

@test "cross-format: every full export gives csv_ko.csv's minutes, kinds, speakers and texts" {
    # Exceptions, as EXPECTED.md describes the exports: PC (windows) system
    # lines carry no time, so only their kind is compared; enc_cp949.txt's
    # #5 has no emoji ("저도 갈게요 ^^"); lookalike.txt holds one more
    # message, L, between #37 and #38.
    kp --me 정민준 "$FIX/csv_ko.csv" > ref.jsonl
    [ "$(lines ref.jsonl)" -eq 41 ]
    fails=0
    for f in "${FULL[@]}"; do
        opts=()
        [[ $WINDOWS_FAMILY == *" $f "* ]] && opts+=(windows)
        [ "$f" = enc_cp949.txt ] && opts+=(cp949)
        [ "$f" = lookalike.txt ] && opts+=(lookalike)
        kp --me 정민준 "$FIX/$f" > got.jsonl 2> /dev/null
        sig_cmp ref.jsonl got.jsonl "$f" "${opts[@]}" || fails=$((fails + 1))
    done
    [ "$fails" -eq 0 ]
}

@test "cross-format: the same seconds, then the same records, in the three CSV files" {
    kp --me 정민준 "$FIX/csv_ko.csv" | sed 's/"text":"[^"]*"//' > ko
    kp --me 정민준 "$FIX/csv_en.csv" | sed 's/"text":"[^"]*"//; s/"chat":"csv_en"/"chat":"csv_ko"/; s/csv_en\.csv/csv_ko.csv/' > en
    diff -u ko en
    # csv_broken: csv_ko with two unclosed quotes, recovered with a warning.
    kp_st --me 정민준 "$FIX/csv_broken.csv"
    [ "$st" -eq 0 ]
    [ "$(lines err)" -eq 1 ]
    [[ $(cat err) == "kakao-parse: $FIX/csv_broken.csv: warning: 2 CSV records with an unclosed quote"* ]]
    diff -u <(kp --me 정민준 "$FIX/csv_ko.csv" | no_src_file | sed 's/"chat":"csv_ko"//') \
            <(no_src_file out | sed 's/"chat":"csv_broken"//')
}

# ---------------------------------------------------------------- fragments

@test "fragments: android, and windows and iOS starting at a day line or with dated lines, need no --date" {
    kp_st "$FIX/fragment_android.txt"
    [ "$st" -eq 0 ] && [ ! -s err ]
    [ "$(lines out)" -eq 4 ]
    grep -q '"ts":"2024-03-01T14:41:00+09:00","speaker":"회원님","text":"아침 8시 : 구파발역 1번 출구 어때요?"' out
    # fragment_windows.txt starts at its day line (2024-03-03).
    kp_st "$FIX/fragment_windows.txt"
    [ "$st" -eq 0 ] && [ ! -s err ]
    [ "$(lines out)" -eq 11 ]
    [ "$(grep -c '"ts":"2024-03-03T' out)" -eq 11 ]
    # The day line wins over --date.
    kp --date 2000-01-01 "$FIX/fragment_windows.txt" | cmp - out
    # fragment_ios.txt has no day line, but every line carries its date.
    kp_st "$FIX/fragment_ios.txt"
    [ "$st" -eq 0 ] && [ ! -s err ]
    [ "$(lines out)" -eq 8 ]
    [ "$(grep -c '"ts":"2024-03-02T' out)" -eq 8 ]
}

@test "fragments: time-only lines before any day line are rejected naming --date, and read with it" {
    # The windows fragment without its day line.
    tail -n +2 "$FIX/fragment_windows.txt" > noday_windows.txt
    kp_st noday_windows.txt
    echo "windows: status $st, stderr: $(cat err)"
    [ "$st" -eq 65 ]
    [ ! -s out ]
    [[ $(cat err) == "kakao-parse: noday_windows.txt:"*"--date"* ]]
    kp_st --date 2024-03-03 noday_windows.txt
    [ "$st" -eq 0 ]
    kp "$FIX/fragment_windows.txt" | sed 's/"chat":"[^"]*"//; s/"src":.*//' > want
    sed 's/"chat":"[^"]*"//; s/"src":.*//' out > got
    diff -u want got
    # Day 2 of ios_timeonly.txt (lines "오전 12:05, 이도윤 : ..."), without its day line.
    sed -n '/^2024년 3월 2일 토요일/,/^2024년 3월 3일 일요일/p' "$FIX/ios_timeonly.txt" | sed '1d;$d' > noday_ios.txt
    kp_st noday_ios.txt
    echo "ios: status $st, stderr: $(cat err)"
    [ "$st" -eq 65 ]
    [ ! -s out ]
    [[ $(cat err) == "kakao-parse: noday_ios.txt:"*"--date"* ]]
    kp_st --date 2024-03-02 noday_ios.txt
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 14 ]
    kp "$FIX/ios_timeonly.txt" | sed -n '17,30p' | sed 's/"chat":"[^"]*"//; s/"i":[0-9]*//; s/"src":.*//' > want
    sed 's/"chat":"[^"]*"//; s/"i":[0-9]*//; s/"src":.*//' out > got
    diff -u want got
    grep -q '"ts":"2024-03-02T00:05:00+09:00"' got
}

# ---------------------------------------------------------------- bad input

@test "not an export (garbage, binary, empty): exit 65, 'kakao-parse: FILE: reason', no output" {
    for f in garbage.txt binary.bin empty.txt; do
        kp_st --me 정민준 "$FIX/$f"
        echo "$f: status $st, stderr: $(cat err)"
        [ "$st" -eq 65 ]
        [ ! -s out ]
        [ "$(lines err)" -eq 1 ]
        [[ $(cat err) == "kakao-parse: $FIX/$f: "?* ]]
    done
    kp_st "$FIX/garbage.txt"
    [ "$(cat err)" = "kakao-parse: $FIX/garbage.txt: not a KakaoTalk export: no KakaoTalk message lines in the first 50 lines" ]
    kp_st "$FIX/binary.bin"
    [ "$(cat err)" = "kakao-parse: $FIX/binary.bin: binary data (NUL bytes), not a text file" ]
    kp_st "$FIX/empty.txt"
    [ "$(cat err)" = "kakao-parse: $FIX/empty.txt: empty input: no KakaoTalk message lines" ]
    # -o: a failed run leaves no output file behind.
    kp_st -o o.jsonl "$FIX/android_ko.txt" "$FIX/garbage.txt"
    [ "$st" -eq 65 ] && [ ! -e o.jsonl ]
}

@test "header_only.txt: exit 0, no records, a warning" {
    kp_st -v --me 정민준 "$FIX/header_only.txt"
    [ "$st" -eq 0 ]
    [ ! -s out ]
    grep -qxF "kakao-parse: $FIX/header_only.txt: warning: a KakaoTalk export header but no messages" err
    grep -qxF "kakao-parse: 0 in, 0 out, 0 rejected, 0 filtered" err
    kp_st --emit conversations --me 정민준 "$FIX/header_only.txt"
    [ "$st" -eq 0 ] && [ ! -s out ]
}

@test "a missing input exits 66; an output that cannot be created exits 73" {
    kp_st nope.txt
    [ "$st" -eq 66 ]
    [ "$(cat err)" = "kakao-parse: nope.txt: cannot open: No such file or directory" ]
    kp_st -o no/such/dir/x.jsonl "$FIX/android_ko.txt"
    [ "$st" -eq 73 ]
    [ "$(cat err)" = "kakao-parse: no/such/dir/x.jsonl: cannot create: No such file or directory" ]
}

@test "--on-error=skip --rejects: exit 1, the good records written, R.why names each bad file" {
    cp "$FIX/garbage.txt" "$FIX/binary.bin" "$FIX/empty.txt" .
    kp_st --on-error=skip --rejects R --me 정민준 "$FIX/android_ko.txt" garbage.txt "$FIX/csv_ko.csv" binary.bin empty.txt
    echo "status $st, stderr: $(cat err)"
    [ "$st" -eq 1 ]
    { kp --me 정민준 "$FIX/android_ko.txt"; kp --me 정민준 "$FIX/csv_ko.csv"; } > want
    cmp want out
    [ "$(lines out)" -eq 82 ]
    [ "$(lines R.why)" -eq 3 ]
    grep -qF '{"src":"garbage.txt","line":0,"reason":"not a KakaoTalk export: ' R.why
    grep -qF '{"src":"binary.bin","line":0,"reason":"binary data (NUL bytes), not a text file"' R.why
    grep -qF '{"src":"empty.txt","line":0,"reason":"empty input: no KakaoTalk message lines"' R.why
    grep -qxF "kakao-parse: garbage.txt: not a KakaoTalk export: no KakaoTalk message lines in the first 50 lines (skipped)" err
    grep -qxF "kakao-parse: 3 records rejected" err
    # Without skip, the first bad file stops the run.
    kp_st --me 정민준 "$FIX/android_ko.txt" garbage.txt "$FIX/csv_ko.csv"
    [ "$st" -eq 65 ]
    [ "$(lines out)" -eq 41 ]
}

# ---------------------------------------------------------------- usage

@test "usage errors exit 2 with a hint" {
    for args in "--emit foo" "--emit pairs" "--emit conversations" "-e pairs --gap 1h" \
                "--gap 5x" "--gap -1h" "--gap 1h30" "--gap h" "--gap 400d" \
                "--tz +9" "--tz 09:00" "--tz +15:00" "--tz +09:60" "--tz JST" \
                "--date 2024-02-30" "--date 2024-3-1" "--date 20240301" "--date x" \
                "--format pdf" "--format Windows" "--encoding latin1" "--encoding utf8x" \
                "--context 2" "--context 1 --emit messages" "--keep-media" "--min-chars 3" "--max-chars 9" \
                "--emit pairs --me a --context x" "--emit pairs --me a --min-chars 5 --max-chars 2" \
                "--emit pairs --me a --max-chars 0" "--on-error=ignore" "--bogus"; do
        run kp $args "$FIX/android_ko.txt"
        echo "args: $args -> $status: $output"
        [ "$status" -eq 2 ]
        [[ ${lines[0]} == kakao-parse:* ]]
        [[ $output == *"Try 'kakao-parse --help'"* ]]
    done
    run kp --me "" "$FIX/android_ko.txt"
    [ "$status" -eq 2 ]
}

@test "--help and --version go to stdout and exit 0" {
    run kp --help
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "Usage: kakao-parse [OPTION]... [FILE]..." ]]
    run kp --version
    [ "$status" -eq 0 ]
    [[ $output =~ ^kakao-parse\ \(sftkit\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

# ---------------------------------------------------------------- -v counts

@test "-v: in = out + rejected + filtered, in messages, pairs and conversations modes" {
    files=("$FIX/android_ko.txt" "$FIX/garbage.txt" "$FIX/csv_ko.csv" "$FIX/ios_en.txt")
    kp_st -v --on-error=skip --me 정민준 "${files[@]}"
    counts "$(cat err)"
    [ "$st" -eq 1 ]
    [ "$IN" -eq 124 ] && [ "$OUT" -eq 123 ] && [ "$REJ" -eq 1 ] && [ "$FILT" -eq 0 ]
    [ "$OUT" -eq "$(lines out)" ]
    [ "$IN" -eq $((OUT + REJ + FILT)) ]
    for mode in "pairs" "pairs --context 2 --keep-media" "pairs --min-chars 24" \
                "conversations" "conversations --gap 30m --keep-media" "conversations --min-chars 38"; do
        kp_st -v --on-error=skip --emit $mode --me 정민준 "${files[@]}"
        echo "--emit $mode: $(cat err)"
        [ "$st" -eq 1 ]
        counts "$(cat err)"
        [ "$IN" -eq 124 ] && [ "$REJ" -eq 1 ]
        [ "$IN" -eq $((OUT + REJ + FILT)) ]
        # "N examples from M messages; dropped: ..." agrees.
        re='kakao-parse: ([0-9]+) examples from ([0-9]+) messages; dropped: ([0-9]+) system, ([0-9]+) deleted, ([0-9]+) media, ([0-9]+) unanswered, ([0-9]+) without a prompt, ([0-9]+) by length'
        [[ $(cat err) =~ $re ]]
        r=("${BASH_REMATCH[@]}")
        [ "${r[1]}" -eq "$(lines out)" ]
        [ "${r[2]}" -eq "$OUT" ]
        [ "$FILT" -eq $((r[3] + r[4] + r[5] + r[6] + r[7] + r[8])) ]
        [ "${r[3]}" -eq 18 ] && [ "${r[4]}" -eq 3 ]   # 6 system lines and 1 deleted message per export
    done
}

@test "-v: the android_ko.txt pairs account for every message" {
    kp_st -v --emit pairs --me 정민준 --context 2 "$FIX/android_ko.txt"
    [ "$st" -eq 0 ]
    grep -qxF "kakao-parse: 2 examples from 6 messages; dropped: 6 system, 1 deleted, 7 media, 18 unanswered, 3 without a prompt, 0 by length" err
    grep -qxF "kakao-parse: 41 in, 6 out, 0 rejected, 35 filtered" err
}

# ---------------------------------------------------------------- I/O

@test "stdin ('< file' and '-') gives the file's records; -o FILE writes the file" {
    kp --me 정민준 < "$FIX/android_ko.txt" > in1.jsonl
    kp --me 정민준 - < "$FIX/android_ko.txt" > in2.jsonl
    cmp in1.jsonl in2.jsonl
    [ "$(lines in1.jsonl)" -eq 41 ]
    grep -q '"src":{"file":"<stdin>","line":6}' in1.jsonl
    diff -u <(no_src_file "$GOLD/android_ko.messages.jsonl") <(no_src_file in1.jsonl)
    # Without a room name in the header, the chat is "stdin".
    kp < "$FIX/csv_ko.csv" | head -1 | grep -q '^{"chat":"stdin",'
    kp_st -o o.jsonl --me 정민준 "$FIX/android_ko.txt"
    [ "$st" -eq 0 ] && [ ! -s out ] && [ ! -s err ]
    kp --me 정민준 "$FIX/android_ko.txt" | cmp - o.jsonl
    # UTF-16 and CP949 through stdin too.
    kp --me 정민준 < "$FIX/enc_utf16le.txt" | no_src_file > a
    kp --me 정민준 "$FIX/windows_ko.txt" | no_src_file > b
    cmp a b
}

@test "a closed pipe (| head -1): exit 74, reported, and it stops early" {
    args=()
    for i in $(seq 300); do args+=("$FIX/android_ko.txt"); done
    run timeout 60 bash -c '"$0" "$@" | head -1 > /dev/null; echo "status ${PIPESTATUS[0]}"' "$SFT_BIN/kakao-parse" "${args[@]}"
    echo "$output"
    [[ $output == *"kakao-parse: <stdout>: write error: Broken pipe"* ]]
    [[ $output == *"status 74" ]]
}

@test "a full disk (/dev/full): exit 74 with the reason" {
    kp_st -o /dev/full "$FIX/android_ko.txt"
    [ "$st" -eq 74 ]
    [ "$(cat err)" = "kakao-parse: /dev/full: write error: No space left on device" ]
    run bash -c "'$SFT_BIN/kakao-parse' '$FIX/android_ko.txt' > /dev/full"
    [ "$status" -eq 74 ]
    [ "$output" = "kakao-parse: <stdout>: write error: No space left on device" ]
    run bash -c "'$SFT_BIN/kakao-parse' --emit pairs --me 정민준 '$FIX/android_ko.txt' > /dev/full"
    [ "$status" -eq 74 ]
}

# ---------------------------------------------------------------- options

@test "--tz changes only the offset in ts; --chat overrides the chat everywhere" {
    kp "$FIX/ios_en.txt" > def
    kp --tz -05:30 "$FIX/ios_en.txt" > west
    [ "$(grep -c '"ts":"2024-03-0[1-3]T[0-9:]*-05:30"' west)" -eq 41 ]
    diff -u def <(sed 's/-05:30"/+09:00"/' west)
    kp --tz Z "$FIX/ios_en.txt" | head -1 | grep -q '"ts":"2024-03-01T14:36:00+00:00"'
    kp --tz +00:00 "$FIX/ios_en.txt" | head -1 | grep -q '"ts":"2024-03-01T14:36:00+00:00"'
    kp --emit pairs --me 정민준 --tz +01:00 "$FIX/android_ko.txt" | head -1 |
        grep -qF '"start":"2024-03-01T14:37:00+01:00","end":"2024-03-01T14:41:00+01:00"'
    kp --chat '방 "X"' "$FIX/ios_en.txt" > chat
    [ "$(grep -cF '"chat":"방 \"X\""' chat)" -eq 41 ]
    diff -u def <(sed 's/"chat":"방 \\"X\\""/"chat":"주말 등산 모임"/' chat)
    kp --emit pairs --me 정민준 --chat X "$FIX/android_ko.txt" | head -1 |
        grep -qF '{"id":"X#5","messages":'
    kp --emit pairs --me 정민준 --chat X "$FIX/android_ko.txt" | head -1 |
        grep -qF '"meta":{"chat":"X","conversation":"X#2",'
}

@test "chat names: the room in the header, else the file name without extension" {
    for f in android_ko.txt windows_en.txt ios_en.txt ios_timeonly.txt enc_utf16be.txt; do
        [ "$(kp "$FIX/$f" | grep -c '"chat":"주말 등산 모임"')" -eq 41 ]
    done
    # ios_ko.txt and ios_en_24h.txt only carry a file name; CSV has no title.
    for f in ios_ko.txt ios_en_24h.txt csv_en.csv fragment_android.txt; do
        kp "$FIX/$f" | head -1 | grep -q "^{\"chat\":\"${f%.*}\","
    done
}

@test "the owner: labels (회원님, You, you) become the first --me; system actors are kept" {
    kp "$FIX/android_ko.txt" "$FIX/ios_en.txt" "$FIX/android_en_old.txt" > raw
    [ "$(grep -c '"speaker":"회원님"' raw) $(grep -c '"speaker":"You"' raw) $(grep -c '"speaker":"you"' raw)" = "7 7 7" ]
    kp --me 정민준 --me 민준 "$FIX/android_ko.txt" "$FIX/ios_en.txt" "$FIX/android_en_old.txt" "$FIX/windows_ko.txt" > named
    [ "$(grep -c '"speaker":"정민준"' named)" -eq 28 ]
    ! grep -qE '"speaker":"(회원님|You|you|민준)"' named
    # The first --me is written for the others.
    kp --me 민준 --me 정민준 "$FIX/windows_ko.txt" | grep -c '"speaker":"민준"' | grep -qx 7
    # CSV system lines keep their actor (#28: 정민준 invited 오세훈).
    kp --me 정민준 "$FIX/csv_ko.csv" | grep -qF '"speaker":"정민준","text":"정민준 invited 오세훈.","kind":"system"'
    # An owner who never speaks: a warning.
    kp_st --me 홍길동 "$FIX/windows_ko.txt"
    [ "$st" -eq 0 ]
    [ "$(cat err)" = "kakao-parse: $FIX/windows_ko.txt: warning: no message from 홍길동 (--me) or its aliases" ]
}

@test "--context keeps earlier turns, starting with a user turn; --min/--max-chars bound the text" {
    # ios_en.txt --keep-media, first session: user(#3-#5), me(#6), user(#7-#9), me(#10), user(#11).
    kp --emit pairs --me 정민준 --keep-media --context 2 "$FIX/ios_en.txt" | sed -n 2p > c2
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(m["role"] for m in r["messages"]))' c2 > roles
    [ "$(cat roles)" = "user assistant user assistant" ]
    # One turn of history would start with an assistant turn: none is kept.
    kp --emit pairs --me 정민준 --keep-media --context 1 "$FIX/ios_en.txt" | sed -n 2p > c1
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(m["role"] for m in r["messages"]))' c1 > roles
    [ "$(cat roles)" = "user assistant" ]
    # Pairs: the reply's length. Replies: #6 has 23 characters, #27 has 24.
    [ "$(kp --emit pairs --me 정민준 --min-chars 24 "$FIX/android_ko.txt" | grep -c '"id":"주말 등산 모임#26"')" -eq 1 ]
    [ "$(kp --emit pairs --me 정민준 --min-chars 24 "$FIX/android_ko.txt" | wc -l)" -eq 1 ]
    [ "$(kp --emit pairs --me 정민준 --max-chars 23 "$FIX/android_ko.txt" | grep -c '"id":"주말 등산 모임#5"')" -eq 1 ]
    [ "$(kp --emit pairs --me 정민준 --max-chars 23 "$FIX/android_ko.txt" | wc -l)" -eq 1 ]
    # Conversations: all turns. The #25-#27 one has 13 + 24 = 37 characters.
    [ "$(kp --emit conversations --me 정민준 --min-chars 37 "$FIX/windows_ko.txt" | wc -l)" -eq 2 ]
    kp_st -v --emit conversations --me 정민준 --min-chars 38 "$FIX/windows_ko.txt"
    [ "$(lines out)" -eq 1 ]
    grep -q '"id":"주말 등산 모임#2"' out
    grep -qF ', 2 by length' err
}

@test "--gap: a longer silence splits conversations" {
    # One session for the whole chat: only the leading and trailing turns drop.
    kp --emit conversations --me 정민준 --gap 2d "$FIX/csv_ko.csv" > one
    [ "$(lines one)" -eq 1 ]
    grep -q '"meta":{"chat":"csv_ko","conversation":"csv_ko#2","start":"2024-03-01T14:37:50+09:00","end":"2024-03-03T20:50:23+09:00"}' one
    # 1h (the default) and 3600 seconds are the same; 1h30m and 90m too.
    kp --emit conversations --me 정민준 "$FIX/csv_ko.csv" > a
    kp --emit conversations --me 정민준 --gap 3600 "$FIX/csv_ko.csv" | cmp - a
    kp --emit conversations --me 정민준 --gap 1h30m "$FIX/csv_ko.csv" > b
    kp --emit conversations --me 정민준 --gap 90m "$FIX/csv_ko.csv" | cmp - b
}

# ---------------------------------------------------------------- line ends, BOM, multi-line

@test "CRLF vs LF and a UTF-8 BOM vs none give the same records" {
    # The fixtures: android_ko.txt with a BOM, and with LF only.
    no_src_file "$GOLD/android_ko.messages.jsonl" > want
    diff -u want <(kp --me 정민준 "$FIX/enc_lf.txt" | no_src_file)
    diff -u want <(kp --me 정민준 "$FIX/enc_utf8_bom.txt" | no_src_file)
    # Made here: every family as LF, as CRLF, with and without a BOM; the
    # file keeps its name (the chat of a CSV file is its name).
    mkdir lf crlf bom bomcrlf
    for f in windows_ko.txt csv_ko.csv ios_ko.txt ios_en.txt android_en_old.txt ios_timeonly.txt; do
        "$PY" - "$FIX/$f" "$f" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
d = d[3:] if d.startswith(b"\xef\xbb\xbf") else d
lf = d.replace(b"\r\n", b"\n")
crlf = lf.replace(b"\n", b"\r\n")
for sub, data in (("lf", lf), ("crlf", crlf), ("bom", b"\xef\xbb\xbf" + lf), ("bomcrlf", b"\xef\xbb\xbf" + crlf)):
    open("%s/%s" % (sub, sys.argv[2]), "wb").write(data)
EOF
        kp --me 정민준 "$FIX/$f" | no_src_file > want
        [ "$(lines want)" -eq 41 ]
        for v in lf crlf bom bomcrlf; do
            kp_st --me 정민준 "$v/$f"
            [ "$st" -eq 0 ] && [ ! -s err ]
            diff -u want <(no_src_file out)
        done
    done
    # The output is LF-only.
    ! grep -q $'\r' out
}

@test "a multi-line message keeps its inner blank line but not trailing blank lines" {
    grep -qF '"text":"준비물 알려드릴게요\n\n물, 간식, 우비 챙기세요"' "$GOLD/android_ko.messages.jsonl"
    for f in windows_en.txt csv_en.csv android_dayfirst.txt ios_ko.txt enc_utf16be.txt; do
        kp "$FIX/$f" | grep -qF '"text":"준비물 알려드릴게요\n\n물, 간식, 우비 챙기세요"'
    done
    printf '2024년 3월 1일 오후 2:45, 김하늘 : 하나\n\n둘\n\n\r\n\r\n2024년 3월 1일 오후 2:46, 이도윤 : 셋\r\n\r\n\r\n' > a.txt
    printf '[김하늘] [오후 2:45] 하나\n\n둘\r\n\r\n\r\n[이도윤] [오후 2:46] 셋\r\n\r\n' > w.txt
    printf 'Date,User,Message\n2024-03-01 14:45:00,"김하늘","하나\n\n둘\n\n"\n2024-03-01 14:46:00,"이도윤","셋"\n\n\n' > c.csv
    for f in a.txt w.txt c.csv; do
        kp_st --date 2024-03-01 "$f"
        echo "$f: $st $(cat err)"
        [ "$st" -eq 0 ]
        [ "$(lines out)" -eq 2 ]
        sed -n 1p out | grep -qF '"ts":"2024-03-01T14:45:00+09:00","speaker":"김하늘","text":"하나\n\n둘","kind":"text"'
        sed -n 2p out | grep -qF '"speaker":"이도윤","text":"셋","kind":"text"'
    done
}

# ---------------------------------------------------------------- --format, --encoding

@test "--format forcing the right format gives the detected records" {
    for p in windows:windows_ko.txt windows:enc_utf16le.txt csv:csv_broken.csv android:android_en_old.txt \
             android:enc_lf.txt ios:ios_timeonly.txt ios:ios_en_24h.txt; do
        kp --me 정민준 "$FIX/${p#*:}" > auto 2> /dev/null
        kp --me 정민준 -f "${p%%:*}" "$FIX/${p#*:}" 2> /dev/null | cmp - auto
    done
}

@test "--format forcing a file into a wrong format exits 65" {
    bad=0
    for p in csv:windows_ko.txt android:windows_ko.txt ios:windows_ko.txt \
             windows:csv_ko.csv android:csv_ko.csv ios:csv_ko.csv \
             windows:android_ko.txt csv:android_ko.txt windows:ios_en.txt csv:ios_en.txt; do
        kp_st -f "${p%%:*}" "$FIX/${p#*:}"
        echo "-f ${p%%:*} ${p#*:}: status $st, $(lines out) records, stderr: $(head -c 300 err)"
        if [ "$st" -ne 65 ] || [ -s out ] || ! grep -q "^kakao-parse: $FIX/${p#*:}" err; then
            bad=$((bad + 1))
        fi
    done
    [ "$bad" -eq 0 ]
}

@test "--encoding: forcing the right one reads the same; CP949 is detected" {
    kp --me 정민준 "$FIX/enc_cp949.txt" > auto
    kp --me 정민준 --encoding cp949 "$FIX/enc_cp949.txt" | cmp - auto
    kp --me 정민준 --encoding utf-16le "$FIX/enc_utf16le.txt" | no_src_file > le
    kp --me 정민준 --encoding utf-16be "$FIX/enc_utf16be.txt" | no_src_file > be
    diff -u <(no_src_file "$GOLD/windows_ko.messages.jsonl") le
    diff -u <(no_src_file "$GOLD/android_ko.messages.jsonl") be
    kp --me 정민준 --encoding utf-8 "$FIX/enc_utf8_bom.txt" | no_src_file |
        diff -u <(no_src_file "$GOLD/android_ko.messages.jsonl") -
}
