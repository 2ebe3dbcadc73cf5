#!/usr/bin/python3
"""Score a pii-mask report against a labelled corpus (fixtures/pii/*.jsonl).

usage: score.py CORPUS.jsonl REPORT.json [--out OUT.jsonl] [--json]

CORPUS has one JSON record a line with "text" and "labels" (a list of
{"type","start","end"}: code-point offsets into text, end exclusive; no
"labels" means none). REPORT is what `pii-mask --report REPORT --spans`
wrote: its "spans" entries are matched to corpus records by src.line, and
only masks of path "text" count.

Per label type: labels; recalled = the label's range lies inside the union
of all masks of its record, whatever their type; typed = inside the union of
the masks of its own type. Per mask type: masks, and fp = masks that overlap
no label. Then fp per 10,000 words (words = whitespace-split tokens of text)
and the masks in records without labels.

--out OUT.jsonl (pii-mask's output for CORPUS) also checks the output: lines
that are not JSON objects, one output record per corpus record, labelled
values still in the output text (all, and those the report says it masked),
and speaker names still in any output text. Speaker names come from the
top-level "speaker" strings of the corpus: the first word (a title or
affiliation after it is not a name), and for a Korean full name its given
name too; aliases such as 회원님 are not names; only tokens of 2 or more
characters count.

Prints a table, or with --json one JSON object (tests/pii/eval.sh reads it).
"""

import json
import sys

ALIASES = {"회원님", "나", "you", "You", "me", "Me"}
COMPOUND = ("남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방")


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def union(spans):
    """Sorted, merged (start, end) ranges; touching ranges merge."""
    out = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def inside(ranges, s, e):
    return any(a <= s and e <= b for a, b in ranges)


def speaker_names(records):
    """Name tokens of the speakers, in order of first appearance."""
    names = []
    for rec in records:
        sp = rec.get("speaker")
        if not isinstance(sp, str) or not sp.split() or sp.strip() in ALIASES:
            continue
        name = sp.split()[0]
        toks = [name]
        if 3 <= len(name) <= 5 and all("\uac00" <= c <= "\ud7a3" for c in name):
            toks.append(name[2:] if name[:2] in COMPOUND else name[1:])
        for t in toks:
            if len(t) >= 2 and t not in names:
                names.append(t)
    return names


def score(corpus_path, report_path, out_path=None):
    corpus = load_jsonl(corpus_path)
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    masks = {}                                  # corpus line -> [(type, start, end)]
    bad = 0
    for entry in report.get("spans", []):
        line = entry.get("src", {}).get("line")
        for m in entry.get("masks", []):
            if m.get("path") != "text":
                continue
            ok = isinstance(line, int) and 1 <= line <= len(corpus)
            if ok:
                n = len(corpus[line - 1].get("text", ""))
                ok = 0 <= m["start"] < m["end"] <= n
            if not ok:
                bad += 1
                continue
            masks.setdefault(line, []).append((m["type"], m["start"], m["end"]))

    types, missed = {}, []
    words = fp_total = unlabelled_masks = 0

    def row(t):
        return types.setdefault(t, {"labels": 0, "recalled": 0, "typed": 0, "masks": 0, "fp": 0})

    covered = []                                # per record: recalled flags of its labels
    for line, rec in enumerate(corpus, 1):
        text = rec.get("text", "")
        labels = rec.get("labels") or []
        words += len(text.split())
        ms = masks.get(line, [])
        every = union((s, e) for _, s, e in ms)
        flags = []
        for lab in labels:
            s, e, t = lab["start"], lab["end"], lab["type"]
            r = row(t)
            r["labels"] += 1
            hit = inside(every, s, e)
            flags.append(hit)
            if hit:
                r["recalled"] += 1
            else:
                missed.append({"line": line, "id": rec.get("id"), "type": t, "value": text[s:e]})
            if inside(union((a, b) for mt, a, b in ms if mt == t), s, e):
                r["typed"] += 1
        covered.append(flags)
        for t, s, e in ms:
            r = row(t)
            r["masks"] += 1
            if not any(s < lab["end"] and lab["start"] < e for lab in labels):
                r["fp"] += 1
                fp_total += 1
            if not labels:
                unlabelled_masks += 1

    total = {k: sum(r[k] for r in types.values()) for k in ("labels", "recalled", "typed", "masks", "fp")}
    res = {"corpus": corpus_path, "records": len(corpus), "words": words,
           "types": dict(sorted(types.items())), "total": total, "fp": fp_total,
           "fp_per_10k_words": round(fp_total * 10000 / words, 3) if words else 0.0,
           "unlabelled_masks": unlabelled_masks, "bad_spans": bad, "missed": missed}
    if out_path:
        res["out"] = check_output(corpus, covered, out_path)
    return res


def check_output(corpus, covered, out_path):
    lines = invalid = 0
    out = []
    with open(out_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            lines += 1
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            if not isinstance(rec, dict):
                invalid += 1
                rec = {}
            out.append(rec)
    left = left_masked = 0
    examples = []
    if len(out) == len(corpus):
        for rec, orig, flags in zip(out, corpus, covered):
            text = rec.get("text")
            if not isinstance(text, str):
                continue
            for lab, hit in zip(orig.get("labels") or [], flags):
                value = orig["text"][lab["start"]:lab["end"]]
                if value in text:
                    left += 1
                    left_masked += hit
                    if hit and len(examples) < 10:
                        examples.append({"id": orig.get("id"), "type": lab["type"], "value": value})
    names = speaker_names(corpus)
    speaker_left = []
    for rec in out:
        text = rec.get("text")
        if isinstance(text, str):
            speaker_left += [n for n in names if n in text]
    return {"lines": lines, "invalid": invalid, "records_match": len(out) == len(corpus),
            "left": left, "left_masked": left_masked, "left_masked_examples": examples,
            "speaker_names": len(names), "speaker_left": len(speaker_left),
            "speaker_left_examples": sorted(set(speaker_left))[:10]}


def pct(a, b):
    return "%7.2f%%" % (100.0 * a / b) if b else "      -"


def table(res):
    t = res["total"]
    print("%s: %d records, %d words, %d labels, %d masks" % (res["corpus"], res["records"], res["words"],
                                                            t["labels"], t["masks"]))
    print("%-10s %7s %16s %16s %7s %6s" % ("type", "labels", "recalled", "typed", "masks", "fp"))
    for name, r in list(res["types"].items()) + [("all", t)]:
        print("%-10s %7d %7d %s %7d %s %7d %6d" % (name, r["labels"], r["recalled"], pct(r["recalled"], r["labels"]),
                                                r["typed"], pct(r["typed"], r["labels"]), r["masks"], r["fp"]))
    print("false positives: %d, %.2f per 10,000 words; masks in records without labels: %d; bad spans: %d"
          % (res["fp"], res["fp_per_10k_words"], res["unlabelled_masks"], res["bad_spans"]))
    for m in res["missed"][:15]:
        print("missed: line %d %s %s %s" % (m["line"], m["id"] or "", m["type"], json.dumps(m["value"], ensure_ascii=False)))
    if len(res["missed"]) > 15:
        print("missed: ... %d more" % (len(res["missed"]) - 15))
    o = res.get("out")
    if o:
        print("output: %d lines, %d not JSON objects, %s; labelled values left: %d (%d the report says it masked);"
              " speaker names left: %d of %d"
              % (o["lines"], o["invalid"], "one per record" if o["records_match"] else "record count differs",
                 o["left"], o["left_masked"], o["speaker_left"], o["speaker_names"]))
        for x in o["speaker_left_examples"]:
            print("speaker name left: %s" % x)
        for x in o["left_masked_examples"]:
            print("masked but left: %s %s %s" % (x["id"], x["type"], json.dumps(x["value"], ensure_ascii=False)))


def main(argv):
    args, as_json, out = [], False, None
    it = iter(argv)
    for a in it:
        if a == "--json":
            as_json = True
        elif a == "--out":
            out = next(it, None)
        else:
            args.append(a)
    if len(args) != 2 or (out is None and "--out" in argv):
        print("usage: score.py CORPUS.jsonl REPORT.json [--out OUT.jsonl] [--json]", file=sys.stderr)
        return 2
    res = score(args[0], args[1], out)
    if as_json:
        print(json.dumps(res, ensure_ascii=False))
    else:
        table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
