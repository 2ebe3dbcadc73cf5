#!/usr/bin/env node
// Runs the kakaotalk-viewer parser tests (vitest files, read from the shared
// material, never copied into the repository) against kakao-parse.
//
//   node tests/conformance/kakao_viewer.mjs BIN_DIR TEST_DIR
//
// Each test file's body is evaluated (its import lines stripped) with a
// small shim in place of vitest and of the viewer's parsers:
//
//   describe, test, expect   the matchers these files use: toEqual,
//                            toMatchObject, toBe, toHaveLength, toContain,
//                            toBeNull;
//   parseAndroid, parseIos,  run kakao-parse -f android / ios / csv /
//   parseMac, parseWindows,  windows (auto for parseKakaoTalkText) on the
//   parseKakaoTalkText       sample, written to a temporary UTF-8 file, and
//                            turn its output into the viewer's shape;
//   isIosExport              kakao-parse -v detects an iOS export and gives
//                            at least one message.
//
// The viewer's shape, built from our records: roomName is our "chat"; users
// are the sorted distinct non-empty speakers of non-system messages;
// messages are a {kind: "date-header", date} entry at each change of date
// (ours are synthesised from the timestamps: date headers are not messages
// in our output), then {kind: "plain", username, date, time, text} for each
// message, or {kind: "notification", date, text} for kind system.
//
// Two mapping rules hold for every test: where the viewer's expected date is
// "" (no day line seen yet) only the time is compared; a parser expected to
// return null, or isIosExport false, passes when kakao-parse exits 65 (not a
// KakaoTalk export) or gives no message, and the TAP line says which.
//
// Known, documented differences are listed in ALLOWANCES below, each with its
// reason: for such a test the expectation is narrowed to the parts that must
// agree, and the TAP line carries a '#' note. Prints TAP, one line per
// vitest test(...) (plus a failing line for a test file that cannot be read
// or evaluated as JavaScript); exits 1 when a test failed.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";

const [binDir, testDir] = process.argv.slice(2);
if (!binDir || !testDir) {
  console.error("usage: kakao_viewer.mjs BIN_DIR TEST_DIR");
  process.exit(2);
}
const BIN = path.resolve(binDir, "kakao-parse");
const FILES = ["android.test.ts", "ios.test.ts", "mac.test.ts", "windows.test.ts", "index.test.ts"];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kakao-viewer-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------
// Allowances: known differences between the viewer and kakao-parse, each a
// documented behaviour of kakao-parse. Keyed by FILE#ID, ID being the first
// 10 hex digits of the SHA-256 of the test's full name ("file > describe >
// test"), so that no text of the third-party tests is kept here; "what"
// says in our words which test it is. An allowance whose test is gone is
// reported.
// For such a test every expect() goes through narrow(ctx), where ctx holds
// k (the expect's index in the test), matcher, expected, received and run
// (the last kakao-parse run). narrow returns
//   null                      compare as the test says;
//   {expected, received}      compare these instead (the parts that agree);
//   {ok, detail}              a replacement check, already decided.
// The reasons are printed as '#' notes on the test's (ok) line.

const TIME = Symbol("time of a system line"); // our notices keep their time

const base = (run) => path.basename(run.file).replace(/\.[^.]*$/, "");

// Applies f(expectedEntry, receivedEntry) to the messages of a chat (or to a
// message list) and returns the expected value with the entries f returned.
function mapMessages(expected, received, f) {
  const list = (v) => (Array.isArray(v) ? v : v && Array.isArray(v.messages) ? v.messages : null);
  const e = list(expected), r = list(received);
  if (!e || !r) return expected;
  const mapped = e.map((entry, i) => f(entry, r[i]));
  return Array.isArray(expected) ? mapped : { ...expected, messages: mapped };
}

const RULES = {
  emptyName: {
    reason: 'a message line with an empty name ("STAMP,  : text", "[] [TIME] text", ' +
      'CSV User "") is kind system in kakao-parse ("A message without a speaker is a notice ' +
      'too.", kakao-parse(1), kind system); the viewer keeps it as a plain message ' +
      'with username "". ' +
      "Compared for it: kind system, date, time and text",
    entry(e, r) {
      if (e && e.kind === "plain" && e.username === "" && r && r.kind === "notification" &&
          (e.date === "" || r.date === e.date) && r[TIME] === e.time && r.text === e.text) return r;
      return e;
    },
  },
  macInvite: {
    reason: 'the viewer\'s Mac parser translates "X invited Y and." into ' +
      '"X님이 Y님을 초대하였습니다."; kakao-parse keeps the export\'s text, byte for byte ' +
      "(kakao-parse(1), field text), kind system. " +
      "Compared for it: kind, date, and the names X and Y",
    entry(e, r) {
      const ko = e && e.kind === "notification" && /^(.+)님이 (.+)님을 초대하였습니다\.$/.exec(e.text);
      const en = r && r.kind === "notification" && /^(.+) invited (.+) and\.$/.exec(r.text);
      if (ko && en && ko[1] === en[1] && ko[2] === en[2] && r.date === e.date) return r;
      return e;
    },
  },
  noticeContinues: {
    reason: "a line that follows an Android system notice continues that notice in " +
      "kakao-parse, as any line that starts no message continues the one before it " +
      "(kakao-parse(1), Messages and continuation lines); the viewer drops the line. " +
      "Compared for it: the notice's first line",
    entry(e, r) {
      if (e && e.kind === "notification" && r && r.kind === "notification" &&
          (e.date === "" || r.date === e.date) && r.text.split("\n")[0] === e.text) return r;
      return e;
    },
  },
  noDayLine: {
    reason: "the sample has no day line before its messages, so the viewer emits no " +
      "date-header entry; ours are synthesised from the timestamps (date headers are not " +
      "messages in our output). Compared without our date-header entries",
  },
  csvRoomName: {
    reason: "a Mac CSV export has no title: kakao-parse names the chat after the file's " +
      "base name (--chat overrides; kakao-parse(1), Headers and fragments), the viewer " +
      "after its participants " +
      '("a, b, c", or a group label beyond three). Compared for it: our chat is the file name',
  },
  iosFileTitle: {
    reason: "an iOS title that is only a file name (Talk_YYYY.M.D HH:MM-1.txt) names no " +
      "room: kakao-parse falls back to the file's base name (kakao-parse(1), Headers and " +
      "fragments); the " +
      "viewer keeps the title. Compared for it: our chat is the file name, without a BOM",
  },
  goesBack: {
    reason: "a message line whose time goes back before the previous message of the same " +
      "day is quoted text continuing that message in kakao-parse (kakao-parse(1), Messages " +
      "and continuation lines: exports are in time order); the viewer's sample has a 12 AM " +
      "line right after a " +
      "10 PM line under one day line. Compared for it: the first message, whose text ends " +
      "with the second message's line verbatim",
  },
  noRecordsNoRoom: {
    reason: "a file with a header and no messages gives no records (exit 0 and a " +
      "warning; kakao-parse(1), Headers and fragments), so there is no chat name to " +
      "compare. Compared for it: exit 0, no users, no messages",
  },
  csvLenient: {
    reason: "kakao-parse reads CSV as RFC 4180 (an unquoted User field is valid) and ends " +
      "a Message field that lacks its closing quote at the end of its line " +
      "(kakao-parse(1); fixtures/kakao/EXPECTED.md, csv_broken.csv); the viewer rejects " +
      "both rows. " +
      "Compared for them: exactly one message, with the row's speaker, minute and text",
  },
};

// The adjustments that apply entry by entry to expected message lists.
function entries(...rules) {
  return ({ expected, received }) => {
    let e = expected;
    for (const rule of rules) e = mapMessages(e, received, RULES[rule].entry);
    return { expected: e, received };
  };
}

const ALLOWANCES = {
  "android.test.ts#6debcae06e": {
    what: "Android: messages, a notice and a multi-line message",
    rules: ["emptyName"],
    narrow: entries("emptyName"),
  },
  "android.test.ts#b5343f7c95": {
    what: "Android: stray lines before the first message",
    rules: ["noDayLine", "noticeContinues"],
    narrow({ expected, received }) {
      const strip = (v) => v && { ...v, messages: v.messages.filter((m) => m.kind !== "date-header") };
      const r = strip(received);
      return { expected: mapMessages(expected, r, RULES.noticeContinues.entry), received: r };
    },
  },
  "ios.test.ts#1902247bdd": {
    what: "iOS: BOM before an English title",
    rules: ["iosFileTitle"],
    narrow({ matcher, received, run }) {
      if (matcher !== "toBe") return null;
      const ok = received === base(run) && !received.includes("\ufeff");
      return { ok, detail: `chat ${show(received)}, file ${show(base(run))}` };
    },
  },
  "ios.test.ts#bc9a37f68b": {
    what: "iOS: messages, notices, multi-line text, a repeated day line",
    rules: ["emptyName"],
    narrow: entries("emptyName"),
  },
  "ios.test.ts#d661205fd1": {
    what: "iOS: English day lines, messages and notices",
    rules: ["iosFileTitle"],
    narrow({ expected, received, run }) {
      if (!received || received.roomName !== base(run)) return null;
      return { expected: { ...expected, roomName: received.roomName }, received };
    },
  },
  "mac.test.ts#173b1ee125": {
    what: "Mac: quoted rows, doubled quotes, multi-line text, notices",
    rules: ["csvRoomName", "emptyName", "macInvite"],
    narrow(ctx) {
      const { run } = ctx;
      const { expected, received } = entries("emptyName", "macInvite")(ctx);
      if (!received || received.roomName !== base(run)) return { expected, received };
      return { expected: { ...expected, roomName: received.roomName }, received };
    },
  },
  "mac.test.ts#3f2d1f8204": {
    what: "Mac: room label for more than three users",
    rules: ["csvRoomName"],
    narrow({ received, run }) {
      const ok = received === base(run) && run.records.length === 4;
      return { ok, detail: `chat ${show(received)}, file ${show(base(run))}, ${run.records.length} messages` };
    },
  },
  "mac.test.ts#f0d0f6f7d9": {
    what: "Mac: malformed rows",
    rules: ["csvLenient"],
    narrow({ k, run }) {
      if (k > 1) return null; // the other two rows: null as the test says
      // The row, read here: STAMP,USER,"TEXT" with USER's quotes optional
      // and TEXT's closing quote optional.
      const row = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d):\d\d,"?([^",]+)"?,"([^"]*)"?$/.exec(run.sample.split("\n")[1] || "");
      const r = run.records;
      const ok = !!row && run.status === 0 && r.length === 1 && r[0].kind === "text" &&
        r[0].ts.slice(0, 16) === `${row[1]}T${row[2]}` && r[0].speaker === row[3] && r[0].text === row[4];
      return { ok, detail: `expect ${k}: exit ${run.status}, ${r.length} messages` };
    },
  },
  "windows.test.ts#f10c0b7788": {
    what: "Windows: messages, invite and leave notices, multi-line text",
    rules: ["emptyName"],
    narrow: entries("emptyName"),
  },
  "windows.test.ts#8e00d93684": {
    what: "Windows: Korean 12-hour times",
    rules: ["goesBack"],
    narrow({ expected, received }) {
      // expected: [header, P2 message, P1 message]; ours: [header, P2 message + line].
      if (!Array.isArray(expected) || expected.length !== 3 || !Array.isArray(received)) return null;
      const [, first, second] = expected;
      const r = received[1];
      const [head, ...rest] = r && r.kind === "plain" ? r.text.split("\n") : [""];
      const tail = rest.join("\n");
      const ok = received.length === 2 && head === first.text && rest.length === 1 &&
        tail.startsWith(`[${second.username}] [`) && tail.endsWith(`] ${second.text}`);
      if (!ok) return null;
      return { expected: [expected[0], { ...first, text: r.text }], received };
    },
  },
  "windows.test.ts#22cce0ba3b": {
    what: "Windows: a header and a stray line only",
    rules: ["noRecordsNoRoom"],
    narrow({ expected, received, run }) {
      if (!received || run.records.length !== 0) return null;
      return { expected: { ...expected, roomName: received.roomName }, received };
    },
  },
  "index.test.ts#6a9a576b12": {
    what: "auto-detection: Mac CSV room name",
    rules: ["csvRoomName"],
    narrow({ received, run }) {
      const row = /^[^,]*,"([^"]*)",/.exec(run.sample.split("\n")[1] || "");
      const ok = received === base(run) && run.records.length === 1 && !!row && run.records[0].speaker === row[1];
      return { ok, detail: `chat ${show(received)}, file ${show(base(run))}, ${run.records.length} messages` };
    },
  },
};

// ---------------------------------------------------------------------------
// kakao-parse, and the conversion of its output into the viewer's shape.

const META = Symbol("kakao-parse run");
let sampleNo = 0;
let current = null; // the running test's record

function runParser(format, text, extra = []) {
  sampleNo += 1;
  const file = path.join(tmp, `sample-${sampleNo}.txt`);
  fs.writeFileSync(file, text, "utf8");
  const args = ["--no-progress", ...extra];
  if (format) args.push("-f", format);
  args.push(file);
  const r = spawnSync(BIN, args, { encoding: "utf8" });
  const run = {
    args: args.map((a) => (a === file ? path.basename(file) : a)),
    status: r.status,
    signal: r.signal,
    error: r.error ? String(r.error) : null,
    stderr: r.stderr || "",
    stdout: r.stdout || "",
    sample: text,
    file,
    records: [],
  };
  for (const line of run.stdout.split("\n")) {
    if (line.trim() === "") continue;
    try {
      run.records.push(JSON.parse(line));
    } catch (e) {
      run.badJson = (run.badJson || 0) + 1;
    }
  }
  if (current) current.runs.push(run);
  return run;
}

function toViewer(run) {
  const users = new Set();
  const messages = [];
  let lastDate = null;
  for (const r of run.records) {
    const date = r.ts.slice(0, 10);
    if (date !== lastDate) {
      messages.push({ kind: "date-header", date });
      lastDate = date;
    }
    if (r.kind === "system") {
      messages.push({ kind: "notification", date, text: r.text, [TIME]: r.ts.slice(11, 16) });
    } else {
      if (r.speaker !== "") users.add(r.speaker);
      messages.push({
        kind: "plain",
        username: r.speaker,
        date,
        time: r.ts.slice(11, 16),
        text: r.text,
      });
    }
  }
  const chat = {
    roomName: run.records.length ? run.records[0].chat : "",
    users: [...users].sort(),
    messages,
  };
  Object.defineProperty(chat, META, { value: run, enumerable: false });
  return chat;
}

// A parser: null when kakao-parse refuses the sample (any nonzero exit).
function parser(format) {
  return (text) => {
    const run = runParser(format, text);
    if (run.status !== 0) return null;
    return toViewer(run);
  };
}

const parseAndroid = parser("android");
const parseIos = parser("ios");
const parseMac = parser("csv");
const parseWindows = parser("windows");
const parseKakaoTalkText = parser(null);

// isIosExport: auto-detection (kakao-parse -v names the format it detected)
// says ios, and the sample gives at least one message.
function isIosExport(text) {
  const run = runParser(null, text, ["-v"]);
  const m = /: (\w+) export \(/.exec(run.stderr);
  run.detected = m ? m[1] : null;
  const yes = run.status === 0 && run.records.length > 0 && run.detected === "ios";
  if (!yes) run.falseBecause = run.status !== 0 ? `exit ${run.status}` : run.records.length === 0 ? "0 messages" : `detected ${run.detected}`;
  return yes;
}

// ---------------------------------------------------------------------------
// The vitest shim.

const show = (v) => {
  if (v === undefined) return "undefined";
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s;
};

// Deep equality as vitest's toEqual (undefined properties ignored), except
// that an expected date of "" matches any date (the time is compared).
function equal(exp, rec, subset, where, diffs) {
  if (exp === rec) return true;
  if (typeof exp !== "object" || exp === null || typeof rec !== "object" || rec === null) {
    diffs.push(`${where || "value"}: expected ${show(exp)}, got ${show(rec)}`);
    return false;
  }
  if (Array.isArray(exp) !== Array.isArray(rec)) {
    diffs.push(`${where || "value"}: expected ${show(exp)}, got ${show(rec)}`);
    return false;
  }
  let ok = true;
  if (Array.isArray(exp)) {
    if (exp.length !== rec.length) {
      diffs.push(`${where || "value"}: expected ${exp.length} entries, got ${rec.length}`);
      ok = false;
    }
    const n = Math.min(exp.length, rec.length);
    for (let i = 0; i < n; i++) ok = equal(exp[i], rec[i], subset, `${where}[${i}]`, diffs) && ok;
    return ok;
  }
  const keys = new Set(Object.keys(exp).filter((k) => exp[k] !== undefined));
  if (!subset) for (const k of Object.keys(rec)) if (rec[k] !== undefined) keys.add(k);
  for (const k of keys) {
    if (k === "date" && exp[k] === "" && typeof rec[k] === "string") continue;
    if (!(k in exp) || exp[k] === undefined) {
      diffs.push(`${where}.${k}: not expected, got ${show(rec[k])}`);
      ok = false;
      continue;
    }
    ok = equal(exp[k], rec[k], subset, `${where}.${k}`, diffs) && ok;
  }
  return ok;
}

// expect(received): the matchers record their failures in the running test
// (and go on, so that every failing expectation is reported); a test fails
// when any did.
function expect(received) {
  const t = current;
  const k = t.expects++;
  const run = t.runs[t.runs.length - 1] || null;
  const allowance = t.allowance;
  const check = (matcher, expected, compare) => {
    let e = expected, r = received;
    if (allowance && allowance.narrow) {
      const n = allowance.narrow({ k, matcher, expected, received, run });
      if (n && "ok" in n) {
        t.notes.push(`expect ${k} (${matcher}) narrowed: ${n.detail}`);
        if (!n.ok) t.failures.push(`expect ${k}: ${matcher} (narrowed check) failed: ${n.detail}`);
        return;
      }
      if (n) ({ expected: e, received: r } = n);
    }
    const diffs = compare(e, r);
    if (diffs.length) t.failures.push([`expect ${k}: ${matcher} failed:`, ...diffs.map((d) => `  ${d}`)].join("\n"));
  };
  return {
    toEqual(expected) {
      check("toEqual", expected, (e, r) => {
        const d = [];
        equal(e, r, false, "", d);
        return d;
      });
    },
    toMatchObject(expected) {
      check("toMatchObject", expected, (e, r) => {
        const d = [];
        equal(e, r, true, "", d);
        return d;
      });
    },
    toBe(expected) {
      check("toBe", expected, (e, r) => {
        if (Object.is(e, r)) {
          if (e === false && run && run.falseBecause) t.notes.push(`expect ${k}: isIosExport false: kakao-parse ${run.falseBecause}`);
          if (e === true && run && run.detected) t.notes.push(`expect ${k}: isIosExport true: detected ${run.detected}, ${run.records.length} messages`);
          return [];
        }
        const why = run && run.falseBecause ? ` (kakao-parse: ${run.falseBecause})` : "";
        return [`expected ${show(e)}, got ${show(r)}${why}`];
      });
    },
    toHaveLength(n) {
      check("toHaveLength", n, (e, r) =>
        r != null && r.length === e ? [] : [`expected length ${e}, got ${r == null ? show(r) : r.length}: ${show(r)}`]);
    },
    toContain(item) {
      check("toContain", item, (e, r) => {
        const ok = typeof r === "string" ? typeof e === "string" && r.includes(e) : Array.isArray(r) && r.includes(e);
        return ok ? [] : [`expected ${show(r)} to contain ${show(e)}`];
      });
    },
    toBeNull() {
      check("toBeNull", null, (e, r) => {
        if (r === null) {
          t.notes.push(`expect ${k}: null: kakao-parse exit ${run ? run.status : "?"}`);
          return [];
        }
        if (r && r[META] && r[META].records.length === 0) {
          t.notes.push(`expect ${k}: null: kakao-parse exit 0 with 0 messages`);
          return [];
        }
        return [`expected null, got ${show(r)}`];
      });
    },
  };
}

// ---------------------------------------------------------------------------
// Collecting the tests.

const tests = [];
const loadErrors = [];

for (const file of FILES) {
  const full = path.join(testDir, file);
  let src;
  try {
    src = fs.readFileSync(full, "utf8");
  } catch (e) {
    loadErrors.push({ name: `${file}: readable`, error: String(e) });
    continue;
  }
  const body = src.replace(/^\s*import\s[^;]*;\s*$/gm, "");
  const stack = [file];
  const describe = (name, fn) => {
    stack.push(name);
    try {
      fn();
    } finally {
      stack.pop();
    }
  };
  const test = (name, fn) => {
    tests.push({ name: [...stack, name].join(" > "), fn });
  };
  try {
    const run = new Function(
      "describe", "test", "it", "expect",
      "parseAndroid", "parseIos", "parseMac", "parseWindows", "parseKakaoTalkText", "isIosExport",
      `"use strict";\n${body}`,
    );
    run(describe, test, test, expect, parseAndroid, parseIos, parseMac, parseWindows, parseKakaoTalkText, isIosExport);
  } catch (e) {
    // TypeScript-only syntax, say: the file's tests cannot run here.
    loadErrors.push({ name: `${file}: evaluates as JavaScript`, error: String(e) });
  }
}

// ---------------------------------------------------------------------------
// Running them.

const used = new Set();
const out = [];
let n = 0;
const total = tests.length + loadErrors.length;
out.push(`1..${total}`);

function diagnostics(lines) {
  for (const l of lines) for (const s of String(l).split("\n")) out.push(`# ${s}`);
}

function runLines(run) {
  const lines = [`kakao-parse ${run.args.join(" ")}: exit ${run.status}${run.signal ? ` (signal ${run.signal})` : ""}`];
  if (run.error) lines.push(`  spawn error: ${run.error}`);
  if (run.detected !== undefined) lines.push(`  detected format: ${run.detected}`);
  lines.push("  sample:");
  for (const l of run.sample.split("\n")) lines.push(`    | ${l}`);
  if (run.stderr) {
    lines.push("  stderr:");
    for (const l of run.stderr.trimEnd().split("\n")) lines.push(`    ${l}`);
  }
  lines.push(`  ${run.records.length} records${run.badJson ? `, ${run.badJson} lines not JSON` : ""}:`);
  for (const r of run.records) {
    lines.push(`    ${r.ts} ${r.kind} ${JSON.stringify(r.speaker)} ${JSON.stringify(r.text)} (line ${r.src && r.src.line})`);
  }
  return lines;
}

for (const e of loadErrors) {
  n += 1;
  out.push(`not ok ${n} - ${e.name}`);
  diagnostics([e.error]);
}

for (const t of tests) {
  n += 1;
  const key = `${t.name.split(" > ")[0]}#${createHash("sha256").update(t.name).digest("hex").slice(0, 10)}`;
  const allowance = ALLOWANCES[key] || null;
  if (allowance) used.add(key);
  current = { name: t.name, runs: [], notes: [], failures: [], expects: 0, allowance };
  try {
    t.fn();
  } catch (e) {
    current.failures.push(`exception: ${e && e.stack ? e.stack : e}`);
  }
  if (current.expects === 0) current.failures.push("no expectation was checked");
  // A run that crashed or wrote lines that are not JSON fails the test
  // even when the expectations hold.
  for (const r of current.runs) {
    if (r.badJson || r.error || r.signal || (r.status !== 0 && r.status !== 65)) {
      current.failures.push(`kakao-parse ${r.args.join(" ")} misbehaved: exit ${r.status}` +
        `${r.signal ? `, signal ${r.signal}` : ""}${r.badJson ? `, ${r.badJson} lines not JSON` : ""}`);
    }
  }
  const failed = current.failures.length > 0;
  out.push(`${failed ? "not ok" : "ok"} ${n} - ${t.name}`);
  if (failed) {
    diagnostics(current.failures);
    for (const r of current.runs) diagnostics(runLines(r));
  }
  if (allowance) {
    for (const rule of allowance.rules) diagnostics([`known difference (${rule}): ${RULES[rule].reason}`]);
  }
  diagnostics(current.notes);
  if (!failed) {
    for (const r of current.runs) {
      for (const l of r.stderr.trimEnd().split("\n").filter((x) => x && !/: \d+ in, \d+ out, /.test(x))) {
        diagnostics([`${r.args.join(" ")}: ${l.replace(tmp + path.sep, "")}`]);
      }
    }
  }
  current = null;
}

for (const k of Object.keys(ALLOWANCES)) {
  if (!used.has(k)) out.push(`# allowance for a test that no longer exists: ${k} (${ALLOWANCES[k].what})`);
}

process.stdout.write(out.join("\n") + "\n");
if (out.some((l) => l.startsWith("not ok "))) process.exitCode = 1;
