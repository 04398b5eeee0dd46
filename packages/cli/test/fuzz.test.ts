// Hostile model files: seeded mutations (truncation, bit flips, huge numbers, oversized copies) of
// every file format localm parses, and hostile paths and sizes in the model manifest (localm.json).
// Each case must end in success or a LocalmError with a code, within a bounded time: no other
// exception, no hang, no unbounded allocation, no manifest entry that reaches outside the model folder.
// LOCALM_FUZZ_CASES=200000 scales every count to about that many cases in all (the long run in issue #8).

import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from '@localm/convert';
import { LocalmError, Rng, loadModel, parseManifest, parseModelConfig } from '@localm/core';
import { loadTokenizer } from '@localm/tokenizer';
import { BUNDLED, SOURCE } from './run-cli.js';

const MAX_CASE_MS = 2000;
const BASE_TOTAL = 13_600; // the sum of the base counts below
const SCALE = process.env['LOCALM_FUZZ_CASES'] ? Number(process.env['LOCALM_FUZZ_CASES']) / BASE_TOTAL : 1;
const scaled = (cases: number): number => Math.max(1, Math.round(cases * SCALE));

type Mutator = (bytes: Uint8Array, rng: Rng, isText: boolean) => Uint8Array;
const pick = (rng: Rng, n: number): number => Math.floor(rng.nextFloat() * n);

const MUTATORS: Mutator[] = [
  (b, rng) => b.subarray(0, pick(rng, b.length)), // truncated
  (b, rng) => {
    const out = b.slice();
    for (let i = 1 + pick(rng, 8); i > 0; i--) out[pick(rng, out.length)]! ^= 1 << pick(rng, 8);
    return out;
  }, // bit flips
  (b, rng, isText) => {
    // A number in the text (or an int32 in a binary header) replaced by a huge or negative one.
    // Binary files are not decoded: a megabyte of text and a regex over it cost 8 ms a case.
    const text = isText ? new TextDecoder().decode(b) : '';
    const numbers = [...text.matchAll(/-?\d+(\.\d+)?/g)];
    const huge = ['1000000000000', '-1', '1e308', '4294967296', '0', '2147483647'][pick(rng, 6)]!;
    const m = numbers[pick(rng, numbers.length)];
    if (!m) {
      const out = b.slice();
      new DataView(out.buffer).setInt32(4 * pick(rng, Math.min(7, out.length >> 2)), [2 ** 31 - 1, -1, 0, 1 << 30][pick(rng, 4)]!, true);
      return out;
    }
    return new TextEncoder().encode(text.slice(0, m.index) + huge + text.slice(m.index! + m[0].length));
  },
  (b, rng) => {
    const at = pick(rng, b.length);
    const chunk = b.subarray(at, at + 1 + pick(rng, 4096));
    const out = new Uint8Array(b.length + chunk.length * 4);
    out.set(b.subarray(0, at));
    for (let i = 0; i < 4; i++) out.set(chunk, at + i * chunk.length);
    out.set(b.subarray(at), at + 4 * chunk.length);
    return out;
  }, // a span repeated: oversized
];

function parseJsonBytes(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new LocalmError('corrupt_model', 'not JSON', { cause });
  }
}

const read = (file: string): Uint8Array => new Uint8Array(readFileSync(file));
const tokenizerConfig = parseJsonBytes(read(join(BUNDLED, 'tokenizer_config.json')));
const configJson = parseJsonBytes(read(join(BUNDLED, 'config.json')));
const tokenizerJsonText = new TextDecoder().decode(read(join(BUNDLED, 'tokenizer.json')));

// localm.json for the bundled model, with digests from node:crypto (not localm's sha256).
const MODEL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data'];
const MANIFEST_TEXT = JSON.stringify(
  {
    version: 1,
    files: MODEL_FILES.map((path) => {
      const bytes = read(join(BUNDLED, path));
      return { path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }),
  },
  null,
  1,
);
const MANIFEST = new TextEncoder().encode(MANIFEST_TEXT);
const manifestJson = (): { version: number; files: { path: unknown; size: unknown; sha256?: unknown }[] } => JSON.parse(MANIFEST_TEXT);

// Paths that must never reach outside the model folder, on disk or as a URL under the model's URL.
const HOSTILE_PATHS = [
  '../config.json', '../../../../../../etc/passwd', '/etc/passwd', '//evil.example/x', 'C:/Windows/win.ini', 'C:\\Windows\\win.ini',
  'onnx/../../x', 'onnx/..', '..', '.', './config.json', 'onnx//model.onnx', '\\\\server\\share\\x', 'file:///etc/passwd',
  'https://evil.example/model.onnx', '%2e%2e/%2e%2e/x', '..%2fx', 'a\u0000b', '', ' ', 'x'.repeat(100_000), 'onnx/\u202e..',
];
const HUGE_SIZES: unknown[] = [2 ** 53, 2 ** 53 - 1, 2 ** 40, 1e308, Infinity, -1, -0, 1.5, '1', null, [], { n: 1 }, true];
function withExtraFiles(n: number): Uint8Array {
  const json = manifestJson();
  for (let i = 0; i < n; i++) json.files.push({ path: `onnx/extra-${i}.bin`, size: 2 ** 52 });
  return new TextEncoder().encode(JSON.stringify(json));
}
const oversized = new Map<number, Uint8Array>();
const oversizedManifest = (n: number): Uint8Array => oversized.get(n) ?? oversized.set(n, withExtraFiles(n)).get(n)!;
const MANIFEST_MUTATORS: Mutator[] = [
  ...MUTATORS,
  (_, rng) => {
    const json = manifestJson();
    json.files[pick(rng, json.files.length)]!.path = HOSTILE_PATHS[pick(rng, HOSTILE_PATHS.length)];
    return new TextEncoder().encode(JSON.stringify(json));
  }, // a hostile path
  (_, rng) => {
    const json = manifestJson();
    json.files[pick(rng, json.files.length)]!.size = HUGE_SIZES[pick(rng, HUGE_SIZES.length)];
    return new TextEncoder().encode(JSON.stringify(json));
  }, // a huge or ill-typed size
  (_, rng) => {
    // Extra files claiming petabytes: a few, exactly the most a manifest may list, one more, or a body
    // over the byte limit. The large ones are built once: building them costs more than refusing them.
    const n = [4096 - MODEL_FILES.length, 4097 - MODEL_FILES.length, 20_000][pick(rng, 16)] ?? 1 + pick(rng, 64);
    return n > 64 ? oversizedManifest(n) : withExtraFiles(n);
  }, // an oversized file list
];

const ROOT_DIR = resolve('/tmp/model');
const BASE_URL = 'https://example.com/models/m/';
/** Independent of localm's path check: a parsed entry must resolve inside the folder, on disk and as a URL. */
function checkInside(files: ReturnType<typeof parseManifest>): void {
  for (const f of files) {
    const onDisk = resolve(ROOT_DIR, f.path).startsWith(ROOT_DIR + sep);
    // The way download.ts builds file URLs: each segment percent-encoded.
    const asUrl = new URL(f.path.split('/').map(encodeURIComponent).join('/'), BASE_URL).href.startsWith(BASE_URL);
    if (!onDisk || !asUrl || !Number.isSafeInteger(f.sizeBytes) || f.sizeBytes! < 0) throw new Error(`manifest entry accepted: ${JSON.stringify(f)}`);
  }
}

interface Parser {
  name: string;
  bytes: Uint8Array;
  cases: number;
  isText: boolean;
  mutators?: Mutator[];
  parse: (b: Uint8Array) => unknown;
  check?: (parsed: unknown) => void; // on success, outside the timed part
}
const PARSERS: Parser[] = [
  { name: 'config.json', bytes: read(join(BUNDLED, 'config.json')), cases: scaled(3000), isText: true, parse: (b) => parseModelConfig(parseJsonBytes(b), undefined) },
  { name: 'generation_config.json', bytes: read(join(BUNDLED, 'generation_config.json')), cases: scaled(2000), isText: true, parse: (b) => parseModelConfig(configJson, parseJsonBytes(b)) },
  { name: 'tokenizer.json', bytes: read(join(BUNDLED, 'tokenizer.json')), cases: scaled(1500), isText: true, parse: (b) => loadTokenizer({ tokenizerJson: parseJsonBytes(b), tokenizerConfigJson: tokenizerConfig }) },
  {
    name: 'tokenizer_config.json',
    bytes: read(join(BUNDLED, 'tokenizer_config.json')),
    cases: scaled(500),
    isText: true,
    parse: (b) => loadTokenizer({ tokenizerJson: JSON.parse(tokenizerJsonText) as unknown, tokenizerConfigJson: parseJsonBytes(b) }),
  },
  { name: 'llama2.c checkpoint', bytes: read(join(SOURCE, 'stories260K.bin')), cases: scaled(2000), isText: false, parse: (b) => readLlama2cCheckpoint(b) },
  { name: 'llama2.c tok512.bin', bytes: read(join(SOURCE, 'tok512.bin')), cases: scaled(1500), isText: false, parse: (b) => readLlama2cTokenizer(b) },
  {
    name: 'localm.json (manifest)',
    bytes: MANIFEST,
    cases: scaled(3000),
    isText: true,
    mutators: MANIFEST_MUTATORS,
    parse: (b) => parseManifest(b, 'fuzz'),
    check: (files) => checkInside(files as ReturnType<typeof parseManifest>),
  },
];

test('10,000+ mutated model files end in success or a LocalmError, each quickly', () => {
  const rng = new Rng(2026);
  const summary: string[] = [];
  let total = 0;
  let slowestMs = 0;
  const started = performance.now();
  for (const parser of PARSERS) {
    const codes = new Map<string, number>();
    const parserStarted = performance.now();
    const mutators = parser.mutators ?? MUTATORS;
    for (let i = 0; i < parser.cases; i++) {
      const mutated = mutators[i % mutators.length]!(parser.bytes, rng, parser.isText);
      const caseStarted = performance.now();
      let outcome = 'ok';
      let parsed: unknown;
      try {
        parsed = parser.parse(mutated);
      } catch (err) {
        if (!(err instanceof LocalmError)) throw new Error(`${parser.name} case ${i}: ${String(err)}`, { cause: err });
        outcome = err.code;
      }
      const ms = performance.now() - caseStarted;
      slowestMs = Math.max(slowestMs, ms);
      expect(ms, `${parser.name} case ${i}`).toBeLessThan(MAX_CASE_MS);
      if (outcome === 'ok') parser.check?.(parsed);
      codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
    }
    total += parser.cases;
    summary.push(`${parser.name}: ${parser.cases} cases, ${((performance.now() - parserStarted) / 1000).toFixed(1)} s, ${JSON.stringify(Object.fromEntries(codes))}`);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`fuzz: ${total} mutated inputs in ${seconds} s, slowest case ${slowestMs.toFixed(1)} ms\n  ${summary.join('\n  ')}`);
  expect(total).toBeGreaterThanOrEqual(SCALE === 1 ? 10_000 : 1);
});

// The same manifest mutations through loadModel on a real folder: the store must refuse before it
// reads a file the manifest points at, and a manifest that does not match the files is caught.
const folders: string[] = [];
afterAll(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('mutated localm.json through loadModel: success or a LocalmError, never a file outside the folder', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'localm-fuzz-'));
  folders.push(parent);
  const folder = join(parent, 'model');
  cpSync(BUNDLED, folder, { recursive: true });
  // A file beside the folder that a '../' entry would reach: reading it would load a different config.
  writeFileSync(join(parent, 'config.json'), JSON.stringify({ vocab_size: 7, max_position_embeddings: 8 }));
  const rng = new Rng(8);
  const codes = new Map<string, number>();
  const cases = scaled(100);
  let slowestMs = 0;
  for (let i = 0; i < cases; i++) {
    writeFileSync(join(folder, 'localm.json'), MANIFEST_MUTATORS[i % MANIFEST_MUTATORS.length]!(MANIFEST, rng, true));
    const caseStarted = performance.now();
    let outcome = 'ok';
    try {
      const model = await loadModel(folder, { device: 'cpu' });
      expect(model.info.vocabSize).toBe(512); // the folder's own config.json, not the one beside it
      await model.dispose();
    } catch (err) {
      if (!(err instanceof LocalmError)) throw new Error(`loadModel case ${i}: ${String(err)}`, { cause: err });
      outcome = err.code;
    }
    const ms = performance.now() - caseStarted;
    slowestMs = Math.max(slowestMs, ms);
    expect(ms, `loadModel case ${i}`).toBeLessThan(MAX_CASE_MS);
    codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
  }
  console.log(`fuzz: ${cases} mutated localm.json through loadModel, slowest ${slowestMs.toFixed(0)} ms: ${JSON.stringify(Object.fromEntries(codes))}`);
  expect(codes.get('ok') ?? 0).toBeGreaterThan(0); // some mutations leave a valid manifest: the check is not vacuous
});

test('claims of absurd sizes are refused before allocating', () => {
  const config = { vocab_size: 1e12, max_position_embeddings: 512 };
  expect(() => parseModelConfig(config, undefined)).toThrow(expect.objectContaining({ code: 'corrupt_model' }));
  const header = new Uint8Array(28);
  new Int32Array(header.buffer).set([1 << 30, 1 << 30, 1 << 20, 8, 4, 512, 512]); // a 2^40-parameter claim
  expect(() => readLlama2cCheckpoint(header)).toThrow(expect.objectContaining({ code: 'corrupt_model' }));
});
