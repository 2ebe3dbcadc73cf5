#!/usr/bin/python3
"""pii_baseline.py FILE - the Python baseline of the pii-mask benchmark.

What one would write by hand to mask personal data in JSONL with Python's
stdlib and the re module, doing the job of `pii-mask FILE` with the default
types (tests/pii/SPEC.md):

  1. a first pass over FILE collects the top-level "speaker" strings (chat
     messages written by kakao-parse); a Korean full name also gives its
     given name (김민준 -> 민준, 남궁민수 -> 민수; not a one-syllable one);
  2. a second pass: json.loads each line, replaces personal data in every
     string value, except the values under the keys id, ts, src, kind, role,
     type, lang, model, source_id, conversation, path, video, start, end
     (whatever they hold), with [TYPE] tags, and writes
     json.dumps(ensure_ascii=False, separators=(",", ":")) to stdout.

Detectors, applied one after the other to each string (compiled once):
  rrn/frn   YYMMDD-GNNNNNN (hyphen optional): a real date, G 1-4 rrn, 5-8 frn
  card      16 digits, 4-4-4-4 with - or a space or none, Luhn check
  brn       NNN-NN-NNNNN with the business number check digit
  driver    RR-NN-NNNNNN-NN, RR a region code (11-26, 28)
  phone     mobile 01X, area codes 02 and 0NN, 070, +82 forms, 15xx/16xx/18xx
  account   10 to 14 digits (groups with -) with 계좌, 입금, 송금, 이체 or a
            bank's name within 20 characters before or 12 after
  ip        IPv4 (each part <= 255); IPv6 candidates checked by ipaddress
  email     local@domain.tld
  passport  M/S/R/O/D + 8 digits, or + 3 digits, a letter, 4 digits
  address   [province] 시/군/구 (one or two) road(로/길)[N길] number[-N],
            or province road number
  name      one alternation of the names, longest first, grouped by the
            first character: Korean names anywhere (the particle after them
            stays), romanised names as whole words, case-insensitively;
            aliases (회원님, 나, ...) and empty speakers are not names

The detectors that need a digit run only on strings that have one; email
only when there is an @, IPv6 only when there is a colon.

Stdlib only.  Usage: /usr/bin/python3 pii_baseline.py in.jsonl > out.jsonl
"""
import ipaddress
import json
import re
import sys

SKIP_KEYS = frozenset(('id', 'ts', 'src', 'kind', 'role', 'type', 'lang', 'model',
                       'source_id', 'conversation', 'path', 'video', 'start', 'end'))
ALIASES = frozenset(('회원님', '나', '저', 'me', 'you', '알 수 없음', '(알 수 없음)'))
COMPOUND_SURNAMES = ('남궁', '선우', '제갈', '황보', '독고', '사공', '서문', '동방', '황목')

MDAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

RRN = re.compile(r'(?<!\d)(\d\d)(\d\d)(\d\d)-?([1-8])\d{6}(?!\d)')
CARD = re.compile(r'(?<!\d)\d{4}([- ]?)\d{4}\1\d{4}\1\d{4}(?!\d)')
BRN = re.compile(r'(?<!\d)\d{3}-\d{2}-\d{5}(?!\d)')
DRIVER = re.compile(r'(?<![\d-])(?:1[1-9]|2[0-6]|28)-\d{2}-\d{6}-\d{2}(?![\d-])')
PHONE = re.compile(r'(?<![\d+])(?:(?:\+82[- ]?|0)(?:1[016789]|2|[3-6][1-5]|70)[- .]?\d{3,4}[- .]?\d{4}'
                   r'|1(?:5|6|8)\d\d-\d{4})(?!\d)')
ACCOUNT = re.compile(r'(?<![\d-])\d+(?:-\d+){0,4}(?![\d-])')
ACCOUNT_CONTEXT = re.compile(r'계좌|입금|송금|이체|은행|뱅크|농협|국민|신한|우리|하나|기업|새마을|우체국|신협')
IPV4 = re.compile(r'(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}'
                  r'(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)')
IPV6 = re.compile(r'(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])')
EMAIL = re.compile(r'[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}')
PASSPORT = re.compile(r'(?<![A-Za-z0-9])[MSROD](?:\d{8}|\d{3}[A-Z]\d{4})(?![A-Za-z0-9])')
PROVINCE = (r'(?:서울특별시|서울시|서울|부산광역시|부산시|부산|대구광역시|대구|인천광역시|인천|광주광역시|광주'
            r'|대전광역시|대전|울산광역시|울산|세종특별자치시|세종|경기도|경기|강원특별자치도|강원도|강원'
            r'|충청북도|충북|충청남도|충남|전북특별자치도|전라북도|전북|전라남도|전남|경상북도|경북'
            r'|경상남도|경남|제주특별자치도|제주도|제주)')
ROAD = r'[가-힣A-Za-z0-9]{1,12}(?:로|길)(?:\s?\d{1,3}(?:번)?길)?\s?\d{1,4}(?:-\d{1,4})?(?!\d)'
ADDRESS = re.compile(r'(?:' + PROVINCE + r'\s+(?:[가-힣]{1,6}[시군구]\s+){0,2}'
                     r'|(?<![가-힣])[가-힣]{1,6}[시군구]\s+(?:[가-힣]{1,6}[시군구]\s+)?)' + ROAD)
DIGIT = re.compile(r'\d')
HANGUL = re.compile(r'[가-힣]+')
LATIN_NAME = re.compile(r'[A-Za-z][A-Za-z .\'-]*[A-Za-z]')


def luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def rrn_sub(m):
    mm, dd, g = int(m.group(2)), int(m.group(3)), m.group(4)
    if not (1 <= mm <= 12 and 1 <= dd <= MDAYS[mm - 1]):
        return m.group(0)
    if mm == 2 and dd == 29:
        yy = int(m.group(1)) + (1900 if g in '1256' else 2000)
        if yy % 4 or (yy % 100 == 0 and yy % 400):
            return m.group(0)
    return '[RRN]' if g in '1234' else '[FRN]'


def card_sub(m):
    s = m.group(0)
    digits = s.replace('-', '').replace(' ', '')
    return '[CARD]' if luhn(digits) else s


BRN_W = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def brn_sub(m):
    s = m.group(0)
    d = [ord(c) - 48 for c in s if c != '-']
    total = sum(a * b for a, b in zip(d, BRN_W)) + d[8] * 5 // 10
    return '[BRN]' if (10 - total % 10) % 10 == d[9] else s


def account_in(s):
    out, last = [], 0
    for m in ACCOUNT.finditer(s):
        num = m.group(0)
        n = len(num) - num.count('-')
        if n < 10 or n > 14:
            continue
        a, b = m.span()
        if not (ACCOUNT_CONTEXT.search(s, max(0, a - 20), a) or
                ACCOUNT_CONTEXT.search(s, b, b + 12)):
            continue
        out.append(s[last:a])
        out.append('[ACCOUNT]')
        last = b
    if not out:
        return s
    out.append(s[last:])
    return ''.join(out)


def ipv6_sub(m):
    s = m.group(0)
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return s
    return '[IP]'


def given_name(name):
    """the given name of a Korean full name, or None"""
    if len(name) == 4 and name[:2] in COMPOUND_SURNAMES:
        return name[2:]
    if len(name) == 3 and name[:2] not in COMPOUND_SURNAMES:
        return name[1:]
    return None


def collect_names(path):
    korean, latin = set(), set()
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            sp = r.get('speaker') if isinstance(r, dict) else None
            if not isinstance(sp, str):
                continue
            sp = sp.strip()
            if not sp or sp in ALIASES or sp.lower() in ALIASES:
                continue
            if HANGUL.fullmatch(sp):
                korean.add(sp)
                if 2 <= len(sp) <= 4:
                    g = given_name(sp)
                    if g:
                        korean.add(g)
            elif LATIN_NAME.fullmatch(sp):
                latin.add(sp)
            else:
                korean.add(sp)          # anything else: the name as written
    # One alternation, longest name first.  Python's re tries the branches of
    # an alternation one by one, so with a few thousand names they are
    # grouped by their first character (김(?:민준|서연|...)|이(?:...)|...):
    # the same matches, several times faster.
    by_first = {}
    for n in korean:
        by_first.setdefault(n[0], []).append(n[1:])
    alts = []
    for first, rests in sorted(by_first.items()):
        rests.sort(key=lambda r: (-len(r), r))
        alts.append(re.escape(first) + '(?:' + '|'.join(map(re.escape, rests)) + ')')
    for n in sorted(latin, key=lambda n: (-len(n), n)):
        alts.append(r'(?<![A-Za-z0-9])(?i:' + re.escape(n) + r')(?![A-Za-z0-9])')
    return re.compile('|'.join(alts)) if alts else None


def make_masker(names):
    def mask(s):
        if DIGIT.search(s):
            s = RRN.sub(rrn_sub, s)
            s = CARD.sub(card_sub, s)
            s = BRN.sub(brn_sub, s)
            s = DRIVER.sub('[DRIVER]', s)
            s = PHONE.sub('[PHONE]', s)
            s = account_in(s)
            s = IPV4.sub('[IP]', s)
        if ':' in s:
            s = IPV6.sub(ipv6_sub, s)
        if '@' in s:
            s = EMAIL.sub('[EMAIL]', s)
        if DIGIT.search(s):
            s = PASSPORT.sub('[PASSPORT]', s)
            s = ADDRESS.sub('[ADDRESS]', s)
        if names is not None:
            s = names.sub('[NAME]', s)
        return s

    def walk(v):
        if isinstance(v, str):
            return mask(v)
        if isinstance(v, dict):
            for k, x in v.items():
                if k not in SKIP_KEYS:
                    v[k] = walk(x)
            return v
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: pii_baseline.py FILE\n')
        return 2
    path = sys.argv[1]
    walk = make_masker(collect_names(path))
    out = sys.stdout
    dumps = json.dumps
    with open(path, encoding='utf-8') as f:
        for line in f:
            r = walk(json.loads(line))
            out.write(dumps(r, ensure_ascii=False, separators=(',', ':')))
            out.write('\n')
    out.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
