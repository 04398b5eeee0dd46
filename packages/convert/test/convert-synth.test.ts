// `convertSynth`: the synthetic tokenizer checked with the Rust `tokenizers` library, seeded weights that
// do not depend on the order they are asked for, and the GGUF header read back as llama.cpp's spec says.
// (That llama.cpp computes the same tokens from the GGUF is bench/test/gguf-parity.test.ts.)

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLocalmError } from '@localm/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertSynth } from '../src/convert-synth.js';
import { fromFloat16Bits, toFloat16Bits } from '../src/float16.js';
import { seededWeights } from '../src/seeded-weights.js';
import { SYNTH_PRESETS } from '../src/synth-presets.js';
import { synthTokenizerFiles, synthVocab } from '../src/synth-tokenizer.js';

type RustTokenizers = typeof import('tokenizers');
const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as RustTokenizers;

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'localm-synth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('synthetic byte-level BPE tokenizer, read by Rust tokenizers', () => {
  for (const name of ['tiny', 'phi-3-mini', 'qwen2.5-0.5b']) {
    it(`${name}: vocab size, special ids, lossless text round trip`, async () => {
      const preset = SYNTH_PRESETS[name]!;
      const vocab = synthVocab({ ...preset, vocabSize: preset.shape.vocabSize });
      const { tokenizerJson } = synthTokenizerFiles(vocab, { modelMaxLength: 512 });
      const path = join(dir, `${name}-tokenizer.json`);
      writeFileSync(path, JSON.stringify(tokenizerJson));
      const rust = Tokenizer.fromFile(path);
      expect(rust.getVocabSize(true)).toBe(preset.shape.vocabSize);
      expect(rust.idToToken(preset.eosTokenId)).toBe('<|eos|>');
      expect(rust.idToToken(preset.bosTokenId)).toBe(preset.bosTokenId === preset.eosTokenId ? '<|eos|>' : '<|bos|>');
      for (const text of ['Once upon a time', 'naïve café — 東京 🚀', ' leading space\nand\ttabs', 'x'.repeat(50)]) {
        const ids = (await rust.encode(text, null, { addSpecialTokens: false })).getIds();
        expect(ids.every((id) => !vocab.isSpecial[id])).toBe(true);
        expect(await rust.decode(ids, false)).toBe(text);
      }
    });
  }
});

describe('seeded weights', () => {
  const shape = SYNTH_PRESETS['tiny']!.shape;
  it('give each tensor the same values whatever was asked before it, and differ by seed', async () => {
    const q = { kind: 'linear', layer: 1, name: 'q_proj' } as const;
    const a = seededWeights(shape, 7);
    const first = await a.read(q);
    await a.read({ kind: 'embed_tokens' });
    expect(await a.read(q)).toEqual(first);
    expect(await seededWeights(shape, 7).read(q)).toEqual(first);
    expect(await seededWeights(shape, 8).read(q)).not.toEqual(first);
  });
  it('have the stated spread: uniform with standard deviation 1/sqrt(in) for a linear layer', async () => {
    const w = await seededWeights(shape, 1).read({ kind: 'linear', layer: 0, name: 'down_proj' });
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std * Math.sqrt(shape.intermediateSize)).toBeCloseTo(1, 1);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(3 / shape.intermediateSize));
  });
});

describe('float16', () => {
  it('rounds to nearest even and round-trips every half value', () => {
    for (let h = 0; h < 0x7c00; h++) expect(toFloat16Bits(fromFloat16Bits(h))).toBe(h);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // a tie: stays even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // a tie: rounds up to even
    expect(toFloat16Bits(65520)).toBe(0x7c00); // overflow
    expect(toFloat16Bits(2 ** -25)).toBe(0); // half the smallest subnormal: a tie to 0
  });
});

describe('convertSynth', () => {
  it('writes a GGUF whose header says what llama.cpp reads: magic, version, tensor and metadata counts', async () => {
    const out = join(dir, 'tiny-q4');
    const { files, ggufPath } = await convertSynth({ preset: 'tiny', seed: 3, dtype: 'q4', outDir: out, ggufPath: `${out}.gguf` });
    expect(files).toContain('onnx/model.onnx_data');
    const bytes = readFileSync(ggufPath!);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(view.getUint32(4, true)).toBe(3);
    // tiny: token_embd, output_norm, and 9 per layer (tied: no output.weight).
    expect(Number(view.getBigUint64(8, true))).toBe(2 + 9 * SYNTH_PRESETS['tiny']!.shape.numLayers);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'llama', vocab_size: 512, localm: { preset: 'tiny', seed: 3, dtype: 'q4' } });
  });

  it('rejects an unknown preset with invalid_argument and writes nothing', async () => {
    const out = join(dir, 'nope');
    const err = await convertSynth({ preset: 'llama-9000', outDir: out }).catch((e: unknown) => e);
    expect(isLocalmError(err) && err.code).toBe('invalid_argument');
  });
});
