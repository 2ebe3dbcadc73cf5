#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, M failed[, K skipped]".
#
#   tests/run.sh BUILD [ASAN_BUILD]
#
# Each suite prints TAP; its log is kept in BUILD/test-logs/. Unit and CLI
# suites run once per build directory given (the second is the
# AddressSanitizer+UBSan build); the schema cases, the man page check and
# the fuzz smoke run once. A suite that dies, or prints fewer results than
# its plan, counts as a failure.
set -u
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -ge 1 ] || { echo "usage: tests/run.sh BUILD [ASAN_BUILD]" >&2; exit 2; }
logdir=${builds[0]}/test-logs
rm -rf "$logdir" && mkdir -p "$logdir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0

# suite NAME COMMAND...: runs COMMAND, which prints TAP, and adds up its results.
suite() {
    local name=$1 log
    shift
    log=$logdir/$(echo "$name" | tr '/ ' '__').tap
    "$@" >"$log" 2>&1
    local rc=$?
    local ok nok skip nokskip plan
    ok=$(grep -cE '^ok ' "$log")
    skip=$(grep -cE '^ok .*# (skip|SKIP)' "$log")
    # cmocka writes a skipped test as "not ok N # SKIP name"
    nokskip=$(grep -cE '^not ok .*# (skip|SKIP)' "$log")
    nok=$(grep -cE '^not ok ' "$log")
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
    ok=$((ok - skip))
    nok=$((nok - nokskip))
    skip=$((skip + nokskip))
    local note=""
    if [ -n "$plan" ] && [ $((ok + skip + nok)) -lt "$plan" ]; then
        note=" (only $((ok + skip + nok)) of $plan results: the suite died)"
        nok=$((nok + plan - ok - skip - nok))
    elif [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then
        note=" (exit status $rc with no failed test)"
        nok=1
    fi
    passed=$((passed + ok)) failed=$((failed + nok)) skipped=$((skipped + skip))
    printf '%-40s %4d passed, %d failed, %d skipped%s\n' "$name" "$ok" "$nok" "$skip" "$note"
    if [ "$nok" -gt 0 ]; then
        grep -vE '^not ok .*# (skip|SKIP)' "$log" | grep -E -A12 '^not ok ' | sed 's/^/    /' | head -60
        [ -n "$note" ] && tail -20 "$log" | sed 's/^/    /'
    fi
    grep -E '^(not )?ok .*# (skip|SKIP)' "$log" | sed 's/^/    /'
}

unit_suite() {
    CMOCKA_MESSAGE_OUTPUT=TAP "$1"
}

for b in "${builds[@]}"; do
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] && suite "unit/$(basename "$t") ($b)" unit_suite "$t"
    done
    suite "cli ($b)" env SFT_BIN="$b/bin" bats --tap tests/cli
    suite "data cases ($b)" tests/run-cases.sh "$b/bin"
    suite "man examples ($b)" tests/man-examples.sh "$b/bin"
    suite "conformance/kakaoship ($b)" tests/conformance/kakaoship.sh "$b/bin"
    suite "conformance/kakao-viewer ($b)" tests/conformance/kakao-viewer.sh "$b/bin"
    suite "conformance/pii-kakaoship ($b)" tests/conformance/pii-kakaoship.sh "$b/bin"
    suite "pii corpus ($b)" tests/pii/eval.sh "$b/bin"
    suite "conformance/spm ($b)" tests/conformance/spm.sh "$b"
    suite "conformance/templates ($b)" tests/conformance/templates.sh "$b"
    suite "conformance/hf-tok ($b)" tests/conformance/hf-tok.sh "$b"
    suite "conformance/nn-ref ($b)" tests/conformance/nn-ref.sh "$b"
    suite "conformance/nn-merge ($b)" tests/conformance/nn-merge.sh "$b"
    suite "conformance/nn-train ($b)" tests/conformance/nn-train.sh "$b"
    suite "conformance/nn-train-steps ($b)" tests/conformance/nn-train-steps.sh "$b"
    suite "conformance/peft ($b)" tests/conformance/peft.sh "$b"
    suite "conformance/videos ($b)" tests/conformance/videos.sh "$b"
    suite "net/http ($b)" tests/net/http.sh "$b"
done
suite "schema cases" tests/schema/run-cases.sh
suite "man pages" tests/man-check.sh
for f in "${builds[0]}"/fuzz/fuzz_*; do
    [ -x "$f" ] && suite "fuzz smoke $(basename "$f")" tests/fuzz/smoke.sh "$f"
done

echo
if [ $skipped -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
