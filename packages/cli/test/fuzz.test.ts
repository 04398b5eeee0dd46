// Hostile model files: seeded mutations (truncation, bit flips, huge numbers, oversized copies) of
// every file format localm parses. Each case must end in success or a LocalmError with a code, within
// a bounded time: no other exception, no hang, no unbounded allocation.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from '@localm/convert';
import { LocalmError, Rng, parseModelConfig } from '@localm/core';
import { loadTokenizer } from '@localm/tokenizer';
import { BUNDLED, SOURCE } from './run-cli.js';

const MAX_CASE_MS = 2000;

type Mutator = (bytes: Uint8Array, rng: Rng) => Uint8Array;
const pick = (rng: Rng, n: number): number => Math.floor(rng.nextFloat() * n);

const MUTATORS: Mutator[] = [
  (b, rng) => b.subarray(0, pick(rng, b.length)), // truncated
  (b, rng) => {
    const out = b.slice();
    for (let i = 1 + pick(rng, 8); i > 0; i--) out[pick(rng, out.length)]! ^= 1 << pick(rng, 8);
    return out;
  }, // bit flips
  (b, rng) => {
    // A number in the text (or an int32 in a binary header) replaced by a huge or negative one.
    const text = new TextDecoder().decode(b);
    const numbers = [...text.matchAll(/-?\d+(\.\d+)?/g)];
    const huge = ['1000000000000', '-1', '1e308', '4294967296', '0', '2147483647'][pick(rng, 6)]!;
    const m = numbers[pick(rng, numbers.length)];
    if (!m || text.includes('\uFFFD')) {
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
const PARSERS: { name: string; bytes: Uint8Array; cases: number; parse: (b: Uint8Array) => unknown }[] = [
  { name: 'config.json', bytes: read(join(BUNDLED, 'config.json')), cases: 3000, parse: (b) => parseModelConfig(parseJsonBytes(b), undefined) },
  {
    name: 'generation_config.json',
    bytes: read(join(BUNDLED, 'generation_config.json')),
    cases: 2000,
    parse: (b) => parseModelConfig(parseJsonBytes(read(join(BUNDLED, 'config.json'))), parseJsonBytes(b)),
  },
  { name: 'tokenizer.json', bytes: read(join(BUNDLED, 'tokenizer.json')), cases: 1500, parse: (b) => loadTokenizer({ tokenizerJson: parseJsonBytes(b), tokenizerConfigJson: tokenizerConfig }) },
  { name: 'tokenizer_config.json', bytes: read(join(BUNDLED, 'tokenizer_config.json')), cases: 500, parse: (b) => loadTokenizer({ tokenizerJson: parseJsonBytes(read(join(BUNDLED, 'tokenizer.json'))), tokenizerConfigJson: parseJsonBytes(b) }) },
  { name: 'llama2.c checkpoint', bytes: read(join(SOURCE, 'stories260K.bin')), cases: 2000, parse: (b) => readLlama2cCheckpoint(b) },
  { name: 'llama2.c tok512.bin', bytes: read(join(SOURCE, 'tok512.bin')), cases: 1500, parse: (b) => readLlama2cTokenizer(b) },
];

test('10,000+ mutated model files end in success or a LocalmError, each quickly', () => {
  const rng = new Rng(2026);
  const summary: string[] = [];
  let total = 0;
  for (const parser of PARSERS) {
    const codes = new Map<string, number>();
    for (let i = 0; i < parser.cases; i++) {
      const mutated = MUTATORS[i % MUTATORS.length]!(parser.bytes, rng);
      const started = performance.now();
      let outcome = 'ok';
      try {
        parser.parse(mutated);
      } catch (err) {
        if (!(err instanceof LocalmError)) throw new Error(`${parser.name} case ${i}: ${String(err)}`, { cause: err });
        outcome = err.code;
      }
      expect(performance.now() - started, `${parser.name} case ${i}`).toBeLessThan(MAX_CASE_MS);
      codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
    }
    total += parser.cases;
    summary.push(`${parser.name}: ${JSON.stringify(Object.fromEntries(codes))}`);
  }
  console.log(`fuzz: ${total} mutated inputs\n  ${summary.join('\n  ')}`);
  expect(total).toBeGreaterThanOrEqual(10_000);
});

test('claims of absurd sizes are refused before allocating', () => {
  const config = { vocab_size: 1e12, max_position_embeddings: 512 };
  expect(() => parseModelConfig(config, undefined)).toThrow(expect.objectContaining({ code: 'corrupt_model' }));
  const header = new Uint8Array(28);
  new Int32Array(header.buffer).set([1 << 30, 1 << 30, 1 << 20, 8, 4, 512, 512]); // a 2^40-parameter claim
  expect(() => readLlama2cCheckpoint(header)).toThrow(expect.objectContaining({ code: 'corrupt_model' }));
});
