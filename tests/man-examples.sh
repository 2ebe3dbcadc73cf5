#!/usr/bin/env bash
# TAP: runs the examples in the EXAMPLES section of every man/man1/*.1 page
# and compares their output with the page.
#
#   tests/man-examples.sh BIN_DIR
#
# BIN_DIR (e.g. build/bin, relative to the current directory) holds the
# programs; it goes first in PATH, and sft-split (the installed name of
# split) is a link to BIN_DIR/split. Runs from any directory.
#
# How a page writes its examples (between .SH EXAMPLES and the next .SH):
#
#   - Each .EX/.EE block is one example, one TAP result.
#   - In a block, a line that starts with "$ " is a command; a command goes
#     on to the next line when its line ends in \e (a backslash) or |.
#     The other lines are the exact standard output of the command before
#     them, after groff escapes are undone (\- is -, \e is \, \(aq is ',
#     \& is nothing, and so on); a command followed by no such lines must
#     print nothing. Standard error is not compared: a command that wants
#     it shown redirects it itself (2>&1).
#   - Every command must exit with status 0. A command that shows a failure
#     prints the status itself, as in: ...; echo "exit status $?"
#   - The comment line
#         .\" example: output not compared
#     just before .EX marks output that is only illustrative (for example
#     folded to fit the page): the commands must still exit with 0, and
#     only the lines "exit status N" of the page must be in the output.
#   - The comment line
#         .\" example: file NAME
#     just before .EX makes the block the contents of file NAME (no
#     commands), written into the directory of every later example of the
#     page.
#
# The commands of a block run one after another, each with bash -c (so
# shell variables do not carry over; files do), in a fresh scratch
# directory that holds links to the source tree's fixtures/ and schemas/:
# examples read fixtures/... by relative path, as from the top of the
# source tree, and whatever they write lands in the scratch directory,
# never in the tree (unless it writes through those links). Locale C.UTF-8,
# standard input /dev/null, make's variables from a calling make unset.
# Exit status 0 when every example passes.
set -u
export LC_ALL=C.UTF-8

usage() { echo "usage: tests/man-examples.sh BIN_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -d "$1" ] || { echo "Bail out! $1: not a directory"; exit 2; }
bin=$(cd "$1" && pwd) || exit 2
cd "$(dirname "$0")/.." || exit 2
repo=$PWD
LINKS="fixtures schemas"
TIMEOUT=${MAN_EXAMPLE_TIMEOUT:-120}

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/shim" "$tmp/run"
[ -e "$bin/split" ] && ln -s "$bin/split" "$tmp/shim/sft-split"

# extract PAGE: the examples of PAGE, one item per line:
#   B LINE MODE     a block starts at LINE of the page (MODE: compare,
#                   nocompare or file:NAME)
#   C TEXT          the first line of a command (without "$ ")
#   K TEXT          a continuation line of that command
#   O TEXT          a line of expected output (or of the file)
#   E               the block ends
#   X LINE MESSAGE  the page breaks the convention at LINE
# TEXT has the groff escapes undone.
extract() {
    awk '
    function unesc(s, line,    out, c, n, nm, i, j) {
        out = ""
        while ((i = index(s, "\\")) > 0) {
            out = out substr(s, 1, i - 1)
            c = substr(s, i + 1, 1)
            s = substr(s, i + 2)
            if (c == "-" || c == "e" || c == "\\") {
                out = out (c == "-" ? "-" : "\\")
            } else if (c == "&" || c == "|" || c == "^" || c == ")" || c == "%") {
            } else if (c == "~" || c == " " || c == "0") {
                out = out " "
            } else if (c == ".") {
                out = out "."
            } else if (c == "(" || c == "[") {
                if (c == "(") { nm = substr(s, 1, 2); s = substr(s, 3) }
                else if ((j = index(s, "]")) > 0) { nm = substr(s, 1, j - 1); s = substr(s, j + 1) }
                else { bad(line, "unterminated \\[ escape"); nm = "" }
                if (nm in special) out = out special[nm]
                else bad(line, "unknown special character \\(" nm)
            } else if (c == "f") {
                c = substr(s, 1, 1)
                if (c == "(") s = substr(s, 4)
                else if (c == "[") { j = index(s, "]"); s = substr(s, j + 1) }
                else s = substr(s, 2)
            } else {
                bad(line, "unsupported escape \\" c)
            }
        }
        return out s
    }
    function bad(line, msg) { print "X " line " " msg; errors++ }
    BEGIN {
        special["aq"] = "\047"; special["dq"] = "\""; special["ga"] = "`"
        special["ti"] = "~"; special["ha"] = "^"; special["rs"] = "\\"
        special["em"] = "\342\200\224"; special["en"] = "\342\200\223"
        special["lq"] = "\342\200\234"; special["rq"] = "\342\200\235"
        special["bu"] = "\342\200\242"; special["mu"] = "\303\227"
        special["+-"] = "\302\261"; special["co"] = "\302\251"
    }
    /^\.SH/ { inex = ($0 ~ /^\.SH +"?EXAMPLES"?[ \t]*$/); next }
    !inex { next }
    inblock && /^\.EE/ {
        if (mode == "compare" || mode == "nocompare") {
            if (!ncmd) bad(start, "a block with no command (no line starting with \"$ \")")
        }
        print "E"; inblock = 0; next
    }
    inblock {
        if ($0 ~ /^\.\\"/) next
        if ($0 ~ /^[.\047]/) { bad(NR, "a request inside .EX: " $0); next }
        t = unesc($0, NR)
        if (mode ~ /^file:/) { print "O " t; next }
        if (cont) {
            print "K " t
        } else if (substr(t, 1, 2) == "$ ") {
            print "C " substr(t, 3); ncmd++
        } else if (!ncmd) {
            bad(NR, "output before the first command of the block"); next
        } else {
            print "O " t
        }
        cont = (t ~ /(\\|\|)[ \t]*$/) && (cont || substr(t, 1, 2) == "$ ")
        next
    }
    /^\.EX/ {
        start = NR; inblock = 1; ncmd = 0; cont = 0
        mode = pending ? pending : "compare"; pending = ""
        print "B " NR " " mode; next
    }
    pending { bad(pendline, "the example: comment is not just before .EX"); pending = "" }
    /^\.\\" *example:/ {
        m = $0; sub(/^\.\\" *example: */, "", m); sub(/[ \t]+$/, "", m)
        if (m == "output not compared") pending = "nocompare"
        else if (m ~ /^file [^ \/]+$/) { sub(/^file /, "", m); pending = "file:" m }
        else bad(NR, "unknown example: comment: " m)
        pendline = NR; next
    }
    END {
        if (inblock) { bad(start, "unterminated .EX"); print "E" }
        if (pending) bad(pendline, "the example: comment is not just before .EX")
    }
    ' "$1"
}

# Parse every page into arrays first: the plan must come first.
declare -a T_NAME T_KIND T_MODE T_CMDS T_EXP T_FILES
# T_CMDS: the commands, each followed by a line "\x1e"; T_EXP: per command
# its expected output, commands separated by "\x1e" lines. T_FILES: the
# file blocks seen before this example, as "NAME\x1fCONTENT\x1d"...
n=0
sep=$'\x1e'
for page in man/man1/*.1; do
    [ -e "$page" ] || continue
    files="" inblock=""
    nex=0
    cmds="" exp="" mode="" start="" name="" content=""
    while IFS= read -r item; do
        tag=${item%% *}
        [ "$tag" = "$item" ] && rest="" || rest=${item#* }
        case $tag in
        B)
            start=${rest%% *} mode=${rest#* }
            cmds="" exp="" name="" content="" blockerr="" inblock=1
            ;;
        C)
            [ -n "$cmds" ] && { cmds+="$sep"$'\n'; exp+="$sep"$'\n'; }
            cmds+="$rest"$'\n'
            [ -z "$name" ] && name=$rest
            ;;
        K) cmds+="$rest"$'\n' ;;
        O)
            if [[ $mode == file:* ]]; then content+="$rest"$'\n'; else exp+="$rest"$'\n'; fi
            ;;
        E)
            inblock=""
            if [ -n "$blockerr" ]; then
                n=$((n + 1)) nex=$((nex + 1))
                T_NAME[n]="$page:$start: example follows the convention"
                T_KIND[n]=error T_EXP[n]=${blockerr%$'\n'}
            elif [[ $mode == file:* ]]; then
                files+="${mode#file:}"$'\x1f'"$content"$'\x1d'
            else
                n=$((n + 1)) nex=$((nex + 1))
                [ ${#name} -gt 60 ] && name="${name:0:57}..."
                T_NAME[n]="$page:$start: $name"
                T_KIND[n]=run T_MODE[n]=$mode T_CMDS[n]=$cmds T_EXP[n]=$exp T_FILES[n]=$files
            fi
            ;;
        X)
            if [ -n "$inblock" ]; then
                blockerr+="line ${rest%% *}: ${rest#* }"$'\n'
                continue
            fi
            n=$((n + 1))
            T_NAME[n]="$page:${rest%% *}: EXAMPLES follows the convention"
            T_KIND[n]=error T_EXP[n]=${rest#* }
            ;;
        esac
    done < <(extract "$page")
    if [ $nex -eq 0 ]; then
        n=$((n + 1))
        T_NAME[n]="$page has examples"
        T_KIND[n]=error T_EXP[n]="no .EX block in its EXAMPLES section"
    fi
done

echo "1..$n"

diag() { sed 's/^/# /'; }

# run_example I: runs example I, prints "ok" or "not ok" and diagnostics.
run_example() {
    local i=$1 dir="$tmp/run/$1" status=ok k=0 cmd want rc
    local -a cmds exps
    mkdir "$dir"
    for l in $LINKS; do ln -s "$repo/$l" "$dir/$l"; done
    local files=${T_FILES[i]} f
    while [ -n "$files" ]; do
        f=${files%%$'\x1d'*} files=${files#*$'\x1d'}
        rm -f "$dir/${f%%$'\x1f'*}"
        printf '%s' "${f#*$'\x1f'}" >"$dir/${f%%$'\x1f'*}"
    done
    # split the commands and the expected outputs at the separator lines
    local IFS=
    local c="${T_CMDS[i]}" e="${T_EXP[i]}"
    while :; do
        if [[ $c == *"$sep"$'\n'* ]]; then
            cmds+=("${c%%"$sep"$'\n'*}") c=${c#*"$sep"$'\n'}
            exps+=("${e%%"$sep"$'\n'*}") e=${e#*"$sep"$'\n'}
        else
            cmds+=("$c") exps+=("$e")
            break
        fi
    done
    local log="$tmp/log"
    : >"$log"
    for ((k = 0; k < ${#cmds[@]}; k++)); do
        cmd=${cmds[k]} want=${exps[k]}
        printf '%s' "$want" >"$tmp/want"
        (cd "$dir" && exec env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
            -u GNUMAKEFLAGS LC_ALL=C.UTF-8 PATH="$bin:$tmp/shim:$PATH" \
            timeout "$TIMEOUT" bash -c "$cmd") </dev/null >"$tmp/got" 2>"$tmp/err"
        rc=$?
        local why=""
        if [ $rc -ne 0 ]; then
            why="exit status $rc"
            [ $rc -eq 124 ] && why="timed out after ${TIMEOUT}s"
        elif [ "${T_MODE[i]}" = compare ]; then
            cmp -s "$tmp/want" "$tmp/got" || why="output differs"
        else
            local line
            while IFS= read -r line; do
                [[ $line =~ ^exit\ status\ [0-9]+$ ]] || continue
                grep -qxF "$line" "$tmp/got" || why="no line '$line' in the output"
            done <"$tmp/want"
        fi
        if [ -n "$why" ]; then
            status="not ok"
            {
                echo "command $((k + 1)) of ${#cmds[@]}: $why"
                printf '%s' "$cmd" | sed '1s/^/  $ /; 2,$s/^/    /'
                if [ "$why" = "output differs" ]; then
                    echo "diff (- page, + output):"
                    diff -u "$tmp/want" "$tmp/got" | tail -n +3 | head -40
                fi
                if [ -s "$tmp/err" ]; then
                    echo "stderr:"
                    head -20 "$tmp/err"
                fi
            } >>"$log"
            break
        fi
    done
    [ "$status" = ok ] || failed=$((failed + 1))
    echo "$status $i - ${T_NAME[i]}"
    diag <"$log"
    rm -rf "$dir"
}

failed=0
for ((i = 1; i <= n; i++)); do
    if [ "${T_KIND[i]}" = error ]; then
        failed=$((failed + 1))
        echo "not ok $i - ${T_NAME[i]}"
        echo "${T_EXP[i]}" | diag
    else
        run_example "$i"
    fi
done
[ "$failed" -eq 0 ]
