#!/usr/bin/env node
// tok_baseline.js — the reference for the tokcount benchmark (tests/bench/tok-bench.sh):
// Hugging Face tokenizers' Rust core (the `tokenizers` crate, through the N-API
// binding @anush008/tokenizers) encoding the "text" of every JSONL record.
//
//   node tok_baseline.js [--api auto|batch|encode] [--batch N] [--ids FILE] [--reps N]
//                        TOKENIZER_JSON CORPUS_JSONL
//
// Reads the corpus, JSON.parses every line and takes its "text" (a record
// without one counts as ""), loads the tokenizer, then times ONLY the
// encoding (addSpecialTokens: false), so the baseline is as strong as it can
// be: reading, parsing, loading and taking the ids out of the results are
// not timed.  --api batch hands the texts over in batches of --batch (4096)
// with encodeBatch, --api encode one encode() per text (each a Promise run
// on libuv's thread pool, awaited one after the other); --api auto (the
// default) times both on the first 20000 texts and uses the faster.
// --reps N encodes everything N times and keeps the best time.
//
// Run it on one core: taskset -c CPU, TOKENIZERS_PARALLELISM=false (no
// Rayon pool for encodeBatch), RAYON_NUM_THREADS=1, UV_THREADPOOL_SIZE=1.
// It prints its CPU affinity (Cpus_allowed_list) and the CPU time used
// during the timed part, so that one can see it used one core.
//
// --ids FILE writes the ids, one line per record, space-separated (an empty
// line for a text with no tokens).  The last line on stdout is
//   baseline: api=A records=R tokens=T encode_s=S tokens_per_s=X cpu_s=C load_s=L cpus=LIST
// Module path: TOKREF_NODE_MODULES (default ./node_modules next to this file).
'use strict';
const fs = require('fs');
const path = require('path');

function usage() {
  console.error('usage: node tok_baseline.js [--api auto|batch|encode] [--batch N] [--ids FILE] [--reps N] TOKENIZER_JSON CORPUS_JSONL');
  process.exit(2);
}

const args = process.argv.slice(2);
let api = 'auto', batch = 4096, idsPath = null, reps = 1;
const pos = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => (i + 1 < args.length ? args[++i] : usage());
  if (a === '--api') api = val();
  else if (a === '--batch') batch = Number(val());
  else if (a === '--ids') idsPath = val();
  else if (a === '--reps') reps = Number(val());
  else if (a.startsWith('--')) usage();
  else pos.push(a);
}
if (pos.length !== 2 || !['auto', 'batch', 'encode'].includes(api) ||
    !(Number.isInteger(batch) && batch > 0) || !(Number.isInteger(reps) && reps > 0)) usage();
const [tokPath, corpusPath] = pos;

const NM = process.env.TOKREF_NODE_MODULES || path.join(__dirname, 'node_modules');
const { Tokenizer } = require(path.join(NM, '@anush008', 'tokenizers'));

function cpusAllowed() {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? m[1] : '?';
  } catch (e) {
    return '?';
  }
}

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

const opts = { addSpecialTokens: false };

// encodes texts[from, to); returns the encodings
async function encodeRange(tok, texts, from, to, how) {
  if (how === 'batch') {
    const out = [];
    for (let i = from; i < to; i += batch) {
      const encs = await tok.encodeBatch(texts.slice(i, Math.min(i + batch, to)), opts);
      for (const e of encs) out.push(e);
    }
    return out;
  }
  const out = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = await tok.encode(texts[i], null, opts);
  return out;
}

async function main() {
  // the corpus, not timed
  const lines = fs.readFileSync(corpusPath, 'utf8').split('\n');
  const texts = [];
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i];
    if (l.endsWith('\r')) l = l.slice(0, -1);
    if (i === 0 && l.charCodeAt(0) === 0xfeff) l = l.slice(1);
    if (l.trim() === '') continue;
    const r = JSON.parse(l);
    texts.push(typeof r.text === 'string' ? r.text : '');
  }
  lines.length = 0;

  let t0 = now();
  const tok = Tokenizer.fromFile(tokPath);
  const loadS = now() - t0;

  if (api === 'auto') {                 // time both on a sample, keep the faster
    const n = Math.min(texts.length, 20000);
    await encodeRange(tok, texts, 0, n, 'batch');   // warm up
    t0 = now(); await encodeRange(tok, texts, 0, n, 'batch'); const tb = now() - t0;
    t0 = now(); await encodeRange(tok, texts, 0, n, 'encode'); const te = now() - t0;
    api = tb <= te ? 'batch' : 'encode';
    console.log(`baseline: api auto on ${n} texts: encodeBatch(${batch}) ${tb.toFixed(3)} s, encode ${te.toFixed(3)} s -> ${api}`);
  }

  // the timed part: encoding only, chunk by chunk; the ids are taken out of
  // the encodings between chunks, off the clock
  const chunk = 16384;
  let best = Infinity, bestCpu = 0, tokens = 0;
  const out = idsPath ? fs.openSync(idsPath, 'w') : null;
  for (let rep = 0; rep < reps; rep++) {
    let t = 0, c = 0, n = 0;
    for (let i = 0; i < texts.length; i += chunk) {
      const to = Math.min(i + chunk, texts.length);
      const c0 = cpuSeconds();
      t0 = now();
      const encs = await encodeRange(tok, texts, i, to, api);
      t += now() - t0;
      c += cpuSeconds() - c0;
      let buf = [];
      for (const e of encs) {
        const ids = e.getIds();
        n += ids.length;
        if (out && rep === 0) buf.push(ids.join(' '));
      }
      if (out && rep === 0) fs.writeSync(out, buf.join('\n') + '\n');
      buf = null;
    }
    tokens = n;
    if (t < best) { best = t; bestCpu = c; }
  }
  if (out) fs.closeSync(out);
  console.log(`baseline: api=${api} records=${texts.length} tokens=${tokens} encode_s=${best.toFixed(4)} ` +
              `tokens_per_s=${Math.round(tokens / best)} cpu_s=${bestCpu.toFixed(4)} load_s=${loadS.toFixed(4)} ` +
              `cpus=${cpusAllowed()}`);
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
