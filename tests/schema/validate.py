#!/usr/bin/python3
# Validate JSONL records against an sftkit JSON Schema (draft 2020-12).
#
# Test-only helper.  Run it with /usr/bin/python3: Debian's python3-jsonschema
# (4.10) is installed for the system Python; the `python3` first on PATH may be
# another interpreter (pyenv) without the jsonschema module.
#
# usage: /usr/bin/python3 tests/schema/validate.py SCHEMA.json [FILE.jsonl ...]
#
# Reads the FILEs (stdin when none, or for '-'), validates every non-blank
# line, and prints "FILE:LINE: message" on stderr for each invalid record.
# Input rules follow sftkit-records(5): UTF-8, \n or \r\n line ends, a leading
# BOM tolerated, blank lines ignored, one JSON object per line, strict JSON
# (NaN and Infinity are rejected).
#
# Exit status: 0 all records valid, 1 some record invalid, 2 usage or I/O
# error (including an invalid schema).

import json
import sys

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError, best_match
except ImportError:
    sys.stderr.write("validate.py: the jsonschema module is missing; "
                     "run with /usr/bin/python3 (apt-get install python3-jsonschema)\n")
    sys.exit(2)

PROG = "validate.py"
MAX_DEPTH = 1000


def usage(out, code):
    out.write("usage: /usr/bin/python3 %s SCHEMA.json [FILE.jsonl ...]\n" % PROG)
    sys.exit(code)


def reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def depth(v):
    """Nesting depth of a decoded value, iteratively (no recursion limit)."""
    best, stack = 0, [(v, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, dict):
            best = max(best, d)
            stack.extend((y, d + 1) for y in x.values())
        elif isinstance(x, list):
            best = max(best, d)
            stack.extend((y, d + 1) for y in x)
    return best


def where(error):
    path = "$"
    for p in error.absolute_path:
        path += "[%d]" % p if isinstance(p, int) else ".%s" % p
    return path


def check_line(validator, raw):
    """Return None when the line holds a valid record, else a reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return "invalid UTF-8 at byte offset %d" % e.start
    try:
        rec = json.loads(text, parse_constant=reject_constant)
    except RecursionError:
        return "nesting deeper than %d" % MAX_DEPTH
    except ValueError as e:
        return "invalid JSON: %s" % e
    if not isinstance(rec, dict):
        return "not a JSON object"
    if depth(rec) > MAX_DEPTH:
        return "nesting deeper than %d" % MAX_DEPTH
    err = best_match(validator.iter_errors(rec))
    if err is None:
        return None
    msg = err.message
    if len(msg) > 300:
        msg = msg[:297] + "..."
    return "%s: %s" % (where(err), msg)


def check_stream(validator, name, f):
    bad = 0
    for n, raw in enumerate(f, 1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        if not raw.strip(b" \t\r"):
            continue
        reason = check_line(validator, raw)
        if reason is not None:
            sys.stderr.write("%s:%d: %s\n" % (name, n, reason))
            bad += 1
    return bad


def main(argv):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * MAX_DEPTH))
    if len(argv) >= 2 and argv[1] in ("-h", "--help"):
        usage(sys.stdout, 0)
    if len(argv) < 2:
        usage(sys.stderr, 2)
    schema_path, files = argv[1], argv[2:] or ["-"]
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except OSError as e:
        sys.stderr.write("%s: %s: %s\n" % (PROG, schema_path, e.strerror))
        return 2
    except ValueError as e:
        sys.stderr.write("%s: %s: invalid JSON: %s\n" % (PROG, schema_path, e))
        return 2
    except SchemaError as e:
        sys.stderr.write("%s: %s: invalid schema: %s\n" % (PROG, schema_path, e.message))
        return 2
    validator = Draft202012Validator(schema)
    bad = 0
    for path in files:
        try:
            if path == "-":
                bad += check_stream(validator, "<stdin>", sys.stdin.buffer)
            else:
                with open(path, "rb") as f:
                    bad += check_stream(validator, path, f)
        except OSError as e:
            sys.stderr.write("%s: %s: %s\n" % (PROG, path, e.strerror))
            return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
