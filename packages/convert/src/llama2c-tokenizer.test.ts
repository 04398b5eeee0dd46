// The tokenizer.json written for stories260K's tok512.bin, checked with the Rust `tokenizers` library
// against llama2.c: the prompt ids run.c printed, a port of run.c's encode(), and run.c's output text.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLocalmError } from '@localm/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llama2cTokenizerFiles, readLlama2cTokenizer, type Llama2cVocab } from './llama2c-tokenizer.js';

type RustTokenizers = typeof import('tokenizers');
const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as RustTokenizers;
type RustTokenizer = InstanceType<RustTokenizers['Tokenizer']>;

const FIXTURES = fileURLToPath(new URL('../../../models/stories260k-source', import.meta.url));

interface GreedyRecord {
  prompt: string;
  text: string;
  token_ids: number[];
  prompt_token_ids: number[];
  generated_token_ids: number[];
}

const tokBytes = new Uint8Array(readFileSync(join(FIXTURES, 'tok512.bin')));
const records = readFileSync(join(FIXTURES, 'expected-greedy.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as GreedyRecord);

/**
 * llama2.c run.c `encode(t, text, bos=1, eos=0, ...)`, ported line for line. It works on the raw file
 * pieces (plain spaces, "\n<s>\n") and on UTF-8 bytes, and text ends at the first NUL as a C string does.
 */
function llama2cEncode(vocab: Llama2cVocab, text: string): number[] {
  const lookup = new Map(vocab.pieces.map((piece, id) => [piece, id] as const));
  const strLookup = (bytes: Uint8Array): number => lookup.get(new TextDecoder().decode(bytes)) ?? -1;
  const all = new TextEncoder().encode(text);
  const nul = all.indexOf(0);
  const bytes = nul === -1 ? all : all.subarray(0, nul);
  const tokens: number[] = [1];
  if (bytes.length > 0) tokens.push(strLookup(new TextEncoder().encode(' ')));
  let buffer: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] ?? 0;
    if ((c & 0xc0) !== 0x80) buffer = [];
    buffer.push(c);
    const next = bytes[i + 1];
    if (next !== undefined && (next & 0xc0) === 0x80 && buffer.length < 4) continue;
    const id = strLookup(Uint8Array.from(buffer));
    if (id !== -1) tokens.push(id);
    else for (const b of buffer) tokens.push(b + 3);
    buffer = [];
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const merged = `${vocab.pieces[tokens[i] ?? 0]}${vocab.pieces[tokens[i + 1] ?? 0]}`;
      const id = lookup.get(merged) ?? -1;
      if (id !== -1 && (vocab.scores[id] ?? 0) > bestScore) {
        bestScore = vocab.scores[id] ?? 0;
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

// mulberry32, so a failing string can be reproduced.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function parityStrings(): string[] {
  const sentences = records.flatMap((r) => r.text.split(/(?<=[.!?])\s+/));
  const fixed = [
    '',
    ' ',
    '   ',
    'a',
    ' leading',
    'trailing ',
    '  two  spaces  ',
    'Once upon a time',
    'Once upon a time, there was a little girl named Lily.',
    'She said, "Let\'s play!" and ran... fast?!',
    'Numbers: 0 1 2 3 42 1234567890 3.14 -7 100%',
    'line one\nline two\n\nline four\n',
    'tab\there\r\nwindows',
    'café résumé naïve é É',
    '你好，世界',
    'emoji 🎉🦙👍🏽 end',
    '“smart quotes” ‘single’ — dash – dash … ellipsis',
    'a\u00a0nbsp',
    '[brackets] {braces} (parens) <angle> |pipe| ~tilde~ `tick` \\back/slash',
    '$5 & 6 * 7 + 8 = 9 # @ ^ _',
  ];
  const atoms = [
    ...'the a and was to she he it they Lily Tom park ball big little happy day play saw said'.split(' '),
    ' ', ' ', '  ', '\n', ',', '.', '!', '?', '"', "'", '-', ':', ';', '0', '7', '42', 'é', 'ñ', '你', '好',
    '🎉', '🦙', '’', '…', '\t',
  ];
  const next = random(2024);
  const generated = Array.from({ length: 250 }, () => {
    const count = Math.floor(next() * 14);
    return Array.from({ length: count }, () => atoms[Math.floor(next() * atoms.length)] ?? '').join('');
  });
  return [...fixed, ...sentences, ...generated];
}

describe('llama2.c tok512.bin → tokenizer.json, checked with Rust tokenizers', () => {
  const vocab = readLlama2cTokenizer(tokBytes);
  const { tokenizerJson, tokenizerConfigJson } = llama2cTokenizerFiles(vocab);
  let dir = '';
  let rust: RustTokenizer;
  const encode = async (text: string): Promise<number[]> =>
    (await rust.encode(text, null, { addSpecialTokens: true })).getIds();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'localm-llama2c-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    rust = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the whole file: 512 pieces, max_token_length 7', () => {
    expect(vocab.pieces).toHaveLength(512);
    expect(vocab.maxTokenLength).toBe(7);
    expect(vocab.pieces.slice(0, 4)).toEqual(['<unk>', '\n<s>\n', '\n</s>\n', '<0x00>']);
    expect(rust.getVocabSize(true)).toBe(512);
    expect(rust.idToToken(259)).toBe('\u2581t');
    expect(tokenizerConfigJson).toMatchObject({ bos_token: '<s>', eos_token: '</s>', add_bos_token: true });
  });

  it('reproduces the prompt ids run.c printed', async () => {
    expect(await encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    for (const record of records) {
      expect(await encode(record.prompt)).toEqual(record.prompt_token_ids);
    }
  });

  it('encodes like a port of run.c encode() on a few hundred strings', async () => {
    const strings = parityStrings();
    expect(strings.length).toBeGreaterThan(250);
    for (const text of strings) {
      expect({ text, ids: await encode(text) }).toEqual({ text, ids: llama2cEncode(vocab, text) });
    }
  });

  it('decodes the greedy ids to the text run.c printed', async () => {
    // run.c's safe_printf drops single-byte pieces that are neither printable nor whitespace.
    const printable = (s: string): string => s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]/g, '');
    for (const record of records) {
      expect(record.token_ids).toEqual([...record.prompt_token_ids, ...record.generated_token_ids]);
      expect(printable(await rust.decode(record.token_ids, true))).toBe(printable(record.text));
    }
  });

  // Inputs where the two cannot agree; kept as tests so a change in either shows up.
  describe('known differences from llama2.c', () => {
    it('HF matches "<s>", "</s>", "<unk>" in text as special tokens; llama2.c spells them out', async () => {
      const text = 'a <s> b </s> c <unk>';
      expect((await encode(text)).filter((id) => id <= 2)).toEqual([1, 1, 2, 0]);
      expect(llama2cEncode(vocab, text).filter((id) => id <= 2)).toEqual([1]);
    });

    it('HF reads U+2581 in text as a space; llama2.c has no such piece and uses bytes', async () => {
      expect(await encode('x\u2581y')).toEqual(await encode('x y'));
      expect(llama2cEncode(vocab, 'x\u2581y')).toEqual([1, ...llama2cEncode(vocab, 'x').slice(1), 229, 153, 132, 422]);
    });

    it('llama2.c stops at NUL (a C string); HF encodes it as <0x00>', async () => {
      expect(llama2cEncode(vocab, 'a\0b')).toEqual(llama2cEncode(vocab, 'a'));
      expect(await encode('a\0b')).toContain(3);
    });
  });
});

describe('readLlama2cTokenizer errors', () => {
  const expectCorrupt = (bytes: Uint8Array): void => {
    let caught: unknown;
    try {
      readLlama2cTokenizer(bytes);
    } catch (err) {
      caught = err;
    }
    expect(isLocalmError(caught, 'corrupt_model')).toBe(true);
    expect((caught as Error).message).toMatch(/^tok512\.bin: /);
  };

  it('rejects a file cut short anywhere', () => {
    for (const length of [0, 3, 4 + 4, 4 + 8 + 2, tokBytes.length - 1]) expectCorrupt(tokBytes.slice(0, length));
  });

  it('rejects a negative or too long piece length', () => {
    for (const length of [-1, -2147483648, 8]) {
      const bytes = tokBytes.slice();
      new DataView(bytes.buffer).setInt32(4 + 4, length, true); // piece 0's length field
      expectCorrupt(bytes);
    }
  });

  it('rejects a non-positive max_token_length and invalid UTF-8', () => {
    const zeroMax = tokBytes.slice();
    new DataView(zeroMax.buffer).setInt32(0, 0, true);
    expectCorrupt(zeroMax);
    const badUtf8 = tokBytes.slice();
    badUtf8[4 + 8] = 0xff; // first byte of "<unk>"
    expectCorrupt(badUtf8);
  });
});

describe('llama2cTokenizerFiles errors', () => {
  it('rejects a vocab without the 256 byte pieces after unk, BOS, EOS', () => {
    const vocab = readLlama2cTokenizer(tokBytes);
    const short = { ...vocab, pieces: vocab.pieces.slice(0, 100), scores: vocab.scores.slice(0, 100) };
    expect(() => llama2cTokenizerFiles(short)).toThrow(expect.objectContaining({ code: 'corrupt_model' }));
    const renamed = { ...vocab, pieces: vocab.pieces.map((p, id) => (id === 10 ? 'x' : p)) };
    expect(() => llama2cTokenizerFiles(renamed)).toThrow(expect.objectContaining({ code: 'corrupt_model' }));
  });
});
