#!/usr/bin/env bash
# Conformance: real KakaoTalk exports through `kakao-parse | pii-mask` leave
# no speaker's name in any text.
#
#   tests/conformance/pii-kakaoship.sh BIN_DIR
#
# Reads ../shared/external/kakaotalk/kakaoship/ (relative to the repository
# root; third-party material, never copied into the repository). For each
# export: kakao-parse (default: chat messages) piped into pii-mask with its
# defaults, then checks every string of every masked record for the names of
# the export's people (its speakers, and those its join and invite lines
# name, such as the owner of an Android export): the label as written,
# each Korean full name in it (3 syllables) and its given name. Aliases of the owner (회원님, you, You)
# are not names; titles and teams after a name (멘토님, 소마) are not names.
# Prints TAP; without the material directory a single skipped test.
set -u
bin=${1:?usage: tests/conformance/pii-kakaoship.sh BIN_DIR}
bin=$(cd "$bin" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BIN_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.."
dir=../shared/external/kakaotalk/kakaoship
if [ ! -d "$dir" ]; then
    echo "1..1"
    echo "ok 1 - # SKIP $dir not present"
    exit 0
fi
files=("$dir"/*)
echo "1..${#files[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
for f in "${files[@]}"; do
    n=$((n + 1))
    name=$(basename "$f")
    if ! "$bin/kakao-parse" "$f" > "$work/in.jsonl" 2> "$work/err" ||
       ! "$bin/pii-mask" "$work/in.jsonl" > "$work/out.jsonl" 2>> "$work/err"; then
        echo "not ok $n - $name: kakao-parse | pii-mask failed"
        sed 's/^/# /' "$work/err"
        continue
    fi
    /usr/bin/python3 - "$work/in.jsonl" "$work/out.jsonl" "$name" "$n" <<'PY'
import json, re, sys
src, out, name, n = sys.argv[1:5]
aliases = {"회원님", "you", "You", "나", ""}
names = set()
records = [json.loads(l) for l in open(src, encoding="utf-8")]
people = [r["speaker"] for r in records]
for r in records:
    if r["kind"] != "system":
        continue
    t = r["text"]
    m = re.fullmatch(r"(.+?) invited (.+?)\.", t)
    if m:
        people += [m.group(1)] + [p for p in re.split(r", | and ?", m.group(2)) if p]
    elif t.endswith(("초대했습니다.", "초대하였습니다.", "나갔습니다.", "들어왔습니다.")):
        people += [p.strip() for p in re.findall(r"(?:^|님[이과을와를,] ?)(.*?)(?=님[이과을와를,])", t)]
for s in people:
    if s in aliases:
        continue
    names.add(s)
    for word in s.split():
        if re.fullmatch(r"[가-힣]{3}", word) and not word.endswith("님"):
            names.update((word, word[1:]))
left = []
masked = [json.loads(l) for l in open(out, encoding="utf-8")]
def strings(v):
    if isinstance(v, str): yield v
    elif isinstance(v, dict):
        for x in v.values(): yield from strings(x)
    elif isinstance(v, list):
        for x in v: yield from strings(x)
for r in masked:
    for key in ("chat", "speaker", "text"):
        for s in strings(r.get(key, "")):
            left += [(nm, s[:60]) for nm in names if nm in s]
ok = len(masked) == len(records) and not left
print(("ok" if ok else "not ok") + f" {n} - {name}: {len(records)} messages, {len(names)} name forms "
      f"({', '.join(sorted(names))}), {len(left)} left")
for nm, s in left[:10]:
    print(f"#   {nm!r} in {s!r}")
PY
done
