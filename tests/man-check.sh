#!/bin/sh
# TAP: every man page renders with man -l without a warning, and every
# program page (man1/PROG.1) lists in its OPTIONS section the same long
# options as PROG --help. The programs are taken from $SFT_BIN (default
# build/bin); a program that is not built is skipped.
cd "$(dirname "$0")/.." || exit 2
bin=${SFT_BIN:-build/bin}
set -- man/man*/*.[1-9]
nprog=$(ls man/man1/*.1 2>/dev/null | wc -l)
echo "1..$(($# + nprog))"
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

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
for page in man/man1/*.1; do
    [ -e "$page" ] || continue
    n=$((n + 1))
    prog=$(basename "$page" .1)
    if [ ! -x "$bin/$prog" ]; then
        echo "ok $n - $page lists the options of $prog --help # SKIP $bin/$prog not built"
        continue
    fi
    "$bin/$prog" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u >"$tmp/help"
    sed 's/\\-/-/g' "$page" | awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH / { on = 0 } on' |
        grep -E '^\.(TP|B|BR|BI)|^\\fB' | grep -oE -- '--[a-z][a-z-]+' | sort -u >"$tmp/man"
    if [ -s "$tmp/help" ] && diff "$tmp/help" "$tmp/man" >"$tmp/diff"; then
        echo "ok $n - $page lists the options of $prog --help"
    else
        echo "not ok $n - $page lists the options of $prog --help"
        echo "# < in --help only, > in the page only"
        sed 's/^/# /' "$tmp/diff"
    fi
done
