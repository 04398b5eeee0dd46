// synthesizeModel and the streamed writers behind it, in Node: slices of rows give the same bytes as
// whole tensors (ONNX and GGUF), the seeded stream can start anywhere, the size plan bounds the real
// files, and abort / bad arguments end the run with the right error. (Browser and OPFS:
// synth-browser.test.ts; GGUF vs ONNX tokens: bench/test/gguf-parity.test.ts.)

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLocalmError } from '@localm/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlamaGguf, llamaTensorRefs } from '../src/llama-gguf.js';
import { writeLlamaOnnx, type ConvertDtype } from '../src/llama-graph.js';
import { llamaOnnxDataBytes } from '../src/llama-onnx-plan.js';
import { linearShape, type LlamaShape, type LlamaTensorRef } from '../src/llama-shape.js';
import { nodeSink, openNodeBinary } from '../src/node-sink.js';
import { fillSeededUniform, seededWeights } from '../src/seeded-weights.js';
import { synthesizeModel } from '../src/synthesize-model.js';
import { plannedSynthBytes } from '../src/synth-plan.js';
import { SYNTH_PRESETS } from '../src/synth-presets.js';
import { synthVocab } from '../src/synth-tokenizer.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'localm-synthesize-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DTYPES: ConvertDtype[] = ['q4', 'q8', 'fp16', 'fp32'];

describe('fillSeededUniform from an index', () => {
  it('gives the values a whole fill puts there, for any start', () => {
    const whole = fillSeededUniform(new Float32Array(5000), 9, 'model.embed_tokens.weight', 0.3);
    for (const first of [0, 1, 31, 4095, 4999]) {
      const part = fillSeededUniform(new Float32Array(5000 - first), 9, 'model.embed_tokens.weight', 0.3, first);
      expect(part).toEqual(whole.subarray(first));
    }
  });
});

describe('row slices write the same bytes as whole tensors', () => {
  for (const preset of ['tiny', 'tiny-qwen2']) {
    const shape = SYNTH_PRESETS[preset]!.shape;
    for (const dtype of DTYPES) {
      it(`ONNX ${preset} ${dtype}: one head of rows per slice vs whole reads`, async () => {
        const seeded = seededWeights(shape, 5);
        const options = { dtype, producerVersion: 'test', fp16Scales: true, isEmbeddingQuantized: true };
        const sliced = join(dir, `sliced-${preset}-${dtype}`);
        const whole = join(dir, `whole-${preset}-${dtype}`);
        let sliceReads = 0;
        const counting = { read: seeded.read, readRows: (ref: LlamaTensorRef, first: number, count: number) => (sliceReads++, seeded.readRows(ref, first, count)) };
        await writeLlamaOnnx(nodeSink(sliced), 'onnx', shape, counting, { ...options, chunkValues: 1 });
        await writeLlamaOnnx(nodeSink(whole), 'onnx', shape, { read: seeded.read }, options);
        expect(sliceReads).toBeGreaterThan(shape.vocabSize / shape.headDim - 1); // the embedding came in slices
        for (const file of ['model.onnx', 'model.onnx_data']) {
          expect(readFileSync(join(sliced, 'onnx', file)).equals(readFileSync(join(whole, 'onnx', file)))).toBe(true);
        }
        expect(statSync(join(whole, 'onnx/model.onnx_data')).size).toBe(llamaOnnxDataBytes(shape, dtype, { isEmbeddingQuantized: true }));
      });
    }
  }

  for (const dtype of ['q4', 'q8', 'fp16'] as const) {
    it(`GGUF tiny ${dtype}: slices of one head of rows vs whole tensors`, async () => {
      const preset = SYNTH_PRESETS['tiny']!;
      const shape: LlamaShape = preset.shape;
      const seeded = seededWeights(shape, 2);
      const options = { architecture: 'llama' as const, dtype, name: 't', vocab: synthVocab({ ...preset, vocabSize: shape.vocabSize }) };
      const paths = [join(dir, `sliced-${dtype}.gguf`), join(dir, `whole-${dtype}.gguf`)] as const;
      const sliced = await createLlamaGguf(await openNodeBinary(paths[0]), 'sliced', shape, options);
      const whole = await createLlamaGguf(await openNodeBinary(paths[1]), 'whole', shape, options);
      for (const ref of llamaTensorRefs(shape).reverse()) {
        await whole.write(ref, await seeded.read(ref));
        const rows = ref.kind === 'linear' ? linearShape(shape, ref.name)[0] : ref.kind === 'embed_tokens' || ref.kind === 'lm_head' ? shape.vocabSize : 0;
        if (rows === 0) await sliced.write(ref, await seeded.read(ref));
        for (let first = 0; first < rows; first += shape.headDim) await sliced.write(ref, seeded.readRows(ref, first, shape.headDim), first);
      }
      await Promise.all([sliced.close(), whole.close()]);
      expect(readFileSync(paths[0]).equals(readFileSync(paths[1]))).toBe(true);
    });
  }
});

describe('synthesizeModel', () => {
  it('writes no more than plannedSynthBytes, the weights exactly as planned, and reports progress up to the total', async () => {
    for (const preset of ['tiny', 'tiny-qwen2']) {
      for (const dtype of DTYPES) {
        const out = join(dir, `planned-${preset}-${dtype}`);
        const progress: { bytesWritten: number; totalBytes: number }[] = [];
        const result = await synthesizeModel({ preset, seed: 1, dtype, gguf: true, onProgress: (p) => progress.push(p) }, nodeSink(out));
        const sizes = result.files.map((f) => statSync(join(out, f)).size);
        const total = sizes.reduce((a, b) => a + b, 0);
        const planned = plannedSynthBytes(preset, dtype, { gguf: true });
        expect(total).toBeLessThanOrEqual(planned);
        expect(statSync(join(out, 'onnx/model.onnx_data')).size).toBe(result.weightBytes);
        expect(result.weightBytes).toBe(llamaOnnxDataBytes(SYNTH_PRESETS[preset]!.shape, dtype, { isEmbeddingQuantized: true }));
        expect(progress.at(-1)).toEqual({ bytesWritten: total, totalBytes: total });
        for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytesWritten).toBeGreaterThanOrEqual(progress[i - 1]!.bytesWritten);
      }
    }
  });

  it('rejects with the signal\'s reason when aborted mid-way, and before starting', async () => {
    const controller = new AbortController();
    let writes = 0;
    const sink = nodeSink(join(dir, 'aborted'));
    const counting = {
      writeText: sink.writeText,
      async openBinary(path: string) {
        const inner = await sink.openBinary(path);
        return {
          async write(bytes: Uint8Array, position: number) {
            if (++writes === 20) controller.abort();
            await inner.write(bytes, position);
          },
          close: () => inner.close(),
        };
      },
    };
    const err = await synthesizeModel({ preset: 'tiny', seed: 1, dtype: 'q4', signal: controller.signal }, counting).catch((e: unknown) => e);
    expect(err).toBe(controller.signal.reason);
    expect((err as Error).name).toBe('AbortError');
    expect(writes).toBeLessThan(25);
    const again = await synthesizeModel({ preset: 'tiny', seed: 1, dtype: 'q4', signal: controller.signal }, sink).catch((e: unknown) => e);
    expect(again).toBe(controller.signal.reason);
  });

  it.each([
    [{ preset: 'llama-9000', seed: 1, dtype: 'q4' }],
    [{ preset: 'tiny', seed: 1, dtype: 'q3' }],
    [{ preset: 'tiny', seed: -1, dtype: 'q4' }],
    [{ preset: 'tiny', seed: 1.5, dtype: 'q4' }],
  ])('rejects %o with invalid_argument before writing', async (options) => {
    const out = join(dir, 'invalid');
    const err = await synthesizeModel(options as Parameters<typeof synthesizeModel>[0], nodeSink(out)).catch((e: unknown) => e);
    expect(isLocalmError(err) && err.code).toBe('invalid_argument');
    expect(() => statSync(out)).toThrow();
  });

  it('plannedSynthBytes rejects an unknown preset or dtype with invalid_argument', () => {
    for (const [preset, dtype] of [['nope', 'q4'], ['tiny', 'int3']] as const) {
      const err = (() => {
        try {
          return plannedSynthBytes(preset, dtype);
        } catch (e) {
          return e;
        }
      })();
      expect(isLocalmError(err) && err.code).toBe('invalid_argument');
    }
  });
});
