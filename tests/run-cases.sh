#!/usr/bin/env bash
# run-cases.sh - run the data-driven CLI cases of tests/data/*.test; TAP output.
#
# usage: tests/run-cases.sh BINDIR [FILE.test...]
#
# BINDIR (e.g. build/bin) is put first on PATH, so a case's command finds the
# programs under test by their plain names.  With no FILE, every
# tests/data/*.test is run.  Prints TAP: "1..N", then "ok N - FILE: NAME" or
# "not ok N - FILE: NAME" followed by "# " lines that say what differed (a
# unified diff, expected first).  Exit status: 0 all cases passed, 1 some
# failed, 2 usage error.  RUN_CASES_KEEP=1 keeps the temporary directory
# (its path is printed as a TAP comment); RUN_CASES_TIMEOUT (default 60)
# limits each command in seconds.
#
# ---- The .test format (also in tests/data/README) ----
#
# Text before the first "###" line is a free comment.  Each case is:
#
#   ### NAME                  starts a case; NAME is shown in the TAP line
#   args: WORD...             the command line, program first; split into words
#                             by the shell (eval set -- ...), so quote as in sh.
#                             $T is the case's working directory.
#   stdin:                    lines fed to standard input (default: empty)
#   stdout:                   expected standard output, exact
#   stderr:                   expected standard error, exact, after every
#                             occurrence of the working directory's path is
#                             replaced by the two characters $T
#   exit: N                   expected exit status
#   given:                    files created in the working directory before
#   == NAME                   the run: one "== NAME" line, then its content,
#                             per file
#   files:                    files expected in the working directory after
#   == NAME                   the run, with their exact content
#
# args: and exit: are required; the others are optional and may come in any
# order, each at most once per case.  A missing stdout: or stderr: means that
# stream must be EMPTY.  With files:, the working directory must hold exactly
# the files listed there (besides the given: files, which are checked only
# when listed); "files:" with no "==" block means the command must write no
# file.  Without files:, the directory is not checked.
#
# Content (stdin, stdout, stderr and each "== NAME" block) is the lines that
# follow the header, up to the next header line ("###", "args:", "stdin:",
# "stdout:", "stderr:", "exit:", "given:", "files:", or "== " inside given:
# and files:).  Exactly:
#   - every content line stands for its text followed by one \n, so an empty
#     section is empty content and a section of one blank line is "\n";
#   - a line "(no newline)" after the last content line removes the \n of that
#     line (as diff's "\ No newline at end of file");
#   - blank lines and lines starting with "#" that come right before a "###"
#     line or the end of the file are NOT content: they separate cases and
#     may describe the next ones.  Before any other header they are content.
#     (Content that really ends in such lines: follow it with another
#     section, or write it (escaped), e.g. "\x23 text".)
#   - a header written "stdin: (escaped)" (or stdout:, stderr:, or
#     "== NAME (escaped)") makes its lines go through bash's printf %b, so
#     \r \t \n \\ \xHH \0NNN and \uHHHH write those bytes; use it for CR line
#     ends, a BOM, invalid UTF-8, trailing white space (\x20, which editors
#     would strip), or a content line that would look like a header (e.g.
#     "\x23## not a case").  Each line still ends in \n.
# Outside content, blank lines and lines starting with "#" are comments.
#
# Each case runs in a fresh temporary directory (empty but for its given:
# files) as its working directory, with LC_ALL=C, TMPDIR set to a private
# directory outside it, and T set to the working directory's path.  The command is run directly (not through a shell): for
# a pipe or a redirection, write args: sh -c '...'.
set -u
export LC_ALL=C

me=run-cases.sh
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: tests/run-cases.sh BINDIR [FILE.test...]" >&2
	exit 2
fi
bindir=$(cd "$1" && pwd) || exit 2
shift
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
	set -- "$here"/data/*.test
	[ -e "$1" ] || { echo "$me: no $here/data/*.test files" >&2; exit 2; }
fi
timeout_s=${RUN_CASES_TIMEOUT:-60}
have_timeout=0
command -v timeout >/dev/null 2>&1 && have_timeout=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-cases.XXXXXX") || exit 2
if [ -n "${RUN_CASES_KEEP:-}" ]; then
	echo "# keeping $tmp"
else
	trap 'rm -rf "$tmp"' EXIT
fi
trap 'exit 130' INT TERM

# ---- parsing: each case becomes a directory $tmp/c/K ----

ncases=0
cdir=         # directory of the case being read
cur=          # file that content lines go to ("" = not in content)
cur_esc=0     # 1 when the content is (escaped)
cur_nonl=0    # 1 after "(no newline)"
held=()       # blank and "#" lines held back (they may separate cases)
sec=          # current section name
src_file=
src_line=0

fmt_error() {
	# Only the first error of a case is kept.
	[ -n "$cdir" ] && [ ! -e "$cdir/error" ] &&
		printf '%s:%d: %s\n' "$src_file" "$src_line" "$1" >"$cdir/error"
}

put_line() { # put_line TEXT: one content line
	if [ "$cur_nonl" = 1 ]; then
		fmt_error "content after (no newline)"
		return
	fi
	if [ "$cur_esc" = 1 ]; then
		printf '%b\n' "$1" >>"$cur"
	else
		printf '%s\n' "$1" >>"$cur"
	fi
}

flush_held() {
	local h
	for h in ${held[@]+"${held[@]}"}; do
		put_line "$h"
	done
	held=()
}

# end_content keep|drop: close the open content block; held-back blank and
# "#" lines become content (keep) or are separators (drop).
end_content() {
	[ -n "$cur" ] && [ "$1" = keep ] && flush_held
	held=()
	cur=
	cur_esc=0
	cur_nonl=0
}

# open_content FILE REST: REST is what follows the header ("" or "(escaped)").
open_content() {
	cur=$1
	mkdir -p "$(dirname "$cur")"
	: >"$cur"
	cur_esc=0
	cur_nonl=0
	held=()
	case $2 in
	"") ;;
	"(escaped)") cur_esc=1 ;;
	*) fmt_error "unexpected text after the header: $2" ;;
	esac
}

finish_case() {
	[ -n "$cdir" ] || return
	src_line=$case_line
	[ -e "$cdir/args" ] || fmt_error "case has no args: line"
	[ -e "$cdir/exit" ] || fmt_error "case has no exit: line"
	cdir=
	sec=
}

parse_file() {
	src_file=$1
	src_line=0
	local line rest name case_line=0 n
	if [ ! -r "$1" ]; then
		ncases=$((ncases + 1))
		cdir=$tmp/c/$ncases
		mkdir -p "$cdir"
		printf '%s\n' "$(basename "$1")" >"$cdir/file"
		printf '%s\n' "(file)" >"$cdir/name"
		printf '%s: cannot read the file\n' "$1" >"$cdir/error"
		cdir=
		return
	fi
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		src_line=$n
		case $line in
		'###'*)
			end_content drop
			finish_case
			case_line=$n
			ncases=$((ncases + 1))
			cdir=$tmp/c/$ncases
			mkdir -p "$cdir"
			name=${line#\#\#\#}
			name=${name#"${name%%[! ]*}"}
			printf '%s\n' "$(basename "$src_file")" >"$cdir/file"
			printf '%s\n' "${name:-(unnamed, line $src_line)}" >"$cdir/name"
			continue
			;;
		esac
		[ -n "$cdir" ] || continue # the file's header comment

		# A section header?
		case $line in
		args:* | exit:* | stdin:* | stdout:* | stderr:* | given:* | files:*)
			end_content keep
			sec=${line%%:*}
			rest=${line#*:}
			rest=${rest# }
			if [ -e "$cdir/has_$sec" ]; then
				fmt_error "second $sec: section"
			fi
			: >"$cdir/has_$sec"
			case $sec in
			args) printf '%s\n' "$rest" >"$cdir/args" ;;
			exit)
				case $rest in
				'' | *[!0-9]*) fmt_error "exit: needs a number, got '$rest'" ;;
				*) printf '%s\n' "$rest" >"$cdir/exit" ;;
				esac
				;;
			stdin | stdout | stderr) open_content "$cdir/$sec" "$rest" ;;
			given | files)
				mkdir -p "$cdir/$sec"
				[ -z "$rest" ] || fmt_error "unexpected text after $sec:"
				;;
			esac
			continue
			;;
		esac
		if { [ "$sec" = given ] || [ "$sec" = files ]; } && [ "${line#== }" != "$line" ]; then
			end_content keep
			name=${line#== }
			rest=
			case $name in
			*' (escaped)')
				name=${name% (escaped)}
				rest="(escaped)"
				;;
			esac
			case /$name/ in
			*/../* | */./* | //* | *//*) fmt_error "bad file name '$name'" ;;
			*) open_content "$cdir/$sec/$name" "$rest" ;;
			esac
			continue
		fi

		if [ -n "$cur" ]; then
			if [ -z "$line" ] || [ "${line#\#}" != "$line" ]; then
				held+=("$line")
			elif [ "$line" = "(no newline)" ]; then
				flush_held
				if [ -s "$cur" ] && [ "$cur_nonl" = 0 ]; then
					truncate -s -1 "$cur"
					cur_nonl=1
				else
					fmt_error "(no newline) with no line before it"
				fi
			else
				flush_held
				put_line "$line"
			fi
		else
			case $line in
			'' | '#'*) ;;
			*) fmt_error "text outside a section: $line" ;;
			esac
		fi
	done <"$1"
	end_content drop
	finish_case
}

for f in "$@"; do
	parse_file "$f"
done

# ---- running ----

echo "1..$ncases"
failed=0
diag=$tmp/diag

# show_diff WHAT EXPECTED ACTUAL: a unified diff as TAP comments.
show_diff() {
	diff -a -u --label "expected $1" --label "actual $1" "$2" "$3" |
		sed -e 's/\r/\\r/g' | head -n 80
}

run_case() {
	local k=$1 d=$tmp/c/$1 wd=$tmp/run/$1 tdir=$tmp/tmp/$1 rc want args
	: >"$diag"
	if [ -e "$d/error" ]; then
		echo "format error: $(cat "$d/error")" >"$diag"
		return 1
	fi
	mkdir -p "$wd" "$tdir"
	[ -d "$d/given" ] && cp -R "$d/given/." "$wd/"
	local in=/dev/null
	[ -e "$d/stdin" ] && in=$d/stdin
	args=$(cat "$d/args")
	(
		cd "$wd" || exit 125
		export T="$wd" TMPDIR="$tdir" PATH="$bindir:$PATH"
		eval "set -- $args" || exit 125
		[ $# -gt 0 ] || { echo "$me: empty args:" >&2; exit 125; }
		if [ "$have_timeout" = 1 ]; then
			exec timeout -k 5 "$timeout_s" "$@"
		else
			exec "$@"
		fi
	) <"$in" >"$tmp/out" 2>"$tmp/err.raw"
	rc=$?
	# $T for the working directory in stderr (the path has no | or newline).
	local wd_re
	wd_re=$(printf '%s' "$wd" | sed 's/[][\.*^$/]/\\&/g')
	sed "s|$wd_re|\$T|g" "$tmp/err.raw" >"$tmp/err"

	want=$(cat "$d/exit")
	local ok=0
	if [ "$rc" != "$want" ]; then
		ok=1
		if [ "$have_timeout" = 1 ] && [ "$rc" = 124 ]; then
			echo "timed out after ${timeout_s}s" >>"$diag"
		fi
		echo "exit status $rc, expected $want" >>"$diag"
	fi
	[ -e "$d/stdout" ] || : >"$d/stdout"
	[ -e "$d/stderr" ] || : >"$d/stderr"
	if ! cmp -s "$d/stdout" "$tmp/out"; then
		ok=1
		show_diff stdout "$d/stdout" "$tmp/out" >>"$diag"
	fi
	if ! cmp -s "$d/stderr" "$tmp/err"; then
		ok=1
		show_diff stderr "$d/stderr" "$tmp/err" >>"$diag"
	fi
	if [ -d "$d/files" ]; then
		local name
		(cd "$d/files" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/want.list"
		(cd "$wd" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/have.list"
		if [ -d "$d/given" ]; then
			(cd "$d/given" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/given.list"
		else
			: >"$tmp/given.list"
		fi
		while IFS= read -r name; do
			if [ ! -e "$wd/$name" ]; then
				ok=1
				echo "missing file: $name" >>"$diag"
			elif ! cmp -s "$d/files/$name" "$wd/$name"; then
				ok=1
				show_diff "$name" "$d/files/$name" "$wd/$name" >>"$diag"
			fi
		done <"$tmp/want.list"
		while IFS= read -r name; do
			grep -qxF -- "$name" "$tmp/want.list" && continue
			grep -qxF -- "$name" "$tmp/given.list" && continue
			ok=1
			echo "unexpected file: $name" >>"$diag"
		done <"$tmp/have.list"
	fi
	return $ok
}

k=0
while [ "$k" -lt "$ncases" ]; do
	k=$((k + 1))
	title="$(cat "$tmp/c/$k/file"): $(cat "$tmp/c/$k/name")"
	if run_case "$k"; then
		echo "ok $k - $title"
	else
		failed=$((failed + 1))
		echo "not ok $k - $title"
		sed 's/^/# /' "$diag"
	fi
done
[ "$failed" -eq 0 ] || echo "# $failed of $ncases cases failed"
[ "$failed" -eq 0 ]
