#!/usr/bin/python3
"""Cross-format conformance check for kakao-parse on the kakaoship exports.

    kakao_compare.py WORKDIR NAME...

WORKDIR holds, for each NAME (an export's file name), the parser's output
NAME.jsonl, its standard error NAME.err and its exit status NAME.rc, written
by kakaoship.sh. Prints TAP on standard output:

  * one test per export: exit 0, at least one message, nothing on stderr;
  * one test per pair of exports: inside the overlap of both exports' time
    ranges, minute by minute (ts[:16]), the ordered text messages agree
    (same kind, same text, speakers related by one consistent one-to-one
    mapping for the whole pair), the ordered media placeholders agree in
    kind and (mapped) speaker, and the number of system notices agrees
    (their wording differs between phones and UI languages, so it is not
    compared);
  * one test that photo placeholders of every format line up at the same
    minutes.

The overlap of two exports is the span between the later first message and
the earlier last message, restricted to the days on which both exports have
messages: an export may lack a whole day (ios_kr.txt has nothing on
2015-07-19), which no minute-level comparison can tell from silence. Each
day excluded that way is reported in a '#' line, after checking that the
export without it really lacks that day's texts. A pair whose overlap holds
fewer than MIN_COMPARED messages fails. Differences of the exports
themselves (see ALLOWANCES) are accepted only where the raw files prove
them, and each is reported in a '#' line. Exits 1 when a test failed.

Standard library only.
"""

import itertools
import json
import os
import sys

MIN_COMPARED = 20
TEXT_KINDS = ("text", "link")  # compared message by message, text included
MAX_DIFFS = 8  # mismatches shown per failing test


def load(workdir, name):
    """Returns (messages, problems) for one export's parser output."""
    problems = []
    msgs = []
    path = os.path.join(workdir, name + ".jsonl")
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    m = json.loads(line)
                except ValueError as e:
                    problems.append("output line %d is not JSON: %s" % (n, e))
                    continue
                missing = [k for k in ("ts", "speaker", "text", "kind", "src") if k not in m]
                if missing:
                    problems.append("output line %d lacks %s" % (n, ", ".join(missing)))
                    continue
                msgs.append(m)
    except OSError as e:
        problems.append("cannot read output: %s" % e)
    return msgs, problems


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def where(m):
    return "line %s" % m["src"].get("line", "?")


def by_minute(msgs, keep):
    """Groups messages whose minute passes keep() into per-minute records."""
    minutes = {}
    for m in msgs:
        key = m["ts"][:16]
        if not keep(key):
            continue
        rec = minutes.setdefault(key, {"text": [], "media": [], "system": []})
        if m["kind"] in TEXT_KINDS:
            rec["text"].append(m)
        elif m["kind"] == "system":
            rec["system"].append(m)
        else:
            rec["media"].append(m)
    return minutes


class Mapping:
    """A one-to-one speaker mapping built up from aligned messages."""

    def __init__(self):
        self.fwd = {}
        self.rev = {}
        self.conflicts = []

    def relate(self, a, b, ma, mb):
        fa = self.fwd.get(a)
        rb = self.rev.get(b)
        if fa is None and rb is None:
            self.fwd[a] = b
            self.rev[b] = a
            return True
        if fa == b and rb == a:
            return True
        self.conflicts.append(
            "speaker %r (%s) vs %r (%s) contradicts the mapping %s"
            % (a, where(ma), b, where(mb),
               "; ".join(x for x in (
                   "%r->%r" % (a, fa) if fa is not None else "",
                   "%r->%r" % (rb, b) if rb is not None else "") if x)))
        return False

    def describe(self):
        return ", ".join("%s->%s" % (a, b) for a, b in sorted(self.fwd.items()))


def short(s, n=60):
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "..."


# Differences between the exports themselves, not the parser's doing, that a
# pair comparison accepts. Each is proved from the raw export files, so a
# parser that drops or trims text is still caught; each accepted case is
# reported in a '#' line.
ALLOWANCES = {
    "edge-space": "the iOS export trims spaces at the start and end of a "
                  "message (Android and Mac CSV exports keep them, and so does "
                  "kakao-parse); accepted when the iOS message's raw line ends "
                  "with ' : ' and exactly our text",
    "absent": "a message that one export does not contain at all (its text "
              "occurs nowhere in the other export's raw file), e.g. the "
              "Android exports lack one message of 2015-07-26 21:33",
}

_raw_cache = {}


def raw_lines(path):
    """The raw export as a list of lines (CR LF folded, BOM dropped)."""
    if path not in _raw_cache:
        try:
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
                text = f.read()
        except OSError:
            text = ""
        text = text.replace("\r\n", "\n")
        _raw_cache[path] = (text, text.split("\n"))
    return _raw_cache[path]


def is_ios(name):
    return name.startswith("ios_")


def ios_trimmed(m):
    """True when m's raw line ends with ' : ' and m's text, untrimmed."""
    if "\n" in m["text"]:
        return False
    _, lines = raw_lines(m["src"].get("file", ""))
    n = m["src"].get("line", 0)
    if not isinstance(n, int) or not 1 <= n <= len(lines):
        return False
    line = lines[n - 1]
    return line.endswith(" : " + m["text"]) and m["text"] == m["text"].strip()


def absent_from(m, other_msgs):
    """True when m's text occurs nowhere in the raw file of the other export."""
    if not other_msgs or len(m["text"].strip()) < 8:
        return False  # short texts occur anywhere; never accepted
    text, _ = raw_lines(other_msgs[0]["src"].get("file", ""))
    t = m["text"]
    return not any(v in text for v in {t, t.strip(), t.replace('"', '""')})


def texts_match(na, x, nb, y, notes):
    if x["text"] == y["text"]:
        return True
    if x["text"].strip() != y["text"].strip():
        return False
    for n, m in ((na, x), (nb, y)):
        if is_ios(n) and m["text"] == m["text"].strip() and ios_trimmed(m):
            notes.append("edge-space: %s %s %r vs %s %s %r" % (
                na, where(x), short(x["text"], 30), nb, where(y), short(y["text"], 30)))
            return True
    return False


def align_texts(na, xs, nb, ys, mapping, notes):
    """Compares two minutes' ordered text messages; returns mismatches."""
    diffs = []
    i = j = 0
    while i < len(xs) or j < len(ys):
        x = xs[i] if i < len(xs) else None
        y = ys[j] if j < len(ys) else None
        if x is not None and y is not None and x["kind"] == y["kind"] and texts_match(na, x, nb, y, notes):
            if not mapping.relate(x["speaker"], y["speaker"], x, y):
                diffs.append(mapping.conflicts[-1])
            i += 1
            j += 1
            continue
        # Not matching: accept a message the other export lacks entirely.
        if x is not None and absent_from(x, ALL[nb]):
            notes.append("absent: %s %s %s: %r is not in %s" % (
                na, where(x), x["speaker"], short(x["text"], 30), nb))
            i += 1
            continue
        if y is not None and absent_from(y, ALL[na]):
            notes.append("absent: %s %s %s: %r is not in %s" % (
                nb, where(y), y["speaker"], short(y["text"], 30), na))
            j += 1
            continue
        if x is None or y is None:
            m, n = (x, na) if y is None else (y, nb)
            diffs.append("%s %s has %s %s %r with no counterpart" % (
                n, where(m), m["kind"], m["speaker"], short(m["text"])))
            if y is None:
                i += 1
            else:
                j += 1
            continue
        diffs.append("%s %s %s %r (%s) vs %s %s %s %r (%s)" % (
            na, x["kind"], x["speaker"], short(x["text"]), where(x),
            nb, y["kind"], y["speaker"], short(y["text"]), where(y)))
        i += 1
        j += 1
    return diffs


ALL = {}  # export name -> its messages, for the raw-file checks


def compare_pair(na, a, nb, b):
    """Returns (ok, diagnostics) for one pair of exports."""
    diag = []
    if not a or not b:
        return False, ["no messages to compare (%s: %d, %s: %d)" % (na, len(a), nb, len(b))]
    lo = max(min(m["ts"][:16] for m in a), min(m["ts"][:16] for m in b))
    hi = min(max(m["ts"][:16] for m in a), max(m["ts"][:16] for m in b))
    if lo > hi:
        return True, ["no overlap in time (nothing to compare)"]
    days_a = {m["ts"][:10] for m in a if lo <= m["ts"][:16] <= hi}
    days_b = {m["ts"][:10] for m in b if lo <= m["ts"][:16] <= hi}
    days = days_a & days_b
    # A day only one export has: excluded, after checking that the other
    # export's raw file really lacks that day's messages (so that a parser
    # dropping a day is not mistaken for an export without it).
    day_problems = []
    for (n1, m1, n2, m2, only) in ((na, a, nb, b, days_a - days_b), (nb, b, na, a, days_b - days_a)):
        for d in sorted(only):
            texts = [m for m in m1 if m["ts"][:10] == d and m["kind"] in TEXT_KINDS
                     and len(m["text"].strip()) >= 8]
            # A text found in the raw file is explained when the parser
            # gave it to a message of another day of that export.
            parsed = {m["text"].strip() for m in m2}
            present = [m for m in texts if not absent_from(m, m2)]
            found = [m for m in present if m["text"].strip() not in parsed]
            diag.append("day %s excluded: %s has messages on it, %s none "
                        "(%d of its texts checked absent from %s's raw file, "
                        "%d found there as other days' messages)"
                        % (d, n1, n2, len(texts) - len(present), n2,
                           len(present) - len(found)))
            for m in found[:3]:
                day_problems.append("day %s: %s %s %r occurs in %s's raw file, "
                                    "but kakao-parse gave no message on that day"
                                    % (d, n1, where(m), short(m["text"], 30), n2))

    def keep(key):
        return lo <= key <= hi and key[:10] in days

    ma, mb = by_minute(a, keep), by_minute(b, keep)
    mapping = Mapping()
    diffs = []
    notes = []
    counts = {"text": 0, "media": 0, "system": 0}
    for key in sorted(set(ma) | set(mb)):
        ra = ma.get(key, {"text": [], "media": [], "system": []})
        rb = mb.get(key, {"text": [], "media": [], "system": []})
        for part in ("text", "media", "system"):
            counts[part] += len(ra[part])
        # Text messages: the ordered sequence within the minute.
        for d in align_texts(na, ra["text"], nb, rb["text"], mapping, notes):
            diffs.append("%s: %s" % (key, d))
        # Media placeholders: kinds in order, speakers through the mapping.
        kinds_a = [m["kind"] for m in ra["media"]]
        kinds_b = [m["kind"] for m in rb["media"]]
        if kinds_a != kinds_b:
            diffs.append("%s: placeholders %s in %s (%s) vs %s in %s (%s)" % (
                key, kinds_a, na, ", ".join(where(m) for m in ra["media"]),
                kinds_b, nb, ", ".join(where(m) for m in rb["media"])))
        else:
            for x, y in zip(ra["media"], rb["media"]):
                if not mapping.relate(x["speaker"], y["speaker"], x, y):
                    diffs.append("%s: %s" % (key, mapping.conflicts[-1]))
        # System notices: wording differs per phone and language; count only.
        if len(ra["system"]) != len(rb["system"]):
            diffs.append("%s: %d system notices in %s, %d in %s" % (
                key, len(ra["system"]), na, len(rb["system"]), nb))
    total = sum(counts.values())
    diag.append("overlap %s .. %s, %d days: compared %d messages of %s "
                "(%d text, %d placeholders, %d system) in %d minutes" % (
                    lo, hi, len(days), total, na, counts["text"], counts["media"],
                    counts["system"], len(set(ma) | set(mb))))
    diag.append("speaker mapping: %s" % mapping.describe())
    if notes:
        diag.append("%d accepted export differences (see ALLOWANCES):" % len(notes))
        diag.extend("  " + x for x in notes)
    diffs = day_problems + diffs
    ok = not diffs
    if total < MIN_COMPARED:
        ok = False
        diag.append("only %d messages compared; at least %d required" % (total, MIN_COMPARED))
    if diffs:
        diag.append("%d mismatches:" % len(diffs))
        diag.extend("  " + d for d in diffs[:MAX_DIFFS])
        if len(diffs) > MAX_DIFFS:
            diag.append("  ... %d more" % (len(diffs) - MAX_DIFFS))
    return ok, diag


def photo_check(names, data):
    """Photo placeholders of every export fall on the same minutes."""
    diag = []
    ok = True
    photos = {}
    for n in names:
        p = [m for m in data[n] if m["kind"] == "photo"]
        photos[n] = p
        texts = sorted({m["text"] for m in p})
        diag.append("%s: %d photos, placeholder text %s" % (n, len(p), " | ".join(map(repr, texts))))
        if not p and data[n]:
            ok = False
            diag.append("%s: no message of kind photo" % n)
    compared = 0
    for na, nb in itertools.combinations(names, 2):
        a, b = data[na], data[nb]
        if not a or not b:
            continue
        lo = max(min(m["ts"][:16] for m in a), min(m["ts"][:16] for m in b))
        hi = min(max(m["ts"][:16] for m in a), max(m["ts"][:16] for m in b))
        days = {m["ts"][:10] for m in a} & {m["ts"][:10] for m in b}

        def minutes(p):
            return sorted(m["ts"][:16] for m in p if lo <= m["ts"][:16] <= hi and m["ts"][:10] in days)

        pa, pb = minutes(photos[na]), minutes(photos[nb])
        compared += len(pa)
        if pa != pb:
            ok = False
            diag.append("%s vs %s: photo minutes differ: only in %s %s, only in %s %s" % (
                na, nb, na, sorted(set(pa) - set(pb)) or "-", nb, sorted(set(pb) - set(pa)) or "-"))
    diag.append("%d photo placements compared over all pairs" % compared)
    if compared == 0:
        ok = False
    return ok, diag


def main():
    if len(sys.argv) < 3:
        print("usage: kakao_compare.py WORKDIR NAME...", file=sys.stderr)
        return 2
    workdir, names = sys.argv[1], sys.argv[2:]
    pairs = list(itertools.combinations(names, 2))
    print("1..%d" % (len(names) + len(pairs) + 1))
    n = 0
    failed = 0

    def result(ok, name, diag):
        nonlocal n, failed
        n += 1
        failed += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
        for d in diag:
            for line in str(d).splitlines() or [""]:
                print("# " + line)

    data = {}
    for name in names:
        msgs, problems = load(workdir, name)
        data[name] = msgs
        ALL[name] = msgs
        rc = read_text(os.path.join(workdir, name + ".rc")).strip()
        err = read_text(os.path.join(workdir, name + ".err"))
        diag = []
        if rc != "0":
            diag.append("exit status %s (want 0)" % rc)
        if not msgs:
            diag.append("no messages")
        if err:
            diag.append("stderr is not empty:")
            diag.extend("  " + l for l in err.splitlines()[:20])
        diag.extend(problems)
        ok = not diag
        if ok:
            kinds = {}
            for m in msgs:
                kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
            diag.append("%d messages: %s" % (len(msgs), ", ".join(
                "%s %d" % kv for kv in sorted(kinds.items()))))
        result(ok, "%s parses (exit 0, messages, quiet stderr)" % name, diag)

    for na, nb in pairs:
        ok, diag = compare_pair(na, data[na], nb, data[nb])
        result(ok, "%s and %s agree where they overlap" % (na, nb), diag)

    ok, diag = photo_check(names, data)
    result(ok, "photo placeholders line up across formats", diag)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
