#!/usr/bin/env bats
# naver-fetch: source records from Naver's Local Search and Directions 5
# APIs, against tests/net/fake_naver.py on 127.0.0.1 (fault switches in the
# --api-base path: /f/SPEC, see that file). The keys must never show up in
# any output, message or rejects file.

load helpers

KEY_ID=fake-client-id-7f3a
KEY_SECRET=fake-client-secret-9b2c

setup_file() {
    local dir=$BATS_FILE_TMPDIR
    /usr/bin/python3 "$ROOT/tests/net/fake_naver.py" --id "$KEY_ID" --secret "$KEY_SECRET" \
        >"$dir/port" 2>"$dir/server.log" 3>&- &
    echo $! >"$dir/server.pid"
    for _ in $(seq 100); do
        [ -s "$dir/port" ] && break
        sleep 0.05
    done
    [ -s "$dir/port" ]
}

teardown_file() {
    local pid
    pid=$(cat "$BATS_FILE_TMPDIR/server.pid" 2>/dev/null) && kill "$pid" 2>/dev/null || true
}

setup() {
    T=$(mktemp -d)
    cd "$T"
    PORT=$(cat "$BATS_FILE_TMPDIR/port")
    BASE=http://127.0.0.1:$PORT
    export NAVER_CLIENT_ID=$KEY_ID NAVER_CLIENT_SECRET=$KEY_SECRET NCP_API_KEY_ID=$KEY_ID NCP_API_KEY=$KEY_SECRET
}

# nf ARG...: stdout in out, stderr in err, exit status in $st.
nf() {
    st=0
    "$SFT_BIN/naver-fetch" "$@" >out 2>err || st=$?
}

py() { /usr/bin/python3 -c "import json, sys
rs = [json.loads(l) for l in sys.stdin]
$1"; }

# no_keys FILE...: neither key appears in any of the files.
no_keys() {
    for f in "$@"; do
        [ -e "$f" ] || continue
        ! grep -qF -e "$KEY_ID" -e "$KEY_SECRET" "$f"
    done
}

@test "local: one record per place with the fields, tags stripped, entities decoded" {
    nf local --api-base "$BASE" --query 강남역
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 3 ]
    run py 'print("|".join(r["title"] for r in rs))' <out
    [ "$output" = "강남역 2호선|스타벅스 강남역점|Tom & Toms 강남역점" ]
    ! grep -q '<b>\|&amp;' out
    run py 'r = rs[1]
print(r["id"].startswith("naver:"), r["category"], r["address"], r["road_address"], r["telephone"], r["query"], r["source"])
print(sorted(r))' <out
    [ "${lines[0]}" = "True 카페,디저트>카페 서울특별시 강남구 역삼동 825 서울특별시 강남구 강남대로 390 02-1522-3232 강남역 naver-local" ]
    [ "${lines[1]}" = "['address', 'category', 'description', 'id', 'lat', 'link', 'lon', 'meta', 'query', 'road_address', 'source', 'telephone', 'title']" ]
    # fetched_at: ISO 8601 with an offset
    run py 'import re
print(all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", r["meta"]["fetched_at"]) for r in rs))' <out
    [ "$output" = True ]
    no_keys out err
}

@test "local: mapx/mapy become lon/lat degrees" {
    nf local --api-base "$BASE" --query 강남역 --display 1
    [ "$st" -eq 0 ]
    run py 'r = rs[0]; print(r["lon"], r["lat"])' <out
    [ "$output" = "127.0276848 37.4979502" ]
}

@test "local: ids are stable, and a place found by two queries is written once" {
    nf local --api-base "$BASE" --query 강남역 --query "강남 카페" -v
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 4 ]
    run py 'print(len({r["id"] for r in rs}), [r["query"] for r in rs])' <out
    [ "$output" = "4 ['강남역', '강남역', '강남역', '강남 카페']" ]
    grep -q "1 duplicates left out" err
    cp out first
    # the same ids again, also from queries in records on stdin
    printf '{"query":"강남역"}\n{"query":"강남 카페"}\n' | "$SFT_BIN/naver-fetch" local --api-base "$BASE" -j 1 >second
    [ "$(cut -d, -f1 first)" = "$(cut -d, -f1 second)" ]
}

@test "local: --display, and queries from files with bad records rejected" {
    printf '{"query":"서울대학교"}\n{"q":"x"}\nnot json\n' >in.jsonl
    nf local --api-base "$BASE" --display 2 --on-error=skip --rejects rej.jsonl in.jsonl
    [ "$st" -eq 1 ]
    [ "$(lines out)" -eq 2 ]
    [ "$(lines rej.jsonl)" -eq 2 ]
    grep -q 'no non-empty string \\"query\\"' rej.jsonl.why
    # the URL a real run would ask for
    nf local --dry-run --query "강남역 카페" --display 3 --sort comment
    [ "$st" -eq 0 ]
    [ "$(cat out)" = '{"method":"GET","url":"https://openapi.naver.com/v1/search/local.json?query=%EA%B0%95%EB%82%A8%EC%97%AD%20%EC%B9%B4%ED%8E%98&display=3&start=1&sort=comment"}' ]
}

@test "012 (rate limit) is retried with backoff, then the records come" {
    nf local --api-base "$BASE/f/rate=2,tag=r1" --query 강남역 -v
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 3 ]
    # two 429s and the answer: three calls
    run /usr/bin/python3 -c "import urllib.request; print(urllib.request.urlopen('$BASE/_stats/rate=2,tag=r1').read().decode())"
    [ "$output" = '{"calls": 3}' ]
    # more 012s than retries: rejected with Naver's message
    nf local --api-base "$BASE/f/rate=9,tag=r2" --query 강남역 --max-retries 1 --on-error=skip
    [ "$st" -eq 1 ]
    grep -q "HTTP 429 (errorCode 012) after 2 attempts: Rate limit exceeded" err
}

@test "5xx is retried; a service that never answers well gives 69" {
    nf local --api-base "$BASE/f/e500=1,tag=e1" --query 강남역
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 3 ]
    nf local --api-base "$BASE/f/e500=99,tag=e2" --query 강남역 --max-retries 1 --on-error=skip
    [ "$st" -eq 69 ]
    grep -q "HTTP 500" err
    nf local --api-base "$BASE/f/e500=99,tag=e3" --query 강남역 --max-retries 0
    [ "$st" -eq 69 ]
    # nothing listening
    nf local --api-base "http://127.0.0.1:1" --query 강남역 --max-retries 0 --on-error=skip
    [ "$st" -eq 69 ]
}

@test "010 (daily quota) stops the run with exit 75 and a clear message" {
    nf local --api-base "$BASE/f/quota_after=1,tag=q1" --query 강남역 --query 서울대학교 --query "강남 카페" -j 1
    [ "$st" -eq 75 ]
    [ "$(lines out)" -eq 3 ]
    grep -q "quota is exhausted (errorCode 010" err
    grep -q "requests done: 1, not done: 2" err
    no_keys out err
    nf route --api-base "$BASE/f/quota" --from 127.0276,37.4979 --to 126.9511,37.4599
    [ "$st" -eq 75 ]
    grep -q "quota is exhausted" err
}

@test "401 (024) rejects the item with Naver's message; the keys never show" {
    nf local --api-base "$BASE/f/auth" --query 강남역 --on-error=skip --rejects rej.jsonl -v
    [ "$st" -eq 1 ]
    [ ! -s out ]
    grep -q "HTTP 401 (errorCode 024).*Authentication failed" err
    grep -q "Authentication failed" rej.jsonl.why
    [ "$(cat rej.jsonl)" = '{"query":"강남역"}' ]
    no_keys out err rej.jsonl rej.jsonl.why
    nf local --api-base "$BASE/f/auth" --query 강남역
    [ "$st" -eq 65 ]
    # wrong keys from a key file
    printf 'someone\nelse\n' >key
    nf local --api-base "$BASE" --query 강남역 --key-file key --on-error=skip
    [ "$st" -eq 1 ]
    grep -q "errorCode 024" err
    ! grep -q "else" err
}

@test "--key-file: two lines, id then secret; the keys never in argv or output" {
    printf '%s\n%s\n' "$KEY_ID" "$KEY_SECRET" >key
    env -u NAVER_CLIENT_ID -u NAVER_CLIENT_SECRET "$SFT_BIN/naver-fetch" local --api-base "$BASE" \
        --query 강남역 --key-file key -v -o o.jsonl 2>err >out
    [ "$(lines o.jsonl)" -eq 3 ]
    no_keys out err o.jsonl
    printf 'only-one-line\n' >bad
    nf local --query x --key-file bad
    [ "$st" -eq 2 ]
    grep -q "two lines" err
    ! grep -q only-one-line err
}

@test "missing keys: exit 2 naming the environment variables" {
    st=0
    env -u NAVER_CLIENT_ID "$SFT_BIN/naver-fetch" local --api-base "$BASE" --query x >out 2>err || st=$?
    [ "$st" -eq 2 ]
    grep -q NAVER_CLIENT_ID err && grep -q NAVER_CLIENT_SECRET err
    [ ! -s out ]
    st=0
    env -u NCP_API_KEY "$SFT_BIN/naver-fetch" route --api-base "$BASE" --from 127,37.5 --to 127.1,37.5 >out 2>err || st=$?
    [ "$st" -eq 2 ]
    grep -q NCP_API_KEY_ID err && grep -q "NCP_API_KEY\b" err
}

@test "route: distance and duration from --from/--to" {
    nf route --api-base "$BASE" --from 127.0276848,37.4979502 --to 126.9511,37.4599
    [ "$st" -eq 0 ]
    run py 'r = rs[0]
print(r["id"].startswith("route:"), r["from"], r["to"], r["distance_m"], r["duration_ms"], r["option"], r["source"])' <out
    [ "$output" = "True {'lon': 127.0276848, 'lat': 37.4979502} {'lon': 126.9511, 'lat': 37.4599} 10365 1243800 traoptimal naver-directions" ]
    nf route --api-base "$BASE" --from 127.0276848,37.4979502 --to 126.9511,37.4599 --option trafast
    run py 'r = rs[0]; print(r["duration_ms"], r["option"])' <out
    [ "$output" = "1119420 trafast" ]
    no_keys out err
}

@test "route: ends as ids of place records (naver-fetch local's output) and --all-pairs" {
    "$SFT_BIN/naver-fetch" local --api-base "$BASE" --query 서울대학교 --display 3 >places.jsonl
    a=$(sed -n 1p places.jsonl | py 'print(rs[0]["id"])')
    b=$(sed -n 2p places.jsonl | py 'print(rs[0]["id"])')
    { cat places.jsonl; printf '{"from":"%s","to":"%s"}\n' "$a" "$b"; } >in.jsonl
    nf route --api-base "$BASE" in.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 1 ]
    run py 'r = rs[0]; print(r["id"], r["from"]["title"], r["to"]["title"], r["distance_m"] > 0)' <out
    [ "$output" = "route:$a:$b 서울대학교 관악캠퍼스 서울대학교 중앙도서관 True" ]
    nf route --api-base "$BASE" --all-pairs places.jsonl
    [ "$st" -eq 0 ]
    [ "$(lines out)" -eq 6 ]
    run py 'print(len({r["id"] for r in rs}))' <out
    [ "$output" = 6 ]
    # an unknown id is rejected
    printf '{"from":"nope","to":"%s"}\n' "$b" | cat places.jsonl - >in2.jsonl
    nf route --api-base "$BASE" --on-error=skip in2.jsonl
    [ "$st" -eq 1 ]
    grep -q "no place record with the id 'nope'" err
}

@test "route: API code != 0 (no route) rejects the item with the message" {
    printf '{"from":{"lon":127.0,"lat":37.5},"to":{"lon":127.0,"lat":37.5}}\n{"from":{"lon":127.0,"lat":37.5},"to":{"lon":127.01,"lat":37.5}}\n' >in.jsonl
    nf route --api-base "$BASE" --on-error=skip --rejects rej.jsonl in.jsonl
    [ "$st" -eq 1 ]
    [ "$(lines out)" -eq 1 ]
    grep -q "no route (code 1): 출발지와 도착지가 동일합니다" err
    [ "$(cat rej.jsonl)" = "$(sed -n 1p in.jsonl)" ]
}

@test "usage errors: mode, option values, options of the other mode" {
    nf
    [ "$st" -eq 2 ]
    nf nearby --query x
    [ "$st" -eq 2 ]
    for bad in "--display 6" "--display 0" "--display 1x" "--sort date" "--start 0"; do
        nf local --dry-run --query x $bad
        [ "$st" -eq 2 ]
    done
    nf route --dry-run --from 127,37.5
    [ "$st" -eq 2 ]
    nf route --dry-run --from 200,37.5 --to 127,37
    [ "$st" -eq 2 ]
    nf route --dry-run --option fastest --from 127,37.5 --to 127,37
    [ "$st" -eq 2 ]
    nf local --dry-run --query x --option trafast
    [ "$st" -eq 2 ]
    nf route --dry-run --query x
    [ "$st" -eq 2 ]
    # plain http to a host that is not loopback would send the keys in clear
    nf local --api-base http://example.com --query x
    [ "$st" -eq 2 ]
}

@test "--help lists the modes and options; --version" {
    nf --help
    [ "$st" -eq 0 ]
    grep -q "naver-fetch local" out && grep -q "naver-fetch route" out
    grep -q -- "--key-file" out && grep -q NAVER_CLIENT_ID out && grep -q NCP_API_KEY_ID out
    nf --version
    [ "$st" -eq 0 ]
    grep -q "naver-fetch (sftkit)" out
}
