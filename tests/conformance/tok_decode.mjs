// Decodes our ids with Hugging Face's tokenizers (the Rust core, through
// @anush008/tokenizers) and compares the text with our own decoding.
//
//   node tok_decode.mjs NODE_MODULES TOKENIZER_JSON IDS DECODED
//
// IDS: one line of space-separated ids per text (tok-encode --lines);
// DECODED: our text of those ids, one per line (tok-encode --lines
// --decode). Compared as bytes, so that bad UTF-8 on our side shows.
// Prints "LINES DIFFERING" and, when some differ, the first of them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [nm, tokPath, idsPath, oursPath] = process.argv.slice(2);
if (!oursPath) {
  console.error('usage: node tok_decode.mjs NODE_MODULES TOKENIZER_JSON IDS DECODED');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const { Tokenizer } = require(join(nm, '@anush008', 'tokenizers'));
const tok = Tokenizer.fromFile(tokPath);

// Lines of a file as Buffers, split at "\n"; the last "\n" ends a line.
function lines(buf) {
  const out = [];
  let at = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, at)) {
    out.push(buf.subarray(at, i));
    at = i + 1;
  }
  if (at < buf.length) out.push(buf.subarray(at));
  return out;
}

const ids = lines(readFileSync(idsPath));
const ours = lines(readFileSync(oursPath));
let bad = 0, first = '';
const n = Math.max(ids.length, ours.length);
for (let i = 0; i < n; i++) {
  const list = ids[i] ? ids[i].toString().split(' ').filter((s) => s !== '').map(Number) : [];
  const want = Buffer.from(await tok.decode(list, false), 'utf8');
  const got = ours[i] || Buffer.alloc(0);
  if (!want.equals(got)) {
    bad++;
    if (!first)
      first = `line ${i + 1}: ours ${JSON.stringify(got.toString()).slice(0, 200)}, ` +
              `reference ${JSON.stringify(want.toString()).slice(0, 200)}`;
  }
}
console.log(`${n} ${bad}`);
if (first) console.log(first);
