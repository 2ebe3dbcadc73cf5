#!/usr/bin/python3
"""kakao_baseline.py FILE - the Python baseline of the kakao-parse benchmark.

A straightforward line parser for a KakaoTalk Android export (Korean UI),
written the way one would write it by hand: one compiled regular expression
per line, 12-hour clock to 24-hour, lines that start no message appended to
the message before them.  It writes one JSON line per message to stdout,

  {"chat": ROOM, "i": N, "ts": "2024-03-01T14:37:00+09:00", "speaker": NAME,
   "text": TEXT, "kind": "text", "src": {"file": FILE, "line": N}}

Two kinds of line start no message but are not text either, and a parser
that is used in earnest has to know them (tests/bench/README explains why
the benchmark needs it):
  - the bare date line at the start of each day ("2024년 3월 1일 오후 2:37",
    after an empty line) is dropped, with the empty line before it;
  - a system line ("2024년 3월 1일 오후 2:37, 김하늘님이 나갔습니다.", a stamp
    without " : NAME") becomes a record of kind "system" with speaker "".
Media placeholders (사진, 이모티콘, ...) stay kind "text": the baseline does
not classify.  Times are the export's local clock, written as +09:00 (KST).

Stdlib only.  Usage: /usr/bin/python3 kakao_baseline.py talk.txt > talk.jsonl
"""
import json
import os
import re
import sys

MSG = re.compile(r'^(\d{4})년 (\d{1,2})월 (\d{1,2})일 (오전|오후) (\d{1,2}):(\d{2}), (.+?) : (.*)$')
SYSTEM = re.compile(r'^(\d{4})년 (\d{1,2})월 (\d{1,2})일 (오전|오후) (\d{1,2}):(\d{2}), (.*)$')
DATE = re.compile(r'^\d{4}년 \d{1,2}월 \d{1,2}일 (?:오전|오후) \d{1,2}:\d{2}$')
TITLE_SUFFIX = ' 님과 카카오톡 대화'


def timestamp(m):
    year, month, day, ampm, hour, minute = m.group(1, 2, 3, 4, 5, 6)
    hour = int(hour) % 12
    if ampm == '오후':
        hour += 12
    return '%s-%02d-%02dT%02d:%s:00+09:00' % (year, int(month), int(day), hour, minute)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: kakao_baseline.py FILE\n')
        return 2
    path = sys.argv[1]
    out = sys.stdout
    chat = os.path.basename(path)
    i = 0
    cur = None        # the message being read: [ts, speaker, kind, line]
    lines = None      # its text, line by line

    def emit():
        out.write(json.dumps({
            'chat': chat, 'i': i, 'ts': cur[0], 'speaker': cur[1],
            'text': '\n'.join(lines), 'kind': cur[2],
            'src': {'file': path, 'line': cur[3]},
        }, ensure_ascii=False))
        out.write('\n')

    with open(path, encoding='utf-8-sig') as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip('\n')
            m = MSG.match(line)
            if m:
                if cur is not None:
                    emit()
                    i += 1
                cur = [timestamp(m), m.group(7), 'text', lineno]
                lines = [m.group(8)]
                continue
            if DATE.match(line):
                # a new day: the empty line before it belongs to no message
                while lines is not None and len(lines) > 1 and lines[-1] == '':
                    lines.pop()
                continue
            m = SYSTEM.match(line)
            if m:
                if cur is not None:
                    emit()
                    i += 1
                cur = [timestamp(m), '', 'system', lineno]
                lines = [m.group(7)]
                continue
            if cur is not None:
                lines.append(line)
            elif lineno == 1 and line.endswith(TITLE_SUFFIX):
                chat = line[:-len(TITLE_SUFFIX)]
        if cur is not None:
            emit()
    out.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
