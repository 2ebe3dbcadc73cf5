#!/bin/sh
# Self-test of the JSON Schemas in schemas/ with tests/schema/validate.py.
# Output is TAP.  For each schema NAME.schema.json:
#   - the schema itself is valid draft 2020-12 (check_schema);
#   - every record of cases/NAME.valid.jsonl validates;
#   - EVERY line of cases/NAME.invalid.jsonl, taken on its own, fails.
# Plus a few checks of the validator's own input handling and exit codes.
#
# The validator needs Debian's python3-jsonschema, i.e. /usr/bin/python3 (the
# python3 first on PATH may lack the module).  Override with PYTHON=...
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
v="$here/validate.py"
cases="$here/cases"

if ! "$py" -c 'import jsonschema' 2>/dev/null; then
	echo "1..0 # SKIP $py has no jsonschema module (apt-get install python3-jsonschema)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/schema-cases.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
fail=0
results="$tmp/results"
: >"$results"

# record DESC STATUS: STATUS 0 = ok; stderr of the last run is in $tmp/err
record() {
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		printf 'ok %d - %s\n' "$n" "$1" >>"$results"
	else
		fail=$((fail + 1))
		printf 'not ok %d - %s\n' "$n" "$1" >>"$results"
		sed 's/^/# /' "$tmp/err" >>"$results"
	fi
}

# expect CODE DESC CMD...: run CMD, pass when it exits with CODE
expect() {
	want=$1 desc=$2
	shift 2
	"$@" >/dev/null 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "exit status $got, expected $want" >>"$tmp/err"
		record "$desc" 1
	else
		record "$desc" 0
	fi
}

# expect_in CODE DESC INPUTFILE SCHEMA: validate stdin from INPUTFILE
expect_in() {
	want=$1 desc=$2 in=$3 schema=$4
	"$py" "$v" "$schema" <"$in" >/dev/null 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "exit status $got, expected $want" >>"$tmp/err"
		record "$desc" 1
	else
		record "$desc" 0
	fi
}

for name in chat-message sft-example qa-pair video-sample; do
	schema="$root/schemas/$name.schema.json"
	expect 0 "$name: schema is valid draft 2020-12" "$py" "$v" "$schema" /dev/null
	expect 0 "$name: all records of $name.valid.jsonl validate" \
		"$py" "$v" "$schema" "$cases/$name.valid.jsonl"
	invalid="$cases/$name.invalid.jsonl"
	if [ ! -s "$invalid" ]; then
		echo "$invalid is missing or empty" >"$tmp/err"
		record "$name: invalid cases exist" 1
		continue
	fi
	ln=0
	while IFS= read -r line || [ -n "$line" ]; do
		ln=$((ln + 1))
		[ -z "$(printf '%s' "$line" | tr -d ' \t\r')" ] && continue
		printf '%s\n' "$line" >"$tmp/one.jsonl"
		expect_in 1 "$name: $name.invalid.jsonl line $ln is rejected" \
			"$tmp/one.jsonl" "$schema"
	done <"$invalid"
done

# The validator's own behaviour.
sft="$root/schemas/sft-example.schema.json"
ok='{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"안녕"}]}'
printf '\357\273\277%s\r\n\r\n  \n%s\n' "$ok" "$ok" >"$tmp/bom.jsonl"
expect 0 "validate.py: BOM, CRLF and blank lines are accepted" "$py" "$v" "$sft" "$tmp/bom.jsonl"
printf '%s\n' "$ok" "$ok" "$ok" | sed '2s/"hi"/NaN/' >"$tmp/nan.jsonl"
expect 1 "validate.py: NaN is not JSON" "$py" "$v" "$sft" "$tmp/nan.jsonl"
printf '{"messages":[{"role":"user","content":"\377"}]}\n' >"$tmp/utf8.jsonl"
expect 1 "validate.py: invalid UTF-8 is rejected" "$py" "$v" "$sft" "$tmp/utf8.jsonl"
"$py" -c 'print("{\"instruction\":\"x\",\"output\":\"y\",\"meta\":" + "[" * 1000 + "]" * 1000 + "}")' >"$tmp/deep.jsonl"
expect 1 "validate.py: nesting deeper than 1000 is rejected" "$py" "$v" "$sft" "$tmp/deep.jsonl"
"$py" -c 'print("{\"instruction\":\"x\",\"output\":\"y\",\"meta\":{\"a\":" + "[" * 998 + "]" * 998 + "}}")' >"$tmp/deep-ok.jsonl"
expect 0 "validate.py: nesting of exactly 1000 is accepted" "$py" "$v" "$sft" "$tmp/deep-ok.jsonl"
expect 2 "validate.py: no arguments is a usage error" "$py" "$v"
expect 2 "validate.py: missing input file exits 2" "$py" "$v" "$sft" "$tmp/does-not-exist.jsonl"
printf '{"type": 5}\n' >"$tmp/bad-schema.json"
expect 2 "validate.py: invalid schema exits 2" "$py" "$v" "$tmp/bad-schema.json" /dev/null

echo "1..$n"
cat "$results"
[ "$fail" -eq 0 ]
