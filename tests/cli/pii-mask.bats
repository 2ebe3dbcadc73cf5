#!/usr/bin/env bats
# pii-mask: the CLI contract as a user meets it (tests/pii/SPEC.md and
# man/man1/pii-mask.1): what each detector masks and leaves, that records
# are otherwise copied byte for byte, field selection, names and speakers,
# pseudonyms, the report, and errors and exit statuses.

load helpers

PY=/usr/bin/python3

pm() { "$SFT_BIN/pii-mask" "$@"; }

# pm_st ARG...: runs pii-mask with stdout in out, stderr in err, and its
# exit status in $st (a failing status does not end the test).
pm_st() {
    st=0
    "$SFT_BIN/pii-mask" "$@" > out 2> err || st=$?
}

# text_records: each line of stdin as the "text" of one record (the lines
# hold no quotes or backslashes).
text_records() {
    while IFS= read -r l; do printf '{"text":"%s"}\n' "$l"; done
}

# counts TEXT: sets IN OUT REJ FILT from the "N in, M out, R rejected, F filtered" line.
counts() {
    local re='pii-mask: ([0-9]+) in, ([0-9]+) out, ([0-9]+) rejected, ([0-9]+) filtered'
    [[ $1 =~ $re ]] || { echo "no counts line in: $1"; return 1; }
    IN=${BASH_REMATCH[1]} OUT=${BASH_REMATCH[2]} REJ=${BASH_REMATCH[3]} FILT=${BASH_REMATCH[4]}
    echo "in $IN, out $OUT, rejected $REJ, filtered $FILT"
}

# hmac6 KEY TYPE VALUE: the pseudonym's 6 hex digits by the definition in
# lib/pii/pii.h: HMAC-SHA256(key, type "\0" normalised value).
hmac6() {
    "$PY" -c 'import hmac, hashlib, sys
k, t, v = (a.encode() for a in sys.argv[1:])
print(hmac.new(k, t + b"\0" + v, hashlib.sha256).hexdigest()[:6])' "$@"
}

# ---------------------------------------------------------------- detectors

@test "every default type is masked in a sentence, the particle glued to it kept" {
    # input TAB expected
    cat > cases.tsv <<'EOF'
주민번호는 900101-1234568이에요	주민번호는 [RRN]이에요
주민번호 9001011234568을 불러	주민번호 [RRN]을 불러
외국인등록번호 900101-5234567로 신청	외국인등록번호 [FRN]로 신청
전화 010-1234-5678로 주세요	전화 [PHONE]로 주세요
번호는 01012345678이고	번호는 [PHONE]이고
사무실 02-123-4567번으로	사무실 [PHONE]번으로
해외에선 +82 10-1234-5678로 걸어	해외에선 [PHONE]로 걸어
대표번호 1588-1234로 문의	대표번호 [PHONE]로 문의
메일 hong.gildong@example.com으로 보내요	메일 [EMAIL]으로 보내요
서버 192.168.0.12에서 확인	서버 [IP]에서 확인
주소 2001:db8::1에 붙어	주소 [IP]에 붙어
카드 4111-1111-1111-1111로 결제	카드 [CARD]로 결제
번호 4111111111111111입니다	번호 [CARD]입니다
사업자등록번호 123-45-67891이고	사업자등록번호 [BRN]이고
여권번호 M12345678이고 새 여권은 M123A4567이에요	여권번호 [PASSPORT]이고 새 여권은 [PASSPORT]이에요
면허 11-12-345678-90이요	면허 [DRIVER]이요
국민 123456-01-234567로 입금해	국민 [ACCOUNT]로 입금해
계좌 110-123-456789로 보내	계좌 [ACCOUNT]로 보내
서울특별시 강남구 테헤란로 152에 살아요	[ADDRESS]에 살아요
대구 수성구 범어동 산 12에서 봐	[ADDRESS]에서 봐
EOF
    cut -f1 cases.tsv | text_records > in.jsonl
    cut -f2 cases.tsv | text_records > want.jsonl
    pm_st in.jsonl
    [ "$st" -eq 0 ] && [ ! -s err ]
    diff -u want.jsonl out
}

@test "times, dates, prices, versions and order numbers are left byte for byte" {
    cat <<'EOF' | text_records > in.jsonl
회의는 10:30에 시작하고 14:00~15:30까지 해요
2024-03-01에 만나요, 2024.03.01. 또는 2024년 3월 1일
가격은 12,000원이고 할인가 1,234,000원
버전 1.2.3이랑 v2.10.1, 버전 10.0.0.1 설치
주문번호 2024030112345678 배송 중이에요
운송장 123456789012로 조회
010-1234-56789는 한 자리가 많아요
주민번호 901301-1234567은 13월이라 아님, 900230-1234561은 2월 30일
바코드 8801234567893, 송장번호 01012345678, 쿠폰 4111-1111-1111-1111
회의실 12동 507호, 0201234567, 15881234
카드 4111-1111-1111-1112는 체크섬이 틀림
1588-1234원, 1500-1600년, 1500-1600~1700
그냥 110-123-456789라는 숫자
테헤란로 152는 도로명만 있어요
운동 3번, 친구 집 2층, 사진 3장, 100명
값은 3.14159이고 1.0e5, 2^10
EOF
    pm_st in.jsonl
    [ "$st" -eq 0 ]
    cmp in.jsonl out
    pm_st --types all in.jsonl
    [ "$st" -eq 0 ]
    cmp in.jsonl out
}

@test "records are otherwise byte-identical: numbers, key order, spacing, escapes" {
    cat > in.jsonl <<'EOF'
{"z":1.0e5,"a":[1,2.50,-0.0,true,null],"text":"caf\u00e9\n\t\"q\"","b":{"y":"\ud83d\ude00 \/ x","x":1E-7}}
{ "text" : "그냥 문장" ,  "n":  10 }
{"text":"전화 010-1234-5678","other":"caf\u00e9\n","n":1.0e5,"k":{"d":"\u0041","c":[ 1 , 2 ]}}
EOF
    pm_st in.jsonl
    [ "$st" -eq 0 ]
    # the first two records have nothing to mask: exactly as read
    head -2 in.jsonl | cmp - <(head -2 out)
    [ "$(sed -n 3p out)" = '{"text":"전화 [PHONE]","other":"caf\u00e9\n","n":1.0e5,"k":{"d":"\u0041","c":[ 1 , 2 ]}}' ]
}

@test "a masked string with escapes comes out as valid JSON with the right text" {
    printf '%s\n' '{"text":"caf\u00e9 \"quoted\" \\ 010-1234-5678\n\t끝 \ud83d\ude00","n":2}' > in.jsonl
    pm_st in.jsonl
    [ "$st" -eq 0 ]
    "$PY" - in.jsonl out <<'EOF'
import json, sys
src = json.loads(open(sys.argv[1], encoding="utf-8").read())
got = json.loads(open(sys.argv[2], encoding="utf-8").read())
want = src["text"].replace("010-1234-5678", "[PHONE]")
assert got["text"] == want, (got["text"], want)
assert got["n"] == 2 and list(got) == ["text", "n"], got
EOF
}

# ---------------------------------------------------------------- which strings

@test "--field text, messages[].content and messages[N].content select the strings" {
    rec='{"text":"010-1234-5678","note":"010-1234-5678","messages":[{"role":"user","content":"010-1234-5678"},{"role":"assistant","content":"010-1234-5678"}],"meta":{"tel":"010-1234-5678"}}'
    echo "$rec" > in.jsonl
    [ "$(pm -f text in.jsonl)" = '{"text":"[PHONE]","note":"010-1234-5678","messages":[{"role":"user","content":"010-1234-5678"},{"role":"assistant","content":"010-1234-5678"}],"meta":{"tel":"010-1234-5678"}}' ]
    [ "$(pm --field 'messages[].content' in.jsonl)" = '{"text":"010-1234-5678","note":"010-1234-5678","messages":[{"role":"user","content":"[PHONE]"},{"role":"assistant","content":"[PHONE]"}],"meta":{"tel":"010-1234-5678"}}' ]
    [ "$(pm -f 'messages[1].content' in.jsonl)" = '{"text":"010-1234-5678","note":"010-1234-5678","messages":[{"role":"user","content":"010-1234-5678"},{"role":"assistant","content":"[PHONE]"}],"meta":{"tel":"010-1234-5678"}}' ]
    # repeatable; a path naming an object masks the strings inside it
    [ "$(pm -f text -f meta in.jsonl)" = '{"text":"[PHONE]","note":"010-1234-5678","messages":[{"role":"user","content":"010-1234-5678"},{"role":"assistant","content":"010-1234-5678"}],"meta":{"tel":"[PHONE]"}}' ]
    for bad in 'messages[' 'a..b' 'x[1' '[]]'; do
        pm_st -f "$bad" in.jsonl
        echo "--field '$bad' -> $st: $(cat err)"
        [ "$st" -eq 2 ] && [ ! -s out ]
        grep -qF "pii-mask: invalid field path '$bad' for --field" err
    done
}

@test "default skipped keys (id, src, ts, role…) stay at any depth; --skip-key adds one" {
    v=010-1234-5678
    rec="{\"id\":\"$v\",\"ts\":\"$v\",\"src\":{\"file\":\"$v\",\"line\":1},\"kind\":\"$v\",\"lang\":\"$v\",\"model\":\"$v\",\"source_id\":\"$v\",\"path\":\"$v\",\"video\":\"$v\",\"start\":\"$v\",\"end\":\"$v\",\"type\":\"$v\",\"meta\":{\"conversation\":\"$v\",\"id\":\"$v\",\"note\":\"$v\"},\"messages\":[{\"role\":\"$v\",\"content\":\"$v\"}],\"note\":\"$v\"}"
    echo "$rec" > in.jsonl
    want=${rec//\"note\":\"$v\"/\"note\":\"[PHONE]\"}
    want=${want//\"content\":\"$v\"/\"content\":\"[PHONE]\"}
    [ "$(pm in.jsonl)" = "$want" ]
    want2=${rec//\"content\":\"$v\"/\"content\":\"[PHONE]\"}
    [ "$(pm --skip-key note in.jsonl)" = "$want2" ]
    # object keys are never changed
    echo '{"010-1234-5678":"x"}' > k.jsonl
    pm k.jsonl | cmp - k.jsonl
}

# ---------------------------------------------------------------- --types

@test "--types: +url, -address, a plain list, all; unknown or empty lists exit 2" {
    echo '{"text":"010-1234-5678 a@b.com http://x.com/p 서울 강남구 테헤란로 152"}' > in.jsonl
    [ "$(pm in.jsonl)" = '{"text":"[PHONE] [EMAIL] http://x.com/p [ADDRESS]"}' ]
    [ "$(pm -t +url in.jsonl)" = '{"text":"[PHONE] [EMAIL] [URL] [ADDRESS]"}' ]
    [ "$(pm --types -address in.jsonl)" = '{"text":"[PHONE] [EMAIL] http://x.com/p 서울 강남구 테헤란로 152"}' ]
    [ "$(pm --types +url,-address in.jsonl)" = '{"text":"[PHONE] [EMAIL] [URL] 서울 강남구 테헤란로 152"}' ]
    [ "$(pm --types phone,email in.jsonl)" = '{"text":"[PHONE] [EMAIL] http://x.com/p 서울 강남구 테헤란로 152"}' ]
    [ "$(pm --types all in.jsonl)" = '{"text":"[PHONE] [EMAIL] [URL] [ADDRESS]"}' ]
    [ "$(pm --types default in.jsonl)" = "$(pm in.jsonl)" ]
    for bad in bogus +bogus phone,bogus '' -default; do
        pm_st --types "$bad" in.jsonl
        echo "--types '$bad' -> $st: $(cat err)"
        [ "$st" -eq 2 ] && [ ! -s out ]
        [[ "$(head -1 err)" == "pii-mask: invalid value '$bad' for --types"* ]]
    done
}

@test "opt-in detectors: spoken digits and guessed names only when asked" {
    printf '%s\n' '{"text":"제 번호는 공일공에 일이삼사에 오육칠팔이에요"}' '{"text":"김민수 씨가 왔어요. 이번주 팀장님 회의"}' > in.jsonl
    pm in.jsonl | cmp - in.jsonl
    [ "$(pm -t +spoken in.jsonl | head -1)" = '{"text":"제 번호는 [PHONE]이에요"}' ]
    [ "$(pm -t +name-guess in.jsonl | tail -1)" = '{"text":"[NAME] 씨가 왔어요. 이번주 팀장님 회의"}' ]
}

# ---------------------------------------------------------------- names

@test "--names FILE: comments skipped, given names and particles, Latin whole words" {
    printf '# the team\n\n홍길동\nAnn\n남궁민수\n' > names.txt
    printf '%s\n' '{"text":"홍길동씨와 길동이가 만났고 길동아 불렀어"}' \
        '{"text":"Ann, ann and ANN met Annie and Joanne"}' \
        '{"text":"남궁민수 그리고 민수야"}' '{"text":"# the team 아무도 없음"}' > in.jsonl
    pm_st --names names.txt in.jsonl
    [ "$st" -eq 0 ]
    [ "$(sed -n 1p out)" = '{"text":"[NAME]씨와 [NAME]이가 만났고 [NAME]아 불렀어"}' ]
    [ "$(sed -n 2p out)" = '{"text":"[NAME], [NAME] and [NAME] met Annie and Joanne"}' ]
    [ "$(sed -n 3p out)" = '{"text":"[NAME] 그리고 [NAME]야"}' ]
    [ "$(sed -n 4p out)" = '{"text":"# the team 아무도 없음"}' ]
    # without --names none of them is known
    pm --speakers off in.jsonl | cmp - in.jsonl
    pm_st --names nope.txt in.jsonl
    [ "$st" -eq 66 ] && [ "$(cat err)" = "pii-mask: nope.txt: cannot open: No such file or directory" ]
    pm_st --names names.txt --types -name in.jsonl
    [ "$st" -eq 2 ] && [ "$(head -1 err)" = "pii-mask: --names or --speakers-from given but the name type is off" ]
    printf 'ok\n\xff\n' > bad.txt
    pm_st --names bad.txt in.jsonl
    [ "$st" -eq 65 ] && [ "$(cat err)" = "pii-mask: bad.txt:2: not valid UTF-8" ]
}

# A chat in which 이도윤 is mentioned (by full and given name) before their
# first message, and 김하늘 after theirs.
chat() {
    cat <<'EOF'
{"chat":"방","i":0,"speaker":"김하늘","text":"도윤아 이도윤 왔어?"}
{"chat":"방","i":1,"speaker":"이도윤","text":"응 하늘아 나 왔어"}
{"chat":"방","i":2,"speaker":"회원님","text":"회원님도 왔어요, 하늘씨"}
EOF
}

@test "speakers (prescan, the default): a name is masked before its owner's first message, from a file and from stdin" {
    chat > chat.jsonl
    cat > want <<'EOF'
{"chat":"방","i":0,"speaker":"[NAME]","text":"[NAME]아 [NAME] 왔어?"}
{"chat":"방","i":1,"speaker":"[NAME]","text":"응 [NAME]아 나 왔어"}
{"chat":"방","i":2,"speaker":"회원님","text":"회원님도 왔어요, [NAME]씨"}
EOF
    pm chat.jsonl | diff -u want -
    pm < chat.jsonl | diff -u want -
    pm --speakers prescan - < chat.jsonl | diff -u want -
    # through a pipe, too (spilled to $TMPDIR)
    chat | pm | diff -u want -
    mkdir tmp
    chat | TMPDIR=$T/tmp pm | diff -u want -
    [ -z "$(ls tmp)" ]
}

@test "--speakers stream learns a speaker at their first record; off ignores speakers" {
    chat > chat.jsonl
    cat > want <<'EOF'
{"chat":"방","i":0,"speaker":"[NAME]","text":"도윤아 이도윤 왔어?"}
{"chat":"방","i":1,"speaker":"[NAME]","text":"응 [NAME]아 나 왔어"}
{"chat":"방","i":2,"speaker":"회원님","text":"회원님도 왔어요, [NAME]씨"}
EOF
    pm --speakers stream chat.jsonl | diff -u want -
    chat | pm --speakers stream | diff -u want -
    pm --speakers off chat.jsonl | cmp - chat.jsonl
    # stream never needs a temporary file
    chat | TMPDIR=/nonexistent pm --speakers stream | diff -u want -
    pm_st --speakers sometimes chat.jsonl
    [ "$st" -eq 2 ]
}

@test "회원님 and other aliases are not names, as speakers or in text" {
    printf '%s\n' '{"speaker":"회원님","text":"회원님 안녕하세요"}' '{"speaker":"나","text":"나는 나야"}' \
        '{"speaker":"you","text":"thank you"}' '{"speaker":"엄마","text":"엄마 사랑해"}' > in.jsonl
    pm_st --report r.json in.jsonl
    [ "$st" -eq 0 ]
    cmp in.jsonl out
    [ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["types"]["name"])' r.json)" = 0 ]
}

@test "a speaker label with a title masks the name only, and its given name" {
    echo '{"speaker":"서우석 멘토님","text":"우석이 멘토님 서우석 님"}' > in.jsonl
    [ "$(pm in.jsonl)" = '{"speaker":"[NAME] 멘토님","text":"[NAME]이 멘토님 [NAME] 님"}' ]
}

@test "people named by system messages are learnt like speakers (the owner of an Android export)" {
    cat > in.jsonl <<'EOF'
{"speaker":"","text":"김하늘님이 정민준님과 박서연님을 초대했습니다.","kind":"system"}
{"speaker":"김하늘","text":"민준아 서연아 안녕","kind":"text"}
{"speaker":"","text":"Jay Park joined this chatroom.","kind":"system"}
{"speaker":"회원님","text":"jay park 하이, 정민준 왔어","kind":"text"}
EOF
    cat > want <<'EOF'
{"speaker":"","text":"[NAME]님이 [NAME]님과 [NAME]님을 초대했습니다.","kind":"system"}
{"speaker":"[NAME]","text":"[NAME]아 [NAME]아 안녕","kind":"text"}
{"speaker":"","text":"[NAME] joined this chatroom.","kind":"system"}
{"speaker":"회원님","text":"[NAME] 하이, [NAME] 왔어","kind":"text"}
EOF
    pm in.jsonl | diff -u want -
    # only system records name people: the same texts as messages name nobody
    sed -e 's/"kind":"system"/"kind":"text"/' -e 's/"speaker":"김하늘"/"speaker":""/' in.jsonl > plain.jsonl
    pm plain.jsonl | cmp - plain.jsonl
}

@test "--speakers-from FILE: names from chat messages mask SFT examples; FILE is only read" {
    cat > messages.jsonl <<'EOF'
{"chat":"방","i":0,"speaker":"","text":"김하늘님이 정민준님과 박서연님을 초대했습니다.","kind":"system"}
{"chat":"방","i":1,"speaker":"김하늘","text":"안녕","kind":"text"}
{bad line
{"chat":"방","i":2,"speaker":"이도윤","text":"응","kind":"text"}
EOF
    cp messages.jsonl orig
    echo '{"id":"방#1","messages":[{"role":"user","content":"김하늘: 민준아 뭐해\n이도윤: ㅋㅋ 서연이는?"},{"role":"assistant","content":"하늘아 도윤아 나 여기"}]}' > sft.jsonl
    # without it, SFT examples have no speakers: nothing is known
    pm sft.jsonl | cmp - sft.jsonl
    pm_st --speakers-from messages.jsonl sft.jsonl
    # the bad line is reported (it may have held a name), the run goes on
    [ "$st" -eq 0 ] && [ "$(cat err)" = "pii-mask: messages.jsonl:3:2: warning: invalid JSON: expected a string key (no names learnt from this line)" ]
    [ "$(cat out)" = '{"id":"방#1","messages":[{"role":"user","content":"[NAME]: [NAME]아 뭐해\n[NAME]: ㅋㅋ [NAME]이는?"},{"role":"assistant","content":"[NAME]아 [NAME]아 나 여기"}]}' ]
    cmp messages.jsonl orig
    pm_st --speakers-from nope.jsonl sft.jsonl
    [ "$st" -eq 66 ] && [ ! -s out ]
}

# ---------------------------------------------------------------- pseudonyms

@test "--style pseudo: one value, one pseudonym, across runs and formats; HMAC-SHA256 as documented" {
    cat <<'EOF' | text_records > in.jsonl
010-1234-5678로 연락
01012345678 맞아요
+82 10-1234-5678 해외
010 1234 5678 띄어쓰기
010-9999-8888 다른 번호
EOF
    PII_MASK_KEY=k1 pm -s pseudo in.jsonl > a
    PII_MASK_KEY=k1 pm --style pseudo < in.jsonl > b
    cmp a b
    p=$(hmac6 k1 phone 01012345678)
    q=$(hmac6 k1 phone 01099998888)
    [ "$p" != "$q" ]
    cat > want <<EOF
{"text":"[PHONE_$p]로 연락"}
{"text":"[PHONE_$p] 맞아요"}
{"text":"[PHONE_$p] 해외"}
{"text":"[PHONE_$p] 띄어쓰기"}
{"text":"[PHONE_$q] 다른 번호"}
EOF
    diff -u want a
    # e-mail is compared in lower case
    echo '{"text":"Kim@Example.com kim@example.com"}' > e.jsonl
    e=$(hmac6 k1 email kim@example.com)
    [ "$(PII_MASK_KEY=k1 pm -s pseudo e.jsonl)" = "{\"text\":\"[EMAIL_$e] [EMAIL_$e]\"}" ]
}

@test "--style pseudo: another key, other pseudonyms; a given name gets its full name's" {
    echo '{"text":"010-1234-5678"}' > in.jsonl
    a=$(PII_MASK_KEY=k1 pm -s pseudo in.jsonl)
    b=$(PII_MASK_KEY=k2 pm -s pseudo in.jsonl)
    [[ $a =~ ^\{\"text\":\"\[PHONE_[0-9a-f]{6}\]\"\}$ ]] && [[ $b =~ ^\{\"text\":\"\[PHONE_[0-9a-f]{6}\]\"\}$ ]]
    [ "$a" != "$b" ]
    printf '홍길동\n' > names.txt
    echo '{"text":"홍길동 그리고 길동이"}' > n.jsonl
    h=$(hmac6 k1 name 홍길동)
    [ "$(PII_MASK_KEY=k1 pm -s pseudo --names names.txt n.jsonl)" = "{\"text\":\"[NAME_$h] 그리고 [NAME_$h]이\"}" ]
}

@test "--style pseudo needs a key: exit 2 without one; --key-file works like PII_MASK_KEY" {
    echo '{"text":"010-1234-5678"}' > in.jsonl
    st=0; env -u PII_MASK_KEY "$SFT_BIN/pii-mask" -s pseudo in.jsonl > out 2> err || st=$?
    [ "$st" -eq 2 ] && [ ! -s out ]
    [ "$(head -1 err)" = "pii-mask: --style pseudo needs a secret key: --key-file FILE or the PII_MASK_KEY environment variable" ]
    st=0; PII_MASK_KEY= "$SFT_BIN/pii-mask" -s pseudo in.jsonl > out 2> err || st=$?
    [ "$st" -eq 2 ]
    printf 'k1\n' > key
    [ "$(env -u PII_MASK_KEY "$SFT_BIN/pii-mask" -s pseudo --key-file key in.jsonl)" = "$(PII_MASK_KEY=k1 pm -s pseudo in.jsonl)" ]
    # the file wins over the environment
    [ "$(PII_MASK_KEY=other pm -s pseudo --key-file key in.jsonl)" = "$(PII_MASK_KEY=k1 pm -s pseudo in.jsonl)" ]
    : > empty
    pm_st -s pseudo --key-file empty in.jsonl
    [ "$st" -eq 2 ] && [ "$(head -1 err)" = "pii-mask: key file 'empty' is empty" ]
    pm_st -s pseudo --key-file nokey in.jsonl
    [ "$st" -eq 66 ]
    pm_st --key-file key in.jsonl
    [ "$st" -eq 2 ] && [ "$(head -1 err)" = "pii-mask: --key-file applies to --style pseudo" ]
    pm_st -s hash in.jsonl
    [ "$st" -eq 2 ]
}

@test "the key never appears in standard output, standard error or the report" {
    key=S3cr3t-Key-0123456789
    printf '%s\n' '{"text":"010-1234-5678 S3cr3t"}' '{"text":' "{\"text\":\"$key\"}" > in.jsonl
    printf '%s\n' "$key" > keyfile
    for how in env file; do
        st=0
        if [ $how = env ]; then
            PII_MASK_KEY=$key "$SFT_BIN/pii-mask" -v -s pseudo --on-error=skip --report r.json --spans --rejects rej in.jsonl > out 2> err || st=$?
        else
            "$SFT_BIN/pii-mask" -v -s pseudo --key-file keyfile --on-error=skip --report r.json --spans --rejects rej in.jsonl > out 2> err || st=$?
        fi
        [ "$st" -eq 1 ]
        # only the record that holds it as text
        [ "$(grep -c "$key" out)" -eq 1 ]
        ! grep -q "$key" err r.json rej rej.why
        ! grep -q S3cr3t err r.json
    done
    PII_MASK_KEY=$key pm -s pseudo --key-file nokey in.jsonl 2> err || true
    ! grep -q "$key" err
}

# ---------------------------------------------------------------- report

@test "--report: valid JSON whose counts add up" {
    printf '%s\n' '{"text":"010-1234-5678, a@b.com","meta":{"note":"010-1234-5678"}}' '{"bad' \
        '{"messages":[{"role":"user","content":"서버 10.0.0.1"},{"role":"assistant","content":"없음"}]}' \
        '{"text":"아무것도 없음","id":"a@b.com"}' > in.jsonl
    pm_st --on-error=skip --report r.json --spans in.jsonl
    [ "$st" -eq 1 ]
    "$PY" - r.json <<'EOF'
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
rec = r["records"]
assert rec == {"in": 4, "out": 3, "rejected": 1, "filtered": 0}, rec
assert rec["in"] == rec["out"] + rec["rejected"] + rec["filtered"]
assert r["strings"] == {"seen": 5, "masked": 3}, r["strings"]   # role and id are skipped
types = r["types"]
default = ["rrn", "frn", "phone", "email", "ip", "card", "brn", "passport", "driver", "account", "address", "name"]
assert sorted(types) == sorted(default), types          # every enabled type, 0 included
assert types["phone"] == 2 and types["email"] == 1 and types["ip"] == 1, types
assert sum(types.values()) == sum(len(s["masks"]) for s in r["spans"]) == 4
fields = r["fields"]
assert fields == {"text": {"phone": 1, "email": 1}, "meta.note": {"phone": 1}, "messages[].content": {"ip": 1}}, fields
for t, n in types.items():
    assert n == sum(f.get(t, 0) for f in fields.values()), t
assert [s["src"]["line"] for s in r["spans"]] == [1, 3], r["spans"]
assert r["spans"][1]["masks"][0]["path"] == "messages[0].content"
EOF
    # without --spans, no spans key; --spans needs --report
    pm --report r2.json in.jsonl --on-error=skip > /dev/null 2>&1 || true
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert "spans" not in r and r["types"]["phone"] == 2' r2.json
    pm_st --spans in.jsonl
    [ "$st" -eq 2 ] && [ "$(head -1 err)" = "pii-mask: --spans needs --report FILE" ]
}

@test "--spans offsets are code points of the decoded string: text[start:end] is the value" {
    printf '%s\n' '{"text":"😀한글 \ud83d\ude00 caf\u00e9 전화 010-1234-5678 메일 a@b.co 끝"}' \
        '{"messages":[{"content":"🎉🎉 없음"},{"content":"이모지🎉 주민번호 900101-1234568, 𝕏 서버 192.168.1.1"}]}' > in.jsonl
    pm_st --report r.json --spans in.jsonl
    [ "$st" -eq 0 ]
    "$PY" - in.jsonl r.json <<'EOF'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
r = json.load(open(sys.argv[2], encoding="utf-8"))
def at(obj, path):
    for key, idx in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        obj = obj[key] if key else obj[int(idx)]
    return obj
got = []
for s in r["spans"]:
    rec = recs[s["src"]["line"] - 1]
    for m in s["masks"]:
        got.append((m["path"], m["type"], at(rec, m["path"])[m["start"]:m["end"]]))
want = [("text", "phone", "010-1234-5678"), ("text", "email", "a@b.co"),
        ("messages[1].content", "rrn", "900101-1234568"), ("messages[1].content", "ip", "192.168.1.1")]
assert got == want, got
EOF
}

@test "--report /dev/stdout: records and the report both arrive through a pipe" {
    printf '{"text":"전화 010-1234-5678로"}\n{"text":"없음"}\n' > in.jsonl
    run bash -c "'$SFT_BIN/pii-mask' --report /dev/stdout in.jsonl | cat"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    printf '%s\n' "$output" | grep -qxF '{"text":"전화 [PHONE]로"}'
    printf '%s\n' "$output" | grep -qxF '{"text":"없음"}'
    printf '%s\n' "$output" | grep '"records"' | "$PY" -c 'import json,sys; r=json.load(sys.stdin); assert r["types"]["phone"] == 1'
}

@test "--report /dev/stdout with standard output a file: records and the report both kept" {
    for i in $(seq 2000); do echo "{\"i\":$i,\"text\":\"전화 010-1234-5678로 주세요\"}"; done > in.jsonl
    st=0; "$SFT_BIN/pii-mask" --report /dev/stdout in.jsonl > all.txt 2> err || st=$?
    [ "$st" -eq 0 ]
    echo "lines: $(lines all.txt), report lines: $(grep -c '"records"' all.txt)"
    [ "$(grep -c '^{"i":' all.txt)" -eq 2000 ]
    [ "$(grep -c '^{"records":{"in":2000,' all.txt)" -eq 1 ]
    [ "$(lines all.txt)" -eq 2001 ]
}

# split_report FILE: checks that FILE holds 2000 intact record lines ({"i":…)
# and, on its other lines, one report with a span for each of them.
split_report() {
    "$PY" - "$1" <<'EOF'
import json, sys
recs, rest = [], []
for line in open(sys.argv[1], encoding="utf-8"):
    (recs if line.startswith('{"i":') else rest).append(line)
for r in recs:
    json.loads(r)
report = json.loads("".join(rest))
print("records", len(recs), "spans", len(report["spans"]))
assert len(recs) == 2000 and len(report["spans"]) == 2000
EOF
}

@test "--report /dev/stdout --spans: the streamed spans and the records do not overwrite or tear each other" {
    # Known bug (reported): the spans are streamed while the records are
    # written; to a file (descriptor 1 at its own offset, the report opened
    # again with O_APPEND) the records overwrite most spans, and through a
    # pipe the two streams are cut into each other mid-line.
    for i in $(seq 2000); do echo "{\"i\":$i,\"text\":\"전화 010-1234-5678로 주세요\"}"; done > in.jsonl
    st=0; "$SFT_BIN/pii-mask" --report /dev/stdout --spans in.jsonl > all.txt 2> err || st=$?
    [ "$st" -eq 0 ]
    split_report all.txt
    "$SFT_BIN/pii-mask" --report /dev/stdout --spans in.jsonl | cat > piped.txt
    split_report piped.txt
}

# ---------------------------------------------------------------- errors and exit statuses

@test "bad JSON: exit 65 with <stdin>:LINE:COL, or the file's name" {
    printf '{"text":"010-1234-5678"}\n{"text":\n{"text":"x"}\n' > in.jsonl
    pm_st < in.jsonl
    [ "$st" -eq 65 ]
    [ "$(cat err)" = "pii-mask: <stdin>:2:9: invalid JSON: unexpected end of text" ]
    pm_st in.jsonl
    [ "$st" -eq 65 ]
    [ "$(cat err)" = "pii-mask: in.jsonl:2:9: invalid JSON: unexpected end of text" ]
    printf '[1]\n' | { pm_st; [ "$st" -eq 65 ]; [ "$(cat err)" = "pii-mask: <stdin>:1:1: not a JSON object" ]; }
    printf '{"t":"ab\xff"}\n' > u.jsonl
    pm_st u.jsonl
    [ "$st" -eq 65 ] && [[ "$(cat err)" == "pii-mask: u.jsonl:1:"*"invalid UTF-8"* ]]
}

@test "--on-error=skip: exit 1, the others written, --rejects keeps the line and the reason" {
    printf '{"text":"010-1234-5678"}\n{"text":\n{"text":"x"}\n' > in.jsonl
    pm_st --on-error=skip --rejects rej.jsonl in.jsonl
    [ "$st" -eq 1 ]
    [ "$(cat out)" = "$(printf '{"text":"[PHONE]"}\n{"text":"x"}')" ]
    [ "$(sed -n 1p err)" = "pii-mask: in.jsonl:2:9: invalid JSON: unexpected end of text (skipped)" ]
    [ "$(sed -n 2p err)" = "pii-mask: 1 record rejected" ]
    [ "$(cat rej.jsonl)" = '{"text":' ]
    [ "$(cat rej.jsonl.why)" = '{"src":"in.jsonl","line":2,"col":9,"reason":"invalid JSON: unexpected end of text"}' ]
}

@test "-v prints the masks and the counts: in = out + rejected + filtered" {
    { printf '{"text":"010-1234-5678 a@b.com"}\n{bad\n'; for i in $(seq 20); do echo "{\"text\":\"줄 $i\"}"; done; } > in.jsonl
    pm_st -v --on-error=skip in.jsonl
    [ "$st" -eq 1 ]
    cat err
    grep -qxF "pii-mask: masked 1 of 21 strings: phone 1, email 1" err
    counts "$(cat err)"
    [ "$IN" -eq 22 ] && [ "$OUT" -eq 21 ] && [ "$REJ" -eq 1 ] && [ "$FILT" -eq 0 ]
    [ "$IN" -eq $((OUT + REJ + FILT)) ]
    [ "$(lines out)" -eq "$OUT" ]
}

@test "-o FILE writes the file, not standard output; a missing input exits 66, a bad output 73" {
    printf '{"text":"010-1234-5678"}\n' > in.jsonl
    pm_st -o masked.jsonl in.jsonl
    [ "$st" -eq 0 ] && [ ! -s out ] && [ ! -s err ]
    [ "$(cat masked.jsonl)" = '{"text":"[PHONE]"}' ]
    [ -z "$(ls | grep tmp)" ]
    pm_st -o m2.jsonl in.jsonl nope.jsonl
    [ "$st" -eq 66 ] && [ ! -e m2.jsonl ]
    [ "$(cat err)" = "pii-mask: nope.jsonl: cannot open: No such file or directory" ]
    pm_st -o no/such/dir/m.jsonl in.jsonl
    [ "$st" -eq 73 ]
    [ "$(cat err)" = "pii-mask: no/such/dir/m.jsonl: cannot create: No such file or directory" ]
}

@test "an output that is also an input is refused (exit 2), the input untouched" {
    printf '{"text":"010-1234-5678"}\n' > in.jsonl
    cp in.jsonl orig
    for args in "-o in.jsonl" "-o ./in.jsonl" "--report in.jsonl" "--on-error=skip --rejects in.jsonl" \
                "-o a.jsonl --report a.jsonl"; do
        pm_st $args in.jsonl
        echo "$args -> $st: $(cat err)"
        [ "$st" -eq 2 ] && [ ! -s out ]
        [[ "$(head -1 err)" == "pii-mask: "*" is also "* ]]
        cmp in.jsonl orig
    done
    ln -s in.jsonl link.jsonl
    pm_st -o link.jsonl in.jsonl
    [ "$st" -eq 2 ]
    cmp in.jsonl orig
}

@test "an output over a --speakers-from, --names or --key-file input is refused (exit 2), that file untouched" {
    # Known bug (reported): check_files() compares the outputs with the
    # record inputs only, so these files are replaced by the output or the
    # report (a lost key can never give the same pseudonyms again).
    printf '{"speaker":"김하늘","text":"안녕"}\n' > messages.jsonl
    printf '홍길동\n' > names.txt
    printf 'k1\n' > key
    cp messages.jsonl m.orig; cp names.txt n.orig; cp key k.orig
    printf '{"text":"010-1234-5678"}\n' > in.jsonl
    for args in "--speakers-from messages.jsonl -o messages.jsonl" "--names names.txt -o names.txt" \
                "--names names.txt --report names.txt" "-s pseudo --key-file key --report key" \
                "-s pseudo --key-file key -o key"; do
        pm_st $args in.jsonl
        echo "$args -> $st: $(cat err)"
        cp m.orig messages.jsonl; cp n.orig names.txt; cp k.orig key
        [ "$st" -eq 2 ]
    done
}

@test "a closed pipe (| head -1): exit 74, reported, and it stops early" {
    for i in $(seq 1000); do echo "{\"i\":$i,\"text\":\"전화 010-1234-5678로 주세요, 메일 a@b.com\"}"; done > part
    for i in $(seq 100); do cat part; done > in.jsonl
    run timeout 60 bash -c '"$0" "$@" | head -1 > /dev/null; echo "status ${PIPESTATUS[0]}"' "$SFT_BIN/pii-mask" in.jsonl
    echo "$output"
    [[ $output == *"pii-mask: <stdout>: write error: Broken pipe"* ]]
    [[ $output == *"status 74" ]]
    run timeout 60 bash -c '"$0" < "$1" | head -1 > /dev/null; echo "status ${PIPESTATUS[0]}"' "$SFT_BIN/pii-mask" in.jsonl
    [[ $output == *"status 74" ]]
}

@test "a full disk (/dev/full): exit 74 with the reason, for stdout, -o and --report" {
    printf '{"text":"010-1234-5678"}\n' > in.jsonl
    run bash -c "'$SFT_BIN/pii-mask' in.jsonl > /dev/full"
    [ "$status" -eq 74 ]
    [ "$output" = "pii-mask: <stdout>: write error: No space left on device" ]
    pm_st -o /dev/full in.jsonl
    [ "$st" -eq 74 ] && [ "$(cat err)" = "pii-mask: /dev/full: write error: No space left on device" ]
    pm_st --report /dev/full in.jsonl
    [ "$st" -eq 74 ] && [ "$(cat err)" = "pii-mask: /dev/full: write error: No space left on device" ]
}

@test "CRLF, a BOM and blank lines are read; empty input gives empty output and 0" {
    printf '\xef\xbb\xbf{"text":"010-1234-5678"}\r\n\r\n  \n{"a":1}\r\n' > in.jsonl
    pm_st in.jsonl
    [ "$st" -eq 0 ]
    [ "$(cat out)" = "$(printf '{"text":"[PHONE]"}\n{"a":1}')" ]
    ! grep -q $'\r' out
    : > empty.jsonl
    pm_st empty.jsonl
    [ "$st" -eq 0 ] && [ ! -s out ]
}

@test "--help and --version go to stdout and exit 0; usage errors exit 2 with a hint" {
    run pm --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "Usage: pii-mask [OPTION]... [FILE]..." ]]
    [[ "$output" == *"--types LIST"* ]]
    run pm --version
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^pii-mask\ \(sftkit\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    run bash -c "'$SFT_BIN/pii-mask' --help > /dev/full"
    [ "$status" -eq 74 ]
    for args in "--bogus" "--style" "--speakers x" "--on-error=ignore" "--max-line 0" "-t"; do
        pm_st $args < /dev/null
        echo "args: $args -> $st: $(cat err)"
        [ "$st" -eq 2 ] && [[ "$(cat err)" == pii-mask:* ]]
    done
}

@test "usage() and man/man1/pii-mask.1 list the same options" {
    pm --help | grep -oE -- '--[a-z][a-z-]+' | sort -u > help.txt
    sed 's/\\-/-/g' "$ROOT/man/man1/pii-mask.1" | awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH / { on = 0 } on' |
        grep -E '^\.(TP|B|BR|BI)|^\\fB' | grep -oE -- '--[a-z][a-z-]+' | sort -u > man.txt
    run diff help.txt man.txt
    echo "$output"
    [ "$status" -eq 0 ]
}
