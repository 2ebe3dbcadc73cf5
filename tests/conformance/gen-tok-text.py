#!/usr/bin/python3
"""Writes a varied test text for the tokenizer conformance runs
(tests/conformance/hf-tok.sh) to stdout: one text per line.

    gen-tok-text.py [LINES] [SEED]      (defaults: 3000 lines, seed 1)

Deterministic: its own xorshift generator, no random module, so the same
bytes on every Python. Lines mix Korean (NFC and NFD), English, Chinese,
Japanese, emoji (modifiers, ZWJ sequences, flags, keycaps), combining marks,
control characters (NUL included), tabs, \\r, long whitespace runs, digits,
URLs, code, special-token strings of Qwen, Gemma and Llama written in the
text (whole and cut short), the ▁ that SentencePiece uses for a space,
random code points from many Unicode blocks (assigned or not, never
surrogates) and some very long lines. No line holds \\n; the text ends
without one, so that every tool sees the same number of lines."""
import sys
import unicodedata


class Rng:
    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.below(len(seq))]


KO = ["안녕하세요", "감사합니다", "오늘", "날씨가", "정말", "좋네요", "내일", "회의는", "몇 시예요?",
      "ㅋㅋㅋㅋ", "ㅎㅎ", "밥 먹었어?", "서울특별시", "강남구", "주문하신", "상품이", "배송",
      "되었습니다", "괜찮아", "똠방각하", "뷁", "쀍", "갛갛", "읽었다", "값", "없다"]
EN = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world", "I'm",
      "you'll", "they've", "it's", "we'd", "DON'T", "Don'T", "tokenizer", "isn't", "e-mail",
      "state-of-the-art", "naïve", "café", "résumé", "Straße", "ﬁnance", "coöperate"]
CJK = ["你好", "世界", "中华人民共和国", "東京都", "こんにちは", "カタカナ", "ひらがな", "漢字",
       "日本語のテキスト", "ｶﾀｶﾅ", "ＡＢＣ１２３", "𠜎𠜱𠝹", "龘", "〇", "々", "〜", "「引用」",
       "臺灣", "한자漢字", "ㄅㄆㄇ"]
EMOJI = ["😀", "👍", "👍🏽", "❤️", "🇰🇷", "🇺🇸", "👨‍👩‍👧‍👦", "👩🏾‍💻", "🏳️‍🌈", "🧑‍🤝‍🧑",
         "1️⃣", "#️⃣", "🦙", "🫠", "©", "™", "☺", "☺️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👁‍🗨", "🐈‍⬛"]
COMBINING = ["e\u0301", "a\u0300\u0316", "n\u0303", "o\u0308\u0304", "\u0301", "x\u20dd",
             "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334", "ก\u0e49", "क\u094d\u0937",
             "\u05e9\u05c1\u05b8", "i\u0307", "\u1100\u1161\u11a8"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\r", "\x1b[31m", "\x7f", "\x85",
           "\u00a0", "\u200b", "\u200c", "\u200d", "\u2028", "\u2029", "\ufeff", "\u00ad",
           "\u202e", "\u2066", "\u3000", "\ufffd", "\ufffe", "\uffff", "\U000e0041"]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
           "</tool_call>", "<|fim_prefix|>", "<|vision_pad|>", "<start_of_turn>", "<end_of_turn>",
           "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_image>",
           "<image_soft_token>", "<unused0>", "<unused99>", "<s>", "</s>", "<0x41>", "<0x0A>",
           "<table>", "</td>", "<h1>", "<code>", "<b>", "<|im_start", "im_end|>", "<start_of",
           "<<|im_start|>>", "<|im_start|><|im_start|>", "<|IM_START|>", "< s >",
           "\u2581", "\u2581\u2581\u2581", "\u2581hello"]
URLS = ["https://example.com/path?q=1&lang=ko#frag", "http://192.168.0.1:8080/", "www.naver.com",
        "mailto:someone@example.org", "ftp://files.example.net/a%20b.txt",
        "https://ko.wikipedia.org/wiki/대한민국", "C:\\Users\\me\\file.txt", "/usr/local/bin/tok"]
CODE = ["def f(x):\treturn x ** 2", "int main(void) { return 0; }", "for (i = 0; i < n; i++) {}",
        "SELECT * FROM t WHERE id = 'a';", "console.log(`${a} + ${b}`);", "#include <stdio.h>",
        "if x != nil && y >= 0 {", "{\"key\": [1, 2.5e-3, null, true]}", "a=b+c*d/e-f%g",
        "    indented    code  ", "λx. x x", "x := <-ch", "$ ls -la | grep '^d'", "/* comment */",
        "fn main() -> Result<(), Box<dyn Error>>", "<div class=\"a\">text</div>"]
DIGITS = ["0", "7", "42", "123", "2024", "3.14159", "1,000,000", "₩50,000", "$1.99", "10%",
          "010-1234-5678", "1e10", "٣٤٥", "१२३", "①②③", "Ⅻ", "½", "²³", "00000", "9" * 40]
SPACES = [" ", "  ", "   ", "\t", "\t\t", " \t ", "     ", "\r", " \r", "\u3000", "\u00a0 "]

# Blocks for random code points: (first, last) inclusive, surrogates never.
BLOCKS = [(0x20, 0x7E), (0xA0, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x3FF),
          (0x400, 0x52F), (0x530, 0x58F), (0x590, 0x5FF), (0x600, 0x6FF), (0x700, 0x74F),
          (0x780, 0x7BF), (0x900, 0x97F), (0x980, 0x9FF), (0xB80, 0xBFF), (0xE00, 0xE7F),
          (0xE80, 0xEFF), (0xF00, 0xFFF), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x1200, 0x137F),
          (0x13A0, 0x13FF), (0x1780, 0x17FF), (0x1800, 0x18AF), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF),
          (0x1E00, 0x1EFF), (0x1F00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF),
          (0x20D0, 0x20FF), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2500, 0x257F),
          (0x2600, 0x26FF), (0x2700, 0x27BF), (0x2E80, 0x2EFF), (0x3000, 0x303F), (0x3040, 0x309F),
          (0x30A0, 0x30FF), (0x3100, 0x312F), (0x3130, 0x318F), (0x3200, 0x32FF), (0x3300, 0x33FF),
          (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xA4CF), (0xA960, 0xA97F), (0xAC00, 0xD7A3),
          (0xD7B0, 0xD7FF), (0xE000, 0xF8FF), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFB50, 0xFDFF),
          (0xFE00, 0xFE0F), (0xFE30, 0xFE4F), (0xFE70, 0xFEFF), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFF),
          (0x10000, 0x1007F), (0x10330, 0x1034F), (0x1D100, 0x1D1FF), (0x1D400, 0x1D7FF),
          (0x1F000, 0x1F02F), (0x1F100, 0x1F1FF), (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F),
          (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF), (0x20000, 0x2A6DF),
          (0x2F800, 0x2FA1F), (0x30000, 0x3134F), (0xE0000, 0xE007F), (0xE0100, 0xE01EF),
          (0xF0000, 0xF00FF), (0x10FF00, 0x10FFFF)]


def random_chars(r, n):
    out = []
    for _ in range(n):
        lo, hi = r.pick(BLOCKS)
        out.append(chr(lo + r.below(hi - lo + 1)))
    return "".join(out)


def piece(r):
    """One stretch of text of a random kind."""
    k = r.below(16)
    if k == 0:
        return " ".join(r.pick(KO) for _ in range(1 + r.below(6)))
    if k == 1:
        return unicodedata.normalize("NFD", " ".join(r.pick(KO) for _ in range(1 + r.below(4))))
    if k == 2:
        return " ".join(r.pick(EN) for _ in range(1 + r.below(8)))
    if k == 3:
        return "".join(r.pick(CJK) for _ in range(1 + r.below(4)))
    if k == 4:
        return "".join(r.pick(EMOJI) for _ in range(1 + r.below(5)))
    if k == 5:
        return r.pick(COMBINING)
    if k == 6:
        return r.pick(CONTROL)
    if k == 7:
        return r.pick(SPECIAL)
    if k == 8:
        return r.pick(URLS)
    if k == 9:
        return r.pick(CODE)
    if k == 10:
        return r.pick(DIGITS)
    if k == 11:
        return r.pick(SPACES) * (1 + r.below(3))
    if k == 12:
        return random_chars(r, 1 + r.below(12))
    if k == 13:
        return " " * (8 + r.below(300))
    if k == 14:
        return r.pick(KO) + r.pick(EN) + r.pick(DIGITS) + r.pick(EMOJI)
    return r.pick(SPECIAL) + r.pick(KO) + r.pick(SPECIAL)


def long_line(r):
    """Thousands of characters: one word, one run, or many pieces."""
    k = r.below(6)
    if k == 0:
        return r.pick("abcxyz") * (2000 + r.below(8000))
    if k == 1:
        return r.pick(["가", "ㅋ", "你", "😀", "\u0301", "9", "▁"]) * (1000 + r.below(4000))
    if k == 2:
        return r.pick([" ", "\t", "  \t", "\u3000"]) * (1000 + r.below(5000))
    if k == 3:
        return "".join(r.pick(KO) for _ in range(3000))
    if k == 4:
        return random_chars(r, 3000 + r.below(3000))
    return "".join(piece(r) for _ in range(400))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    r = Rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    out = []
    for i in range(n):
        if i % 97 == 50:
            line = long_line(r)
        elif i % 37 == 0:
            line = ""
        else:
            parts = [piece(r) for _ in range(1 + r.below(8))]
            line = r.pick(["", " ", "  "]).join(parts)
        out.append(line.replace("\n", " "))
    sys.stdout.buffer.write("\n".join(out).encode("utf-8"))


main()
