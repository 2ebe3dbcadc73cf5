#!/bin/sh
# TAP: every man page renders with man -l without a warning.
cd "$(dirname "$0")/.." || exit 2
set -- man/man*/*.[1-9]
echo "1..$#"
n=0
for page; do
    n=$((n + 1))
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    if [ -z "$warn" ] && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" >/dev/null 2>&1; then
        echo "ok $n - $page renders without warnings"
    else
        echo "not ok $n - $page renders without warnings"
        echo "$warn" | sed 's/^/# /'
    fi
done
