#!/usr/bin/env bash
# lib/net/http against a real HTTP server on loopback (tests/net/fake_openai.py)
# through tests/tools/http-drive.
#
#   tests/net/http.sh BUILD_DIR
#
# Prints TAP; skips, saying why, without python3. About 15 s.
set -u
build=${1:?usage: tests/net/http.sh BUILD_DIR}
cd "$(dirname "$0")/../.." || exit 1
drive=$build/tests/tools/http-drive
N=22
echo "1..$N"
if ! command -v python3 >/dev/null 2>&1; then
    for i in $(seq $N); do echo "ok $i # skip python3 not found (it runs the fake server)"; done
    exit 0
fi
tmp=$(mktemp -d) || exit 1
srv_pid=
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
python3 tests/net/fake_openai.py --log "$tmp/server.log" > "$tmp/port" 2> "$tmp/server.err" &
srv_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(head -1 "$tmp/port")
if [ -z "$port" ]; then
    for i in $(seq $N); do echo "not ok $i - the fake server did not start"; done
    cat "$tmp/server.err" | sed 's/^/# /'
    exit 1
fi
url=http://127.0.0.1:$port/v1/chat/completions
export OPENAI_API_KEY="sk-test-$RANDOM$RANDOM-SECRETKEYVALUE"

t=0
ok() { t=$((t + 1)); echo "ok $t - $1"; }
nok() { t=$((t + 1)); echo "not ok $t - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check NAME CONDITION-STATUS [details…]
    local name=$1 rc=$2; shift 2
    if [ "$rc" -eq 0 ]; then ok "$name"; else nok "$name" "$@"; fi
}
# run NAME [driver options…] < prompts: output in $tmp/NAME.out, stderr in $tmp/NAME.err
run() {
    local name=$1; shift
    "$drive" "$@" "$url" > "$tmp/$name.out" 2> "$tmp/$name.err"
    echo $? > "$tmp/$name.rc"
}
# field NAME REQ KEY: the value of KEY= on request REQ's line ("total" for the last line)
field() {
    local sel="^req=$2 "
    [ "$2" = total ] && sel="^total "
    grep -E "$sel" "$tmp/$1.out" | tr ' ' '\n' | sed -n "s/^$3=//p" | head -1
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
stat() { python3 -c 'import json,sys,urllib.request as u; print(json.load(u.urlopen(sys.argv[1]))[sys.argv[2]])' \
    "http://127.0.0.1:$port/stats" "$1"; }
show() { echo "output:"; cat "$tmp/$1.out"; echo "trace:"; cat "$tmp/$1.err"; }

# 1-2: many requests, all answered, on at most -j connections (kept alive)
c0=$(stat connections)
for i in $(seq 40); do echo "reuse $i count=2"; done | run reuse -j 8
n200=$(grep -c ' status=200 attempts=1 verdict=DONE cancelled=0' "$tmp/reuse.out")
check "40 requests with -j 8 all succeed on the first attempt" $([ "$n200" = 40 ]; echo $?) "$(show reuse)"
conns=$(( $(stat connections) - c0 - 1 ))   # less the connection of this /stats request
check "... on at most 8 connections (server saw $conns)" $([ "$conns" -le 8 ] && [ "$conns" -ge 1 ]; echo $?)

# 3-4: 429 with retry-after; the wait does not hold the others back
{ echo "FAULT=429 TIMES=1 RETRY_AFTER=1 ra"; for i in 1 2 3; do echo "other $i"; done; } | run ra -j 1 --trace
e=$(field ra 0 elapsed)
check "429 with retry-after: 1 is retried after >= 1 s (elapsed $e)" \
    $([ "$(field ra 0 attempts)" = 2 ] && [ "$(field ra 0 status)" = 200 ] && ge "$e" 1.0; echo $?) "$(show ra)"
e3=$(field ra 3 elapsed)
check "... while the other requests go on (-j 1; the last one done at $e3 s)" $(lt "$e3" 0.8; echo $?) "$(show ra)"

# 5: retry-after-ms (longer than any backoff of a first retry, 0.5 s)
echo "FAULT=429 TIMES=1 RETRY_AFTER_MS=800 rams" | run rams
e=$(field rams 0 elapsed)
check "429 with retry-after-ms: 800 waits >= 0.8 s (elapsed $e)" \
    $([ "$(field rams 0 attempts)" = 2 ] && ge "$e" 0.8 && lt "$e" 1.5; echo $?) "$(show rams)"

# 6: x-ratelimit-reset-*: the longest wins
echo "FAULT=429 TIMES=1 RESET_REQUESTS=20ms RESET_TOKENS=0m1.1s reset" | run reset
e=$(field reset 0 elapsed)
check "429 with x-ratelimit-reset-requests 20ms and -tokens 0m1.1s waits >= 1.1 s (elapsed $e)" \
    $([ "$(field reset 0 attempts)" = 2 ] && ge "$e" 1.1 && lt "$e" 1.8; echo $?) "$(show reset)"

# 7: the reset headers say nothing about a 500: backoff
echo "FAULT=500 TIMES=1 RESET_TOKENS=6m0s r500" | run r500
e=$(field r500 0 elapsed)
check "500 with x-ratelimit-reset-tokens: 6m0s is retried after the backoff (elapsed $e)" \
    $([ "$(field r500 0 attempts)" = 2 ] && ge "$e" 0.37 && lt "$e" 1.0; echo $?) "$(show r500)"

# 8: 500 twice: backoff 0.5 then 1 s, times a jitter in [0.75, 1]
echo "FAULT=500 TIMES=2 backoff" | run backoff
e=$(field backoff 0 elapsed)
check "500 twice: 3 attempts, exponential backoff (elapsed $e >= 1.125)" \
    $([ "$(field backoff 0 attempts)" = 3 ] && [ "$(field backoff 0 status)" = 200 ] && ge "$e" 1.12 && lt "$e" 2.0; echo $?) "$(show backoff)"

# 9: retries exhausted
echo "FAULT=503 exhaust" | run exhaust --max-retries 2
check "503 every time with --max-retries 2: verdict RETRY after 3 attempts" \
    $([ "$(field exhaust 0 attempts)" = 3 ] && [ "$(field exhaust 0 verdict)" = RETRY ] && [ "$(field exhaust 0 status)" = 503 ]; echo $?) "$(show exhaust)"

# 10: a 4xx other than 408/409/429 is final
echo "FAULT=400 final" | run final
check "400 is not retried" \
    $([ "$(field final 0 attempts)" = 1 ] && [ "$(field final 0 verdict)" = DONE ] && [ "$(field final 0 status)" = 400 ]; echo $?) "$(show final)"

# 11-12: insufficient_quota stops everything
c0=$(stat chat)
{ echo "FAULT=quota quota"; for i in $(seq 9); do echo "DELAY=0.3 after quota $i"; done; } | run quota -j 2
sent=$(( $(stat chat) - c0 ))
ncancel=$(grep -c ' attempts=0 verdict=DONE cancelled=1' "$tmp/quota.out")
check "insufficient_quota: verdict QUOTA, the 8 queued requests cancelled" \
    $([ "$(field quota 0 verdict)" = QUOTA ] && [ "$(field quota 1 status)" = 200 ] && [ "$ncancel" = 8 ]; echo $?) "$(show quota)"
check "... and no request sent after it (server saw $sent)" $([ "$sent" = 2 ]; echo $?)

# 13-14: transport errors are retried
echo "FAULT=drop TIMES=1 drop" | run drop --trace
check "a dropped connection is retried" \
    $([ "$(field drop 0 attempts)" = 2 ] && [ "$(field drop 0 status)" = 200 ] && [ "$(field drop total transport_errors)" = 1 ]; echo $?) "$(show drop)"
echo "FAULT=truncated TIMES=1 trunc" | run trunc --trace
check "a truncated body is a transport error, retried" \
    $([ "$(field trunc 0 attempts)" = 2 ] && [ "$(field trunc 0 status)" = 200 ] && [ "$(field trunc total transport_errors)" = 1 ]; echo $?) "$(show trunc)"

# 15: timeout
echo "FAULT=slow SLOW=5 timeout" | run timeout --timeout 0.5 --max-retries 1 --trace
e=$(field timeout 0 elapsed)
check "a slow answer times out (0.5 s), is retried, then given up (elapsed $e)" \
    $([ "$(field timeout 0 attempts)" = 2 ] && [ "$(field timeout 0 status)" = 0 ] && grep -q 'timed_out=1' "$tmp/timeout.err" && grep -q 'error=.*timed out' "$tmp/timeout.out" && ge "$e" 1.3 && lt "$e" 2.5; echo $?) "$(show timeout)"

# 16: rpm
for i in $(seq 20); do echo "rpm $i"; done | run rpm -j 8 --rpm 600
e=$(field rpm total elapsed)
check "20 requests at --rpm 600 take >= 1.9 s (elapsed $e)" \
    $([ "$(grep -c ' status=200 ' "$tmp/rpm.out")" = 20 ] && ge "$e" 1.88 && lt "$e" 3.0; echo $?) "$(show rpm)"

# 17: tpm (no usage in the replies, so the estimates stand): 100 tokens/s
# with a burst of one second's worth, 50 a request: 2 at once, then one each 0.5 s
for i in $(seq 6); do echo "FAULT=nousage tpm $i"; done | run tpm -j 8 --tpm 6000 --est-tokens 50
e=$(field tpm total elapsed)
check "6 requests of 50 tokens at --tpm 6000 take >= 2 s (elapsed $e)" \
    $([ "$(grep -c ' status=200 ' "$tmp/tpm.out")" = 6 ] && ge "$e" 1.95 && lt "$e" 3.0; echo $?) "$(show tpm)"

# 18: concurrency
for i in $(seq 32); do echo "DELAY=0.5 conc $i"; done | run conc -j 32
e=$(field conc total elapsed)
check "32 requests answered in 0.5 s each with -j 32 finish in < 0.65 s (elapsed $e)" \
    $([ "$(grep -c ' status=200 ' "$tmp/conc.out")" = 32 ] && lt "$e" 0.65; echo $?) "$(show conc)"

# 19: sft_http_stop
for i in $(seq 5); do echo "stop $i"; done | run stop -j 1 --stop-after 1
check "sft_http_stop from on_done: the rest cancelled" \
    $([ "$(field stop 0 status)" = 200 ] && [ "$(grep -c 'cancelled=1' "$tmp/stop.out")" = 4 ]; echo $?) "$(show stop)"

# 20: URL checks
res=""
for u in http://127.0.0.1:1/x http://127.0.0.9/x http://localhost/x "http://[::1]:8/x" https://example.com/v1; do
    [ "$("$drive" --check "$u")" = ok ] || res="$res $u:refused"
done
for u in http://example.com/v1 http://10.0.0.1/x http://127.0.0.1.example.com/ ftp://127.0.0.1/ file:///etc/passwd nonsense; do
    out=$("$drive" --check "$u"); rc=$?
    case $out in refused:*) [ $rc = 1 ] || res="$res $u:rc$rc" ;; *) res="$res $u:accepted" ;; esac
done
[ "$("$drive" --check --allow-insecure-http http://example.com/v1)" = ok ] || res="$res allow-insecure:refused"
check "plain http only to loopback unless allowed; only http(s)" $([ -z "$res" ]; echo $?) "wrong:$res"

# 21: lib/net refuses it at send time too (the driver's own check skipped)
echo "never" | "$drive" --no-check http://192.0.2.1/v1/chat/completions > "$tmp/never.out" 2>&1
check "plain http to a non-loopback host is never sent, even without sft_http_check_url" \
    $(grep -q '^req=0 status=0 attempts=0 verdict=DONE .*error=refused' "$tmp/never.out"; echo $?) "$(cat "$tmp/never.out")"

# 22: the key went to the server and nowhere else
sent_key=$(grep -c "auth=Bearer $OPENAI_API_KEY\$" "$tmp/server.log")
leak=$(cat "$tmp"/*.out "$tmp"/*.err | grep -c -F "$OPENAI_API_KEY")
check "the key is sent ($sent_key requests) and never in the driver's output or errors ($leak)" \
    $([ "$sent_key" -gt 100 ] && [ "$leak" = 0 ]; echo $?)

[ "$t" = "$N" ] || echo "# ran $t tests, planned $N"
